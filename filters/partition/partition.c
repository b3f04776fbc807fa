/* SPDX-License-Identifier: BSD-3-Clause */
/* partition.c: serve one partition of an MBR or GPT disk (partition=N,
 * counting from 1), like qemu-nbd -P.
 *
 * prepare reads the partition table of the layer below, once per
 * connection, and finds where partition N lies; after that every call is
 * common/window's, as in the offset filter: shifted by the partition's
 * start, bounded by its size (the server checks requests against
 * get_size), zero-copy calls included.  MBR: primary partitions 1-4 and logical
 * ones from 5 in the chain of extended boot records; GPT: the entries of the
 * primary header.  512-byte sectors.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

#include "byteorder.h"
#include "window.h"

#define SECTOR 512
#define EBR_MAX 128 /* logical partitions followed, against loops */

static unsigned partnum; /* partition=, from 1; 0 until given */

/* One connection: where the partition lies in the layer below. */
struct handle {
    struct window w; /* first: the window callbacks take the handle */
};

/* nbdx only: the zero-copy calls of the layer below, which the window's
 * callbacks use.
 */
static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

static int
partition_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                 const char *key, const char *value)
{
    if (strcmp(key, "partition") != 0)
        return next(nxdata, key, value);
    if (nbdkit_parse_unsigned(key, value, &partnum) == -1)
        return -1;
    if (partnum == 0) {
        nbdkit_error("invalid partition number: partitions count from 1");
        return -1;
    }
    return 0;
}

static int
partition_config_complete(nbdkit_next_config_complete *next,
                          nbdkit_backend *nxdata)
{
    if (partnum == 0) {
        nbdkit_error("you must supply the partition parameter on the "
                     "command line");
        return -1;
    }
    return next(nxdata);
}

#define partition_config_help                                                  \
    "partition=<PART>     (required) The partition to serve, from 1."

static int
partition_read(nbdkit_next *next, void *buf, uint64_t lba)
{
    int err;

    if (next->pread(next, buf, SECTOR, lba * SECTOR, 0, &err) == -1) {
        errno = err;
        return -1;
    }
    return 0;
}

/* Set *out to START and LENGTH sectors if they fit a disk of SIZE bytes. */
static int
partition_place(struct handle *out, uint64_t start, uint64_t length,
                uint64_t size)
{
    if (length == 0 || start > size / SECTOR ||
        length > size / SECTOR - start) {
        nbdkit_error("partition %u lies beyond the end of the disk", partnum);
        return -1;
    }
    return window_place(&out->w, start * SECTOR, length * SECTOR, size);
}

static bool
mbr_is_extended(uint8_t type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Logical partition partnum: the chain of EBRs from the extended
 * partition at sector EXT.
 */
static int
mbr_logical(nbdkit_next *next, struct handle *h, uint64_t ext, uint64_t size)
{
    unsigned char s[SECTOR];
    uint64_t ebr = ext, start, len, link;
    unsigned n;

    for (n = 5; n < 5 + EBR_MAX; n++) {
        if (partition_read(next, s, ebr) == -1)
            return -1;
        if (s[510] != 0x55 || s[511] != 0xaa) {
            nbdkit_error("extended boot record at sector %" PRIu64
                         " has no signature",
                         ebr);
            return -1;
        }
        start = byteorder_read_le32(s + 446 + 8);
        len = byteorder_read_le32(s + 446 + 12);
        if (n == partnum)
            return partition_place(h, ebr + start, len, size);
        link = byteorder_read_le32(s + 446 + 16 + 8);
        if (link == 0 || !mbr_is_extended(s[446 + 16 + 4]))
            break;
        ebr = ext + link;
    }
    nbdkit_error("MBR partition %u not found", partnum);
    return -1;
}

static int
mbr_find(nbdkit_next *next, struct handle *h, const unsigned char *mbr,
         uint64_t size)
{
    const unsigned char *e;
    int i;

    if (partnum <= 4) {
        e = mbr + 446 + 16 * (partnum - 1);
        if (e[4] == 0 || mbr_is_extended(e[4])) {
            nbdkit_error("MBR partition %u is %s", partnum,
                         e[4] ? "an extended partition" : "empty");
            return -1;
        }
        return partition_place(h, byteorder_read_le32(e + 8),
                               byteorder_read_le32(e + 12), size);
    }
    for (i = 0; i < 4; i++) {
        e = mbr + 446 + 16 * i;
        if (mbr_is_extended(e[4]))
            return mbr_logical(next, h, byteorder_read_le32(e + 8), size);
    }
    nbdkit_error("MBR partition %u not found: there is no extended "
                 "partition",
                 partnum);
    return -1;
}

static int
gpt_find(nbdkit_next *next, struct handle *h, uint64_t size)
{
    unsigned char s[SECTOR];
    uint64_t lba, first, last;
    uint32_t count, esize;

    if (partition_read(next, s, 1) == -1)
        return -1;
    if (memcmp(s, "EFI PART", 8) != 0) {
        nbdkit_error("protective MBR, but no GPT header at sector 1");
        return -1;
    }
    lba = byteorder_read_le64(s + 72);
    count = byteorder_read_le32(s + 80);
    esize = byteorder_read_le32(s + 84);
    if (esize < 128 || esize > SECTOR || SECTOR % esize != 0) {
        nbdkit_error("GPT: bad partition entry size %" PRIu32, esize);
        return -1;
    }
    if (partnum > count) {
        nbdkit_error("GPT partition %u not found: the table has %" PRIu32
                     " entries",
                     partnum, count);
        return -1;
    }
    lba += (uint64_t)(partnum - 1) * esize / SECTOR;
    if (lba > size / SECTOR || partition_read(next, s, lba) == -1) {
        nbdkit_error("GPT: the partition entries lie beyond the disk");
        return -1;
    }
    const unsigned char *e = s + (partnum - 1) * esize % SECTOR;
    static const unsigned char unused[16];
    if (memcmp(e, unused, 16) == 0) {
        nbdkit_error("GPT partition %u is unused", partnum);
        return -1;
    }
    first = byteorder_read_le64(e + 32);
    last = byteorder_read_le64(e + 40);
    if (last < first) {
        nbdkit_error("GPT partition %u ends before it starts", partnum);
        return -1;
    }
    return partition_place(h, first, last - first + 1, size);
}

static void *
partition_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
               const char *exportname, int is_tls)
{
    void *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = window_new(sizeof(struct handle), next_zc);
    if (h == NULL)
        nbdkit_error("calloc: %m");
    return h;
}

/* Find the partition in the table of the layer below. */
static int
partition_prepare(nbdkit_next *next, void *handle, int readonly)
{
    unsigned char mbr[SECTOR];
    int64_t size = next->get_size(next);
    int i;

    if (size == -1)
        return -1;
    if (size < 2 * SECTOR) {
        nbdkit_error("disk is too small to be partitioned");
        return -1;
    }
    if (partition_read(next, mbr, 0) == -1) {
        nbdkit_error("reading the partition table: %m");
        return -1;
    }
    if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
        nbdkit_error("disk does not contain an MBR or GPT partition table "
                     "(no boot signature)");
        return -1;
    }
    for (i = 0; i < 4; i++)
        if (mbr[446 + 16 * i + 4] == 0xee)
            return gpt_find(next, handle, size);
    return mbr_find(next, handle, mbr, size);
}

static struct nbdkit_filter filter = {
    .name = "partition",
    .longname = "nbdx partition filter",
    .config = partition_config,
    .config_complete = partition_config_complete,
    .config_help = partition_config_help,
    .open = partition_open,
    .close = window_free,
    .prepare = partition_prepare,
    WINDOW_FILTER_CALLBACKS,
};

NBDKIT_REGISTER_FILTER(filter)

/* nbdx only: the zero-copy calls pass through with the same shift. */
WINDOW_REGISTER_EXTENSION(next_zc)
