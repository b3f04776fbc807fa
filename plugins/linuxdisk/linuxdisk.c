/* SPDX-License-Identifier: BSD-3-Clause */
/* linuxdisk: a read-only disk with one GPT partition holding an ext2, ext3
 * or ext4 filesystem made from a directory by mke2fs -d (see
 * nbdx-linuxdisk-plugin(1)).
 *
 * get_ready sizes the filesystem as nbdkit does (du's estimate plus a
 * fifth, at least 1M, 32M more for a journal, plus size=+N), makes it
 * with mke2fs in an unlinked temporary file, and lays out the disk as
 * nbdkit's plugin does: protective MBR, GPT header and 128 entries, the
 * filesystem at 1M, the secondary entries and header at the end.  The
 * disk is a list of regions (common/regions) read by pread.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "call.h"
#include "cleanup.h"
#include "parttable.h"
#include "regions.h"

#define SECTOR PARTTABLE_SECTOR
#define ALIGNMENT (1024 * 1024) /* where the partition starts */
#define MIN_SIZE (1024 * 1024)  /* of an estimated filesystem */
#define JOURNAL (32 * 1024 * 1024)
#define ENTRIES 128

/* Set by config, read-only afterwards. */
static char *dir;                 /* dir=, absolute, owned */
static const char *label;         /* label=, the server's string */
static const char *type = "ext2"; /* type= */
static int64_t size = -1;         /* size=, -1 if not given */
static bool size_add;             /* size=+N: N more than the estimate */

/* Made by get_ready, read-only afterwards. */
static int fd = -1; /* the filesystem */
static struct regions disk;
static unsigned char mbr[SECTOR];
static unsigned char gpt_hdr[2][SECTOR]; /* primary, secondary */
static unsigned char entries[ENTRIES * PARTTABLE_GPT_ENTRY];

static void
linuxdisk_load(void)
{
    regions_init(&disk);
}

static void
linuxdisk_unload(void)
{
    free(dir);
    if (fd >= 0)
        close(fd);
    regions_free(&disk);
}

static int
linuxdisk_config(const char *key, const char *value)
{
    if (strcmp(key, "dir") == 0) {
        free(dir);
        dir = nbdkit_realpath(value);
        return dir ? 0 : -1;
    }
    if (strcmp(key, "label") == 0) {
        label = value;
        return 0;
    }
    if (strcmp(key, "type") == 0) {
        if (strncmp(value, "ext", 3) != 0) {
            nbdkit_error("type=<TYPE> must be an filesystem type supported "
                         "by e2fsprogs");
            return -1;
        }
        type = value;
        return 0;
    }
    if (strcmp(key, "size") == 0) {
        size_add = value[0] == '+';
        size = nbdkit_parse_size(value + size_add);
        return size == -1 ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
linuxdisk_config_complete(void)
{
    if (dir == NULL) {
        nbdkit_error("you must supply the dir=<DIRECTORY> parameter after "
                     "the plugin name on the command line");
        return -1;
    }
    return 0;
}

#define linuxdisk_config_help                                                  \
    "[dir=]<DIRECTORY>   (required) The directory to make the disk from.\n"    \
    "label=<LABEL>       The filesystem label.\n"                              \
    "size=[+]<SIZE>      The filesystem size, or +free space.\n"               \
    "type=ext2|ext3|ext4 The filesystem type (default ext2)."

/* Run argv; on failure say why, with what it printed on stderr. */
static int
linuxdisk_run(const char *const *argv, struct call_output *o)
{
    if (call_run(argv, NULL, 0, o) == -1) {
        nbdkit_error("%s: %m", argv[0]);
        return -1;
    }
    if (WIFEXITED(o->wstatus) && WEXITSTATUS(o->wstatus) == 0)
        return 0;
    if (o->errlen > 0)
        nbdkit_error("%s", o->err);
    if (WIFEXITED(o->wstatus))
        nbdkit_error("%s: command failed with exit code %d", argv[0],
                     WEXITSTATUS(o->wstatus));
    else
        nbdkit_error("%s: command was killed by signal %d", argv[0],
                     WTERMSIG(o->wstatus));
    call_output_free(o);
    return -1;
}

/* What du says the directory takes, in bytes: the last line, "N total"
 * in kilobytes.
 */
static int
linuxdisk_du(uint64_t *bytes)
{
    const char *argv[] = {"du", "-c", "-k", "-s", dir, NULL};
    struct call_output o;
    const char *last;
    char *end;
    unsigned long long kb;

    if (linuxdisk_run(argv, &o) == -1)
        return -1;
    while (o.outlen > 0 && o.out[o.outlen - 1] == '\n')
        o.out[--o.outlen] = '\0';
    last = strrchr(o.out, '\n') ? strrchr(o.out, '\n') + 1 : o.out;
    errno = 0;
    kb = strtoull(last, &end, 10);
    if (errno != 0 || end == last || kb > UINT64_MAX / 1024 / 6) {
        nbdkit_error("could not parse last line of output: %s", last);
        call_output_free(&o);
        return -1;
    }
    call_output_free(&o);
    *bytes = kb * 1024;
    return 0;
}

/* The filesystem's size: size= as given, or nbdkit's estimate. */
static int
linuxdisk_fs_size(uint64_t *out)
{
    uint64_t est, s;

    if (size >= 0 && !size_add)
        s = size;
    else {
        if (linuxdisk_du(&est) == -1)
            return -1;
        nbdkit_debug("filesystem size estimate: %" PRIu64, est);
        s = est * 6 / 5;
        if (s < MIN_SIZE)
            s = MIN_SIZE;
        if (strcmp(type, "ext2") != 0)
            s += JOURNAL;
        if (size_add && (uint64_t)size > INT64_MAX / 2 - s) {
            nbdkit_error("size=+%" PRIi64 " is too large", size);
            return -1;
        }
        if (size_add)
            s += size;
    }
    s = (s + SECTOR - 1) / SECTOR * SECTOR;
    nbdkit_debug("filesystem virtual size: %" PRIu64, s);
    *out = s;
    return 0;
}

/* Make the filesystem in a temporary file of fs_size bytes, which is
 * unlinked once mke2fs has closed it; the fd is left in fd.
 */
static int
linuxdisk_mkfs(uint64_t fs_size)
{
    const char *tmpdir = getenv("TMPDIR");
    CLEANUP_FREE char *path = NULL;
    const char *argv[12];
    struct call_output o;
    int n = 0, r;

    if (asprintf(&path, "%s/linuxdiskXXXXXX", tmpdir ? tmpdir : "/var/tmp") ==
        -1) {
        nbdkit_error("asprintf: %m");
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd == -1) {
        nbdkit_error("mkostemp: %s: %m", path);
        return -1;
    }
    if (ftruncate(fd, fs_size) == -1) {
        nbdkit_error("ftruncate: %s: %m", path);
        unlink(path);
        return -1;
    }
    argv[n++] = "/sbin/mke2fs";
    argv[n++] = "-q";
    argv[n++] = "-F";
    argv[n++] = "-t";
    argv[n++] = type;
    if (label) {
        argv[n++] = "-L";
        argv[n++] = label;
    }
    argv[n++] = "-d";
    argv[n++] = dir;
    argv[n++] = path;
    argv[n] = NULL;
    nbdkit_debug("mke2fs -t %s -d %s %s", type, dir, path);
    r = linuxdisk_run(argv, &o);
    unlink(path);
    if (r == 0)
        call_output_free(&o);
    return r;
}

static int
linuxdisk_append(uint64_t len, enum region_type rtype, const void *data)
{
    if (regions_append(&disk, len, rtype, data) == -1) {
        nbdkit_error("the virtual disk is too large: %m");
        return -1;
    }
    return 0;
}

/* The disk around the filesystem of fs_size bytes. */
static int
linuxdisk_layout(uint64_t fs_size)
{
    unsigned char type_guid[16], guid[16];
    uint64_t first_lba = ALIGNMENT / SECTOR, last, total;

    if (parttable_random_guid(guid) == -1) {
        nbdkit_error("getrandom: %m");
        return -1;
    }
    parttable_parse_guid(PARTTABLE_LINUX_FS_GUID, type_guid);
    if (linuxdisk_append(SECTOR, REGION_DATA, mbr) == -1 ||
        linuxdisk_append(SECTOR, REGION_DATA, gpt_hdr[0]) == -1 ||
        linuxdisk_append(sizeof entries, REGION_DATA, entries) == -1 ||
        linuxdisk_append(ALIGNMENT - regions_size(&disk), REGION_ZERO, NULL) ==
            -1 ||
        linuxdisk_append(fs_size, REGION_FILE, NULL) == -1 ||
        linuxdisk_append(sizeof entries, REGION_DATA, entries) == -1 ||
        linuxdisk_append(SECTOR, REGION_DATA, gpt_hdr[1]) == -1)
        return -1;
    last = first_lba + fs_size / SECTOR - 1;
    total = regions_size(&disk) / SECTOR;
    parttable_gpt_entry(entries, type_guid, guid, first_lba, last,
                        PARTTABLE_GPT_BOOT, "");
    parttable_gpt_header(gpt_hdr[0], 1, total - 1, 2,
                         2 + sizeof entries / SECTOR, last, entries, ENTRIES);
    parttable_gpt_header(gpt_hdr[1], total - 1, 1, last + 1,
                         2 + sizeof entries / SECTOR, last, entries, ENTRIES);
    parttable_mbr_protective(mbr, total);
    return 0;
}

/* Make the filesystem once, before serving. */
static int
linuxdisk_get_ready(void)
{
    uint64_t fs_size;
    struct stat st;

    if (linuxdisk_fs_size(&fs_size) == -1 || linuxdisk_mkfs(fs_size) == -1)
        return -1;
    if (fstat(fd, &st) == -1) {
        nbdkit_error("fstat: %m");
        return -1;
    }
    if ((uint64_t)st.st_size != fs_size) {
        nbdkit_error("mke2fs changed the size of the filesystem image");
        return -1;
    }
    return linuxdisk_layout(fs_size);
}

static void *
linuxdisk_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
linuxdisk_get_size(void *handle)
{
    return regions_size(&disk);
}

static int
linuxdisk_can_multi_conn(void *handle)
{
    return 1;
}

static int
linuxdisk_can_cache(void *handle)
{
    return NBDKIT_CACHE_EMULATE;
}

/* Read n bytes of the filesystem at offset. */
static int
linuxdisk_read_fs(char *out, uint32_t n, uint64_t offset)
{
    while (n > 0) {
        ssize_t r = pread(fd, out, n, offset);
        if (r == -1) {
            nbdkit_error("pread: %m");
            return -1;
        }
        if (r == 0) {
            nbdkit_error("pread: the filesystem image shrank");
            errno = EIO;
            return -1;
        }
        out += r;
        n -= r;
        offset += r;
    }
    return 0;
}

static int
linuxdisk_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                uint32_t flags)
{
    char *out = buf;

    while (count > 0) {
        const struct region *r = regions_find(&disk, offset);
        uint32_t n = r->end - offset < count ? r->end - offset : count;

        if (r->type == REGION_ZERO)
            memset(out, 0, n);
        else if (r->type == REGION_DATA)
            memcpy(out, (const char *)r->data + (offset - r->start), n);
        else if (linuxdisk_read_fs(out, n, offset - r->start) == -1)
            return -1;
        out += n;
        count -= n;
        offset += n;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "linuxdisk",
    .longname = "nbdx linuxdisk plugin",
    .version = PACKAGE_VERSION,
    .description = "A read-only disk with an ext2, ext3 or ext4 filesystem "
                   "made from a directory.",
    .load = linuxdisk_load,
    .unload = linuxdisk_unload,
    .magic_config_key = "dir",
    .config = linuxdisk_config,
    .config_complete = linuxdisk_config_complete,
    .config_help = linuxdisk_config_help,
    .get_ready = linuxdisk_get_ready,
    .open = linuxdisk_open,
    .get_size = linuxdisk_get_size,
    .can_multi_conn = linuxdisk_can_multi_conn,
    .can_cache = linuxdisk_can_cache,
    .pread = linuxdisk_pread,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
