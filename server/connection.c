/* SPDX-License-Identifier: BSD-3-Clause */
/* connection.c: one client, from accept to close.
 *
 * The connection's own thread runs the handshake and then reads
 * requests.  Under the PARALLEL thread model it hands each request to a
 * small pool of workers, created on demand up to -t, which run the
 * request and send its reply; replies may leave out of order.  Under the
 * serial models it runs each request itself.  A bounded number of
 * requests (and bytes) may be in flight, so a client that pipelines
 * without reading replies meets backpressure, not unbounded memory.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fastpath.h"
#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"

/* A connection that moved this much payload trims malloc's arenas at
 * the end.
 */
#define TRIM_AFTER_BYTES (64 * 1024 * 1024)

/* Per-connection caps on what is read but not yet answered. */
#define MAX_INFLIGHT_REQUESTS 64
#define MAX_INFLIGHT_BYTES (128 * 1024 * 1024)

/* Read-ahead buffer per connection, allocated when transmission starts;
 * pages a client never fills are never touched, so idle connections
 * cost little.  Payloads of at least half its size bypass it.
 */
#define INBUF_SIZE (64 * 1024)
/* A request is run by the reader itself, with no hand-off to a worker,
 * while requests on this connection take less than this on average:
 * the hand-off (queue, wake a worker) costs more than such a request.
 */
#define INLINE_MAX_NS 50000
/* Most pieces one conn_sendv / conn_sendv_until call takes. */
#define CONN_IOV_MAX 256
/* Small replies of requests the reader runs itself are gathered in an
 * output buffer of this size and sent together when the reader runs out
 * of requests to read (or the buffer fills): one system call and one
 * wake-up of the client for many replies.
 */
#define OUTBUF_SIZE (64 * 1024)
#define OUTBUF_MAX_REPLY (16 * 1024)

/* A splice pipe, made on first use: fd {-1, -1} until then, or for good
 * if that failed; slots is its room in pages.
 */
struct conn_pipe {
    int fd[2];
    unsigned slots;
    bool tried;
    bool broken; /* splice refused it once: copy from now on */
};

/* What the hot path keeps per connection, beside struct connection (which
 * must come first: a connection pointer is a conn_priv pointer).
 */
struct conn_priv {
    struct connection conn;
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
    /* Moving average of the time to run and answer a request, in ns.
     * Read and written by the reader and workers with relaxed atomics:
     * only a heuristic.
     */
    uint64_t avg_ns;
    /* Spins in a row that found no request, and requests read since the
     * reader last ran out of input; the reader's own.
     */
    unsigned spin_misses;
    unsigned reads_since_wait;
    /* READ and WRITE payload bytes so far; the reader's own. */
    uint64_t payload_bytes;
    /* The pipe large READ replies are spliced through; guarded by
     * conn->write_lock.
     */
    struct conn_pipe spipe;
    /* The pipe WRITE payloads are spliced through on their way to a file;
     * the reader's own (read_lock).
     */
    struct conn_pipe rpipe;
};

static struct conn_priv *
conn_priv(struct connection *conn)
{
    return (struct conn_priv *)conn;
}

/* Set while this thread is the reader running a request itself: only
 * then may its reply wait in the output buffer.
 */
static __thread bool reply_may_wait;

/* Live connections, so the server can wait for them before unloading. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_gone = PTHREAD_COND_INITIALIZER;
static unsigned live_count; /* guarded by live_lock */
static uint64_t last_id;    /* guarded by live_lock */

struct queued {
    struct queued *next;
    size_t bytes; /* payload bytes held, for the in-flight cap */
    struct request req;
};

/* The worker pool of one connection (PARALLEL model only). */
struct workers {
    struct connection *conn;
    pthread_mutex_t lock;       /* guards everything below */
    pthread_cond_t work;        /* signalled: a request was queued, or stop */
    pthread_cond_t room;        /* signalled: a request finished */
    struct queued *head, *tail; /* waiting for a worker, FIFO */
    unsigned queued;            /* length of that list */
    unsigned inflight;          /* queued or running */
    size_t inflight_bytes;
    unsigned idle; /* workers waiting on `work` */
    unsigned nthreads;
    pthread_t *tids; /* [threads], joined at the end */
    bool stop;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
now_ms(void)
{
    return now_ns() / 1000000;
}

uint64_t
conn_now_ms(void)
{
    return now_ms();
}

/* ---- status ---- */

enum conn_status
conn_get_status(struct connection *conn)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&conn->status_lock);
    return conn->status;
}

void
conn_set_status(struct connection *conn, enum conn_status status)
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

static int
conn_quit_grace(struct connection *conn, short readable)
{
    if (!conn->transmission || !readable) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (conn->deadline_ms == 0)
        conn->deadline_ms = now_ms() + QUIT_GRACE_MS;
    else if (now_ms() >= conn->deadline_ms) {
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

/* Wait until fd is readable.  Fails with ESHUTDOWN when the server quits
 * or the connection is dropped, ETIMEDOUT past deadline_ms (0: none).
 */
static int
conn_wait_readable_until(struct connection *conn, int fd, uint64_t deadline_ms)
{
    struct pollfd fds[3] = {
        {.fd = fd, .events = POLLIN},
        {.fd = quit_fd, .events = POLLIN},
        {.fd = conn->status_pipe[0], .events = POLLIN},
    };
    int timeout = -1;
    int r;

    if (deadline_ms) {
        uint64_t now = now_ms();
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
    if (fds[2].revents && conn_get_status(conn) <= STATUS_CLIENT_DONE) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (fds[1].revents)
        return conn_quit_grace(conn, fds[0].revents);
    return 0;
}

/* The same, up to the connection's own deadline (handshake, quit grace). */
static int
conn_wait_readable(struct connection *conn, int fd)
{
    return conn_wait_readable_until(conn, fd, conn->deadline_ms);
}

/* Read without blocking first: a request that has already arrived costs
 * one system call.
 */
static ssize_t
conn_read_some(struct connection *conn, void *buf, size_t len)
{
    if (conn->sockout_is_socket)
        return recv(conn->sockin, buf, len, MSG_DONTWAIT);
    if (conn_wait_readable(conn, conn->sockin) == -1)
        return -1;
    return read(conn->sockin, buf, len);
}

/* What is left to do after a non-blocking read returned r <= 0: retry
 * at once (EINTR), wait for the socket (EAGAIN), or fail (an error, or
 * EOF, for which errno is set to 0).
 */
enum recv_next { RECV_RETRY, RECV_WAIT, RECV_FAIL };

static enum recv_next
conn_recv_next(ssize_t r)
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

static int conn_raw_sendv(struct connection *conn, struct iovec *v, int n);

/* Send the replies held back, taking the write lock if there are any. */
static int
conn_flush(struct connection *conn)
{
    struct conn_priv *p = conn_priv(conn);
    struct iovec v;
    int r = 0;

    if (__atomic_load_n(&p->out_len, __ATOMIC_RELAXED) == 0)
        return 0;
    pthread_mutex_lock(&conn->write_lock);
    if (p->out_len > 0) {
        v = (struct iovec){p->out, p->out_len};
        r = conn_raw_sendv(conn, &v, 1);
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
 * conn_wait_read).
 */
#define SPIN_US 20
#define SPIN_MISSES_MAX 4

static uint64_t
now_us(void)
{
    return now_ns() / 1000;
}

/* True if a request arrived while spinning. */
static bool
conn_spin(struct connection *conn)
{
    struct conn_priv *p = conn_priv(conn);
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
conn_wait_read(struct connection *conn)
{
    struct conn_priv *p = conn_priv(conn);
    uint64_t start;

    if (conn_spin(conn))
        return 0;
    start = now_us();
    if (conn_wait_readable(conn, conn->sockin) == -1)
        return -1;
    if (now_us() - start < 4 * SPIN_US)
        p->spin_misses = 0;
    return 0;
}

/* Read 1 to len bytes, waiting if none are there.  -1 on error or EOF
 * (errno 0).
 */
static ssize_t
conn_read_avail(struct connection *conn, void *buf, size_t len)
{
    for (;;) {
        ssize_t r = conn_read_some(conn, buf, len);
        if (r > 0)
            return r;
        switch (conn_recv_next(r)) {
        case RECV_RETRY:
            continue;
        case RECV_FAIL:
            return -1;
        case RECV_WAIT:
            break;
        }
        /* Nothing to read: replies held back must go before we wait. */
        if (conn_flush(conn) == -1)
            return -1;
        if (conn_wait_read(conn) == -1)
            return -1;
    }
}

int
conn_raw_recv(struct connection *conn, void *vbuf, size_t len)
{
    char *buf = vbuf;

    while (len > 0) {
        ssize_t r = conn_read_avail(conn, buf, len);
        if (r == -1)
            return -1;
        buf += r;
        len -= r;
    }
    return 0;
}

bool
conn_is_raw(const struct connection *conn)
{
    return !conn->using_tls && conn->recv == conn_raw_recv &&
           conn->send == conn_raw_send;
}

bool
conn_is_raw_socket(const struct connection *conn)
{
    return conn_is_raw(conn) && conn->sockout_is_socket;
}

/* Refill the empty read-ahead buffer with what has arrived (at least one
 * byte).
 */
static int
conn_fill(struct connection *conn)
{
    struct conn_priv *p = conn_priv(conn);
    ssize_t r;

    if (p->in == NULL) {
        p->in = malloc(INBUF_SIZE);
        if (p->in == NULL)
            return -1;
    }
    r = conn_read_avail(conn, p->in, INBUF_SIZE);
    if (r == -1)
        return -1;
    p->in_start = 0;
    p->in_end = r;
    return 0;
}

int
conn_recv_buffered(struct connection *conn, void *vbuf, size_t len)
{
    struct conn_priv *p = conn_priv(conn);
    char *buf = vbuf;
    size_t n;

    if (!conn_is_raw(conn))
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
            return conn_raw_recv(conn, buf, len);
        if (conn_fill(conn) == -1)
            return -1;
    }
}

int
conn_raw_send(struct connection *conn, const void *vbuf, size_t len, int flags)
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
conn_raw_sendv_once(struct connection *conn, struct iovec *v, int n, int flags)
{
    struct msghdr msg = {.msg_iov = v, .msg_iovlen = n};

    if (conn->sockout_is_socket)
        return sendmsg(conn->sockout, &msg, MSG_NOSIGNAL | flags);
    return writev(conn->sockout, v, n);
}

/* Send all of v[0..n); v is modified. */
static int
conn_raw_sendv(struct connection *conn, struct iovec *v, int n)
{
    v = iov_advance(v, &n, 0);
    while (n > 0) {
        ssize_t r = conn_raw_sendv_once(conn, v, n, 0);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return -1;
        v = iov_advance(v, &n, r);
    }
    return 0;
}

/* Copy the read-ahead buffer's bytes into the front of v[0..*n), which
 * may be plugin memory that other threads read meanwhile (see
 * conn_recv_iov_until); returns how many.  fuzzing/tsan.supp names this
 * function for that reason.
 */
static size_t __attribute__((noinline))
conn_copy_buffered(struct conn_priv *p, struct iovec *v, int n)
{
    size_t done = 0, k;

    for (; n > 0 && p->in_start < p->in_end; v++, n--) {
        k = MIN(v->iov_len, p->in_end - p->in_start);
        memcpy(v->iov_base, p->in + p->in_start, k);
        p->in_start += k;
        done += k;
    }
    return done;
}

ssize_t
conn_recv_iov_until(struct connection *conn, const struct iovec *iov, int n,
                    uint64_t deadline_ms)
{
    struct iovec copy[CONN_IOV_MAX], *v = copy;
    struct msghdr msg;
    size_t got;
    ssize_t r;

    assert(conn_is_raw_socket(conn));
    assert(n <= CONN_IOV_MAX);
    memcpy(copy, iov, n * sizeof *iov);
    got = conn_copy_buffered(conn_priv(conn), v, n);
    v = iov_advance(v, &n, got);
    while (n > 0) {
        msg = (struct msghdr){.msg_iov = v, .msg_iovlen = n};
        r = recvmsg(conn->sockin, &msg, MSG_DONTWAIT);
        if (r > 0) {
            got += r;
            v = iov_advance(v, &n, r);
            continue;
        }
        switch (conn_recv_next(r)) {
        case RECV_RETRY:
            continue;
        case RECV_FAIL:
            return -1;
        case RECV_WAIT:
            break;
        }
        /* Replies held back must go before we wait; a quitting server
         * leaves the rest to the caller's ordinary path, which knows the
         * grace period.
         */
        if (conn_flush(conn) == -1)
            return -1;
        if (quit)
            break;
        if (conn_wait_readable_until(conn, conn->sockin, deadline_ms) == -1) {
            if (errno == ETIMEDOUT)
                break;
            return -1;
        }
    }
    return got;
}

/* Append a small reply to the output buffer if it may wait there.  True
 * if it did.  Called with conn->write_lock held.
 */
static bool
conn_hold_back(struct connection *conn, const struct iovec *iov, int n)
{
    struct conn_priv *p = conn_priv(conn);
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
conn_sendv(struct connection *conn, const struct iovec *iov, int n)
{
    struct conn_priv *p = conn_priv(conn);
    struct iovec copy[CONN_IOV_MAX + 1];
    int i;

    if (!conn_is_raw(conn)) {
        for (i = 0; i < n; i++)
            if (iov[i].iov_len > 0 &&
                conn->send(conn, iov[i].iov_base, iov[i].iov_len,
                           i < n - 1 ? SEND_MORE : 0) == -1)
                return -1;
        return 0;
    }
    if (conn_hold_back(conn, iov, n))
        return 0;
    /* What is held back goes first, in the same system call. */
    assert(n <= CONN_IOV_MAX);
    i = 0;
    if (p->out_len > 0)
        copy[i++] = (struct iovec){p->out, p->out_len};
    memcpy(copy + i, iov, n * sizeof *iov);
    __atomic_store_n(&p->out_len, 0, __ATOMIC_RELAXED);
    return conn_raw_sendv(conn, copy, n + i);
}

/* Send what is held back; conn->write_lock is held. */
static int
conn_flush_locked(struct connection *conn)
{
    struct conn_priv *p = conn_priv(conn);
    struct iovec v = {p->out, p->out_len};

    if (p->out_len == 0)
        return 0;
    __atomic_store_n(&p->out_len, 0, __ATOMIC_RELAXED);
    return conn_raw_sendv(conn, &v, 1);
}

/* Make the splice pipe as large as allowed, up to SPIPE_MAX bytes (an
 * unprivileged process gets at most /proc/sys/fs/pipe-max-size, and less
 * once its pipes hold pipe-user-pages-soft pages).  Non-blocking: the
 * server is the only reader, so a write to a full pipe must fail rather
 * than wait.
 */
#define SPIPE_MAX (4 * 1024 * 1024)
#define SPIPE_MIN_SLOTS 32

static void
conn_pipe_close(int fds[2])
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
conn_splice_probe(struct conn_priv *p)
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
conn_pipe_make(int fds[2])
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
        conn_pipe_close(fds);
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
conn_splice_setup(struct conn_priv *p)
{
    p->spipe.tried = true;
    if (!fd_is_unix(p->conn.sockout))
        return;
    p->spipe.slots = conn_pipe_make(p->spipe.fd);
    if (p->spipe.slots && !conn_splice_probe(p))
        conn_pipe_close(p->spipe.fd);
}

int
conn_splice_pipe(struct connection *conn, unsigned *slots)
{
    struct conn_priv *p = conn_priv(conn);

    assert(conn_is_raw_socket(conn));
    if (!p->spipe.tried)
        conn_splice_setup(p);
    if (p->spipe.fd[1] == -1 || p->spipe.broken)
        return -1;
    if (conn_flush_locked(conn) == -1)
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
conn_splice_copy_out(struct connection *conn, size_t len)
{
    struct conn_priv *p = conn_priv(conn);
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
        if (conn_raw_sendv(conn, &v, 1) == -1)
            return -1;
        len -= r;
    }
    return 0;
}

int
conn_splice_out(struct connection *conn, size_t len)
{
    struct conn_priv *p = conn_priv(conn);

    while (len > 0) {
        ssize_t r = splice(p->spipe.fd[0], NULL, conn->sockout, NULL, len,
                           SPLICE_F_MOVE);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1 && splice_refused(errno))
            return conn_splice_copy_out(conn, len);
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

/* pwrite all of buf, unless an earlier write failed (*err): then the
 * bytes are dropped.  A failure sets *err.
 */
static void
conn_pwrite_all(int fd, const char *buf, size_t len, uint64_t *offset, int *err)
{
    ssize_t r;

    while (len > 0 && *err == 0) {
        r = pwrite(fd, buf, len, (off_t)*offset);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            *err = r == 0 ? EIO : errno;
            break;
        }
        buf += r;
        len -= r;
        *offset += r;
    }
}

/* Move n bytes from the receive pipe to fd at *offset; when splice
 * refuses the file, or the file failed (*err), copy them out instead
 * (and drop them on failure).  -1 only if the pipe itself failed.
 */
static int
conn_rpipe_out(struct conn_priv *p, int fd, uint64_t *offset, size_t n,
               int *err)
{
    char buf[16384];
    loff_t off;
    ssize_t r;

    while (n > 0) {
        if (*err == 0 && !p->rpipe.broken) {
            off = (loff_t)*offset;
            r = splice(p->rpipe.fd[0], NULL, fd, &off, n, SPLICE_F_MOVE);
            if (r > 0) {
                n -= r;
                *offset += r;
                continue;
            }
            if (r == -1 && errno == EINTR)
                continue;
            if (r == -1 && splice_refused(errno))
                p->rpipe.broken = true;
            else
                *err = r == 0 ? EIO : errno;
            continue;
        }
        r = read(p->rpipe.fd[0], buf, MIN(n, sizeof buf));
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        conn_pwrite_all(fd, buf, r, offset, err);
        n -= r;
    }
    return 0;
}

/* conn_recv_to_fd when the socket cannot be spliced: through a buffer. */
static int
conn_recv_copy_to_fd(struct connection *conn, int fd, uint64_t offset,
                     size_t len, int *err)
{
    char buf[16384];
    size_t n;

    while (len > 0) {
        n = MIN(len, sizeof buf);
        if (conn_recv_buffered(conn, buf, n) == -1)
            return -1;
        conn_pwrite_all(fd, buf, n, &offset, err);
        len -= n;
    }
    return *err ? 1 : 0;
}

int
conn_recv_to_fd(struct connection *conn, int fd, uint64_t offset, size_t len,
                int *err)
{
    struct conn_priv *p = conn_priv(conn);
    size_t k, room;
    ssize_t r;

    assert(conn_is_raw_socket(conn));
    if (!p->rpipe.tried) {
        p->rpipe.tried = true;
        p->rpipe.slots = conn_pipe_make(p->rpipe.fd);
    }
    if (p->rpipe.fd[0] == -1 || p->rpipe.broken)
        return 2;
    *err = 0;
    room = p->rpipe.slots * (size_t)sysconf(_SC_PAGESIZE);
    k = MIN(len, p->in_end - p->in_start);
    conn_pwrite_all(fd, p->in + p->in_start, k, &offset, err);
    p->in_start += k;
    len -= k;
    while (len > 0) {
        r = splice(conn->sockin, NULL, p->rpipe.fd[1], NULL, MIN(len, room),
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (r > 0) {
            if (conn_rpipe_out(p, fd, &offset, r, err) == -1)
                return -1;
            len -= r;
            continue;
        }
        switch (conn_recv_next(r)) {
        case RECV_RETRY:
            continue;
        case RECV_FAIL:
            /* errno is 0 for EOF, which splice_refused does not take. */
            if (!splice_refused(errno))
                return -1;
            p->rpipe.broken = true;
            return conn_recv_copy_to_fd(conn, fd, offset, len, err);
        case RECV_WAIT:
            break;
        }
        if (conn_flush(conn) == -1 || conn_wait_readable(conn, conn->sockin))
            return -1;
    }
    return *err ? 1 : 0;
}

/* Wait until sockout is writable or deadline_ms passes: 1, 0, -1. */
static int
conn_wait_writable(struct connection *conn, uint64_t deadline_ms)
{
    struct pollfd pfd = {.fd = conn->sockout, .events = POLLOUT};
    uint64_t now = now_ms();
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
conn_unsent_held(struct conn_priv *p, size_t held, size_t sent)
{
    if (sent >= held)
        return sent - held;
    memmove(p->out, p->out + sent, held - sent);
    __atomic_store_n(&p->out_len, held - sent, __ATOMIC_RELAXED);
    return 0;
}

ssize_t
conn_sendv_until(struct connection *conn, const struct iovec *iov, int n,
                 uint64_t deadline_ms)
{
    struct conn_priv *p = conn_priv(conn);
    struct iovec copy[CONN_IOV_MAX + 1], *v = copy;
    size_t sent = 0, held = p->out_len;
    int m = 0, w;

    assert(conn_is_raw_socket(conn));
    assert(n <= CONN_IOV_MAX);
    if (conn_hold_back(conn, iov, n)) {
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
        ssize_t r = conn_raw_sendv_once(conn, v, m, MSG_DONTWAIT);
        if (r >= 0) {
            sent += r;
            v = iov_advance(v, &m, r);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        w = conn_wait_writable(conn, deadline_ms);
        if (w == -1)
            return -1;
        if (w == 0)
            break;
    }
    return conn_unsent_held(p, held, sent);
}

int
conn_sendfile(struct connection *conn, int fd, uint64_t offset, uint64_t count)
{
    off_t off = (off_t)offset;

    assert(conn_is_raw_socket(conn));
    if (conn_flush_locked(conn) == -1)
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

static void
conn_raw_shut_writes(struct connection *conn)
{
    if (conn->sockout_is_socket)
        shutdown(conn->sockout, SHUT_WR);
}

static void
conn_raw_close(struct connection *conn)
{
    if (conn->sockin >= 0)
        close(conn->sockin);
    if (conn->sockout >= 0 && conn->sockout != conn->sockin)
        close(conn->sockout);
    conn->sockin = conn->sockout = -1;
}

/* ---- life cycle ---- */

static bool
fd_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static struct connection *
conn_new(int sockin, int sockout, uint64_t id)
{
    struct conn_priv *p = calloc(1, sizeof *p);
    struct connection *conn;

    if (p == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    conn = &p->conn;
    p->spipe.fd[0] = p->spipe.fd[1] = -1;
    p->rpipe.fd[0] = p->rpipe.fd[1] = -1;
    conn->status_pipe[0] = conn->status_pipe[1] = eventfd(0, EFD_CLOEXEC);
    if (conn->status_pipe[0] == -1) {
        nbdkit_error("eventfd: %m");
        free(p);
        return NULL;
    }
    conn->id = id;
    pthread_mutex_init(&conn->request_lock, NULL);
    pthread_mutex_init(&conn->read_lock, NULL);
    pthread_mutex_init(&conn->write_lock, NULL);
    pthread_mutex_init(&conn->status_lock, NULL);
    conn->status = STATUS_ACTIVE;
    conn->sockin = sockin;
    conn->sockout = sockout;
    conn->sockout_is_socket = fd_is_socket(sockout) && fd_is_socket(sockin);
    conn->recv = conn_raw_recv;
    conn->send = conn_raw_send;
    conn->shut_writes = conn_raw_shut_writes;
    conn->close = conn_raw_close;
    return conn;
}

static void
conn_free(struct connection *conn)
{
    close(conn->status_pipe[0]); /* [1] is the same eventfd */
    pthread_mutex_destroy(&conn->request_lock);
    pthread_mutex_destroy(&conn->read_lock);
    pthread_mutex_destroy(&conn->write_lock);
    pthread_mutex_destroy(&conn->status_lock);
    interns_free(conn->interns);
    free(conn->exportname);
    /* Request buffers of a busy connection stay in malloc's arenas (one
     * per worker thread) after they are freed; give them back, so what
     * the server holds is the plugin's data, not past traffic.  Short
     * connections skip it: it costs more than they held.
     */
    bool trim = conn_priv(conn)->payload_bytes >= TRIM_AFTER_BYTES;

    free(conn_priv(conn)->in);
    free(conn_priv(conn)->out);
    conn_pipe_close(conn_priv(conn)->spipe.fd);
    conn_pipe_close(conn_priv(conn)->rpipe.fd);
    free(conn_priv(conn));
    if (trim)
        malloc_trim(0);
}

/* ---- running requests ---- */

/* Fold one request's time into the connection's average. */
static void
conn_note_time(struct connection *conn, uint64_t ns)
{
    uint64_t *avg = &conn_priv(conn)->avg_ns;
    uint64_t a = __atomic_load_n(avg, __ATOMIC_RELAXED);

    __atomic_store_n(avg, a - a / 4 + ns / 4, __ATOMIC_RELAXED);
}

static void
conn_run_request(struct connection *conn, struct request *req)
{
    uint64_t t0 = now_ns();

    lock_request(conn);
    protocol_handle_request(conn, req);
    unlock_request(conn);
    conn_note_time(conn, now_ns() - t0);
}

/* Run the request in the reader instead of a worker?  Yes while requests
 * are quick: waking a worker and switching to it costs more than the
 * request, and with the read-ahead buffer the reader loses little by
 * not reading meanwhile.  A slow request (a plugin that blocks) raises
 * the average, and from then on requests go to workers again, until
 * they are quick once more.
 */
static bool
conn_run_inline(struct connection *conn)
{
    uint64_t avg = __atomic_load_n(&conn_priv(conn)->avg_ns, __ATOMIC_RELAXED);

    return avg < INLINE_MAX_NS;
}

static void *
worker_main(void *arg)
{
    struct workers *w = arg;

    threadlocal_new_server_thread();
    threadlocal_set_conn(w->conn);
    threadlocal_set_name(top->plugin_name(top));
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct queued *q;

        while (w->head == NULL && !w->stop) {
            w->idle++;
            pthread_cond_wait(&w->work, &w->lock);
            w->idle--;
        }
        if (w->head == NULL)
            break;
        q = w->head;
        w->queued--;
        w->head = q->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);

        conn_run_request(w->conn, &q->req);

        pthread_mutex_lock(&w->lock);
        w->inflight--;
        w->inflight_bytes -= q->bytes;
        pthread_cond_signal(&w->room);
        free(q);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Queue a request and make sure a worker will take it.  Called with
 * w->lock held.
 */
static void
workers_dispatch(struct workers *w, struct queued *q)
{
    q->next = NULL;
    if (w->tail)
        w->tail->next = q;
    else
        w->head = q;
    w->tail = q;
    w->queued++;
    w->inflight++;
    w->inflight_bytes += q->bytes;
    /* Idle workers may not have woken for earlier requests yet. */
    if (w->queued > w->idle && w->nthreads < threads) {
        int err = pthread_create(&w->tids[w->nthreads], NULL, worker_main, w);
        if (err == 0)
            w->nthreads++;
        else if (w->nthreads == 0) {
            /* No worker at all would strand the request. */
            errno = err;
            fatal("pthread_create: %m");
        }
    }
    pthread_cond_signal(&w->work);
}

/* Block while the caps are reached. */
static void
workers_wait_room(struct workers *w)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&w->lock);
    while (w->inflight >= MAX_INFLIGHT_REQUESTS ||
           w->inflight_bytes >= MAX_INFLIGHT_BYTES)
        pthread_cond_wait(&w->room, &w->lock);
}

/* Let every worker finish what is queued, then join them. */
static void
workers_finish(struct workers *w)
{
    unsigned i;

    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->lock);
    for (i = 0; i < w->nthreads; i++)
        pthread_join(w->tids[i], NULL);
    assert(w->head == NULL && w->inflight == 0);
}

/* Read the next request into a new queue entry.  NULL when reading must
 * stop: EOF, error, DISC, or the connection is going down.
 */
static struct queued *
conn_read_request(struct connection *conn)
{
    struct queued *q;
    int r;

    if (conn_get_status(conn) <= STATUS_CLIENT_DONE)
        return NULL;
    /* A client streaming requests cannot hold a quitting server. */
    if (quit && conn_quit_grace(conn, 1) == -1)
        return NULL;
    q = malloc(sizeof *q);
    if (q == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    pthread_mutex_lock(&conn->read_lock);
    r = protocol_recv_request(conn, &q->req);
    pthread_mutex_unlock(&conn->read_lock);
    if (r == -1) {
        conn_set_status(conn, STATUS_DEAD);
        free(q);
        return NULL;
    }
    if (q->req.type == NBD_CMD_DISC) {
        conn_set_status(conn, STATUS_CLIENT_DONE);
        free(q->req.buf);
        free(q);
        return NULL;
    }
    /* READ buffers are allocated when the request runs; count them now,
     * or a client could pipeline READs without bound.
     */
    if (q->req.buf || (q->req.type == NBD_CMD_READ && q->req.error == 0))
        q->bytes = q->req.count;
    else
        q->bytes = 0;
    conn_priv(conn)->payload_bytes += q->bytes;
    conn_priv(conn)->reads_since_wait++;
    return q;
}

static void
conn_serve_serial(struct connection *conn)
{
    struct queued *q;

    while ((q = conn_read_request(conn)) != NULL) {
        reply_may_wait = true;
        conn_run_request(conn, &q->req);
        reply_may_wait = false;
        free(q);
    }
}

static void
conn_serve_parallel(struct connection *conn)
{
    struct workers w = {.conn = conn};
    struct queued *q;

    w.tids = calloc(threads, sizeof *w.tids);
    if (w.tids == NULL) {
        nbdkit_error("calloc: %m");
        return;
    }
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.work, NULL);
    pthread_cond_init(&w.room, NULL);
    for (;;) {
        workers_wait_room(&w);
        q = conn_read_request(conn);
        if (q == NULL)
            break;
        if (conn_run_inline(conn)) {
            reply_may_wait = true;
            conn_run_request(conn, &q->req);
            reply_may_wait = false;
            free(q);
            continue;
        }
        pthread_mutex_lock(&w.lock);
        workers_dispatch(&w, q);
        pthread_mutex_unlock(&w.lock);
    }
    workers_finish(&w);
    pthread_cond_destroy(&w.room);
    pthread_cond_destroy(&w.work);
    pthread_mutex_destroy(&w.lock);
    free(w.tids);
}

/* ---- one connection ---- */

static uint64_t
live_enter(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    live_count++;
    return ++last_id;
}

static void
live_leave(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    if (--live_count == 0)
        pthread_cond_broadcast(&live_gone);
}

void
connections_wait_all(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    while (live_count > 0)
        pthread_cond_wait(&live_gone, &live_lock);
}

/* Handshake, then transmission until the client leaves. */
static void
conn_run(struct connection *conn)
{
    if (top->preconnect(top, read_only) == -1)
        return;
    if (handshake_timeout_sec || handshake_timeout_nsec)
        conn->deadline_ms = now_ms() + handshake_timeout_sec * UINT64_C(1000) +
                            handshake_timeout_nsec / 1000000;
    if (protocol_handshake(conn) == -1)
        return;
    conn->deadline_ms = 0;
    conn->transmission = true;
    if (thread_model >= NBDKIT_THREAD_MODEL_PARALLEL && threads > 1)
        conn_serve_parallel(conn);
    else
        conn_serve_serial(conn);
    if (conn_flush(conn) == -1)
        conn_set_status(conn, STATUS_DEAD);
}

void
handle_single_connection(int sockin, int sockout)
{
    struct connection *conn;
    uint64_t id = live_enter();

    threadlocal_new_server_thread();
    threadlocal_set_name(top->plugin_name(top));
    lock_connection();
    conn = conn_new(sockin, sockout, id);
    if (conn == NULL) {
        close(sockin);
        if (sockout != sockin)
            close(sockout);
        goto out;
    }
    threadlocal_set_conn(conn);
    debug("accepted connection %" PRIu64, id);
    conn_run(conn);
    if (conn->top_context) {
        lock_request(conn);
        backend_finalize(conn->top_context);
        backend_close(conn->top_context);
        unlock_request(conn);
        conn->top_context = NULL;
    }
    if (conn_get_status(conn) != STATUS_DEAD)
        conn->shut_writes(conn);
    conn->close(conn);
    threadlocal_set_conn(NULL);
    conn_free(conn);
out:
    unlock_connection();
    live_leave();
}
