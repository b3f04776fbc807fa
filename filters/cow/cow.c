/* SPDX-License-Identifier: BSD-3-Clause */
/* cow.c: a writable copy-on-write overlay over a read-only plugin.
 *
 * The plugin is opened read-only and never sees a write, zero or trim.
 * Written blocks live in an unlinked temporary file (common/overlay),
 * one state per block of cow-block-size bytes:
 *   COW_MISSING   the plugin's data is current (never written here)
 *   COW_ALLOCATED the overlay holds the block's data
 *   COW_TRIMMED   the block reads as zeroes, its overlay space is freed
 * A partial write reads the block first (from the overlay or the
 * plugin), changes it and stores it whole.  All connections share the
 * overlay; it is lost when the server exits.
 *
 * Locks: each block is handled under its overlay stripe lock (see
 * overlay.h), so requests touching different blocks run in parallel
 * and a read-modify-write is never interleaved with another change of
 * the same block.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "overlay-next.h"

enum { COW_MISSING = 0, COW_ALLOCATED = 1, COW_TRIMMED = 2 };

/* Configuration, written by config only. */
static uint64_t blksize = 65536;
static int on_cache = 0;
static struct overlay_switch on_read = {0, NULL}; /* path is in argv */

/* The overlay, set up in get_ready; its own locks guard it. */
static struct overlay ov = {.fd = -1};

static void
cow_unload(void)
{
    overlay_free(&ov);
}

static int
cow_parse_block_size(const char *value)
{
    int64_t r = nbdkit_parse_size(value);

    if (r == -1)
        return -1;
    if (r < 4096 || r > (INT64_C(1) << 31) || (r & (r - 1)) != 0) {
        nbdkit_error("cow-block-size is out of range (4096..2G) "
                     "or not a power of 2");
        return -1;
    }
    blksize = r;
    return 0;
}

static int
cow_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
           const char *value)
{
    int r;

    if (strcmp(key, "cow-block-size") == 0)
        return cow_parse_block_size(value);
    if (strcmp(key, "cow-on-cache") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        on_cache = r;
        return 0;
    }
    if (strcmp(key, "cow-on-read") == 0)
        return overlay_switch_parse(&on_read, value, nbdkit_parse_bool);
    return next(nxdata, key, value);
}

#define cow_config_help                                                        \
    "cow-block-size=<N>    Set COW block size (default 64K).\n"                \
    "cow-on-cache=<BOOL>   Copy cache (prefetch) requests to the overlay.\n"   \
    "cow-on-read=<BOOL>|/PATH  Copy read requests to the overlay."

static int
cow_get_ready(int thread_model)
{
    if (overlay_init(&ov, blksize, 2) == -1) {
        nbdkit_error("cow: cannot create the overlay file: %m");
        return -1;
    }
    return 0;
}

static void *
cow_open(nbdkit_next_open *next, nbdkit_context *nxdata, int readonly,
         const char *exportname, int is_tls)
{
    if (next(nxdata, 1, exportname) == -1)
        return NULL;
    return NBDKIT_HANDLE_NOT_NEEDED;
}

/* The plugin's size; the overlay grows to cover it. */
static int64_t
cow_get_size(nbdkit_next *next, void *handle)
{
    int64_t size = overlay_grow_below(&ov, next);

    if (size == -1 && errno != 0)
        nbdkit_error("cow: cannot resize the overlay: %m");
    return size;
}

static int
cow_prepare(nbdkit_next *next, void *handle, int readonly)
{
    return cow_get_size(next, handle) == -1 ? -1 : 0;
}

static int
cow_can_write(nbdkit_next *next, void *handle)
{
    return 1;
}

static int
cow_can_zero(nbdkit_next *next, void *handle)
{
    return NBDKIT_ZERO_NATIVE;
}

static int
cow_can_fua(nbdkit_next *next, void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
cow_can_cache(nbdkit_next *next, void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* Writable, trims, flushes, extents, multi-conn: all ours, not the
 * plugin's.
 */
static int
cow_yes(nbdkit_next *next, void *handle)
{
    return 1;
}

/* Block blk's current contents into buf (blksize bytes, zero-padded past
 * the disk's end).  Caller holds the block's lock.
 */
static int
cow_load(nbdkit_next *next, char *buf, uint64_t blk, int *err)
{
    switch (overlay_get(&ov, blk)) {
    case COW_ALLOCATED:
        if (overlay_read(&ov, buf, blk) == -1) {
            *err = errno;
            nbdkit_error("cow: overlay read: %m");
            return -1;
        }
        return 0;
    case COW_TRIMMED:
        memset(buf, 0, blksize);
        return 0;
    }
    return overlay_fetch(&ov, next, buf, blk, err);
}

/* Stores buf as block blk.  Caller holds the block's lock. */
static int
cow_store(const char *buf, uint64_t blk, int *err)
{
    if (overlay_write(&ov, buf, blk) == -1) {
        *err = errno;
        nbdkit_error("cow: overlay write: %m");
        return -1;
    }
    overlay_set(&ov, blk, COW_ALLOCATED);
    return 0;
}

/* Frees block blk's space; it reads as zeroes.  Caller holds its lock. */
static int
cow_discard(uint64_t blk, int *err)
{
    if (overlay_discard(&ov, blk) == -1) {
        *err = errno;
        nbdkit_error("cow: overlay discard: %m");
        return -1;
    }
    overlay_set(&ov, blk, COW_TRIMMED);
    return 0;
}

/* What a request's per-block callbacks need. */
struct cow_req {
    nbdkit_next *next;
    char *buf;    /* the client's buffer, or NULL for zeroes */
    char *bounce; /* owned: one block, allocated when first needed */
    int copy;     /* pread: copy plugin data into the overlay */
    int *err;
};

/* The request's whole-block buffer; NULL after nbdkit_error. */
static char *
cow_bounce(struct cow_req *q)
{
    if (overlay_bounce(&ov, &q->bounce) == NULL) {
        *q->err = errno;
        nbdkit_error("malloc: %m");
    }
    return q->bounce;
}

/* Reads or writes a piece in place in the overlay file, which holds its
 * block (or reads as zeroes there).  Caller holds the block's lock.
 */
static int
cow_part(const struct overlay_piece *p, char *buf, int wr, int *err)
{
    int r = wr ? overlay_write_part(&ov, buf, p->blk, p->start, p->len)
               : overlay_read_part(&ov, buf, p->blk, p->start, p->len);

    if (r == -1) {
        *err = errno;
        nbdkit_error("cow: overlay %s: %m", wr ? "write" : "read");
    }
    return r;
}

static int
cow_read_piece(const struct overlay_piece *p, void *opaque)
{
    struct cow_req *q = opaque;
    unsigned state;
    int r = 0;

    overlay_lock(&ov, p->blk);
    state = overlay_get(&ov, p->blk);
    if (state == COW_MISSING && !q->copy)
        r = q->next->pread(q->next, q->buf + p->pos, p->len,
                           p->blk * blksize + p->start, 0, q->err);
    else if (state == COW_ALLOCATED)
        r = cow_part(p, q->buf + p->pos, 0, q->err);
    else if (state == COW_TRIMMED)
        memset(q->buf + p->pos, 0, p->len);
    else if (cow_bounce(q) == NULL)
        r = -1;
    else {
        r = cow_load(q->next, q->bounce, p->blk, q->err);
        if (r == 0)
            r = cow_store(q->bounce, p->blk, q->err);
        if (r == 0)
            memcpy(q->buf + p->pos, q->bounce + p->start, p->len);
    }
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Writes (or zeroes, with q->buf NULL) part of a block the overlay
 * file holds or reads as zeroes, in place.  Caller holds its lock.
 */
static int
cow_write_part(const struct overlay_piece *p, struct cow_req *q)
{
    char *src = q->buf ? q->buf + p->pos : NULL;

    if (src == NULL) {
        if (cow_bounce(q) == NULL)
            return -1;
        src = memset(q->bounce, 0, p->len);
    }
    if (cow_part(p, src, 1, q->err) == -1)
        return -1;
    overlay_set(&ov, p->blk, COW_ALLOCATED);
    return 0;
}

/* Writes (or zeroes, with q->buf NULL) one block's part. */
static int
cow_write_piece(const struct overlay_piece *p, void *opaque)
{
    struct cow_req *q = opaque;
    int r = 0;

    overlay_lock(&ov, p->blk);
    if (q->buf == NULL && p->whole)
        r = cow_discard(p->blk, q->err);
    else if (p->whole && p->len == blksize)
        r = cow_store(q->buf + p->pos, p->blk, q->err);
    else if (overlay_get(&ov, p->blk) != COW_MISSING)
        r = cow_write_part(p, q);
    else if (cow_bounce(q) == NULL)
        r = -1;
    else {
        r = cow_load(q->next, q->bounce, p->blk, q->err);
        if (r == 0) {
            if (q->buf)
                memcpy(q->bounce + p->start, q->buf + p->pos, p->len);
            else
                memset(q->bounce + p->start, 0, p->len);
            r = cow_store(q->bounce, p->blk, q->err);
        }
    }
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Trim frees whole blocks; the parts of blocks it covers only partly
 * keep their data, which the protocol allows.
 */
static int
cow_trim_piece(const struct overlay_piece *p, void *opaque)
{
    struct cow_req *q = opaque;
    int r;

    if (!p->whole)
        return 0;
    overlay_lock(&ov, p->blk);
    r = cow_discard(p->blk, q->err);
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Copies a block the overlay lacks from the plugin (cow-on-cache). */
static int
cow_cache_piece(const struct overlay_piece *p, void *opaque)
{
    struct cow_req *q = opaque;
    int r = 0;

    overlay_lock(&ov, p->blk);
    if (overlay_get(&ov, p->blk) == COW_MISSING) {
        r = cow_bounce(q) == NULL
                ? -1
                : cow_load(q->next, q->bounce, p->blk, q->err);
        if (r == 0)
            r = cow_store(q->bounce, p->blk, q->err);
    }
    overlay_unlock(&ov, p->blk);
    return r;
}

/* Runs fn over the blocks of [offset, offset+count), with a bounce
 * buffer if one needs it, then syncs the overlay if FUA was asked.
 */
static int
cow_run(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
        uint32_t flags, int copy,
        int (*fn)(const struct overlay_piece *, void *), int *err)
{
    struct cow_req q = {next, buf, NULL, copy, err};
    int r;

    r = overlay_split(&ov, offset, count, fn, &q);
    free(q.bounce);
    if (r == 0 && (flags & NBDKIT_FLAG_FUA) && overlay_sync(&ov) == -1) {
        *err = errno;
        nbdkit_error("cow: fdatasync: %m");
        return -1;
    }
    return r;
}

static int
cow_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
          uint64_t offset, uint32_t flags, int *err)
{
    return cow_run(next, buf, count, offset, 0, overlay_switch_on(&on_read),
                   cow_read_piece, err);
}

static int
cow_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    return cow_run(next, (void *)buf, count, offset, flags, 0, cow_write_piece,
                   err);
}

static int
cow_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    return cow_run(next, NULL, count, offset, flags, 0, cow_write_piece, err);
}

static int
cow_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    return cow_run(next, NULL, count, offset, flags, 0, cow_trim_piece, err);
}

static int
cow_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    if (overlay_sync(&ov) == -1) {
        *err = errno;
        nbdkit_error("cow: fdatasync: %m");
        return -1;
    }
    return 0;
}

static int
cow_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
          uint32_t flags, int *err)
{
    if (!on_cache)
        return next->cache(next, count, offset, flags, err);
    return cow_run(next, NULL, count, offset, 0, 0, cow_cache_piece, err);
}

/* Runs of blocks in one state: allocated is data, trimmed a hole that
 * reads as zeroes, missing whatever the plugin says.
 */
static int
cow_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    uint64_t end = offset + count, blk, start, stop;
    unsigned state;
    int r;

    for (start = offset; start < end; start = stop) {
        blk = start / blksize;
        state = overlay_get(&ov, blk);
        for (stop = (blk + 1) * blksize;
             stop < end && overlay_get(&ov, stop / blksize) == state;)
            stop += blksize;
        if (stop > end)
            stop = end;
        if (state == COW_MISSING)
            r = overlay_extents_below(next, start, stop, flags, extents, err);
        else {
            r = nbdkit_add_extent(extents, start, stop - start,
                                  state == COW_TRIMMED
                                      ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO
                                      : 0);
            if (r == -1)
                *err = errno;
        }
        if (r == -1)
            return -1;
        if (flags & NBDKIT_FLAG_REQ_ONE)
            break;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "cow",
    .longname = "nbdx copy-on-write (COW) filter",
    .unload = cow_unload,
    .config = cow_config,
    .config_help = cow_config_help,
    .get_ready = cow_get_ready,
    .open = cow_open,
    .prepare = cow_prepare,
    .get_size = cow_get_size,
    .can_write = cow_can_write,
    .can_flush = cow_yes,
    .can_trim = cow_yes,
    .can_zero = cow_can_zero,
    .can_fast_zero = cow_yes,
    .can_extents = cow_yes,
    .can_fua = cow_can_fua,
    .can_multi_conn = cow_yes,
    .can_cache = cow_can_cache,
    .pread = cow_pread,
    .pwrite = cow_pwrite,
    .zero = cow_zero,
    .trim = cow_trim,
    .flush = cow_flush,
    .cache = cow_cache,
    .extents = cow_extents,
};

NBDKIT_REGISTER_FILTER(filter)
