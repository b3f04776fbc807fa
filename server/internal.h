/* SPDX-License-Identifier: BSD-3-Clause */
/* internal.h: what the pieces of the nbdx server share.
 *
 * One section per source file, in the order a request meets them:
 * command line (options.c), sockets, connection, protocol, backend stack,
 * plugin and filter adapters, public nbdkit_* functions, logging.
 */

#ifndef NBDX_INTERNAL_H
#define NBDX_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NBDKIT_API_VERSION 2
#include "nbdkit-filter.h"
#include "nbdkit-plugin.h"
#include "nbdx-extensions.h"

#include "cleanup.h"
#include "vector.h"

#if defined(__GNUC__)
#define NORETURN __attribute__((noreturn))
#else
#define NORETURN
#endif

/* ---- options.c: the command line ----
 * struct options holds nbdx's own settings, one field per flag (its
 * aliases are in options.c).  The one instance is filled by
 * options_parse and settled by the startup steps main.c runs
 * (options_check, crypto_init, the private socket of -U -), all before
 * the first connection; afterwards it is only read, so it needs no
 * lock.  Everything else reads it through opts, which is const so the
 * compiler holds the connection and protocol code to that; the writable
 * instance is declared in options.h, for startup code only.
 *
 * Two flags are not here because their owners parse them as they come:
 * --log (log.c) and -D (debug-flags.c).
 */
DEFINE_VECTOR_TYPE(name_vector, const char *);

struct options {
    /* Where to listen: one of -U, -p/-i, -s or socket activation.
     * unixsocket is -U: an absolute path, or "-" (a private socket, also
     * implied by --run) until main.c makes one; NULL if not given.
     */
    const char *unixsocket;
    const char *port;         /* -p, NULL = 10809 */
    const char *ipaddr;       /* -i, NULL = every address */
    int ipv_family;           /* -4 AF_INET, -6 AF_INET6, else AF_UNSPEC */
    bool listen_stdin;        /* -s: stdin and stdout are the one client */
    bool keepalive;           /* --keepalive */
    unsigned max_connections; /* --max-connections, 0 = no limit */
    /* --timeout, for the handshake: 0 = none. */
    unsigned handshake_timeout_sec;
    unsigned handshake_timeout_nsec;

    /* What the client gets. */
    bool read_only;         /* -r */
    const char *exportname; /* -e, for --run and --print-uri only */
    bool oldstyle;          /* -o (-n clears it) */
    bool no_sr;             /* --no-sr */
    bool no_mc;             /* --no-mc */
    int mask_handshake;     /* --mask-handshake, default 3 */
    unsigned threads;       /* -t, worker threads per connection */

    /* TLS.  tls is --tls: 0 off, 1 on, 2 require; -1 (not given) until
     * crypto_init settles it to 0 or 1.
     */
    int tls;
    const char *tls_certificates_dir; /* --tls-certificates */
    const char *tls_psk;              /* --tls-psk */
    const char *tls_priority;         /* --tls-priority, NULL = default */
    bool tls_verify_peer;             /* --tls-verify-peer */

    /* The process.  foreground is -f, also implied by -s, --run,
     * --exit-with-parent and socket activation.
     */
    bool foreground;
    bool verbose;          /* -v */
    const char *pidfile;   /* -P, made absolute */
    const char *user;      /* -u */
    const char *group;     /* -g */
    const char *run;       /* --run */
    bool exit_with_parent; /* --exit-with-parent */
    bool print_uri;        /* --print-uri */
    bool swap;             /* --swap: mlockall */

    /* The stack: --filter, in command-line order (strings are argv's). */
    name_vector filters;

    /* Print something and exit. */
    bool dump_config;   /* --dump-config */
    bool dump_plugin;   /* --dump-plugin */
    bool help;          /* --help */
    bool version;       /* -V */
    bool short_options; /* --short-options */
    bool long_options;  /* --long-options */
};
extern const struct options *const opts;

/* Runtime state is not an option, so it is not in struct options: each
 * piece stays a named global beside the code that sets it.  A struct of
 * them would only gather unrelated lifetimes under one name.  Here are
 * the ones the connection code reads; options.h has the process-level
 * rest (forked_into_background, socket_activation, original_parent).
 */
extern const char *program_name; /* main.c: "nbdx", for messages */
/* stack.c: the outermost layer (client side), from stack_load until
 * stack_unload; and the effective thread model, the strictest layer's.
 */
extern struct backend *top;
extern int thread_model;

/* ---- quit.c: server-wide shutdown ----
 * quit is set once and never cleared; quit_fd becomes readable then, so
 * poll loops and nbdkit_nanosleep wake up.
 */
extern _Atomic int quit;
extern int quit_fd;
void quit_init(void);
void set_quit(void); /* async-signal-safe */

/* ---- log.c ---- */
enum log_to {
    LOG_TO_DEFAULT,
    LOG_TO_STDERR,
    LOG_TO_SYSLOG,
    LOG_TO_NULL,
    LOG_TO_FILE,
};
extern enum log_to log_to;
int log_set_target(const char *arg); /* --log=ARG; -1 if invalid */
/* Error messages: "nbdx: NAME[CONN]: message" (name and connection
 * from the calling thread).  The text is also kept as the thread's last
 * error so the protocol can send it to the client.
 */
void log_verror(const char *fs, va_list args);
#define debug(fs, ...)                                                         \
    do {                                                                       \
        if (opts->verbose)                                                     \
            nbdkit_debug((fs), ##__VA_ARGS__);                                 \
    } while (0)
/* Print a message prefixed "nbdx: " and exit(1).  For startup only. */
NORETURN void fatal(const char *fs, ...) ATTRIBUTE_FORMAT_PRINTF(1, 2);

/* ---- debug-flags.c: -D NAME.FLAG=N ---- */
void debug_flags_add(const char *arg);             /* exits on bad syntax */
void debug_flags_apply(const char *name, void *dl); /* before .load */
void debug_flags_check_unused(void);               /* warn at exit */

/* ---- threadlocal.c: per-thread state ---- */
struct connection;
struct context;
void threadlocal_init(void);
void threadlocal_new_server_thread(void);
void threadlocal_set_name(const char *name); /* not copied; static string */
const char *threadlocal_get_name(void);
void threadlocal_set_conn(struct connection *conn);
struct connection *threadlocal_get_conn(void);
void threadlocal_set_error(int err); /* nbdkit_set_error */
int threadlocal_get_error(void);
/* The last error message of this thread; set by log_verror. */
void threadlocal_set_last_error(const char *msg);
const char *threadlocal_get_last_error(void); /* NULL if none */
void threadlocal_clear_last_error(void);

/* ---- sockets.c ---- */
/* Bind and listen per -U/-p/-i/-4/-6 or socket activation.  Exits on
 * failure.  The fds are close-on-exec.
 */
DEFINE_VECTOR_TYPE(int_vector, int);
void sockets_bind(int_vector *fds);
/* Accept until quit, running each connection in its own thread. */
void sockets_accept_loop(const int_vector *fds);

/* ---- connection.c, transport.c: one client ----
 *
 * Lock order, for the whole server: live_lock (connection.c) alone;
 * then per connection request_lock, read_lock, workers' lock
 * (connection.c), write_lock, status_lock; a plugin's or filter's own
 * locks (such as the sparse array's rwlock) are taken inside any of
 * them and never held across a call back into the server.  Locks are
 * named after what they guard.
 */
enum conn_status {
    STATUS_DEAD,        /* hard disconnect: stop reading and writing */
    STATUS_CLIENT_DONE, /* client sent DISC: finish in-flight requests */
    STATUS_SHUTDOWN,    /* soft disconnect: ESHUTDOWN to new requests */
    STATUS_ACTIVE,
};

/* Flags for conn->send. */
#define SEND_MORE 1 /* more of the same reply follows: cork */

struct transport; /* transport-impl.h: buffers and pipes */

struct connection {
    uint64_t id; /* 1, 2, ... in order of accept, for log prefixes */

    pthread_mutex_t request_lock; /* SERIALIZE_REQUESTS: one at a time */
    pthread_mutex_t read_lock;    /* guards the socket's read side */
    pthread_mutex_t write_lock;   /* guards the socket's write side: one
                                     reply (all its chunks) at a time */

    /* ---- the transport (transport.c owns these) ---- */
    struct transport *transport;
    pthread_mutex_t status_lock; /* guards status */
    enum conn_status status;
    int status_pipe[2]; /* one eventfd in both slots (read end, write
                           end), written once when status leaves ACTIVE,
                           so nbdkit_nanosleep and blocked reads wake */
    int sockin, sockout; /* the same fd except in -s mode */
    bool sockout_is_socket; /* else a pipe: write(2), not send(2) */
    uint64_t deadline_ms;   /* CLOCK_MONOTONIC; reads fail with ETIMEDOUT
                               after it.  0 = none.  Set for the handshake
                               and for the grace period after quit */
    bool transmission;      /* the handshake is over; reader thread only */
    /* Socket I/O.  recv reads exactly len bytes: 0 on success, -1 on
     * error or EOF (errno 0 for a clean EOF at a message boundary).
     * send writes all of buf: 0 or -1.  The TLS layer replaces these.
     */
    int (*recv)(struct connection *conn, void *buf, size_t len);
    int (*send)(struct connection *conn, const void *buf, size_t len,
                int flags);
    void (*shut_writes)(struct connection *conn);
    void (*close)(struct connection *conn);
    void *crypto_session; /* owned by the TLS layer */

    /* ---- the reader and workers (connection.c) ---- */
    /* Moving average of the time to run and answer a request, in ns.
     * Read and written by the reader and workers with relaxed atomics:
     * only a heuristic.
     */
    uint64_t avg_ns;
    uint64_t payload_bytes; /* READ and WRITE bytes so far; the reader's */

    /* Negotiated by the handshake; read-only during transmission.
     * STARTTLS resets every field of this group.
     */
    bool using_tls;
    bool structured_replies;
    bool extended_headers;
    bool meta_context_base_allocation; /* context id: see protocol.c */
    char *exportname; /* owned; "" for the default.  Set by the handshake
                         before backend_open so nbdkit_export_name works
                         inside .open */
    uint16_t eflags;                   /* transmission flags sent */
    uint64_t exportsize;
    uint32_t block_minimum, block_preferred, block_maximum;
    struct context *top_context; /* open after GO/EXPORT_NAME, else NULL */

    /* Strings from nbdkit_strdup_intern & co made inside this connection;
     * freed when it closes.  Owned by public.c.
     */
    struct interns *interns;
};

/* Serve one client until it goes away.  Takes ownership of the fds. */
void handle_single_connection(int sockin, int sockout);
/* Wait until every connection thread has finished (after quit). */
void connections_wait_all(void);

/* ---- locks.c: the thread model ---- */
void lock_init_thread_model(void);
/* "serialize_connections" ... "parallel", or "unknown". */
const char *thread_model_name(int model);
void lock_connection(void); /* SERIALIZE_CONNECTIONS */
void unlock_connection(void);
void lock_request(struct connection *conn); /* around every data call */
void unlock_request(struct connection *conn);

/* ---- protocol-handshake*.c ---- */
/* Negotiate with a new client (newstyle, or oldstyle with -o).  On
 * success conn->top_context is open and prepared and the negotiated
 * fields are set; on failure returns -1 and the caller closes.
 */
int protocol_handshake(struct connection *conn);
int protocol_handshake_oldstyle(struct connection *conn);
int protocol_handshake_newstyle(struct connection *conn);
/* Open and prepare exportname and fill the negotiated fields of conn;
 * on -1 nothing is left open.  Close again after NBD_OPT_INFO.
 */
int protocol_open_export(struct connection *conn, const char *exportname);
void protocol_close_export(struct connection *conn);

/* ---- protocol.c: transmission phase ---- */
struct request {
    uint16_t flags;    /* NBD_CMD_FLAG_* */
    uint16_t type;     /* NBD_CMD_* */
    uint64_t cookie;
    uint64_t offset;
    uint64_t count;    /* effect length (64 bits with extended headers) */
    void *buf;         /* owned: WRITE payload, or READ buffer */
    void *staged;      /* WRITE payload received into memory the layers
                          staged (backend_write_iov); committed when the
                          request runs, aborted if it never does */
    uint32_t error;    /* NBD_E* preset by validation; 0 = run it */
    bool written;      /* WRITE done while its payload was received */
};
/* Read and validate the next request.  Returns -1 when the connection
 * must close (EOF, bad magic, DoS-sized payload), 0 otherwise; a request
 * that failed validation comes back with req->error set and its payload
 * already drained.
 */
int protocol_recv_request(struct connection *conn, struct request *req);
/* Execute req (unless req->error) and send the whole reply.  Frees
 * req->buf.  Marks the connection dead if the reply cannot be sent.
 */
void protocol_handle_request(struct connection *conn, struct request *req);

/* ---- backend.c: the layer stack ----
 * A backend is one loaded layer: the plugin at index 0, filters above.
 * A context is one layer opened for one connection; contexts chain
 * down to the plugin.  backend_* functions check the contract (asserting
 * what the protocol code has validated), cache can_* answers, and call
 * the layer.
 */
struct backend {
    struct backend *next; /* toward the plugin; NULL for the plugin */
    size_t i;             /* 0 = plugin */
    const char *type;     /* "plugin" or "filter" */
    const char *name;     /* the layer's .name */
    char *filename;       /* owned: the .so path */
    void *dl;             /* dlopen handle */

    void (*free)(struct backend *b);
    int (*thread_model)(struct backend *b);
    const char *(*plugin_name)(struct backend *b);
    void (*usage)(struct backend *b);
    const char *(*version)(struct backend *b);
    void (*dump_fields)(struct backend *b);
    /* Configuration, top down; each layer passes what it does not eat.
     * These exit(1) on failure.
     */
    void (*config)(struct backend *b, const char *key, const char *value);
    void (*config_complete)(struct backend *b);
    const char *(*magic_config_key)(struct backend *b);
    int (*get_ready)(struct backend *b);
    int (*after_fork)(struct backend *b);
    void (*cleanup)(struct backend *b);

    int (*preconnect)(struct backend *b, int readonly);
    int (*list_exports)(struct backend *b, int readonly, int is_tls,
                        struct nbdkit_exports *exports);
    const char *(*default_export)(struct backend *b, int readonly,
                                  int is_tls);
    void *(*open)(struct context *c, int readonly, const char *exportname,
                  int is_tls);
    int (*prepare)(struct context *c, int readonly);
    int (*finalize)(struct context *c);
    void (*close)(struct context *c);

    int64_t (*get_size)(struct context *c);
    const char *(*export_description)(struct context *c);
    int (*block_size)(struct context *c, uint32_t *minimum,
                      uint32_t *preferred, uint32_t *maximum);
    int (*can_write)(struct context *c);
    int (*can_flush)(struct context *c);
    int (*is_rotational)(struct context *c);
    int (*can_trim)(struct context *c);
    int (*can_zero)(struct context *c);
    int (*can_fast_zero)(struct context *c);
    int (*can_extents)(struct context *c);
    int (*can_fua)(struct context *c);
    int (*can_multi_conn)(struct context *c);
    int (*can_cache)(struct context *c);

    int (*pread)(struct context *c, void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err);
    int (*pwrite)(struct context *c, const void *buf, uint32_t count,
                  uint64_t offset, uint32_t flags, int *err);
    int (*flush)(struct context *c, uint32_t flags, int *err);
    int (*trim)(struct context *c, uint32_t count, uint64_t offset,
                uint32_t flags, int *err);
    int (*zero)(struct context *c, uint32_t count, uint64_t offset,
                uint32_t flags, int *err);
    int (*extents)(struct context *c, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdkit_extents *extents, int *err);
    int (*cache)(struct context *c, uint32_t count, uint64_t offset,
                 uint32_t flags, int *err);

    /* Zero-copy calls (nbdx-extensions.h): zc says which ZC_* this
     * layer can do, counting the layers below it; the others are called
     * only for those.  Errors are errno values in *err.
     */
    int (*zc)(struct context *c);
    int64_t (*read_iov)(struct context *c, uint32_t count, uint64_t offset,
                        struct nbdx_iovec *iov, size_t max, size_t *n,
                        void **cookie, int *err);
    void (*read_iov_end)(struct context *c, void *cookie);
    int (*read_fd)(struct context *c, uint32_t count, uint64_t offset,
                   int *fd, uint64_t *fd_offset, int *err);
    int (*write_iov)(struct context *c, uint32_t count, uint64_t offset,
                     struct nbdx_wiovec *iov, size_t max, size_t *n,
                     void **cookie, int *err);
    int (*write_iov_end)(struct context *c, void *cookie, bool commit,
                         int *err);
    int (*write_pipe)(struct context *c, uint32_t count, uint64_t offset,
                      int pipe, int *err);
};

/* What backend_zc answers: the zero-copy calls a context can take. */
#define ZC_READ_IOV 1   /* read_iov, read_iov_end */
#define ZC_READ_FD 2    /* read_fd */
#define ZC_WRITE_IOV 4  /* write_iov, write_iov_end */
#define ZC_WRITE_PIPE 8 /* write_pipe */
#define ZC_SPLICE_OK 16 /* read_iov's pieces may be vmspliced (see
                           NBDX_EXT_SPLICE_OK) */
#define ZC_READ_PLAN 32 /* a READ may be split by this context's extents
                           and only its data read: no layer above the
                           plugin sees reads or extents (a filter that
                           counts or changes them must see a READ as a
                           pread) */

struct context {
    /* First member: filters see a context as nbdkit_next. */
    struct nbdkit_next_ops next_ops;
    uint32_t magic;          /* CONTEXT_MAGIC, checked by asserts */
    void *handle;            /* what the layer's open returned */
    struct backend *b;
    struct context *c_next;  /* the layer below, or NULL */
    struct connection *conn; /* NULL for contexts opened outside one */
    unsigned state;          /* HANDLE_* bits */
    bool readonly, is_tls;   /* as passed to backend_open */
    /* Cached answers; -1 = not asked yet.  Written once per context. */
    int64_t exportsize;
    int can_write, can_flush, is_rotational, can_trim, can_zero;
    int can_fast_zero, can_fua, can_multi_conn, can_extents, can_cache;
    int zc; /* ZC_* bits */
    uint32_t minimum, preferred, maximum; /* valid if block_size_known */
    bool block_size_known;
};
#define CONTEXT_MAGIC 0x6e627843U /* "nbxC" */
#define HANDLE_OPEN 1      /* open succeeded */
#define HANDLE_CONNECTED 2 /* prepare succeeded */
#define HANDLE_FAILED 4    /* prepare or finalize failed */

/* Stack building, used by stack.c.  Both exit(1) with a clear message if
 * the file cannot be loaded or is not a valid plugin/filter.
 */
struct backend *plugin_load(const char *filename, const char *name);
struct backend *filter_load(struct backend *next, const char *filename,
                            const char *name);
void backend_init(struct backend *b, struct backend *next, size_t index,
                  const char *filename, void *dl, const char *type);
bool backend_name_valid(const char *name);
void *backend_dlopen(const char *filename, const char *name, const char *kind,
                     const char *init_symbol, void **init);
void backend_print_usage(struct backend *b, const char *longname,
                         const char *description, const char *config_help);
void backend_unload(struct backend *b); /* whole stack from b down */

struct context *backend_open(struct backend *b, int readonly,
                             const char *exportname, int is_tls,
                             struct connection *conn);
int backend_prepare(struct context *c);  /* bottom up */
int backend_finalize(struct context *c); /* top down */
void backend_close(struct context *c);   /* whole chain; NULL ok */
int backend_list_exports(struct backend *b, int readonly, int is_tls,
                         struct nbdkit_exports *exports);
const char *backend_default_export(struct backend *b, int readonly,
                                   int is_tls);

int64_t backend_get_size(struct context *c);
const char *backend_export_description(struct context *c);
int backend_block_size(struct context *c, uint32_t *minimum,
                       uint32_t *preferred, uint32_t *maximum);
int backend_can_write(struct context *c);
int backend_can_flush(struct context *c);
int backend_is_rotational(struct context *c);
int backend_can_trim(struct context *c);
int backend_can_zero(struct context *c);
int backend_can_fast_zero(struct context *c);
int backend_can_extents(struct context *c);
int backend_can_fua(struct context *c);
int backend_can_multi_conn(struct context *c);
int backend_can_cache(struct context *c);

int backend_pread(struct context *c, void *buf, uint32_t count,
                  uint64_t offset, uint32_t flags, int *err);
int backend_pwrite(struct context *c, const void *buf, uint32_t count,
                   uint64_t offset, uint32_t flags, int *err);
int backend_flush(struct context *c, uint32_t flags, int *err);
int backend_trim(struct context *c, uint32_t count, uint64_t offset,
                 uint32_t flags, int *err);
int backend_zero(struct context *c, uint32_t count, uint64_t offset,
                 uint32_t flags, int *err);
int backend_extents(struct context *c, uint32_t count, uint64_t offset,
                    uint32_t flags, struct nbdkit_extents *extents, int *err);
int backend_cache(struct context *c, uint32_t count, uint64_t offset,
                  uint32_t flags, int *err);
/* The zero-copy calls, checked like the others.  backend_write_iov
 * stages a WRITE's whole payload; backend_write_iov_end then commits
 * (the export changes) or aborts it (it does not), exactly once.
 */
int backend_zc(struct context *c);
int64_t backend_read_iov(struct context *c, uint32_t count, uint64_t offset,
                         struct nbdx_iovec *iov, size_t max, size_t *n,
                         void **cookie, int *err);
void backend_read_iov_end(struct context *c, void *cookie);
int backend_read_fd(struct context *c, uint32_t count, uint64_t offset,
                    int *fd, uint64_t *fd_offset, int *err);
int backend_write_iov(struct context *c, uint32_t count, uint64_t offset,
                      struct nbdx_wiovec *iov, size_t max, size_t *n,
                      void **cookie, int *err);
int backend_write_iov_end(struct context *c, void *cookie, bool commit,
                          int *err);
int backend_write_pipe(struct context *c, uint32_t count, uint64_t offset,
                       int pipe, int *err);

/* ---- public.c, extents.c, exports.c: the exported nbdkit_* API ---- */
void interns_free(struct interns *interns); /* NULL ok */
void interns_free_global(void);             /* at unload */
struct nbdkit_exports *exports_new(void);   /* same as nbdkit_exports_new */
/* True if the layer called nbdkit_use_default_export on this list. */
bool exports_get_use_default(const struct nbdkit_exports *exports);
/* Forget that flag, once a filter has been given the name instead. */
void exports_clear_use_default(struct nbdkit_exports *exports);
/* Extents collected for [start, end) are clipped to that range. */
uint64_t extents_start(const struct nbdkit_extents *exts);
uint64_t extents_end(const struct nbdkit_extents *exts);

/* ---- captive.c, uri.c ---- */
char *uri_make(void); /* malloc'd NBD URI of the listening socket, or NULL */
void run_command(void); /* --run: fork the command; exits server after */
void exit_with_parent_setup(void);

/* Compile-time paths and versions (meson config.h). */
#include "config.h"

#endif /* NBDX_INTERNAL_H */
