/* SPDX-License-Identifier: BSD-3-Clause */
/* sparse.c: the sparse array of sparse.h.
 *
 * Offsets split into three parts: the L1 index (bits 27 and up) selects an
 * L2 directory from a vector sorted by index; the next 12 bits select one
 * of the directory's 4096 page pointers; the low 15 bits are the offset
 * inside a 32 KiB page.  A NULL page reads as zeroes, and a directory with
 * no pages is removed, so an empty array holds no memory at all.
 *
 * Locking: reads and writes to existing pages run under the shared lock;
 * anything that adds or removes a page takes the exclusive lock.  Writers
 * under the shared lock may copy into the same page at once; the NBD
 * protocol leaves overlapping concurrent writes undefined, and disjoint
 * byte ranges do not race.
 */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "minmax.h"
#include "sparse.h"
#include "vector.h"

#define PAGE_SHIFT 15
#define L2_SHIFT 12
#define L2_PAGES (1u << L2_SHIFT)
#define L1_SHIFT (PAGE_SHIFT + L2_SHIFT)
#define L1_SPAN ((uint64_t)1 << L1_SHIFT) /* bytes covered by one L2 dir */

_Static_assert(SPARSE_PAGE_SIZE == 1 << PAGE_SHIFT, "page size");

struct l2_dir {
    char *page[L2_PAGES]; /* owned; NULL = all zero */
    unsigned used;        /* non-NULL entries in page[] */
};

struct l1_entry {
    uint64_t index; /* offset >> L1_SHIFT */
    struct l2_dir *l2;
};
DEFINE_VECTOR_TYPE(l1_vector, struct l1_entry)

struct sparse_array {
    pthread_rwlock_t lock; /* guards l1, every l2_dir and page pointer */
    l1_vector l1;          /* sorted by index, no duplicates */
    size_t os_page;        /* sysconf(_SC_PAGESIZE) */
};

struct sparse_array *
sparse_array_new(void)
{
    struct sparse_array *sa = calloc(1, sizeof *sa);
    int err;

    if (sa == NULL)
        return NULL;
    err = pthread_rwlock_init(&sa->lock, NULL);
    if (err != 0) {
        free(sa);
        errno = err;
        return NULL;
    }
    sa->l1 = (l1_vector)empty_vector;
    sa->os_page = (size_t)sysconf(_SC_PAGESIZE);
    return sa;
}

void
sparse_array_free(struct sparse_array *sa)
{
    size_t i;
    unsigned j;

    if (sa == NULL)
        return;
    for (i = 0; i < sa->l1.len; i++) {
        for (j = 0; j < L2_PAGES; j++)
            free(sa->l1.ptr[i].l2->page[j]);
        free(sa->l1.ptr[i].l2);
    }
    l1_vector_reset(&sa->l1);
    pthread_rwlock_destroy(&sa->lock);
    free(sa);
}

/* True if len bytes at buf are all zero.  The first 16 bytes are checked
 * one by one; then comparing the buffer with itself shifted by 16 proves
 * the rest, at memcmp speed.
 */
static bool
sparse_is_zero(const char *buf, size_t len)
{
    size_t i, head = MIN(len, (size_t)16);

    for (i = 0; i < head; i++)
        if (buf[i] != 0)
            return false;
    return len <= 16 || memcmp(buf, buf + 16, len - 16) == 0;
}

/* Position in l1 of index, or of the first larger entry if absent. */
static size_t
sparse_l1_search(const struct sparse_array *sa, uint64_t index)
{
    size_t lo = 0, hi = sa->l1.len, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (sa->l1.ptr[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The L2 directory covering offset, or NULL.  Caller holds either lock. */
static struct l2_dir *
sparse_find_l2(const struct sparse_array *sa, uint64_t offset)
{
    uint64_t index = offset >> L1_SHIFT;
    size_t i = sparse_l1_search(sa, index);

    if (i < sa->l1.len && sa->l1.ptr[i].index == index)
        return sa->l1.ptr[i].l2;
    return NULL;
}

static inline unsigned
sparse_l2_slot(uint64_t offset)
{
    return (offset >> PAGE_SHIFT) & (L2_PAGES - 1);
}

/* The page holding offset, or NULL.  Caller holds either lock. */
static char *
sparse_find_page(const struct sparse_array *sa, uint64_t offset)
{
    struct l2_dir *l2 = sparse_find_l2(sa, offset);

    return l2 ? l2->page[sparse_l2_slot(offset)] : NULL;
}

/* Bytes from offset to the end of its page, at most count. */
static inline uint32_t
sparse_chunk(uint32_t count, uint64_t offset)
{
    uint64_t left = SPARSE_PAGE_SIZE - (offset & (SPARSE_PAGE_SIZE - 1));

    return count < left ? count : (uint32_t)left;
}

void
sparse_array_read(struct sparse_array *sa, void *buf, uint32_t count,
                  uint64_t offset)
{
    char *out = buf;
    uint32_t n;
    const char *page;

    pthread_rwlock_rdlock(&sa->lock);
    while (count > 0) {
        n = sparse_chunk(count, offset);
        page = sparse_find_page(sa, offset);
        if (page)
            memcpy(out, page + (offset & (SPARSE_PAGE_SIZE - 1)), n);
        else
            memset(out, 0, n);
        out += n;
        offset += n;
        count -= n;
    }
    pthread_rwlock_unlock(&sa->lock);
}

/* Adds n bytes at page (NULL: zeroes) to the pieces; false if that needs
 * a new piece and there is no room.
 */
static bool
sparse_piece_add(struct sparse_piece *iov, size_t max, size_t *n,
                 const char *page, uint32_t len)
{
    struct sparse_piece *last = *n ? &iov[*n - 1] : NULL;

    if (last && page == NULL && last->base == NULL) {
        last->len += len;
        return true;
    }
    if (*n == max)
        return false;
    iov[(*n)++] = (struct sparse_piece){page, len};
    return true;
}

uint32_t
sparse_array_read_begin(struct sparse_array *sa, uint32_t count,
                        uint64_t offset, struct sparse_piece *iov, size_t max,
                        size_t *n)
{
    uint32_t done = 0, len;
    const char *page;

    *n = 0;
    pthread_rwlock_rdlock(&sa->lock);
    while (done < count) {
        len = sparse_chunk(count - done, offset + done);
        page = sparse_find_page(sa, offset + done);
        if (page)
            page += (offset + done) & (SPARSE_PAGE_SIZE - 1);
        if (!sparse_piece_add(iov, max, n, page, len))
            break;
        done += len;
    }
    return done;
}

void
sparse_array_read_end(struct sparse_array *sa)
{
    pthread_rwlock_unlock(&sa->lock);
}

/* The L2 directory for offset, created if missing.  Caller holds the
 * exclusive lock.  Returns NULL with errno ENOMEM.
 */
static struct l2_dir *
sparse_get_l2(struct sparse_array *sa, uint64_t offset)
{
    uint64_t index = offset >> L1_SHIFT;
    size_t i = sparse_l1_search(sa, index);
    struct l2_dir *l2;

    if (i < sa->l1.len && sa->l1.ptr[i].index == index)
        return sa->l1.ptr[i].l2;
    l2 = calloc(1, sizeof *l2);
    if (l2 == NULL)
        return NULL;
    if (l1_vector_reserve(&sa->l1, 1) == -1) {
        free(l2);
        return NULL;
    }
    memmove(&sa->l1.ptr[i + 1], &sa->l1.ptr[i],
            (sa->l1.len - i) * sizeof sa->l1.ptr[0]);
    sa->l1.ptr[i] = (struct l1_entry){.index = index, .l2 = l2};
    sa->l1.len++;
    return l2;
}

/* Adds a page for offset and returns it.  A page about to be overwritten
 * in full needs no zeroing.  Caller holds the exclusive lock.
 */
static char *
sparse_add_page(struct sparse_array *sa, uint64_t offset, bool full)
{
    char *page = full ? malloc(SPARSE_PAGE_SIZE) : calloc(1, SPARSE_PAGE_SIZE);
    struct l2_dir *l2;

    if (page == NULL)
        return NULL;
    l2 = sparse_get_l2(sa, offset);
    if (l2 == NULL) {
        free(page);
        return NULL;
    }
    l2->page[sparse_l2_slot(offset)] = page;
    l2->used++;
    return page;
}

/* Copies one chunk into its page; with alloc false, stops (returns false)
 * where a page would have to be added.  A chunk of zeroes never adds a
 * page.  Returns false with errno ENOMEM if allocation fails.
 */
/* Copy client data into a page.  Writes to existing pages run under the
 * shared lock, like reads, so a WRITE may copy into bytes a READ on
 * another thread is copying or sending out: the NBD protocol leaves
 * overlapping requests in flight unordered, and a client that waits for
 * one reply before the next request orders them itself, through the
 * socket, where ThreadSanitizer cannot see it.  fuzzing/tsan.supp names
 * this function so those reports are silenced and nothing else.
 */
static void __attribute__((noinline))
sparse_copy_data(char *page, const char *buf, uint32_t n)
{
    memcpy(page, buf, n);
}

static bool
sparse_write_chunk(struct sparse_array *sa, const char *buf, uint32_t n,
                   uint64_t offset, bool alloc)
{
    char *page = sparse_find_page(sa, offset);

    if (page == NULL) {
        if (sparse_is_zero(buf, n))
            return true;
        if (!alloc)
            return false;
        page = sparse_add_page(sa, offset, n == SPARSE_PAGE_SIZE);
        if (page == NULL)
            return false;
    }
    sparse_copy_data(page + (offset & (SPARSE_PAGE_SIZE - 1)), buf, n);
    return true;
}

/* Writes as far as possible; returns the number of bytes done. */
static uint32_t
sparse_write_run(struct sparse_array *sa, const char *buf, uint32_t count,
                 uint64_t offset, bool alloc)
{
    uint32_t done = 0, n;

    while (done < count) {
        n = sparse_chunk(count - done, offset + done);
        if (!sparse_write_chunk(sa, buf + done, n, offset + done, alloc))
            break;
        done += n;
    }
    return done;
}

int
sparse_array_write(struct sparse_array *sa, const void *buf, uint32_t count,
                   uint64_t offset)
{
    const char *in = buf;
    uint32_t done;

    /* Fast path: every page already exists (or the data is zero). */
    pthread_rwlock_rdlock(&sa->lock);
    done = sparse_write_run(sa, in, count, offset, false);
    pthread_rwlock_unlock(&sa->lock);
    if (done == count)
        return 0;

    pthread_rwlock_wrlock(&sa->lock);
    done += sparse_write_run(sa, in + done, count - done, offset + done, true);
    pthread_rwlock_unlock(&sa->lock);
    if (done == count)
        return 0;
    errno = ENOMEM;
    return -1;
}

/* Frees a page, first handing its whole OS pages back to the kernel:
 * malloc keeps freed 32 KiB blocks for reuse, so without this the
 * process would stay as large as it ever was.
 */
static void
sparse_release_page(const struct sparse_array *sa, char *page)
{
    uintptr_t start = ROUND_UP((uintptr_t)page, sa->os_page);
    uintptr_t end = ROUND_DOWN((uintptr_t)page + SPARSE_PAGE_SIZE, sa->os_page);

    if (end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
    free(page);
}

/* Removes the page at offset, and its L2 directory when that becomes
 * empty.  Caller holds the exclusive lock.
 */
static void
sparse_remove_page(struct sparse_array *sa, uint64_t offset)
{
    size_t i = sparse_l1_search(sa, offset >> L1_SHIFT);
    struct l2_dir *l2 = sa->l1.ptr[i].l2;
    unsigned slot = sparse_l2_slot(offset);

    sparse_release_page(sa, l2->page[slot]);
    l2->page[slot] = NULL;
    if (--l2->used > 0)
        return;
    free(l2);
    memmove(&sa->l1.ptr[i], &sa->l1.ptr[i + 1],
            (sa->l1.len - i - 1) * sizeof sa->l1.ptr[0]);
    sa->l1.len--;
}

/* Zeroes one chunk inside a page; a page left all zero is removed. */
static void
sparse_zero_chunk(struct sparse_array *sa, uint32_t n, uint64_t offset)
{
    char *page = sparse_find_page(sa, offset);

    if (page == NULL)
        return;
    if (n < SPARSE_PAGE_SIZE) {
        memset(page + (offset & (SPARSE_PAGE_SIZE - 1)), 0, n);
        if (!sparse_is_zero(page, SPARSE_PAGE_SIZE))
            return;
    }
    sparse_remove_page(sa, offset);
}

/* The first byte after offset's L1 span. */
static inline uint64_t
sparse_next_span(uint64_t offset)
{
    return ROUND_DOWN(offset, L1_SPAN) + L1_SPAN;
}

void
sparse_array_zero(struct sparse_array *sa, uint32_t count, uint64_t offset)
{
    uint64_t end = offset + count;
    uint32_t n;

    pthread_rwlock_wrlock(&sa->lock);
    while (offset < end) {
        if (sparse_find_l2(sa, offset) == NULL) {
            offset = MIN(sparse_next_span(offset), end);
            continue;
        }
        n = sparse_chunk((uint32_t)(end - offset), offset);
        sparse_zero_chunk(sa, n, offset);
        offset += n;
    }
    pthread_rwlock_unlock(&sa->lock);
}

/* State of the page at pos, and where the next unit to examine starts:
 * a missing L2 directory is one hole up to the end of its span.
 */
static int
sparse_state_at(const struct sparse_array *sa, uint64_t pos, uint64_t *next)
{
    struct l2_dir *l2 = sparse_find_l2(sa, pos);
    const char *page;

    if (l2 == NULL) {
        *next = sparse_next_span(pos);
        return SPARSE_HOLE;
    }
    *next = ROUND_DOWN(pos, SPARSE_PAGE_SIZE) + SPARSE_PAGE_SIZE;
    page = l2->page[sparse_l2_slot(pos)];
    if (page == NULL)
        return SPARSE_HOLE;
    return sparse_is_zero(page, SPARSE_PAGE_SIZE) ? SPARSE_ZERO : SPARSE_DATA;
}

/* Walks [offset, end) merging equal neighbours.  Caller holds a lock. */
static int
sparse_walk(const struct sparse_array *sa, uint64_t offset, uint64_t end,
            sparse_extent_fn fn, void *opaque)
{
    uint64_t run = offset, pos = offset, next;
    int state, run_state = sparse_state_at(sa, pos, &next);

    while (next < end) {
        pos = next;
        state = sparse_state_at(sa, pos, &next);
        if (state == run_state)
            continue;
        if (fn(opaque, run, pos - run, run_state) == -1)
            return -1;
        run = pos;
        run_state = state;
    }
    return fn(opaque, run, end - run, run_state);
}

int
sparse_array_extents(struct sparse_array *sa, uint32_t count, uint64_t offset,
                     sparse_extent_fn fn, void *opaque)
{
    int r;

    if (count == 0)
        return 0;
    pthread_rwlock_rdlock(&sa->lock);
    r = sparse_walk(sa, offset, offset + count, fn, opaque);
    pthread_rwlock_unlock(&sa->lock);
    return r;
}
