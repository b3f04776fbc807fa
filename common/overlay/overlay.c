/* SPDX-License-Identifier: BSD-3-Clause */
/* overlay.c: see overlay.h. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay.h"

/* A file in $TMPDIR (or /var/tmp) that no name points to. */
static int
overlay_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    char *name;
    int fd, e;

    if (dir == NULL || *dir == '\0')
        dir = "/var/tmp";
    if (asprintf(&name, "%s/nbdx-overlay-XXXXXX", dir) == -1)
        return -1;
    fd = mkostemp(name, O_CLOEXEC);
    e = errno;
    if (fd >= 0)
        unlink(name);
    free(name);
    errno = e;
    return fd;
}

int
overlay_init(struct overlay *ov, uint64_t blksize, unsigned bpb)
{
    int i, e;

    if (bitmap_init(&ov->states, blksize, bpb) == -1)
        return -1;
    if (bitmap_init(&ov->used, blksize, 1) == -1)
        return -1; /* cannot fail once the first one worked */
    ov->fd = overlay_tmpfile();
    if (ov->fd == -1) {
        e = errno;
        bitmap_free(&ov->states);
        bitmap_free(&ov->used);
        errno = e;
        return -1;
    }
    ov->blksize = blksize;
    ov->size = 0;
    ov->held = ov->hand = 0;
    pthread_mutex_init(&ov->state_lock, NULL);
    pthread_mutex_init(&ov->size_lock, NULL);
    for (i = 0; i < OVERLAY_STRIPES; i++)
        pthread_mutex_init(&ov->stripes[i], NULL);
    return 0;
}

void
overlay_free(struct overlay *ov)
{
    if (ov->fd >= 0)
        close(ov->fd);
    ov->fd = -1;
    bitmap_free(&ov->states);
    bitmap_free(&ov->used);
}

uint64_t
overlay_nblocks(const struct overlay *ov)
{
    return ov->states.nblocks;
}

/* The held blocks from blk on.  Caller holds state_lock. */
static uint64_t
overlay_held_from(struct overlay *ov, uint64_t blk)
{
    uint64_t n = 0;

    for (; blk < ov->states.nblocks; blk++)
        n += bitmap_get(&ov->states, blk) != 0;
    return n;
}

int
overlay_resize(struct overlay *ov, uint64_t size)
{
    uint64_t nblocks = size / ov->blksize + (size % ov->blksize != 0), gone;
    int r = -1;

    if (nblocks > INT64_MAX / ov->blksize) {
        errno = EFBIG;
        return -1;
    }
    if (ftruncate(ov->fd, nblocks * ov->blksize) == -1)
        return -1;
    pthread_mutex_lock(&ov->state_lock);
    if (bitmap_resize(&ov->used, size) == 0) {
        gone = overlay_held_from(ov, nblocks);
        r = bitmap_resize(&ov->states, size);
        if (r == 0)
            ov->held -= gone;
    }
    pthread_mutex_unlock(&ov->state_lock);
    if (r == -1)
        return -1; /* the bitmaps keep at least the old size's blocks */
    ov->size = size;
    return 0;
}

int
overlay_grow(struct overlay *ov, uint64_t size)
{
    int r = 0;

    pthread_mutex_lock(&ov->size_lock);
    if (size > ov->size)
        r = overlay_resize(ov, size);
    pthread_mutex_unlock(&ov->size_lock);
    return r;
}

uint64_t
overlay_block_len(const struct overlay *ov, uint64_t blk)
{
    uint64_t start = blk * ov->blksize;

    return ov->size - start < ov->blksize ? ov->size - start : ov->blksize;
}

void
overlay_lock(struct overlay *ov, uint64_t blk)
{
    pthread_mutex_lock(&ov->stripes[blk % OVERLAY_STRIPES]);
}

void
overlay_unlock(struct overlay *ov, uint64_t blk)
{
    pthread_mutex_unlock(&ov->stripes[blk % OVERLAY_STRIPES]);
}

unsigned
overlay_get(struct overlay *ov, uint64_t blk)
{
    unsigned v;

    pthread_mutex_lock(&ov->state_lock);
    v = bitmap_get(&ov->states, blk);
    pthread_mutex_unlock(&ov->state_lock);
    return v;
}

void
overlay_set(struct overlay *ov, uint64_t blk, unsigned v)
{
    unsigned old;

    pthread_mutex_lock(&ov->state_lock);
    old = bitmap_get(&ov->states, blk);
    bitmap_set(&ov->states, blk, v);
    ov->held += (v != 0) - (old != 0);
    bitmap_set(&ov->used, blk, old != 0 && v != 0);
    pthread_mutex_unlock(&ov->state_lock);
}

uint64_t
overlay_count(struct overlay *ov)
{
    uint64_t n;

    pthread_mutex_lock(&ov->state_lock);
    n = ov->held;
    pthread_mutex_unlock(&ov->state_lock);
    return n;
}

void
overlay_touch(struct overlay *ov, uint64_t blk)
{
    pthread_mutex_lock(&ov->state_lock);
    if (bitmap_get(&ov->states, blk) != 0)
        bitmap_set(&ov->used, blk, 1);
    pthread_mutex_unlock(&ov->state_lock);
}

int64_t
overlay_victim(struct overlay *ov)
{
    int64_t blk, found = -1;

    pthread_mutex_lock(&ov->state_lock);
    /* Nothing changes states meanwhile: within two turns of the held
     * blocks one is unmarked.
     */
    while (ov->held > 0 && found == -1) {
        blk = bitmap_next_set(&ov->states, ov->hand);
        if (blk == -1) {
            ov->hand = 0; /* wrap round */
            continue;
        }
        ov->hand = blk + 1;
        if (bitmap_get(&ov->used, blk))
            bitmap_set(&ov->used, blk, 0);
        else
            found = blk;
    }
    pthread_mutex_unlock(&ov->state_lock);
    return found;
}

int64_t
overlay_find(struct overlay *ov, uint64_t blk, unsigned v)
{
    int64_t found = -1;

    pthread_mutex_lock(&ov->state_lock);
    for (; blk < ov->states.nblocks; blk++)
        if (bitmap_get(&ov->states, blk) == v) {
            found = blk;
            break;
        }
    pthread_mutex_unlock(&ov->state_lock);
    return found;
}

/* pread or pwrite of all n bytes at off, retrying short transfers. */
static int
overlay_io(struct overlay *ov, char *buf, uint64_t n, uint64_t off, int wr)
{
    ssize_t r;

    while (n > 0) {
        r = wr ? pwrite(ov->fd, buf, n, off) : pread(ov->fd, buf, n, off);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return -1;
        if (r == 0) { /* reading past the end: cannot happen once resized */
            memset(buf, 0, n);
            return 0;
        }
        buf += r, n -= r, off += r;
    }
    return 0;
}

int
overlay_read(struct overlay *ov, void *buf, uint64_t blk)
{
    return overlay_read_part(ov, buf, blk, 0, ov->blksize);
}

int
overlay_write(struct overlay *ov, const void *buf, uint64_t blk)
{
    return overlay_write_part(ov, buf, blk, 0, ov->blksize);
}

char *
overlay_bounce(const struct overlay *ov, char **bounce)
{
    if (*bounce == NULL)
        *bounce = malloc(ov->blksize);
    return *bounce;
}

int
overlay_read_part(struct overlay *ov, void *buf, uint64_t blk, uint64_t start,
                  uint64_t len)
{
    assert(start + len <= ov->blksize);
    return overlay_io(ov, buf, len, blk * ov->blksize + start, 0);
}

int
overlay_write_part(struct overlay *ov, const void *buf, uint64_t blk,
                   uint64_t start, uint64_t len)
{
    assert(start + len <= ov->blksize);
    return overlay_io(ov, (char *)buf, len, blk * ov->blksize + start, 1);
}

int
overlay_discard(struct overlay *ov, uint64_t blk)
{
    char *zero;
    int r;

    if (fallocate(ov->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  blk * ov->blksize, ov->blksize) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return -1;
    zero = calloc(1, ov->blksize);
    if (zero == NULL)
        return -1;
    r = overlay_write(ov, zero, blk);
    free(zero);
    return r;
}

int64_t
overlay_allocated(struct overlay *ov)
{
    struct stat st;

    if (fstat(ov->fd, &st) == -1)
        return -1;
    return (int64_t)st.st_blocks * 512;
}

int
overlay_sync(struct overlay *ov)
{
    return fdatasync(ov->fd);
}

int
overlay_switch_parse(struct overlay_switch *s, const char *value,
                     int (*parse_bool)(const char *))
{
    int r;

    if (value[0] == '/') {
        s->path = value;
        return 0;
    }
    r = parse_bool(value);
    if (r == -1)
        return -1;
    s->on = r;
    s->path = NULL;
    return 0;
}

int
overlay_switch_on(const struct overlay_switch *s)
{
    if (s->path)
        return access(s->path, F_OK) == 0;
    return s->on;
}

int
overlay_split(const struct overlay *ov, uint64_t offset, uint64_t count,
              int (*fn)(const struct overlay_piece *, void *), void *opaque)
{
    struct overlay_piece p = {.pos = 0};
    int r;

    while (count > 0) {
        p.blk = offset / ov->blksize;
        p.start = offset % ov->blksize;
        p.len = ov->blksize - p.start;
        if (p.len > count)
            p.len = count;
        p.whole = p.start == 0 && p.len == overlay_block_len(ov, p.blk);
        r = fn(&p, opaque);
        if (r != 0)
            return r;
        offset += p.len, count -= p.len, p.pos += p.len;
    }
    return 0;
}
