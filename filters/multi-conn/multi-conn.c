/* SPDX-License-Identifier: BSD-3-Clause */
/* multi-conn.c: advertise, hide or emulate NBD_FLAG_CAN_MULTI_CONN.
 *
 * In emulate mode a flush on one connection is repeated on every other
 * open connection (of the same export with multi-conn-exportname=true),
 * so a client may treat the connections as one.  Dirty tracking skips
 * flushes that cannot matter.
 *
 * conns, every handle's dirty bits and any_dirty are guarded by lock,
 * which is also held while a flush is repeated on other connections, so
 * none of them can close meanwhile.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "vector.h"

enum mode { MODE_AUTO, MODE_EMULATE, MODE_PLUGIN, MODE_DISABLE, MODE_UNSAFE };
enum track { TRACK_FAST, TRACK_CONNECTION, TRACK_OFF };

static enum mode mode = MODE_AUTO;          /* multi-conn-mode= */
static enum track track = TRACK_CONNECTION; /* multi-conn-track-dirty= */
static bool by_exportname;                  /* multi-conn-exportname= */
static int thread_model;                    /* from get_ready */

struct handle {
    nbdkit_next *next; /* set in prepare, NULL once finalized */
    const char *name;  /* export name, interned */
    enum mode mode;    /* mode with auto resolved, set in prepare */
    bool dirty_write;  /* written since its last flush */
    bool dirty_read;   /* read since a flush elsewhere */
};

DEFINE_VECTOR_TYPE(handle_list, struct handle *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static handle_list conns = empty_vector; /* prepared connections */
static bool any_dirty;                   /* for track-dirty=fast */

static int
mc_lookup(const char *value, const char *const *names, size_t n,
          const char *key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0)
            return (int)i;
    nbdkit_error("%s: unknown value '%s'", key, value);
    return -1;
}

static int
mc_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
          const char *value)
{
    static const char *const modes[] = {"auto", "emulate", "plugin", "disable",
                                        "unsafe"};
    static const char *const tracks[] = {"fast", "connection", "off"};
    int r;

    if (strcmp(key, "multi-conn-mode") == 0) {
        r = mc_lookup(value, modes, 5, key);
        if (r == -1)
            return -1;
        mode = (enum mode)r;
        return 0;
    }
    if (strcmp(key, "multi-conn-track-dirty") == 0) {
        r = mc_lookup(value, tracks, 3, key);
        if (r == -1)
            return -1;
        track = (enum track)r;
        return 0;
    }
    if (strcmp(key, "multi-conn-exportname") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        by_exportname = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define mc_config_help                                                         \
    "multi-conn-mode=<MODE>        'auto' (default), 'emulate', 'plugin',\n"   \
    "                              'disable' or 'unsafe'.\n"                   \
    "multi-conn-track-dirty=<LVL>  'connection' (default), 'fast' or 'off'.\n" \
    "multi-conn-exportname=<BOOL>  Emulate only among connections to the\n"    \
    "                              same export (default false)."

static int
mc_get_ready(int model)
{
    thread_model = model;
    return 0;
}

static void
mc_unload(void)
{
    free(conns.ptr);
}

static void *
mc_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
        const char *exportname, int is_tls)
{
    struct handle *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->name = nbdkit_strdup_intern(exportname);
    if (h->name == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

static void
mc_close(void *handle)
{
    free(handle);
}

/* The mode of a connection, auto resolved against the layer below. */
static int
mc_resolve(nbdkit_next *next, enum mode *out)
{
    int r;

    if (mode != MODE_AUTO) {
        *out = mode;
        return 0;
    }
    if (thread_model == NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS) {
        *out = MODE_DISABLE;
        return 0;
    }
    r = next->can_multi_conn(next);
    if (r == -1)
        return -1;
    *out = r ? MODE_PLUGIN : MODE_EMULATE;
    return 0;
}

static int
mc_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct handle *h = handle;
    int r;

    if (mc_resolve(next, &h->mode) == -1)
        return -1;
    if (h->mode == MODE_EMULATE) {
        r = next->can_flush(next);
        if (r == -1)
            return -1;
        if (r == 0) {
            nbdkit_error("emulating multi-conn requires working flush");
            return -1;
        }
    }
    h->next = next;
    pthread_mutex_lock(&lock);
    r = handle_list_append(&conns, h);
    pthread_mutex_unlock(&lock);
    if (r == -1) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    return 0;
}

static int
mc_finalize(nbdkit_next *next, void *handle)
{
    struct handle *h = handle;
    size_t i;

    pthread_mutex_lock(&lock);
    for (i = 0; i < conns.len; i++) {
        if (conns.ptr[i] == h) {
            conns.ptr[i] = conns.ptr[--conns.len];
            break;
        }
    }
    h->next = NULL;
    pthread_mutex_unlock(&lock);
    return 0;
}

static int
mc_can_multi_conn(nbdkit_next *next, void *handle)
{
    struct handle *h = handle;

    switch (h->mode) {
    case MODE_EMULATE:
    case MODE_UNSAFE:
        return 1;
    case MODE_DISABLE:
        return 0;
    default:
        return next->can_multi_conn(next);
    }
}

/* Whether this filter changes flushes on h at all. */
static bool
mc_tracks(const struct handle *h)
{
    return h->mode == MODE_EMULATE || h->mode == MODE_PLUGIN;
}

static void
mc_mark(struct handle *h, bool write)
{
    if (!mc_tracks(h))
        return;
    pthread_mutex_lock(&lock);
    if (write) {
        h->dirty_write = true;
        any_dirty = true;
    } else
        h->dirty_read = true;
    pthread_mutex_unlock(&lock);
}

/* Flush o if tracking says it may need it; call with lock held. */
static int
mc_flush_one(struct handle *o, uint32_t flags, int *err)
{
    if (track == TRACK_CONNECTION && !o->dirty_write && !o->dirty_read)
        return 0;
    if (o->next->flush(o->next, flags, err) == -1)
        return -1;
    o->dirty_write = o->dirty_read = false;
    return 0;
}

/* A flush on h: in emulate mode on every connection that shares its
 * data, else on h alone.
 */
static int
mc_flush_all(struct handle *h, uint32_t flags, int *err)
{
    size_t i;
    int r = 0;

    pthread_mutex_lock(&lock);
    if (track == TRACK_FAST && !any_dirty)
        goto out;
    if (h->mode != MODE_EMULATE)
        r = mc_flush_one(h, flags, err);
    else {
        for (i = 0; r == 0 && i < conns.len; i++) {
            struct handle *o = conns.ptr[i];
            if (by_exportname && strcmp(o->name, h->name) != 0)
                continue;
            r = mc_flush_one(o, flags, err);
        }
    }
    if (r == 0 && track == TRACK_FAST) {
        any_dirty = false;
        for (i = 0; i < conns.len; i++)
            conns.ptr[i]->dirty_write = conns.ptr[i]->dirty_read = false;
    }
out:
    pthread_mutex_unlock(&lock);
    return r;
}

static int
mc_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    struct handle *h = handle;

    if (!mc_tracks(h))
        return next->flush(next, flags, err);
    return mc_flush_all(h, flags, err);
}

/* After a write with FUA in emulate mode, the flush goes everywhere. */
static int
mc_after_write(struct handle *h, uint32_t flags, int *err)
{
    mc_mark(h, true);
    if (h->mode == MODE_EMULATE && (flags & NBDKIT_FLAG_FUA))
        return mc_flush_all(h, 0, err);
    return 0;
}

static uint32_t
mc_write_flags(const struct handle *h, uint32_t flags)
{
    return h->mode == MODE_EMULATE ? flags & ~NBDKIT_FLAG_FUA : flags;
}

static int
mc_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
         uint64_t offset, uint32_t flags, int *err)
{
    mc_mark(handle, false);
    return next->pread(next, buf, count, offset, flags, err);
}

static int
mc_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
          uint64_t offset, uint32_t flags, int *err)
{
    if (next->pwrite(next, buf, count, offset, mc_write_flags(handle, flags),
                     err) == -1)
        return -1;
    return mc_after_write(handle, flags, err);
}

static int
mc_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
        uint32_t flags, int *err)
{
    if (next->zero(next, count, offset, mc_write_flags(handle, flags), err) ==
        -1)
        return -1;
    return mc_after_write(handle, flags, err);
}

static int
mc_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
        uint32_t flags, int *err)
{
    if (next->trim(next, count, offset, mc_write_flags(handle, flags), err) ==
        -1)
        return -1;
    return mc_after_write(handle, flags, err);
}

static int
mc_can_fua(nbdkit_next *next, void *handle)
{
    struct handle *h = handle;

    /* Emulated FUA is a flush, which emulate mode always has. */
    if (h->mode == MODE_EMULATE)
        return NBDKIT_FUA_EMULATE;
    return next->can_fua(next);
}

static struct nbdkit_filter filter = {
    .name = "multi-conn",
    .longname = "nbdx multi-conn filter",
    .unload = mc_unload,
    .config = mc_config,
    .config_help = mc_config_help,
    .get_ready = mc_get_ready,
    .open = mc_open,
    .close = mc_close,
    .prepare = mc_prepare,
    .finalize = mc_finalize,
    .can_multi_conn = mc_can_multi_conn,
    .can_fua = mc_can_fua,
    .pread = mc_pread,
    .pwrite = mc_pwrite,
    .zero = mc_zero,
    .trim = mc_trim,
    .flush = mc_flush,
};

NBDKIT_REGISTER_FILTER(filter)
