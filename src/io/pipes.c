/* pipes.c: Dagster Pipes protocol (external-process side): parameter decoding (base64, zlib,
 * JSON), context loaders (path, data), message writers (path, stdio, buffered_stdio), the
 * messages, and `closed` on every exit path including SIGINT/SIGTERM. See pipes.h. */
#define _XOPEN_SOURCE 700
#include "io/pipes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "io/jsonutil.h"

enum { W_NONE, W_PATH, W_STDIO, W_BUFFERED };

static struct {
    int active;
    int kind;       /* W_* */
    int fd;         /* the channel: a file opened for appending, 1 or 2 */
    int write_failed;
    json_t *context;   /* context data */
    json_t *reported;  /* asset keys already materialized: object used as a set */
    char *buf;         /* W_BUFFERED: pending lines */
    size_t cap;
    volatile size_t len;
    volatile sig_atomic_t closed;
    char *sig_line[2]; /* prepared `closed` lines for SIGINT (0) and SIGTERM (1) */
    size_t sig_len[2];
    int handlers;
    struct sigaction old_int, old_term;
} S = {.fd = -1};

/* --- strings ------------------------------------------------------------------------------------ */
json_t *ct_pipes_string(const char *s) { return s ? ct_jstr(s) : json_null(); }

/* --- parameters --------------------------------------------------------------------------------- */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int ct_pipes_base64_decode(const char *what, const char *in, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' ')) n--;
    size_t pad = 0;
    while (n > 0 && in[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n == 0) return ct_fail(CT_ERR_USAGE, "%s: empty (expected base64 of zlib-compressed JSON)", what);
    if (n % 4 == 1 || (pad && (n + pad) % 4))
        return ct_fail(CT_ERR_USAGE, "%s: not valid base64: %zu characters is not a possible length", what, n + pad);
    unsigned char *o = malloc(n / 4 * 3 + 4);
    if (!o) return ct_fail(CT_ERR_NOMEM, "%s: out of host memory", what);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            free(o);
            return ct_fail(CT_ERR_USAGE, "%s: not valid base64: character %zu is %s'%c' (0x%02x)", what, i + 1,
                           in[i] == '=' ? "padding " : "", in[i] >= 32 && in[i] < 127 ? in[i] : '?',
                           (unsigned char)in[i]);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    o[k] = 0;
    *out = o;
    *len = k;
    return CT_OK;
}

/* zlib stream (as Python's zlib.compress writes) -> malloc'd NUL-terminated text */
static int inflate_all(const char *what, const unsigned char *in, size_t n, char **out, size_t *olen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return ct_fail(CT_ERR_RUNTIME, "%s: zlib could not start", what);
    size_t cap = n * 4 + 256, len = 0;
    char *o = malloc(cap);
    int zr = Z_OK;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    while (o) {
        if (cap - len < 2) {
            if (cap > (size_t)256 << 20) {
                zr = Z_MEM_ERROR;
                break;
            }
            char *g = realloc(o, cap * 2);
            if (!g) break;
            o = g;
            cap *= 2;
        }
        z.next_out = (unsigned char *)o + len;
        z.avail_out = (uInt)(cap - len - 1);
        zr = inflate(&z, Z_NO_FLUSH);
        len = cap - 1 - z.avail_out;
        if (zr != Z_OK) break;
        if (z.avail_in == 0 && z.avail_out > 0) break; /* input ended before the stream did */
    }
    const char *zmsg = z.msg;
    inflateEnd(&z);
    if (!o) return ct_fail(CT_ERR_NOMEM, "%s: out of host memory", what);
    if (zr != Z_STREAM_END) {
        free(o);
        if (zr == Z_OK || zr == Z_BUF_ERROR) return ct_fail(CT_ERR_USAGE, "%s: zlib data is truncated", what);
        return ct_fail(CT_ERR_USAGE, "%s: not zlib-compressed data (%s)", what,
                       zmsg ? zmsg : zr == Z_MEM_ERROR ? "larger than 256 MiB" : "corrupt stream");
    }
    o[len] = 0;
    *out = o;
    *olen = len;
    return CT_OK;
}

int ct_pipes_decode_param(const char *what, const char *text, json_t **out)
{
    *out = NULL;
    unsigned char *raw;
    size_t n;
    int rc = ct_pipes_base64_decode(what, text, &raw, &n);
    if (rc) return rc;
    char *js = NULL;
    size_t jn = 0;
    rc = inflate_all(what, raw, n, &js, &jn);
    free(raw);
    if (rc) return rc;
    json_error_t e;
    *out = json_loadb(js, jn, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    free(js);
    if (!*out)
        return ct_fail(CT_ERR_USAGE, "%s: the decompressed text is not JSON (line %d, column %d: %s)", what, e.line,
                       e.column, e.text);
    return CT_OK;
}

char *ct_pipes_encode_param(const json_t *value)
{
    char *js = NULL;
    if (ct_jdump(value, &js, NULL) != CT_OK) return NULL;
    uLong n = (uLong)strlen(js), cap = compressBound(n);
    unsigned char *z = malloc(cap);
    char *out = NULL;
    if (z && compress2(z, &cap, (const Bytef *)js, n, Z_DEFAULT_COMPRESSION) == Z_OK) {
        static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        out = malloc((cap + 2) / 3 * 4 + 1);
        size_t k = 0;
        for (uLong i = 0; out && i < cap; i += 3) {
            uint32_t v = (uint32_t)z[i] << 16 | (i + 1 < cap ? (uint32_t)z[i + 1] << 8 : 0) | (i + 2 < cap ? z[i + 2] : 0);
            out[k++] = A[v >> 18 & 63];
            out[k++] = A[v >> 12 & 63];
            out[k++] = i + 1 < cap ? A[v >> 6 & 63] : '=';
            out[k++] = i + 2 < cap ? A[v & 63] : '=';
        }
        if (out) out[k] = 0;
    }
    free(z);
    free(js);
    return out;
}

/* --- writing messages --------------------------------------------------------------------------- */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static json_t *make_message(const char *method, json_t *params /* stolen; NULL: null */)
{
    json_t *m = json_object();
    json_object_set_new(m, "__dagster_pipes_version", json_string(CT_PIPES_VERSION));
    json_object_set_new(m, "method", json_string(method));
    json_object_set_new(m, "params", params ? params : json_null());
    return m;
}

/* one message as one line ending in '\n'; malloc'd */
static char *message_line(json_t *msg, size_t *n)
{
    char *s = NULL;
    size_t l = 0;
    if (ct_jdump(msg, &s, &l) != CT_OK) return NULL; /* doubles in their shortest form, reals with a '.' */
    char *line = realloc(s, l + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[l] = '\n';
    line[l + 1] = 0;
    *n = l + 1;
    return line;
}

/* sends one message (stolen) on the channel: a single write() per line, or into the buffer */
static int send_message(json_t *msg)
{
    size_t n = 0;
    char *line = msg ? message_line(msg, &n) : NULL;
    json_decref(msg);
    if (!line) {
        S.write_failed = 1;
        return ct_fail(CT_ERR_NOMEM, "Dagster Pipes: could not serialise a message (out of memory)");
    }
    int rc = CT_OK;
    if (S.kind == W_BUFFERED) {
        if (S.len + n + 1 > S.cap) {
            size_t cap = (S.len + n + 1) * 2;
            char *g = malloc(cap); /* a fresh block, so a signal handler never sees a freed one */
            if (!g) {
                free(line);
                S.write_failed = 1;
                return ct_fail(CT_ERR_NOMEM, "Dagster Pipes: out of memory buffering messages");
            }
            if (S.len) memcpy(g, S.buf, S.len);
            char *old = S.buf;
            S.buf = g;
            S.cap = cap;
            free(old);
        }
        memcpy(S.buf + S.len, line, n);
        S.len = S.len + n;
    } else {
        if (S.kind == W_STDIO) {
            fflush(stdout);
            fflush(stderr);
        }
        if (write_all(S.fd, line, n) != 0) {
            S.write_failed = 1;
            rc = ct_fail(CT_ERR_RUNTIME, "Dagster Pipes: could not write a message: %s", strerror(errno));
        }
    }
    free(line);
    return rc;
}

/* --- opening ------------------------------------------------------------------------------------ */
static int stream_fd(const char *what, const json_t *v, const char *key)
{
    const char *s = json_string_value(v);
    if (!s)
        return -ct_fail(CT_ERR_USAGE, "%s: \"%s\" must be \"stderr\" or \"stdout\", not a JSON %s", what, key,
                        json_is_null(v) ? "null" : json_is_object(v) ? "object" : "non-string");
    if (!strcmp(s, "stderr")) return STDERR_FILENO;
    if (!strcmp(s, "stdout")) return STDOUT_FILENO;
    return -ct_fail(CT_ERR_USAGE, "%s: \"%s\" must be \"stderr\" or \"stdout\", not \"%s\"", what, key, s);
}

static void keys_of(const json_t *o, char *buf, size_t cap)
{
    const char *k;
    json_t *v;
    size_t used = 0;
    buf[0] = 0;
    json_object_foreach((json_t *)o, k, v) {
        (void)v;
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", k);
        if (w < 0 || (size_t)w >= cap - used) break;
        used += (size_t)w;
    }
    if (!buf[0]) snprintf(buf, cap, "none");
}

static int open_writer(const json_t *p)
{
    const char *what = CT_PIPES_MESSAGES_ENV;
    if (!json_is_object(p)) return ct_fail(CT_ERR_USAGE, "%s: expected a JSON object such as {\"path\": FILE}", what);
    const json_t *v;
    if ((v = json_object_get(p, "path"))) {
        const char *path = json_string_value(v);
        if (!path || !*path) return ct_fail(CT_ERR_USAGE, "%s: \"path\" must be a non-empty string", what);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return ct_fail(CT_ERR_USAGE, "%s: cannot open the messages file %s: %s", what, path, strerror(errno));
        S.fd = fd;
        S.kind = W_PATH;
    } else if ((v = json_object_get(p, "stdio"))) {
        int fd = stream_fd(what, v, "stdio");
        if (fd < 0) return -fd;
        S.fd = fd;
        S.kind = W_STDIO;
    } else if ((v = json_object_get(p, "buffered_stdio"))) {
        int fd = stream_fd(what, v, "buffered_stdio");
        if (fd < 0) return -fd;
        S.fd = fd;
        S.kind = W_BUFFERED;
    } else {
        char keys[256];
        keys_of(p, keys, sizeof keys);
        return ct_fail(CT_ERR_USAGE,
                       "%s: unsupported message writer (keys: %s); cltrain writes to {\"path\": FILE}, "
                       "{\"stdio\": \"stderr\"|\"stdout\"} or {\"buffered_stdio\": ...}, not to blob stores",
                       what, keys);
    }
    return CT_OK;
}

/* the context data's fields that cltrain reads must have the protocol's types */
static int check_context(const json_t *d)
{
    const char *what = "Dagster Pipes context";
    if (!json_is_object(d)) return ct_fail(CT_ERR_USAGE, "%s: expected a JSON object", what);
    const json_t *k = json_object_get(d, "asset_keys");
    if (k && !json_is_null(k)) {
        if (!json_is_array(k)) return ct_fail(CT_ERR_USAGE, "%s: asset_keys must be a list of strings or null", what);
        for (size_t i = 0; i < json_array_size(k); i++)
            if (!json_is_string(json_array_get(k, i)))
                return ct_fail(CT_ERR_USAGE, "%s: asset_keys[%zu] is not a string", what, i);
    }
    const json_t *x = json_object_get(d, "extras");
    if (x && !json_is_null(x) && !json_is_object(x))
        return ct_fail(CT_ERR_USAGE, "%s: extras must be an object or null", what);
    static const char *const strs[] = {"run_id", "job_name", "partition_key", NULL};
    for (int i = 0; strs[i]; i++) {
        const json_t *s = json_object_get(d, strs[i]);
        if (s && !json_is_null(s) && !json_is_string(s))
            return ct_fail(CT_ERR_USAGE, "%s: %s must be a string or null", what, strs[i]);
    }
    return CT_OK;
}

static int load_context(const json_t *p, json_t **out)
{
    const char *what = CT_PIPES_CONTEXT_ENV;
    if (!json_is_object(p)) return ct_fail(CT_ERR_USAGE, "%s: expected a JSON object such as {\"path\": FILE}", what);
    const json_t *v;
    if ((v = json_object_get(p, "path"))) {
        const char *path = json_string_value(v);
        if (!path || !*path) return ct_fail(CT_ERR_USAGE, "%s: \"path\" must be a non-empty string", what);
        json_error_t e;
        *out = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
        if (!*out) {
            if (access(path, R_OK) != 0)
                return ct_fail(CT_ERR_USAGE, "%s: cannot read the context file %s: %s", what, path, strerror(errno));
            return ct_fail(CT_ERR_USAGE, "%s: context file %s: invalid JSON at line %d, column %d: %s", what, path,
                           e.line, e.column, e.text);
        }
    } else if ((v = json_object_get(p, "data"))) {
        if (!json_is_object(v)) return ct_fail(CT_ERR_USAGE, "%s: \"data\" must be a JSON object", what);
        *out = json_incref((json_t *)v);
    } else {
        char keys[256];
        keys_of(p, keys, sizeof keys);
        return ct_fail(CT_ERR_USAGE,
                       "%s: unsupported context loader (keys: %s); cltrain reads {\"path\": FILE} or "
                       "{\"data\": {...}}, not blob stores",
                       what, keys);
    }
    int rc = check_context(*out);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static json_t *exception_json(const char *name, const char *message, const char *const *stack)
{
    json_t *e = json_object();
    json_object_set_new(e, "name", ct_pipes_string(name));
    json_object_set_new(e, "message", ct_pipes_string(message ? message : ""));
    json_t *st = json_array();
    for (size_t i = 0; stack && stack[i]; i++) json_array_append_new(st, ct_pipes_string(stack[i]));
    json_object_set_new(e, "stack", st);
    json_object_set_new(e, "cause", json_null());
    json_object_set_new(e, "context", json_null());
    return e;
}

static void on_signal(int sig)
{
    ct_pipes_signal_closed(sig);
    /* die of the signal as if unhandled: the orchestrator sees the usual status */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void prepare_signals(void)
{
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "interrupted by %s", i ? "SIGTERM" : "SIGINT");
        json_t *p = json_object();
        json_object_set_new(p, "exception", exception_json("cltrain.Interrupted", msg, NULL));
        json_t *m = make_message("closed", p);
        S.sig_line[i] = message_line(m, &S.sig_len[i]);
        json_decref(m);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sigs[0], &sa, &S.old_int);
    sigaction(sigs[1], &sa, &S.old_term);
    S.handlers = 1;
}

void ct_pipes_signal_closed(int sig)
{
    if (!S.active || S.closed) return;
    S.closed = 1;
    int i = sig == SIGTERM;
    if (S.kind == W_BUFFERED && S.buf && S.len) (void)write_all(S.fd, S.buf, S.len);
    if (S.sig_line[i]) (void)write_all(S.fd, S.sig_line[i], S.sig_len[i]);
}

static void reset_state(void)
{
    if (S.handlers) {
        sigaction(SIGINT, &S.old_int, NULL);
        sigaction(SIGTERM, &S.old_term, NULL);
    }
    if (S.kind == W_PATH && S.fd >= 0) close(S.fd);
    json_decref(S.context);
    json_decref(S.reported);
    free(S.buf);
    free(S.sig_line[0]);
    free(S.sig_line[1]);
    memset(&S, 0, sizeof S);
    S.fd = -1;
}

int ct_pipes_open(const char *context_param, const char *messages_param)
{
    if (S.active) return ct_fail(CT_ERR_RUNTIME, "Dagster Pipes: a session is already open");
    reset_state();
    if (!context_param) return ct_fail(CT_ERR_USAGE, "%s is not set", CT_PIPES_CONTEXT_ENV);
    if (!messages_param)
        return ct_fail(CT_ERR_USAGE, "%s is set but %s is not: no channel to report to", CT_PIPES_CONTEXT_ENV,
                       CT_PIPES_MESSAGES_ENV);
    json_t *mp = NULL, *cp = NULL, *ctx = NULL;
    int rc = ct_pipes_decode_param(CT_PIPES_MESSAGES_ENV, messages_param, &mp);
    if (rc == CT_OK) rc = open_writer(mp);
    json_decref(mp);
    if (rc) {
        reset_state();
        return rc;
    }
    S.active = 1;
    S.reported = json_object();
    rc = ct_pipes_decode_param(CT_PIPES_CONTEXT_ENV, context_param, &cp);
    if (rc == CT_OK) rc = load_context(cp, &ctx);
    json_decref(cp);
    json_t *opened = json_object();
    json_object_set_new(opened, "extras", json_object());
    int wrc = send_message(make_message("opened", opened));
    if (rc) {
        /* tell the orchestrator why, then end the session */
        char why[2048];
        snprintf(why, sizeof why, "%s", ct_last_error());
        ct_pipes_close("cltrain.PipesError", why, NULL);
        return ct_fail(rc, "%s", why);
    }
    S.context = ctx;
    if (wrc) {
        char why[2048];
        snprintf(why, sizeof why, "%s", ct_last_error());
        reset_state();
        return ct_fail(CT_ERR_USAGE, "%s", why);
    }
    prepare_signals();
    return CT_OK;
}

int ct_pipes_open_env(void)
{
    const char *c = getenv(CT_PIPES_CONTEXT_ENV);
    if (!c) return CT_OK;
    return ct_pipes_open(c, getenv(CT_PIPES_MESSAGES_ENV));
}

int ct_pipes_active(void) { return S.active && !S.closed; }
const json_t *ct_pipes_context(void) { return S.active ? S.context : NULL; }

const json_t *ct_pipes_extra(const char *key)
{
    const json_t *x = S.active && S.context ? json_object_get(S.context, "extras") : NULL;
    return json_is_object(x) ? json_object_get(x, key) : NULL;
}

int ct_pipes_close(const char *exc_name, const char *exc_message, const char *const *stack)
{
    if (!S.active) return CT_OK;
    int rc = CT_OK;
    if (!S.closed) {
        json_t *p = json_object();
        if (exc_name) json_object_set_new(p, "exception", exception_json(exc_name, exc_message, stack));
        send_message(make_message("closed", p));
        S.closed = 1;
        if (S.kind == W_BUFFERED && S.len && write_all(S.fd, S.buf, S.len) != 0) S.write_failed = 1;
    }
    if (S.write_failed) rc = ct_fail(CT_ERR_RUNTIME, "Dagster Pipes: some messages could not be written");
    reset_state();
    return rc;
}

/* --- messages ----------------------------------------------------------------------------------- */
int ct_pipes_log(const char *level, const char *message)
{
    if (!ct_pipes_active()) return CT_OK;
    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", NULL};
    int ok = 0;
    for (int i = 0; level && levels[i]; i++) ok |= !strcmp(level, levels[i]);
    if (!ok) return ct_fail(CT_ERR_USAGE, "Dagster Pipes log: level '%s' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
                            level ? level : "(null)");
    if (!message) return ct_fail(CT_ERR_USAGE, "Dagster Pipes log: no message");
    json_t *p = json_object();
    json_object_set_new(p, "message", ct_pipes_string(message));
    json_object_set_new(p, "level", json_string(level));
    return send_message(make_message("log", p));
}

/* the asset key to report on: given (and one of the context's) or the only one */
static int resolve_key(const char *method, const char *asset_key, const char **out)
{
    const json_t *keys = S.context ? json_object_get(S.context, "asset_keys") : NULL;
    size_t n = json_is_array(keys) ? json_array_size(keys) : 0;
    if (!asset_key) {
        if (n != 1)
            return ct_fail(CT_ERR_USAGE, "Dagster Pipes %s: no asset key given and the step targets %zu assets", method, n);
        *out = json_string_value(json_array_get(keys, 0));
        return CT_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(json_string_value(json_array_get(keys, i)), asset_key)) {
            *out = json_string_value(json_array_get(keys, i));
            return CT_OK;
        }
    return ct_fail(CT_ERR_USAGE, "Dagster Pipes %s: asset key '%s' is not one of the step's asset keys", method, asset_key);
}

static int check_metadata(const char *method, const json_t *md)
{
    if (!md || json_is_null(md)) return CT_OK;
    if (!json_is_object(md)) return ct_fail(CT_ERR_USAGE, "Dagster Pipes %s: metadata must be an object", method);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)md, k, v) {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")) || !json_object_get(v, "raw_value"))
            return ct_fail(CT_ERR_USAGE, "Dagster Pipes %s: metadata '%s' is not {\"type\": T, \"raw_value\": V}", method,
                           k);
    }
    return CT_OK;
}

int ct_pipes_report_materialization(const char *asset_key, const char *data_version, const json_t *metadata)
{
    if (!ct_pipes_active()) return CT_OK;
    const char *key;
    int rc = resolve_key("report_asset_materialization", asset_key, &key);
    if (rc == CT_OK) rc = check_metadata("report_asset_materialization", metadata);
    if (rc) return rc;
    if (json_object_get(S.reported, key))
        return ct_fail(CT_ERR_USAGE, "Dagster Pipes report_asset_materialization: asset '%s' was already materialized",
                       key);
    json_t *p = json_object();
    json_object_set_new(p, "asset_key", json_string(key));
    json_object_set_new(p, "data_version", ct_pipes_string(data_version));
    json_object_set_new(p, "metadata", metadata ? json_deep_copy(metadata) : json_object());
    json_object_set_new(S.reported, key, json_true());
    return send_message(make_message("report_asset_materialization", p));
}

int ct_pipes_report_check(const char *asset_key, const char *check_name, int passed, const char *severity,
                          const json_t *metadata)
{
    if (!ct_pipes_active()) return CT_OK;
    const char *key;
    int rc = resolve_key("report_asset_check", asset_key, &key);
    if (rc == CT_OK) rc = check_metadata("report_asset_check", metadata);
    if (rc) return rc;
    if (!check_name || !*check_name) return ct_fail(CT_ERR_USAGE, "Dagster Pipes report_asset_check: no check name");
    if (!severity || (strcmp(severity, "WARN") && strcmp(severity, "ERROR")))
        return ct_fail(CT_ERR_USAGE, "Dagster Pipes report_asset_check: severity '%s' is not WARN or ERROR",
                       severity ? severity : "(null)");
    json_t *p = json_object();
    json_object_set_new(p, "asset_key", json_string(key));
    json_object_set_new(p, "check_name", ct_pipes_string(check_name));
    json_object_set_new(p, "passed", json_boolean(passed));
    json_object_set_new(p, "severity", json_string(severity));
    json_object_set_new(p, "metadata", metadata ? json_deep_copy(metadata) : json_object());
    return send_message(make_message("report_asset_check", p));
}

int ct_pipes_report_custom(const json_t *payload)
{
    if (!ct_pipes_active()) return CT_OK;
    if (!payload) return ct_fail(CT_ERR_USAGE, "Dagster Pipes report_custom_message: no payload");
    json_t *p = json_object();
    json_object_set_new(p, "payload", json_deep_copy(payload));
    return send_message(make_message("report_custom_message", p));
}

/* --- metadata ----------------------------------------------------------------------------------- */
static int raw_fits(const char *type, const json_t *raw)
{
    static const char *const str_types[] = {"text", "url", "path", "notebook", "md", "dagster_run", "asset", "timestamp", NULL};
    if (!strcmp(type, "__infer__") || !strcmp(type, "json")) return 1;
    if (json_is_null(raw)) return strcmp(type, "table") && strcmp(type, "table_schema") && strcmp(type, "table_column_lineage");
    if (!strcmp(type, "float")) return json_is_real(raw);
    if (!strcmp(type, "int")) return json_is_integer(raw);
    if (!strcmp(type, "bool")) return json_is_boolean(raw);
    if (!strcmp(type, "null")) return 0;
    if (!strcmp(type, "table") || !strcmp(type, "table_schema") || !strcmp(type, "table_column_lineage"))
        return json_is_object(raw);
    for (int i = 0; str_types[i]; i++)
        if (!strcmp(type, str_types[i])) return json_is_string(raw) || (!strcmp(type, "timestamp") && json_is_number(raw));
    return -1; /* unknown type */
}

int ct_pipes_md_set(json_t *md, const char *key, const char *type, json_t *raw)
{
    if (!raw) raw = json_null();
    if (!json_is_object(md) || !key || !type) {
        json_decref(raw);
        return ct_fail(CT_ERR_USAGE, "Dagster Pipes metadata: no object, key or type");
    }
    int fits = raw_fits(type, raw);
    if (fits <= 0) {
        json_decref(raw);
        if (fits < 0) return ct_fail(CT_ERR_USAGE, "Dagster Pipes metadata '%s': unknown type '%s'", key, type);
        return ct_fail(CT_ERR_USAGE, "Dagster Pipes metadata '%s': the raw value does not fit type '%s'", key, type);
    }
    json_t *v = json_object();
    json_object_set_new(v, "type", json_string(type));
    json_object_set_new(v, "raw_value", raw);
    json_object_set_new(md, key, v);
    return CT_OK;
}

int ct_pipes_md_float(json_t *md, const char *key, double v)
{
    return ct_pipes_md_set(md, key, "float", isfinite(v) ? json_real(v) : json_null());
}
int ct_pipes_md_int(json_t *md, const char *key, long long v) { return ct_pipes_md_set(md, key, "int", json_integer(v)); }
int ct_pipes_md_bool(json_t *md, const char *key, int v) { return ct_pipes_md_set(md, key, "bool", json_boolean(v)); }
int ct_pipes_md_text(json_t *md, const char *key, const char *s) { return ct_pipes_md_set(md, key, "text", ct_pipes_string(s)); }
int ct_pipes_md_markdown(json_t *md, const char *key, const char *s) { return ct_pipes_md_set(md, key, "md", ct_pipes_string(s)); }
int ct_pipes_md_json(json_t *md, const char *key, json_t *v) { return ct_pipes_md_set(md, key, "json", v); }

int ct_pipes_md_path(json_t *md, const char *key, const char *path)
{
    char abs[PATH_MAX];
    if (!path) return ct_pipes_md_set(md, key, "null", NULL);
    if (realpath(path, abs)) path = abs;
    return ct_pipes_md_set(md, key, "path", ct_pipes_string(path));
}

/* --- asset keys --------------------------------------------------------------------------------- */
void ct_pipes_asset_key_last(const char *key, char *out, size_t cap)
{
    size_t n = 0;
    int esc = 0;
    if (cap == 0) return;
    for (const char *p = key ? key : ""; *p; p++) {
        if (esc) esc = 0;
        else if (*p == '\\') {
            esc = 1;
            continue;
        } else if (*p == '/') {
            n = 0;
            continue;
        }
        if (n + 1 < cap) out[n++] = *p;
    }
    out[n] = 0;
}
