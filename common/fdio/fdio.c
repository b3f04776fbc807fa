/* SPDX-License-Identifier: BSD-3-Clause */
/* fdio.c: whole transfers on a file descriptor (see fdio.h). */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fdio.h"

int
fdio_pread(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;

    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);

        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return -1;
        if (r == 0) {
            errno = EIO;
            return -1;
        }
        p += r, n -= r, off += r;
    }
    return 0;
}

int
fdio_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t r = pwrite(fd, p, n, off);

        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return -1;
        p += r, n -= r, off += r;
    }
    return 0;
}

int
fdio_punch(int fd, uint64_t n, uint64_t off)
{
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n) ==
            -1 &&
        errno != EOPNOTSUPP)
        return -1;
    return 0;
}
