/* data/dataset.c: see dataset.h. IDX sets go through src/idx.c; image-folder sets are read
 * class folder by class folder with the PNG/PGM reader of src/image.c. */
#define _POSIX_C_SOURCE 200809L
#include "data/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "idx.h"
#include "image.h"
#include "io/jsonutil.h"
#include "md5.h"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

ct_data_layout ct_dataset_detect(const char *dir)
{
    char *t = ct_path_join(dir, "train");
    int folder = t && is_dir(t);
    free(t);
    return folder ? CT_DATA_FOLDER : CT_DATA_IDX;
}

void ct_class_names_free(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

void ct_dataset_free(ct_dataset *d)
{
    if (!d) return;
    free(d->images);
    free(d->labels);
    ct_class_names_free(d->class_names, d->classes);
    free(d->source);
    memset(d, 0, sizeof *d);
}

size_t ct_dataset_image_size(const ct_dataset *d) { return (size_t)d->c * d->h * d->w; }

static int digit_names(ct_dataset *d)
{
    d->class_names = calloc((size_t)d->classes, sizeof(char *));
    if (!d->class_names) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    for (int k = 0; k < d->classes; k++) {
        char b[16];
        snprintf(b, sizeof b, "%d", k);
        if (!(d->class_names[k] = strdup(b))) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    }
    return CT_OK;
}

/* --- IDX ------------------------------------------------------------------------------- */
int ct_dataset_load_idx(const char *dir, int train, ct_dataset *out)
{
    memset(out, 0, sizeof *out);
    ct_mnist m;
    int rc = ct_idx_set_load(dir, train, &m);
    if (rc) return rc;
    out->layout = CT_DATA_IDX;
    out->n = m.n;
    out->c = 1;
    out->h = m.rows;
    out->w = m.cols;
    out->images = m.images;
    out->labels = m.labels;
    out->source = m.images_path;
    m.images = m.labels = NULL;
    m.images_path = NULL;
    int top = 0;
    for (size_t i = 0; i < m.n; i++)
        if (out->labels[i] > top) top = out->labels[i];
    out->classes = top + 1 > 10 ? top + 1 : 10;
    const char *pre = train ? "train" : "t10k";
    snprintf(out->md5[0].key, sizeof out->md5[0].key, "%s-images", pre);
    memcpy(out->md5[0].md5, m.images_md5, 33);
    snprintf(out->md5[1].key, sizeof out->md5[1].key, "%s-labels", pre);
    memcpy(out->md5[1].md5, m.labels_md5, 33);
    out->n_md5 = 2;
    ct_mnist_free(&m);
    rc = digit_names(out);
    if (rc) ct_dataset_free(out);
    return rc;
}

/* --- image folders ----------------------------------------------------------------------- */
typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int strlist_add(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s))) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    l->n++;
    return CT_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir (no hidden entries); dirs != 0: sub-folders only, else everything else. */
static int list_dir(const char *dir, int dirs, strlist *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return ct_fail(CT_ERR_INPUT, "%s: cannot open the folder: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = CT_OK;
    while (rc == CT_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = ct_path_join(dir, e->d_name);
        if (!p) {
            rc = ct_fail(CT_ERR_NOMEM, "out of host memory");
            break;
        }
        if (is_dir(p) == dirs) rc = strlist_add(out, e->d_name);
        free(p);
    }
    closedir(d);
    if (rc) {
        strlist_free(out);
        return rc;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return CT_OK;
}

/* Grows the image/label arrays to hold one more image of `isz` bytes. */
static int grow(ct_dataset *d, size_t *cap, size_t isz)
{
    if (d->n < *cap) return CT_OK;
    size_t nc = *cap ? *cap * 2 : 256;
    uint8_t *ni = realloc(d->images, nc * isz);
    if (!ni) return ct_fail(CT_ERR_NOMEM, "out of host memory for %zu images", nc);
    d->images = ni;
    uint8_t *nl = realloc(d->labels, nc);
    if (!nl) return ct_fail(CT_ERR_NOMEM, "out of host memory for %zu labels", nc);
    d->labels = nl;
    *cap = nc;
    return CT_OK;
}

/* Reads every picture of every class of `root` (train/ or test/) as 3 channels; tells whether
 * any picture stores color. */
static int read_pictures(ct_dataset *d, const char *root, const strlist *cls, int *any_color, ct_md5_ctx *list_md5)
{
    size_t cap = 0;
    int rc = CT_OK;
    for (size_t k = 0; k < cls->n && rc == CT_OK; k++) {
        char *cdir = ct_path_join(root, cls->v[k]);
        if (!cdir) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        strlist files;
        rc = list_dir(cdir, 0, &files);
        if (rc == CT_OK && files.n == 0)
            rc = ct_fail(CT_ERR_INPUT, "%s: class '%s' has no pictures; put its PNG files there or remove the folder",
                         cdir, cls->v[k]);
        for (size_t i = 0; i < files.n && rc == CT_OK; i++) {
            char *path = ct_path_join(cdir, files.v[i]);
            if (!path) {
                rc = ct_fail(CT_ERR_NOMEM, "out of host memory");
                break;
            }
            unsigned char *buf = NULL;
            size_t len = 0;
            ct_image im;
            memset(&im, 0, sizeof im);
            rc = ct_read_file(path, CT_IMAGE_MAX_FILE, &buf, &len);
            if (rc == CT_OK) rc = ct_image_parse_rgb(buf, len, path, &im);
            if (rc == CT_OK) {
                *any_color |= im.color;
                if (!d->h) d->h = im.height, d->w = im.width;
            }
            if (rc == CT_OK && (im.width != d->w || im.height != d->h))
                rc = ct_fail(CT_ERR_INPUT,
                             "%s: picture is %d x %d pixels but the data set's pictures are %d x %d (width x "
                             "height); every picture of an image-folder data set must have one size: resize it",
                             path, im.width, im.height, d->w, d->h);
            if (rc == CT_OK) {
                char hex[33], line[64];
                ct_md5_hex(buf, len, hex);
                snprintf(line, sizeof line, "  %s\n", hex);
                ct_md5_update(list_md5, cls->v[k], strlen(cls->v[k]));
                ct_md5_update(list_md5, "/", 1);
                ct_md5_update(list_md5, files.v[i], strlen(files.v[i]));
                ct_md5_update(list_md5, line, strlen(line));
                size_t hw = (size_t)d->h * d->w, isz = hw * 3;
                rc = grow(d, &cap, isz);
                if (rc == CT_OK) {
                    uint8_t *dst = d->images + d->n * isz;
                    for (size_t p = 0; p < hw; p++)
                        for (int ch = 0; ch < 3; ch++) dst[(size_t)ch * hw + p] = im.rgb[3 * p + (size_t)ch];
                    d->labels[d->n++] = (uint8_t)k;
                }
            }
            ct_image_free(&im);
            free(buf);
            free(path);
        }
        strlist_free(&files);
        free(cdir);
    }
    return rc;
}

int ct_dataset_load_folder(const char *dir, int train, ct_dataset *out)
{
    memset(out, 0, sizeof *out);
    const char *split = train ? "train" : "test";
    char *root = ct_path_join(dir, split);
    if (!root) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    if (!is_dir(root)) {
        int rc = ct_fail(CT_ERR_INPUT, "%s: no %s/ folder; an image-folder data set has %s/train/<class>/*.png and "
                         "%s/test/<class>/*.png", root, split, dir, dir);
        free(root);
        return rc;
    }
    strlist cls;
    int rc = list_dir(root, 1, &cls);
    if (rc == CT_OK && cls.n == 0)
        rc = ct_fail(CT_ERR_INPUT, "%s: no class folders; put each class's pictures in %s/<class name>/", root, root);
    if (rc == CT_OK && cls.n > CT_DATA_MAX_CLASSES)
        rc = ct_fail(CT_ERR_INPUT, "%s: %zu class folders; cltrain handles at most %d classes", root, cls.n,
                     CT_DATA_MAX_CLASSES);
    int any_color = 0;
    ct_md5_ctx lm;
    ct_md5_init(&lm);
    out->layout = CT_DATA_FOLDER;
    if (rc == CT_OK) rc = read_pictures(out, root, &cls, &any_color, &lm);
    out->c = 3;
    if (rc == CT_OK && !any_color) {
        /* gray pictures only (R = G = B): keep one channel */
        size_t hw = (size_t)out->h * out->w;
        for (size_t i = 0; i < out->n; i++) memmove(out->images + i * hw, out->images + i * 3 * hw, hw);
        out->c = 1;
    }
    if (rc == CT_OK) {
        unsigned char dg[16];
        ct_md5_final(&lm, dg);
        snprintf(out->md5[0].key, sizeof out->md5[0].key, "%s", split);
        for (int i = 0; i < 16; i++) snprintf(out->md5[0].md5 + 2 * i, 3, "%02x", dg[i]);
        out->n_md5 = 1;
        out->classes = (int)cls.n;
        out->class_names = cls.v; /* ownership moves */
        cls.v = NULL;
        cls.n = 0;
        out->source = root;
        root = NULL;
        ct_debug("image folders %s: %zu pictures of %d x %d x %d in %d classes\n", out->source, out->n, out->c,
                 out->h, out->w, out->classes);
    }
    strlist_free(&cls);
    free(root);
    if (rc) ct_dataset_free(out);
    return rc;
}

int ct_dataset_load(const char *dir, int train, ct_dataset *out)
{
    if (ct_dataset_detect(dir) == CT_DATA_FOLDER) return ct_dataset_load_folder(dir, train, out);
    return ct_dataset_load_idx(dir, train, out);
}

/* --- checks and metadata ----------------------------------------------------------------- */
int ct_dataset_check_pair(const ct_dataset *tr, const ct_dataset *te)
{
    if (tr->c != te->c || tr->h != te->h || tr->w != te->w)
        return ct_fail(CT_ERR_INPUT, "%s has images of %d x %d x %d (C x H x W) but %s has %d x %d x %d; the training "
                       "and test sets must have one image shape", tr->source, tr->c, tr->h, tr->w, te->source, te->c,
                       te->h, te->w);
    if (tr->layout == CT_DATA_FOLDER) {
        if (tr->classes != te->classes)
            return ct_fail(CT_ERR_INPUT, "%s has %d class folders but %s has %d; both need the same classes",
                           tr->source, tr->classes, te->source, te->classes);
        for (int k = 0; k < tr->classes; k++)
            if (strcmp(tr->class_names[k], te->class_names[k]))
                return ct_fail(CT_ERR_INPUT, "class %d is '%s' in %s but '%s' in %s; both need the same class folders",
                               k, tr->class_names[k], tr->source, te->class_names[k], te->source);
    }
    for (size_t i = 0; i < te->n; i++)
        if (te->labels[i] >= tr->classes)
            return ct_fail(CT_ERR_INPUT, "%s: label %u of image %zu is not a class of the training set (%d classes)",
                           te->source, te->labels[i], i, tr->classes);
    return CT_OK;
}

int ct_dataset_set_class_names(ct_dataset *d, const char *const *names, int n)
{
    if (n != d->classes)
        return ct_fail(CT_ERR_USAGE, "data.class_names has %d names but the data set %s has %d classes; give one name "
                       "per class (or leave data.class_names out)", n, d->source ? d->source : "", d->classes);
    for (int k = 0; k < n; k++) {
        char *s = strdup(names[k]);
        if (!s) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        free(d->class_names[k]);
        d->class_names[k] = s;
    }
    return CT_OK;
}

int ct_dataset_check_network(const ct_dataset *d, int c, int h, int w, int classes, const char *what)
{
    if (d->c != c || d->h != h || d->w != w)
        return ct_fail(CT_ERR_USAGE, "%s: the network's input is %d x %d x %d (channels x height x width) but the data "
                       "set %s has images of %d x %d x %d; set network.input to {channels: %d, height: %d, width: %d}",
                       what, c, h, w, d->source ? d->source : "", d->c, d->h, d->w, d->c, d->h, d->w);
    if (classes != d->classes)
        return ct_fail(CT_ERR_USAGE, "%s: the network's last layer has %d outputs but the data set %s has %d classes; "
                       "make the last layer's width %d", what, classes, d->source ? d->source : "", d->classes,
                       d->classes);
    return CT_OK;
}

static int dump_json(json_t *j, char **out)
{
    *out = NULL;
    if (!j) return ct_fail(CT_ERR_NOMEM, "out of host memory writing JSON");
    return ct_jdump_take(j, out, NULL);
}

int ct_dataset_md5_json(const ct_dataset *train, const ct_dataset *test, char **out)
{
    json_t *o = json_object();
    const ct_dataset *s[2] = {train, test};
    for (int k = 0; k < 2 && o; k++)
        for (int i = 0; s[k] && i < s[k]->n_md5; i++)
            json_object_set_new(o, s[k]->md5[i].key, json_string(s[k]->md5[i].md5));
    return dump_json(o, out);
}

int ct_dataset_class_names_json(const ct_dataset *d, char **out)
{
    json_t *a = json_array();
    for (int k = 0; a && k < d->classes; k++) json_array_append_new(a, json_string(d->class_names[k]));
    return dump_json(a, out);
}

int ct_class_names_from_json(const char *text, const char *origin, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    json_error_t err;
    json_t *a = json_loads(text, 0, &err);
    if (!a || !json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > CT_DATA_MAX_CLASSES) {
        json_decref(a);
        return ct_fail(CT_ERR_INPUT, "%s: metadata 'class_names' is not a JSON list of 1 to %d strings", origin,
                       CT_DATA_MAX_CLASSES);
    }
    size_t m = json_array_size(a);
    char **v = calloc(m, sizeof *v);
    int rc = v ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; rc == CT_OK && i < m; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s)
            rc = ct_fail(CT_ERR_INPUT, "%s: metadata 'class_names' item %zu is not a string", origin, i);
        else if (!(v[i] = strdup(s)))
            rc = ct_fail(CT_ERR_NOMEM, "out of host memory");
    }
    json_decref(a);
    if (rc) {
        ct_class_names_free(v, (int)m);
        return rc;
    }
    *names = v;
    *n = (int)m;
    return CT_OK;
}
