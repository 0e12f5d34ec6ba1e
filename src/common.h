/* common.h: status codes, the last-error message, small helpers shared by every module.
 * Library code never exits: it returns a ct_status and leaves a message in ct_last_error();
 * only the CLI (main.c) turns a status into an exit code. */
#ifndef CLTRAIN_COMMON_H
#define CLTRAIN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifndef CLTRAIN_VERSION
#define CLTRAIN_VERSION "0.1.0"
#endif

/* Status codes double as the CLI's documented exit codes. */
typedef enum {
    CT_OK = 0,
    CT_ERR_RUNTIME = 1,     /* device, OpenCL, I/O or other runtime failure */
    CT_ERR_USAGE = 2,       /* bad command line or config */
    CT_ERR_INPUT = 3,       /* bad input file (data, model, image) */
    CT_ERR_INTERRUPTED = 4, /* stopped by SIGINT/SIGTERM after writing a checkpoint */
    CT_ERR_SKIPPED = 5,     /* deployment skipped: accuracy below the threshold */
    CT_ERR_NOMEM = 6        /* out of host or device memory */
} ct_status;

/* Sets the thread's last error message (printf-style) and returns `code`, so that
 * `return ct_fail(CT_ERR_INPUT, "%s: bad magic", path);` reads naturally. */
int ct_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context to the current message: "context: previous message". */
int ct_fail_ctx(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *ct_last_error(void);
void ct_clear_error(void);

/* Logging to stderr; level 0 = quiet, 1 = normal (default), 2 = verbose. */
extern int ct_verbosity;
void ct_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ct_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A second destination for log lines (Dagster Pipes sets it; NULL otherwise): ct_log messages
 * (level 1 when they start with "warning", else 0) and train's progress lines (0). */
extern void (*ct_log_sink)(int level, const char *text);

/* Monotonic clock in seconds. */
double ct_now(void);

/* Allocation that records an error message on failure (returns NULL). */
void *ct_malloc(size_t n, const char *what);
void *ct_calloc(size_t count, size_t size, const char *what);

/* Reads a whole file into a malloc'd buffer (NUL-terminated, *len excludes the NUL).
 * Refuses files larger than max_bytes. Returns CT_OK or CT_ERR_INPUT/CT_ERR_RUNTIME. */
int ct_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *len);

/* Writes `len` bytes to `path` atomically: temp file in the same folder, fsync, rename,
 * fsync the folder. On failure the previous file (if any) is intact and no temp remains. */
int ct_write_file_atomic(const char *path, const void *data, size_t len);

/* "dir/name" (no doubled '/'), malloc'd; NULL when out of memory. */
char *ct_path_join(const char *dir, const char *name);

/* Creates a directory and its parents (mkdir -p). */
int ct_mkdirs(const char *path);

/* 64-bit FNV-1a hash, for cache keys. */
uint64_t ct_hash64(const void *data, size_t len, uint64_t seed);

#endif
