/* SPDX-License-Identifier: BSD-3-Clause */
/* test-overlay.c: unit tests of overlay.h: the temporary file, block
 * states, whole-block I/O and discard, and the cutting of requests into
 * per-block pieces at the edges.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay.h"
#include "unit.h"

/* Records the pieces overlay_split hands out. */
struct rec {
    struct overlay_piece p[8];
    int n, stop_at;
};

static int
record(const struct overlay_piece *p, void *opaque)
{
    struct rec *r = opaque;

    if (r->n == r->stop_at)
        return 7;
    r->p[r->n++] = *p;
    return 0;
}

static void
test_split(struct overlay *ov)
{
    struct rec r = {.n = 0, .stop_at = -1};

    unit_group("an unaligned request becomes head, whole blocks, tail");
    CHECK(overlay_split(ov, 4000, 96 + 4096 + 200, record, &r) == 0);
    CHECK(r.n == 3);
    CHECK(r.p[0].blk == 0 && r.p[0].start == 4000 && r.p[0].len == 96 &&
          r.p[0].pos == 0 && !r.p[0].whole);
    CHECK(r.p[1].blk == 1 && r.p[1].start == 0 && r.p[1].len == 4096 &&
          r.p[1].pos == 96 && r.p[1].whole);
    CHECK(r.p[2].blk == 2 && r.p[2].start == 0 && r.p[2].len == 200 &&
          r.p[2].pos == 4192 && !r.p[2].whole);

    unit_group("all of the partial last block counts as whole");
    r.n = 0;
    CHECK(overlay_split(ov, 4096 * 4, 100, record, &r) == 0);
    CHECK(r.n == 1 && r.p[0].blk == 4 && r.p[0].len == 100 && r.p[0].whole);
    CHECK(overlay_block_len(ov, 4) == 100 && overlay_block_len(ov, 3) == 4096);

    unit_group("a non-zero return stops the walk and is returned");
    r.n = 0, r.stop_at = 1;
    CHECK(overlay_split(ov, 0, 4096 * 3, record, &r) == 7 && r.n == 1);
    r.n = 0, r.stop_at = -1;
    CHECK(overlay_split(ov, 0, 0, record, &r) == 0 && r.n == 0);
}

static void
test_io(struct overlay *ov)
{
    char *a = malloc(4096), *b = malloc(4096);

    unit_group("whole blocks are written, read back and discarded");
    memset(a, 'x', 4096);
    CHECK(overlay_read(ov, b, 2) == 0 && b[0] == 0 && b[4095] == 0);
    CHECK(overlay_write(ov, a, 2) == 0);
    CHECK(overlay_read(ov, b, 2) == 0 && memcmp(a, b, 4096) == 0);
    CHECK(overlay_read(ov, b, 1) == 0 && b[4095] == 0);
    CHECK(overlay_write(ov, a, 4) == 0 && overlay_read(ov, b, 4) == 0 &&
          memcmp(a, b, 4096) == 0); /* the partial last block is whole */
    CHECK(overlay_allocated(ov) >= 4096);
    CHECK(overlay_discard(ov, 2) == 0);
    CHECK(overlay_read(ov, b, 2) == 0 && b[0] == 0 && b[4095] == 0);
    CHECK(overlay_sync(ov) == 0);
    free(a);
    free(b);
}

static void
test_states(struct overlay *ov)
{
    unit_group("states start at 0, and find looks from a block on");
    CHECK(overlay_get(ov, 0) == 0 && overlay_get(ov, 4) == 0);
    overlay_set(ov, 3, 2);
    overlay_set(ov, 4, 1);
    CHECK(overlay_get(ov, 3) == 2 && overlay_get(ov, 2) == 0);
    CHECK(overlay_find(ov, 0, 2) == 3 && overlay_find(ov, 4, 2) == -1);
    CHECK(overlay_find(ov, 0, 1) == 4 && overlay_find(ov, 5, 0) == -1);
    overlay_lock(ov, 3);
    overlay_lock(ov, 4); /* another stripe */
    overlay_unlock(ov, 4);
    overlay_unlock(ov, 3);

    unit_group("growing keeps states, shrinking to 0 is fine");
    CHECK(overlay_resize(ov, 4096 * 9) == 0 && overlay_nblocks(ov) == 9);
    CHECK(overlay_get(ov, 3) == 2 && overlay_get(ov, 8) == 0);
    CHECK(overlay_resize(ov, 0) == 0 && overlay_nblocks(ov) == 0);
}

int
main(void)
{
    struct overlay ov;

    unit_group("init refuses bad block sizes and bit counts");
    CHECK(overlay_init(&ov, 3000, 2) == -1 && errno == EINVAL);
    CHECK(overlay_init(&ov, 4096, 3) == -1 && errno == EINVAL);
    setenv("TMPDIR", "/nonexistent-dir-for-test", 1);
    CHECK(overlay_init(&ov, 4096, 2) == -1 && errno == ENOENT);
    unsetenv("TMPDIR");

    CHECK(overlay_init(&ov, 4096, 2) == 0);
    CHECK(overlay_resize(&ov, 4096 * 4 + 100) == 0);
    CHECK(overlay_nblocks(&ov) == 5);
    test_split(&ov);
    test_io(&ov);
    test_states(&ov);
    overlay_free(&ov);
    overlay_free(&ov);
    return unit_finish();
}
