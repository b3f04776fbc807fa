/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-xz.c: the xz filter's index parsing and block decoding on a
 * hostile file.
 *
 * The input is the whole xz file.  The harness compiles the filter in
 * and gives it a layer below that reads the input.  prepare reads the
 * index of every stream (xz_index_read) and must either fail or
 * describe a disk; then a few reads spread over that disk, through a
 * cache of two blocks, must each succeed or fail with EIO.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../filters/xz/xz.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *file;
static size_t file_len;

static int64_t
fuzz_get_size(nbdkit_next *next)
{
    return file_len;
}

static int
fuzz_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if (offset > file_len || count > file_len - offset) {
        *err = EIO;
        return -1;
    }
    memcpy(buf, file + offset, count);
    return 0;
}

/* Read at a few offsets of the disk, the ends included. */
static void
fuzz_reads(nbdkit_next *next, struct handle *h)
{
    static const unsigned eighths[] = {0, 3, 8, 1, 7, 0};
    uint64_t disk = lzma_index_uncompressed_size(h->index), off;
    uint8_t buf[4096];
    uint32_t n;
    size_t i;
    int err;

    for (i = 0; i < sizeof eighths / sizeof eighths[0]; i++) {
        off = disk / 8 * eighths[i];
        n = disk - off < sizeof buf ? disk - off : sizeof buf;
        if (n == 0)
            continue;
        err = 0;
        if (xz_pread(next, h, buf, n, off, 0, &err) == -1 && err != EIO)
            abort(); /* a failed read must say EIO */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nbdkit_next next;
    struct xz_block cache[2];
    struct handle h;

    memset(&next, 0, sizeof next);
    next.get_size = fuzz_get_size;
    next.pread = fuzz_pread;
    file = data, file_len = size;
    max_block = 1 << 20, max_depth = 2;
    memset(&h, 0, sizeof h);
    memset(cache, 0, sizeof cache);
    h.cache = cache;
    pthread_mutex_init(&h.lock, NULL);
    if (xz_prepare(&next, &h, 1) == 0) {
        if (lzma_index_uncompressed_size(h.index) > INT64_MAX)
            abort(); /* not a disk size */
        fuzz_reads(&next, &h);
        lzma_index_end(h.index, NULL);
    }
    free(cache[0].data);
    free(cache[1].data);
    pthread_mutex_destroy(&h.lock);
    return 0;
}
