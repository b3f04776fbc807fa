/* SPDX-License-Identifier: BSD-3-Clause */
/* tmpdisk: a fresh filesystem for each connection, deleted when it
 * closes (see nbdx-tmpdisk-plugin(1)).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "fddisk.h"
#include "fscommand.h"

static int64_t size = -1; /* size=SIZE, required */

/* command=, type=, label= and any other KEY=VALUE: the script run for
 * each connection.  Filled by .config, read-only afterwards; freed by
 * .unload.
 */
static struct fscommand fs = {0};

/* Where the disks are made: $TMPDIR, or /var/tmp. */
static const char *tmpdir = "/var/tmp";

static void
tmpdisk_load(void)
{
    const char *env = getenv("TMPDIR");

    if (env != NULL && *env != '\0')
        tmpdir = env;
}

static void
tmpdisk_unload(void)
{
    fscommand_free(&fs);
}

static int
tmpdisk_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (fscommand_add(&fs, key, value) == -1) {
        if (errno == EINVAL)
            nbdkit_error("'%s': parameters other than size= and command= "
                         "become shell variables, and this is not a "
                         "valid variable name",
                         key);
        else
            nbdkit_error("%s: %m", key);
        return -1;
    }
    return 0;
}

static int
tmpdisk_config_complete(void)
{
    if (size == -1) {
        nbdkit_error("you must specify size=<SIZE> on the command line");
        return -1;
    }
    return 0;
}

/* Run the command to make DISK; 0, or -1 after saying why. */
static int
tmpdisk_make(const char *disk)
{
    struct call_output o;
    int r = -1;

    if (fscommand_run(&fs, disk, size, &o) == -1) {
        nbdkit_error("running the command: %m");
        return -1;
    }
    if (WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0) {
        nbdkit_debug("tmpdisk: command output: %s%s", o.out, o.err);
        r = 0;
    } else if (WIFEXITED(o.wstatus))
        nbdkit_error("command exited with code %d: %s", WEXITSTATUS(o.wstatus),
                     o.err);
    else
        nbdkit_error("command killed by signal %d: %s", WTERMSIG(o.wstatus),
                     o.err);
    call_output_free(&o);
    return r;
}

/* Make the disk in a private directory, open it and delete it at once:
 * whatever happens later, nothing is left behind.  Returns the
 * descriptor, or -1 after saying why.
 */
static int
tmpdisk_create(int readonly)
{
    char dir[PATH_MAX], disk[PATH_MAX + 8];
    int fd = -1;

    if (snprintf(dir, sizeof dir, "%s/tmpdiskXXXXXX", tmpdir) >=
        (int)sizeof dir) {
        nbdkit_error("TMPDIR is too long: %s", tmpdir);
        return -1;
    }
    if (mkdtemp(dir) == NULL) {
        nbdkit_error("mkdtemp: %s: %m", dir);
        return -1;
    }
    snprintf(disk, sizeof disk, "%s/disk", dir);
    if (tmpdisk_make(disk) == 0) {
        fd = open(disk, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
        if (fd == -1)
            nbdkit_error("open: %s: %m", disk);
    }
    unlink(disk);
    if (rmdir(dir) == -1)
        nbdkit_error("rmdir: %s: %m (the command left files there)", dir);
    return fd;
}

/* One connection's disk, already unlinked, as an fddisk handle: closing
 * it (fddisk_close) deletes the disk.
 */
static void *
tmpdisk_open(int readonly)
{
    int fd = tmpdisk_create(readonly);
    struct fddisk *h = fd == -1 ? NULL : fddisk_new(fd);

    if (h == NULL && fd != -1)
        close(fd);
    return h;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "tmpdisk",
    .longname = "nbdx tmpdisk plugin",
    .version = PACKAGE_VERSION,
    .description = "A fresh temporary filesystem for each connection.",
    .load = tmpdisk_load,
    .unload = tmpdisk_unload,
    .magic_config_key = "size",
    .config = tmpdisk_config,
    .config_complete = tmpdisk_config_complete,
    .config_help = "[size=]<SIZE>       (required) Virtual filesystem size.\n"
                   "label=<LABEL>       The filesystem label.\n"
                   "type=ext4|...       The filesystem type.\n"
                   "command=<COMMAND>   Alternate command instead of mkfs.",
    .open = tmpdisk_open,
    FDDISK_CALLBACKS,
};

NBDKIT_REGISTER_PLUGIN(plugin)
