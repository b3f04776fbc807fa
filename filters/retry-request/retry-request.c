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

/* Written by config only, then read by every thread. */
static unsigned retries = 2;   /* retry-request-retries= */
static unsigned delay = 2;     /* retry-request-delay=, seconds */
static bool retry_open = true; /* retry-request-open= */

static int
rr_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
          const char *value)
{
    int r;

    if (strcmp(key, "retry-request-retries") == 0)
        return nbdkit_parse_unsigned(key, value, &retries);
    if (strcmp(key, "retry-request-delay") == 0)
        return nbdkit_parse_unsigned(key, value, &delay);
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

/* Before retry number I (from 1) of WHAT: log, then wait.  False when no
 * retry is left or the wait was cut short (*err is then ESHUTDOWN).
 */
static bool
rr_wait(unsigned i, const char *what, int *err)
{
    if (i > retries)
        return false;
    nbdkit_debug("%s failed: retry %u of %u (original errno = %d)", what, i,
                 retries, *err);
    if (delay > 0 && nbdkit_nanosleep(delay, 0) == -1) {
        *err = errno;
        return false;
    }
    return true;
}

static void *
rr_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
        const char *exportname, int is_tls)
{
    unsigned i;
    int err;

    for (i = 1;; i++) {
        if (next(context, readonly, exportname) == 0)
            return NBDKIT_HANDLE_NOT_NEEDED;
        err = EIO;
        if (!retry_open || !rr_wait(i, "open", &err))
            return NULL;
    }
}

/* Call EXPR (which sets r and *err) until it succeeds or retries run
 * out.
 */
#define RETRY(what, expr)                                                      \
    do {                                                                       \
        unsigned i_;                                                           \
        for (i_ = 1;; i_++) {                                                  \
            r = (expr);                                                        \
            if (r != -1 || !rr_wait(i_, what, err))                            \
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

/* One attempt at block status, into a list of its own so that what a
 * failed attempt added is not left behind in EXTENTS; on success the
 * list is copied there.
 */
static int
rr_extents_once(nbdkit_next *next, uint32_t count, uint64_t offset,
                uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct nbdkit_extents *mine;
    struct nbdkit_extent e;
    int64_t size;
    size_t i;
    int r = -1;

    size = next->get_size(next);
    if (size == -1) {
        *err = EIO;
        return -1;
    }
    mine = nbdkit_extents_new(offset, size);
    if (mine == NULL) {
        *err = errno;
        return -1;
    }
    if (next->extents(next, count, offset, flags, mine, err) == -1)
        goto out;
    for (i = 0; i < nbdkit_extents_count(mine); i++) {
        e = nbdkit_get_extent(mine, i);
        if (nbdkit_add_extent(extents, e.offset, e.length, e.type) == -1) {
            *err = errno;
            goto out;
        }
    }
    r = 0;
out:
    nbdkit_extents_free(mine);
    return r;
}

static int
rr_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    int r;

    RETRY("extents", rr_extents_once(next, count, offset, flags, extents, err));
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
