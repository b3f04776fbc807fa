/* SPDX-License-Identifier: BSD-3-Clause */
/* transport-splice.c: the kernel's shortcuts for moving payloads
 * (transport.h): READ replies spliced from plugin pages through a pipe
 * to a unix socket, sendfile from a plugin's file, and WRITE payloads
 * spliced from the socket into a pipe, whole, before any of them reaches
 * the plugin.  Each has a plain fallback when the kernel refuses.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "minmax.h"
#include "transport-impl.h"

/* Make the splice pipe as large as allowed, up to SPIPE_MAX bytes (an
 * unprivileged process gets at most /proc/sys/fs/pipe-max-size, and less
 * once its pipes hold pipe-user-pages-soft pages).  Non-blocking: the
 * server is the only reader, so a write to a full pipe must fail rather
 * than wait.
 */
#define SPIPE_MAX (4 * 1024 * 1024)
#define SPIPE_MIN_SLOTS 32

void
transport_pipe_close(int fds[2])
{
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
    fds[0] = fds[1] = -1;
}

/* Does vmsplice work here (a seccomp filter may forbid it)?  One byte
 * through the new pipe and back out.
 */
static bool
transport_splice_probe(struct transport *p)
{
    static const char probe = 'x';
    struct iovec v = {(void *)&probe, 1};
    char c;

    return vmsplice(p->spipe.fd[1], &v, 1, SPLICE_F_NONBLOCK) == 1 &&
           read(p->spipe.fd[0], &c, 1) == 1 && c == probe;
}

/* Make fds a non-blocking pipe as large as allowed; its room in pages,
 * or 0 (and fds {-1, -1}) if there is no usable pipe.
 */
static unsigned
transport_pipe_make(int fds[2])
{
    long page = sysconf(_SC_PAGESIZE);
    int size;

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
        fds[0] = fds[1] = -1;
        return 0;
    }
    for (size = SPIPE_MAX; size >= SPIPE_MIN_SLOTS * page; size /= 2)
        if (fcntl(fds[1], F_SETPIPE_SZ, size) >= 0)
            break;
    size = fcntl(fds[1], F_GETPIPE_SZ);
    if (size < SPIPE_MIN_SLOTS * page) {
        transport_pipe_close(fds);
        return 0;
    }
    return (unsigned)(size / page);
}

/* True if fd is a unix domain socket. */
static bool
fd_is_unix(int fd)
{
    int domain;
    socklen_t len = sizeof domain;

    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
           domain == AF_UNIX;
}

/* READ replies are spliced on unix sockets only: over TCP loopback the
 * spliced path measured slower than sendmsg (2.2-3.0 against 3.4-3.9
 * GB/s for 1 MiB READs), for the same CPU.
 */
static void
transport_splice_setup(struct connection *conn, struct transport *p)
{
    p->spipe.tried = true;
    if (!fd_is_unix(conn->sockout))
        return;
    p->spipe.slots = transport_pipe_make(p->spipe.fd);
    if (p->spipe.slots && !transport_splice_probe(p))
        transport_pipe_close(p->spipe.fd);
}

int
transport_splice_pipe(struct connection *conn, unsigned *slots)
{
    struct transport *p = conn->transport;

    assert(transport_is_raw_socket(conn));
    if (!p->spipe.tried)
        transport_splice_setup(conn, p);
    if (p->spipe.fd[1] == -1 || p->spipe.broken)
        return -1;
    if (transport_flush_locked(conn) == -1)
        return -2;
    *slots = p->spipe.slots;
    return p->spipe.fd[1];
}

/* Did splice(2) refuse these descriptors (kernel, file system, seccomp),
 * rather than fail on them?  Then the bytes are copied instead.
 */
static bool
splice_refused(int err)
{
    return err == EINVAL || err == ENOSYS || err == EPERM || err == EOPNOTSUPP;
}

/* splice(2) refused to move pipe pages to this socket: copy them out of
 * the pipe and send them, and splice no more on this connection.
 */
static int
transport_splice_copy_out(struct connection *conn, size_t len)
{
    struct transport *p = conn->transport;
    char buf[16384];
    struct iovec v;
    ssize_t r;

    p->spipe.broken = true;
    while (len > 0) {
        r = read(p->spipe.fd[0], buf, MIN(len, sizeof buf));
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        v = (struct iovec){buf, (size_t)r};
        if (transport_raw_sendv(conn, &v, 1) == -1)
            return -1;
        len -= r;
    }
    return 0;
}

int
transport_splice_out(struct connection *conn, size_t len)
{
    struct transport *p = conn->transport;

    while (len > 0) {
        ssize_t r = splice(p->spipe.fd[0], NULL, conn->sockout, NULL, len,
                           SPLICE_F_MOVE);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1 && splice_refused(errno))
            return transport_splice_copy_out(conn, len);
        if (r == -1)
            return -1;
        if (r == 0) {
            errno = EPIPE;
            return -1;
        }
        len -= r;
    }
    return 0;
}

int
transport_splice_put(struct connection *conn, struct iovec *v, int n,
                     bool by_reference, size_t *pending)
{
    int pipe = conn->transport->spipe.fd[1];
    ssize_t r;

    v = iov_advance(v, &n, 0);
    while (n > 0) {
        if (by_reference)
            r = vmsplice(pipe, v, n, SPLICE_F_NONBLOCK);
        else
            r = write(pipe, v->iov_base, v->iov_len);
        if (r > 0) {
            *pending += r;
            v = iov_advance(v, &n, r);
        } else if (r == -1 && errno == EAGAIN) {
            if (transport_splice_out(conn, *pending) == -1)
                return -1;
            *pending = 0;
        } else if (r == -1 && errno != EINTR)
            return -1;
    }
    return 0;
}

/* pwrite all of buf to fd at offset.  0, or -1 with errno set. */
static int
transport_pwrite_all(int fd, const char *buf, size_t len, uint64_t offset)
{
    ssize_t r;

    while (len > 0) {
        r = pwrite(fd, buf, len, (off_t)offset);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        buf += r;
        len -= r;
        offset += r;
    }
    return 0;
}

/* Copy n bytes from the pipe to fd at offset through a buffer, for
 * files splice refuses.
 */
static int
transport_pipe_copy_to_file(int pipe, int fd, uint64_t offset, size_t n)
{
    char buf[16384];
    size_t len;

    while (n > 0) {
        len = MIN(n, sizeof buf);
        if (transport_pipe_read(pipe, buf, len) == -1 ||
            transport_pwrite_all(fd, buf, len, offset) == -1)
            return -1;
        offset += len;
        n -= len;
    }
    return 0;
}

int
transport_pipe_to_file(int pipe, int fd, uint64_t offset, size_t n)
{
    loff_t off;
    ssize_t r;

    while (n > 0) {
        off = (loff_t)offset;
        r = splice(pipe, NULL, fd, &off, n, SPLICE_F_MOVE);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1 && splice_refused(errno))
            return transport_pipe_copy_to_file(pipe, fd, offset, n);
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        offset += r;
        n -= r;
    }
    return 0;
}

int
transport_pipe_read(int pipe, void *buf, size_t n)
{
    char *p = buf;
    ssize_t r;

    while (n > 0) {
        r = read(pipe, p, n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        p += r;
        n -= r;
    }
    return 0;
}

/* The receive pipe, made on first use; NULL if there is none. */
static struct transport_pipe *
transport_rpipe(struct transport *p)
{
    if (!p->rpipe.tried) {
        p->rpipe.tried = true;
        p->rpipe.slots = transport_pipe_make(p->rpipe.fd);
    }
    if (p->rpipe.fd[0] == -1 || p->rpipe.broken)
        return NULL;
    return &p->rpipe;
}

/* Copy the read-ahead buffer's first k bytes into the empty pipe, which
 * has room for them.
 */
static int
transport_rpipe_put_buffered(struct transport *p, size_t k)
{
    ssize_t r;

    while (k > 0) {
        r = write(p->rpipe.fd[1], p->in + p->in_start, k);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p->in_start += r;
        k -= r;
    }
    return 0;
}

/* Splice len bytes from the socket into the pipe, waiting for the
 * client.  -2 if splice refuses the socket before the first byte.
 */
static int
transport_rpipe_fill(struct connection *conn, struct transport *p, size_t len)
{
    bool first = true;
    ssize_t r;

    while (len > 0) {
        r = splice(conn->sockin, NULL, p->rpipe.fd[1], NULL, len,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (r > 0) {
            len -= r;
            first = false;
            continue;
        }
        switch (transport_recv_next(r)) {
        case RECV_RETRY:
            continue;
        case RECV_FAIL:
            /* errno is 0 for EOF, which splice_refused does not take. */
            if (first && splice_refused(errno)) {
                p->rpipe.broken = true;
                return -2;
            }
            return -1;
        case RECV_WAIT:
            break;
        }
        if (transport_flush(conn) == -1 ||
            transport_wait_readable(conn, conn->sockin) == -1)
            return -1;
    }
    return 0;
}

/* transport_rpipe_fill where splice refuses the socket: through a
 * buffer.  The pipe has room for all of it.
 */
static int
transport_rpipe_copy_fill(struct connection *conn, struct transport *p,
                          size_t len)
{
    char buf[16384];
    size_t n;
    ssize_t r;
    char *q;

    while (len > 0) {
        n = MIN(len, sizeof buf);
        if (transport_recv(conn, buf, n) == -1)
            return -1;
        len -= n;
        for (q = buf; n > 0; q += r, n -= r) {
            r = write(p->rpipe.fd[1], q, n);
            if (r == -1 && errno == EINTR)
                r = 0;
            else if (r <= 0)
                return -1;
        }
    }
    return 0;
}

int
transport_recv_to_pipe(struct connection *conn, size_t len)
{
    struct transport *p = conn->transport;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), k;
    int r;

    assert(transport_is_raw_socket(conn));
    if (transport_rpipe(p) == NULL)
        return -2;
    /* Room for the payload in whole pages, with slack for a first page
     * the buffered bytes only partly fill.
     */
    if (len + 2 * page > p->rpipe.slots * page)
        return -2;
    k = MIN(len, p->in_end - p->in_start);
    if (transport_rpipe_put_buffered(p, k) == -1)
        return -1;
    r = transport_rpipe_fill(conn, p, len - k);
    /* Part of the payload is in the pipe already: copy the rest in. */
    if (r == -2 && k > 0)
        r = transport_rpipe_copy_fill(conn, p, len - k);
    if (r < 0)
        return r;
    return p->rpipe.fd[0];
}

int
transport_recv_pipe_done(struct connection *conn)
{
    struct transport *p = conn->transport;
    char buf[16384];
    int left = 0;
    ssize_t r;

    while (ioctl(p->rpipe.fd[0], FIONREAD, &left) == 0 && left > 0) {
        r = read(p->rpipe.fd[0], buf, MIN((size_t)left, sizeof buf));
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
    }
    return 0;
}

int
transport_sendfile(struct connection *conn, int fd, uint64_t offset,
                   uint64_t count)
{
    off_t off = (off_t)offset;

    assert(transport_is_raw_socket(conn));
    if (transport_flush_locked(conn) == -1)
        return -1;
    while (count > 0) {
        ssize_t r = sendfile(conn->sockout, fd, &off, MIN(count, 1U << 30));
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return -1;
        if (r == 0) {
            errno = EIO; /* the file is shorter than promised */
            return -1;
        }
        count -= r;
    }
    return 0;
}
