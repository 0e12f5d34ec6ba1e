/* nn/netparse.c: see netparse.h. The `network:` value is first loaded into a small node tree
 * (scalars, sequences, mappings, each with its libyaml mark), then walked: network.input, then
 * each layer (type and name first, so that every message can name them), then the references
 * by name, then ct_netdef_resolve for the shape rules. */
#define _POSIX_C_SOURCE 200809L
#include "nn/netparse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define TAGP "tag:yaml.org,2002:"
#define MAX_DEPTH 16
#define MAX_NODES 500000

enum { N_SCALAR, N_SEQ, N_MAP };

typedef struct ynode {
    int kind;
    char *text; /* scalar value (NUL-terminated) */
    size_t len;
    int plain;  /* plain style (not quoted) */
    char *tag;  /* NULL when none */
    yaml_mark_t mark;
    int n;      /* children; a mapping has 2n: key, value, key, value, ... */
    int nk;     /* nodes stored in kids (2n, or 2n + 1 while a mapping's value is read) */
    struct ynode **kids;
} ynode;

typedef struct {
    yaml_parser_t *p;
    const char *path;
    int nodes;
    ct_netdef *net;
    char lw[400]; /* "network.layers[I] ('name', type)" while a layer is read */
} np;

/* ---------------------------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int perr(np *P, yaml_mark_t m, const char *where, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct_fail(CT_ERR_USAGE, "%s:%zu:%zu: %s: %s", P->path, m.line + 1, m.column + 1, where, msg);
}

static int syntax_error(np *P)
{
    yaml_parser_t *p = P->p;
    if (p->error == YAML_MEMORY_ERROR) return ct_fail(CT_ERR_NOMEM, "%s: out of memory while parsing YAML", P->path);
    if (p->error == YAML_READER_ERROR)
        return ct_fail(CT_ERR_USAGE, "%s: byte %zu: not valid YAML text: %s; a config file must be UTF-8", P->path,
                       p->problem_offset, p->problem ? p->problem : "unknown problem");
    return perr(P, p->problem_mark, "network", "YAML syntax error: %s", p->problem ? p->problem : "unknown problem");
}

/* a scalar shown in a message: at most 40 bytes, control characters as '?' */
static const char *shown(const ynode *v, char *buf, size_t cap)
{
    if (v->kind == N_SEQ) {
        snprintf(buf, cap, "a list of %d value%s", v->n, v->n == 1 ? "" : "s");
        return buf;
    }
    if (v->kind == N_MAP) return "a mapping";
    size_t o = 0;
    if (!v->plain) o = (size_t)snprintf(buf, cap, "the quoted string ");
    buf[o++] = '\'';
    for (size_t i = 0; i < v->len && o + 5 < cap; i++) {
        if (i == 40) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char ch = (unsigned char)v->text[i];
        buf[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    buf[o++] = '\'';
    buf[o] = 0;
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * The node tree
 * ------------------------------------------------------------------------------------------- */

static void node_free(ynode *v)
{
    if (!v) return;
    for (int i = 0; i < v->nk; i++) node_free(v->kids[i]);
    free(v->kids);
    free(v->text);
    free(v->tag);
    free(v);
}

static char *dup_n(const void *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int load_node(np *P, const yaml_event_t *e, int depth, ynode **out);
/* appends child k (kept by v from now on, also on failure) */
static int add_kid(np *P, ynode *v, ynode *k, int *cap)
{
    if (v->nk + 1 > *cap) {
        int nc = *cap ? 2 * *cap : 8;
        ynode **t = realloc(v->kids, (size_t)nc * sizeof *t);
        if (!t) {
            node_free(k);
            return ct_fail(CT_ERR_NOMEM, "%s: out of memory reading the network", P->path);
        }
        v->kids = t;
        *cap = nc;
    }
    v->kids[v->nk++] = k;
    if (v->kind == N_SEQ) v->n = v->nk;
    else v->n = v->nk / 2;
    return CT_OK;
}

/* reads the children of a sequence or mapping up to its end event */
static int load_children(np *P, ynode *v, int depth)
{
    int cap = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(P->p, &ev)) return syntax_error(P);
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return CT_OK;
        }
        ynode *k = NULL;
        int rc = load_node(P, &ev, depth + 1, &k);
        yaml_event_delete(&ev);
        if (rc || (rc = add_kid(P, v, k, &cap))) return rc;
    }
}

static int load_node(np *P, const yaml_event_t *e, int depth, ynode **out)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    int kind;
    switch (e->type) {
    case YAML_SCALAR_EVENT: kind = N_SCALAR, anchor = e->data.scalar.anchor, tag = e->data.scalar.tag; break;
    case YAML_SEQUENCE_START_EVENT:
        kind = N_SEQ, anchor = e->data.sequence_start.anchor, tag = e->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        kind = N_MAP, anchor = e->data.mapping_start.anchor, tag = e->data.mapping_start.tag;
        break;
    case YAML_ALIAS_EVENT:
        return perr(P, e->start_mark, "network", "alias '*%s': aliases are not supported (write the value out)",
                    (const char *)e->data.alias.anchor);
    default: return perr(P, e->start_mark, "network", "unexpected YAML event");
    }
    if (anchor)
        return perr(P, e->start_mark, "network", "anchor '&%s': anchors and aliases are not supported",
                    (const char *)anchor);
    if (depth > MAX_DEPTH) return perr(P, e->start_mark, "network", "nesting deeper than %d levels", MAX_DEPTH);
    if (++P->nodes > MAX_NODES)
        return perr(P, e->start_mark, "network", "more than %d YAML nodes in the network", MAX_NODES);
    ynode *v = calloc(1, sizeof *v);
    if (!v) return ct_fail(CT_ERR_NOMEM, "%s: out of memory reading the network", P->path);
    v->kind = kind;
    v->mark = e->start_mark;
    if (tag && strcmp((const char *)tag, "!") && !(v->tag = dup_n(tag, strlen((const char *)tag)))) goto oom;
    int rc = CT_OK;
    if (kind == N_SCALAR) {
        v->len = e->data.scalar.length;
        v->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || e->data.scalar.style == YAML_ANY_SCALAR_STYLE;
        if (!(v->text = dup_n(e->data.scalar.value, v->len))) goto oom;
    } else {
        rc = load_children(P, v, depth);
    }
    if (rc) {
        node_free(v);
        return rc;
    }
    *out = v;
    return CT_OK;
oom:
    node_free(v);
    return ct_fail(CT_ERR_NOMEM, "%s: out of memory reading the network", P->path);
}

static ynode *map_key(const ynode *m, int i) { return m->kids[2 * i]; }
static ynode *map_val(const ynode *m, int i) { return m->kids[2 * i + 1]; }

/* the mapping's keys must be distinct plain names from `allowed`; returns index of key or -1 */
static int key_is(const ynode *k, const char *name) { return k->kind == N_SCALAR && !strcmp(k->text, name); }

static int check_keys_unique(np *P, const ynode *m, const char *where)
{
    for (int i = 0; i < m->n; i++) {
        const ynode *k = map_key(m, i);
        char sh[64];
        if (k->kind != N_SCALAR || (k->tag && strcmp(k->tag, TAGP "str")))
            return perr(P, k->mark, where, "got %s as a mapping key; keys must be plain names", shown(k, sh, sizeof sh));
        for (int j = 0; j < i; j++)
            if (!strcmp(map_key(m, j)->text, k->text))
                return perr(P, k->mark, where, "duplicate key '%s' (first at line %zu); each key may appear once",
                            k->text, map_key(m, j)->mark.line + 1);
    }
    return CT_OK;
}

static const ynode *find_key(const ynode *m, const char *name, const ynode **key)
{
    for (int i = 0; i < m->n; i++)
        if (key_is(map_key(m, i), name)) {
            if (key) *key = map_key(m, i);
            return map_val(m, i);
        }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Scalars
 * ------------------------------------------------------------------------------------------- */

static int is_tag(const ynode *v, const char *t) { return v->tag && !strcmp(v->tag, t); }

/* plain decimal integer, optional sign, no leading zeros, fits an int */
static int scalar_int(const ynode *v, int *out)
{
    if (v->kind != N_SCALAR || !(v->plain || is_tag(v, TAGP "int")) || (v->tag && !is_tag(v, TAGP "int")))
        return -1;
    const char *s = v->text;
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (!s[i] || (s[i] == '0' && s[i + 1])) return -1;
    for (size_t j = i; s[j]; j++)
        if (s[j] < '0' || s[j] > '9') return -1;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno || x < INT_MIN || x > INT_MAX) return -1;
    *out = (int)x;
    return 0;
}

static int scalar_real(const ynode *v, double *out)
{
    if (v->kind != N_SCALAR || !(v->plain || is_tag(v, TAGP "float")) ||
        (v->tag && !is_tag(v, TAGP "float") && !is_tag(v, TAGP "int")) || !v->len)
        return -1;
    if (strspn(v->text, "0123456789+-.eE") != v->len) return -1;
    char *end;
    errno = 0;
    double d = strtod(v->text, &end);
    if (*end || errno || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static int scalar_bool(const ynode *v, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
    if (v->kind != N_SCALAR || !(v->plain || is_tag(v, TAGP "bool")) || (v->tag && !is_tag(v, TAGP "bool")))
        return -1;
    for (int i = 0; t[i]; i++) {
        if (!strcmp(v->text, t[i])) return *out = 1, 0;
        if (!strcmp(v->text, f[i])) return *out = 0, 0;
    }
    return -1;
}

/* an int, or a sequence [h, w] of two ints */
static int scalar_pair(const ynode *v, int out[2])
{
    if (v->kind == N_SCALAR) {
        if (scalar_int(v, &out[0])) return -1;
        out[1] = out[0];
        return 0;
    }
    if (v->kind != N_SEQ || v->n != 2) return -1;
    return scalar_int(v->kids[0], &out[0]) || scalar_int(v->kids[1], &out[1]) ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * network.input
 * ------------------------------------------------------------------------------------------- */

static int read_input(np *P, const ynode *v)
{
    static const char *const keys[] = {"channels", "height", "width"};
    const char *where = "network.input";
    char sh[64];
    if (v->kind != N_MAP)
        return perr(P, v->mark, where, "expected a mapping {channels: C, height: H, width: W}, got %s",
                    shown(v, sh, sizeof sh));
    int rc = check_keys_unique(P, v, where);
    if (rc) return rc;
    for (int i = 0; i < v->n; i++) {
        const ynode *k = map_key(v, i);
        if (strcmp(k->text, "channels") && strcmp(k->text, "height") && strcmp(k->text, "width")) {
            const char *best = ct_closest_name(k->text, k->len, keys, 3);
            char hint[96] = "allowed: channels, height, width";
            if (best) snprintf(hint, sizeof hint, "did you mean '%s'?", best);
            return perr(P, k->mark, where, "unknown key '%s'; %s", k->text, hint);
        }
    }
    int *dst[3] = {&P->net->in_c, &P->net->in_h, &P->net->in_w};
    for (int i = 0; i < 3; i++) {
        const ynode *x = find_key(v, keys[i], NULL);
        if (!x) return perr(P, v->mark, where, "missing '%s' (network.input needs channels, height and width)", keys[i]);
        if (scalar_int(x, dst[i]) || *dst[i] < 1 || *dst[i] > 65536)
            return perr(P, x->mark, where, "%s: expected an integer 1..65536, got %s", keys[i], shown(x, sh, sizeof sh));
    }
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Layers
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    int layer, slot;
    const ynode *v;
} ref;

typedef struct {
    ref *r;
    int n, cap;
} refs;

static int push_ref(refs *R, int layer, int slot, const ynode *v)
{
    if (R->n == R->cap) {
        int nc = R->cap ? 2 * R->cap : 64;
        ref *t = realloc(R->r, (size_t)nc * sizeof *t);
        if (!t) return ct_fail(CT_ERR_NOMEM, "out of memory reading the network");
        R->r = t;
        R->cap = nc;
    }
    R->r[R->n++] = (ref){layer, slot, v};
    return CT_OK;
}

static int takes_key(ct_layer_type t, const char *k)
{
    for (const char *const *p = ct_layer_type_keys(t); *p; p++)
        if (!strcmp(*p, k)) return 1;
    return 0;
}

static const char *const common_keys[] = {"name", "type", "input", "inputs"};

/* unknown key hint: a near key of this type, the types that take it, or the allowed list */
static void key_hint(ct_layer_type t, const char *k, char *buf, size_t cap)
{
    const char *cands[24];
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) cands[n++] = common_keys[i];
    for (const char *const *p = ct_layer_type_keys(t); *p; p++) cands[n++] = *p;
    if (!strcmp(k, "in_channels") || !strcmp(k, "in_features") || !strcmp(k, "num_features")) {
        snprintf(buf, cap, "it is inferred from the layer's input; remove it");
        return;
    }
    const char *best = ct_closest_name(k, strlen(k), cands, n);
    if (best && strcmp(best, k)) {
        snprintf(buf, cap, "did you mean '%s'?", best);
        return;
    }
    size_t o = 0;
    for (int u = 0; u < CT_L_COUNT; u++) {
        if (!takes_key((ct_layer_type)u, k) || o >= cap) continue;
        if (!o) o = (size_t)snprintf(buf, cap, "'%s' is a key of ", k);
        else o += (size_t)snprintf(buf + o, cap - o, ", ");
        if (o < cap) o += (size_t)snprintf(buf + o, cap - o, "%s", ct_layer_type_name((ct_layer_type)u));
    }
    if (o) {
        if (o < cap) snprintf(buf + o, cap - o, ", not of %s", ct_layer_type_name(t));
        return;
    }
    o = (size_t)snprintf(buf, cap, "keys of %s: name, type, %s", ct_layer_type_name(t),
                         t == CT_L_ADD ? "inputs" : "input");
    for (const char *const *p = ct_layer_type_keys(t); *p && o < cap; p++)
        o += (size_t)snprintf(buf + o, cap - o, ", %s", *p);
}

static int read_type(np *P, const ynode *m, int i, ct_layer_type *t)
{
    char where[64], sh[64];
    snprintf(where, sizeof where, "network.layers[%d]", i);
    const ynode *v = find_key(m, "type", NULL);
    if (!v) return perr(P, m->mark, where, "missing 'type' (e.g. type: conv2d)");
    *t = v->kind == N_SCALAR ? ct_layer_type_from_name(v->text) : CT_L_COUNT;
    if (*t != CT_L_COUNT) return CT_OK;
    const char *names[CT_L_COUNT];
    for (int u = 0; u < CT_L_COUNT; u++) names[u] = ct_layer_type_name((ct_layer_type)u);
    const char *best = v->kind == N_SCALAR ? ct_closest_name(v->text, v->len, names, CT_L_COUNT) : NULL;
    char hint[600];
    if (best) {
        snprintf(hint, sizeof hint, "did you mean '%s'?", best);
    } else {
        size_t o = (size_t)snprintf(hint, sizeof hint, "layer types:");
        for (int u = 0; u < CT_L_COUNT && o < sizeof hint; u++)
            o += (size_t)snprintf(hint + o, sizeof hint - o, "%s %s", u ? "," : "", names[u]);
    }
    return perr(P, v->mark, where, "unknown layer type %s; %s", shown(v, sh, sizeof sh), hint);
}

static int read_name(np *P, const ynode *m, ct_layer_def *l)
{
    const ynode *v = find_key(m, "name", NULL);
    char sh[64];
    if (!v) return CT_OK;
    if (v->kind != N_SCALAR || !v->len || v->len >= CT_NET_NAME_MAX || strlen(v->text) != v->len)
        return perr(P, v->mark, P->lw, "name: expected a non-empty name under %d bytes (e.g. conv1), got %s",
                    CT_NET_NAME_MAX, shown(v, sh, sizeof sh));
    memcpy(l->name, v->text, v->len + 1);
    return CT_OK;
}

/* input: NAME / inputs: [A, B, ...] */
static int read_refs(np *P, const ynode *k, const ynode *v, int i, ct_layer_def *l, refs *R)
{
    char sh[64];
    int many = !strcmp(k->text, "inputs");
    if (many != (l->type == CT_L_ADD))
        return perr(P, k->mark, P->lw, "%s", many ? "only add takes 'inputs'; use input: NAME"
                                                  : "add takes 'inputs: [A, B]' (two or more earlier layers)");
    if (!many) {
        if (v->kind != N_SCALAR || !v->len)
            return perr(P, v->mark, P->lw, "input: expected the name of an earlier layer, got %s",
                        shown(v, sh, sizeof sh));
        l->n_inputs = 1;
        return push_ref(R, i, 0, v);
    }
    if (v->kind != N_SEQ)
        return perr(P, v->mark, P->lw, "inputs: expected a list [A, B] of earlier layer names, got %s",
                    shown(v, sh, sizeof sh));
    if (v->n < 2 || v->n > CT_NET_MAX_INPUTS)
        return perr(P, v->mark, P->lw, "inputs: expected 2 to %d layer names, got %d", CT_NET_MAX_INPUTS, v->n);
    for (int j = 0; j < v->n; j++) {
        if (v->kids[j]->kind != N_SCALAR || !v->kids[j]->len)
            return perr(P, v->kids[j]->mark, P->lw, "inputs[%d]: expected a layer name", j);
        int rc = push_ref(R, i, j, v->kids[j]);
        if (rc) return rc;
    }
    l->n_inputs = v->n;
    return CT_OK;
}

/* dilation / groups / ceil_mode: accepted only with PyTorch's default */
static int read_unsupported(np *P, const ynode *k, const ynode *v, ct_layer_type t, int *handled)
{
    int x;
    char sh[64];
    *handled = 1;
    int conv = t == CT_L_CONV2D, pool = t == CT_L_MAXPOOL2D || t == CT_L_AVGPOOL2D;
    if (!strcmp(k->text, "dilation") && (conv || t == CT_L_MAXPOOL2D)) {
        int d[2];
        if (scalar_pair(v, d)) return perr(P, v->mark, P->lw, "dilation: expected an int or [h, w], got %s", shown(v, sh, sizeof sh));
        if (d[0] != 1 || d[1] != 1)
            return perr(P, v->mark, P->lw, "dilation [%d, %d] is not supported (cltrain's %s has dilation 1); remove "
                                           "the key or set it to 1",
                        d[0], d[1], ct_layer_type_name(t));
        return CT_OK;
    }
    if (!strcmp(k->text, "groups") && conv) {
        if (scalar_int(v, &x)) return perr(P, v->mark, P->lw, "groups: expected an integer, got %s", shown(v, sh, sizeof sh));
        if (x != 1)
            return perr(P, v->mark, P->lw, "groups %d is not supported (cltrain's conv2d has groups 1); remove the key "
                                           "or set it to 1",
                        x);
        return CT_OK;
    }
    if (!strcmp(k->text, "ceil_mode") && pool) {
        if (scalar_bool(v, &x)) return perr(P, v->mark, P->lw, "ceil_mode: expected true or false, got %s", shown(v, sh, sizeof sh));
        if (x)
            return perr(P, v->mark, P->lw, "ceil_mode: true is not supported (output sizes use PyTorch's floor rule); "
                                           "remove the key or use padding");
        return CT_OK;
    }
    *handled = 0;
    return CT_OK;
}

static int read_type_key(np *P, const ynode *k, const ynode *v, ct_layer_def *l)
{
    const char *key = k->text;
    char sh[64];
    if (!strcmp(key, "out_channels") || !strcmp(key, "out_features")) {
        int *d = key[4] == 'c' ? &l->out_channels : &l->out_features;
        if (scalar_int(v, d) || *d < 1)
            return perr(P, v->mark, P->lw, "%s: expected an integer >= 1, got %s", key, shown(v, sh, sizeof sh));
        return CT_OK;
    }
    if (!strcmp(key, "kernel") || !strcmp(key, "stride") || !strcmp(key, "padding") || !strcmp(key, "output")) {
        int *d = key[0] == 'k' ? l->kernel : key[0] == 's' ? l->stride : key[1] == 'a' ? l->padding : l->output;
        int lo = key[1] == 'a' ? 0 : 1;
        if (scalar_pair(v, d) || d[0] < lo || d[1] < lo)
            return perr(P, v->mark, P->lw, "%s: expected an int >= %d or [h, w] of them, got %s%s", key, lo,
                        shown(v, sh, sizeof sh),
                        v->kind == N_SCALAR && !strcmp(key, "padding") && strspn(v->text, "+-0123456789") != v->len
                            ? " (strings such as 'same' are "
                                                                                      "not supported)"
                                                                                    : "");
        return CT_OK;
    }
    if (!strcmp(key, "bias") || !strcmp(key, "count_include_pad")) {
        if (scalar_bool(v, key[0] == 'b' ? &l->bias : &l->count_include_pad))
            return perr(P, v->mark, P->lw, "%s: expected true or false, got %s", key, shown(v, sh, sizeof sh));
        return CT_OK;
    }
    double *d = !strcmp(key, "eps") ? &l->eps : !strcmp(key, "momentum") ? &l->momentum
                                              : !strcmp(key, "p")        ? &l->p
                                                                         : &l->negative_slope;
    if (scalar_real(v, d)) return perr(P, v->mark, P->lw, "%s: expected a number, got %s", key, shown(v, sh, sizeof sh));
    return CT_OK;
}

static int read_layer(np *P, const ynode *m, int i, refs *R)
{
    ct_layer_def *l = &P->net->layers[i];
    char where[64], sh[64];
    snprintf(where, sizeof where, "network.layers[%d]", i);
    if (m->kind != N_MAP)
        return perr(P, m->mark, where, "expected a mapping such as {name: conv1, type: conv2d, out_channels: 32, "
                                       "kernel: 5}, got %s",
                    shown(m, sh, sizeof sh));
    int rc = check_keys_unique(P, m, where);
    ct_layer_type t;
    if (rc || (rc = read_type(P, m, i, &t))) return rc;
    ct_layer_defaults(l, t);
    l->line = (int)m->mark.line + 1;
    l->col = (int)m->mark.column + 1;
    snprintf(P->lw, sizeof P->lw, "%s (%s)", where, ct_layer_type_name(t));
    if ((rc = read_name(P, m, l))) return rc;
    if (l->name[0]) snprintf(P->lw, sizeof P->lw, "%s ('%s', %s)", where, l->name, ct_layer_type_name(t));
    for (int j = 0; j < m->n; j++) {
        const ynode *k = map_key(m, j), *v = map_val(m, j);
        int handled;
        if (!strcmp(k->text, "name") || !strcmp(k->text, "type")) continue;
        if (!strcmp(k->text, "input") || !strcmp(k->text, "inputs")) rc = read_refs(P, k, v, i, l, R);
        else if (takes_key(t, k->text)) rc = read_type_key(P, k, v, l);
        else if ((rc = read_unsupported(P, k, v, t, &handled)) == CT_OK && !handled) {
            char hint[600];
            key_hint(t, k->text, hint, sizeof hint);
            rc = perr(P, k->mark, P->lw, "unknown key '%s'; %s", k->text, hint);
        }
        if (rc) return rc;
    }
    if (t == CT_L_ADD && l->n_inputs == 0)
        return perr(P, m->mark, P->lw, "add needs 'inputs: [A, B]' (two or more earlier layers)");
    return CT_OK;
}

/* names -> indices; a name must belong to an earlier layer */
static int resolve_refs(np *P, const refs *R)
{
    ct_netdef *n = P->net;
    for (int r = 0; r < R->n; r++) {
        const ref *x = &R->r[r];
        ct_layer_def *l = &n->layers[x->layer];
        if (l->name[0]) snprintf(P->lw, sizeof P->lw, "network.layers[%d] ('%s', %s)", x->layer, l->name, ct_layer_type_name(l->type));
        else snprintf(P->lw, sizeof P->lw, "network.layers[%d] (%s)", x->layer, ct_layer_type_name(l->type));
        int found = -1;
        for (int j = 0; j < n->n_layers && found < 0; j++)
            if (!strcmp(n->layers[j].name, x->v->text)) found = j;
        if (found == x->layer)
            return perr(P, x->v->mark, P->lw, "'%s' is this layer itself; name an earlier layer", x->v->text);
        if (found > x->layer)
            return perr(P, x->v->mark, P->lw,
                        "'%s' is network.layers[%d], which comes later; a layer can only take the output of a layer "
                        "above it (move this layer below it)",
                        x->v->text, found);
        if (found < 0) {
            const char **names = malloc((size_t)(x->layer + 1) * sizeof *names);
            size_t nn = 0;
            for (int j = 0; names && j < x->layer; j++)
                if (n->layers[j].name[0]) names[nn++] = n->layers[j].name;
            const char *best = names ? ct_closest_name(x->v->text, x->v->len, names, nn) : NULL;
            char hint[200] = "name one of the layers above (give it a name: if it has none)";
            if (best) snprintf(hint, sizeof hint, "did you mean '%s'?", best);
            free(names);
            return perr(P, x->v->mark, P->lw, "'%s' names no layer; %s", x->v->text, hint);
        }
        l->inputs[x->slot] = found;
    }
    return CT_OK;
}

static int read_layers(np *P, const ynode *v)
{
    char sh[64];
    if (v->kind != N_SEQ || v->n < 1)
        return perr(P, v->mark, "network.layers",
                    "expected a list of layers (- {name: conv1, type: conv2d, ...} lines), got %s",
                    v->kind == N_SEQ ? "an empty list" : shown(v, sh, sizeof sh));
    if (v->n > CT_NET_MAX_LAYERS)
        return perr(P, v->mark, "network.layers", "%d layers; at most %d are allowed", v->n, CT_NET_MAX_LAYERS);
    P->net->n_layers = v->n;
    P->net->layers = calloc((size_t)v->n, sizeof *P->net->layers);
    if (!P->net->layers) return ct_fail(CT_ERR_NOMEM, "out of memory reading the network");
    refs R = {0};
    int rc = CT_OK;
    for (int i = 0; i < v->n && !rc; i++) rc = read_layer(P, v->kids[i], i, &R);
    if (!rc) rc = resolve_refs(P, &R);
    free(R.r);
    return rc;
}

static int read_network(np *P, const ynode *root, int *il, int *ic)
{
    static const char *const keys[] = {"input", "layers"};
    char sh[64];
    if (root->kind != N_MAP)
        return perr(P, root->mark, "network", "expected a mapping with 'input' and 'layers', got %s",
                    shown(root, sh, sizeof sh));
    int rc = check_keys_unique(P, root, "network");
    if (rc) return rc;
    for (int i = 0; i < root->n; i++) {
        const ynode *k = map_key(root, i);
        if (!key_is(k, "input") && !key_is(k, "layers")) {
            const char *best = ct_closest_name(k->text, k->len, keys, 2);
            char hint[96] = "network has 'input' and 'layers'";
            if (best) snprintf(hint, sizeof hint, "did you mean '%s'?", best);
            return perr(P, k->mark, "network", "unknown key '%s'; %s", k->text, hint);
        }
    }
    const ynode *ik = NULL, *in = find_key(root, "input", &ik), *layers = find_key(root, "layers", NULL);
    if (!in)
        return perr(P, root->mark, "network", "missing 'input' (e.g. input: {channels: 1, height: 28, width: 28})");
    if (!layers) return perr(P, root->mark, "network", "missing 'layers' (the list of layers)");
    *il = (int)ik->mark.line + 1;
    *ic = (int)ik->mark.column + 1;
    if ((rc = read_input(P, in)) || (rc = read_layers(P, layers))) return rc;
    P->net->classes = 0;
    return ct_netdef_resolve(P->net, P->path);
}

int ct_netparse_yaml(yaml_parser_t *p, const yaml_event_t *first, const char *path, ct_netdef **out, int *input_line,
                     int *input_col)
{
    np P = {.p = p, .path = path};
    ynode *root = NULL;
    ct_netdef *n = calloc(1, sizeof *n);
    if (!n) return ct_fail(CT_ERR_NOMEM, "out of memory reading the network");
    P.net = n;
    int rc = load_node(&P, first, 1, &root);
    if (!rc) rc = read_network(&P, root, input_line, input_col);
    node_free(root);
    if (rc) {
        ct_netdef_free(n);
        free(n);
        return rc;
    }
    *out = n;
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Writing back
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
        char *t = realloc(b->p, nc);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->p = t;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* shortest %g that reads back to v, always with a '.' or exponent (a YAML float) */
static void real_text(double v, char *buf, size_t cap)
{
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) break;
    }
    char *e = strchr(t, 'e');
    if (strchr(t, '.')) snprintf(buf, cap, "%s", t);
    else if (e) snprintf(buf, cap, "%.*s.0%s", (int)(e - t), t, e); /* 1.0e-05: PyYAML reads 1e-05 as a string */
    else snprintf(buf, cap, "%s.0", t);
}

static void put_key(sbuf *b, const ct_layer_def *l, const char *k)
{
    char num[48];
    if (!strcmp(k, "out_channels")) sb(b, ", %s: %d", k, l->out_channels);
    else if (!strcmp(k, "out_features")) sb(b, ", %s: %d", k, l->out_features);
    else if (!strcmp(k, "kernel")) sb(b, ", %s: [%d, %d]", k, l->kernel[0], l->kernel[1]);
    else if (!strcmp(k, "stride")) sb(b, ", %s: [%d, %d]", k, l->stride[0], l->stride[1]);
    else if (!strcmp(k, "padding")) sb(b, ", %s: [%d, %d]", k, l->padding[0], l->padding[1]);
    else if (!strcmp(k, "output")) sb(b, ", %s: [%d, %d]", k, l->output[0], l->output[1]);
    else if (!strcmp(k, "bias")) sb(b, ", %s: %s", k, l->bias ? "true" : "false");
    else if (!strcmp(k, "count_include_pad")) sb(b, ", %s: %s", k, l->count_include_pad ? "true" : "false");
    else {
        double v = !strcmp(k, "eps") ? l->eps : !strcmp(k, "momentum") ? l->momentum : !strcmp(k, "p") ? l->p
                                                                                                         : l->negative_slope;
        real_text(v, num, sizeof num);
        sb(b, ", %s: %s", k, num);
    }
}

int ct_netparse_to_yaml(const ct_netdef *n, char **out)
{
    sbuf b = {0};
    *out = NULL;
    sb(&b, "network:\n  input: {channels: %d, height: %d, width: %d}\n  layers:\n", n->in_c, n->in_h, n->in_w);
    for (int i = 0; i < n->n_layers; i++) {
        const ct_layer_def *l = &n->layers[i];
        sb(&b, "    - {");
        if (l->name[0]) sb(&b, "name: %s, ", l->name);
        sb(&b, "type: %s", ct_layer_type_name(l->type));
        int implicit = l->type != CT_L_ADD && l->n_inputs == 1 && l->inputs[0] == i - 1;
        for (int k = 0; k < l->n_inputs && !implicit; k++) {
            int j = l->inputs[k];
            if (j < 0 || !n->layers[j].name[0]) {
                free(b.p);
                return ct_fail(CT_ERR_USAGE,
                               "network.layers[%d] takes %s, which a YAML network cannot name; this network cannot "
                               "be written as a network: section",
                               i, j < 0 ? "the network input" : "an unnamed layer");
            }
            sb(&b, "%s%s", k ? ", " : l->type == CT_L_ADD ? ", inputs: [" : ", input: ", n->layers[j].name);
        }
        if (!implicit && l->type == CT_L_ADD) sb(&b, "]");
        for (const char *const *k = ct_layer_type_keys(l->type); *k; k++) put_key(&b, l, *k);
        sb(&b, "}\n");
    }
    if (b.oom) {
        free(b.p);
        return ct_fail(CT_ERR_NOMEM, "out of memory writing the network as YAML");
    }
    *out = b.p;
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The config's network
 * ------------------------------------------------------------------------------------------- */

int ct_config_netdef(const ct_config *c, ct_netdef *out)
{
    if (c->network) return ct_netdef_copy(c->network, out);
    const ct_config_model *m = &c->model;
    return ct_netdef_digitcnn(m->conv1_channels, m->conv2_channels, m->conv3_channels, m->hidden_size,
                              m->dropout1_rate, m->dropout2_rate, m->use_batch_norm, out);
}

int ct_config_check_data(const ct_config *c, int channels, int height, int width, int classes)
{
    const ct_netdef *n = c->network;
    if (!n) {
        if (channels != 1 || height != 28 || width != 28 || classes != 10)
            return ct_fail(CT_ERR_USAGE,
                           "the data has %d x %d x %d images in %d classes, but the DigitCNN of the model: keys takes "
                           "1 x 28 x 28 images and 10 classes; describe a network for this data in a network: section",
                           channels, height, width, classes);
        return CT_OK;
    }
    if (n->in_c != channels || n->in_h != height || n->in_w != width)
        return ct_fail(CT_ERR_USAGE,
                       "%s:%d:%d: network.input {channels: %d, height: %d, width: %d} differs from the data (%d x %d "
                       "x %d images); set network.input to {channels: %d, height: %d, width: %d}",
                       c->network_file, c->network_line, c->network_col, n->in_c, n->in_h, n->in_w, channels, height,
                       width, channels, height, width);
    if (n->classes != classes) {
        const ct_layer_def *l = &n->layers[n->n_layers - 1];
        char who[200];
        if (l->name[0]) snprintf(who, sizeof who, "('%s', %s)", l->name, ct_layer_type_name(l->type));
        else snprintf(who, sizeof who, "(%s)", ct_layer_type_name(l->type));
        return ct_fail(CT_ERR_USAGE,
                       "%s:%d:%d: network.layers[%d] %s: the last layer's width is %d but the data set has %d classes; "
                       "set its out_features to %d",
                       c->network_file, l->line, l->col, n->n_layers - 1, who, n->classes, classes, classes);
    }
    return CT_OK;
}
