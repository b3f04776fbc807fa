/* SPDX-License-Identifier: BSD-3-Clause */
/* retry-request.c: retry a single failing request, without reopening.
 *
 * Every data request (and, unless retry-request-open=false, the open of
 * the layer below) that fails is tried again, up to
 * retry-request-retries= more times, retry-request-delay= seconds apart.
 * The error of the last attempt is the one the client sees.  A quit cuts
 * the wait short and the request fails with ESHUTDOWN.
 */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "retry.h"

/* Written by config only, then read by every thread: retries and delay
 * from retry-request-retries= and retry-request-delay=, and
 * retry-request-open=.
 */
static struct retry_policy policy = {.retries = 2, .delay = 2};
static bool retry_open = true;

static int
rr_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
          const char *value)
{
    int r;

    if (strcmp(key, "retry-request-retries") == 0)
        return nbdkit_parse_unsigned(key, value, &policy.retries);
    if (strcmp(key, "retry-request-delay") == 0)
        return nbdkit_parse_unsigned(key, value, &policy.delay);
    if (strcmp(key, "retry-request-open") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        retry_open = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define rr_config_help                                                         \
    "retry-request-retries=<N>  Number of retries (default: 2).\n"             \
    "retry-request-delay=<N>    Seconds to wait before retry (default: 2).\n"  \
    "retry-request-open=false  Do not retry opening the plugin (default: "     \
    "true)."

/* Before the next retry of WHAT (C counts them): log, then wait.  False
 * when no retry is left or the wait was cut short (*err is then
 * ESHUTDOWN).
 */
static bool
rr_wait(struct retry_count *c, const char *what, int *err)
{
    unsigned secs;

    if (!retry_next(c, &policy, &secs))
        return false;
    nbdkit_debug("%s failed: retry %u of %u (original errno = %d)", what,
                 c->done, policy.retries, *err);
    if (secs > 0 && nbdkit_nanosleep(secs, 0) == -1) {
        *err = errno;
        return false;
    }
    return true;
}

static void *
rr_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
        const char *exportname, int is_tls)
{
    struct retry_count c = {0};
    int err;

    for (;;) {
        if (next(context, readonly, exportname) == 0)
            return NBDKIT_HANDLE_NOT_NEEDED;
        err = EIO;
        if (!retry_open || !rr_wait(&c, "open", &err))
            return NULL;
    }
}

/* Call EXPR (which sets r and *err) until it succeeds or retries run
 * out.
 */
#define RETRY(what, expr)                                                      \
    do {                                                                       \
        struct retry_count c_ = {0};                                           \
        for (;;) {                                                             \
            r = (expr);                                                        \
            if (r != -1 || !rr_wait(&c_, what, err))                           \
                return r;                                                      \
        }                                                                      \
    } while (0)

static int
rr_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
         uint64_t offset, uint32_t flags, int *err)
{
    int r;

    RETRY("pread", next->pread(next, buf, count, offset, flags, err));
}

static int
rr_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
          uint64_t offset, uint32_t flags, int *err)
{
    int r;

    RETRY("pwrite", next->pwrite(next, buf, count, offset, flags, err));
}

static int
rr_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    int r;

    RETRY("flush", next->flush(next, flags, err));
}

static int
rr_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
        uint32_t flags, int *err)
{
    int r;

    RETRY("trim", next->trim(next, count, offset, flags, err));
}

static int
rr_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
        uint32_t flags, int *err)
{
    int r;

    RETRY("zero", next->zero(next, count, offset, flags, err));
}

static int
rr_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    int r;

    RETRY("extents",
          retry_extents_once(next, count, offset, flags, extents, err));
}

static int
rr_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    int r;

    RETRY("cache", next->cache(next, count, offset, flags, err));
}

static struct nbdkit_filter filter = {
    .name = "retry-request",
    .longname = "nbdx retry-request filter",
    .config = rr_config,
    .config_help = rr_config_help,
    .open = rr_open,
    .pread = rr_pread,
    .pwrite = rr_pwrite,
    .flush = rr_flush,
    .trim = rr_trim,
    .zero = rr_zero,
    .extents = rr_extents,
    .cache = rr_cache,
};

NBDKIT_REGISTER_FILTER(filter)
