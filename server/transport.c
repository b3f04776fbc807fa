/* SPDX-License-Identifier: BSD-3-Clause */
/* transport.c: moving bytes between a client and memory (transport.h).
 *
 * The reader's side: a read-ahead buffer that turns many pipelined
 * requests into one system call, non-blocking reads first, a short spin
 * before sleeping in poll, and waits that end when the server quits or
 * the connection is dropped.  The sending side: replies of requests the
 * reader runs itself are held back in an output buffer and leave
 * together, in one sendmsg, when the reader runs out of input.
 *
 * Locks: the read side belongs to the thread holding conn->read_lock,
 * the write side to the one holding conn->write_lock; status_lock guards
 * conn->status only and is taken last (see internal.h for the order).
 */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "minmax.h"
#include "transport-impl.h"

/* Set while this thread is the reader running a request itself: only
 * then may its reply wait in the output buffer.
 */
static __thread bool reply_may_wait;

static int transport_raw_recv(struct connection *conn, void *buf, size_t len);
static int transport_raw_send(struct connection *conn, const void *buf,
                              size_t len, int flags);

void
transport_hold_replies(bool hold)
{
    reply_may_wait = hold;
}

void
transport_note_request(struct connection *conn)
{
    conn->transport->reads_since_wait++;
}

uint64_t
transport_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t
transport_now_ms(void)
{
    return transport_now_ns() / 1000000;
}

/* ---- status ---- */

enum conn_status
transport_get_status(struct connection *conn)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&conn->status_lock);
    return conn->status;
}

void
transport_set_status(struct connection *conn, enum conn_status status)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&conn->status_lock);
    if (status >= conn->status)
        return;
    /* Wake nbdkit_nanosleep and blocked reads the first time. */
    if (conn->status == STATUS_ACTIVE) {
        uint64_t one = 1;
        if (write(conn->status_pipe[1], &one, sizeof one) == -1)
            debug("write status eventfd: %m");
    }
    conn->status = status;
}

/* ---- socket I/O ---- */

/* After the server was told to quit, requests a client has already sent
 * are still read, so they get ESHUTDOWN replies rather than silence, for
 * at most QUIT_GRACE_MS.  Then, or once the client has nothing more to
 * send, reading stops and the connection closes.
 */
#define QUIT_GRACE_MS 2000

int
transport_quit_grace(struct connection *conn, short readable)
{
    if (!conn->transmission || !readable) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (conn->deadline_ms == 0)
        conn->deadline_ms = transport_now_ms() + QUIT_GRACE_MS;
    else if (transport_now_ms() >= conn->deadline_ms) {
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

/* Wait until fd is readable.  Fails with ESHUTDOWN when the server quits
 * or the connection is dropped, ETIMEDOUT past deadline_ms (0: none).
 */
static int
transport_wait_readable_until(struct connection *conn, int fd,
                              uint64_t deadline_ms)
{
    struct pollfd fds[3] = {
        {.fd = fd, .events = POLLIN},
        {.fd = quit_fd, .events = POLLIN},
        {.fd = conn->status_pipe[0], .events = POLLIN},
    };
    int timeout = -1;
    int r;

    if (deadline_ms) {
        uint64_t now = transport_now_ms();
        if (now >= deadline_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        timeout = (int)MIN(deadline_ms - now, (uint64_t)INT32_MAX);
    }
    do
        r = poll(fds, 3, timeout);
    while (r == -1 && errno == EINTR);
    if (r == -1)
        return -1;
    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (fds[2].revents && transport_get_status(conn) <= STATUS_CLIENT_DONE) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (fds[1].revents)
        return transport_quit_grace(conn, fds[0].revents);
    return 0;
}

/* The same, up to the connection's own deadline (handshake, quit grace). */
int
transport_wait_readable(struct connection *conn, int fd)
{
    return transport_wait_readable_until(conn, fd, conn->deadline_ms);
}

/* Read without blocking first: a request that has already arrived costs
 * one system call.
 */
static ssize_t
transport_read_some(struct connection *conn, void *buf, size_t len)
{
    if (conn->sockout_is_socket)
        return recv(conn->sockin, buf, len, MSG_DONTWAIT);
    if (transport_wait_readable(conn, conn->sockin) == -1)
        return -1;
    return read(conn->sockin, buf, len);
}

/* What is left to do after a non-blocking read returned r <= 0: retry
 * at once (EINTR), wait for the socket (EAGAIN), or fail (an error, or
 * EOF, for which errno is set to 0).
 */

enum recv_next
transport_recv_next(ssize_t r)
{
    if (r == 0) {
        errno = 0; /* EOF */
        return RECV_FAIL;
    }
    if (errno == EINTR)
        return RECV_RETRY;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return RECV_WAIT;
    return RECV_FAIL;
}

/* Send the replies held back, taking the write lock if there are any. */
int
transport_flush(struct connection *conn)
{
    struct transport *p = conn->transport;
    struct iovec v;
    int r = 0;

    if (__atomic_load_n(&p->out_len, __ATOMIC_RELAXED) == 0)
        return 0;
    pthread_mutex_lock(&conn->write_lock);
    if (p->out_len > 0) {
        v = (struct iovec){p->out, p->out_len};
        r = transport_raw_sendv(conn, &v, 1);
        __atomic_store_n(&p->out_len, 0, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&conn->write_lock);
    return r;
}

/* Before it sleeps in poll, the reader waits a little for the next
 * request with non-blocking peeks.  A client in a request/reply loop
 * (queue depth 1) sends again within microseconds, and catching that
 * without a sleep and a wake-up on both sides doubles the request rate on
 * a VM.  Each round yields the CPU.  After SPIN_MISSES_MAX spins in a row
 * found nothing, the connection stops spinning (an idle or slow client
 * costs nothing), and starts again after a sleep that ended soon (see
 * transport_wait_read).
 */
#define SPIN_US 20
#define SPIN_MISSES_MAX 4

static uint64_t
now_us(void)
{
    return transport_now_ns() / 1000;
}

/* True if a request arrived while spinning. */
static bool
transport_spin(struct connection *conn)
{
    struct transport *p = conn->transport;
    /* A client with many requests in flight sends them in batches as
     * replies reach it: the reader has work without spinning, and a spin
     * would only take the CPU the client needs.
     */
    bool batch = p->reads_since_wait > 1;
    uint64_t end;
    char c;

    p->reads_since_wait = 0;
    if (!conn->sockout_is_socket || p->spin_misses >= SPIN_MISSES_MAX || batch)
        return false;
    end = now_us() + SPIN_US;
    do {
        if (recv(conn->sockin, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 1) {
            p->spin_misses = 0;
            return true;
        }
        sched_yield();
    } while (now_us() < end);
    p->spin_misses++;
    return false;
}

/* Spin, then sleep until readable.  A sleep that ended quickly means the
 * client is busy again, so spinning may pay once more.
 */
static int
transport_wait_read(struct connection *conn)
{
    struct transport *p = conn->transport;
    uint64_t start;

    if (transport_spin(conn))
        return 0;
    start = now_us();
    if (transport_wait_readable(conn, conn->sockin) == -1)
        return -1;
    if (now_us() - start < 4 * SPIN_US)
        p->spin_misses = 0;
    return 0;
}

/* Read 1 to len bytes, waiting if none are there.  -1 on error or EOF
 * (errno 0).
 */
static ssize_t
transport_read_avail(struct connection *conn, void *buf, size_t len)
{
    for (;;) {
        ssize_t r = transport_read_some(conn, buf, len);
        if (r > 0)
            return r;
        switch (transport_recv_next(r)) {
        case RECV_RETRY:
            continue;
        case RECV_FAIL:
            return -1;
        case RECV_WAIT:
            break;
        }
        /* Nothing to read: replies held back must go before we wait. */
        if (transport_flush(conn) == -1)
            return -1;
        if (transport_wait_read(conn) == -1)
            return -1;
    }
}

static int
transport_raw_recv(struct connection *conn, void *vbuf, size_t len)
{
    char *buf = vbuf;

    while (len > 0) {
        ssize_t r = transport_read_avail(conn, buf, len);
        if (r == -1)
            return -1;
        buf += r;
        len -= r;
    }
    return 0;
}

bool
transport_is_raw(const struct connection *conn)
{
    return !conn->using_tls && conn->recv == transport_raw_recv &&
           conn->send == transport_raw_send;
}

bool
transport_is_raw_socket(const struct connection *conn)
{
    return transport_is_raw(conn) && conn->sockout_is_socket;
}

/* Refill the empty read-ahead buffer with what has arrived (at least one
 * byte).
 */
static int
transport_fill(struct connection *conn)
{
    struct transport *p = conn->transport;
    ssize_t r;

    if (p->in == NULL) {
        p->in = malloc(INBUF_SIZE);
        if (p->in == NULL)
            return -1;
    }
    r = transport_read_avail(conn, p->in, INBUF_SIZE);
    if (r == -1)
        return -1;
    p->in_start = 0;
    p->in_end = r;
    return 0;
}

int
transport_recv(struct connection *conn, void *vbuf, size_t len)
{
    struct transport *p = conn->transport;
    char *buf = vbuf;
    size_t n;

    if (!transport_is_raw(conn))
        return conn->recv(conn, buf, len);
    for (;;) {
        n = MIN(len, p->in_end - p->in_start);
        if (n > 0)
            memcpy(buf, p->in + p->in_start, n);
        p->in_start += n;
        buf += n;
        len -= n;
        if (len == 0)
            return 0;
        if (len >= INBUF_SIZE / 2)
            return transport_raw_recv(conn, buf, len);
        if (transport_fill(conn) == -1)
            return -1;
    }
}

static int
transport_raw_send(struct connection *conn, const void *vbuf, size_t len,
                   int flags)
{
    const char *buf = vbuf;
    int sflags = MSG_NOSIGNAL | ((flags & SEND_MORE) ? MSG_MORE : 0);

    while (len > 0) {
        ssize_t r;
        if (conn->sockout_is_socket)
            r = send(conn->sockout, buf, len, sflags);
        else
            r = write(conn->sockout, buf, len);
        if (r == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += r;
        len -= r;
    }
    return 0;
}

static ssize_t
transport_raw_sendv_once(struct connection *conn, struct iovec *v, int n,
                         int flags)
{
    struct msghdr msg = {.msg_iov = v, .msg_iovlen = n};

    if (conn->sockout_is_socket)
        return sendmsg(conn->sockout, &msg, MSG_NOSIGNAL | flags);
    return writev(conn->sockout, v, n);
}

/* Send all of v[0..n); v is modified. */
int
transport_raw_sendv(struct connection *conn, struct iovec *v, int n)
{
    v = iov_advance(v, &n, 0);
    while (n > 0) {
        ssize_t r = transport_raw_sendv_once(conn, v, n, 0);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return -1;
        v = iov_advance(v, &n, r);
    }
    return 0;
}

/* Append a small reply to the output buffer if it may wait there.  True
 * if it did.  Called with conn->write_lock held.
 */
static bool
transport_hold_back(struct connection *conn, const struct iovec *iov, int n)
{
    struct transport *p = conn->transport;
    size_t len = 0;
    int i;

    if (!reply_may_wait || !conn->sockout_is_socket)
        return false;
    for (i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (len > OUTBUF_MAX_REPLY || p->out_len + len > OUTBUF_SIZE)
        return false;
    if (p->out == NULL && (p->out = malloc(OUTBUF_SIZE)) == NULL)
        return false;
    for (i = 0; i < n; i++) {
        memcpy(p->out + p->out_len, iov[i].iov_base, iov[i].iov_len);
        p->out_len += iov[i].iov_len;
    }
    __atomic_store_n(&p->out_len, p->out_len, __ATOMIC_RELAXED);
    return true;
}

int
transport_sendv(struct connection *conn, const struct iovec *iov, int n)
{
    struct transport *p = conn->transport;
    struct iovec copy[TRANSPORT_IOV_MAX + 1];
    int i;

    if (!transport_is_raw(conn)) {
        for (i = 0; i < n; i++)
            if (iov[i].iov_len > 0 &&
                conn->send(conn, iov[i].iov_base, iov[i].iov_len,
                           i < n - 1 ? SEND_MORE : 0) == -1)
                return -1;
        return 0;
    }
    if (transport_hold_back(conn, iov, n))
        return 0;
    /* What is held back goes first, in the same system call. */
    assert(n <= TRANSPORT_IOV_MAX);
    i = 0;
    if (p->out_len > 0)
        copy[i++] = (struct iovec){p->out, p->out_len};
    memcpy(copy + i, iov, n * sizeof *iov);
    __atomic_store_n(&p->out_len, 0, __ATOMIC_RELAXED);
    return transport_raw_sendv(conn, copy, n + i);
}

/* Send what is held back; conn->write_lock is held. */
int
transport_flush_locked(struct connection *conn)
{
    struct transport *p = conn->transport;
    struct iovec v = {p->out, p->out_len};

    if (p->out_len == 0)
        return 0;
    __atomic_store_n(&p->out_len, 0, __ATOMIC_RELAXED);
    return transport_raw_sendv(conn, &v, 1);
}
/* Copy the read-ahead buffer's bytes into the front of v[0..n); returns
 * how many.
 */
static size_t
transport_copy_buffered(struct transport *t, struct iovec *v, int n)
{
    size_t done = 0, k;

    for (; n > 0 && t->in_start < t->in_end; v++, n--) {
        k = MIN(v->iov_len, t->in_end - t->in_start);
        memcpy(v->iov_base, t->in + t->in_start, k);
        t->in_start += k;
        done += k;
    }
    return done;
}

/* Raw: the rest straight from the socket, as many pieces per call as
 * the kernel takes.
 */
static int
transport_recv_iov_raw(struct connection *conn, struct iovec *v, int n)
{
    struct msghdr msg;
    ssize_t r;

    while (n > 0) {
        msg = (struct msghdr){.msg_iov = v, .msg_iovlen = MIN(n, IOV_MAX)};
        r = recvmsg(conn->sockin, &msg, MSG_DONTWAIT);
        if (r > 0) {
            v = iov_advance(v, &n, r);
            continue;
        }
        switch (transport_recv_next(r)) {
        case RECV_RETRY:
            continue;
        case RECV_FAIL:
            return -1;
        case RECV_WAIT:
            break;
        }
        /* Replies held back must go before we wait. */
        if (transport_flush(conn) == -1 || transport_wait_read(conn) == -1)
            return -1;
    }
    return 0;
}

int
transport_recv_iov(struct connection *conn, const struct iovec *iov, int n)
{
    struct iovec *copy, *v;
    int i, r = 0;

    if (!transport_is_raw_socket(conn)) {
        for (i = 0; i < n && r == 0; i++)
            r = transport_recv(conn, iov[i].iov_base, iov[i].iov_len);
        return r;
    }
    copy = malloc(n * sizeof *copy);
    if (copy == NULL)
        return -1;
    memcpy(copy, iov, n * sizeof *copy);
    v = iov_advance(copy, &n, 0);
    v = iov_advance(v, &n, transport_copy_buffered(conn->transport, v, n));
    r = transport_recv_iov_raw(conn, v, n);
    free(copy);
    return r;
}

/* Wait until sockout is writable or deadline_ms passes: 1, 0, -1. */
static int
transport_wait_writable(struct connection *conn, uint64_t deadline_ms)
{
    struct pollfd pfd = {.fd = conn->sockout, .events = POLLOUT};
    uint64_t now = transport_now_ms();
    int r;

    if (now >= deadline_ms)
        return 0;
    r = poll(&pfd, 1, (int)MIN(deadline_ms - now, (uint64_t)INT32_MAX));
    if (r == -1 && errno == EINTR)
        return 1; /* re-check the time */
    return r;
}

/* Put the held-back bytes that sent did not cover back at the front of
 * the output buffer; returns how much of sent was beyond them.
 */
static size_t
transport_unsent_held(struct transport *p, size_t held, size_t sent)
{
    if (sent >= held)
        return sent - held;
    memmove(p->out, p->out + sent, held - sent);
    __atomic_store_n(&p->out_len, held - sent, __ATOMIC_RELAXED);
    return 0;
}

ssize_t
transport_sendv_until(struct connection *conn, const struct iovec *iov, int n,
                      uint64_t deadline_ms)
{
    struct transport *p = conn->transport;
    struct iovec copy[TRANSPORT_IOV_MAX + 1], *v = copy;
    size_t sent = 0, held = p->out_len;
    int m = 0, w;

    assert(transport_is_raw_socket(conn));
    assert(n <= TRANSPORT_IOV_MAX);
    if (transport_hold_back(conn, iov, n)) {
        for (m = 0; m < n; m++)
            sent += iov[m].iov_len;
        return sent;
    }
    /* Held-back replies go first, in the same system call. */
    if (held > 0)
        copy[m++] = (struct iovec){p->out, held};
    __atomic_store_n(&p->out_len, 0, __ATOMIC_RELAXED);
    memcpy(copy + m, iov, n * sizeof *iov);
    m += n;
    v = iov_advance(v, &m, 0);
    while (m > 0) {
        ssize_t r = transport_raw_sendv_once(conn, v, m, MSG_DONTWAIT);
        if (r >= 0) {
            sent += r;
            v = iov_advance(v, &m, r);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        w = transport_wait_writable(conn, deadline_ms);
        if (w == -1)
            return -1;
        if (w == 0)
            break;
    }
    return transport_unsent_held(p, held, sent);
}

static void
transport_raw_shut_writes(struct connection *conn)
{
    if (conn->sockout_is_socket)
        shutdown(conn->sockout, SHUT_WR);
}

static void
transport_raw_close(struct connection *conn)
{
    if (conn->sockin >= 0)
        close(conn->sockin);
    if (conn->sockout >= 0 && conn->sockout != conn->sockin)
        close(conn->sockout);
    conn->sockin = conn->sockout = -1;
}

/* ---- life ---- */

static bool
fd_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int
transport_init(struct connection *conn, int sockin, int sockout)
{
    struct transport *t = calloc(1, sizeof *t);

    if (t == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    t->spipe.fd[0] = t->spipe.fd[1] = -1;
    t->rpipe.fd[0] = t->rpipe.fd[1] = -1;
    conn->status_pipe[0] = conn->status_pipe[1] = eventfd(0, EFD_CLOEXEC);
    if (conn->status_pipe[0] == -1) {
        nbdkit_error("eventfd: %m");
        free(t);
        return -1;
    }
    pthread_mutex_init(&conn->status_lock, NULL);
    conn->status = STATUS_ACTIVE;
    conn->transport = t;
    conn->sockin = sockin;
    conn->sockout = sockout;
    conn->sockout_is_socket = fd_is_socket(sockout) && fd_is_socket(sockin);
    conn->recv = transport_raw_recv;
    conn->send = transport_raw_send;
    conn->shut_writes = transport_raw_shut_writes;
    conn->close = transport_raw_close;
    return 0;
}

void
transport_free(struct connection *conn)
{
    struct transport *t = conn->transport;

    close(conn->status_pipe[0]); /* [1] is the same eventfd */
    pthread_mutex_destroy(&conn->status_lock);
    free(t->in);
    free(t->out);
    transport_pipe_close(t->spipe.fd);
    transport_pipe_close(t->rpipe.fd);
    free(t);
    conn->transport = NULL;
}
