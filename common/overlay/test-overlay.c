/* SPDX-License-Identifier: BSD-3-Clause */
/* test-overlay.c: unit tests of overlay.h: the temporary file, block
 * states, whole-block I/O and discard, the cutting of requests into
 * per-block pieces at the edges, the count of held blocks and the clock
 * that picks one to drop, growing from several threads, and the
 * boolean-or-path switch.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

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
    /* A bounce buffer is made once. */
    {
        char *bounce = NULL, *first = overlay_bounce(ov, &bounce);

        CHECK(first != NULL && bounce == first);
        CHECK(overlay_bounce(ov, &bounce) == first);
        free(bounce);
    }
    /* Parts of a block, in place: of a written block and of a freed one. */
    CHECK(overlay_write_part(ov, "xyz", 4, 4093, 3) == 0);
    CHECK(overlay_read(ov, b, 4) == 0 && memcmp(b, a, 4093) == 0 &&
          memcmp(b + 4093, "xyz", 3) == 0);
    CHECK(overlay_read_part(ov, b, 4, 4092, 4) == 0 && b[0] == a[4092] &&
          memcmp(b + 1, "xyz", 3) == 0);
    CHECK(overlay_write_part(ov, "q", 2, 100, 1) == 0);
    CHECK(overlay_read(ov, b, 2) == 0 && b[99] == 0 && b[100] == 'q' &&
          b[101] == 0 && b[4095] == 0);
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

static void
test_clock(struct overlay *ov)
{
    uint64_t b;

    unit_group("the held count follows states, the clock only held blocks");
    CHECK(overlay_resize(ov, 4096 * 8) == 0);
    for (b = 0; b < 8; b++)
        overlay_set(ov, b, 0);
    CHECK(overlay_count(ov) == 0 && overlay_victim(ov) == -1);
    overlay_set(ov, 1, 1);
    overlay_set(ov, 3, 2);
    overlay_set(ov, 5, 1);
    overlay_set(ov, 5, 2); /* a change between held states: still one */
    CHECK(overlay_count(ov) == 3);
    overlay_touch(ov, 6); /* not held: no mark */

    unit_group("a block used again is spared one turn, new ones are not");
    overlay_touch(ov, 1);
    CHECK(overlay_victim(ov) == 3);
    overlay_set(ov, 3, 0);
    CHECK(overlay_count(ov) == 2);
    /* 5 was changed while held, so marked: the hand clears it and
     * comes round to 1, whose mark it cleared on the first turn.
     */
    CHECK(overlay_victim(ov) == 1);
    overlay_set(ov, 1, 0);
    CHECK(overlay_victim(ov) == 5);
    overlay_touch(ov, 5);
    CHECK(overlay_victim(ov) == 5); /* the only one left, however used */
    overlay_set(ov, 5, 0);
    overlay_set(ov, 1, 1);

    unit_group("shrinking drops the held blocks past the end");
    overlay_set(ov, 7, 1);
    CHECK(overlay_count(ov) == 2);
    CHECK(overlay_resize(ov, 4096 * 7) == 0 && overlay_count(ov) == 1);
    CHECK(overlay_resize(ov, 4096 * 8) == 0 && overlay_get(ov, 7) == 0);
    overlay_set(ov, 1, 0);
    CHECK(overlay_count(ov) == 0 && overlay_victim(ov) == -1);
}

static void *
grow_to(void *opaque)
{
    struct overlay *ov = opaque;
    uint64_t s;

    for (s = 4096; s <= 4096 * 64; s += 4096)
        if (overlay_grow(ov, s) == -1)
            return opaque;
    return NULL;
}

static void
test_grow(struct overlay *ov)
{
    pthread_t t[4];
    void *ret[4];
    int i;

    unit_group("grow from several threads only ever grows");
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, grow_to, ov);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], &ret[i]);
    CHECK(ret[0] == NULL && ret[1] == NULL && ret[2] == NULL && ret[3] == NULL);
    CHECK(overlay_nblocks(ov) == 64 && ov->size == 4096 * 64);
    CHECK(overlay_grow(ov, 4096) == 0 && overlay_nblocks(ov) == 64);
}

static int
fake_bool(const char *s)
{
    if (strcmp(s, "true") == 0)
        return 1;
    return strcmp(s, "false") == 0 ? 0 : -1;
}

static void
test_switch(void)
{
    struct overlay_switch s = {0, NULL};
    char path[] = "/tmp/nbdx-test-switch-XXXXXX";
    int fd;

    unit_group("a switch is a boolean, or a path that exists or not");
    CHECK(overlay_switch_parse(&s, "true", fake_bool) == 0 &&
          overlay_switch_on(&s));
    CHECK(overlay_switch_parse(&s, "maybe", fake_bool) == -1 &&
          overlay_switch_on(&s));
    CHECK(overlay_switch_parse(&s, "false", fake_bool) == 0 &&
          !overlay_switch_on(&s));
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(overlay_switch_parse(&s, path, fake_bool) == 0 &&
          overlay_switch_on(&s));
    unlink(path);
    close(fd);
    CHECK(!overlay_switch_on(&s));
    CHECK(overlay_switch_parse(&s, "true", fake_bool) == 0 && s.path == NULL);
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
    test_clock(&ov);
    test_grow(&ov);
    test_switch();
    overlay_free(&ov);
    overlay_free(&ov);
    return unit_finish();
}
