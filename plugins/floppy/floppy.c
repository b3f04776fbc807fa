/* SPDX-License-Identifier: BSD-3-Clause */
/* floppy: a read-only disk with one MBR partition holding a virtual FAT32
 * filesystem of a directory, synthesized in memory, with the files' data
 * read from the files when clients read it (see nbdx-floppy-plugin(1)).
 *
 * The geometry is nbdkit's floppy plugin's, so the same directory gives
 * a disk of the same size: the partition at 1M, 512-byte sectors, 32
 * sectors (16K) a cluster, 32 reserved sectors (boot sector at 0, FSInfo
 * at 1, their backups at 6 and 7), two FATs each rounded up to whole
 * clusters, the root directory at cluster 2, the other directories next
 * (depth first, in the order they are listed), then the files' data,
 * each file on consecutive clusters.  Every name gets long file name
 * entries, as in nbdkit; short names are unique 8.3 names.
 *
 * config_complete scans the tree and builds the disk as a list of
 * regions (common/regions): the tables and directories in memory, the
 * files by path, zeroes elsewhere.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "byteorder.h"
#include "parttable.h"
#include "regions.h"
#include "vector.h"

#define SECTOR 512
#define PART_LBA 2048            /* the partition starts at 1M */
#define SPC 32                   /* sectors per cluster */
#define CLUSTER (SPC * SECTOR)   /* 16K */
#define RESERVED 32              /* sectors before the first FAT */
#define DIRENT 32                /* bytes per directory entry */
#define LFN_CHARS 13             /* UTF-16 units per LFN entry */
#define MAX_NAME 255             /* UTF-16 units in a long name */
#define MIN_CLUSTERS 65525       /* FAT32's smallest cluster count */
#define MAX_CLUSTERS 0x0ffffff5u /* FAT32's largest cluster count */
#define FAT_EOC 0x0fffffffu      /* end of a cluster chain */
#define VOLUME_ID 0x01020304u    /* nbdkit's volume serial number */

/* One file or directory of the tree.  Nodes refer to each other by index
 * in the nodes vector, which moves as it grows.
 */
struct node {
    char *path;          /* on the host, owned */
    const char *name;    /* the last part of path */
    struct stat st;      /* lstat at scan time */
    size_t parent;       /* index; the root is its own parent */
    size_t first, count; /* directories: children at order[first..+count) */
    uint32_t cluster;    /* first cluster; 0 for an empty file */
    uint32_t clusters;   /* how many */
    char short_name[11]; /* 8.3, space-padded */
    unsigned char *dir;  /* directories: their entries, owned */
};

DEFINE_VECTOR_TYPE(node_vector, struct node)
DEFINE_VECTOR_TYPE(index_vector, size_t)

/* Set by config, read-only afterwards. */
static char *dir;                      /* dir=, absolute, owned */
static char label[12] = "NBDKITFLOPY"; /* label=, space-padded to 11 */
static int64_t size = -1;              /* size=, -1 if not given */

/* Built by config_complete, read-only afterwards. */
static node_vector nodes = empty_vector;  /* nodes[0] is the root */
static index_vector order = empty_vector; /* children of each directory */
static index_vector dirs = empty_vector;  /* directories, cluster order */
static struct regions disk;
static unsigned char mbr[SECTOR];
static unsigned char boot[SECTOR];
static unsigned char fsinfo[SECTOR];
static unsigned char *fat; /* the used part of the FAT */
static uint64_t fat_used;  /* its bytes */
static uint32_t data_clusters, used_clusters;
static uint32_t fat_sectors, part_sectors;

static void
floppy_load(void)
{
    regions_init(&disk);
}

static void
floppy_unload(void)
{
    size_t i;

    for (i = 0; i < nodes.len; i++) {
        free(nodes.ptr[i].path);
        free(nodes.ptr[i].dir);
    }
    node_vector_reset(&nodes);
    index_vector_reset(&order);
    index_vector_reset(&dirs);
    regions_free(&disk);
    free(fat);
    free(dir);
}

static int
floppy_set_label(const char *value)
{
    size_t i, n = strlen(value);

    if (n == 0 || n > 11) {
        nbdkit_error("label must be 1 to 11 characters");
        return -1;
    }
    for (i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] >= 0x7f) {
            nbdkit_error("label must be printable ASCII");
            return -1;
        }
    memset(label, ' ', 11);
    memcpy(label, value, n);
    return 0;
}

static int
floppy_config(const char *key, const char *value)
{
    if (strcmp(key, "dir") == 0) {
        free(dir);
        dir = nbdkit_realpath(value);
        return dir ? 0 : -1;
    }
    if (strcmp(key, "label") == 0)
        return floppy_set_label(value);
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

#define floppy_config_help                                                     \
    "[dir=]<DIRECTORY>   (required) The directory to serve.\n"                 \
    "label=<LABEL>       The volume label (up to 11 characters).\n"            \
    "size=<SIZE>         The disk size (default: just enough)."

/* ---- scanning the directory ---- */

/* Sort children: directories first, then files, each by name. */
static int
floppy_compare(const void *a, const void *b)
{
    const struct node *x = &nodes.ptr[*(const size_t *)a];
    const struct node *y = &nodes.ptr[*(const size_t *)b];
    bool dx = S_ISDIR(x->st.st_mode), dy = S_ISDIR(y->st.st_mode);

    if (dx != dy)
        return dx ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int
floppy_add_node(const char *path, size_t parent)
{
    struct node n = {.parent = parent};

    n.path = strdup(path);
    if (n.path == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    n.name = strrchr(n.path, '/') + 1;
    if (lstat(path, &n.st) == -1) {
        nbdkit_error("lstat: %s: %m", path);
        free(n.path);
        return -1;
    }
    if (S_ISREG(n.st.st_mode) && n.st.st_size > UINT32_MAX) {
        nbdkit_error("%s: a file on FAT32 must be smaller than 4G", path);
        free(n.path);
        return -1;
    }
    if (node_vector_append(&nodes, n) == -1) {
        nbdkit_error("realloc: %m");
        free(n.path);
        return -1;
    }
    return 0;
}

/* Add the files and directories in directory d as its children, sorted;
 * other kinds of files (links, devices) are left out.
 */
static int
floppy_read_dir(size_t d)
{
    DIR *dp = opendir(nodes.ptr[d].path);
    struct dirent *e;
    size_t start = nodes.len, i;
    char *path;
    int r = 0;

    if (dp == NULL) {
        nbdkit_error("opendir: %s: %m", nodes.ptr[d].path);
        return -1;
    }
    while (r == 0 && (errno = 0, e = readdir(dp)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (asprintf(&path, "%s/%s", nodes.ptr[d].path, e->d_name) == -1) {
            nbdkit_error("asprintf: %m");
            r = -1;
            break;
        }
        r = floppy_add_node(path, d);
        free(path);
        if (r == 0 && !S_ISREG(nodes.ptr[nodes.len - 1].st.st_mode) &&
            !S_ISDIR(nodes.ptr[nodes.len - 1].st.st_mode)) {
            nbdkit_debug("%s: not a regular file or directory: left out",
                         nodes.ptr[nodes.len - 1].path);
            free(nodes.ptr[--nodes.len].path);
        }
    }
    if (r == 0 && errno != 0) {
        nbdkit_error("readdir: %s: %m", nodes.ptr[d].path);
        r = -1;
    }
    closedir(dp);
    if (r == -1)
        return -1;
    nodes.ptr[d].first = order.len;
    nodes.ptr[d].count = nodes.len - start;
    for (i = start; i < nodes.len; i++)
        if (index_vector_append(&order, i) == -1) {
            nbdkit_error("realloc: %m");
            return -1;
        }
    qsort(order.ptr + nodes.ptr[d].first, nodes.ptr[d].count, sizeof(size_t),
          floppy_compare);
    return 0;
}

/* Directory d and those below it, depth first, each appended to dirs. */
static int
floppy_scan(size_t d, unsigned depth)
{
    size_t i;

    if (depth > 64) {
        nbdkit_error("%s: directories nested too deep", nodes.ptr[d].path);
        return -1;
    }
    if (index_vector_append(&dirs, d) == -1) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    if (floppy_read_dir(d) == -1)
        return -1;
    for (i = 0; i < nodes.ptr[d].count; i++) {
        size_t c = order.ptr[nodes.ptr[d].first + i];
        if (S_ISDIR(nodes.ptr[c].st.st_mode) && floppy_scan(c, depth + 1) == -1)
            return -1;
    }
    return 0;
}

/* ---- names ---- */

/* The UTF-16 units of a UTF-8 name, at most MAX_NAME; bytes that are not
 * UTF-8 are taken as Latin-1.  -1 if the name is too long.
 */
static int
floppy_utf16(const char *name, uint16_t *out)
{
    const unsigned char *s = (const unsigned char *)name;
    int n = 0, len, i;
    uint32_t c;

    while (*s) {
        len = *s < 0x80             ? 1
              : (*s & 0xe0) == 0xc0 ? 2
              : (*s & 0xf0) == 0xe0 ? 3
              : (*s & 0xf8) == 0xf0 ? 4
                                    : 0;
        c = len == 1   ? *s
            : len == 2 ? *s & 0x1f
            : len == 3 ? *s & 0x0f
                       : *s & 7;
        for (i = 1; i < len; i++) {
            if ((s[i] & 0xc0) != 0x80)
                break;
            c = c << 6 | (s[i] & 0x3f);
        }
        if (len == 0 || i < len || c > 0x10ffff) {
            c = *s; /* not UTF-8 */
            len = 1;
        }
        s += len;
        if (n + (c >= 0x10000 ? 2 : 1) > MAX_NAME)
            return -1;
        if (c >= 0x10000) {
            c -= 0x10000;
            out[n++] = 0xd800 | c >> 10;
            out[n++] = 0xdc00 | (c & 0x3ff);
        } else
            out[n++] = c;
    }
    return n;
}

static bool
floppy_short_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'()-@^_`{}~", c) != NULL);
}

/* Copy up to max characters of s[0..n) into out, upper-cased, as short
 * name characters; *lossy is set if anything was changed or dropped.
 */
static size_t
floppy_short_part(const char *s, size_t n, char *out, size_t max, bool *lossy)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        if (c == ' ' || c == '.') {
            *lossy = true;
            continue;
        }
        if (!floppy_short_char(c)) {
            c = '_';
            *lossy = true;
        }
        if (k == max) {
            *lossy = true;
            break;
        }
        out[k++] = c;
    }
    return k;
}

static bool
floppy_short_taken(size_t d, size_t upto, const char *sn)
{
    size_t i;

    for (i = 0; i < upto; i++)
        if (memcmp(nodes.ptr[order.ptr[nodes.ptr[d].first + i]].short_name, sn,
                   11) == 0)
            return true;
    return false;
}

/* The short name of child i of directory d, unique among the children
 * before it: the name itself if it is a valid 8.3 name, else the basis
 * name with ~N.  (Case alone does not make a name lossy: the long name
 * keeps it.)
 */
static int
floppy_short_name(size_t d, size_t i)
{
    struct node *n = &nodes.ptr[order.ptr[nodes.ptr[d].first + i]];
    const char *name = n->name, *dot = strrchr(name, '.');
    char base[8], ext[3], *sn = n->short_name;
    size_t nb, ne, k;
    bool lossy = false;
    unsigned t;

    if (dot == name)
        dot = NULL; /* a leading dot is not an extension */
    nb = floppy_short_part(name, dot ? (size_t)(dot - name) : strlen(name),
                           base, 8, &lossy);
    ne = dot ? floppy_short_part(dot + 1, strlen(dot + 1), ext, 3, &lossy) : 0;
    if (nb == 0)
        base[nb++] = '_', lossy = true;
    memset(sn, ' ', 11);
    memcpy(sn + 8, ext, ne);
    memcpy(sn, base, nb);
    if (!lossy && !floppy_short_taken(d, i, sn))
        return 0;
    for (t = 1; t < 1000000; t++) {
        char tail[9];
        int tl = snprintf(tail, sizeof tail, "~%u", t);
        k = nb < 8 - (size_t)tl ? nb : 8 - (size_t)tl;
        memset(sn, ' ', 8);
        memcpy(sn, base, k);
        memcpy(sn + k, tail, tl);
        if (!floppy_short_taken(d, i, sn))
            return 0;
    }
    nbdkit_error("%s: no unique short name", n->path);
    return -1;
}

/* ---- directories and layout ---- */

static uint32_t
floppy_entries(size_t d)
{
    uint16_t u[MAX_NAME];
    uint32_t e = 2; /* the label in the root, . and .. elsewhere */
    size_t i;

    if (d == 0)
        e = 1;
    for (i = 0; i < nodes.ptr[d].count; i++) {
        int n =
            floppy_utf16(nodes.ptr[order.ptr[nodes.ptr[d].first + i]].name, u);
        e += (n + LFN_CHARS - 1) / LFN_CHARS + 1;
    }
    return e;
}

static uint32_t
floppy_clusters_of(uint64_t bytes)
{
    return (bytes + CLUSTER - 1) / CLUSTER;
}

/* Check names and give every directory, then every file, its clusters. */
static int
floppy_allocate(void)
{
    uint32_t next = 2;
    size_t i, j;

    for (i = 0; i < dirs.len; i++) {
        size_t d = dirs.ptr[i];
        uint16_t u[MAX_NAME];
        for (j = 0; j < nodes.ptr[d].count; j++) {
            struct node *c = &nodes.ptr[order.ptr[nodes.ptr[d].first + j]];
            if (floppy_utf16(c->name, u) == -1) {
                nbdkit_error("%s: name longer than FAT allows", c->path);
                return -1;
            }
            if (floppy_short_name(d, j) == -1)
                return -1;
        }
        nodes.ptr[d].cluster = next;
        nodes.ptr[d].clusters =
            floppy_clusters_of((uint64_t)floppy_entries(d) * DIRENT);
        next += nodes.ptr[d].clusters;
    }
    for (i = 0; i < dirs.len; i++) {
        struct node *d = &nodes.ptr[dirs.ptr[i]];
        for (j = 0; j < d->count; j++) {
            struct node *c = &nodes.ptr[order.ptr[d->first + j]];
            if (!S_ISREG(c->st.st_mode) || c->st.st_size == 0)
                continue;
            c->cluster = next;
            c->clusters = floppy_clusters_of(c->st.st_size);
            if (c->clusters > MAX_CLUSTERS - next) {
                nbdkit_error("disk image is too large for the FAT32 disk "
                             "format");
                return -1;
            }
            next += c->clusters;
        }
    }
    used_clusters = next - 2;
    return 0;
}

/* FAT date and time of t, in local time like other FAT writers. */
static void
floppy_time(time_t t, uint16_t *date, uint16_t *tm)
{
    struct tm lt;

    if (localtime_r(&t, &lt) == NULL || lt.tm_year < 80) {
        *date = (0 << 9) | (1 << 5) | 1; /* 1980-01-01 */
        *tm = 0;
        return;
    }
    if (lt.tm_year > 207)
        lt.tm_year = 207;
    *date = (lt.tm_year - 80) << 9 | (lt.tm_mon + 1) << 5 | lt.tm_mday;
    *tm = lt.tm_hour << 11 | lt.tm_min << 5 | lt.tm_sec / 2;
}

/* The short entry at e for node n, named sn. */
static void
floppy_short_entry(unsigned char *e, const char *sn, const struct node *n)
{
    uint16_t date, tm;

    memcpy(e, sn, 11);
    e[11] = S_ISDIR(n->st.st_mode) ? 0x10 : 0x20; /* directory, archive */
    e[13] = (n->st.st_ctim.tv_sec % 2) * 100 + n->st.st_ctim.tv_nsec / 10000000;
    floppy_time(n->st.st_ctim.tv_sec, &date, &tm);
    byteorder_write_le16(e + 14, tm);
    byteorder_write_le16(e + 16, date);
    floppy_time(n->st.st_atim.tv_sec, &date, &tm);
    byteorder_write_le16(e + 18, date);
    byteorder_write_le16(e + 20, n->cluster >> 16);
    floppy_time(n->st.st_mtim.tv_sec, &date, &tm);
    byteorder_write_le16(e + 22, tm);
    byteorder_write_le16(e + 24, date);
    byteorder_write_le16(e + 26, n->cluster & 0xffff);
    if (S_ISREG(n->st.st_mode))
        byteorder_write_le32(e + 28, n->st.st_size);
}

static uint8_t
floppy_checksum(const char *sn)
{
    uint8_t sum = 0;
    int i;

    for (i = 0; i < 11; i++)
        sum = ((sum & 1) << 7) + (sum >> 1) + (uint8_t)sn[i];
    return sum;
}

/* The long name entries of n at e, last part first; returns how many. */
static size_t
floppy_lfn_entries(unsigned char *e, const struct node *n)
{
    static const int pos[LFN_CHARS] = {1,  3,  5,  7,  9,  14, 16,
                                       18, 20, 22, 24, 28, 30};
    uint16_t u[MAX_NAME];
    int len = floppy_utf16(n->name, u), parts, p, k;
    uint8_t sum = floppy_checksum(n->short_name);

    parts = (len + LFN_CHARS - 1) / LFN_CHARS;
    for (p = parts; p >= 1; p--, e += DIRENT) {
        e[0] = p | (p == parts ? 0x40 : 0);
        e[11] = 0x0f;
        e[13] = sum;
        for (k = 0; k < LFN_CHARS; k++) {
            int c = (p - 1) * LFN_CHARS + k;
            uint16_t v = c < len ? u[c] : c == len ? 0 : 0xffff;
            byteorder_write_le16(e + pos[k], v);
        }
    }
    return parts;
}

static int
floppy_fill_dir(size_t d)
{
    struct node *n = &nodes.ptr[d];
    unsigned char *e;
    size_t i;

    n->dir = calloc(n->clusters, CLUSTER);
    if (n->dir == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    e = n->dir;
    if (d == 0) {
        memcpy(e, label, 11);
        e[11] = 0x08; /* volume label */
        e += DIRENT;
    } else {
        floppy_short_entry(e, ".          ", n);
        e += DIRENT;
        /* ".." of a directory in the root holds cluster 0. */
        struct node parent = nodes.ptr[n->parent];
        if (n->parent == 0)
            parent.cluster = 0;
        floppy_short_entry(e, "..         ", &parent);
        e += DIRENT;
    }
    for (i = 0; i < n->count; i++) {
        const struct node *c = &nodes.ptr[order.ptr[n->first + i]];
        e += floppy_lfn_entries(e, c) * DIRENT;
        floppy_short_entry(e, c->short_name, c);
        e += DIRENT;
    }
    return 0;
}

static uint32_t
floppy_fat_sectors(uint32_t clusters)
{
    uint64_t bytes = ((uint64_t)clusters + 2) * 4;

    return floppy_clusters_of(bytes) * SPC;
}

/* How many data clusters: as many as the files need, but at least the
 * smallest count FAT32 allows (tools such as mtools take a FAT32 with
 * fewer clusters for FAT12 or FAT16); or as many as size= leaves room for,
 * however few (the FAT grows with them, so settle on a count that fits).
 */
static int
floppy_geometry(void)
{
    uint64_t part, c, f;

    if (size == -1) {
        data_clusters =
            used_clusters > MIN_CLUSTERS ? used_clusters : MIN_CLUSTERS;
        fat_sectors = floppy_fat_sectors(data_clusters);
        part_sectors =
            RESERVED + 2 * fat_sectors + (uint64_t)SPC * data_clusters;
        return 0;
    }
    part = size / SECTOR > PART_LBA ? size / SECTOR - PART_LBA : 0;
    if (part > UINT32_MAX)
        part = UINT32_MAX;
    c = part > RESERVED ? (part - RESERVED) / SPC : 0;
    if (c > MAX_CLUSTERS)
        c = MAX_CLUSTERS;
    for (;;) {
        f = floppy_fat_sectors(c);
        if (RESERVED + 2 * f + SPC * c <= part || c == 0)
            break;
        c--;
    }
    if (c < used_clusters || RESERVED + 2 * f + SPC * c > part) {
        nbdkit_error("size=%" PRIi64 " is too small for the files in %s", size,
                     dir);
        return -1;
    }
    data_clusters = c;
    fat_sectors = f;
    part_sectors = part;
    return 0;
}

static void
floppy_fill_boot(void)
{
    memcpy(boot, "\xeb\x58\x90MSWIN4.1", 11);
    byteorder_write_le16(boot + 11, SECTOR);
    boot[13] = SPC;
    byteorder_write_le16(boot + 14, RESERVED);
    boot[16] = 2;    /* FATs */
    boot[21] = 0xf8; /* media: fixed disk */
    /* A geometry, which mtools wants even with LBA: 63 sectors, 255 heads. */
    byteorder_write_le16(boot + 24, 63);
    byteorder_write_le16(boot + 26, 255);
    byteorder_write_le32(boot + 28, PART_LBA); /* hidden sectors */
    byteorder_write_le32(boot + 32, part_sectors);
    byteorder_write_le32(boot + 36, fat_sectors);
    byteorder_write_le32(boot + 44, 2); /* root directory cluster */
    byteorder_write_le16(boot + 48, 1); /* FSInfo sector */
    byteorder_write_le16(boot + 50, 6); /* backup boot sector */
    boot[64] = 0x80;                    /* drive number */
    boot[66] = 0x29;                    /* extended boot signature */
    byteorder_write_le32(boot + 67, VOLUME_ID);
    memcpy(boot + 71, label, 11);
    memcpy(boot + 82, "FAT32   ", 8);
    parttable_mbr_signature(boot);

    memcpy(fsinfo, "RRaA", 4);
    memcpy(fsinfo + 484, "rrAa", 4);
    byteorder_write_le32(fsinfo + 488, data_clusters - used_clusters);
    byteorder_write_le32(fsinfo + 492, data_clusters > used_clusters
                                           ? used_clusters + 2
                                           : 0xffffffff);
    parttable_mbr_signature(fsinfo);
}

/* The FAT up to the last used cluster: each chain runs on consecutive
 * clusters.
 */
static int
floppy_fill_fat(void)
{
    size_t i;
    uint32_t k;

    fat_used = ((uint64_t)used_clusters + 2) * 4;
    fat = calloc(1, fat_used);
    if (fat == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    byteorder_write_le32(fat, 0x0ffffff8);
    byteorder_write_le32(fat + 4, FAT_EOC);
    for (i = 0; i < nodes.len; i++) {
        const struct node *n = &nodes.ptr[i];
        for (k = 0; k < n->clusters; k++)
            byteorder_write_le32(fat + 4 * ((uint64_t)n->cluster + k),
                                 k + 1 < n->clusters ? n->cluster + k + 1
                                                     : FAT_EOC);
    }
    return 0;
}

static int
floppy_append(uint64_t len, enum region_type type, const void *data)
{
    if (regions_append(&disk, len, type, data) == -1) {
        nbdkit_error("the virtual disk is too large: %m");
        return -1;
    }
    return 0;
}

static int
floppy_append_fat(void)
{
    return floppy_append(fat_used, REGION_DATA, fat) == -1 ||
                   floppy_append((uint64_t)fat_sectors * SECTOR - fat_used,
                                 REGION_ZERO, NULL) == -1
               ? -1
               : 0;
}

/* Data: directories, then files, each padded to whole clusters. */
static int
floppy_append_data(void)
{
    size_t i, j;

    for (i = 0; i < dirs.len; i++) {
        const struct node *d = &nodes.ptr[dirs.ptr[i]];
        if (floppy_append((uint64_t)d->clusters * CLUSTER, REGION_DATA,
                          d->dir) == -1)
            return -1;
    }
    for (i = 0; i < dirs.len; i++) {
        const struct node *d = &nodes.ptr[dirs.ptr[i]];
        for (j = 0; j < d->count; j++) {
            const struct node *c = &nodes.ptr[order.ptr[d->first + j]];
            if (c->clusters == 0 || S_ISDIR(c->st.st_mode))
                continue;
            if (floppy_append(c->st.st_size, REGION_FILE, c) == -1 ||
                floppy_append((uint64_t)c->clusters * CLUSTER - c->st.st_size,
                              REGION_ZERO, NULL) == -1)
                return -1;
        }
    }
    return 0;
}

static int
floppy_layout(void)
{
    uint64_t end = (uint64_t)(PART_LBA + part_sectors) * SECTOR;

    /* nbdkit's MBR carries the OEM name where boot code would be. */
    memcpy(mbr + 3, "MSWIN4.1", 8);
    parttable_mbr_entry(mbr + 446, 0, 0x0c, PART_LBA, part_sectors);
    parttable_mbr_signature(mbr);
    if (floppy_append(SECTOR, REGION_DATA, mbr) == -1 ||
        floppy_append((PART_LBA - 1) * SECTOR, REGION_ZERO, NULL) == -1 ||
        floppy_append(SECTOR, REGION_DATA, boot) == -1 ||
        floppy_append(SECTOR, REGION_DATA, fsinfo) == -1 ||
        floppy_append(4 * SECTOR, REGION_ZERO, NULL) == -1 ||
        floppy_append(SECTOR, REGION_DATA, boot) == -1 ||
        floppy_append(SECTOR, REGION_DATA, fsinfo) == -1 ||
        floppy_append((RESERVED - 8) * SECTOR, REGION_ZERO, NULL) == -1 ||
        floppy_append_fat() == -1 || floppy_append_fat() == -1 ||
        floppy_append_data() == -1)
        return -1;
    /* Free clusters, the sectors after the last cluster, and what size=
     * asked for beyond the partition, all zeroes.
     */
    if (floppy_append(end - regions_size(&disk), REGION_ZERO, NULL) == -1)
        return -1;
    if (size > 0 && (uint64_t)size / SECTOR * SECTOR > end)
        return floppy_append(size / SECTOR * SECTOR - end, REGION_ZERO, NULL);
    return 0;
}

static int
floppy_config_complete(void)
{
    size_t i;

    if (dir == NULL) {
        nbdkit_error("you must supply the dir=<DIRECTORY> parameter after "
                     "the plugin name on the command line");
        return -1;
    }
    if (floppy_add_node(dir, 0) == -1)
        return -1;
    if (!S_ISDIR(nodes.ptr[0].st.st_mode)) {
        nbdkit_error("%s: not a directory", dir);
        return -1;
    }
    if (floppy_scan(0, 0) == -1 || floppy_allocate() == -1)
        return -1;
    for (i = 0; i < dirs.len; i++)
        if (floppy_fill_dir(dirs.ptr[i]) == -1)
            return -1;
    if (floppy_geometry() == -1)
        return -1;
    floppy_fill_boot();
    if (floppy_fill_fat() == -1)
        return -1;
    return floppy_layout();
}

/* ---- connections and data ---- */

static void *
floppy_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
floppy_get_size(void *handle)
{
    return regions_size(&disk);
}

static int
floppy_can_multi_conn(void *handle)
{
    return 1;
}

static int
floppy_can_cache(void *handle)
{
    return NBDKIT_CACHE_EMULATE;
}

/* n bytes of file f at offset; past its current end (it shrank) reads as
 * zeroes.
 */
static int
floppy_read_file(const struct node *f, char *out, uint32_t n, uint64_t offset)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    ssize_t r;

    if (fd == -1) {
        nbdkit_error("open: %s: %m", f->path);
        return -1;
    }
    while (n > 0) {
        r = pread(fd, out, n, offset);
        if (r == -1) {
            nbdkit_error("pread: %s: %m", f->path);
            close(fd);
            return -1;
        }
        if (r == 0) {
            memset(out, 0, n);
            break;
        }
        out += r;
        n -= r;
        offset += r;
    }
    close(fd);
    return 0;
}

static int
floppy_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
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
        else if (floppy_read_file(r->data, out, n, offset - r->start) == -1)
            return -1;
        out += n;
        count -= n;
        offset += n;
    }
    return 0;
}

/* Padding and free space are holes that read as zeroes. */
static int
floppy_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents)
{
    uint64_t end = offset + count;

    while (offset < end) {
        const struct region *r = regions_find(&disk, offset);
        uint32_t type = r->type == REGION_ZERO
                            ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO
                            : 0;
        if (nbdkit_add_extent(extents, offset, r->end - offset, type) == -1)
            return -1;
        offset = r->end;
        if (flags & NBDKIT_FLAG_REQ_ONE)
            break;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "floppy",
    .longname = "nbdx floppy plugin",
    .version = PACKAGE_VERSION,
    .description = "A read-only disk with a virtual FAT32 filesystem of a "
                   "directory.",
    .load = floppy_load,
    .unload = floppy_unload,
    .magic_config_key = "dir",
    .config = floppy_config,
    .config_complete = floppy_config_complete,
    .config_help = floppy_config_help,
    .open = floppy_open,
    .get_size = floppy_get_size,
    .can_multi_conn = floppy_can_multi_conn,
    .can_cache = floppy_can_cache,
    .pread = floppy_pread,
    .extents = floppy_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
