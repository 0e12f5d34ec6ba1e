/* dist/dist.h: the process group of a data-parallel run (mpirun/mpiexec/srun -n N cltrain ...).
 * Built on MPI when CMake finds it (dist_mpi.c), else a single-process implementation of the
 * same interface (dist_single.c) that refuses a launched run. A process started without a
 * launcher (or with a world of one) never initialises MPI: it is rank 0 of 1 and every
 * collective below is a no-op. Collectives are blocking and must be called by every rank in the
 * same order; an MPI failure aborts the whole job (MPI_ERRORS_ARE_FATAL), never hangs. */
#ifndef CLTRAIN_DIST_H
#define CLTRAIN_DIST_H
#include <stddef.h>
#include <stdint.h>

/* World size announced by a launcher's environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * SLURM_NTASKS, ...), 1 when none. */
int ct_dist_launched_size(void);
/* Joins the job when launched with more than one process: MPI_Init, node-local rank, and on
 * POCL (unless the user set it) POCL_MAX_PTHREAD_COUNT = cores / ranks on this node, all before
 * the first OpenCL call. Without a launcher: nothing. A launched run on a build without MPI
 * fails with a message saying so. Idempotent. */
int ct_dist_init(void);
/* Leaves the job (MPI_Finalize); after a failure on this rank, aborts the whole job with `code`
 * instead (other ranks may be waiting in a collective). */
void ct_dist_finalize(int failed, int code);
/* Ends the whole job at once with exit code `code` (or exits this process when alone). */
void ct_dist_abort(int code);

int ct_dist_rank(void);
int ct_dist_size(void);
int ct_dist_local_rank(void);
int ct_dist_local_size(void);
/* "Open MPI v4.1.4 ..." / "MPICH Version: 4.0.2 ..." / "none" (first line). */
const char *ct_dist_library(void);

/* In-place sums over all ranks. */
int ct_dist_sum_f32(float *buf, size_t n);
int ct_dist_sum_f64(double *buf, size_t n);
int ct_dist_sum_i64(int64_t *buf, size_t n);
/* 1 on every rank when `flag` is non-zero on any. */
int ct_dist_any(int flag, int *out);
/* Root's bytes to every rank. */
int ct_dist_bcast(void *buf, size_t bytes, int root);
int ct_dist_barrier(void);
/* Seconds spent in the collectives above since the last call (then reset). */
double ct_dist_take_comm_seconds(void);

#endif
