/* SPDX-License-Identifier: BSD-3-Clause */
/* fastpath.h: the data path's shortcuts, shared by connection.c,
 * protocol.c, backend.c and plugins.c.
 *
 * Each shortcut has a plain fallback through conn->recv / conn->send, so
 * TLS (which swaps those pointers) and -s with pipes keep working: the
 * shortcuts are taken only when conn_is_raw says the fds are ours.
 */

#ifndef NBDX_FASTPATH_H
#define NBDX_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "internal.h"
#include "nbdx-extensions.h"

/* Drop the first done bytes from v[0..*n); returns the new start. */
static inline struct iovec *
iov_advance(struct iovec *v, int *n, size_t done)
{
    while (*n > 0 && done >= v->iov_len) {
        done -= v->iov_len;
        v++;
        (*n)--;
    }
    if (*n > 0) {
        v->iov_base = (char *)v->iov_base + done;
        v->iov_len -= done;
    }
    return v;
}

/* ---- connection.c ---- */

/* True if conn->send and conn->recv are still the plain-fd ones (no
 * TLS); raw_socket adds that sockout is a socket (not a pipe in -s mode).
 */
bool conn_is_raw(const struct connection *conn);
bool conn_is_raw_socket(const struct connection *conn);

/* Read exactly len bytes of the transmission phase.  On a raw connection
 * it reads ahead into a per-connection buffer, so pipelined request
 * headers cost one system call for many; otherwise it is conn->recv.
 * Only the reader (holding conn->read_lock) calls it.
 */
int conn_recv_buffered(struct connection *conn, void *buf, size_t len);

/* Send all of iov[0..n) as one message: sendmsg/writev when raw, else
 * conn->send piece by piece (SEND_MORE on all but the last).  0 or -1.
 */
int conn_sendv(struct connection *conn, const struct iovec *iov, int n);

/* Raw connections only.  Send as much of iov[0..n) as the peer takes
 * before deadline_ms (CLOCK_MONOTONIC); returns the number of bytes
 * sent, or -1 on error.  For replies that point into plugin memory held
 * under a lock: the caller copies what is left when time runs out.
 */
ssize_t conn_sendv_until(struct connection *conn, const struct iovec *iov,
                         int n, uint64_t deadline_ms);

/* Raw sockets only.  Receive into iov[0..n) (n <= 256), taking what the
 * read-ahead buffer holds first, until the pieces are full, deadline_ms
 * (CLOCK_MONOTONIC) passes or the server quits; returns the number of
 * bytes received, or -1 on error or EOF (errno 0).  For payloads that go
 * straight into plugin memory: the caller receives what is left the
 * ordinary way.
 */
ssize_t conn_recv_iov_until(struct connection *conn, const struct iovec *iov,
                            int n, uint64_t deadline_ms);

/* Raw sockets only.  sendfile count bytes of fd at offset: 0, or -1 (a
 * short file is an error, EIO).
 */
int conn_sendfile(struct connection *conn, int fd, uint64_t offset,
                  uint64_t count);

/* Raw sockets only, conn->write_lock held.  The write end of the
 * connection's splice pipe (non-blocking, made on first use, as large as
 * the system allows up to 4 MiB), with its room in pages in *slots; -1
 * if there is none (send another way), -2 if the connection failed.
 * Replies held back have been sent when it returns a pipe.
 */
int conn_splice_pipe(struct connection *conn, unsigned *slots);
/* Move len bytes from the splice pipe to the socket, waiting for the
 * client as a send would; 0, or -1 if the connection failed.
 */
int conn_splice_out(struct connection *conn, size_t len);

/* Raw sockets only, the reader.  Receive a len-byte WRITE payload into
 * fd at offset: what the read-ahead buffer holds with pwrite, the rest
 * spliced from the socket through a pipe into the file.  Returns 0 when
 * written; 1 with *err set when the file failed (the rest of the payload
 * has been read and dropped); 2 when splicing is unavailable (nothing
 * was read: receive it another way); -1 if the connection failed
 * (errno 0 at EOF).
 */
int conn_recv_to_fd(struct connection *conn, int fd, uint64_t offset,
                    size_t len, int *err);

uint64_t conn_now_ms(void);

/* ---- plugins.c / backend.c: nbdx_extension of the plugin ---- */

/* The plugin's extension if the context is the plugin itself (no
 * filters in between) and it has one; else NULL.
 */
const struct nbdx_extension *backend_extension(struct context *c);
/* Checked wrappers around the extension's callbacks (contract asserts
 * as for backend_pread).  -1 with *err set on failure.
 */
int64_t backend_pread_iov(struct context *c, uint32_t count, uint64_t offset,
                          struct nbdx_iovec *iov, size_t max, size_t *n,
                          void **cookie, int *err);
void backend_release_iov(struct context *c, void *cookie);
int backend_pread_fd(struct context *c, uint32_t count, uint64_t offset,
                     int *fd, uint64_t *fd_offset, int *err);
int backend_pwrite_fd(struct context *c, uint32_t count, uint64_t offset,
                      int *fd, uint64_t *fd_offset, int *err);
int64_t backend_pwrite_iov(struct context *c, uint32_t count, uint64_t offset,
                           struct nbdx_wiovec *iov, size_t max, size_t *n,
                           void **cookie, int *err);
int backend_pwrite_end(struct context *c, uint32_t filled, uint64_t offset,
                       void *cookie, int *err);
/* plugins.c: the extension found at load time, or NULL. */
const struct nbdx_extension *plugin_extension(struct backend *b);

#endif /* NBDX_FASTPATH_H */
