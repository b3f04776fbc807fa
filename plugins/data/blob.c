/* SPDX-License-Identifier: BSD-3-Clause */
/* blob.c: the data plugin's blobs (see blob.h): segments over shared,
 * reference-counted buffers, copied, repeated and sliced without copying
 * their bytes where that can be avoided.  Nothing here logs: failures
 * are -1 with errno set.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"

static struct data_buf *
buf_new(size_t cap)
{
    struct data_buf *b = calloc(1, sizeof *b);

    if (b == NULL)
        return NULL;
    b->data = malloc(cap ? cap : 1);
    if (b->data == NULL) {
        free(b);
        return NULL;
    }
    b->ref = 1;
    b->cap = cap;
    return b;
}

static void
buf_unref(struct data_buf *b)
{
    if (b != NULL && --b->ref == 0) {
        free(b->data);
        free(b);
    }
}

void
data_blob_clear(struct data_blob *b)
{
    for (size_t k = 0; k < b->nsegs; k++)
        buf_unref(b->segs[k].buf);
    free(b->segs);
    memset(b, 0, sizeof *b);
}

/* Appends a copy of s (taking a new reference to its buffer); -1 on ENOMEM. */
int
blob_push(struct data_blob *b, struct data_seg s)
{
    if (b->nsegs == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        struct data_seg *n = realloc(b->segs, cap * sizeof *n);

        if (n == NULL)
            return -1;
        b->segs = n;
        b->cap = cap;
    }
    if (s.buf)
        s.buf->ref++;
    b->segs[b->nsegs++] = s;
    return 0;
}

/* A blob of the len bytes at data (copied). */
int
blob_bytes(struct data_blob *b, const void *data, size_t len)
{
    struct data_buf *buf;
    int r;

    memset(b, 0, sizeof *b);
    if (len == 0)
        return 0;
    buf = buf_new(len);
    if (buf == NULL)
        return -1;
    memcpy(buf->data, data, len);
    buf->len = len;
    b->size = len;
    r = blob_push(b, (struct data_seg){0, len, buf, 0, 0});
    buf_unref(buf);
    return r;
}

/* A blob of the len bytes at mem (malloc'd or NULL), which it takes; on
 * failure mem is still the caller's.
 */
int
blob_take(struct data_blob *b, unsigned char *mem, size_t len)
{
    struct data_buf *buf;
    int r;

    memset(b, 0, sizeof *b);
    if (len == 0) {
        free(mem);
        return 0;
    }
    buf = calloc(1, sizeof *buf);
    if (buf == NULL)
        return -1;
    *buf = (struct data_buf){1, len, len, mem};
    b->size = len;
    r = blob_push(b, (struct data_seg){0, len, buf, 0, 0});
    if (r == -1)
        buf->data = NULL;
    buf_unref(buf);
    return r;
}

int
blob_dup(struct data_blob *dst, const struct data_blob *src)
{
    memset(dst, 0, sizeof *dst);
    dst->size = src->size;
    for (size_t k = 0; k < src->nsegs; k++)
        if (blob_push(dst, src->segs[k]) == -1) {
            data_blob_clear(dst);
            return -1;
        }
    return 0;
}

/* True if the first segment alone gives every byte. */
bool
blob_dense(const struct data_blob *b)
{
    return b->nsegs == 1 && b->segs[0].off == 0 && b->segs[0].len == b->size;
}

/* Writes the bytes of b into mem, which holds b->size bytes. */
static void
blob_flatten(const struct data_blob *b, unsigned char *mem)
{
    memset(mem, 0, b->size);
    for (size_t k = 0; k < b->nsegs; k++) {
        const struct data_seg *s = &b->segs[k];

        if (s->buf)
            memcpy(mem + s->off, s->buf->data + s->boff, s->len);
        else
            memset(mem + s->off, s->fill, s->len);
    }
}

/* Appends the segments of src shifted by delta to dst. */
static int
blob_append(struct data_blob *dst, const struct data_blob *src, uint64_t delta)
{
    for (size_t k = 0; k < src->nsegs; k++) {
        struct data_seg s = src->segs[k];

        s.off += delta;
        if (blob_push(dst, s) == -1)
            return -1;
    }
    return 0;
}

/* One buffer of n copies of b, n * b->size <= DATA_FLATTEN_MAX. */
static int
blob_repeat_flat(const struct data_blob *b, uint64_t n, struct data_blob *nb)
{
    size_t total = n * b->size, done = b->size;
    struct data_buf *buf = buf_new(total);
    int r;

    if (buf == NULL)
        return -1;
    blob_flatten(b, buf->data);
    for (; done < total; done *= 2)
        memcpy(buf->data + done, buf->data,
               total - done < done ? total - done : done);
    buf->len = total;
    r = blob_push(nb, (struct data_seg){0, total, buf, 0, 0});
    buf_unref(buf);
    return r;
}

/* n copies of b into the empty nb (n > 0, b->size > 0, no overflow).
 * Short blobs are copied in chunks of about DATA_FLATTEN_MAX bytes that the
 * segments then share.
 */
int
blob_repeat(const struct data_blob *b, uint64_t n, struct data_blob *nb)
{
    uint64_t size = b->size, k;
    struct data_blob chunk = {0}, rest = {0};
    int r = 0;

    nb->size = size * n;
    if (blob_dense(b) && (b->segs[0].buf == NULL || size == 1)) {
        unsigned char fill = b->segs[0].buf
                                 ? b->segs[0].buf->data[b->segs[0].boff]
                                 : b->segs[0].fill;

        return blob_push(nb, (struct data_seg){0, nb->size, NULL, 0, fill});
    }
    if (nb->size <= DATA_FLATTEN_MAX)
        return blob_repeat_flat(b, n, nb);
    if (size > DATA_FLATTEN_MAX / 2) {
        if (b->nsegs > DATA_MAX_SEGS / n) {
            errno = E2BIG;
            return -1;
        }
        for (k = 0; r == 0 && k < n; k++)
            r = blob_append(nb, b, k * size);
        return r;
    }
    k = DATA_FLATTEN_MAX / size;
    if (n / k >= DATA_MAX_SEGS) {
        errno = E2BIG;
        return -1;
    }
    if (blob_repeat_flat(b, k, &chunk) == -1 ||
        (n % k && blob_repeat_flat(b, n % k, &rest) == -1))
        r = -1;
    for (uint64_t j = 0; r == 0 && j < n / k; j++)
        r = blob_append(nb, &chunk, j * k * size);
    if (r == 0)
        r = blob_append(nb, &rest, n / k * k * size);
    data_blob_clear(&chunk);
    data_blob_clear(&rest);
    return r;
}

/* Cuts the blob to [start, end). */
int
blob_slice(struct data_blob *b, uint64_t start, uint64_t end)
{
    struct data_blob nb = {.size = end - start};

    for (size_t k = 0; k < b->nsegs; k++) {
        struct data_seg s = b->segs[k];
        uint64_t a = s.off > start ? s.off : start;
        uint64_t z = s.off + s.len < end ? s.off + s.len : end;

        if (a >= z)
            continue;
        if (s.buf)
            s.boff += a - s.off;
        s.off = a - start;
        s.len = z - a;
        if (blob_push(&nb, s) == -1) {
            data_blob_clear(&nb);
            return -1;
        }
    }
    data_blob_clear(b);
    *b = nb;
    return 0;
}
