/* SPDX-License-Identifier: BSD-3-Clause */
/* transport-impl.h: what transport.c and transport-splice.c share.
 * Nothing else includes it.
 */

#ifndef NBDX_TRANSPORT_IMPL_H
#define NBDX_TRANSPORT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "transport.h"

/* Read-ahead buffer per connection, allocated when first needed; pages a
 * client never fills are never touched, so idle connections cost little.
 * Reads of at least half its size bypass it.
 */
#define INBUF_SIZE (64 * 1024)
/* Small replies of requests the reader runs itself are gathered in an
 * output buffer of this size and sent together when the reader runs out
 * of requests to read (or the buffer fills): one system call and one
 * wake-up of the client for many replies.
 */
#define OUTBUF_SIZE (64 * 1024)
#define OUTBUF_MAX_REPLY (16 * 1024)

/* A pipe, made on first use: fd {-1, -1} until then, or for good if that
 * failed; slots is its room in pages.
 */
struct transport_pipe {
    int fd[2];
    unsigned slots;
    bool tried;
    bool broken; /* splice refused it once: copy from now on */
};

/* One connection's transport state: conn->transport. */
struct transport {
    /* The read-ahead buffer; the reader (holding read_lock) owns it.
     * Bytes [in_start, in_end) are received but not yet consumed.
     */
    char *in;
    size_t in_start, in_end;
    /* Replies held back, [0, out_len); guarded by conn->write_lock (out_len
     * is also read without it, atomically, by the reader to skip an
     * empty flush).  Only the reader adds to it.
     */
    char *out;
    size_t out_len;
    /* Spins in a row that found no request, and requests read since the
     * reader last ran out of input; the reader's own.
     */
    unsigned spin_misses;
    unsigned reads_since_wait;
    /* The pipe large READ replies are spliced through; guarded by
     * conn->write_lock.
     */
    struct transport_pipe spipe;
    /* The pipe WRITE payloads are received into; the reader's own. */
    struct transport_pipe rpipe;
};

/* transport.c, for transport-splice.c */
int transport_wait_readable(struct connection *conn, int fd);
int transport_raw_sendv(struct connection *conn, struct iovec *v, int n);
int transport_flush_locked(struct connection *conn);
/* What is left to do after a non-blocking read returned r <= 0. */
enum recv_next { RECV_RETRY, RECV_WAIT, RECV_FAIL };
enum recv_next transport_recv_next(ssize_t r);

/* transport-splice.c, for transport.c */
void transport_pipe_close(int fds[2]);

#endif /* NBDX_TRANSPORT_IMPL_H */
