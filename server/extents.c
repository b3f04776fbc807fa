/* SPDX-License-Identifier: BSD-3-Clause */
/* extents.c: the extent lists plugins fill in for block status.
 *
 * A list collects extents for the range [start, end).  Plugins add
 * extents in ascending, contiguous order; they may begin before start and
 * run past end, and the list keeps only the part inside the range,
 * merging neighbours of the same type.  The list is capped so a plugin
 * cannot make the server allocate without bound; extents past the cap are
 * dropped, which only shortens the reply the client gets.
 *
 * A list belongs to one request of one thread: no locking.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "minmax.h"

/* Far more than any client can use in one reply, small enough (24 MiB)
 * that a misbehaving plugin cannot exhaust memory.
 */
#define MAX_EXTENTS (1024 * 1024)

#define VALID_TYPES (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO)

DEFINE_VECTOR_TYPE(extent_vector, struct nbdkit_extent);

struct nbdkit_extents {
    extent_vector extents; /* inside [start, end), contiguous, merged */
    uint64_t start, end;
    uint64_t next;  /* where the next extent added must begin */
    bool any_added; /* false until the first non-empty extent */
    bool full;      /* an extent was dropped at the cap: keep no more */
};

struct nbdkit_extents *
nbdkit_extents_new(uint64_t start, uint64_t end)
{
    struct nbdkit_extents *exts;

    if (start > INT64_MAX || end > INT64_MAX) {
        nbdkit_error("nbdkit_extents_new: start (%" PRIu64 ") or end (%" PRIu64
                     ") > INT64_MAX",
                     start, end);
        errno = ERANGE;
        return NULL;
    }
    if (start > end) {
        nbdkit_error("nbdkit_extents_new: start (%" PRIu64 ") > end (%" PRIu64
                     ")",
                     start, end);
        errno = ERANGE;
        return NULL;
    }
    exts = calloc(1, sizeof *exts);
    if (exts == NULL) {
        nbdkit_error("nbdkit_extents_new: calloc: %m");
        return NULL;
    }
    exts->start = start;
    exts->end = end;
    exts->next = start;
    return exts;
}

void
nbdkit_extents_free(struct nbdkit_extents *exts)
{
    if (exts == NULL)
        return;
    free(exts->extents.ptr);
    free(exts);
}

size_t
nbdkit_extents_count(const struct nbdkit_extents *exts)
{
    return exts->extents.len;
}

struct nbdkit_extent
nbdkit_get_extent(const struct nbdkit_extents *exts, size_t i)
{
    assert(i < exts->extents.len);
    return exts->extents.ptr[i];
}

uint64_t
extents_start(const struct nbdkit_extents *exts)
{
    return exts->start;
}

uint64_t
extents_end(const struct nbdkit_extents *exts)
{
    return exts->end;
}

static int
extents_fail(const char *why, uint64_t offset, uint64_t length)
{
    nbdkit_error("nbdkit_add_extent: offset %" PRIu64 " length %" PRIu64 ": %s",
                 offset, length, why);
    errno = EINVAL;
    return -1;
}

/* Check the plugin keeps to the rules; -1 with errno EINVAL if not. */
static int
extents_check(const struct nbdkit_extents *exts, uint64_t offset,
              uint64_t length, uint32_t type)
{
    uint64_t last;

    if ((type & ~VALID_TYPES) != 0)
        return extents_fail("unknown type bits", offset, length);
    if (__builtin_add_overflow(offset, length, &last) || last > INT64_MAX)
        return extents_fail("extent ends beyond 2^63-1", offset, length);
    if (length == 0)
        return 0;
    if (!exts->any_added) {
        /* The first extent may begin anywhere at or before start. */
        if (offset > exts->start)
            return extents_fail("the first extent must cover the start of "
                                "the range",
                                offset, length);
        return 0;
    }
    if (offset != exts->next)
        return extents_fail("extents must be added in ascending order, "
                            "without gaps or overlaps",
                            offset, length);
    return 0;
}

/* Store [offset, offset+length), already clipped to the range. */
static int
extents_store(struct nbdkit_extents *exts, uint64_t offset, uint64_t length,
              uint32_t type)
{
    struct nbdkit_extent e = {.offset = offset, .length = length, .type = type};
    struct nbdkit_extent *last;

    if (exts->extents.len > 0) {
        last = &exts->extents.ptr[exts->extents.len - 1];
        if (last->type == type) {
            last->length += length;
            return 0;
        }
    }
    if (exts->extents.len >= MAX_EXTENTS) {
        /* Merging anything later would paper over this gap. */
        exts->full = true;
        return 0;
    }
    if (extent_vector_append(&exts->extents, e) == -1) {
        nbdkit_error("nbdkit_add_extent: realloc: %m");
        return -1;
    }
    return 0;
}

int
nbdkit_add_extent(struct nbdkit_extents *exts, uint64_t offset, uint64_t length,
                  uint32_t type)
{
    uint64_t lo, hi;

    if (extents_check(exts, offset, length, type) == -1)
        return -1;
    if (length == 0)
        return 0;
    exts->any_added = true;
    exts->next = offset + length;

    lo = MAX(offset, exts->start);
    hi = MIN(offset + length, exts->end);
    if (lo >= hi || exts->full)
        return 0; /* wholly before start, at/after end, or past the cap */
    return extents_store(exts, lo, hi - lo, type);
}

/* ---- Filter helpers ---- */

/* End of the stored extents, or start if there are none. */
static uint64_t
extents_stored_end(const struct nbdkit_extents *exts)
{
    const struct nbdkit_extent *last;

    if (exts->extents.len == 0)
        return exts->start;
    last = &exts->extents.ptr[exts->extents.len - 1];
    return last->offset + last->length;
}

/* Append every extent of src to dst. */
static int
extents_append_all(struct nbdkit_extents *dst, const struct nbdkit_extents *src,
                   int *err)
{
    size_t i;
    struct nbdkit_extent e;

    for (i = 0; i < src->extents.len; i++) {
        e = src->extents.ptr[i];
        if (nbdkit_add_extent(dst, e.offset, e.length, e.type) == -1) {
            *err = errno;
            return -1;
        }
    }
    return 0;
}

/* Ask the layer below about [offset, end) and append what it says to
 * dst.  Returns the offset reached (> offset), or 0 with *err set.
 */
static uint64_t
extents_query(nbdkit_next *next, uint64_t offset, uint64_t end, uint32_t flags,
              struct nbdkit_extents *dst, int *err)
{
    struct nbdkit_extents *part;
    uint64_t reached = 0;

    part = nbdkit_extents_new(offset, end);
    if (part == NULL) {
        *err = errno;
        return 0;
    }
    if (next->extents(next, end - offset, offset, flags, part, err) == -1)
        goto out;
    if (part->extents.len == 0) {
        nbdkit_error("extents: the layer below returned no extents at "
                     "offset %" PRIu64,
                     offset);
        *err = EIO;
        goto out;
    }
    if (extents_append_all(dst, part, err) == -1)
        goto out;
    reached = extents_stored_end(part);
out:
    nbdkit_extents_free(part);
    return reached;
}

struct nbdkit_extents *
nbdkit_extents_full(nbdkit_next *next, uint32_t count, uint64_t offset,
                    uint32_t flags, int *err)
{
    struct nbdkit_extents *ret;
    uint64_t end = offset + count;

    ret = nbdkit_extents_new(offset, end);
    if (ret == NULL) {
        *err = errno;
        return NULL;
    }
    /* REQ_ONE would make each round trip return one extent. */
    flags &= ~NBDKIT_FLAG_REQ_ONE;
    while (offset < end && !ret->full) {
        offset = extents_query(next, offset, end, flags, ret, err);
        if (offset == 0) {
            nbdkit_extents_free(ret);
            return NULL;
        }
    }
    return ret;
}

/* Drop the extents from index i on, so the list ends at a boundary. */
static void
extents_truncate(struct nbdkit_extents *exts, size_t i)
{
    exts->extents.len = i;
    exts->next = extents_stored_end(exts);
    exts->full = false;
}

/* The first extent is shorter than one block: fold the following
 * extents into it, asking the layer below for more if needed, until it
 * spans the whole block.  Its type becomes the intersection of all the
 * types folded in: a block reads as zero, or is a hole, only if every
 * part is.
 */
static int
extents_fill_block(nbdkit_next *next, uint32_t flags, uint32_t align,
                   struct nbdkit_extents *exts, int *err)
{
    struct nbdkit_extent *first = &exts->extents.ptr[0];
    uint64_t block_end = first->offset + align;
    struct nbdkit_extents *more;
    size_t i;

    more = nbdkit_extents_new(first->offset, block_end);
    if (more == NULL) {
        *err = errno;
        return -1;
    }
    for (i = 0; i < exts->extents.len; i++) {
        const struct nbdkit_extent *e = &exts->extents.ptr[i];

        if (e->offset >= block_end)
            break;
        if (nbdkit_add_extent(more, e->offset, e->length, e->type) == -1) {
            *err = errno;
            nbdkit_extents_free(more);
            return -1;
        }
    }
    while (extents_stored_end(more) < block_end) {
        uint64_t at = extents_stored_end(more);

        if (extents_query(next, at, block_end, flags & ~NBDKIT_FLAG_REQ_ONE,
                          more, err) == 0) {
            nbdkit_extents_free(more);
            return -1;
        }
    }
    for (i = 1; i < more->extents.len; i++)
        first->type &= more->extents.ptr[i].type;
    first->length = align;
    nbdkit_extents_free(more);
    extents_truncate(exts, 1);
    return 0;
}

int
nbdkit_extents_aligned(nbdkit_next *next, uint32_t count, uint64_t offset,
                       uint32_t flags, uint32_t align,
                       struct nbdkit_extents *exts, int *err)
{
    struct nbdkit_extent *e;
    uint64_t e_end;
    size_t i;

    assert(IS_POWER_OF_2(align));
    assert((offset & (align - 1)) == 0 && (count & (align - 1)) == 0);
    if (exts->start != offset || exts->any_added ||
        offset + count > exts->end) {
        nbdkit_error("nbdkit_extents_aligned: the list must be empty and "
                     "its range must start at offset and cover count");
        *err = EINVAL;
        return -1;
    }

    if (next->extents(next, count, offset, flags, exts, err) == -1)
        return -1;
    for (i = 0; i < exts->extents.len; i++) {
        e = &exts->extents.ptr[i];
        e_end = e->offset + e->length;
        if ((e_end & (align - 1)) == 0)
            continue;
        if (ROUND_DOWN(e_end, align) > e->offset) {
            /* Keep the aligned part; the tail is for the next query. */
            e->length = ROUND_DOWN(e_end, align) - e->offset;
            extents_truncate(exts, i + 1);
            return 0;
        }
        if (i > 0) {
            extents_truncate(exts, i);
            return 0;
        }
        return extents_fill_block(next, flags, align, exts, err);
    }
    return 0;
}
