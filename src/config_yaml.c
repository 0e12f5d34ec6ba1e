/* config_yaml.c: ct_config_load and ct_config_set. YAML is read as libyaml's event stream in
 * a flat loop (no document tree, no recursion), into a copy of the struct that replaces the
 * caller's only when the whole file (or value) is good; `network:` goes to nn/netparse.c. */
#define _POSIX_C_SOURCE 200809L
#include "config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "nn/netparse.h"

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
    int field_line[CFG_MAX_FIELDS]; /* 1-based line of the first occurrence, 0 = not yet */
    int section_line[CFG_MAX_SECTIONS];
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
        cfg_show_n(P->assignment, strlen(P->assignment), 200, sh, sizeof sh);
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
    cfg_describe(f, allowed, sizeof allowed);
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
            if (cfg_assign_scalar(&g, &sc, &v, msg, sizeof msg)) return perr(P, P->ev.start_mark, "%s", msg);
            nums[n] = v;
        } else {
            char sh[64];
            cfg_show(sc.text, sc.len, sh, sizeof sh);
            if (sc.len == 0 || (sc.plain && !sc.tag && cfg_is_null_text(sc.text, sc.len)))
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
    const field *f = &cfg_fields[fi];
    char allowed[512], msg[900];
    if (P->ev.type == YAML_SEQUENCE_START_EVENT && (f->type == T_NUMS || f->type == T_NAMES)) {
        if (P->ev.data.sequence_start.tag && strcmp((const char *)P->ev.data.sequence_start.tag, TAG_PREFIX "seq"))
            return perr(P, P->ev.start_mark, "list tagged '%s'; expected a plain list",
                        (const char *)P->ev.data.sequence_start.tag);
        return read_list(P, f, cfg);
    }
    if (P->ev.type != YAML_SCALAR_EVENT) {
        cfg_describe(f, allowed, sizeof allowed);
        return perr(P, P->ev.start_mark,
                    "expected %s, got %s (nested structures are not allowed: each key holds one value)", allowed,
                    kind_of(&P->ev));
    }
    scalar sc = event_scalar(&P->ev);
    if (cfg_assign_scalar(f, &sc, cfg, msg, sizeof msg)) return perr(P, P->ev.start_mark, "%s", msg);
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
        snprintf(P->where, sizeof P->where, "%s", cfg_sections[si]);
        if ((rc = next_event(P))) return rc;
        if (P->ev.type == YAML_MAPPING_END_EVENT) return CT_OK;
        const char *k;
        size_t klen;
        if ((rc = read_key(P, &k, &klen))) return rc;
        char sh[64], hint[700];
        cfg_show(k, klen, sh, sizeof sh);
        snprintf(P->where, sizeof P->where, "%s.%s", cfg_sections[si], sh);
        yaml_mark_t km = P->ev.start_mark;
        int fi = cfg_find_field(si, k, klen);
        if (fi < 0) {
            cfg_unknown_hint(si, k, klen, hint, sizeof hint);
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
        cfg_show(k, klen, sh, sizeof sh);
        snprintf(P->where, sizeof P->where, "%s", sh);
        yaml_mark_t km = P->ev.start_mark;
        if (cfg_name_eq("network", k, klen)) {
            if ((rc = read_network(P, km, cfg))) return rc;
            continue;
        }
        int si = cfg_find_section(k, klen);
        int fi = si < 0 ? cfg_find_field(-1, k, klen) : -1;
        if (si < 0 && fi < 0) {
            cfg_unknown_hint(-1, k, klen, hint, sizeof hint);
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
            if ((!sc.tag && sc.plain && cfg_is_null_text(sc.text, sc.len)) || null_tag) continue; /* empty section */
            cfg_show(sc.text, sc.len, sh, sizeof sh);
            return perr(P, e->start_mark, "expected a mapping of %s keys (key: value lines indented below it), got '%s'",
                        cfg_sections[si], sh);
        }
        if (e->type != YAML_MAPPING_START_EVENT)
            return perr(P, e->start_mark, "expected a mapping of %s keys, got %s", cfg_sections[si], kind_of(e));
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
        if (!(sc.plain && !sc.tag && cfg_is_null_text(sc.text, sc.len))) {
            char sh[64];
            cfg_show(sc.text, sc.len, sh, sizeof sh);
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
    cfg_show_n(assignment, strlen(assignment), 200, sh, sizeof sh);
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
        fi = cfg_find_field(-1, name, nlen);
        if (fi < 0) {
            if (cfg_find_section(name, nlen) >= 0)
                return ct_fail(CT_ERR_USAGE, "--set %s: '%.*s' is a section; name one of its keys: %.*s.KEY=value", sh,
                               (int)nlen, name, (int)nlen, name);
            char ks[64];
            cfg_show(name, nlen, ks, sizeof ks);
            cfg_unknown_hint(-1, name, nlen, hint, sizeof hint);
            return ct_fail(CT_ERR_USAGE, "--set %s: unknown section or key '%s'; %s", sh, ks, hint);
        }
    } else {
        size_t slen = (size_t)(dot - name);
        int si = cfg_find_section(name, slen);
        char ss[64], ks[64];
        cfg_show(name, slen, ss, sizeof ss);
        cfg_show(dot + 1, nlen - slen - 1, ks, sizeof ks);
        if (si < 0) {
            cfg_unknown_hint(-1, name, slen, hint, sizeof hint);
            return ct_fail(CT_ERR_USAGE, "--set %s: unknown section '%s'; %s", sh, ss, hint);
        }
        fi = cfg_find_field(si, dot + 1, nlen - slen - 1);
        if (fi < 0) {
            cfg_unknown_hint(si, dot + 1, nlen - slen - 1, hint, sizeof hint);
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
        if (cfg_assign_scalar(&cfg_fields[fi], &sc, tmp, msg, sizeof msg)) rc = perr(P, P->ev.start_mark, "%s", msg);
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
