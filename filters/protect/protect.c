/* SPDX-License-Identifier: BSD-3-Clause */
/* protect.c: write-protect byte ranges of the layer below.
 *
 * protect=START-END (inclusive, either end may be omitted) protects a
 * range; protect=~START-END protects everything outside it; the
 * parameter may repeat and the ranges add up.  Reads pass through.  A
 * write, zero or trim touching a protected range is allowed only if it
 * would not change the bytes there (they are read back and compared),
 * else it fails with EPERM and nothing is changed.  Zero-copy reads stay
 * on: the filter has no .pread.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "minmax.h"
#include "readback.h"
#include "vector.h"

/* One protected range, both ends inclusive. */
struct range {
    uint64_t start, end;
};
DEFINE_VECTOR_TYPE(range_vector, struct range);

/* Written by config only, then read by every thread. */
static range_vector ranges = empty_vector;

static void
protect_unload(void)
{
    range_vector_reset(&ranges);
}

/* Parse one end of a range; empty means DEFAULT. */
static int
protect_parse_end(const char *s, size_t n, uint64_t dflt, uint64_t *out)
{
    char buf[32], *end;

    if (n == 0)
        return *out = dflt, 0;
    if (n >= sizeof buf || s[0] == '-')
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    *out = strtoull(buf, &end, 0);
    return errno || *end ? -1 : 0;
}

static int
protect_add(uint64_t start, uint64_t end)
{
    if (start > end)
        return 0;
    if (range_vector_append(&ranges, (struct range){start, end}) == -1) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    return 0;
}

static int
protect_parse(const char *value)
{
    int complement = value[0] == '~';
    const char *s = value + complement, *dash = strchr(s, '-');
    uint64_t start, end;

    if (dash == NULL || protect_parse_end(s, dash - s, 0, &start) == -1 ||
        protect_parse_end(dash + 1, strlen(dash + 1), UINT64_MAX, &end) == -1) {
        nbdkit_error("protect: cannot parse range '%s' (START-END)", value);
        return -1;
    }
    if (start > end) {
        nbdkit_error("protect: range '%s': START is after END", value);
        return -1;
    }
    if (!complement)
        return protect_add(start, end);
    if (start > 0 && protect_add(0, start - 1) == -1)
        return -1;
    if (end < UINT64_MAX && protect_add(end + 1, UINT64_MAX) == -1)
        return -1;
    return 0;
}

static int
protect_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
               const char *key, const char *value)
{
    if (strcmp(key, "protect") == 0)
        return protect_parse(value);
    return next(nxdata, key, value);
}

#define protect_config_help                                                    \
    "protect=<START>-<END>  Protect the bytes START to END (inclusive).\n"     \
    "protect=~<START>-<END> Protect all bytes outside START to END."

/* Would writing BUF (zeroes if NULL) over the protected bytes of
 * [OFFSET, OFFSET+COUNT) change them?  0 if not, -1 with *err set if it
 * would (EPERM) or a read failed.
 */
static int
protect_check(nbdkit_next *next, const void *buf, uint32_t count,
              uint64_t offset, int *err)
{
    const char *want = buf;
    uint64_t last = offset + count - 1, lo, hi;
    size_t i;
    int changed;

    for (i = 0; i < ranges.len; i++) {
        if (count == 0 || ranges.ptr[i].end < offset ||
            ranges.ptr[i].start > last)
            continue;
        lo = MAX(ranges.ptr[i].start, offset);
        hi = MIN(ranges.ptr[i].end, last);
        changed = readback_compare(next, want ? want + (lo - offset) : NULL,
                                   hi - lo + 1, lo, NULL, err);
        if (changed == -1)
            return -1;
        if (changed) {
            nbdkit_error("protect: write to protected range %" PRIu64
                         "-%" PRIu64 " refused",
                         ranges.ptr[i].start, ranges.ptr[i].end);
            *err = EPERM;
            return -1;
        }
    }
    return 0;
}

static int
protect_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
    if (protect_check(next, buf, count, offset, err) == -1)
        return -1;
    return next->pwrite(next, buf, count, offset, flags, err);
}

static int
protect_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, int *err)
{
    if (protect_check(next, NULL, count, offset, err) == -1)
        return -1;
    return next->zero(next, count, offset, flags, err);
}

/* A trim may leave anything behind, so it is allowed over protected
 * bytes only where they are zeroes already, as a zero is.
 */
static int
protect_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, int *err)
{
    if (protect_check(next, NULL, count, offset, err) == -1)
        return -1;
    return next->trim(next, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "protect",
    .longname = "nbdx protect filter",
    .unload = protect_unload,
    .config = protect_config,
    .config_help = protect_config_help,
    .pwrite = protect_pwrite,
    .zero = protect_zero,
    .trim = protect_trim,
};

NBDKIT_REGISTER_FILTER(filter)
