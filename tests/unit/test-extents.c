/* SPDX-License-Identifier: BSD-3-Clause */
/* test-extents.c: unit tests of server/extents.c.
 *
 * The file under test is included so the tests can use its cap
 * (MAX_EXTENTS) instead of repeating the number.
 */

#include "../../server/extents.c"

#include <string.h>

#include "stubs.h"
#include "unit.h"

#define HZ (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO)

static bool
extent_is(const struct nbdkit_extents *exts, size_t i, uint64_t offset,
          uint64_t length, uint32_t type)
{
    struct nbdkit_extent e;

    if (i >= nbdkit_extents_count(exts))
        return false;
    e = nbdkit_get_extent(exts, i);
    return e.offset == offset && e.length == length && e.type == type;
}

static void
test_new(void)
{
    struct nbdkit_extents *exts;

    unit_group("nbdkit_extents_new validates its range");
    stub_reset();
    CHECK(nbdkit_extents_new(10, 5) == NULL);
    CHECK(stub_errors == 1);
    CHECK(nbdkit_extents_new(0, (uint64_t)INT64_MAX + 1) == NULL);
    CHECK(nbdkit_extents_new((uint64_t)INT64_MAX + 1, UINT64_MAX) == NULL);
    exts = nbdkit_extents_new(0, INT64_MAX);
    CHECK(exts != NULL);
    nbdkit_extents_free(exts);
    exts = nbdkit_extents_new(7, 7);
    CHECK(exts != NULL && extents_start(exts) == 7 && extents_end(exts) == 7);
    CHECK(exts != NULL && nbdkit_extents_count(exts) == 0);
    nbdkit_extents_free(exts);
    nbdkit_extents_free(NULL);
}

static void
test_clip_and_merge(void)
{
    struct nbdkit_extents *exts = nbdkit_extents_new(100, 200);

    unit_group("extents are clipped to [start, end) and merged");
    stub_reset();
    CHECK(nbdkit_add_extent(exts, 0, 50, 0) == 0); /* wholly before */
    CHECK(nbdkit_extents_count(exts) == 0);
    CHECK(nbdkit_add_extent(exts, 50, 100, HZ) == 0); /* covers start */
    CHECK(extent_is(exts, 0, 100, 50, HZ));
    CHECK(nbdkit_add_extent(exts, 150, 10, HZ) == 0); /* same type */
    CHECK(nbdkit_extents_count(exts) == 1 && extent_is(exts, 0, 100, 60, HZ));
    CHECK(nbdkit_add_extent(exts, 160, 0, 0) == 0); /* empty: ignored */
    CHECK(nbdkit_extents_count(exts) == 1);
    CHECK(nbdkit_add_extent(exts, 160, 100, 0) == 0); /* past end */
    CHECK(extent_is(exts, 1, 160, 40, 0));
    CHECK(nbdkit_add_extent(exts, 260, 10, HZ) == 0); /* beyond: ignored */
    CHECK(nbdkit_extents_count(exts) == 2);
    CHECK(stub_errors == 0);
    nbdkit_extents_free(exts);
}

static void
test_errors(void)
{
    struct nbdkit_extents *exts = nbdkit_extents_new(100, 200);

    unit_group("extents out of order, with gaps or bad types fail");
    stub_reset();
    errno = 0;
    CHECK(nbdkit_add_extent(exts, 101, 10, 0) == -1); /* misses start */
    CHECK(errno == EINVAL && stub_errors == 1);
    CHECK(nbdkit_add_extent(exts, 100, 10, 4) == -1);         /* unknown type */
    CHECK(nbdkit_add_extent(exts, 100, UINT64_MAX, 0) == -1); /* wraps */
    CHECK(nbdkit_add_extent(exts, 100, (uint64_t)INT64_MAX, 0) == -1);
    CHECK(nbdkit_add_extent(exts, 100, 10, 0) == 0);
    CHECK(nbdkit_add_extent(exts, 120, 10, 0) == -1);  /* gap */
    CHECK(nbdkit_add_extent(exts, 105, 10, HZ) == -1); /* overlap */
    CHECK(nbdkit_add_extent(exts, 90, 10, HZ) == -1);  /* backwards */
    CHECK(nbdkit_add_extent(exts, 110, 10, HZ) == 0);
    CHECK(nbdkit_extents_count(exts) == 2);
    CHECK(stub_errors == 7);
    nbdkit_extents_free(exts);
}

/* Past the cap nothing is stored, and nothing is merged into the last
 * extent either: that would claim the dropped range has its type.
 */
static void
test_cap(void)
{
    struct nbdkit_extents *exts = nbdkit_extents_new(0, INT64_MAX);
    uint64_t i;
    int r = 0;

    unit_group("the number of extents is capped");
    for (i = 0; i < MAX_EXTENTS + 10; i++)
        r |= nbdkit_add_extent(exts, i, 1, i & 1 ? HZ : 0);
    CHECK(r == 0);
    CHECK(nbdkit_extents_count(exts) == MAX_EXTENTS);
    /* The last stored extent is MAX_EXTENTS-1, type HZ (odd index);
     * extent MAX_EXTENTS+9 also has type HZ but must not merge.
     */
    CHECK(extent_is(exts, MAX_EXTENTS - 1, MAX_EXTENTS - 1, 1, HZ));
    nbdkit_extents_free(exts);
}

/* ---- A fake layer below for the filter helpers ----
 * It serves a fixed map, at most `per_call` extents per call, and
 * records the flags it was called with.
 */
struct fake_next {
    struct nbdkit_next_ops ops; /* first: the helpers see only this */
    const struct nbdkit_extent *map;
    size_t map_len;
    size_t per_call;
    int calls;
    uint32_t flags_seen;
    bool fail, return_nothing;
};

static int
fake_extents(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *exts, int *err)
{
    struct fake_next *f = (struct fake_next *)next;
    size_t i, added = 0;

    f->calls++;
    f->flags_seen |= flags;
    if (f->fail) {
        *err = EPERM;
        return -1;
    }
    for (i = 0; i < f->map_len && added < f->per_call; i++) {
        const struct nbdkit_extent *e = &f->map[i];

        if (e->offset + e->length <= offset || f->return_nothing)
            continue;
        if (nbdkit_add_extent(exts, e->offset, e->length, e->type) == -1) {
            *err = errno;
            return -1;
        }
        added++;
    }
    return 0;
}

static void
fake_init(struct fake_next *f, const struct nbdkit_extent *map, size_t map_len,
          size_t per_call)
{
    memset(f, 0, sizeof *f);
    f->ops.extents = fake_extents;
    f->map = map;
    f->map_len = map_len;
    f->per_call = per_call;
}

static const struct nbdkit_extent many[] = {
    {0, 10, 0},   {10, 20, HZ}, {30, 5, 0},    {35, 15, NBDKIT_EXTENT_ZERO},
    {50, 50, HZ}, {100, 28, 0}, {128, 72, HZ}, {200, 56, 0},
};

static void
test_full(void)
{
    struct fake_next f;
    struct nbdkit_extents *exts;
    int err = 0;
    size_t i;
    bool same = true;

    unit_group("nbdkit_extents_full asks until the range is covered");
    fake_init(&f, many, 8, 2);
    exts = nbdkit_extents_full(&f.ops, 180, 20, NBDKIT_FLAG_REQ_ONE, &err);
    CHECK(exts != NULL);
    if (exts == NULL)
        return;
    CHECK(f.calls == 3); /* two extents a call, six extents */
    CHECK((f.flags_seen & NBDKIT_FLAG_REQ_ONE) == 0);
    CHECK(nbdkit_extents_count(exts) == 6); /* [200, 256) is outside */
    CHECK(extent_is(exts, 0, 20, 10, HZ));
    for (i = 1; i < 6; i++)
        same &= extent_is(exts, i, many[i + 1].offset, many[i + 1].length,
                          many[i + 1].type);
    CHECK(same);
    nbdkit_extents_free(exts);

    unit_group("nbdkit_extents_full passes errors up");
    fake_init(&f, many, 8, 2);
    f.fail = true;
    CHECK(nbdkit_extents_full(&f.ops, 100, 0, 0, &err) == NULL);
    CHECK(err == EPERM);
    fake_init(&f, many, 8, 2);
    f.return_nothing = true;
    stub_reset();
    CHECK(nbdkit_extents_full(&f.ops, 100, 0, 0, &err) == NULL);
    CHECK(err == EIO && stub_errors == 1);
}

/* Query `aligned` on [offset, end) and check it returns exactly one
 * extent {offset, length, type}.
 */
static bool
aligned_one(struct fake_next *f, uint64_t offset, uint64_t end, uint64_t length,
            uint32_t type)
{
    struct nbdkit_extents *exts = nbdkit_extents_new(offset, end);
    int err = 0, r;
    bool ok;

    r = nbdkit_extents_aligned(&f->ops, (uint32_t)(end - offset), offset, 0,
                               4096, exts, &err);
    ok = r == 0 && nbdkit_extents_count(exts) == 1 &&
         extent_is(exts, 0, offset, length, type);
    if (!ok)
        printf("   aligned at %" PRIu64 ": r=%d count=%zu\n", offset, r,
               nbdkit_extents_count(exts));
    nbdkit_extents_free(exts);
    return ok;
}

static void
test_aligned(void)
{
    static const struct nbdkit_extent map1[] = {
        {0, 512, 0},    {512, 3584, HZ},  {4096, 4096, HZ},
        {8192, 100, 0}, {8292, 8092, HZ},
    };
    static const struct nbdkit_extent map2[] = {
        {0, 512, HZ},
        {512, 512, NBDKIT_EXTENT_ZERO},
        {1024, 3072, HZ},
        {4096, 4096, 0},
    };
    static const struct nbdkit_extent map3[] = {
        {0, 5000, 0},
        {5000, 11384, HZ},
    };
    struct fake_next f;

    unit_group("nbdkit_extents_aligned rounds extents to the alignment");
    fake_init(&f, map1, 5, 100);
    /* Partial first block: folded into one block of data. */
    CHECK(aligned_one(&f, 0, 16384, 4096, 0));
    /* Aligned hole, then an unaligned extent: stop before it. */
    CHECK(aligned_one(&f, 4096, 16384, 4096, HZ));
    /* Data then hole inside one block: data wins. */
    CHECK(aligned_one(&f, 8192, 16384, 4096, 0));
    CHECK(aligned_one(&f, 12288, 16384, 4096, HZ));

    /* One extent per call: the helper must ask again; only the bits all
     * parts share survive (hole+zero, zero, hole+zero -> zero).
     */
    fake_init(&f, map2, 4, 1);
    CHECK(aligned_one(&f, 0, 8192, 4096, NBDKIT_EXTENT_ZERO));
    CHECK(f.calls == 3);

    /* A long unaligned extent is cut back to the block boundary. */
    fake_init(&f, map3, 2, 100);
    CHECK(aligned_one(&f, 0, 16384, 4096, 0));

    unit_group("nbdkit_extents_aligned rejects a list it cannot use");
    {
        struct nbdkit_extents *exts = nbdkit_extents_new(0, 16384);
        int err = 0;

        fake_init(&f, map1, 5, 100);
        nbdkit_add_extent(exts, 0, 10, 0);
        CHECK(nbdkit_extents_aligned(&f.ops, 4096, 0, 0, 4096, exts, &err) ==
              -1);
        CHECK(err == EINVAL);
        nbdkit_extents_free(exts);
    }
}

int
main(void)
{
    test_new();
    test_clip_and_merge();
    test_errors();
    test_cap();
    test_full();
    test_aligned();
    stub_reset();
    return unit_finish();
}
