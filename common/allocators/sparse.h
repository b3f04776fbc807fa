/* SPDX-License-Identifier: BSD-3-Clause */
/* sparse.h: a sparse byte array backed by a two-level page table.
 *
 * The array is SPARSE_MAX_SIZE bytes long and starts out all zero.  Memory
 * is only held for SPARSE_PAGE_SIZE pages that were written with non-zero
 * data (and for the pages of writes staged with sparse_array_stage, and a
 * few MiB of pages kept to recycle for them); zeroing a
 * whole page gives its memory back to the system.  All functions are
 * thread-safe: each array carries its own rwlock.  Callers check ranges;
 * the array trusts offset + count <= SPARSE_MAX_SIZE, and count > 0 for
 * sparse_array_read_begin and sparse_array_stage.
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

/* One piece of a staged write: len writable bytes at base. */
struct sparse_wpiece {
    void *base;
    uint64_t len;
};
/* A write of [offset, offset + count) staged outside the array, which
 * changes only when it is committed.
 */
struct sparse_stage;
/* Describes writable memory for all of [offset, offset + count) in at
 * most max pieces (max >= 1), in order, stores how many in *n and the
 * stage in *stage, and returns 0; or -1 with errno ENOMEM, or E2BIG if
 * it needs more than max pieces.  The memory belongs to the caller, who
 * may fill it slowly and without a lock; the array does not see it.  It
 * may hold old bytes of this array (recycled whole pages): fill every
 * byte before sparse_array_commit, or the unfilled ones are undefined.  Every stage ends with exactly one sparse_array_commit
 * or sparse_array_abort, from any thread.
 */
int sparse_array_stage(struct sparse_array *sa, uint32_t count,
                       uint64_t offset, struct sparse_wpiece *iov, size_t max,
                       size_t *n, struct sparse_stage **stage);
/* Writes the staged bytes into the array as sparse_array_write would (the
 * whole pages are swapped in rather than copied; those that are all zero
 * are dropped) and frees the stage.  Returns 0, or -1 with errno ENOMEM
 * (part of the data may be written).
 */
int sparse_array_commit(struct sparse_array *sa, struct sparse_stage *stage);
/* Frees the stage; the array is as it was. */
void sparse_array_abort(struct sparse_array *sa, struct sparse_stage *stage);
/* Zeroes [offset, offset + count), removing the pages left all zero. */
void sparse_array_zero(struct sparse_array *sa, uint32_t count,
                       uint64_t offset);
/* Describes [offset, offset + count) through fn; returns 0, or -1 if fn
 * did.
 */
int sparse_array_extents(struct sparse_array *sa, uint32_t count,
                         uint64_t offset, sparse_extent_fn fn, void *opaque);

#endif /* NBDX_SPARSE_H */
