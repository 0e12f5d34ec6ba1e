/* pipes_harness.c: the executable that dagster-io's shared Pipes conformance suite
 * (community-integrations, libraries/pipes/tests/dagster-pipes-tests) drives, built from cltrain's
 * Pipes module (src/io/pipes.c). Usage as the suite calls it:
 *
 *   pipes_harness --test-name NAME [--context P] [--messages P] [--job-name J] [--extras FILE]
 *                 [--custom-payload FILE] [--report-asset-materialization FILE]
 *                 [--report-asset-check FILE] [--context-loader K] [--message-writer K]
 *
 * --context/--messages set DAGSTER_PIPES_CONTEXT/MESSAGES; --job-name and --extras are compared with
 * the loaded context (a mismatch fails the run). Also `pipes_harness --encode JSON` prints
 * base64(zlib(JSON)), for shell tests. Exit 0 ok, 1 failed expectation, 2 bad usage or protocol
 * error. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/pipes.h"

typedef struct {
    const char *test, *job, *extras, *payload, *mat, *check, *loader, *writer;
} args_t;

static int fail_closed(int code, const char *name, const char *fmt, const char *a)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a ? a : "");
    fprintf(stderr, "pipes_harness: %s\n", msg);
    ct_pipes_close(name, msg, NULL);
    return code;
}

static json_t *load(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &e);
    if (!j) fprintf(stderr, "pipes_harness: %s: %s (line %d)\n", path, e.text, e.line);
    return j;
}

/* the suite's static metadata set: one value of every simple type */
static json_t *known_metadata(void)
{
    json_t *md = json_object();
    ct_pipes_md_bool(md, "bool_true", 1);
    ct_pipes_md_bool(md, "bool_false", 0);
    ct_pipes_md_float(md, "float", 0.1);
    ct_pipes_md_int(md, "int", 1);
    ct_pipes_md_set(md, "url", "url", json_string("https://dagster.io"));
    ct_pipes_md_set(md, "path", "path", json_string("/dev/null"));
    ct_pipes_md_set(md, "null", "null", NULL);
    ct_pipes_md_markdown(md, "md", "**markdown**");
    ct_pipes_md_json(md, "json", json_pack("{s:{s:i,s:i},s:n,s:[i,i,i],s:s,s:i}", "quux", "a", 1, "b", 2, "corge", "qux", 1,
                                           2, 3, "foo", "bar", "baz", 1));
    ct_pipes_md_text(md, "text", "hello");
    ct_pipes_md_set(md, "asset", "asset", json_string("foo/bar"));
    ct_pipes_md_set(md, "dagster_run", "dagster_run", json_string("db892d7f-0031-4747-973d-22e8b9095d9d"));
    ct_pipes_md_set(md, "notebook", "notebook", json_string("notebook.ipynb"));
    return md;
}

static int run_test(const args_t *a)
{
    int rc = CT_OK;
    if (!strcmp(a->test, "test_components")) {
        json_t *p = json_string("Hello from external process!");
        rc = ct_pipes_report_custom(p);
        json_decref(p);
    } else if (!strcmp(a->test, "test_message_log")) {
        static const char *const lv[][2] = {{"DEBUG", "Debug message"}, {"INFO", "Info message"},
                                            {"WARNING", "Warning message"}, {"ERROR", "Error message"},
                                            {"CRITICAL", "Critical message"}};
        for (int i = 0; i < 5 && rc == CT_OK; i++) rc = ct_pipes_log(lv[i][0], lv[i][1]);
    } else if (!strcmp(a->test, "test_message_report_custom_message")) {
        json_t *f = a->payload ? load(a->payload) : NULL;
        if (!json_is_object(f) || !json_object_get(f, "payload")) {
            json_decref(f);
            return fail_closed(2, "HarnessError", "--custom-payload must name a file {\"payload\": ...}%s", NULL);
        }
        rc = ct_pipes_report_custom(json_object_get(f, "payload"));
        json_decref(f);
    } else if (!strcmp(a->test, "test_message_report_asset_materialization")) {
        json_t *f = a->mat ? load(a->mat) : NULL;
        if (!json_is_object(f)) return fail_closed(2, "HarnessError", "--report-asset-materialization needs a JSON file%s", NULL);
        json_t *md = known_metadata();
        rc = ct_pipes_report_materialization(json_string_value(json_object_get(f, "assetKey")),
                                             json_string_value(json_object_get(f, "dataVersion")), md);
        json_decref(md);
        json_decref(f);
    } else if (!strcmp(a->test, "test_message_report_asset_check")) {
        json_t *f = a->check ? load(a->check) : NULL;
        if (!json_is_object(f)) return fail_closed(2, "HarnessError", "--report-asset-check needs a JSON file%s", NULL);
        json_t *md = known_metadata();
        rc = ct_pipes_report_check(json_string_value(json_object_get(f, "assetKey")),
                                   json_string_value(json_object_get(f, "checkName")),
                                   json_is_true(json_object_get(f, "passed")),
                                   json_string_value(json_object_get(f, "severity")), md);
        json_decref(md);
        json_decref(f);
    } else if (!strcmp(a->test, "test_error_reporting")) {
        const char *stack[] = {"Traceback1", "Traceback2", "Traceback3", NULL};
        ct_pipes_close("AnError", "Very bad error has happened!", stack);
        return 1;
    }
    if (rc) return fail_closed(2, "cltrain.PipesError", "%s", ct_last_error());
    return 0;
}

static int check_context(const args_t *a)
{
    const json_t *ctx = ct_pipes_context();
    if (a->job) {
        const char *j = json_string_value(json_object_get(ctx, "job_name"));
        if (!j || strcmp(j, a->job)) return fail_closed(1, "AssertionError", "job_name in the context is not %s", a->job);
    }
    if (a->extras) {
        json_t *want = load(a->extras);
        json_t *got = json_object_get(ctx, "extras");
        int same = want && got && json_equal(want, got);
        json_decref(want);
        if (!same) return fail_closed(1, "AssertionError", "the context's extras differ from %s", a->extras);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"test-name", required_argument, 0, 't'},   {"context", required_argument, 0, 'c'},
        {"messages", required_argument, 0, 'm'},    {"job-name", required_argument, 0, 'j'},
        {"extras", required_argument, 0, 'e'},      {"custom-payload", required_argument, 0, 'p'},
        {"report-asset-materialization", required_argument, 0, 'a'},
        {"report-asset-check", required_argument, 0, 'k'},
        {"context-loader", required_argument, 0, 'l'}, {"message-writer", required_argument, 0, 'w'},
        {"encode", required_argument, 0, 'E'},      {0, 0, 0, 0}};
    args_t a = {0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': a.test = optarg; break;
        case 'c': setenv(CT_PIPES_CONTEXT_ENV, optarg, 1); break;
        case 'm': setenv(CT_PIPES_MESSAGES_ENV, optarg, 1); break;
        case 'j': a.job = optarg; break;
        case 'e': a.extras = optarg; break;
        case 'p': a.payload = optarg; break;
        case 'a': a.mat = optarg; break;
        case 'k': a.check = optarg; break;
        case 'l': a.loader = optarg; break;
        case 'w': a.writer = optarg; break;
        case 'E': {
            json_error_t e;
            json_t *j = json_loads(optarg, JSON_DECODE_ANY, &e);
            char *s = j ? ct_pipes_encode_param(j) : NULL;
            json_decref(j);
            if (!s) {
                fprintf(stderr, "pipes_harness: --encode: not JSON: %s\n", e.text);
                return 2;
            }
            printf("%s\n", s);
            free(s);
            return 0;
        }
        default: return 2;
        }
    }
    if (optind < argc || !a.test) {
        fprintf(stderr, "usage: pipes_harness --test-name NAME [--context P] [--messages P] [--job-name J] [--extras F]\n"
                        "       [--custom-payload F] [--report-asset-materialization F] [--report-asset-check F]\n"
                        "       | pipes_harness --encode JSON\n");
        return 2;
    }
    if (ct_pipes_open_env() != CT_OK) {
        fprintf(stderr, "pipes_harness: %s\n", ct_last_error());
        return 2;
    }
    if (!ct_pipes_active()) {
        fprintf(stderr, "pipes_harness: %s is not set: not started by Dagster Pipes\n", CT_PIPES_CONTEXT_ENV);
        return 2;
    }
    if ((a.loader && strcmp(a.loader, "default")) || (a.writer && strcmp(a.writer, "default")))
        return fail_closed(2, "cltrain.PipesError", "unsupported channel %s (cltrain supports files and stdio)",
                           a.loader ? a.loader : a.writer);
    int rc = check_context(&a);
    if (rc == 0) rc = run_test(&a);
    if (rc == 0 && ct_pipes_close(NULL, NULL, NULL) != CT_OK) {
        fprintf(stderr, "pipes_harness: %s\n", ct_last_error());
        rc = 2;
    }
    return rc;
}
