/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-impl.h: what protocol.c (requests in, running them) and
 * protocol-reply.c (replies out) share.  Nothing else includes it.
 */

#ifndef NBDX_PROTOCOL_IMPL_H
#define NBDX_PROTOCOL_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Runs of zeroes at least this long in a READ are sent as OFFSET_HOLE
 * chunks; shorter ones as data.
 */
#define MIN_HOLE 4096

/* What a request produced, for the reply. */
struct segment {
    uint64_t offset; /* absolute */
    uint32_t len;
    bool hole;
};
DEFINE_VECTOR_TYPE(segment_vector, struct segment);

struct result {
    uint32_t error;      /* NBD_E*, 0 on success */
    segment_vector segs; /* sparse READ: the chunks, else empty */
    void *status;        /* owned: BLOCK_STATUS chunk payload */
    size_t status_len;
};

/* protocol.c: the NBD error for an errno from the layer stack. */
uint32_t request_nbd_error(int err, uint16_t flags);

/* protocol-reply.c, conn->write_lock held: send the whole reply of req
 * from r.  0, or -1 if the connection must close.
 */
int reply_send(struct connection *conn, const struct request *req,
               const struct result *r);
/* protocol-reply.c: run and answer a READ without copying it through a
 * buffer, if the stack and the transport allow (takes the write lock
 * itself).  False if the caller must do it.
 */
bool reply_read_zero_copy(struct connection *conn, struct request *req);

#endif /* NBDX_PROTOCOL_IMPL_H */
