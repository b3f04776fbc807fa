/* SPDX-License-Identifier: BSD-3-Clause */
/* overlay.h: blocks of a disk kept in an unlinked temporary file, with a
 * small state per block and a lock per block.
 *
 * The copy-on-write and cache filters keep whole blocks of the disk
 * below them in a sparse file and remember, per block, where its data
 * is (cow: in the plugin, in the overlay, trimmed; cache: absent, clean,
 * dirty).  A request is cut into pieces, one per block it touches, with
 * overlay_split; each piece is handled under that block's lock.
 *
 *     struct overlay ov;
 *     if (overlay_init(&ov, 65536, 2) == -1 ||      errno EINVAL/ENOMEM/...
 *         overlay_resize(&ov, disk_size) == -1)
 *         ...
 *     overlay_lock(&ov, blk);
 *     if (overlay_get(&ov, blk) == 0) ... overlay_write(&ov, buf, blk) ...
 *     overlay_unlock(&ov, blk);
 *     overlay_free(&ov);
 *
 * The file is created in $TMPDIR, or /var/tmp if that is unset, and
 * unlinked at once: it disappears when the process exits, however it
 * exits.
 *
 * Blocks in a state other than 0 count as held (overlay_count), and
 * carry a "used" mark for a clock that picks the block to drop when the
 * overlay must shrink (overlay_touch, overlay_victim): a block coming
 * into a non-zero state is unmarked, one used again while held is
 * marked, and the clock hand clears the marks it passes and stops at
 * the first unmarked held block.  So a block read once and never again
 * goes before one in steady use, and one pass over the disk does not
 * push out the blocks in use.
 *
 * A filter's cow-on-read or cache-on-read parameter (a boolean, or an
 * absolute /PATH whose existence switches the behaviour) is kept in a
 * struct overlay_switch.
 *
 * Locks: block blk is guarded by stripe lock blk % OVERLAY_STRIPES,
 * taken by overlay_lock; hold it over everything done to one block (a
 * read-modify-write, a copy from the plugin).  The states share bytes
 * between neighbouring blocks, so overlay_get and overlay_set take an
 * inner mutex of their own for the moment of the access; it guards the
 * count, the marks and the clock hand too.  overlay_grow has a mutex of
 * its own.  Take at most
 * one stripe lock at a time: that is the whole lock order.
 *
 * Ownership: the struct is the caller's; init opens the file and
 * allocates the states, free closes and releases them.  Nothing here
 * logs: failures return -1 with errno set.
 */

#ifndef NBDX_OVERLAY_H
#define NBDX_OVERLAY_H

#include <pthread.h>
#include <stdint.h>

#include "bitmap.h"

#define OVERLAY_STRIPES 64

struct overlay {
    int fd;                     /* the unlinked file, owned */
    uint64_t blksize;           /* bytes per block, a power of 2 */
    uint64_t size;              /* bytes of the disk covered */
    struct bitmap states;       /* guarded by state_lock */
    struct bitmap used;         /* 1 bit per block, guarded by state_lock */
    uint64_t held;              /* blocks in a non-zero state, state_lock */
    uint64_t hand;              /* the clock's next block, state_lock */
    pthread_mutex_t state_lock; /* inner, held briefly */
    pthread_mutex_t size_lock;  /* overlay_grow */
    pthread_mutex_t stripes[OVERLAY_STRIPES]; /* see "Locks" above */
};

/* Opens the temporary file; no blocks yet.  -1 with errno EINVAL unless
 * blksize is a power of 2 and bpb is 1, 2, 4 or 8, or errno from
 * mkstemp.
 */
extern int overlay_init(struct overlay *ov, uint64_t blksize, unsigned bpb);

/* Closes the file and frees the states; a second call is harmless. */
extern void overlay_free(struct overlay *ov);

/* Covers a disk of size bytes: the file becomes size rounded up to a
 * whole block (sparse), new blocks are in state 0.  -1 with errno on
 * failure, leaving the old size.
 */
extern int overlay_resize(struct overlay *ov, uint64_t size);

/* overlay_resize to size if that is more than the overlay covers now;
 * safe from any thread.  -1 with errno on failure.
 */
extern int overlay_grow(struct overlay *ov, uint64_t size);

/* The number of blocks, the last one maybe partial. */
extern uint64_t overlay_nblocks(const struct overlay *ov);

/* The bytes of block blk that are inside the disk (blksize except
 * perhaps for the last block).
 */
extern uint64_t overlay_block_len(const struct overlay *ov, uint64_t blk);

extern void overlay_lock(struct overlay *ov, uint64_t blk);
extern void overlay_unlock(struct overlay *ov, uint64_t blk);

/* A block's state, and setting it; safe from any thread. */
extern unsigned overlay_get(struct overlay *ov, uint64_t blk);
extern void overlay_set(struct overlay *ov, uint64_t blk, unsigned v);

/* The number of blocks in a non-zero state. */
extern uint64_t overlay_count(struct overlay *ov);

/* Marks block blk as used, if it is in a non-zero state. */
extern void overlay_touch(struct overlay *ov, uint64_t blk);

/* Moves the clock on to the next held block not used since the hand
 * last passed it, clearing the marks on the way, and returns it; -1 if
 * no block is held.  The block stays as it is: the caller takes its
 * lock and drops it (and may find it changed meanwhile).
 */
extern int64_t overlay_victim(struct overlay *ov);

/* The first block at or after blk whose state is v, or -1. */
extern int64_t overlay_find(struct overlay *ov, uint64_t blk, unsigned v);

/* Reads or writes the whole of block blk (blksize bytes) in the file.
 * 0, or -1 with errno.
 */
extern int overlay_read(struct overlay *ov, void *buf, uint64_t blk);
extern int overlay_write(struct overlay *ov, const void *buf, uint64_t blk);

/* The same for len bytes from byte start of block blk (start + len at
 * most blksize): a block the file holds, or one whose space was freed
 * (it reads as zeroes), need not go through a whole-block buffer.
 */
/* *bounce, or a new one-block buffer stored there on first use, which
 * the caller frees.  NULL with errno.
 */
extern char *overlay_bounce(const struct overlay *ov, char **bounce);

extern int overlay_read_part(struct overlay *ov, void *buf, uint64_t blk,
                             uint64_t start, uint64_t len);
extern int overlay_write_part(struct overlay *ov, const void *buf, uint64_t blk,
                              uint64_t start, uint64_t len);

/* Frees the file's space for block blk (it then reads as zeroes).  A
 * file system that cannot punch holes is not an error: the block is
 * overwritten with zeroes instead.  0, or -1 with errno.
 */
extern int overlay_discard(struct overlay *ov, uint64_t blk);

/* Bytes the file has allocated (st_blocks * 512); -1 with errno. */
extern int64_t overlay_allocated(struct overlay *ov);

/* fdatasync of the file.  0, or -1 with errno. */
extern int overlay_sync(struct overlay *ov);

/* One block's part of a request: bytes [start, start+len) of block blk,
 * which are bytes [pos, pos+len) of the request.  whole is 1 if the
 * piece is all of the block (the last, partial block counts as whole
 * when the piece covers all of it).
 */
struct overlay_piece {
    uint64_t blk, start, len, pos;
    int whole;
};

/* Calls fn(&piece, opaque) for each block the request [offset,
 * offset+count) touches, in order, stopping at the first non-zero
 * return, which it returns.  The request must lie inside the disk.
 */
extern int overlay_split(const struct overlay *ov, uint64_t offset,
                         uint64_t count,
                         int (*fn)(const struct overlay_piece *, void *),
                         void *opaque);

/* A boolean parameter that may instead be an absolute /PATH: on while
 * the path exists.  path points into the caller's string.
 */
struct overlay_switch {
    int on;
    const char *path;
};

/* Sets s from value: a path if it starts with '/', else parse_bool's
 * answer (nbdkit_parse_bool, which says what is wrong).  0, or -1 as
 * parse_bool returned, leaving s as it was.
 */
extern int overlay_switch_parse(struct overlay_switch *s, const char *value,
                                int (*parse_bool)(const char *));

/* Whether s is on now. */
extern int overlay_switch_on(const struct overlay_switch *s);

#endif /* NBDX_OVERLAY_H */
