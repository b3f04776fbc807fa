/* SPDX-License-Identifier: BSD-3-Clause */
/* retry.c: after a failing request, close and reopen the layer below and
 * try the request again.
 *
 * A data request that fails is retried up to retries= times.  Before
 * each retry the filter waits (retry-delay= seconds, doubled after each
 * retry with retry-exponential=yes), then closes the layer below and
 * opens it again, read-only from then on with retry-readonly=yes.  A
 * reopen that fails uses up a retry too; if the last one fails the
 * request ends with ESHUTDOWN and the connection has no layer below
 * until the next request reopens it (after a wait, as a retry).  The
 * opening at connection time is not retried.
 *
 * The layer below changes under the connection, so requests are
 * serialized: a handle is only ever used by one request at a time and
 * needs no lock.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "retry.h"

/* Written by config only, then read by every thread: retries=,
 * retry-delay=, retry-exponential= and retry-readonly=.
 */
static struct retry_policy policy = {
    .retries = 5, .delay = 2, .exponential = true};
static bool reopen_readonly = false;

/* One connection.  Owned by the filter; used by one request at a time. */
struct retry_handle {
    nbdkit_context *context; /* this filter's context, to swap below */
    int readonly;            /* as the client connection was opened */
    const char *exportname;  /* for reopening; lives as the connection */
    bool open;               /* false while the last reopen has failed */
    unsigned reopens;        /* reopens tried so far (debug) */
};

/* Parse the boolean VALUE of KEY into *OUT; -1 after nbdkit_error. */
static int
retry_parse_bool(const char *key, const char *value, bool *out)
{
    int r = nbdkit_parse_bool(value);

    if (r == -1) {
        nbdkit_error("%s: expected yes or no, not \"%s\"", key, value);
        return -1;
    }
    *out = r;
    return 0;
}

static int
retry_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    if (strcmp(key, "retries") == 0)
        return nbdkit_parse_unsigned(key, value, &policy.retries);
    if (strcmp(key, "retry-delay") == 0) {
        if (nbdkit_parse_unsigned(key, value, &policy.delay) == -1)
            return -1;
        if (policy.delay == 0) {
            nbdkit_error("retry-delay: must be at least 1 second");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "retry-exponential") == 0)
        return retry_parse_bool(key, value, &policy.exponential);
    if (strcmp(key, "retry-readonly") == 0)
        return retry_parse_bool(key, value, &reopen_readonly);
    return next(nxdata, key, value);
}

#define retry_config_help                                                      \
    "retries=<N>               Retries of a failing request (default: 5).\n"   \
    "retry-delay=<N>           Seconds before the first retry (default: 2).\n" \
    "retry-exponential=yes|no  Double the delay each time (default: yes).\n"   \
    "retry-readonly=yes|no     Reopen read-only after a failure (default: "    \
    "no)."

static int
retry_thread_model(void)
{
    return NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS;
}

static void *
retry_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
           const char *exportname, int is_tls)
{
    struct retry_handle *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->exportname = nbdkit_strdup_intern(exportname);
    if (h->exportname == NULL) {
        free(h);
        return NULL;
    }
    h->context = context;
    h->readonly = readonly;
    h->open = true;
    return h;
}

static void
retry_close(void *handle)
{
    struct retry_handle *h = handle;

    nbdkit_debug("retry: %u reopens in this connection", h->reopens);
    free(h);
}

/* Close the layer below, if there is one, and open it again; the new one
 * (or NULL) in *next.  False if the open failed.
 */
static bool
retry_reopen(struct retry_handle *h, nbdkit_next **next)
{
    nbdkit_next *old, *fresh;

    h->reopens++;
    h->open = false;
    old = nbdkit_context_set_next(h->context, NULL);
    nbdkit_next_context_close(old);
    *next = NULL;
    /* nbdx's nbdkit_next_context_open prepares the context too. */
    fresh = nbdkit_next_context_open(nbdkit_context_get_backend(h->context),
                                     h->readonly || reopen_readonly,
                                     h->exportname, false);
    if (fresh == NULL)
        return false;
    nbdkit_context_set_next(h->context, fresh);
    *next = fresh;
    h->open = true;
    return true;
}

/* Before the next retry of WHAT (C counts them): wait, then reopen the
 * layer below, as long as retries are left; a failed reopen is a failed
 * retry (*err becomes ESHUTDOWN).  False when none is left or the wait
 * was cut short by a shutdown (*err is then ESHUTDOWN).
 */
static bool
retry_again(struct retry_handle *h, struct retry_count *c, const char *what,
            nbdkit_next **next, int *err)
{
    unsigned secs;

    while (retry_next(c, &policy, &secs)) {
        nbdkit_debug("retry: %s failed (errno %d): retry %u of %u after %u "
                     "seconds",
                     what, *err, c->done, policy.retries, secs);
        if (nbdkit_nanosleep(secs, 0) == -1) {
            *err = errno;
            return false;
        }
        if (retry_reopen(h, next))
            return true;
        nbdkit_debug("retry: reopen failed");
        *err = ESHUTDOWN;
    }
    nbdkit_debug("retry: %s: giving up after %u retries", what, policy.retries);
    return false;
}

/* Can the request go to NEXT at all?  A reopened layer below may be
 * read-only (EROFS) or smaller (EIO); neither is worth retrying.
 */
static int
retry_valid(nbdkit_next *next, uint32_t count, uint64_t offset, bool write,
            int *err)
{
    int64_t size;

    if (write && next->can_write(next) != 1) {
        *err = EROFS;
        return -1;
    }
    size = next->get_size(next);
    if (size == -1 || offset > (uint64_t)size ||
        count > (uint64_t)size - offset) {
        *err = EIO;
        return -1;
    }
    return 0;
}

/* Run EXPR (which sets r and *err, and may use next) until it succeeds
 * or retries run out, reopening between attempts; CHECK (also using
 * next) refuses a request that cannot succeed before EXPR runs.
 */
#define RETRY(what, check, expr)                                               \
    do {                                                                       \
        struct retry_handle *h_ = handle;                                      \
        struct retry_count c_ = {0};                                           \
        *err = ESHUTDOWN;                                                      \
        if (!h_->open && !retry_again(h_, &c_, what, &next, err))              \
            return -1;                                                         \
        for (;;) {                                                             \
            if ((check) == -1)                                                 \
                return -1;                                                     \
            r = (expr);                                                        \
            if (r != -1 || !retry_again(h_, &c_, what, &next, err))            \
                return r;                                                      \
        }                                                                      \
    } while (0)

static int
retry_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    int r;

    RETRY("pread", retry_valid(next, count, offset, false, err),
          next->pread(next, buf, count, offset, flags, err));
}

static int
retry_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    int r;

    RETRY("pwrite", retry_valid(next, count, offset, true, err),
          next->pwrite(next, buf, count, offset, flags, err));
}

static int
retry_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    int r;

    RETRY("flush", 0, next->flush(next, flags, err));
}

static int
retry_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    int r;

    RETRY("trim", retry_valid(next, count, offset, true, err),
          next->trim(next, count, offset, flags, err));
}

static int
retry_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    int r;

    RETRY("zero", retry_valid(next, count, offset, true, err),
          next->zero(next, count, offset, flags, err));
}

static int
retry_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    int r;

    RETRY("extents", retry_valid(next, count, offset, false, err),
          retry_extents_once(next, count, offset, flags, extents, err));
}

static int
retry_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    int r;

    RETRY("cache", retry_valid(next, count, offset, false, err),
          next->cache(next, count, offset, flags, err));
}

static struct nbdkit_filter filter = {
    .name = "retry",
    .longname = "nbdx retry filter",
    .config = retry_config,
    .config_help = retry_config_help,
    .thread_model = retry_thread_model,
    .open = retry_open,
    .close = retry_close,
    .pread = retry_pread,
    .pwrite = retry_pwrite,
    .flush = retry_flush,
    .trim = retry_trim,
    .zero = retry_zero,
    .extents = retry_extents,
    .cache = retry_cache,
};

NBDKIT_REGISTER_FILTER(filter)
