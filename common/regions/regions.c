/* SPDX-License-Identifier: BSD-3-Clause */
/* regions.c: the region list of regions.h. */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "overflow.h"
#include "regions.h"

void
regions_init(struct regions *rs)
{
    rs->v = (region_vector)empty_vector;
}

void
regions_free(struct regions *rs)
{
    region_vector_reset(&rs->v);
}

size_t
regions_count(const struct regions *rs)
{
    return rs->v.len;
}

uint64_t
regions_size(const struct regions *rs)
{
    return rs->v.len == 0 ? 0 : rs->v.ptr[rs->v.len - 1].end;
}

const struct region *
regions_get(const struct regions *rs, size_t i)
{
    assert(i < rs->v.len);
    return &rs->v.ptr[i];
}

int
regions_append(struct regions *rs, uint64_t len, enum region_type type,
               const void *data)
{
    struct region r = {.start = regions_size(rs), .type = type, .data = data};

    if (len == 0)
        return 0;
    if (ckd_add_u64(&r.end, r.start, len) || r.end > INT64_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    return region_vector_append(&rs->v, r);
}

int
regions_pad(struct regions *rs, uint64_t alignment)
{
    uint64_t size = regions_size(rs), rem;

    if (alignment == 0) {
        errno = EINVAL;
        return -1;
    }
    rem = size % alignment;
    if (rem == 0)
        return 0;
    return regions_append(rs, alignment - rem, REGION_ZERO, NULL);
}

const struct region *
regions_find(const struct regions *rs, uint64_t offset)
{
    size_t lo = 0, hi = rs->v.len, mid;

    /* Invariant: regions before lo end at or before offset, regions from
     * hi on start after it.
     */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (rs->v.ptr[mid].end <= offset)
            lo = mid + 1;
        else if (rs->v.ptr[mid].start > offset)
            hi = mid;
        else
            return &rs->v.ptr[mid];
    }
    return NULL;
}
