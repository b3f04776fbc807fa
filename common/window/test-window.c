/* SPDX-License-Identifier: BSD-3-Clause */
/* test-window.c: unit tests of window.h: placing a window inside the
 * layer below, every data and zero-copy call shifted by its offset,
 * errors passed back, and the map of the layer below shifted down.  The
 * layer below and the server's extent lists are stand-ins defined here.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "window.h"

/* ---- The server's extent list, as far as window.c uses it. */
struct nbdkit_extents {
    uint64_t start, end;
    struct nbdkit_extent e[8];
    size_t n;
};

struct nbdkit_extents *
nbdkit_extents_new(uint64_t start, uint64_t end)
{
    struct nbdkit_extents *x = calloc(1, sizeof *x);

    if (x != NULL)
        x->start = start, x->end = end;
    return x;
}

void
nbdkit_extents_free(struct nbdkit_extents *x)
{
    free(x);
}

size_t
nbdkit_extents_count(const struct nbdkit_extents *x)
{
    return x->n;
}

struct nbdkit_extent
nbdkit_get_extent(const struct nbdkit_extents *x, size_t i)
{
    return x->e[i];
}

int
nbdkit_add_extent(struct nbdkit_extents *x, uint64_t offset, uint64_t length,
                  uint32_t type)
{
    if (x->n == 8) {
        errno = ENOMEM;
        return -1;
    }
    x->e[x->n++] = (struct nbdkit_extent){offset, length, type};
    return 0;
}

/* ---- The layer below: records the last call. */
static struct {
    const char *op;
    uint32_t count, flags;
    uint64_t offset;
    const void *buf;
    int fail; /* errno to fail with, 0 to succeed */
    struct nbdkit_extents *list;
} last;

static int
below_record(const char *op, const void *buf, uint32_t count, uint64_t offset,
             uint32_t flags, int *err)
{
    last.op = op, last.buf = buf, last.count = count;
    last.offset = offset, last.flags = flags;
    if (last.fail) {
        *err = last.fail;
        return -1;
    }
    return 0;
}

static int
below_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    return below_record("pread", buf, count, offset, flags, err);
}

static int
below_pwrite(nbdkit_next *next, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    return below_record("pwrite", buf, count, offset, flags, err);
}

static int
below_trim(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
           int *err)
{
    return below_record("trim", NULL, count, offset, flags, err);
}

static int
below_zero(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
           int *err)
{
    return below_record("zero", NULL, count, offset, flags, err);
}

static int
below_cache(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
            int *err)
{
    return below_record("cache", NULL, count, offset, flags, err);
}

/* Two extents from offset: 4096 of data, then a hole. */
static int
below_extents(nbdkit_next *next, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdkit_extents *x, int *err)
{
    last.list = x;
    if (below_record("extents", NULL, count, offset, flags, err) == -1)
        return -1;
    nbdkit_add_extent(x, offset, 4096, 0);
    nbdkit_add_extent(x, offset + 4096, 1 << 20, 3);
    return 0;
}

static nbdkit_next below = {
    .pread = below_pread,
    .pwrite = below_pwrite,
    .trim = below_trim,
    .zero = below_zero,
    .cache = below_cache,
    .extents = below_extents,
};

/* ---- The server's zero-copy calls, recording in the same place. */
static int64_t
zc_read_iov(void *next, uint32_t count, uint64_t offset, uint32_t flags,
            struct nbdx_iovec *iov, size_t max, size_t *n, void **cookie,
            int *err)
{
    if (below_record("read_iov", next, count, offset, flags, err) == -1)
        return -1;
    *n = 1, *cookie = &last;
    return count;
}

static void
zc_read_iov_end(void *next, void *cookie)
{
    last.op = cookie == &last ? "read_iov_end" : "bad cookie";
}

static int
zc_read_fd(void *next, uint32_t count, uint64_t offset, uint32_t flags, int *fd,
           uint64_t *fd_offset, int *err)
{
    return below_record("read_fd", next, count, offset, flags, err);
}

static int
zc_write_iov(void *next, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdx_wiovec *iov, size_t max, size_t *n, void **cookie,
             int *err)
{
    return below_record("write_iov", next, count, offset, flags, err);
}

static int
zc_write_iov_end(void *next, void *cookie, int commit, uint32_t flags, int *err)
{
    return below_record("write_iov_end", next, commit, 0, flags, err);
}

static int
zc_write_pipe(void *next, uint32_t count, uint64_t offset, uint32_t flags,
              int pipe, int *err)
{
    return below_record("write_pipe", next, count, offset, flags, err);
}

static const struct nbdx_next_zc zc = {
    ._struct_size = sizeof zc,
    .read_iov = zc_read_iov,
    .read_iov_end = zc_read_iov_end,
    .read_fd = zc_read_fd,
    .write_iov = zc_write_iov,
    .write_iov_end = zc_write_iov_end,
    .write_pipe = zc_write_pipe,
};

#define WAS(o, c, off)                                                         \
    (strcmp(last.op, o) == 0 && last.count == (c) && last.offset == (off))

static void
test_place(void)
{
    struct window w = {.offset = 7, .length = 9};

    unit_group("window_place accepts ranges inside the layer below");
    CHECK(window_place(&w, 0, 1000, 1000) == 0);
    CHECK(w.offset == 0 && w.length == 1000);
    CHECK(window_place(&w, 1000, 0, 1000) == 0);
    CHECK(w.offset == 1000 && w.length == 0);
    CHECK(window_place(&w, 512, 488, 1000) == 0);
    CHECK(w.offset == 512 && w.length == 488);

    unit_group("and refuses the rest with ERANGE, leaving the window");
    errno = 0;
    CHECK(window_place(&w, 512, 489, 1000) == -1 && errno == ERANGE);
    CHECK(window_place(&w, 1001, 0, 1000) == -1 && errno == ERANGE);
    CHECK(window_place(&w, UINT64_MAX, 2, UINT64_MAX) == -1);
    CHECK(window_place(&w, 2, UINT64_MAX, UINT64_MAX) == -1);
    CHECK(w.offset == 512 && w.length == 488);
}

static void
test_new(void)
{
    struct window *w;
    struct big {
        struct window w;
        char more[100];
    } * b;

    unit_group("window_new: a zeroed handle using zc, freed by window_free");
    w = window_new(sizeof *w, &zc);
    CHECK(w != NULL && w->zc == &zc && w->offset == 0 && w->length == 0);
    window_free(w);
    b = (struct big *)window_new(sizeof *b, &zc);
    CHECK(b != NULL && b->w.zc == &zc && b->more[99] == 0);
    window_free(b);
    errno = 0;
    CHECK(window_new(sizeof *w - 1, &zc) == NULL && errno == EINVAL);
}

static void
test_calls(void)
{
    struct window w = {.zc = &zc};
    char buf[16];
    int err = 0;

    CHECK(window_place(&w, 1 << 20, 1 << 16, 4 << 20) == 0);
    unit_group("get_size is the window's length");
    CHECK(window_get_size(&below, &w) == 1 << 16);

    unit_group("every data call is shifted by the window's offset");
    CHECK(window_pread(&below, &w, buf, 16, 100, 0, &err) == 0);
    CHECK(WAS("pread", 16, (1 << 20) + 100) && last.buf == buf);
    CHECK(window_pwrite(&below, &w, buf, 8, 0, NBDKIT_FLAG_FUA, &err) == 0);
    CHECK(WAS("pwrite", 8, 1 << 20) && last.flags == NBDKIT_FLAG_FUA);
    CHECK(window_trim(&below, &w, 512, 512, 0, &err) == 0);
    CHECK(WAS("trim", 512, (1 << 20) + 512));
    CHECK(window_zero(&below, &w, 4096, 4096, NBDKIT_FLAG_MAY_TRIM, &err) == 0);
    CHECK(WAS("zero", 4096, (1 << 20) + 4096) &&
          last.flags == NBDKIT_FLAG_MAY_TRIM);
    CHECK(window_cache(&below, &w, 1, (1 << 16) - 1, 0, &err) == 0);
    CHECK(WAS("cache", 1, (1 << 20) + (1 << 16) - 1));

    unit_group("errors of the layer below come back");
    last.fail = EIO;
    CHECK(window_pread(&below, &w, buf, 16, 0, 0, &err) == -1 && err == EIO);
    err = 0;
    CHECK(window_zero(&below, &w, 16, 0, 0, &err) == -1 && err == EIO);
    last.fail = 0;
}

static void
test_zero_copy(void)
{
    struct window w = {.zc = &zc};
    struct nbdx_iovec iov[2];
    size_t n = 0;
    void *cookie = NULL;
    int err = 0, fd;
    uint64_t fdoff;
    int next; /* stands for the layer below's nbdkit_next */

    CHECK(window_place(&w, 4096, 8192, 1 << 20) == 0);
    unit_group("zero-copy calls are shifted and reach the same next");
    CHECK(window_read_iov(&next, &w, 10, 20, 0, iov, 2, &n, &cookie, &err) ==
          10);
    CHECK(WAS("read_iov", 10, 4116) && last.buf == &next && n == 1);
    window_read_iov_end(&next, &w, cookie);
    CHECK(strcmp(last.op, "read_iov_end") == 0);
    CHECK(window_read_fd(&next, &w, 30, 0, 0, &fd, &fdoff, &err) == 0);
    CHECK(WAS("read_fd", 30, 4096) && last.buf == &next);
    CHECK(window_write_iov(&next, &w, 40, 100, 0, NULL, 0, &n, &cookie, &err) ==
          0);
    CHECK(WAS("write_iov", 40, 4196));
    CHECK(window_write_iov_end(&next, &w, cookie, 1, 0, &err) == 0);
    CHECK(WAS("write_iov_end", 1, 0));
    CHECK(window_write_pipe(&next, &w, 50, 8142, 0, 3, &err) == 0);
    CHECK(WAS("write_pipe", 50, 8142 + 4096));
    last.fail = ENOSPC;
    CHECK(window_write_pipe(&next, &w, 50, 0, 0, 3, &err) == -1 &&
          err == ENOSPC);
    last.fail = 0;
}

static void
test_extents(void)
{
    struct window w = {.zc = &zc};
    struct nbdkit_extents *x = nbdkit_extents_new(100, 8192);
    int err = 0;

    CHECK(window_place(&w, 1 << 20, 8192, 4 << 20) == 0);
    unit_group("extents: asked from the shifted offset to the window's end");
    CHECK(window_extents(&below, &w, 4000, 100, 0, x, &err) == 0);
    CHECK(WAS("extents", 4000, (1 << 20) + 100));
    CHECK(last.list != x);
    unit_group("and handed up shifted down");
    CHECK(x->n == 2);
    CHECK(x->e[0].offset == 100 && x->e[0].length == 4096 && x->e[0].type == 0);
    CHECK(x->e[1].offset == 4196 && x->e[1].length == 1 << 20 &&
          x->e[1].type == 3);

    unit_group("an error below adds nothing");
    x->n = 0;
    last.fail = EIO;
    CHECK(window_extents(&below, &w, 4000, 0, 0, x, &err) == -1 && err == EIO &&
          x->n == 0);
    last.fail = 0;

    unit_group("a full list above fails with its errno");
    x->n = 7;
    CHECK(window_extents(&below, &w, 4000, 0, 0, x, &err) == -1 &&
          err == ENOMEM);
    nbdkit_extents_free(x);
}

int
main(void)
{
    test_place();
    test_new();
    test_calls();
    test_zero_copy();
    test_extents();
    return unit_finish();
}
