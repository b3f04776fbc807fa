/* SPDX-License-Identifier: BSD-3-Clause */
/* split: several files concatenated into one disk
 * (see nbdx-split-plugin(1)).
 */

#include <config.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "minmax.h"
#include "vector.h"

DEFINE_VECTOR_TYPE(string_vector, char *)

/* file=FILENAME, repeated: absolute paths in command-line order.  Owned
 * here, freed by .unload.
 */
static string_vector filenames = empty_vector;

static int
split_config(const char *key, const char *value)
{
    char *path;

    if (strcmp(key, "file") != 0) {
        nbdkit_error("unknown parameter '%s'", key);
        return -1;
    }
    path = nbdkit_realpath(value);
    if (path == NULL)
        return -1;
    if (string_vector_append(&filenames, path) == -1) {
        nbdkit_error("realloc: %m");
        free(path);
        return -1;
    }
    return 0;
}

static void
split_unload(void)
{
    for (size_t i = 0; i < filenames.len; i++)
        free(filenames.ptr[i]);
    free(filenames.ptr);
}

/* One file as the connection sees it: its descriptor, and where it sits
 * in the disk.  The sizes are read once, at open: the files must not
 * change size while they are served.
 */
struct split_file {
    int fd;
    uint64_t offset; /* of its first byte in the disk */
    uint64_t size;
};

/* A connection: one open file per file=, in order.  Allocated by .open,
 * freed by .close with the descriptors.
 */
struct split_handle {
    struct split_file *files;
    size_t nr_files;
    uint64_t size; /* the sum of the file sizes */
};

static void
split_close(void *handle)
{
    struct split_handle *h = handle;

    for (size_t i = 0; i < h->nr_files; i++)
        close(h->files[i].fd);
    free(h->files);
    free(h);
}

/* Open file i and place it after the files before it. */
static int
split_open_file(struct split_handle *h, size_t i, int readonly)
{
    struct split_file *f = &h->files[i];
    const char *name = filenames.ptr[i];
    struct stat st;

    f->fd = open(name, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
    if (f->fd == -1) {
        nbdkit_error("open: %s: %m", name);
        return -1;
    }
    h->nr_files = i + 1;
    if (fstat(f->fd, &st) == -1) {
        nbdkit_error("stat: %s: %m", name);
        return -1;
    }
    f->offset = h->size;
    f->size = st.st_size;
    if (f->size > INT64_MAX - h->size) {
        nbdkit_error("%s: the files add up to more than 2^63-1 bytes", name);
        return -1;
    }
    h->size += f->size;
    return 0;
}

static void *
split_open(int readonly)
{
    struct split_handle *h = calloc(1, sizeof *h);

    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->files = calloc(filenames.len ? filenames.len : 1, sizeof *h->files);
    if (h->files == NULL) {
        nbdkit_error("calloc: %m");
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < filenames.len; i++) {
        if (split_open_file(h, i, readonly) == -1) {
            split_close(h);
            return NULL;
        }
    }
    return h;
}

static int64_t
split_get_size(void *handle)
{
    struct split_handle *h = handle;

    return h->size;
}

static int
split_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* bsearch: the file holding byte *key.  Empty files hold none. */
static int
split_compare_offset(const void *key, const void *elem)
{
    uint64_t offset = *(const uint64_t *)key;
    const struct split_file *f = elem;

    if (offset < f->offset)
        return -1;
    if (offset - f->offset >= f->size)
        return 1;
    return 0;
}

/* The index of the file holding byte offset, which the server has
 * checked is inside the disk.
 */
static size_t
split_find(struct split_handle *h, uint64_t offset)
{
    struct split_file *f = bsearch(&offset, h->files, h->nr_files, sizeof *f,
                                   split_compare_offset);

    return f - h->files;
}

/* Read or write all of count bytes at offset of one file. */
static int
split_file_io(struct split_file *f, char *buf, size_t count, uint64_t offset,
              bool write)
{
    while (count > 0) {
        ssize_t r = write ? pwrite(f->fd, buf, count, offset)
                          : pread(f->fd, buf, count, offset);
        if (r == -1) {
            nbdkit_error("%s: %m", write ? "pwrite" : "pread");
            return -1;
        }
        if (r == 0) {
            errno = EIO;
            nbdkit_error("pread: unexpected end of file (was a file "
                         "truncated while served?)");
            return -1;
        }
        buf += r;
        count -= r;
        offset += r;
    }
    return 0;
}

/* A request cut at the ends of the files it spans. */
static int
split_io(struct split_handle *h, char *buf, uint32_t count, uint64_t offset,
         bool write)
{
    for (size_t i = split_find(h, offset); count > 0; i++) {
        struct split_file *f = &h->files[i];
        uint64_t pos = offset - f->offset;
        uint32_t n = MIN(count, f->size - pos);

        if (n > 0 && split_file_io(f, buf, n, pos, write) == -1)
            return -1;
        buf += n;
        count -= n;
        offset += n;
    }
    return 0;
}

static int
split_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    return split_io(handle, buf, count, offset, false);
}

static int
split_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    /* The buffer is only read when writing. */
    return split_io(handle, (char *)buf, count, offset, true);
}

/* Cache: ask the kernel to read ahead each piece. */
static int
split_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct split_handle *h = handle;

    for (size_t i = split_find(h, offset); count > 0; i++) {
        struct split_file *f = &h->files[i];
        uint64_t pos = offset - f->offset;
        uint32_t n = MIN(count, f->size - pos);
        int r = n > 0 ? posix_fadvise(f->fd, pos, n, POSIX_FADV_WILLNEED) : 0;

        if (r != 0) {
            errno = r;
            nbdkit_error("posix_fadvise: %m");
            return -1;
        }
        count -= n;
        offset += n;
    }
    return 0;
}

/* The extents of [pos, end) of one file, from SEEK_DATA and SEEK_HOLE,
 * added at base + pos in the disk.  With one set (NBD_CMD_FLAG_REQ_ONE),
 * stops after the first.  Returns 1 when it stopped so, 0 when done.
 */
static int
split_file_extents(struct split_file *f, uint64_t pos, uint64_t end, bool one,
                   struct nbdkit_extents *extents)
{
    while (pos < end) {
        off_t data = lseek(f->fd, pos, SEEK_DATA);
        off_t next;
        uint32_t type;

        if (data == -1 && errno == ENXIO)
            data = end; /* a hole to the end of the file */
        else if (data == -1 && errno == EINVAL)
            data = pos; /* no SEEK_DATA here: all data */
        else if (data == -1) {
            nbdkit_error("lseek: SEEK_DATA: %m");
            return -1;
        }
        if ((uint64_t)data > pos) {
            next = data;
            type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
        } else {
            next = lseek(f->fd, pos, SEEK_HOLE);
            if (next == -1 && errno != EINVAL) {
                nbdkit_error("lseek: SEEK_HOLE: %m");
                return -1;
            }
            if (next == -1)
                next = end;
            type = 0;
        }
        next = MIN((uint64_t)next, end);
        if (nbdkit_add_extent(extents, f->offset + pos, next - pos, type) == -1)
            return -1;
        if (one)
            return 1;
        pos = next;
    }
    return 0;
}

static int
split_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
              struct nbdkit_extents *extents)
{
    struct split_handle *h = handle;
    bool one = flags & NBDKIT_FLAG_REQ_ONE;
    uint64_t end = offset + count;

    for (size_t i = split_find(h, offset);
         i < h->nr_files && h->files[i].offset < end; i++) {
        struct split_file *f = &h->files[i];
        uint64_t pos = offset > f->offset ? offset - f->offset : 0;
        uint64_t stop = MIN(f->size, end - f->offset);
        int r = split_file_extents(f, pos, stop, one, extents);

        if (r != 0)
            return r == 1 ? 0 : -1;
    }
    return 0;
}

/* As nbdkit's split plugin: the requests of one connection one at a
 * time, connections in parallel (each has its own descriptors).
 */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "split",
    .longname = "nbdx split plugin",
    .version = PACKAGE_VERSION,
    .description = "Several files concatenated into one disk.",
    .magic_config_key = "file",
    .config = split_config,
    .config_help = "file=<FILENAME>  (required) File(s) to serve.",
    .unload = split_unload,
    .open = split_open,
    .close = split_close,
    .get_size = split_get_size,
    .can_cache = split_can_cache,
    .pread = split_pread,
    .pwrite = split_pwrite,
    .cache = split_cache,
    .extents = split_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
