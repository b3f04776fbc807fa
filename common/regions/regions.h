/* SPDX-License-Identifier: BSD-3-Clause */
/* regions.h: a virtual disk described as consecutive byte regions.
 *
 * Plugins that assemble a disk (a partition table followed by partitions,
 * a filesystem image made of headers and files) append its pieces in
 * order; each piece is a region with a type saying where its bytes come
 * from.  The regions cover [0, regions_size()) with no gaps and no
 * overlaps: padding between pieces is a region of zeroes.  A read at an
 * offset finds its region by binary search.
 *
 *     struct regions rs;
 *     regions_init(&rs);
 *     if (regions_append(&rs, 512, REGION_DATA, mbr) == -1 ||
 *         regions_pad(&rs, 1048576) == -1 ||
 *         regions_append(&rs, file_size, REGION_FILE, file) == -1)
 *         ... errno is ENOMEM or EOVERFLOW ...
 *     r = regions_find(&rs, offset);   ... r->start <= offset < r->end
 *     regions_free(&rs);
 *
 * Ownership: the struct is the caller's; the array of regions is
 * allocated by regions_append and regions_pad and released by
 * regions_free.  A region's data pointer stays the caller's: it is stored,
 * never copied, dereferenced or freed.  Pointers returned by regions_find
 * and regions_get are valid until the next append, pad or free.
 *
 * Thread-safety: none while the list is built; once complete it is only
 * read, and lookups may run in any number of threads.
 */

#ifndef NBDX_REGIONS_H
#define NBDX_REGIONS_H

#include <stddef.h>
#include <stdint.h>

#include "vector.h"

enum region_type {
    REGION_ZERO, /* reads as zeroes: padding, unallocated space */
    REGION_DATA, /* the bytes at data, end - start of them */
    REGION_FILE, /* the contents of the caller's file, described by data */
};

struct region {
    uint64_t start; /* first byte */
    uint64_t end;   /* one past the last byte; end > start */
    enum region_type type;
    const void *data; /* the caller's; NULL for REGION_ZERO */
};

DEFINE_VECTOR_TYPE(region_vector, struct region)

struct regions {
    region_vector v; /* ordered by start, each starting at the last end */
};

extern void regions_init(struct regions *rs);

/* Releases the array, not the data pointers; rs is left empty. */
extern void regions_free(struct regions *rs);

/* How many regions, and the byte after the last one: the disk size. */
extern size_t regions_count(const struct regions *rs);
extern uint64_t regions_size(const struct regions *rs);

/* Region i, which must be below regions_count (asserted). */
extern const struct region *regions_get(const struct regions *rs, size_t i);

/* Appends len bytes of the given type at the end; len 0 appends nothing.
 * -1 with errno EOVERFLOW if the disk would pass INT64_MAX bytes (the
 * largest size a plugin can report), or ENOMEM.
 */
extern int regions_append(struct regions *rs, uint64_t len,
                          enum region_type type, const void *data);

/* Appends a REGION_ZERO region that brings the size up to a multiple of
 * alignment (any value from 1 up; nothing if it already is one).  Errors
 * as regions_append, and EINVAL if alignment is 0.
 */
extern int regions_pad(struct regions *rs, uint64_t alignment);

/* The region holding byte offset, or NULL if offset >= regions_size. */
extern const struct region *regions_find(const struct regions *rs,
                                         uint64_t offset);

#endif /* NBDX_REGIONS_H */
