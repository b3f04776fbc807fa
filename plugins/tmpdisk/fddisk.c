/* SPDX-License-Identifier: BSD-3-Clause */
/* fddisk.c: a connection serving one open file (see fddisk.h). */

#include <config.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "fddisk.h"
#include "fdio.h"

struct fddisk *
fddisk_new(int fd)
{
    struct fddisk *h = malloc(sizeof *h);

    if (h == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    h->fd = fd;
    return h;
}

void
fddisk_close(void *handle)
{
    struct fddisk *h = handle;

    close(h->fd);
    free(h);
}

/* Whatever size the command made. */
int64_t
fddisk_get_size(void *handle)
{
    struct fddisk *h = handle;
    struct stat st;

    if (fstat(h->fd, &st) == -1) {
        nbdkit_error("fstat: %m");
        return -1;
    }
    return st.st_size;
}

int
fddisk_can_trim(void *handle)
{
    return 1;
}

int
fddisk_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

/* Each connection has its own file (tmpdisk) or the only one at a time
 * (ondemand's lock): there is never a second connection to agree with.
 */
int
fddisk_can_multi_conn(void *handle)
{
    return 0;
}

int
fddisk_flush(void *handle, uint32_t flags)
{
    struct fddisk *h = handle;

    if (fdatasync(h->fd) == -1) {
        nbdkit_error("fdatasync: %m");
        return -1;
    }
    return 0;
}

int
fddisk_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    struct fddisk *h = handle;

    if (fdio_pread(h->fd, buf, count, offset) == -1) {
        nbdkit_error("pread: %m");
        return -1;
    }
    return 0;
}

int
fddisk_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    struct fddisk *h = handle;

    if (fdio_pwrite(h->fd, buf, count, offset) == -1) {
        nbdkit_error("pwrite: %m");
        return -1;
    }
    return flags & NBDKIT_FLAG_FUA ? fddisk_flush(handle, 0) : 0;
}

/* Trim punches a hole, where the file system can. */
int
fddisk_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct fddisk *h = handle;

    if (fdio_punch(h->fd, count, offset) == -1) {
        nbdkit_error("fallocate: %m");
        return -1;
    }
    return flags & NBDKIT_FLAG_FUA ? fddisk_flush(handle, 0) : 0;
}
