/* config.c: see config.h. One table row per key gives its section, type, place in the struct
 * and allowed values; loading, --set, validation and both writers walk that table. YAML is
 * read as libyaml's event stream in a flat loop (no document tree, no recursion), into a copy
 * of the struct that replaces the caller's only when the whole file is good.
 * Not done here: merging several files, environment variables, or writing comments. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "io/jsonutil.h"
#include "nn/netparse.h"

/* ---------------------------------------------------------------------------------------
 * The schema
 * ------------------------------------------------------------------------------------- */

enum { T_INT, T_INT64, T_NUM, T_BOOL, T_STR, T_ENUM, T_NUMS, T_NAMES };
enum {
    F_NULLABLE = 1, /* null / empty value allowed, stored as "" */
    F_EVEN = 2,     /* integer must be even */
    F_NONEMPTY = 4, /* string must not be empty */
    F_FILENAME = 8  /* string becomes part of a file name: no '/', '\\', control characters */
};

typedef struct {
    const char *section; /* NULL for a top-level key */
    const char *key;
    int type;
    int flags;
    size_t offset;
    int64_t ilo, ihi; /* T_INT, T_INT64 */
    double dlo, dhi;  /* T_NUM; -INFINITY / INFINITY when unbounded (values must be finite) */
    int lo_open, hi_open;
    const char *note; /* appended to the description of allowed values */
    /* T_NUMS (number or list; offset = the number): list length, list, where it was given;
     * T_NAMES (offset = the names): count, where */
    size_t off_n, off_list, off_where;
} field;

static const char *const optimizer_choices[] = {"adam", "sgd", NULL};

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

static const field fields[] = {
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
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const sections[] = {"model",      "training",   "scheduler", "early_stopping",
                                       "augmentation", "output",   "data",      "checkpoint",
                                       "evaluation", "deployment", "prediction"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

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
static void show_n(const char *s, size_t len, size_t lim, char *buf, size_t cap)
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

static void show(const char *s, size_t len, char *buf, size_t cap) { show_n(s, len, 40, buf, cap); }

static int name_eq(const char *name, const char *s, size_t len)
{
    return strlen(name) == len && memcmp(name, s, len) == 0;
}

static int find_section(const char *s, size_t len)
{
    for (size_t i = 0; i < NSECTIONS; i++)
        if (name_eq(sections[i], s, len)) return (int)i;
    return -1;
}

/* section < 0: a top-level key. */
static int find_field(int section, const char *s, size_t len)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        int in = section < 0 ? f->section == NULL : (f->section && !strcmp(f->section, sections[section]));
        if (in && name_eq(f->key, s, len)) return (int)i;
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
static void unknown_hint(int section, const char *s, size_t len, char *buf, size_t cap)
{
    const char *cands[NFIELDS + NSECTIONS + 1];
    size_t n = 0;
    if (section < 0) {
        for (size_t i = 0; i < NSECTIONS; i++) cands[n++] = sections[i];
        cands[n++] = "network";
        for (size_t i = 0; i < NFIELDS; i++)
            if (!fields[i].section) cands[n++] = fields[i].key;
    } else {
        for (size_t i = 0; i < NFIELDS; i++)
            if (fields[i].section && !strcmp(fields[i].section, sections[section])) cands[n++] = fields[i].key;
    }
    const char *best = closest(s, len, cands, n);
    if (best) {
        snprintf(buf, cap, "did you mean '%s'?", best);
        return;
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        if (fields[i].section && name_eq(fields[i].key, s, len)) {
            snprintf(buf, cap, "'%s' is a key of section '%s' (%s.%s)", fields[i].key, fields[i].section,
                     fields[i].section, fields[i].key);
            return;
        }
    }
    size_t o = (size_t)snprintf(buf, cap, section < 0 ? "allowed: " : "keys of '%s': ",
                                section < 0 ? "" : sections[section]);
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", cands[i]);
}

/* What a field accepts, in words. */
static void describe(const field *f, char *buf, size_t cap)
{
    size_t o = 0;
    switch (f->type) {
    case T_INT:
    case T_INT64: {
        const char *kind = (f->flags & F_EVEN) ? "an even integer" : "an integer";
        int64_t top = f->type == T_INT ? INT_MAX : INT64_MAX;
        if (f->ihi >= top)
            o = (size_t)snprintf(buf, cap, "%s >= %" PRId64, kind, f->ilo);
        else
            o = (size_t)snprintf(buf, cap, "%s in [%" PRId64 ", %" PRId64 "]", kind, f->ilo, f->ihi);
        break;
    }
    case T_NUMS:
    case T_NUM:
        if (isinf(f->dlo) && isinf(f->dhi))
            o = (size_t)snprintf(buf, cap, "a finite number");
        else if (isinf(f->dhi))
            o = (size_t)snprintf(buf, cap, "a finite number %s %g", f->lo_open ? ">" : ">=", f->dlo);
        else
            o = (size_t)snprintf(buf, cap, "a number in %c%g, %g%c", f->lo_open ? '(' : '[', f->dlo, f->dhi,
                                 f->hi_open ? ')' : ']');
        break;
    case T_BOOL:
        o = (size_t)snprintf(buf, cap, "a boolean: true or false (also yes/no, on/off)");
        break;
    case T_ENUM:
        o = (size_t)snprintf(buf, cap, "one of adam, sgd (any letter case)");
        break;
    case T_NAMES:
        o = (size_t)snprintf(buf, cap, "a list of 1 to %d non-empty names of at most %d bytes, one per class; empty, "
                             "[] or null = none", CT_CONFIG_MAX_CLASSES, CT_CONFIG_CLASS_NAME_MAX - 1);
        break;
    case T_STR:
        o = (size_t)snprintf(buf, cap, "%s of at most %d bytes%s", (f->flags & F_NONEMPTY) ? "a non-empty string" : "a string",
                             CT_CONFIG_STR_MAX - 1,
                             (f->flags & F_FILENAME) ? " without '/', '\\' or control characters" : "");
        if (f->flags & F_NULLABLE && o < cap) o += (size_t)snprintf(buf + o, cap - o, "; empty or null = none");
        break;
    }
    if (f->type == T_NUMS && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, ", or a list of 1 to %d such numbers (one per channel)",
                              CT_CONFIG_MAX_CHANNELS);
    if (f->note && o < cap) snprintf(buf + o, cap - o, " (%s)", f->note);
}

/* Range checks shared by parsing and ct_config_validate; 0 = fine, else msg is set. */
static int check_int(const field *f, int64_t v, char *msg, size_t cap)
{
    char allowed[256];
    if (v >= f->ilo && v <= f->ihi && !((f->flags & F_EVEN) && v % 2 != 0)) return 0;
    describe(f, allowed, sizeof allowed);
    snprintf(msg, cap, "%" PRId64 " is %s; allowed: %s", v, (v >= f->ilo && v <= f->ihi) ? "odd" : "out of range",
             allowed);
    return -1;
}

static int check_num(const field *f, double v, const char *text, char *msg, size_t cap)
{
    int ok = isfinite(v) && (f->lo_open ? v > f->dlo : v >= f->dlo) && (f->hi_open ? v < f->dhi : v <= f->dhi);
    if (ok) return 0;
    char allowed[256], shown[64];
    describe(f, allowed, sizeof allowed);
    if (text)
        snprintf(shown, sizeof shown, "%s", text);
    else if (isnan(v))
        snprintf(shown, sizeof shown, ".nan");
    else if (isinf(v))
        snprintf(shown, sizeof shown, v > 0 ? ".inf" : "-.inf");
    else
        snprintf(shown, sizeof shown, "%.17g", v);
    snprintf(msg, cap, "%s is %s; allowed: %s", shown, isfinite(v) ? "out of range" : "not finite", allowed);
    return -1;
}

static int check_str(const field *f, const char *s, size_t len, char *msg, size_t cap)
{
    char allowed[256];
    describe(f, allowed, sizeof allowed);
    if (len >= CT_CONFIG_STR_MAX) {
        snprintf(msg, cap, "string is too long (%zu bytes); allowed: %s", len, allowed);
        return -1;
    }
    if (memchr(s, 0, len)) {
        snprintf(msg, cap, "string contains a NUL byte; allowed: %s", allowed);
        return -1;
    }
    if ((f->flags & F_NONEMPTY) && len == 0) {
        snprintf(msg, cap, "must not be empty; allowed: %s", allowed);
        return -1;
    }
    if (f->flags & F_FILENAME) {
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f) {
                char sh[64];
                show(s, len, sh, sizeof sh);
                snprintf(msg, cap, "'%s' cannot be part of a file name; allowed: %s", sh, allowed);
                return -1;
            }
        }
        if (name_eq(".", s, len) || name_eq("..", s, len)) {
            snprintf(msg, cap, "'%.*s' cannot be a file name; allowed: %s", (int)len, s, allowed);
            return -1;
        }
    }
    return 0;
}

/* Plain YAML integer: [-+]?[0-9]+ without a leading zero. */
static int parse_int(const char *s, size_t len, int64_t *out, char *why, size_t cap)
{
    char buf[64];
    size_t i = 0;
    if (len == 0 || len >= sizeof buf) goto bad;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (buf[0] == '-' || buf[0] == '+') i = 1;
    if (buf[i] == 0) goto bad;
    for (size_t j = i; buf[j]; j++)
        if (!isdigit((unsigned char)buf[j])) goto bad;
    if (buf[i] == '0' && buf[i + 1]) {
        snprintf(why, cap, "'%s' has a leading zero (YAML 1.1 reads that as octal)", buf);
        return -1;
    }
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE) {
        snprintf(why, cap, "'%s' overflows a 64-bit integer", buf);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
bad:
    why[0] = 0; /* not an integer at all: the caller reports the type mismatch */
    return -1;
}

/* Plain YAML number: decimal integer or float, or .inf / -.inf / .nan in YAML's spellings. */
static int parse_num(const char *s, size_t len, double *out, char *why, size_t cap)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf) goto bad;
    memcpy(buf, s, len);
    buf[len] = 0;
    const char *p = buf;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (p == buf && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
        *out = NAN;
        return 0;
    }
    /* digits* ['.' digits*] with at least one digit, then optional exponent */
    size_t digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) goto bad;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!isdigit((unsigned char)*p)) goto bad;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) goto bad;
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno == ERANGE && isinf(v)) {
        snprintf(why, cap, "'%s' overflows a double", buf);
        return -1;
    }
    *out = v; /* underflow to (sub)normal or zero is accepted */
    return 0;
bad:
    why[0] = 0;
    return -1;
}

static int is_null_text(const char *s, size_t len)
{
    return len == 0 || name_eq("~", s, len) || name_eq("null", s, len) || name_eq("Null", s, len) ||
           name_eq("NULL", s, len);
}

static int parse_bool(const char *s, size_t len, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (name_eq(yes[i], s, len)) return *out = true, 0;
        if (name_eq(no[i], s, len)) return *out = false, 0;
    }
    return -1;
}

#define TAG_PREFIX "tag:yaml.org,2002:"

/* One scalar as libyaml gives it. */
typedef struct {
    const char *text;
    size_t len;
    int plain;       /* plain style (unquoted, not a block scalar) */
    const char *tag; /* explicit tag or NULL */
} scalar;

/* Converts a scalar for field f and stores it at base + f->offset. On failure writes the
 * message (without location) into msg and stores nothing. */
static int assign_scalar(const field *f, const scalar *sc, void *base, char *msg, size_t cap)
{
    char allowed[256], sh[64], why[160];
    describe(f, allowed, sizeof allowed);
    show(sc->text, sc->len, sh, sizeof sh);
    void *dst = (char *)base + f->offset;

    /* An explicit tag decides the type; without one, quoting makes a string. */
    int is_null = sc->plain && is_null_text(sc->text, sc->len);
    int as_string = !sc->plain;
    if (sc->tag && strcmp(sc->tag, "!") != 0) {
        const char *t = strncmp(sc->tag, TAG_PREFIX, strlen(TAG_PREFIX)) ? NULL : sc->tag + strlen(TAG_PREFIX);
        int fits = 0;
        if (t && !strcmp(t, "null"))
            fits = 1, is_null = 1;
        else if (t && !strcmp(t, "str"))
            fits = f->type == T_STR || f->type == T_ENUM, as_string = 1, is_null = 0;
        else if (t && !strcmp(t, "int"))
            fits = f->type == T_INT || f->type == T_INT64 || f->type == T_NUM || f->type == T_NUMS, as_string = 0,
            is_null = 0;
        else if (t && !strcmp(t, "float"))
            fits = f->type == T_NUM || f->type == T_NUMS, as_string = 0, is_null = 0;
        else if (t && !strcmp(t, "bool"))
            fits = f->type == T_BOOL, as_string = 0, is_null = 0;
        if (!fits) {
            snprintf(msg, cap, "expected %s, got a value tagged '%s'", allowed, sc->tag);
            return -1;
        }
    } else if (sc->tag) {
        as_string = 1, is_null = 0; /* "!" = non-specific tag: a string */
    }

    if (f->type == T_NAMES && !is_null) {
        snprintf(msg, cap, "expected %s, got '%s' (write the names as a list: [name1, name2, ...])", allowed, sh);
        return -1;
    }
    if (is_null) {
        if (f->type == T_NAMES) {
            *(int *)((char *)base + f->off_n) = 0;
            return 0;
        }
        if (f->flags & F_NULLABLE) {
            ((char *)dst)[0] = 0;
            return 0;
        }
        snprintf(msg, cap, "expected %s, got an empty value (null)", allowed);
        return -1;
    }
    if (as_string && f->type != T_STR && f->type != T_ENUM) {
        snprintf(msg, cap, "expected %s, got the quoted string '%s' (write it without quotes)", allowed, sh);
        return -1;
    }

    switch (f->type) {
    case T_BOOL: {
        bool b;
        if (parse_bool(sc->text, sc->len, &b)) {
            snprintf(msg, cap, "expected %s, got '%s'", allowed, sh);
            return -1;
        }
        *(bool *)dst = b;
        return 0;
    }
    case T_INT:
    case T_INT64: {
        int64_t v;
        if (parse_int(sc->text, sc->len, &v, why, sizeof why)) {
            if (why[0])
                snprintf(msg, cap, "%s; allowed: %s", why, allowed);
            else
                snprintf(msg, cap, "expected %s, got '%s'", allowed, sh);
            return -1;
        }
        if (check_int(f, v, msg, cap)) return -1;
        if (f->type == T_INT)
            *(int *)dst = (int)v;
        else
            *(int64_t *)dst = v;
        return 0;
    }
    case T_NUMS:
    case T_NUM: {
        double v;
        if (parse_num(sc->text, sc->len, &v, why, sizeof why)) {
            if (why[0])
                snprintf(msg, cap, "%s; allowed: %s", why, allowed);
            else
                snprintf(msg, cap, "expected %s, got '%s'", allowed, sh);
            return -1;
        }
        if (check_num(f, v, sh, msg, cap)) return -1;
        *(double *)dst = v;
        if (f->type == T_NUMS) *(int *)((char *)base + f->off_n) = 0; /* one number: every channel */
        return 0;
    }
    case T_NAMES: break;
    case T_ENUM:
        for (const char *const *ch = optimizer_choices; *ch; ch++) {
            size_t n = strlen(*ch);
            int eq = n == sc->len;
            for (size_t i = 0; eq && i < n; i++) eq = tolower((unsigned char)sc->text[i]) == (*ch)[i];
            if (eq) {
                memcpy(dst, *ch, n + 1);
                return 0;
            }
        }
        snprintf(msg, cap, "'%s' is not allowed; allowed: %s", sh, allowed);
        return -1;
    case T_STR:
        if (check_str(f, sc->text, sc->len, msg, cap)) return -1;
        memcpy(dst, sc->text, sc->len);
        ((char *)dst)[sc->len] = 0;
        return 0;
    }
    snprintf(msg, cap, "internal error: unknown field type");
    return -1;
}

/* ---------------------------------------------------------------------------------------
 * The YAML event loop
 * ------------------------------------------------------------------------------------- */

typedef struct {
    yaml_parser_t parser;
    yaml_event_t ev;
    int have_ev;
    int depth;
    const char *path;       /* file being loaded; NULL for --set */
    const char *assignment; /* the --set argument */
    const unsigned char *buf;
    size_t len;
    char where[160];        /* dotted name of what is being read, for messages */
    int field_line[NFIELDS];   /* 1-based line of the first occurrence, 0 = not yet */
    int section_line[NSECTIONS];
    int network_line;          /* line of the `network:` key, 0 = not yet */
    ct_netdef *network;        /* the network this load read (freed if the load fails) */
} pctx;

/* Reports an error at a libyaml mark (0-based) as FILE:LINE:COL: [where: ]message. */
__attribute__((format(printf, 3, 4))) static int perr(pctx *P, yaml_mark_t m, const char *fmt, ...)
{
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!P->path) {
        char sh[256];
        show_n(P->assignment, strlen(P->assignment), 200, sh, sizeof sh);
        return ct_fail(CT_ERR_USAGE, "--set %s: %s", sh, msg);
    }
    if (P->where[0])
        return ct_fail(CT_ERR_USAGE, "%s:%zu:%zu: %s: %s", P->path, m.line + 1, m.column + 1, P->where, msg);
    return ct_fail(CT_ERR_USAGE, "%s:%zu:%zu: %s", P->path, m.line + 1, m.column + 1, msg);
}

static int syntax_error(pctx *P)
{
    yaml_parser_t *p = &P->parser;
    if (p->error == YAML_MEMORY_ERROR) return ct_fail(CT_ERR_NOMEM, "%s: out of memory while parsing YAML", P->path ? P->path : "--set");
    const char *problem = p->problem ? p->problem : "unknown problem";
    yaml_mark_t m = p->problem_mark;
    char extra[200] = "";
    P->where[0] = 0;
    if (p->error == YAML_READER_ERROR) {
        /* the reader gives a byte offset, not a mark */
        memset(&m, 0, sizeof m);
        for (size_t i = 0; i < p->problem_offset && i < P->len; i++) {
            if (P->buf[i] == '\n')
                m.line++, m.column = 0;
            else if ((P->buf[i] & 0xC0) != 0x80)
                m.column++;
        }
        if (p->problem_value != -1) snprintf(extra, sizeof extra, " (byte 0x%02X)", (unsigned)p->problem_value & 0xFFu);
        return perr(P, m, "not valid YAML text: %s%s; a config file must be UTF-8", problem, extra);
    }
    if (p->context)
        snprintf(extra, sizeof extra, " (%s at line %zu, column %zu)", p->context, p->context_mark.line + 1,
                 p->context_mark.column + 1);
    return perr(P, m, "YAML syntax error: %s%s", problem, extra);
}

/* Reads the next event into P->ev, rejecting aliases, anchors and runaway nesting. */
static int next_event(pctx *P)
{
    if (P->have_ev) {
        yaml_event_delete(&P->ev);
        P->have_ev = 0;
    }
    if (!yaml_parser_parse(&P->parser, &P->ev)) return syntax_error(P);
    P->have_ev = 1;
    const yaml_event_t *e = &P->ev;
    const yaml_char_t *anchor = NULL;
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        return perr(P, e->start_mark, "alias '*%s': aliases are not supported (write the value out)",
                    (const char *)e->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        anchor = e->data.scalar.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = e->data.mapping_start.anchor;
        P->depth++;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = e->data.sequence_start.anchor;
        P->depth++;
        break;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        P->depth--;
        break;
    default:
        break;
    }
    if (anchor)
        return perr(P, e->start_mark, "anchor '&%s': anchors and aliases are not supported",
                    (const char *)anchor);
    /* The schema refuses anything below depth 2 as soon as it starts, so this cap is only
     * a backstop for code paths that might skip over a structure. */
    if (P->depth > CT_CONFIG_MAX_DEPTH)
        return perr(P, e->start_mark, "nesting deeper than %d levels", CT_CONFIG_MAX_DEPTH);
    return CT_OK;
}

static scalar event_scalar(const yaml_event_t *e)
{
    scalar s;
    s.text = (const char *)e->data.scalar.value;
    s.len = e->data.scalar.length;
    s.plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || e->data.scalar.style == YAML_ANY_SCALAR_STYLE;
    s.tag = (const char *)e->data.scalar.tag;
    return s;
}

static const char *kind_of(const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_SCALAR_EVENT: return "a scalar";
    default: return "something else";
    }
}

static int tag_ok_for_map(const yaml_char_t *tag)
{
    return !tag || !strcmp((const char *)tag, TAG_PREFIX "map") || !strcmp((const char *)tag, "!");
}

/* Where a list value starts, for later messages: "FILE:LINE:COL" or "--set ASSIGNMENT". */
static void note_where(pctx *P, const field *f, ct_config *cfg, yaml_mark_t m)
{
    char *w = (char *)cfg + f->off_where;
    if (P->path)
        snprintf(w, CT_CONFIG_STR_MAX, "%s:%zu:%zu", P->path, m.line + 1, m.column + 1);
    else
        snprintf(w, CT_CONFIG_STR_MAX, "--set %s", P->assignment);
}

/* P->ev starts a sequence for a T_NUMS or T_NAMES field; reads its scalar items into cfg. */
static int read_list(pctx *P, const field *f, ct_config *cfg)
{
    char allowed[512], msg[900];
    describe(f, allowed, sizeof allowed);
    yaml_mark_t start = P->ev.start_mark;
    int max = f->type == T_NUMS ? CT_CONFIG_MAX_CHANNELS : CT_CONFIG_MAX_CLASSES;
    int n = 0, rc;
    double nums[CT_CONFIG_MAX_CHANNELS];
    char *names = (char *)cfg + f->offset;
    size_t where_len = strlen(P->where);
    for (;;) {
        P->where[where_len] = 0;
        if ((rc = next_event(P))) return rc;
        if (P->ev.type == YAML_SEQUENCE_END_EVENT) break;
        snprintf(P->where + where_len, sizeof P->where - where_len, "[%d]", n);
        if (P->ev.type != YAML_SCALAR_EVENT)
            return perr(P, P->ev.start_mark, "expected %s, got %s as a list item", allowed, kind_of(&P->ev));
        if (n >= max) return perr(P, P->ev.start_mark, "more than %d items; allowed: %s", max, allowed);
        scalar sc = event_scalar(&P->ev);
        if (f->type == T_NUMS) {
            field g = *f;
            g.type = T_NUM;
            double v;
            g.offset = 0;
            if (assign_scalar(&g, &sc, &v, msg, sizeof msg)) return perr(P, P->ev.start_mark, "%s", msg);
            nums[n] = v;
        } else {
            char sh[64];
            show(sc.text, sc.len, sh, sizeof sh);
            if (sc.len == 0 || (sc.plain && !sc.tag && is_null_text(sc.text, sc.len)))
                return perr(P, P->ev.start_mark, "empty class name; allowed: %s", allowed);
            if (sc.len >= CT_CONFIG_CLASS_NAME_MAX || memchr(sc.text, 0, sc.len))
                return perr(P, P->ev.start_mark, "class name '%s' is too long or holds a NUL byte; allowed: %s", sh,
                            allowed);
            memcpy(names + (size_t)n * CT_CONFIG_CLASS_NAME_MAX, sc.text, sc.len);
            names[(size_t)n * CT_CONFIG_CLASS_NAME_MAX + sc.len] = 0;
        }
        n++;
    }
    P->where[where_len] = 0;
    if (f->type == T_NUMS) {
        if (n == 0) return perr(P, start, "an empty list; allowed: %s", allowed);
        memcpy((char *)cfg + f->off_list, nums, sizeof(double) * (size_t)n);
        *(double *)((char *)cfg + f->offset) = nums[0];
    }
    *(int *)((char *)cfg + f->off_n) = n;
    note_where(P, f, cfg, start);
    return CT_OK;
}

/* P->ev holds the value for field fi; reads it into cfg. */
static int read_value(pctx *P, int fi, ct_config *cfg)
{
    const field *f = &fields[fi];
    char allowed[512], msg[900];
    if (P->ev.type == YAML_SEQUENCE_START_EVENT && (f->type == T_NUMS || f->type == T_NAMES)) {
        if (P->ev.data.sequence_start.tag && strcmp((const char *)P->ev.data.sequence_start.tag, TAG_PREFIX "seq"))
            return perr(P, P->ev.start_mark, "list tagged '%s'; expected a plain list",
                        (const char *)P->ev.data.sequence_start.tag);
        return read_list(P, f, cfg);
    }
    if (P->ev.type != YAML_SCALAR_EVENT) {
        describe(f, allowed, sizeof allowed);
        return perr(P, P->ev.start_mark,
                    "expected %s, got %s (nested structures are not allowed: each key holds one value)", allowed,
                    kind_of(&P->ev));
    }
    scalar sc = event_scalar(&P->ev);
    if (assign_scalar(f, &sc, cfg, msg, sizeof msg)) return perr(P, P->ev.start_mark, "%s", msg);
    return CT_OK;
}

/* P->ev is a mapping key; checks that it is a string scalar and gives it out. */
static int read_key(pctx *P, const char **s, size_t *len)
{
    const yaml_event_t *e = &P->ev;
    if (e->type != YAML_SCALAR_EVENT)
        return perr(P, e->start_mark, "got %s as a mapping key; keys must be plain names", kind_of(e));
    const char *tag = (const char *)e->data.scalar.tag;
    if (tag && strcmp(tag, TAG_PREFIX "str") && strcmp(tag, "!"))
        return perr(P, e->start_mark, "key tagged '%s'; keys must be plain names", tag);
    *s = (const char *)e->data.scalar.value;
    *len = e->data.scalar.length;
    return CT_OK;
}

static int parse_section(pctx *P, int si, ct_config *cfg)
{
    int rc;
    for (;;) {
        snprintf(P->where, sizeof P->where, "%s", sections[si]);
        if ((rc = next_event(P))) return rc;
        if (P->ev.type == YAML_MAPPING_END_EVENT) return CT_OK;
        const char *k;
        size_t klen;
        if ((rc = read_key(P, &k, &klen))) return rc;
        char sh[64], hint[700];
        show(k, klen, sh, sizeof sh);
        snprintf(P->where, sizeof P->where, "%s.%s", sections[si], sh);
        yaml_mark_t km = P->ev.start_mark;
        int fi = find_field(si, k, klen);
        if (fi < 0) {
            unknown_hint(si, k, klen, hint, sizeof hint);
            return perr(P, km, "unknown key; %s", hint);
        }
        if (P->field_line[fi])
            return perr(P, km, "duplicate key (first set at line %d); each key may appear once", P->field_line[fi]);
        P->field_line[fi] = (int)km.line + 1;
        if ((rc = next_event(P))) return rc;
        if ((rc = read_value(P, fi, cfg))) return rc;
    }
}

/* `network:` (nn/netparse.c reads its whole value from the event stream) */
static int read_network(pctx *P, yaml_mark_t km, ct_config *cfg)
{
    int rc;
    if (P->network_line)
        return perr(P, km, "duplicate section (first at line %d); each may appear once", P->network_line);
    P->network_line = (int)km.line + 1;
    if ((rc = next_event(P))) return rc;
    int nested = P->ev.type == YAML_MAPPING_START_EVENT || P->ev.type == YAML_SEQUENCE_START_EVENT;
    ct_netdef *n = NULL;
    int line = 0, col = 0;
    if ((rc = ct_netparse_yaml(&P->parser, &P->ev, P->path, &n, &line, &col))) return rc;
    if (nested) P->depth--; /* netparse read the matching end event */
    P->network = n;
    cfg->network = n;
    snprintf(cfg->network_file, sizeof cfg->network_file, "%s", P->path);
    cfg->network_line = line;
    cfg->network_col = col;
    return CT_OK;
}

static int parse_top(pctx *P, ct_config *cfg)
{
    int rc;
    for (;;) {
        P->where[0] = 0;
        if ((rc = next_event(P))) return rc;
        if (P->ev.type == YAML_MAPPING_END_EVENT) return CT_OK;
        const char *k;
        size_t klen;
        if ((rc = read_key(P, &k, &klen))) return rc;
        char sh[64], hint[700];
        show(k, klen, sh, sizeof sh);
        snprintf(P->where, sizeof P->where, "%s", sh);
        yaml_mark_t km = P->ev.start_mark;
        if (name_eq("network", k, klen)) {
            if ((rc = read_network(P, km, cfg))) return rc;
            continue;
        }
        int si = find_section(k, klen);
        int fi = si < 0 ? find_field(-1, k, klen) : -1;
        if (si < 0 && fi < 0) {
            unknown_hint(-1, k, klen, hint, sizeof hint);
            return perr(P, km, "unknown section; %s", hint);
        }
        int *seen = si >= 0 ? &P->section_line[si] : &P->field_line[fi];
        if (*seen)
            return perr(P, km, "duplicate %s (first at line %d); each may appear once", si >= 0 ? "section" : "key",
                        *seen);
        *seen = (int)km.line + 1;
        if ((rc = next_event(P))) return rc;
        if (fi >= 0) {
            if ((rc = read_value(P, fi, cfg))) return rc;
            continue;
        }
        const yaml_event_t *e = &P->ev;
        if (e->type == YAML_SCALAR_EVENT) {
            scalar sc = event_scalar(e);
            int null_tag = sc.tag && !strcmp(sc.tag, TAG_PREFIX "null");
            if ((!sc.tag && sc.plain && is_null_text(sc.text, sc.len)) || null_tag) continue; /* empty section */
            show(sc.text, sc.len, sh, sizeof sh);
            return perr(P, e->start_mark, "expected a mapping of %s keys (key: value lines indented below it), got '%s'",
                        sections[si], sh);
        }
        if (e->type != YAML_MAPPING_START_EVENT)
            return perr(P, e->start_mark, "expected a mapping of %s keys, got %s", sections[si], kind_of(e));
        if (!tag_ok_for_map(e->data.mapping_start.tag))
            return perr(P, e->start_mark, "section tagged '%s'; expected a plain mapping",
                        (const char *)e->data.mapping_start.tag);
        if ((rc = parse_section(P, si, cfg))) return rc;
    }
}

static int parse_stream(pctx *P, ct_config *cfg)
{
    int rc;
    if ((rc = next_event(P))) return rc; /* stream start */
    if ((rc = next_event(P))) return rc;
    if (P->ev.type == YAML_STREAM_END_EVENT) return CT_OK; /* empty file: nothing changes */
    if ((rc = next_event(P))) return rc; /* document start -> root node */
    const yaml_event_t *e = &P->ev;
    if (e->type == YAML_SCALAR_EVENT) {
        scalar sc = event_scalar(e);
        if (!(sc.plain && !sc.tag && is_null_text(sc.text, sc.len))) {
            char sh[64];
            show(sc.text, sc.len, sh, sizeof sh);
            return perr(P, e->start_mark, "the top level must be a mapping of sections (e.g. 'training:'), got '%s'",
                        sh);
        }
    } else if (e->type != YAML_MAPPING_START_EVENT) {
        return perr(P, e->start_mark, "the top level must be a mapping of sections (e.g. 'training:'), got %s",
                    kind_of(e));
    } else {
        if (!tag_ok_for_map(e->data.mapping_start.tag))
            return perr(P, e->start_mark, "top level tagged '%s'; expected a plain mapping",
                        (const char *)e->data.mapping_start.tag);
        if ((rc = parse_top(P, cfg))) return rc;
    }
    P->where[0] = 0;
    if ((rc = next_event(P))) return rc; /* document end */
    if ((rc = next_event(P))) return rc;
    if (P->ev.type == YAML_DOCUMENT_START_EVENT)
        return perr(P, P->ev.start_mark, "a second YAML document; a config file holds exactly one document");
    return CT_OK;
}

static void pctx_done(pctx *P)
{
    if (P->have_ev) yaml_event_delete(&P->ev);
    P->have_ev = 0;
    yaml_parser_delete(&P->parser);
}

int ct_config_load(ct_config *c, const char *path)
{
    unsigned char *buf;
    size_t len;
    int rc = ct_read_file(path, CT_CONFIG_MAX_FILE, &buf, &len);
    if (rc) return ct_fail_ctx(rc == CT_ERR_NOMEM ? CT_ERR_NOMEM : CT_ERR_USAGE, "config file");

    pctx *P = calloc(1, sizeof *P);
    ct_config *tmp = malloc(sizeof *tmp);
    if (!P || !tmp || !yaml_parser_initialize(&P->parser)) {
        free(P);
        free(tmp);
        free(buf);
        return ct_fail(CT_ERR_NOMEM, "%s: out of memory for the YAML parser", path);
    }
    P->path = path;
    P->buf = buf;
    P->len = len;
    yaml_parser_set_input_string(&P->parser, buf, len);
    memcpy(tmp, c, sizeof *tmp);
    rc = parse_stream(P, tmp);
    pctx_done(P);
    if (rc == CT_OK && P->network && c->network) ct_config_free(c); /* replaced by this file's */
    if (rc == CT_OK) memcpy(c, tmp, sizeof *c);
    if (rc != CT_OK && P->network) {
        ct_netdef_free(P->network);
        free(P->network);
    }
    free(P);
    free(tmp);
    free(buf);
    return rc;
}

/* --set: "section.key=value" or "device=value"; the value is one YAML scalar. */
int ct_config_set(ct_config *c, const char *assignment)
{
    char sh[256], hint[700];
    show_n(assignment, strlen(assignment), 200, sh, sizeof sh);
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return ct_fail(CT_ERR_USAGE, "--set %s: missing '='; expected section.key=value (e.g. training.epochs=5)", sh);
    const char *name = assignment;
    size_t nlen = (size_t)(eq - assignment);
    const char *value = eq + 1;
    const char *dot = memchr(name, '.', nlen);
    int fi;
    if (nlen >= 7 && !strncmp(name, "network", 7) && (nlen == 7 || name[7] == '.'))
        return ct_fail(CT_ERR_USAGE, "--set %s: the network section cannot be changed with --set; edit it in the "
                                     "config file (or copy one of configs/networks/*.yaml)",
                       sh);
    if (!dot) {
        fi = find_field(-1, name, nlen);
        if (fi < 0) {
            if (find_section(name, nlen) >= 0)
                return ct_fail(CT_ERR_USAGE, "--set %s: '%.*s' is a section; name one of its keys: %.*s.KEY=value", sh,
                               (int)nlen, name, (int)nlen, name);
            char ks[64];
            show(name, nlen, ks, sizeof ks);
            unknown_hint(-1, name, nlen, hint, sizeof hint);
            return ct_fail(CT_ERR_USAGE, "--set %s: unknown section or key '%s'; %s", sh, ks, hint);
        }
    } else {
        size_t slen = (size_t)(dot - name);
        int si = find_section(name, slen);
        char ss[64], ks[64];
        show(name, slen, ss, sizeof ss);
        show(dot + 1, nlen - slen - 1, ks, sizeof ks);
        if (si < 0) {
            unknown_hint(-1, name, slen, hint, sizeof hint);
            return ct_fail(CT_ERR_USAGE, "--set %s: unknown section '%s'; %s", sh, ss, hint);
        }
        fi = find_field(si, dot + 1, nlen - slen - 1);
        if (fi < 0) {
            unknown_hint(si, dot + 1, nlen - slen - 1, hint, sizeof hint);
            return ct_fail(CT_ERR_USAGE, "--set %s: unknown key '%s.%s'; %s", sh, ss, ks, hint);
        }
    }

    pctx *P = calloc(1, sizeof *P);
    ct_config *tmp = malloc(sizeof *tmp);
    if (!P || !tmp || !yaml_parser_initialize(&P->parser)) {
        free(P);
        free(tmp);
        return ct_fail(CT_ERR_NOMEM, "--set %s: out of memory for the YAML parser", sh);
    }
    P->assignment = assignment;
    P->buf = (const unsigned char *)value;
    P->len = strlen(value);
    yaml_parser_set_input_string(&P->parser, P->buf, P->len);
    memcpy(tmp, c, sizeof *tmp);
    char msg[900];
    int rc = next_event(P); /* stream start */
    if (!rc) rc = next_event(P);
    if (!rc && P->ev.type == YAML_STREAM_END_EVENT) {
        /* empty value: a null */
        scalar sc = {"", 0, 1, NULL};
        if (assign_scalar(&fields[fi], &sc, tmp, msg, sizeof msg)) rc = perr(P, P->ev.start_mark, "%s", msg);
    } else if (!rc) {
        rc = next_event(P); /* document start -> the value */
        if (!rc) rc = read_value(P, fi, tmp);
        if (!rc) rc = next_event(P); /* document end */
        if (!rc) rc = next_event(P);
        if (!rc && P->ev.type != YAML_STREAM_END_EVENT)
            rc = perr(P, P->ev.start_mark, "the value holds more than one YAML document");
    }
    pctx_done(P);
    if (rc == CT_OK) memcpy(c, tmp, sizeof *c);
    free(P);
    free(tmp);
    return rc;
}

int ct_config_validate(const ct_config *c)
{
    char msg[900], name[160];
    const char *base = (const char *)c;
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        const void *p = base + f->offset;
        int bad = 0;
        switch (f->type) {
        case T_INT: bad = check_int(f, *(const int *)p, msg, sizeof msg); break;
        case T_INT64: bad = check_int(f, *(const int64_t *)p, msg, sizeof msg); break;
        case T_NUM: bad = check_num(f, *(const double *)p, NULL, msg, sizeof msg); break;
        case T_NUMS: {
            int n = *(const int *)(base + f->off_n);
            const double *l = (const double *)(base + f->off_list);
            if (n < 0 || n > CT_CONFIG_MAX_CHANNELS) {
                snprintf(msg, sizeof msg, "%d values; allowed: 1 to %d", n, CT_CONFIG_MAX_CHANNELS);
                bad = 1;
            }
            bad = bad || check_num(f, *(const double *)p, NULL, msg, sizeof msg);
            for (int k = 0; k < n && !bad; k++) bad = check_num(f, l[k], NULL, msg, sizeof msg);
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
                bad = check_str(f, s, (size_t)(end - s), msg, sizeof msg);
            } else {
                bad = 1;
                for (const char *const *ch = optimizer_choices; *ch; ch++)
                    if (!strcmp(s, *ch)) bad = 0;
                if (bad) {
                    char allowed[256], sh[64];
                    describe(f, allowed, sizeof allowed);
                    show(s, (size_t)(end - s), sh, sizeof sh);
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

/* ---------------------------------------------------------------------------------------
 * Writers
 * ------------------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 1024;
        while (ncap < b->n + (size_t)k + 1) ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

/* Shortest text that reads back as exactly v, always with a '.' so that YAML 1.1 readers
 * (PyYAML) also see a float: 0.001, 15.0, 1.0e-05. JSON accepts the same forms. */
static void fmt_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, ".nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? ".inf" : "-.inf");
        return;
    }
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) break;
    }
    char *e = strchr(t, 'e');
    if (strchr(t, '.'))
        snprintf(buf, cap, "%s", t);
    else if (e)
        snprintf(buf, cap, "%.*s.0%s", (int)(e - t), t, e);
    else
        snprintf(buf, cap, "%s.0", t);
}

static void yaml_string(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if (*p == '\n')
            sb_printf(b, "\\n");
        else if (*p == '\t')
            sb_printf(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            sb_printf(b, "\\x%02x", *p);
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

/* Writes one field's value in YAML. */
static void put_value(sbuf *b, const field *f, const ct_config *c)
{
    const char *p = (const char *)c + f->offset;
    char num[48];
    switch (f->type) {
    case T_NUMS: {
        int n = *(const int *)((const char *)c + f->off_n);
        const double *l = (const double *)((const char *)c + f->off_list);
        if (n == 0) {
            field g = *f;
            g.type = T_NUM;
            put_value(b, &g, c);
            break;
        }
        sb_printf(b, "[");
        for (int k = 0; k < n && k < CT_CONFIG_MAX_CHANNELS; k++) {
            fmt_double(l[k], num, sizeof num);
            sb_printf(b, "%s%s", k ? ", " : "", num);
        }
        sb_printf(b, "]");
        break;
    }
    case T_NAMES: {
        int n = *(const int *)((const char *)c + f->off_n);
        sb_printf(b, "[");
        for (int k = 0; k < n && k < CT_CONFIG_MAX_CLASSES; k++) {
            char s[CT_CONFIG_CLASS_NAME_MAX];
            memcpy(s, p + (size_t)k * CT_CONFIG_CLASS_NAME_MAX, sizeof s);
            s[sizeof s - 1] = 0;
            sb_printf(b, "%s", k ? ", " : "");
            yaml_string(b, s);
        }
        sb_printf(b, "]");
        break;
    }
    case T_INT: sb_printf(b, "%d", *(const int *)p); break;
    case T_INT64: sb_printf(b, "%" PRId64, *(const int64_t *)p); break;
    case T_BOOL: sb_printf(b, "%s", *(const bool *)p ? "true" : "false"); break;
    case T_NUM: {
        double v = *(const double *)p;
        fmt_double(v, num, sizeof num);
        sb_printf(b, "%s", num);
        break;
    }
    case T_STR:
    case T_ENUM: {
        char s[CT_CONFIG_STR_MAX];
        memcpy(s, p, sizeof s);
        s[sizeof s - 1] = 0;
        yaml_string(b, s);
        break;
    }
    }
}

static int finish(sbuf *b, char **out, const char *what)
{
    if (b->oom || !b->p) {
        free(b->p);
        *out = NULL;
        return ct_fail(CT_ERR_NOMEM, "out of host memory writing the config as %s", what);
    }
    *out = b->p;
    return CT_OK;
}

int ct_config_to_yaml(const ct_config *c, char **out)
{
    sbuf b = {0};
    const char *cur = NULL;
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        if (f->section && (!cur || strcmp(cur, f->section))) {
            sb_printf(&b, "%s%s:\n", cur ? "\n" : "", f->section);
            cur = f->section;
        } else if (!f->section && cur) {
            sb_printf(&b, "\n");
            cur = NULL;
        }
        sb_printf(&b, "%s%s: ", f->section ? "  " : "", f->key);
        put_value(&b, f, c);
        sb_printf(&b, "\n");
    }
    if (c->network) {
        char *net = NULL;
        int rc = ct_netparse_to_yaml(c->network, &net);
        if (rc) {
            free(b.p);
            return rc;
        }
        sb_printf(&b, "\n%s", net);
        free(net);
    }
    return finish(&b, out, "YAML");
}

/* One field's value as JSON (a new reference; null for a non-finite number). */
static json_t *json_value(const field *f, const ct_config *c)
{
    const char *p = (const char *)c + f->offset;
    switch (f->type) {
    case T_NUMS: { /* one number, or a per-channel list */
        int n = *(const int *)((const char *)c + f->off_n);
        const double *l = (const double *)((const char *)c + f->off_list);
        if (n == 0) return ct_jreal(*(const double *)p);
        json_t *a = json_array();
        for (int k = 0; k < n && k < CT_CONFIG_MAX_CHANNELS; k++)
            if (json_array_append_new(a, ct_jreal(l[k]))) break;
        return a;
    }
    case T_NAMES: {
        int n = *(const int *)((const char *)c + f->off_n);
        json_t *a = json_array();
        for (int k = 0; k < n && k < CT_CONFIG_MAX_CLASSES; k++) {
            const char *s = p + (size_t)k * CT_CONFIG_CLASS_NAME_MAX;
            if (json_array_append_new(a, ct_jstrn(s, strnlen(s, CT_CONFIG_CLASS_NAME_MAX - 1)))) break;
        }
        return a;
    }
    case T_INT: return json_integer(*(const int *)p);
    case T_INT64: return json_integer((json_int_t) * (const int64_t *)p);
    case T_BOOL: return json_boolean(*(const bool *)p);
    case T_NUM: return ct_jreal(*(const double *)p);
    default: return ct_jstrn(p, strnlen(p, CT_CONFIG_STR_MAX - 1));
    }
}

int ct_config_to_json(const ct_config *c, char **out)
{
    *out = NULL;
    json_t *root = json_object();
    int bad = !root;
    for (size_t i = 0; i < NFIELDS && !bad; i++) {
        const field *f = &fields[i];
        json_t *parent = root;
        if (f->section) {
            parent = json_object_get(root, f->section);
            if (!parent) bad |= json_object_set_new(root, f->section, parent = json_object());
        }
        bad |= json_object_set_new(parent, f->key, json_value(f, c));
    }
    if (!bad && c->network) { /* netdef.h's JSON form */
        char *net = NULL;
        int rc = ct_netdef_to_json(c->network, &net);
        if (rc) {
            json_decref(root);
            return rc;
        }
        json_t *nj = json_loads(net, 0, NULL);
        free(net);
        bad |= !nj || json_object_set_new(root, "network", nj);
    }
    if (bad) {
        json_decref(root);
        return ct_fail(CT_ERR_NOMEM, "out of host memory writing the config as JSON");
    }
    return ct_jdump_take(root, out, NULL);
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
