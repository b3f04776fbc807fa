/* SPDX-License-Identifier: BSD-3-Clause */
/* sockets.c: listening sockets and the pool of threads that accept and
 * serve clients.
 *
 * The thread that accepts a client runs handle_single_connection for it
 * (see "Acceptors" below).  We keep a dup of every live client socket
 * so that, at quit, the main thread can shut down those that do not
 * finish within a grace period (waking any thread blocked reading or
 * writing) and wait for all pool threads to finish before the caller
 * unloads the plugin.  The dup also means the socket number cannot be
 * reused while we might still shut it down.
 *
 * At most --max-connections clients are served at once.  One more is
 * accepted and closed at once, before the greeting, so the listener
 * never stalls and a refused client learns its fate immediately instead
 * of waiting in the kernel's backlog.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

/* Live connections and the pool's counts.  Guarded by live_lock;
 * live_done is signalled each time a connection ends or a pool thread
 * exits.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_done = PTHREAD_COND_INITIALIZER;
static int_vector live_fds = empty_vector; /* dups, owned; -1 = free slot */
/* Pool threads that have left, not yet joined.  Joining them, and not
 * only counting them out, means that at exit no thread is still running
 * its thread-local destructors (OpenSSL's, libssh's) while exit's own
 * handlers free what those use.
 */
DEFINE_VECTOR_TYPE(thread_vector, pthread_t);
static thread_vector gone = empty_vector;
static size_t live_count;
static unsigned refused; /* over the cap since the last log line */
/* opts->max_connections (0 = no limit), lowered to fit RLIMIT_NOFILE
 * before the acceptors start; read-only while they run.
 */
static unsigned max_live;

/* File descriptors one connection may hold: the socket, its dup, the
 * status eventfd, one for the plugin, and two pipes for splicing (made
 * only by connections that move large READs or WRITEs); plus a reserve
 * for the server.
 */
#define FDS_PER_CONNECTION 8
#define FDS_RESERVE 64

static void
sockets_bind_unix(int_vector *fds)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(opts->unixsocket) >= sizeof addr.sun_path)
        fatal("-U: socket path too long (max %zu bytes): %s",
              sizeof addr.sun_path - 1, opts->unixsocket);
    strcpy(addr.sun_path, opts->unixsocket);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        fatal("socket: %m");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        fatal("bind: %s: %m", opts->unixsocket);
    if (listen(fd, SOMAXCONN) == -1)
        fatal("listen: %m");
    if (int_vector_append(fds, fd) == -1)
        fatal("realloc: %m");
    debug("listening on unix socket %s", opts->unixsocket);
}

/* One TCP listener; -1 if this address family is unavailable here. */
static int
sockets_bind_addr(const struct addrinfo *a)
{
    int fd, one = 1;

    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd == -1) {
        if (errno == EAFNOSUPPORT)
            return -1;
        fatal("socket: %m");
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)
        fatal("setsockopt: SO_REUSEADDR: %m");
    /* Without V6ONLY the [::] listener would also claim IPv4 and the
     * 0.0.0.0 one would fail with EADDRINUSE.
     */
    if (a->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == -1)
        fatal("setsockopt: IPV6_V6ONLY: %m");
    if (bind(fd, a->ai_addr, a->ai_addrlen) == -1) {
        if (errno == EADDRNOTAVAIL && a->ai_family == AF_INET6) {
            close(fd);
            return -1;
        }
        fatal("bind: %s port %s: %m", opts->ipaddr ? opts->ipaddr : "*",
              opts->port ? opts->port : "10809");
    }
    if (listen(fd, SOMAXCONN) == -1)
        fatal("listen: %m");
    return fd;
}

static void
sockets_bind_tcp(int_vector *fds)
{
    struct addrinfo hints = {.ai_family = opts->ipv_family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_ADDRCONFIG};
    struct addrinfo *res, *a;
    int r;

    r = getaddrinfo(opts->ipaddr, opts->port ? opts->port : "10809", &hints,
                    &res);
    if (r != 0)
        fatal("getaddrinfo: %s: %s", opts->ipaddr ? opts->ipaddr : "*",
              r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
    for (a = res; a != NULL; a = a->ai_next) {
        int fd = sockets_bind_addr(a);
        if (fd >= 0 && int_vector_append(fds, fd) == -1)
            fatal("realloc: %m");
    }
    freeaddrinfo(res);
    if (fds->len == 0)
        fatal("no usable address to listen on for %s",
              opts->ipaddr ? opts->ipaddr : "*");
    debug("listening on %zu TCP socket(s), port %s", fds->len,
          opts->port ? opts->port : "10809");
}

void
sockets_bind(int_vector *fds)
{
    unsigned i;

    if (socket_activation) {
        for (i = 0; i < socket_activation; i++)
            if (int_vector_append(fds, FIRST_SOCKET_ACTIVATION_FD + i) == -1)
                fatal("realloc: %m");
        debug("using %u socket-activated fd(s)", socket_activation);
    } else if (opts->unixsocket)
        sockets_bind_unix(fds);
    else
        sockets_bind_tcp(fds);
}

/* Remember a dup of fd; returns its slot.  Called with live_lock held. */
static size_t
sockets_live_add(int fd)
{
    size_t i;
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    for (i = 0; i < live_fds.len; i++)
        if (live_fds.ptr[i] == -1)
            break;
    if (i == live_fds.len && int_vector_append(&live_fds, -1) == -1)
        fatal("realloc: %m");
    live_fds.ptr[i] = dupfd; /* -1 if dup failed: only lose the wakeup */
    live_count++;
    return i;
}

static void
sockets_live_remove(size_t slot)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    if (live_fds.ptr[slot] >= 0)
        close(live_fds.ptr[slot]);
    live_fds.ptr[slot] = -1;
    live_count--;
    pthread_cond_broadcast(&live_done);
}

/* ---- Acceptors ----
 *
 * No thread only accepts.  Threads without a client ("acceptors") wait
 * together in epoll_wait on one epoll set holding the listening sockets
 * (each EPOLLONESHOT) and quit_fd.  The kernel wakes one acceptor per
 * new client (the one that waited least: epoll wakes the last waiter
 * first); it accepts, re-arms the listener so that the next client wakes
 * another acceptor, and then serves its client itself.  A client thus
 * meets the thread that serves it with one wake-up, not two (an accept
 * thread, then a hand-off to a connection thread): 3-5% more
 * connect/handshake/close cycles per second.
 *
 * One acceptor is always waiting, or about to, so a slow or hostile
 * client never holds back the next one: the last acceptor to take a
 * client first starts a new acceptor.  A thread that has served its
 * client waits for the next one (creating a thread costs more than the
 * rest of a short connection), unless IDLE_THREADS_MAX wait already; an
 * acceptor idle for IDLE_THREAD_SECONDS exits, unless it is the last.
 */
#define IDLE_THREADS_MAX 16
#define IDLE_THREAD_SECONDS 5

/* The listening sockets; the epoll event of listener i carries i. */
struct listener {
    int fd;
    int family; /* of its clients, for sockets_tune */
};
#define QUIT_EVENT UINT64_MAX
/* Set up before the first acceptor starts, read-only until all exit. */
static struct listener *listeners; /* owned */
static int accept_epfd = -1;

/* Guarded by live_lock. */
static unsigned acceptors;  /* threads waiting for a client, or about to */
static unsigned pool_alive; /* acceptors, plus threads serving a client */

static void *sockets_acceptor(void *unused);

/* Join the pool threads that have left.  Called without live_lock: a
 * leaving thread still takes it once.
 */
static void
sockets_reap(void)
{
    thread_vector done;
    size_t i;

    pthread_mutex_lock(&live_lock);
    done = gone;
    gone = (thread_vector)empty_vector;
    pthread_mutex_unlock(&live_lock);
    for (i = 0; i < done.len; i++)
        pthread_join(done.ptr[i], NULL);
    thread_vector_reset(&done);
}

/* Start one more acceptor; the caller has counted it. */
static int
sockets_start_acceptor(void)
{
    pthread_t thread;
    int err;

    sockets_reap();
    err = pthread_create(&thread, NULL, sockets_acceptor, NULL);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

/* The calling thread is gone from the pool and is about to return; it
 * is joined later.  Called with live_lock held.
 */
static void
sockets_thread_leaves(void)
{
    pool_alive--;
    if (thread_vector_append(&gone, pthread_self()) == -1)
        pthread_detach(pthread_self()); /* out of memory: nobody joins it */
    pthread_cond_broadcast(&live_done);
}

#define UNIX_SNDBUF (4 * 1024 * 1024)

static void
sockets_tune(int fd, int family)
{
    int one = 1;
    int sndbuf = UNIX_SNDBUF;

    /* A unix socket's default send buffer (about 200 KiB) holds less
     * than one 1 MiB reply: the sender then sleeps and wakes for every
     * piece.  The kernel caps this at net.core.wmem_max.  TCP keeps its
     * own autotuning.
     */
    if (family == AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        return;
    }
    if (family != AF_INET && family != AF_INET6)
        return;
    /* Replies are written whole; Nagle would only delay them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opts->keepalive)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

/* True if max_live clients are being served.  Logs the first
 * refusal after a while of accepting, not every one: a flood must not
 * also flood the log.  Called with live_lock held.
 */
static bool
sockets_full(void)
{
    if (max_live == 0 || live_count < max_live) {
        if (refused > 0)
            debug("refused %u connection(s) over --max-connections=%u", refused,
                  max_live);
        refused = 0;
        return false;
    }
    if (refused++ == 0)
        nbdkit_error("--max-connections=%u reached: refusing new clients",
                     max_live);
    return true;
}

/* Accept a client from listener i, then re-arm the listener.  -1 if
 * there was none.
 */
static int
sockets_accept_from(uint64_t i)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = i};
    int fd = accept4(listeners[i].fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd == -1 && errno != EINTR && errno != EAGAIN &&
        errno != ECONNABORTED) {
        nbdkit_error("accept: %m");
        /* Out of fds or memory: back off instead of spinning. */
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
            errno == ENOBUFS)
            poll(NULL, 0, 100);
    }
    if (epoll_ctl(accept_epfd, EPOLL_CTL_MOD, listeners[i].fd, &ev) == -1)
        fatal("epoll_ctl: %m");
    return fd;
}

/* Take on client fd, or refuse it (closing it) and return -1.  The
 * caller stops being an acceptor; if it was the last, a new one starts.
 */
static int
sockets_take(int fd, size_t *slot)
{
    bool start;

    pthread_mutex_lock(&live_lock);
    if (quit || sockets_full()) {
        pthread_mutex_unlock(&live_lock);
        close(fd);
        return -1;
    }
    *slot = sockets_live_add(fd);
    start = acceptors == 1;
    if (start)
        pool_alive++; /* the new thread takes over our place */
    else
        acceptors--;
    pthread_mutex_unlock(&live_lock);
    if (start && sockets_start_acceptor() == -1) {
        /* Stay the acceptor: serving would leave nobody accepting. */
        nbdkit_error("pthread_create: %m");
        pthread_mutex_lock(&live_lock);
        pool_alive--;
        pthread_mutex_unlock(&live_lock);
        sockets_live_remove(*slot);
        close(fd);
        return -1;
    }
    return 0;
}

/* An acceptor idle for IDLE_THREAD_SECONDS: leave, unless it is the
 * last.
 */
static bool
sockets_idle_leave(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    if (acceptors <= 1 && !quit)
        return false;
    acceptors--;
    sockets_thread_leaves();
    return true;
}

/* Wait for a client and take it on: its fd, or -1 when the thread
 * should exit.
 */
static int
sockets_next_client(size_t *slot)
{
    struct epoll_event ev;
    int fd, r;

    for (;;) {
        r = epoll_wait(accept_epfd, &ev, 1, IDLE_THREAD_SECONDS * 1000);
        if (r == -1 && errno != EINTR)
            fatal("epoll_wait: %m");
        if ((quit || r == 0) && sockets_idle_leave())
            return -1;
        if (r != 1 || ev.data.u64 == QUIT_EVENT)
            continue;
        fd = sockets_accept_from(ev.data.u64);
        if (fd == -1 || sockets_take(fd, slot) == -1)
            continue;
        sockets_tune(fd, listeners[ev.data.u64].family);
        return fd;
    }
}

/* A thread that served its client waits for the next one, unless enough
 * do already or the server quits.
 */
static bool
sockets_rejoin(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    if (quit || acceptors >= IDLE_THREADS_MAX) {
        sockets_thread_leaves();
        return false;
    }
    acceptors++;
    return true;
}

static void *
sockets_acceptor(void *unused)
{
    size_t slot;
    int fd;

    while ((fd = sockets_next_client(&slot)) != -1) {
        handle_single_connection(fd, fd);
        sockets_live_remove(slot);
        if (!sockets_rejoin())
            break;
    }
    return NULL;
}

/* Make the epoll set of the listeners and quit_fd (level-triggered, so
 * every acceptor sees it).
 */
static void
sockets_listen(const int_vector *fds)
{
    struct epoll_event ev;
    size_t i;

    listeners = calloc(fds->len, sizeof *listeners);
    accept_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (listeners == NULL || accept_epfd == -1)
        fatal("epoll_create1: %m");
    for (i = 0; i < fds->len; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fl, fd = fds->ptr[i];

        /* A client that resets before accept must not block an acceptor. */
        fl = fcntl(fd, F_GETFL);
        if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
            fatal("fcntl: %m");
        listeners[i].fd = fd;
        listeners[i].family = getsockname(fd, (struct sockaddr *)&ss, &len) == 0
                                  ? ss.ss_family
                                  : AF_UNSPEC;
        ev = (struct epoll_event){.events = EPOLLIN | EPOLLONESHOT,
                                  .data.u64 = i};
        if (epoll_ctl(accept_epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
            fatal("epoll_ctl: %m");
    }
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = QUIT_EVENT};
    if (epoll_ctl(accept_epfd, EPOLL_CTL_ADD, quit_fd, &ev) == -1)
        fatal("epoll_ctl: %m");
}

/* At quit, connections first get DRAIN_GRACE_MS to end by themselves:
 * connection.c stops reading, answers requests already sent with
 * ESHUTDOWN, and lets requests inside the plugin finish and send their
 * replies.  Whatever is still open then (a client not reading its
 * replies, say) is shut down.
 */
#define DRAIN_GRACE_MS 5000

/* Wait for every pool thread to exit; shut down the stragglers'
 * sockets.
 */
static void
sockets_drain(void)
{
    struct timespec deadline;
    size_t i;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += DRAIN_GRACE_MS / 1000;
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    while (live_count > 0 &&
           pthread_cond_clockwait(&live_done, &live_lock, CLOCK_MONOTONIC,
                                  &deadline) == 0)
        ;
    if (live_count > 0)
        debug("shutting down %zu connection(s) still open", live_count);
    for (i = 0; i < live_fds.len; i++)
        if (live_fds.ptr[i] >= 0)
            shutdown(live_fds.ptr[i], SHUT_RDWR);
    while (pool_alive > 0)
        pthread_cond_wait(&live_done, &live_lock);
    int_vector_reset(&live_fds);
}

/* Make room for --max-connections clients under RLIMIT_NOFILE: raise the
 * soft limit as far as the hard one allows, else lower the cap so that
 * accept never runs out of descriptors mid-connection.
 */
static void
sockets_check_fd_limit(void)
{
    struct rlimit rl;
    rlim_t need =
        (rlim_t)opts->max_connections * FDS_PER_CONNECTION + FDS_RESERVE;
    unsigned cap;

    max_live = opts->max_connections;
    if (max_live == 0 || getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return;
    rl.rlim_cur =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need)
        return;
    getrlimit(RLIMIT_NOFILE, &rl);
    cap = rl.rlim_cur > FDS_RESERVE + FDS_PER_CONNECTION
              ? (rl.rlim_cur - FDS_RESERVE) / FDS_PER_CONNECTION
              : 1;
    nbdkit_error("--max-connections=%u needs %llu file descriptors but "
                 "RLIMIT_NOFILE allows %llu: serving at most %u clients",
                 max_live, (unsigned long long)need,
                 (unsigned long long)rl.rlim_cur, cap);
    max_live = cap;
}

void
sockets_accept_loop(const int_vector *fds)
{
    struct pollfd quit_poll = {.fd = quit_fd, .events = POLLIN};

    sockets_check_fd_limit();
    debug("limits: --max-connections=%u, --timeout=%u.%03us", max_live,
          opts->handshake_timeout_sec, opts->handshake_timeout_nsec / 1000000);
    sockets_listen(fds);
    pthread_mutex_lock(&live_lock);
    acceptors = pool_alive = 1;
    pthread_mutex_unlock(&live_lock);
    if (sockets_start_acceptor() == -1)
        fatal("pthread_create: %m");
    /* The acceptors do the work; this thread waits to clean up. */
    while (!quit)
        if (poll(&quit_poll, 1, -1) == -1 && errno != EINTR)
            fatal("poll: %m");
    sockets_drain();
    sockets_reap();
    close(accept_epfd);
    accept_epfd = -1;
    free(listeners);
    listeners = NULL;
}
