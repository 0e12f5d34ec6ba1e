/* test_pipes.c: the Dagster Pipes module (src/io/pipes.c, src/io/pipes_cltrain.c): parameter
 * decoding (good, bad base64, bad zlib, truncated zlib, bad JSON), context loaders and message
 * writers (supported and not), every writer (path, stdio stderr/stdout, buffered_stdio), every
 * message type, typed metadata, malformed parameters, `closed` on signals, extras as options. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "io/pipes.h"
#include "io/pipes_cltrain.h"
#include "testutil.h"

static char g_dir[256];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static char *enc(const char *json_text)
{
    json_error_t e;
    json_t *j = json_loads(json_text, JSON_DECODE_ANY, &e);
    if (!j) {
        fprintf(stderr, "bad test JSON %s: %s\n", json_text, e.text);
        exit(1);
    }
    char *s = ct_pipes_encode_param(j);
    json_decref(j);
    return s;
}

/* base64 of arbitrary bytes (through the encoder's alphabet: encode_param of a string is not raw) */
static char *b64(const unsigned char *p, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        o[k++] = A[v >> 18 & 63];
        o[k++] = A[v >> 12 & 63];
        o[k++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? A[v & 63] : '=';
    }
    o[k] = 0;
    return o;
}

static char *zb64(const char *text, size_t keep /* 0: all compressed bytes */)
{
    uLong cap = compressBound(strlen(text));
    unsigned char *z = malloc(cap);
    compress(z, &cap, (const Bytef *)text, strlen(text));
    char *s = b64(z, keep && keep < cap ? keep : cap);
    free(z);
    return s;
}

/* the messages of a file, one parsed JSON object per line (every line must parse) */
static json_t *read_messages(const char *path)
{
    json_t *all = json_array();
    FILE *f = fopen(path, "r");
    if (!f) return all;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        TU_CHECK(line[n - 1] == '\n', "every message ends its line");
        json_error_t e;
        json_t *m = json_loads(line, 0, &e);
        TU_CHECK(m != NULL, "message line is JSON: %s (%s)", line, m ? "" : e.text);
        if (m) {
            TU_CHECK(!strcmp(json_string_value(json_object_get(m, "__dagster_pipes_version")), "0.1"),
                     "protocol version 0.1");
            json_array_append_new(all, m);
        }
    }
    free(line);
    fclose(f);
    return all;
}

static const char *method_of(const json_t *msgs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(msgs, i), "method"));
}
static const json_t *params_of(const json_t *msgs, size_t i) { return json_object_get(json_array_get(msgs, i), "params"); }

static char *file_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    char *s = calloc(1, 1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

/* opens a session writing to a fresh messages file; returns the status */
static int open_path(const char *ctx_json, const char *file, char *msgs_path, size_t cap)
{
    path_in(msgs_path, cap, file);
    unlink(msgs_path);
    char wjson[600];
    snprintf(wjson, sizeof wjson, "{\"path\": \"%s\"}", msgs_path);
    char *c = enc(ctx_json), *m = enc(wjson);
    int rc = ct_pipes_open(c, m);
    free(c);
    free(m);
    return rc;
}

/* --- decoding ---------------------------------------------------------------------------------- */
static void test_decode(void)
{
    json_t *v = NULL;
    /* the example from the protocol's documentation (Python's encode_param) */
    TU_CHECK(ct_pipes_decode_param("X", "eJyrVipILMlQslJQ0i/JLQDhxKRk/eT8vJLUihKlWgClqQri", &v) == CT_OK, "%s",
             ct_last_error());
    TU_CHECK(v && !strcmp(json_string_value(json_object_get(v, "path")), "/tmp/tmpabc/context"), "decoded path");
    json_decref(v);

    char *s = enc("{\"data\": {\"asset_keys\": [\"a/b\"], \"extras\": {\"x\": [1, 2.5, null, \"\\u00e9\"]}}}");
    TU_CHECK(ct_pipes_decode_param("X", s, &v) == CT_OK, "round trip: %s", ct_last_error());
    json_t *want = json_loads("{\"data\": {\"asset_keys\": [\"a/b\"], \"extras\": {\"x\": [1, 2.5, null, \"\\u00e9\"]}}}", 0, NULL);
    TU_CHECK(json_equal(v, want), "round trip equal");
    json_decref(want);
    json_decref(v);
    free(s);

    /* unpadded and URL-safe base64 are accepted */
    TU_CHECK(ct_pipes_decode_param("X", "eJyrVipILMlQslJQ0i_JLQDhxKRk_eT8vJLUihKlWgClqQri", &v) == CT_OK, "url-safe");
    json_decref(v);

    struct {
        const char *in, *want;
    } bad[] = {
        {"", "empty"},
        {"eJyr!ipI", "not valid base64: character 5"},
        {"eJyrV", "not a possible length"},
        {"aGVsbG8gd29ybGQ=", "not zlib-compressed"}, /* "hello world" */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = (json_t *)1;
        int rc = ct_pipes_decode_param("DAGSTER_PIPES_CONTEXT", bad[i].in, &v);
        TU_CHECK(rc == CT_ERR_USAGE && v == NULL, "bad param '%s' refused", bad[i].in);
        TU_CHECK(strstr(ct_last_error(), bad[i].want) && strstr(ct_last_error(), "DAGSTER_PIPES_CONTEXT"),
                 "'%s': message '%s' names the parameter and says '%s'", bad[i].in, ct_last_error(), bad[i].want);
    }
    s = zb64("{\"path\": \"/tmp/a-long-enough-path-for-a-few-blocks/context\"}", 12);
    TU_CHECK(ct_pipes_decode_param("X", s, &v) == CT_ERR_USAGE && strstr(ct_last_error(), "truncated"),
             "truncated zlib: %s", ct_last_error());
    free(s);
    s = zb64("{not json", 0);
    TU_CHECK(ct_pipes_decode_param("X", s, &v) == CT_ERR_USAGE && strstr(ct_last_error(), "not JSON"),
             "bad JSON: %s", ct_last_error());
    free(s);
    s = zb64("{\"a\": 1, \"a\": 2}", 0);
    TU_CHECK(ct_pipes_decode_param("X", s, &v) == CT_ERR_USAGE, "duplicate keys refused");
    free(s);
}

/* --- opening: loaders and writers -------------------------------------------------------------- */
static void expect_open_fails(const char *ctx, const char *writer, const char *want, int reported)
{
    char mp[512];
    path_in(mp, sizeof mp, "fail.msgs");
    unlink(mp);
    char *c = ctx ? enc(ctx) : NULL, *m = writer ? enc(writer) : NULL;
    int rc = ct_pipes_open(c, m);
    TU_CHECK(rc == CT_ERR_USAGE, "open(%s, %s) refused (rc %d)", ctx, writer, rc);
    TU_CHECK(strstr(ct_last_error(), want) != NULL, "open(%s, %s): '%s' says '%s'", ctx, writer, ct_last_error(), want);
    TU_CHECK(!ct_pipes_active(), "no session after a refused open");
    json_t *msgs = read_messages(mp);
    if (reported) {
        /* the orchestrator hears why: opened, then closed with the reason */
        TU_CHECK(json_array_size(msgs) == 2 && !strcmp(method_of(msgs, 0), "opened") &&
                     !strcmp(method_of(msgs, 1), "closed"),
                 "refused context reported as opened+closed (%zu messages)", json_array_size(msgs));
        const json_t *ex = json_object_get(params_of(msgs, 1), "exception");
        TU_CHECK(ex && strstr(json_string_value(json_object_get(ex, "message")), want), "closed carries the reason");
    } else {
        TU_CHECK(json_array_size(msgs) == 0, "nothing written when the channel itself is refused");
    }
    json_decref(msgs);
    free(c);
    free(m);
}

static void test_open_errors(void)
{
    char mp[512], w[600];
    path_in(mp, sizeof mp, "fail.msgs");
    snprintf(w, sizeof w, "{\"path\": \"%s\"}", mp);
    /* writers */
    expect_open_fails("{\"data\": {}}", "{\"bucket\": \"b\", \"key_prefix\": \"p\"}", "unsupported message writer", 0);
    expect_open_fails("{\"data\": {}}", "{\"path\": 3}", "\"path\" must be a non-empty string", 0);
    expect_open_fails("{\"data\": {}}", "{\"stdio\": \"stdlog\"}", "must be \"stderr\" or \"stdout\"", 0);
    expect_open_fails("{\"data\": {}}", "{\"buffered_stdio\": 1}", "must be \"stderr\" or \"stdout\"", 0);
    expect_open_fails("{\"data\": {}}", "[1]", "expected a JSON object", 0);
    expect_open_fails("{\"data\": {}}", "{\"path\": \"/nonexistent-dir/x/messages\"}", "cannot open the messages file", 0);
    expect_open_fails("{\"data\": {}}", NULL, "DAGSTER_PIPES_MESSAGES is not", 0);
    /* loaders (reported through the channel) */
    expect_open_fails("{\"bucket\": \"b\", \"key\": \"k\"}", w, "unsupported context loader (keys: bucket, key)", 1);
    expect_open_fails("{\"data\": [1]}", w, "\"data\" must be a JSON object", 1);
    expect_open_fails("{\"path\": \"/nonexistent/context.json\"}", w, "cannot read the context file", 1);
    expect_open_fails("{\"data\": {\"asset_keys\": \"a\"}}", w, "asset_keys must be a list", 1);
    expect_open_fails("{\"data\": {\"asset_keys\": [\"a\", 2]}}", w, "asset_keys[1] is not a string", 1);
    expect_open_fails("{\"data\": {\"extras\": [1]}}", w, "extras must be an object", 1);
    expect_open_fails("{\"data\": {\"job_name\": 5}}", w, "job_name must be a string", 1);
    char cf[512], cjson[600];
    path_in(cf, sizeof cf, "badcontext.json");
    FILE *f = fopen(cf, "w");
    fputs("{\"asset_keys\": [", f);
    fclose(f);
    snprintf(cjson, sizeof cjson, "{\"path\": \"%s\"}", cf);
    expect_open_fails(cjson, w, "invalid JSON at line 1", 1);
    /* undecodable context parameter, good channel */
    char *m = enc(w);
    unlink(mp);
    TU_CHECK(ct_pipes_open("%%%", m) == CT_ERR_USAGE && strstr(ct_last_error(), "not valid base64"), "bad base64 context");
    json_t *msgs = read_messages(mp);
    TU_CHECK(json_array_size(msgs) == 2, "bad context still reported (%zu)", json_array_size(msgs));
    json_decref(msgs);
    free(m);
    TU_CHECK(ct_pipes_open_env() == CT_OK && !ct_pipes_active(), "no environment: no session");
}

/* context from a file, then every message type on the path writer */
static void test_path_writer_and_messages(void)
{
    char cf[512], cjson[600], mp[512];
    path_in(cf, sizeof cf, "context.json");
    FILE *f = fopen(cf, "w");
    fputs("{\"asset_keys\": [\"ml/digit_classifier\", \"b\"], \"run_id\": \"r\", \"job_name\": \"j\", \"retry_number\": 0,"
          " \"extras\": {\"device\": \"cpu\"}, \"partition_key\": null}",
          f);
    fclose(f);
    snprintf(cjson, sizeof cjson, "{\"path\": \"%s\"}", cf);
    TU_CHECK(open_path(cjson, "all.msgs", mp, sizeof mp) == CT_OK, "open: %s", ct_last_error());
    TU_CHECK(ct_pipes_active(), "session open");
    TU_CHECK(!strcmp(json_string_value(ct_pipes_extra("device")), "cpu"), "extras read");
    TU_CHECK(!strcmp(json_string_value(json_object_get(ct_pipes_context(), "job_name")), "j"), "context read");
    TU_CHECK(ct_pipes_extra("nope") == NULL, "absent extra");

    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    for (int i = 0; i < 5; i++) TU_CHECK(ct_pipes_log(levels[i], "Debug message") == CT_OK, "log %s", levels[i]);
    TU_CHECK(ct_pipes_log("info", "x") == CT_ERR_USAGE && strstr(ct_last_error(), "level 'info'"), "bad level refused");
    TU_CHECK(ct_pipes_log("INFO", NULL) == CT_ERR_USAGE, "no message refused");
    TU_CHECK(ct_pipes_log("INFO", "bad utf8 \xff\xfe end") == CT_OK, "invalid UTF-8 made valid");

    json_t *md = json_object();
    TU_CHECK(ct_pipes_md_float(md, "f1", 1.0) == CT_OK, "float");
    ct_pipes_md_float(md, "nan", NAN);
    ct_pipes_md_float(md, "inf", INFINITY);
    ct_pipes_md_int(md, "i", -7);
    ct_pipes_md_bool(md, "b", 1);
    ct_pipes_md_text(md, "t", "hello");
    ct_pipes_md_text(md, "tnull", NULL);
    ct_pipes_md_path(md, "p", cf);
    ct_pipes_md_path(md, "pmissing", "relative/missing.png");
    ct_pipes_md_markdown(md, "m", "| a |\n|---|\n| 1 |");
    ct_pipes_md_json(md, "j", json_pack("{s:[i,i],s:n}", "rows", 1, 2, "none"));
    TU_CHECK(ct_pipes_md_set(md, "u", "url", json_string("https://dagster.io")) == CT_OK, "url");
    TU_CHECK(ct_pipes_md_set(md, "n", "null", NULL) == CT_OK, "null");
    TU_CHECK(ct_pipes_md_set(md, "a", "asset", json_string("foo/bar")) == CT_OK, "asset");
    TU_CHECK(ct_pipes_md_set(md, "x", "complex", json_string("1")) == CT_ERR_USAGE && strstr(ct_last_error(), "unknown type"),
             "unknown metadata type refused");
    TU_CHECK(ct_pipes_md_set(md, "x", "float", json_integer(1)) == CT_ERR_USAGE, "int raw value as float refused");
    TU_CHECK(ct_pipes_md_set(md, "x", "int", json_string("1")) == CT_ERR_USAGE, "string raw value as int refused");
    TU_CHECK(ct_pipes_md_set(md, "x", "bool", json_integer(0)) == CT_ERR_USAGE, "int raw value as bool refused");
    TU_CHECK(ct_pipes_md_set(md, "x", "null", json_integer(0)) == CT_ERR_USAGE, "null with a value refused");
    TU_CHECK(ct_pipes_md_set(md, "x", "table", json_integer(0)) == CT_ERR_USAGE, "table must be an object");
    TU_CHECK(ct_pipes_md_set(NULL, "x", "text", json_string("a")) == CT_ERR_USAGE, "no object refused");
    TU_CHECK(json_object_get(md, "x") == NULL, "refused values are not set");

    TU_CHECK(ct_pipes_report_materialization("ml/digit_classifier", "abc", md) == CT_OK, "materialize: %s", ct_last_error());
    TU_CHECK(ct_pipes_report_materialization("ml/digit_classifier", NULL, md) == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "already materialized"),
             "second materialization of a key refused");
    TU_CHECK(ct_pipes_report_materialization("c", NULL, md) == CT_ERR_USAGE && strstr(ct_last_error(), "not one of"),
             "unknown key refused");
    TU_CHECK(ct_pipes_report_materialization(NULL, NULL, md) == CT_ERR_USAGE && strstr(ct_last_error(), "targets 2 assets"),
             "no key with two assets refused");
    json_t *badmd = json_pack("{s:i}", "k", 1);
    TU_CHECK(ct_pipes_report_materialization("b", NULL, badmd) == CT_ERR_USAGE && strstr(ct_last_error(), "'k'"),
             "untyped metadata refused");
    json_t *badmd2 = json_pack("[i]", 1);
    TU_CHECK(ct_pipes_report_materialization("b", NULL, badmd2) == CT_ERR_USAGE, "metadata that is not an object refused");
    TU_CHECK(ct_pipes_report_materialization("b", NULL, NULL) == CT_OK, "materialize without metadata");

    TU_CHECK(ct_pipes_report_check("b", "my_check", 0, "WARN", md) == CT_OK, "check WARN");
    TU_CHECK(ct_pipes_report_check("ml/digit_classifier", "c2", 1, "ERROR", NULL) == CT_OK, "check ERROR");
    TU_CHECK(ct_pipes_report_check("b", "c", 1, "warn", NULL) == CT_ERR_USAGE, "severity 'warn' refused");
    TU_CHECK(ct_pipes_report_check("b", "c", 1, NULL, NULL) == CT_ERR_USAGE, "no severity refused");
    TU_CHECK(ct_pipes_report_check("b", "", 1, "WARN", NULL) == CT_ERR_USAGE, "empty check name refused");
    TU_CHECK(ct_pipes_report_check("zz", "c", 1, "WARN", NULL) == CT_ERR_USAGE, "check on an unknown key refused");
    TU_CHECK(ct_pipes_report_check("b", "c", 1, "WARN", badmd) == CT_ERR_USAGE, "check with untyped metadata refused");

    json_t *payloads = json_loads("[{\"foo\": \"bar\", \"corge\": null}, 1, 1.0, \"foo\", [1, 2, 3], null]", 0, NULL);
    for (size_t i = 0; i < json_array_size(payloads); i++)
        TU_CHECK(ct_pipes_report_custom(json_array_get(payloads, i)) == CT_OK, "custom %zu", i);
    TU_CHECK(ct_pipes_report_custom(NULL) == CT_ERR_USAGE, "custom without payload refused");

    const char *stack[] = {"frame 1", "frame 2", NULL};
    TU_CHECK(ct_pipes_close("AnError", "Very bad error has happened!", stack) == CT_OK, "close: %s", ct_last_error());
    TU_CHECK(!ct_pipes_active(), "closed");
    TU_CHECK(ct_pipes_log("INFO", "after close") == CT_OK && ct_pipes_report_custom(payloads) == CT_OK,
             "reporting after close is a no-op");
    TU_CHECK(ct_pipes_close(NULL, NULL, NULL) == CT_OK, "second close is a no-op");

    json_t *msgs = read_messages(mp);
    size_t n = json_array_size(msgs);
    /* opened, 6 logs, 2 materializations, 2 checks, 6 custom, closed */
    TU_CHECK(n == 18, "18 messages, got %zu", n);
    TU_CHECK(n > 0 && !strcmp(method_of(msgs, 0), "opened"), "opened first");
    TU_CHECK(n > 0 && json_is_object(json_object_get(params_of(msgs, 0), "extras")), "opened has extras");
    TU_CHECK(n > 0 && !strcmp(method_of(msgs, n - 1), "closed"), "closed last");
    int logs = 0, mats = 0, checks = 0, customs = 0;
    for (size_t i = 0; i < n; i++) {
        const char *mth = method_of(msgs, i);
        const json_t *p = params_of(msgs, i);
        if (!strcmp(mth, "log")) {
            if (logs < 5) TU_CHECK(!strcmp(json_string_value(json_object_get(p, "level")), levels[logs]), "level order");
            TU_CHECK(json_is_string(json_object_get(p, "message")), "log message");
            logs++;
        } else if (!strcmp(mth, "report_asset_materialization")) {
            const json_t *m = json_object_get(p, "metadata");
            if (mats == 0) {
                TU_CHECK(!strcmp(json_string_value(json_object_get(p, "asset_key")), "ml/digit_classifier"), "key");
                TU_CHECK(!strcmp(json_string_value(json_object_get(p, "data_version")), "abc"), "data_version");
                const json_t *f1 = json_object_get(json_object_get(m, "f1"), "raw_value");
                TU_CHECK(json_is_real(f1) && json_real_value(f1) == 1.0, "float 1.0 stays a JSON float");
                TU_CHECK(json_is_null(json_object_get(json_object_get(m, "nan"), "raw_value")) &&
                             !strcmp(json_string_value(json_object_get(json_object_get(m, "nan"), "type")), "float"),
                         "NaN is a null float");
                TU_CHECK(json_is_null(json_object_get(json_object_get(m, "inf"), "raw_value")), "Inf is null");
                TU_CHECK(json_integer_value(json_object_get(json_object_get(m, "i"), "raw_value")) == -7, "int");
                TU_CHECK(json_is_true(json_object_get(json_object_get(m, "b"), "raw_value")), "bool");
                const char *pv = json_string_value(json_object_get(json_object_get(m, "p"), "raw_value"));
                TU_CHECK(pv && pv[0] == '/', "path made absolute: %s", pv ? pv : "(null)");
                TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(m, "pmissing"), "raw_value")),
                                 "relative/missing.png"),
                         "missing path kept as given");
                TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(m, "m"), "type")), "md"), "md");
                TU_CHECK(json_is_object(json_object_get(json_object_get(m, "j"), "raw_value")), "json");
                TU_CHECK(json_object_size(m) == 14, "14 metadata values, got %zu", json_object_size(m));
            } else {
                TU_CHECK(json_is_null(json_object_get(p, "data_version")), "no data version: null");
                TU_CHECK(json_object_size(m) == 0, "no metadata: empty object");
            }
            mats++;
        } else if (!strcmp(mth, "report_asset_check")) {
            if (checks == 0) {
                TU_CHECK(!strcmp(json_string_value(json_object_get(p, "check_name")), "my_check"), "check name");
                TU_CHECK(json_is_false(json_object_get(p, "passed")), "passed false");
                TU_CHECK(!strcmp(json_string_value(json_object_get(p, "severity")), "WARN"), "severity");
                TU_CHECK(!strcmp(json_string_value(json_object_get(p, "asset_key")), "b"), "check key");
            } else {
                TU_CHECK(json_is_true(json_object_get(p, "passed")), "passed true");
                TU_CHECK(!strcmp(json_string_value(json_object_get(p, "severity")), "ERROR"), "ERROR");
            }
            checks++;
        } else if (!strcmp(mth, "report_custom_message")) {
            TU_CHECK(json_equal(json_object_get(p, "payload"), json_array_get(payloads, (size_t)customs)),
                     "custom payload %d unchanged", customs);
            customs++;
        }
    }
    TU_CHECK(logs == 6 && mats == 2 && checks == 2 && customs == 6, "counts %d %d %d %d", logs, mats, checks, customs);
    const json_t *ex = json_object_get(params_of(msgs, n - 1), "exception");
    TU_CHECK(ex && !strcmp(json_string_value(json_object_get(ex, "name")), "AnError") &&
                 !strcmp(json_string_value(json_object_get(ex, "message")), "Very bad error has happened!") &&
                 json_array_size(json_object_get(ex, "stack")) == 2,
             "closed exception {name, message, stack}");
    /* the float is written with a fraction on the wire */
    char *text = file_text(mp);
    TU_CHECK(strstr(text, "\"f1\":{\"type\":\"float\",\"raw_value\":1.0}") != NULL, "1.0 on the wire");
    free(text);
    json_decref(payloads);
    json_decref(badmd);
    json_decref(badmd2);
    json_decref(md);
    json_decref(msgs);
}

/* stdio writers: fd 1 or 2 redirected to a file for the test */
static void run_stdio(const char *kind, const char *stream, int fd)
{
    char out[512], wjson[128];
    path_in(out, sizeof out, "stdio.out");
    fflush(stdout);
    fflush(stderr);
    int saved = dup(fd);
    int f = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(f, fd);
    close(f);
    snprintf(wjson, sizeof wjson, "{\"%s\": \"%s\"}", kind, stream);
    char *c = enc("{\"data\": {\"asset_keys\": [\"a\"]}}"), *m = enc(wjson);
    int rc = ct_pipes_open(c, m);
    ct_pipes_log("INFO", "one");
    if (fd == 1) printf("plain output line\n");
    else fprintf(stderr, "plain output line\n");
    ct_pipes_report_materialization(NULL, NULL, NULL);
    char *mid = file_text(out);
    int before_close = (int)(strstr(mid, "\"method\":\"log\"") != NULL);
    free(mid);
    ct_pipes_close(NULL, NULL, NULL);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, fd);
    close(saved);
    free(c);
    free(m);
    TU_CHECK(rc == CT_OK, "%s %s open", kind, stream);
    if (!strcmp(kind, "buffered_stdio")) TU_CHECK(!before_close, "buffered: nothing written before close");
    else TU_CHECK(before_close, "%s: written at once", kind);
    /* the plain line is kept whole; every other line is one message */
    char *text = file_text(out);
    int lines = 0, messages = 0, plain = 0;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        lines++;
        if (!strcmp(l, "plain output line")) plain++;
        json_t *j = json_loads(l, 0, NULL);
        if (j && json_object_get(j, "__dagster_pipes_version")) messages++;
        json_decref(j);
    }
    TU_CHECK(plain == 1 && messages == 4 && lines == 5, "%s %s: %d lines, %d messages, %d plain", kind, stream, lines,
             messages, plain);
    free(text);
}

static void test_stdio_writers(void)
{
    run_stdio("stdio", "stderr", 2);
    run_stdio("stdio", "stdout", 1);
    run_stdio("buffered_stdio", "stderr", 2);
    run_stdio("buffered_stdio", "stdout", 1);
}

/* SIGTERM/SIGINT during a session: `closed` with the exception, then the process dies of it */
static void test_signals(const char *writer_kind, int sig)
{
    char mp[512], wjson[600];
    path_in(mp, sizeof mp, "sig.msgs");
    unlink(mp);
    if (!strcmp(writer_kind, "path")) snprintf(wjson, sizeof wjson, "{\"path\": \"%s\"}", mp);
    else snprintf(wjson, sizeof wjson, "{\"buffered_stdio\": \"stderr\"}");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int f = open(mp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(f, 2);
        char *c = enc("{\"data\": {\"asset_keys\": [\"a\"]}}"), *m = enc(wjson);
        if (ct_pipes_open(c, m) != CT_OK) _exit(3);
        ct_pipes_log("INFO", "before the signal");
        raise(sig);
        _exit(0); /* not reached */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    TU_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig, "%s: child died of signal %d (status %d)", writer_kind, sig, st);
    json_t *msgs = read_messages(mp);
    size_t n = json_array_size(msgs);
    TU_CHECK(n == 3 && !strcmp(method_of(msgs, 0), "opened") && !strcmp(method_of(msgs, 1), "log") &&
                 !strcmp(method_of(msgs, n - 1), "closed"),
             "%s: opened, log, closed (%zu messages)", writer_kind, n);
    const json_t *ex = n ? json_object_get(params_of(msgs, n - 1), "exception") : NULL;
    const char *msg = json_string_value(json_object_get(ex, "message"));
    TU_CHECK(msg && strstr(msg, sig == SIGINT ? "SIGINT" : "SIGTERM"), "closed names the signal: %s", msg ? msg : "-");
    TU_CHECK(!strcmp(json_string_value(json_object_get(ex, "name")), "cltrain.Interrupted"), "exception name");
    json_decref(msgs);
}

static void test_asset_keys(void)
{
    char out[64];
    ct_pipes_asset_key_last("digit_classifier", out, sizeof out);
    TU_CHECK(!strcmp(out, "digit_classifier"), "plain key");
    ct_pipes_asset_key_last("ml/models/digit_classifier", out, sizeof out);
    TU_CHECK(!strcmp(out, "digit_classifier"), "last part");
    ct_pipes_asset_key_last("a/b\\/c", out, sizeof out);
    TU_CHECK(!strcmp(out, "b/c"), "escaped slash: %s", out);
    ct_pipes_asset_key_last("a\\\\/d", out, sizeof out);
    TU_CHECK(!strcmp(out, "d"), "escaped backslash: %s", out);
}

/* cltrain's glue: extras as options, results as assets, exit statuses */
static void test_cltrain_glue(void)
{
    char mp[512], wjson[600];
    path_in(mp, sizeof mp, "glue.msgs");
    unlink(mp);
    snprintf(wjson, sizeof wjson, "{\"path\": \"%s\"}", mp);
    char *c = enc("{\"data\": {\"asset_keys\": [\"digit_classifier\", \"model_evaluation\", "
                  "\"production_digit_classifier\"], \"extras\": {\"set\": [\"training.epochs=2\"], \"device\": \"cpu\"}}}");
    char *m = enc(wjson);
    setenv("DAGSTER_PIPES_CONTEXT", c, 1);
    setenv("DAGSTER_PIPES_MESSAGES", m, 1);
    char *argv[] = {"cltrain", "pipeline", "--config", "x.yaml", "--set", "a.b=1", "--json", NULL};
    int ac;
    char **av;
    TU_CHECK(ct_pipes_cli_begin(7, argv, &ac, &av) == CT_OK, "begin: %s", ct_last_error());
    const char *want[] = {"cltrain", "pipeline", "--config", "x.yaml", "--set", "training.epochs=2", "--device", "cpu",
                          "--set", "a.b=1", "--json"};
    TU_CHECK(ac == 11, "4 options added (%d)", ac);
    for (int i = 0; i < ac && i < 11; i++) TU_CHECK(!strcmp(av[i], want[i]), "argv[%d] %s", i, av[i]);
    ct_pipes_cli_step("training", "{\"model_path\": \"/nonexistent.safetensors\", \"final_val_accuracy\": 100, "
                                  "\"training_epochs\": 2, \"optimizer\": \"adam\", \"early_stopping_used\": false}");
    ct_pipes_cli_step("evaluation", "{\"test_accuracy\": 0.5, \"per_class\": [{\"label\": 0, \"precision\": 1, "
                                    "\"recall\": 0.5, \"f1\": 0.66, \"support\": 2}], \"confusion_matrix\": [[1, 1], [0, 0]], "
                                    "\"files\": {\"confusion_matrix_png\": \"/x/cm.png\"}, \"model_md5\": \"0123\"}");
    ct_pipes_cli_step("data", "{\"train_samples\": 10}"); /* processed_mnist_data not asked for */
    ct_pipes_cli_step("deployment", "{\"deployment_status\": \"skipped\", \"threshold\": 0.9, \"accuracy\": 0.5}");
    ct_pipes_cli_result("{\"pipeline\": \"digit_classifier\", \"status\": \"skipped\"}");
    ct_fail(CT_ERR_SKIPPED, "below the threshold");
    TU_CHECK(ct_pipes_cli_end(CT_ERR_SKIPPED) == CT_OK, "skipped pipeline exits 0 under Pipes");
    json_t *msgs = read_messages(mp);
    size_t n = json_array_size(msgs);
    const char *seq[] = {"opened", "report_asset_materialization", "report_asset_materialization",
                         "report_asset_materialization", "report_asset_check", "report_custom_message", "log", "closed"};
    TU_CHECK(n == 8, "8 messages (%zu)", n);
    for (size_t i = 0; i < n && i < 8; i++) TU_CHECK(!strcmp(method_of(msgs, i), seq[i]), "message %zu %s", i, method_of(msgs, i));
    if (n == 8) {
        const json_t *md = json_object_get(params_of(msgs, 1), "metadata");
        const json_t *acc = json_object_get(json_object_get(md, "final_val_accuracy"), "raw_value");
        TU_CHECK(json_is_real(acc) && json_real_value(acc) == 100.0, "an integral accuracy is a float");
        TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(md, "model_path"), "type")), "path"), "path type");
        TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(md, "optimizer"), "type")), "text"), "text");
        TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(md, "early_stopping_used"), "type")), "bool"), "bool");
        const json_t *em = json_object_get(params_of(msgs, 2), "metadata");
        TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(em, "confusion_matrix"), "type")), "json"), "cm json");
        TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(em, "classification_report"), "type")), "md"), "md");
        TU_CHECK(!strcmp(json_string_value(json_object_get(json_object_get(em, "confusion_matrix_png"), "type")), "path"), "png");
        TU_CHECK(!strcmp(json_string_value(json_object_get(params_of(msgs, 2), "data_version")), "0123"), "md5 version");
        const json_t *ck = params_of(msgs, 4);
        TU_CHECK(!strcmp(json_string_value(json_object_get(ck, "check_name")), "accuracy_threshold") &&
                     json_is_false(json_object_get(ck, "passed")) &&
                     !strcmp(json_string_value(json_object_get(ck, "severity")), "WARN"),
                 "skipped deployment: failed WARN check");
        TU_CHECK(json_object_get(params_of(msgs, 7), "exception") == NULL, "closed without exception");
    }
    json_decref(msgs);

    /* a failing command: closed with the error */
    unlink(mp);
    char *argv2[] = {"cltrain", "evaluate", NULL};
    TU_CHECK(ct_pipes_cli_begin(2, argv2, &ac, &av) == CT_OK, "begin 2");
    TU_CHECK(ac == 6 && !strcmp(av[2], "--set"), "options after the command when there is no --config");
    ct_fail(CT_ERR_USAGE, "bad.yaml:2:3: training.lerning_rate: unknown key");
    TU_CHECK(ct_pipes_cli_end(CT_ERR_USAGE) == CT_ERR_USAGE, "usage error kept");
    msgs = read_messages(mp);
    n = json_array_size(msgs);
    const json_t *ex = n ? json_object_get(params_of(msgs, n - 1), "exception") : NULL;
    TU_CHECK(ex && !strcmp(json_string_value(json_object_get(ex, "name")), "cltrain.UsageError") &&
                 strstr(json_string_value(json_object_get(ex, "message")), "lerning_rate"),
             "closed carries cltrain's error");
    TU_CHECK(n >= 2 && !strcmp(method_of(msgs, n - 2), "log") &&
                 !strcmp(json_string_value(json_object_get(params_of(msgs, n - 2), "level")), "ERROR"),
             "the error is also an ERROR log line");
    json_decref(msgs);

    /* malformed extras */
    free(c);
    c = enc("{\"data\": {\"extras\": {\"set\": \"training.epochs=2\"}}}");
    setenv("DAGSTER_PIPES_CONTEXT", c, 1);
    unlink(mp);
    TU_CHECK(ct_pipes_cli_begin(2, argv2, &ac, &av) == CT_ERR_USAGE && strstr(ct_last_error(), "\"set\" must be a list"),
             "set that is not a list refused");
    TU_CHECK(ct_pipes_cli_end(CT_ERR_USAGE) == CT_ERR_USAGE, "closed");
    free(c);
    c = enc("{\"data\": {\"extras\": {\"set\": [\"novalue\"]}}}");
    setenv("DAGSTER_PIPES_CONTEXT", c, 1);
    TU_CHECK(ct_pipes_cli_begin(2, argv2, &ac, &av) == CT_ERR_USAGE && strstr(ct_last_error(), "set[0]"), "set entry");
    ct_pipes_cli_end(CT_ERR_USAGE);
    free(c);
    c = enc("{\"data\": {\"extras\": {\"device\": 3}}}");
    setenv("DAGSTER_PIPES_CONTEXT", c, 1);
    TU_CHECK(ct_pipes_cli_begin(2, argv2, &ac, &av) == CT_ERR_USAGE && strstr(ct_last_error(), "\"device\""), "device");
    ct_pipes_cli_end(CT_ERR_USAGE);
    /* commands without options get no extras */
    char *argv3[] = {"cltrain", "devices", NULL};
    free(c);
    c = enc("{\"data\": {\"extras\": {\"device\": \"cpu\"}}}");
    setenv("DAGSTER_PIPES_CONTEXT", c, 1);
    TU_CHECK(ct_pipes_cli_begin(2, argv3, &ac, &av) == CT_OK && ac == 2, "devices: no options added");
    ct_pipes_cli_end(CT_OK);
    unsetenv("DAGSTER_PIPES_CONTEXT");
    unsetenv("DAGSTER_PIPES_MESSAGES");
    TU_CHECK(ct_pipes_cli_begin(2, argv2, &ac, &av) == CT_OK && av == argv2 && !ct_pipes_active(),
             "without the environment nothing changes");
    TU_CHECK(ct_pipes_cli_end(5) == 5, "exit status kept without Pipes");
    free(c);
    free(m);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/cltrain-test-pipes-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_decode();
    test_open_errors();
    test_path_writer_and_messages();
    test_stdio_writers();
    test_signals("path", SIGTERM);
    test_signals("path", SIGINT);
    test_signals("buffered_stdio", SIGTERM);
    test_asset_keys();
    test_cltrain_glue();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return tu_finish();
}
