/* SPDX-License-Identifier: BSD-3-Clause */
/* partitioning: a virtual partitioned disk made of files, one partition
 * each, behind a generated MBR or GPT partition table (see
 * nbdx-partitioning-plugin(1)).
 *
 * The layout is nbdkit's, so the same files give the same disk: sector 0
 * holds the MBR (or GPT's protective MBR), GPT's header and entries
 * follow, each file starts at its alignment, padded with zeroes to a
 * whole sector, MBR's logical partitions (from the fourth file on, when
 * there are more than four) each have their extended boot record in the
 * sector after the previous partition, and GPT's secondary entries and
 * header end the disk.  The disk is a list of regions (common/regions):
 * table sectors held in memory, zero padding, and the files.  Clients may
 * write the files; writing the tables or the padding fails unless it
 * changes nothing.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "iszero.h"
#include "parttable.h"
#include "regions.h"
#include "vector.h"

#define SECTOR 512
#define MAX_ALIGNMENT (1024 * 1024)
#define GPT_ENTRY 128       /* bytes per GPT partition entry */
#define GPT_HEADER 96       /* GPT header bytes covered by its CRC */
#define GPT_MIN_ENTRIES 128 /* entries are counted in 128s */
#define MBR_DEFAULT_ID 0x83 /* Linux filesystem */
#define LINUX_FS_GUID "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
/* MBR holds sector numbers in 32 bits; nbdkit leaves room for 5 * 1M of
 * tables and padding under that, and so do we.
 */
#define MBR_MAX_TOTAL ((uint64_t)UINT32_MAX * SECTOR - 5 * MAX_ALIGNMENT)

enum parttype { PARTTYPE_UNSET, PARTTYPE_MBR, PARTTYPE_GPT };

/* One file= parameter: a partition. */
struct part {
    const char *name;   /* as given on the command line: the GPT name */
    int fd;             /* open for the life of the plugin */
    uint64_t size;      /* the file's size in bytes, > 0 */
    uint64_t alignment; /* of the partition's first byte */
    uint8_t mbr_id;
    unsigned char type_guid[16];
    unsigned char guid[16]; /* GPT unique partition GUID, random */
    uint64_t lba;           /* first sector, once laid out */
    uint64_t ebr;           /* MBR logical partitions: their EBR's sector */
};

DEFINE_VECTOR_TYPE(part_vector, struct part)

/* All set by config and config_complete, read-only afterwards. */
static part_vector parts = empty_vector;
static enum parttype parttype = PARTTYPE_UNSET;
static uint64_t alignment = MAX_ALIGNMENT; /* for the following files */
static uint8_t mbr_id = MBR_DEFAULT_ID;    /* for the following files */
static unsigned char type_guid[16];        /* for the following files */
static bool some_readonly;                 /* a file opened read-only */

static struct regions disk;              /* the whole virtual disk */
static unsigned char mbr[SECTOR];        /* sector 0 */
static unsigned char *ebrs;              /* one sector per logical partition */
static unsigned char gpt_hdr[2][SECTOR]; /* primary, secondary */
static unsigned char *gpt_entries;       /* shared by both tables */
static uint64_t gpt_entries_len;         /* bytes */

static void
partitioning_load(void)
{
    parttable_parse_guid(LINUX_FS_GUID, type_guid);
    regions_init(&disk);
}

static void
partitioning_unload(void)
{
    size_t i;

    for (i = 0; i < parts.len; i++)
        close(parts.ptr[i].fd);
    part_vector_reset(&parts);
    regions_free(&disk);
    free(ebrs);
    free(gpt_entries);
}

/* Open a file for a partition, read-write if we may; a file we may only
 * read makes the whole disk read-only.
 */
static int
partitioning_open_file(const char *name, struct part *p)
{
    struct stat st;

    p->fd = open(name, O_RDWR | O_CLOEXEC);
    if (p->fd == -1 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
        p->fd = open(name, O_RDONLY | O_CLOEXEC);
        some_readonly = p->fd != -1;
    }
    if (p->fd == -1) {
        nbdkit_error("open: %s: %m", name);
        return -1;
    }
    if (fstat(p->fd, &st) == -1) {
        nbdkit_error("fstat: %s: %m", name);
        close(p->fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        nbdkit_error("%s: not a regular file", name);
        close(p->fd);
        return -1;
    }
    if (st.st_size == 0) {
        nbdkit_error("%s: zero length partitions are not allowed", name);
        close(p->fd);
        return -1;
    }
    p->size = st.st_size;
    return 0;
}

static int
partitioning_add_file(const char *name)
{
    struct part p = {.name = name, .alignment = alignment, .mbr_id = mbr_id};

    memcpy(p.type_guid, type_guid, 16);
    if (parttable_random_guid(p.guid) == -1) {
        nbdkit_error("getrandom: %m");
        return -1;
    }
    if (partitioning_open_file(name, &p) == -1)
        return -1;
    if (part_vector_append(&parts, p) == -1) {
        nbdkit_error("realloc: %m");
        close(p.fd);
        return -1;
    }
    return 0;
}

static int
partitioning_set_alignment(const char *value)
{
    int64_t a = nbdkit_parse_size(value);

    if (a == -1)
        return -1;
    if (a < SECTOR || a > MAX_ALIGNMENT) {
        nbdkit_error("partition alignment %" PRIi64 " should be >= sector "
                     "size %d and <= maximum alignment %d",
                     a, SECTOR, MAX_ALIGNMENT);
        return -1;
    }
    if ((a & (a - 1)) != 0) {
        nbdkit_error("partition alignment %" PRIi64 " should be a power of "
                     "2 (and a multiple of sector size %d)",
                     a, SECTOR);
        return -1;
    }
    alignment = a;
    return 0;
}

static int
partitioning_config(const char *key, const char *value)
{
    if (strcmp(key, "file") == 0)
        return partitioning_add_file(value);
    if (strcmp(key, "partition-type") == 0) {
        if (strcasecmp(value, "mbr") == 0 || strcasecmp(value, "dos") == 0)
            parttype = PARTTYPE_MBR;
        else if (strcasecmp(value, "gpt") == 0)
            parttype = PARTTYPE_GPT;
        else {
            nbdkit_error("unknown partition-type: %s", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "alignment") == 0)
        return partitioning_set_alignment(value);
    if (strcmp(key, "mbr-id") == 0) {
        if (strcasecmp(value, "default") == 0) {
            mbr_id = MBR_DEFAULT_ID;
            return 0;
        }
        return nbdkit_parse_uint8_t("mbr-id", value, &mbr_id);
    }
    if (strcmp(key, "type-guid") == 0) {
        if (strcasecmp(value, "default") == 0)
            value = LINUX_FS_GUID;
        if (parttable_parse_guid(value, type_guid) == -1) {
            nbdkit_error("could not validate GUID: %s", value);
            return -1;
        }
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

#define partitioning_config_help                                               \
    "[file=]<FILENAME>   (required) File(s) containing partitions.\n"          \
    "partition-type=mbr|gpt          Partition table type.\n"                  \
    "alignment=<SIZE>    Alignment of the following partitions (1M).\n"        \
    "mbr-id=0xN|default  MBR type byte of the following partitions.\n"         \
    "type-guid=GUID|default  GPT type GUID of the following partitions."

/* ---- layout ---- */

/* Append a sector-aligned region; errors say why. */
static int
partitioning_append(uint64_t len, enum region_type type, const void *data)
{
    if (regions_append(&disk, len, type, data) == -1) {
        nbdkit_error("the virtual disk is too large: %m");
        return -1;
    }
    return 0;
}

static int
partitioning_pad(uint64_t to)
{
    if (regions_pad(&disk, to) == -1) {
        nbdkit_error("the virtual disk is too large: %m");
        return -1;
    }
    return 0;
}

/* Place the files after the primary table: each at its alignment, an
 * MBR logical partition one sector after its EBR's sector.
 */
static int
partitioning_place_files(bool logical)
{
    size_t i;

    for (i = 0; i < parts.len; i++) {
        struct part *p = &parts.ptr[i];
        if (logical && i >= 3) {
            p->ebr = regions_size(&disk) / SECTOR;
            if (partitioning_append(SECTOR, REGION_DATA,
                                    ebrs + (i - 3) * SECTOR) == -1)
                return -1;
        }
        if (partitioning_pad(p->alignment) == -1)
            return -1;
        p->lba = regions_size(&disk) / SECTOR;
        if (partitioning_append(p->size, REGION_FILE, p) == -1 ||
            partitioning_pad(SECTOR) == -1)
            return -1;
    }
    return 0;
}

static uint64_t
part_sectors(const struct part *p)
{
    return (p->size + SECTOR - 1) / SECTOR;
}

/* Each EBR: its logical partition relative to itself, then a link to
 * the next EBR relative to the extended partition's start, covering that
 * EBR up to the end of its partition.
 */
static void
mbr_fill_ebrs(uint64_t ext)
{
    size_t i;

    for (i = 3; i < parts.len; i++) {
        const struct part *p = &parts.ptr[i];
        unsigned char *s = ebrs + (i - 3) * SECTOR;
        parttable_mbr_entry(s + 446, 0, p->mbr_id, p->lba - p->ebr,
                            part_sectors(p));
        if (i + 1 < parts.len) {
            const struct part *n = &parts.ptr[i + 1];
            parttable_mbr_entry(s + 446 + 16, 0, 0x0f, n->ebr - ext,
                                n->lba + part_sectors(n) - n->ebr);
        }
        parttable_mbr_signature(s);
    }
}

static int
mbr_layout(void)
{
    bool logical = parts.len > 4;
    uint64_t end;
    size_t i;

    if (logical) {
        ebrs = calloc(parts.len - 3, SECTOR);
        if (ebrs == NULL) {
            nbdkit_error("calloc: %m");
            return -1;
        }
    }
    if (partitioning_append(SECTOR, REGION_DATA, mbr) == -1 ||
        partitioning_place_files(logical) == -1)
        return -1;
    end = regions_size(&disk) / SECTOR;
    for (i = 0; i < parts.len && i < (logical ? 3 : 4); i++) {
        const struct part *p = &parts.ptr[i];
        parttable_mbr_entry(mbr + 446 + 16 * i, i == 0 ? 0x80 : 0, p->mbr_id,
                            p->lba, part_sectors(p));
    }
    if (logical) {
        uint64_t ext = parts.ptr[3].ebr;
        parttable_mbr_entry(mbr + 446 + 48, 0, 0x0f, ext, end - ext);
        mbr_fill_ebrs(ext);
    }
    parttable_mbr_signature(mbr);
    return 0;
}

static void
gpt_fill_entries(void)
{
    size_t i;

    for (i = 0; i < parts.len; i++) {
        const struct part *p = &parts.ptr[i];
        parttable_gpt_entry(gpt_entries + i * GPT_ENTRY, p->type_guid, p->guid,
                            p->lba, p->lba + part_sectors(p) - 1,
                            i == 0 ? PARTTABLE_GPT_BOOT : 0, p->name);
    }
}

static int
gpt_layout(void)
{
    uint64_t n = (parts.len + GPT_MIN_ENTRIES - 1) / GPT_MIN_ENTRIES;
    uint64_t tsect, first, last, total;

    gpt_entries_len = n * GPT_MIN_ENTRIES * GPT_ENTRY;
    tsect = gpt_entries_len / SECTOR;
    gpt_entries = calloc(1, gpt_entries_len);
    if (gpt_entries == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    if (partitioning_append(SECTOR, REGION_DATA, mbr) == -1 ||
        partitioning_append(SECTOR, REGION_DATA, gpt_hdr[0]) == -1 ||
        partitioning_append(gpt_entries_len, REGION_DATA, gpt_entries) == -1 ||
        partitioning_place_files(false) == -1)
        return -1;
    first = 2 + tsect;
    last = regions_size(&disk) / SECTOR - 1;
    if (partitioning_append(gpt_entries_len, REGION_DATA, gpt_entries) == -1 ||
        partitioning_append(SECTOR, REGION_DATA, gpt_hdr[1]) == -1)
        return -1;
    total = regions_size(&disk) / SECTOR;
    gpt_fill_entries();
    parttable_gpt_header(gpt_hdr[0], 1, total - 1, 2, first, last, gpt_entries,
                         n * GPT_MIN_ENTRIES);
    parttable_gpt_header(gpt_hdr[1], total - 1, 1, last + 1, first, last,
                         gpt_entries, n * GPT_MIN_ENTRIES);
    parttable_mbr_protective(mbr, total);
    return 0;
}

/* Choose the table type as nbdkit does, then lay out the disk. */
static int
partitioning_config_complete(void)
{
    uint64_t total = 0;
    size_t i;

    if (parts.len == 0) {
        nbdkit_error("at least one file= parameter must be supplied");
        return -1;
    }
    for (i = 0; i < parts.len; i++)
        total += parts.ptr[i].size; /* each below INT64_MAX: no wrap */
    if (parttype == PARTTYPE_UNSET)
        parttype = parts.len > 4 || total > MBR_MAX_TOTAL ? PARTTYPE_GPT
                                                          : PARTTYPE_MBR;
    if (parttype == PARTTYPE_MBR && total > MBR_MAX_TOTAL) {
        nbdkit_error("MBR partition table type supports a maximum virtual "
                     "disk size of about 2 TB, but you requested %zu "
                     "partition(s) and a total size of %" PRIu64
                     " bytes (> %" PRIu64 ").  Try using: partition-type=gpt",
                     parts.len, total, MBR_MAX_TOTAL);
        return -1;
    }
    return parttype == PARTTYPE_MBR ? mbr_layout() : gpt_layout();
}

/* ---- connections ---- */

static void *
partitioning_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
partitioning_get_size(void *handle)
{
    return regions_size(&disk);
}

static int
partitioning_can_write(void *handle)
{
    return !some_readonly;
}

static int
partitioning_can_multi_conn(void *handle)
{
    return 1;
}

static int
partitioning_can_cache(void *handle)
{
    return NBDKIT_CACHE_EMULATE;
}

/* ---- data ---- */

/* The part of a request that lies in region r: n bytes at offset. */
static uint32_t
partitioning_span(const struct region *r, uint32_t count, uint64_t offset)
{
    return r->end - offset < count ? r->end - offset : count;
}

static int
partitioning_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                   uint32_t flags)
{
    char *out = buf;

    while (count > 0) {
        const struct region *r = regions_find(&disk, offset);
        uint32_t n = partitioning_span(r, count, offset);
        uint64_t roff = offset - r->start;
        const struct part *p = r->data;

        switch (r->type) {
        case REGION_ZERO:
            memset(out, 0, n);
            break;
        case REGION_DATA:
            memcpy(out, (const char *)r->data + roff, n);
            break;
        case REGION_FILE:
            for (uint32_t done = 0; done < n;) {
                ssize_t k = pread(p->fd, out + done, n - done, roff + done);
                if (k == -1) {
                    nbdkit_error("pread: %s: %m", p->name);
                    return -1;
                }
                if (k == 0) { /* the file shrank: read it as zeroes */
                    memset(out + done, 0, n - done);
                    break;
                }
                done += k;
            }
            break;
        }
        out += n;
        count -= n;
        offset += n;
    }
    return 0;
}

/* A write to the tables or the padding may only rewrite what is there. */
static int
partitioning_pwrite_virtual(const struct region *r, const char *in, uint32_t n,
                            uint64_t roff)
{
    if (r->type == REGION_DATA &&
        memcmp((const char *)r->data + roff, in, n) != 0) {
        nbdkit_error("attempt to change partition table of virtual disk");
        errno = EIO;
        return -1;
    }
    if (r->type == REGION_ZERO && !is_zero(in, n)) {
        nbdkit_error("write non-zeroes to padding region");
        errno = EIO;
        return -1;
    }
    return 0;
}

static int
partitioning_pwrite(void *handle, const void *buf, uint32_t count,
                    uint64_t offset, uint32_t flags)
{
    const char *in = buf;

    while (count > 0) {
        const struct region *r = regions_find(&disk, offset);
        uint32_t n = partitioning_span(r, count, offset);
        uint64_t roff = offset - r->start;
        const struct part *p = r->data;

        if (r->type != REGION_FILE) {
            if (partitioning_pwrite_virtual(r, in, n, roff) == -1)
                return -1;
        } else {
            for (uint32_t done = 0; done < n;) {
                ssize_t k = pwrite(p->fd, in + done, n - done, roff + done);
                if (k == -1) {
                    nbdkit_error("pwrite: %s: %m", p->name);
                    return -1;
                }
                done += k;
            }
        }
        in += n;
        count -= n;
        offset += n;
    }
    return 0;
}

static int
partitioning_flush(void *handle, uint32_t flags)
{
    size_t i;

    for (i = 0; i < parts.len; i++) {
        if (fdatasync(parts.ptr[i].fd) == -1) {
            nbdkit_error("fdatasync: %s: %m", parts.ptr[i].name);
            return -1;
        }
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "partitioning",
    .longname = "nbdx partitioning plugin",
    .version = PACKAGE_VERSION,
    .description = "A virtual partitioned disk made of files, one partition "
                   "each.",
    .load = partitioning_load,
    .unload = partitioning_unload,
    .magic_config_key = "file",
    .config = partitioning_config,
    .config_complete = partitioning_config_complete,
    .config_help = partitioning_config_help,
    .open = partitioning_open,
    .get_size = partitioning_get_size,
    .can_write = partitioning_can_write,
    .can_multi_conn = partitioning_can_multi_conn,
    .can_cache = partitioning_can_cache,
    .pread = partitioning_pread,
    .pwrite = partitioning_pwrite,
    .flush = partitioning_flush,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
