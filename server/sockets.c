/* SPDX-License-Identifier: BSD-3-Clause */
/* sockets.c: listening sockets and the accept loop.
 *
 * Each accepted client gets a detached thread running
 * handle_single_connection.  The loop keeps a dup of every live client
 * socket so that, at quit, it can shut down those that do not finish
 * within a grace period (waking any thread blocked reading or writing)
 * and wait for all connection threads to finish before the caller
 * unloads the plugin.  The dup also means the socket number
 * cannot be reused while we might still shut it down.
 *
 * At most max_connections clients are served at once.  One more is
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

int ipv_family = AF_UNSPEC;

/* Live connections.  Guarded by live_lock; live_done is signalled each
 * time one ends.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_done = PTHREAD_COND_INITIALIZER;
static int_vector live_fds = empty_vector; /* dups, owned; -1 = free slot */
static size_t live_count;
static unsigned refused; /* over the cap since the last log line */

/* File descriptors one connection may hold: the socket, its dup, the
 * status pipe, and one for the plugin; plus a reserve for the server.
 */
#define FDS_PER_CONNECTION 5
#define FDS_RESERVE 64

static void
sockets_bind_unix(int_vector *fds)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(unixsocket) >= sizeof addr.sun_path)
        fatal("-U: socket path too long (max %zu bytes): %s",
              sizeof addr.sun_path - 1, unixsocket);
    strcpy(addr.sun_path, unixsocket);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        fatal("socket: %m");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        fatal("bind: %s: %m", unixsocket);
    if (listen(fd, SOMAXCONN) == -1)
        fatal("listen: %m");
    if (int_vector_append(fds, fd) == -1)
        fatal("realloc: %m");
    debug("listening on unix socket %s", unixsocket);
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
        fatal("bind: %s port %s: %m", ipaddr ? ipaddr : "*",
              port ? port : "10809");
    }
    if (listen(fd, SOMAXCONN) == -1)
        fatal("listen: %m");
    return fd;
}

static void
sockets_bind_tcp(int_vector *fds)
{
    struct addrinfo hints = {.ai_family = ipv_family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_ADDRCONFIG};
    struct addrinfo *res, *a;
    int r;

    r = getaddrinfo(ipaddr, port ? port : "10809", &hints, &res);
    if (r != 0)
        fatal("getaddrinfo: %s: %s", ipaddr ? ipaddr : "*",
              r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
    for (a = res; a != NULL; a = a->ai_next) {
        int fd = sockets_bind_addr(a);
        if (fd >= 0 && int_vector_append(fds, fd) == -1)
            fatal("realloc: %m");
    }
    freeaddrinfo(res);
    if (fds->len == 0)
        fatal("no usable address to listen on for %s", ipaddr ? ipaddr : "*");
    debug("listening on %zu TCP socket(s), port %s", fds->len,
          port ? port : "10809");
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
    } else if (unixsocket)
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

struct thread_data {
    struct thread_data *next;
    int fd;
    size_t slot;
};

/* A connection thread that has served its client waits a while for the
 * next one instead of exiting: creating a thread costs more than the
 * rest of a short connection.  Guarded by live_lock.
 */
#define IDLE_THREADS_MAX 16
#define IDLE_THREAD_SECONDS 5
static pthread_cond_t handoff_cond = PTHREAD_COND_INITIALIZER;
static struct thread_data *handoff_head, *handoff_tail; /* FIFO, owned */
static unsigned handoff_len;
static unsigned idle_threads; /* waiting on handoff_cond */

/* Give a new client to an idle thread, if there is one free.  Called
 * with live_lock held.
 */
static bool
sockets_handoff(struct thread_data *data)
{
    if (idle_threads <= handoff_len)
        return false;
    data->next = NULL;
    if (handoff_tail)
        handoff_tail->next = data;
    else
        handoff_head = data;
    handoff_tail = data;
    handoff_len++;
    pthread_cond_signal(&handoff_cond);
    return true;
}

/* Wait for the next client; NULL after IDLE_THREAD_SECONDS, at quit, or
 * when enough threads are idle already.
 */
static struct thread_data *
sockets_wait_next(void)
{
    struct thread_data *data = NULL;
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += IDLE_THREAD_SECONDS;
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    if (quit || idle_threads >= IDLE_THREADS_MAX)
        return NULL;
    idle_threads++;
    while (handoff_head == NULL && !quit)
        if (pthread_cond_timedwait(&handoff_cond, &live_lock, &deadline) ==
            ETIMEDOUT)
            break;
    idle_threads--;
    if (handoff_head) {
        data = handoff_head;
        handoff_head = data->next;
        if (handoff_head == NULL)
            handoff_tail = NULL;
        handoff_len--;
    }
    return data;
}

static void *
sockets_connection_thread(void *vp)
{
    struct thread_data *data = vp;

    do {
        int fd = data->fd;
        size_t slot = data->slot;

        free(data);
        threadlocal_new_server_thread();
        handle_single_connection(fd, fd);
        sockets_live_remove(slot);
    } while ((data = sockets_wait_next()) != NULL);
    return NULL;
}

/* At quit, idle threads exit at once. */
static void
sockets_stop_idle_threads(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    pthread_cond_broadcast(&handoff_cond);
}

#define UNIX_SNDBUF (4 * 1024 * 1024)

static void
sockets_tune(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int one = 1;
    int sndbuf = UNIX_SNDBUF;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return;
    /* A unix socket's default send buffer (about 200 KiB) holds less
     * than one 1 MiB reply: the sender then sleeps and wakes for every
     * piece.  The kernel caps this at net.core.wmem_max.  TCP keeps its
     * own autotuning.
     */
    if (ss.ss_family == AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        return;
    }
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
        return;
    /* Replies are written whole; Nagle would only delay them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (keepalive)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

static void
sockets_start_thread(int fd)
{
    struct thread_data *data = malloc(sizeof *data);
    pthread_attr_t attr;
    pthread_t thread;
    int err;

    if (data == NULL) {
        nbdkit_error("malloc: %m");
        close(fd);
        return;
    }
    data->fd = fd;
    pthread_mutex_lock(&live_lock);
    data->slot = sockets_live_add(fd);
    if (sockets_handoff(data)) {
        pthread_mutex_unlock(&live_lock);
        return;
    }
    pthread_mutex_unlock(&live_lock);

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&thread, &attr, sockets_connection_thread, data);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        errno = err;
        nbdkit_error("pthread_create: %m");
        sockets_live_remove(data->slot);
        close(fd);
        free(data);
    }
}

/* True if max_connections clients are being served.  Logs the first
 * refusal after a while of accepting, not every one: a flood must not
 * also flood the log.
 */
static bool
sockets_full(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&live_lock);
    if (max_connections == 0 || live_count < max_connections) {
        if (refused > 0)
            debug("refused %u connection(s) over --max-connections=%u", refused,
                  max_connections);
        refused = 0;
        return false;
    }
    if (refused++ == 0)
        nbdkit_error("--max-connections=%u reached: refusing new clients",
                     max_connections);
    return true;
}

static void
sockets_accept_one(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd == -1) {
        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
            return;
        nbdkit_error("accept: %m");
        /* Out of fds or memory: back off instead of spinning. */
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
            errno == ENOBUFS)
            poll(NULL, 0, 100);
        return;
    }
    if (sockets_full()) {
        close(fd);
        return;
    }
    sockets_tune(fd);
    sockets_start_thread(fd);
}

/* At quit, connections first get DRAIN_GRACE_MS to end by themselves:
 * connection.c stops reading, answers requests already sent with
 * ESHUTDOWN, and lets requests inside the plugin finish and send their
 * replies.  Whatever is still open then (a client not reading its
 * replies, say) is shut down.
 */
#define DRAIN_GRACE_MS 5000

/* Wait for the connection threads; shut down the stragglers. */
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
    while (live_count > 0)
        pthread_cond_wait(&live_done, &live_lock);
    int_vector_reset(&live_fds);
}

/* Make room for max_connections clients under RLIMIT_NOFILE: raise the
 * soft limit as far as the hard one allows, else lower the cap so that
 * accept never runs out of descriptors mid-connection.
 */
static void
sockets_check_fd_limit(void)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)max_connections * FDS_PER_CONNECTION + FDS_RESERVE;
    unsigned cap;

    if (max_connections == 0 || getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
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
                 max_connections, (unsigned long long)need,
                 (unsigned long long)rl.rlim_cur, cap);
    max_connections = cap;
}

void
sockets_accept_loop(const int_vector *fds)
{
    struct pollfd *pfds;
    size_t i, n = fds->len;

    sockets_check_fd_limit();
    debug("limits: --max-connections=%u, --timeout=%u.%03us", max_connections,
          handshake_timeout_sec, handshake_timeout_nsec / 1000000);
    pfds = calloc(n + 1, sizeof *pfds);
    if (pfds == NULL)
        fatal("calloc: %m");
    for (i = 0; i < n; i++) {
        int fl = fcntl(fds->ptr[i], F_GETFL);
        /* A client that resets before accept must not block the loop. */
        if (fl == -1 || fcntl(fds->ptr[i], F_SETFL, fl | O_NONBLOCK) == -1)
            fatal("fcntl: %m");
        pfds[i] = (struct pollfd){.fd = fds->ptr[i], .events = POLLIN};
    }
    pfds[n] = (struct pollfd){.fd = quit_fd, .events = POLLIN};

    while (!quit) {
        if (poll(pfds, n + 1, -1) == -1) {
            if (errno == EINTR)
                continue;
            fatal("poll: %m");
        }
        for (i = 0; i < n && !quit; i++)
            if (pfds[i].revents & (POLLIN | POLLERR | POLLHUP))
                sockets_accept_one(pfds[i].fd);
    }
    free(pfds);
    sockets_stop_idle_threads();
    sockets_drain();
}
