/* SPDX-License-Identifier: BSD-3-Clause */
/* bitmap.c: the per-block state bitmap of bitmap.h.
 *
 * Block blk's state is bits [(blk % per) * bpb, + bpb) of byte blk / per,
 * where per = 8 / bpb blocks share a byte.  The unused fields of the last
 * byte are always 0, so growing the bitmap needs only to clear new bytes
 * and a search may look at whole bytes.
 */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "minmax.h"

int
bitmap_init(struct bitmap *bm, uint64_t blksize, unsigned bpb)
{
    if (!IS_POWER_OF_2(blksize) ||
        (bpb != 1 && bpb != 2 && bpb != 4 && bpb != 8)) {
        errno = EINVAL;
        return -1;
    }
    bm->bits = NULL;
    bm->nblocks = 0;
    bm->blksize = blksize;
    bm->bpb = bpb;
    return 0;
}

void
bitmap_free(struct bitmap *bm)
{
    free(bm->bits);
    bm->bits = NULL;
    bm->nblocks = 0;
}

static uint64_t
bitmap_bytes(const struct bitmap *bm, uint64_t nblocks)
{
    unsigned per = 8 / bm->bpb;

    return nblocks / per + (nblocks % per != 0);
}

/* Clear the fields of blocks nblocks and up in their shared last byte. */
static void
bitmap_clear_tail(struct bitmap *bm, uint64_t nblocks)
{
    unsigned per = 8 / bm->bpb, used = (nblocks % per) * bm->bpb;

    if (used != 0)
        bm->bits[nblocks / per] &= (1u << used) - 1;
}

int
bitmap_resize(struct bitmap *bm, uint64_t size)
{
    uint64_t nblocks = size / bm->blksize + (size % bm->blksize != 0);
    size_t old_bytes = bitmap_bytes(bm, bm->nblocks);
    uint64_t new_bytes = bitmap_bytes(bm, nblocks);
    uint8_t *p;

    if (nblocks > INT64_MAX || (size_t)new_bytes != new_bytes) {
        errno = ENOMEM;
        return -1;
    }
    if (new_bytes == 0) {
        free(bm->bits);
        bm->bits = NULL;
    } else if (new_bytes != old_bytes) {
        p = realloc(bm->bits, new_bytes);
        if (p == NULL)
            return -1;
        if (new_bytes > old_bytes)
            memset(p + old_bytes, 0, new_bytes - old_bytes);
        bm->bits = p;
    }
    if (nblocks < bm->nblocks)
        bitmap_clear_tail(bm, nblocks);
    bm->nblocks = nblocks;
    return 0;
}

unsigned
bitmap_get(const struct bitmap *bm, uint64_t blk)
{
    unsigned per = 8 / bm->bpb, shift = (blk % per) * bm->bpb;

    assert(blk < bm->nblocks);
    return (bm->bits[blk / per] >> shift) & ((1u << bm->bpb) - 1);
}

void
bitmap_set(struct bitmap *bm, uint64_t blk, unsigned v)
{
    unsigned per = 8 / bm->bpb, shift = (blk % per) * bm->bpb;
    unsigned mask = ((1u << bm->bpb) - 1) << shift;
    uint8_t *byte;

    assert(blk < bm->nblocks);
    assert(v < 1u << bm->bpb);
    byte = &bm->bits[blk / per];
    *byte = (*byte & ~mask) | (v << shift);
}

/* The first block at or after blk whose state is (want_set ? not 0 : 0).
 * Runs of 8 bytes, then single bytes, with nothing wanted are skipped
 * whole: all 0 when looking for a set block, all 1s for a clear one.
 */
static int64_t
bitmap_find(const struct bitmap *bm, uint64_t blk, bool want_set)
{
    const uint64_t per = 8 / bm->bpb;
    const uint64_t skip_word = want_set ? 0 : UINT64_MAX;
    const uint8_t skip_byte = want_set ? 0 : 0xff;
    uint64_t word;

    while (blk < bm->nblocks) {
        if (blk % (per * 8) == 0 && bm->nblocks - blk >= per * 8) {
            memcpy(&word, &bm->bits[blk / per], sizeof word);
            if (word == skip_word) {
                blk += per * 8;
                continue;
            }
        }
        if (blk % per == 0 && bm->bits[blk / per] == skip_byte) {
            blk += per;
            continue;
        }
        if ((bitmap_get(bm, blk) != 0) == want_set)
            return blk;
        blk++;
    }
    return -1;
}

int64_t
bitmap_next_set(const struct bitmap *bm, uint64_t blk)
{
    return bitmap_find(bm, blk, true);
}

int64_t
bitmap_next_clear(const struct bitmap *bm, uint64_t blk)
{
    return bitmap_find(bm, blk, false);
}
