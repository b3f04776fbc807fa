/* SPDX-License-Identifier: BSD-3-Clause */
/* window.c: the data callbacks of a filter serving one byte range of the
 * layer below (see window.h).
 */

#include <errno.h>
#include <stdlib.h>

#include "window.h"

struct window *
window_new(size_t size, const struct nbdx_next_zc *zc)
{
    struct window *w;

    if (size < sizeof *w) {
        errno = EINVAL;
        return NULL;
    }
    w = calloc(1, size);
    if (w != NULL)
        w->zc = zc;
    return w;
}

void
window_free(void *handle)
{
    free(handle);
}

int
window_place(struct window *w, uint64_t offset, uint64_t length, uint64_t size)
{
    if (offset > size || length > size - offset) {
        errno = ERANGE;
        return -1;
    }
    w->offset = offset;
    w->length = length;
    return 0;
}

int64_t
window_get_size(nbdkit_next *next, void *handle)
{
    const struct window *w = handle;

    return w->length;
}

int
window_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
             uint64_t offs, uint32_t flags, int *err)
{
    const struct window *w = handle;

    return next->pread(next, buf, count, offs + w->offset, flags, err);
}

int
window_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
              uint64_t offs, uint32_t flags, int *err)
{
    const struct window *w = handle;

    return next->pwrite(next, buf, count, offs + w->offset, flags, err);
}

int
window_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
            uint32_t flags, int *err)
{
    const struct window *w = handle;

    return next->trim(next, count, offs + w->offset, flags, err);
}

int
window_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
            uint32_t flags, int *err)
{
    const struct window *w = handle;

    return next->zero(next, count, offs + w->offset, flags, err);
}

int
window_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
             uint32_t flags, int *err)
{
    const struct window *w = handle;

    return next->cache(next, count, offs + w->offset, flags, err);
}

/* Copy the extents of below, which start at w->offset + offs, into
 * extents shifted down.  Extents past the end of the window are dropped
 * by the clipping of the caller's list.
 */
static int
window_copy_extents(const struct window *w, struct nbdkit_extents *below,
                    struct nbdkit_extents *extents, int *err)
{
    size_t i, n = nbdkit_extents_count(below);
    struct nbdkit_extent e;

    for (i = 0; i < n; i++) {
        e = nbdkit_get_extent(below, i);
        if (nbdkit_add_extent(extents, e.offset - w->offset, e.length,
                              e.type) == -1) {
            *err = errno;
            return -1;
        }
    }
    return 0;
}

int
window_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    const struct window *w = handle;
    struct nbdkit_extents *below; /* owned; freed before returning */
    int r;

    below = nbdkit_extents_new(offs + w->offset, w->offset + w->length);
    if (below == NULL) {
        *err = errno;
        return -1;
    }
    r = next->extents(next, count, offs + w->offset, flags, below, err);
    if (r == 0)
        r = window_copy_extents(w, below, extents, err);
    nbdkit_extents_free(below);
    return r;
}

int64_t
window_read_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                uint32_t flags, struct nbdx_iovec *iov, size_t max, size_t *n,
                void **cookie, int *err)
{
    const struct window *w = handle;

    return w->zc->read_iov(next, count, offs + w->offset, flags, iov, max, n,
                           cookie, err);
}

void
window_read_iov_end(void *next, void *handle, void *cookie)
{
    const struct window *w = handle;

    w->zc->read_iov_end(next, cookie);
}

int
window_read_fd(void *next, void *handle, uint32_t count, uint64_t offs,
               uint32_t flags, int *fd, uint64_t *fd_offset, int *err)
{
    const struct window *w = handle;

    return w->zc->read_fd(next, count, offs + w->offset, flags, fd, fd_offset,
                          err);
}

int
window_write_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                 uint32_t flags, struct nbdx_wiovec *iov, size_t max, size_t *n,
                 void **cookie, int *err)
{
    const struct window *w = handle;

    return w->zc->write_iov(next, count, offs + w->offset, flags, iov, max, n,
                            cookie, err);
}

int
window_write_iov_end(void *next, void *handle, void *cookie, int commit,
                     uint32_t flags, int *err)
{
    const struct window *w = handle;

    return w->zc->write_iov_end(next, cookie, commit, flags, err);
}

int
window_write_pipe(void *next, void *handle, uint32_t count, uint64_t offs,
                  uint32_t flags, int pipe, int *err)
{
    const struct window *w = handle;

    return w->zc->write_pipe(next, count, offs + w->offset, flags, pipe, err);
}
