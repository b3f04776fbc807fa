/* SPDX-License-Identifier: BSD-3-Clause */
/* eval: the sh plugin with each method's script given on the command
 * line as METHOD='shell code' (see nbdx-eval-plugin(1)).  Each one is
 * saved as the executable file $tmpdir/METHOD and run as the sh plugin
 * runs its script; the callbacks are the sh plugin's methods.c.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "../sh/methods.h"

/* The methods that may be given, "missing" standing for all others. */
static const char *const eval_methods[] = {
    "after_fork",     "block_size",    "cache",
    "can_cache",      "can_extents",   "can_fast_zero",
    "can_flush",      "can_fua",       "can_multi_conn",
    "can_trim",       "can_write",     "can_zero",
    "close",          "config",        "config_complete",
    "default_export", "dump_plugin",   "export_description",
    "extents",        "flush",         "get_ready",
    "get_size",       "is_rotational", "list_exports",
    "missing",        "open",          "pread",
    "preconnect",     "pwrite",        "thread_model",
    "trim",           "unload",        "zero",
};
#define EVAL_N (sizeof eval_methods / sizeof eval_methods[0])

/* $tmpdir/METHOD for each method given, else NULL; owned, set during
 * configuration and read-only afterwards.
 */
static char *eval_paths[EVAL_N];

/* The index of METHOD in eval_methods, or -1. */
static int
eval_index(const char *method)
{
    size_t i;

    for (i = 0; i < EVAL_N; i++)
        if (strcmp(eval_methods[i], method) == 0)
            return i;
    return -1;
}

/* A method not given runs missing= if there is one; without it, it is
 * missing without running anything.
 */
const char *
sh_script(const char *method)
{
    int i = eval_index(method);

    if (i >= 0 && eval_paths[i])
        return eval_paths[i];
    return eval_paths[eval_index("missing")];
}

static void
eval_unload(void)
{
    static const char *const noargs[] = {NULL};
    size_t i;

    sh_run("unload", noargs, NULL, 0, NULL, NULL);
    sh_tmpdir_remove();
    for (i = 0; i < EVAL_N; i++)
        free(eval_paths[i]);
}

/* Save CODE as the script of method I; 0, or -1 after nbdkit_error. */
static int
eval_save(int i, const char *code)
{
    char *path;
    size_t len = strlen(code);
    int fd;

    if (asprintf(&path, "%s/%s", sh_tmpdir, eval_methods[i]) == -1) {
        nbdkit_error("asprintf: %m");
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (fd == -1) {
        nbdkit_error("open: %s: %m", path);
        free(path);
        return -1;
    }
    if (write(fd, code, len) != (ssize_t)len) {
        nbdkit_error("write: %s: %m", path);
        close(fd);
        free(path);
        return -1;
    }
    if (close(fd) == -1) {
        nbdkit_error("close: %s: %m", path);
        free(path);
        return -1;
    }
    eval_paths[i] = path;
    return 0;
}

static int
eval_config_param(const char *key, const char *value)
{
    const char *args[] = {key, value, NULL};
    int i = eval_index(key);
    enum call_status st;

    if (sh_tmpdir[0] == '\0' && sh_tmpdir_make() == -1)
        return -1;
    if (i >= 0) {
        if (eval_paths[i]) {
            nbdkit_error("%s= given more than once", key);
            return -1;
        }
        return eval_save(i, value);
    }
    /* Any other key is for the config script. */
    st = sh_run("config", args, NULL, 0, NULL, NULL);
    if (st == CALL_MISSING) {
        nbdkit_error("unknown parameter '%s', and no config script to "
                     "take it",
                     key);
        return -1;
    }
    return sh_expect_ok("config", st, false);
}

/* The server exits without unloading when configuration fails, so the
 * temporary directory goes then.
 */
static int
eval_config(const char *key, const char *value)
{
    if (eval_config_param(key, value) == -1) {
        sh_tmpdir_remove();
        return -1;
    }
    return 0;
}

/* As for a C plugin, a data method given without its can_* method is
 * supported: the can_* script says yes.
 */
static int
eval_imply(const char *method, const char *can)
{
    int i = eval_index(can);

    if (eval_paths[eval_index(method)] == NULL || eval_paths[i] != NULL)
        return 0;
    return eval_save(i, "exit 0\n");
}

static int
eval_config_complete(void)
{
    static const char *const noargs[] = {NULL};

    if (eval_imply("pwrite", "can_write") == -1 ||
        eval_imply("flush", "can_flush") == -1 ||
        eval_imply("trim", "can_trim") == -1 ||
        eval_imply("zero", "can_zero") == -1 ||
        eval_imply("extents", "can_extents") == -1 ||
        sh_expect_ok("config_complete",
                     sh_run("config_complete", noargs, NULL, 0, NULL, NULL),
                     true) == -1) {
        sh_tmpdir_remove();
        return -1;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "eval",
    .longname = "nbdx eval plugin",
    .version = PACKAGE_VERSION,
    .description = "A plugin made of shell code on the command line.",
    .unload = eval_unload,
    .config = eval_config,
    .config_complete = eval_config_complete,
    .config_help =
        "after_fork=<SCRIPT>\nblock_size=<SCRIPT>\ncache=<SCRIPT>\n"
        "can_cache=<SCRIPT>\ncan_extents=<SCRIPT>\ncan_fast_zero=<SCRIPT>\n"
        "can_flush=<SCRIPT>\ncan_fua=<SCRIPT>\ncan_multi_conn=<SCRIPT>\n"
        "can_trim=<SCRIPT>\ncan_write=<SCRIPT>\ncan_zero=<SCRIPT>\n"
        "close=<SCRIPT>\nconfig=<SCRIPT>\nconfig_complete=<SCRIPT>\n"
        "default_export=<SCRIPT>\ndump_plugin=<SCRIPT>\n"
        "export_description=<SCRIPT>\nextents=<SCRIPT>\nflush=<SCRIPT>\n"
        "get_ready=<SCRIPT>\nget_size=<SCRIPT>\nis_rotational=<SCRIPT>\n"
        "list_exports=<SCRIPT>\nmissing=<SCRIPT>\nopen=<SCRIPT>\n"
        "pread=<SCRIPT>\npreconnect=<SCRIPT>\npwrite=<SCRIPT>\n"
        "thread_model=<SCRIPT>\ntrim=<SCRIPT>\nunload=<SCRIPT>\n"
        "zero=<SCRIPT>\n"
        "  Shell code run for each method (see nbdx-sh-plugin(1)).",
    SH_METHOD_CALLBACKS,
};

NBDKIT_REGISTER_PLUGIN(plugin)
