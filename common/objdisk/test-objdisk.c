/* SPDX-License-Identifier: BSD-3-Clause */
/* test-objdisk.c: unit tests of objdisk.h over an object store in
 * memory: reads of missing blocks are zeros, partial writes are a
 * read-modify-write, zeros and trims delete objects, a last block
 * shorter than the others, extents from the bitmap, the listing's
 * marks, and a failing store that leaves the bitmap as it was.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "objdisk.h"
#include "unit.h"

#define BS 4096
#define NB 5 /* the last one short */
#define SIZE (4 * BS + 1000)

static char *objs[NB]; /* the store: NULL = no object */
static int n_gets, n_puts, n_dels, errors, fail_put;

static int
mem_get(void *o, uint64_t blk, char *buf, uint32_t len, uint32_t off)
{
    n_gets++;
    if (objs[blk] == NULL)
        return 0;
    memcpy(buf, objs[blk] + off, len);
    return 1;
}

static int
mem_put(void *o, uint64_t blk, const char *buf, uint32_t len)
{
    n_puts++;
    if (fail_put) {
        errno = EIO;
        return -1;
    }
    free(objs[blk]);
    objs[blk] = malloc(len);
    memcpy(objs[blk], buf, len);
    return 0;
}

static int
mem_del(void *o, uint64_t blk)
{
    n_dels++;
    free(objs[blk]);
    objs[blk] = NULL;
    return 0;
}

static void
mem_error(void *o, const char *what)
{
    errors++;
}

static const struct objdisk_ops ops = {mem_get, mem_put, mem_del, mem_error};
static char model[SIZE];

static bool
matches(struct objdisk *d)
{
    static char buf[SIZE];

    return objdisk_pread(d, buf, SIZE, 0) == 0 && memcmp(buf, model, SIZE) == 0;
}

static void
test_read_write(struct objdisk *d)
{
    char buf[3 * BS];

    unit_group("read and write");
    CHECK(objdisk_nr_blocks(d) == NB);
    CHECK(matches(d) && n_gets == 0); /* nothing present: no GET at all */
    memset(buf, 'a', sizeof buf);
    /* Across three blocks: the middle one whole, the others partial. */
    CHECK(objdisk_pwrite(d, buf, 2 * BS, BS / 2) == 0);
    memset(model + BS / 2, 'a', 2 * BS);
    CHECK(n_puts == 3 && objs[0] && objs[1] && objs[2] && !objs[3]);
    CHECK(matches(d));
    /* The short last block, written to the end. */
    CHECK(objdisk_pwrite(d, buf, 600, SIZE - 600) == 0);
    memset(model + SIZE - 600, 'a', 600);
    CHECK(objdisk_present(d, 4) && matches(d));
    CHECK(!objdisk_present(d, 3) && !objdisk_present(d, NB));
}

static void
test_zero_trim(struct objdisk *d)
{
    unit_group("zero and trim");
    n_dels = 0;
    /* Zeroing a whole block deletes it; a partial zero rewrites. */
    CHECK(objdisk_pwrite(d, NULL, BS, BS) == 0);
    memset(model + BS, 0, BS);
    CHECK(objs[1] == NULL && !objdisk_present(d, 1) && n_dels == 1);
    CHECK(objdisk_pwrite(d, NULL, 100, 0) == 0);
    memset(model, 0, 100);
    CHECK(objs[0] != NULL && matches(d));
    /* A partial zero that leaves the block all zeros deletes it too. */
    CHECK(objdisk_pwrite(d, NULL, BS - 100, 100) == 0);
    memset(model + 100, 0, BS - 100);
    CHECK(objs[0] == NULL && matches(d));
    /* Trim: only the whole blocks inside the range. */
    CHECK(objdisk_trim(d, BS, 2 * BS + 5) == 0); /* no whole block */
    CHECK(objs[2] != NULL && objs[4] != NULL);
    CHECK(objdisk_trim(d, BS + 5, 2 * BS - 5) == 0); /* block 2 */
    memset(model + 2 * BS, 0, BS);
    CHECK(objs[2] == NULL && matches(d));
    CHECK(objdisk_trim(d, 1000, 4 * BS) == 0);
    memset(model + 4 * BS, 0, 1000);
    CHECK(objs[4] == NULL && matches(d));
}

static void
test_failure_and_marks(struct objdisk *d)
{
    char buf[BS];

    unit_group("a failing store, listing marks");
    memset(buf, 'b', BS);
    fail_put = 1;
    CHECK(objdisk_pwrite(d, buf, BS, 3 * BS) == -1 && errno == EIO);
    CHECK(!objdisk_present(d, 3) && matches(d));
    fail_put = 0;
    /* An object made by someone else, then listed. */
    objs[3] = malloc(BS);
    memset(objs[3], 'c', BS);
    CHECK(matches(d)); /* not listed: still zeros */
    objdisk_mark(d, 3);
    objdisk_mark(d, 99); /* past the end: ignored */
    memset(model + 3 * BS, 'c', BS);
    CHECK(matches(d));
    /* Deleted behind our back: reads as zeros, with no error. */
    free(objs[3]);
    objs[3] = NULL;
    memset(model + 3 * BS, 0, BS);
    CHECK(matches(d) && errors == 0);
}

static void
test_extents(struct objdisk *d)
{
    struct nbdkit_extents *e = nbdkit_extents_new(0, SIZE);
    struct nbdkit_extent x;

    unit_group("extents");
    objdisk_mark(d, 1);
    CHECK(e != NULL && objdisk_extents(d, SIZE, 0, e) == 0);
    /* hole, data (block 1), hole, data (block 3: its bit stays set
     * though the object is gone), the short hole at the end.
     */
    CHECK(nbdkit_extents_count(e) == 5);
    x = nbdkit_get_extent(e, 1);
    CHECK(x.offset == BS && x.length == BS && x.type == 0);
    x = nbdkit_get_extent(e, 3);
    CHECK(x.offset == 3 * BS && x.length == BS && x.type == 0);
    x = nbdkit_get_extent(e, 4);
    CHECK(x.offset == 4 * BS && x.length == 1000 &&
          x.type == (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO));
    nbdkit_extents_free(e);
}

int
main(void)
{
    struct objdisk *d = objdisk_new(SIZE, BS, &ops, NULL);

    CHECK(d != NULL);
    CHECK(objdisk_new(SIZE, 0, &ops, NULL) == NULL && errno == EINVAL);
    test_read_write(d);
    test_zero_trim(d);
    test_failure_and_marks(d);
    test_extents(d);
    objdisk_free(d);
    for (int i = 0; i < NB; i++)
        free(objs[i]);
    return unit_finish();
}
