/* dist/dist_mpi.c: the process group on MPI (Open MPI, MPICH). MPI is initialised only when a
 * launcher started more than one process; errors on MPI_COMM_WORLD are fatal to the job. Large
 * buffers are reduced in chunks of at most 2^30 elements (MPI counts are int). */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "dist/dist.h"

#define TRY(x)                  \
    do {                        \
        int rc_ = (x);          \
        if (rc_) return rc_;    \
    } while (0)

static struct {
    int on; /* MPI initialised by us */
    int rank, size, local_rank, local_size;
    double comm_s;
    char library[MPI_MAX_LIBRARY_VERSION_STRING];
} g = {0, 0, 1, 0, 1, 0, ""};

static const char *library_probe(void)
{
    int len = 0;
    MPI_Get_library_version(g.library, &len);
    char *cut = strpbrk(g.library, "\n,");
    if (cut) *cut = 0;
    /* "MPICH Version:\t4.0.2" -> "MPICH 4.0.2" */
    char *v = strstr(g.library, "Version:");
    if (v) memmove(v, v + 8, strlen(v + 8) + 1);
    size_t w = 0;
    for (size_t i = 0; g.library[i]; i++) {
        char c = g.library[i] == '\t' ? ' ' : g.library[i];
        if (c != ' ' || (w > 0 && g.library[w - 1] != ' ')) g.library[w++] = c;
    }
    g.library[w] = 0;
    return g.library;
}

static int mpi_check(int err, const char *what)
{
    if (err == MPI_SUCCESS) return CT_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(err, msg, &len);
    return ct_fail(CT_ERR_RUNTIME, "MPI %s failed on rank %d: %s", what, g.rank, msg);
}

/* POCL runs one thread per core by default: N ranks on a node would each take every core */
static void share_cores(void)
{
    if (getenv("POCL_MAX_PTHREAD_COUNT")) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long per = cores > 0 ? cores / g.local_size : 1;
    char v[32];
    snprintf(v, sizeof v, "%ld", per > 0 ? per : 1);
    setenv("POCL_MAX_PTHREAD_COUNT", v, 0);
}

int ct_dist_init(void)
{
    if (g.on || ct_dist_launched_size() <= 1) return CT_OK;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return ct_fail(CT_ERR_RUNTIME, "MPI_Init failed: the launcher's environment is not usable");
    g.on = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    if (g.size != ct_dist_launched_size())
        return ct_fail(CT_ERR_USAGE,
                       "the launcher started %d processes but MPI sees a world of %d: it belongs to another MPI than "
                       "the one this cltrain was built with (%s); use that MPI's mpirun/mpiexec",
                       ct_dist_launched_size(), g.size, library_probe());
    MPI_Comm node;
    TRY(mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &node),
                     "MPI_Comm_split_type"));
    MPI_Comm_rank(node, &g.local_rank);
    MPI_Comm_size(node, &g.local_size);
    MPI_Comm_free(&node);
    library_probe();
    share_cores();
    return CT_OK;
}

void ct_dist_finalize(int failed, int code)
{
    if (!g.on) return;
    if (failed) {
        /* the launcher forwards this rank's error message asynchronously: give it a moment before
         * the job is torn down (MPICH's hydra dropped it otherwise) */
        fflush(stdout);
        fflush(stderr);
        struct timespec pause = {0, 300000000};
        nanosleep(&pause, NULL);
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    }
    MPI_Finalize();
    g.on = 0;
}

void ct_dist_abort(int code)
{
    if (g.on) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    _exit(code ? code : 1);
}

int ct_dist_rank(void) { return g.rank; }
int ct_dist_size(void) { return g.size; }
int ct_dist_local_rank(void) { return g.local_rank; }
int ct_dist_local_size(void) { return g.local_size; }
const char *ct_dist_library(void) { return g.on ? g.library : "none"; }

#define CHUNK ((size_t)1 << 30)

static int sum(void *buf, size_t n, MPI_Datatype t, size_t esz)
{
    if (!g.on || n == 0) return CT_OK;
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < n; off += CHUNK) {
        int cnt = (int)(n - off < CHUNK ? n - off : CHUNK);
        TRY(mpi_check(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esz, cnt, t, MPI_SUM, MPI_COMM_WORLD),
                         "MPI_Allreduce"));
    }
    g.comm_s += MPI_Wtime() - t0;
    return CT_OK;
}

int ct_dist_sum_f32(float *buf, size_t n) { return sum(buf, n, MPI_FLOAT, sizeof *buf); }
int ct_dist_sum_f64(double *buf, size_t n) { return sum(buf, n, MPI_DOUBLE, sizeof *buf); }
int ct_dist_sum_i64(int64_t *buf, size_t n) { return sum(buf, n, MPI_INT64_T, sizeof *buf); }

int ct_dist_any(int flag, int *out)
{
    int v = flag != 0;
    *out = v;
    if (!g.on) return CT_OK;
    double t0 = MPI_Wtime();
    TRY(mpi_check(MPI_Allreduce(&v, out, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "MPI_Allreduce"));
    g.comm_s += MPI_Wtime() - t0;
    return CT_OK;
}

int ct_dist_bcast(void *buf, size_t bytes, int root)
{
    if (!g.on || bytes == 0) return CT_OK;
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < bytes; off += CHUNK) {
        int cnt = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
        TRY(mpi_check(MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast"));
    }
    g.comm_s += MPI_Wtime() - t0;
    return CT_OK;
}

int ct_dist_barrier(void)
{
    if (!g.on) return CT_OK;
    return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

double ct_dist_take_comm_seconds(void)
{
    double s = g.comm_s;
    g.comm_s = 0;
    return s;
}
