/* SPDX-License-Identifier: BSD-3-Clause */
/* cache.c: a local cache of the plugin's blocks in an unlinked
 * temporary file (common/overlay), shared by all connections.
 *
 * One state per block of cache-min-block-size bytes:
 *   CACHE_MISSING  not in the cache, the plugin has the data
 *   CACHE_CLEAN    the cache and the plugin hold the same data
 *   CACHE_DIRTY    the cache holds data the plugin has not got yet
 * cache=writeback keeps writes in the cache (DIRTY) and writes them to
 * the plugin at FLUSH (or FUA, for the blocks of that write);
 * cache=writethrough writes to the plugin and the cache at once (CLEAN);
 * cache=unsafe is writeback that ignores FLUSH and FUA.  Reads are
 * served from cached blocks; with cache-on-read, blocks read from the
 * plugin are kept too.  A write of part of a block reads the rest of it
 * first, from the cache or the plugin.  A zero is a write of zeroes (a
 * fast zero fails with ENOTSUP); a trim goes to the plugin and leaves
 * the cache alone, as trimmed data is unspecified.
 *
 * cache-max-size bounds the blocks held: once they pass the high
 * threshold, blocks are dropped (dirty ones written to the plugin
 * first) until they are under the low one.  The overlay's clock picks
 * them (see overlay.h): blocks not read or written again since they
 * came in, or since the clock hand last passed them, go first.
 *
 * Locks: each block is handled under its overlay stripe lock (see
 * overlay.h), and so is every change of its state; the overlay guards
 * its states, count and clock itself.  reclaim_lock lets one thread
 * reclaim at a time, taken with trylock and without any stripe lock
 * held.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <nbdkit-filter.h>

#include "overlay-next.h"

enum { CACHE_MISSING = 0, CACHE_CLEAN = 1, CACHE_DIRTY = 2 };
enum cache_mode { MODE_WRITEBACK, MODE_WRITETHROUGH, MODE_UNSAFE };

/* Configuration, written by config and get_ready only. */
static enum cache_mode mode = MODE_WRITEBACK;
static uint64_t blksize = 0; /* 0 until get_ready unless configured */
static int64_t max_size = -1;
static unsigned high_pct = 95, low_pct = 80;
static struct overlay_switch on_read = {0, NULL}; /* path is in argv */

/* The cache file, block states and clock; its own locks guard it. */
static struct overlay ov = {.fd = -1};
static pthread_mutex_t reclaim_lock = PTHREAD_MUTEX_INITIALIZER;

static void
cache_unload(void)
{
    overlay_free(&ov);
}

static int
cache_parse_mode(const char *value)
{
    if (strcmp(value, "writeback") == 0)
        mode = MODE_WRITEBACK;
    else if (strcmp(value, "writethrough") == 0)
        mode = MODE_WRITETHROUGH;
    else if (strcmp(value, "unsafe") == 0)
        mode = MODE_UNSAFE;
    else {
        nbdkit_error("cache= must be writeback, writethrough or "
                     "unsafe, not '%s'",
                     value);
        return -1;
    }
    return 0;
}

static int
cache_parse_block_size(const char *value)
{
    int64_t r = nbdkit_parse_size(value);

    if (r == -1) {
        nbdkit_error("cache-min-block-size: not a size");
        return -1;
    }
    if (r < 4096 || r > (INT64_C(1) << 31) || (r & (r - 1)) != 0) {
        nbdkit_error("cache-min-block-size must be a power of 2 "
                     "from 4096 to 2G");
        return -1;
    }
    blksize = r;
    return 0;
}

static int
cache_parse_threshold(const char *key, const char *value, unsigned *pct)
{
    if (nbdkit_parse_unsigned(key, value, pct) == -1)
        return -1;
    if (*pct == 0) {
        nbdkit_error("%s must be greater than zero", key);
        return -1;
    }
    return 0;
}

static int
cache_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    if (strcmp(key, "cache") == 0)
        return cache_parse_mode(value);
    if (strcmp(key, "cache-min-block-size") == 0)
        return cache_parse_block_size(value);
    if (strcmp(key, "cache-max-size") == 0) {
        max_size = nbdkit_parse_size(value);
        if (max_size == -1)
            nbdkit_error("cache-max-size: not a size");
        return max_size == -1 ? -1 : 0;
    }
    if (strcmp(key, "cache-high-threshold") == 0)
        return cache_parse_threshold(key, value, &high_pct);
    if (strcmp(key, "cache-low-threshold") == 0)
        return cache_parse_threshold(key, value, &low_pct);
    if (strcmp(key, "cache-on-read") == 0)
        return overlay_switch_parse(&on_read, value, nbdkit_parse_bool);
    return next(nxdata, key, value);
}

static int
cache_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    if (max_size != -1 && max_size < (1 << 20)) {
        nbdkit_error("cache-max-size is too small (the minimum is 1M)");
        return -1;
    }
    if (low_pct >= high_pct) {
        nbdkit_error("cache-low-threshold must be less than "
                     "cache-high-threshold");
        return -1;
    }
    return next(nxdata);
}

#define cache_config_help                                                      \
    "cache=MODE                 writeback (default), writethrough or unsafe\n" \
    "cache-min-block-size=SIZE  Minimum block size (default 64K).\n"           \
    "cache-max-size=SIZE        Maximum size of the cache.\n"                  \
    "cache-high-threshold=PCT   Start reclaiming at PCT% of the maximum.\n"    \
    "cache-low-threshold=PCT    Stop reclaiming at PCT% of the maximum.\n"     \
    "cache-on-read=BOOL|/PATH   Keep blocks read from the plugin."

/* 64K, or the block size of the file system of the cache if larger. */
static uint64_t
cache_default_block_size(void)
{
    const char *dir = getenv("TMPDIR");
    struct statvfs sv;
    uint64_t bs = 65536;

    if (dir == NULL || *dir == '\0')
        dir = "/var/tmp";
    if (statvfs(dir, &sv) == 0 && sv.f_bsize > bs &&
        (sv.f_bsize & (sv.f_bsize - 1)) == 0 && sv.f_bsize <= (1u << 31))
        bs = sv.f_bsize;
    return bs;
}

static int
cache_get_ready(int thread_model)
{
    if (blksize == 0)
        blksize = cache_default_block_size();
    if (overlay_init(&ov, blksize, 2) == -1) {
        nbdkit_error("cannot create the cache file: %m");
        return -1;
    }
    return 0;
}

/* The plugin's size; the cache grows to cover it. */
static int64_t
cache_get_size(nbdkit_next *next, void *handle)
{
    int64_t size = overlay_grow_below(&ov, next);

    if (size == -1 && errno != 0)
        nbdkit_error("cannot resize the cache: %m");
    return size;
}

static int
cache_prepare(nbdkit_next *next, void *handle, int readonly)
{
    return cache_get_size(next, handle) == -1 ? -1 : 0;
}

/* FLUSH is ours in writeback and unsafe mode (it writes dirty blocks
 * back, or does nothing), the plugin's in writethrough mode.
 */
static int
cache_can_flush(nbdkit_next *next, void *handle)
{
    if (mode == MODE_WRITETHROUGH)
        return next->can_flush(next);
    return 1;
}

static int
cache_can_fua(nbdkit_next *next, void *handle)
{
    if (mode == MODE_UNSAFE)
        return NBDKIT_FUA_NATIVE;
    return next->can_fua(next);
}

static int
cache_can_cache(nbdkit_next *next, void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* One cache serves every connection, so a flush on one covers all. */
static int
cache_can_multi_conn(nbdkit_next *next, void *handle)
{
    return 1;
}

/* Block blk's current data into buf (blksize bytes, zero-padded past
 * the disk's end).  Caller holds the block's lock.
 */
static int
cache_load(nbdkit_next *next, char *buf, uint64_t blk, int *err)
{
    if (overlay_get(&ov, blk) != CACHE_MISSING) {
        if (overlay_read(&ov, buf, blk) == -1) {
            *err = errno;
            nbdkit_error("reading the cache file: %m");
            return -1;
        }
        overlay_touch(&ov, blk);
        return 0;
    }
    return overlay_fetch(&ov, next, buf, blk, err);
}

/* Stores buf as block blk in state (CLEAN or DIRTY).  Caller holds the
 * block's lock.
 */
static int
cache_store(const char *buf, uint64_t blk, unsigned state, int *err)
{
    if (overlay_write(&ov, buf, blk) == -1) {
        *err = errno;
        nbdkit_error("writing the cache file: %m");
        return -1;
    }
    overlay_set(&ov, blk, state);
    return 0;
}

/* Writes cached block blk, in buf, to the plugin and marks it clean.
 * Caller holds the block's lock.
 */
static int
cache_write_back(nbdkit_next *next, const char *buf, uint64_t blk,
                 uint32_t flags, int *err)
{
    if (next->pwrite(next, buf, overlay_block_len(&ov, blk), blk * blksize,
                     flags, err) == -1)
        return -1;
    overlay_set(&ov, blk, CACHE_CLEAN);
    return 0;
}

/* Writes block blk back if it is dirty.  Caller holds its lock. */
static int
cache_clean(nbdkit_next *next, char *bounce, uint64_t blk, int *err)
{
    if (overlay_get(&ov, blk) != CACHE_DIRTY)
        return 0;
    if (overlay_read(&ov, bounce, blk) == -1) {
        *err = errno;
        nbdkit_error("reading the cache file: %m");
        return -1;
    }
    return cache_write_back(next, bounce, blk, 0, err);
}

/* Drops block blk from the cache, writing it back first if dirty.
 * Caller holds its lock.
 */
static int
cache_evict(nbdkit_next *next, char *bounce, uint64_t blk, int *err)
{
    if (cache_clean(next, bounce, blk, err) == -1)
        return -1;
    if (overlay_discard(&ov, blk) == -1) {
        *err = errno;
        nbdkit_error("freeing a block of the cache file: %m");
        return -1;
    }
    overlay_set(&ov, blk, CACHE_MISSING);
    return 0;
}

/* pct% of cache-max-size, without overflow. */
static uint64_t
cache_percent(unsigned pct)
{
    uint64_t m = max_size;

    return m / 100 * pct + m % 100 * pct / 100;
}

/* Drops blocks once the cache is past the high threshold, until it is
 * under the low one.  Called with no block lock held.  A failure to
 * write a block back stops reclaiming for now; the request that
 * triggered it has already succeeded.
 */
static void
cache_reclaim(nbdkit_next *next)
{
    uint64_t high = cache_percent(high_pct), low = cache_percent(low_pct);
    char *bounce;
    int64_t blk;
    int err = 0, r = 0;

    if (max_size == -1 || overlay_count(&ov) * blksize <= high)
        return;
    if (pthread_mutex_trylock(&reclaim_lock) != 0)
        return; /* another thread is at it */
    bounce = malloc(blksize);
    while (bounce && r == 0 && overlay_count(&ov) * blksize > low) {
        blk = overlay_victim(&ov);
        if (blk == -1)
            break;
        overlay_lock(&ov, blk);
        r = cache_evict(next, bounce, blk, &err);
        overlay_unlock(&ov, blk);
    }
    if (bounce == NULL || r == -1)
        nbdkit_debug("reclaiming stopped: %s", strerror(bounce ? err : errno));
    free(bounce);
    pthread_mutex_unlock(&reclaim_lock);
}

/* What a request's per-block callbacks need. */
struct cache_req {
    nbdkit_next *next;
    char *buf;    /* the client's buffer, or NULL for zeroes */
    char *bounce; /* owned: one block, allocated when first needed */
    uint32_t flags;
    int keep; /* pread: keep blocks read from the plugin */
    int *err;
};

/* The request's whole-block buffer; NULL after nbdkit_error. */
static char *
cache_bounce(struct cache_req *q)
{
    if (overlay_bounce(&ov, &q->bounce) == NULL) {
        *q->err = errno;
        nbdkit_error("malloc: %m");
    }
    return q->bounce;
}

/* Reads or writes (buf NULL: zeroes) a piece of a block the cache
 * holds, in place in the cache file.  Caller holds the block's lock.
 */
static int
cache_part(struct cache_req *q, const struct overlay_piece *p, int wr)
{
    char *buf = q->buf ? q->buf + p->pos : NULL;
    int r;

    if (buf == NULL) {
        if (cache_bounce(q) == NULL)
            return -1;
        buf = memset(q->bounce, 0, p->len);
    }
    r = wr ? overlay_write_part(&ov, buf, p->blk, p->start, p->len)
           : overlay_read_part(&ov, buf, p->blk, p->start, p->len);
    if (r == -1) {
        *q->err = errno;
        nbdkit_error("%s the cache file: %m", wr ? "writing" : "reading");
        return -1;
    }
    overlay_touch(&ov, p->blk);
    return 0;
}

static int
cache_read_piece(const struct overlay_piece *p, void *opaque)
{
    struct cache_req *q = opaque;
    int r;

    overlay_lock(&ov, p->blk);
    if (overlay_get(&ov, p->blk) != CACHE_MISSING)
        r = cache_part(q, p, 0);
    else if (!q->keep)
        r = q->next->pread(q->next, q->buf + p->pos, p->len,
                           p->blk * blksize + p->start, 0, q->err);
    else if (cache_bounce(q) == NULL)
        r = -1;
    else {
        r = cache_load(q->next, q->bounce, p->blk, q->err);
        if (r == 0 && overlay_get(&ov, p->blk) == CACHE_MISSING)
            r = cache_store(q->bounce, p->blk, CACHE_CLEAN, q->err);
        if (r == 0)
            memcpy(q->buf + p->pos, q->bounce + p->start, p->len);
    }
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Builds the block's new data in q->bounce: the client's bytes (or
 * zeroes) over its old data.  Caller holds the block's lock.
 */
static int
cache_patch(struct cache_req *q, const struct overlay_piece *p)
{
    if (cache_bounce(q) == NULL)
        return -1;
    if (p->whole)
        memset(q->bounce, 0, blksize);
    else if (cache_load(q->next, q->bounce, p->blk, q->err) == -1)
        return -1;
    if (q->buf)
        memcpy(q->bounce + p->start, q->buf + p->pos, p->len);
    else
        memset(q->bounce + p->start, 0, p->len);
    return 0;
}

/* writethrough: the plugin first, then the cache if it holds the block
 * or the piece is the whole block.
 */
static int
cache_write_through(struct cache_req *q, const struct overlay_piece *p)
{
    uint64_t off = p->blk * blksize + p->start;
    int r;

    if (q->buf)
        r = q->next->pwrite(q->next, q->buf + p->pos, p->len, off, q->flags,
                            q->err);
    else
        r = q->next->zero(q->next, p->len, off, q->flags, q->err);
    if (r == -1)
        return -1;
    if (overlay_get(&ov, p->blk) != CACHE_MISSING)
        return cache_part(q, p, 1);
    if (!p->whole)
        return 0;
    if (cache_patch(q, p) == -1)
        return -1;
    return cache_store(q->bounce, p->blk, CACHE_CLEAN, q->err);
}

/* Writes (or zeroes, with q->buf NULL) one block's part. */
static int
cache_write_piece(const struct overlay_piece *p, void *opaque)
{
    struct cache_req *q = opaque;
    int r;

    overlay_lock(&ov, p->blk);
    if (mode == MODE_WRITETHROUGH)
        r = cache_write_through(q, p);
    else if (overlay_get(&ov, p->blk) != CACHE_MISSING &&
             !(q->flags & NBDKIT_FLAG_FUA)) {
        r = cache_part(q, p, 1);
        if (r == 0)
            overlay_set(&ov, p->blk, CACHE_DIRTY);
    } else {
        r = cache_patch(q, p);
        if (r == 0)
            r = cache_store(q->bounce, p->blk, CACHE_DIRTY, q->err);
        if (r == 0 && mode == MODE_WRITEBACK && (q->flags & NBDKIT_FLAG_FUA))
            r = cache_write_back(q->next, q->bounce, p->blk, NBDKIT_FLAG_FUA,
                                 q->err);
    }
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Brings a block the cache lacks in from the plugin. */
static int
cache_cache_piece(const struct overlay_piece *p, void *opaque)
{
    struct cache_req *q = opaque;
    int r = 0;

    overlay_lock(&ov, p->blk);
    if (overlay_get(&ov, p->blk) == CACHE_MISSING) {
        r = cache_bounce(q) == NULL
                ? -1
                : cache_load(q->next, q->bounce, p->blk, q->err);
        if (r == 0)
            r = cache_store(q->bounce, p->blk, CACHE_CLEAN, q->err);
    } else
        overlay_touch(&ov, p->blk);
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Runs fn over the blocks of [offset, offset+count), with a bounce
 * buffer if one needs it, then reclaims space if the cache grew too big.
 */
static int
cache_run(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
          uint32_t flags, int keep,
          int (*fn)(const struct overlay_piece *, void *), int *err)
{
    struct cache_req q = {next, buf, NULL, flags, keep, err};
    int r;

    if (mode == MODE_UNSAFE)
        q.flags &= ~NBDKIT_FLAG_FUA;
    r = overlay_split(&ov, offset, count, fn, &q);
    free(q.bounce);
    cache_reclaim(next);
    return r;
}

static int
cache_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    return cache_run(next, buf, count, offset, 0, overlay_switch_on(&on_read),
                     cache_read_piece, err);
}

static int
cache_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    return cache_run(next, (void *)buf, count, offset, flags, 0,
                     cache_write_piece, err);
}

static int
cache_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if (flags & NBDKIT_FLAG_FAST_ZERO) {
        *err = ENOTSUP; /* a zero here is a write of zeroes, never fast */
        return -1;
    }
    return cache_run(next, NULL, count, offset, flags & ~NBDKIT_FLAG_MAY_TRIM,
                     0, cache_write_piece, err);
}

static int
cache_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    return cache_run(next, NULL, count, offset, 0, 0, cache_cache_piece, err);
}

/* Writes every dirty block back, going on after a failure so that as
 * much as possible reaches the plugin, and returns the first failure.
 */
static int
cache_write_back_all(nbdkit_next *next, int *err)
{
    char *bounce = malloc(blksize);
    int64_t blk;
    int r = 0, e;

    if (bounce == NULL) {
        *err = errno;
        nbdkit_error("malloc: %m");
        return -1;
    }
    for (blk = overlay_find(&ov, 0, CACHE_DIRTY); blk != -1;
         blk = overlay_find(&ov, blk + 1, CACHE_DIRTY)) {
        overlay_lock(&ov, blk);
        if (cache_clean(next, bounce, blk, &e) == -1 && r == 0) {
            r = -1;
            *err = e;
        }
        overlay_unlock(&ov, blk);
    }
    free(bounce);
    return r;
}

static int
cache_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    if (mode == MODE_UNSAFE)
        return 0;
    if (mode == MODE_WRITEBACK && cache_write_back_all(next, err) == -1)
        return -1;
    if (next->can_flush(next) != 1)
        return 0;
    return next->flush(next, 0, err);
}

/* Dirty blocks are data the plugin does not know of yet; for the rest
 * the plugin's answer holds (clean blocks match it).
 */
static int
cache_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    uint64_t end = offset + count, start, stop;
    int dirty, r;

    for (start = offset; start < end; start = stop) {
        dirty = overlay_get(&ov, start / blksize) == CACHE_DIRTY;
        for (stop = (start / blksize + 1) * blksize;
             stop < end &&
             (overlay_get(&ov, stop / blksize) == CACHE_DIRTY) == dirty;)
            stop += blksize;
        if (stop > end)
            stop = end;
        if (dirty) {
            r = nbdkit_add_extent(extents, start, stop - start, 0);
            if (r == -1)
                *err = errno;
        } else
            r = overlay_extents_below(next, start, stop, flags, extents, err);
        if (r == -1)
            return -1;
        if (flags & NBDKIT_FLAG_REQ_ONE)
            break;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "cache",
    .longname = "nbdx caching filter",
    .unload = cache_unload,
    .config = cache_config,
    .config_complete = cache_config_complete,
    .config_help = cache_config_help,
    .get_ready = cache_get_ready,
    .prepare = cache_prepare,
    .get_size = cache_get_size,
    .can_flush = cache_can_flush,
    .can_fua = cache_can_fua,
    .can_multi_conn = cache_can_multi_conn,
    .can_cache = cache_can_cache,
    .pread = cache_pread,
    .pwrite = cache_pwrite,
    .zero = cache_zero,
    .flush = cache_flush,
    .cache = cache_cache,
    .extents = cache_extents,
};

NBDKIT_REGISTER_FILTER(filter)
