/* SPDX-License-Identifier: BSD-3-Clause */
/* scan.c: prefetch the whole disk from a background thread per
 * connection, by cache requests of scan-size= bytes sent to the layer
 * below one after another from the start of the disk to its end.
 *
 * With scan-ahead=true (the default) a client read that ends past the
 * scan's position moves the scan to the end of that read.  With
 * scan-clock=true (the default) a new connection starts where the last
 * scan request of any connection was; scan-forever=true starts over at
 * the end.  Only the default export is scanned, and only when the layer
 * below caches natively and the thread model is parallel; otherwise
 * the filter warns and passes everything on.
 *
 * The thread starts in .prepare, once the layers below are connected,
 * and is joined in .finalize, while they still take calls (and again,
 * as a no-op or as the only join if .finalize was skipped, in .close,
 * which runs before the layers below close), so it never outlives the
 * connection's handle or its nbdkit_next.
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

#define SCAN_SIZE_MIN 512
#define SCAN_SIZE_MAX (32 * 1024 * 1024)

/* Written by config only, then read by every thread. */
static bool scan_ahead = true;               /* scan-ahead= */
static bool scan_clock = true;               /* scan-clock= */
static bool scan_forever = false;            /* scan-forever= */
static uint32_t scan_size = 2 * 1024 * 1024; /* scan-size= */

static int thread_model = -1; /* the server's, set in .get_ready */

/* Where the last scan request of any connection started, for the next
 * connection to go on from (scan-clock=true); guarded by clock_lock.
 */
static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t clock_offset;

/* One connection.  is_default is written in .open; next and size in
 * .prepare before the thread starts, by the connection's own thread
 * while no request runs.  w.lock guards w.quit and ahead, the only
 * fields the thread and the request threads share.
 */
struct scan_handle {
    bool is_default;
    nbdkit_next *next; /* the layer below; outlives the thread */
    uint64_t size;
    struct worker w; /* the scanning thread */
    uint64_t ahead;  /* the end of the furthest read not yet seen, or 0 */
};

static int
scan_parse_bool(const char *value, bool *out)
{
    int r = nbdkit_parse_bool(value);

    if (r == -1)
        return -1;
    *out = r;
    return 0;
}

static int
scan_parse_size(const char *value)
{
    int64_t r = nbdkit_parse_size(value);

    if (r == -1)
        return -1;
    if (r < SCAN_SIZE_MIN || r > SCAN_SIZE_MAX || (r & (r - 1)) != 0) {
        nbdkit_error("scan-size parameter should be [512..32M] and a power "
                     "of two");
        return -1;
    }
    scan_size = r;
    return 0;
}

static int
scan_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
            const char *value)
{
    if (strcmp(key, "scan-ahead") == 0)
        return scan_parse_bool(value, &scan_ahead);
    if (strcmp(key, "scan-clock") == 0)
        return scan_parse_bool(value, &scan_clock);
    if (strcmp(key, "scan-forever") == 0)
        return scan_parse_bool(value, &scan_forever);
    if (strcmp(key, "scan-size") == 0)
        return scan_parse_size(value);
    return next(nxdata, key, value);
}

#define scan_config_help                                                       \
    "scan-ahead=false        Do not jump past reads ahead of the scan.\n"      \
    "scan-clock=false        Each connection scans from the start.\n"          \
    "scan-forever=true       Start over at the end, while connected.\n"        \
    "scan-size=NN            Bytes per cache request (default: 2M)."

static int
scan_get_ready(int final_thread_model)
{
    thread_model = final_thread_model;
    return 0;
}

static void
clock_set(uint64_t offset)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&clock_lock);
    clock_offset = offset;
}

static uint64_t
clock_start(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&clock_lock);
    return scan_clock ? clock_offset : 0;
}

/* Before each scan request: false if the thread must stop; otherwise
 * move *offset past the furthest client read since the last call.
 */
static bool
scan_poll(struct scan_handle *h, uint64_t *offset)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->w.lock);

    if (worker_quitting(&h->w))
        return false;
    if (h->ahead > *offset)
        *offset = h->ahead;
    h->ahead = 0;
    return true;
}

/* The background thread: one cache request after another until the end
 * (round and round with scan-forever) or until told to quit.  A failed
 * prefetch is only a missed hint.
 */
static void *
scan_thread(void *arg)
{
    struct scan_handle *h = arg;
    uint64_t offset = clock_start();
    uint32_t n;
    int err;

    while (scan_poll(h, &offset)) {
        if (offset >= h->size) {
            if (!scan_forever)
                break;
            offset = 0;
            continue;
        }
        clock_set(offset);
        n = MIN(scan_size, h->size - offset);
        if (h->next->cache(h->next, n, offset, 0, &err) == -1)
            nbdkit_debug("scan: cache offset=%" PRIu64 " count=%" PRIu32 ": %s",
                         offset, n, strerror(err));
        offset += n;
    }
    return NULL;
}

static void *
scan_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
          const char *exportname, int is_tls)
{
    struct scan_handle *h;

    if (next(nxdata, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->is_default = exportname[0] == '\0';
    worker_init(&h->w);
    return h;
}

/* Whether this connection can scan, with a warning when it cannot;
 * -1 on error.
 */
static int
scan_usable(nbdkit_next *next, const struct scan_handle *h)
{
    int r;

    if (!h->is_default) {
        nbdkit_error("scan: warning: not the default export, not scanning");
        return 0;
    }
    if (thread_model != NBDKIT_THREAD_MODEL_PARALLEL) {
        nbdkit_error("scan: warning: underlying plugin does not support the "
                     "PARALLEL thread model, not scanning");
        return 0;
    }
    r = next->can_cache(next);
    if (r == -1)
        return -1;
    if (r != NBDKIT_CACHE_NATIVE) {
        nbdkit_error("scan: warning: underlying plugin does not support "
                     "NBD_CMD_CACHE, not scanning; try adding --filter=cache "
                     "after this filter");
        return 0;
    }
    return 1;
}

/* Start the thread if this connection can scan a non-empty disk. */
static int
scan_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct scan_handle *h = handle;
    int64_t size;
    int r;

    r = scan_usable(next, h);
    if (r <= 0)
        return r;
    size = next->get_size(next);
    if (size == -1)
        return -1;
    if (size == 0)
        return 0;
    h->next = next;
    h->size = size;
    r = worker_start(&h->w, scan_thread, h);
    if (r != 0) {
        nbdkit_error("pthread_create: %s", strerror(r));
        return -1;
    }
    return 0;
}

/* Stop the thread; its current cache request, if any, completes first. */
static int
scan_finalize(nbdkit_next *next, void *handle)
{
    struct scan_handle *h = handle;

    worker_stop(&h->w);
    return 0;
}

static void
scan_close(void *handle)
{
    struct scan_handle *h = handle;

    worker_destroy(&h->w);
    free(h);
}

/* Note the end of the read for the thread to skip to, then read. */
static int
scan_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    struct scan_handle *h = handle;

    if (scan_ahead && h->w.running) {
        pthread_mutex_lock(&h->w.lock);
        h->ahead = MAX(h->ahead, offset + count);
        pthread_mutex_unlock(&h->w.lock);
    }
    return next->pread(next, buf, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "scan",
    .longname = "nbdx scan filter",
    .config = scan_config,
    .config_help = scan_config_help,
    .get_ready = scan_get_ready,
    .open = scan_open,
    .prepare = scan_prepare,
    .finalize = scan_finalize,
    .close = scan_close,
    .pread = scan_pread,
};

NBDKIT_REGISTER_FILTER(filter)
