/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdx-extensions.h: optional plugin and filter extensions that only
 * nbdx knows: the zero-copy data path.
 *
 * nbdkit's struct nbdkit_plugin and struct nbdkit_filter are never
 * extended by nbdx.  A plugin that wants more exports a second symbol,
 * nbdx_extension_init, returning a struct nbdx_extension; a filter
 * exports nbdx_filter_extension_init, returning a struct
 * nbdx_filter_extension.  nbdkit never looks for them, so the same .so
 * runs under both servers.  nbdx uses a zero-copy call only when every
 * layer from the top of the stack down to the plugin offers it (a filter
 * with no .pread offers the read calls by itself, one with no .pwrite
 * the write calls), and falls back to .pread and .pwrite everywhere
 * else.  Every callback is optional.
 *
 * The structs are append-only: nbdx reads only the first _struct_size
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
 * pwrite_fd, flags.  3: adds write_begin, write_commit, write_abort;
 * pwrite_iov and pwrite_end are no longer called (they let a client that
 * died mid-payload leave a torn write).
 */
#define NBDX_EXTENSION_VERSION 3

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
    /* Version 2's zero-copy write: no longer called (see version 3). */
    int64_t (*pwrite_iov)(void *handle, uint32_t count, uint64_t offset,
                          uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                          size_t *n, void **cookie);
    int (*pwrite_end)(void *handle, uint32_t filled, uint64_t offset,
                      uint32_t flags, void *cookie);

    /* Zero-copy write to a file: the bytes [offset, offset + count) go
     * to *fd_offset of the file descriptor *fd, which the plugin owns and
     * keeps open for the life of handle.  The server has received the
     * whole payload (into a pipe) before it calls this, and then moves
     * it there itself with splice(2), so the plugin's .pwrite is not
     * called.  Returns 0, or -1 with errno set, which fails the request;
     * errno ENOTSUP declines instead (the server reads the payload out of
     * the pipe and calls .pwrite).  Never called with FUA.
     */
    int (*pwrite_fd)(void *handle, uint32_t count, uint64_t offset,
                     uint32_t flags, int *fd, uint64_t *fd_offset);

    /* NBDX_EXT_* bits: promises the plugin makes. */
    uint64_t flags;

    /* Version 3: zero-copy writes that are atomic.  The server receives
     * a WRITE's payload straight into memory the plugin hands out, and
     * the export changes only when the whole payload is there.
     * write_begin describes writable staging memory for all of
     * [offset, offset + count) in at most max pieces (the first piece is
     * for offset, the next follows it, and so on), stores how many in *n
     * and an opaque pointer in *cookie, and returns 0; or -1 with errno
     * set to decline (the server then receives into a buffer and calls
     * .pwrite).  The staging memory is not part of the export: reads and
     * other writes do not see it.  Then exactly one of these is called,
     * from any thread, once: write_commit when every byte has arrived,
     * which puts them into the export as one .pwrite of the same range
     * would (0, or -1 with errno set, which fails the request; the
     * staging memory is released either way); write_abort when the
     * payload never fully arrived, which releases it and leaves the
     * export as it was.  flags is 0 (no FUA) in all three.  Used only for
     * plugins whose thread model is parallel: the server calls
     * write_begin from the thread that reads requests, while others run.
     */
    int (*write_begin)(void *handle, uint32_t count, uint64_t offset,
                       uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                       size_t *n, void **cookie);
    int (*write_commit)(void *handle, void *cookie, uint32_t flags);
    void (*write_abort)(void *handle, void *cookie);
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

/* ---- Filters ----
 *
 * A filter that changes neither offsets nor data of reads can leave
 * .pread NULL and gets the zero-copy reads of the layers below for free;
 * the same for .pwrite and writes.  A filter that has .pread or .pwrite
 * but only maps offsets, or only watches (offset, partition, log, stats),
 * forwards the zero-copy calls through this extension: each callback
 * below mirrors a plugin one, gets the layer below as next (call it
 * through the struct nbdx_next_zc the server handed to
 * nbdx_filter_extension_init) and the filter's handle, and returns what
 * the layer below returned, after mapping offsets.  The pieces handed up
 * must be exactly those the layer below described (a filter never hands
 * out memory of its own here).  A filter that must see or change the data
 * (cow, cache, luks, xz...) has no such callbacks, and the server copies
 * through its .pread and .pwrite.  Errors are errno values in *err, as in
 * the filter API.
 */

#define NBDX_FILTER_EXTENSION_VERSION 1

/* The server's side: the layer below's zero-copy calls. */
struct nbdx_next_zc {
    uint64_t _struct_size; /* sizeof (struct nbdx_next_zc) */
    int64_t (*read_iov)(void *next, uint32_t count, uint64_t offset,
                        uint32_t flags, struct nbdx_iovec *iov, size_t max,
                        size_t *n, void **cookie, int *err);
    void (*read_iov_end)(void *next, void *cookie);
    int (*read_fd)(void *next, uint32_t count, uint64_t offset, uint32_t flags,
                   int *fd, uint64_t *fd_offset, int *err);
    int (*write_iov)(void *next, uint32_t count, uint64_t offset,
                     uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                     size_t *n, void **cookie, int *err);
    int (*write_iov_end)(void *next, void *cookie, int commit, uint32_t flags,
                         int *err);
    /* The whole count-byte payload waits in the pipe: move it to offset. */
    int (*write_pipe)(void *next, uint32_t count, uint64_t offset,
                      uint32_t flags, int pipe, int *err);
};

/* The filter's side; next is the filter's nbdkit_next *. */
struct nbdx_filter_extension {
    uint64_t _struct_size; /* sizeof (struct nbdx_filter_extension) */
    int _version;          /* NBDX_FILTER_EXTENSION_VERSION */

    /* A prefix of [offset, offset + count), as pread_iov. */
    int64_t (*read_iov)(void *next, void *handle, uint32_t count,
                        uint64_t offset, uint32_t flags, struct nbdx_iovec *iov,
                        size_t max, size_t *n, void **cookie, int *err);
    void (*read_iov_end)(void *next, void *handle, void *cookie);
    /* As pread_fd. */
    int (*read_fd)(void *next, void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags, int *fd, uint64_t *fd_offset, int *err);
    /* As write_begin, then write_commit (commit 1) or write_abort
     * (commit 0, whose result is ignored).
     */
    int (*write_iov)(void *next, void *handle, uint32_t count, uint64_t offset,
                     uint32_t flags, struct nbdx_wiovec *iov, size_t max,
                     size_t *n, void **cookie, int *err);
    int (*write_iov_end)(void *next, void *handle, void *cookie, int commit,
                         uint32_t flags, int *err);
    /* A WRITE whose whole payload waits in a pipe. */
    int (*write_pipe)(void *next, void *handle, uint32_t count, uint64_t offset,
                      uint32_t flags, int pipe, int *err);
};

/* The optional filter export.  server stays valid while the filter is
 * loaded.  Returns a pointer to static storage.
 */
typedef const struct nbdx_filter_extension *(*nbdx_filter_extension_init_fn)(
    const struct nbdx_next_zc *server);
#define NBDX_FILTER_EXTENSION_INIT_SYMBOL "nbdx_filter_extension_init"

/* In a filter: define nbdx_filter_extension_init, which stores the
 * server's calls in the filter's pointer next_zc and returns &extension.
 */
#define NBDX_REGISTER_FILTER_EXTENSION(extension, next_zc)                     \
    const struct nbdx_filter_extension *nbdx_filter_extension_init(            \
        const struct nbdx_next_zc *server);                                    \
    const struct nbdx_filter_extension *nbdx_filter_extension_init(            \
        const struct nbdx_next_zc *server)                                     \
    {                                                                          \
        (next_zc) = server;                                                    \
        return &(extension);                                                   \
    }

#ifdef __cplusplus
}
#endif

#endif /* NBDX_EXTENSIONS_H */
