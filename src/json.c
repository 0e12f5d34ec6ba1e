/* json.c: strict RFC 8259 parser into a DOM, lookup helpers, and a small writer. See json.h. */
#include "json.h"

#include "common.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest number token accepted (RFC 8259 section 9 allows limits on range and precision). */
#define CT_JSON_MAX_NUMBER_LEN 1024

typedef struct {
    const unsigned char *s;
    size_t len;
    size_t pos;
    const char *name;
    size_t base;
    int depth;
    int failed; /* status code once an error was recorded */
    size_t values, max_values;
} parser;

static int perr(parser *ps, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *ps, size_t at, const char *fmt, ...)
{
    if (ps->failed) return ps->failed;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->failed = ct_fail(CT_ERR_INPUT, "%s: invalid JSON at byte %zu: %s; fix the file or write it again",
                         ps->name ? ps->name : "JSON", ps->base + at, msg);
    return ps->failed;
}

static int pnomem(parser *ps)
{
    if (ps->failed) return ps->failed;
    ps->failed = ct_fail(CT_ERR_NOMEM, "%s: out of host memory while parsing JSON", ps->name ? ps->name : "JSON");
    return ps->failed;
}

/* Describes the byte at pos for an error message. */
static const char *describe(parser *ps, size_t pos, char *buf, size_t cap)
{
    if (pos >= ps->len) return "end of input";
    unsigned char c = ps->s[pos];
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->s[ps->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            ps->pos++;
        else
            break;
    }
}

static void ct_json_free_inner(ct_json *v)
{
    if (!v) return;
    if (v->type == CT_JSON_STRING) {
        free(v->str);
    } else if (v->type == CT_JSON_ARRAY || v->type == CT_JSON_OBJECT) {
        for (size_t i = 0; i < v->count; i++) ct_json_free_inner(&v->items[i]);
        if (v->keys)
            for (size_t i = 0; i < v->count; i++) free(v->keys[i]);
        free(v->items);
        free(v->keys);
        free(v->key_lens);
    }
    memset(v, 0, sizeof *v);
}

void ct_json_free(ct_json *v)
{
    if (!v) return;
    ct_json_free_inner(v);
    free(v);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at pos; returns the value or -1. */
static long hex4(parser *ps, size_t pos)
{
    if (pos + 4 > ps->len) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->s[pos + (size_t)i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the valid UTF-8 sequence at p (n bytes available), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < need + 1) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i <= need; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return need + 1;
}

int ct_utf8_valid(const char *s, size_t n, size_t *bad_at)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

static size_t put_utf8(unsigned char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string starting at the opening quote (ps->pos). */
static int parse_string(parser *ps, char **out, size_t *out_len)
{
    size_t start = ps->pos; /* the quote */
    size_t i = start + 1;
    /* pass 1: find the closing quote, to size the buffer (the decoded text is never longer) */
    for (;;) {
        if (i >= ps->len) return perr(ps, start, "string not terminated (missing closing '\"')");
        unsigned char c = ps->s[i];
        if (c == '"') break;
        if (c == '\\') i++;
        i++;
    }
    size_t end = i;
    unsigned char *buf = malloc(end - start); /* (end - start - 1) bytes of content + NUL */
    if (!buf) return pnomem(ps);
    size_t o = 0;
    i = start + 1;
    while (i < end) {
        unsigned char c = ps->s[i];
        if (c == '\\') {
            unsigned char e = ps->s[i + 1]; /* i + 1 < end is guaranteed by pass 1 */
            switch (e) {
            case '"': buf[o++] = '"'; i += 2; continue;
            case '\\': buf[o++] = '\\'; i += 2; continue;
            case '/': buf[o++] = '/'; i += 2; continue;
            case 'b': buf[o++] = '\b'; i += 2; continue;
            case 'f': buf[o++] = '\f'; i += 2; continue;
            case 'n': buf[o++] = '\n'; i += 2; continue;
            case 'r': buf[o++] = '\r'; i += 2; continue;
            case 't': buf[o++] = '\t'; i += 2; continue;
            case 'u': {
                long u = (i + 6 <= end) ? hex4(ps, i + 2) : -1;
                if (u < 0) {
                    free(buf);
                    return perr(ps, i, "bad \\u escape (needs 4 hex digits)");
                }
                unsigned long cp = (unsigned long)u;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    long lo = -1;
                    if (i + 12 <= end && ps->s[i + 6] == '\\' && ps->s[i + 7] == 'u') lo = hex4(ps, i + 8);
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        free(buf);
                        return perr(ps, i, "lone UTF-16 high surrogate \\u%04lX (must be followed by a low surrogate \\uDC00-\\uDFFF)",
                                    (unsigned long)u);
                    }
                    cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
                    i += 12;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    free(buf);
                    return perr(ps, i, "lone UTF-16 low surrogate \\u%04lX", (unsigned long)u);
                } else {
                    i += 6;
                }
                o += put_utf8(buf + o, cp);
                continue;
            }
            default: {
                char d[16];
                free(buf);
                return perr(ps, i + 1, "invalid escape \\%s in string", describe(ps, i + 1, d, sizeof d));
            }
            }
        }
        if (c < 0x20) {
            free(buf);
            return perr(ps, i, "control character 0x%02x inside a string (must be escaped)", c);
        }
        size_t n = utf8_seq(ps->s + i, end - i);
        if (n == 0) {
            free(buf);
            return perr(ps, i, "invalid UTF-8 byte 0x%02x in string", c);
        }
        memcpy(buf + o, ps->s + i, n);
        o += n;
        i += n;
    }
    buf[o] = 0;
    ps->pos = end + 1;
    *out = (char *)buf;
    *out_len = o;
    return 0;
}

static int parse_number(parser *ps, ct_json *v)
{
    size_t start = ps->pos, i = start;
    const unsigned char *s = ps->s;
    int neg = 0;
    if (i < ps->len && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= ps->len || !(s[i] >= '0' && s[i] <= '9')) return perr(ps, i, "expected a digit in number");
    size_t int_start = i;
    if (s[i] == '0') {
        i++;
        if (i < ps->len && s[i] >= '0' && s[i] <= '9') return perr(ps, int_start, "leading zeros are not allowed in numbers");
    } else {
        while (i < ps->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t int_end = i;
    int is_int = 1;
    if (i < ps->len && s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= ps->len || !(s[i] >= '0' && s[i] <= '9')) return perr(ps, i, "expected a digit after the decimal point");
        while (i < ps->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < ps->len && (s[i] == 'e' || s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < ps->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= ps->len || !(s[i] >= '0' && s[i] <= '9')) return perr(ps, i, "expected a digit in the exponent");
        while (i < ps->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t n = i - start;
    if (n > CT_JSON_MAX_NUMBER_LEN)
        return perr(ps, start, "number is %zu characters long, more than the %d allowed", n, CT_JSON_MAX_NUMBER_LEN);
    v->type = CT_JSON_NUMBER;
    v->is_int = 0;
    if (is_int) {
        uint64_t acc = 0;
        int ovf = 0;
        for (size_t k = int_start; k < int_end; k++) {
            unsigned d = (unsigned)(s[k] - '0');
            if (acc > (UINT64_MAX - d) / 10) {
                ovf = 1;
                break;
            }
            acc = acc * 10 + d;
        }
        if (!ovf) {
            if (!neg && acc <= (uint64_t)INT64_MAX) {
                v->is_int = 1;
                v->integer = (int64_t)acc;
            } else if (neg && acc <= (uint64_t)INT64_MAX + 1) {
                v->is_int = 1;
                v->integer = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
            }
        }
    }
    /* strtod on a NUL-terminated copy, with the locale's decimal point */
    char tmp[CT_JSON_MAX_NUMBER_LEN + 8];
    memcpy(tmp, s + start, n);
    tmp[n] = 0;
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && dp[1] == 0) {
        for (size_t k = 0; k < n; k++)
            if (tmp[k] == '.') tmp[k] = dp[0];
    }
    v->number = strtod(tmp, NULL);
    ps->pos = i;
    return 0;
}

static int expect_literal(parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if (ps->len - ps->pos < n || memcmp(ps->s + ps->pos, lit, n) != 0) {
        char d[16];
        return perr(ps, ps->pos, "unexpected %s (expected a value)", describe(ps, ps->pos, d, sizeof d));
    }
    ps->pos += n;
    return 0;
}

static int parse_value(parser *ps, ct_json *v);

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int parse_array(parser *ps, ct_json *v)
{
    size_t start = ps->pos;
    if (++ps->depth > CT_JSON_MAX_DEPTH) return perr(ps, start, "nesting deeper than %d levels", CT_JSON_MAX_DEPTH);
    ps->pos++; /* '[' */
    v->type = CT_JSON_ARRAY;
    size_t cap = 0;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->s[ps->pos] == ']') {
        ps->pos++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        if (grow((void **)&v->items, &cap, v->count + 1, sizeof(ct_json))) return pnomem(ps);
        ct_json *it = &v->items[v->count];
        memset(it, 0, sizeof *it);
        skip_ws(ps);
        if (parse_value(ps, it)) {
            ct_json_free_inner(it);
            return ps->failed;
        }
        v->count++;
        skip_ws(ps);
        if (ps->pos < ps->len && ps->s[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->s[ps->pos] == ']') {
            ps->pos++;
            break;
        }
        char d[16];
        return perr(ps, ps->pos, "expected ',' or ']' in array (opened at byte %zu), found %s", ps->base + start,
                    describe(ps, ps->pos, d, sizeof d));
    }
    ps->depth--;
    return 0;
}

typedef struct {
    const char *key;
    size_t len;
    size_t off;
} keyref;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->off < y->off ? -1 : (x->off > y->off); /* later occurrence second */
}

static int dup_error(parser *ps, const char *key, size_t len, size_t first, size_t again)
{
    char shown[200];
    char clip[64];
    size_t n = len < sizeof clip - 1 ? len : sizeof clip - 1;
    memcpy(clip, key, n);
    clip[n] = 0;
    ct_json_escape(shown, sizeof shown, clip);
    return perr(ps, again, "duplicate key %s%s (first at byte %zu)", shown, len > n ? " (shortened)" : "",
                ps->base + first);
}

static int check_duplicates(parser *ps, ct_json *v, const size_t *key_offs)
{
    size_t n = v->count;
    if (n < 2) return 0;
    if (n <= 16) {
        for (size_t j = 1; j < n; j++)
            for (size_t i = 0; i < j; i++)
                if (v->key_lens[i] == v->key_lens[j] && memcmp(v->keys[i], v->keys[j], v->key_lens[i]) == 0)
                    return dup_error(ps, v->keys[j], v->key_lens[j], key_offs[i], key_offs[j]);
        return 0;
    }
    keyref *r = malloc(n * sizeof *r);
    if (!r) return pnomem(ps);
    for (size_t i = 0; i < n; i++) {
        r[i].key = v->keys[i];
        r[i].len = v->key_lens[i];
        r[i].off = key_offs[i];
    }
    qsort(r, n, sizeof *r, keyref_cmp);
    /* report the duplicate that appears first in the file */
    size_t best = SIZE_MAX, bi = 0;
    for (size_t i = 1; i < n; i++)
        if (r[i].len == r[i - 1].len && memcmp(r[i].key, r[i - 1].key, r[i].len) == 0 && r[i].off < best) {
            best = r[i].off;
            bi = i;
        }
    int rc = 0;
    if (best != SIZE_MAX) {
        size_t first = bi;
        while (first > 0 && r[first - 1].len == r[bi].len && memcmp(r[first - 1].key, r[bi].key, r[bi].len) == 0)
            first--;
        /* the second occurrence in file order is r[first + 1] */
        rc = dup_error(ps, r[first].key, r[first].len, r[first].off, r[first + 1].off);
    }
    free(r);
    return rc;
}

static int parse_object(parser *ps, ct_json *v)
{
    size_t start = ps->pos;
    if (++ps->depth > CT_JSON_MAX_DEPTH) return perr(ps, start, "nesting deeper than %d levels", CT_JSON_MAX_DEPTH);
    ps->pos++; /* '{' */
    v->type = CT_JSON_OBJECT;
    size_t cap_items = 0, cap_keys = 0, cap_lens = 0, cap_offs = 0;
    size_t *key_offs = NULL;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->s[ps->pos] == '}') {
        ps->pos++;
        ps->depth--;
        return 0;
    }
    char d[16];
    for (;;) {
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->s[ps->pos] != '"') {
            perr(ps, ps->pos, "expected a string key in object (opened at byte %zu), found %s", ps->base + start,
                 describe(ps, ps->pos, d, sizeof d));
            goto fail;
        }
        size_t koff = ps->pos;
        if (grow((void **)&v->items, &cap_items, v->count + 1, sizeof(ct_json)) ||
            grow((void **)&v->keys, &cap_keys, v->count + 1, sizeof(char *)) ||
            grow((void **)&v->key_lens, &cap_lens, v->count + 1, sizeof(size_t)) ||
            grow((void **)&key_offs, &cap_offs, v->count + 1, sizeof(size_t))) {
            pnomem(ps);
            goto fail;
        }
        char *key = NULL;
        size_t klen = 0;
        if (parse_string(ps, &key, &klen)) goto fail;
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->s[ps->pos] != ':') {
            free(key);
            perr(ps, ps->pos, "expected ':' after object key, found %s", describe(ps, ps->pos, d, sizeof d));
            goto fail;
        }
        ps->pos++;
        skip_ws(ps);
        ct_json *it = &v->items[v->count];
        memset(it, 0, sizeof *it);
        v->keys[v->count] = key;
        v->key_lens[v->count] = klen;
        key_offs[v->count] = koff;
        if (parse_value(ps, it)) {
            ct_json_free_inner(it);
            free(key);
            goto fail;
        }
        v->count++;
        skip_ws(ps);
        if (ps->pos < ps->len && ps->s[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->s[ps->pos] == '}') {
            ps->pos++;
            break;
        }
        perr(ps, ps->pos, "expected ',' or '}' in object (opened at byte %zu), found %s", ps->base + start,
             describe(ps, ps->pos, d, sizeof d));
        goto fail;
    }
    if (check_duplicates(ps, v, key_offs)) goto fail;
    free(key_offs);
    ps->depth--;
    return 0;
fail:
    free(key_offs);
    return ps->failed;
}

static int parse_value(parser *ps, ct_json *v)
{
    char d[16];
    if (ps->pos >= ps->len) return perr(ps, ps->pos, "unexpected end of input (expected a value)");
    if (ps->max_values && ++ps->values > ps->max_values)
        return perr(ps, ps->pos, "more than %zu values, the most accepted here", ps->max_values);
    v->offset = ps->base + ps->pos;
    unsigned char c = ps->s[ps->pos];
    switch (c) {
    case '{': return parse_object(ps, v);
    case '[': return parse_array(ps, v);
    case '"':
        v->type = CT_JSON_STRING;
        return parse_string(ps, &v->str, &v->str_len);
    case 't':
        v->type = CT_JSON_BOOL;
        v->boolean = 1;
        return expect_literal(ps, "true");
    case 'f':
        v->type = CT_JSON_BOOL;
        v->boolean = 0;
        return expect_literal(ps, "false");
    case 'n':
        v->type = CT_JSON_NULL;
        return expect_literal(ps, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, v);
        if (c == 0xEF && ps->pos == 0) return perr(ps, 0, "byte order mark at the start (not allowed in JSON)");
        return perr(ps, ps->pos, "unexpected %s (expected a value)", describe(ps, ps->pos, d, sizeof d));
    }
}

int ct_json_parse_limited(const char *text, size_t len, const char *name, size_t base_offset, size_t max_values,
                          ct_json **out)
{
    *out = NULL;
    parser ps = {(const unsigned char *)text, len, 0, name, base_offset, 0, 0, 0, max_values};
    if (!text && len) return ct_fail(CT_ERR_INPUT, "%s: no JSON text", name ? name : "JSON");
    ct_json *root = calloc(1, sizeof *root);
    if (!root) return pnomem(&ps);
    skip_ws(&ps);
    if (parse_value(&ps, root) == 0) {
        skip_ws(&ps);
        if (ps.pos != ps.len) {
            char d[16];
            perr(&ps, ps.pos, "unexpected %s after the end of the JSON value", describe(&ps, ps.pos, d, sizeof d));
        }
    }
    if (ps.failed) {
        ct_json_free(root);
        return ps.failed;
    }
    *out = root;
    return 0;
}

int ct_json_parse_ex(const char *text, size_t len, const char *name, size_t base_offset, ct_json **out)
{
    return ct_json_parse_limited(text, len, name, base_offset, 0, out);
}

int ct_json_parse(const char *text, size_t len, const char *name, ct_json **out)
{
    return ct_json_parse_ex(text, len, name, 0, out);
}

/* --- lookups ------------------------------------------------------------------------------ */

const char *ct_json_type_name(ct_json_type t)
{
    switch (t) {
    case CT_JSON_NULL: return "null";
    case CT_JSON_BOOL: return "boolean";
    case CT_JSON_NUMBER: return "number";
    case CT_JSON_STRING: return "string";
    case CT_JSON_ARRAY: return "array";
    case CT_JSON_OBJECT: return "object";
    }
    return "?";
}

const ct_json *ct_json_get(const ct_json *obj, const char *key)
{
    if (!obj || obj->type != CT_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->key_lens[i] == n && memcmp(obj->keys[i], key, n) == 0) return &obj->items[i];
    return NULL;
}

const ct_json *ct_json_at(const ct_json *v, size_t i)
{
    if (!v || (v->type != CT_JSON_ARRAY && v->type != CT_JSON_OBJECT) || i >= v->count) return NULL;
    return &v->items[i];
}

const char *ct_json_key_at(const ct_json *obj, size_t i)
{
    if (!obj || obj->type != CT_JSON_OBJECT || i >= obj->count) return NULL;
    return obj->keys[i];
}

size_t ct_json_count(const ct_json *v)
{
    if (!v || (v->type != CT_JSON_ARRAY && v->type != CT_JSON_OBJECT)) return 0;
    return v->count;
}

const char *ct_json_string(const ct_json *v)
{
    return (v && v->type == CT_JSON_STRING) ? v->str : NULL;
}

int ct_json_as_int64(const ct_json *v, int64_t *out)
{
    if (!v || v->type != CT_JSON_NUMBER || !v->is_int) return 0;
    *out = v->integer;
    return 1;
}

int ct_json_as_double(const ct_json *v, double *out)
{
    if (!v || v->type != CT_JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

int ct_json_as_bool(const ct_json *v, int *out)
{
    if (!v || v->type != CT_JSON_BOOL) return 0;
    *out = v->boolean;
    return 1;
}

const char *ct_json_get_string(const ct_json *obj, const char *key, const char *fallback)
{
    const char *s = ct_json_string(ct_json_get(obj, key));
    return s ? s : fallback;
}

double ct_json_get_double(const ct_json *obj, const char *key, double fallback)
{
    double d;
    return ct_json_as_double(ct_json_get(obj, key), &d) ? d : fallback;
}

int64_t ct_json_get_int64(const ct_json *obj, const char *key, int64_t fallback)
{
    int64_t i;
    return ct_json_as_int64(ct_json_get(obj, key), &i) ? i : fallback;
}

/* --- writer ------------------------------------------------------------------------------- */

void ct_jw_init(ct_jw *w)
{
    memset(w, 0, sizeof *w);
}

void ct_jw_free(ct_jw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void jw_put(ct_jw *w, const char *s, size_t n)
{
    if (w->err) return;
    if (w->len + n + 1 > w->cap) {
        size_t nc = w->cap ? w->cap : 256;
        while (nc < w->len + n + 1) {
            if (nc > SIZE_MAX / 2) {
                w->err = CT_ERR_NOMEM;
                return;
            }
            nc *= 2;
        }
        char *nb = realloc(w->buf, nc);
        if (!nb) {
            w->err = CT_ERR_NOMEM;
            return;
        }
        w->buf = nb;
        w->cap = nc;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void jw_puts(ct_jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

/* Comma and placement checks before a value. */
static void jw_before_value(ct_jw *w)
{
    if (w->err) return;
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->is_object[w->depth]) { /* a value in an object needs a key first */
        w->err = CT_ERR_RUNTIME;
        return;
    }
    if (w->has_items[w->depth]) {
        if (w->depth == 0) { /* a second top-level value */
            w->err = CT_ERR_RUNTIME;
            return;
        }
        jw_put(w, ",", 1);
    }
    w->has_items[w->depth] = 1;
}

static void jw_open(ct_jw *w, int object)
{
    jw_before_value(w);
    if (w->err) return;
    if (w->depth >= CT_JSON_MAX_DEPTH) {
        w->err = CT_ERR_RUNTIME;
        return;
    }
    jw_put(w, object ? "{" : "[", 1);
    w->depth++;
    w->has_items[w->depth] = 0;
    w->is_object[w->depth] = (unsigned char)object;
}

static void jw_close(ct_jw *w, int object)
{
    if (w->err) return;
    if (w->depth == 0 || w->is_object[w->depth] != object || w->after_key) {
        w->err = CT_ERR_RUNTIME;
        return;
    }
    w->depth--;
    jw_put(w, object ? "}" : "]", 1);
}

void ct_jw_begin_object(ct_jw *w) { jw_open(w, 1); }
void ct_jw_end_object(ct_jw *w) { jw_close(w, 1); }
void ct_jw_begin_array(ct_jw *w) { jw_open(w, 0); }
void ct_jw_end_array(ct_jw *w) { jw_close(w, 0); }

static void jw_escaped(ct_jw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    jw_put(w, "\"", 1);
    size_t run = 0; /* start of a run of bytes to copy unchanged */
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        const char *rep = NULL;
        char tmp[8];
        size_t adv = 1;
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c == '\b')
            rep = "\\b";
        else if (c == '\f')
            rep = "\\f";
        else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            rep = tmp;
        } else if (c >= 0x80) {
            adv = utf8_seq(p + i, n - i);
            if (adv == 0) {
                rep = "\\ufffd";
                adv = 1;
            }
        }
        if (rep) {
            jw_put(w, s + run, i - run);
            jw_puts(w, rep);
            run = i + adv;
        }
        i += adv;
    }
    jw_put(w, s + run, n - run);
    jw_put(w, "\"", 1);
}

void ct_jw_key(ct_jw *w, const char *key)
{
    if (w->err) return;
    if (!w->is_object[w->depth] || w->depth == 0 || w->after_key) {
        w->err = CT_ERR_RUNTIME;
        return;
    }
    if (w->has_items[w->depth]) jw_put(w, ",", 1);
    w->has_items[w->depth] = 1;
    jw_escaped(w, key ? key : "", key ? strlen(key) : 0);
    jw_put(w, ":", 1);
    w->after_key = 1;
}

void ct_jw_string_n(ct_jw *w, const char *s, size_t len)
{
    jw_before_value(w);
    jw_escaped(w, s ? s : "", s ? len : 0);
}

void ct_jw_string(ct_jw *w, const char *s)
{
    ct_jw_string_n(w, s, s ? strlen(s) : 0);
}

void ct_jw_int(ct_jw *w, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    jw_before_value(w);
    jw_puts(w, b);
}

void ct_jw_uint(ct_jw *w, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    jw_before_value(w);
    jw_puts(w, b);
}

void ct_json_format_double(char *buf, size_t cap, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, "null");
        return;
    }
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* locales with a decimal comma: JSON needs '.' */
    for (char *t = tmp; *t; t++)
        if (*t == ',') *t = '.';
    snprintf(buf, cap, "%s", tmp);
}

void ct_jw_double(ct_jw *w, double v)
{
    char b[64];
    ct_json_format_double(b, sizeof b, v);
    jw_before_value(w);
    jw_puts(w, b);
}

void ct_jw_bool(ct_jw *w, int v)
{
    jw_before_value(w);
    jw_puts(w, v ? "true" : "false");
}

void ct_jw_null(ct_jw *w)
{
    jw_before_value(w);
    jw_puts(w, "null");
}

void ct_jw_raw(ct_jw *w, const char *json)
{
    jw_before_value(w);
    jw_puts(w, json ? json : "null");
}

int ct_jw_finish(ct_jw *w, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    if (!w->err && (w->depth != 0 || w->after_key)) w->err = CT_ERR_RUNTIME;
    if (!w->err && !w->buf) jw_put(w, "", 0);
    if (w->err) {
        int e = w->err;
        ct_jw_free(w);
        if (e == CT_ERR_NOMEM) return ct_fail(CT_ERR_NOMEM, "out of host memory while writing JSON");
        return ct_fail(CT_ERR_RUNTIME, "JSON writer misused (unbalanced objects/arrays, a value without a key, or "
                                       "nesting deeper than %d); this is a bug in cltrain", CT_JSON_MAX_DEPTH);
    }
    *out = w->buf;
    if (len) *len = w->len;
    memset(w, 0, sizeof *w);
    return CT_OK;
}
