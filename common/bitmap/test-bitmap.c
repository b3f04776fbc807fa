/* SPDX-License-Identifier: BSD-3-Clause */
/* test-bitmap.c: unit tests of bitmap.h against a byte-per-block model. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "unit.h"

#define MAXBLOCKS 1200

static const unsigned bpbs[] = {1, 2, 4, 8};

/* Model of the bitmap: one state per byte. */
static uint8_t model[MAXBLOCKS];

static int64_t
model_next(uint64_t nblocks, uint64_t blk, int want_set)
{
    for (; blk < nblocks; blk++)
        if ((model[blk] != 0) == want_set)
            return blk;
    return -1;
}

/* Every state and every search from every start agrees with the model. */
static int
agrees(const struct bitmap *bm)
{
    uint64_t b;

    for (b = 0; b < bm->nblocks; b++)
        if (bitmap_get(bm, b) != model[b])
            return 0;
    for (b = 0; b <= bm->nblocks + 1; b++)
        if (bitmap_next_set(bm, b) != model_next(bm->nblocks, b, 1) ||
            bitmap_next_clear(bm, b) != model_next(bm->nblocks, b, 0))
            return 0;
    return 1;
}

static void
test_init(void)
{
    struct bitmap bm;

    unit_group("init takes power-of-2 block sizes and 1, 2, 4, 8 bits");
    CHECK(bitmap_init(&bm, 0, 1) == -1 && errno == EINVAL);
    CHECK(bitmap_init(&bm, 3, 1) == -1 && errno == EINVAL);
    CHECK(bitmap_init(&bm, 4096, 3) == -1 && errno == EINVAL);
    CHECK(bitmap_init(&bm, 4096, 16) == -1 && errno == EINVAL);
    CHECK(bitmap_init(&bm, 4096, 0) == -1 && errno == EINVAL);
    CHECK(bitmap_init(&bm, 1, 8) == 0 && bm.nblocks == 0);
    CHECK(bitmap_init(&bm, UINT64_C(1) << 63, 2) == 0);
    CHECK(bitmap_next_set(&bm, 0) == -1 && bitmap_next_clear(&bm, 0) == -1);

    unit_group("the last block may be partial");
    CHECK(bitmap_init(&bm, 512, 1) == 0);
    CHECK(bitmap_resize(&bm, 512 * 7) == 0 && bm.nblocks == 7);
    CHECK(bitmap_resize(&bm, 512 * 7 + 1) == 0 && bm.nblocks == 8);
    CHECK(bitmap_resize(&bm, 1) == 0 && bm.nblocks == 1);
    CHECK(bitmap_resize(&bm, 0) == 0 && bm.nblocks == 0 && bm.bits == NULL);
    bitmap_free(&bm);
    bitmap_free(&bm); /* a second free is harmless */
    CHECK(bm.nblocks == 0 && bm.bits == NULL);

    /* Not a size malloc refuses: sanitizer builds abort on those. */
    unit_group("a resize past INT64_MAX blocks fails and changes nothing");
    CHECK(bitmap_init(&bm, 1, 1) == 0 && bitmap_resize(&bm, 10) == 0);
    bitmap_set(&bm, 9, 1);
    errno = 0;
    CHECK(bitmap_resize(&bm, UINT64_MAX) == -1 && errno == ENOMEM);
    CHECK(bm.nblocks == 10 && bitmap_get(&bm, 9) == 1);
    bitmap_free(&bm);
}

static void
test_neighbours(unsigned bpb)
{
    struct bitmap bm;
    unsigned top = (1u << bpb) - 1;
    uint64_t b;
    int bad = 0;

    memset(model, 0, sizeof model);
    bitmap_init(&bm, 1, bpb);
    bitmap_resize(&bm, 64);
    for (b = 0; b < 64; b += 3) {
        bitmap_set(&bm, b, top);
        model[b] = top;
    }
    bitmap_set(&bm, 63, top);
    model[63] = top;
    bitmap_set(&bm, 63, 1);
    model[63] = 1;
    bad += !agrees(&bm);
    for (b = 0; b < 64; b++) {
        bitmap_set(&bm, b, 0);
        model[b] = 0;
    }
    bad += !agrees(&bm) || bitmap_next_set(&bm, 0) != -1;
    CHECK(bad == 0);
    bitmap_free(&bm);
}

/* Shrinking forgets the dropped blocks: growing again shows them as 0,
 * even those that shared a byte with kept blocks.
 */
static void
test_shrink_grow(unsigned bpb)
{
    struct bitmap bm;
    uint64_t b;
    unsigned top = (1u << bpb) - 1;

    bitmap_init(&bm, 4096, bpb);
    bitmap_resize(&bm, 4096 * 100);
    for (b = 0; b < 100; b++)
        bitmap_set(&bm, b, top);
    CHECK(bitmap_resize(&bm, 4096 * 37 + 5) == 0 && bm.nblocks == 38);
    CHECK(bitmap_resize(&bm, 4096 * 100) == 0);
    for (b = 0; b < 100; b++)
        model[b] = b < 38 ? top : 0;
    CHECK(agrees(&bm));
    CHECK(bitmap_next_clear(&bm, 0) == 38);
    CHECK(bitmap_next_set(&bm, 38) == -1);
    bitmap_free(&bm);
}

/* Random states, random resizes, in patterns with long runs so the
 * word and byte skips are used, including runs ending at the last block.
 */
static void
test_random(unsigned bpb)
{
    struct bitmap bm;
    uint64_t nblocks = 0, b, v, seed = bpb;
    int round, bad = 0;

    memset(model, 0, sizeof model);
    bitmap_init(&bm, 1, bpb);
    for (round = 0; round < 60; round++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        b = (seed >> 33) % MAXBLOCKS;
        if (round % 7 == 0) {
            if (bitmap_resize(&bm, b) == -1)
                bad++;
            if (b < nblocks)
                memset(model + b, 0, nblocks - b);
            nblocks = b;
            continue;
        }
        v = (seed >> 20) & ((1u << bpb) - 1);
        for (; b < nblocks && (seed & 1023) != 0; b++, seed >>= 1) {
            bitmap_set(&bm, b, v);
            model[b] = v;
        }
        bad += !agrees(&bm);
    }
    CHECK(bad == 0);
    bitmap_free(&bm);
}

static void
test_long_runs(void)
{
    struct bitmap bm;

    unit_group("searches cross whole clear and full words");
    bitmap_init(&bm, 1, 1);
    bitmap_resize(&bm, 1000);
    bitmap_set(&bm, 999, 1);
    CHECK(bitmap_next_set(&bm, 0) == 999);
    CHECK(bitmap_next_set(&bm, 999) == 999);
    CHECK(bitmap_next_set(&bm, 1000) == -1);
    bitmap_set(&bm, 999, 0);
    CHECK(bitmap_next_set(&bm, 0) == -1);
    for (uint64_t b = 0; b < 1000; b++)
        bitmap_set(&bm, b, 1);
    CHECK(bitmap_next_clear(&bm, 0) == -1);
    bitmap_set(&bm, 640, 0);
    CHECK(bitmap_next_clear(&bm, 0) == 640 &&
          bitmap_next_clear(&bm, 641) == -1);
    bitmap_free(&bm);
}

int
main(void)
{
    size_t i;

    test_init();
    for (i = 0; i < sizeof bpbs / sizeof bpbs[0]; i++) {
        printf("-- %u bits per block\n", bpbs[i]);
        unit_group("states stay in their own field");
        test_neighbours(bpbs[i]);
        unit_group("shrinking clears the dropped blocks");
        test_shrink_grow(bpbs[i]);
        unit_group("random states agree with the model");
        test_random(bpbs[i]);
    }
    test_long_runs();
    return unit_finish();
}
