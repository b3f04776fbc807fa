/* SPDX-License-Identifier: BSD-3-Clause */
/* offset.c: serve the byte range [offset, offset+range) of the layer below.
 *
 * Every data call is shifted up by offset; extents come back shifted
 * down.  The server bounds each request by get_size, which is range, so
 * the shifted requests always fall inside the layer below.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

static uint64_t offset = 0; /* offset=OFFSET, default 0 */
static int64_t range = -1;  /* range=LENGTH, -1 = to the end */

static int
offset_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
              const char *value)
{
    int64_t r;

    if (strcmp(key, "offset") == 0) {
        r = nbdkit_parse_size(value);
        if (r == -1)
            return -1;
        offset = r;
        return 0;
    }
    if (strcmp(key, "range") == 0) {
        r = nbdkit_parse_size(value);
        if (r == -1)
            return -1;
        range = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define offset_config_help                                                     \
    "offset=<OFFSET>            The start offset to serve (default 0).\n"      \
    "range=<LENGTH>             The total size to serve (default rest of "     \
    "file)."

/* The size exposed to the client, checked against the size below;
 * -1 after nbdkit_error.
 */
static int64_t
offset_get_size(nbdkit_next *next, void *handle)
{
    int64_t real_size;

    real_size = next->get_size(next);
    if (real_size == -1)
        return -1;
    if (range >= 0) {
        if (offset > (uint64_t)real_size ||
            (uint64_t)range > (uint64_t)real_size - offset) {
            nbdkit_error("offset+range (%" PRIu64 "+%" PRIi64 ") is larger "
                         "than the size of the layer below (%" PRIi64 ")",
                         offset, range, real_size);
            return -1;
        }
        return range;
    }
    if (offset > (uint64_t)real_size) {
        nbdkit_error("offset (%" PRIu64 ") is larger than the size of the "
                     "layer below (%" PRIi64 ")",
                     offset, real_size);
        return -1;
    }
    return real_size - offset;
}

static int
offset_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
             uint64_t offs, uint32_t flags, int *err)
{
    return next->pread(next, buf, count, offs + offset, flags, err);
}

static int
offset_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
              uint64_t offs, uint32_t flags, int *err)
{
    return next->pwrite(next, buf, count, offs + offset, flags, err);
}

static int
offset_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
            uint32_t flags, int *err)
{
    return next->trim(next, count, offs + offset, flags, err);
}

static int
offset_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
            uint32_t flags, int *err)
{
    return next->zero(next, count, offs + offset, flags, err);
}

static int
offset_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
             uint32_t flags, int *err)
{
    return next->cache(next, count, offs + offset, flags, err);
}

/* Copy the extents of below, which start at offset+offs, into extents
 * shifted down by offset.  Extents past the end of our range are
 * dropped by the server's clipping of the caller's list.
 */
static int
offset_copy_extents(struct nbdkit_extents *below,
                    struct nbdkit_extents *extents, int *err)
{
    size_t i, n = nbdkit_extents_count(below);
    struct nbdkit_extent e;

    for (i = 0; i < n; i++) {
        e = nbdkit_get_extent(below, i);
        if (nbdkit_add_extent(extents, e.offset - offset, e.length, e.type) ==
            -1) {
            *err = errno;
            return -1;
        }
    }
    return 0;
}

static int
offset_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct nbdkit_extents *below; /* owned; freed before returning */
    int64_t size;
    int r;

    size = offset_get_size(next, handle);
    if (size == -1) {
        *err = EIO;
        return -1;
    }
    below = nbdkit_extents_new(offs + offset, offset + size);
    if (below == NULL) {
        *err = errno;
        return -1;
    }
    r = next->extents(next, count, offs + offset, flags, below, err);
    if (r == 0)
        r = offset_copy_extents(below, extents, err);
    nbdkit_extents_free(below);
    return r;
}

static struct nbdkit_filter filter = {
    .name = "offset",
    .longname = "nbdx offset filter",
    .config = offset_config,
    .config_help = offset_config_help,
    .get_size = offset_get_size,
    .pread = offset_pread,
    .pwrite = offset_pwrite,
    .trim = offset_trim,
    .zero = offset_zero,
    .extents = offset_extents,
    .cache = offset_cache,
};

NBDKIT_REGISTER_FILTER(filter)

/* nbdx only: the zero-copy calls pass through with the same shift. */
static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

static int64_t
offset_read_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                uint32_t flags, struct nbdx_iovec *iov, size_t max, size_t *n,
                void **cookie, int *err)
{
    return next_zc->read_iov(next, count, offs + offset, flags, iov, max, n,
                             cookie, err);
}

static void
offset_read_iov_end(void *next, void *handle, void *cookie)
{
    next_zc->read_iov_end(next, cookie);
}

static int
offset_read_fd(void *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, int *fd, uint64_t *fd_offset, int *err)
{
    return next_zc->read_fd(next, count, offs + offset, flags, fd, fd_offset,
                            err);
}

static int
offset_write_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                 uint32_t flags, struct nbdx_wiovec *iov, size_t max, size_t *n,
                 void **cookie, int *err)
{
    return next_zc->write_iov(next, count, offs + offset, flags, iov, max, n,
                              cookie, err);
}

static int
offset_write_iov_end(void *next, void *handle, void *cookie, int commit,
                     uint32_t flags, int *err)
{
    return next_zc->write_iov_end(next, cookie, commit, flags, err);
}

static int
offset_write_pipe(void *next, void *handle, uint32_t count, uint64_t offs,
                  uint32_t flags, int pipe, int *err)
{
    return next_zc->write_pipe(next, count, offs + offset, flags, pipe, err);
}

static const struct nbdx_filter_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_FILTER_EXTENSION_VERSION,
    .read_iov = offset_read_iov,
    .read_iov_end = offset_read_iov_end,
    .read_fd = offset_read_fd,
    .write_iov = offset_write_iov,
    .write_iov_end = offset_write_iov_end,
    .write_pipe = offset_write_pipe,
};

NBDX_REGISTER_FILTER_EXTENSION(extension, next_zc)
