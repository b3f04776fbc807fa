/* SPDX-License-Identifier: BSD-3-Clause */
/* plugin-v2.c: a RAM disk written to the current plugin API
 * (NBDKIT_API_VERSION 2) using most of its callbacks: flags on the data
 * path, native FUA, fast zero, extents, export lists and descriptions,
 * and the whole lifecycle (load ... get_ready, after_fork, preconnect,
 * open, close, cleanup, unload).
 *
 * Callbacks append lines to the file named by log=, which plugin-v2.sh
 * checks.  The plugin also keeps the key and value pointers it was given
 * by .config without copying them, as nbdkit's ABI allows ("valid for the
 * lifetime of the plugin"), and checks them again later.  Extents: the first half of the disk is data, the second half
 * a hole that reads as zeroes.
 */

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static int64_t size = 1048576; /* size=SIZE */
static char *logname;          /* log=FILE, required */
static unsigned char *disk;    /* shared by all exports */

/* The .config strings as passed (not copied), and private copies. */
#define MAX_PARAMS 8
static struct {
    const char *key, *value;
    char *key_copy, *value_copy;
} params[MAX_PARAMS];
static size_t nparams;

static void
v2_log(const char *fs, ...) ATTRIBUTE_FORMAT_PRINTF(1, 2);

static void
v2_log(const char *fs, ...)
{
    FILE *fp = fopen(logname, "a");
    va_list args;

    if (fp == NULL)
        return;
    va_start(args, fs);
    vfprintf(fp, fs, args);
    va_end(args);
    fputc('\n', fp);
    fclose(fp);
}

/* 1 if the server's .config strings still hold what they held. */
static int
v2_config_strings_valid(void)
{
    size_t i;

    for (i = 0; i < nparams; i++)
        if (strcmp(params[i].key, params[i].key_copy) != 0 ||
            strcmp(params[i].value, params[i].value_copy) != 0)
            return 0;
    return 1;
}

static void
v2_load(void)
{
    /* Nothing to log to yet: log= is not parsed. */
}

static int
v2_config(const char *key, const char *value)
{
    if (nparams < MAX_PARAMS) {
        params[nparams].key = key;
        params[nparams].value = value;
        params[nparams].key_copy = strdup(key);
        params[nparams].value_copy = strdup(value);
        if (!params[nparams].key_copy || !params[nparams].value_copy) {
            nbdkit_error("strdup: %m");
            return -1;
        }
        nparams++;
    }
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(key, "log") == 0) {
        logname = nbdkit_absolute_path(value);
        return logname == NULL ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
v2_config_complete(void)
{
    if (logname == NULL) {
        nbdkit_error("log=FILE is required");
        return -1;
    }
    disk = calloc(1, (size_t)size);
    if (disk == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    v2_log("config_complete");
    v2_log("config strings valid=%d", v2_config_strings_valid());
    return 0;
}

static int
v2_thread_model(void)
{
    return NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS;
}

static int
v2_get_ready(void)
{
    v2_log("get_ready");
    return 0;
}

static int
v2_after_fork(void)
{
    v2_log("after_fork");
    return 0;
}

static void
v2_cleanup(void)
{
    v2_log("cleanup");
}

static void
v2_unload(void)
{
    size_t i;

    if (logname) {
        v2_log("config strings at unload valid=%d",
               v2_config_strings_valid());
        v2_log("unload");
    }
    for (i = 0; i < nparams; i++) {
        free(params[i].key_copy);
        free(params[i].value_copy);
    }
    free(disk);
    free(logname);
}

static int
v2_preconnect(int readonly)
{
    v2_log("preconnect");
    return 0;
}

static int
v2_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    if (nbdkit_add_export(exports, "alpha", "the first export") == -1 ||
        nbdkit_add_export(exports, "beta", NULL) == -1)
        return -1;
    return 0;
}

static const char *
v2_default_export(int readonly, int is_tls)
{
    return "alpha";
}

struct handle {
    const char *name; /* interned: lives as long as the connection */
};

static void *
v2_open(int readonly)
{
    struct handle *h = malloc(sizeof *h);

    if (h == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    h->name = nbdkit_strdup_intern(nbdkit_export_name());
    if (h->name == NULL) {
        free(h);
        return NULL;
    }
    v2_log("open export=%s", h->name);
    return h;
}

static void
v2_close(void *handle)
{
    v2_log("close");
    free(handle);
}

static const char *
v2_export_description(void *handle)
{
    struct handle *h = handle;

    return nbdkit_printf_intern("v2 export %s", h->name);
}

static int64_t
v2_get_size(void *handle)
{
    return size;
}

static int
v2_can_write(void *handle)
{
    return 1;
}

static int
v2_can_flush(void *handle)
{
    return 1;
}

static int
v2_can_trim(void *handle)
{
    return 1;
}

static int
v2_can_zero(void *handle)
{
    return 1;
}

static int
v2_can_fast_zero(void *handle)
{
    return 1;
}

static int
v2_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
v2_can_multi_conn(void *handle)
{
    return 1;
}

static int
v2_can_extents(void *handle)
{
    return 1;
}

static int
v2_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
         uint32_t flags)
{
    if (flags != 0) {
        nbdkit_error("pread: unexpected flags %" PRIu32, flags);
        nbdkit_set_error(EINVAL);
        return -1;
    }
    memcpy(buf, disk + offset, count);
    return 0;
}

static int
v2_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    v2_log("pwrite %" PRIu32 " %" PRIu64 " fua=%d", count, offset,
           !!(flags & NBDKIT_FLAG_FUA));
    memcpy(disk + offset, buf, count);
    return 0;
}

static int
v2_flush(void *handle, uint32_t flags)
{
    v2_log("flush");
    return 0;
}

static int
v2_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    v2_log("trim %" PRIu32 " %" PRIu64 " fua=%d", count, offset,
           !!(flags & NBDKIT_FLAG_FUA));
    memset(disk + offset, 0, count);
    return 0;
}

static int
v2_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    v2_log("zero %" PRIu32 " %" PRIu64 " may_trim=%d fast=%d fua=%d", count,
           offset, !!(flags & NBDKIT_FLAG_MAY_TRIM),
           !!(flags & NBDKIT_FLAG_FAST_ZERO), !!(flags & NBDKIT_FLAG_FUA));
    memset(disk + offset, 0, count);
    return 0;
}

static int
v2_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
           struct nbdkit_extents *extents)
{
    uint64_t half = (uint64_t)size / 2;

    if (nbdkit_add_extent(extents, 0, half, 0) == -1)
        return -1;
    return nbdkit_add_extent(extents, half, (uint64_t)size - half,
                             NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
}

static struct nbdkit_plugin plugin = {
    .name = "abiv2",
    .longname = "nbdx ABI test plugin, API version 2",
    .version = "2.0",
    .load = v2_load,
    .unload = v2_unload,
    .config = v2_config,
    .config_complete = v2_config_complete,
    .config_help = "size=<SIZE> log=<FILE>",
    .thread_model = v2_thread_model,
    .get_ready = v2_get_ready,
    .after_fork = v2_after_fork,
    .cleanup = v2_cleanup,
    .preconnect = v2_preconnect,
    .list_exports = v2_list_exports,
    .default_export = v2_default_export,
    .open = v2_open,
    .close = v2_close,
    .export_description = v2_export_description,
    .get_size = v2_get_size,
    .can_write = v2_can_write,
    .can_flush = v2_can_flush,
    .can_trim = v2_can_trim,
    .can_zero = v2_can_zero,
    .can_fast_zero = v2_can_fast_zero,
    .can_fua = v2_can_fua,
    .can_multi_conn = v2_can_multi_conn,
    .can_extents = v2_can_extents,
    .pread = v2_pread,
    .pwrite = v2_pwrite,
    .flush = v2_flush,
    .trim = v2_trim,
    .zero = v2_zero,
    .extents = v2_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
