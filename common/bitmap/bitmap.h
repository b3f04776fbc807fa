/* SPDX-License-Identifier: BSD-3-Clause */
/* bitmap.h: a small state (1, 2, 4 or 8 bits) for each block of a disk.
 *
 * Filters that track blocks, such as a copy-on-write overlay (clean,
 * dirty) or a cache (absent, clean, dirty), keep one state per block of
 * blksize bytes.  Every block starts in state 0.
 *
 *     struct bitmap bm;
 *     if (bitmap_init(&bm, 65536, 2) == -1 ||
 *         bitmap_resize(&bm, disk_size) == -1)
 *         ... errno is EINVAL or ENOMEM ...
 *     bitmap_set(&bm, offset / 65536, 3);
 *     ... bitmap_get(&bm, blk), bitmap_next_set(&bm, blk) ...
 *     bitmap_free(&bm);
 *
 * Ownership: the struct is the caller's (usually static or in a handle);
 * bitmap_init and bitmap_resize allocate the bits it points to, and
 * bitmap_free releases them.  Block numbers must be below bm->nblocks
 * (asserted): validate offsets against the disk size first.
 *
 * Thread-safety: none.  Calls that only read may run in parallel; anything
 * that writes (set, resize, free) needs the caller's lock, held over reads
 * as well.
 */

#ifndef NBDX_BITMAP_H
#define NBDX_BITMAP_H

#include <stdint.h>

struct bitmap {
    uint8_t *bits;    /* owned; nblocks states packed low bits first */
    uint64_t nblocks; /* blocks covered, at most INT64_MAX */
    uint64_t blksize; /* bytes per block, a power of 2 */
    unsigned bpb;     /* bits per block: 1, 2, 4 or 8 */
};

/* An empty bitmap (0 blocks).  -1 with errno EINVAL unless blksize is a
 * power of 2 and bpb is 1, 2, 4 or 8.
 */
extern int bitmap_init(struct bitmap *bm, uint64_t blksize, unsigned bpb);

/* Releases the bits and leaves bm empty, as after bitmap_init. */
extern void bitmap_free(struct bitmap *bm);

/* Covers a disk of size bytes: the last block may be partial.  Blocks
 * that were already covered keep their states, new ones are 0.  -1 with
 * errno ENOMEM leaves bm unchanged.
 */
extern int bitmap_resize(struct bitmap *bm, uint64_t size);

/* The state of block blk, from 0 to 2^bpb - 1. */
extern unsigned bitmap_get(const struct bitmap *bm, uint64_t blk);

/* Sets block blk to state v, which must be below 2^bpb. */
extern void bitmap_set(struct bitmap *bm, uint64_t blk, unsigned v);

/* The first block at or after blk whose state is not 0, or -1 if none
 * (including when blk >= nblocks).
 */
extern int64_t bitmap_next_set(const struct bitmap *bm, uint64_t blk);

/* The first block at or after blk in state 0, or -1 if none. */
extern int64_t bitmap_next_clear(const struct bitmap *bm, uint64_t blk);

#endif /* NBDX_BITMAP_H */
