/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol.c: the transmission phase.
 *
 * protocol_recv_request reads and validates one request (the reader loop
 * holds conn->read_lock); protocol_handle_request runs it against the
 * backend and sends the whole reply under conn->write_lock.  Every
 * client-supplied length is checked here, before it reaches the backend
 * (which asserts) or an allocation.
 *
 * base:allocation has context id NBDX_CONTEXT_BASE_ALLOCATION; it is the
 * only meta context, so conn->meta_context_base_allocation is the whole
 * selection.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fastpath.h"
#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"

/* Payloads of rejected requests are read and discarded up to this size;
 * above it the client is attacking us and we disconnect.
 */
#define MAX_DRAIN (64 * 1024 * 1024)
/* Commands with 64-bit effect lengths are split into backend calls of
 * at most this many bytes (aligned to any block size).
 */
#define MAX_SPLIT (1U << 30)
/* READs at least this large are checked for holes, which are sent as
 * OFFSET_HOLE chunks; holes smaller than MIN_HOLE are read as data.
 */
#define MIN_SPARSE_READ (64 * 1024)
#define MIN_HOLE 4096
/* At most this many extents in one BLOCK_STATUS chunk. */
#define MAX_EXTENTS (1024 * 1024)
/* Zero-copy READs (plugin extension, raw sockets only): pieces asked of
 * the plugin per call, iovecs and chunk headers per system call, and how
 * long the plugin's memory may stay locked waiting for a slow client
 * before the rest of the reply is copied out instead.
 */
#define ZC_PIECES 64
#define ZC_IOV 128
#define ZC_HDRS (ZC_PIECES + 2)
#define ZC_LOCK_MS 10
/* Zero-copy WRITEs: how long the client may take to send a payload that
 * goes straight into plugin memory before the rest goes through a buffer
 * (the plugin keeps that memory pinned meanwhile).
 */
#define ZC_WRITE_MS 200
/* WRITEs at least this large are spliced into the plugin's file
 * (pwrite_fd).
 */
#define MIN_SPLICE_WRITE (64 * 1024)
/* Zeroes sent as data come from a read-only anonymous mapping of this
 * size: all of it is the kernel's shared zero page, so it costs no RAM.
 */
#define ZEROES_SIZE (1024 * 1024)
/* READs at least this large are spliced from the plugin's pages
 * (NBDX_EXT_SPLICE_OK).
 */
#define MIN_SPLICE_READ (64 * 1024)
/* Pieces asked of the plugin per call when splicing: each may take a
 * pipe slot for a partial page and one for its chunk header, and they
 * must all fit in the pipe (1 MiB, 256 slots, for most processes).
 */
#define SPLICE_PIECES 32
/* READs at least this large go through the plugin's pread_fd. */
#define MIN_SENDFILE_READ (64 * 1024)

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
        if (conn_recv_buffered(conn, buf, n) == -1)
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

    if (quit || conn_get_status(conn) == STATUS_SHUTDOWN)
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
        if (conn_recv_buffered(conn, &h.x, sizeof h.x) == -1)
            return -1;
        if (be32toh(h.x.magic) != NBD_EXTENDED_REQUEST_MAGIC)
            goto bad_magic;
        req->count = be64toh(h.x.count);
    } else {
        if (conn_recv_buffered(conn, &h.c, sizeof h.c) == -1)
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

static uint32_t request_nbd_error(int err, uint16_t flags);

/* May the payload of this valid WRITE go straight into plugin memory
 * (pwrite_iov) or the plugin's file (pwrite_fd, large WRITEs)?  Only for
 * a parallel plugin with nothing stacked on it, from a plain socket, and
 * without FUA (the plugin's pwrite decides what FUA costs).
 */
static bool
write_zero_copy_ok(struct connection *conn, const struct request *req)
{
    const struct nbdx_extension *ext;

    if (req->type != NBD_CMD_WRITE || req->error ||
        (req->flags & NBD_CMD_FLAG_FUA) || !conn_is_raw_socket(conn) ||
        thread_model < NBDKIT_THREAD_MODEL_PARALLEL)
        return false;
    ext = backend_extension(conn->top_context);
    return ext && (ext->pwrite_iov ||
                   (ext->pwrite_fd && req->count >= MIN_SPLICE_WRITE));
}

/* The payload spliced into the plugin's file (pwrite_fd); as for
 * write_zero_copy.
 */
static int
write_fd(struct connection *conn, struct request *req)
{
    int fd, err, r;
    uint64_t fd_offset;

    if (backend_pwrite_fd(conn->top_context, req->count, req->offset, &fd,
                          &fd_offset, &err) == -1)
        return 1;
    r = conn_recv_to_fd(conn, fd, fd_offset, req->count, &err);
    if (r == 2)
        return 1;
    if (r == 1)
        req->error = request_nbd_error(err, req->flags);
    else if (r == 0)
        req->written = true;
    return r == -1 ? -1 : 0;
}

/* Receive one stretch of the payload into plugin memory: the bytes
 * received (the whole stretch unless time ran out), or -1 if the
 * connection must close.  A plugin error sets req->error.
 */
static int64_t
write_zc_stretch(struct connection *conn, struct request *req, uint64_t done,
                 uint64_t deadline)
{
    struct context *c = conn->top_context;
    struct nbdx_wiovec wv[ZC_PIECES];
    struct iovec v[ZC_PIECES];
    uint64_t offset = req->offset + done;
    int64_t covered;
    ssize_t got;
    size_t n, i;
    void *cookie;
    int err;

    covered = backend_pwrite_iov(c, (uint32_t)(req->count - done), offset, wv,
                                 ZC_PIECES, &n, &cookie, &err);
    if (covered == -1) {
        req->error = request_nbd_error(err, req->flags);
        return 0;
    }
    for (i = 0; i < n; i++)
        v[i] = (struct iovec){wv[i].base, wv[i].len};
    got = conn_recv_iov_until(conn, v, (int)n, deadline);
    if (backend_pwrite_end(c, got > 0 ? (uint32_t)got : 0, offset, cookie,
                           &err) == -1 &&
        got == covered)
        req->error = request_nbd_error(err, req->flags);
    return got;
}

/* Receive a valid WRITE's payload straight into plugin memory or its
 * file, which also performs the write (req->written).  0 when the request is
 * settled (it may carry an error, its payload drained), 1 when the caller must
 * receive the payload (what is left of it: offset and count are moved
 * past the bytes already written) into a buffer, -1 when the connection
 * must close.
 */
static int
write_zero_copy(struct connection *conn, struct request *req)
{
    uint64_t done = 0, deadline = conn_now_ms() + ZC_WRITE_MS;
    int64_t got;

    if (!write_zero_copy_ok(conn, req))
        return 1;
    if (!backend_extension(conn->top_context)->pwrite_iov)
        return write_fd(conn, req);
    while (done < req->count) {
        got = write_zc_stretch(conn, req, done, deadline);
        if (got == -1)
            return -1;
        done += got;
        if (req->error)
            return request_drain(conn, req->count - done);
        if (conn_now_ms() >= deadline || quit)
            break;
    }
    if (done == req->count) {
        req->written = true;
        return 0;
    }
    req->offset += done;
    req->count -= done;
    return 1;
}

int
protocol_recv_request(struct connection *conn, struct request *req)
{
    uint64_t payload;
    int r;

    req->buf = NULL;
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
    if (conn_recv_buffered(conn, req->buf, payload) == -1) {
        free(req->buf);
        req->buf = NULL;
        return -1;
    }
    return 0;
}

/* ---- Running requests ---- */

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

/* Map an errno from the backend to the protocol's error values. */
static uint32_t
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
        if (quit || conn_get_status(c->conn) == STATUS_DEAD) {
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
        req->count >= MIN_SPARSE_READ && backend_can_extents(c) > 0)
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

/* ---- Sending replies (conn->write_lock held) ---- */

/* Build a chunk header in buf (32 bytes or more); returns its size. */
static size_t
reply_chunk_header(struct connection *conn, const struct request *req,
                   uint16_t flags, uint16_t type, uint64_t len, char *buf)
{
    if (conn->extended_headers) {
        struct nbd_extended_reply h = {htobe32(NBD_EXTENDED_REPLY_MAGIC),
                                       htobe16(flags),
                                       htobe16(type),
                                       htobe64(req->cookie),
                                       htobe64(req->offset),
                                       htobe64(len)};
        memcpy(buf, &h, sizeof h);
        return sizeof h;
    } else {
        struct nbd_structured_reply h = {htobe32(NBD_STRUCTURED_REPLY_MAGIC),
                                         htobe16(flags), htobe16(type),
                                         htobe64(req->cookie), htobe32(len)};
        memcpy(buf, &h, sizeof h);
        return sizeof h;
    }
}

static int
reply_simple(struct connection *conn, const struct request *req, uint32_t error,
             const void *data, size_t len)
{
    struct nbd_simple_reply h = {htobe32(NBD_SIMPLE_REPLY_MAGIC),
                                 htobe32(error), htobe64(req->cookie)};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, len}};

    return conn_sendv(conn, iov, len ? 2 : 1);
}

static int
reply_error_chunk(struct connection *conn, const struct request *req,
                  uint32_t error)
{
    const char *msg = threadlocal_get_last_error();
    size_t len = msg ? strnlen(msg, NBD_MAX_STRING) : 0;
    char buf[64];
    size_t n;
    struct nbd_chunk_error e = {htobe32(error), htobe16(len)};

    struct iovec iov[2];

    n = reply_chunk_header(conn, req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR,
                           sizeof e + len, buf);
    memcpy(buf + n, &e, sizeof e);
    n += sizeof e;
    iov[0] = (struct iovec){buf, n};
    iov[1] = (struct iovec){(void *)msg, len};
    return conn_sendv(conn, iov, len ? 2 : 1);
}

/* One OFFSET_DATA chunk: header, offset and data. */
static int
reply_data_chunk(struct connection *conn, const struct request *req,
                 uint16_t flags, uint64_t offset, const void *data,
                 uint32_t len)
{
    char buf[64];
    size_t n;
    uint64_t off = htobe64(offset);

    struct iovec iov[2];

    n = reply_chunk_header(conn, req, flags, NBD_REPLY_TYPE_OFFSET_DATA,
                           8 + (uint64_t)len, buf);
    memcpy(buf + n, &off, 8);
    iov[0] = (struct iovec){buf, n + 8};
    iov[1] = (struct iovec){(void *)data, len};
    return conn_sendv(conn, iov, 2);
}

static int
reply_hole_chunk(struct connection *conn, const struct request *req,
                 uint16_t flags, uint64_t offset, uint32_t len)
{
    char buf[64];
    size_t n;
    struct nbd_chunk_offset_hole h = {htobe64(offset), htobe32(len)};

    n = reply_chunk_header(conn, req, flags, NBD_REPLY_TYPE_OFFSET_HOLE,
                           sizeof h, buf);
    memcpy(buf + n, &h, sizeof h);
    return conn->send(conn, buf, n + sizeof h, flags ? 0 : SEND_MORE);
}

static int
reply_read(struct connection *conn, const struct request *req,
           const struct result *r)
{
    size_t i;

    if (!conn->structured_replies)
        return reply_simple(conn, req, 0, req->buf, req->count);
    if (r->segs.len == 0)
        return reply_data_chunk(conn, req, NBD_REPLY_FLAG_DONE, req->offset,
                                req->buf, req->count);
    for (i = 0; i < r->segs.len; i++) {
        const struct segment *s = &r->segs.ptr[i];
        uint16_t done = i == r->segs.len - 1 ? NBD_REPLY_FLAG_DONE : 0;
        const char *p = (const char *)req->buf + (s->offset - req->offset);
        int ret = s->hole
                      ? reply_hole_chunk(conn, req, done, s->offset, s->len)
                      : reply_data_chunk(conn, req, done, s->offset, p, s->len);

        if (ret == -1)
            return -1;
    }
    return 0;
}

static int
reply_block_status(struct connection *conn, const struct request *req,
                   const struct result *r)
{
    char buf[64];
    size_t n;
    uint16_t type = conn->extended_headers ? NBD_REPLY_TYPE_BLOCK_STATUS_EXT
                                           : NBD_REPLY_TYPE_BLOCK_STATUS;

    struct iovec iov[2];

    n = reply_chunk_header(conn, req, NBD_REPLY_FLAG_DONE, type, r->status_len,
                           buf);
    iov[0] = (struct iovec){buf, n};
    iov[1] = (struct iovec){r->status, r->status_len};
    return conn_sendv(conn, iov, 2);
}

/* ---- Zero-copy READ replies ---- */

static const char *zeroes;
static pthread_once_t zeroes_once = PTHREAD_ONCE_INIT;

static void
zeroes_map(void)
{
    void *p =
        mmap(NULL, ZEROES_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    zeroes = p == MAP_FAILED ? NULL : p;
}

/* A reply being assembled from plugin memory, sent ZC_IOV pieces at a
 * time.  If the client stops reading, the rest is copied to bounce and
 * sent after the plugin's memory is released.
 */
struct zc_out {
    struct connection *conn;
    uint64_t deadline_ms;
    struct iovec iov[ZC_IOV];
    bool copy[ZC_IOV]; /* iov[i] is a header: its buffer is reused */
    int n;
    char hdr[ZC_HDRS][48]; /* chunk headers the iovecs point to */
    int nhdr;
    char *bounce; /* owned; malloc'd once stalled */
    size_t bounce_len, bounce_cap;
    bool stalled;
    /* Splice mode (pipe >= 0): pieces go into the connection's splice
     * pipe, pending bytes of it not yet moved to the socket.
     */
    int pipe;
    size_t pending;
};

static int
zc_bounce(struct zc_out *o, const void *base, size_t len)
{
    if (o->bounce_len + len > o->bounce_cap) {
        size_t cap = MAX(o->bounce_cap * 2, o->bounce_len + len);
        char *p = realloc(o->bounce, cap);
        if (p == NULL)
            return -1;
        o->bounce = p;
        o->bounce_cap = cap;
    }
    memcpy(o->bounce + o->bounce_len, base, len);
    o->bounce_len += len;
    return 0;
}

/* Move what the splice pipe holds to the socket. */
static int
zc_drain(struct zc_out *o)
{
    if (o->pending > 0 && conn_splice_out(o->conn, o->pending) == -1)
        return -1;
    o->pending = 0;
    return 0;
}

/* Put v[0..n) in the splice pipe: copied (write) for headers, by
 * reference (vmsplice) for plugin memory and the zero mapping.  A full
 * pipe is drained to the socket first.
 */
static int
zc_pipe_put(struct zc_out *o, struct iovec *v, int n, bool copy)
{
    ssize_t r;

    v = iov_advance(v, &n, 0);
    while (n > 0) {
        if (copy)
            r = write(o->pipe, v->iov_base, v->iov_len);
        else
            r = vmsplice(o->pipe, v, n, SPLICE_F_NONBLOCK);
        if (r > 0) {
            o->pending += r;
            v = iov_advance(v, &n, r);
        } else if (r == -1 && errno == EAGAIN) {
            if (zc_drain(o) == -1)
                return -1;
        } else if (r == -1 && errno != EINTR)
            return -1;
    }
    return 0;
}

/* Splice mode's push: runs of headers and of pages, in order. */
static int
zc_push_pipe(struct zc_out *o)
{
    int i = 0, j;

    while (i < o->n) {
        for (j = i; j < o->n && o->copy[j] == o->copy[i]; j++)
            ;
        if (zc_pipe_put(o, &o->iov[i], j - i, o->copy[i]) == -1)
            return -1;
        i = j;
    }
    o->n = o->nhdr = 0;
    return 0;
}

/* Send the gathered iovecs; on a stall copy what is left to bounce. */
static int
zc_push(struct zc_out *o)
{
    ssize_t sent = 0;
    int i;

    if (o->pipe >= 0)
        return zc_push_pipe(o);
    if (!o->stalled)
        sent = conn_sendv_until(o->conn, o->iov, o->n, o->deadline_ms);
    if (sent == -1)
        return -1;
    for (i = 0; i < o->n; i++) {
        size_t len = o->iov[i].iov_len, skip = MIN((size_t)sent, len);

        sent -= skip;
        if (skip < len) {
            o->stalled = true;
            if (zc_bounce(o, (char *)o->iov[i].iov_base + skip, len - skip))
                return -1;
        }
    }
    o->n = o->nhdr = 0;
    return 0;
}

static int
zc_add_kind(struct zc_out *o, const void *base, size_t len, bool copy)
{
    if (o->n == ZC_IOV && zc_push(o) == -1)
        return -1;
    o->copy[o->n] = copy;
    o->iov[o->n++] = (struct iovec){(void *)base, len};
    return 0;
}

static int
zc_add(struct zc_out *o, const void *base, size_t len)
{
    return zc_add_kind(o, base, len, false);
}

static int
zc_add_hdr(struct zc_out *o, const void *base, size_t len)
{
    return zc_add_kind(o, base, len, true);
}

/* A fresh header slot, pushing first if they are all in use. */
static char *
zc_hdr(struct zc_out *o)
{
    if ((o->nhdr == ZC_HDRS || o->n >= ZC_IOV - 1) && zc_push(o) == -1)
        return NULL;
    return o->hdr[o->nhdr++];
}

static int
zc_add_zeroes(struct zc_out *o, uint64_t len)
{
    while (len > 0) {
        size_t n = MIN(len, (uint64_t)ZEROES_SIZE);
        if (zc_add(o, zeroes, n) == -1)
            return -1;
        len -= n;
    }
    return 0;
}

static int
zc_add_piece(struct zc_out *o, const struct nbdx_iovec *p)
{
    return p->base ? zc_add(o, p->base, p->len) : zc_add_zeroes(o, p->len);
}

/* Length of the run of pieces from i that goes in one data chunk: up to
 * the next zero piece big enough to be a hole.
 */
static size_t
zc_data_run(const struct nbdx_iovec *p, size_t n, size_t i, uint64_t *len)
{
    size_t j;

    *len = 0;
    for (j = i; j < n && (p[j].base || p[j].len < MIN_HOLE); j++)
        *len += p[j].len;
    return j - i;
}

/* Structured chunks for the pieces, which start at offset; the last one
 * carries DONE if last.
 */
static int
zc_chunks(struct zc_out *o, const struct request *req, uint64_t offset,
          const struct nbdx_iovec *p, size_t n, bool last)
{
    struct connection *conn = o->conn;
    size_t i = 0, k, nrun;
    uint64_t len;
    char *h;

    while (i < n) {
        nrun = zc_data_run(p, n, i, &len);
        k = nrun ? i + nrun : i + 1;
        uint16_t done = last && k == n ? NBD_REPLY_FLAG_DONE : 0;
        if ((h = zc_hdr(o)) == NULL)
            return -1;
        if (nrun == 0) {
            struct nbd_chunk_offset_hole hole = {htobe64(offset),
                                                 htobe32(p[i].len)};
            size_t hl = reply_chunk_header(
                conn, req, done, NBD_REPLY_TYPE_OFFSET_HOLE, sizeof hole, h);
            memcpy(h + hl, &hole, sizeof hole);
            len = p[i].len;
            if (zc_add_hdr(o, h, hl + sizeof hole) == -1)
                return -1;
        } else {
            uint64_t off = htobe64(offset);
            size_t hl = reply_chunk_header(
                conn, req, done, NBD_REPLY_TYPE_OFFSET_DATA, 8 + len, h);
            memcpy(h + hl, &off, 8);
            if (zc_add_hdr(o, h, hl + 8) == -1)
                return -1;
            for (; i < k; i++)
                if (zc_add_piece(o, &p[i]) == -1)
                    return -1;
        }
        offset += len;
        i = k;
    }
    return 0;
}

/* Send one plugin call's pieces, release them, then send what a stall
 * left in bounce.
 */
static int
zc_send_call(struct zc_out *o, const struct request *req, uint64_t offset,
             const struct nbdx_iovec *p, size_t n, bool last, void *cookie)
{
    struct context *c = o->conn->top_context;
    size_t i;
    int r = 0;

    if (o->conn->structured_replies)
        r = zc_chunks(o, req, offset, p, n, last);
    else
        for (i = 0; i < n && r == 0; i++)
            r = zc_add_piece(o, &p[i]);
    if (r == 0)
        r = zc_push(o);
    backend_release_iov(c, cookie);
    /* Spliced pages stay referenced by the kernel, not locked. */
    if (r == 0 && o->pipe >= 0)
        r = zc_drain(o);
    if (r == 0 && o->stalled) {
        struct iovec v = {o->bounce, o->bounce_len};
        r = conn_sendv(o->conn, &v, 1);
    }
    o->stalled = false;
    o->bounce_len = 0;
    return r;
}

/* The whole READ, executed and answered; conn->write_lock held.  -1 if
 * the connection must close.
 */
/* Bytes one plugin call may describe in splice mode (0: do not splice):
 * the call's pages, each piece's partial pages and every chunk header
 * must fit in the pipe at once, so it never has to be drained while the
 * plugin's memory is locked.
 */
static uint64_t
read_splice_budget(struct zc_out *o, const struct request *req)
{
    const struct nbdx_extension *ext = backend_extension(o->conn->top_context);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    unsigned slots, spare = 2 * SPLICE_PIECES + 4;

    if (!(ext->flags & NBDX_EXT_SPLICE_OK) || req->count < MIN_SPLICE_READ)
        return 0;
    o->pipe = conn_splice_pipe(o->conn, &slots);
    if (o->pipe < 0 || slots < 2 * spare)
        return 0;
    return (slots - spare) * page;
}

static int
read_zc(struct connection *conn, const struct request *req)
{
    struct zc_out o = {
        .conn = conn, .deadline_ms = conn_now_ms() + ZC_LOCK_MS, .pipe = -1};
    struct nbdx_iovec p[ZC_PIECES];
    uint64_t pos = req->offset, end = req->offset + req->count, budget;
    struct nbd_simple_reply sh = {htobe32(NBD_SIMPLE_REPLY_MAGIC), 0,
                                  htobe64(req->cookie)};
    int err = 0, r = 0;
    int64_t got;
    size_t n;
    void *cookie;

    budget = read_splice_budget(&o, req);
    if (o.pipe == -2)
        return -1;
    if (budget == 0)
        o.pipe = -1;
    if (!conn->structured_replies)
        zc_add_hdr(&o, &sh, sizeof sh);
    while (pos < end && r == 0) {
        got = backend_pread_iov(
            conn->top_context, budget ? MIN(end - pos, budget) : end - pos, pos,
            p, budget ? SPLICE_PIECES : ZC_PIECES, &n, &cookie, &err);
        if (got == -1)
            break;
        r = zc_send_call(&o, req, pos, p, n, pos + got == end, cookie);
        pos += got;
    }
    free(o.bounce);
    if (r == -1 || pos == end)
        return r;
    /* The plugin failed.  A simple reply's header is gone: disconnect. */
    if (!conn->structured_replies)
        return -1;
    return reply_error_chunk(conn, req, request_nbd_error(err, req->flags));
}

/* ---- sendfile READ replies ---- */

/* The whole READ from the plugin's file with sendfile(2), as one data
 * chunk (holes are sent as the zeroes they read as); conn->write_lock
 * held.  Returns 1 if the plugin declined (nothing sent: run the READ
 * the ordinary way), -1 if the connection must close.
 */
static int
read_fd(struct connection *conn, const struct request *req)
{
    char hdr[64];
    size_t hl;
    int fd, err;
    uint64_t fd_offset, off = htobe64(req->offset);
    struct iovec v;

    if (backend_pread_fd(conn->top_context, req->count, req->offset, &fd,
                         &fd_offset, &err) == -1)
        return 1;
    if (conn->structured_replies) {
        hl =
            reply_chunk_header(conn, req, NBD_REPLY_FLAG_DONE,
                               NBD_REPLY_TYPE_OFFSET_DATA, 8 + req->count, hdr);
        memcpy(hdr + hl, &off, 8);
        hl += 8;
    } else {
        struct nbd_simple_reply h = {htobe32(NBD_SIMPLE_REPLY_MAGIC), 0,
                                     htobe64(req->cookie)};
        memcpy(hdr, &h, sizeof h);
        hl = sizeof h;
    }
    v = (struct iovec){hdr, hl};
    if (conn_sendv(conn, &v, 1) == -1 ||
        conn_sendfile(conn, fd, fd_offset, req->count) == -1)
        return -1;
    return 0;
}

/* Which zero-copy way, if any, a valid READ can take: 'i' (pread_iov),
 * 'f' (pread_fd) or 0.
 */
static int
read_zero_copy_kind(struct connection *conn, const struct request *req)
{
    const struct nbdx_extension *ext;

    if (req->type != NBD_CMD_READ || req->error ||
        (req->flags & NBD_CMD_FLAG_DF) || !conn_is_raw_socket(conn))
        return 0;
    ext = backend_extension(conn->top_context);
    if (ext == NULL)
        return 0;
    if (ext->pread_iov && zeroes)
        return 'i';
    if (ext->pread_fd && req->count >= MIN_SENDFILE_READ)
        return 'f';
    return 0;
}

/* Run and answer a READ without copying it through a buffer, if the
 * plugin and the transport allow.  False if the caller must do it.
 */
static bool
read_zero_copy(struct connection *conn, struct request *req)
{
    int kind, r;

    pthread_once(&zeroes_once, zeroes_map);
    kind = read_zero_copy_kind(conn, req);
    if (kind == 0)
        return false;
    threadlocal_clear_last_error();
    pthread_mutex_lock(&conn->write_lock);
    r = kind == 'i' ? read_zc(conn, req) : read_fd(conn, req);
    pthread_mutex_unlock(&conn->write_lock);
    if (r == 1)
        return false;
    if (r == -1) {
        debug("cannot send reply: %m");
        conn_set_status(conn, STATUS_DEAD);
    }
    return true;
}

static int
reply_send(struct connection *conn, const struct request *req,
           const struct result *r)
{
    char buf[64];

    if (r->error && !conn->structured_replies)
        return reply_simple(conn, req, r->error, NULL, 0);
    if (r->error)
        return reply_error_chunk(conn, req, r->error);
    if (req->type == NBD_CMD_READ)
        return reply_read(conn, req, r);
    if (req->type == NBD_CMD_BLOCK_STATUS)
        return reply_block_status(conn, req, r);
    if (!conn->extended_headers)
        return reply_simple(conn, req, 0, NULL, 0);
    return conn->send(conn, buf,
                      reply_chunk_header(conn, req, NBD_REPLY_FLAG_DONE,
                                         NBD_REPLY_TYPE_NONE, 0, buf),
                      0);
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
    if (read_zero_copy(conn, req))
        return;
    threadlocal_clear_last_error();
    if (r.error == 0 && request_run(conn, req, &r, &err) == -1)
        r.error = request_nbd_error(err, req->flags);

    pthread_mutex_lock(&conn->write_lock);
    ret = reply_send(conn, req, &r);
    pthread_mutex_unlock(&conn->write_lock);
    if (ret == -1) {
        debug("cannot send reply: %m");
        conn_set_status(conn, STATUS_DEAD);
    }
    free(r.status);
    segment_vector_reset(&r.segs);
    free(req->buf);
    req->buf = NULL;
}
