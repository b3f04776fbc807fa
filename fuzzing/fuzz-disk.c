/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-disk.c: a disk made of the fuzz input and zeros (fuzz-disk.h). */

#include <errno.h>
#include <string.h>

#include "fuzz-disk.h"

const uint8_t *fuzz_disk_data;
size_t fuzz_disk_len;
uint64_t fuzz_disk_size;

int64_t
fuzz_disk_get_size(nbdkit_next *next)
{
    return fuzz_disk_size;
}

int
fuzz_disk_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
                uint32_t flags, int *err)
{
    size_t n = 0;

    if (offset > fuzz_disk_size || count > fuzz_disk_size - offset) {
        *err = EIO;
        return -1;
    }
    if (offset < fuzz_disk_len)
        n = fuzz_disk_len - offset < count ? fuzz_disk_len - offset : count;
    memcpy(buf, fuzz_disk_data + offset, n);
    memset((char *)buf + n, 0, count - n);
    return 0;
}
