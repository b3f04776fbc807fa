/* SPDX-License-Identifier: BSD-3-Clause */
/* transport.h: the byte stream of one client, below the protocol.
 *
 * transport.c and transport-splice.c move bytes between a client's
 * socket (or the -s pipes) and memory: read-ahead, replies held back and
 * sent together, waits that wake on quit and on a dropped connection,
 * the connection's status, and the kernel's shortcuts (splice, vmsplice,
 * sendfile).  TLS (crypto.c) plugs in underneath by replacing conn->recv
 * and conn->send; every function here works over TLS too, except those
 * marked "raw sockets only", which the protocol uses only when
 * transport_is_raw_socket says so.
 *
 * The protocol calls down into this file and never the other way: the
 * transport knows nothing of requests.  connection.c creates and frees a
 * transport and tells it what the reader is doing.
 */

#ifndef NBDX_TRANSPORT_H
#define NBDX_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "internal.h"

/* Most pieces one transport_sendv / transport_sendv_until call takes. */
#define TRANSPORT_IOV_MAX 256

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

/* ---- life (connection.c) ---- */

/* Set up conn's transport on the two fds (the same fd except in -s
 * mode): plain-socket recv/send, the status eventfd, status ACTIVE.
 * Returns 0, or -1 after logging.  transport_free releases what it holds
 * (not the fds: conn->close does that).
 */
int transport_init(struct connection *conn, int sockin, int sockout);
void transport_free(struct connection *conn);

/* The reader runs a request itself: its small reply may wait in the
 * output buffer until the reader has nothing more to read.  Per thread.
 */
void transport_hold_replies(bool hold);
/* The reader took one more request off the stream (for the spin
 * heuristic).
 */
void transport_note_request(struct connection *conn);
/* Send the replies held back.  0 or -1. */
int transport_flush(struct connection *conn);
/* After quit: may the reader go on reading?  0 while the grace period
 * lasts, else -1 with errno ESHUTDOWN.
 */
int transport_quit_grace(struct connection *conn, short readable);

/* ---- status ---- */

/* transport_set_status only ever lowers the status; the first change
 * from ACTIVE wakes every wait on this connection.
 */
enum conn_status transport_get_status(struct connection *conn);
void transport_set_status(struct connection *conn, enum conn_status status);

/* ---- receiving (the reader, holding conn->read_lock) ---- */

/* Read exactly len bytes: from the read-ahead buffer on a raw
 * connection, so pipelined request headers cost one system call for
 * many; otherwise conn->recv.  0, or -1 on error or EOF (errno 0).
 */
int transport_recv(struct connection *conn, void *buf, size_t len);
/* Fill iov[0..n) exactly (any n), the same way.  0 or -1. */
int transport_recv_iov(struct connection *conn, const struct iovec *iov, int n);

/* ---- sending (conn->write_lock held) ---- */

/* True if conn->send and conn->recv are still the plain-fd ones (no
 * TLS); raw_socket adds that sockout is a socket (not a pipe in -s mode).
 */
bool transport_is_raw(const struct connection *conn);
bool transport_is_raw_socket(const struct connection *conn);
/* Send all of iov[0..n) (n <= TRANSPORT_IOV_MAX) as one message:
 * sendmsg when raw, else conn->send piece by piece.  0 or -1.
 */
int transport_sendv(struct connection *conn, const struct iovec *iov, int n);
/* Raw sockets only.  Send as much of iov[0..n) as the peer takes before
 * deadline_ms (CLOCK_MONOTONIC); returns the bytes sent, or -1.  For
 * replies that point into plugin memory held under a lock: the caller
 * copies what is left when time runs out.
 */
ssize_t transport_sendv_until(struct connection *conn, const struct iovec *iov,
                              int n, uint64_t deadline_ms);

/* ---- kernel shortcuts (transport-splice.c) ---- */

/* Raw sockets only.  sendfile count bytes of fd at offset: 0, or -1 (a
 * short file is an error, EIO).
 */
int transport_sendfile(struct connection *conn, int fd, uint64_t offset,
                       uint64_t count);
/* Raw sockets only.  The write end of the connection's READ splice pipe
 * (non-blocking, made on first use), with its room in pages in *slots;
 * -1 if there is none (send another way), -2 if the connection failed.
 * Replies held back have been sent when it returns a pipe.
 */
int transport_splice_pipe(struct connection *conn, unsigned *slots);
/* Put v[0..n) (modified) in the READ splice pipe: by reference
 * (vmsplice: the memory must stay this export's, see NBDX_EXT_SPLICE_OK)
 * or copied.  *pending counts the bytes in the pipe; a full pipe is
 * moved to the socket first.  0 or -1.
 */
int transport_splice_put(struct connection *conn, struct iovec *v, int n,
                         bool by_reference, size_t *pending);
/* Move len bytes from the READ splice pipe to the socket, waiting for
 * the client as a send would; 0, or -1 if the connection failed.
 */
int transport_splice_out(struct connection *conn, size_t len);

/* Raw sockets only, the reader.  Receive a whole len-byte WRITE payload
 * into the connection's receive pipe: what the read-ahead buffer holds
 * is copied in, the rest spliced from the socket.  Returns the pipe's
 * read end once all len bytes are in it; -2 when that cannot be done
 * (no pipe, or len larger than it: nothing was read, receive the payload
 * another way); -1 if the connection failed first (errno 0 at EOF), so
 * nothing of a partial payload ever leaves the pipe.  The caller then
 * empties the pipe and calls transport_recv_pipe_done.
 */
int transport_recv_to_pipe(struct connection *conn, size_t len);
/* Drop whatever the consumer left in the receive pipe.  0, or -1 if the
 * pipe failed (the connection must close).
 */
int transport_recv_pipe_done(struct connection *conn);

/* Move n bytes from the pipe to fd at offset (splice, or copy where
 * splice refuses the file).  0, or -1 with errno set; on -1 the pipe
 * may still hold bytes.  For layers that take a WRITE from a pipe.
 */
int transport_pipe_to_file(int pipe, int fd, uint64_t offset, size_t n);
/* Read exactly n bytes from the pipe into buf.  0, or -1 with errno set
 * (EIO if the pipe held fewer).  For layers that fall back to a buffer.
 */
int transport_pipe_read(int pipe, void *buf, size_t n);

/* CLOCK_MONOTONIC in ns and ms. */
uint64_t transport_now_ns(void);
uint64_t transport_now_ms(void);

#endif /* NBDX_TRANSPORT_H */
