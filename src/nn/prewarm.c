/* nn/prewarm.c: see nn/prewarm.h. */
#define _GNU_SOURCE
#include "nn/prewarm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "embedded.h"
#include "io/jsonutil.h"
#include "nn/graph_internal.h"

extern char **environ;

/* What the helper needs to compile what the run will launch: the device, the tunables, the
 * network, the batch sizes, the image preparation and the optimizer. */
typedef struct {
    long parent;
    char device[32];
    ct_tune tune;
    ct_augment aug;  /* the training batches' preparation (augmentation as configured) */
    ct_optim opt;
    ct_netdef net;
    int max_batch, batch, n, batches[8];
    char stamp[4096];
} warm_spec;

struct ct_prewarm {
    pid_t pid;
    char spec_path[4200];
};

static uint64_t hash_str(const char *s, uint64_t h) { return ct_hash64(s, strlen(s), h); }

/* What the driver's compiled kernels depend on: device, driver, our kernel sources and their
 * options, the launches (network, batch sizes, image shape, optimizer) and where the driver
 * caches. */
static uint64_t warm_key(const ct_ctx *c, const warm_spec *s, const char *net_json)
{
    char tune[1024];
    ct_tune_format(&c->tune, tune, sizeof tune);
    const char *pocl_dir = getenv("POCL_CACHE_DIR");
    const char *parts[] = {c->dev.name, c->dev.driver_version, c->dev.platform_version, c->dev.device_version,
                           CLTRAIN_VERSION, tune, pocl_dir ? pocl_dir : ""};
    uint64_t h = 0x70726578u;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = hash_str(parts[i], h);
    for (const ct_embedded_source *e = ct_embedded_sources; e->name; e++) h = ct_hash64(e->source, *e->len, h);
    int head[] = {s->max_batch, s->batch, s->n, s->aug.enabled, s->aug.hflip, s->aug.c, s->aug.h, s->aug.w,
                  s->opt.adam, s->opt.momentum != 0, c->tune.gpu_profile};
    h = ct_hash64(head, sizeof head, h);
    h = ct_hash64(s->batches, sizeof(int) * (size_t)s->n, h);
    return hash_str(net_json, h);
}

/* --- the spec file ---------------------------------------------------------------------------- */

static json_t *hex_of(const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[((const unsigned char *)p)[i] >> 4];
        s[2 * i + 1] = digits[((const unsigned char *)p)[i] & 15];
    }
    s[2 * n] = 0;
    json_t *v = json_string(s);
    free(s);
    return v;
}

static int unhex(const json_t *v, void *p, size_t n)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 2 * n) return ct_fail(CT_ERR_INPUT, "prewarm spec: a binary field has the wrong size");
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        if (sscanf(s + 2 * i, "%2x", &b) != 1) return ct_fail(CT_ERR_INPUT, "prewarm spec: bad hex");
        ((unsigned char *)p)[i] = (unsigned char)b;
    }
    return CT_OK;
}

/* the spec with the network as net_json (s->net is only filled by spec_read) */
static int spec_write(const warm_spec *s, const char *net_json, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    json_t *eb = json_array();
    for (int i = 0; eb && i < s->n; i++) json_array_append_new(eb, json_integer(s->batches[i]));
    json_t *o = json_pack("{s:I,s:s,s:o,s:o,s:o,s:i,s:i,s:o,s:s,s:s}", "parent", (json_int_t)s->parent, "device",
                          s->device, "tune", hex_of(&s->tune, sizeof s->tune), "aug", hex_of(&s->aug, sizeof s->aug),
                          "optim", hex_of(&s->opt, sizeof s->opt), "max_batch", s->max_batch, "batch", s->batch,
                          "eval", eb, "stamp", s->stamp, "network", net_json);
    int rc = ct_jdump_take(o, &text, &len);
    if (rc == CT_OK) rc = ct_write_file_atomic(path, text, len);
    free(text);
    return rc;
}

static int spec_read(const char *path, warm_spec *s)
{
    unsigned char *data = NULL;
    size_t len = 0;
    json_t *o = NULL;
    memset(s, 0, sizeof *s);
    CT_TRY(ct_read_file(path, 1 << 22, &data, &len));
    int rc = ct_jparse((const char *)data, len, path, 0, 0, &o);
    free(data);
    if (rc != CT_OK) return rc;
    json_int_t parent = 0;
    const char *dev = NULL, *stamp = NULL, *net = NULL;
    json_t *tune = NULL, *aug = NULL, *opt = NULL, *eb = NULL;
    if (json_unpack(o, "{s:I,s:s,s:o,s:o,s:o,s:i,s:i,s:o,s:s,s:s}", "parent", &parent, "device", &dev, "tune", &tune,
                    "aug", &aug, "optim", &opt, "max_batch", &s->max_batch, "batch", &s->batch, "eval", &eb, "stamp",
                    &stamp, "network", &net) != 0 ||
        !json_is_array(eb) || json_array_size(eb) < 1 || json_array_size(eb) > 8)
        rc = ct_fail(CT_ERR_INPUT, "%s: not a prewarm spec", path);
    if (rc == CT_OK) rc = unhex(tune, &s->tune, sizeof s->tune);
    if (rc == CT_OK) rc = unhex(aug, &s->aug, sizeof s->aug);
    if (rc == CT_OK) rc = unhex(opt, &s->opt, sizeof s->opt);
    if (rc == CT_OK) {
        s->parent = (long)parent;
        snprintf(s->device, sizeof s->device, "%s", dev);
        snprintf(s->stamp, sizeof s->stamp, "%s", stamp);
        s->n = (int)json_array_size(eb);
        for (int i = 0; i < s->n; i++) s->batches[i] = (int)json_integer_value(json_array_get(eb, (size_t)i));
        rc = ct_netdef_from_json(net, strlen(net), path, &s->net);
    }
    json_decref(o);
    return rc;
}

/* --- the helper process ----------------------------------------------------------------------- */

/* 1 when the run builds program family f (by the network's layer types; the rest every run). */
static int family_needed(const ct_netdef *net, const char *f)
{
    static const char *const by_type[][2] = {{"conv2d", "conv"},          {"conv2d", "convfused"}, {"conv2d", "convstrided"},
                                             {"batchnorm", "batchnorm"},  {"pool", "pool"},
                                             {"dropout", "dropout"},      {"add", "elementwise"},
                                             {"flatten", "flatten"}};
    int typed = 0;
    for (size_t k = 0; k < sizeof by_type / sizeof by_type[0]; k++) {
        if (strcmp(by_type[k][1], f) != 0) continue;
        typed = 1;
        for (int i = 0; i < net->n_layers; i++) {
            const char *t = ct_layer_type_name(net->layers[i].type);
            if (t && strstr(t, by_type[k][0])) return 1;
        }
    }
    return !typed;
}

/* Every activation, gradient and scratch buffer of m zeroed (ct_model_create zeroes the pools),
 * so that kernels launched before the ones that would have written their inputs read zeros
 * (indices included) rather than whatever the allocation held. */
static int zero_model(ct_model *m)
{
    for (int i = 0; i < m->n_bufs; i++) {
        size_t floats = m->bufs[i].per_image * (size_t)m->max_batch + m->bufs[i].fixed;
        if (m->bufs[i].mem && floats) CT_TRY(ct_buffer_fill_zero(m->ctx, m->bufs[i].mem, 0, floats * 4));
    }
    return CT_OK;
}

/* The run's launches in about the reverse of the order the run makes them, so that the run and
 * the helper compile different kernels and meet in the middle (POCL's disk cache gives each the
 * other's; a process that launches a kernel the other is compiling waits for it): the programs
 * in reverse, the evaluation forwards, the optimizer step, the backward from the first layer to
 * the last, the training forward. Results are thrown away. */
static int warm_up(ct_ctx *c, const warm_spec *s)
{
    static const char *const order[] = {"convfused", "convstrided", "optim",   "reduce",    "loss", "act",  "dropout", "elementwise",
                                        "flatten",   "pool",    "batchnorm", "gemm", "conv", "augment"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (family_needed(&s->net, order[i])) CT_TRY(ct_program_build(c, order[i]));
    ct_model *m = NULL;
    cl_mem raw = NULL;
    size_t isz = s->aug.c > 0 ? (size_t)s->aug.c * s->aug.h * s->aug.w : 784;
    ct_augment plain = s->aug;
    plain.enabled = 0;
    int rc = ct_model_create(c, &s->net, s->max_batch, &m);
    if (rc == CT_OK) rc = zero_model(m);
    if (rc == CT_OK) rc = ct_buffer_create(c, (size_t)s->max_batch * isz, "warm-up images", &raw);
    if (rc == CT_OK) rc = ct_buffer_fill_zero(c, raw, 0, (size_t)s->max_batch * isz);
    for (int i = 0; i < s->n && rc == CT_OK; i++) {
        rc = ct_batch_prepare(c, &plain, s->batches[i], raw, m->x, 0, 0);
        if (rc == CT_OK) rc = ct_model_forward(m, s->batches[i], 0, 0, 0);
        if (rc == CT_OK) rc = ct_model_loss(m, s->batches[i], 0);
    }
    if (rc == CT_OK) rc = ct_model_optim_step(m, &s->opt);
    if (rc == CT_OK) rc = ct_model_loss(m, s->batch, 1);
    if (rc == CT_OK) ct_model_backward_begin(m); /* first layer first: the run goes from the last */
    for (int i = 0; i < m->n_nodes && rc == CT_OK; i++) rc = ct_model_backward_node(m, i, s->batch);
    if (rc == CT_OK) rc = ct_batch_prepare(c, &s->aug, s->batch, raw, m->x, 1, 0);
    if (rc == CT_OK) rc = ct_model_forward(m, s->batch, 1, 1, 0);
    if (rc == CT_OK) rc = ct_finish(c);
    if (raw) clReleaseMemObject(raw);
    ct_model_free(m);
    return rc;
}

int ct_prewarm_child(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "cltrain: __prewarm is cltrain's own helper process; it takes one spec file\n");
        return CT_ERR_USAGE;
    }
    warm_spec s;
    int rc = spec_read(argv[2], &s);
    if (rc == CT_OK) remove(argv[2]); /* the run's own file, read: not needed any more */
    if (rc == CT_OK && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || (long)getppid() != s.parent))
        rc = ct_fail(CT_ERR_RUNTIME, "the run that started this helper has ended");
    ct_ctx *c = NULL;
    if (rc == CT_OK) rc = ct_ctx_create(s.device, 0, &c);
    if (rc == CT_OK) rc = ct_ctx_set_tune(c, &s.tune);
    if (rc == CT_OK) rc = warm_up(c, &s);
    if (rc == CT_OK) {
        char dir[4096];
        if (ct_mkdirs(ct_cache_dir(dir, sizeof dir)) == CT_OK) rc = ct_write_file_atomic(s.stamp, "", 0);
    }
    if (rc != CT_OK) fprintf(stderr, "cltrain: __prewarm: %s\n", ct_last_error()); /* /dev/null under a run */
    ct_ctx_free(c);
    ct_netdef_free(&s.net);
    return rc;
}

/* --- the run's side --------------------------------------------------------------------------- */

/* environ without the variables that would make the helper a Dagster Pipes session */
static char **helper_env(void)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "DAGSTER_PIPES_", 14) != 0) env[k++] = environ[i];
    return env;
}

/* this executable again as `cltrain __prewarm SPEC`, without a terminal or standard streams */
static int spawn_helper(const char *spec_path, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return -1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *args[] = {"cltrain", "__prewarm", (char *)spec_path, NULL};
    char **env = helper_env();
    int err = env ? posix_spawn(pid, "/proc/self/exe", &fa, NULL, args, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    return err;
}

/* 1 when the driver's cache already holds this run's programs, judged by the first one the run
 * builds anyway (the smallest): from POCL's cache it took 0.07 s, compiled 1.2 s (the first build
 * of a process also loads the compiler's kernel library; 2026-12-03). Then most of
 * what the helper would compile is there too (POCL's compiled kernels depend on the program, the
 * work-group size and the grid class, not on the network's shapes), and it would only take CPU
 * from the run. CLTRAIN_PREWARM=1 starts the helper all the same. */
static int driver_cache_warm(ct_ctx *c)
{
    const char *on = getenv("CLTRAIN_PREWARM");
    if (on && strcmp(on, "1") == 0) return 0;
    int before = c->n_programs;
    double t0 = ct_now();
    if (ct_program_build(c, "reduce") != CT_OK) {
        ct_clear_error();
        return 0;
    }
    double t = ct_now() - t0;
    int warm = c->n_programs > before && t < 0.3;
    if (warm) ct_debug("kernel warm-up: the driver's cache has the programs (%.3f s for the first): no helper\n", t);
    return warm;
}

static int prewarm_wanted(const ct_ctx *c)
{
    const char *on = getenv("CLTRAIN_PREWARM"), *kdir = getenv("CLTRAIN_KERNEL_DIR");
    if (on && strcmp(on, "0") == 0) return 0;
    return ct_driver_caches_builds(c) && !(kdir && *kdir);
}

void ct_prewarm_start(ct_ctx *c, const ct_netdef *net, int max_batch, int batch, const ct_augment *aug,
                      const ct_optim *opt, const int *batches, int n, ct_prewarm **out)
{
    *out = NULL;
    char dir[3500];
    if (!prewarm_wanted(c) || !ct_cache_dir(dir, sizeof dir)[0] || n < 1 || n > 8 || batch < 1 ||
        batch > max_batch || c->dev.platform_index < 0)
        return;
    warm_spec *s = calloc(1, sizeof *s);
    ct_prewarm *p = calloc(1, sizeof *p);
    char *net_json = NULL;
    if (!s || !p || ct_netdef_to_json(net, &net_json) != CT_OK) {
        ct_clear_error();
        free(s);
        free(p);
        return;
    }
    s->parent = (long)getpid();
    snprintf(s->device, sizeof s->device, "%d:%d", c->dev.platform_index, c->dev.device_index);
    s->tune = c->tune;
    s->aug = *aug;
    s->opt = *opt;
    s->max_batch = max_batch;
    s->batch = batch;
    s->n = n;
    memcpy(s->batches, batches, sizeof(int) * (size_t)n);
    unsigned long long key = (unsigned long long)warm_key(c, s, net_json);
    snprintf(s->stamp, sizeof s->stamp, "%s/prewarm-%016llx", dir, key);
    snprintf(p->spec_path, sizeof p->spec_path, "%s/prewarm-%016llx.%ld.json", dir, key, s->parent);
    FILE *f = fopen(s->stamp, "rb");
    int ok = !f && ct_mkdirs(dir) == CT_OK && spec_write(s, net_json, p->spec_path) == CT_OK;
    if (f) fclose(f);
    if (ok && spawn_helper(p->spec_path, &p->pid) == 0) {
        *out = p;
        if (driver_cache_warm(c)) { /* started first so as not to wait for the probe when cold */
            ct_prewarm_finish(p, 0);
            *out = NULL;
        } else {
            ct_debug("kernel warm-up: helper process %ld compiles the run's kernels in reverse order\n", (long)p->pid);
        }
    } else {
        ct_clear_error();
        if (ok) remove(p->spec_path);
        free(p);
    }
    free(net_json);
    free(s);
}

void ct_prewarm_finish(ct_prewarm *p, int wait_s)
{
    if (!p) return;
    int status = 0;
    pid_t r;
    for (int i = 0; (r = waitpid(p->pid, &status, WNOHANG)) == 0 && i < wait_s * 100; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    if (r == 0) { /* still compiling what the run has compiled by now: not needed any more */
        kill(p->pid, SIGTERM);
        r = waitpid(p->pid, &status, 0);
    }
    ct_debug("kernel warm-up helper %ld: %s\n", (long)p->pid,
             r > 0 && WIFEXITED(status) ? (WEXITSTATUS(status) == 0 ? "done" : "failed (the run compiled alone)")
                                         : "stopped");
    remove(p->spec_path);
    free(p);
}
