/* SPDX-License-Identifier: BSD-3-Clause */
/* overlay-next.c: see overlay-next.h. */

#include <errno.h>
#include <string.h>

#include "overlay-next.h"

int64_t
overlay_grow_below(struct overlay *ov, nbdkit_next *next)
{
    int64_t size = next->get_size(next);

    if (size == -1) {
        errno = 0;
        return -1;
    }
    return overlay_grow(ov, size) == -1 ? -1 : size;
}

int
overlay_fetch(const struct overlay *ov, nbdkit_next *next, void *buf,
              uint64_t blk, int *err)
{
    uint64_t len = overlay_block_len(ov, blk);

    memset((char *)buf + len, 0, ov->blksize - len);
    return next->pread(next, buf, len, blk * ov->blksize, 0, err);
}

int
overlay_extents_below(nbdkit_next *next, uint64_t start, uint64_t end,
                      uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct nbdkit_extents *below;
    struct nbdkit_extent e;
    size_t i;
    int r = 0;

    if (next->can_extents(next) != 1)
        r = nbdkit_add_extent(extents, start, end - start, 0);
    else {
        below = nbdkit_extents_new(start, end);
        if (below == NULL) {
            *err = errno;
            return -1;
        }
        if (next->extents(next, end - start, start, flags, below, err) == -1) {
            nbdkit_extents_free(below);
            return -1;
        }
        for (i = 0; r == 0 && i < nbdkit_extents_count(below); i++) {
            e = nbdkit_get_extent(below, i);
            r = nbdkit_add_extent(extents, e.offset, e.length, e.type);
        }
        nbdkit_extents_free(below);
    }
    if (r == -1)
        *err = errno;
    return r;
}
