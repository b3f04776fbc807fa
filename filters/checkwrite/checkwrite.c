/* SPDX-License-Identifier: BSD-3-Clause */
/* checkwrite.c: turn writes into checks against the data already there.
 *
 * The layer below is opened read-only and never written.  The export is
 * writable all the same: a write, zero or trim succeeds, doing nothing,
 * when the bytes it would leave are the bytes the layer below already
 * holds (zeroes for zero and trim), and fails with EIO when they are
 * not.  Sparseness is not compared, only data; block status of the
 * layer below spares reading extents it reports as zeroes, and a fast
 * zero succeeds only where block status alone shows zeroes (else
 * ENOTSUP, as checking means reading).  Flush and FUA have nothing to
 * do.  Reads, block status and cache pass through.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>

#include <nbdkit-filter.h>

#include "readback.h"

static void *
checkwrite_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
                const char *exportname, int is_tls)
{
    if (next(context, 1, exportname) == -1)
        return NULL;
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int
checkwrite_can_write(nbdkit_next *next, void *handle)
{
    return 1;
}

static int
checkwrite_can_fua(nbdkit_next *next, void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
checkwrite_can_zero(nbdkit_next *next, void *handle)
{
    return NBDKIT_ZERO_NATIVE;
}

/* Always: flush, trim and fast zero (the latter only to refuse it), and
 * several connections see one unchanging disk.
 */
static int
checkwrite_yes(nbdkit_next *next, void *handle)
{
    return 1;
}

/* 0 if the LEN bytes at AT, inside the request WHAT of COUNT bytes at
 * OFFSET, are BUF (zeroes if NULL), else -1 with *err set: EIO and an
 * error naming the request if they differ.
 */
static int
checkwrite_check(nbdkit_next *next, const char *what, const void *buf,
                 uint32_t count, uint64_t offset, uint64_t at, uint64_t len,
                 int *err)
{
    uint64_t first;
    int r;

    r = readback_compare(next, buf, len, at, &first, err);
    if (r == 1) {
        nbdkit_error("checkwrite: %s of %" PRIu32 " bytes at %" PRIu64
                     " differs from the existing data at byte %" PRIu64,
                     what, count, offset, first);
        *err = EIO;
        return -1;
    }
    return r;
}

static int
checkwrite_pwrite(nbdkit_next *next, void *handle, const void *buf,
                  uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
    return checkwrite_check(next, "write", buf, count, offset, offset, count,
                            err);
}

/* The extent E clipped to [START, END); its length, 0 if outside. */
static uint64_t
checkwrite_clip(struct nbdkit_extent *e, uint64_t start, uint64_t end)
{
    uint64_t e_end = e->offset + e->length;

    if (e->offset < start)
        e->offset = start;
    if (e_end > end)
        e_end = end;
    return e_end > e->offset ? e_end - e->offset : 0;
}

/* Check the extents EXTS of [*POS, END) read as zeroes: a zero extent
 * passes unread, any other is read back (with FAST it fails with
 * ENOTSUP instead).  *POS moves past what was covered.  0 or -1 as
 * checkwrite_check.
 */
static int
checkwrite_extents_zero(nbdkit_next *next, const char *what, uint32_t count,
                        uint64_t offset, struct nbdkit_extents *exts,
                        uint64_t *pos, uint64_t end, bool fast, int *err)
{
    struct nbdkit_extent e;
    uint64_t len;
    size_t i;

    for (i = 0; i < nbdkit_extents_count(exts) && *pos < end; i++) {
        e = nbdkit_get_extent(exts, i);
        len = checkwrite_clip(&e, *pos, end);
        if (len == 0)
            continue;
        if (!(e.type & NBDKIT_EXTENT_ZERO)) {
            if (fast) {
                *err = ENOTSUP;
                return -1;
            }
            if (checkwrite_check(next, what, NULL, count, offset, e.offset, len,
                                 err) == -1)
                return -1;
        }
        *pos = e.offset + len;
    }
    return 0;
}

/* Does [OFFSET, OFFSET+COUNT) read as zeroes?  Block status of the layer
 * below, where it has any, spares reading the zero extents; a fast zero
 * is allowed only where block status alone proves it.  0 or -1 as
 * checkwrite_check.
 */
static int
checkwrite_zeroes(nbdkit_next *next, const char *what, uint32_t count,
                  uint64_t offset, bool fast, int *err)
{
    const uint64_t end = offset + count;
    struct nbdkit_extents *exts;
    uint64_t pos = offset, before;
    int r = 0;

    while (pos < end && r == 0 && next->can_extents(next) == 1) {
        exts = nbdkit_extents_new(pos, end);
        if (exts == NULL) {
            *err = errno;
            return -1;
        }
        before = pos;
        r = next->extents(next, end - pos, pos, 0, exts, err);
        if (r == 0)
            r = checkwrite_extents_zero(next, what, count, offset, exts, &pos,
                                        end, fast, err);
        nbdkit_extents_free(exts);
        if (pos == before)
            break; /* no progress: read the rest */
    }
    if (r == -1 || pos == end)
        return r;
    if (fast) {
        *err = ENOTSUP;
        return -1;
    }
    return checkwrite_check(next, what, NULL, count, offset, pos, end - pos,
                            err);
}

static int
checkwrite_zero(nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
    return checkwrite_zeroes(next, "zero", count, offset,
                             flags & NBDKIT_FLAG_FAST_ZERO, err);
}

static int
checkwrite_trim(nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
    return checkwrite_zeroes(next, "trim", count, offset, false, err);
}

static int
checkwrite_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "checkwrite",
    .longname = "nbdx checkwrite filter",
    .open = checkwrite_open,
    .can_write = checkwrite_can_write,
    .can_flush = checkwrite_yes,
    .can_trim = checkwrite_yes,
    .can_zero = checkwrite_can_zero,
    .can_fast_zero = checkwrite_yes,
    .can_fua = checkwrite_can_fua,
    .can_multi_conn = checkwrite_yes,
    .pwrite = checkwrite_pwrite,
    .zero = checkwrite_zero,
    .trim = checkwrite_trim,
    .flush = checkwrite_flush,
};

NBDKIT_REGISTER_FILTER(filter)
