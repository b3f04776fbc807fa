/* SPDX-License-Identifier: BSD-3-Clause */
/* example1: the smallest useful plugin, a fixed read-only disk image
 * (see nbdx-example1-plugin(1)).
 *
 * A plugin is a table of callbacks (struct nbdkit_plugin, at the end of
 * this file).  The server calls .open once per client connection,
 * .get_size to learn how big the disk is, and .pread for every read.  A
 * plugin with no .pwrite is read-only, and one with no .config takes no
 * parameters: that is all this one needs.
 */

#include <config.h>

#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* The disk is 100 MiB.  Only its first sector holds anything: an MBR
 * (boot code, a disk signature and one partition entry); every other byte
 * reads as zero, so the image costs 512 bytes of memory, not 100 MiB.
 */
#define DISK_SIZE (100 * 1024 * 1024)
#define SECTOR_SIZE 512

static const unsigned char mbr[SECTOR_SIZE] = {
    /* 0x000: boot code that copies itself to 0x600 and loads the
     * active partition's boot sector.
     */
    0xfa, 0xb8, 0x00, 0x10, 0x8e, 0xd0, 0xbc, 0x00, 0xb0, 0xb8, 0x00, 0x00,
    0x8e, 0xd8, 0x8e, 0xc0, 0xfb, 0xbe, 0x00, 0x7c, 0xbf, 0x00, 0x06, 0xb9,
    0x00, 0x02, 0xf3, 0xa4, 0xea, 0x21, 0x06, 0x00, 0x00, 0xbe, 0xbe, 0x07,
    0x38, 0x04, 0x75, 0x0b, 0x83, 0xc6, 0x10, 0x81, 0xfe, 0xfe, 0x07, 0x75,
    0xf3, 0xeb, 0x16, 0xb4, 0x02, 0xb0, 0x01, 0xbb, 0x00, 0x7c, 0xb2, 0x80,
    0x8a, 0x74, 0x01, 0x8b, 0x4c, 0x02, 0xcd, 0x13, 0xea, 0x00, 0x7c, 0x00,
    0x00, 0xeb, 0xfe,
    /* 0x1b8: the disk signature, 0x00025be1 little-endian. */
    [0x1b8] = 0xe1, 0x5b, 0x02, 0x00,
    /* 0x1be: partition 1, not bootable, type 0x83 (Linux), CHS (0,2,3)
     * to (12,188,49), starting at sector 128, 204545 sectors long.
     */
    [0x1be] = 0x00, 0x02, 0x03, 0x00, 0x83, 0xbc, 0x31, 0x0c, 0x80, 0x00, 0x00,
    0x00, 0x01, 0x1f, 0x03, 0x00,
    /* 0x1fe: the boot signature. */
    [0x1fe] = 0x55, 0xaa};

/* Called once per connection.  The handle it returns is passed to every
 * other callback; this plugin keeps no per-connection state, so any
 * non-NULL pointer will do.
 */
static void *
example1_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
example1_get_size(void *handle)
{
    return DISK_SIZE;
}

/* The server has already checked that [offset, offset + count) lies
 * inside the disk, so pread only has to fill buf: the part that overlaps
 * the MBR from the table, the rest with zeroes.
 */
static int
example1_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
    size_t n = 0;

    if (offset < SECTOR_SIZE) {
        n = SECTOR_SIZE - offset < count ? SECTOR_SIZE - offset : count;
        memcpy(buf, mbr + offset, n);
    }
    memset((char *)buf + n, 0, count - n);
    return 0;
}

/* Requests are handled one at a time, the safest model and nbdkit's
 * default; a plugin that can do more says so here.
 */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "example1",
    .longname = "nbdx example1 plugin",
    .version = PACKAGE_VERSION,
    .description = "A fixed read-only disk image, the smallest example.",
    .open = example1_open,
    .get_size = example1_get_size,
    .pread = example1_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
