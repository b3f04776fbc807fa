/* SPDX-License-Identifier: BSD-3-Clause */
/* delay.c: delay requests, to simulate a slow or distant server.
 *
 * Each kind of request has its own delay (delay-read=, delay-write=,
 * delay-zero=, delay-trim=, delay-extents=, delay-cache=, delay-open=,
 * delay-close=), in seconds or NNms; rdelay= is delay-read= and wdelay=
 * sets write, zero and trim at once.  delay-fast-zero=false makes a fast
 * zero fail at once with ENOTSUP instead of waiting.  A delay is cut
 * short, with ESHUTDOWN, when the server or connection shuts down.
 */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <nbdkit-filter.h>

/* One delay. */
struct delay {
    unsigned sec, nsec;
};

/* Written by config only, then read by every thread. */
static struct delay d_read, d_write, d_zero, d_trim, d_extents, d_cache, d_open,
    d_close;
static bool fast_zero = true; /* delay-fast-zero= */

static bool
delay_set(const struct delay *d)
{
    return d->sec || d->nsec;
}

/* Sleep for D; 0, or -1 with *err set (ESHUTDOWN). */
static int
delay_sleep(const struct delay *d, int *err)
{
    if (delay_set(d) && nbdkit_nanosleep(d->sec, d->nsec) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

static int
delay_parse(const char *key, const char *value, struct delay *d)
{
    return nbdkit_parse_delay(key, value, &d->sec, &d->nsec);
}

static int
delay_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    static const struct {
        const char *key;
        struct delay *d;
    } keys[] = {
        {"rdelay", &d_read},       {"delay-read", &d_read},
        {"delay-write", &d_write}, {"delay-zero", &d_zero},
        {"delay-trim", &d_trim},   {"delay-extents", &d_extents},
        {"delay-cache", &d_cache}, {"delay-open", &d_open},
        {"delay-close", &d_close},
    };
    size_t i;
    int r;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].key) == 0)
            return delay_parse(key, value, keys[i].d);
    if (strcmp(key, "wdelay") == 0) {
        if (delay_parse(key, value, &d_write) == -1)
            return -1;
        d_zero = d_trim = d_write;
        return 0;
    }
    if (strcmp(key, "delay-fast-zero") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        fast_zero = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define delay_config_help                                                      \
    "rdelay=<SECS>|<NN>ms        Delay reads (also delay-read=).\n"            \
    "delay-read=<SECS>|<NN>ms    Delay reads.\n"                               \
    "delay-write=<SECS>|<NN>ms   Delay writes.\n"                              \
    "delay-zero=<SECS>|<NN>ms    Delay zeroes.\n"                              \
    "delay-trim=<SECS>|<NN>ms    Delay trims.\n"                               \
    "delay-extents=<SECS>|<NN>ms Delay block status.\n"                        \
    "delay-cache=<SECS>|<NN>ms   Delay cache requests.\n"                      \
    "delay-open=<SECS>|<NN>ms    Delay connections opening.\n"                 \
    "delay-close=<SECS>|<NN>ms   Delay clients' disconnections.\n"             \
    "wdelay=<SECS>|<NN>ms        Delay writes, zeroes and trims.\n"            \
    "delay-fast-zero=<BOOL>      false: fail fast zeroes at once (default "    \
    "true)."

static void *
delay_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
           const char *exportname, int is_tls)
{
    int err;

    if (delay_sleep(&d_open, &err) == -1)
        return NULL;
    if (next(context, readonly, exportname) == -1)
        return NULL;
    return NBDKIT_HANDLE_NOT_NEEDED;
}

/* Runs only when the client disconnects cleanly (NBD_CMD_DISC). */
static void
delay_close(void *handle)
{
    int err;

    delay_sleep(&d_close, &err);
}

/* With delay-fast-zero=false the filter answers fast zeroes itself. */
static int
delay_can_fast_zero(nbdkit_next *next, void *handle)
{
    if (delay_set(&d_zero) && !fast_zero)
        return 1;
    return next->can_fast_zero(next);
}

static int
delay_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    if (delay_sleep(&d_read, err) == -1)
        return -1;
    return next->pread(next, buf, count, offset, flags, err);
}

static int
delay_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    if (delay_sleep(&d_write, err) == -1)
        return -1;
    return next->pwrite(next, buf, count, offset, flags, err);
}

static int
delay_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if ((flags & NBDKIT_FLAG_FAST_ZERO) && delay_set(&d_zero) && !fast_zero) {
        *err = ENOTSUP;
        return -1;
    }
    if (delay_sleep(&d_zero, err) == -1)
        return -1;
    return next->zero(next, count, offset, flags, err);
}

static int
delay_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if (delay_sleep(&d_trim, err) == -1)
        return -1;
    return next->trim(next, count, offset, flags, err);
}

static int
delay_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    if (delay_sleep(&d_extents, err) == -1)
        return -1;
    return next->extents(next, count, offset, flags, extents, err);
}

static int
delay_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    if (delay_sleep(&d_cache, err) == -1)
        return -1;
    return next->cache(next, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "delay",
    .longname = "nbdx delay filter",
    .config = delay_config,
    .config_help = delay_config_help,
    .open = delay_open,
    .close = delay_close,
    .can_fast_zero = delay_can_fast_zero,
    .pread = delay_pread,
    .pwrite = delay_pwrite,
    .zero = delay_zero,
    .trim = delay_trim,
    .extents = delay_extents,
    .cache = delay_cache,
};

NBDKIT_REGISTER_FILTER(filter)
