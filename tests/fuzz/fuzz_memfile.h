/* fuzz_memfile.h: the fuzz input as a file path (/proc/self/fd/N of a memfd) for readers that
 * take a path, so their whole file-reading path is exercised without touching the disk. */
#ifndef FUZZ_MEMFILE_H
#define FUZZ_MEMFILE_H
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *fuzz_memfile(const unsigned char *data, size_t size, const char *name)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create(name, 0);
        if (fd < 0) return NULL;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) return NULL;
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
        if (w <= 0) return NULL;
        off += (size_t)w;
    }
    return path;
}
#endif
