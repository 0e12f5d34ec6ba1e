/* common.c: error messages, logging, files written atomically, small utilities. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char g_err[2048];
int ct_verbosity = 1;
void (*ct_log_sink)(int level, const char *text);

int ct_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return code;
}

int ct_fail_ctx(int code, const char *fmt, ...)
{
    char prev[sizeof g_err];
    memcpy(prev, g_err, sizeof prev);
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    if (prev[0])
        snprintf(g_err, sizeof g_err, "%s: %s", ctx, prev);
    else
        snprintf(g_err, sizeof g_err, "%s", ctx);
    return code;
}

const char *ct_last_error(void) { return g_err[0] ? g_err : "unknown error"; }
void ct_clear_error(void) { g_err[0] = 0; }

void ct_log(const char *fmt, ...)
{
    va_list ap;
    if (ct_log_sink) {
        char buf[2048];
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        ct_log_sink(strncmp(buf, "warning", 7) == 0, buf);
    }
    if (ct_verbosity < 1) return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

void ct_debug(const char *fmt, ...)
{
    if (ct_verbosity < 2) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

double ct_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *ct_malloc(size_t n, const char *what)
{
    void *p = malloc(n ? n : 1);
    if (!p) ct_fail(CT_ERR_NOMEM, "out of host memory allocating %zu bytes for %s", n, what);
    return p;
}

void *ct_calloc(size_t count, size_t size, const char *what)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) ct_fail(CT_ERR_NOMEM, "out of host memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}

int ct_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ct_fail(CT_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ct_fail(CT_ERR_INPUT, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return ct_fail(CT_ERR_INPUT, "%s: file is %lld bytes, more than the %zu allowed", path,
                       (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = ct_malloc(n + 1, path);
    if (!buf) {
        fclose(f);
        return CT_ERR_NOMEM;
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        free(buf);
        return ct_fail(CT_ERR_INPUT, "%s: read error after %zu of %zu bytes", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return CT_OK;
}

int ct_write_file_atomic(const char *path, const void *data, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = ct_malloc(pl + 32, "temp file name");
    if (!tmp) return CT_ERR_NOMEM;
    snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int rc = ct_fail(CT_ERR_RUNTIME, "%s: cannot create: %s (check that the folder exists and is writable)",
                         tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return ct_fail(CT_ERR_RUNTIME, "%s: write failed: %s; the previous file, if any, is intact", path,
                           strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    /* the descriptor is closed whatever fsync says (it used to leak when fsync failed) */
    int bad = fsync(fd) != 0, e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        free(tmp);
        return ct_fail(CT_ERR_RUNTIME, "%s: flush failed: %s; the previous file, if any, is intact", path,
                       strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ct_fail(CT_ERR_RUNTIME, "%s: rename failed: %s", path, strerror(e));
    }
    free(tmp);
    /* fsync the folder so the rename itself is durable */
    char *dup = strdup(path);
    if (dup) {
        int dfd = open(dirname(dup), O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dup);
    }
    return CT_OK;
}

int ct_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return ct_fail(CT_ERR_USAGE, "bad folder name '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return ct_fail(CT_ERR_RUNTIME, "%s: cannot create folder: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return ct_fail(CT_ERR_RUNTIME, "%s: exists and is not a folder", path);
    return CT_OK;
}

uint64_t ct_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

char *ct_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/') p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}
