/* test_json.c: cltrain's helpers on jansson (src/io/jsonutil.c): the strict reader
 * (duplicates, depth and value caps, NUL, messages with byte offsets), the writer (shortest
 * round-trip doubles, non-finite as null, key order, invalid UTF-8 replaced) and the escaper. */
#include "common.h"
#include "io/jsonutil.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parses(const char *s)
{
    json_t *v = NULL;
    int rc = ct_jparse(s, strlen(s), "t", 0, 0, &v);
    json_decref(v);
    return rc == CT_OK;
}

/* Expects a rejection whose message names the document and contains want. */
static void rejects(const char *s, size_t len, size_t base, size_t max_values, const char *want)
{
    json_t *v = (json_t *)1;
    int rc = ct_jparse(s, len, "doc.json", base, max_values, &v);
    const char *e = ct_last_error();
    TU_CHECK(rc == CT_ERR_INPUT && v == NULL, "should reject [%.*s]", (int)len, s);
    TU_CHECK(strstr(e, want) != NULL, "[%.*s]: message '%s' lacks '%s'", (int)len, s, e, want);
    TU_CHECK(strncmp(e, "doc.json: ", 10) == 0, "message names the document: %s", e);
}
#define REJ(s, want) rejects(s, sizeof(s) - 1, 0, 0, want)

static void test_reader(void)
{
    const char *ok[] = {"0", "-1", "1.5", "1e-5", "\"\\u00e9\\ud83d\\ude00\"", "true", "null", "[]", "{}",
                        " [ 1 , 2 ] ", "{\"a\":{\"b\":[null]}}", "\"[{\\\"\""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        TU_CHECK(parses(ok[i]), "accepts %s: %s", ok[i], ct_last_error());
    REJ("", "invalid JSON at byte 0");
    REJ("[1,]", "invalid JSON at byte 4");
    REJ("{\"a\":1,\"a\":2}", "duplicate object key");
    REJ("NaN", "invalid JSON");
    REJ("[1] 2", "invalid JSON at byte 5");
    REJ("\"a\\u0000b\"", "NUL character");
    REJ("\"\xff\"", "unable to decode byte 0xff");
    REJ("\"\\ud800\"", "invalid JSON");
    /* offsets in messages count from base (JSON embedded at byte 8 of a file) */
    rejects("[1,]", 4, 8, 0, "invalid JSON at byte 12");
    /* nesting: 64 levels read, 65 refused before jansson parses, naming the bracket */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    TU_CHECK(parses(deep), "64 levels accepted: %s", ct_last_error());
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    rejects(deep, 130, 0, 0, "at byte 64: nesting deeper than 64 levels");
    /* brackets inside strings do not count */
    char str[200] = "\"";
    memset(str + 1, '[', 100);
    strcpy(str + 101, "\"");
    TU_CHECK(parses(str), "brackets in a string: %s", ct_last_error());
    /* value cap */
    rejects("[1,2,3,4]", 9, 0, 3, "more than 3 values");
    json_t *v = NULL;
    TU_CHECK(ct_jparse("[1,2]", 5, "t", 0, 3, &v) == CT_OK, "under the value cap");
    json_decref(v);
    /* getters */
    const char *obj = "{\"i\":7,\"d\":2.5,\"s\":\"x\",\"big\":9007199254740993}";
    TU_CHECK(ct_jparse(obj, strlen(obj), "t", 0, 0, &v) == CT_OK, "object: %s", ct_last_error());
    int64_t i64 = 0;
    double d = 0;
    TU_CHECK(ct_jget_int64(v, "i", -1) == 7 && ct_jget_double(v, "i", -1) == 7.0, "int");
    TU_CHECK(ct_jget_double(v, "d", -1) == 2.5 && ct_jget_int64(v, "d", -1) == -1, "real is not an int");
    TU_CHECK(!strcmp(ct_jget_string(v, "s", "?"), "x") && !strcmp(ct_jget_string(v, "i", "?"), "?"), "string");
    TU_CHECK(ct_jas_int64(json_object_get(v, "big"), &i64) && i64 == 9007199254740993LL, "exact int64");
    TU_CHECK(!ct_jas_double(json_object_get(v, "s"), &d), "string is not a number");
    TU_CHECK(!strcmp(ct_jtype_a(json_object_get(v, "d")), "a number") && !strcmp(ct_jtype_a(v), "an object"),
             "type names");
    json_decref(v);
}

static void dumps(json_t *v, const char *want)
{
    char *s = NULL;
    size_t n = 0;
    int rc = ct_jdump_take(v, &s, &n);
    TU_CHECK(rc == CT_OK && s && !strcmp(s, want) && n == strlen(want), "dump '%s', want '%s'", s ? s : "(null)",
             want);
    free(s);
}

static void test_writer(void)
{
    /* shortest round-trip doubles (jansson alone prints 0.10000000000000001), reals keep a '.',
     * non-finite numbers become null */
    dumps(json_pack("[o,o,o,o,o,o,o,o]", ct_jreal(0.1), ct_jreal(1.0 / 3), ct_jreal(1e300), ct_jreal(0.98),
                    ct_jreal(2.0), ct_jreal(-0.0), ct_jreal(NAN), ct_jreal(-INFINITY)),
          "[0.1,0.3333333333333333,1e+300,0.98,2.0,-0.0,null,null]");
    dumps(json_pack("[I,I]", (json_int_t)INT64_MAX, (json_int_t)-5), "[9223372036854775807,-5]");
    /* key order kept; strings escaped by jansson */
    dumps(json_pack("{s:i,s:s,s:b,s:n}", "z", 1, "a", "q\"\\\n\t\x01/", "m", 1, "b"),
          "{\"z\":1,\"a\":\"q\\\"\\\\\\n\\t\\u0001/\",\"m\":true,\"b\":null}");
    /* invalid UTF-8 becomes U+FFFD; valid multi-byte text is kept */
    dumps(ct_jstr("a\xff" "b\xc3\xa9\xe2\x82"), "\"a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\"");
    dumps(ct_jstr(NULL), "\"\"");
    /* embedded text (ct_jraw) and what the writer prints reads back to the same doubles */
    dumps(json_pack("{s:o,s:o}", "raw", ct_jraw("{\"x\":[1,0.5]}"), "none", ct_jraw(NULL)),
          "{\"raw\":{\"x\":[1,0.5]},\"none\":null}");
    unsigned seed = 1;
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        double x = ldexp((double)seed / 4294967296.0, (int)(seed % 200) - 100) * (seed & 1 ? -1 : 1);
        char buf[64];
        ct_jformat_double(buf, sizeof buf, x);
        json_t *v = NULL;
        if (ct_jparse(buf, strlen(buf), "t", 0, 0, &v) != CT_OK || json_number_value(v) != x) {
            TU_CHECK(0, "%.17g printed as %s does not read back", x, buf);
            json_decref(v);
            break;
        }
        json_decref(v);
    }
    TU_CHECK(ct_jdump(NULL, &(char *){NULL}, NULL) == CT_ERR_NOMEM, "a failed builder (NULL) is reported");
}

static void test_escape(void)
{
    char buf[64];
    size_t n = ct_json_escape(buf, sizeof buf, "it's \"x\"\n");
    TU_CHECK(n == strlen(buf) && !strcmp(buf, "\"it's \\\"x\\\"\\n\""), "escape: %s", buf);
    n = ct_json_escape(buf, 6, "abcdefgh");
    TU_CHECK(n == 10 && !strcmp(buf, "\"abcd"), "truncated escape: %s (%zu)", buf, n);
    TU_CHECK(ct_jutf8_valid("\xc3\xa9", 2) && !ct_jutf8_valid("\xc3", 1) && !ct_jutf8_valid("\xed\xa0\x80", 3),
             "UTF-8 check");
}

int main(void)
{
    test_reader();
    test_writer();
    test_escape();
    return tu_finish();
}
