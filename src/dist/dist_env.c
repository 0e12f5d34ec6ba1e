/* dist/dist_env.c: what a launcher's environment says about the job (both implementations):
 * Open MPI's mpirun, MPICH's hydra (PMI) and Slurm's srun (the step's task count, not the
 * allocation's SLURM_NTASKS, so a plain run inside a batch script stays a plain run). */
#include <stdlib.h>

#include "dist/dist.h"

int ct_dist_launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        long n = v && *v ? strtol(v, NULL, 10) : 0;
        if (n > 1) return (int)n;
    }
    return 1;
}
