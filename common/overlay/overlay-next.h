/* SPDX-License-Identifier: BSD-3-Clause */
/* overlay-next.h: what the filters built on an overlay (cow, cache) ask
 * of the layer below them: its size, a block's data, and block status
 * for a range the overlay does not describe.
 *
 * The functions call the nbdkit_next they are given and the nbdkit
 * extents functions, so they are only for filters (and tests that link
 * the server's extents.c).  Like the rest of common/ they do not log of
 * their own: the layer below logs its failures, and the caller those
 * of the overlay.  Thread safety is the next layer's (and the
 * overlay's for overlay_grow_below).
 */

#ifndef NBDX_OVERLAY_NEXT_H
#define NBDX_OVERLAY_NEXT_H

#include <stdint.h>

#include <nbdkit-filter.h>

#include "overlay.h"

/* next's size, after growing the overlay to cover it.  -1 with errno
 * 0 if next failed (next has said why), -1 with errno set if the
 * overlay could not grow.
 */
extern int64_t overlay_grow_below(struct overlay *ov, nbdkit_next *next);

/* Reads block blk from next into buf (blksize bytes; past the end of
 * the disk, zeroes).  0, or -1 with *err set by next.
 */
extern int overlay_fetch(const struct overlay *ov, nbdkit_next *next, void *buf,
                         uint64_t blk, int *err);

/* Adds next's extents for [start, end) to extents, asking next once, or
 * one data extent if next has no block status.  0, or -1 with *err
 * set.
 */
extern int overlay_extents_below(nbdkit_next *next, uint64_t start,
                                 uint64_t end, uint32_t flags,
                                 struct nbdkit_extents *extents, int *err);

#endif /* NBDX_OVERLAY_NEXT_H */
