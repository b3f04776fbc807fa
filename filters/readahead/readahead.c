/* SPDX-License-Identifier: BSD-3-Clause */
/* readahead.c: after each read, ask the layer below to cache (prefetch)
 * the bytes that follow, from a background thread per connection, so
 * that the client's next sequential read finds them ready.
 *
 * The prefetch window starts at READAHEAD_MIN and doubles, up to
 * READAHEAD_MAX, each time a read starts beyond the end of the last
 * prefetch; it stays while reads move forward and falls back to the
 * minimum when they do not.  The filter only works over a layer that
 * caches natively and a server whose thread model is parallel; otherwise
 * it says so and only passes reads on.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "cleanup.h"
#include "minmax.h"
#include "worker.h"
#include "vector.h"

#define READAHEAD_MIN (32 * 1024)
#define READAHEAD_MAX (4 * 1024 * 1024)

/* The window, shared by all connections; guarded by window_lock. */
static pthread_mutex_t window_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t window = READAHEAD_MIN;
static uint64_t last_offset;   /* where the last read started */
static uint64_t last_prefetch; /* where the last prefetch ended */

static int thread_model = -1; /* the server's, set in .get_ready */

/* One prefetch for the background thread. */
struct readahead_cmd {
    nbdkit_next *next; /* the connection's layer below; outlives the thread */
    uint64_t offset;
    uint32_t count;
};
DEFINE_VECTOR_TYPE(readahead_queue, struct readahead_cmd)

/* One connection.  can_cache is written once in .can_cache, during the
 * handshake, before any read.  w.lock guards queue and w.quit, and
 * w.cond wakes the thread when either changes.  The thread runs from
 * .open until .finalize (or .close, if the connection never got there).
 */
struct readahead_handle {
    int can_cache;
    struct worker w;
    readahead_queue queue;
};

static int
readahead_get_ready(int final_thread_model)
{
    thread_model = final_thread_model;
    return 0;
}

static bool
readahead_working(const struct readahead_handle *h)
{
    return h->can_cache == NBDKIT_CACHE_NATIVE &&
           thread_model == NBDKIT_THREAD_MODEL_PARALLEL;
}

/* Take the first command off the queue, waiting for one; false when the
 * thread must quit.
 */
static bool
readahead_take(struct readahead_handle *h, struct readahead_cmd *cmd)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->w.lock);

    while (!worker_quitting(&h->w) && h->queue.len == 0)
        pthread_cond_wait(&h->w.cond, &h->w.lock);
    if (worker_quitting(&h->w))
        return false;
    *cmd = h->queue.ptr[0];
    memmove(h->queue.ptr, h->queue.ptr + 1,
            (h->queue.len - 1) * sizeof *h->queue.ptr);
    h->queue.len--;
    return true;
}

/* The background thread: prefetch until told to quit.  A failed
 * prefetch is only a missed hint.
 */
static void *
readahead_thread(void *arg)
{
    struct readahead_handle *h = arg;
    struct readahead_cmd cmd;
    int err;

    while (readahead_take(h, &cmd)) {
        if (cmd.next->cache(cmd.next, cmd.count, cmd.offset, 0, &err) == -1)
            nbdkit_debug("readahead: cache offset=%" PRIu64 " count=%" PRIu32
                         ": %s",
                         cmd.offset, cmd.count, strerror(err));
    }
    return NULL;
}

static void *
readahead_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
               const char *exportname, int is_tls)
{
    struct readahead_handle *h;
    int err;

    if (next(nxdata, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    worker_init(&h->w);
    err = worker_start(&h->w, readahead_thread, h);
    if (err != 0) {
        nbdkit_error("pthread_create: %s", strerror(err));
        worker_destroy(&h->w);
        free(h);
        return NULL;
    }
    return h;
}

/* Stop the thread before the layers below finalize, while they still
 * take calls, dropping prefetches not yet sent: they are hints.
 */
static int
readahead_finalize(nbdkit_next *next, void *handle)
{
    struct readahead_handle *h = handle;

    worker_stop(&h->w);
    return 0;
}

static void
readahead_close(void *handle)
{
    struct readahead_handle *h = handle;

    worker_destroy(&h->w);
    readahead_queue_reset(&h->queue);
    free(h);
}

/* Note whether below caches natively; warn when the filter cannot work. */
static int
readahead_can_cache(nbdkit_next *next, void *handle)
{
    struct readahead_handle *h = handle;
    int r;

    r = next->can_cache(next);
    if (r == -1)
        return -1;
    h->can_cache = r;
    if (!readahead_working(h)) {
        nbdkit_error("readahead: warning: underlying plugin does not support "
                     "NBD_CMD_CACHE or PARALLEL thread model, so the filter "
                     "won't do anything");
        if (thread_model == NBDKIT_THREAD_MODEL_PARALLEL)
            nbdkit_error("readahead: try adding --filter=cache "
                         "after this filter");
    }
    return r;
}

/* The prefetch after a read of [offset, offset+count) of a disk of size
 * bytes, moving the window; false if it would start at the end.
 */
static bool
readahead_plan(uint64_t offset, uint32_t count, int64_t size,
               struct readahead_cmd *cmd)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&window_lock);
    bool any;

    cmd->offset = offset + count;
    any = cmd->offset < (uint64_t)size;
    cmd->count = any ? MIN(window, (uint64_t)size - cmd->offset) : 0;
    if (last_prefetch < offset)
        window = MIN(window * 2, (uint64_t)READAHEAD_MAX);
    else if (last_offset >= offset)
        window = READAHEAD_MIN;
    last_offset = offset;
    last_prefetch = cmd->offset + cmd->count;
    return any;
}

static int
readahead_queue_cmd(struct readahead_handle *h, struct readahead_cmd cmd)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->w.lock);

    if (readahead_queue_append(&h->queue, cmd) == -1) {
        nbdkit_error("readahead: queue: %m");
        return -1;
    }
    pthread_cond_signal(&h->w.cond);
    return 0;
}

static int
readahead_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
    struct readahead_handle *h = handle;
    struct readahead_cmd cmd = {.next = next};
    int64_t size;

    if (readahead_working(h)) {
        size = next->get_size(next);
        if (size >= 0 && readahead_plan(offset, count, size, &cmd) &&
            readahead_queue_cmd(h, cmd) == -1) {
            *err = ENOMEM;
            return -1;
        }
    }
    return next->pread(next, buf, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "readahead",
    .longname = "nbdx readahead filter",
    .get_ready = readahead_get_ready,
    .open = readahead_open,
    .finalize = readahead_finalize,
    .close = readahead_close,
    .can_cache = readahead_can_cache,
    .pread = readahead_pread,
};

NBDKIT_REGISTER_FILTER(filter)
