/* SPDX-License-Identifier: BSD-3-Clause */
/* objdisk.h: a writable disk stored as one object per fixed-size block
 * in an object store (the swift and s3 plugins' size= mode).
 *
 * A block never written, or all zeros, has no object: it reads as zeros
 * and is a hole.  Which blocks exist is a bitmap in memory, filled by
 * the caller from a listing at start-up (objdisk_mark), so the store
 * must have no other writer meanwhile.  A write of part of a block is a
 * read-modify-write of the whole block under that block's lock (one of
 * OBJDISK_LOCKS striped mutexes); whole blocks of zeros, and trims of
 * whole blocks, delete the object instead.
 *
 * The store is three callbacks, each on one block, each synchronous and
 * each logging its own errors.  They run with the block's lock held,
 * except get for a plain read.  Every function here is thread safe.
 * Lock order: a block lock, then the bitmap's lock.
 */

#ifndef NBDX_OBJDISK_H
#define NBDX_OBJDISK_H

#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-plugin.h> /* struct nbdkit_extents */

#define OBJDISK_LOCKS 64

struct objdisk_ops {
    /* len bytes at off within block blk: 1, or 0 if the object does not
     * exist (it then reads as zeros), or -1 after an error.
     */
    int (*get)(void *opaque, uint64_t blk, char *buf, uint32_t len,
               uint32_t off);
    /* Store the whole block (len bytes): 0 or -1. */
    int (*put)(void *opaque, uint64_t blk, const char *buf, uint32_t len);
    /* Remove the block's object: 0 or -1. */
    int (*del)(void *opaque, uint64_t blk);
    /* objdisk's own failure (no memory): say why; errno is set. */
    void (*error)(void *opaque, const char *what);
};

struct objdisk;

/* A disk of size bytes in blocks of block_size: NULL with errno set. */
extern struct objdisk *objdisk_new(uint64_t size, uint32_t block_size,
                                   const struct objdisk_ops *ops, void *opaque);
extern void objdisk_free(struct objdisk *d);

extern uint64_t objdisk_nr_blocks(const struct objdisk *d);

/* Record that block blk's object exists (blocks past the end are
 * ignored): for the listing at start-up.
 */
extern void objdisk_mark(struct objdisk *d, uint64_t blk);
extern bool objdisk_present(struct objdisk *d, uint64_t blk);

/* The data path, with the plugin callbacks' meaning; data NULL in
 * objdisk_pwrite writes zeros.  0 or -1.
 */
extern int objdisk_pread(struct objdisk *d, char *buf, uint32_t count,
                         uint64_t offset);
extern int objdisk_pwrite(struct objdisk *d, const char *data, uint32_t count,
                          uint64_t offset);
/* Whole blocks only: the rest of a trim is ignored, as it may be. */
extern int objdisk_trim(struct objdisk *d, uint32_t count, uint64_t offset);
/* Present blocks as data, missing ones as zero holes. */
extern int objdisk_extents(struct objdisk *d, uint32_t count, uint64_t offset,
                           struct nbdkit_extents *extents);

#endif /* NBDX_OBJDISK_H */
