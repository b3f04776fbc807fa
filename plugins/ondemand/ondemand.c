/* SPDX-License-Identifier: BSD-3-Clause */
/* ondemand: a filesystem per export name, made in dir= the first time a
 * client asks for it, one client at a time (see nbdx-ondemand-plugin(1)).
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "../tmpdisk/fddisk.h"
#include "cleanup.h"
#include "fscommand.h"
#include "vector.h"

static char *dir = NULL;           /* dir=EXPORTSDIR, required, absolute */
static int64_t size = -1;          /* size=SIZE, required */
static bool wait_for_lock = false; /* wait=true: wait, not fail */

/* command=, type=, label= and any other KEY=VALUE: the script that makes
 * a new export.  Filled by .config, read-only afterwards.  It and dir
 * are freed by .unload.
 */
static struct fscommand fs = {0};

static void
ondemand_unload(void)
{
    free(dir);
    fscommand_free(&fs);
}

static int
ondemand_config(const char *key, const char *value)
{
    if (strcmp(key, "dir") == 0) {
        free(dir);
        dir = nbdkit_realpath(value);
        return dir == NULL ? -1 : 0;
    }
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(key, "wait") == 0) {
        int r = nbdkit_parse_bool(value);
        wait_for_lock = r == 1;
        return r == -1 ? -1 : 0;
    }
    if (fscommand_add(&fs, key, value) == -1) {
        if (errno == EINVAL)
            nbdkit_error("'%s': parameters other than dir=, size=, wait= and "
                         "command= become shell variables, and this is not "
                         "a valid variable name",
                         key);
        else
            nbdkit_error("%s: %m", key);
        return -1;
    }
    return 0;
}

static int
ondemand_config_complete(void)
{
    if (dir == NULL || size == -1) {
        nbdkit_error("dir and size parameters are required");
        return -1;
    }
    return 0;
}

/* The exports: "" for the default (the file "default"), then the other
 * regular files in dir whose names could be export names (none starts
 * with '.'), sorted.
 */
static int
ondemand_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    CLEANUP_CLOSE int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent **names;
    int n, r = 0;

    if (dfd == -1 || (n = scandir(dir, &names, NULL, alphasort)) == -1) {
        nbdkit_error("%s: %m", dir);
        return -1;
    }
    /* "" itself, first, as nbdkit lists it (nbdkit_use_default_export
     * would add "default" instead, after the files).
     */
    if (nbdkit_add_export(exports, "", NULL) == -1)
        r = -1;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        struct stat st;

        if (r == 0 && name[0] != '.' && strcmp(name, "default") != 0 &&
            fstatat(dfd, name, &st, 0) == 0 && S_ISREG(st.st_mode) &&
            nbdkit_add_export(exports, name, NULL) == -1)
            r = -1;
        free(names[i]);
    }
    free(names);
    return r;
}

static const char *
ondemand_default_export(int readonly, int is_tls)
{
    return "default";
}

/* An export name is a file name in dir: at most NAME_MAX bytes, and no
 * '.', '/' or ':' (so never "..", a hidden file or a path).
 */
static bool
ondemand_valid_name(const char *name)
{
    return *name && strlen(name) <= NAME_MAX && strpbrk(name, "./:") == NULL;
}

/* Run the command that makes DISK; if it fails, remove what it left.
 * 0, or -1 after saying why.
 */
static int
ondemand_make(const char *disk)
{
    struct call_output o;
    int r = -1;

    if (fscommand_run(&fs, disk, size, &o) == -1) {
        nbdkit_error("running the command: %m");
        return -1;
    }
    if (WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0) {
        nbdkit_debug("ondemand: command output: %s%s", o.out, o.err);
        r = 0;
    } else if (WIFEXITED(o.wstatus))
        nbdkit_error("command exited with code %d: %s", WEXITSTATUS(o.wstatus),
                     o.err);
    else
        nbdkit_error("command killed by signal %d: %s", WTERMSIG(o.wstatus),
                     o.err);
    call_output_free(&o);
    if (r == -1)
        unlink(disk);
    return r;
}

/* Open export NAME, making it first if it does not exist.  The check and
 * the making happen under an exclusive flock of dir, on a descriptor of
 * its own, so two connections (of this server or another) never make
 * the same export at once.  Returns the descriptor, or -1 after saying
 * why.
 */
static int
ondemand_open_file(const char *name, int readonly)
{
    CLEANUP_CLOSE int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CLEANUP_FREE char *disk = NULL;
    int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY;
    int fd;

    if (dfd == -1 || flock(dfd, LOCK_EX) == -1) {
        nbdkit_error("%s: %m", dir);
        return -1;
    }
    fd = openat(dfd, name, flags);
    if (fd == -1 && errno == ENOENT) {
        if (asprintf(&disk, "%s/%s", dir, name) == -1) {
            nbdkit_error("asprintf: %m");
            return -1;
        }
        if (ondemand_make(disk) == -1)
            return -1;
        fd = openat(dfd, name, flags);
    }
    if (fd == -1)
        nbdkit_error("open: %s/%s: %m", dir, name);
    return fd; /* closing dfd drops the directory lock */
}

/* Take the export's lock, or fail at once unless wait=true. */
static int
ondemand_lock(int fd, const char *name)
{
    while (flock(fd, LOCK_EX | (wait_for_lock ? 0 : LOCK_NB)) == -1) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            nbdkit_error("%s: filesystem is locked by another client", name);
        else
            nbdkit_error("flock: %s: %m", name);
        return -1;
    }
    return 0;
}

/* One client of one export, as an fddisk handle.  Its file holds the
 * export's flock from .open to .close (fddisk_close), so no other client
 * can use the export meanwhile.
 */
static void *
ondemand_open(int readonly)
{
    const char *name = nbdkit_export_name();
    struct fddisk *h;
    int fd;

    if (name == NULL || *name == '\0')
        name = "default";
    if (!ondemand_valid_name(name)) {
        nbdkit_error("invalid export name '%s' rejected", name);
        return NULL;
    }
    fd = ondemand_open_file(name, readonly);
    if (fd == -1)
        return NULL;
    if (ondemand_lock(fd, name) == -1 || (h = fddisk_new(fd)) == NULL) {
        close(fd);
        return NULL;
    }
    nbdkit_debug("ondemand: serving %s/%s", dir, name);
    return h;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "ondemand",
    .longname = "nbdx ondemand plugin",
    .version = PACKAGE_VERSION,
    .description = "A filesystem per export name, made on demand.",
    .unload = ondemand_unload,
    .magic_config_key = "size",
    .config = ondemand_config,
    .config_complete = ondemand_config_complete,
    .config_help =
        "dir=<EXPORTSDIR> (required) Directory containing filesystems.\n"
        "[size=]<SIZE>    (required) Virtual filesystem size.\n"
        "label=<LABEL>               The filesystem label.\n"
        "type=ext4|...               The filesystem type.\n"
        "command=<COMMAND>           Alternate command instead of mkfs.\n"
        "wait=true                   Wait for a locked export.",
    .list_exports = ondemand_list_exports,
    .default_export = ondemand_default_export,
    .open = ondemand_open,
    FDDISK_CALLBACKS,
};

NBDKIT_REGISTER_PLUGIN(plugin)
