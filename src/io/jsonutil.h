/* jsonutil.h: cltrain's few helpers on jansson (all JSON is read and written by jansson).
 *
 * Reading: ct_jparse() is jansson's strict parser (JSON_REJECT_DUPLICATES, no \u0000, no
 * trailing data) behind a cheap bounds check of the raw text (nesting depth and a cap on the
 * number of values, so a hostile header cannot make jansson allocate without limit); every
 * error reads "NAME: invalid JSON at byte N: what".
 * Writing: build a tree with jansson (json_pack, json_object_set_new, ...) using ct_jreal()
 * for doubles (null when not finite) and ct_jstr() for C strings (invalid UTF-8 becomes
 * U+FFFD), then ct_jdump(): compact text in insertion order, strings escaped by jansson,
 * doubles in the shortest form that reads back to the same value (jansson itself prints 17
 * significant digits, e.g. 0.1 as 0.10000000000000001). */
#ifndef CLTRAIN_JSONUTIL_H
#define CLTRAIN_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CT_JSON_MAX_DEPTH 64

/* Parses len bytes. base_offset is added to byte offsets in messages (JSON embedded in a
 * larger file); max_values caps the number of values (0: only the length bounds it). On
 * success *out is a new reference; on failure CT_ERR_INPUT/CT_ERR_NOMEM with ct_last_error()
 * set and *out NULL. */
int ct_jparse(const char *text, size_t len, const char *name, size_t base_offset, size_t max_values, json_t **out);

/* Value builders (new references; NULL only when out of memory). */
json_t *ct_jreal(double v);          /* a real, or null when v is NaN or infinite */
json_t *ct_jstr(const char *s);      /* a string ("" for NULL); invalid UTF-8 bytes -> U+FFFD */
json_t *ct_jstrn(const char *s, size_t n);
json_t *ct_jraw(const char *json);   /* parses JSON text written by ct_jdump (null for NULL) */

/* 1 when the n bytes at s are valid UTF-8 (as jansson checks strings), else 0. */
int ct_jutf8_valid(const char *s, size_t n);

/* Compact text of v (see above): *out malloc'd and NUL-terminated, *len its length (len may be
 * NULL). Returns CT_OK, or CT_ERR_NOMEM (also when v is NULL: a builder ran out of memory). */
int ct_jdump(const json_t *v, char **out, size_t *len);
/* ct_jdump, then drops the reference to v. */
int ct_jdump_take(json_t *v, char **out, size_t *len);
/* The shortest text that reads back to v ("null" when not finite); buf holds >= 32 bytes. */
void ct_jformat_double(char *buf, size_t cap, double v);
/* s as a JSON string literal, with quotes, truncated to fit cap (as snprintf); returns the
 * length the full literal needs. */
size_t ct_json_escape(char *buf, size_t cap, const char *s);

/* Reading values: 1 and *out set when v has the right type, else 0. ct_jas_int64 accepts
 * integer literals only; ct_jas_double integers and reals. */
int ct_jas_int64(const json_t *v, int64_t *out);
int ct_jas_double(const json_t *v, double *out);
/* Member lookups with a fallback when missing or of another type. */
const char *ct_jget_string(const json_t *obj, const char *key, const char *fallback);
double ct_jget_double(const json_t *obj, const char *key, double fallback);
int64_t ct_jget_int64(const json_t *obj, const char *key, int64_t fallback);
/* "an object", "a number", "null", ... for messages. */
const char *ct_jtype_a(const json_t *v);

#endif
