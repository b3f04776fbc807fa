/* SPDX-License-Identifier: BSD-3-Clause */
/* sh: a plugin written as a script or any other program, run once per
 * method with the method's name and arguments (see nbdx-sh-plugin(1)).
 * The callbacks themselves are in methods.c, shared with eval.
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
#include "methods.h"
#include "shebang.h"

static char *script;    /* script=, an absolute path, owned */
static char *magic_key; /* what the script's magic_config_key printed */

const char *
sh_script(const char *method)
{
    return script;
}

/* The script's unload method runs first; errors are ignored. */
static void
sh_unload(void)
{
    static const char *const noargs[] = {NULL};

    if (script)
        sh_run("unload", noargs, NULL, 0, NULL, NULL);
    sh_tmpdir_remove();
    free(script);
    free(magic_key);
}

/* script=- : copy the script from stdin into $tmpdir, executable. */
static char *
sh_inline_script(void)
{
    char *path;
    char buf[65536];
    ssize_t r;
    int fd;

    if (!nbdkit_stdio_safe()) {
        nbdkit_error("script=-: stdin is not available (-s or --single?)");
        return NULL;
    }
    if (asprintf(&path, "%s/inline-script.sh", sh_tmpdir) == -1) {
        nbdkit_error("asprintf: %m");
        return NULL;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (fd == -1) {
        nbdkit_error("open: %s: %m", path);
        free(path);
        return NULL;
    }
    while ((r = read(0, buf, sizeof buf)) > 0) {
        if (write(fd, buf, r) != r)
            break;
    }
    if (r != 0 || close(fd) == -1) {
        nbdkit_error("%s: copying the script from stdin failed", path);
        free(path);
        return NULL;
    }
    return path;
}

/* The script's magic_config_key, if it prints one, takes the bare
 * parameters after the script.
 */
static int
sh_ask_magic_key(void)
{
    static const char *const noargs[] = {NULL};
    size_t len;

    switch (sh_run("magic_config_key", noargs, NULL, 0, &magic_key, &len)) {
    case CALL_OK:
        if (len > 0 && magic_key[len - 1] == '\n')
            magic_key[--len] = '\0';
        if (len == 0) {
            free(magic_key);
            magic_key = NULL;
        }
        return 0;
    case CALL_MISSING:
        return 0;
    case CALL_FALSE:
        return sh_unexpected_false("magic_config_key");
    default:
        return -1;
    }
}

/* script=SCRIPT, always first: remember it and run its load method. */
static int
sh_config_script(const char *value)
{
    static const char *const noargs[] = {NULL};

    if (sh_tmpdir_make() == -1)
        return -1;
    script =
        strcmp(value, "-") == 0 ? sh_inline_script() : nbdkit_realpath(value);
    if (script == NULL)
        return -1;
    if (access(script, X_OK) == -1) {
        nbdkit_error("%s: the script is not executable: %m", script);
        return -1;
    }
    /* A #! line naming the server ("./disk.sh -U sock" runs nbdx sh
     * disk.sh): executing the script would start another server.
     */
    sh_via_shell = shebang_file_names_server(script, NULL, 0);
    if (sh_expect_ok("load", sh_run("load", noargs, NULL, 0, NULL, NULL),
                     true) == -1)
        return -1;
    return sh_ask_magic_key();
}

static int
sh_config_param(const char *key, const char *value)
{
    const char *args[] = {key, value, NULL};
    enum call_status st;

    if (script == NULL) {
        if (strcmp(key, "script") != 0) {
            nbdkit_error("the first parameter must be script=SCRIPT");
            return -1;
        }
        return sh_config_script(value);
    }
    /* A later bare parameter arrives as script= too. */
    if (strcmp(key, "script") == 0) {
        if (magic_key == NULL) {
            nbdkit_error("script= given more than once");
            return -1;
        }
        args[0] = magic_key;
    }
    st = sh_run("config", args, NULL, 0, NULL, NULL);
    if (st == CALL_MISSING) {
        nbdkit_error("%s: this plugin does not need command line "
                     "configuration",
                     script);
        return -1;
    }
    return sh_expect_ok("config", st, false);
}

/* The server exits without unloading when configuration fails, so the
 * temporary directory goes then.
 */
static int
sh_config(const char *key, const char *value)
{
    if (sh_config_param(key, value) == -1) {
        sh_tmpdir_remove();
        return -1;
    }
    return 0;
}

static int
sh_config_complete(void)
{
    static const char *const noargs[] = {NULL};

    if (script == NULL) {
        nbdkit_error("the script parameter is required (script=SCRIPT)");
        return -1;
    }
    if (sh_expect_ok("config_complete",
                     sh_run("config_complete", noargs, NULL, 0, NULL, NULL),
                     true) == -1) {
        sh_tmpdir_remove();
        return -1;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "sh",
    .longname = "nbdx sh plugin",
    .version = PACKAGE_VERSION,
    .description = "A plugin written as a shell script or any program.",
    .unload = sh_unload,
    .magic_config_key = "script",
    .config = sh_config,
    .config_complete = sh_config_complete,
    .config_help = "script=<FILENAME>  (required) The script to run, or - "
                   "for stdin.\n"
                   "[other parameters go to the script's config method]",
    SH_METHOD_CALLBACKS,
};

NBDKIT_REGISTER_PLUGIN(plugin)
