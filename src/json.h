/* json.h: a small strict RFC 8259 JSON parser (into a DOM) and a JSON writer.
 *
 * Parser: strict grammar (no comments, no trailing commas, no NaN/Infinity, no BOM, no
 * leading zeros), strings checked for valid UTF-8 and decoded (\u escapes including surrogate
 * pairs; lone surrogates are rejected), nesting depth capped at CT_JSON_MAX_DEPTH, duplicate
 * object keys rejected. Objects keep their key order. Numbers are kept as double; integer
 * literals that fit int64 are also kept exactly (is_int). Every error names the byte offset.
 * Memory use is bounded by a small multiple of the input length.
 *
 * Writer: a string builder with automatic commas; strings are escaped (invalid UTF-8 becomes
 * U+FFFD), integers are exact, doubles are printed shortest-roundtrip (at most 17 digits),
 * non-finite doubles as null. */
#ifndef CLTRAIN_JSON_H
#define CLTRAIN_JSON_H

#include <stddef.h>
#include <stdint.h>

#define CT_JSON_MAX_DEPTH 64

typedef enum {
    CT_JSON_NULL = 0,
    CT_JSON_BOOL,
    CT_JSON_NUMBER,
    CT_JSON_STRING,
    CT_JSON_ARRAY,
    CT_JSON_OBJECT
} ct_json_type;

typedef struct ct_json ct_json;
struct ct_json {
    ct_json_type type;
    size_t offset;     /* byte offset of the value's first character in the parsed text */
    int boolean;       /* CT_JSON_BOOL: 0 or 1 */
    double number;     /* CT_JSON_NUMBER: value as double (may be +-inf when out of range) */
    int is_int;        /* CT_JSON_NUMBER: 1 when written without fraction/exponent and fits int64 */
    int64_t integer;   /* CT_JSON_NUMBER with is_int: the exact value */
    char *str;         /* CT_JSON_STRING: decoded UTF-8, NUL-terminated (may hold \u0000 inside) */
    size_t str_len;    /* CT_JSON_STRING: bytes in str, excluding the terminating NUL */
    size_t count;      /* CT_JSON_ARRAY / CT_JSON_OBJECT: number of elements / members */
    ct_json *items;    /* CT_JSON_ARRAY: elements; CT_JSON_OBJECT: member values, in file order */
    char **keys;       /* CT_JSON_OBJECT: member keys (decoded, NUL-terminated), in file order */
    size_t *key_lens;  /* CT_JSON_OBJECT: bytes in each key */
};

/* Parses `len` bytes of JSON text. `name` is used in error messages ("NAME: invalid JSON at
 * byte 12: ..."). On success *out is a tree to free with ct_json_free. On failure returns
 * CT_ERR_INPUT (or CT_ERR_NOMEM) with ct_last_error() set, and *out is NULL. */
int ct_json_parse(const char *text, size_t len, const char *name, ct_json **out);
/* Same, with `base_offset` added to every byte offset in error messages (for JSON embedded at
 * some offset of a larger file). */
int ct_json_parse_ex(const char *text, size_t len, const char *name, size_t base_offset, ct_json **out);
/* Same, refusing documents with more than max_values values (0 = no limit beyond the input
 * length). Each value costs about sizeof(ct_json) bytes, so this bounds memory for large
 * hostile inputs such as a 100 MB array of zeros. */
int ct_json_parse_limited(const char *text, size_t len, const char *name, size_t base_offset, size_t max_values,
                          ct_json **out);
void ct_json_free(ct_json *v);

/* --- lookup helpers (all NULL-safe) ------------------------------------------------------ */
const char *ct_json_type_name(ct_json_type t);
/* Object member by key (NULL when v is not an object or has no such key). */
const ct_json *ct_json_get(const ct_json *obj, const char *key);
/* Array element / object value by position (NULL when out of range). */
const ct_json *ct_json_at(const ct_json *v, size_t i);
/* Object key by position (NULL when out of range or not an object). */
const char *ct_json_key_at(const ct_json *obj, size_t i);
/* Element or member count (0 for scalars and NULL). */
size_t ct_json_count(const ct_json *v);
/* String value or NULL when v is not a string. */
const char *ct_json_string(const ct_json *v);
/* Conversions: return 1 and store the value when v has the right type, else 0.
 * ct_json_as_int64 accepts only exact integer literals (no fraction or exponent). */
int ct_json_as_int64(const ct_json *v, int64_t *out);
int ct_json_as_double(const ct_json *v, double *out);
int ct_json_as_bool(const ct_json *v, int *out);
/* Convenience: member lookups with a fallback value when missing or of the wrong type. */
const char *ct_json_get_string(const ct_json *obj, const char *key, const char *fallback);
double ct_json_get_double(const ct_json *obj, const char *key, double fallback);
int64_t ct_json_get_int64(const ct_json *obj, const char *key, int64_t fallback);

/* --- writer ------------------------------------------------------------------------------ */
typedef struct {
    char *buf;        /* NUL-terminated text written so far */
    size_t len, cap;
    int err;          /* sticky: 0, CT_ERR_NOMEM, or CT_ERR_RUNTIME for misuse (unbalanced, depth) */
    int depth;
    int after_key;    /* a key was just written: the next value needs no comma */
    unsigned char has_items[CT_JSON_MAX_DEPTH + 1]; /* per level: something written already */
    unsigned char is_object[CT_JSON_MAX_DEPTH + 1];
} ct_jw;

void ct_jw_init(ct_jw *w);
void ct_jw_free(ct_jw *w);
void ct_jw_begin_object(ct_jw *w);
void ct_jw_end_object(ct_jw *w);
void ct_jw_begin_array(ct_jw *w);
void ct_jw_end_array(ct_jw *w);
void ct_jw_key(ct_jw *w, const char *key);
void ct_jw_string(ct_jw *w, const char *s);
void ct_jw_string_n(ct_jw *w, const char *s, size_t len);
void ct_jw_int(ct_jw *w, int64_t v);
void ct_jw_uint(ct_jw *w, uint64_t v);
void ct_jw_double(ct_jw *w, double v);      /* shortest text that reads back to the same double */
void ct_jw_bool(ct_jw *w, int v);
void ct_jw_null(ct_jw *w);
/* Inserts already-serialised JSON text as one value (not checked). */
void ct_jw_raw(ct_jw *w, const char *json);
/* Takes the text: on success *out (malloc'd, NUL-terminated; caller frees) and *len, and the
 * writer is reset. Returns CT_ERR_NOMEM after an allocation failure or CT_ERR_RUNTIME when
 * objects/arrays are unbalanced. */
int ct_jw_finish(ct_jw *w, char **out, size_t *len);

/* Checks that n bytes are valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF). Returns 1 when valid; else 0 and the offset of the first bad byte in *bad_at. */
int ct_utf8_valid(const char *s, size_t n, size_t *bad_at);

/* Formats a double shortest-roundtrip into buf (at least 32 bytes); "null" when not finite. */
void ct_json_format_double(char *buf, size_t cap, double v);

#endif
