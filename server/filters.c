/* SPDX-License-Identifier: BSD-3-Clause */
/* filters.c: a filter layer of the stack.
 *
 * A filter sees the layer below as nbdkit_next (a struct context, see
 * backend.c) during a connection, and as nbdkit_backend (a struct
 * backend) during configuration.  A callback the filter leaves NULL
 * passes the call straight to the layer below.
 */

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "minmax.h"

struct backend_filter {
    struct backend backend;      /* first: a backend_filter is a backend */
    struct nbdkit_filter filter; /* zero-filled past the filter's size */
    /* nbdx_filter_extension_init's answer, zero-filled past its size (all
     * zero if the filter has none).  Read-only after load.
     */
    struct nbdx_filter_extension ext;
};

static struct nbdkit_filter *
filter_of(struct backend *b)
{
    return &((struct backend_filter *)b)->filter;
}

/* NULL when the filter's open did not open the layer below, which
 * nbdkit allows of a filter that then never uses next, or where the
 * filter took the layer below away with nbdkit_context_set_next (as
 * retry does while a reopen has failed).
 */
static nbdkit_next *
next_of(struct context *c)
{
    return (nbdkit_next *)c->c_next;
}

/* A call that would pass straight through to a layer below that the
 * filter's open never opened: fail it instead (-1, *err = EIO).
 */
static bool
no_layer_below(struct context *c, int *err)
{
    if (c->c_next != NULL)
        return false;
    nbdkit_error("%s: the filter has no layer below on this connection",
                 c->b->name);
    if (err)
        *err = EIO;
    return true;
}

/* ---- life cycle ---- */

static void
filter_free(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    if (f->unload)
        f->unload();
    if (getenv("NBDX_VALGRIND") == NULL)
        dlclose(b->dl);
    free(b->filename);
    free(b);
}

static int
filter_thread_model(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);
    int model = NBDKIT_THREAD_MODEL_PARALLEL;

    if (f->thread_model) {
        model = f->thread_model();
        if (model == -1)
            fatal("%s: thread_model failed", b->name);
    }
    return MAX(NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS,
               MIN(model, NBDKIT_THREAD_MODEL_PARALLEL));
}

static const char *
filter_plugin_name(struct backend *b)
{
    return b->next->plugin_name(b->next);
}

static void
filter_usage(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    backend_print_usage(b, f->longname, f->description, f->config_help);
}

static const char *
filter_version(struct backend *b)
{
    return filter_of(b)->version;
}

static void
filter_dump_fields(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    b->next->dump_fields(b->next);
    printf("%s_path=%s\n%s_name=%s\n", b->name, b->filename, b->name, b->name);
    fflush(stdout);
    if (f->dump_plugin) {
        f->dump_plugin();
        fflush(stdout);
    }
}

/* Passed to the filter as `next` in config: the layer below eats it or
 * exits with its own error.
 */
static int
next_config(nbdkit_backend *nxdata, const char *key, const char *value)
{
    struct backend *b = (struct backend *)nxdata;

    b->config(b, key, value);
    return 0;
}

static void
filter_config(struct backend *b, const char *key, const char *value)
{
    struct nbdkit_filter *f = filter_of(b);

    debug("%s: config key=%s, value=%s", b->name, key, value);
    if (f->config == NULL) {
        b->next->config(b->next, key, value);
        return;
    }
    threadlocal_set_name(b->name);
    if (f->config(next_config, (nbdkit_backend *)b->next, key, value) == -1)
        exit(EXIT_FAILURE);
}

static int
next_config_complete(nbdkit_backend *nxdata)
{
    struct backend *b = (struct backend *)nxdata;

    b->config_complete(b);
    return 0;
}

static void
filter_config_complete(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    debug("%s: config_complete", b->name);
    if (f->config_complete == NULL) {
        b->next->config_complete(b->next);
        return;
    }
    threadlocal_set_name(b->name);
    if (f->config_complete(next_config_complete, (nbdkit_backend *)b->next) ==
        -1)
        exit(EXIT_FAILURE);
}

/* A filter's magic key, if it ever has one, is the plugin's. */
static const char *
filter_magic_config_key(struct backend *b)
{
    return b->next->magic_config_key(b->next);
}

static int
filter_get_ready(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    debug("%s: get_ready", b->name);
    return f->get_ready ? f->get_ready(thread_model) : 0;
}

static int
filter_after_fork(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    debug("%s: after_fork", b->name);
    return f->after_fork ? f->after_fork((nbdkit_backend *)b->next) : 0;
}

static void
filter_cleanup(struct backend *b)
{
    struct nbdkit_filter *f = filter_of(b);

    debug("%s: cleanup", b->name);
    if (f->cleanup)
        f->cleanup((nbdkit_backend *)b->next);
}

/* ---- connection set-up ---- */

static int
next_preconnect(nbdkit_backend *nxdata, int readonly)
{
    struct backend *b = (struct backend *)nxdata;

    return b->preconnect(b, readonly);
}

static int
filter_preconnect(struct backend *b, int readonly)
{
    struct nbdkit_filter *f = filter_of(b);

    if (f->preconnect)
        return f->preconnect(next_preconnect, (nbdkit_backend *)b->next,
                             readonly);
    return b->next->preconnect(b->next, readonly);
}

/* The filter interface drops is_tls from the next-layer list call; the
 * layer below answers for the same connection, so pass the caller's.
 */
static __thread int list_is_tls;

static int
next_list_exports(nbdkit_backend *nxdata, int readonly,
                  struct nbdkit_exports *exports)
{
    const char *def;

    if (backend_list_exports((struct backend *)nxdata, readonly, list_is_tls,
                             exports) == -1)
        return -1;
    /* A filter sees the default export as a real entry, named as the
     * client would see it (as in nbdkit), so it can rewrite the list.
     */
    if (!exports_get_use_default(exports))
        return 0;
    exports_clear_use_default(exports);
    def = backend_default_export(top, readonly, list_is_tls);
    if (def == NULL)
        return 0; /* no default to list, as in the handshake */
    return nbdkit_add_export(exports, def, NULL);
}

static int
filter_list_exports(struct backend *b, int readonly, int is_tls,
                    struct nbdkit_exports *exports)
{
    struct nbdkit_filter *f = filter_of(b);

    if (f->list_exports == NULL)
        return backend_list_exports(b->next, readonly, is_tls, exports);
    list_is_tls = is_tls;
    return f->list_exports(next_list_exports, (nbdkit_backend *)b->next,
                           readonly, is_tls, exports);
}

static const char *
next_default_export(nbdkit_backend *nxdata, int readonly)
{
    return backend_default_export((struct backend *)nxdata, readonly,
                                  list_is_tls);
}

static const char *
filter_default_export(struct backend *b, int readonly, int is_tls)
{
    struct nbdkit_filter *f = filter_of(b);

    if (f->default_export == NULL)
        return backend_default_export(b->next, readonly, is_tls);
    list_is_tls = is_tls;
    return f->default_export(next_default_export, (nbdkit_backend *)b->next,
                             readonly, is_tls);
}

/* Passed to the filter's open: open the layer below with the filter's
 * choice of readonly and export name.  Only once per context.
 */
static int
next_open(nbdkit_context *context, int readonly, const char *exportname)
{
    struct context *c = (struct context *)context;

    assert(c->magic == CONTEXT_MAGIC);
    if (c->c_next != NULL) {
        nbdkit_error("%s: next_open called twice", c->b->name);
        return -1;
    }
    c->c_next =
        backend_open(c->b->next, readonly, exportname, c->is_tls, c->conn);
    return c->c_next ? 0 : -1;
}

static void *
filter_open(struct context *c, int readonly, const char *exportname, int is_tls)
{
    struct nbdkit_filter *f = filter_of(c->b);
    void *handle;

    if (f->open == NULL) {
        if (next_open((nbdkit_context *)c, readonly, exportname) == -1)
            return NULL;
        return NBDKIT_HANDLE_NOT_NEEDED;
    }
    handle =
        f->open(next_open, (nbdkit_context *)c, readonly, exportname, is_tls);
    if (handle != NULL && c->c_next == NULL)
        nbdkit_debug("%s: open did not open the layer below", c->b->name);
    return handle;
}

static int
filter_prepare(struct context *c, int readonly)
{
    struct nbdkit_filter *f = filter_of(c->b);

    return f->prepare ? f->prepare(next_of(c), c->handle, readonly) : 0;
}

static int
filter_finalize(struct context *c)
{
    struct nbdkit_filter *f = filter_of(c->b);

    return f->finalize ? f->finalize(next_of(c), c->handle) : 0;
}

static void
filter_close(struct context *c)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->close)
        f->close(c->handle);
}

/* ---- sizes, capabilities and data: the filter or straight through ---- */

static int64_t
filter_get_size(struct context *c)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->get_size)
        return f->get_size(next_of(c), c->handle);
    if (no_layer_below(c, NULL))
        return -1;
    return backend_get_size(c->c_next);
}

static const char *
filter_export_description(struct context *c)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->export_description)
        return f->export_description(next_of(c), c->handle);
    if (no_layer_below(c, NULL))
        return NULL;
    return backend_export_description(c->c_next);
}

static int
filter_block_size(struct context *c, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->block_size)
        return f->block_size(next_of(c), c->handle, minimum, preferred,
                             maximum);
    if (no_layer_below(c, NULL))
        return -1;
    return backend_block_size(c->c_next, minimum, preferred, maximum);
}

#define FILTER_CAN(field)                                                      \
    static int filter_##field(struct context *c)                               \
    {                                                                          \
        struct nbdkit_filter *f = filter_of(c->b);                             \
        if (f->field)                                                          \
            return f->field(next_of(c), c->handle);                            \
        if (no_layer_below(c, NULL))                                           \
            return -1;                                                         \
        return backend_##field(c->c_next);                                     \
    }

FILTER_CAN(can_write)
FILTER_CAN(can_flush)
FILTER_CAN(is_rotational)
FILTER_CAN(can_trim)
FILTER_CAN(can_zero)
FILTER_CAN(can_fast_zero)
FILTER_CAN(can_extents)
FILTER_CAN(can_fua)
FILTER_CAN(can_multi_conn)
FILTER_CAN(can_cache)

static int
filter_pread(struct context *c, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags, int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->pread)
        return f->pread(next_of(c), c->handle, buf, count, offset, flags, err);
    if (no_layer_below(c, err))
        return -1;
    return backend_pread(c->c_next, buf, count, offset, flags, err);
}

static int
filter_pwrite(struct context *c, const void *buf, uint32_t count,
              uint64_t offset, uint32_t flags, int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->pwrite)
        return f->pwrite(next_of(c), c->handle, buf, count, offset, flags, err);
    if (no_layer_below(c, err))
        return -1;
    return backend_pwrite(c->c_next, buf, count, offset, flags, err);
}

static int
filter_flush(struct context *c, uint32_t flags, int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->flush)
        return f->flush(next_of(c), c->handle, flags, err);
    if (no_layer_below(c, err))
        return -1;
    return backend_flush(c->c_next, flags, err);
}

static int
filter_trim(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
            int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->trim)
        return f->trim(next_of(c), c->handle, count, offset, flags, err);
    if (no_layer_below(c, err))
        return -1;
    return backend_trim(c->c_next, count, offset, flags, err);
}

static int
filter_zero(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
            int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->zero)
        return f->zero(next_of(c), c->handle, count, offset, flags, err);
    if (no_layer_below(c, err))
        return -1;
    return backend_zero(c->c_next, count, offset, flags, err);
}

static int
filter_extents(struct context *c, uint32_t count, uint64_t offset,
               uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->extents)
        return f->extents(next_of(c), c->handle, count, offset, flags, extents,
                          err);
    if (no_layer_below(c, err))
        return -1;
    return backend_extents(c->c_next, count, offset, flags, extents, err);
}

static int
filter_cache(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
             int *err)
{
    struct nbdkit_filter *f = filter_of(c->b);

    if (f->cache)
        return f->cache(next_of(c), c->handle, count, offset, flags, err);
    if (no_layer_below(c, err))
        return -1;
    return backend_cache(c->c_next, count, offset, flags, err);
}

/* ---- zero-copy calls (nbdx-extensions.h) ---- */

static const struct nbdx_filter_extension *
filter_ext(struct backend *b)
{
    return &((struct backend_filter *)b)->ext;
}

/* What this filter passes on: a call it forwards through its extension,
 * or one whose ordinary form it leaves to the layer below anyway (no
 * .pread: reads go through unchanged; no .pwrite: writes do).
 */
static int
filter_zc(struct context *c)
{
    struct nbdkit_filter *f = filter_of(c->b);
    const struct nbdx_filter_extension *e = filter_ext(c->b);
    int zc = 0;

    if (c->c_next == NULL)
        return 0; /* the filter's own calls only */
    if (!f->pread || (e->read_iov && e->read_iov_end))
        zc |= ZC_READ_IOV | ZC_SPLICE_OK;
    if (!f->pread || e->read_fd)
        zc |= ZC_READ_FD;
    if (!f->pwrite || (e->write_iov && e->write_iov_end))
        zc |= ZC_WRITE_IOV;
    if (!f->pwrite || e->write_pipe)
        zc |= ZC_WRITE_PIPE;
    if (!f->pread && !f->extents)
        zc |= ZC_READ_PLAN;
    /* A filter that passes nothing on does not ask below, which it may
     * have swapped out or emptied (nbdkit_context_set_next).
     */
    return zc ? zc & backend_zc(c->c_next) : 0;
}

static int64_t
filter_read_iov(struct context *c, uint32_t count, uint64_t offset,
                struct nbdx_iovec *iov, size_t max, size_t *n, void **cookie,
                int *err)
{
    const struct nbdx_filter_extension *e = filter_ext(c->b);

    if (e->read_iov)
        return e->read_iov(next_of(c), c->handle, count, offset, 0, iov, max, n,
                           cookie, err);
    return backend_read_iov(c->c_next, count, offset, iov, max, n, cookie, err);
}

static void
filter_read_iov_end(struct context *c, void *cookie)
{
    const struct nbdx_filter_extension *e = filter_ext(c->b);

    if (e->read_iov_end)
        e->read_iov_end(next_of(c), c->handle, cookie);
    else
        backend_read_iov_end(c->c_next, cookie);
}

static int
filter_read_fd(struct context *c, uint32_t count, uint64_t offset, int *fd,
               uint64_t *fd_offset, int *err)
{
    const struct nbdx_filter_extension *e = filter_ext(c->b);

    if (e->read_fd)
        return e->read_fd(next_of(c), c->handle, count, offset, 0, fd,
                          fd_offset, err);
    return backend_read_fd(c->c_next, count, offset, fd, fd_offset, err);
}

static int
filter_write_iov(struct context *c, uint32_t count, uint64_t offset,
                 struct nbdx_wiovec *iov, size_t max, size_t *n, void **cookie,
                 int *err)
{
    const struct nbdx_filter_extension *e = filter_ext(c->b);

    if (e->write_iov)
        return e->write_iov(next_of(c), c->handle, count, offset, 0, iov, max,
                            n, cookie, err);
    return backend_write_iov(c->c_next, count, offset, iov, max, n, cookie,
                             err);
}

static int
filter_write_iov_end(struct context *c, void *cookie, bool commit, int *err)
{
    const struct nbdx_filter_extension *e = filter_ext(c->b);

    if (e->write_iov_end)
        return e->write_iov_end(next_of(c), c->handle, cookie, commit, 0, err);
    return backend_write_iov_end(c->c_next, cookie, commit, err);
}

static int
filter_write_pipe(struct context *c, uint32_t count, uint64_t offset, int pipe,
                  int *err)
{
    const struct nbdx_filter_extension *e = filter_ext(c->b);

    if (e->write_pipe)
        return e->write_pipe(next_of(c), c->handle, count, offset, 0, pipe,
                             err);
    return backend_write_pipe(c->c_next, count, offset, pipe, err);
}

/* What a filter calls to reach the layer below; next is its
 * nbdkit_next, a struct context.
 */
static int64_t
next_zc_read_iov(void *next, uint32_t count, uint64_t offset, uint32_t flags,
                 struct nbdx_iovec *iov, size_t max, size_t *n, void **cookie,
                 int *err)
{
    return backend_read_iov(next, count, offset, iov, max, n, cookie, err);
}

static void
next_zc_read_iov_end(void *next, void *cookie)
{
    backend_read_iov_end(next, cookie);
}

static int
next_zc_read_fd(void *next, uint32_t count, uint64_t offset, uint32_t flags,
                int *fd, uint64_t *fd_offset, int *err)
{
    return backend_read_fd(next, count, offset, fd, fd_offset, err);
}

static int
next_zc_write_iov(void *next, uint32_t count, uint64_t offset, uint32_t flags,
                  struct nbdx_wiovec *iov, size_t max, size_t *n, void **cookie,
                  int *err)
{
    return backend_write_iov(next, count, offset, iov, max, n, cookie, err);
}

static int
next_zc_write_iov_end(void *next, void *cookie, int commit, uint32_t flags,
                      int *err)
{
    return backend_write_iov_end(next, cookie, commit, err);
}

static int
next_zc_write_pipe(void *next, uint32_t count, uint64_t offset, uint32_t flags,
                   int pipe, int *err)
{
    return backend_write_pipe(next, count, offset, pipe, err);
}

static const struct nbdx_next_zc next_zc = {
    ._struct_size = sizeof next_zc,
    .read_iov = next_zc_read_iov,
    .read_iov_end = next_zc_read_iov_end,
    .read_fd = next_zc_read_fd,
    .write_iov = next_zc_write_iov,
    .write_iov_end = next_zc_write_iov_end,
    .write_pipe = next_zc_write_pipe,
};

/* The optional nbdx_filter_extension_init export, copied by the same
 * _struct_size rule as the filter struct.  Pairs are kept whole or not
 * at all.
 */
static void
filter_load_extension(struct backend_filter *bf, void *dl, const char *filename)
{
    nbdx_filter_extension_init_fn init;
    const struct nbdx_filter_extension *e;
    struct nbdx_filter_extension *x = &bf->ext;

    init = (nbdx_filter_extension_init_fn)dlsym(
        dl, NBDX_FILTER_EXTENSION_INIT_SYMBOL);
    if (init == NULL)
        return;
    e = init(&next_zc);
    if (e == NULL ||
        e->_struct_size < offsetof(struct nbdx_filter_extension, read_iov)) {
        debug("%s: ignoring an invalid nbdx filter extension", filename);
        return;
    }
    memcpy(x, e, MIN(e->_struct_size, (uint64_t)sizeof *x));
    if (!x->read_iov != !x->read_iov_end)
        x->read_iov = NULL, x->read_iov_end = NULL;
    if (!x->write_iov != !x->write_iov_end)
        x->write_iov = NULL, x->write_iov_end = NULL;
    debug("%s: nbdx filter extension version %d", filename, e->_version);
}

/* ---- extra contexts, for filters that manage the layer below ---- */

NBDKIT_DLL_PUBLIC nbdkit_backend *
nbdkit_context_get_backend(nbdkit_context *context)
{
    struct context *c = (struct context *)context;

    assert(c->magic == CONTEXT_MAGIC);
    return (nbdkit_backend *)c->b->next;
}

/* Open and prepare an independent context on the layer below.  With
 * shared, it lives outside the current connection (no connection data).
 */
NBDKIT_DLL_PUBLIC nbdkit_next *
nbdkit_next_context_open(nbdkit_backend *backend, int readonly,
                         const char *exportname, int shared)
{
    struct backend *b = (struct backend *)backend;
    struct connection *conn = shared ? NULL : threadlocal_get_conn();
    struct context *c;

    if (b == NULL) {
        nbdkit_error("nbdkit_next_context_open: no backend");
        return NULL;
    }
    c = backend_open(b, readonly, exportname, conn ? conn->using_tls : 0, conn);
    if (c == NULL)
        return NULL;
    if (backend_prepare(c) == -1) {
        backend_finalize(c);
        backend_close(c);
        return NULL;
    }
    return (nbdkit_next *)c;
}

NBDKIT_DLL_PUBLIC void
nbdkit_next_context_close(nbdkit_next *next)
{
    struct context *c = (struct context *)next;

    if (c == NULL)
        return;
    backend_finalize(c);
    backend_close(c);
}

/* Swap the layer below this context; returns the old one, which the
 * filter now owns.
 */
NBDKIT_DLL_PUBLIC nbdkit_next *
nbdkit_context_set_next(nbdkit_context *context, nbdkit_next *next)
{
    struct context *c = (struct context *)context;
    struct context *old;

    assert(c->magic == CONTEXT_MAGIC);
    old = c->c_next;
    c->c_next = (struct context *)next;
    /* What the new layer below can do is asked again. */
    __atomic_store_n(&c->zc, -1, __ATOMIC_RELEASE);
    return (nbdkit_next *)old;
}

/* ---- loading ---- */

static void
filter_set_ops(struct backend *b)
{
    b->free = filter_free;
    b->thread_model = filter_thread_model;
    b->plugin_name = filter_plugin_name;
    b->usage = filter_usage;
    b->version = filter_version;
    b->dump_fields = filter_dump_fields;
    b->config = filter_config;
    b->config_complete = filter_config_complete;
    b->magic_config_key = filter_magic_config_key;
    b->get_ready = filter_get_ready;
    b->after_fork = filter_after_fork;
    b->cleanup = filter_cleanup;
    b->preconnect = filter_preconnect;
    b->list_exports = filter_list_exports;
    b->default_export = filter_default_export;
    b->open = filter_open;
    b->prepare = filter_prepare;
    b->finalize = filter_finalize;
    b->close = filter_close;
    b->get_size = filter_get_size;
    b->export_description = filter_export_description;
    b->block_size = filter_block_size;
    b->can_write = filter_can_write;
    b->can_flush = filter_can_flush;
    b->is_rotational = filter_is_rotational;
    b->can_trim = filter_can_trim;
    b->can_zero = filter_can_zero;
    b->can_fast_zero = filter_can_fast_zero;
    b->can_extents = filter_can_extents;
    b->can_fua = filter_can_fua;
    b->can_multi_conn = filter_can_multi_conn;
    b->can_cache = filter_can_cache;
    b->pread = filter_pread;
    b->pwrite = filter_pwrite;
    b->flush = filter_flush;
    b->trim = filter_trim;
    b->zero = filter_zero;
    b->extents = filter_extents;
    b->cache = filter_cache;
    b->zc = filter_zc;
    b->read_iov = filter_read_iov;
    b->read_iov_end = filter_read_iov_end;
    b->read_fd = filter_read_fd;
    b->write_iov = filter_write_iov;
    b->write_iov_end = filter_write_iov_end;
    b->write_pipe = filter_write_pipe;
}

static void
filter_check(struct nbdkit_filter *f, const char *filename)
{
    if (f->_api_version != NBDX_FILTER_API_VERSION) {
        if (f->_api_version >= 1 && f->_api_version <= 64)
            fatal("%s: this filter was built for nbdkit (filter API %d); "
                  "nbdkit filters are tied to one nbdkit release and "
                  "cannot load into nbdx: rebuild it against nbdx's "
                  "nbdkit-filter.h",
                  filename, f->_api_version);
        fatal("%s: filter API version 0x%x is not supported by this nbdx "
              "(0x%x)",
              filename, (unsigned)f->_api_version,
              (unsigned)NBDX_FILTER_API_VERSION);
    }
    if (!backend_name_valid(f->name))
        fatal("%s: filter has a missing or invalid .name", filename);
}

struct backend *
filter_load(struct backend *next, const char *filename, const char *name)
{
    struct nbdkit_filter *(*init)(void);
    struct nbdkit_filter *f;
    struct backend_filter *bf;
    void *dl, *sym;
    size_t size;

    dl = backend_dlopen(filename, name, "filter", "filter_init", &sym);
    init = (struct nbdkit_filter * (*)(void)) sym;
    f = init();
    if (f == NULL)
        fatal("%s: filter_init returned NULL", filename);
    /* Check the API number before trusting any other field. */
    if (f->_api_version != NBDX_FILTER_API_VERSION)
        filter_check(f, filename);

    bf = calloc(1, sizeof *bf);
    if (bf == NULL)
        fatal("calloc: %m");
    size = MIN(f->_struct_size, (uint64_t)sizeof bf->filter);
    if (size < offsetof(struct nbdkit_filter, config_help))
        fatal("%s: filter struct is too small", filename);
    memcpy(&bf->filter, f, size);
    filter_check(&bf->filter, filename);

    backend_init(&bf->backend, next, next->i + 1, filename, dl, "filter");
    bf->backend.name = bf->filter.name;
    filter_set_ops(&bf->backend);
    filter_load_extension(bf, dl, filename);

    threadlocal_set_name(bf->backend.name);
    debug_flags_apply(bf->backend.name, dl);
    debug("registered filter %s (name %s)", filename, bf->backend.name);
    if (bf->filter.load)
        bf->filter.load();
    return &bf->backend;
}
