/* SPDX-License-Identifier: BSD-3-Clause */
/* example3: a temporary writable disk per connection
 * (see nbdx-example3-plugin(1)).
 *
 * The third example writes.  Each client gets a private disk, a file
 * made when it connects and unlinked at once, so it vanishes when the
 * connection closes its descriptor, even if the server is killed.  With
 * .pwrite and .flush the server also offers FUA (a flush after the
 * write) and zeroing (writes of zeroes) without more code here.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* Where the disks are made, as nbdkit's example3 (TMPDIR is ignored). */
#define DISK_TEMPLATE "/var/tmp/diskXXXXXX"

static int64_t size = 100 * 1024 * 1024; /* size=SIZE, default 100M */

static int
example3_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

/* One connection's disk.  Allocated by .open, freed by .close. */
struct example3_handle {
    int fd; /* the unlinked temporary file */
};

static void *
example3_open(int readonly)
{
    struct example3_handle *h = malloc(sizeof *h);
    char path[] = DISK_TEMPLATE;

    if (h == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    h->fd = mkostemp(path, O_CLOEXEC);
    if (h->fd == -1) {
        nbdkit_error("mkostemp: %s: %m", path);
        free(h);
        return NULL;
    }
    unlink(path);
    /* A file of size bytes that takes no space until written. */
    if (ftruncate(h->fd, size) == -1) {
        nbdkit_error("ftruncate: %m");
        close(h->fd);
        free(h);
        return NULL;
    }
    return h;
}

static void
example3_close(void *handle)
{
    struct example3_handle *h = handle;

    close(h->fd);
    free(h);
}

static int64_t
example3_get_size(void *handle)
{
    return size;
}

/* pread and pwrite loop because the system calls may do less than
 * asked.  A read past the data written reads zeroes (the file is
 * sparse), so a short read can only be an error.
 */
static int
example3_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
    struct example3_handle *h = handle;
    char *p = buf;

    while (count > 0) {
        ssize_t r = pread(h->fd, p, count, offset);
        if (r == -1) {
            nbdkit_error("pread: %m");
            return -1;
        }
        if (r == 0) {
            errno = EIO;
            nbdkit_error("pread: unexpected end of file");
            return -1;
        }
        p += r;
        count -= r;
        offset += r;
    }
    return 0;
}

static int
example3_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
                uint32_t flags)
{
    struct example3_handle *h = handle;
    const char *p = buf;

    while (count > 0) {
        ssize_t r = pwrite(h->fd, p, count, offset);
        if (r == -1) {
            nbdkit_error("pwrite: %m");
            return -1;
        }
        p += r;
        count -= r;
        offset += r;
    }
    return 0;
}

/* A client's flush: the data reaches the disk under /var/tmp. */
static int
example3_flush(void *handle, uint32_t flags)
{
    struct example3_handle *h = handle;

    if (fdatasync(h->fd) == -1) {
        nbdkit_error("fdatasync: %m");
        return -1;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "example3",
    .longname = "nbdx example3 plugin",
    .version = PACKAGE_VERSION,
    .description = "A temporary writable disk per connection, an example.",
    .config = example3_config,
    .config_help =
        "size=<SIZE>  (optional) Size of the backing disk (default: 100M)",
    .open = example3_open,
    .close = example3_close,
    .get_size = example3_get_size,
    .pread = example3_pread,
    .pwrite = example3_pwrite,
    .flush = example3_flush,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
