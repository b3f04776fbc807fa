/* SPDX-License-Identifier: BSD-3-Clause */
/* sparse.c: the sparse array of sparse.h.
 *
 * Offsets split into three parts: the L1 index (bits 27 and up) selects an
 * L2 directory from a vector sorted by index; the next 12 bits select one
 * of the directory's 4096 page numbers; the low 15 bits are the offset
 * inside a 32 KiB page.  Page number 0 reads as zeroes, and a directory
 * with no pages is removed.
 *
 * Pages live in slabs: 2 MiB mappings aligned to 2 MiB, so that where
 * transparent huge pages are on for every mapping ("always") filling one
 * takes a single huge-page fault instead of 512 small ones.  They are not
 * marked MADV_HUGEPAGE: on virtual machines with free page reporting
 * (virtio-balloon) the free 2 MiB blocks are the ones handed back to the
 * host, so a huge page there costs a host fault on every first touch, and
 * copying into a fresh export measured 3 times slower than with small
 * pages, which come from memory the guest freed recently.
 *
 * Page number p is slot (p - 1) % 64 of slab (p - 1) / 64.  A free slot
 * always reads as zero: it is untouched since mmap, or was given back with
 * MADV_DONTNEED, which also returns its memory to the system.  So a new page
 * never needs clearing and can never show stale data.  Free slots are reused
 * before a new slab is mapped, so the memory held follows the pages in
 * use.  Slabs are only unmapped by sparse_array_free: a slab with every slot
 * free holds no memory, just address space and the kernel's page table for
 * it (4 KiB per 2 MiB).  Once a huge page is partly freed the kernel splits
 * it, and khugepaged may later fill a sparsely used slab back into a huge
 * page (zeroes, so still correct); dense reuse keeps such slabs rare.
 *
 * Locking: reads and writes to existing pages run under the shared lock;
 * anything that adds or removes a page takes the exclusive lock, and so
 * does the page allocator (slabs, free slots), which has no lock of its
 * own as it only ever runs there.  Writers under the shared lock may copy
 * into the same page at once; the NBD protocol leaves overlapping
 * concurrent writes undefined, and disjoint byte ranges do not race.
 *
 * Staged writes (sparse_array_stage): the whole pages of the range are
 * fresh slots taken from the allocator but not linked into the table, the
 * partial pages at either end a small buffer.  The caller fills them
 * without any lock, as slowly as it likes, and nothing else sees them.
 * sparse_array_commit then swaps the fresh pages in, in one go under the
 * exclusive lock (a page that arrived all zero is dropped instead), and
 * copies the two ends into their pages like sparse_array_write; the old
 * pages are freed there and then, as no reader holds them outside the
 * shared lock.  sparse_array_abort gives the fresh pages back.
 *
 * Recycling: an old page a commit replaces is kept, up to DIRTY_MAX of
 * them, for the whole pages of the next stage, which are overwritten
 * whole, instead of being given back with MADV_DONTNEED and faulted in
 * again (overwriting an export in 1 MiB writes spent most of its time
 * there).  Only pages never handed out by sparse_array_read_begin are
 * kept: those may still be referenced by the kernel after read_end (a
 * vmsplice), so they must never hold other data (NBDX_EXT_SPLICE_OK).
 */

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iszero.h"
#include "minmax.h"
#include "sparse.h"
#include "vector.h"

#define PAGE_SHIFT 15
#define L2_SHIFT 12
#define L2_PAGES (1u << L2_SHIFT)
#define L1_SHIFT (PAGE_SHIFT + L2_SHIFT)
#define L1_SPAN ((uint64_t)1 << L1_SHIFT) /* bytes covered by one L2 dir */
#define SLAB_SHIFT 21                     /* a slab is one 2 MiB huge page */
#define SLAB_SIZE ((size_t)1 << SLAB_SHIFT)
#define SLAB_PAGES (1u << (SLAB_SHIFT - PAGE_SHIFT))
#define MAX_SLABS (UINT32_MAX / SLAB_PAGES) /* page numbers fit uint32_t */
#define DIRTY_MAX 256 /* pages kept for recycling: 8 MiB */

_Static_assert(SPARSE_PAGE_SIZE == 1 << PAGE_SHIFT, "page size");
_Static_assert(SLAB_PAGES == 64, "a slab's slots are the bits of a uint64_t");

/* A 2 MiB mapping cut into SLAB_PAGES page slots. */
struct sparse_slab {
    char *base;    /* SLAB_SIZE bytes, aligned to SLAB_SIZE */
    uint64_t free; /* bit i: slot i is unused and reads as zero */
    /* Bit i: slot i was handed out by read_begin since it was last free.
     * Set with an atomic under the shared lock, cleared under the
     * exclusive lock.
     */
    uint64_t exposed;
};
DEFINE_VECTOR_TYPE(slab_vector, struct sparse_slab)
DEFINE_VECTOR_TYPE(index_vector, uint32_t)

struct l2_dir {
    uint32_t page[L2_PAGES]; /* page numbers, owned; 0 = all zero */
    unsigned used;           /* non-zero entries in page[] */
};

struct l1_entry {
    uint64_t index; /* offset >> L1_SHIFT */
    struct l2_dir *l2;
};
DEFINE_VECTOR_TYPE(l1_vector, struct l1_entry)

struct sparse_array {
    pthread_rwlock_t lock; /* guards every field below */
    l1_vector l1;          /* sorted by index, no duplicates */
    slab_vector slabs;     /* slab i holds pages 64 * i + 1 to 64 * i + 64 */
    /* Slabs with a free slot, each once; the last one is used first.  Its
     * capacity is kept >= slabs.len, so adding to it never fails.
     */
    index_vector partial;
    /* Pages out of the table but not free, holding old bytes of this
     * array, never exposed: for the next stages' whole pages.
     */
    index_vector dirty;
    size_t os_page; /* sysconf(_SC_PAGESIZE) */
};

static inline uint32_t
sparse_page_slab(uint32_t page)
{
    return (page - 1) / SLAB_PAGES;
}

static inline uint64_t
sparse_page_bit(uint32_t page)
{
    return (uint64_t)1 << ((page - 1) % SLAB_PAGES);
}

/* The memory of page.  Caller holds either lock. */
static inline char *
sparse_page_addr(const struct sparse_array *sa, uint32_t page)
{
    size_t slot = (page - 1) % SLAB_PAGES;

    return sa->slabs.ptr[sparse_page_slab(page)].base + slot * SPARSE_PAGE_SIZE;
}

/* Maps 2 MiB aligned to 2 MiB, cut out of a 4 MiB mapping, or returns
 * NULL with errno set.  Keeping the highest aligned part means the next
 * slab, which mmap places just below, is adjacent: the kernel merges them
 * into one mapping rather than nearing its limit on the number of them.
 */
static char *
sparse_slab_map(void)
{
    const size_t len = 2 * SLAB_SIZE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *base;

    if (p == MAP_FAILED)
        return NULL;
    base = (char *)ROUND_DOWN((uintptr_t)p + SLAB_SIZE, SLAB_SIZE);
    munmap(p, (size_t)(base - p)); /* never empty: base > p */
    if (base + SLAB_SIZE < p + len)
        munmap(base + SLAB_SIZE, (size_t)(p + len - (base + SLAB_SIZE)));
    return base;
}

/* Adds a slab with every slot free, listed in partial.  Returns 0, or -1
 * with errno ENOMEM.  Caller holds the exclusive lock.
 */
static int
sparse_slab_new(struct sparse_array *sa)
{
    struct sparse_slab slab = {.free = UINT64_MAX};

    if (sa->slabs.len >= MAX_SLABS) {
        errno = ENOMEM;
        return -1;
    }
    if (slab_vector_reserve(&sa->slabs, 1) == -1 ||
        index_vector_reserve(&sa->partial,
                             sa->slabs.len + 1 - sa->partial.len) == -1)
        return -1;
    slab.base = sparse_slab_map();
    if (slab.base == NULL)
        return -1;
    sa->partial.ptr[sa->partial.len++] = (uint32_t)sa->slabs.len;
    sa->slabs.ptr[sa->slabs.len++] = slab;
    return 0;
}

/* Takes a free slot, lowest first from the slab listed last, so pages
 * handed out in a row usually lie next to each other.  Returns its page
 * number (the page reads as zero), or 0 with errno ENOMEM.  Caller holds
 * the exclusive lock.
 */
static uint32_t
sparse_page_get(struct sparse_array *sa)
{
    struct sparse_slab *slab;
    uint32_t s;
    unsigned slot;

    if (sa->partial.len == 0 && sparse_slab_new(sa) == -1)
        return 0;
    s = sa->partial.ptr[sa->partial.len - 1];
    slab = &sa->slabs.ptr[s];
    slot = (unsigned)__builtin_ctzll(slab->free);
    slab->free &= slab->free - 1;
    if (slab->free == 0)
        sa->partial.len--;
    return s * SLAB_PAGES + slot + 1;
}

/* Returns page's slot to its slab.  Unless the page was never touched,
 * the caller makes it read as zero again (sparse_run_flush) before it
 * drops the exclusive lock.
 */
static void
sparse_page_put(struct sparse_array *sa, uint32_t page)
{
    uint32_t s = sparse_page_slab(page);
    struct sparse_slab *slab = &sa->slabs.ptr[s];

    assert((slab->free & sparse_page_bit(page)) == 0);
    if (slab->free == 0)
        sa->partial.ptr[sa->partial.len++] = s;
    slab->free |= sparse_page_bit(page);
    slab->exposed &= ~sparse_page_bit(page);
}

/* Freed page memory not yet given back: a run of adjacent pages, so
 * that freeing a whole slab is one madvise over the whole huge page,
 * which drops it without splitting it first.
 */
struct sparse_run {
    char *start;
    size_t len;
};

/* Gives the run's memory back and makes it read as zero: MADV_DONTNEED
 * on the whole OS pages inside it, memset for the rest (only when OS
 * pages are larger than SPARSE_PAGE_SIZE) or if madvise fails.
 */
static void
sparse_run_flush(const struct sparse_array *sa, struct sparse_run *run)
{
    uintptr_t s = (uintptr_t)run->start, e = s + run->len, a, b;

    if (run->len == 0)
        return;
    a = MIN(ROUND_UP(s, sa->os_page), e);
    b = MAX(ROUND_DOWN(e, sa->os_page), a);
    if (b > a && madvise((void *)a, b - a, MADV_DONTNEED) == -1)
        memset((void *)a, 0, b - a);
    memset((void *)s, 0, a - s);
    memset((void *)b, 0, e - b);
    run->len = 0;
}

static void
sparse_run_add(const struct sparse_array *sa, struct sparse_run *run,
               char *page)
{
    if (run->len > 0 && run->start + run->len == page) {
        run->len += SPARSE_PAGE_SIZE;
        return;
    }
    sparse_run_flush(sa, run);
    *run = (struct sparse_run){page, SPARSE_PAGE_SIZE};
}

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
    sa->slabs = (slab_vector)empty_vector;
    sa->partial = (index_vector)empty_vector;
    sa->dirty = (index_vector)empty_vector;
    sa->os_page = (size_t)sysconf(_SC_PAGESIZE);
    return sa;
}

/* Frees everything; staged writes must have ended. */
void
sparse_array_free(struct sparse_array *sa)
{
    size_t i;

    if (sa == NULL)
        return;
    for (i = 0; i < sa->l1.len; i++)
        free(sa->l1.ptr[i].l2);
    for (i = 0; i < sa->slabs.len; i++)
        munmap(sa->slabs.ptr[i].base, SLAB_SIZE);
    l1_vector_reset(&sa->l1);
    slab_vector_reset(&sa->slabs);
    index_vector_reset(&sa->partial);
    index_vector_reset(&sa->dirty);
    pthread_rwlock_destroy(&sa->lock);
    free(sa);
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

static inline uint32_t
sparse_in_page(uint64_t offset)
{
    return offset & (SPARSE_PAGE_SIZE - 1);
}

/* The memory of the page holding offset, or NULL.  Caller holds either
 * lock.
 */
static char *
sparse_find_page(const struct sparse_array *sa, uint64_t offset)
{
    struct l2_dir *l2 = sparse_find_l2(sa, offset);
    uint32_t page = l2 ? l2->page[sparse_l2_slot(offset)] : 0;

    return page ? sparse_page_addr(sa, page) : NULL;
}

/* Bytes from offset to the end of its page, at most count. */
static inline uint32_t
sparse_chunk(uint32_t count, uint64_t offset)
{
    uint32_t left = SPARSE_PAGE_SIZE - sparse_in_page(offset);

    return count < left ? count : left;
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
            memcpy(out, page + sparse_in_page(offset), n);
        else
            memset(out, 0, n);
        out += n;
        offset += n;
        count -= n;
    }
    pthread_rwlock_unlock(&sa->lock);
}

/* True if data at page (NULL: zeroes) continues the piece last. */
static bool
sparse_piece_continues(const struct sparse_piece *last, const char *page)
{
    if (page == NULL || last->base == NULL)
        return page == last->base;
    return (const char *)last->base + last->len == page;
}

/* Adds n bytes at page (NULL: zeroes) to the pieces; false if that needs
 * a new piece and there is no room.
 */
static bool
sparse_piece_add(struct sparse_piece *iov, size_t max, size_t *n,
                 const char *page, uint32_t len)
{
    struct sparse_piece *last = *n ? &iov[*n - 1] : NULL;

    if (last && sparse_piece_continues(last, page)) {
        last->len += len;
        return true;
    }
    if (*n == max)
        return false;
    iov[(*n)++] = (struct sparse_piece){page, len};
    return true;
}

/* Marks the page at offset as handed out.  Caller holds the shared lock,
 * under which slabs do not move.
 */
static void
sparse_expose(struct sparse_array *sa, uint64_t offset)
{
    uint32_t page = sparse_find_l2(sa, offset)->page[sparse_l2_slot(offset)];
    struct sparse_slab *slab = &sa->slabs.ptr[sparse_page_slab(page)];
    uint64_t bit = sparse_page_bit(page);

    if (!(__atomic_load_n(&slab->exposed, __ATOMIC_RELAXED) & bit))
        __atomic_fetch_or(&slab->exposed, bit, __ATOMIC_RELAXED);
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
            page += sparse_in_page(offset + done);
        if (!sparse_piece_add(iov, max, n, page, len))
            break;
        if (page)
            sparse_expose(sa, offset + done);
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

/* Adds a page for offset and returns its memory, which reads as zero, or
 * NULL with errno ENOMEM.  Caller holds the exclusive lock.
 */
static char *
sparse_add_page(struct sparse_array *sa, uint64_t offset)
{
    uint32_t page = sparse_page_get(sa);
    struct l2_dir *l2;

    if (page == 0)
        return NULL;
    l2 = sparse_get_l2(sa, offset);
    if (l2 == NULL) {
        sparse_page_put(sa, page); /* untouched, so still zero */
        return NULL;
    }
    l2->page[sparse_l2_slot(offset)] = page;
    l2->used++;
    return sparse_page_addr(sa, page);
}

/* Takes the page at offset, which exists, out of the table (with its L2
 * directory if that empties) and returns its number, now owned by the
 * caller.  Caller holds the exclusive lock.
 */
static uint32_t
sparse_unlink_page(struct sparse_array *sa, uint64_t offset)
{
    size_t i = sparse_l1_search(sa, offset >> L1_SHIFT);
    struct l2_dir *l2 = sa->l1.ptr[i].l2;
    unsigned slot = sparse_l2_slot(offset);
    uint32_t page = l2->page[slot];

    l2->page[slot] = 0;
    if (--l2->used > 0)
        return page;
    free(l2);
    memmove(&sa->l1.ptr[i], &sa->l1.ptr[i + 1],
            (sa->l1.len - i - 1) * sizeof sa->l1.ptr[0]);
    sa->l1.len--;
    return page;
}

/* Frees page, just unlinked, adding its memory to run.  Caller holds
 * the exclusive lock.
 */
static void
sparse_release_page(struct sparse_array *sa, uint32_t page,
                    struct sparse_run *run)
{
    sparse_page_put(sa, page);
    sparse_run_add(sa, run, sparse_page_addr(sa, page));
}

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

/* Copies one chunk into its page; with alloc false, stops (returns false)
 * where a page would have to be added.  A chunk of zeroes never adds a
 * page.  Returns false with errno ENOMEM if allocation fails.
 */
static bool
sparse_write_chunk(struct sparse_array *sa, const char *buf, uint32_t n,
                   uint64_t offset, bool alloc)
{
    char *page = sparse_find_page(sa, offset);

    if (page == NULL) {
        if (is_zero(buf, n))
            return true;
        if (!alloc)
            return false;
        page = sparse_add_page(sa, offset);
        if (page == NULL)
            return false;
    }
    sparse_copy_data(page + sparse_in_page(offset), buf, n);
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

/* A WRITE staged outside the array: [offset, offset + head) and the last
 * tail bytes are partial pages, held in edge; the npages whole pages in
 * between are fresh slots, page[i] for the i-th.  One allocation.
 */
struct sparse_stage {
    uint64_t offset;
    uint32_t count, head, tail, npages;
    uint32_t *page;
    char *edge; /* head bytes, then tail bytes */
};

/* Adds len bytes at base, into the last piece if they follow it in
 * memory; false if that needs a new piece and there is no room.
 */
static bool
sparse_wpiece_add(struct sparse_wpiece *iov, size_t max, size_t *n, char *base,
                  uint64_t len)
{
    struct sparse_wpiece *last = *n ? &iov[*n - 1] : NULL;

    if (len == 0)
        return true;
    if (last && (char *)last->base + last->len == base) {
        last->len += len;
        return true;
    }
    if (*n == max)
        return false;
    iov[(*n)++] = (struct sparse_wpiece){base, len};
    return true;
}

/* The stage's shape for [offset, offset + count), in a new allocation
 * (NULL with errno ENOMEM).
 */
static struct sparse_stage *
sparse_stage_new(uint32_t count, uint64_t offset)
{
    uint64_t end = offset + count;
    uint64_t a = MIN(ROUND_UP(offset, SPARSE_PAGE_SIZE), end);
    uint64_t b = MAX(ROUND_DOWN(end, SPARSE_PAGE_SIZE), a);
    uint32_t npages = (uint32_t)((b - a) / SPARSE_PAGE_SIZE);
    uint32_t edges = (uint32_t)((a - offset) + (end - b));
    struct sparse_stage *st;

    st = malloc(sizeof *st + npages * sizeof(uint32_t) + edges);
    if (st == NULL)
        return NULL;
    *st = (struct sparse_stage){offset, count, (uint32_t)(a - offset),
                                (uint32_t)(end - b), npages};
    st->page = (uint32_t *)(st + 1);
    st->edge = (char *)(st->page + npages);
    memset(st->edge, 0, edges); /* staged memory reads as zero */
    return st;
}

/* Takes the stage's fresh pages.  Caller holds the exclusive lock.  On
 * failure the pages taken so far go back, untouched.
 */
static int
sparse_stage_get_pages(struct sparse_array *sa, struct sparse_stage *st)
{
    uint32_t i;

    for (i = 0; i < st->npages; i++) {
        /* Recycled pages lie anywhere: only for stages of a few pages,
         * which cannot run out of pieces.
         */
        if (sa->dirty.len > 0 && st->npages <= SLAB_PAGES)
            st->page[i] = sa->dirty.ptr[--sa->dirty.len];
        else
            st->page[i] = sparse_page_get(sa);
        if (st->page[i] == 0) {
            while (i > 0)
                sparse_page_put(sa, st->page[--i]);
            errno = ENOMEM;
            return -1;
        }
    }
    return 0;
}

/* The stage as pieces, in order; false if more than max are needed. */
static bool
sparse_stage_pieces(const struct sparse_array *sa, struct sparse_stage *st,
                    struct sparse_wpiece *iov, size_t max, size_t *n)
{
    uint32_t i;

    *n = 0;
    if (!sparse_wpiece_add(iov, max, n, st->edge, st->head))
        return false;
    for (i = 0; i < st->npages; i++)
        if (!sparse_wpiece_add(iov, max, n, sparse_page_addr(sa, st->page[i]),
                               SPARSE_PAGE_SIZE))
            return false;
    return sparse_wpiece_add(iov, max, n, st->edge + st->head, st->tail);
}

/* Faults in the fresh pages ahead of the caller's recv: one call per
 * piece costs less than the kernel's fault path once per 4 KiB page,
 * which is a third of copying into a fresh export.  Best effort
 * (MADV_POPULATE_WRITE is Linux 5.14 and later).
 */
static void
sparse_populate(const struct sparse_array *sa, const struct sparse_wpiece *iov,
                size_t n)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t a, b;
    size_t i;

    for (i = 0; i < n; i++) {
        a = ROUND_DOWN((uintptr_t)iov[i].base, sa->os_page);
        b = ROUND_UP((uintptr_t)iov[i].base + iov[i].len, sa->os_page);
        madvise((void *)a, b - a, MADV_POPULATE_WRITE);
    }
#else
    (void)sa;
    (void)iov;
    (void)n;
#endif
}

/* Gives the stage's fresh pages back, reading as zero again.  Caller
 * holds the exclusive lock.
 */
static void
sparse_stage_put_pages(struct sparse_array *sa, struct sparse_stage *st)
{
    struct sparse_run run = {NULL, 0};
    uint32_t i;

    for (i = 0; i < st->npages; i++)
        sparse_release_page(sa, st->page[i], &run);
    sparse_run_flush(sa, &run);
}

int
sparse_array_stage(struct sparse_array *sa, uint32_t count, uint64_t offset,
                   struct sparse_wpiece *iov, size_t max, size_t *n,
                   struct sparse_stage **stage)
{
    struct sparse_stage *st;
    bool fits;

    assert(count > 0 && max >= 1);
    st = sparse_stage_new(count, offset);
    if (st == NULL)
        return -1;
    if (st->npages == 0)
        fits = sparse_stage_pieces(sa, st, iov, max, n); /* edges only */
    else {
        pthread_rwlock_wrlock(&sa->lock);
        if (sparse_stage_get_pages(sa, st) == -1) {
            pthread_rwlock_unlock(&sa->lock);
            free(st);
            return -1;
        }
        /* Still under the lock: the slabs never move, but a new slab may
         * move the vector that sparse_page_addr reads their addresses from.
         */
        fits = sparse_stage_pieces(sa, st, iov, max, n);
        if (!fits)
            sparse_stage_put_pages(sa, st);
        pthread_rwlock_unlock(&sa->lock);
    }
    if (!fits) {
        free(st);
        errno = E2BIG;
        return -1;
    }
    sparse_populate(sa, iov, *n);
    *stage = st;
    return 0;
}

/* A page a commit replaced: kept for recycling if it was never exposed
 * and there is room, else freed into run.  Exclusive lock held.
 */
static void
sparse_retire_page(struct sparse_array *sa, uint32_t page,
                   struct sparse_run *run)
{
    struct sparse_slab *slab = &sa->slabs.ptr[sparse_page_slab(page)];

    if (!(slab->exposed & sparse_page_bit(page)) && sa->dirty.len < DIRTY_MAX &&
        index_vector_reserve(&sa->dirty, 1) == 0) {
        sa->dirty.ptr[sa->dirty.len++] = page;
        return;
    }
    sparse_release_page(sa, page, run);
}

/* Puts fresh page in place of whatever is at pos, or drops it if it is
 * all zero; the page it replaces goes to run.  Caller holds the exclusive
 * lock.  -1 with errno ENOMEM if a new L2 directory was needed.
 */
static int
sparse_swap_in(struct sparse_array *sa, uint64_t pos, uint32_t fresh,
               struct sparse_run *run)
{
    struct l2_dir *l2 = sparse_find_l2(sa, pos);
    uint32_t old = l2 ? l2->page[sparse_l2_slot(pos)] : 0;

    if (is_zero(sparse_page_addr(sa, fresh), SPARSE_PAGE_SIZE)) {
        sparse_release_page(sa, fresh, run);
        if (old)
            sparse_release_page(sa, sparse_unlink_page(sa, pos), run);
        return 0;
    }
    if (old) {
        l2->page[sparse_l2_slot(pos)] = fresh;
        sparse_retire_page(sa, old, run);
        return 0;
    }
    l2 = sparse_get_l2(sa, pos);
    if (l2 == NULL) {
        sparse_release_page(sa, fresh, run);
        return -1;
    }
    l2->page[sparse_l2_slot(pos)] = fresh;
    l2->used++;
    return 0;
}

/* The whole pages and both ends, under the exclusive lock. */
static int
sparse_commit_pages(struct sparse_array *sa, struct sparse_stage *st)
{
    struct sparse_run run = {NULL, 0};
    uint64_t pos = st->offset + st->head;
    uint64_t tail_pos = pos + (uint64_t)st->npages * SPARSE_PAGE_SIZE;
    int r = 0;
    uint32_t i;

    pthread_rwlock_wrlock(&sa->lock);
    /* The ends first: a page they add must not be a slot freed below,
     * which reads as zero only once the run is flushed.
     */
    if (sparse_write_run(sa, st->edge, st->head, st->offset, true) !=
            st->head ||
        sparse_write_run(sa, st->edge + st->head, st->tail, tail_pos, true) !=
            st->tail)
        r = -1;
    for (i = 0; i < st->npages; i++, pos += SPARSE_PAGE_SIZE)
        if (sparse_swap_in(sa, pos, st->page[i], &run) == -1)
            r = -1;
    sparse_run_flush(sa, &run);
    pthread_rwlock_unlock(&sa->lock);
    if (r == -1)
        errno = ENOMEM;
    return r;
}

int
sparse_array_commit(struct sparse_array *sa, struct sparse_stage *st)
{
    int r;

    /* No whole page: the ends are the payload, in order; the ordinary
     * write takes the shared lock where the pages exist.
     */
    if (st->npages == 0)
        r = sparse_array_write(sa, st->edge, st->count, st->offset);
    else
        r = sparse_commit_pages(sa, st);
    free(st);
    return r;
}

void
sparse_array_abort(struct sparse_array *sa, struct sparse_stage *st)
{
    if (st->npages > 0) {
        pthread_rwlock_wrlock(&sa->lock);
        sparse_stage_put_pages(sa, st);
        pthread_rwlock_unlock(&sa->lock);
    }
    free(st);
}

/* Zeroes one chunk inside a page; a page left all zero is removed. */
static void
sparse_zero_chunk(struct sparse_array *sa, uint32_t n, uint64_t offset,
                  struct sparse_run *run)
{
    char *page = sparse_find_page(sa, offset);

    if (page == NULL)
        return;
    if (n < SPARSE_PAGE_SIZE) {
        memset(page + sparse_in_page(offset), 0, n);
        if (!is_zero(page, SPARSE_PAGE_SIZE))
            return;
    }
    sparse_release_page(sa, sparse_unlink_page(sa, offset), run);
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
    struct sparse_run run = {NULL, 0};
    uint64_t end = offset + count;
    uint32_t n;

    pthread_rwlock_wrlock(&sa->lock);
    while (offset < end) {
        if (sparse_find_l2(sa, offset) == NULL) {
            offset = MIN(sparse_next_span(offset), end);
            continue;
        }
        n = sparse_chunk((uint32_t)(end - offset), offset);
        sparse_zero_chunk(sa, n, offset, &run);
        offset += n;
    }
    sparse_run_flush(sa, &run);
    pthread_rwlock_unlock(&sa->lock);
}

/* State of the page at pos, and where the next unit to examine starts:
 * a missing L2 directory is one hole up to the end of its span.
 */
static int
sparse_state_at(const struct sparse_array *sa, uint64_t pos, uint64_t *next)
{
    struct l2_dir *l2 = sparse_find_l2(sa, pos);
    uint32_t page;

    if (l2 == NULL) {
        *next = sparse_next_span(pos);
        return SPARSE_HOLE;
    }
    *next = ROUND_DOWN(pos, SPARSE_PAGE_SIZE) + SPARSE_PAGE_SIZE;
    page = l2->page[sparse_l2_slot(pos)];
    if (page == 0)
        return SPARSE_HOLE;
    return is_zero(sparse_page_addr(sa, page), SPARSE_PAGE_SIZE) ? SPARSE_ZERO
                                                                 : SPARSE_DATA;
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
