/* jsonutil.c: cltrain's helpers on jansson. See jsonutil.h. */
#include "io/jsonutil.h"

#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reading ------------------------------------------------------------------------------ */

/* Bounds check of the raw text before jansson sees it: nesting depth, and an upper bound on
 * the number of values (every value but the first follows a '[', '{', ',' or ':'). Strings
 * are skipped (jansson checks them). Returns CT_OK or a failure naming the byte. */
static int prescan(const char *text, size_t len, const char *name, size_t base, size_t max_values)
{
    int depth = 0, in_str = 0, esc = 0;
    size_t values = 1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > CT_JSON_MAX_DEPTH)
                return ct_fail(CT_ERR_INPUT, "%s: invalid JSON at byte %zu: nesting deeper than %d levels", name,
                               base + i, CT_JSON_MAX_DEPTH);
            values++;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',' || c == ':') {
            values++;
        }
        if (max_values && values > max_values)
            return ct_fail(CT_ERR_INPUT, "%s: JSON holds more than %zu values (at byte %zu); cltrain refuses "
                           "documents this large", name, max_values, base + i);
    }
    return CT_OK;
}

int ct_jparse(const char *text, size_t len, const char *name, size_t base_offset, size_t max_values, json_t **out)
{
    *out = NULL;
    if (!name) name = "JSON";
    if (!text) return ct_fail(CT_ERR_INPUT, "%s: no JSON text", name);
    int rc = prescan(text, len, name, base_offset, max_values);
    if (rc) return rc;
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!v) {
        if (json_error_code(&err) == json_error_out_of_memory)
            return ct_fail(CT_ERR_NOMEM, "%s: out of host memory reading JSON", name);
        const char *what = err.text;
        if (json_error_code(&err) == json_error_null_character)
            what = "a string holds a NUL character (\\u0000), which cltrain cannot use";
        return ct_fail(CT_ERR_INPUT, "%s: invalid JSON at byte %zu: %s", name, base_offset + (size_t)err.position,
                       what);
    }
    *out = v;
    return CT_OK;
}

int ct_jas_int64(const json_t *v, int64_t *out)
{
    if (!json_is_integer(v)) return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

int ct_jas_double(const json_t *v, double *out)
{
    if (!json_is_number(v)) return 0;
    *out = json_number_value(v);
    return 1;
}

const char *ct_jget_string(const json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : fallback;
}

double ct_jget_double(const json_t *obj, const char *key, double fallback)
{
    double d;
    return ct_jas_double(json_object_get(obj, key), &d) ? d : fallback;
}

int64_t ct_jget_int64(const json_t *obj, const char *key, int64_t fallback)
{
    int64_t i;
    return ct_jas_int64(json_object_get(obj, key), &i) ? i : fallback;
}

const char *ct_jtype_a(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* --- building ----------------------------------------------------------------------------- */

json_t *ct_jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Bytes of the UTF-8 sequence at p if jansson accepts it as a string, else 0. */
static size_t valid_seq(const unsigned char *p, size_t n)
{
    size_t want = p[0] < 0x80 ? 1 : p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    if (want > n) return 0;
    json_t *t = json_stringn((const char *)p, want);
    json_decref(t);
    return t ? want : 0;
}

json_t *ct_jstrn(const char *s, size_t n)
{
    if (!s) return json_string("");
    json_t *v = json_stringn(s, n);
    if (v) return v;
    /* invalid UTF-8: replace each bad byte with U+FFFD */
    char *t = malloc(3 * n + 1);
    if (!t) return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = valid_seq(p + i, n - i);
        if (k) {
            memcpy(t + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(t + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    v = json_stringn(t, o);
    free(t);
    return v;
}

int ct_jutf8_valid(const char *s, size_t n)
{
    json_t *t = json_stringn(s, n);
    json_decref(t);
    return t != NULL;
}

json_t *ct_jstr(const char *s)
{
    return ct_jstrn(s, s ? strlen(s) : 0);
}

json_t *ct_jraw(const char *json)
{
    if (!json) return json_null();
    return json_loads(json, JSON_DECODE_ANY, NULL);
}

/* --- writing ------------------------------------------------------------------------------ */

void ct_jformat_double(char *buf, size_t cap, double v)
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
    for (char *t = tmp; *t; t++) /* locales with a decimal comma: JSON needs '.' */
        if (*t == ',') *t = '.';
    if (!strpbrk(tmp, ".en")) strncat(tmp, ".0", sizeof tmp - strlen(tmp) - 1); /* a real reads back as a real */
    snprintf(buf, cap, "%s", tmp);
}

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *nb = realloc(b->buf, nc);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* a string value or key, escaped by jansson */
static void put_string(sbuf *b, const char *s, size_t n)
{
    json_t *t = json_stringn_nocheck(s, n);
    char *e = t ? json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(t);
    if (!e) {
        b->oom = 1;
        return;
    }
    puts_(b, e);
    free(e);
}

static void dump(sbuf *b, const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        put(b, "{", 1);
        json_object_foreach((json_t *)v, k, x) {
            if (!first) put(b, ",", 1);
            first = 0;
            put_string(b, k, strlen(k));
            put(b, ":", 1);
            dump(b, x);
        }
        put(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) put(b, ",", 1);
            dump(b, json_array_get(v, i));
        }
        put(b, "]", 1);
        break;
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        puts_(b, num);
        break;
    case JSON_REAL:
        ct_jformat_double(num, sizeof num, json_real_value(v));
        puts_(b, num);
        break;
    case JSON_TRUE: puts_(b, "true"); break;
    case JSON_FALSE: puts_(b, "false"); break;
    case JSON_NULL: puts_(b, "null"); break;
    }
}

int ct_jdump(const json_t *v, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    sbuf b = {0};
    if (v) dump(&b, v);
    if (!v || b.oom || !b.buf) {
        free(b.buf);
        return ct_fail(CT_ERR_NOMEM, "out of host memory while writing JSON");
    }
    *out = b.buf;
    if (len) *len = b.len;
    return CT_OK;
}

int ct_jdump_take(json_t *v, char **out, size_t *len)
{
    int rc = ct_jdump(v, out, len);
    json_decref(v);
    return rc;
}

size_t ct_json_escape(char *buf, size_t cap, const char *s)
{
    json_t *t = ct_jstr(s ? s : "");
    char *e = t ? json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(t);
    size_t n = e ? strlen(e) : 2;
    if (cap) snprintf(buf, cap, "%s", e ? e : "\"\"");
    free(e);
    return n;
}
