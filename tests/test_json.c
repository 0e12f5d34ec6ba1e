/* test_json.c: the strict JSON parser (accept/reject lists, decoding, offsets, duplicates,
 * depth) and the writer (escaping, numbers, round trips). */
#include "common.h"
#include "json.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parses(const char *s)
{
    ct_json *v = NULL;
    int rc = ct_json_parse(s, strlen(s), "t", &v);
    ct_json_free(v);
    return rc == CT_OK;
}

/* Expects a rejection whose message contains `want` (and "at byte AT" when at >= 0). */
static void rejects(const char *s, size_t len, const char *want, long at)
{
    ct_json *v = (ct_json *)1;
    int rc = ct_json_parse(s, len, "doc.json", &v);
    const char *e = ct_last_error();
    char atbuf[48];
    snprintf(atbuf, sizeof atbuf, "at byte %ld:", at);
    TU_CHECK(rc == CT_ERR_INPUT && v == NULL, "should reject [%.*s]", (int)len, s);
    TU_CHECK(strstr(e, want) != NULL, "[%.*s]: message '%s' lacks '%s'", (int)len, s, e, want);
    TU_CHECK(strncmp(e, "doc.json: ", 10) == 0, "message names the document: %s", e);
    if (at >= 0) TU_CHECK(strstr(e, atbuf) != NULL, "[%.*s]: message '%s' lacks '%s'", (int)len, s, e, atbuf);
}
#define REJ(s, want, at) rejects(s, sizeof(s) - 1, want, at)

static void test_accept(void)
{
    const char *ok[] = {"0", "-0", "1", "-1", "1.5", "1e5", "1E+5", "1e-5", "-0.0e0", "123456789012345678901234567890",
                        "\"\"", "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"",
                        "true", "false", "null", "[]", "{}", " [ 1 , 2 ] ", "{\"a\":{\"b\":[null]}}", "\t\r\n1\n",
                        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "[1,[2,[3]]]", "{\"\":1}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) TU_CHECK(parses(ok[i]), "accepts %s: %s", ok[i], ct_last_error());
}

static void test_reject(void)
{
    REJ("", "unexpected end of input", 0);
    REJ("   ", "unexpected end of input", 3);
    REJ("[1,]", "unexpected ']'", 3);
    REJ("{\"a\":1,}", "expected a string key", 7);
    REJ("{'a':1}", "expected a string key", 1);
    REJ("{\"a\" 1}", "expected ':'", 5);
    REJ("[1 2]", "expected ',' or ']'", 3);
    REJ("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
    REJ("01", "leading zeros", 0);
    REJ("-", "expected a digit", 1);
    REJ("1.", "after the decimal point", 2);
    REJ(".5", "unexpected '.'", 0);
    REJ("1e", "exponent", 2);
    REJ("+1", "unexpected '+'", 0);
    REJ("NaN", "unexpected 'N'", 0);
    REJ("Infinity", "unexpected 'I'", 0);
    REJ("tru", "unexpected 't'", 0);
    REJ("nul", "unexpected 'n'", 0);
    REJ("1 2", "after the end of the JSON value", 2);
    REJ("{} x", "after the end", 3);
    REJ("\"abc", "not terminated", 0);
    REJ("\"a\\x\"", "invalid escape", 3);
    REJ("\"\\u12\"", "bad \\u escape", 1);
    REJ("\"\\ud800\"", "lone UTF-16 high surrogate", 1);
    REJ("\"\\ud800\\u0041\"", "lone UTF-16 high surrogate", 1);
    REJ("\"\\udc00\"", "lone UTF-16 low surrogate", 1);
    REJ("\"a\tb\"", "control character 0x09", 2);
    REJ("\"\x01\"", "control character 0x01", 1);
    REJ("\"\xff\"", "invalid UTF-8 byte 0xff", 1);
    REJ("\"\xc0\xaf\"", "invalid UTF-8", 1);             /* overlong '/' */
    REJ("\"\xe0\x80\xaf\"", "invalid UTF-8", 1);         /* overlong */
    REJ("\"\xed\xa0\x80\"", "invalid UTF-8", 1);         /* encoded surrogate */
    REJ("\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1);     /* above U+10FFFF */
    REJ("\"\xe2\x82\"", "invalid UTF-8", 1);             /* truncated sequence */
    REJ("\xef\xbb\xbf{}", "byte order mark", 0);
    REJ("[1] /* c */", "after the end", 4);
    REJ("\xc3\xa9", "unexpected byte 0xc3", 0);
    rejects("[1\0]", 4, "byte 0x00", 2);
    REJ("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"", 13);
    REJ("{\"a\":1,\"b\":2,\"a\":3}", "first at byte 1", -1);
    REJ("{\"x\":{\"k\":1,\"k\":1}}", "duplicate key \"k\"", 12);
}

static void test_depth(void)
{
    char buf[300];
    for (int d = 63; d <= 66; d++) {
        memset(buf, '[', (size_t)d);
        memset(buf + d, ']', (size_t)d);
        ct_json *v = NULL;
        int rc = ct_json_parse(buf, 2 * (size_t)d, "deep", &v);
        if (d <= CT_JSON_MAX_DEPTH)
            TU_CHECK(rc == CT_OK, "depth %d accepted: %s", d, ct_last_error());
        else
            TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "nesting deeper than 64") &&
                         strstr(ct_last_error(), "at byte 64:"), "depth %d rejected: %s", d, ct_last_error());
        ct_json_free(v);
    }
    /* a very deep document must not exhaust the stack */
    size_t n = 1000000;
    char *deep = malloc(n);
    memset(deep, '{', n);
    ct_json *v = NULL;
    TU_CHECK(ct_json_parse(deep, n, "deep", &v) == CT_ERR_INPUT, "a million '{'");
    free(deep);
}

static void test_values(void)
{
    const char *doc = "{\"name\":\"caf\\u00e9 \\ud83d\\ude00\",\"n\":-9223372036854775808,\"big\":9223372036854775808,"
                      "\"pi\":3.25,\"e\":1e3,\"t\":true,\"f\":false,\"z\":null,\"arr\":[1,\"two\",[3]],"
                      "\"nul\":\"a\\u0000b\",\"max\":9223372036854775807,\"neg0\":-0}";
    ct_json *v = NULL;
    int rc = ct_json_parse(doc, strlen(doc), "values", &v);
    TU_CHECK(rc == CT_OK, "%s", ct_last_error());
    if (rc) return;
    TU_CHECK(v->type == CT_JSON_OBJECT && ct_json_count(v) == 12, "12 members");
    TU_CHECK(strcmp(ct_json_key_at(v, 0), "name") == 0 && strcmp(ct_json_key_at(v, 11), "neg0") == 0, "key order kept");
    TU_CHECK(strcmp(ct_json_get_string(v, "name", ""), "caf\xc3\xa9 \xf0\x9f\x98\x80") == 0, "escapes decoded");
    int64_t i;
    TU_CHECK(ct_json_as_int64(ct_json_get(v, "n"), &i) && i == INT64_MIN, "INT64_MIN exact");
    TU_CHECK(ct_json_as_int64(ct_json_get(v, "max"), &i) && i == INT64_MAX, "INT64_MAX exact");
    TU_CHECK(!ct_json_as_int64(ct_json_get(v, "big"), &i), "2^63 is not an int64");
    TU_CHECK(ct_json_get_double(v, "big", 0) == 9223372036854775808.0, "but is a double");
    TU_CHECK(!ct_json_as_int64(ct_json_get(v, "e"), &i), "1e3 is not an integer literal");
    TU_CHECK(ct_json_get_double(v, "e", 0) == 1000.0 && ct_json_get_double(v, "pi", 0) == 3.25, "doubles");
    TU_CHECK(ct_json_as_int64(ct_json_get(v, "neg0"), &i) && i == 0, "-0 is integer 0");
    int b;
    TU_CHECK(ct_json_as_bool(ct_json_get(v, "t"), &b) && b == 1, "true");
    TU_CHECK(ct_json_as_bool(ct_json_get(v, "f"), &b) && b == 0, "false");
    TU_CHECK(ct_json_get(v, "z") && ct_json_get(v, "z")->type == CT_JSON_NULL, "null");
    const ct_json *arr = ct_json_get(v, "arr");
    TU_CHECK(ct_json_count(arr) == 3 && ct_json_get_int64(v, "missing", 7) == 7, "array + fallback");
    TU_CHECK(strcmp(ct_json_string(ct_json_at(arr, 1)), "two") == 0, "array string");
    TU_CHECK(ct_json_count(ct_json_at(arr, 2)) == 1 && ct_json_at(arr, 3) == NULL, "nested / out of range");
    const ct_json *nul = ct_json_get(v, "nul");
    TU_CHECK(nul && nul->str_len == 3 && nul->str[1] == 0 && nul->str[2] == 'b', "embedded NUL kept with length");
    TU_CHECK(ct_json_get(v, "arr")->offset == (size_t)(strstr(doc, "[1,") - doc), "value offsets");
    TU_CHECK(ct_json_get(NULL, "x") == NULL && ct_json_string(NULL) == NULL, "NULL-safe");
    ct_json_free(v);

    /* offsets with a base: JSON inside a larger file */
    rc = ct_json_parse_ex("[1,,]", 5, "file.bin", 100, &v);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "at byte 103:"), "base offset: %s", ct_last_error());

    /* value budget */
    rc = ct_json_parse_limited("[1,2,3,4]", 9, "lim", 0, 5, &v);
    TU_CHECK(rc == CT_OK, "5 values within a budget of 5: %s", ct_last_error());
    ct_json_free(v);
    rc = ct_json_parse_limited("[1,2,3,4,[5]]", 13, "lim", 0, 5, &v);
    TU_CHECK(rc == CT_ERR_INPUT && v == NULL && strstr(ct_last_error(), "more than 5 values") &&
                 strstr(ct_last_error(), "at byte 9:"), "budget exceeded: %s", ct_last_error());

    /* many keys: duplicate detection on the sorted path */
    char *big = malloc(200000);
    size_t o = 0;
    o += (size_t)sprintf(big + o, "{");
    for (int k = 0; k < 5000; k++) o += (size_t)sprintf(big + o, "%s\"k%d\":%d", k ? "," : "", k, k);
    o += (size_t)sprintf(big + o, "}");
    rc = ct_json_parse(big, o, "big", &v);
    TU_CHECK(rc == CT_OK && ct_json_count(v) == 5000 && ct_json_get_int64(v, "k4999", -1) == 4999, "5000 keys");
    ct_json_free(v);
    o--; /* replace the closing brace with a repeated key */
    o += (size_t)sprintf(big + o, ",\"k17\":0,\"k3\":1}");
    rc = ct_json_parse(big, o, "big", &v);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "duplicate key \"k17\""), "dup among 5000: %s",
             ct_last_error());
    free(big);
}

static void test_writer(void)
{
    ct_jw w;
    ct_jw_init(&w);
    ct_jw_begin_object(&w);
    ct_jw_key(&w, "s");
    ct_jw_string(&w, "q\"b\\n\n\t\x01 \xc3\xa9 \xff end");
    ct_jw_key(&w, "i");
    ct_jw_int(&w, INT64_MIN);
    ct_jw_key(&w, "u");
    ct_jw_uint(&w, UINT64_MAX);
    ct_jw_key(&w, "d");
    ct_jw_begin_array(&w);
    ct_jw_double(&w, 0.1);
    ct_jw_double(&w, 1.0 / 3.0);
    ct_jw_double(&w, 1e300);
    ct_jw_double(&w, -0.0);
    ct_jw_double(&w, 5e-324);
    ct_jw_double(&w, NAN);
    ct_jw_double(&w, 0.001);
    ct_jw_end_array(&w);
    ct_jw_key(&w, "o");
    ct_jw_begin_object(&w);
    ct_jw_end_object(&w);
    ct_jw_key(&w, "b");
    ct_jw_bool(&w, 1);
    ct_jw_key(&w, "n");
    ct_jw_null(&w);
    ct_jw_key(&w, "raw");
    ct_jw_raw(&w, "[1,2]");
    ct_jw_end_object(&w);
    char *out;
    size_t len;
    int rc = ct_jw_finish(&w, &out, &len);
    TU_CHECK(rc == CT_OK, "%s", ct_last_error());
    if (rc) return;
    const char *want = "{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001 \xc3\xa9 \\ufffd end\",\"i\":-9223372036854775808,"
                       "\"u\":18446744073709551615,\"d\":[0.1,0.3333333333333333,1e+300,-0,5e-324,"
                       "null,0.001],\"o\":{},\"b\":true,\"n\":null,\"raw\":[1,2]}";
    TU_CHECK(strcmp(out, want) == 0 && len == strlen(want), "writer output\n got  %s\n want %s", out, want);
    ct_json *v = NULL;
    rc = ct_json_parse(out, len, "written", &v);
    TU_CHECK(rc == CT_OK, "writer output parses: %s", ct_last_error());
    const ct_json *d = ct_json_get(v, "d");
    double x;
    TU_CHECK(ct_json_as_double(ct_json_at(d, 1), &x) && x == 1.0 / 3.0, "1/3 round trips");
    TU_CHECK(ct_json_as_double(ct_json_at(d, 4), &x) && x == 5e-324, "denormal round trips");
    ct_json_free(v);
    free(out);

    /* random doubles round trip exactly */
    uint64_t s = 99;
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t bits = s ^ (s >> 29);
        double dv;
        memcpy(&dv, &bits, sizeof dv);
        if (!isfinite(dv)) continue;
        char b[64];
        ct_json_format_double(b, sizeof b, dv);
        ct_json *p = NULL;
        if (ct_json_parse(b, strlen(b), "d", &p) != CT_OK || p->number != dv) bad++;
        ct_json_free(p);
    }
    TU_CHECK(bad == 0, "%d doubles failed to round trip", bad);

    /* misuse is reported, not crashed on */
    ct_jw_init(&w);
    ct_jw_begin_object(&w);
    ct_jw_int(&w, 1); /* value without key */
    TU_CHECK(ct_jw_finish(&w, &out, &len) == CT_ERR_RUNTIME && out == NULL, "value without a key");
    ct_jw_init(&w);
    ct_jw_begin_array(&w);
    TU_CHECK(ct_jw_finish(&w, &out, &len) == CT_ERR_RUNTIME, "unclosed array");
    ct_jw_init(&w);
    for (int k = 0; k < 70; k++) ct_jw_begin_array(&w);
    TU_CHECK(ct_jw_finish(&w, &out, &len) == CT_ERR_RUNTIME, "too deep");
    ct_jw_init(&w);
    ct_jw_int(&w, 1);
    ct_jw_int(&w, 2);
    TU_CHECK(ct_jw_finish(&w, &out, &len) == CT_ERR_RUNTIME, "two top-level values");
    ct_jw_init(&w);
    ct_jw_begin_array(&w);
    ct_jw_int(&w, 1);
    ct_jw_string(&w, "x");
    ct_jw_end_array(&w);
    TU_CHECK(ct_jw_finish(&w, &out, &len) == CT_OK && strcmp(out, "[1,\"x\"]") == 0, "array commas");
    free(out);
}

/* Every prefix of a valid document is either valid or rejected, never a crash. */
static void test_prefixes(void)
{
    const char *doc = "{\"a\":[1,2.5e-3,\"x\\u00e9\\ud83d\\ude00\",true,false,null,{\"b\":{}}],\"c\":\"\xc3\xa9\"}";
    size_t n = strlen(doc);
    int ok = 0;
    for (size_t k = 0; k < n; k++) {
        ct_json *v = NULL;
        char *copy = malloc(k ? k : 1); /* exact-size copy so ASan/valgrind see any over-read */
        memcpy(copy, doc, k);
        if (ct_json_parse(copy, k, "prefix", &v) == CT_OK) ok++;
        ct_json_free(v);
        free(copy);
    }
    TU_CHECK(ok == 0, "%d proper prefixes parsed", ok);
    TU_CHECK(parses(doc), "full document parses");
}

int main(void)
{
    test_accept();
    test_reject();
    test_depth();
    test_values();
    test_writer();
    test_prefixes();
    return tu_finish();
}
