/* SPDX-License-Identifier: BSD-3-Clause */
/* test-sparse.c: unit tests of common/allocators/sparse.c.
 *
 * The file under test is included so the tests can check its slab
 * bookkeeping (every slot is in the table, held by a staged write, or
 * free, exactly once) as well as what the API returns.
 */

#include "sparse.c"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "unit.h"

#define PAGE SPARSE_PAGE_SIZE
#define MIB ((uint64_t)1 << 20)

/* Non-zero bytes that differ with seed and position. */
static void
pattern(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    size_t i;

    for (i = 0; i < len; i++)
        p[i] = (unsigned char)(((seed + i) * 2654435761u) >> 24) | 1;
}

static uint64_t
xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* A random number below below (> 0). */
static uint64_t
rand_below(uint64_t *state, uint64_t below)
{
    return xorshift(state) % below;
}

/* Copies len bytes of src (NULL: zeroes) into the pieces, in order,
 * standing in for the server's recv into them.  Staged memory belongs to
 * the caller alone, so unlike writes to existing pages this must never
 * race with anything (its name matches no line of fuzzing/tsan.supp).
 */
static void
fill_pieces(const struct sparse_wpiece *iov, size_t n, const char *src,
            uint64_t len)
{
    uint64_t done = 0, k;
    size_t i;

    for (i = 0; i < n && done < len; i++) {
        k = MIN(iov[i].len, len - done);
        if (src)
            memcpy(iov[i].base, src + done, k);
        else
            memset(iov[i].base, 0, k);
        done += k;
    }
}

static bool
pieces_are_zero(const struct sparse_wpiece *iov, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!is_zero(iov[i].base, iov[i].len))
            return false;
    return true;
}

/* The bytes the pieces describe. */
static uint64_t
pieces_len(const struct sparse_wpiece *iov, size_t n)
{
    uint64_t len = 0;
    size_t i;

    for (i = 0; i < n; i++)
        len += iov[i].len;
    return len;
}

/* Reads [offset, offset + len) and compares it with want (NULL: zeroes). */
static bool
reads_as(struct sparse_array *sa, uint64_t offset, const char *want, size_t len)
{
    char *buf = malloc(len);
    bool ok;

    if (buf == NULL)
        return false;
    sparse_array_read(sa, buf, (uint32_t)len, offset);
    ok = want ? memcmp(buf, want, len) == 0 : is_zero(buf, len);
    free(buf);
    return ok;
}

struct extent {
    uint64_t offset, length;
    int state;
};
struct extent_list {
    struct extent e[16];
    size_t n;
};

static int
collect_extent(void *opaque, uint64_t offset, uint64_t length, int state)
{
    struct extent_list *l = opaque;

    if (l->n == 16)
        return -1;
    l->e[l->n++] = (struct extent){offset, length, state};
    return 0;
}

/* True if [offset, offset + len) is reported as one extent of state. */
static bool
extent_is(struct sparse_array *sa, uint64_t offset, uint32_t len, int state)
{
    struct extent_list l = {.n = 0};

    if (sparse_array_extents(sa, len, offset, collect_extent, &l) == -1)
        return false;
    return l.n == 1 && l.e[0].offset == offset && l.e[0].length == len &&
           l.e[0].state == state;
}

/* Pages in the table. */
static size_t
table_pages(const struct sparse_array *sa)
{
    size_t i, n = 0;

    for (i = 0; i < sa->l1.len; i++)
        n += sa->l1.ptr[i].l2->used;
    return n;
}

/* Marks page in seen; false if it is no page of a slab, was seen already
 * or is free.
 */
static bool
mark_page(const struct sparse_array *sa, uint32_t page, uint64_t *seen)
{
    uint32_t s = sparse_page_slab(page);
    uint64_t bit = sparse_page_bit(page);
    bool ok;

    if (page == 0 || s >= sa->slabs.len)
        return false;
    ok = (seen[s] & bit) == 0 && (sa->slabs.ptr[s].free & bit) == 0;
    seen[s] |= bit;
    return ok;
}

/* Checks one L2 directory against the slabs, marking its pages in seen. */
static bool
l2_consistent(const struct sparse_array *sa, const struct l2_dir *l2,
              uint64_t *seen)
{
    unsigned j, used = 0;
    bool ok = true;

    for (j = 0; j < L2_PAGES; j++) {
        if (l2->page[j] == 0)
            continue;
        used++;
        ok = mark_page(sa, l2->page[j], seen) && ok;
    }
    return ok && used == l2->used && used > 0;
}

/* Every slot of every slab is in the table, held by one of the k stages
 * or free, exactly once; the table is sorted; partial lists the slabs
 * with free slots, each once.
 */
static bool
pool_consistent_with(const struct sparse_array *sa,
                     struct sparse_stage *const *stages, size_t k)
{
    uint64_t *seen = calloc(sa->slabs.len + 1, sizeof *seen);
    size_t i, j, listed = 0;
    bool ok = seen != NULL;

    for (i = 0; ok && i < sa->l1.len; i++)
        ok = l2_consistent(sa, sa->l1.ptr[i].l2, seen) &&
             (i == 0 || sa->l1.ptr[i - 1].index < sa->l1.ptr[i].index);
    for (i = 0; ok && i < k; i++)
        for (j = 0; ok && j < stages[i]->npages; j++)
            ok = mark_page(sa, stages[i]->page[j], seen);
    /* Pages kept for recycling are held, never exposed. */
    for (i = 0; ok && i < sa->dirty.len; i++)
        ok = mark_page(sa, sa->dirty.ptr[i], seen) &&
             !(sa->slabs.ptr[sparse_page_slab(sa->dirty.ptr[i])].exposed &
               sparse_page_bit(sa->dirty.ptr[i]));
    for (i = 0; ok && i < sa->slabs.len; i++) {
        ok = (seen[i] | sa->slabs.ptr[i].free) == UINT64_MAX;
        listed += sa->slabs.ptr[i].free != 0;
    }
    for (i = 0; ok && i < sa->partial.len; i++) {
        ok = sa->slabs.ptr[sa->partial.ptr[i]].free != 0;
        for (j = 0; ok && j < i; j++)
            ok = sa->partial.ptr[j] != sa->partial.ptr[i];
    }
    free(seen);
    return ok && listed == sa->partial.len;
}

static bool
pool_consistent(const struct sparse_array *sa)
{
    return pool_consistent_with(sa, NULL, 0);
}

/* Free slots in all slabs. */
static unsigned
free_slots(const struct sparse_array *sa)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < sa->slabs.len; i++)
        n += (unsigned)__builtin_popcountll(sa->slabs.ptr[i].free);
    return n;
}

/* Stages [offset, offset + len), fills it with fill bytes of src (NULL:
 * zeroes) and commits it; returns what the commit did, or -1 if the
 * stage failed.
 */
static int
staged_write(struct sparse_array *sa, const char *src, uint32_t len,
             uint32_t fill, uint64_t offset)
{
    struct sparse_wpiece iov[16];
    struct sparse_stage *st;
    size_t n;

    if (sparse_array_stage(sa, len, offset, iov, 16, &n, &st) == -1)
        return -1;
    fill_pieces(iov, n, src, fill);
    return sparse_array_commit(sa, st);
}

static void
test_read_write(void)
{
    struct sparse_array *sa = sparse_array_new();
    size_t len = 3 * PAGE + 100;
    char *data = malloc(len);

    unit_group("read and write round trip across page boundaries");
    pattern(data, len, 1);
    CHECK(reads_as(sa, 12345, NULL, 100000));
    CHECK(sparse_array_write(sa, data, (uint32_t)len, PAGE - 50) == 0);
    CHECK(reads_as(sa, PAGE - 50, data, len));
    CHECK(reads_as(sa, 0, NULL, PAGE - 50));
    CHECK(reads_as(sa, PAGE - 50 + len, NULL, 2 * PAGE));
    CHECK(table_pages(sa) == 5);
    CHECK(sparse_array_write(sa, data, 1000, SPARSE_MAX_SIZE - 1000) == 0);
    CHECK(reads_as(sa, SPARSE_MAX_SIZE - 1000, data, 1000));
    CHECK(sparse_array_write(sa, data + 7, 33, PAGE + 3) == 0);
    CHECK(reads_as(sa, PAGE + 3, data + 7, 33));
    CHECK(pool_consistent(sa));
    free(data);
    sparse_array_free(sa);
    sparse_array_free(NULL);
}

static void
test_zero(void)
{
    struct sparse_array *sa = sparse_array_new();
    char data[4 * PAGE], zero[100] = {0};

    unit_group("zero clears bytes and removes pages left all zero");
    pattern(data, sizeof data, 2);
    CHECK(sparse_array_write(sa, data, sizeof data, 0) == 0);
    sparse_array_zero(sa, PAGE, 100);
    CHECK(reads_as(sa, 0, data, 100));
    CHECK(reads_as(sa, 100, NULL, PAGE));
    CHECK(reads_as(sa, PAGE + 100, data + PAGE + 100, 3 * PAGE - 100));
    CHECK(table_pages(sa) == 4);
    sparse_array_zero(sa, 4 * PAGE, 0);
    CHECK(table_pages(sa) == 0 && extent_is(sa, 0, 4 * PAGE, SPARSE_HOLE));
    CHECK(sparse_array_write(sa, data, 10, 5 * PAGE + 10) == 0);
    sparse_array_zero(sa, 10, 5 * PAGE + 10);
    CHECK(table_pages(sa) == 0);
    CHECK(sparse_array_write(sa, zero, sizeof zero, 9 * PAGE - 50) == 0);
    CHECK(table_pages(sa) == 0 && sa->l1.len == 0);
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_extents(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct extent_list l = {.n = 0};
    char data[100];

    unit_group("extents report holes and data, merged, from offset");
    pattern(data, sizeof data, 3);
    CHECK(sparse_array_write(sa, data, sizeof data, 2 * PAGE + 7) == 0);
    CHECK(sparse_array_extents(sa, 4 * PAGE - 5, 5, collect_extent, &l) == 0);
    CHECK(l.n == 3);
    CHECK(l.e[0].offset == 5 && l.e[0].length == 2 * PAGE - 5 &&
          l.e[0].state == SPARSE_HOLE);
    CHECK(l.e[1].offset == 2 * PAGE && l.e[1].length == PAGE &&
          l.e[1].state == SPARSE_DATA);
    CHECK(l.e[2].offset == 3 * PAGE && l.e[2].length == PAGE &&
          l.e[2].state == SPARSE_HOLE);
    CHECK(extent_is(sa, (uint64_t)1 << 40, 1 << 30, SPARSE_HOLE));
    CHECK(extent_is(sa, 2 * PAGE + 1, 10, SPARSE_DATA));
    l.n = 16;
    CHECK(sparse_array_extents(sa, PAGE, 0, collect_extent, &l) == -1);
    sparse_array_free(sa);
}

static void
test_read_pieces(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_piece iov[4];
    char *data = malloc(MIB);
    size_t n;

    unit_group("read pieces merge adjacent pages and runs of zeroes");
    pattern(data, MIB, 4);
    CHECK(sparse_array_write(sa, data, MIB, 0) == 0);
    CHECK(sparse_array_read_begin(sa, MIB + 2 * PAGE, 0, iov, 4, &n) ==
          MIB + 2 * PAGE);
    CHECK(n == 2 && iov[0].len == MIB && memcmp(iov[0].base, data, MIB) == 0);
    CHECK(iov[1].base == NULL && iov[1].len == 2 * PAGE);
    sparse_array_read_end(sa);
    CHECK(sparse_array_read_begin(sa, 100, MIB - 50, iov, 1, &n) == 50);
    CHECK(n == 1 && memcmp(iov[0].base, data + MIB - 50, 50) == 0);
    sparse_array_read_end(sa);
    free(data);
    sparse_array_free(sa);
}

/* The size sparse_stage_new allocates for [offset, offset + count). */
static size_t
stage_alloc_size(uint32_t count, uint64_t offset)
{
    uint64_t end = offset + count;
    uint64_t a = MIN(ROUND_UP(offset, PAGE), end);
    uint64_t b = MAX(ROUND_DOWN(end, PAGE), a);

    return sizeof(struct sparse_stage) + (b - a) / PAGE * sizeof(uint32_t) +
           (a - offset) + (end - b);
}

/* Leaves a freed block of len bytes of 0xff for the next malloc of that
 * size, so an edge buffer the array does not clear shows as non-zero
 * even without ASan (which fills new blocks itself).
 */
static void
dirty_heap(size_t len)
{
    char *p = malloc(len);

    if (p == NULL)
        return;
    memset(p, 0xff, len);
    __asm__ volatile("" : : "r"(p) : "memory"); /* keep the stores */
    free(p);
}

/* sparse_array_stage, after dirtying the heap for its allocation. */
static int
stage_dirty(struct sparse_array *sa, uint32_t count, uint64_t offset,
            struct sparse_wpiece *iov, size_t max, size_t *n,
            struct sparse_stage **st)
{
    dirty_heap(stage_alloc_size(count, offset));
    return sparse_array_stage(sa, count, offset, iov, max, n, st);
}

static void
test_stage_pieces(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[16];
    struct sparse_stage *st;
    char *data = malloc(MIB);
    unsigned fr;
    size_t n;

    unit_group("stage: whole pages are fresh, zero, merged, outside the table");
    pattern(data, MIB, 5);
    CHECK(sparse_array_stage(sa, MIB, 0, iov, 16, &n, &st) == 0);
    CHECK(n == 1 && iov[0].len == MIB); /* one slab: adjacent slots */
    CHECK(pieces_are_zero(iov, n));
    CHECK(table_pages(sa) == 0 && pool_consistent_with(sa, &st, 1));
    CHECK(sa->slabs.len == 1 && free_slots(sa) == 32);
    fill_pieces(iov, n, data, MIB);
    CHECK(extent_is(sa, 0, MIB, SPARSE_HOLE) && reads_as(sa, 0, NULL, MIB));
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 0, data, MIB));
    CHECK(extent_is(sa, 0, MIB, SPARSE_DATA) && table_pages(sa) == 32);
    CHECK(pool_consistent(sa));

    unit_group("stage: partial end pages are zeroed pieces of their own");
    CHECK(stage_dirty(sa, 2 * PAGE + 300, 40 * PAGE - 100, iov, 16, &n, &st) ==
          0);
    CHECK(n == 3 && iov[0].len == 100 && iov[1].len == 2 * PAGE &&
          iov[2].len == 200);
    CHECK(pieces_are_zero(iov, n) && pool_consistent_with(sa, &st, 1));
    fill_pieces(iov, n, data, 2 * PAGE + 300);
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 40 * PAGE - 100, data, 2 * PAGE + 300));
    CHECK(reads_as(sa, 39 * PAGE, NULL, PAGE - 100));
    CHECK(reads_as(sa, 42 * PAGE + 200, NULL, PAGE - 200));
    CHECK(table_pages(sa) == 36 && pool_consistent(sa));

    unit_group("stage: inside one page or across one boundary, one piece");
    fr = free_slots(sa);
    CHECK(stage_dirty(sa, 100, 50 * PAGE + 5, iov, 1, &n, &st) == 0);
    CHECK(n == 1 && iov[0].len == 100 && pieces_are_zero(iov, n));
    CHECK(free_slots(sa) == fr);
    sparse_array_abort(sa, st);
    CHECK(stage_dirty(sa, 20, 51 * PAGE - 10, iov, 1, &n, &st) == 0);
    CHECK(n == 1 && iov[0].len == 20 && pieces_are_zero(iov, n));
    CHECK(free_slots(sa) == fr);
    fill_pieces(iov, n, data, 20);
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 51 * PAGE - 10, data, 20) && table_pages(sa) == 38);

    unit_group("stage: an aligned start with a partial tail, two pieces");
    CHECK(stage_dirty(sa, PAGE + 7, 60 * PAGE, iov, 16, &n, &st) == 0);
    CHECK(n == 2 && iov[0].len == PAGE && iov[1].len == 7);
    CHECK(pieces_are_zero(iov, n));
    fill_pieces(iov, n, data, PAGE + 7);
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 60 * PAGE, data, PAGE + 7));
    CHECK(reads_as(sa, 61 * PAGE + 7, NULL, PAGE - 7));
    CHECK(table_pages(sa) == 40 && pool_consistent(sa));
    free(data);
    sparse_array_free(sa);
}

static void
test_stage_isolated(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    struct sparse_piece rv[8];
    struct sparse_stage *st;
    char old[4 * PAGE], new[3 * PAGE], other[PAGE], want[4 * PAGE];
    const uint64_t at = 10 * PAGE + 100; /* head, 2 pages, tail */
    unsigned fr;
    size_t n, rn, i;
    uint64_t done = 0;
    bool same = true;

    unit_group("a staged write changes nothing until it is committed");
    pattern(old, sizeof old, 20);
    pattern(new, sizeof new, 21);
    pattern(other, sizeof other, 22);
    CHECK(sparse_array_write(sa, old, sizeof old, 10 * PAGE) == 0);
    CHECK(sparse_array_stage(sa, sizeof new, at, iov, 4, &n, &st) == 0);
    fill_pieces(iov, n, new, sizeof new);
    CHECK(reads_as(sa, 10 * PAGE, old, sizeof old));
    CHECK(sparse_array_read_begin(sa, sizeof new, at, rv, 8, &rn) ==
          sizeof new);
    for (i = 0; i < rn; done += rv[i].len, i++)
        same = same && rv[i].base &&
               memcmp(rv[i].base, old + 100 + done, rv[i].len) == 0;
    sparse_array_read_end(sa);
    CHECK(same && done == sizeof new);
    CHECK(extent_is(sa, 10 * PAGE, 4 * PAGE, SPARSE_DATA));
    CHECK(extent_is(sa, 14 * PAGE, PAGE, SPARSE_HOLE));
    CHECK(table_pages(sa) == 4);
    /* Other writes while it is staged get other pages. */
    CHECK(sparse_array_write(sa, other, sizeof other, 100 * PAGE) == 0);
    CHECK(pool_consistent_with(sa, &st, 1));
    CHECK(sparse_array_commit(sa, st) == 0);
    memcpy(want, old, sizeof want);
    memcpy(want + 100, new, sizeof new);
    CHECK(reads_as(sa, 10 * PAGE, want, sizeof want));
    CHECK(reads_as(sa, 100 * PAGE, other, sizeof other));
    CHECK(table_pages(sa) == 5 && pool_consistent(sa));

    unit_group("an aborted stage leaves the old data and gives pages back");
    fr = free_slots(sa);
    CHECK(sparse_array_stage(sa, sizeof new, at, iov, 4, &n, &st) == 0);
    CHECK(free_slots(sa) == fr - 2);
    fill_pieces(iov, n, old, sizeof new);
    sparse_array_abort(sa, st);
    CHECK(reads_as(sa, 10 * PAGE, want, sizeof want));
    CHECK(free_slots(sa) == fr && table_pages(sa) == 5 && pool_consistent(sa));
    /* The filled slots are handed out again, reading as zero. */
    CHECK(sparse_array_stage(sa, 2 * PAGE, 30 * PAGE, iov, 4, &n, &st) == 0);
    CHECK(pieces_are_zero(iov, n));
    sparse_array_abort(sa, st);
    CHECK(free_slots(sa) == fr && pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_stage_unfilled(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    struct sparse_stage *st;
    char old[4 * PAGE], new[50];
    size_t n;

    unit_group("staged bytes left unfilled commit as zeroes");
    pattern(old, sizeof old, 23);
    pattern(new, sizeof new, 24);
    CHECK(sparse_array_write(sa, old, sizeof old, 0) == 0);
    /* Head PAGE - 100 bytes, 2 pages, tail 100; only 50 bytes filled. */
    CHECK(stage_dirty(sa, 3 * PAGE, 100, iov, 4, &n, &st) == 0);
    fill_pieces(iov, n, new, sizeof new);
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 0, old, 100) && reads_as(sa, 100, new, sizeof new));
    CHECK(reads_as(sa, 150, NULL, 3 * PAGE - 50));
    CHECK(reads_as(sa, 3 * PAGE + 100, old + 3 * PAGE + 100, PAGE - 100));
    CHECK(extent_is(sa, PAGE, 2 * PAGE, SPARSE_HOLE) && table_pages(sa) == 2);
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_stage_overwrites_interim(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    struct sparse_stage *st;
    char old[2 * PAGE + 10], new[2 * PAGE + 10];
    size_t n;

    unit_group("a write or zero between stage and commit loses to the commit");
    pattern(old, sizeof old, 25);
    pattern(new, sizeof new, 26);
    CHECK(sparse_array_stage(sa, sizeof new, 20 * PAGE, iov, 4, &n, &st) == 0);
    fill_pieces(iov, n, new, sizeof new);
    CHECK(sparse_array_write(sa, old, sizeof old, 20 * PAGE) == 0);
    sparse_array_zero(sa, 100, 20 * PAGE + 10);
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 20 * PAGE, new, sizeof new));
    CHECK(table_pages(sa) == 3 && pool_consistent(sa));

    unit_group("a zero while staged stays when the stage is aborted");
    CHECK(sparse_array_stage(sa, sizeof old, 20 * PAGE, iov, 4, &n, &st) == 0);
    fill_pieces(iov, n, old, sizeof old);
    sparse_array_zero(sa, sizeof new, 20 * PAGE);
    sparse_array_abort(sa, st);
    CHECK(reads_as(sa, 20 * PAGE, NULL, sizeof new) && table_pages(sa) == 0);
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);
}

/* Reads one field of /proc/self/statm, in bytes. */
static uint64_t
statm_field(int field)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long v[2] = {0, 0};

    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%lu %lu", &v[0], &v[1]) != 2)
        v[0] = v[1] = 0;
    fclose(fp);
    return (uint64_t)v[field] * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void
test_commit_zero_drops(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[64];
    struct sparse_stage *st;
    char data[4 * PAGE];
    uint64_t rss0, rss1, rss2;
    size_t n;

    unit_group("committed all-zero pages are dropped, not held");
    pattern(data, sizeof data, 27);
    CHECK(sparse_array_write(sa, data, sizeof data, 0) == 0);
    CHECK(staged_write(sa, NULL, sizeof data, sizeof data, 0) == 0);
    CHECK(extent_is(sa, 0, sizeof data, SPARSE_HOLE) && table_pages(sa) == 0);
    CHECK(sa->l1.len == 0 && free_slots(sa) == SLAB_PAGES);
    /* Unfilled over holes. */
    CHECK(staged_write(sa, NULL, sizeof data, 0, 8 * PAGE) == 0);
    CHECK(extent_is(sa, 8 * PAGE, sizeof data, SPARSE_HOLE));
    CHECK(table_pages(sa) == 0 && pool_consistent(sa));

    unit_group("zeroes staged over data keep only the partly kept pages");
    CHECK(sparse_array_write(sa, data, sizeof data, 0) == 0);
    CHECK(staged_write(sa, NULL, 2 * PAGE + 200, 2 * PAGE + 200, PAGE - 100) ==
          0);
    CHECK(reads_as(sa, 0, data, PAGE - 100));
    CHECK(reads_as(sa, PAGE - 100, NULL, 2 * PAGE + 200));
    CHECK(reads_as(sa, 3 * PAGE + 100, data + 3 * PAGE + 100, PAGE - 100));
    CHECK(extent_is(sa, PAGE, 2 * PAGE, SPARSE_HOLE) && table_pages(sa) == 2);
    /* Zero ends over a hole add no page; over a page, as a write does. */
    CHECK(staged_write(sa, NULL, PAGE, PAGE, 20 * PAGE + 5) == 0);
    CHECK(table_pages(sa) == 2);
    CHECK(sparse_array_write(sa, data, 10, 30 * PAGE) == 0);
    CHECK(staged_write(sa, NULL, 10, 10, 30 * PAGE) == 0);
    CHECK(extent_is(sa, 30 * PAGE, PAGE, SPARSE_ZERO));
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);

    unit_group("a zero-filled 32 MiB commit gives its memory back");
    sa = sparse_array_new();
    rss0 = statm_field(1);
    CHECK(sparse_array_stage(sa, 32 * MIB, 256 * MIB, iov, 64, &n, &st) == 0);
    fill_pieces(iov, n, NULL, 32 * MIB);
    rss1 = statm_field(1);
    CHECK(sparse_array_commit(sa, st) == 0);
    rss2 = statm_field(1);
    printf("rss %llu MiB before, %llu MiB staged, %llu MiB committed\n",
           (unsigned long long)(rss0 / MIB), (unsigned long long)(rss1 / MIB),
           (unsigned long long)(rss2 / MIB));
    CHECK(rss1 - rss0 > 24 * MIB && rss1 - rss2 > 24 * MIB);
    CHECK(table_pages(sa) == 0 && free_slots(sa) == 16 * SLAB_PAGES);
    CHECK(extent_is(sa, 256 * MIB, 32 * MIB, SPARSE_HOLE));
    sparse_array_free(sa);
}

static void
test_stage_e2big(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    struct sparse_stage *st;
    char data[1] = {1};
    unsigned fr;
    size_t n;

    unit_group("a stage needing more than max pieces fails with E2BIG");
    /* Pages 0, 10 and 20 take slots 0, 1 and 2; slot 1 is freed. */
    CHECK(sparse_array_write(sa, data, 1, 0) == 0);
    CHECK(sparse_array_write(sa, data, 1, 10 * PAGE) == 0);
    CHECK(sparse_array_write(sa, data, 1, 20 * PAGE) == 0);
    sparse_array_zero(sa, 1, 10 * PAGE);
    fr = free_slots(sa);
    errno = 0;
    CHECK(sparse_array_stage(sa, PAGE + 200, 5 * PAGE - 100, iov, 2, &n, &st) ==
              -1 &&
          errno == E2BIG);
    CHECK(free_slots(sa) == fr && table_pages(sa) == 2 && pool_consistent(sa));
    /* Three pages get slots 1, 3 and 4: two pieces. */
    errno = 0;
    CHECK(sparse_array_stage(sa, 3 * PAGE, 30 * PAGE, iov, 1, &n, &st) == -1 &&
          errno == E2BIG);
    CHECK(free_slots(sa) == fr && pool_consistent(sa));
    CHECK(sparse_array_stage(sa, 3 * PAGE, 30 * PAGE, iov, 2, &n, &st) == 0);
    CHECK(n == 2 && iov[0].len == PAGE && iov[1].len == 2 * PAGE);
    sparse_array_abort(sa, st);
    CHECK(sparse_array_stage(sa, PAGE + 200, 5 * PAGE - 100, iov, 3, &n, &st) ==
              0 &&
          n == 3);
    sparse_array_abort(sa, st);
    CHECK(sparse_array_stage(sa, 100, 7 * PAGE + 1, iov, 1, &n, &st) == 0 &&
          n == 1);
    sparse_array_abort(sa, st);
    CHECK(free_slots(sa) == fr && table_pages(sa) == 2 && pool_consistent(sa));
    CHECK(reads_as(sa, 0, data, 1) && reads_as(sa, 20 * PAGE, data, 1));
    sparse_array_free(sa);
}

/* The random test's model of [MODEL_BASE, MODEL_BASE + MODEL_LEN): the
 * bytes, and whether the array should hold each page.  The area crosses
 * an L2 directory boundary.
 */
#define MODEL_PAGES 24
#define MODEL_LEN (MODEL_PAGES * PAGE)
#define MODEL_BASE (L1_SPAN - MODEL_PAGES / 2 * PAGE)
#define MODEL_OPS 1000

struct model {
    char bytes[MODEL_LEN];
    bool held[MODEL_PAGES];
};

static bool
model_page_zero(const struct model *m, unsigned p)
{
    return is_zero(m->bytes + (size_t)p * PAGE, PAGE);
}

/* Byte offsets of page p's part of [a, b), relative to the model. */
static void
model_chunk(unsigned p, uint64_t a, uint64_t b, uint64_t *s, uint64_t *e)
{
    *s = MAX(a, (uint64_t)p * PAGE);
    *e = MIN(b, (uint64_t)(p + 1) * PAGE);
}

/* len bytes of src written at a: a page is added only for non-zero
 * data, and an existing page stays even if left all zero.  With whole
 * set, pages wholly inside are swapped in instead, held only if not all
 * zero (a commit).
 */
static void
model_write(struct model *m, uint64_t a, const char *src, uint32_t len,
            bool whole)
{
    uint64_t b = a + len, s, e;
    unsigned p;

    memcpy(m->bytes + a, src, len);
    for (p = (unsigned)(a / PAGE); p * (uint64_t)PAGE < b; p++) {
        model_chunk(p, a, b, &s, &e);
        if (whole && e - s == PAGE)
            m->held[p] = !model_page_zero(m, p);
        else if (!is_zero(src + (s - a), e - s))
            m->held[p] = true;
    }
}

/* Zeroing drops every page it leaves all zero. */
static void
model_zero(struct model *m, uint64_t a, uint32_t len)
{
    unsigned p;

    memset(m->bytes + a, 0, len);
    for (p = (unsigned)(a / PAGE); p * (uint64_t)PAGE < a + len; p++)
        if (model_page_zero(m, p))
            m->held[p] = false;
}

/* The array matches the model on [a, b): the bytes, and each page's
 * extent and whether it is held.
 */
static bool
model_matches(struct sparse_array *sa, const struct model *m, uint64_t a,
              uint64_t b)
{
    unsigned p;
    int state;
    size_t held = 0;
    bool ok = reads_as(sa, MODEL_BASE + a, m->bytes + a, (size_t)(b - a));

    for (p = (unsigned)(a / PAGE); ok && p * (uint64_t)PAGE < b; p++) {
        state = !m->held[p]             ? SPARSE_HOLE
                : model_page_zero(m, p) ? SPARSE_ZERO
                                        : SPARSE_DATA;
        ok = extent_is(sa, MODEL_BASE + (uint64_t)p * PAGE, PAGE, state);
    }
    for (p = 0; p < MODEL_PAGES; p++)
        held += m->held[p];
    return ok && held == table_pages(sa);
}

/* A random range in [lo, hi) (which holds a whole page) of a shape
 * staging treats differently: whole pages, inside one page, across one
 * boundary, partial ends around whole pages, or anything.
 */
static void
random_range(uint64_t *rng, uint64_t lo, uint64_t hi, uint64_t *off,
             uint32_t *len)
{
    uint64_t first = ROUND_UP(lo, PAGE),
             pages = (ROUND_DOWN(hi, PAGE) - first) / PAGE;
    uint64_t p = first + rand_below(rng, pages) * PAGE, a, b;

    switch (rand_below(rng, 5)) {
    case 0:
        a = p;
        b = a + (1 + rand_below(rng, 4)) * PAGE;
        break;
    case 1:
        a = p + rand_below(rng, PAGE);
        b = a + 1 + rand_below(rng, p + PAGE - a);
        break;
    case 2:
        a = p + PAGE - 1 - rand_below(rng, PAGE - 1);
        b = p + PAGE + 1 + rand_below(rng, PAGE - 1);
        break;
    case 3:
        a = p + 1 + rand_below(rng, PAGE - 1);
        b = p + (2 + rand_below(rng, 3)) * PAGE + 1 + rand_below(rng, PAGE - 1);
        break;
    default:
        a = lo + rand_below(rng, hi - lo);
        b = a + 1 + rand_below(rng, 4 * PAGE);
    }
    b = MIN(b, hi);
    *off = a;
    *len = (uint32_t)(b - a);
}

/* Non-zero bytes that random_fill copies from a random start, cheaper
 * than pattern under ThreadSanitizer; random ranges are at most 5 pages.
 */
static char noise[8 * PAGE];

/* Random contents for len bytes at offset a: src is what the range
 * should read afterwards and *fill how much of it to copy in (the rest
 * of src is zero): all of it, zeroes, nothing, pages of data and of
 * zeroes mixed, or just a prefix.
 */
static void
random_fill(uint64_t *rng, char *src, uint64_t a, uint32_t len, uint32_t *fill)
{
    uint64_t pos, next;

    memcpy(src, noise + rand_below(rng, sizeof noise - len + 1), len);
    *fill = len;
    switch (rand_below(rng, 5)) {
    case 0:
        break;
    case 1:
        memset(src, 0, len);
        break;
    case 2:
        memset(src, 0, len);
        *fill = 0;
        break;
    case 3:
        for (pos = a; pos < a + len; pos = next) {
            next = MIN(ROUND_DOWN(pos, PAGE) + PAGE, a + len);
            if (rand_below(rng, 2))
                memset(src + (pos - a), 0, next - pos);
        }
        break;
    default:
        *fill = (uint32_t)rand_below(rng, len);
        memset(src + *fill, 0, len - *fill);
    }
}

/* One random stage, filled and then committed or aborted; the array must
 * not change before the end, and must match the model after.
 */
static bool
model_stage_op(struct sparse_array *sa, struct model *m, uint64_t *rng,
               char *src)
{
    struct sparse_wpiece iov[8];
    struct sparse_stage *st;
    uint64_t a, lo, hi;
    uint32_t len, fill;
    size_t n;
    bool ok, commit = rand_below(rng, 3) != 0;

    random_range(rng, MODEL_BASE, MODEL_BASE + MODEL_LEN, &a, &len);
    random_fill(rng, src, a, len, &fill);
    /* A commit needs every byte filled (recycled pages hold old data). */
    if (commit)
        fill = len;
    a -= MODEL_BASE;
    lo = ROUND_DOWN(a, PAGE);
    hi = ROUND_UP(a + len, PAGE);
    if (stage_dirty(sa, len, MODEL_BASE + a, iov, 8, &n, &st) == -1)
        return false;
    ok = pieces_len(iov, n) == len && pool_consistent_with(sa, &st, 1);
    fill_pieces(iov, n, src, fill);
    ok = model_matches(sa, m, lo, hi) && ok;
    if (!commit) {
        sparse_array_abort(sa, st);
        return model_matches(sa, m, lo, hi) && pool_consistent(sa) && ok;
    }
    ok = sparse_array_commit(sa, st) == 0 && ok;
    model_write(m, a, src, len, true);
    return model_matches(sa, m, lo, hi) && pool_consistent(sa) && ok;
}

/* A plain write or zero, so that stages land on varied old data. */
static bool
model_plain_op(struct sparse_array *sa, struct model *m, uint64_t *rng,
               char *src)
{
    uint64_t a;
    uint32_t len, fill;

    random_range(rng, MODEL_BASE, MODEL_BASE + MODEL_LEN, &a, &len);
    a -= MODEL_BASE;
    if (rand_below(rng, 2)) {
        sparse_array_zero(sa, len, MODEL_BASE + a);
        model_zero(m, a, len);
        return true;
    }
    random_fill(rng, src, MODEL_BASE + a, len, &fill);
    if (sparse_array_write(sa, src, len, MODEL_BASE + a) == -1)
        return false;
    model_write(m, a, src, len, false);
    return true;
}

static void
test_stage_random(void)
{
    static struct model m;
    struct sparse_array *sa = sparse_array_new();
    char *src = malloc(5 * PAGE);
    uint64_t rng = 0x2545f4914f6cdd1du;
    unsigned i, bad = 0;
    bool ok;

    unit_group("random stages match a flat model, committed or aborted");
    pattern(noise, sizeof noise, 19);
    memset(&m, 0, sizeof m);
    for (i = 0; i < MODEL_OPS; i++) {
        if (rand_below(&rng, 3) == 0)
            ok = model_plain_op(sa, &m, &rng, src);
        else
            ok = model_stage_op(sa, &m, &rng, src);
        if (i % 100 == 0)
            ok = model_matches(sa, &m, 0, MODEL_LEN) && ok;
        if (!ok && bad++ < 3)
            printf("mismatch at op %u\n", i);
    }
    CHECK(bad == 0);
    CHECK(model_matches(sa, &m, 0, MODEL_LEN) && pool_consistent(sa));
    CHECK(reads_as(sa, MODEL_BASE - PAGE, NULL, PAGE));
    CHECK(reads_as(sa, MODEL_BASE + MODEL_LEN, NULL, PAGE));
    sparse_array_zero(sa, MODEL_LEN, MODEL_BASE);
    CHECK(table_pages(sa) == 0 && sa->l1.len == 0 && pool_consistent(sa));
    CHECK(free_slots(sa) + sa->dirty.len == sa->slabs.len * SLAB_PAGES);
    free(src);
    sparse_array_free(sa);
}

/* Grows the slab vector once the main thread has staged.  The flag is
 * relaxed, so it orders the two in time without synchronising them, as
 * with two clients: ThreadSanitizer then reports any use of the vector
 * that the array's lock does not order.
 */
struct mover {
    struct sparse_array *sa;
    atomic_int staged;
};

static void *
mover_run(void *arg)
{
    struct mover *m = arg;
    char one = 1;

    while (atomic_load_explicit(&m->staged, memory_order_relaxed) == 0)
        sched_yield();
    sparse_array_write(m->sa, &one, 1, 1000 * PAGE);
    return NULL;
}

static void
test_stage_slab_vector_moves(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct mover m = {.sa = sa};
    struct sparse_wpiece iov[2];
    struct sparse_stage *st;
    pthread_t thread;
    char data[PAGE], one = 1;
    size_t n;
    unsigned i;
    bool ok = true;

    unit_group("a stage stays valid when another thread moves the slabs");
    pattern(data, sizeof data, 18);
    atomic_init(&m.staged, 0);
    /* Eight full slabs but for one slot, and no room for a ninth. */
    for (i = 0; i < 8 * SLAB_PAGES - 1; i++)
        ok = sparse_array_write(sa, &one, 1, (uint64_t)i * PAGE) == 0 && ok;
    CHECK(ok && sa->slabs.len == sa->slabs.cap && free_slots(sa) == 1);
    CHECK(pthread_create(&thread, NULL, mover_run, &m) == 0);
    CHECK(sparse_array_stage(sa, PAGE, 2000 * PAGE, iov, 2, &n, &st) == 0);
    atomic_store_explicit(&m.staged, 1, memory_order_relaxed);
    fill_pieces(iov, n, data, PAGE);
    pthread_join(thread, NULL);
    CHECK(sa->slabs.len > 8); /* the vector was reallocated */
    CHECK(n == 1 && sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 2000 * PAGE, data, PAGE));
    CHECK(reads_as(sa, 1000 * PAGE, &one, 1) && pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_dense_slots(void)
{
    struct sparse_array *sa = sparse_array_new();
    char data[10];
    uint64_t i;

    unit_group("pages are packed into slabs whatever their offsets");
    pattern(data, sizeof data, 16);
    for (i = 0; i < 64; i++)
        CHECK(sparse_array_write(sa, data, sizeof data, i * 1001 * PAGE) == 0);
    CHECK(sa->slabs.len == 1 && sa->slabs.ptr[0].free == 0);
    sparse_array_zero(sa, PAGE, 7 * 1001 * PAGE);
    CHECK(sparse_array_write(sa, data, sizeof data, 5 * PAGE) == 0);
    CHECK(sa->slabs.len == 1 && sa->slabs.ptr[0].free == 0); /* reused */
    CHECK(sparse_array_write(sa, data, sizeof data, 6 * PAGE) == 0);
    CHECK(sa->slabs.len == 2);
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_reused_slots_are_zero(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    struct sparse_stage *st;
    char *data = malloc(2 * MIB);
    size_t n;

    unit_group("pages handed out again after a zero read as zero");
    pattern(data, 2 * MIB, 9);
    CHECK(sparse_array_write(sa, data, 2 * MIB, 0) == 0);
    sparse_array_zero(sa, 2 * MIB, 0);
    CHECK(sa->slabs.len == 1 && sa->slabs.ptr[0].free == UINT64_MAX);
    CHECK(sparse_array_stage(sa, 2 * MIB, 100 * MIB, iov, 4, &n, &st) == 0);
    CHECK(sa->slabs.len == 1); /* the same slots again */
    CHECK(pieces_are_zero(iov, n));
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(extent_is(sa, 100 * MIB, 2 * MIB, SPARSE_HOLE));
    /* The copy path's partly written new pages are zero elsewhere. */
    CHECK(sparse_array_write(sa, data, 10, 5 * PAGE + 100) == 0);
    CHECK(reads_as(sa, 5 * PAGE, NULL, 100));
    CHECK(reads_as(sa, 5 * PAGE + 110, NULL, PAGE - 110));
    free(data);
    sparse_array_free(sa);
}

/* Bytes of bookkeeping the array holds outside its pages. */
static uint64_t
overhead(const struct sparse_array *sa)
{
    return sizeof *sa + sa->l1.cap * sizeof sa->l1.ptr[0] +
           sa->l1.len * sizeof(struct l2_dir) +
           sa->slabs.cap * sizeof sa->slabs.ptr[0] +
           sa->partial.cap * sizeof sa->partial.ptr[0];
}

static void
test_memory_use(void)
{
    struct sparse_array *sa = sparse_array_new();
    uint64_t off, rss0, rss1, rss2, vm1;
    char *data = malloc(MIB);

    unit_group("64 MiB written costs 64 MiB, zeroing gives it back");
    pattern(data, MIB, 13);
    rss0 = statm_field(1);
    for (off = 0; off < 32 * MIB; off += MIB)
        CHECK(sparse_array_write(sa, data, MIB, off) == 0);
    for (; off < 64 * MIB; off += MIB)
        CHECK(staged_write(sa, data, MIB, MIB, off) == 0);
    rss1 = statm_field(1);
    printf("rss %llu MiB before, %llu MiB written; overhead %llu bytes\n",
           (unsigned long long)(rss0 / MIB), (unsigned long long)(rss1 / MIB),
           (unsigned long long)overhead(sa));
    CHECK(rss1 - rss0 > 48 * MIB);
    CHECK(sa->slabs.len == 32); /* 64 MiB of slabs, no more */
    CHECK(overhead(sa) < 64 * MIB / 100);
    sparse_array_zero(sa, 64 * MIB, 0);
    rss2 = statm_field(1);
    printf("rss %llu MiB after zero\n", (unsigned long long)(rss2 / MIB));
    CHECK(rss1 - rss2 > 48 * MIB);
    vm1 = statm_field(0);
    sparse_array_free(sa);
    CHECK(vm1 - statm_field(0) >= 64 * MIB); /* slabs unmapped */
    free(data);
}

/* The contents of a /sys or /proc line starting with key, as a number. */
static int64_t
read_number(const char *path, const char *key)
{
    FILE *fp = fopen(path, "r");
    char line[256];
    int64_t v = -1;
    size_t k = strlen(key);

    if (fp == NULL)
        return -1;
    while (v == -1 && fgets(line, sizeof line, fp))
        if (strncmp(line, key, k) == 0)
            v = strtoll(line + k, NULL, 10);
    fclose(fp);
    return v;
}

static bool
thp_available(void)
{
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[256] = "";

    if (fp == NULL)
        return false;
    if (fgets(line, sizeof line, fp) == NULL)
        line[0] = 0;
    fclose(fp);
    /* The slabs are not advised (see sparse.c), so only "always" counts. */
    return strstr(line, "[always]") != NULL &&
           read_number("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
                       "") == (int64_t)SLAB_SIZE;
}

static void
test_huge_pages(void)
{
    const char *rollup = "/proc/self/smaps_rollup";
    struct sparse_array *sa;
    char *data;
    int64_t before, after;
    uint64_t off;

    unit_group("a 64 MiB sequential write lands in huge pages");
    if (!thp_available() || read_number(rollup, "AnonHugePages:") < 0) {
        printf("skipped: transparent huge pages of 2 MiB are not always on\n");
        return;
    }
    sa = sparse_array_new();
    data = malloc(MIB);
    pattern(data, MIB, 14);
    before = read_number(rollup, "AnonHugePages:");
    for (off = 0; off < 64 * MIB; off += MIB)
        CHECK(sparse_array_write(sa, data, MIB, off) == 0);
    after = read_number(rollup, "AnonHugePages:");
    printf("AnonHugePages grew by %lld KiB\n", (long long)(after - before));
    /* Huge pages can run short on a busy machine; one proves the slabs
     * are aligned.
     */
    CHECK(after - before >= 2048);
    sparse_array_zero(sa, 64 * MIB, 0);
    CHECK(read_number(rollup, "AnonHugePages:") <= before + 2048);
    free(data);
    sparse_array_free(sa);
}

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The striped concurrency test: STRIPE_THREADS threads each own one
 * stripe of every page of the striped area, so they share pages but not
 * bytes, and check their own bytes exactly after every operation;
 * meanwhile all of them also write, stage, zero and read a shared area
 * at random, overlapping.
 */
#define STRIPE_THREADS 4
#define STRIPE (PAGE / STRIPE_THREADS)
#define STRIPED_PAGES 16
#define SHARED_BASE (64 * MIB)
#define SHARED_PAGES 96

static char shared_data[4 * PAGE]; /* written before the threads start */

struct worker {
    pthread_t thread;
    struct sparse_array *sa;
    unsigned id;
    uint64_t rng;
    unsigned long ops, bad;
    char shadow[STRIPED_PAGES][STRIPE];
};

/* Staged write of len bytes of src (NULL: zeroes) at offset, committed
 * if keep is set and aborted if not; a write needing more than 4 pieces
 * falls back to the copy, as the server does.
 */
static void
worker_stage(struct sparse_array *sa, const char *src, uint32_t len,
             uint64_t offset, bool keep)
{
    struct sparse_wpiece iov[4];
    struct sparse_stage *st;
    size_t n;

    if (sparse_array_stage(sa, len, offset, iov, 4, &n, &st) == -1) {
        if (!keep)
            return;
        if (src)
            sparse_array_write(sa, src, len, offset);
        else
            sparse_array_zero(sa, len, offset);
        return;
    }
    fill_pieces(iov, n, src, len);
    if (keep)
        sparse_array_commit(sa, st);
    else
        sparse_array_abort(sa, st);
}

/* One operation on [a, b) of the worker's stripe of page p; the shadow
 * follows and the stripe is read back.
 */
static void
worker_stripe_op(struct worker *w)
{
    unsigned p = (unsigned)rand_below(&w->rng, STRIPED_PAGES);
    uint32_t a = (uint32_t)rand_below(&w->rng, STRIPE);
    uint32_t len = 1 + (uint32_t)rand_below(&w->rng, STRIPE - a);
    uint64_t offset = (uint64_t)p * PAGE + w->id * STRIPE;
    char data[STRIPE], now[STRIPE];
    uint64_t op = rand_below(&w->rng, 5);

    pattern(data, len, w->rng);
    if (op == 2 || op == 3)
        memset(data, 0, len);
    if (op == 0)
        sparse_array_write(w->sa, data, len, offset + a);
    else if (op == 3)
        sparse_array_zero(w->sa, len, offset + a);
    else
        worker_stage(w->sa, data, len, offset + a, op != 4);
    if (op != 4)
        memcpy(&w->shadow[p][a], data, len);
    sparse_array_read(w->sa, now, STRIPE, offset);
    w->bad += memcmp(now, w->shadow[p], STRIPE) != 0;
}

static int
ignore_extent(void *opaque, uint64_t offset, uint64_t length, int state)
{
    return 0;
}

/* One operation anywhere in the shared area, overlapping the others. */
static void
worker_shared_op(struct worker *w)
{
    uint64_t offset = SHARED_BASE + rand_below(&w->rng, SHARED_PAGES * PAGE);
    uint32_t len = 1 + (uint32_t)rand_below(&w->rng, 4 * PAGE);
    struct sparse_piece iov[4];
    char buf[4 * PAGE];
    size_t n;

    switch (rand_below(&w->rng, 7)) {
    case 0:
        sparse_array_write(w->sa, shared_data, len, offset);
        break;
    case 1:
        worker_stage(w->sa, shared_data, len, offset, true);
        break;
    case 2:
        worker_stage(w->sa, NULL, len, offset, true);
        break;
    case 3:
        worker_stage(w->sa, shared_data, len, offset, false);
        break;
    case 4:
        sparse_array_zero(w->sa, len, offset);
        break;
    case 5:
        sparse_array_read(w->sa, buf, len, offset);
        break;
    default:
        sparse_array_read_begin(w->sa, len, offset, iov, 4, &n);
        sparse_array_read_end(w->sa);
        sparse_array_extents(w->sa, len, offset, ignore_extent, NULL);
    }
}

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    double end = now_seconds() + 0.5;

    while (now_seconds() < end) {
        worker_stripe_op(w);
        worker_shared_op(w);
        w->ops++;
    }
    return NULL;
}

static void
test_concurrent(void)
{
    static struct worker w[STRIPE_THREADS];
    struct sparse_array *sa = sparse_array_new();
    char now[STRIPE];
    unsigned i, p;
    unsigned long ops = 0, bad = 0;

    unit_group("threads writing, staging, zeroing and reading at once");
    pattern(shared_data, sizeof shared_data, 15);
    for (i = 0; i < STRIPE_THREADS; i++) {
        w[i] =
            (struct worker){.sa = sa, .id = i, .rng = 0x9e3779b97f4a7c15u + i};
        CHECK(pthread_create(&w[i].thread, NULL, worker_run, &w[i]) == 0);
    }
    for (i = 0; i < STRIPE_THREADS; i++) {
        pthread_join(w[i].thread, NULL);
        ops += w[i].ops;
        bad += w[i].bad;
        for (p = 0; p < STRIPED_PAGES; p++) {
            sparse_array_read(sa, now, STRIPE, (uint64_t)p * PAGE + i * STRIPE);
            bad += memcmp(now, w[i].shadow[p], STRIPE) != 0;
        }
    }
    printf("%lu rounds, %lu mismatches\n", ops, bad);
    CHECK(bad == 0 && ops > 0);
    CHECK(pool_consistent(sa));
    sparse_array_zero(sa, (uint32_t)(SHARED_BASE + SHARED_PAGES * PAGE), 0);
    sparse_array_zero(sa, 5 * PAGE, SHARED_BASE + SHARED_PAGES * PAGE);
    CHECK(table_pages(sa) == 0 && pool_consistent(sa));
    sparse_array_free(sa);
}

/* The staged concurrency test, in rounds on a new array each: OWNERS
 * threads stage, fill slowly, commit or abort, write and zero at random
 * in their own region, checking it against their model; the regions are
 * unaligned, so owners share pages with the GAP bytes between them,
 * which READERS threads check never change while also reading, mapping
 * and walking everything.  A grower thread holds ever more pages far
 * away, so the slab vector moves while stages are being set up.
 */
#define OWNERS 3
#define READERS 2
#define OWN_LEN (10 * PAGE + 1234)
#define GAP 777
#define SPAN_BASE (2 * L1_SPAN - 15 * PAGE + 321) /* crosses an L2 dir */
#define SPAN_LEN (OWNERS * (GAP + OWN_LEN) + GAP)
#define GROW_BASE (8 * L1_SPAN)
#define GROW_PAGES (28 * SLAB_PAGES) /* the slab vector grows 4 times */
#define ROUNDS 4
#define ROUND_SECONDS 0.15

static char gap_data[GAP];

struct owner {
    pthread_t thread;
    struct sparse_array *sa;
    uint64_t base, rng;
    double end;
    unsigned long ops, bad;
    char model[OWN_LEN], src[OWN_LEN];
};

struct reader {
    pthread_t thread;
    struct sparse_array *sa;
    uint64_t rng;
    double end;
    unsigned long ops, bad;
};

static uint64_t
gap_offset(unsigned i)
{
    return SPAN_BASE + (uint64_t)i * (GAP + OWN_LEN);
}

/* One stage, filled in two goes with a yield between, checked unchanged
 * before its end, then committed or aborted.
 */
static void
owner_stage(struct owner *o, uint64_t a, uint32_t len, uint32_t fill, bool keep)
{
    struct sparse_wpiece iov[8];
    struct sparse_stage *st;
    const char *old = o->model + (a - o->base);
    size_t n;

    if (sparse_array_stage(o->sa, len, a, iov, 8, &n, &st) == -1) {
        o->bad++;
        return;
    }
    /* A commit needs every byte filled (recycled pages hold old data). */
    if (keep)
        fill = len;
    fill_pieces(iov, n, o->src, fill / 2);
    sched_yield();
    fill_pieces(iov, n, o->src, fill);
    o->bad += !reads_as(o->sa, a, old, len);
    if (!keep) {
        sparse_array_abort(o->sa, st);
        return;
    }
    o->bad += sparse_array_commit(o->sa, st) == -1;
    memcpy(o->model + (a - o->base), o->src, len);
}

static void *
owner_run(void *arg)
{
    struct owner *o = arg;
    uint64_t a;
    uint32_t len, fill, op;

    while (now_seconds() < o->end) {
        random_range(&o->rng, o->base, o->base + OWN_LEN, &a, &len);
        random_fill(&o->rng, o->src, a, len, &fill);
        op = (uint32_t)rand_below(&o->rng, 6);
        if (op == 0) {
            o->bad += sparse_array_write(o->sa, o->src, len, a) == -1;
            memcpy(o->model + (a - o->base), o->src, len);
        } else if (op == 1) {
            sparse_array_zero(o->sa, len, a);
            memset(o->model + (a - o->base), 0, len);
        } else
            owner_stage(o, a, len, fill, op != 2);
        o->bad += !reads_as(o->sa, a, o->model + (a - o->base), len);
        o->ops++;
    }
    return NULL;
}

/* True if the pieces describe len bytes at a, their gap bytes matching
 * gap_data.  Owners' bytes are not looked at: they may be changing, and
 * the server only hands them to the kernel.
 */
static bool
pieces_show_gaps(const struct sparse_piece *iov, size_t n, uint64_t a,
                 uint32_t len)
{
    uint64_t pos = a, g, s, e;
    const char *base;
    unsigned k;
    size_t i;

    for (i = 0; i < n; pos += iov[i].len, i++)
        for (k = 0; k <= OWNERS; k++) {
            g = gap_offset(k);
            s = MAX(pos, g);
            e = MIN(pos + iov[i].len, g + GAP);
            base = iov[i].base;
            if (s < e && (base == NULL ||
                          memcmp(base + (s - pos), gap_data + (s - g), e - s)))
                return false;
        }
    return pos == a + len;
}

static void *
reader_run(void *arg)
{
    struct reader *r = arg;
    struct sparse_piece iov[8];
    uint64_t a;
    uint32_t len;
    size_t n;

    while (now_seconds() < r->end) {
        r->bad +=
            !reads_as(r->sa, gap_offset(r->ops % (OWNERS + 1)), gap_data, GAP);
        a = SPAN_BASE + rand_below(&r->rng, SPAN_LEN);
        len = 1 + (uint32_t)rand_below(&r->rng, 6 * PAGE);
        len = sparse_array_read_begin(r->sa, len, a, iov, 8, &n);
        r->bad += len == 0 || !pieces_show_gaps(iov, n, a, len);
        sparse_array_read_end(r->sa);
        sparse_array_extents(r->sa, len, a, ignore_extent, NULL);
        r->ops++;
    }
    return NULL;
}

static void *
grower_run(void *arg)
{
    struct sparse_array *sa = arg;
    char one = 1;
    unsigned i;

    for (i = 0; i < GROW_PAGES; i++) {
        sparse_array_write(sa, &one, 1, GROW_BASE + (uint64_t)i * PAGE);
        if (i % 16 == 0)
            sched_yield();
    }
    return NULL;
}

/* Starts the round's threads on sa, until end. */
static void
stage_round_start(struct sparse_array *sa, struct owner *o, struct reader *r,
                  pthread_t *grower, unsigned round, double end)
{
    unsigned i;

    for (i = 0; i <= OWNERS; i++)
        CHECK(sparse_array_write(sa, gap_data, GAP, gap_offset(i)) == 0);
    for (i = 0; i < OWNERS; i++) {
        o[i] = (struct owner){.sa = sa,
                              .base = gap_offset(i) + GAP,
                              .rng = 0x853c49e6748fea9bu * (round + 1) + i,
                              .end = end};
        CHECK(pthread_create(&o[i].thread, NULL, owner_run, &o[i]) == 0);
    }
    for (i = 0; i < READERS; i++) {
        r[i] = (struct reader){
            .sa = sa, .rng = 0xda3e39cb94b95bdbu + round * 16 + i, .end = end};
        CHECK(pthread_create(&r[i].thread, NULL, reader_run, &r[i]) == 0);
    }
    CHECK(pthread_create(grower, NULL, grower_run, sa) == 0);
}

/* Joins the round's threads and checks the array against the models. */
static unsigned long
stage_round_finish(struct sparse_array *sa, struct owner *o, struct reader *r,
                   pthread_t grower, unsigned long *ops)
{
    unsigned long bad = 0;
    char one = 1;
    unsigned i;

    pthread_join(grower, NULL);
    for (i = 0; i < OWNERS; i++) {
        pthread_join(o[i].thread, NULL);
        *ops += o[i].ops;
        bad += o[i].bad;
        bad += !reads_as(sa, o[i].base, o[i].model, OWN_LEN);
    }
    for (i = 0; i < READERS; i++) {
        pthread_join(r[i].thread, NULL);
        *ops += r[i].ops;
        bad += r[i].bad;
    }
    for (i = 0; i <= OWNERS; i++)
        bad += !reads_as(sa, gap_offset(i), gap_data, GAP);
    for (i = 0; i < GROW_PAGES; i += 97)
        bad += !reads_as(sa, GROW_BASE + (uint64_t)i * PAGE, &one, 1);
    bad += !pool_consistent(sa);
    return bad;
}

static void
test_stage_concurrent(void)
{
    static struct owner o[OWNERS];
    struct reader r[READERS];
    struct sparse_array *sa;
    pthread_t grower;
    unsigned long ops = 0, bad = 0;
    unsigned round;

    unit_group("threads staging in their own regions while others read");
    pattern(gap_data, sizeof gap_data, 17);
    pattern(noise, sizeof noise, 19);
    for (round = 0; round < ROUNDS; round++) {
        sa = sparse_array_new();
        stage_round_start(sa, o, r, &grower, round,
                          now_seconds() + ROUND_SECONDS);
        bad += stage_round_finish(sa, o, r, grower, &ops);
        sparse_array_zero(sa, SPAN_LEN, SPAN_BASE);
        sparse_array_zero(sa, GROW_PAGES * PAGE, GROW_BASE);
        bad += table_pages(sa) != 0 || !pool_consistent(sa);
        sparse_array_free(sa);
    }
    printf("%lu operations in %u rounds, %lu mismatches\n", ops, ROUNDS, bad);
    CHECK(bad == 0 && ops > 0);
}

/* The page numbers of the stage, sorted, for comparing sets. */
static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void
test_stage_recycles(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[16];
    struct sparse_piece rv[16];
    struct sparse_stage *st;
    char a[4 * PAGE], b[4 * PAGE];
    uint32_t old[4], got[4];
    size_t n, i;

    unit_group("a commit's old pages are recycled for the next stage");
    pattern(a, sizeof a, 41);
    pattern(b, sizeof b, 42);
    CHECK(staged_write(sa, a, sizeof a, sizeof a, 8 * PAGE) == 0);
    for (i = 0; i < 4; i++)
        old[i] = sparse_find_l2(sa, (8 + i) * PAGE)->page[8 + i];
    CHECK(staged_write(sa, b, sizeof b, sizeof b, 8 * PAGE) == 0);
    CHECK(sa->dirty.len == 4 && reads_as(sa, 8 * PAGE, b, sizeof b));
    CHECK(sparse_array_stage(sa, sizeof a, 20 * PAGE, iov, 16, &n, &st) == 0);
    CHECK(sa->dirty.len == 0 && st->npages == 4);
    memcpy(got, st->page, sizeof got);
    qsort(old, 4, sizeof old[0], cmp_u32);
    qsort(got, 4, sizeof got[0], cmp_u32);
    CHECK(memcmp(old, got, sizeof old) == 0);
    CHECK(pool_consistent_with(sa, &st, 1));
    fill_pieces(iov, n, a, sizeof a);
    CHECK(sparse_array_commit(sa, st) == 0);
    CHECK(reads_as(sa, 20 * PAGE, a, sizeof a));
    CHECK(reads_as(sa, 8 * PAGE, b, sizeof b));
    CHECK(pool_consistent(sa));

    unit_group("pages handed out by read_begin are never recycled");
    CHECK(sparse_array_read_begin(sa, sizeof b, 8 * PAGE, rv, 16, &n) ==
          sizeof b);
    sparse_array_read_end(sa);
    CHECK(staged_write(sa, a, sizeof a, sizeof a, 8 * PAGE) == 0);
    CHECK(sa->dirty.len == 0 && pool_consistent(sa));
    /* The old pages were given back and read as zero: still bytes of b
     * where the kernel may hold them, never anyone else's.
     */
    for (i = 0; i < n; i++)
        CHECK(rv[i].base == NULL || is_zero(rv[i].base, rv[i].len));
    CHECK(reads_as(sa, 8 * PAGE, a, sizeof a));

    unit_group("the recycled pool is bounded");
    {
        enum { K = 2 * DIRTY_MAX / 32 }; /* stages of 32 pages each */
        struct sparse_wpiece wv[40];
        struct sparse_stage *sts[K];
        char *big = malloc(32 * PAGE);
        size_t k;

        CHECK(big != NULL);
        pattern(big, 32 * PAGE, 43);
        for (k = 0; k < K; k++)
            CHECK(sparse_array_write(sa, big, 32 * PAGE,
                                     (uint64_t)(64 + 32 * k) * PAGE) == 0);
        for (k = 0; k < K; k++) {
            CHECK(sparse_array_stage(sa, 32 * PAGE,
                                     (uint64_t)(64 + 32 * k) * PAGE, wv, 40, &n,
                                     &sts[k]) == 0);
            fill_pieces(wv, n, big, 32 * PAGE);
        }
        for (k = 0; k < K; k++)
            CHECK(sparse_array_commit(sa, sts[k]) == 0);
        CHECK(sa->dirty.len == DIRTY_MAX && pool_consistent(sa));
        free(big);
    }
    sparse_array_free(sa);
}

int
main(void)
{
    test_read_write();
    test_zero();
    test_extents();
    test_read_pieces();
    test_stage_pieces();
    test_stage_isolated();
    test_stage_unfilled();
    test_stage_overwrites_interim();
    test_commit_zero_drops();
    test_stage_e2big();
    test_stage_recycles();
    test_stage_random();
    test_stage_slab_vector_moves();
    test_dense_slots();
    test_reused_slots_are_zero();
    test_memory_use();
    test_huge_pages();
    test_concurrent();
    test_stage_concurrent();
    return unit_finish();
}
