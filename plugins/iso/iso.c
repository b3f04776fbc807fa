/* SPDX-License-Identifier: BSD-3-Clause */
/* iso: a read-only ISO 9660 (CD-ROM) image of one or more directories,
 * made once at startup by xorriso, genisoimage or mkisofs (see
 * nbdx-iso-plugin(1)).
 *
 * get_ready runs, as nbdkit does,
 *     PROG [-as mkisofs] -quiet PARAMS 'DIR1' 'DIR2' ...
 * through /bin/sh with its standard output on an unlinked temporary file
 * in $TMPDIR (default /var/tmp); the directories are quoted, PARAMS is
 * not (it is the user's shell text).  Reads are preads of that file.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "shell-quote.h"
#include "vector.h"

DEFINE_VECTOR_TYPE(string_vector, char *)

/* Set by config, read-only afterwards. */
static string_vector dirs = empty_vector; /* absolute paths, owned */
static const char *params;                /* params=, the server's string */
static const char *prog = "xorriso";      /* prog= */

static int fd = -1;  /* the ISO, from get_ready to unload */
static int64_t size; /* its size */

static void
iso_unload(void)
{
    size_t i;

    for (i = 0; i < dirs.len; i++)
        free(dirs.ptr[i]);
    string_vector_reset(&dirs);
    if (fd >= 0)
        close(fd);
}

static int
iso_config(const char *key, const char *value)
{
    char *dir;

    if (strcmp(key, "dir") == 0) {
        dir = nbdkit_realpath(value);
        if (dir == NULL)
            return -1;
        if (string_vector_append(&dirs, dir) == -1) {
            nbdkit_error("realloc: %m");
            free(dir);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "params") == 0) {
        params = value;
        return 0;
    }
    if (strcmp(key, "prog") == 0) {
        prog = value;
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
iso_config_complete(void)
{
    if (dirs.len == 0) {
        nbdkit_error("you must supply the dir=<DIRECTORY> parameter after "
                     "the plugin name on the command line");
        return -1;
    }
    return 0;
}

#define iso_config_help                                                        \
    "[dir=]<DIRECTORY>   (required) The directory to serve (repeatable).\n"    \
    "params='<PARAMS>'   Extra parameters for the ISO maker.\n"                \
    "prog=<PROG>         xorriso (default), genisoimage or mkisofs."

/* The shell command; the caller frees it.  xorriso needs -as mkisofs to
 * take mkisofs's options.
 */
static char *
iso_command(void)
{
    const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
    char *cmd = NULL;
    size_t len = 0, i;
    FILE *fp = open_memstream(&cmd, &len);

    if (fp == NULL)
        return NULL;
    fputs(prog, fp);
    if (strstr(base, "xorriso"))
        fputs(" -as mkisofs", fp);
    fputs(" -quiet", fp);
    if (params) {
        fputc(' ', fp);
        fputs(params, fp);
    }
    for (i = 0; i < dirs.len; i++) {
        fputc(' ', fp);
        shell_quote_fp(fp, dirs.ptr[i]);
    }
    if (fclose(fp) == EOF) {
        free(cmd);
        return NULL;
    }
    return cmd;
}

/* Run cmd with its standard output on out; 0 if it exited with 0. */
static int
iso_run(const char *cmd, int out)
{
    pid_t pid;
    int status;

    nbdkit_debug("%s", cmd);
    pid = fork();
    if (pid == -1) {
        nbdkit_error("fork: %m");
        return -1;
    }
    if (pid == 0) {
        if (dup2(out, STDOUT_FILENO) == -1)
            _exit(126);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) == -1) {
        nbdkit_error("waitpid: %m");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        nbdkit_error("%s: command failed with exit code %d", prog,
                     WEXITSTATUS(status));
    else
        nbdkit_error("%s: command was killed by signal %d", prog,
                     WTERMSIG(status));
    return -1;
}

/* An unlinked temporary file in $TMPDIR, or /var/tmp. */
static int
iso_tmpfile(void)
{
    const char *tmpdir = getenv("TMPDIR");
    CLEANUP_FREE char *path = NULL;
    int r;

    if (asprintf(&path, "%s/isoXXXXXX", tmpdir ? tmpdir : "/var/tmp") == -1) {
        nbdkit_error("asprintf: %m");
        return -1;
    }
    r = mkostemp(path, O_CLOEXEC);
    if (r == -1) {
        nbdkit_error("mkostemp: %s: %m", path);
        return -1;
    }
    unlink(path);
    return r;
}

/* Make the ISO before serving, once: in get_ready, so that --run and
 * background mode start only when it exists.
 */
static int
iso_get_ready(void)
{
    CLEANUP_FREE char *cmd = iso_command();
    struct stat st;

    if (cmd == NULL) {
        nbdkit_error("open_memstream: %m");
        return -1;
    }
    fd = iso_tmpfile();
    if (fd == -1)
        return -1;
    if (iso_run(cmd, fd) == -1)
        return -1;
    if (fstat(fd, &st) == -1) {
        nbdkit_error("fstat: %m");
        return -1;
    }
    size = st.st_size;
    return 0;
}

static void *
iso_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
iso_get_size(void *handle)
{
    return size;
}

static int
iso_can_multi_conn(void *handle)
{
    return 1;
}

static int
iso_can_cache(void *handle)
{
    return NBDKIT_CACHE_EMULATE;
}

static int
iso_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    char *out = buf;

    while (count > 0) {
        ssize_t r = pread(fd, out, count, offset);
        if (r == -1) {
            nbdkit_error("pread: %m");
            return -1;
        }
        if (r == 0) { /* the server checks bounds: the file did not shrink */
            nbdkit_error("pread: unexpected end of file");
            errno = EIO;
            return -1;
        }
        out += r;
        count -= r;
        offset += r;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "iso",
    .longname = "nbdx ISO plugin",
    .version = PACKAGE_VERSION,
    .description = "A read-only ISO image of directories, made at startup.",
    .unload = iso_unload,
    .magic_config_key = "dir",
    .config = iso_config,
    .config_complete = iso_config_complete,
    .config_help = iso_config_help,
    .get_ready = iso_get_ready,
    .open = iso_open,
    .get_size = iso_get_size,
    .can_multi_conn = iso_can_multi_conn,
    .can_cache = iso_can_cache,
    .pread = iso_pread,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
