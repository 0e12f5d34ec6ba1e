/* test_atomic_write.c: ct_write_file_atomic when fsync or write fails: an error naming the file,
 * the previous file intact, no temp file left and no file descriptor leaked. fsync is replaced
 * for this test by the linker (-Wl,--wrap=fsync, see CMakeLists.txt). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int __real_fsync(int fd);
static int fail_fsync;
int __wrap_fsync(int fd)
{
    if (fail_fsync) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/cltrain_atomic_XXXXXX";
    TU_CHECK(mkdtemp(dir) != NULL, "temp folder");
    char path[128];
    snprintf(path, sizeof path, "%s/file.txt", dir);
    TU_CHECK(ct_write_file_atomic(path, "old\n", 4) == CT_OK, "first write: %s", ct_last_error());
    int before = open_fds();
    fail_fsync = 1;
    for (int i = 0; i < 5; i++) {
        int rc = ct_write_file_atomic(path, "new\n", 4);
        TU_CHECK(rc == CT_ERR_RUNTIME && strstr(ct_last_error(), "flush failed") && strstr(ct_last_error(), path),
                 "fsync failure reported: %s", ct_last_error());
    }
    fail_fsync = 0;
    TU_CHECK(open_fds() == before, "no descriptor leaked by 5 failed writes (%d open, %d before)", open_fds(), before);
    unsigned char *text = NULL;
    size_t len = 0;
    TU_CHECK(ct_read_file(path, 100, &text, &len) == CT_OK && len == 4 && !memcmp(text, "old\n", 4),
             "the previous file is intact");
    free(text);
    int files = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) files += e->d_name[0] != '.';
    if (d) closedir(d);
    TU_CHECK(files == 1, "no temp file left (%d files)", files);
    TU_CHECK(ct_write_file_atomic(path, "new\n", 4) == CT_OK, "a later write works: %s", ct_last_error());
    unlink(path);
    rmdir(dir);
    return tu_finish();
}
