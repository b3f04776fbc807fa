/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-tar.c: the tar filter's header parsing on a hostile archive.
 *
 * The input is the whole archive (its size is the input's size, so
 * truncation is in reach); the harness compiles the filter in and gives
 * it a layer below that reads the input.  For several entry names and
 * tar-limit values, prepare must either fail or place the entry inside
 * the archive, after the first header.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../filters/tar/tar.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *archive;
static size_t archive_len;

static int64_t
fuzz_get_size(nbdkit_next *next)
{
    return archive_len;
}

static int
fuzz_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if (offset > archive_len || count > archive_len - offset) {
        *err = EIO;
        return -1;
    }
    memcpy(buf, archive + offset, count);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *names[] = {"a", "disk.img", "dir/", "big.img", "e.img"};
    static const uint64_t limits[] = {0, 2048};
    nbdkit_next next;
    struct window w;
    size_t i, j;

    memset(&next, 0, sizeof next);
    next.get_size = fuzz_get_size;
    next.pread = fuzz_pread;
    archive = data, archive_len = size;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        for (j = 0; j < sizeof limits / sizeof limits[0]; j++) {
            entry = names[i]; /* never freed: tar_unload is not called */
            tar_limit = limits[j];
            memset(&w, 0, sizeof w);
            if (tar_prepare(&next, &w, 1) == 0 &&
                (w.offset < BLOCK || w.offset > size ||
                 w.length > size - w.offset))
                abort(); /* an entry outside the archive */
        }
    return 0;
}
