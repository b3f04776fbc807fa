/* SPDX-License-Identifier: BSD-3-Clause */
/* cc: a plugin written in C (or any language whose compiler makes a
 * shared object), compiled when the server starts, loaded, and called
 * through for every callback (see nbdx-cc-plugin(1)).
 */

#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "shell-quote.h"

#define CC_DEFAULT_CFLAGS "-g -O2 -fPIC -shared"

/* Configuration, set in cc_config and read-only once config_complete
 * has run.  All strings are owned.
 */
static char *script;       /* script=FILE (absolute) or "-" */
static char *cc_cmd;       /* CC=, else $CC, else "cc" */
static char *cflags;       /* CFLAGS=, else CC_DEFAULT_CFLAGS */
static char *extra_cflags; /* EXTRA_CFLAGS=, else "" */

/* The other parameters, in order, kept for the compiled plugin. */
struct cc_param {
    char *key, *value;
};
static struct cc_param *params;
static size_t nr_params;

/* The compiled plugin: its dlopen handle (owned, closed at unload) and
 * a copy of its struct by the _struct_size rule, fields it does not know
 * left NULL.  Set in config_complete, read-only afterwards.
 */
static void *sub_dl;
static struct nbdkit_plugin sub;

static void
cc_unload(void)
{
    size_t i;

    if (sub.unload)
        sub.unload();
    if (sub_dl && getenv("NBDX_VALGRIND") == NULL)
        dlclose(sub_dl);
    for (i = 0; i < nr_params; i++) {
        free(params[i].key);
        free(params[i].value);
    }
    free(params);
    free(script);
    free(cc_cmd);
    free(cflags);
    free(extra_cflags);
}

static void
cc_dump_plugin(void)
{
    const char *env = getenv("CC");

    printf("CC=%s\n", cc_cmd ? cc_cmd : env && *env ? env : "cc");
    printf("CFLAGS=%s\n", cflags ? cflags : CC_DEFAULT_CFLAGS);
}

/* ---- configuration ---- */

static int
cc_set_string(char **dst, const char *value)
{
    free(*dst);
    *dst = strdup(value);
    if (*dst == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

static int
cc_save_param(const char *key, const char *value)
{
    struct cc_param *p = realloc(params, (nr_params + 1) * sizeof *p);

    if (p == NULL) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    params = p;
    p[nr_params].key = strdup(key);
    p[nr_params].value = strdup(value);
    if (p[nr_params].key == NULL || p[nr_params].value == NULL) {
        nbdkit_error("strdup: %m");
        free(p[nr_params].key);
        free(p[nr_params].value);
        return -1;
    }
    nr_params++;
    return 0;
}

/* The source comes first; CC, CFLAGS and EXTRA_CFLAGS are ours wherever
 * they appear after it, and everything else waits for the compiled
 * plugin, which only exists after config_complete.
 */
static int
cc_config(const char *key, const char *value)
{
    if (script == NULL) {
        if (strcmp(key, "script") != 0) {
            nbdkit_error("the first parameter must be the C file or \"-\"");
            return -1;
        }
        if (strcmp(value, "-") == 0)
            return cc_set_string(&script, value);
        script = nbdkit_realpath(value);
        return script == NULL ? -1 : 0;
    }
    if (strcmp(key, "CC") == 0)
        return cc_set_string(&cc_cmd, value);
    if (strcmp(key, "CFLAGS") == 0)
        return cc_set_string(&cflags, value);
    if (strcmp(key, "EXTRA_CFLAGS") == 0)
        return cc_set_string(&extra_cflags, value);
    return cc_save_param(key, value);
}

/* Whether this module is the one in the build tree (CC_BUILD_PLUGINDIR). */
static bool
cc_in_build_tree(void)
{
    Dl_info info;
    CLEANUP_FREE char *self = NULL;
    CLEANUP_FREE char *builddir = realpath(CC_BUILD_PLUGINDIR, NULL);
    char *slash;

    if (dladdr((void *)cc_in_build_tree, &info) && info.dli_fname)
        self = realpath(info.dli_fname, NULL);
    slash = self ? strrchr(self, '/') : NULL;
    if (slash == NULL || builddir == NULL)
        return false;
    *slash = '\0';
    return strcmp(self, builddir) == 0;
}

/* The -I flags for <nbdkit-plugin.h>: from the build tree, the source
 * tree's include/ and the build root, which holds the generated
 * nbdkit-version.h; otherwise the installed include directory, or the
 * source tree again if nothing is installed there (a copy of the module
 * run from elsewhere).
 */
static const char *
cc_include_flags(void)
{
    static const char *const tree = "-I" CC_SRC_INCLUDEDIR " -I" CC_BUILD_ROOT;

    if (cc_in_build_tree())
        return tree;
    if (access(CC_INCLUDEDIR "/nbdkit-plugin.h", R_OK) == -1 &&
        access(CC_SRC_INCLUDEDIR "/nbdkit-plugin.h", R_OK) == 0)
        return tree;
    return "-I" CC_INCLUDEDIR;
}

/* script=- : copy stdin into DIR/stdin.c, returned (owned). */
static char *
cc_copy_stdin(const char *dir)
{
    char *path;
    char buf[65536];
    ssize_t r = 0;
    int fd;

    if (!nbdkit_stdio_safe()) {
        nbdkit_error("script=-: stdin is not available (-s or --single?)");
        return NULL;
    }
    if (asprintf(&path, "%s/stdin.c", dir) == -1) {
        nbdkit_error("asprintf: %m");
        return NULL;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        nbdkit_error("open: %s: %m", path);
        free(path);
        return NULL;
    }
    while ((r = read(0, buf, sizeof buf)) > 0)
        if (write(fd, buf, r) != r) {
            r = -1;
            break;
        }
    if (close(fd) == -1 || r != 0) {
        nbdkit_error("%s: copying the source from stdin failed", path);
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

/* The shell command compiling src into out: CC and the flags are split
 * by the shell, as make would; the two paths are quoted.  Owned.
 */
static char *
cc_command(const char *src, const char *out)
{
    const char *env = getenv("CC");
    const char *compiler = cc_cmd ? cc_cmd : env && *env ? env : "cc";
    CLEANUP_FREE char *qsrc = shell_quote(src);
    CLEANUP_FREE char *qout = shell_quote(out);
    char *cmd;

    if (qsrc == NULL || qout == NULL) {
        nbdkit_error("shell_quote: %m");
        return NULL;
    }
    if (asprintf(&cmd, "%s %s %s %s %s -o %s", compiler,
                 cflags ? cflags : CC_DEFAULT_CFLAGS,
                 extra_cflags ? extra_cflags : "", cc_include_flags(), qsrc,
                 qout) == -1) {
        nbdkit_error("asprintf: %m");
        return NULL;
    }
    return cmd;
}

/* Runs the compiler; its messages go straight to our stderr. */
static int
cc_compile(const char *src, const char *out)
{
    CLEANUP_FREE char *cmd = cc_command(src, out);
    int status;

    if (cmd == NULL)
        return -1;
    nbdkit_debug("%s", cmd);
    fflush(stderr);
    status = system(cmd);
    if (status == -1) {
        nbdkit_error("running the compiler: %m");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        nbdkit_error("compiling %s failed: compiler exited with "
                     "status %d",
                     src, WEXITSTATUS(status));
    else
        nbdkit_error("compiling %s failed: compiler killed by signal %d", src,
                     WTERMSIG(status));
    return -1;
}

/* dlopen the compiled module and take its plugin struct. */
static int
cc_load_module(const char *so)
{
    struct nbdkit_plugin *(*init)(void);
    struct nbdkit_plugin *p;

    sub_dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (sub_dl == NULL) {
        nbdkit_error("dlopen: %s", dlerror());
        return -1;
    }
    init = (struct nbdkit_plugin * (*)(void)) dlsym(sub_dl, "plugin_init");
    if (init == NULL) {
        nbdkit_error("the compiled plugin has no plugin_init (missing "
                     "NBDKIT_REGISTER_PLUGIN?)");
        return -1;
    }
    p = init();
    if (p == NULL) {
        nbdkit_error("plugin_init returned NULL");
        return -1;
    }
    memcpy(&sub, p,
           p->_struct_size < sizeof sub ? p->_struct_size : sizeof sub);
    return 0;
}

/* What the server would refuse in a plugin of its own. */
static int
cc_check_module(void)
{
    if (sub._api_version != NBDKIT_API_VERSION) {
        nbdkit_error("the compiled plugin uses API version %d; define "
                     "NBDKIT_API_VERSION 2 before including <nbdkit-plugin.h>",
                     sub._api_version);
        return -1;
    }
    if (sub.open == NULL || sub.get_size == NULL || sub.pread == NULL) {
        nbdkit_error("the compiled plugin must have .open, .get_size "
                     "and .pread");
        return -1;
    }
    nbdkit_debug("loaded plugin %s", sub.name ? sub.name : "(unnamed)");
    if (sub.load)
        sub.load();
    return 0;
}

/* Compile into a private directory, load, and remove the files: the
 * mapping outlives them.
 */
static int
cc_build(void)
{
    char dir[] = "/tmp/nbdxccXXXXXX";
    CLEANUP_FREE char *src = NULL;
    CLEANUP_FREE char *so = NULL;
    int r = -1;

    if (mkdtemp(dir) == NULL) {
        nbdkit_error("mkdtemp: %m");
        return -1;
    }
    if (asprintf(&so, "%s/plugin.so", dir) == -1) {
        nbdkit_error("asprintf: %m");
        so = NULL;
        goto out;
    }
    src = strcmp(script, "-") == 0 ? cc_copy_stdin(dir) : strdup(script);
    if (src == NULL)
        goto out;
    if (cc_compile(src, so) == 0 && cc_load_module(so) == 0)
        r = cc_check_module();
out:
    if (so)
        unlink(so);
    if (src && strcmp(script, "-") == 0)
        unlink(src);
    rmdir(dir);
    return r;
}

/* A bare parameter after the source reaches us as script=VALUE: it is
 * the compiled plugin's magic key if it has one.
 */
static int
cc_replay_params(void)
{
    size_t i;
    const char *key;

    for (i = 0; i < nr_params; i++) {
        key = params[i].key;
        if (strcmp(key, "script") == 0 && sub.magic_config_key)
            key = sub.magic_config_key;
        if (sub.config == NULL) {
            nbdkit_error("unknown parameter '%s'", key);
            return -1;
        }
        if (sub.config(key, params[i].value) == -1)
            return -1;
    }
    return 0;
}

static int
cc_config_complete(void)
{
    if (script == NULL) {
        nbdkit_error("the C file (script=FILE, or - for stdin) is required");
        return -1;
    }
    if (cc_build() == -1 || cc_replay_params() == -1)
        return -1;
    return sub.config_complete ? sub.config_complete() : 0;
}

#define cc_config_help                                                         \
    "[script=]FILE|-      (required) The C source of the plugin.\n"            \
    "CC=COMPILER          The compiler (default $CC or cc).\n"                 \
    "CFLAGS=FLAGS         Replace the flags (default " CC_DEFAULT_CFLAGS       \
    ").\n"                                                                     \
    "EXTRA_CFLAGS=FLAGS   Flags added after CFLAGS.\n"                         \
    "Other parameters are passed to the compiled plugin."

/* ---- lifecycle: the compiled plugin's, or nbdkit's defaults ---- */

/* Copies errno to the server for a plugin that promises to keep it. */
static int
cc_result(int r)
{
    if (r == -1 && sub.errno_is_preserved && errno)
        nbdkit_set_error(errno);
    return r;
}

static int
cc_thread_model(void)
{
    int model = sub._thread_model;
    int r;

    if (sub.thread_model) {
        r = sub.thread_model();
        if (r == -1)
            return -1;
        if (r < model)
            model = r;
    }
    return model;
}

static int
cc_get_ready(void)
{
    return sub.get_ready ? sub.get_ready() : 0;
}

static int
cc_after_fork(void)
{
    return sub.after_fork ? sub.after_fork() : 0;
}

static void
cc_cleanup(void)
{
    if (sub.cleanup)
        sub.cleanup();
}

static int
cc_preconnect(int readonly)
{
    return sub.preconnect ? sub.preconnect(readonly) : 0;
}

static int
cc_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    if (sub.list_exports == NULL)
        return nbdkit_use_default_export(exports);
    return sub.list_exports(readonly, is_tls, exports);
}

static const char *
cc_default_export(int readonly, int is_tls)
{
    return sub.default_export ? sub.default_export(readonly, is_tls) : "";
}

/* ---- per connection ---- */

static void *
cc_open(int readonly)
{
    return sub.open(readonly);
}

static void
cc_close(void *handle)
{
    if (sub.close)
        sub.close(handle);
}

static const char *
cc_export_description(void *handle)
{
    return sub.export_description ? sub.export_description(handle) : NULL;
}

static int64_t
cc_get_size(void *handle)
{
    int64_t r = sub.get_size(handle);

    if (r == -1)
        cc_result(-1);
    return r;
}

static int
cc_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
              uint32_t *maximum)
{
    if (sub.block_size == NULL) {
        *minimum = *preferred = *maximum = 0;
        return 0;
    }
    return sub.block_size(handle, minimum, preferred, maximum);
}

/* A can_* callback of the compiled plugin, or the server's default. */
#define CC_CAN(field, dflt)                                                    \
    static int cc_##field(void *handle)                                        \
    {                                                                          \
        return sub.field ? sub.field(handle) : (dflt);                         \
    }

CC_CAN(can_write, sub.pwrite != NULL)
CC_CAN(can_flush, sub.flush != NULL)
CC_CAN(is_rotational, 0)
CC_CAN(can_trim, sub.trim != NULL)
CC_CAN(can_multi_conn, 0)
CC_CAN(can_cache, sub.cache ? NBDKIT_CACHE_NATIVE : NBDKIT_CACHE_NONE)
/* EMULATE becomes NONE in the server when we cannot flush. */
CC_CAN(can_fua, NBDKIT_FUA_EMULATE)

/* True only for a native zero: otherwise the server writes zeroes. */
static int
cc_can_zero(void *handle)
{
    if (sub.zero == NULL)
        return 0;
    return sub.can_zero ? sub.can_zero(handle) : 1;
}

/* Without a native zero, fast zeroes fail at once, as the server's
 * default does.
 */
static int
cc_can_fast_zero(void *handle)
{
    int z;

    if (sub.can_fast_zero)
        return sub.can_fast_zero(handle);
    z = cc_can_zero(handle);
    return z == -1 ? -1 : !z;
}

static int
cc_can_extents(void *handle)
{
    if (sub.extents == NULL)
        return 0;
    return sub.can_extents ? sub.can_extents(handle) : 1;
}

/* ---- data ---- */

static int
cc_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
         uint32_t flags)
{
    return cc_result(sub.pread(handle, buf, count, offset, flags));
}

/* The server only calls the data callbacks below when the matching can_*
 * said yes, so a missing one is a caller's mistake.
 */
static int
cc_missing(int err)
{
    nbdkit_set_error(err);
    return -1;
}

static int
cc_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    if (sub.pwrite == NULL)
        return cc_missing(EROFS);
    return cc_result(sub.pwrite(handle, buf, count, offset, flags));
}

static int
cc_flush(void *handle, uint32_t flags)
{
    if (sub.flush == NULL)
        return cc_missing(EINVAL);
    return cc_result(sub.flush(handle, flags));
}

static int
cc_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    if (sub.trim == NULL)
        return cc_missing(EINVAL);
    return cc_result(sub.trim(handle, count, offset, flags));
}

static int
cc_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    if (sub.zero == NULL)
        return cc_missing(ENOTSUP);
    return cc_result(sub.zero(handle, count, offset, flags));
}

static int
cc_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
           struct nbdkit_extents *extents)
{
    if (sub.extents == NULL)
        return cc_missing(EINVAL);
    return cc_result(sub.extents(handle, count, offset, flags, extents));
}

static int
cc_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    if (sub.cache == NULL)
        return 0;
    return cc_result(sub.cache(handle, count, offset, flags));
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "cc",
    .longname = "nbdx C compiler plugin",
    .version = PACKAGE_VERSION,
    .unload = cc_unload,
    .dump_plugin = cc_dump_plugin,
    .config = cc_config,
    .config_complete = cc_config_complete,
    .config_help = cc_config_help,
    .magic_config_key = "script",
    .thread_model = cc_thread_model,
    .get_ready = cc_get_ready,
    .after_fork = cc_after_fork,
    .cleanup = cc_cleanup,
    .preconnect = cc_preconnect,
    .list_exports = cc_list_exports,
    .default_export = cc_default_export,
    .open = cc_open,
    .close = cc_close,
    .export_description = cc_export_description,
    .get_size = cc_get_size,
    .block_size = cc_block_size,
    .can_write = cc_can_write,
    .can_flush = cc_can_flush,
    .is_rotational = cc_is_rotational,
    .can_trim = cc_can_trim,
    .can_zero = cc_can_zero,
    .can_fast_zero = cc_can_fast_zero,
    .can_fua = cc_can_fua,
    .can_multi_conn = cc_can_multi_conn,
    .can_extents = cc_can_extents,
    .can_cache = cc_can_cache,
    .pread = cc_pread,
    .pwrite = cc_pwrite,
    .flush = cc_flush,
    .trim = cc_trim,
    .zero = cc_zero,
    .extents = cc_extents,
    .cache = cc_cache,
};

NBDKIT_REGISTER_PLUGIN(plugin)
