/* dist/dist_single.c: the process group of a build without MPI: always rank 0 of 1. A run
 * started by a launcher with several processes is refused (each would train alone). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "dist/dist.h"

int ct_dist_init(void)
{
    int n = ct_dist_launched_size();
    if (n <= 1) return CT_OK;
    return ct_fail(CT_ERR_USAGE,
                   "started by an MPI launcher with %d processes, but this cltrain was built without MPI: every "
                   "process would train alone. Install an MPI (Debian: apt-get install libopenmpi-dev) and rebuild "
                   "(cmake finds it), or run cltrain without mpirun/srun",
                   n);
}

void ct_dist_finalize(int failed, int code)
{
    (void)failed;
    (void)code;
}

void ct_dist_abort(int code) { _exit(code ? code : 1); }
int ct_dist_rank(void) { return 0; }
int ct_dist_size(void) { return 1; }
int ct_dist_local_rank(void) { return 0; }
int ct_dist_local_size(void) { return 1; }
const char *ct_dist_library(void) { return "none"; }
int ct_dist_sum_f32(float *buf, size_t n) { (void)buf; (void)n; return CT_OK; }
int ct_dist_sum_f64(double *buf, size_t n) { (void)buf; (void)n; return CT_OK; }
int ct_dist_sum_i64(int64_t *buf, size_t n) { (void)buf; (void)n; return CT_OK; }

int ct_dist_any(int flag, int *out)
{
    *out = flag != 0;
    return CT_OK;
}

int ct_dist_bcast(void *buf, size_t bytes, int root) { (void)buf; (void)bytes; (void)root; return CT_OK; }
int ct_dist_barrier(void) { return CT_OK; }
double ct_dist_take_comm_seconds(void) { return 0; }
