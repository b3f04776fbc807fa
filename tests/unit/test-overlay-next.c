/* SPDX-License-Identifier: BSD-3-Clause */
/* test-overlay-next.c: unit tests of common/overlay/overlay-next.c
 * against a fake next layer: a block fetched from below (the last one
 * zero-padded, failures passed on), block status from below clipped
 * to the range, or plain data when the layer has none, and the overlay
 * grown to the size below.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "overlay-next.h"
#include "stubs.h"
#include "unit.h"

/* The fake layer: a 10000-byte disk of 'd' bytes; fail makes every
 * call fail with EIO; extents says 0..5000 data, then a hole.
 */
static int fail, has_extents = 1, calls;
static uint64_t last_off, last_count;

static int
fake_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    calls++;
    last_off = offset, last_count = count;
    if (fail) {
        *err = EIO;
        return -1;
    }
    memset(buf, 'd', count);
    return 0;
}

static int64_t
fake_get_size(nbdkit_next *next)
{
    return fail ? -1 : 10000 + 4096 * 2;
}

static int
fake_can_extents(nbdkit_next *next)
{
    return has_extents;
}

static int
fake_extents(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents, int *err)
{
    calls++;
    if (fail) {
        *err = EIO;
        return -1;
    }
    if (nbdkit_add_extent(extents, 0, 5000, 0) == -1 ||
        nbdkit_add_extent(extents, 5000, 5000, NBDKIT_EXTENT_HOLE) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

static void
test_fetch(struct overlay *ov, nbdkit_next *next)
{
    char buf[4096];
    int err = 0;

    unit_group("fetch reads a whole block, the last one zero-padded");
    memset(buf, 'x', sizeof buf);
    CHECK(overlay_fetch(ov, next, buf, 1, &err) == 0);
    CHECK(last_off == 4096 && last_count == 4096 && buf[4095] == 'd');
    CHECK(overlay_fetch(ov, next, buf, 2, &err) == 0);
    CHECK(last_off == 8192 && last_count == 10000 - 8192);
    CHECK(buf[10000 - 8192 - 1] == 'd' && buf[10000 - 8192] == 0 &&
          buf[4095] == 0);

    unit_group("a failure below is passed on with its errno");
    fail = 1;
    CHECK(overlay_fetch(ov, next, buf, 0, &err) == -1 && err == EIO);
    fail = 0;
}

static void
test_extents(nbdkit_next *next)
{
    struct nbdkit_extents *ex = nbdkit_extents_new(3000, 8000);
    struct nbdkit_extent e;
    int err = 0;

    unit_group("extents from below are clipped to the range, asked once");
    calls = 0;
    CHECK(overlay_extents_below(next, 3000, 8000, 0, ex, &err) == 0);
    CHECK(calls == 1 && nbdkit_extents_count(ex) == 2);
    e = nbdkit_get_extent(ex, 0);
    CHECK(e.offset == 3000 && e.length == 2000 && e.type == 0);
    e = nbdkit_get_extent(ex, 1);
    CHECK(e.offset == 5000 && e.length == 3000 && e.type == NBDKIT_EXTENT_HOLE);
    nbdkit_extents_free(ex);

    unit_group("without block status below, the range is data");
    has_extents = 0, calls = 0;
    ex = nbdkit_extents_new(100, 200);
    CHECK(overlay_extents_below(next, 100, 200, 0, ex, &err) == 0);
    CHECK(calls == 0 && nbdkit_extents_count(ex) == 1);
    e = nbdkit_get_extent(ex, 0);
    CHECK(e.offset == 100 && e.length == 100 && e.type == 0);
    nbdkit_extents_free(ex);
    has_extents = 1;

    unit_group("a failure below is passed on");
    fail = 1;
    ex = nbdkit_extents_new(0, 10000);
    CHECK(overlay_extents_below(next, 0, 10000, 0, ex, &err) == -1 &&
          err == EIO && nbdkit_extents_count(ex) == 0);
    nbdkit_extents_free(ex);
    fail = 0;
}

static void
test_grow(struct overlay *ov, nbdkit_next *next)
{
    unit_group("the overlay grows to the size below, never shrinks");
    CHECK(overlay_grow_below(ov, next) == 10000 + 8192);
    CHECK(overlay_nblocks(ov) == 5);
    fail = 1;
    errno = EIO;
    CHECK(overlay_grow_below(ov, next) == -1 && errno == 0);
    fail = 0;
}

int
main(void)
{
    struct nbdkit_next_ops ops = {.get_size = fake_get_size,
                                  .pread = fake_pread,
                                  .can_extents = fake_can_extents,
                                  .extents = fake_extents};
    struct overlay ov;

    CHECK(overlay_init(&ov, 4096, 2) == 0 && overlay_resize(&ov, 10000) == 0);
    test_fetch(&ov, &ops);
    test_extents(&ops);
    test_grow(&ov, &ops);
    overlay_free(&ov);
    return unit_finish();
}
