/* config.c: see config.h. The schema: one table row per key gives its section, type, place in
 * the struct and allowed values; loading and --set (config_yaml.c), the value checks
 * (config_value.c), validation (here) and both writers (config_write.c) walk that table.
 * Also here: the defaults, key and section look-up with did-you-mean hints, and the per-channel
 * normalisation values.
 * Not done here: merging several files, environment variables, or writing comments. */
#define _POSIX_C_SOURCE 200809L
#include "config_int.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * The schema
 * ------------------------------------------------------------------------------------- */

const char *const cfg_optimizer_choices[] = {"adam", "sgd", NULL};

#define OFF(s, k) offsetof(ct_config, s.k)
#define INT_F(s, k, lo, hi, fl, nt) \
    {.section = #s, .key = #k, .type = T_INT, .flags = fl, .offset = OFF(s, k), .ilo = lo, .ihi = hi, .note = nt}
#define I64_F(s, k, lo, hi) \
    {.section = #s, .key = #k, .type = T_INT64, .offset = OFF(s, k), .ilo = lo, .ihi = hi}
#define NUM_F(s, k, lo, lopen, hi, hopen) \
    {.section = #s, .key = #k, .type = T_NUM, .offset = OFF(s, k), .dlo = lo, .dhi = hi, .lo_open = lopen, .hi_open = hopen}
#define BOOL_F(s, k) {.section = #s, .key = #k, .type = T_BOOL, .offset = OFF(s, k)}
#define STR_F(s, k, fl) {.section = #s, .key = #k, .type = T_STR, .flags = fl, .offset = OFF(s, k)}
#define ENUM_F(s, k) {.section = #s, .key = #k, .type = T_ENUM, .offset = OFF(s, k)}
#define NUMS_F(s, k, lo, lopen)                                                                                 \
    {.section = #s, .key = #k, .type = T_NUMS, .offset = OFF(s, k), .dlo = lo, .dhi = INFINITY, .lo_open = lopen,   \
     .off_n = OFF(s, k##_n), .off_list = OFF(s, k##_list), .off_where = OFF(s, k##_where)}
#define NAMES_F(s, k)                                                                                            \
    {.section = #s, .key = #k, .type = T_NAMES, .flags = F_NULLABLE, .offset = OFF(s, k), .off_n = OFF(s, k##_n),   \
     .off_where = OFF(s, k##_where)}

const field cfg_fields[] = {
    INT_F(model, conv1_channels, 1, 4096, 0, NULL),
    INT_F(model, conv2_channels, 1, 4096, 0, NULL),
    INT_F(model, conv3_channels, 1, 4096, 0, NULL),
    NUM_F(model, dropout1_rate, 0, 0, 1, 1),
    NUM_F(model, dropout2_rate, 0, 0, 1, 1),
    INT_F(model, hidden_size, 2, 65536, F_EVEN, "fc2 has hidden_size/2 units"),
    BOOL_F(model, use_batch_norm),

    INT_F(training, batch_size, 1, 65536, 0, NULL),
    NUM_F(training, learning_rate, 0, 1, INFINITY, 0),
    INT_F(training, epochs, 1, INT_MAX, 0, NULL),
    ENUM_F(training, optimizer_type),
    NUM_F(training, momentum, 0, 0, 1, 1),
    NUM_F(training, weight_decay, 0, 0, INFINITY, 0),
    I64_F(training, seed, 0, INT64_MAX),
    NUM_F(training, validation_split, 0, 1, 1, 1),
    INT_F(training, log_interval, 1, INT_MAX, 0, NULL),
    BOOL_F(training, sync_batchnorm),

    BOOL_F(scheduler, use_lr_scheduler),
    INT_F(scheduler, lr_step_size, 1, INT_MAX, 0, NULL),
    NUM_F(scheduler, lr_gamma, 0, 1, 1, 0),

    BOOL_F(early_stopping, use_early_stopping),
    INT_F(early_stopping, patience, 1, INT_MAX, 0, NULL),
    NUM_F(early_stopping, min_delta, 0, 0, INFINITY, 0),
    BOOL_F(early_stopping, restore_best),

    BOOL_F(augmentation, use_data_augmentation),
    NUM_F(augmentation, rotation_degrees, 0, 0, 180, 0),
    NUM_F(augmentation, translation_pixels, 0, 0, 0.5, 0),
    NUM_F(augmentation, scale_range_min, 0, 1, 4, 0),
    NUM_F(augmentation, scale_range_max, 0, 1, 4, 0),
    BOOL_F(augmentation, horizontal_flip),

    BOOL_F(output, save_model),
    STR_F(output, model_save_dir, F_NONEMPTY),
    STR_F(output, model_name_prefix, F_NONEMPTY | F_FILENAME),
    STR_F(output, runs_dir, F_NONEMPTY),

    STR_F(data, dir, F_NONEMPTY),
    NUMS_F(data, mean, -INFINITY, 0),
    NUMS_F(data, std, 0, 1),
    NAMES_F(data, class_names),

    INT_F(checkpoint, every_epochs, 0, INT_MAX, 0, "0 = off"),

    INT_F(evaluation, batch_size, 1, 65536, 0, NULL),

    NUM_F(deployment, accuracy_threshold, 0, 0, 1, 0),
    STR_F(deployment, custom_model_name, F_NULLABLE | F_FILENAME),
    BOOL_F(deployment, force_deploy),

    INT_F(prediction, batch_size, 1, 65536, 0, NULL),
    NUM_F(prediction, confidence_threshold, 0, 0, 1, 0),
    BOOL_F(prediction, return_probabilities),

    {.section = NULL, .key = "device", .type = T_STR, .flags = F_NULLABLE, .offset = offsetof(ct_config, device)},
};
#define NFIELDS (sizeof cfg_fields / sizeof cfg_fields[0])

const char *const cfg_sections[] = {"model",      "training",   "scheduler", "early_stopping",
                                    "augmentation", "output",   "data",      "checkpoint",
                                    "evaluation", "deployment", "prediction"};
#define NSECTIONS (sizeof cfg_sections / sizeof cfg_sections[0])
const size_t cfg_nfields = NFIELDS;
_Static_assert(NFIELDS <= CFG_MAX_FIELDS, "raise CFG_MAX_FIELDS in config_int.h");
_Static_assert(NSECTIONS <= CFG_MAX_SECTIONS, "raise CFG_MAX_SECTIONS in config_int.h");

void ct_config_free(ct_config *c)
{
    if (c->network) {
        ct_netdef_free(c->network);
        free(c->network);
    }
    c->network = NULL;
}

void ct_config_defaults(ct_config *c)
{
    memset(c, 0, sizeof *c);
    c->model.conv1_channels = 32;
    c->model.conv2_channels = 64;
    c->model.conv3_channels = 128;
    c->model.dropout1_rate = 0.1;
    c->model.dropout2_rate = 0.2;
    c->model.hidden_size = 256;
    c->model.use_batch_norm = true;

    c->training.batch_size = 64;
    c->training.learning_rate = 0.001;
    c->training.epochs = 30;
    strcpy(c->training.optimizer_type, "adam");
    c->training.momentum = 0.9;
    c->training.weight_decay = 1e-5;
    c->training.seed = 42;
    c->training.validation_split = 0.2;
    c->training.log_interval = 100;

    c->scheduler.use_lr_scheduler = true;
    c->scheduler.lr_step_size = 10;
    c->scheduler.lr_gamma = 0.1;

    c->early_stopping.use_early_stopping = true;
    c->early_stopping.patience = 7;
    c->early_stopping.min_delta = 0.001;
    c->early_stopping.restore_best = true;

    c->augmentation.use_data_augmentation = true;
    c->augmentation.rotation_degrees = 15.0;
    c->augmentation.translation_pixels = 0.1;
    c->augmentation.scale_range_min = 0.9;
    c->augmentation.scale_range_max = 1.1;

    c->output.save_model = true;
    strcpy(c->output.model_save_dir, "./models");
    strcpy(c->output.model_name_prefix, "mnist_cnn");
    strcpy(c->output.runs_dir, "./runs");

    strcpy(c->data.dir, "data/mnist");
    c->data.mean = 0.1307;
    c->data.std = 0.3081;

    c->checkpoint.every_epochs = 1;
    c->evaluation.batch_size = 1000;

    c->deployment.accuracy_threshold = 0.90;
    c->deployment.custom_model_name[0] = 0;
    c->deployment.force_deploy = false;

    c->prediction.batch_size = 64;
    c->prediction.confidence_threshold = 0.8;
    c->prediction.return_probabilities = false;

    c->device[0] = 0;
}

/* ---------------------------------------------------------------------------------------
 * Small helpers: names, messages, numbers
 * ------------------------------------------------------------------------------------- */

static void dotted(const field *f, char *buf, size_t cap)
{
    if (f->section)
        snprintf(buf, cap, "%s.%s", f->section, f->key);
    else
        snprintf(buf, cap, "%s", f->key);
}

/* Text as it may be shown in a message: at most `lim` bytes, control bytes as '?'. */
void cfg_show_n(const char *s, size_t len, size_t lim, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        if (i == lim) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    buf[o] = 0;
}

void cfg_show(const char *s, size_t len, char *buf, size_t cap) { cfg_show_n(s, len, 40, buf, cap); }

int cfg_name_eq(const char *name, const char *s, size_t len)
{
    return strlen(name) == len && memcmp(name, s, len) == 0;
}

int cfg_find_section(const char *s, size_t len)
{
    for (size_t i = 0; i < NSECTIONS; i++)
        if (cfg_name_eq(cfg_sections[i], s, len)) return (int)i;
    return -1;
}

/* section < 0: a top-level key. */
int cfg_find_field(int section, const char *s, size_t len)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &cfg_fields[i];
        int in = section < 0 ? f->section == NULL : (f->section && !strcmp(f->section, cfg_sections[section]));
        if (in && cfg_name_eq(f->key, s, len)) return (int)i;
    }
    return -1;
}

/* Levenshtein distance, case-insensitive; large for names longer than 63 bytes. */
static int edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    if (la > 63 || lb > 63) return 1000;
    int prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

/* Closest candidate within distance 3 (and closer than the name's own length, so that
 * "ab" is not "corrected" to an unrelated short word); NULL if none. */
static const char *closest(const char *s, size_t len, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int bestd = 4;
    for (size_t i = 0; i < n; i++) {
        int d = edit_distance(s, len, cands[i]);
        if (d < bestd && d < (int)len) {
            bestd = d;
            best = cands[i];
        }
    }
    return best;
}

const char *ct_closest_name(const char *s, size_t len, const char *const *cands, size_t n)
{
    return closest(s, len, cands, n);
}

/* Hint for an unknown key or section: a suggestion, the section the key really belongs
 * to, or the list of what is allowed. `section` < 0: unknown top-level name. */
void cfg_unknown_hint(int section, const char *s, size_t len, char *buf, size_t cap)
{
    const char *cands[NFIELDS + NSECTIONS + 1];
    size_t n = 0;
    if (section < 0) {
        for (size_t i = 0; i < NSECTIONS; i++) cands[n++] = cfg_sections[i];
        cands[n++] = "network";
        for (size_t i = 0; i < NFIELDS; i++)
            if (!cfg_fields[i].section) cands[n++] = cfg_fields[i].key;
    } else {
        for (size_t i = 0; i < NFIELDS; i++)
            if (cfg_fields[i].section && !strcmp(cfg_fields[i].section, cfg_sections[section])) cands[n++] = cfg_fields[i].key;
    }
    const char *best = closest(s, len, cands, n);
    if (best) {
        snprintf(buf, cap, "did you mean '%s'?", best);
        return;
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        if (cfg_fields[i].section && cfg_name_eq(cfg_fields[i].key, s, len)) {
            snprintf(buf, cap, "'%s' is a key of section '%s' (%s.%s)", cfg_fields[i].key, cfg_fields[i].section,
                     cfg_fields[i].section, cfg_fields[i].key);
            return;
        }
    }
    size_t o = (size_t)snprintf(buf, cap, section < 0 ? "allowed: " : "keys of '%s': ",
                                section < 0 ? "" : cfg_sections[section]);
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", cands[i]);
}

int ct_config_validate(const ct_config *c)
{
    char msg[900], name[160];
    const char *base = (const char *)c;
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &cfg_fields[i];
        const void *p = base + f->offset;
        int bad = 0;
        switch (f->type) {
        case T_INT: bad = cfg_check_int(f, *(const int *)p, msg, sizeof msg); break;
        case T_INT64: bad = cfg_check_int(f, *(const int64_t *)p, msg, sizeof msg); break;
        case T_NUM: bad = cfg_check_num(f, *(const double *)p, NULL, msg, sizeof msg); break;
        case T_NUMS: {
            int n = *(const int *)(base + f->off_n);
            const double *l = (const double *)(base + f->off_list);
            if (n < 0 || n > CT_CONFIG_MAX_CHANNELS) {
                snprintf(msg, sizeof msg, "%d values; allowed: 1 to %d", n, CT_CONFIG_MAX_CHANNELS);
                bad = 1;
            }
            bad = bad || cfg_check_num(f, *(const double *)p, NULL, msg, sizeof msg);
            for (int k = 0; k < n && !bad; k++) bad = cfg_check_num(f, l[k], NULL, msg, sizeof msg);
            break;
        }
        case T_NAMES: {
            int n = *(const int *)(base + f->off_n);
            if (n < 0 || n > CT_CONFIG_MAX_CLASSES) {
                snprintf(msg, sizeof msg, "%d names; allowed: 0 to %d", n, CT_CONFIG_MAX_CLASSES);
                bad = 1;
            }
            for (int k = 0; k < n && !bad; k++) {
                const char *nm = (const char *)p + (size_t)k * CT_CONFIG_CLASS_NAME_MAX;
                if (!memchr(nm, 0, CT_CONFIG_CLASS_NAME_MAX) || !nm[0]) {
                    snprintf(msg, sizeof msg, "name %d is empty or not NUL-terminated", k);
                    bad = 1;
                }
            }
            break;
        }
        case T_BOOL: break;
        case T_STR:
        case T_ENUM: {
            const char *s = p;
            const char *end = memchr(s, 0, CT_CONFIG_STR_MAX);
            if (!end) {
                snprintf(msg, sizeof msg, "string is not NUL-terminated within %d bytes", CT_CONFIG_STR_MAX);
                bad = 1;
            } else if (f->type == T_STR) {
                bad = cfg_check_str(f, s, (size_t)(end - s), msg, sizeof msg);
            } else {
                bad = 1;
                for (const char *const *ch = cfg_optimizer_choices; *ch; ch++)
                    if (!strcmp(s, *ch)) bad = 0;
                if (bad) {
                    char allowed[256], sh[64];
                    cfg_describe(f, allowed, sizeof allowed);
                    cfg_show(s, (size_t)(end - s), sh, sizeof sh);
                    snprintf(msg, sizeof msg, "'%s' is not allowed; allowed: %s", sh, allowed);
                }
            }
            break;
        }
        }
        if (bad) {
            dotted(f, name, sizeof name);
            return ct_fail(CT_ERR_USAGE, "invalid config: %s: %s", name, msg);
        }
    }
    if (c->augmentation.scale_range_min > c->augmentation.scale_range_max)
        return ct_fail(CT_ERR_USAGE,
                       "invalid config: augmentation.scale_range_min (%g) must be <= augmentation.scale_range_max (%g)",
                       c->augmentation.scale_range_min, c->augmentation.scale_range_max);
    return CT_OK;
}

int ct_config_data_norm(const ct_config_data *d, int channels, float *mean, float *std)
{
    if (channels < 1 || channels > CT_CONFIG_MAX_CHANNELS)
        return ct_fail(CT_ERR_USAGE, "data with %d channels; per-channel normalisation handles 1 to %d", channels,
                       CT_CONFIG_MAX_CHANNELS);
    const int n[2] = {d->mean_n, d->std_n};
    const char *key[2] = {"data.mean", "data.std"}, *where[2] = {d->mean_where, d->std_where};
    for (int i = 0; i < 2; i++)
        if (n[i] && n[i] != channels)
            return ct_fail(CT_ERR_USAGE, "%s%s%s has %d values but the data set's images have %d channel%s; give one "
                           "value per channel or a single number for all", where[i][0] ? where[i] : "",
                           where[i][0] ? ": " : "", key[i], n[i], channels, channels == 1 ? "" : "s");
    for (int k = 0; k < channels; k++) {
        mean[k] = (float)(d->mean_n ? d->mean_list[k] : d->mean);
        std[k] = (float)(d->std_n ? d->std_list[k] : d->std);
    }
    return CT_OK;
}
