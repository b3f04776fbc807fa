/* SPDX-License-Identifier: BSD-3-Clause */
/* vmdk: export a VMDK disk, read and written natively (see
 * nbdx-vmdk-plugin(1)).
 *
 * get_ready opens the disk once (vmdk-open.c): its descriptor, every
 * extent and the chain of parent disks; every connection then shares it
 * (thread model parallel; the locking is in vmdk.h and vmdk-io.c).
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <nbdx-extensions.h>

#include "vmdk.h"

static char *filename;         /* file=, owned */
static bool ro_files;          /* readonly=true: open every file read-only */
static struct vmdk_disk *disk; /* from get_ready to unload */

static int
vmdk_config(const char *key, const char *value)
{
    int r;

    if (strcmp(key, "file") == 0) {
        free(filename);
        filename = nbdkit_realpath(value);
        return filename == NULL ? -1 : 0;
    }
    if (strcmp(key, "readonly") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        ro_files = r;
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
vmdk_config_complete(void)
{
    if (filename == NULL) {
        nbdkit_error("you must supply file=<FILENAME> on the command line");
        return -1;
    }
    return 0;
}

#define vmdk_config_help                                                       \
    "file=<FILENAME>     (required) The VMDK descriptor or disk.\n"            \
    "readonly=true       Open the files read-only."

static int
vmdk_get_ready(void)
{
    disk = vmdk_disk_open(filename, ro_files);
    if (disk == NULL)
        return -1;
    if (!ro_files && !disk->writable)
        nbdkit_debug("%s: some extents are read-only (streamOptimized, "
                     "RDONLY or not writable files): serving read-only",
                     filename);
    return 0;
}

static void
vmdk_unload(void)
{
    vmdk_disk_close(disk);
    disk = NULL;
    free(filename);
    filename = NULL;
}

static void *
vmdk_open(int readonly_)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
vmdk_get_size(void *handle)
{
    return disk->size;
}

static int
vmdk_can_write(void *handle)
{
    return disk->writable;
}

static int
vmdk_can_multi_conn(void *handle)
{
    return 1;
}

/* Sectors are the unit of the format; a grain is the unit of allocation. */
static int
vmdk_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                uint32_t *maximum)
{
    size_t i;

    *minimum = VMDK_SECTOR;
    *preferred = 4096;
    *maximum = 0xffffffff;
    for (i = 0; i < disk->nextents; i++)
        if (disk->extents[i].type == VMDK_SPARSE &&
            disk->extents[i].grain > *preferred &&
            disk->extents[i].grain <= 2 * 1024 * 1024)
            *preferred = disk->extents[i].grain;
    return 0;
}

static int
vmdk_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    return vmdk_disk_read(disk, buf, count, offset);
}

static int
vmdk_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    if (vmdk_disk_write(disk, buf, count, offset) == -1)
        return -1;
    return (flags & NBDKIT_FLAG_FUA) ? vmdk_disk_flush(disk) : 0;
}

static int
vmdk_flush(void *handle, uint32_t flags)
{
    return vmdk_disk_flush(disk);
}

static int
vmdk_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
vmdk_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *out)
{
    return vmdk_disk_map(disk, count, offset, out);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "vmdk",
    .longname = "nbdx VMDK plugin",
    .version = PACKAGE_VERSION,
    .description = "Export a VMDK disk, read and written natively.",
    .config = vmdk_config,
    .config_complete = vmdk_config_complete,
    .config_help = vmdk_config_help,
    .magic_config_key = "file",
    .get_ready = vmdk_get_ready,
    .unload = vmdk_unload,
    .open = vmdk_open,
    .get_size = vmdk_get_size,
    .can_write = vmdk_can_write,
    .can_multi_conn = vmdk_can_multi_conn,
    .can_fua = vmdk_can_fua,
    .block_size = vmdk_block_size,
    .pread = vmdk_pread,
    .pwrite = vmdk_pwrite,
    .flush = vmdk_flush,
    .extents = vmdk_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)

/* nbdx's zero-copy read: a request that lies in one piece of one file
 * (a flat extent, or allocated grains one after the other) is sent from
 * the file with sendfile; others are declined and read with .pread.
 */
static int
vmdk_pread_fd(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
              int *fd, uint64_t *fd_offset)
{
    return vmdk_disk_fd_range(disk, count, offset, fd, fd_offset);
}

static const struct nbdx_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_EXTENSION_VERSION,
    .pread_fd = vmdk_pread_fd,
};

const struct nbdx_extension *nbdx_extension_init(void);

const struct nbdx_extension *
nbdx_extension_init(void)
{
    return &extension;
}
