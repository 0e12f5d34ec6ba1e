/* tune/cache.c: the per-device cache of `cltrain tune` (tune.h): <cache dir>/tune-<key>.json
 * with one entry per kernel profile, network (the hash of its shapes) and batch, and the hooks
 * that apply an entry: the newest of the profile (verify --tuned) or the one tuned for the
 * network a command runs (train, bench, evaluate, predict). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "tune/tune_int.h"

static uint64_t kernel_hash(void)
{
    uint64_t h = 7;
    for (const ct_embedded_source *e = ct_embedded_sources; e->name; e++) {
        h = ct_hash64(e->name, strlen(e->name), h);
        h = ct_hash64(e->source, *e->len, h);
    }
    return h;
}

static int cache_path(const ct_ctx *c, char *path, size_t cap)
{
    char dir[3500];
    ct_cache_dir(dir, sizeof dir);
    if (!dir[0]) return ct_fail(CT_ERR_USAGE, "no cache folder for tuning results (CLTRAIN_NO_CACHE is set or no HOME)");
    uint64_t h = kernel_hash();
    const char *parts[] = {c->dev.platform_name, c->dev.platform_version, c->dev.name, c->dev.driver_version,
                           CLTRAIN_VERSION};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = ct_hash64(parts[i], strlen(parts[i]), h);
    snprintf(path, cap, "%s/tune-%016llx.json", dir, (unsigned long long)h);
    return CT_OK;
}

static json_t *tune_json(const ct_tune *t)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "gemm_tm", t->gemm_tm,
                     "gemm_vw", t->gemm_vw, "gemm_nv", t->gemm_nv, "gemm_row_loop", t->gemm_row_loop, "gemm_local_x",
                     (int)t->gemm_local[0], "gemm_local_y", (int)t->gemm_local[1], "gemm_nt_tm", t->gemm_nt_tm,
                     "gemm_nt_tn", t->gemm_nt_tn, "gemm_nt_vw", t->gemm_nt_vw, "gemm_nt_kc", t->gemm_nt_kc,
                     "conv_panels", t->conv_panels, "conv_direct", t->conv_direct, "ew_vw", t->ew_vw, "red_ls",
                     t->red_ls, "fc_clblast", t->fc_clblast);
}

static int tune_from_json(json_t *o, ct_tune *t)
{
    int lx = 0, ly = 0;
    if (json_unpack(o, "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "gemm_tm", &t->gemm_tm,
                    "gemm_vw", &t->gemm_vw, "gemm_nv", &t->gemm_nv, "gemm_row_loop", &t->gemm_row_loop,
                    "gemm_local_x", &lx, "gemm_local_y", &ly, "gemm_nt_tm", &t->gemm_nt_tm, "gemm_nt_tn",
                    &t->gemm_nt_tn, "gemm_nt_vw", &t->gemm_nt_vw, "gemm_nt_kc", &t->gemm_nt_kc, "conv_panels",
                    &t->conv_panels, "conv_direct", &t->conv_direct, "ew_vw", &t->ew_vw, "red_ls", &t->red_ls,
                    "fc_clblast", &t->fc_clblast) != 0)
        return 0;
    t->gemm_local[0] = (size_t)lx;
    t->gemm_local[1] = (size_t)ly;
    return 1;
}

static void key_hex(unsigned long long key, char buf[20]) { snprintf(buf, 20, "%016llx", key); }

static json_t *report_json(const ct_tune_report *r, int gpu)
{
    json_t *rows = json_array();
    for (int i = 0; i < r->n_rows; i++)
        json_array_append_new(rows, json_pack("{s:s,s:s,s:i,s:f,s:f}", "op", r->rows[i].op, "shape",
                                              r->rows[i].shape, "count", r->rows[i].count, "default_ms",
                                              r->rows[i].default_ms, "best_ms", r->rows[i].best_ms));
    char key[20];
    key_hex(r->net_key, key);
    json_t *e = json_pack("{s:s,s:s,s:i,s:s,s:s,s:o,s:o,s:o,s:f,s:f}", "profile", gpu ? "gpu" : "cpu", "net_key", key,
                          "batch", r->batch, "shape", r->shape, "when", r->when, "tunables", tune_json(&r->best),
                          "defaults", tune_json(&r->dflt), "rows", rows, "step_default_ms", r->step_default_ms,
                          "step_best_ms", r->step_best_ms);
    json_t *more = json_pack("{s:i,s:i,s:i,s:i,s:b,s:f}", "tried", r->tried, "wrong", r->wrong, "slow", r->slow,
                             "unfit", r->unfit, "budget_hit", r->budget_hit, "seconds", r->seconds);
    json_object_update(e, more);
    json_decref(more);
    return e;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_t *load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    json_error_t err;
    return json_load_file(path, 0, &err);
}

int ct_tune_save(const ct_ctx *c, const ct_tune_report *r, char *path, size_t cap)
{
    CT_TRY(cache_path(c, path, cap));
    json_t *doc = load_file(path);
    if (!doc || !json_is_object(doc) || !json_is_array(json_object_get(doc, "entries"))) {
        json_decref(doc);
        char kh[20];
        key_hex(kernel_hash(), kh);
        doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[]}", "platform", c->dev.platform_name, "device", c->dev.name,
                        "driver", c->dev.driver_version, "cltrain_version", CLTRAIN_VERSION, "kernel_hash", kh,
                        "entries");
        if (!doc) return ct_fail(CT_ERR_NOMEM, "out of memory");
    }
    json_t *entries = json_object_get(doc, "entries");
    /* one entry per profile, network and batch: the new one replaces an older one */
    const char *prof = r->dflt.gpu_profile ? "gpu" : "cpu";
    char key[20];
    key_hex(r->net_key, key);
    for (size_t i = json_array_size(entries); i-- > 0;) {
        json_t *e = json_array_get(entries, i);
        if (!strcmp(jstr(e, "profile"), prof) && !strcmp(jstr(e, "net_key"), key) &&
            json_integer_value(json_object_get(e, "batch")) == r->batch)
            json_array_remove(entries, i);
    }
    json_array_append_new(entries, report_json(r, r->dflt.gpu_profile));
    char *text = json_dumps(doc, JSON_INDENT(1));
    json_decref(doc);
    if (!text) return ct_fail(CT_ERR_NOMEM, "out of memory");
    char dir[3500];
    ct_cache_dir(dir, sizeof dir);
    int rc = ct_mkdirs(dir);
    if (rc == CT_OK) rc = ct_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

/* entry e into r; 0 when it is not a complete entry */
static int entry_read(const ct_ctx *c, json_t *e, ct_tune_report *r)
{
    memset(r, 0, sizeof *r);
    r->best = r->dflt = c->tune;
    if (!tune_from_json(json_object_get(e, "tunables"), &r->best) ||
        !tune_from_json(json_object_get(e, "defaults"), &r->dflt))
        return 0;
    snprintf(r->shape, sizeof r->shape, "%s", jstr(e, "shape"));
    snprintf(r->when, sizeof r->when, "%s", jstr(e, "when"));
    snprintf(r->device, sizeof r->device, "%s", c->dev.name);
    r->net_key = strtoull(jstr(e, "net_key"), NULL, 16);
    r->batch = (int)json_integer_value(json_object_get(e, "batch"));
    json_t *rows = json_object_get(e, "rows");
    for (size_t k = 0; k < json_array_size(rows) && r->n_rows < CT_TUNE_MAX_ROWS; k++) {
        json_t *w = json_array_get(rows, k);
        ct_tune_row *row = &r->rows[r->n_rows++];
        snprintf(row->op, sizeof row->op, "%s", jstr(w, "op"));
        snprintf(row->shape, sizeof row->shape, "%s", jstr(w, "shape"));
        row->count = (int)json_integer_value(json_object_get(w, "count"));
        row->default_ms = json_number_value(json_object_get(w, "default_ms"));
        row->best_ms = json_number_value(json_object_get(w, "best_ms"));
    }
    r->step_default_ms = json_number_value(json_object_get(e, "step_default_ms"));
    r->step_best_ms = json_number_value(json_object_get(e, "step_best_ms"));
    r->tried = (int)json_integer_value(json_object_get(e, "tried"));
    r->wrong = (int)json_integer_value(json_object_get(e, "wrong"));
    r->slow = (int)json_integer_value(json_object_get(e, "slow"));
    r->unfit = (int)json_integer_value(json_object_get(e, "unfit"));
    r->budget_hit = json_is_true(json_object_get(e, "budget_hit"));
    r->seconds = json_number_value(json_object_get(e, "seconds"));
    return 1;
}

/* the newest entry of c's profile (key NULL) or of c's profile and network key: at batch
 * (*found 1), else at another batch (*found 2) */
static int load_entry(const ct_ctx *c, const char *key, int batch, ct_tune_report *r, int *found, char *path,
                      size_t cap)
{
    *found = 0;
    memset(r, 0, sizeof *r);
    CT_TRY(cache_path(c, path, cap));
    json_t *doc = load_file(path);
    if (!doc) return CT_OK;
    json_t *entries = json_object_get(doc, "entries");
    const char *prof = c->tune.gpu_profile ? "gpu" : "cpu";
    for (int pass = key ? 1 : 2; pass <= 2 && !*found; pass++)
        for (size_t i = json_array_size(entries); i-- > 0 && !*found;) {
            json_t *e = json_array_get(entries, i);
            if (strcmp(jstr(e, "profile"), prof) != 0 || (key && strcmp(jstr(e, "net_key"), key) != 0)) continue;
            if (pass == 1 && json_integer_value(json_object_get(e, "batch")) != batch) continue;
            if (entry_read(c, e, r)) *found = key ? pass : 1;
        }
    json_decref(doc);
    return CT_OK;
}

int ct_tune_load(const ct_ctx *c, ct_tune_report *r, int *found, char *path, size_t cap)
{
    return load_entry(c, NULL, 0, r, found, path, cap);
}

int ct_tune_load_network(const ct_ctx *c, unsigned long long net_key, int batch, ct_tune_report *r, int *found,
                         char *path, size_t cap)
{
    char key[20];
    key_hex(net_key, key);
    return load_entry(c, key, batch, r, found, path, cap);
}

int ct_tune_network_key(const ct_netdef *net, unsigned long long *key)
{
    ct_tune_shape *s;
    int ns;
    CT_TRY(ct_tune_shapes(net, 1, &s, &ns, key));
    free(s);
    return CT_OK;
}

static int tune_disabled(void)
{
    const char *off = getenv("CLTRAIN_NO_TUNE");
    if (off && *off && strcmp(off, "0") != 0) {
        ct_debug("tuned kernel values ignored (CLTRAIN_NO_TUNE)\n");
        return 1;
    }
    return 0;
}

/* r's tuned values on c, labelled with where they came from */
static int apply(ct_ctx *c, const ct_tune_report *r, const char *path, int rebuild)
{
    ct_tune t = r->best;
    t.gpu_profile = c->tune.gpu_profile;
    snprintf(t.origin, sizeof t.origin, "%s", c->tune.origin);
    snprintf(t.tuned, sizeof t.tuned, "cltrain tune %.31s for %.150s", r->when, r->shape);
    if (rebuild) {
        CT_TRY(ct_ctx_set_tune(c, &t));
        CT_TRY(ct_ctx_fit_reductions(c));
    } else {
        c->tune = t;
    }
    ct_debug("using tuned kernel values from %s\n", path);
    return CT_OK;
}

int ct_tune_apply_cached(ct_ctx *c)
{
    if (tune_disabled()) return CT_OK;
    ct_tune_report *r = malloc(sizeof *r);
    if (!r) return ct_fail(CT_ERR_NOMEM, "out of memory");
    char path[4096];
    int found = 0, rc = CT_OK;
    if (ct_tune_load(c, r, &found, path, sizeof path) != CT_OK) {
        ct_clear_error(); /* no cache folder: nothing to apply */
        found = 0;
    }
    if (found) rc = apply(c, r, path, 0);
    free(r);
    return rc;
}

int ct_tune_apply_network(ct_ctx *c, const ct_netdef *net, int batch)
{
    if (ct_tune_cache_mode() != CT_TUNE_CACHE_NETWORK || tune_disabled()) return CT_OK;
    int found = 0;
    unsigned long long key;
    CT_TRY(ct_tune_network_key(net, &key));
    ct_tune_report *r = malloc(sizeof *r);
    if (!r) return ct_fail(CT_ERR_NOMEM, "out of memory");
    char path[4096];
    int rc = CT_OK;
    if (ct_tune_load_network(c, key, batch, r, &found, path, sizeof path) != CT_OK) {
        ct_clear_error(); /* no cache folder: nothing to apply */
        found = 0;
    }
    if (!found)
        ct_debug("no tuned kernel values for this network (shapes %016llx) on '%s' (%s profile): the defaults; "
                 "`cltrain tune --config ...` tunes them\n", key, c->dev.name, c->tune.gpu_profile ? "gpu" : "cpu");
    if (found == 2) ct_debug("tuned at batch %d, running at batch %d\n", r->batch, batch);
    if (found) rc = apply(c, r, path, 1);
    if (found && rc == CT_OK) {
        char desc[1024];
        ct_tune_describe(c, desc, sizeof desc);
        ct_debug("%s\n", desc);
    }
    free(r);
    return rc;
}
