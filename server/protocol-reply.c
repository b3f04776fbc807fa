/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-reply.c: the transmission phase, replies out.
 *
 * Simple and structured replies in the negotiated style, sent through
 * transport.h with conn->write_lock held, and the zero-copy READ replies:
 * pieces a layer describes (backend_read_iov) sent straight from its
 * memory, with sendmsg or spliced through a pipe, or a range of its file
 * sent with sendfile (backend_read_fd).  Which one is the stack's answer
 * to backend_zc, so a filter that forwards those calls keeps them.
 */

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"
#include "protocol-impl.h"
#include "transport.h"

/* Zero-copy READs (raw sockets only): pieces asked of the layers per
 * call, iovecs and chunk headers per system call, and how long a layer's
 * memory may stay locked waiting for a slow client before the rest of
 * the reply is copied out instead.
 */
#define ZC_PIECES 64
#define ZC_IOV 128
#define ZC_HDRS (ZC_PIECES + 2)
#define ZC_LOCK_MS 10
/* Zeroes sent as data come from a read-only anonymous mapping of this
 * size: all of it is the kernel's shared zero page, so it costs no RAM.
 */
#define ZEROES_SIZE (1024 * 1024)
/* READs at least this large are spliced from the layer's pages
 * (ZC_SPLICE_OK).
 */
#define MIN_SPLICE_READ (64 * 1024)
/* Pieces asked of the layers per call when splicing: each may take a
 * pipe slot for a partial page and one for its chunk header, and they
 * must all fit in the pipe (1 MiB, 256 slots, for most processes).
 */
#define SPLICE_PIECES 32
/* READs at least this large go through backend_read_fd. */
#define MIN_SENDFILE_READ (64 * 1024)

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

    return transport_sendv(conn, iov, len ? 2 : 1);
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
    return transport_sendv(conn, iov, len ? 2 : 1);
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
    return transport_sendv(conn, iov, 2);
}

static int
reply_hole_chunk(struct connection *conn, const struct request *req,
                 uint16_t flags, uint64_t offset, uint32_t len)
{
    char buf[64];
    size_t n;
    struct nbd_chunk_offset_hole h = {htobe64(offset), htobe32(len)};
    struct iovec iov;

    n = reply_chunk_header(conn, req, flags, NBD_REPLY_TYPE_OFFSET_HOLE,
                           sizeof h, buf);
    memcpy(buf + n, &h, sizeof h);
    iov = (struct iovec){buf, n + sizeof h};
    /* Through transport_sendv, as the data chunks go: a chunk sent around
     * the replies it holds back would overtake them, and a DONE hole
     * could reach the client before the data chunks of its own read.
     */
    return transport_sendv(conn, &iov, 1);
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
    return transport_sendv(conn, iov, 2);
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
    if (o->pending > 0 && transport_splice_out(o->conn, o->pending) == -1)
        return -1;
    o->pending = 0;
    return 0;
}

/* Put v[0..n) in the splice pipe, draining it to the socket when full. */
static int
zc_pipe_put(struct zc_out *o, struct iovec *v, int n, bool copy)
{
    return transport_splice_put(o->conn, v, n, !copy, &o->pending);
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
        sent = transport_sendv_until(o->conn, o->iov, o->n, o->deadline_ms);
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
    backend_read_iov_end(c, cookie);
    /* Spliced pages stay referenced by the kernel, not locked. */
    if (r == 0 && o->pipe >= 0)
        r = zc_drain(o);
    if (r == 0 && o->stalled) {
        struct iovec v = {o->bounce, o->bounce_len};
        r = transport_sendv(o->conn, &v, 1);
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
    int zc = backend_zc(o->conn->top_context);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    unsigned slots, spare = 2 * SPLICE_PIECES + 4;

    if (!(zc & ZC_SPLICE_OK) || req->count < MIN_SPLICE_READ)
        return 0;
    o->pipe = transport_splice_pipe(o->conn, &slots);
    if (o->pipe < 0 || slots < 2 * spare)
        return 0;
    return (slots - spare) * page;
}

static int
read_zc(struct connection *conn, const struct request *req)
{
    struct zc_out o = {.conn = conn,
                       .deadline_ms = transport_now_ms() + ZC_LOCK_MS,
                       .pipe = -1};
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
        got = backend_read_iov(
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

    if (backend_read_fd(conn->top_context, req->count, req->offset, &fd,
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
    if (transport_sendv(conn, &v, 1) == -1 ||
        transport_sendfile(conn, fd, fd_offset, req->count) == -1)
        return -1;
    return 0;
}

/* Which zero-copy way, if any, a valid READ can take: ZC_READ_IOV,
 * ZC_READ_FD or 0.
 */
static int
read_zero_copy_kind(struct connection *conn, const struct request *req)
{
    int zc;

    if (req->type != NBD_CMD_READ || req->error ||
        (req->flags & NBD_CMD_FLAG_DF) || !transport_is_raw_socket(conn))
        return 0;
    zc = backend_zc(conn->top_context);
    if ((zc & ZC_READ_IOV) && zeroes)
        return ZC_READ_IOV;
    if ((zc & ZC_READ_FD) && req->count >= MIN_SENDFILE_READ)
        return ZC_READ_FD;
    return 0;
}

/* Run and answer a READ without copying it through a buffer, if the
 * plugin and the transport allow.  False if the caller must do it.
 */
bool
reply_read_zero_copy(struct connection *conn, struct request *req)
{
    int kind, r;

    pthread_once(&zeroes_once, zeroes_map);
    kind = read_zero_copy_kind(conn, req);
    if (kind == 0)
        return false;
    threadlocal_clear_last_error();
    pthread_mutex_lock(&conn->write_lock);
    r = kind == ZC_READ_IOV ? read_zc(conn, req) : read_fd(conn, req);
    pthread_mutex_unlock(&conn->write_lock);
    if (r == 1)
        return false;
    if (r == -1) {
        debug("cannot send reply: %m");
        transport_set_status(conn, STATUS_DEAD);
    }
    return true;
}

int
reply_send(struct connection *conn, const struct request *req,
           const struct result *r)
{
    char buf[64];
    struct iovec iov;

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
    iov = (struct iovec){buf, reply_chunk_header(conn, req, NBD_REPLY_FLAG_DONE,
                                                 NBD_REPLY_TYPE_NONE, 0, buf)};
    return transport_sendv(conn, &iov, 1);
}
