/* SPDX-License-Identifier: BSD-3-Clause */
/* cacheextents.c: remembers the last block status answer of the layer
 * below and serves later block status requests that start inside it
 * without asking that layer again.
 *
 * A miss asks the layer below about the request with REQ_ONE cleared,
 * in an answer allowed to run on to the end of the disk, so that one
 * slow call answers as much as the plugin is willing to say, and keeps
 * a copy of the answer.  A request starting
 * inside the copy is answered from it (the answer may end before the
 * request does, which the protocol allows).  Every write, zero and trim,
 * from any connection, drops the copy, so no connection sees extents
 * older than a write that finished before its request.
 *
 * Locks: lock guards the cached extents, gen and writing.  A write
 * bumps gen and drops the cache before and after reaching the plugin;
 * an answer fetched while a write was in flight, or across a change of
 * gen, is returned to its client but not kept.  The plugin is called
 * without the lock held.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <nbdkit-filter.h>

/* The cached answer, shared by all connections; guarded by lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct nbdkit_extent *cached; /* owned, ascending and contiguous */
static size_t ncached;
static uint64_t gen;     /* bumped by every write's start and end */
static unsigned writing; /* writes, zeroes and trims in flight */

static void
cacheextents_unload(void)
{
    free(cached);
    cached = NULL;
    ncached = 0;
}

/* Forgets the cached answer.  Caller holds lock. */
static void
cacheextents_drop(void)
{
    free(cached);
    cached = NULL;
    ncached = 0;
    gen++;
}

/* Whether the cache covers offset.  Caller holds lock. */
static int
cacheextents_covers(uint64_t offset)
{
    const struct nbdkit_extent *last;

    if (ncached == 0)
        return 0;
    last = &cached[ncached - 1];
    return cached[0].offset <= offset && offset < last->offset + last->length;
}

/* Adds the cached extents to extents.  Caller holds lock. */
static int
cacheextents_serve(struct nbdkit_extents *extents, int *err)
{
    size_t i;

    for (i = 0; i < ncached; i++)
        if (nbdkit_add_extent(extents, cached[i].offset, cached[i].length,
                              cached[i].type) == -1) {
            *err = errno;
            return -1;
        }
    return 0;
}

/* Keeps a copy of the answer in extents, unless a write ran since
 * generation g.  Caller holds lock.  Failing to copy is not an error:
 * the next request asks the plugin again.
 */
static void
cacheextents_keep(const struct nbdkit_extents *extents, uint64_t g)
{
    size_t i, n = nbdkit_extents_count(extents);
    struct nbdkit_extent *copy;

    if (gen != g || writing > 0 || n == 0)
        return;
    copy = malloc(n * sizeof *copy);
    if (copy == NULL)
        return;
    for (i = 0; i < n; i++)
        copy[i] = nbdkit_get_extent(extents, i);
    free(cached);
    cached = copy;
    ncached = n;
}

/* Asks the layer below about [offset, offset+count) in an answer that
 * may run on to the end of the disk, adds it to extents and keeps it
 * unless a write ran since generation g.
 */
static int
cacheextents_fetch(nbdkit_next *next, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdkit_extents *extents, uint64_t g,
                   int *err)
{
    int64_t size = next->get_size(next);
    struct nbdkit_extents *below;
    struct nbdkit_extent e;
    size_t i;
    int r = 0;

    if (size == -1) {
        *err = EIO;
        return -1;
    }
    below = nbdkit_extents_new(offset, size);
    if (below == NULL) {
        *err = errno;
        return -1;
    }
    if (next->extents(next, count, offset, flags & ~NBDKIT_FLAG_REQ_ONE, below,
                      err) == -1) {
        nbdkit_extents_free(below);
        return -1;
    }
    for (i = 0; r == 0 && i < nbdkit_extents_count(below); i++) {
        e = nbdkit_get_extent(below, i);
        r = nbdkit_add_extent(extents, e.offset, e.length, e.type);
    }
    if (r == -1)
        *err = errno;
    else {
        pthread_mutex_lock(&lock);
        cacheextents_keep(below, g);
        pthread_mutex_unlock(&lock);
    }
    nbdkit_extents_free(below);
    return r;
}

static int
cacheextents_extents(nbdkit_next *next, void *handle, uint32_t count,
                     uint64_t offset, uint32_t flags,
                     struct nbdkit_extents *extents, int *err)
{
    uint64_t g;
    int r;

    pthread_mutex_lock(&lock);
    if (cacheextents_covers(offset)) {
        r = cacheextents_serve(extents, err);
        pthread_mutex_unlock(&lock);
        return r;
    }
    g = gen;
    pthread_mutex_unlock(&lock);
    return cacheextents_fetch(next, count, offset, flags, extents, g, err);
}

/* Marks a write, zero or trim as started (begin 1) or ended (0). */
static void
cacheextents_writing(int begin)
{
    pthread_mutex_lock(&lock);
    if (begin)
        writing++;
    else
        writing--;
    cacheextents_drop();
    pthread_mutex_unlock(&lock);
}

static int
cacheextents_pwrite(nbdkit_next *next, void *handle, const void *buf,
                    uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
    int r;

    cacheextents_writing(1);
    r = next->pwrite(next, buf, count, offset, flags, err);
    cacheextents_writing(0);
    return r;
}

static int
cacheextents_zero(nbdkit_next *next, void *handle, uint32_t count,
                  uint64_t offset, uint32_t flags, int *err)
{
    int r;

    cacheextents_writing(1);
    r = next->zero(next, count, offset, flags, err);
    cacheextents_writing(0);
    return r;
}

static int
cacheextents_trim(nbdkit_next *next, void *handle, uint32_t count,
                  uint64_t offset, uint32_t flags, int *err)
{
    int r;

    cacheextents_writing(1);
    r = next->trim(next, count, offset, flags, err);
    cacheextents_writing(0);
    return r;
}

static struct nbdkit_filter filter = {
    .name = "cacheextents",
    .longname = "nbdx extents caching filter",
    .unload = cacheextents_unload,
    .extents = cacheextents_extents,
    .pwrite = cacheextents_pwrite,
    .zero = cacheextents_zero,
    .trim = cacheextents_trim,
};

NBDKIT_REGISTER_FILTER(filter)
