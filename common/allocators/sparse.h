/* SPDX-License-Identifier: BSD-3-Clause */
/* sparse.h: a sparse byte array backed by a two-level page table.
 *
 * The array is SPARSE_MAX_SIZE bytes long and starts out all zero.  Memory
 * is only held for SPARSE_PAGE_SIZE pages that were written with non-zero
 * data (or are being written through sparse_array_write_begin); zeroing a
 * whole page gives its memory back to the system.  All functions are
 * thread-safe: each array carries its own rwlock.  Callers check ranges;
 * the array trusts offset + count <= SPARSE_MAX_SIZE, and count > 0 for
 * the _begin functions.
 */

#ifndef NBDX_SPARSE_H
#define NBDX_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#define SPARSE_PAGE_SIZE 32768
#define SPARSE_MAX_SIZE INT64_MAX

/* What sparse_array_extents reports for a run of bytes. */
#define SPARSE_DATA 0 /* allocated, contains non-zero bytes */
#define SPARSE_ZERO 1 /* allocated, all zero */
#define SPARSE_HOLE 2 /* not allocated, reads as zero */

struct sparse_array;

/* Called once per run of equal state, in ascending order; return -1 to
 * stop the walk.
 */
typedef int (*sparse_extent_fn)(void *opaque, uint64_t offset, uint64_t length,
                                int state);

/* Returns a new empty array, or NULL with errno set.  Free it with
 * sparse_array_free (NULL is a no-op).
 */
struct sparse_array *sparse_array_new(void);
void sparse_array_free(struct sparse_array *sa);

void sparse_array_read(struct sparse_array *sa, void *buf, uint32_t count,
                       uint64_t offset);

/* One piece of a read without copying: len bytes at base, or len zero
 * bytes if base is NULL.
 */
struct sparse_piece {
    const void *base;
    uint64_t len;
};
/* Describes a prefix of [offset, offset + count) in at most max pieces
 * (max >= 1), merging runs of zeroes and pages that lie next to each
 * other in memory; stores how many in *n and returns the bytes covered.
 * The pieces point into the array, which stays locked (shared) until
 * sparse_array_read_end: call it soon, from the same thread.  Writes to
 * existing pages may still change the bytes.
 */
uint32_t sparse_array_read_begin(struct sparse_array *sa, uint32_t count,
                                 uint64_t offset, struct sparse_piece *iov,
                                 size_t max, size_t *n);
void sparse_array_read_end(struct sparse_array *sa);
/* Returns 0, or -1 with errno ENOMEM (part of the data may be written). */
int sparse_array_write(struct sparse_array *sa, const void *buf, uint32_t count,
                       uint64_t offset);

/* One piece of a zero-copy write: len writable bytes at base. */
struct sparse_wpiece {
    void *base;
    uint64_t len;
};
/* Describes writable page memory for a prefix of [offset, offset + count)
 * in at most max pieces (max >= 1), adding missing pages (which read as
 * zero until written).  Stores the number of pieces in *n and returns the
 * bytes they cover (> 0), or 0 with errno ENOMEM.  No lock is held on
 * return: the caller may fill the pieces slowly (for example straight from
 * a socket).  Until the matching sparse_array_write_end, the pieces' memory
 * stays valid even if a concurrent zero/trim removes those pages from the
 * array (such pages are freed later); concurrent readers may see the data
 * partly written, which the NBD protocol allows for overlapping requests.
 * Every call that returns > 0 needs exactly one sparse_array_write_end,
 * from any thread; a call that returns 0 needs none.
 */
uint32_t sparse_array_write_begin(struct sparse_array *sa, uint32_t count,
                                  uint64_t offset, struct sparse_wpiece *iov,
                                  size_t max, size_t *n);
/* Ends a sparse_array_write_begin.  filled is how many bytes from offset
 * the caller actually wrote (possibly less than covered, on error).
 * Pages lying wholly inside [offset, offset + filled) that are all zero
 * are removed, as sparse_array_write never allocates zero pages.
 */
void sparse_array_write_end(struct sparse_array *sa, uint32_t filled,
                            uint64_t offset);
/* Zeroes [offset, offset + count), removing the pages left all zero.  A
 * partly zeroed page stays (reading as zero) while any zero-copy write is
 * in progress, since that writer may be filling the rest of it.
 */
void sparse_array_zero(struct sparse_array *sa, uint32_t count,
                       uint64_t offset);
/* Describes [offset, offset + count) through fn; returns 0, or -1 if fn
 * did.
 */
int sparse_array_extents(struct sparse_array *sa, uint32_t count,
                         uint64_t offset, sparse_extent_fn fn, void *opaque);

#endif /* NBDX_SPARSE_H */
