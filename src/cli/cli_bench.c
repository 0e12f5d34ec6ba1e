/* cli_bench.c: `cltrain bench`: training and evaluation throughput, per-kernel profile, build
 * times, device memory. Speed targets are checked here and by tools/bench-vs-pytorch.sh, never
 * by timed tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "io/jsonutil.h"

static int int_arg(int argc, char **argv, int *i, int lo, int hi, int *out)
{
    if (*i + 1 >= argc) return ct_fail(CT_ERR_USAGE, "%s needs a value", argv[*i]);
    char *end;
    long v = strtol(argv[++*i], &end, 10);
    if (*end || v < lo || v > hi)
        return ct_fail(CT_ERR_USAGE, "%s: '%s' is not an integer in [%d, %d]", argv[*i - 1], argv[*i], lo, hi);
    *out = (int)v;
    return CT_OK;
}

int cli_bench(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0;
    ct_bench_opts b = {64, 30, 3, 250, {0}, 1};
    int batch_set = 0;
    for (int i = 2; i < argc; i++) {
        int t = cli_take_standard(argc, argv, &i, &o, &cfg, &sets);
        if (t < 0) return cli_die(-t);
        if (t) continue;
        int rc;
        if (!strcmp(argv[i], "--batch")) {
            rc = int_arg(argc, argv, &i, 1, 65536, &b.batch);
            batch_set = 1;
        } else if (!strcmp(argv[i], "--steps")) {
            rc = int_arg(argc, argv, &i, 1, 100000, &b.steps);
        } else if (!strcmp(argv[i], "--eval-batch")) {
            rc = int_arg(argc, argv, &i, 1, 65536, &b.eval_batch);
        } else {
            rc = ct_fail(CT_ERR_USAGE,
                         "bench: unknown option '%s' (allowed: --device SEL, --batch N, --steps N, --eval-batch N, "
                         "--config F, --set k=v, --json)",
                         argv[i]);
        }
        if (rc) return cli_die(rc);
    }
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    if (!batch_set) b.batch = cfg.training.batch_size;
    b.dims = (ct_cnn_dims){cfg.model.conv1_channels, cfg.model.conv2_channels, cfg.model.conv3_channels,
                           cfg.model.hidden_size, (float)cfg.model.dropout1_rate, (float)cfg.model.dropout2_rate,
                           cfg.model.use_batch_norm};
    b.adam = strcmp(cfg.training.optimizer_type, "adam") == 0;
    const char *dev = o.device && *o.device ? o.device : cfg.device;
    ct_bench_result r;
    if (!o.json) printf("benchmarking DigitCNN training (batch %d, %d steps after %d warm-up), eval batch %d\n", b.batch,
                        b.steps, b.warmup, b.eval_batch);
    rc = ct_bench_run(dev, &b, &r);
    if (rc) return cli_die(rc);
    if (o.json) {
        json_t *w = json_object();
        json_object_set_new(w, "device", ct_jstr(r.device));
        json_object_set_new(w, "batch", json_integer((json_int_t)(b.batch)));
        json_object_set_new(w, "train_images_per_second", ct_jreal(r.train_images_per_second));
        json_object_set_new(w, "eval_images_per_second", ct_jreal(r.eval_images_per_second));
        json_object_set_new(w, "ms_per_step", ct_jreal(r.ms_per_step));
        json_object_set_new(w, "build_cold_seconds", ct_jreal(r.build_cold_seconds));
        json_object_set_new(w, "build_cached_seconds", ct_jreal(r.build_cached_seconds));
        json_object_set_new(w, "first_step_seconds", ct_jreal(r.first_step_seconds));
        json_object_set_new(w, "device_memory_bytes", json_integer((json_int_t)(r.device_bytes)));
        json_t *kernels = json_array();
        json_object_set_new(w, "kernels", kernels);
        for (int i = 0; i < r.n_kernels; i++) {
            json_t *w_1 = json_object();
            json_array_append_new(kernels, w_1);
            json_object_set_new(w_1, "name", ct_jstr(r.kernels[i].name));
            json_object_set_new(w_1, "ms_per_step", ct_jreal(r.kernels[i].ms_per_step));
            json_object_set_new(w_1, "share", ct_jreal(r.kernels[i].share));
            json_object_set_new(w_1, "calls_per_step", json_integer((json_int_t)(r.kernels[i].calls_per_step)));
        }
        int jrc = cli_print_json(w);
        if (jrc) return cli_die(jrc);
        return CT_OK;
    }
    printf("device: %s\n", r.device);
    printf("training:   %8.1f images/s  (%.1f ms per step of %d)\n", r.train_images_per_second, r.ms_per_step, b.batch);
    printf("evaluation: %8.1f images/s  (batch %d)\n", r.eval_images_per_second, b.eval_batch);
    printf("kernel builds: %.2f s cold (program cache off), %.2f s from the cache\n", r.build_cold_seconds,
           r.build_cached_seconds);
    printf("context + model + first training step (program cache filled; the driver may still compile): %.2f s\n",
           r.first_step_seconds);
    printf("device memory allocated: %.1f MiB\n\n", r.device_bytes / 1048576.0);
    printf("%-24s %10s %7s %6s\n", "kernel (profiled step)", "ms/step", "share", "calls");
    for (int i = 0; i < r.n_kernels; i++)
        printf("%-24s %10.3f %6.1f%% %6u\n", r.kernels[i].name, r.kernels[i].ms_per_step, 100 * r.kernels[i].share,
               r.kernels[i].calls_per_step);
    printf("%-24s %10.3f\n", "total (device time)", r.profiled_ms_per_step);
    return CT_OK;
}
