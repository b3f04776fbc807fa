/* SPDX-License-Identifier: BSD-3-Clause */
/* retry.c: the retry schedule and a clean attempt at block status, see
 * retry.h.
 */

#include <errno.h>
#include <stddef.h>

#include "retry.h"

bool
retry_next(struct retry_count *c, const struct retry_policy *p, unsigned *secs)
{
    if (c->done >= p->retries)
        return false;
    if (c->done == 0)
        c->wait = p->delay < RETRY_MAX_WAIT ? p->delay : RETRY_MAX_WAIT;
    *secs = c->wait;
    c->done++;
    if (p->exponential)
        c->wait = c->wait <= RETRY_MAX_WAIT / 2 ? c->wait * 2 : RETRY_MAX_WAIT;
    return true;
}

/* Append the extents of FROM to TO; 0, or -1 with *err set. */
static int
retry_extents_copy(const struct nbdkit_extents *from, struct nbdkit_extents *to,
                   int *err)
{
    struct nbdkit_extent e;
    size_t i;

    for (i = 0; i < nbdkit_extents_count(from); i++) {
        e = nbdkit_get_extent(from, i);
        if (nbdkit_add_extent(to, e.offset, e.length, e.type) == -1) {
            *err = errno;
            return -1;
        }
    }
    return 0;
}

int
retry_extents_once(nbdkit_next *next, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct nbdkit_extents *mine;
    int64_t size;
    int r;

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
    r = next->extents(next, count, offset, flags, mine, err);
    if (r == 0)
        r = retry_extents_copy(mine, extents, err);
    nbdkit_extents_free(mine);
    return r;
}
