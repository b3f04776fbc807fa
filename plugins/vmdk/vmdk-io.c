/* SPDX-License-Identifier: BSD-3-Clause */
/* vmdk: reading, writing and mapping a struct vmdk_disk.
 *
 * Reads of flat extents and of allocated uncompressed grains are one
 * pread into the caller's buffer.  A compressed grain is inflated into
 * the caller's buffer when the request covers all of it, else into a
 * scratch grain.  An unallocated grain of a delta disk reads its parent.
 *
 * Writes to flat extents and allocated grains are one pwrite in place.
 * A write to an unallocated grain takes the disk's alloc_lock, builds
 * the whole grain (old contents from the parent or zeros, then the new
 * bytes), appends it to the file, and only then points the grain tables
 * (primary and redundant) at it, and the directories at a new table if
 * there was none: data, then table, then directory, so that a crash
 * leaves either the old grain or the new one.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "byteorder.h"
#include "vmdk.h"

#define MARKER_SIZE 12 /* a compressed grain: lba (8), size (4), data */

int
vmdk_read_at(int fd, void *buf, uint64_t count, uint64_t offset,
             const char *what)
{
    ssize_t r;

    while (count > 0) {
        r = pread(fd, buf, count, offset);
        if (r == -1) {
            nbdkit_error("%s: read: %m", what);
            return -1;
        }
        if (r == 0) {
            nbdkit_error("%s: the file ends before offset %" PRIu64, what,
                         offset + count);
            return errno = EIO, -1;
        }
        buf = (char *)buf + r;
        count -= r;
        offset += r;
    }
    return 0;
}

static int
write_at(int fd, const void *buf, uint64_t count, uint64_t offset,
         const char *what)
{
    ssize_t r;

    while (count > 0) {
        r = pwrite(fd, buf, count, offset);
        if (r == -1) {
            nbdkit_error("%s: write: %m", what);
            return -1;
        }
        buf = (const char *)buf + r;
        count -= r;
        offset += r;
    }
    return 0;
}

/* The extent holding byte OFFSET of D (OFFSET < d->size). */
static struct vmdk_extent *
extent_find(struct vmdk_disk *d, uint64_t offset)
{
    size_t lo = 0, hi = d->nextents;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (d->extents[mid].start <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return &d->extents[lo];
}

/* The table entry of the grain at OFFSET in sparse extent E, and in
 * *LEN how many bytes from OFFSET the grain covers.
 */
static uint32_t
grain_find(const struct vmdk_extent *e, uint64_t offset, uint64_t *len)
{
    uint64_t rel = offset - e->start;

    *len = e->grain - rel % e->grain;
    if (*len > e->size - rel)
        *len = e->size - rel;
    return __atomic_load_n(&e->table[rel / e->grain], __ATOMIC_ACQUIRE);
}

/* Read COUNT bytes at OFFSET of D's parent, zeros past its end. */
static int
parent_read(struct vmdk_disk *d, void *buf, uint64_t count, uint64_t offset)
{
    uint64_t n = 0;

    if (d->parent == NULL || offset >= d->parent->size)
        return memset(buf, 0, count), 0;
    n = d->parent->size - offset;
    if (n > count)
        n = count;
    memset((char *)buf + n, 0, count - n);
    return vmdk_disk_read(d->parent, buf, n, offset);
}

/* The grain this thread inflated last, and the inflate stream it is in
 * the middle of.  Reads smaller than a grain come in runs within one
 * grain (a filesystem's blocks, a client's small requests): each takes
 * its bytes from here, inflating only as far as it needs.  Keyed by the
 * extent's id, never reused, so a grain of a closed disk never matches.
 * Owned by the thread (a pthread key frees it at exit).
 */
struct inflater {
    z_stream z;
    bool z_ready;       /* inflateInit done */
    uint64_t id;        /* extent id of the grain; 0: none */
    uint32_t sector;    /* the grain's marker sector */
    unsigned char *in;  /* its compressed bytes */
    unsigned char *out; /* e->grain bytes: have of them inflated */
    size_t in_cap, out_cap;
    uint64_t have;
};

static pthread_key_t inflater_key;
static pthread_once_t inflater_once = PTHREAD_ONCE_INIT;

static void
inflater_free(void *p)
{
    struct inflater *f = p;

    if (f->z_ready)
        inflateEnd(&f->z);
    free(f->in);
    free(f->out);
    free(f);
}

static void
inflater_key_make(void)
{
    pthread_key_create(&inflater_key, inflater_free);
}

static struct inflater *
inflater_get(void)
{
    struct inflater *f;

    pthread_once(&inflater_once, inflater_key_make);
    f = pthread_getspecific(inflater_key);
    if (f == NULL && (f = calloc(1, sizeof *f)) != NULL &&
        pthread_setspecific(inflater_key, f) != 0) {
        free(f);
        f = NULL;
    }
    if (f == NULL)
        nbdkit_error("calloc: %m");
    return f;
}

/* Grow *BUF to at least N bytes. */
static int
buffer_reserve(unsigned char **buf, size_t *cap, size_t n)
{
    unsigned char *b;

    if (*cap >= n)
        return 0;
    b = realloc(*buf, n);
    if (b == NULL) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    *buf = b, *cap = n;
    return 0;
}

/* Read the compressed grain at SECTOR of E into F and start inflating. */
static int
inflater_start(struct inflater *f, const struct vmdk_extent *e, uint32_t sector)
{
    unsigned char m[MARKER_SIZE];
    uint64_t at = sector * (uint64_t)VMDK_SECTOR;
    uint32_t size;

    f->id = 0;
    if (vmdk_read_at(e->fd, m, sizeof m, at, e->path) == -1)
        return -1;
    size = byteorder_read_le32(m + 8);
    if (size == 0 || size > 2 * e->grain + 4096) {
        nbdkit_error("%s: bad compressed grain at sector %" PRIu32, e->path,
                     sector);
        return errno = EIO, -1;
    }
    if (buffer_reserve(&f->in, &f->in_cap, size) == -1 ||
        buffer_reserve(&f->out, &f->out_cap, e->grain) == -1 ||
        vmdk_read_at(e->fd, f->in, size, at + MARKER_SIZE, e->path) == -1)
        return -1;
    if (!f->z_ready) {
        memset(&f->z, 0, sizeof f->z);
        if (inflateInit(&f->z) != Z_OK) {
            nbdkit_error("inflateInit: out of memory");
            return errno = ENOMEM, -1;
        }
        f->z_ready = true;
    } else if (inflateReset(&f->z) != Z_OK)
        return errno = EIO, -1;
    f->z.next_in = f->in;
    f->z.avail_in = size;
    f->have = 0;
    f->id = e->id, f->sector = sector;
    return 0;
}

static int
inflate_failed(struct inflater *f, const struct vmdk_extent *e, uint32_t sector)
{
    f->id = 0;
    nbdkit_error("%s: the compressed grain at sector %" PRIu32
                 " does not inflate",
                 e->path, sector);
    return errno = EIO, -1;
}

/* The compressed grain at SECTOR of E, inflated for at least its first
 * WANT bytes (what the stream does not fill reads as zeros); NULL on
 * error.  The memory is the thread's until its next call.
 */
static const unsigned char *
grain_inflated(const struct vmdk_extent *e, uint32_t sector, uint64_t want)
{
    struct inflater *f = inflater_get();
    int r;

    if (f == NULL)
        return NULL;
    if ((f->id != e->id || f->sector != sector) &&
        inflater_start(f, e, sector) == -1)
        return NULL;
    while (f->have < want) {
        f->z.next_out = f->out + f->have;
        f->z.avail_out = want - f->have;
        r = inflate(&f->z, Z_NO_FLUSH);
        f->have = want - f->z.avail_out;
        if (r == Z_STREAM_END) {
            memset(f->out + f->have, 0, e->grain - f->have);
            f->have = e->grain;
        } else if (r != Z_OK) {
            inflate_failed(f, e, sector);
            return NULL;
        }
    }
    return f->out;
}

/* Inflate the whole compressed grain at SECTOR of E straight into GRAIN
 * (e->grain bytes); what the stream does not fill reads as zeros.
 */
static int
grain_inflate(const struct vmdk_extent *e, uint32_t sector, void *grain)
{
    struct inflater *f = inflater_get();

    if (f == NULL || inflater_start(f, e, sector) == -1)
        return -1;
    f->id = 0; /* f->out does not hold it */
    f->z.next_out = grain;
    f->z.avail_out = e->grain;
    if (inflate(&f->z, Z_FINISH) != Z_STREAM_END)
        return inflate_failed(f, e, sector);
    memset((char *)grain + (e->grain - f->z.avail_out), 0, f->z.avail_out);
    return 0;
}

/* Read LEN bytes at byte FROM of the compressed grain at SECTOR. */
static int
compressed_read(const struct vmdk_extent *e, uint32_t sector, void *buf,
                uint64_t len, uint64_t from)
{
    const unsigned char *grain;

    if (len == e->grain)
        return grain_inflate(e, sector, buf);
    grain = grain_inflated(e, sector, from + len);
    if (grain == NULL)
        return -1;
    memcpy(buf, grain + from, len);
    return 0;
}

/* Read up to COUNT bytes at OFFSET within one extent, or one grain of a
 * sparse extent; returns how many, or -1.
 */
static int64_t
read_some(struct vmdk_disk *d, void *buf, uint64_t count, uint64_t offset)
{
    struct vmdk_extent *e = extent_find(d, offset);
    uint64_t len = e->start + e->size - offset, rel = offset - e->start;
    uint32_t sector = 0;

    if (e->type == VMDK_SPARSE)
        sector = grain_find(e, offset, &len);
    if (len > count)
        len = count;
    if (e->noaccess) {
        nbdkit_error("%s: reading a NOACCESS extent", d->path);
        return errno = EIO, -1;
    }
    if (e->type == VMDK_ZERO || (e->type == VMDK_SPARSE && sector == 1))
        memset(buf, 0, len);
    else if (e->type == VMDK_FLAT) {
        if (vmdk_read_at(e->fd, buf, len, e->offset + rel, e->path) == -1)
            return -1;
    } else if (sector == 0) {
        if (parent_read(d, buf, len, offset) == -1)
            return -1;
    } else if (e->compressed) {
        if (compressed_read(e, sector, buf, len, rel % e->grain) == -1)
            return -1;
    } else if (vmdk_read_at(e->fd, buf, len,
                            sector * (uint64_t)VMDK_SECTOR + rel % e->grain,
                            e->path) == -1)
        return -1;
    return len;
}

int
vmdk_disk_read(struct vmdk_disk *d, void *buf, uint64_t count, uint64_t offset)
{
    int64_t n;

    while (count > 0) {
        n = read_some(d, buf, count, offset);
        if (n == -1)
            return -1;
        buf = (char *)buf + n;
        count -= n;
        offset += n;
    }
    return 0;
}

int
vmdk_disk_fd_range(struct vmdk_disk *d, uint64_t count, uint64_t offset,
                   int *fd, uint64_t *fd_offset)
{
    struct vmdk_extent *e = extent_find(d, offset);
    uint64_t rel = offset - e->start, len, done;
    uint32_t sector, next;

    if (e->noaccess || e->type == VMDK_ZERO || e->compressed ||
        count > e->start + e->size - offset)
        return errno = ENOTSUP, -1;
    *fd = e->fd;
    if (e->type == VMDK_FLAT) {
        *fd_offset = e->offset + rel;
        return 0;
    }
    /* Allocated grains one after the other in the file (as qemu-img and
     * VMware write them); a grain, once allocated, never moves.
     */
    sector = grain_find(e, offset, &len);
    *fd_offset = sector * (uint64_t)VMDK_SECTOR + rel % e->grain;
    for (done = len; sector > 1 && done < count; done += len) {
        next = grain_find(e, offset + done, &len);
        if (next != sector + e->grain / VMDK_SECTOR)
            return errno = ENOTSUP, -1;
        sector = next;
    }
    return sector > 1 ? 0 : (errno = ENOTSUP, -1);
}

/* Append N sectors to E's file; their first sector in *AT.  Called with
 * alloc_lock held.
 */
static int
sectors_alloc(struct vmdk_extent *e, uint64_t n, uint32_t *at)
{
    if (e->file_end + n > UINT32_MAX) {
        nbdkit_error("%s: the sparse extent is full (2 TiB)", e->path);
        return errno = ENOSPC, -1;
    }
    *at = e->file_end;
    e->file_end += n;
    return 0;
}

/* Write entry G (grain at sector SECTOR) into one grain table, at sector
 * GT, and if that table is NEW, the whole table and then its entry in
 * the directory at sector DIR.
 */
static int
table_store(struct vmdk_extent *e, uint64_t g, uint32_t sector, uint32_t gt,
            bool new, uint64_t dir)
{
    uint64_t first = g - g % e->gtes_per_gt, i;
    unsigned char le[4];
    uint32_t *copy;
    int r;

    if (!new) {
        byteorder_write_le32(le, sector);
        return write_at(e->fd, le, 4,
                        gt * (uint64_t)VMDK_SECTOR + (g - first) * 4, e->path);
    }
    copy = malloc(e->gtes_per_gt * 4);
    if (copy == NULL) {
        nbdkit_error("malloc: %m");
        return -1;
    }
    for (i = 0; i < e->gtes_per_gt; i++)
        byteorder_write_le32(&copy[i], e->table[first + i]);
    byteorder_write_le32(&copy[g - first], sector);
    r = write_at(e->fd, copy, e->gtes_per_gt * 4, gt * (uint64_t)VMDK_SECTOR,
                 e->path);
    free(copy);
    if (r == -1)
        return -1;
    byteorder_write_le32(le, gt);
    return write_at(e->fd, le, 4, dir * VMDK_SECTOR + g / e->gtes_per_gt * 4,
                    e->path);
}

/* Allocate grain G of E and write GRAIN (its whole new contents) there,
 * then the tables.  Called with alloc_lock held.
 */
static int
grain_append(struct vmdk_extent *e, uint64_t g, const void *grain)
{
    uint64_t t = g / e->gtes_per_gt, gt_sectors;
    bool new_gt = e->gd[t] == 0, new_rgt = e->rgd && e->rgd[t] == 0;
    uint32_t sector, gt = e->gd[t], rgt = e->rgd ? e->rgd[t] : 0;

    gt_sectors = (e->gtes_per_gt * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
    if ((new_gt && sectors_alloc(e, gt_sectors, &gt) == -1) ||
        (new_rgt && sectors_alloc(e, gt_sectors, &rgt) == -1) ||
        sectors_alloc(e, e->grain / VMDK_SECTOR, &sector) == -1)
        return -1;
    if (write_at(e->fd, grain, e->grain, sector * (uint64_t)VMDK_SECTOR,
                 e->path) == -1)
        return -1;
    if ((e->rgd && table_store(e, g, sector, rgt, new_rgt, e->rgd_at) == -1) ||
        table_store(e, g, sector, gt, new_gt, e->gd_at) == -1)
        return -1;
    e->gd[t] = gt;
    if (e->rgd)
        e->rgd[t] = rgt;
    /* Published: readers without the lock now see the new grain. */
    __atomic_store_n(&e->table[g], sector, __ATOMIC_RELEASE);
    return 0;
}

/* Write LEN bytes at OFFSET (within one grain of sparse extent E) into a
 * grain not yet allocated.
 */
static int
grain_write_new(struct vmdk_disk *d, struct vmdk_extent *e, const void *buf,
                uint64_t len, uint64_t offset)
{
    uint64_t rel = offset - e->start, g = rel / e->grain;
    uint64_t gstart = offset - rel % e->grain, glen = e->grain;
    uint32_t old = e->table[g];
    char *grain;
    int r;

    grain = calloc(1, e->grain);
    if (grain == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    if (glen > e->start + e->size - gstart)
        glen = e->start + e->size - gstart;
    r = 0;
    if (old == 0 && len < glen)
        r = parent_read(d, grain, glen, gstart);
    if (r == 0) {
        memcpy(grain + rel % e->grain, buf, len);
        r = grain_append(e, g, grain);
    }
    free(grain);
    return r;
}

/* Write up to COUNT bytes at OFFSET within one extent, or one grain of a
 * sparse extent; returns how many, or -1.
 */
static int64_t
write_some(struct vmdk_disk *d, const void *buf, uint64_t count,
           uint64_t offset)
{
    struct vmdk_extent *e = extent_find(d, offset);
    uint64_t len = e->start + e->size - offset, rel = offset - e->start;
    uint32_t sector = 0;
    int r;

    if (e->type == VMDK_SPARSE)
        sector = grain_find(e, offset, &len);
    if (len > count)
        len = count;
    if (e->type == VMDK_ZERO || !e->writable) {
        nbdkit_error("%s: writing a read-only (%s) extent", d->path,
                     e->type == VMDK_ZERO ? "ZERO"
                     : e->compressed      ? "streamOptimized"
                                          : "RDONLY");
        return errno = EROFS, -1;
    }
    if (e->type == VMDK_FLAT)
        r = write_at(e->fd, buf, len, e->offset + rel, e->path);
    else {
        if (sector <= 1) {
            /* Check again under the lock: another thread may have just
             * allocated this grain.  Writers store entries under it.
             */
            pthread_mutex_lock(&d->alloc_lock);
            sector = e->table[rel / e->grain];
            r = sector > 1 ? 0 : grain_write_new(d, e, buf, len, offset);
            pthread_mutex_unlock(&d->alloc_lock);
            if (r == -1 || sector <= 1) /* failed, or in the new grain */
                return r == -1 ? -1 : (int64_t)len;
        }
        r = write_at(e->fd, buf, len,
                     sector * (uint64_t)VMDK_SECTOR + rel % e->grain, e->path);
    }
    return r == -1 ? -1 : (int64_t)len;
}

int
vmdk_disk_write(struct vmdk_disk *d, const void *buf, uint64_t count,
                uint64_t offset)
{
    int64_t n;

    while (count > 0) {
        n = write_some(d, buf, count, offset);
        if (n == -1)
            return -1;
        buf = (const char *)buf + n;
        count -= n;
        offset += n;
    }
    return 0;
}

int
vmdk_disk_flush(struct vmdk_disk *d)
{
    size_t i;

    for (i = 0; i < d->nextents; i++)
        if (d->extents[i].writable && fdatasync(d->extents[i].fd) == -1) {
            nbdkit_error("%s: fdatasync: %m", d->extents[i].path);
            return -1;
        }
    return 0;
}

/* Map COUNT bytes at OFFSET of D's parent; holes past its end. */
static int
parent_map(struct vmdk_disk *d, uint64_t count, uint64_t offset,
           struct nbdkit_extents *out)
{
    uint64_t n = 0;

    if (d->parent != NULL && offset < d->parent->size) {
        n = d->parent->size - offset;
        if (n > count)
            n = count;
        if (vmdk_disk_map(d->parent, n, offset, out) == -1)
            return -1;
    }
    if (n == count)
        return 0;
    return nbdkit_add_extent(out, offset + n, count - n,
                             NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
}

int
vmdk_disk_map(struct vmdk_disk *d, uint64_t count, uint64_t offset,
              struct nbdkit_extents *out)
{
    uint64_t end = offset + count;

    while (offset < end) {
        struct vmdk_extent *e = extent_find(d, offset);
        uint64_t len = e->start + e->size - offset;
        uint32_t sector = 2, type = 0;

        if (e->type == VMDK_SPARSE)
            sector = grain_find(e, offset, &len);
        if (len > end - offset)
            len = end - offset;
        if (e->type == VMDK_SPARSE && sector == 0) {
            if (parent_map(d, len, offset, out) == -1)
                return -1;
            offset += len;
            continue;
        }
        if (e->type == VMDK_ZERO)
            type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
        else if (sector == 1)
            type = NBDKIT_EXTENT_ZERO;
        if (nbdkit_add_extent(out, offset, len, type) == -1)
            return -1;
        offset += len;
    }
    return 0;
}
