/* test_bench.c: `cltrain bench` on a tiny configuration: the timed (no-event) training steps
 * run on a command queue without profiling enabled (as training runs), the profiled steps give
 * the kernel table, and every figure is filled. Speeds are not asserted (no timed tests). */
#include "bench.h"
#include "common.h"
#include "nn/netdef.h"
#include "testutil.h"

#include <stdio.h>

int main(void)
{
    ct_netdef net;
    int rc = ct_netdef_digitcnn(8, 8, 16, 16, 0.1, 0.2, 1, &net);
    TU_CHECK(rc == CT_OK, "small DigitCNN: %s", ct_last_error());
    if (rc) return tu_finish();
    ct_bench_opts o = {8, 2, 2, 8, &net, 1};
    ct_bench_result r;
    rc = ct_bench_run(NULL, &o, &r);
    TU_CHECK(rc == CT_OK, "bench runs: %s", ct_last_error());
    if (rc == CT_OK) {
        TU_CHECK(r.timed_queue_profiling == 0, "timed steps ran on a queue without profiling");
        TU_CHECK(r.train_images_per_second > 0 && r.eval_images_per_second > 0 && r.ms_per_step > 0,
                 "throughput figures: %g train, %g eval images/s", r.train_images_per_second, r.eval_images_per_second);
        TU_CHECK(r.n_kernels > 3 && r.profiled_ms_per_step > 0, "kernel table from the profiled steps (%d kernels)",
                 r.n_kernels);
        printf("ok   %s: %.0f train images/s (no events), %d kernels profiled\n", r.device, r.train_images_per_second,
               r.n_kernels);
    }
    return tu_finish();
}
