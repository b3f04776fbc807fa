/* SPDX-License-Identifier: BSD-3-Clause */
/* readback.h: compare bytes a filter would write with what the layer
 * below holds, by reading them back in bounded pieces.
 *
 * Used by filters that must not change data (checkwrite, protect).  Only
 * the nbdkit_next function pointers are called, never the server's
 * nbdkit_* functions, so the caller says why a comparison failed.
 */

#ifndef NBDX_COMMON_READBACK_H
#define NBDX_COMMON_READBACK_H

#include <stdint.h>

#include <nbdkit-filter.h>

/* The most read back in one pread, and so the memory one comparison
 * holds at a time.
 */
#define READBACK_CHUNK (1024 * 1024)

/* Do the COUNT bytes at OFFSET of NEXT equal BUF (zeroes if BUF is
 * NULL)?  0 if they do, 1 if they differ (*first, if not NULL, is then
 * the offset of the first byte that differs), -1 with *err set if a
 * read or the allocation failed.
 */
int readback_compare(nbdkit_next *next, const void *buf, uint64_t count,
                     uint64_t offset, uint64_t *first, int *err);

#endif /* NBDX_COMMON_READBACK_H */
