/* SPDX-License-Identifier: BSD-3-Clause */
/* truncate.c: change the size of the layer below.
 *
 * truncate=SIZE sets the size; round-up=N and round-down=N (powers of
 * 2) round it.  Bytes past the end of the layer below read as zeroes
 * and map as holes; writes there must be zeroes (else EIO), and zeroes
 * and trims there do nothing.  The size below is read once per
 * connection, in prepare.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "iszero.h"

static int64_t truncate_size = -1;    /* truncate=, -1 if not given */
static uint64_t round_up, round_down; /* 0 if not given */

/* One connection: the size below and the size served. */
struct handle {
    uint64_t real, size;
};

static int
truncate_parse_power(const char *key, const char *value, uint64_t *out)
{
    int64_t r = nbdkit_parse_size(value);

    if (r == -1)
        return -1;
    if (r == 0 || (r & (r - 1)) != 0) {
        nbdkit_error("the %s parameter must be a power of 2", key);
        return -1;
    }
    *out = r;
    return 0;
}

static int
truncate_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                const char *key, const char *value)
{
    if (strcmp(key, "truncate") == 0) {
        truncate_size = nbdkit_parse_size(value);
        return truncate_size == -1 ? -1 : 0;
    }
    if (strcmp(key, "round-up") == 0)
        return truncate_parse_power(key, value, &round_up);
    if (strcmp(key, "round-down") == 0)
        return truncate_parse_power(key, value, &round_down);
    return next(nxdata, key, value);
}

#define truncate_config_help                                                   \
    "truncate=<SIZE>      The new size.\n"                                     \
    "round-up=<N>         Round the size up to a multiple of N.\n"             \
    "round-down=<N>       Round the size down to a multiple of N."

static void *
truncate_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
              const char *exportname, int is_tls)
{
    struct handle *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL)
        nbdkit_error("calloc: %m");
    return h;
}

static void
truncate_close(void *handle)
{
    free(handle);
}

static int
truncate_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct handle *h = handle;
    int64_t r = next->get_size(next);
    uint64_t size;

    if (r == -1)
        return -1;
    h->real = r;
    size = truncate_size >= 0 ? (uint64_t)truncate_size : h->real;
    if (round_up) {
        if (size > INT64_MAX - (round_up - 1)) {
            nbdkit_error("round-up: the size would be too large");
            return -1;
        }
        size = (size + round_up - 1) & ~(round_up - 1);
    }
    if (round_down)
        size &= ~(round_down - 1);
    h->size = size;
    return 0;
}

static int64_t
truncate_get_size(nbdkit_next *next, void *handle)
{
    struct handle *h = handle;

    return h->size;
}

/* How many of COUNT bytes at OFFSET lie in the layer below. */
static uint32_t
truncate_below(const struct handle *h, uint32_t count, uint64_t offset)
{
    if (offset >= h->real)
        return 0;
    return h->real - offset < count ? h->real - offset : count;
}

static int
truncate_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
    uint32_t n = truncate_below(handle, count, offset);

    if (n && next->pread(next, buf, n, offset, flags, err) == -1)
        return -1;
    memset((char *)buf + n, 0, count - n);
    return 0;
}

static int
truncate_pwrite(nbdkit_next *next, void *handle, const void *buf,
                uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
    uint32_t n = truncate_below(handle, count, offset);

    if (!is_zero((const char *)buf + n, count - n)) {
        nbdkit_error("truncate: write beyond the end of the underlying "
                     "device: only zeroes may be written there");
        *err = EIO;
        return -1;
    }
    if (n)
        return next->pwrite(next, buf, n, offset, flags, err);
    return 0;
}

static int
truncate_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, int *err)
{
    uint32_t n = truncate_below(handle, count, offset);

    return n ? next->trim(next, n, offset, flags, err) : 0;
}

static int
truncate_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, int *err)
{
    uint32_t n = truncate_below(handle, count, offset);

    return n ? next->zero(next, n, offset, flags, err) : 0;
}

static int
truncate_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
               uint32_t flags, int *err)
{
    uint32_t n = truncate_below(handle, count, offset);

    return n ? next->cache(next, n, offset, flags, err) : 0;
}

/* Below the real end, the layer below's map (copied: its list is bounded
 * by the real size); past it, one hole.
 */
static int
truncate_extents(nbdkit_next *next, void *handle, uint32_t count,
                 uint64_t offset, uint32_t flags,
                 struct nbdkit_extents *extents, int *err)
{
    struct handle *h = handle;
    uint32_t n = truncate_below(h, count, offset);
    struct nbdkit_extents *below;
    struct nbdkit_extent e = {offset, 0, 0};
    size_t i;
    int r = 0;

    if (n == 0)
        return nbdkit_add_extent(extents, offset, count,
                                 NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
    below = nbdkit_extents_new(offset, h->real);
    if (below == NULL) {
        *err = errno;
        return -1;
    }
    r = next->extents(next, n, offset, flags, below, err);
    for (i = 0; r == 0 && i < nbdkit_extents_count(below); i++) {
        e = nbdkit_get_extent(below, i);
        if (nbdkit_add_extent(extents, e.offset, e.length, e.type) == -1)
            r = -1, *err = errno;
    }
    nbdkit_extents_free(below);
    /* The hole follows only if the map below reached its end. */
    if (r == 0 && n < count && e.offset + e.length >= h->real &&
        nbdkit_add_extent(extents, h->real, h->size - h->real,
                          NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
        r = -1, *err = errno;
    return r;
}

static struct nbdkit_filter filter = {
    .name = "truncate",
    .longname = "nbdx truncate filter",
    .config = truncate_config,
    .config_help = truncate_config_help,
    .open = truncate_open,
    .close = truncate_close,
    .prepare = truncate_prepare,
    .get_size = truncate_get_size,
    .pread = truncate_pread,
    .pwrite = truncate_pwrite,
    .trim = truncate_trim,
    .zero = truncate_zero,
    .cache = truncate_cache,
    .extents = truncate_extents,
};

NBDKIT_REGISTER_FILTER(filter)
