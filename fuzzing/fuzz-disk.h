/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-disk.h: the layer below a filter in the harnesses that parse a
 * disk (partition, luks).
 *
 * The disk is fuzz_disk_size bytes large; its first fuzz_disk_len
 * bytes are the input at fuzz_disk_data, the rest reads as zeros, so a
 * small input can describe tables anywhere in a large disk.  A read
 * past the end fails with EIO.  The harness sets the three variables
 * before each input (one input at a time: no lock).
 */

#ifndef NBDX_FUZZ_DISK_H
#define NBDX_FUZZ_DISK_H

#include <stddef.h>
#include <stdint.h>

#include <nbdkit-filter.h>

extern const uint8_t *fuzz_disk_data;
extern size_t fuzz_disk_len;
extern uint64_t fuzz_disk_size;

int64_t fuzz_disk_get_size(nbdkit_next *next);
int fuzz_disk_pread(nbdkit_next *next, void *buf, uint32_t count,
                    uint64_t offset, uint32_t flags, int *err);

#endif /* NBDX_FUZZ_DISK_H */
