/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-partition.c: the partition filter's MBR and GPT parsing on a
 * hostile disk.
 *
 * The input is the disk (its first sectors: tables, extended boot
 * records, GPT header and entries); the harness compiles the filter in
 * and gives it a layer below that reads the input, zeroes past its end,
 * and is 1 GiB large, so that partitions may lie anywhere.  For several
 * partition numbers, prepare must either fail or place the partition
 * inside the disk.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../filters/partition/partition.c"
#include "fuzz-disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK_SIZE (INT64_C(1) << 30)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned parts[] = {1, 2, 4, 5, 6, 9, 128, 129};
    nbdkit_next next;
    struct handle h;
    size_t i;

    memset(&next, 0, sizeof next);
    next.get_size = fuzz_disk_get_size;
    next.pread = fuzz_disk_pread;
    fuzz_disk_data = data, fuzz_disk_len = size, fuzz_disk_size = DISK_SIZE;
    for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        partnum = parts[i];
        memset(&h, 0, sizeof h);
        if (partition_prepare(&next, &h, 1) == 0 &&
            (h.w.length == 0 || h.w.offset > (uint64_t)DISK_SIZE ||
             h.w.length > (uint64_t)DISK_SIZE - h.w.offset))
            abort(); /* a partition outside the disk */
    }
    return 0;
}
