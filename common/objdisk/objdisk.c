/* SPDX-License-Identifier: BSD-3-Clause */
/* objdisk.c: a disk of one object per block (see objdisk.h). */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "iszero.h"
#include "objdisk.h"

struct objdisk {
    uint64_t size, nr_blocks;
    uint32_t block_size;
    const struct objdisk_ops *ops;
    void *opaque;
    pthread_mutex_t present_lock;
    uint8_t *present; /* a bit per block; guarded by present_lock */
    pthread_mutex_t locks[OBJDISK_LOCKS]; /* block blk: blk % OBJDISK_LOCKS */
};

struct objdisk *
objdisk_new(uint64_t size, uint32_t block_size, const struct objdisk_ops *ops,
            void *opaque)
{
    struct objdisk *d;
    size_t i;

    if (block_size == 0) {
        errno = EINVAL;
        return NULL;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->size = size;
    d->block_size = block_size;
    d->nr_blocks = size / block_size + (size % block_size != 0);
    d->ops = ops;
    d->opaque = opaque;
    d->present = calloc(d->nr_blocks / 8 + 1, 1);
    if (d->present == NULL) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->present_lock, NULL);
    for (i = 0; i < OBJDISK_LOCKS; i++)
        pthread_mutex_init(&d->locks[i], NULL);
    return d;
}

void
objdisk_free(struct objdisk *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < OBJDISK_LOCKS; i++)
        pthread_mutex_destroy(&d->locks[i]);
    pthread_mutex_destroy(&d->present_lock);
    free(d->present);
    free(d);
}

uint64_t
objdisk_nr_blocks(const struct objdisk *d)
{
    return d->nr_blocks;
}

static void
objdisk_set_present(struct objdisk *d, uint64_t blk, bool on)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&d->present_lock);

    if (on)
        d->present[blk / 8] |= 1 << (blk % 8);
    else
        d->present[blk / 8] &= ~(1 << (blk % 8));
}

void
objdisk_mark(struct objdisk *d, uint64_t blk)
{
    if (blk < d->nr_blocks)
        objdisk_set_present(d, blk, true);
}

bool
objdisk_present(struct objdisk *d, uint64_t blk)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&d->present_lock);

    return blk < d->nr_blocks && (d->present[blk / 8] & (1 << (blk % 8)));
}

static uint32_t
objdisk_block_len(const struct objdisk *d, uint64_t blk)
{
    uint64_t left = d->size - blk * d->block_size;

    return left < d->block_size ? left : d->block_size;
}

/* len bytes at off within block blk; a missing block reads as zeros. */
static int
objdisk_read_block(struct objdisk *d, uint64_t blk, char *buf, uint32_t len,
                   uint32_t off)
{
    int r;

    if (!objdisk_present(d, blk)) {
        memset(buf, 0, len);
        return 0;
    }
    /* An object deleted by someone else reads as zeros.  The bit stays
     * set: without the block's lock, clearing it could undo a PUT that
     * finished meanwhile.
     */
    r = d->ops->get(d->opaque, blk, buf, len, off);
    if (r == 0)
        memset(buf, 0, len);
    return r == -1 ? -1 : 0;
}

/* Called with the block's lock held. */
static int
objdisk_delete_block(struct objdisk *d, uint64_t blk)
{
    if (!objdisk_present(d, blk))
        return 0;
    if (d->ops->del(d->opaque, blk) == -1)
        return -1;
    objdisk_set_present(d, blk, false);
    return 0;
}

/* The whole block; all zeros deletes it instead.  Called with the
 * block's lock held.
 */
static int
objdisk_store_block(struct objdisk *d, uint64_t blk, const char *buf)
{
    uint32_t len = objdisk_block_len(d, blk);

    if (is_zero(buf, len))
        return objdisk_delete_block(d, blk);
    if (d->ops->put(d->opaque, blk, buf, len) == -1)
        return -1;
    objdisk_set_present(d, blk, true);
    return 0;
}

/* len bytes of data (NULL: zeros) at off within block blk. */
static int
objdisk_write_block(struct objdisk *d, uint64_t blk, const char *data,
                    uint32_t len, uint32_t off)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&d->locks[blk % OBJDISK_LOCKS]);
    uint32_t blen = objdisk_block_len(d, blk);
    CLEANUP_FREE char *tmp = NULL;

    if (off == 0 && len == blen)
        return data ? objdisk_store_block(d, blk, data)
                    : objdisk_delete_block(d, blk);
    tmp = malloc(blen);
    if (tmp == NULL) {
        d->ops->error(d->opaque, "malloc");
        return -1;
    }
    if (objdisk_read_block(d, blk, tmp, blen, 0) == -1)
        return -1;
    if (data)
        memcpy(tmp + off, data, len);
    else
        memset(tmp + off, 0, len);
    return objdisk_store_block(d, blk, tmp);
}

/* The first piece of [offset, offset+count): its block, the offset in
 * the block and its length.
 */
static uint32_t
objdisk_piece(const struct objdisk *d, uint64_t offset, uint32_t count,
              uint64_t *blk, uint32_t *off)
{
    uint32_t n;

    *blk = offset / d->block_size;
    *off = offset % d->block_size;
    n = objdisk_block_len(d, *blk) - *off;
    return n < count ? n : count;
}

int
objdisk_pread(struct objdisk *d, char *buf, uint32_t count, uint64_t offset)
{
    uint64_t blk;
    uint32_t off, n;

    for (; count > 0; buf += n, offset += n, count -= n) {
        n = objdisk_piece(d, offset, count, &blk, &off);
        if (objdisk_read_block(d, blk, buf, n, off) == -1)
            return -1;
    }
    return 0;
}

int
objdisk_pwrite(struct objdisk *d, const char *data, uint32_t count,
               uint64_t offset)
{
    uint64_t blk;
    uint32_t off, n;

    for (; count > 0; data = data ? data + n : NULL, offset += n, count -= n) {
        n = objdisk_piece(d, offset, count, &blk, &off);
        if (objdisk_write_block(d, blk, data, n, off) == -1)
            return -1;
    }
    return 0;
}

int
objdisk_trim(struct objdisk *d, uint32_t count, uint64_t offset)
{
    uint64_t end = offset + count;
    uint64_t blk = (offset + d->block_size - 1) / d->block_size;

    for (; blk < d->nr_blocks &&
           blk * d->block_size + objdisk_block_len(d, blk) <= end;
         blk++) {
        ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&d->locks[blk % OBJDISK_LOCKS]);
        if (objdisk_delete_block(d, blk) == -1)
            return -1;
    }
    return 0;
}

int
objdisk_extents(struct objdisk *d, uint32_t count, uint64_t offset,
                struct nbdkit_extents *extents)
{
    uint64_t blk = offset / d->block_size;
    uint64_t end = offset + count;
    uint32_t type;

    for (; blk < d->nr_blocks && blk * d->block_size < end; blk++) {
        type = objdisk_present(d, blk)
                   ? 0
                   : NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
        if (nbdkit_add_extent(extents, blk * d->block_size,
                              objdisk_block_len(d, blk), type) == -1)
            return -1;
    }
    return 0;
}
