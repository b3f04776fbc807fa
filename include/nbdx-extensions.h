/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdx-extensions.h: optional plugin extensions that only nbdx knows.
 *
 * nbdkit's struct nbdkit_plugin is never extended by nbdx.  A plugin that
 * wants more exports a second symbol, nbdx_extension_init, returning a
 * struct nbdx_extension.  nbdkit never looks for it, so the same .so runs
 * under both servers; nbdx uses it only when the plugin is the whole
 * stack (no filters) and the transport is a plain socket, and falls back
 * to the plugin's .pread everywhere else.  Every callback is optional.
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

#define NBDX_EXTENSION_VERSION 1

/* One piece of a zero-copy read: len bytes at base, or len zero bytes
 * when base is NULL.
 */
struct nbdx_iovec {
    const void *base;
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
};

/* The optional export.  Returns a pointer to static storage. */
typedef const struct nbdx_extension *(*nbdx_extension_init_fn)(void);
#define NBDX_EXTENSION_INIT_SYMBOL "nbdx_extension_init"

#ifdef __cplusplus
}
#endif

#endif /* NBDX_EXTENSIONS_H */
