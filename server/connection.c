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
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "minmax.h"
#include "nbd-protocol.h"
#include "transport.h"

/* A connection that moved this much payload trims malloc's arenas at
 * the end.
 */
#define TRIM_AFTER_BYTES (64 * 1024 * 1024)

/* Per-connection caps on what is read but not yet answered. */
#define MAX_INFLIGHT_REQUESTS 64
#define MAX_INFLIGHT_BYTES (128 * 1024 * 1024)

/* A request is run by the reader itself, with no hand-off to a worker,
 * while requests on this connection take less than this on average:
 * the hand-off (queue, wake a worker) costs more than such a request.
 */
#define INLINE_MAX_NS 50000
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
}; /* ---- life cycle ---- */

static struct connection *
conn_new(int sockin, int sockout, uint64_t id)
{
    struct connection *conn = calloc(1, sizeof *conn);

    if (conn == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    if (transport_init(conn, sockin, sockout) == -1) {
        free(conn);
        return NULL;
    }
    conn->id = id;
    pthread_mutex_init(&conn->request_lock, NULL);
    pthread_mutex_init(&conn->read_lock, NULL);
    pthread_mutex_init(&conn->write_lock, NULL);
    return conn;
}

static void
conn_free(struct connection *conn)
{
    /* Request buffers of a busy connection stay in malloc's arenas (one
     * per worker thread) after they are freed; give them back, so what
     * the server holds is the plugin's data, not past traffic.  Short
     * connections skip it: it costs more than they held.
     */
    bool trim = conn->payload_bytes >= TRIM_AFTER_BYTES;

    transport_free(conn);
    pthread_mutex_destroy(&conn->request_lock);
    pthread_mutex_destroy(&conn->read_lock);
    pthread_mutex_destroy(&conn->write_lock);
    interns_free(conn->interns);
    free(conn->exportname);
    free(conn);
    if (trim)
        malloc_trim(0);
}

/* ---- running requests ---- */

/* Fold one request's time into the connection's average. */
static void
conn_note_time(struct connection *conn, uint64_t ns)
{
    uint64_t *avg = &conn->avg_ns;
    uint64_t a = __atomic_load_n(avg, __ATOMIC_RELAXED);

    __atomic_store_n(avg, a - a / 4 + ns / 4, __ATOMIC_RELAXED);
}

static void
conn_run_request(struct connection *conn, struct request *req)
{
    uint64_t t0 = transport_now_ns();

    lock_request(conn);
    protocol_handle_request(conn, req);
    unlock_request(conn);
    conn_note_time(conn, transport_now_ns() - t0);
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
    uint64_t avg = __atomic_load_n(&conn->avg_ns, __ATOMIC_RELAXED);

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
    if (w->queued > w->idle && w->nthreads < opts->threads) {
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

    if (transport_get_status(conn) <= STATUS_CLIENT_DONE)
        return NULL;
    /* A client streaming requests cannot hold a quitting server. */
    if (quit && transport_quit_grace(conn, 1) == -1)
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
        transport_set_status(conn, STATUS_DEAD);
        free(q);
        return NULL;
    }
    if (q->req.type == NBD_CMD_DISC) {
        transport_set_status(conn, STATUS_CLIENT_DONE);
        free(q->req.buf);
        free(q);
        return NULL;
    }
    /* What a request holds until it is answered: a WRITE's payload (in
     * a buffer or staged in the layers), a READ's buffer, allocated when
     * it runs; count them now, or a client could pipeline without bound.
     */
    if ((q->req.type == NBD_CMD_READ || q->req.type == NBD_CMD_WRITE) &&
        q->req.error == 0)
        q->bytes = q->req.count;
    else
        q->bytes = 0;
    conn->payload_bytes += q->bytes;
    transport_note_request(conn);
    return q;
}

static void
conn_serve_serial(struct connection *conn)
{
    struct queued *q;

    while ((q = conn_read_request(conn)) != NULL) {
        transport_hold_replies(true);
        conn_run_request(conn, &q->req);
        transport_hold_replies(false);
        free(q);
    }
}

static void
conn_serve_parallel(struct connection *conn)
{
    struct workers w = {.conn = conn};
    struct queued *q;

    w.tids = calloc(opts->threads, sizeof *w.tids);
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
            transport_hold_replies(true);
            conn_run_request(conn, &q->req);
            transport_hold_replies(false);
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
    if (top->preconnect(top, opts->read_only) == -1)
        return;
    if (opts->handshake_timeout_sec || opts->handshake_timeout_nsec)
        conn->deadline_ms = transport_now_ms() +
                            opts->handshake_timeout_sec * UINT64_C(1000) +
                            opts->handshake_timeout_nsec / 1000000;
    if (protocol_handshake(conn) == -1)
        return;
    conn->deadline_ms = 0;
    conn->transmission = true;
    if (thread_model >= NBDKIT_THREAD_MODEL_PARALLEL && opts->threads > 1)
        conn_serve_parallel(conn);
    else
        conn_serve_serial(conn);
    if (transport_flush(conn) == -1)
        transport_set_status(conn, STATUS_DEAD);
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
    if (transport_get_status(conn) != STATUS_DEAD)
        conn->shut_writes(conn);
    conn->close(conn);
    threadlocal_set_conn(NULL);
    conn_free(conn);
out:
    unlock_connection();
    live_leave();
}