/* SPDX-License-Identifier: BSD-3-Clause */
/* test-retry.c: unit tests of retry.h: the schedule with and without
 * back-off, no retries, waits that would overflow, and block status
 * attempts (over the server's real extents.c) that fail half way and
 * leave the caller's list untouched, or succeed and fill it.
 */

#include <errno.h>
#include <stdlib.h>

#include "retry.h"
#include "unit.h"

/* Run the whole schedule of P into SECS; the number of retries. */
static unsigned
schedule(const struct retry_policy *p, unsigned *secs, unsigned max)
{
    struct retry_count c = {0};
    unsigned n = 0;

    while (n < max && retry_next(&c, p, &secs[n]))
        n++;
    return n;
}

static void
test_schedule(void)
{
    struct retry_policy p = {.retries = 5, .delay = 2, .exponential = true};
    unsigned s[8];

    unit_group("schedule");
    CHECK(schedule(&p, s, 8) == 5);
    CHECK(s[0] == 2 && s[1] == 4 && s[2] == 8 && s[3] == 16 && s[4] == 32);
    p.exponential = false;
    CHECK(schedule(&p, s, 8) == 5);
    CHECK(s[0] == 2 && s[1] == 2 && s[4] == 2);
    p.retries = 0;
    CHECK(schedule(&p, s, 8) == 0);
    p.retries = 1;
    p.delay = 0;
    CHECK(schedule(&p, s, 8) == 1 && s[0] == 0);
}

static void
test_overflow(void)
{
    struct retry_policy p = {.retries = 40, .delay = 3, .exponential = true};
    unsigned s[40];

    unit_group("waits stop growing at RETRY_MAX_WAIT");
    CHECK(schedule(&p, s, 40) == 40);
    CHECK(s[29] == 3u << 29);
    CHECK(s[30] == RETRY_MAX_WAIT && s[39] == RETRY_MAX_WAIT);
    p.delay = 0xffffffffu;
    CHECK(schedule(&p, s, 40) == 40);
    CHECK(s[0] == RETRY_MAX_WAIT && s[1] == RETRY_MAX_WAIT);
}

/* A fake layer below of 1 MiB: two extents, then it fails if asked to. */
static int fail_extents;

static int64_t
fake_get_size(nbdkit_next *next)
{
    return 1 << 20;
}

static int
fake_extents(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents, int *err)
{
    if (nbdkit_add_extent(extents, offset, 4096, 0) == -1 ||
        nbdkit_add_extent(extents, offset + 4096, 4096,
                          NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1) {
        *err = errno;
        return -1;
    }
    if (fail_extents) {
        *err = EIO;
        return -1;
    }
    return 0;
}

static struct nbdkit_next_ops fake = {.get_size = fake_get_size,
                                      .extents = fake_extents};

static void
test_extents(void)
{
    struct nbdkit_extents *exts = nbdkit_extents_new(8192, 1 << 20);
    struct nbdkit_extent e;
    int err = 0;

    unit_group("block status attempts");
    CHECK(exts != NULL);
    fail_extents = 1;
    CHECK(retry_extents_once(&fake, 65536, 8192, 0, exts, &err) == -1);
    CHECK(err == EIO);
    CHECK(nbdkit_extents_count(exts) == 0);
    fail_extents = 0;
    CHECK(retry_extents_once(&fake, 65536, 8192, 0, exts, &err) == 0);
    CHECK(nbdkit_extents_count(exts) == 2);
    e = nbdkit_get_extent(exts, 1);
    CHECK(e.offset == 12288 && e.length == 4096 &&
          e.type == (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO));
    nbdkit_extents_free(exts);
}

int
main(void)
{
    test_schedule();
    test_overflow();
    test_extents();
    return unit_finish();
}
