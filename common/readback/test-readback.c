/* SPDX-License-Identifier: BSD-3-Clause */
/* test-readback.c: unit tests of readback.h over a fake layer below that
 * serves a buffer in memory and counts its reads: equal and different
 * data, zeroes, differences on both sides of a piece boundary, the
 * size of each read, and a failing read.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "readback.h"
#include "unit.h"

#define DISK (3 * READBACK_CHUNK + 100)

static char *disk;                    /* what the fake layer below holds */
static unsigned reads;                /* preads so far */
static uint32_t largest_read;         /* the largest count asked for */
static uint64_t fail_at = UINT64_MAX; /* a read covering this fails */

static int
fake_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    reads++;
    if (count > largest_read)
        largest_read = count;
    if (offset <= fail_at && fail_at < offset + count) {
        *err = EIO;
        return -1;
    }
    memcpy(buf, disk + offset, count);
    return 0;
}

static struct nbdkit_next_ops fake = {.pread = fake_pread};

static void
test_equal(void)
{
    uint64_t first = 7;
    int err = 0;

    unit_group("equal data and zeroes");
    memset(disk + 10, 'a', 20);
    CHECK(readback_compare(&fake, disk, DISK, 0, &first, &err) == 0);
    CHECK(first == 7);
    CHECK(readback_compare(&fake, disk + 10, 20, 10, NULL, &err) == 0);
    CHECK(readback_compare(&fake, NULL, 10, 0, NULL, &err) == 0);
    CHECK(readback_compare(&fake, NULL, DISK - 30, 30, NULL, &err) == 0);
    CHECK(readback_compare(&fake, NULL, 0, 0, NULL, &err) == 0);
}

static void
test_differs(void)
{
    char *want = malloc(DISK);
    uint64_t first = 0;
    int err = 0;

    unit_group("differences, found at the right byte");
    CHECK(want != NULL);
    memcpy(want, disk, DISK);
    want[READBACK_CHUNK] ^= 1; /* first byte of the second piece */
    CHECK(readback_compare(&fake, want, DISK, 0, &first, &err) == 1);
    CHECK(first == READBACK_CHUNK);
    want[READBACK_CHUNK] ^= 1;
    want[READBACK_CHUNK - 1] ^= 1; /* last byte of the first piece */
    CHECK(readback_compare(&fake, want, DISK, 0, &first, &err) == 1);
    CHECK(first == READBACK_CHUNK - 1);
    want[READBACK_CHUNK - 1] ^= 1;
    want[DISK - 1] ^= 1; /* the very last byte */
    CHECK(readback_compare(&fake, want, DISK, 0, &first, &err) == 1);
    CHECK(first == DISK - 1);
    CHECK(readback_compare(&fake, NULL, 40, 0, &first, &err) == 1);
    CHECK(first == 10);
    disk[2 * READBACK_CHUNK + 5] = 'z';
    CHECK(readback_compare(&fake, NULL, DISK - 30, 30, &first, &err) == 1);
    CHECK(first == 2 * READBACK_CHUNK + 5);
    disk[2 * READBACK_CHUNK + 5] = 0;
    free(want);
}

static void
test_bounded(void)
{
    int err = 0;

    unit_group("reads are at most one piece");
    reads = 0;
    largest_read = 0;
    CHECK(readback_compare(&fake, NULL, DISK - 30, 30, NULL, &err) == 0);
    CHECK(reads == 4);
    CHECK(largest_read == READBACK_CHUNK);
    reads = 0;
    CHECK(readback_compare(&fake, NULL, 40, 0, NULL, &err) == 1);
    CHECK(reads == 1);
}

static void
test_read_error(void)
{
    int err = 0;

    unit_group("a failing read");
    fail_at = READBACK_CHUNK + 3;
    CHECK(readback_compare(&fake, disk, DISK, 0, NULL, &err) == -1);
    CHECK(err == EIO);
    err = 0;
    CHECK(readback_compare(&fake, disk, READBACK_CHUNK, 0, NULL, &err) == 0);
    CHECK(err == 0);
    fail_at = UINT64_MAX;
}

int
main(void)
{
    disk = calloc(1, DISK);
    if (disk == NULL)
        return 1;
    test_equal();
    test_differs();
    test_bounded();
    test_read_error();
    free(disk);
    return unit_finish();
}
