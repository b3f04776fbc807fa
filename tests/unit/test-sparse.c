/* SPDX-License-Identifier: BSD-3-Clause */
/* test-sparse.c: unit tests of common/allocators/sparse.c.
 *
 * The file under test is included so the tests can check its slab
 * bookkeeping (every slot is either in the table or free, exactly once)
 * as well as what the API returns.
 */

#include "../../common/allocators/sparse.c"

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

/* Fills zero-copy write pieces, standing in for the server's recv into
 * them.  Its name matches the race:sparse_copy_data line of
 * fuzzing/tsan.supp on purpose: it is the same benign overlap (writers
 * fill pages without the lock while others read them).
 */
static void __attribute__((noinline))
test_sparse_copy_data(void *dst, const void *src, size_t n)
{
    if (src)
        memcpy(dst, src, n);
    else
        memset(dst, 0, n);
}

/* Copies len bytes of src (NULL: zeroes) into the pieces, in order. */
static void
fill_pieces(const struct sparse_wpiece *iov, size_t n, const char *src,
            uint64_t len)
{
    uint64_t done = 0, k;
    size_t i;

    for (i = 0; i < n && done < len; i++) {
        k = MIN(iov[i].len, len - done);
        test_sparse_copy_data(iov[i].base, src ? src + done : NULL, k);
        done += k;
    }
}

static bool
pieces_are_zero(const struct sparse_wpiece *iov, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!sparse_is_zero(iov[i].base, iov[i].len))
            return false;
    return true;
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
    ok = want ? memcmp(buf, want, len) == 0 : sparse_is_zero(buf, len);
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

/* Checks one L2 directory against the slabs, marking its pages in seen. */
static bool
l2_consistent(const struct sparse_array *sa, const struct l2_dir *l2,
              uint64_t *seen)
{
    unsigned j, used = 0;
    uint32_t page, s;
    uint64_t bit;
    bool ok = true;

    for (j = 0; j < L2_PAGES; j++) {
        page = l2->page[j];
        if (page == 0)
            continue;
        used++;
        s = sparse_page_slab(page);
        bit = sparse_page_bit(page);
        ok = ok && s < sa->slabs.len && (seen[s] & bit) == 0 &&
             (sa->slabs.ptr[s].free & bit) == 0;
        if (s < sa->slabs.len)
            seen[s] |= bit;
    }
    return ok && used == l2->used && used > 0;
}

/* Nothing pinned or deferred, and every slot of every slab is in the
 * table or free, exactly once; partial lists the slabs with free slots.
 */
static bool
pool_consistent(const struct sparse_array *sa)
{
    uint64_t *seen = calloc(sa->slabs.len + 1, sizeof *seen);
    size_t i, listed = 0;
    bool ok = seen && atomic_load(&sa->pins) == 0 && sa->deferred == 0;

    for (i = 0; ok && i < sa->l1.len; i++)
        ok = l2_consistent(sa, sa->l1.ptr[i].l2, seen);
    for (i = 0; ok && i < sa->slabs.len; i++) {
        ok = (seen[i] | sa->slabs.ptr[i].free) == UINT64_MAX &&
             sa->slabs.ptr[i].deferred == 0;
        listed += sa->slabs.ptr[i].free != 0;
    }
    for (i = 0; ok && i < sa->partial.len; i++)
        ok = sa->slabs.ptr[sa->partial.ptr[i]].free != 0;
    free(seen);
    return ok && listed == sa->partial.len;
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

static void
test_write_pieces(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[16];
    char *data = malloc(MIB);
    size_t n;

    unit_group("write pieces: fresh pages are zero, merged, and kept");
    pattern(data, MIB, 5);
    CHECK(sparse_array_write_begin(sa, MIB, 0, iov, 16, &n) == MIB);
    CHECK(n == 1 && iov[0].len == MIB); /* one slab: adjacent slots */
    CHECK(pieces_are_zero(iov, n));
    CHECK(atomic_load(&sa->pins) == 1);
    fill_pieces(iov, n, data, MIB);
    sparse_array_write_end(sa, MIB, 0);
    CHECK(reads_as(sa, 0, data, MIB));
    CHECK(extent_is(sa, 0, MIB, SPARSE_DATA));

    CHECK(sparse_array_write_begin(sa, 2 * PAGE + 300, 40 * PAGE - 100, iov, 16,
                                   &n) == 2 * PAGE + 300);
    fill_pieces(iov, n, data, 2 * PAGE + 300);
    sparse_array_write_end(sa, 2 * PAGE + 300, 40 * PAGE - 100);
    CHECK(reads_as(sa, 40 * PAGE - 100, data, 2 * PAGE + 300));
    CHECK(reads_as(sa, 39 * PAGE, NULL, PAGE - 100));
    CHECK(pool_consistent(sa));
    free(data);
    sparse_array_free(sa);
}

static void
test_write_pieces_prefix(void)
{
    struct sparse_wpiece iov[2];
    struct sparse_array *sa = sparse_array_new();
    char data[2 * PAGE];
    size_t n;

    unit_group("write pieces cover a prefix when max pieces run out");
    pattern(data, sizeof data, 6);
    /* Pages 0, 10 and 20 take slots 0, 1 and 2. */
    CHECK(sparse_array_write(sa, data, 1, 0) == 0);
    CHECK(sparse_array_write(sa, data, 1, 10 * PAGE) == 0);
    CHECK(sparse_array_write(sa, data, 1, 20 * PAGE) == 0);
    /* Page 1 would get slot 3, apart from slot 0: it is not kept. */
    CHECK(sparse_array_write_begin(sa, 2 * PAGE, 0, iov, 1, &n) == PAGE);
    CHECK(n == 1 && iov[0].len == PAGE && table_pages(sa) == 3);
    sparse_array_write_end(sa, 0, 0);
    CHECK(sparse_array_write_begin(sa, 2 * PAGE, 0, iov, 2, &n) == 2 * PAGE);
    CHECK(n == 2 && table_pages(sa) == 4);
    fill_pieces(iov, n, data, 2 * PAGE);
    sparse_array_write_end(sa, 2 * PAGE, 0);
    CHECK(reads_as(sa, 0, data, 2 * PAGE));
    /* Pages 9, 10, 11 take slots 4, 1, 5: three pieces. */
    CHECK(sparse_array_write_begin(sa, 3 * PAGE, 9 * PAGE, iov, 2, &n) ==
          2 * PAGE);
    CHECK(n == 2 && table_pages(sa) == 5);
    sparse_array_write_end(sa, 0, 9 * PAGE);
    CHECK(extent_is(sa, 9 * PAGE, PAGE, SPARSE_ZERO));
    CHECK(extent_is(sa, 11 * PAGE, PAGE, SPARSE_HOLE));
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_partial_fill(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    char data[PAGE + 100];
    size_t n;

    unit_group("a partly filled write keeps what was filled");
    pattern(data, sizeof data, 7);
    CHECK(sparse_array_write_begin(sa, 3 * PAGE, 0, iov, 4, &n) == 3 * PAGE);
    fill_pieces(iov, n, data, sizeof data);
    sparse_array_write_end(sa, sizeof data, 0);
    CHECK(reads_as(sa, 0, data, sizeof data));
    CHECK(reads_as(sa, sizeof data, NULL, 3 * PAGE - sizeof data));

    unit_group("zero pages wholly inside the filled part are removed");
    CHECK(sparse_array_write_begin(sa, 3 * PAGE, 10 * PAGE, iov, 4, &n) ==
          3 * PAGE);
    fill_pieces(iov, n, NULL, 2 * PAGE);
    sparse_array_write_end(sa, 2 * PAGE, 10 * PAGE);
    CHECK(extent_is(sa, 10 * PAGE, 2 * PAGE, SPARSE_HOLE));
    CHECK(extent_is(sa, 12 * PAGE, PAGE, SPARSE_ZERO)); /* past filled */
    sparse_array_zero(sa, PAGE, 12 * PAGE);
    CHECK(pool_consistent(sa));
    sparse_array_free(sa);
}

static void
test_zero_fill_removes(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    char data[4 * PAGE];
    size_t n;

    unit_group("writing zeroes through pieces removes the pages");
    pattern(data, sizeof data, 8);
    CHECK(sparse_array_write(sa, data, sizeof data, 0) == 0);
    CHECK(sparse_array_write_begin(sa, 4 * PAGE, 0, iov, 4, &n) == 4 * PAGE);
    fill_pieces(iov, n, NULL, 4 * PAGE);
    sparse_array_write_end(sa, 4 * PAGE, 0);
    CHECK(extent_is(sa, 0, 4 * PAGE, SPARSE_HOLE) && table_pages(sa) == 0);
    /* Unfilled fresh pages hold zeroes too. */
    CHECK(sparse_array_write_begin(sa, 4 * PAGE, 8 * PAGE, iov, 4, &n) ==
          4 * PAGE);
    sparse_array_write_end(sa, 4 * PAGE, 8 * PAGE);
    CHECK(table_pages(sa) == 0);
    CHECK(pool_consistent(sa));
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
    char *data = malloc(2 * MIB);
    size_t n;

    unit_group("pages handed out again after a zero read as zero");
    pattern(data, 2 * MIB, 9);
    CHECK(sparse_array_write(sa, data, 2 * MIB, 0) == 0);
    sparse_array_zero(sa, 2 * MIB, 0);
    CHECK(sa->slabs.len == 1 && sa->slabs.ptr[0].free == UINT64_MAX);
    CHECK(sparse_array_write_begin(sa, 2 * MIB, 100 * MIB, iov, 4, &n) ==
          2 * MIB);
    CHECK(sa->slabs.len == 1); /* the same slots again */
    CHECK(pieces_are_zero(iov, n));
    sparse_array_write_end(sa, 0, 100 * MIB);
    CHECK(extent_is(sa, 100 * MIB, 2 * MIB, SPARSE_ZERO));
    /* The copy path's partly written new pages are zero elsewhere. */
    sparse_array_zero(sa, 2 * MIB, 100 * MIB);
    CHECK(sparse_array_write(sa, data, 10, 5 * PAGE + 100) == 0);
    CHECK(reads_as(sa, 5 * PAGE, NULL, 100));
    CHECK(reads_as(sa, 5 * PAGE + 110, NULL, PAGE - 110));
    free(data);
    sparse_array_free(sa);
}

static void
test_pin_defers_free(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[4];
    char a[4 * PAGE], b[4 * PAGE];
    size_t n;

    unit_group("pages zeroed while pinned stay valid, then are freed once");
    pattern(a, sizeof a, 10);
    pattern(b, sizeof b, 11);
    CHECK(sparse_array_write_begin(sa, 4 * PAGE, 0, iov, 4, &n) == 4 * PAGE);
    fill_pieces(iov, n, a, 2 * PAGE);
    sparse_array_zero(sa, 4 * PAGE, 0);
    CHECK(table_pages(sa) == 0 && sa->deferred != 0);
    CHECK(extent_is(sa, 0, 4 * PAGE, SPARSE_HOLE));
    /* New pages must not reuse the pinned memory. */
    CHECK(sparse_array_write(sa, b, sizeof b, 100 * PAGE) == 0);
    fill_pieces(iov, n, a, sizeof a);
    CHECK(reads_as(sa, 100 * PAGE, b, sizeof b));
    CHECK(n == 1 && memcmp(iov[0].base, a, sizeof a) == 0);
    sparse_array_write_end(sa, 4 * PAGE, 0);
    CHECK(reads_as(sa, 0, NULL, 4 * PAGE));
    sparse_array_zero(sa, 4 * PAGE, 100 * PAGE);
    CHECK(pool_consistent(sa) && sa->slabs.ptr[0].free == UINT64_MAX);
    /* The deferred slots are zero when handed out again. */
    CHECK(sparse_array_write_begin(sa, 4 * PAGE, 0, iov, 4, &n) == 4 * PAGE);
    CHECK(pieces_are_zero(iov, n));
    sparse_array_write_end(sa, 4 * PAGE, 0);
    CHECK(pool_consistent(sa) && table_pages(sa) == 0);
    sparse_array_free(sa);
}

static void
test_pin_last_end_drains(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece i1[2], i2[2];
    size_t n1, n2;

    unit_group("the last write_end frees pages deferred by any writer");
    CHECK(sparse_array_write_begin(sa, PAGE, 0, i1, 2, &n1) == PAGE);
    CHECK(sparse_array_write_begin(sa, PAGE, 10 * PAGE, i2, 2, &n2) == PAGE);
    sparse_array_zero(sa, PAGE, 0);
    CHECK(sa->deferred != 0);
    /* A zero-filled end with another pin out defers its own page. */
    sparse_array_write_end(sa, PAGE, 10 * PAGE);
    CHECK(sa->deferred != 0 && table_pages(sa) == 0);
    CHECK(__builtin_popcountll(sa->slabs.ptr[0].deferred) == 2);
    sparse_array_write_end(sa, PAGE, 0);
    CHECK(pool_consistent(sa));
    /* A drain that finds a pin taken after the count reached zero (here
     * by calling it directly) must leave that writer's pages alone.
     */
    CHECK(sparse_array_write_begin(sa, PAGE, 0, i1, 2, &n1) == PAGE);
    sparse_array_zero(sa, PAGE, 0);
    sparse_drain(sa);
    CHECK(sa->deferred != 0);
    sparse_array_write_end(sa, PAGE, 0);
    CHECK(pool_consistent(sa));
    /* Alone, a zero-filled end frees at once. */
    CHECK(sparse_array_write_begin(sa, PAGE, 0, i1, 2, &n1) == PAGE);
    sparse_array_write_end(sa, PAGE, 0);
    CHECK(pool_consistent(sa) && table_pages(sa) == 0);
    sparse_array_free(sa);
}

static void
test_pin_keeps_partly_zeroed_page(void)
{
    struct sparse_array *sa = sparse_array_new();
    struct sparse_wpiece iov[2];
    char data[8192];
    size_t n;

    unit_group("a partial zero does not drop a page being written");
    pattern(data, sizeof data, 12);
    CHECK(sparse_array_write_begin(sa, sizeof data, 0, iov, 2, &n) ==
          sizeof data);
    sparse_array_zero(sa, 4096, 16384); /* same page, other bytes */
    CHECK(table_pages(sa) == 1);
    fill_pieces(iov, n, data, sizeof data);
    sparse_array_write_end(sa, sizeof data, 0);
    CHECK(reads_as(sa, 0, data, sizeof data));
    CHECK(reads_as(sa, sizeof data, NULL, PAGE - sizeof data));
    sparse_array_zero(sa, sizeof data, 0);
    CHECK(table_pages(sa) == 0 && pool_consistent(sa));
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
    struct sparse_wpiece iov[8];
    uint64_t off, rss0, rss1, rss2, vm1;
    char *data = malloc(MIB);
    size_t n;

    unit_group("64 MiB written costs 64 MiB, zeroing gives it back");
    pattern(data, MIB, 13);
    rss0 = statm_field(1);
    for (off = 0; off < 32 * MIB; off += MIB)
        CHECK(sparse_array_write(sa, data, MIB, off) == 0);
    for (; off < 64 * MIB; off += MIB) {
        CHECK(sparse_array_write_begin(sa, MIB, off, iov, 8, &n) == MIB);
        fill_pieces(iov, n, data, MIB);
        sparse_array_write_end(sa, MIB, off);
    }
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

/* The concurrency test: STRIPE_THREADS threads each own one stripe of
 * every page of the striped area, so they share pages but not bytes, and
 * check their own bytes exactly after every operation; meanwhile all of
 * them also write, zero and read a shared area at random, overlapping.
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

static uint64_t
worker_rand(struct worker *w, uint64_t below)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng % below;
}

/* Zero-copy write of len bytes of src (NULL: zeroes) at offset. */
static void
worker_write_pieces(struct sparse_array *sa, const char *src, uint32_t len,
                    uint64_t offset)
{
    struct sparse_wpiece iov[4];
    uint32_t done;
    size_t n;

    while (len > 0) {
        done = sparse_array_write_begin(sa, len, offset, iov, 4, &n);
        if (done == 0)
            return;
        fill_pieces(iov, n, src, done);
        sparse_array_write_end(sa, done, offset);
        src = src ? src + done : NULL;
        offset += done;
        len -= done;
    }
}

/* One operation on [a, b) of the worker's stripe of page p; the shadow
 * follows and the stripe is read back.
 */
static void
worker_stripe_op(struct worker *w)
{
    unsigned p = (unsigned)worker_rand(w, STRIPED_PAGES);
    uint32_t a = (uint32_t)worker_rand(w, STRIPE);
    uint32_t len = 1 + (uint32_t)worker_rand(w, STRIPE - a);
    uint64_t offset = (uint64_t)p * PAGE + w->id * STRIPE;
    char data[STRIPE], now[STRIPE];
    uint64_t op = worker_rand(w, 4);

    pattern(data, len, w->rng);
    if (op >= 2)
        memset(data, 0, len);
    if (op == 0)
        sparse_array_write(w->sa, data, len, offset + a);
    else if (op == 3)
        sparse_array_zero(w->sa, len, offset + a);
    else
        worker_write_pieces(w->sa, data, len, offset + a);
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
    uint64_t offset = SHARED_BASE + worker_rand(w, SHARED_PAGES * PAGE);
    uint32_t len = 1 + (uint32_t)worker_rand(w, 4 * PAGE);
    struct sparse_piece iov[4];
    char buf[4 * PAGE];
    size_t n;

    switch (worker_rand(w, 6)) {
    case 0:
        sparse_array_write(w->sa, shared_data, len, offset);
        break;
    case 1:
        worker_write_pieces(w->sa, shared_data, len, offset);
        break;
    case 2:
        worker_write_pieces(w->sa, NULL, len, offset);
        break;
    case 3:
        sparse_array_zero(w->sa, len, offset);
        break;
    case 4:
        sparse_array_read(w->sa, buf, len, offset);
        break;
    default:
        sparse_array_read_begin(w->sa, len, offset, iov, 4, &n);
        sparse_array_read_end(w->sa);
        sparse_array_extents(w->sa, len, offset, ignore_extent, NULL);
    }
}

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    double end = now_seconds() + 1.0;

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

    unit_group("threads writing, zeroing and reading at once for a second");
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

int
main(void)
{
    test_read_write();
    test_zero();
    test_extents();
    test_read_pieces();
    test_write_pieces();
    test_write_pieces_prefix();
    test_partial_fill();
    test_zero_fill_removes();
    test_dense_slots();
    test_reused_slots_are_zero();
    test_pin_defers_free();
    test_pin_last_end_drains();
    test_pin_keeps_partly_zeroed_page();
    test_memory_use();
    test_huge_pages();
    test_concurrent();
    return unit_finish();
}
