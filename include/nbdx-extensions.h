/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdx-extensions.h: optional plugin extensions that only nbdx knows.
 *
 * nbdkit's struct nbdkit_plugin is never extended by nbdx.  A plugin that
 * wants more exports a second symbol, nbdx_extension_init, returning a
 * struct nbdx_extension.  nbdkit never looks for it, so the same .so runs
 * under both servers; nbdx uses it only when the plugin is the whole
 * stack (no filters) and the transport is a plain socket, and falls back
 * to the plugin's .pread and .pwrite everywhere else.  Every callback is
 * optional.
 *
 * The struct is append-only: nbdx reads only the first _struct_size
 * bytes and treats missing fields as NULL.
 */

#ifndef NBDX_EXTENSIONS_H
#define NBDX_EXTENSIONS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1: pread_iov, release_iov, pread_fd.  2: adds pwrite_iov, pwrite_end,
 * pwrite_fd, flags.
 */
#define NBDX_EXTENSION_VERSION 2

/* One piece of a zero-copy read: len bytes at base, or len zero bytes
 * when base is NULL.
 */
struct nbdx_iovec {
    const void *base;
    uint64_t len;
};

/* One piece of a zero-copy write: len writable bytes at base. */
struct nbdx_wiovec {
    void *base;
    uint64_t len;
};

struct nbdx_extension {
    uint64_t _struct_size; /* sizeof (struct nbdx_extension) */
    int _version;          /* NBDX_EXTENSION_VERSION */

    /* Zero-copy read from memory.  Describe a prefix of
     * [offset, offset + count) in at most max pieces, store how many in
     * *n and return the number of bytes they cover (> 0), or -1 with
     * errno set.  The memory stays valid and unchanged by anything but
     * overlapping writes until release_iov(handle, *cookie) is called,
     * which the server does soon, from the same thread, whether or not
     * the send worked.  The plugin may hold a lock meanwhile; the server
     * bounds the time (it copies the rest and releases when the client
     * is slow to read).
     */
    int64_t (*pread_iov)(void *handle, uint32_t count, uint64_t offset,
                         uint32_t flags, struct nbdx_iovec *iov, size_t max,
                         size_t *n, void **cookie);
    void (*release_iov)(void *handle, void *cookie);

    /* Zero-copy read from a file: the bytes [offset, offset + count) are
     * the bytes at *fd_offset of the file descriptor *fd, which the
     * plugin owns and keeps open for the life of handle.  The server
     * sends them with sendfile(2).  Returns 0, or -1 with errno set.
     */
    int (*pread_fd)(void *handle, uint32_t count, uint64_t offset,
                    uint32_t flags, int *fd, uint64_t *fd_offset);

    /* Zero-copy write: the server receives the client's data straight
     * into the plugin's memory.  Describe writable memory for a prefix of
     * [offset, offset + count) in at most max pieces, store how many in
     * *n and return the number of bytes they cover (> 0), or -1 with
     * errno set.  Memory the plugin hands out for bytes that did not
     * exist before must read as zeroes (never stale data): the server may
     * fill less than it was given.  The server then fills the pieces,
     * possibly slowly (at the client's pace, bounded by a deadline) and
     * without holding any plugin lock, so the memory must stay valid
     * until pwrite_end; concurrent reads of those bytes may see them
     * partly written, as the NBD protocol allows for overlapping
     * requests.  pwrite_end(handle, filled, offset, flags, cookie) is
     * always called, from the same thread; filled is how many bytes from
     * offset the server wrote (less than covered if the client went
     * away).  It returns 0, or -1 with errno set, which fails the
     * request.  flags is 0 today.  Used only for plugins whose thread
     * model is parallel: the server calls pwrite_iov from the thread
     * that reads requests, while others run.
     */
    int64_t (*pwrite_iov)(void *handle, uint32_t count, uint64_t offset,
                          uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                          size_t *n, void **cookie);
    int (*pwrite_end)(void *handle, uint32_t filled, uint64_t offset,
                      uint32_t flags, void *cookie);

    /* Zero-copy write to a file: the bytes [offset, offset + count) go
     * to *fd_offset of the file descriptor *fd, which the plugin owns and
     * keeps open for the life of handle.  The server moves the client's
     * data there itself, with splice(2) from the socket through a pipe
     * (or pwrite(2) for what it has already read), so the plugin's .pwrite
     * is not called.  Returns 0, or -1 with errno set to decline (the
     * server then calls .pwrite as usual).  Never called with FUA.
     */
    int (*pwrite_fd)(void *handle, uint32_t count, uint64_t offset,
                     uint32_t flags, int *fd, uint64_t *fd_offset);

    /* NBDX_EXT_* bits: promises the plugin makes. */
    uint64_t flags;
};

/* The memory pread_iov describes may be handed to the kernel by
 * reference (vmsplice) and stay referenced after release_iov until the
 * client has read it: the plugin never reuses that memory for other data
 * (it unmaps it, or MADV_DONTNEEDs it, instead of recycling it), so a
 * client can only ever see bytes of this export.
 */
#define NBDX_EXT_SPLICE_OK 1

/* The optional export.  Returns a pointer to static storage. */
typedef const struct nbdx_extension *(*nbdx_extension_init_fn)(void);
#define NBDX_EXTENSION_INIT_SYMBOL "nbdx_extension_init"

#ifdef __cplusplus
}
#endif

#endif /* NBDX_EXTENSIONS_H */
