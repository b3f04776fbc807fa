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

/* Raw sockets only.  sendfile count bytes of fd at offset: 0, or -1 (a
 * short file is an error, EIO).
 */
int conn_sendfile(struct connection *conn, int fd, uint64_t offset,
                  uint64_t count);

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
/* plugins.c: the extension found at load time, or NULL. */
const struct nbdx_extension *plugin_extension(struct backend *b);

#endif /* NBDX_FASTPATH_H */
