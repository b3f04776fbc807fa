/* SPDX-License-Identifier: BSD-3-Clause */
/* backend.c: the layer stack and its contract.
 *
 * Every call from the protocol code, and every call a filter makes to the
 * layer below it, goes through a backend_* function here.  They check the
 * contract with asserts (the protocol code has already validated client
 * input, so a failing assert is a server bug, never a client's doing),
 * cache the per-connection can_* answers, and log the call with -v.
 */

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "minmax.h"

/* Reject debug output on the data path unless asked: -D
 * nbdkit.backend.datapath=1 turns it on (as in nbdkit, default on).
 */
NBDKIT_DLL_PUBLIC int nbdkit_debug_backend_datapath = 1;
NBDKIT_DLL_PUBLIC int nbdkit_debug_backend_controlpath = 1;

#define datapath_debug(fs, ...)                                                \
    do {                                                                       \
        if (opts->verbose && nbdkit_debug_backend_datapath)                    \
            nbdkit_debug((fs), ##__VA_ARGS__);                                 \
    } while (0)
#define controlpath_debug(fs, ...)                                             \
    do {                                                                       \
        if (opts->verbose && nbdkit_debug_backend_controlpath)                 \
            nbdkit_debug((fs), ##__VA_ARGS__);                                 \
    } while (0)

static const struct nbdkit_next_ops next_ops_template;

/* Layer names: non-empty, ASCII alphanumeric first, then alphanumeric
 * or '-'.  The same rule for plugins and filters.
 */
bool
backend_name_valid(const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0' || name[0] == '-')
        return false;
    for (i = 0; name[i]; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return true;
}

/* dlopen a plugin or filter (kind) and find its init function, the
 * symbol init_symbol.  Exits with a clear message on failure.
 */
void *
backend_dlopen(const char *filename, const char *name, const char *kind,
               const char *init_symbol, void **init)
{
    void *dl = dlopen(filename, RTLD_NOW | RTLD_GLOBAL);

    if (dl == NULL)
        fatal("cannot open %s \"%s\": %s\nUse 'nbdx --help' or read the "
              "nbdx(1) man page for more information.",
              kind, name ? name : filename, dlerror());
    dlerror();
    *init = dlsym(dl, init_symbol);
    if (*init == NULL)
        fatal("%s: not a %s (no %s symbol)", filename, kind, init_symbol);
    return dl;
}

/* --help PLUGIN: who the layer is and what it takes. */
void
backend_print_usage(struct backend *b, const char *longname,
                    const char *description, const char *config_help)
{
    printf("%s: %s", b->type, b->name);
    if (longname)
        printf(" (%s)", longname);
    printf("\n(%s)\n", b->filename);
    if (description)
        printf("%s\n", description);
    if (config_help)
        printf("%s\n", config_help);
}

void
backend_init(struct backend *b, struct backend *next, size_t index,
             const char *filename, void *dl, const char *type)
{
    b->next = next;
    b->i = index;
    b->type = type;
    b->dl = dl;
    b->filename = strdup(filename);
    if (b->filename == NULL)
        fatal("strdup: %m");
}

/* Unload the stack from b down to the plugin.  Connections must be gone
 * first: plugins may not be called after .unload.
 */
void
backend_unload(struct backend *b)
{
    connections_wait_all();
    while (b) {
        struct backend *next = b->next;
        controlpath_debug("%s: unload %s", b->name, b->type);
        b->free(b);
        b = next;
    }
}

/* ---- opening and closing contexts ---- */

struct context *
backend_open(struct backend *b, int readonly, const char *exportname,
             int is_tls, struct connection *conn)
{
    struct context *c = calloc(1, sizeof *c);

    if (c == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    c->next_ops = next_ops_template;
    c->magic = CONTEXT_MAGIC;
    c->b = b;
    c->conn = conn;
    c->readonly = readonly;
    c->is_tls = is_tls;
    c->exportsize = -1;
    c->can_write = c->can_flush = c->is_rotational = c->can_trim = -1;
    c->can_zero = c->can_fast_zero = c->can_fua = c->can_multi_conn = -1;
    c->can_extents = c->can_cache = c->zc = -1;

    controlpath_debug("%s: open readonly=%d exportname=\"%s\" tls=%d", b->name,
                      readonly, exportname, is_tls);
    c->handle = b->open(c, readonly, exportname, is_tls);
    if (c->handle == NULL) {
        backend_close(c->c_next);
        free(c);
        return NULL;
    }
    c->state = HANDLE_OPEN;
    return c;
}

/* Prepare from the plugin up, so each layer sees a ready layer below. */
int
backend_prepare(struct context *c)
{
    assert(c->magic == CONTEXT_MAGIC);
    if (c->state & HANDLE_CONNECTED)
        return 0;
    assert(c->state & HANDLE_OPEN);
    if (c->c_next && backend_prepare(c->c_next) == -1)
        return -1;
    controlpath_debug("%s: prepare readonly=%d", c->b->name, c->readonly);
    if (c->b->prepare(c, c->readonly) == -1) {
        c->state |= HANDLE_FAILED;
        return -1;
    }
    c->state |= HANDLE_CONNECTED;
    return 0;
}

/* Finalize from the top down, the reverse of prepare. */
int
backend_finalize(struct context *c)
{
    assert(c->magic == CONTEXT_MAGIC);
    if (c->state & HANDLE_FAILED)
        return -1;
    if (c->state & HANDLE_CONNECTED) {
        controlpath_debug("%s: finalize", c->b->name);
        if (c->b->finalize(c) == -1) {
            c->state |= HANDLE_FAILED;
            return -1;
        }
    }
    if (c->c_next)
        return backend_finalize(c->c_next);
    return 0;
}

void
backend_close(struct context *c)
{
    if (c == NULL)
        return;
    assert(c->magic == CONTEXT_MAGIC);
    controlpath_debug("%s: close", c->b->name);
    if (c->state & HANDLE_OPEN)
        c->b->close(c);
    backend_close(c->c_next);
    c->magic = 0;
    free(c);
}

int
backend_list_exports(struct backend *b, int readonly, int is_tls,
                     struct nbdkit_exports *exports)
{
    controlpath_debug("%s: list_exports readonly=%d tls=%d", b->name, readonly,
                      is_tls);
    return b->list_exports(b, readonly, is_tls, exports);
}

const char *
backend_default_export(struct backend *b, int readonly, int is_tls)
{
    const char *s;

    controlpath_debug("%s: default_export readonly=%d tls=%d", b->name,
                      readonly, is_tls);
    s = b->default_export(b, readonly, is_tls);
    /* Export names are at most 4096 bytes (NBD string limit). */
    if (s && strlen(s) > 4096) {
        nbdkit_error("%s: default export name is too long", b->name);
        return NULL;
    }
    return s;
}

/* ---- negotiation: sizes and capabilities, cached per context ---- */

#define ASSERT_READY(c)                                                        \
    do {                                                                       \
        assert((c)->magic == CONTEXT_MAGIC);                                   \
        assert((c)->state &HANDLE_CONNECTED);                                  \
    } while (0)

/* A question first asked during transmission can be asked by two worker
 * threads at once: both ask the layer, which gives the same answer, and
 * both store it.  Atomic accesses make that benign.  -1 = not asked yet.
 */
static int
cache_load(const int *field)
{
    return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}

static int
cache_store(int *field, int value)
{
    __atomic_store_n(field, value, __ATOMIC_RELEASE);
    return value;
}

static int64_t
cache_exportsize(struct context *c)
{
    return __atomic_load_n(&c->exportsize, __ATOMIC_ACQUIRE);
}

int64_t
backend_get_size(struct context *c)
{
    ASSERT_READY(c);
    int64_t size = cache_exportsize(c);

    if (size == -1) {
        controlpath_debug("%s: get_size", c->b->name);
        size = c->b->get_size(c);
        __atomic_store_n(&c->exportsize, size, __ATOMIC_RELEASE);
    }
    return size;
}

const char *
backend_export_description(struct context *c)
{
    const char *s;

    ASSERT_READY(c);
    controlpath_debug("%s: export_description", c->b->name);
    s = c->b->export_description(c);
    if (s && strlen(s) > 4096) {
        nbdkit_error("%s: export description is too long", c->b->name);
        return NULL;
    }
    return s;
}

/* Either all three are 0 (no constraints) or min is a power of 2 up to
 * 64K, pref a power of 2 at least min, and max at least pref.
 */
static bool
block_size_valid(uint32_t min, uint32_t pref, uint32_t max)
{
    if (min == 0 && pref == 0 && max == 0)
        return true;
    return IS_POWER_OF_2(min) && min <= 65536 && IS_POWER_OF_2(pref) &&
           pref >= 512 && min <= pref && pref <= max;
}

int
backend_block_size(struct context *c, uint32_t *minimum, uint32_t *preferred,
                   uint32_t *maximum)
{
    ASSERT_READY(c);
    if (!__atomic_load_n(&c->block_size_known, __ATOMIC_ACQUIRE)) {
        uint32_t min = 0, pref = 0, max = 0;

        controlpath_debug("%s: block_size", c->b->name);
        if (c->b->block_size(c, &min, &pref, &max) == -1)
            return -1;
        if (!block_size_valid(min, pref, max)) {
            nbdkit_error("%s: invalid block size: minimum %" PRIu32
                         " preferred %" PRIu32 " maximum %" PRIu32,
                         c->b->name, min, pref, max);
            return -1;
        }
        __atomic_store_n(&c->minimum, min, __ATOMIC_RELAXED);
        __atomic_store_n(&c->preferred, pref, __ATOMIC_RELAXED);
        __atomic_store_n(&c->maximum, max, __ATOMIC_RELAXED);
        __atomic_store_n(&c->block_size_known, true, __ATOMIC_RELEASE);
    }
    *minimum = __atomic_load_n(&c->minimum, __ATOMIC_RELAXED);
    *preferred = __atomic_load_n(&c->preferred, __ATOMIC_RELAXED);
    *maximum = __atomic_load_n(&c->maximum, __ATOMIC_RELAXED);
    return 0;
}

/* Ask once, remember the answer (also an error, as -1 is retried). */
#define CACHED_CAN(field)                                                      \
    int backend_##field(struct context *c)                                     \
    {                                                                          \
        int r;                                                                 \
        ASSERT_READY(c);                                                       \
        r = cache_load(&c->field);                                             \
        if (r == -1) {                                                         \
            controlpath_debug("%s: " #field, c->b->name);                      \
            r = cache_store(&c->field, c->b->field(c));                        \
        }                                                                      \
        return r;                                                              \
    }

int
backend_can_write(struct context *c)
{
    int r;

    ASSERT_READY(c);
    r = cache_load(&c->can_write);
    if (r == -1) {
        if (c->readonly)
            r = cache_store(&c->can_write, 0);
        else {
            controlpath_debug("%s: can_write", c->b->name);
            r = cache_store(&c->can_write, c->b->can_write(c));
        }
    }
    return r;
}

CACHED_CAN(can_flush)
CACHED_CAN(is_rotational)
CACHED_CAN(can_extents)
CACHED_CAN(can_multi_conn)
CACHED_CAN(can_cache)

/* Trim, zero and FUA only make sense on a writable export. */
#define CACHED_CAN_IF_WRITABLE(field)                                          \
    int backend_##field(struct context *c)                                     \
    {                                                                          \
        int r;                                                                 \
        ASSERT_READY(c);                                                       \
        r = cache_load(&c->field);                                             \
        if (r == -1) {                                                         \
            int w = backend_can_write(c);                                      \
            if (w <= 0)                                                        \
                return w;                                                      \
            controlpath_debug("%s: " #field, c->b->name);                      \
            r = cache_store(&c->field, c->b->field(c));                        \
        }                                                                      \
        return r;                                                              \
    }

CACHED_CAN_IF_WRITABLE(can_trim)
CACHED_CAN_IF_WRITABLE(can_zero)
CACHED_CAN_IF_WRITABLE(can_fua)

int
backend_can_fast_zero(struct context *c)
{
    int r;

    ASSERT_READY(c);
    r = cache_load(&c->can_fast_zero);
    if (r == -1) {
        int z = backend_can_zero(c);
        if (z <= NBDKIT_ZERO_NONE)
            return z;
        controlpath_debug("%s: can_fast_zero", c->b->name);
        r = cache_store(&c->can_fast_zero, c->b->can_fast_zero(c));
    }
    return r;
}

/* ---- data path ---- */

/* The range lies inside the export.  The protocol code checked it. */
static bool
range_ok(struct context *c, uint32_t count, uint64_t offset)
{
    int64_t size = cache_exportsize(c);

    return size >= 0 && offset <= (uint64_t)size &&
           count <= (uint64_t)size - offset;
}

/* A failing call must say why; default to EIO if a layer forgot. */
static int
check_error(int r, int *err)
{
    if (r == -1 && *err == 0)
        *err = EIO;
    return r;
}

int
backend_pread(struct context *c, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags, int *err)
{
    ASSERT_READY(c);
    assert(range_ok(c, count, offset));
    assert(flags == 0);
    datapath_debug("%s: pread count=%" PRIu32 " offset=%" PRIu64, c->b->name,
                   count, offset);
    *err = 0;
    if (count == 0)
        return 0;
    return check_error(c->b->pread(c, buf, count, offset, flags, err), err);
}

/* ---- zero-copy calls (nbdx-extensions.h) ----
 *
 * The protocol asks backend_zc which of them the stack can do; each
 * layer answers for itself and what is below it, so the calls below are
 * only made where every layer down to the plugin takes part.
 */

int
backend_zc(struct context *c)
{
    int r;

    ASSERT_READY(c);
    r = cache_load(&c->zc);
    if (r == -1)
        r = cache_store(&c->zc, c->b->zc(c));
    return r;
}

int64_t
backend_read_iov(struct context *c, uint32_t count, uint64_t offset,
                 struct nbdx_iovec *iov, size_t max, size_t *n, void **cookie,
                 int *err)
{
    int64_t r;

    ASSERT_READY(c);
    assert(backend_zc(c) & ZC_READ_IOV);
    assert(range_ok(c, count, offset) && count > 0 && max > 0);
    datapath_debug("%s: pread count=%" PRIu32 " offset=%" PRIu64 " (iov)",
                   c->b->name, count, offset);
    *err = 0;
    r = c->b->read_iov(c, count, offset, iov, max, n, cookie, err);
    if (r == -1)
        return check_error(-1, err);
    assert(r > 0 && r <= count && *n >= 1 && *n <= max);
    return r;
}

void
backend_read_iov_end(struct context *c, void *cookie)
{
    c->b->read_iov_end(c, cookie);
}

int
backend_read_fd(struct context *c, uint32_t count, uint64_t offset, int *fd,
                uint64_t *fd_offset, int *err)
{
    ASSERT_READY(c);
    assert(backend_zc(c) & ZC_READ_FD);
    assert(range_ok(c, count, offset) && count > 0);
    datapath_debug("%s: pread count=%" PRIu32 " offset=%" PRIu64 " (fd)",
                   c->b->name, count, offset);
    *err = 0;
    return check_error(c->b->read_fd(c, count, offset, fd, fd_offset, err),
                       err);
}

/* Bytes the pieces cover: a staged write covers all of its range. */
static uint64_t
iov_total(const struct nbdx_wiovec *iov, size_t n)
{
    uint64_t t = 0;

    while (n > 0)
        t += iov[--n].len;
    return t;
}

int
backend_write_iov(struct context *c, uint32_t count, uint64_t offset,
                  struct nbdx_wiovec *iov, size_t max, size_t *n, void **cookie,
                  int *err)
{
    int r;

    ASSERT_READY(c);
    assert(backend_zc(c) & ZC_WRITE_IOV);
    assert(cache_load(&c->can_write) == 1);
    assert(range_ok(c, count, offset) && count > 0 && max > 0);
    datapath_debug("%s: pwrite count=%" PRIu32 " offset=%" PRIu64 " (iov)",
                   c->b->name, count, offset);
    *err = 0;
    r = c->b->write_iov(c, count, offset, iov, max, n, cookie, err);
    if (r == -1)
        return check_error(-1, err);
    assert(*n >= 1 && *n <= max);
    assert(iov_total(iov, *n) == count);
    return 0;
}

int
backend_write_iov_end(struct context *c, void *cookie, bool commit, int *err)
{
    datapath_debug("%s: pwrite %s (iov)", c->b->name,
                   commit ? "commit" : "abort");
    *err = 0;
    return check_error(c->b->write_iov_end(c, cookie, commit, err), err);
}

int
backend_write_pipe(struct context *c, uint32_t count, uint64_t offset, int pipe,
                   int *err)
{
    ASSERT_READY(c);
    assert(backend_zc(c) & ZC_WRITE_PIPE);
    assert(cache_load(&c->can_write) == 1);
    assert(range_ok(c, count, offset) && count > 0);
    datapath_debug("%s: pwrite count=%" PRIu32 " offset=%" PRIu64 " (pipe)",
                   c->b->name, count, offset);
    *err = 0;
    return check_error(c->b->write_pipe(c, count, offset, pipe, err), err);
}

int
backend_pwrite(struct context *c, const void *buf, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
    ASSERT_READY(c);
    assert(cache_load(&c->can_write) == 1);
    assert(range_ok(c, count, offset));
    assert(!(flags & ~NBDKIT_FLAG_FUA));
    assert(!(flags & NBDKIT_FLAG_FUA) ||
           cache_load(&c->can_fua) > NBDKIT_FUA_NONE);
    datapath_debug("%s: pwrite count=%" PRIu32 " offset=%" PRIu64 " fua=%d",
                   c->b->name, count, offset, !!(flags & NBDKIT_FLAG_FUA));
    *err = 0;
    if (count == 0)
        return 0;
    return check_error(c->b->pwrite(c, buf, count, offset, flags, err), err);
}

int
backend_flush(struct context *c, uint32_t flags, int *err)
{
    ASSERT_READY(c);
    assert(cache_load(&c->can_flush) == 1);
    assert(flags == 0);
    datapath_debug("%s: flush", c->b->name);
    *err = 0;
    return check_error(c->b->flush(c, flags, err), err);
}

int
backend_trim(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
             int *err)
{
    ASSERT_READY(c);
    assert(cache_load(&c->can_write) == 1 && cache_load(&c->can_trim) == 1);
    assert(range_ok(c, count, offset));
    assert(!(flags & ~NBDKIT_FLAG_FUA));
    assert(!(flags & NBDKIT_FLAG_FUA) ||
           cache_load(&c->can_fua) > NBDKIT_FUA_NONE);
    datapath_debug("%s: trim count=%" PRIu32 " offset=%" PRIu64 " fua=%d",
                   c->b->name, count, offset, !!(flags & NBDKIT_FLAG_FUA));
    *err = 0;
    if (count == 0)
        return 0;
    return check_error(c->b->trim(c, count, offset, flags, err), err);
}

int
backend_zero(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
             int *err)
{
    const uint32_t ok_flags =
        NBDKIT_FLAG_MAY_TRIM | NBDKIT_FLAG_FUA | NBDKIT_FLAG_FAST_ZERO;
    int r;

    ASSERT_READY(c);
    assert(cache_load(&c->can_write) == 1 &&
           cache_load(&c->can_zero) > NBDKIT_ZERO_NONE);
    assert(range_ok(c, count, offset));
    assert(!(flags & ~ok_flags));
    assert(!(flags & NBDKIT_FLAG_FUA) ||
           cache_load(&c->can_fua) > NBDKIT_FUA_NONE);
    assert(!(flags & NBDKIT_FLAG_FAST_ZERO) ||
           cache_load(&c->can_fast_zero) == 1);
    datapath_debug("%s: zero count=%" PRIu32 " offset=%" PRIu64
                   " may_trim=%d fua=%d fast=%d",
                   c->b->name, count, offset, !!(flags & NBDKIT_FLAG_MAY_TRIM),
                   !!(flags & NBDKIT_FLAG_FUA),
                   !!(flags & NBDKIT_FLAG_FAST_ZERO));
    *err = 0;
    if (count == 0)
        return 0;
    r = check_error(c->b->zero(c, count, offset, flags, err), err);
    /* ENOTSUP is reserved for a fast zero that could not be fast. */
    if (r == -1 && !(flags & NBDKIT_FLAG_FAST_ZERO) &&
        (*err == ENOTSUP || *err == EOPNOTSUPP))
        *err = EINVAL;
    return r;
}

int
backend_extents(struct context *c, uint32_t count, uint64_t offset,
                uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    int r;

    ASSERT_READY(c);
    assert(range_ok(c, count, offset));
    assert(!(flags & ~NBDKIT_FLAG_REQ_ONE));
    assert(extents_start(extents) == offset);
    datapath_debug("%s: extents count=%" PRIu32 " offset=%" PRIu64
                   " req_one=%d",
                   c->b->name, count, offset, !!(flags & NBDKIT_FLAG_REQ_ONE));
    *err = 0;
    if (count == 0)
        return 0;
    if (backend_can_extents(c) == -1) {
        *err = EIO;
        return -1;
    }
    if (cache_load(&c->can_extents) == 0) {
        /* No extents callback: the whole range is allocated data. */
        r = nbdkit_add_extent(extents, offset, count, 0);
        if (r == -1)
            *err = errno ? errno : ENOMEM;
        return r;
    }
    r = check_error(c->b->extents(c, count, offset, flags, extents, err), err);
    if (r == 0 && nbdkit_extents_count(extents) == 0) {
        nbdkit_error("%s: extents: no extent covers offset %" PRIu64,
                     c->b->name, offset);
        *err = EIO;
        return -1;
    }
    return r;
}

int
backend_cache(struct context *c, uint32_t count, uint64_t offset,
              uint32_t flags, int *err)
{
    ASSERT_READY(c);
    assert(cache_load(&c->can_cache) > NBDKIT_CACHE_NONE);
    assert(range_ok(c, count, offset));
    assert(flags == 0);
    datapath_debug("%s: cache count=%" PRIu32 " offset=%" PRIu64, c->b->name,
                   count, offset);
    *err = 0;
    if (count == 0)
        return 0;
    return check_error(c->b->cache(c, count, offset, flags, err), err);
}

/* ---- nbdkit_next: what a filter calls on the layer below ----
 * A struct context starts with its nbdkit_next_ops, so the nbdkit_next
 * pointer a filter holds is the context itself.
 */

static struct context *
next_context(nbdkit_next *next)
{
    struct context *c = (struct context *)next;

    assert(c->magic == CONTEXT_MAGIC);
    return c;
}

static int
next_prepare(nbdkit_next *next)
{
    return backend_prepare(next_context(next));
}

static int
next_finalize(nbdkit_next *next)
{
    return backend_finalize(next_context(next));
}

static int64_t
next_get_size(nbdkit_next *next)
{
    return backend_get_size(next_context(next));
}

static const char *
next_export_description(nbdkit_next *next)
{
    return backend_export_description(next_context(next));
}

static int
next_block_size(nbdkit_next *next, uint32_t *minimum, uint32_t *preferred,
                uint32_t *maximum)
{
    return backend_block_size(next_context(next), minimum, preferred, maximum);
}

#define NEXT_CAN(field)                                                        \
    static int next_##field(nbdkit_next *next)                                 \
    {                                                                          \
        return backend_##field(next_context(next));                            \
    }
NEXT_CAN(can_write)
NEXT_CAN(can_flush)
NEXT_CAN(is_rotational)
NEXT_CAN(can_trim)
NEXT_CAN(can_zero)
NEXT_CAN(can_fast_zero)
NEXT_CAN(can_extents)
NEXT_CAN(can_fua)
NEXT_CAN(can_multi_conn)
NEXT_CAN(can_cache)

/* Filters may call the data functions before asking the matching can_*
 * question themselves; ask on their behalf so the contract holds.
 */
static int
next_pread(nbdkit_next *next, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    struct context *c = next_context(next);

    if (backend_get_size(c) == -1) {
        *err = EIO;
        return -1;
    }
    return backend_pread(c, buf, count, offset, flags, err);
}

static int
next_pwrite(nbdkit_next *next, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    struct context *c = next_context(next);

    if (backend_get_size(c) == -1 || backend_can_write(c) != 1 ||
        ((flags & NBDKIT_FLAG_FUA) && backend_can_fua(c) <= 0)) {
        *err = EROFS;
        return -1;
    }
    return backend_pwrite(c, buf, count, offset, flags, err);
}

static int
next_flush(nbdkit_next *next, uint32_t flags, int *err)
{
    struct context *c = next_context(next);

    if (backend_can_flush(c) != 1) {
        *err = EINVAL;
        return -1;
    }
    return backend_flush(c, flags, err);
}

static int
next_trim(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
          int *err)
{
    struct context *c = next_context(next);

    if (backend_get_size(c) == -1 || backend_can_trim(c) != 1 ||
        ((flags & NBDKIT_FLAG_FUA) && backend_can_fua(c) <= 0)) {
        *err = EINVAL;
        return -1;
    }
    return backend_trim(c, count, offset, flags, err);
}

static int
next_zero(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
          int *err)
{
    struct context *c = next_context(next);

    if (backend_get_size(c) == -1 || backend_can_zero(c) <= 0 ||
        ((flags & NBDKIT_FLAG_FUA) && backend_can_fua(c) <= 0)) {
        *err = EINVAL;
        return -1;
    }
    if ((flags & NBDKIT_FLAG_FAST_ZERO) && backend_can_fast_zero(c) != 1) {
        *err = ENOTSUP;
        return -1;
    }
    return backend_zero(c, count, offset, flags, err);
}

static int
next_extents(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents, int *err)
{
    struct context *c = next_context(next);

    if (backend_get_size(c) == -1 || backend_can_extents(c) == -1) {
        *err = EIO;
        return -1;
    }
    return backend_extents(c, count, offset, flags, extents, err);
}

static int
next_cache(nbdkit_next *next, uint32_t count, uint64_t offset, uint32_t flags,
           int *err)
{
    struct context *c = next_context(next);

    if (backend_get_size(c) == -1 || backend_can_cache(c) <= 0) {
        *err = EINVAL;
        return -1;
    }
    return backend_cache(c, count, offset, flags, err);
}

static const struct nbdkit_next_ops next_ops_template = {
    .prepare = next_prepare,
    .finalize = next_finalize,
    .get_size = next_get_size,
    .export_description = next_export_description,
    .block_size = next_block_size,
    .can_write = next_can_write,
    .can_flush = next_can_flush,
    .is_rotational = next_is_rotational,
    .can_trim = next_can_trim,
    .can_zero = next_can_zero,
    .can_fast_zero = next_can_fast_zero,
    .can_extents = next_can_extents,
    .can_fua = next_can_fua,
    .can_multi_conn = next_can_multi_conn,
    .can_cache = next_can_cache,
    .pread = next_pread,
    .pwrite = next_pwrite,
    .flush = next_flush,
    .trim = next_trim,
    .zero = next_zero,
    .extents = next_extents,
    .cache = next_cache,
};
