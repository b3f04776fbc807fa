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

#include "fdio.h"
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

/* One connection's disk, already unlinked.  Allocated by .open, freed
 * (and so deleted) by .close.
 */
struct tmpdisk_handle {
    int fd;
};

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

static void *
tmpdisk_open(int readonly)
{
    struct tmpdisk_handle *h = malloc(sizeof *h);

    if (h == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    h->fd = tmpdisk_create(readonly);
    if (h->fd == -1) {
        free(h);
        return NULL;
    }
    return h;
}

static void
tmpdisk_close(void *handle)
{
    struct tmpdisk_handle *h = handle;

    close(h->fd);
    free(h);
}

/* Whatever size the command made. */
static int64_t
tmpdisk_get_size(void *handle)
{
    struct tmpdisk_handle *h = handle;
    struct stat st;

    if (fstat(h->fd, &st) == -1) {
        nbdkit_error("fstat: %m");
        return -1;
    }
    return st.st_size;
}

static int
tmpdisk_can_trim(void *handle)
{
    return 1;
}

static int
tmpdisk_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

/* Each connection has its own disk: what one flushes, another never
 * sees, so multi-conn cannot be promised.
 */
static int
tmpdisk_can_multi_conn(void *handle)
{
    return 0;
}

static int
tmpdisk_flush(void *handle, uint32_t flags)
{
    struct tmpdisk_handle *h = handle;

    if (fdatasync(h->fd) == -1) {
        nbdkit_error("fdatasync: %m");
        return -1;
    }
    return 0;
}

static int
tmpdisk_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    struct tmpdisk_handle *h = handle;

    if (fdio_pread(h->fd, buf, count, offset) == -1) {
        nbdkit_error("pread: %m");
        return -1;
    }
    return 0;
}

static int
tmpdisk_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
    struct tmpdisk_handle *h = handle;

    if (fdio_pwrite(h->fd, buf, count, offset) == -1) {
        nbdkit_error("pwrite: %m");
        return -1;
    }
    return flags & NBDKIT_FLAG_FUA ? tmpdisk_flush(handle, 0) : 0;
}

/* Trim punches a hole, where the file system can. */
static int
tmpdisk_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct tmpdisk_handle *h = handle;

    if (fdio_punch(h->fd, count, offset) == -1) {
        nbdkit_error("fallocate: %m");
        return -1;
    }
    return flags & NBDKIT_FLAG_FUA ? tmpdisk_flush(handle, 0) : 0;
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
    .close = tmpdisk_close,
    .get_size = tmpdisk_get_size,
    .can_trim = tmpdisk_can_trim,
    .can_fua = tmpdisk_can_fua,
    .can_multi_conn = tmpdisk_can_multi_conn,
    .pread = tmpdisk_pread,
    .pwrite = tmpdisk_pwrite,
    .flush = tmpdisk_flush,
    .trim = tmpdisk_trim,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
