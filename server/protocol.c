/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol.c: the transmission phase, requests in.
 *
 * protocol_recv_request reads and validates one request (the reader loop
 * holds conn->read_lock); protocol_handle_request runs it against the
 * layer stack and has protocol-reply.c send the whole reply under
 * conn->write_lock.  Every client-supplied length is checked here,
 * before it reaches the backend (which asserts) or an allocation.  Bytes
 * come and go through transport.h only.
 *
 * A WRITE's payload is always whole before the export changes: it is
 * received into a buffer, into memory a layer staged for it
 * (backend_write_iov, committed when the request runs), or into a pipe
 * that a layer empties (backend_write_pipe).  A client that dies
 * mid-payload leaves the export as it was.
 */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"
#include "protocol-impl.h"
#include "transport.h"

/* Payloads of rejected requests are read and discarded up to this size;
 * above it the client is attacking us and we disconnect.
 */
#define MAX_DRAIN (64 * 1024 * 1024)
/* Commands with 64-bit effect lengths are split into backend calls of
 * at most this many bytes (aligned to any block size).
 */
#define MAX_SPLIT (1U << 30)
/* READs at least this large are checked for holes, which are sent as
 * OFFSET_HOLE chunks.
 */
#define MIN_SPARSE_READ (64 * 1024)
/* At most this many extents in one BLOCK_STATUS chunk. */
#define MAX_EXTENTS (1024 * 1024)
/* Most pieces a layer may stage a WRITE in. */
#define WRITE_PIECES 256
/* WRITEs at least this large are received into a pipe for a layer that
 * takes them from there (a file: splice).
 */
#define MIN_PIPE_WRITE (64 * 1024)

/* ---- Receiving and validating ---- */

static int
request_drain(struct connection *conn, uint64_t len)
{
    char buf[16384];
    size_t n;

    if (len > MAX_DRAIN) {
        nbdkit_error("payload of %" PRIu64 " bytes is too large: disconnecting",
                     len);
        return -1;
    }
    while (len > 0) {
        n = MIN(len, sizeof buf);
        if (transport_recv(conn, buf, n) == -1)
            return -1;
        len -= n;
    }
    return 0;
}

/* The range check: err if [offset, offset+count) is not inside the
 * export.  Zero-length requests get the same error, as in nbdkit.
 */
static uint32_t
request_check_range(struct connection *conn, const struct request *req,
                    uint32_t err)
{
    if (req->count == 0 || req->offset > conn->exportsize ||
        req->count > conn->exportsize - req->offset)
        return err;
    return 0;
}

/* Flags that are unknown or do not go with req->type. */
static bool
request_bad_flags(struct connection *conn, const struct request *req)
{
    uint16_t f = req->flags, e = conn->eflags;
    uint16_t known = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_DF |
                     NBD_CMD_FLAG_REQ_ONE | NBD_CMD_FLAG_FAST_ZERO;
    bool payload = conn->extended_headers && req->type == NBD_CMD_WRITE;

    if (conn->extended_headers)
        known |= NBD_CMD_FLAG_PAYLOAD_LEN;
    return (f & ~known) ||
           ((f & NBD_CMD_FLAG_FUA) && !(e & NBD_FLAG_SEND_FUA)) ||
           ((f & (NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO)) &&
            req->type != NBD_CMD_WRITE_ZEROES) ||
           ((f & NBD_CMD_FLAG_FAST_ZERO) && !(e & NBD_FLAG_SEND_FAST_ZERO)) ||
           ((f & NBD_CMD_FLAG_DF) &&
            (req->type != NBD_CMD_READ || !(e & NBD_FLAG_SEND_DF))) ||
           ((f & NBD_CMD_FLAG_REQ_ONE) && req->type != NBD_CMD_BLOCK_STATUS) ||
           ((f & NBD_CMD_FLAG_PAYLOAD_LEN) != 0) != payload;
}

/* Returns the NBD error for req, or 0 if it may run. */
static uint32_t
request_validate(struct connection *conn, const struct request *req)
{
    uint16_t e = conn->eflags;
    bool ro = e & NBD_FLAG_READ_ONLY;

    if (quit || transport_get_status(conn) == STATUS_SHUTDOWN)
        return NBD_ESHUTDOWN;
    if (request_bad_flags(conn, req))
        return NBD_EINVAL;
    switch (req->type) {
    case NBD_CMD_READ:
        if (req->count > conn->block_maximum)
            return req->flags & NBD_CMD_FLAG_DF ? NBD_EOVERFLOW : NBD_EINVAL;
        return request_check_range(conn, req, NBD_EINVAL);
    case NBD_CMD_WRITE:
        if (ro)
            return NBD_EPERM;
        if (req->count > conn->block_maximum)
            return NBD_EINVAL;
        return request_check_range(conn, req, NBD_ENOSPC);
    case NBD_CMD_FLUSH:
        if (!(e & NBD_FLAG_SEND_FLUSH) || req->offset || req->count)
            return NBD_EINVAL;
        return 0;
    case NBD_CMD_TRIM:
        if (!(e & NBD_FLAG_SEND_TRIM))
            return ro ? NBD_EPERM : NBD_EINVAL;
        return request_check_range(conn, req, NBD_EINVAL);
    case NBD_CMD_CACHE:
        if (!(e & NBD_FLAG_SEND_CACHE))
            return NBD_EINVAL;
        return request_check_range(conn, req, NBD_EINVAL);
    case NBD_CMD_WRITE_ZEROES:
        if (!(e & NBD_FLAG_SEND_WRITE_ZEROES))
            return ro ? NBD_EPERM : NBD_EINVAL;
        return request_check_range(conn, req, NBD_ENOSPC);
    case NBD_CMD_BLOCK_STATUS:
        if (!conn->meta_context_base_allocation)
            return NBD_EINVAL;
        return request_check_range(conn, req, NBD_EINVAL);
    default:
        return NBD_EINVAL;
    }
}

/* Read the header in the negotiated style.  *payload is the number of
 * data bytes that follow it.
 */
static int
request_recv_header(struct connection *conn, struct request *req,
                    uint64_t *payload)
{
    union {
        struct nbd_request c;
        struct nbd_extended_request x;
    } h;

    if (conn->extended_headers) {
        if (transport_recv(conn, &h.x, sizeof h.x) == -1)
            return -1;
        if (be32toh(h.x.magic) != NBD_EXTENDED_REQUEST_MAGIC)
            goto bad_magic;
        req->count = be64toh(h.x.count);
    } else {
        if (transport_recv(conn, &h.c, sizeof h.c) == -1)
            return -1;
        if (be32toh(h.c.magic) != NBD_REQUEST_MAGIC)
            goto bad_magic;
        req->count = be32toh(h.c.count);
    }
    /* The first 24 bytes are laid out the same in both styles. */
    req->flags = be16toh(h.c.flags);
    req->type = be16toh(h.c.type);
    req->cookie = be64toh(h.c.cookie);
    req->offset = be64toh(h.c.offset);
    if (conn->extended_headers)
        *payload = req->flags & NBD_CMD_FLAG_PAYLOAD_LEN ? req->count : 0;
    else
        *payload = req->type == NBD_CMD_WRITE ? req->count : 0;
    return 0;

bad_magic:
    nbdkit_error("invalid request magic: disconnecting");
    return -1;
}

/* Which zero-copy way a valid WRITE's payload can take: ZC_WRITE_IOV,
 * ZC_WRITE_PIPE or 0.  Not with FUA: the ordinary path lets each layer
 * decide what FUA costs.
 */
static int
write_zero_copy_kind(struct connection *conn, const struct request *req)
{
    int zc;

    if (req->flags & NBD_CMD_FLAG_FUA)
        return 0;
    zc = backend_zc(conn->top_context);
    if (zc & ZC_WRITE_IOV)
        return ZC_WRITE_IOV;
    if ((zc & ZC_WRITE_PIPE) && req->count >= MIN_PIPE_WRITE &&
        transport_is_raw_socket(conn))
        return ZC_WRITE_PIPE;
    return 0;
}

/* Receive the payload into memory the layers staged for it; the request
 * commits it when it runs.  1 if the layers declined (nothing was read),
 * 0 when received, -1 if the connection failed (the staging is undone,
 * so nothing of the partial payload reaches the export).
 */
static int
write_stage(struct connection *conn, struct request *req)
{
    struct context *c = conn->top_context;
    struct nbdx_wiovec wv[WRITE_PIECES];
    struct iovec v[WRITE_PIECES];
    size_t n, i;
    int err;

    if (backend_write_iov(c, (uint32_t)req->count, req->offset, wv,
                          WRITE_PIECES, &n, &req->staged, &err) == -1) {
        threadlocal_clear_last_error();
        req->staged = NULL;
        return 1;
    }
    for (i = 0; i < n; i++)
        v[i] = (struct iovec){wv[i].base, wv[i].len};
    if (transport_recv_iov(conn, v, (int)n) == 0)
        return 0;
    backend_write_iov_end(c, req->staged, false, &err);
    req->staged = NULL;
    return -1;
}

/* Receive the whole payload into the transport's pipe, then have the
 * layers take it from there; that performs the write (req->written, or
 * req->error).  1 if there is no pipe for it (nothing was read), 0 when
 * done, -1 if the connection failed (the pipe is never emptied into the
 * export before the whole payload is in it).
 */
static int
write_pipe(struct connection *conn, struct request *req)
{
    int pipe, err;

    pipe = transport_recv_to_pipe(conn, req->count);
    if (pipe == -2)
        return 1;
    if (pipe == -1)
        return -1;
    if (backend_write_pipe(conn->top_context, (uint32_t)req->count, req->offset,
                           pipe, &err) == -1)
        req->error = request_nbd_error(err, req->flags);
    else
        req->written = true;
    return transport_recv_pipe_done(conn);
}

/* Receive a valid WRITE's payload the zero-copy way if the stack can:
 * 1 when the caller must receive it into a buffer, 0 when received, -1
 * when the connection must close.
 */
static int
write_zero_copy(struct connection *conn, struct request *req)
{
    switch (write_zero_copy_kind(conn, req)) {
    case ZC_WRITE_IOV:
        return write_stage(conn, req);
    case ZC_WRITE_PIPE:
        return write_pipe(conn, req);
    default:
        return 1;
    }
}

int
protocol_recv_request(struct connection *conn, struct request *req)
{
    uint64_t payload;
    int r;

    req->buf = NULL;
    req->staged = NULL;
    req->error = 0;
    req->written = false;
    if (request_recv_header(conn, req, &payload) == -1)
        return -1;
    if (req->type == NBD_CMD_DISC)
        return 0;
    req->error = request_validate(conn, req);
    if (req->error) {
        debug("request type %" PRIu16 " flags %#" PRIx16 " offset %" PRIu64
              " count %" PRIu64 ": rejected with error %" PRIu32,
              req->type, req->flags, req->offset, req->count, req->error);
        return request_drain(conn, payload);
    }
    if (payload == 0)
        return 0;
    /* Only a valid WRITE gets here; its size is at most block_maximum. */
    r = write_zero_copy(conn, req);
    if (r != 1)
        return r;
    payload = req->count;
    req->buf = malloc(payload);
    if (req->buf == NULL) {
        req->error = NBD_ENOMEM;
        return request_drain(conn, payload);
    }
    if (transport_recv(conn, req->buf, payload) == -1) {
        free(req->buf);
        req->buf = NULL;
        return -1;
    }
    return 0;
}

/* ---- Running requests ---- */

/* Map an errno from the backend to the protocol's error values. */
uint32_t
request_nbd_error(int err, uint16_t flags)
{
    switch (err) {
    case EROFS:
    case EPERM:
        return NBD_EPERM;
    case EIO:
    case 0:
        return NBD_EIO;
    case ENOMEM:
        return NBD_ENOMEM;
    case EDQUOT:
    case EFBIG:
    case ENOSPC:
        return NBD_ENOSPC;
    case ESHUTDOWN:
        return NBD_ESHUTDOWN;
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
    case ENOTSUP:
        return flags & NBD_CMD_FLAG_FAST_ZERO ? NBD_ENOTSUP : NBD_EINVAL;
    case EOVERFLOW:
        return flags & NBD_CMD_FLAG_DF ? NBD_EOVERFLOW : NBD_EINVAL;
    default:
        return NBD_EINVAL;
    }
}

typedef int (*range_fn)(struct context *c, uint32_t count, uint64_t offset,
                        uint32_t flags, int *err);

/* Run fn over a 64-bit range in 32-bit pieces. */
static int
request_split(struct context *c, range_fn fn, const struct request *req,
              uint32_t flags, int *err)
{
    uint64_t offset = req->offset, left = req->count;
    uint32_t n;

    while (left > 0) {
        /* A 64-bit effect length may mean billions of calls: stop when
         * the server quits or the client is gone.
         */
        if (quit || transport_get_status(c->conn) == STATUS_DEAD) {
            *err = ESHUTDOWN;
            return -1;
        }
        n = MIN(left, (uint64_t)MAX_SPLIT);
        if (fn(c, n, offset, flags, err) == -1)
            return -1;
        offset += n;
        left -= n;
    }
    return 0;
}

/* Append [offset, offset+len) to the plan, merging with the previous
 * segment when they are of the same kind.
 */
static int
read_plan_add(segment_vector *segs, uint64_t offset, uint32_t len, bool hole)
{
    struct segment *last = segs->len ? &segs->ptr[segs->len - 1] : NULL;

    if (last && last->hole == hole) {
        last->len += len;
        return 0;
    }
    return segment_vector_append(segs, (struct segment){offset, len, hole});
}

/* Split a READ into data and hole segments using the backend's extents.
 * Leaves segs empty if there is nothing to gain.
 */
static void
read_plan(struct context *c, const struct request *req, segment_vector *segs)
{
    struct nbdkit_extents *exts;
    uint64_t pos = req->offset, end = req->offset + req->count;
    size_t i, n;
    int err;

    exts = nbdkit_extents_new(pos, end);
    if (exts == NULL)
        return;
    if (backend_extents(c, req->count, pos, 0, exts, &err) == -1)
        goto out;
    n = nbdkit_extents_count(exts);
    for (i = 0; i < n && pos < end; i++) {
        struct nbdkit_extent e = nbdkit_get_extent(exts, i);
        uint32_t len;

        if (e.offset != pos || e.length == 0)
            break;
        len = MIN(e.length, end - pos);
        if (read_plan_add(segs, pos, len,
                          (e.type & NBDKIT_EXTENT_ZERO) && len >= MIN_HOLE))
            goto out;
        pos += len;
    }
    if (pos < end && read_plan_add(segs, pos, end - pos, false) == -1)
        goto out;
    if (segs->len > 1 || (segs->len == 1 && segs->ptr[0].hole)) {
        nbdkit_extents_free(exts);
        return;
    }
out:
    nbdkit_extents_free(exts);
    segment_vector_reset(segs);
    threadlocal_clear_last_error();
}

static int
request_read(struct connection *conn, struct request *req, struct result *r,
             int *err)
{
    struct context *c = conn->top_context;
    size_t i;

    req->buf = malloc(req->count);
    if (req->buf == NULL) {
        *err = ENOMEM;
        return -1;
    }
    if (conn->structured_replies && !(req->flags & NBD_CMD_FLAG_DF) &&
        req->count >= MIN_SPARSE_READ && (backend_zc(c) & ZC_READ_PLAN) &&
        backend_can_extents(c) > 0)
        read_plan(c, req, &r->segs);
    if (r->segs.len == 0)
        return backend_pread(c, req->buf, req->count, req->offset, 0, err);
    for (i = 0; i < r->segs.len; i++) {
        struct segment *s = &r->segs.ptr[i];
        char *p = (char *)req->buf + (s->offset - req->offset);

        if (!s->hole && backend_pread(c, p, s->len, s->offset, 0, err) == -1)
            return -1;
    }
    return 0;
}

/* Fill one status descriptor, in the compact or extended layout. */
static void
status_put(struct connection *conn, char *p, uint64_t len, uint32_t type)
{
    if (conn->extended_headers) {
        struct nbd_block_descriptor_ext d = {htobe64(len), htobe64(type)};
        memcpy(p, &d, sizeof d);
    } else {
        struct nbd_block_descriptor d = {htobe32(len), htobe32(type)};
        memcpy(p, &d, sizeof d);
    }
}

/* Encode the extents as a BLOCK_STATUS(_EXT) chunk payload. */
static int
status_encode(struct connection *conn, const struct request *req,
              struct nbdkit_extents *exts, uint64_t end, struct result *r)
{
    size_t hdr = conn->extended_headers ? 8 : 4;
    size_t dsz = conn->extended_headers ? 16 : 8;
    size_t i, n = MIN(nbdkit_extents_count(exts), (size_t)MAX_EXTENTS), k = 0;
    uint64_t pos = req->offset;
    char *p;

    if (req->flags & NBD_CMD_FLAG_REQ_ONE)
        n = MIN(n, (size_t)1);
    r->status = p = malloc(hdr + n * dsz);
    if (p == NULL)
        return -1;
    for (i = 0; i < n && pos < end; i++) {
        struct nbdkit_extent e = nbdkit_get_extent(exts, i);
        uint64_t len;

        if (e.offset != pos || e.length == 0)
            break;
        len = MIN(e.length, end - pos);
        status_put(conn, p + hdr + k++ * dsz, len,
                   e.type & (NBD_STATE_HOLE | NBD_STATE_ZERO));
        pos += len;
    }
    if (k == 0) {
        nbdkit_error("extents: the plugin returned no extent at %" PRIu64,
                     req->offset);
        return -1;
    }
    *(uint32_t *)p = htobe32(NBDX_CONTEXT_BASE_ALLOCATION);
    if (conn->extended_headers)
        *(uint32_t *)(p + 4) = htobe32(k);
    r->status_len = hdr + k * dsz;
    return 0;
}

static int
request_block_status(struct connection *conn, const struct request *req,
                     struct result *r, int *err)
{
    struct context *c = conn->top_context;
    uint32_t max32 = UINT32_MAX / conn->block_minimum * conn->block_minimum;
    uint32_t len = MIN(req->count, (uint64_t)max32);
    uint32_t flags =
        req->flags & NBD_CMD_FLAG_REQ_ONE ? NBDKIT_FLAG_REQ_ONE : 0;
    struct nbdkit_extents *exts;
    int ret = -1;

    exts = nbdkit_extents_new(req->offset, req->offset + len);
    if (exts == NULL)
        return -1;
    if (backend_can_extents(c) > 0) {
        if (backend_extents(c, len, req->offset, flags, exts, err) == -1)
            goto out;
    } else if (nbdkit_add_extent(exts, req->offset, len, 0) == -1)
        goto out;
    ret = status_encode(conn, req, exts, req->offset + len, r);
    if (ret == -1)
        *err = EIO;
out:
    nbdkit_extents_free(exts);
    return ret;
}

/* Put a staged WRITE into the export. */
static int
request_commit(struct context *c, struct request *req, int *err)
{
    void *staged = req->staged;

    req->staged = NULL;
    return backend_write_iov_end(c, staged, true, err);
}

static uint32_t
request_fua(const struct request *req)
{
    return req->flags & NBD_CMD_FLAG_FUA ? NBDKIT_FLAG_FUA : 0;
}

/* Run a validated request.  -1 with *err set on failure. */
static int
request_run(struct connection *conn, struct request *req, struct result *r,
            int *err)
{
    struct context *c = conn->top_context;
    uint32_t f = request_fua(req);

    switch (req->type) {
    case NBD_CMD_READ:
        return request_read(conn, req, r, err);
    case NBD_CMD_WRITE:
        if (req->written)
            return 0;
        if (req->staged)
            return request_commit(c, req, err);
        return backend_pwrite(c, req->buf, req->count, req->offset, f, err);
    case NBD_CMD_FLUSH:
        return backend_flush(c, 0, err);
    case NBD_CMD_TRIM:
        return request_split(c, backend_trim, req, f, err);
    case NBD_CMD_CACHE:
        return request_split(c, backend_cache, req, 0, err);
    case NBD_CMD_WRITE_ZEROES:
        if (!(req->flags & NBD_CMD_FLAG_NO_HOLE))
            f |= NBDKIT_FLAG_MAY_TRIM;
        if (req->flags & NBD_CMD_FLAG_FAST_ZERO)
            f |= NBDKIT_FLAG_FAST_ZERO;
        return request_split(c, backend_zero, req, f, err);
    case NBD_CMD_BLOCK_STATUS:
        return request_block_status(conn, req, r, err);
    default:
        *err = EINVAL;
        return -1;
    }
}

void
protocol_handle_request(struct connection *conn, struct request *req)
{
    struct result r = {.error = req->error, .segs = empty_vector};
    int err = 0, ret;

    if (req->type == NBD_CMD_DISC) {
        free(req->buf);
        req->buf = NULL;
        return;
    }
    if (reply_read_zero_copy(conn, req))
        return;
    threadlocal_clear_last_error();
    if (r.error == 0 && request_run(conn, req, &r, &err) == -1)
        r.error = request_nbd_error(err, req->flags);

    pthread_mutex_lock(&conn->write_lock);
    ret = reply_send(conn, req, &r);
    pthread_mutex_unlock(&conn->write_lock);
    if (ret == -1) {
        debug("cannot send reply: %m");
        transport_set_status(conn, STATUS_DEAD);
    }
    free(r.status);
    segment_vector_reset(&r.segs);
    free(req->buf);
    req->buf = NULL;
    /* Staged but never run (it failed first): undo it. */
    if (req->staged) {
        backend_write_iov_end(conn->top_context, req->staged, false, &err);
        req->staged = NULL;
    }
}
