/* SPDX-License-Identifier: BSD-3-Clause */
/* nbd: a proxy to another NBD server through libnbd
 * (see nbdx-nbd-plugin(1)).
 *
 * Each upstream connection has a reader thread which alone polls the
 * libnbd socket and drives its state machine; the nbdx worker threads
 * only issue nbd_aio_* commands and wait on a semaphore for their
 * completion callback, so every request of every worker is in flight
 * upstream at once.  A byte on the wake pipe makes the reader poll
 * again when a command could not be sent in full at once.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* Seconds one attempt to connect and finish the handshake may take. */
#define NBD_CONNECT_TIMEOUT 30
/* Seconds the reader waits for the upstream to close after NBD_CMD_DISC. */
#define NBD_CLOSE_TIMEOUT 5

/* The configuration, set by nbdplug_config; strings owned here. */
static char *uri;              /* uri=URI */
static char *sockname;         /* socket=SOCKNAME, absolute */
static char *hostname;         /* hostname=HOST */
static char *vsock;            /* vsock=CID, as given */
static uint32_t vsock_cid;     /* vsock= parsed */
static uint32_t vsock_port;    /* port= parsed, with vsock= */
static int socket_fd = -1;     /* socket-fd=FD, inherited; libnbd closes it */
static char fd_name[32];       /* "socket-fd=FD", for errors */
static char *port;             /* port=PORT (default 10809) */
static char *export;           /* export=NAME (default "") */
static char **command;         /* command=COMMAND arg=ARG..., NULL-ended */
static size_t command_len;     /* entries of command before the NULL */
static int tls = -1;           /* tls=off|on|require, -1 unset */
static char *tls_certificates; /* tls-certificates=DIR, absolute */
static int tls_verify = 1;     /* tls-verify=BOOL */
static char *tls_username;     /* tls-username=NAME */
static char *tls_psk;          /* tls-psk=FILE, absolute */
static int shared = -1;        /* shared=BOOL, -1 unset */
static unsigned retry;         /* retry=N extra attempts, 1 s apart */
static int dynamic_export;     /* dynamic-export=BOOL */

/* One connection to the upstream server and its reader thread. */
struct upstream {
    struct nbd_handle *nbd;
    int wake[2]; /* pipe: a byte on wake[1] wakes the reader */
    pthread_t reader;
    bool reader_running;
    _Atomic bool stopping; /* set by upstream_free before the disconnect */
};

/* With shared=true: the one upstream, connected in get_ready, its reader
 * started in after_fork, freed in unload.
 */
static struct upstream *shared_up;

static void
nbdplug_unload(void)
{
    size_t i;

    free(uri);
    free(sockname);
    free(hostname);
    free(vsock);
    free(port);
    free(export);
    for (i = 0; i < command_len; i++)
        free(command[i]);
    free(command);
    free(tls_certificates);
    free(tls_username);
    free(tls_psk);
}

/* command= starts the list, each arg= adds one entry after it. */
static int
nbdplug_config_command(const char *key, const char *value)
{
    char **p;

    if (strcmp(key, "command") == 0 && command) {
        nbdkit_error("command= given twice");
        return -1;
    }
    if (strcmp(key, "arg") == 0 && !command) {
        nbdkit_error("arg= must come after command=");
        return -1;
    }
    p = realloc(command, (command_len + 2) * sizeof *p);
    if (!p) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    command = p;
    command[command_len] = strdup(value);
    if (!command[command_len]) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    command[++command_len] = NULL;
    return 0;
}

/* tls=: off, on or require (a boolean means off or on). */
static int
nbdplug_config_tls(const char *value)
{
    int r;

    if (strcmp(value, "require") == 0 || strcmp(value, "required") == 0 ||
        strcmp(value, "force") == 0) {
        tls = LIBNBD_TLS_REQUIRE;
        return 0;
    }
    r = nbdkit_parse_bool(value);
    if (r == -1)
        return -1;
    tls = r ? LIBNBD_TLS_ALLOW : LIBNBD_TLS_DISABLE;
    return 0;
}

/* Store a copy of VALUE in *DST, once; ABSOLUTE makes it a full path. */
static int
nbdplug_config_string(char **dst, const char *key, const char *value,
                      bool absolute)
{
    if (*dst) {
        nbdkit_error("%s= given twice", key);
        return -1;
    }
    *dst = absolute ? nbdkit_absolute_path(value) : strdup(value);
    if (!*dst) {
        if (!absolute)
            nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

/* socket-fd=FD: a descriptor the server inherited, given once. */
static int
nbdplug_config_fd(const char *value)
{
    if (socket_fd != -1) {
        nbdkit_error("socket-fd= given twice");
        return -1;
    }
    if (nbdkit_parse_int("socket-fd", value, &socket_fd) == -1)
        return -1;
    if (socket_fd < 0) {
        nbdkit_error("socket-fd: %d is not a file descriptor", socket_fd);
        socket_fd = -1;
        return -1;
    }
    snprintf(fd_name, sizeof fd_name, "socket-fd=%d", socket_fd);
    return 0;
}

/* vsock= and the port of vsock, 32-bit numbers. */
static int
nbdplug_config_vsock(void)
{
    if (nbdkit_parse_uint32_t("vsock", vsock, &vsock_cid) == -1)
        return -1;
    vsock_port = 10809;
    if (port && nbdkit_parse_uint32_t("port", port, &vsock_port) == -1)
        return -1;
    return 0;
}

/* socket-fd= is used once: by the one shared upstream connection. */
static int
nbdplug_config_socket_fd(void)
{
    if (shared == 0) {
        nbdkit_error("socket-fd= needs shared=true");
        return -1;
    }
    if (retry) {
        nbdkit_error("retry= cannot be used with socket-fd=: the "
                     "descriptor is closed after a failed attempt");
        return -1;
    }
    shared = 1;
    return 0;
}

static int
nbdplug_config_bool(int *dst, const char *value)
{
    int r = nbdkit_parse_bool(value);

    if (r == -1)
        return -1;
    *dst = r;
    return 0;
}

static int
nbdplug_config(const char *key, const char *value)
{
    if (strcmp(key, "uri") == 0)
        return nbdplug_config_string(&uri, key, value, false);
    if (strcmp(key, "socket") == 0)
        return nbdplug_config_string(&sockname, key, value, true);
    if (strcmp(key, "hostname") == 0)
        return nbdplug_config_string(&hostname, key, value, false);
    if (strcmp(key, "vsock") == 0)
        return nbdplug_config_string(&vsock, key, value, false);
    if (strcmp(key, "socket-fd") == 0)
        return nbdplug_config_fd(value);
    if (strcmp(key, "port") == 0)
        return nbdplug_config_string(&port, key, value, false);
    if (strcmp(key, "export") == 0)
        return nbdplug_config_string(&export, key, value, false);
    if (strcmp(key, "command") == 0 || strcmp(key, "arg") == 0)
        return nbdplug_config_command(key, value);
    if (strcmp(key, "tls") == 0)
        return nbdplug_config_tls(value);
    if (strcmp(key, "tls-certificates") == 0)
        return nbdplug_config_string(&tls_certificates, key, value, true);
    if (strcmp(key, "tls-verify") == 0)
        return nbdplug_config_bool(&tls_verify, value);
    if (strcmp(key, "tls-username") == 0)
        return nbdplug_config_string(&tls_username, key, value, false);
    if (strcmp(key, "tls-psk") == 0)
        return nbdplug_config_string(&tls_psk, key, value, true);
    if (strcmp(key, "shared") == 0)
        return nbdplug_config_bool(&shared, value);
    if (strcmp(key, "retry") == 0)
        return nbdkit_parse_unsigned("retry", value, &retry);
    if (strcmp(key, "dynamic-export") == 0)
        return nbdplug_config_bool(&dynamic_export, value);
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

/* Exactly one way to reach the upstream; the rest must fit with it. */
static int
nbdplug_config_complete(void)
{
    int ways = !!uri + !!sockname + !!hostname + !!vsock + (socket_fd >= 0) +
               !!command;

    if (ways != 1) {
        nbdkit_error("give exactly one of uri=, socket=, hostname=, vsock=, "
                     "socket-fd= or command= to say which NBD server to "
                     "connect to");
        return -1;
    }
    if (port && !hostname && !vsock) {
        nbdkit_error("port= needs hostname= or vsock=");
        return -1;
    }
    if (vsock && nbdplug_config_vsock() == -1)
        return -1;
    if (socket_fd >= 0 && nbdplug_config_socket_fd() == -1)
        return -1;
    if (export && uri) {
        nbdkit_error("export= cannot be used with uri=: put the export "
                     "name in the URI");
        return -1;
    }
    if (command && shared == 0) {
        nbdkit_error("command= needs shared=true");
        return -1;
    }
    if (command)
        shared = 1;
    if (shared == -1)
        shared = 0;
    if (dynamic_export && (shared || export)) {
        nbdkit_error("dynamic-export=true cannot be used with shared=true, "
                     "command= or export=");
        return -1;
    }
    if (tls == -1)
        tls = tls_certificates || tls_username || tls_psk || !tls_verify
                  ? LIBNBD_TLS_ALLOW
                  : LIBNBD_TLS_DISABLE;
    return 0;
}

#define nbdplug_config_help                                                    \
    "[uri=]<URI>            URI of the NBD server (nbd://, nbd+unix://...).\n" \
    "socket=<SOCKNAME>      Unix socket of the NBD server.\n"                  \
    "hostname=<HOST>        Host name of the NBD server.\n"                    \
    "vsock=<CID>            AF_VSOCK CID of the NBD server.\n"                 \
    "socket-fd=<FD>         Inherited socket connected to the NBD server.\n"   \
    "port=<PORT>            TCP port or service name, or vsock port "          \
    "(default 10809).\n"                                                       \
    "command=<COMMAND>      Run COMMAND as the NBD server (socket "            \
    "activation).\n"                                                           \
    "arg=<ARG>              An argument of command=, repeated.\n"              \
    "export=<NAME>          Export name to connect to (default \"\").\n"       \
    "dynamic-export=<BOOL>  Pass each client's export name upstream.\n"        \
    "shared=<BOOL>          One upstream connection for all clients.\n"        \
    "retry=<N>              Retry the connection N times, 1 s apart.\n"        \
    "tls=off|on|require     TLS to the NBD server.\n"                          \
    "tls-certificates=<DIR> Directory of X.509 client certificates.\n"         \
    "tls-verify=<BOOL>      Verify the server's name (default true).\n"        \
    "tls-username=<NAME>    User name for TLS.\n"                              \
    "tls-psk=<FILE>         File of TLS pre-shared keys."

#ifdef AF_VSOCK
static const int nbdplug_has_vsock = 1;
#else
static const int nbdplug_has_vsock = 0;
#endif

/* Whether libnbd supports TLS, URIs and vsock, asked of a throwaway
 * handle.
 */
static void
nbdplug_dump_plugin(void)
{
    struct nbd_handle *nbd = nbd_create();

    if (!nbd)
        return;
    printf("libnbd_version=%s\n", nbd_get_version(nbd));
    printf("libnbd_tls=%d\n", nbd_supports_tls(nbd));
    printf("libnbd_uri=%d\n", nbd_supports_uri(nbd));
    printf("libnbd_vsock=%d\n", nbdplug_has_vsock);
    nbd_close(nbd);
}

/* Set the options of a new handle: TLS, export name, base:allocation. */
static int
nbdplug_handle_setup(struct nbd_handle *nbd)
{
    if (nbd_add_meta_context(nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1 ||
        nbd_set_export_name(nbd, export ? export : "") == -1 ||
        (dynamic_export && nbd_set_opt_mode(nbd, true) == -1))
        return -1;
    if (tls == LIBNBD_TLS_DISABLE)
        return 0;
    if (nbd_set_tls(nbd, tls) == -1 ||
        (tls_certificates &&
         nbd_set_tls_certificates(nbd, tls_certificates) == -1) ||
        nbd_set_tls_verify_peer(nbd, tls_verify) == -1 ||
        (tls_username && nbd_set_tls_username(nbd, tls_username) == -1) ||
        (tls_psk && nbd_set_tls_psk_file(nbd, tls_psk) == -1))
        return -1;
    return 0;
}

/* Start connecting NBD to the configured server. */
static int
nbdplug_start_connect(struct nbd_handle *nbd)
{
    if (uri)
        return nbd_aio_connect_uri(nbd, uri);
    if (sockname)
        return nbd_aio_connect_unix(nbd, sockname);
    if (hostname)
        return nbd_aio_connect_tcp(nbd, hostname, port ? port : "10809");
    if (vsock)
        return nbd_aio_connect_vsock(nbd, vsock_cid, vsock_port);
    if (socket_fd >= 0)
        return nbd_aio_connect_socket(nbd, socket_fd);
    return nbd_aio_connect_systemd_socket_activation(nbd, command);
}

/* Drive the handshake of NBD until it is ready, within the timeout.
 * With dynamic-export, send the client's export name when the handle
 * stops in negotiation.  Sets errno and nbdkit's error message (via
 * *WHY) on failure.
 */
static int
nbdplug_finish_connect(struct nbd_handle *nbd, const char **why)
{
    time_t deadline = time(NULL) + NBD_CONNECT_TIMEOUT;
    bool go_sent = false;

    while (!nbd_aio_is_ready(nbd)) {
        if (nbd_aio_is_dead(nbd) || nbd_aio_is_closed(nbd)) {
            *why = "the server closed the connection during the handshake";
            return -1;
        }
        if (nbd_aio_is_negotiating(nbd)) {
            if (go_sent) {
                *why = "the server refused the export name";
                return -1;
            }
            if (nbd_set_export_name(nbd, nbdkit_export_name()) == -1 ||
                nbd_aio_opt_go(nbd, NBD_NULL_COMPLETION) == -1)
                return -1;
            go_sent = true;
            continue;
        }
        if (time(NULL) >= deadline) {
            *why = "timed out";
            return -1;
        }
        if (nbd_poll(nbd, 1000) == -1)
            return -1;
    }
    return 0;
}

/* One attempt: a new handle connected and ready, or NULL with *WHY
 * (NULL to use nbd_get_error) saying why not.
 */
static struct nbd_handle *
nbdplug_connect_once(const char **why)
{
    static __thread char msg[256]; /* *WHY on failure, per thread */
    struct nbd_handle *nbd = nbd_create();

    *why = NULL;
    if (!nbd) {
        *why = "nbd_create failed";
        return NULL;
    }
    if (nbdplug_handle_setup(nbd) == -1 || nbdplug_start_connect(nbd) == -1 ||
        nbdplug_finish_connect(nbd, why) == -1) {
        if (!*why)
            *why = nbd_get_error();
        /* Copy the message: it is libnbd's until its next call. */
        snprintf(msg, sizeof msg, "%s", *why ? *why : "unknown error");
        *why = msg;
        nbd_close(nbd);
        return NULL;
    }
    return nbd;
}

/* Connect, trying 1 + retry times one second apart; one error at the end. */
static struct nbd_handle *
nbdplug_connect_retry(void)
{
    const char *why = NULL;
    struct nbd_handle *nbd;
    unsigned i;

    for (i = 0; i <= retry; i++) {
        if (i > 0) {
            nbdkit_debug("nbd: connect failed (%s), retrying", why);
            sleep(1);
        }
        nbd = nbdplug_connect_once(&why);
        if (nbd)
            return nbd;
    }
    nbdkit_error("cannot connect to the NBD server %s%s: %s",
                 uri              ? uri
                 : sockname       ? sockname
                 : hostname       ? hostname
                 : vsock          ? vsock
                 : socket_fd >= 0 ? fd_name
                                  : command[0],
                 retry ? " (after retrying)" : "", why);
    errno = ECONNREFUSED;
    return NULL;
}

/* The reader thread: poll the socket in the direction libnbd wants and
 * the wake pipe, notify libnbd, until the connection is closed (or, once
 * stopping, NBD_CLOSE_TIMEOUT seconds pass).  Completion callbacks run
 * here.
 */
static void *
nbdplug_reader(void *opaque)
{
    struct upstream *up = opaque;
    struct pollfd fds[2];
    int waited = 0;
    char buf[64];

    fds[0].fd = nbd_aio_get_fd(up->nbd);
    fds[1].fd = up->wake[0];
    fds[1].events = POLLIN;
    while (!nbd_aio_is_dead(up->nbd) && !nbd_aio_is_closed(up->nbd)) {
        unsigned dir = nbd_aio_get_direction(up->nbd);
        int r;

        fds[0].events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
                        (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
        r = poll(fds, 2, up->stopping ? 1000 : -1);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            nbdkit_error("nbd: poll: %m");
            break;
        }
        if (r == 0 && ++waited >= NBD_CLOSE_TIMEOUT)
            break;
        if (fds[1].revents & POLLIN)
            while (read(up->wake[0], buf, sizeof buf) > 0)
                ;
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            nbd_aio_notify_read(up->nbd);
        else if (fds[0].revents & POLLOUT)
            nbd_aio_notify_write(up->nbd);
    }
    return NULL;
}

/* Make the reader poll again, if libnbd still has bytes to send. */
static void
upstream_kick(struct upstream *up)
{
    char c = 0;

    if (nbd_aio_get_direction(up->nbd) & LIBNBD_AIO_DIRECTION_WRITE)
        if (write(up->wake[1], &c, 1) == -1 && errno != EAGAIN)
            nbdkit_debug("nbd: write to the wake pipe: %m");
}

static int
upstream_start_reader(struct upstream *up)
{
    int err = pthread_create(&up->reader, NULL, nbdplug_reader, up);

    if (err) {
        errno = err;
        nbdkit_error("pthread_create: %m");
        return -1;
    }
    up->reader_running = true;
    return 0;
}

/* Disconnect politely, stop the reader, free everything. */
static void
upstream_free(struct upstream *up)
{
    char c = 0;

    if (!up)
        return;
    if (up->reader_running) {
        up->stopping = true;
        if (nbd_aio_is_ready(up->nbd))
            nbd_aio_disconnect(up->nbd, 0);
        if (write(up->wake[1], &c, 1) == -1)
            nbdkit_debug("nbd: write to the wake pipe: %m");
        pthread_join(up->reader, NULL);
    }
    nbd_close(up->nbd);
    close(up->wake[0]);
    close(up->wake[1]);
    free(up);
}

/* A new connection with its wake pipe; the reader is not started yet. */
static struct upstream *
upstream_new(void)
{
    struct upstream *up = calloc(1, sizeof *up);

    if (!up) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    if (pipe2(up->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
        nbdkit_error("pipe2: %m");
        free(up);
        return NULL;
    }
    up->nbd = nbdplug_connect_retry();
    if (!up->nbd) {
        close(up->wake[0]);
        close(up->wake[1]);
        free(up);
        return NULL;
    }
    return up;
}

/* shared=true: connect before nbdx forks, so a failure stops it at once. */
static int
nbdplug_get_ready(void)
{
    if (!shared)
        return 0;
    shared_up = upstream_new();
    return shared_up ? 0 : -1;
}

/* Threads do not survive the fork: start the shared reader after it. */
static int
nbdplug_after_fork(void)
{
    if (!shared_up)
        return 0;
    return upstream_start_reader(shared_up);
}

static void
nbdplug_cleanup(void)
{
    upstream_free(shared_up);
    shared_up = NULL;
}

static void *
nbdplug_open(int readonly)
{
    struct upstream *up;

    if (shared)
        return shared_up;
    up = upstream_new();
    if (!up)
        return NULL;
    if (upstream_start_reader(up) == -1) {
        upstream_free(up);
        return NULL;
    }
    return up;
}

static void
nbdplug_close_handle(void *handle)
{
    if (!shared)
        upstream_free(handle);
}

/* A request waiting for its completion callback. */
struct transaction {
    sem_t done;
    int err;                        /* the upstream's errno, 0 if it worked */
    struct nbdkit_extents *extents; /* for block status, else NULL */
};

/* Completion callback, in the reader thread: record the result and wake
 * the waiter (which may free T as soon as sem_post returns).
 */
static int
nbdplug_complete(void *opaque, int *error)
{
    struct transaction *t = opaque;

    t->err = *error;
    sem_post(&t->done);
    return 1; /* retire the command */
}

static void
nbdplug_trans_init(struct transaction *t, nbd_completion_callback *cb)
{
    memset(t, 0, sizeof *t);
    sem_init(&t->done, 0, 0);
    cb->callback = nbdplug_complete;
    cb->user_data = t;
    cb->free = NULL;
}

/* Wait for the command COOKIE issued with T; the upstream's errno
 * becomes ours.
 */
static int
nbdplug_trans_wait(struct upstream *up, int64_t cookie, struct transaction *t)
{
    if (cookie == -1) {
        int err = nbd_get_errno();

        if (nbd_aio_is_dead(up->nbd) || nbd_aio_is_closed(up->nbd)) {
            nbdkit_error("nbd: the connection to the NBD server was lost");
            err = EIO;
        } else
            nbdkit_error("nbd: %s", nbd_get_error());
        sem_destroy(&t->done);
        errno = err ? err : EIO;
        return -1;
    }
    upstream_kick(up);
    while (sem_wait(&t->done) == -1 && errno == EINTR)
        ;
    sem_destroy(&t->done);
    if (t->err) {
        nbdkit_debug("nbd: upstream error: %s", strerror(t->err));
        errno = t->err;
        return -1;
    }
    return 0;
}

static int64_t
nbdplug_get_size(void *handle)
{
    struct upstream *up = handle;
    int64_t r = nbd_get_size(up->nbd);

    if (r == -1)
        nbdkit_error("nbd: %s", nbd_get_error());
    return r;
}

/* The flags are the upstream's; each nbd_can_* is -1 only on a handle
 * that is not connected.
 */
static int
nbdplug_flag(int r, struct upstream *up)
{
    if (r == -1)
        nbdkit_error("nbd: %s", nbd_get_error());
    return r;
}

static int
nbdplug_can_write(void *handle)
{
    struct upstream *up = handle;
    int r = nbd_is_read_only(up->nbd);

    return r == -1 ? nbdplug_flag(r, up) : !r;
}

static int
nbdplug_can_flush(void *handle)
{
    struct upstream *up = handle;
    return nbdplug_flag(nbd_can_flush(up->nbd), up);
}

static int
nbdplug_is_rotational(void *handle)
{
    struct upstream *up = handle;
    return nbdplug_flag(nbd_is_rotational(up->nbd), up);
}

static int
nbdplug_can_trim(void *handle)
{
    struct upstream *up = handle;
    return nbdplug_flag(nbd_can_trim(up->nbd), up);
}

static int
nbdplug_can_zero(void *handle)
{
    struct upstream *up = handle;
    return nbdplug_flag(nbd_can_zero(up->nbd), up);
}

static int
nbdplug_can_fast_zero(void *handle)
{
    struct upstream *up = handle;
    return nbdplug_flag(nbd_can_fast_zero(up->nbd), up);
}

static int
nbdplug_can_fua(void *handle)
{
    struct upstream *up = handle;
    int r = nbdplug_flag(nbd_can_fua(up->nbd), up);

    return r == -1 ? -1 : r ? NBDKIT_FUA_NATIVE : NBDKIT_FUA_NONE;
}

/* With shared=true every client goes through one upstream connection,
 * so a flush by any of them covers the writes of all.
 */
static int
nbdplug_can_multi_conn(void *handle)
{
    struct upstream *up = handle;

    if (shared)
        return 1;
    return nbdplug_flag(nbd_can_multi_conn(up->nbd), up);
}

static int
nbdplug_can_cache(void *handle)
{
    struct upstream *up = handle;
    int r = nbdplug_flag(nbd_can_cache(up->nbd), up);

    return r == -1 ? -1 : r ? NBDKIT_CACHE_NATIVE : NBDKIT_CACHE_NONE;
}

static int
nbdplug_can_extents(void *handle)
{
    struct upstream *up = handle;
    return nbdplug_flag(
        nbd_can_meta_context(up->nbd, LIBNBD_CONTEXT_BASE_ALLOCATION), up);
}

static int
nbdplug_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;

    nbdplug_trans_init(&t, &cb);
    return nbdplug_trans_wait(
        up, nbd_aio_pread(up->nbd, buf, count, offset, cb, 0), &t);
}

static uint32_t
nbdplug_fua_flag(uint32_t flags)
{
    return flags & NBDKIT_FLAG_FUA ? LIBNBD_CMD_FLAG_FUA : 0;
}

static int
nbdplug_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;

    nbdplug_trans_init(&t, &cb);
    return nbdplug_trans_wait(up,
                              nbd_aio_pwrite(up->nbd, buf, count, offset, cb,
                                             nbdplug_fua_flag(flags)),
                              &t);
}

static int
nbdplug_flush(void *handle, uint32_t flags)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;

    nbdplug_trans_init(&t, &cb);
    return nbdplug_trans_wait(up, nbd_aio_flush(up->nbd, cb, 0), &t);
}

static int
nbdplug_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;

    nbdplug_trans_init(&t, &cb);
    return nbdplug_trans_wait(
        up, nbd_aio_trim(up->nbd, count, offset, cb, nbdplug_fua_flag(flags)),
        &t);
}

/* Without MAY_TRIM the upstream must not punch a hole (NO_HOLE). */
static int
nbdplug_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;
    uint32_t f = nbdplug_fua_flag(flags);

    if (!(flags & NBDKIT_FLAG_MAY_TRIM))
        f |= LIBNBD_CMD_FLAG_NO_HOLE;
    if (flags & NBDKIT_FLAG_FAST_ZERO)
        f |= LIBNBD_CMD_FLAG_FAST_ZERO;
    nbdplug_trans_init(&t, &cb);
    return nbdplug_trans_wait(up, nbd_aio_zero(up->nbd, count, offset, cb, f),
                              &t);
}

static int
nbdplug_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;

    nbdplug_trans_init(&t, &cb);
    return nbdplug_trans_wait(up, nbd_aio_cache(up->nbd, count, offset, cb, 0),
                              &t);
}

/* Extent callback, in the reader thread: the base:allocation pairs
 * (length, flags) from OFFSET on become extents of the waiting request;
 * NBD's hole and zero bits are nbdkit's.
 */
static int
nbdplug_extent(void *opaque, const char *metacontext, uint64_t offset,
               uint32_t *entries, size_t nr_entries, int *error)
{
    struct transaction *t = opaque;
    size_t i;

    if (strcmp(metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
        return 0;
    for (i = 0; i + 1 < nr_entries; i += 2) {
        uint32_t type =
            entries[i + 1] & (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);

        if (nbdkit_add_extent(t->extents, offset, entries[i], type) == -1) {
            *error = errno ? errno : EIO;
            return -1;
        }
        offset += entries[i];
    }
    return 0;
}

static int
nbdplug_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
                struct nbdkit_extents *extents)
{
    struct upstream *up = handle;
    struct transaction t;
    nbd_completion_callback cb;
    nbd_extent_callback ecb;
    uint32_t f = flags & NBDKIT_FLAG_REQ_ONE ? LIBNBD_CMD_FLAG_REQ_ONE : 0;

    nbdplug_trans_init(&t, &cb);
    t.extents = extents;
    ecb.callback = nbdplug_extent;
    ecb.user_data = &t;
    ecb.free = NULL;
    return nbdplug_trans_wait(
        up, nbd_aio_block_status(up->nbd, count, offset, ecb, cb, f), &t);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "nbd",
    .longname = "nbdx nbd plugin",
    .version = PACKAGE_VERSION,
    .description = "A proxy to another NBD server, through libnbd.",
    .unload = nbdplug_unload,
    .magic_config_key = "uri",
    .config = nbdplug_config,
    .config_complete = nbdplug_config_complete,
    .config_help = nbdplug_config_help,
    .dump_plugin = nbdplug_dump_plugin,
    .get_ready = nbdplug_get_ready,
    .after_fork = nbdplug_after_fork,
    .cleanup = nbdplug_cleanup,
    .open = nbdplug_open,
    .close = nbdplug_close_handle,
    .get_size = nbdplug_get_size,
    .can_write = nbdplug_can_write,
    .can_flush = nbdplug_can_flush,
    .is_rotational = nbdplug_is_rotational,
    .can_trim = nbdplug_can_trim,
    .can_zero = nbdplug_can_zero,
    .can_fast_zero = nbdplug_can_fast_zero,
    .can_fua = nbdplug_can_fua,
    .can_multi_conn = nbdplug_can_multi_conn,
    .can_cache = nbdplug_can_cache,
    .can_extents = nbdplug_can_extents,
    .pread = nbdplug_pread,
    .pwrite = nbdplug_pwrite,
    .flush = nbdplug_flush,
    .trim = nbdplug_trim,
    .zero = nbdplug_zero,
    .cache = nbdplug_cache,
    .extents = nbdplug_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
