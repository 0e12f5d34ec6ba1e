/* cli_bench.c: `cltrain bench`: training and evaluation throughput, per-kernel profile, build
 * times, device memory. Speed targets are checked here and by tools/bench-vs-pytorch.sh, never
 * by timed tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "clctx.h"
#include "dist/dist.h"
#include "io/jsonutil.h"
#include "modelio.h"

enum { K_BATCH = 256, K_STEPS, K_EVAL_BATCH };

typedef struct {
    ct_bench_opts *b;
    int batch_set;
} bench_args;

static int int_arg(const char *flag, const char *val, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(val, &end, 10);
    if (!*val || *end || v < lo || v > hi)
        return ct_fail(CT_ERR_USAGE, "--%s: '%s' is not an integer in [%d, %d]", flag, val, lo, hi);
    *out = (int)v;
    return CT_OK;
}

static int take(int key, const char *val, void *user)
{
    bench_args *a = user;
    switch (key) {
    case K_BATCH: a->batch_set = 1; return int_arg("batch", val, 1, 65536, &a->b->batch);
    case K_STEPS: return int_arg("steps", val, 1, 100000, &a->b->steps);
    case K_EVAL_BATCH: return int_arg("eval-batch", val, 1, 65536, &a->b->eval_batch);
    }
    return CT_ERR_USAGE;
}

static json_t *kernels_json(const ct_bench_kernel *k, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_array_append_new(a, o);
        json_object_set_new(o, "name", ct_jstr(k[i].name));
        json_object_set_new(o, "ms_per_step", ct_jreal(k[i].ms_per_step));
        json_object_set_new(o, "share", ct_jreal(k[i].share));
        json_object_set_new(o, "calls_per_step", json_integer((json_int_t)(k[i].calls_per_step)));
    }
    return a;
}

/* a per-kernel table: device ms per step (or per evaluation batch), share, launches */
static void print_table(const char *head, const ct_bench_kernel *k, int n, double total)
{
    printf("%-28s %10s %7s %6s\n", head, "ms/step", "share", "calls");
    for (int i = 0; i < n; i++)
        printf("%-28s %10.3f %6.1f%% %6u\n", k[i].name, k[i].ms_per_step, 100 * k[i].share, k[i].calls_per_step);
    printf("%-28s %10.3f\n", "total (device time)", total);
}

int cli_bench(int argc, char **argv)
{
    ct_tune_use_cache(CT_TUNE_CACHE_NETWORK); /* values tuned for the network, if any (not with CLTRAIN_NO_TUNE=1) */
    static const cli_option opts[] = {{"batch", 1, K_BATCH, "N", "training batch (default: training.batch_size)"},
                                      {"steps", 1, K_STEPS, "N", "timed steps after the warm-up"},
                                      {"eval-batch", 1, K_EVAL_BATCH, "N", "evaluation batch"},
                                      {0}};
    ct_bench_opts b = {64, 30, 3, 250, NULL, 1};
    bench_args ba = {&b, 0};
    const cli_command cmd = {"bench", "training/evaluation images/s, per-kernel profile, build times, device memory",
                             CLI_CONFIG | CLI_DEVICE | CLI_JSON, opts, take, &ba};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    if ((prc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(prc);
    int batch_set = ba.batch_set;
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    if (!batch_set) b.batch = cfg.training.batch_size;
    ct_netdef net;
    rc = ct_modelio_config_netdef(&cfg, &net);
    if (rc) return cli_die(rc);
    b.net = &net;
    b.adam = strcmp(cfg.training.optimizer_type, "adam") == 0;
    const char *dev = o.device && *o.device ? o.device : cfg.device;
    if ((rc = cli_dist_begin()) != CT_OK) return cli_die(rc);
    if (b.batch % ct_dist_size() != 0)
        return cli_die(ct_fail(CT_ERR_USAGE, "--batch %d is the global batch of all %d processes: it must be divisible "
                                             "by their number", b.batch, ct_dist_size()));
    const int quiet = ct_dist_rank() > 0; /* rank 0 reports */
    ct_bench_result r;
    if (!o.json && !quiet) printf("benchmarking training (batch %d, %d steps after %d warm-up), eval batch %d\n", b.batch,
                        b.steps, b.warmup, b.eval_batch);
    rc = ct_bench_run(dev, &b, &r);
    ct_netdef_free(&net);
    if (rc) return cli_die(rc);
    if (quiet) return CT_OK;
    if (o.json) {
        json_t *w = json_object();
        json_object_set_new(w, "device", ct_jstr(r.device));
        json_object_set_new(w, "kernel_profile", ct_jstr(r.gpu_profile ? "gpu" : "cpu"));
        json_object_set_new(w, "tunables", ct_jstr(strrchr(r.tunables, ':') ? strrchr(r.tunables, ':') + 2 : r.tunables));
        json_object_set_new(w, "batch", json_integer((json_int_t)(b.batch)));
        json_object_set_new(w, "train_images_per_second", ct_jreal(r.train_images_per_second));
        json_object_set_new(w, "eval_images_per_second", ct_jreal(r.eval_images_per_second));
        json_object_set_new(w, "eval_unfused_images_per_second", ct_jreal(r.eval_unfused_images_per_second));
        json_object_set_new(w, "ms_per_step", ct_jreal(r.ms_per_step));
        json_object_set_new(w, "world_size", json_integer((json_int_t)r.world_size));
        json_object_set_new(w, "allreduce_ms_per_step", ct_jreal(r.allreduce_ms_per_step));
        json_object_set_new(w, "gradient_bytes", json_integer((json_int_t)r.gradient_bytes));
        json_object_set_new(w, "build_cold_seconds", ct_jreal(r.build_cold_seconds));
        json_object_set_new(w, "build_cached_seconds", ct_jreal(r.build_cached_seconds));
        json_object_set_new(w, "first_step_seconds", ct_jreal(r.first_step_seconds));
        json_object_set_new(w, "device_memory_bytes", json_integer((json_int_t)(r.device_bytes)));
        json_object_set_new(w, "kernels", kernels_json(r.kernels, r.n_kernels));
        json_object_set_new(w, "eval_kernels", kernels_json(r.eval_kernels, r.n_eval_kernels));
        json_object_set_new(w, "eval_unfused_kernels", kernels_json(r.eval_unfused_kernels, r.n_eval_unfused_kernels));
        int jrc = cli_print_json(w);
        if (jrc) return cli_die(jrc);
        return CT_OK;
    }
    printf("device: %s\n%s\n", r.device, r.tunables);
    printf("training:   %8.1f images/s  (%.1f ms per step of %d)\n", r.train_images_per_second, r.ms_per_step, b.batch);
    if (r.world_size > 1)
        printf("data parallel: %d processes x %d images, whole job; gradient allreduce %.2f ms per step (%.1f%%, "
               "%.2f MB: read-back, MPI_Allreduce, write)\n",
               r.world_size, b.batch / r.world_size, r.allreduce_ms_per_step,
               r.ms_per_step > 0 ? 100 * r.allreduce_ms_per_step / r.ms_per_step : 0, r.gradient_bytes / 1e6);
    printf("evaluation: %8.1f images/s  (batch %d; every layer by itself: %.1f, side by side)\n",
           r.eval_images_per_second, b.eval_batch, r.eval_unfused_images_per_second);
    printf("kernel builds: %.2f s cold (program cache off), %.2f s from the cache\n", r.build_cold_seconds,
           r.build_cached_seconds);
    printf("context + model + first training step (program cache filled; the driver may still compile): %.2f s\n",
           r.first_step_seconds);
    printf("device memory allocated: %.1f MiB\n\n", r.device_bytes / 1048576.0);
    print_table("kernel (profiled step)", r.kernels, r.n_kernels, r.profiled_ms_per_step);
    printf("\n");
    char head[48];
    snprintf(head, sizeof head, "evaluation (batch %d)", b.eval_batch);
    print_table(head, r.eval_kernels, r.n_eval_kernels, r.eval_profiled_ms);
    printf("\n");
    snprintf(head, sizeof head, "evaluation unfused (batch %d)", b.eval_batch);
    print_table(head, r.eval_unfused_kernels, r.n_eval_unfused_kernels, r.eval_unfused_profiled_ms);
    return CT_OK;
}
