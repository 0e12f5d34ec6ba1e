/* config_write.c: the effective config written back as YAML (ct_config_to_yaml: every key in
 * the table's order, numbers that read back exactly) or JSON (ct_config_to_json), the network
 * included. */
#define _POSIX_C_SOURCE 200809L
#include "config_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/jsonutil.h"
#include "nn/netparse.h"

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
    for (size_t i = 0; i < cfg_nfields; i++) {
        const field *f = &cfg_fields[i];
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
    for (size_t i = 0; i < cfg_nfields && !bad; i++) {
        const field *f = &cfg_fields[i];
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
