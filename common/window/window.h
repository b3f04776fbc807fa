/* SPDX-License-Identifier: BSD-3-Clause */
/* window.h: a filter that serves one byte range of the layer below
 * (offset, partition, tar): the filter's data callbacks, zero-copy ones
 * included, shifted up by the start of the range.
 *
 * The filter's per-connection handle starts with a struct window (or is
 * one), made by window_new in the filter's open and placed by
 * window_place in its prepare; the callbacks below then go straight
 * into its struct nbdkit_filter (WINDOW_FILTER_CALLBACKS) and its
 * struct nbdx_filter_extension (WINDOW_REGISTER_EXTENSION).  The
 * server bounds every request by get_size, which is the window's length,
 * so shifted requests stay inside the window.
 */

#ifndef NBDX_WINDOW_H
#define NBDX_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

struct window {
    uint64_t offset; /* where the window starts in the layer below */
    uint64_t length; /* its size, the size of the export */
    /* The server's zero-copy calls (the filter's next_zc); not owned. */
    const struct nbdx_next_zc *zc;
};

/* A new handle of size bytes (at least sizeof (struct window)), zeroed,
 * starting with a window that uses zc; NULL with errno set.  The caller
 * owns it; window_free (which may be the filter's .close) frees it.
 */
struct window *window_new(size_t size, const struct nbdx_next_zc *zc);
void window_free(void *handle);

/* Set the window to [offset, offset + length) if that lies inside a
 * layer below of size bytes: 0, else -1 with errno ERANGE.
 */
int window_place(struct window *w, uint64_t offset, uint64_t length,
                 uint64_t size);

/* The filter's callbacks; handle points to the struct window. */
int64_t window_get_size(nbdkit_next *next, void *handle);
int window_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
                 uint64_t offs, uint32_t flags, int *err);
int window_pwrite(nbdkit_next *next, void *handle, const void *buf,
                  uint32_t count, uint64_t offs, uint32_t flags, int *err);
int window_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
                uint32_t flags, int *err);
int window_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
                uint32_t flags, int *err);
int window_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offs,
                 uint32_t flags, int *err);
/* The layer below's map of the window, shifted down. */
int window_extents(nbdkit_next *next, void *handle, uint32_t count,
                   uint64_t offs, uint32_t flags,
                   struct nbdkit_extents *extents, int *err);

#define WINDOW_FILTER_CALLBACKS                                                \
    .get_size = window_get_size, .pread = window_pread,                        \
    .pwrite = window_pwrite, .trim = window_trim, .zero = window_zero,         \
    .cache = window_cache, .extents = window_extents

/* The zero-copy callbacks; handle points to the struct window. */
int64_t window_read_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                        uint32_t flags, struct nbdx_iovec *iov, size_t max,
                        size_t *n, void **cookie, int *err);
void window_read_iov_end(void *next, void *handle, void *cookie);
int window_read_fd(void *next, void *handle, uint32_t count, uint64_t offs,
                   uint32_t flags, int *fd, uint64_t *fd_offset, int *err);
int window_write_iov(void *next, void *handle, uint32_t count, uint64_t offs,
                     uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                     size_t *n, void **cookie, int *err);
int window_write_iov_end(void *next, void *handle, void *cookie, int commit,
                         uint32_t flags, int *err);
int window_write_pipe(void *next, void *handle, uint32_t count, uint64_t offs,
                      uint32_t flags, int pipe, int *err);

#define WINDOW_EXTENSION_CALLBACKS                                             \
    .read_iov = window_read_iov, .read_iov_end = window_read_iov_end,          \
    .read_fd = window_read_fd, .write_iov = window_write_iov,                  \
    .write_iov_end = window_write_iov_end, .write_pipe = window_write_pipe

/* In the filter: its struct nbdx_filter_extension, with the callbacks
 * above, registered; the server's calls are stored in next_zc.
 */
#define WINDOW_REGISTER_EXTENSION(next_zc)                                     \
    static const struct nbdx_filter_extension window_extension = {             \
        ._struct_size = sizeof window_extension,                               \
        ._version = NBDX_FILTER_EXTENSION_VERSION,                             \
        WINDOW_EXTENSION_CALLBACKS,                                            \
    };                                                                         \
    NBDX_REGISTER_FILTER_EXTENSION(window_extension, next_zc)

#endif /* NBDX_WINDOW_H */
