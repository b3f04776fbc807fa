/* SPDX-License-Identifier: BSD-3-Clause */
/* plugins.c: the bottom layer of the stack, an nbdkit ABI plugin.
 *
 * Loads the .so, copies its struct nbdkit_plugin by the _struct_size rule,
 * and adapts API v1 and v2 callbacks to the backend interface.  Defaults
 * for missing callbacks and the emulation of FUA, zero and cache live
 * here, so filters and the protocol see one uniform layer.
 */

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"
#include "internal.h"
#include "minmax.h"

struct backend_plugin {
    struct backend backend;      /* first: a backend_plugin is a backend */
    struct nbdkit_plugin plugin; /* zero-filled past the plugin's size */
    /* nbdx_extension_init's answer, zero-filled past its size (all zero
     * if the plugin has none).  Read-only after load.
     */
    struct nbdx_extension extension;
};

static struct nbdkit_plugin *
plugin_of(struct backend *b)
{
    return &((struct backend_plugin *)b)->plugin;
}

/* Copy what errno the plugin left to *err: nbdkit_set_error wins, then
 * errno if the plugin promises to preserve it, else EIO.
 */
static int
plugin_error(struct nbdkit_plugin *p, int saved_errno)
{
    int err = threadlocal_get_error();

    if (err)
        return err;
    if (p->errno_is_preserved && saved_errno)
        return saved_errno;
    return EIO;
}

#define CALL_DATA(b, err, call)                                                \
    ({                                                                         \
        int r_;                                                                \
        threadlocal_set_error(0);                                              \
        errno = 0;                                                             \
        r_ = (call);                                                           \
        if (r_ == -1)                                                          \
            *(err) = plugin_error(plugin_of(b), errno);                        \
        r_;                                                                    \
    })

/* ---- life cycle ---- */

static void
plugin_free(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    threadlocal_set_name(b->name);
    if (p->unload)
        p->unload();
    interns_free_global();
    /* Keep the code mapped under valgrind/sanitizers so leak reports can
     * name plugin functions.
     */
    if (getenv("NBDX_VALGRIND") == NULL)
        dlclose(b->dl);
    free(b->filename);
    free(b);
}

static int
plugin_thread_model(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);
    int model = p->_thread_model;

    if (p->thread_model) {
        int r = p->thread_model();
        if (r == -1)
            fatal("%s: thread_model failed", b->name);
        if (r < model)
            model = r;
    }
    if (model < NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS)
        model = NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS;
    if (model > NBDKIT_THREAD_MODEL_PARALLEL)
        model = NBDKIT_THREAD_MODEL_PARALLEL;
    return model;
}

static const char *
plugin_name(struct backend *b)
{
    return b->name;
}

static void
plugin_usage(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    backend_print_usage(b, p->longname, p->description, p->config_help);
}

static const char *
plugin_version(struct backend *b)
{
    return plugin_of(b)->version;
}

#define HAS(field)                                                             \
    do {                                                                       \
        if (p->field)                                                          \
            printf("has_%s=1\n", #field);                                      \
    } while (0)

static void
plugin_dump_fields(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    printf("path=%s\nname=%s\n", b->filename, b->name);
    if (p->version)
        printf("version=%s\n", p->version);
    printf("api_version=%d\n", p->_api_version);
    printf("struct_size=%" PRIu64 "\n", p->_struct_size);
    printf("max_thread_model=%s\n", thread_model_name(p->_thread_model));
    /* The stack's, filters included, as nbdkit prints it (stack.c sets
     * thread_model before --dump-plugin).
     */
    printf("thread_model=%s\n", thread_model_name(thread_model));
    printf("errno_is_preserved=%d\n", !!p->errno_is_preserved);
    if (p->magic_config_key)
        printf("magic_config_key=%s\n", p->magic_config_key);
    HAS(longname);
    HAS(description);
    HAS(load);
    HAS(unload);
    HAS(dump_plugin);
    HAS(config);
    HAS(config_complete);
    HAS(config_help);
    HAS(thread_model);
    HAS(get_ready);
    HAS(after_fork);
    HAS(cleanup);
    HAS(preconnect);
    HAS(list_exports);
    HAS(default_export);
    HAS(open);
    HAS(close);
    HAS(export_description);
    HAS(get_size);
    HAS(block_size);
    HAS(can_write);
    HAS(can_flush);
    HAS(is_rotational);
    HAS(can_trim);
    HAS(can_zero);
    HAS(can_fast_zero);
    HAS(can_extents);
    HAS(can_fua);
    HAS(can_multi_conn);
    HAS(can_cache);
    HAS(pread);
    HAS(pwrite);
    HAS(flush);
    HAS(trim);
    HAS(zero);
    HAS(extents);
    HAS(cache);
    HAS(_pread_v1);
    HAS(_pwrite_v1);
    HAS(_flush_v1);
    HAS(_trim_v1);
    HAS(_zero_v1);
    fflush(stdout);
    if (p->dump_plugin) {
        p->dump_plugin();
        fflush(stdout);
    }
}

static void
plugin_config(struct backend *b, const char *key, const char *value)
{
    struct nbdkit_plugin *p = plugin_of(b);

    debug("%s: config key=%s, value=%s", b->name, key, value);
    if (p->config == NULL)
        fatal("%s: this plugin does not need command line configuration; "
              "try nbdx --help %s",
              b->name, b->name);
    threadlocal_set_name(b->name);
    if (p->config(key, value) == -1)
        exit(EXIT_FAILURE);
}

static void
plugin_config_complete(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    debug("%s: config_complete", b->name);
    threadlocal_set_name(b->name);
    if (p->config_complete && p->config_complete() == -1)
        exit(EXIT_FAILURE);
}

static const char *
plugin_magic_config_key(struct backend *b)
{
    return plugin_of(b)->magic_config_key;
}

static int
plugin_get_ready(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    debug("%s: get_ready", b->name);
    return p->get_ready ? p->get_ready() : 0;
}

static int
plugin_after_fork(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    debug("%s: after_fork", b->name);
    return p->after_fork ? p->after_fork() : 0;
}

static void
plugin_cleanup(struct backend *b)
{
    struct nbdkit_plugin *p = plugin_of(b);

    debug("%s: cleanup", b->name);
    if (p->cleanup)
        p->cleanup();
}

/* ---- connection set-up ---- */

static int
plugin_preconnect(struct backend *b, int readonly)
{
    struct nbdkit_plugin *p = plugin_of(b);

    return p->preconnect ? p->preconnect(readonly) : 0;
}

static int
plugin_list_exports(struct backend *b, int readonly, int is_tls,
                    struct nbdkit_exports *exports)
{
    struct nbdkit_plugin *p = plugin_of(b);

    if (p->list_exports == NULL)
        return nbdkit_use_default_export(exports);
    return p->list_exports(readonly, is_tls, exports);
}

static const char *
plugin_default_export(struct backend *b, int readonly, int is_tls)
{
    struct nbdkit_plugin *p = plugin_of(b);

    if (p->default_export == NULL)
        return "";
    return p->default_export(readonly, is_tls);
}

static void *
plugin_open(struct context *c, int readonly, const char *exportname, int is_tls)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    assert(c->c_next == NULL);
    return p->open(readonly);
}

static int
plugin_prepare(struct context *c, int readonly)
{
    return 0;
}

static int
plugin_finalize(struct context *c)
{
    return 0;
}

static void
plugin_close(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->close)
        p->close(c->handle);
}

/* ---- sizes and capabilities ---- */

static int64_t
plugin_get_size(struct context *c)
{
    int64_t r = plugin_of(c->b)->get_size(c->handle);

    if (r < -1) {
        nbdkit_error("%s: get_size returned %" PRIi64, c->b->name, r);
        return -1;
    }
    return r;
}

static const char *
plugin_export_description(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    return p->export_description ? p->export_description(c->handle) : NULL;
}

static int
plugin_block_size(struct context *c, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->block_size == NULL) {
        *minimum = *preferred = *maximum = 0;
        return 0;
    }
    return p->block_size(c->handle, minimum, preferred, maximum);
}

/* A can_* callback, or the default when the plugin has none. */
#define PLUGIN_CAN(field, dflt)                                                \
    static int plugin_##field(struct context *c)                               \
    {                                                                          \
        struct nbdkit_plugin *p = plugin_of(c->b);                             \
        if (p->field)                                                          \
            return p->field(c->handle);                                        \
        return (dflt);                                                         \
    }

PLUGIN_CAN(can_write, p->pwrite != NULL || p->_pwrite_v1 != NULL)
PLUGIN_CAN(can_flush, p->flush != NULL || p->_flush_v1 != NULL)
PLUGIN_CAN(is_rotational, 0)
PLUGIN_CAN(can_trim, p->trim != NULL || p->_trim_v1 != NULL)
PLUGIN_CAN(can_multi_conn, 0)

static int
plugin_can_extents(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->extents == NULL || p->_api_version < 2)
        return 0;
    return p->can_extents ? p->can_extents(c->handle) : 1;
}

static bool
plugin_has_zero(struct nbdkit_plugin *p)
{
    return p->zero != NULL || p->_zero_v1 != NULL;
}

/* Zero is always offered: natively, or emulated with writes. */
static int
plugin_can_zero(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->can_zero) {
        int r = p->can_zero(c->handle);
        if (r == -1)
            return -1;
        return r && plugin_has_zero(p) ? NBDKIT_ZERO_NATIVE
                                       : NBDKIT_ZERO_EMULATE;
    }
    return plugin_has_zero(p) ? NBDKIT_ZERO_NATIVE : NBDKIT_ZERO_EMULATE;
}

/* Without a real zero callback every fast zero fails at once, which is
 * correct and cheap; with one, only the plugin knows.
 */
static int
plugin_can_fast_zero(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);
    int z;

    if (p->can_fast_zero)
        return p->can_fast_zero(c->handle);
    z = backend_can_zero(c);
    if (z == -1)
        return -1;
    return z == NBDKIT_ZERO_EMULATE;
}

/* FUA natively only through the v2 flags argument; otherwise a flush
 * after the write, if the plugin can flush at all.
 */
static int
plugin_can_fua(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);
    int r = NBDKIT_FUA_EMULATE;
    int f;

    if (p->can_fua) {
        r = p->can_fua(c->handle);
        if (r == -1)
            return -1;
        if (r > NBDKIT_FUA_EMULATE && p->_api_version < 2)
            r = NBDKIT_FUA_EMULATE;
        if (r == NBDKIT_FUA_NONE || r == NBDKIT_FUA_NATIVE)
            return r;
    }
    f = backend_can_flush(c);
    if (f == -1)
        return -1;
    return f ? NBDKIT_FUA_EMULATE : NBDKIT_FUA_NONE;
}

static int
plugin_can_cache(struct context *c)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->can_cache)
        return p->can_cache(c->handle);
    return p->cache ? NBDKIT_CACHE_NATIVE : NBDKIT_CACHE_NONE;
}

/* ---- data ---- */

static int
plugin_flush(struct context *c, uint32_t flags, int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->flush)
        return CALL_DATA(c->b, err, p->flush(c->handle, 0));
    return CALL_DATA(c->b, err, p->_flush_v1(c->handle));
}

/* FUA the plugin cannot do itself becomes a flush after the write. */
static bool
fua_native(struct context *c, uint32_t flags)
{
    return (flags & NBDKIT_FLAG_FUA) && c->can_fua == NBDKIT_FUA_NATIVE;
}

static int
plugin_emulate_fua(struct context *c, uint32_t flags, int *err)
{
    if ((flags & NBDKIT_FLAG_FUA) && c->can_fua != NBDKIT_FUA_NATIVE)
        return plugin_flush(c, 0, err);
    return 0;
}

static int
plugin_pread(struct context *c, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags, int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (p->_api_version >= 2)
        return CALL_DATA(c->b, err, p->pread(c->handle, buf, count, offset, 0));
    return CALL_DATA(c->b, err, p->_pread_v1(c->handle, buf, count, offset));
}

/* ---- zero-copy calls, through the nbdx extension ---- */

static const struct nbdx_extension *
plugin_ext(struct backend *b)
{
    return &((struct backend_plugin *)b)->extension;
}

/* Extension callbacks say why with errno (or nbdkit_set_error). */
#define CALL_EXT(err, type, call)                                              \
    ({                                                                         \
        type r_;                                                               \
        threadlocal_set_error(0);                                              \
        errno = 0;                                                             \
        r_ = (call);                                                           \
        if (r_ == -1)                                                          \
            *(err) = threadlocal_get_error() ? threadlocal_get_error()         \
                     : errno                 ? errno                           \
                                             : EIO;                                            \
        r_;                                                                    \
    })

/* Zero-copy writes are made by the thread that reads requests, while
 * others run: only under the parallel model.
 */
static int
plugin_zc(struct context *c)
{
    const struct nbdx_extension *e = plugin_ext(c->b);
    bool parallel = thread_model >= NBDKIT_THREAD_MODEL_PARALLEL;
    int zc = ZC_READ_PLAN;

    if (e->pread_iov && e->release_iov)
        zc |= ZC_READ_IOV;
    if (e->pread_fd)
        zc |= ZC_READ_FD;
    if (parallel && e->write_begin && e->write_commit && e->write_abort)
        zc |= ZC_WRITE_IOV;
    if (parallel && e->pwrite_fd)
        zc |= ZC_WRITE_PIPE;
    if (e->flags & NBDX_EXT_SPLICE_OK)
        zc |= ZC_SPLICE_OK;
    return zc;
}

static int64_t
plugin_read_iov(struct context *c, uint32_t count, uint64_t offset,
                struct nbdx_iovec *iov, size_t max, size_t *n, void **cookie,
                int *err)
{
    return CALL_EXT(err, int64_t,
                    plugin_ext(c->b)->pread_iov(c->handle, count, offset, 0,
                                                iov, max, n, cookie));
}

static void
plugin_read_iov_end(struct context *c, void *cookie)
{
    plugin_ext(c->b)->release_iov(c->handle, cookie);
}

static int
plugin_read_fd(struct context *c, uint32_t count, uint64_t offset, int *fd,
               uint64_t *fd_offset, int *err)
{
    return CALL_EXT(
        err, int,
        plugin_ext(c->b)->pread_fd(c->handle, count, offset, 0, fd, fd_offset));
}

static int
plugin_write_iov(struct context *c, uint32_t count, uint64_t offset,
                 struct nbdx_wiovec *iov, size_t max, size_t *n, void **cookie,
                 int *err)
{
    return CALL_EXT(err, int,
                    plugin_ext(c->b)->write_begin(c->handle, count, offset, 0,
                                                  iov, max, n, cookie));
}

static int
plugin_write_iov_end(struct context *c, void *cookie, bool commit, int *err)
{
    const struct nbdx_extension *e = plugin_ext(c->b);

    if (!commit) {
        e->write_abort(c->handle, cookie);
        return 0;
    }
    return CALL_EXT(err, int, e->write_commit(c->handle, cookie, 0));
}

/* The optional nbdx_extension_init export, copied by the same
 * _struct_size rule as the plugin struct.
 */
static void
plugin_load_extension(struct backend_plugin *bp, void *dl, const char *filename)
{
    nbdx_extension_init_fn init;
    const struct nbdx_extension *ext;

    init = (nbdx_extension_init_fn)dlsym(dl, NBDX_EXTENSION_INIT_SYMBOL);
    if (init == NULL)
        return;
    ext = init();
    if (ext == NULL ||
        ext->_struct_size < offsetof(struct nbdx_extension, pread_iov)) {
        debug("%s: ignoring an invalid nbdx extension", filename);
        return;
    }
    memcpy(&bp->extension, ext,
           MIN(ext->_struct_size, (uint64_t)sizeof bp->extension));
    /* Both halves of the pair, or neither. */
    if (!bp->extension.pread_iov != !bp->extension.release_iov)
        bp->extension.pread_iov = NULL, bp->extension.release_iov = NULL;
    if (!bp->extension.write_begin || !bp->extension.write_commit ||
        !bp->extension.write_abort)
        bp->extension.write_begin = NULL;
    debug("%s: nbdx extension version %d", filename, ext->_version);
}

static int
plugin_pwrite(struct context *c, const void *buf, uint32_t count,
              uint64_t offset, uint32_t flags, int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);
    uint32_t f = fua_native(c, flags) ? NBDKIT_FLAG_FUA : 0;
    int r;

    if (p->_api_version >= 2 && p->pwrite)
        r = CALL_DATA(c->b, err, p->pwrite(c->handle, buf, count, offset, f));
    else if (p->_pwrite_v1)
        r = CALL_DATA(c->b, err, p->_pwrite_v1(c->handle, buf, count, offset));
    else {
        *err = EROFS;
        return -1;
    }
    if (r == -1)
        return -1;
    return plugin_emulate_fua(c, flags, err);
}

/* The plugin names the file and where; the server splices the payload
 * there from the pipe.  A plugin that declines this one (ENOTSUP, as
 * file does with cache=none) gets the payload through its pwrite.
 */
static int
plugin_write_pipe(struct context *c, uint32_t count, uint64_t offset, int pipe,
                  int *err)
{
    uint64_t fd_offset;
    void *buf;
    int fd, r;

    if (CALL_EXT(err, int,
                 plugin_ext(c->b)->pwrite_fd(c->handle, count, offset, 0, &fd,
                                             &fd_offset)) == 0) {
        if (transport_pipe_to_file(pipe, fd, fd_offset, count) == 0)
            return 0;
        *err = errno;
        nbdkit_error("pwrite: %m");
        return -1;
    }
    if (*err != ENOTSUP && *err != EOPNOTSUPP)
        return -1;
    buf = malloc(count);
    if (buf == NULL) {
        *err = errno;
        return -1;
    }
    r = transport_pipe_read(pipe, buf, count);
    if (r == -1)
        *err = errno;
    else
        r = plugin_pwrite(c, buf, count, offset, 0, err);
    free(buf);
    return r;
}

static int
plugin_trim(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
            int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);
    uint32_t f = fua_native(c, flags) ? NBDKIT_FLAG_FUA : 0;
    int r;

    if (p->_api_version >= 2 && p->trim)
        r = CALL_DATA(c->b, err, p->trim(c->handle, count, offset, f));
    else if (p->_trim_v1)
        r = CALL_DATA(c->b, err, p->_trim_v1(c->handle, count, offset));
    else {
        *err = EINVAL;
        return -1;
    }
    if (r == -1)
        return -1;
    return plugin_emulate_fua(c, flags, err);
}

/* A shared buffer of zeroes for zero emulation.  calloc of this size maps
 * fresh pages, so it costs no memory until read, and reads stay zero.
 */
#define ZERO_BUF_SIZE (1024 * 1024)
static const void *zero_buf; /* written once under zero_once */
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static void
zero_buffer_alloc(void)
{
    zero_buf = calloc(1, ZERO_BUF_SIZE);
    if (zero_buf == NULL)
        fatal("calloc: %m");
}

static const void *
zero_buffer(void)
{
    pthread_once(&zero_once, zero_buffer_alloc);
    return zero_buf;
}

/* Zero by writing zeroes, in pieces no larger than the shared buffer. */
static int
plugin_zero_by_writing(struct context *c, uint32_t count, uint64_t offset,
                       int *err)
{
    const void *zeroes = zero_buffer();

    while (count > 0) {
        uint32_t n = MIN(count, (uint32_t)ZERO_BUF_SIZE);
        if (plugin_pwrite(c, zeroes, n, offset, 0, err) == -1)
            return -1;
        count -= n;
        offset += n;
    }
    return 0;
}

static int
plugin_zero_native(struct context *c, uint32_t count, uint64_t offset,
                   uint32_t flags, int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);
    uint32_t f = flags & (NBDKIT_FLAG_MAY_TRIM | NBDKIT_FLAG_FAST_ZERO);

    if (fua_native(c, flags))
        f |= NBDKIT_FLAG_FUA;
    if (p->_api_version >= 2 && p->zero)
        return CALL_DATA(c->b, err, p->zero(c->handle, count, offset, f));
    if (flags & NBDKIT_FLAG_FAST_ZERO) {
        /* v1 zero cannot promise to be fast. */
        *err = ENOTSUP;
        return -1;
    }
    return CALL_DATA(c->b, err,
                     p->_zero_v1(c->handle, count, offset,
                                 !!(flags & NBDKIT_FLAG_MAY_TRIM)));
}

static int
plugin_zero(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
            int *err)
{
    bool fast = flags & NBDKIT_FLAG_FAST_ZERO;

    if (c->can_zero == NBDKIT_ZERO_NATIVE) {
        if (plugin_zero_native(c, count, offset, flags, err) == 0)
            return fua_native(c, flags) ? 0 : plugin_emulate_fua(c, flags, err);
        if (fast || (*err != ENOTSUP && *err != EOPNOTSUPP))
            return -1;
    } else if (fast) {
        *err = ENOTSUP;
        return -1;
    }
    /* The plugin cannot zero this range: write zeroes instead. */
    if (plugin_zero_by_writing(c, count, offset, err) == -1)
        return -1;
    if (flags & NBDKIT_FLAG_FUA)
        return plugin_flush(c, 0, err);
    return 0;
}

static int
plugin_extents(struct context *c, uint32_t count, uint64_t offset,
               uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    return CALL_DATA(c->b, err,
                     p->extents(c->handle, count, offset, flags, extents));
}

/* Emulated cache: read the range and throw the data away. */
static int
plugin_cache_by_reading(struct context *c, uint32_t count, uint64_t offset,
                        int *err)
{
    CLEANUP_FREE void *buf = malloc(MIN(count, (uint32_t)ZERO_BUF_SIZE));

    if (buf == NULL) {
        *err = ENOMEM;
        return -1;
    }
    while (count > 0) {
        uint32_t n = MIN(count, (uint32_t)ZERO_BUF_SIZE);
        if (plugin_pread(c, buf, n, offset, 0, err) == -1)
            return -1;
        count -= n;
        offset += n;
    }
    return 0;
}

static int
plugin_cache(struct context *c, uint32_t count, uint64_t offset, uint32_t flags,
             int *err)
{
    struct nbdkit_plugin *p = plugin_of(c->b);

    if (c->can_cache == NBDKIT_CACHE_EMULATE)
        return plugin_cache_by_reading(c, count, offset, err);
    /* Native without a .cache: the data is as cached as it gets (nbdkit's
     * memory plugin says so), and the request does nothing.
     */
    if (p->cache == NULL)
        return 0;
    return CALL_DATA(c->b, err, p->cache(c->handle, count, offset, 0));
}

/* ---- loading ---- */

static void
plugin_check(struct backend_plugin *bp, const char *filename)
{
    struct nbdkit_plugin *p = &bp->plugin;

    if (p->_api_version < 1 || p->_api_version > 2)
        fatal("%s: plugin API version %d is not supported (this server "
              "supports 1 and 2)",
              filename, p->_api_version);
    if (!backend_name_valid(p->name))
        fatal("%s: plugin has a missing or invalid .name", filename);
    if (p->open == NULL)
        fatal("%s: plugin must have an .open callback", filename);
    if (p->get_size == NULL)
        fatal("%s: plugin must have a .get_size callback", filename);
    if (p->_api_version >= 2 ? p->pread == NULL : p->_pread_v1 == NULL)
        fatal("%s: plugin must have a .pread callback", filename);
}

static void
plugin_set_ops(struct backend *b)
{
    b->free = plugin_free;
    b->thread_model = plugin_thread_model;
    b->plugin_name = plugin_name;
    b->usage = plugin_usage;
    b->version = plugin_version;
    b->dump_fields = plugin_dump_fields;
    b->config = plugin_config;
    b->config_complete = plugin_config_complete;
    b->magic_config_key = plugin_magic_config_key;
    b->get_ready = plugin_get_ready;
    b->after_fork = plugin_after_fork;
    b->cleanup = plugin_cleanup;
    b->preconnect = plugin_preconnect;
    b->list_exports = plugin_list_exports;
    b->default_export = plugin_default_export;
    b->open = plugin_open;
    b->prepare = plugin_prepare;
    b->finalize = plugin_finalize;
    b->close = plugin_close;
    b->get_size = plugin_get_size;
    b->export_description = plugin_export_description;
    b->block_size = plugin_block_size;
    b->can_write = plugin_can_write;
    b->can_flush = plugin_can_flush;
    b->is_rotational = plugin_is_rotational;
    b->can_trim = plugin_can_trim;
    b->can_zero = plugin_can_zero;
    b->can_fast_zero = plugin_can_fast_zero;
    b->can_extents = plugin_can_extents;
    b->can_fua = plugin_can_fua;
    b->can_multi_conn = plugin_can_multi_conn;
    b->can_cache = plugin_can_cache;
    b->pread = plugin_pread;
    b->pwrite = plugin_pwrite;
    b->flush = plugin_flush;
    b->trim = plugin_trim;
    b->zero = plugin_zero;
    b->extents = plugin_extents;
    b->cache = plugin_cache;
    b->zc = plugin_zc;
    b->read_iov = plugin_read_iov;
    b->read_iov_end = plugin_read_iov_end;
    b->read_fd = plugin_read_fd;
    b->write_iov = plugin_write_iov;
    b->write_iov_end = plugin_write_iov_end;
    b->write_pipe = plugin_write_pipe;
}

struct backend *
plugin_load(const char *filename, const char *name)
{
    struct nbdkit_plugin *(*init)(void);
    struct nbdkit_plugin *p;
    struct backend_plugin *bp;
    void *dl, *sym;
    size_t size;

    dl = backend_dlopen(filename, name, "plugin", "plugin_init", &sym);
    init = (struct nbdkit_plugin * (*)(void)) sym;
    p = init();
    if (p == NULL)
        fatal("%s: plugin_init returned NULL", filename);

    bp = calloc(1, sizeof *bp);
    if (bp == NULL)
        fatal("calloc: %m");
    /* The _struct_size rule: take what both sides know, NULL the rest. */
    size = MIN(p->_struct_size, (uint64_t)sizeof bp->plugin);
    if (size < offsetof(struct nbdkit_plugin, errno_is_preserved))
        fatal("%s: plugin struct is too small (%" PRIu64 " bytes)", filename,
              p->_struct_size);
    memcpy(&bp->plugin, p, size);
    plugin_check(bp, filename);
    plugin_load_extension(bp, dl, filename);

    backend_init(&bp->backend, NULL, 0, filename, dl, "plugin");
    bp->backend.name = bp->plugin.name;
    plugin_set_ops(&bp->backend);

    threadlocal_set_name(bp->backend.name);
    debug_flags_apply(bp->backend.name, dl);
    debug("registered plugin %s (name %s)", filename, bp->backend.name);
    if (bp->plugin.load)
        bp->plugin.load();
    return &bp->backend;
}
