/* store.c: see store.h. */
#define _POSIX_C_SOURCE 200809L
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/jsonutil.h"
#include "md5.h"

#define PEEK_MAX_HEADER (16u << 20) /* DigitCNN headers are a few KiB */

static const char *const digitcnn_required[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                "conv3.weight", "conv3.bias", "fc1.weight",   "fc1.bias",
                                                "fc2.weight",   "fc2.bias",   "fc3.weight",   "fc3.bias"};

void ct_store_now_iso(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S%z", &tmv);
}

int ct_store_peek(const char *path, char **metadata_json)
{
    if (metadata_json) *metadata_json = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ct_fail(CT_ERR_INPUT, "%s: cannot open the model file: %s (give a .safetensors path or a name from "
                       "`cltrain models`)", path, strerror(errno));
    unsigned char hb[8];
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ct_fail(CT_ERR_INPUT, "%s: not a regular file (expected a DigitCNN .safetensors model)", path);
    }
    if (fread(hb, 1, 8, f) != 8) {
        fclose(f);
        return ct_fail(CT_ERR_INPUT, "%s: not a safetensors file: shorter than its 8-byte header length", path);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | hb[i];
    if (n < 2 || n > PEEK_MAX_HEADER || n > (uint64_t)st.st_size - 8) {
        fclose(f);
        return ct_fail(CT_ERR_INPUT, "%s: not a safetensors file: header length %llu does not fit the file (%lld bytes)",
                       path, (unsigned long long)n, (long long)st.st_size);
    }
    char *hdr = ct_malloc((size_t)n + 1, "safetensors header");
    if (!hdr) {
        fclose(f);
        return CT_ERR_NOMEM;
    }
    size_t got = fread(hdr, 1, (size_t)n, f);
    fclose(f);
    if (got != n) {
        free(hdr);
        return ct_fail(CT_ERR_INPUT, "%s: truncated safetensors header", path);
    }
    hdr[n] = 0;
    json_t *j = NULL;
    int rc = ct_jparse(hdr, (size_t)n, path, 8, 100000, &j);
    free(hdr);
    if (rc) return ct_fail_ctx(CT_ERR_INPUT, "not a safetensors file");
    if (!json_is_object(j)) {
        json_decref(j);
        return ct_fail(CT_ERR_INPUT, "%s: not a safetensors file: the header is not a JSON object", path);
    }
    /* a file that describes its network (`network` metadata) is checked against it when it is
     * loaded; one without is DigitCNN's and must have its tensors */
    const json_t *meta = json_object_get(j, "__metadata__");
    const int own_network = json_is_string(json_object_get(meta, "network"));
    for (size_t i = 0; !own_network && i < sizeof digitcnn_required / sizeof digitcnn_required[0]; i++) {
        const json_t *t = json_object_get(j, digitcnn_required[i]);
        if (!json_is_object(t) || !json_object_get(t, "shape")) {
            rc = ct_fail(CT_ERR_INPUT,
                         "%s: not a DigitCNN model: no tensor '%s' (a model needs DigitCNN's PyTorch state_dict names "
                         "conv1.weight ... fc3.bias)",
                         path, digitcnn_required[i]);
            json_decref(j);
            return rc;
        }
    }
    if (metadata_json) { /* the string-valued metadata entries, in file order */
        json_t *md = json_object_get(j, "__metadata__"), *w = json_object(), *v;
        const char *k;
        if (json_is_object(md))
            json_object_foreach(md, k, v) if (json_is_string(v)) json_object_set(w, k, v);
        rc = ct_jdump_take(w, metadata_json, NULL);
    }
    json_decref(j);
    return rc;
}

int ct_store_file_md5(const char *path, char hex[33])
{
    FILE *f = fopen(path, "rb");
    if (!f) return ct_fail(CT_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    ct_md5_ctx c;
    ct_md5_init(&c);
    unsigned char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) ct_md5_update(&c, buf, k);
    int err = ferror(f);
    fclose(f);
    if (err) return ct_fail(CT_ERR_INPUT, "%s: read error", path);
    unsigned char d[16];
    ct_md5_final(&c, d);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return CT_OK;
}

/* test_accuracy from <runs_dir>/<name>/evaluation.json, or -1 */
static double evaluated_accuracy(const ct_config *cfg, const char *name)
{
    char p[CT_STORE_PATH_MAX + 600];
    snprintf(p, sizeof p, "%s/%s/evaluation.json", cfg->output.runs_dir, name);
    unsigned char *text = NULL;
    size_t len;
    if (access(p, R_OK) != 0) return -1;
    if (ct_read_file(p, 1u << 24, &text, &len) != CT_OK) {
        ct_clear_error();
        return -1;
    }
    json_t *j = NULL;
    double acc = -1;
    if (ct_jparse((const char *)text, len, p, 0, 0, &j) == CT_OK) acc = ct_jget_double(j, "test_accuracy", -1);
    else ct_clear_error();
    json_decref(j);
    free(text);
    return acc;
}

static void fill_from_metadata(ct_store_entry *e, const char *md_json)
{
    json_t *md = NULL;
    e->val_accuracy = e->test_accuracy = -1;
    snprintf(e->source, sizeof e->source, "external");
    if (!md_json || ct_jparse(md_json, strlen(md_json), "metadata", 0, 0, &md) != CT_OK) {
        ct_clear_error();
        return;
    }
    if (json_object_get(md, "cltrain_version")) snprintf(e->source, sizeof e->source, "cltrain");
    const char *metrics = ct_jget_string(md, "metrics", NULL);
    json_t *mj = NULL;
    if (metrics && ct_jparse(metrics, strlen(metrics), "metrics", 0, 0, &mj) == CT_OK) {
        e->val_accuracy = ct_jget_double(mj, "saved_val_accuracy", ct_jget_double(mj, "final_val_accuracy", -1));
        e->test_accuracy = ct_jget_double(mj, "test_accuracy", -1);
    } else {
        ct_clear_error();
    }
    json_decref(mj);
    json_decref(md);
}

static int entry_newer_first(const void *a, const void *b)
{
    const ct_store_entry *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime > y->mtime ? -1 : 1;
    if (x->mtime_ns != y->mtime_ns) return x->mtime_ns > y->mtime_ns ? -1 : 1;
    return -strcmp(x->name, y->name);
}

int ct_store_production_read(const ct_config *cfg, ct_store_production *p)
{
    memset(p, 0, sizeof *p);
    p->accuracy = -1;
    char path[CT_STORE_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", cfg->output.model_save_dir, CT_STORE_MARKER);
    if (access(path, F_OK) != 0) return CT_OK;
    unsigned char *text = NULL;
    size_t len;
    int rc = ct_read_file(path, 1u << 20, &text, &len);
    if (rc) return rc;
    json_t *j = NULL;
    rc = ct_jparse((const char *)text, len, path, 0, 0, &j);
    free(text);
    if (rc) return ct_fail_ctx(CT_ERR_INPUT, "the production marker is corrupt; deploy again with `cltrain deploy` or "
                               "delete it");
    const char *mn = ct_jget_string(j, "model_name", NULL), *src = ct_jget_string(j, "source_model", NULL);
    if (!mn || !src) {
        json_decref(j);
        return ct_fail(CT_ERR_INPUT, "%s: the production marker lacks model_name/source_model; deploy again with "
                       "`cltrain deploy` or delete it", path);
    }
    p->present = 1;
    snprintf(p->model_name, sizeof p->model_name, "%s", mn);
    snprintf(p->source_model, sizeof p->source_model, "%s", src);
    snprintf(p->path, sizeof p->path, "%s", ct_jget_string(j, "path", ""));
    snprintf(p->source_path, sizeof p->source_path, "%s", ct_jget_string(j, "source_path", ""));
    snprintf(p->deployment_status, sizeof p->deployment_status, "%s", ct_jget_string(j, "deployment_status", ""));
    snprintf(p->deployment_type, sizeof p->deployment_type, "%s", ct_jget_string(j, "deployment_type", ""));
    snprintf(p->deployed_at, sizeof p->deployed_at, "%s", ct_jget_string(j, "deployed_at", ""));
    p->accuracy = ct_jget_double(j, "accuracy", -1);
    json_decref(j);
    return CT_OK;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int ct_store_list(const ct_config *cfg, ct_store_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *dir = cfg->output.model_save_dir;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return CT_OK;
        return ct_fail(CT_ERR_RUNTIME, "%s (output.model_save_dir): cannot list: %s", dir, strerror(errno));
    }
    ct_store_production prod;
    if (ct_store_production_read(cfg, &prod) != CT_OK) {
        ct_log("warning: %s\n", ct_last_error());
        memset(&prod, 0, sizeof prod);
    }
    size_t cap = 0;
    ct_store_entry *v = NULL;
    struct dirent *de;
    int rc = CT_OK;
    while ((de = readdir(d)) != NULL) {
        const char *fn = de->d_name;
        if (fn[0] == '.' || !has_suffix(fn, ".safetensors") || strlen(fn) - 12 >= CT_STORE_NAME_MAX) continue;
        ct_store_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.path, sizeof e.path, "%s/%s", dir, fn);
        struct stat st;
        if (stat(e.path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        char *md = NULL;
        if (ct_store_peek(e.path, &md) != CT_OK) {
            ct_debug("models: skipping %s\n", ct_last_error());
            ct_clear_error();
            continue;
        }
        snprintf(e.name, sizeof e.name, "%.*s", (int)(strlen(fn) - 12), fn);
        e.size_bytes = (long long)st.st_size;
        e.mtime = st.st_mtim.tv_sec;
        e.mtime_ns = st.st_mtim.tv_nsec;
        struct tm tmv;
        localtime_r(&e.mtime, &tmv);
        strftime(e.modified, sizeof e.modified, "%Y-%m-%d %H:%M:%S", &tmv);
        fill_from_metadata(&e, md);
        free(md);
        double ev = evaluated_accuracy(cfg, e.name);
        if (ev >= 0) {
            e.test_accuracy = ev;
            e.evaluated = 1;
        }
        e.production = prod.present && !strcmp(prod.source_model, e.name);
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            ct_store_entry *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = ct_fail(CT_ERR_NOMEM, "out of host memory listing models");
                break;
            }
            v = nv;
            cap = nc;
        }
        v[(*n)++] = e;
    }
    closedir(d);
    if (rc) {
        free(v);
        *n = 0;
        return rc;
    }
    if (*n > 1) qsort(v, *n, sizeof *v, entry_newer_first);
    *out = v;
    return CT_OK;
}

static void stem_of(const char *path, char *name, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (has_suffix(b, ".safetensors")) len -= 12;
    if (len == 0) b = "model", len = 5;
    snprintf(name, cap, "%.*s", (int)(len < cap ? len : cap - 1), b);
}

int ct_store_resolve(const ct_config *cfg, const char *spec, char *path_out, char *name_out)
{
    const char *dir = cfg->output.model_save_dir;
    struct stat st;
    if (!spec || !*spec) {
        ct_store_entry *v;
        size_t n;
        int rc = ct_store_list(cfg, &v, &n);
        if (rc) return rc;
        if (n == 0) {
            free(v);
            return ct_fail(CT_ERR_INPUT,
                           "no models in '%s' (output.model_save_dir): train one with `cltrain train` or `cltrain "
                           "pipeline`, or give --model PATH",
                           dir);
        }
        snprintf(path_out, CT_STORE_PATH_MAX, "%s", v[0].path);
        snprintf(name_out, CT_STORE_NAME_MAX, "%s", v[0].name);
        free(v);
        return CT_OK;
    }
    if (strlen(spec) >= CT_STORE_PATH_MAX - 64) return ct_fail(CT_ERR_USAGE, "--model: name or path too long");
    if (strchr(spec, '/') || stat(spec, &st) == 0) {
        if (stat(spec, &st) != 0)
            return ct_fail(CT_ERR_INPUT, "%s: no such model file (give a .safetensors path, or a name from `cltrain "
                           "models`)", spec);
        if (!S_ISREG(st.st_mode))
            return ct_fail(CT_ERR_INPUT, "%s: not a file (give a .safetensors model file, or a name from `cltrain "
                           "models`)", spec);
        snprintf(path_out, CT_STORE_PATH_MAX, "%s", spec);
        stem_of(spec, name_out, CT_STORE_NAME_MAX);
        return CT_OK;
    }
    char name[CT_STORE_NAME_MAX];
    stem_of(spec, name, sizeof name);
    const char *where[2] = {"", "/" CT_STORE_PRODUCTION_DIR};
    for (int k = 0; k < 2; k++) {
        char p[CT_STORE_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s%s/%s.safetensors", dir, where[k], name);
        size_t pl = strlen(p);
        if (pl < CT_STORE_PATH_MAX && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            memcpy(path_out, p, pl + 1);
            snprintf(name_out, CT_STORE_NAME_MAX, "%s", name);
            return CT_OK;
        }
    }
    /* unknown: list what there is */
    ct_store_entry *v = NULL;
    size_t n = 0;
    if (ct_store_list(cfg, &v, &n) != CT_OK) ct_clear_error();
    char avail[4096] = "";
    size_t at = 0;
    for (size_t i = 0; i < n && i < 20 && at < sizeof avail - 600; i++)
        at += (size_t)snprintf(avail + at, sizeof avail - at, "%s%s", i ? ", " : "", v[i].name);
    if (n > 20) snprintf(avail + at, sizeof avail - at, ", ... and %zu more", n - 20);
    free(v);
    if (n == 0)
        return ct_fail(CT_ERR_USAGE,
                       "unknown model '%s': '%s' (output.model_save_dir) has no models; train one with `cltrain "
                       "train`, or give --model PATH",
                       spec, dir);
    return ct_fail(CT_ERR_USAGE, "unknown model '%s' in '%s'; available (newest first): %s; or give a path", spec, dir,
                   avail);
}

int ct_store_run_dir(const ct_config *cfg, const char *name, char *dir_out, size_t cap)
{
    int k = snprintf(dir_out, cap, "%s/%s", cfg->output.runs_dir, name);
    if (k < 0 || (size_t)k >= cap) return ct_fail(CT_ERR_USAGE, "run folder path too long for model '%s'", name);
    return ct_mkdirs(dir_out);
}
