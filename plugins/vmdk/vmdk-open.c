/* SPDX-License-Identifier: BSD-3-Clause */
/* vmdk: from a descriptor to a struct vmdk_disk.
 *
 * The descriptor is a text file or is embedded in a hosted sparse extent
 * (monolithicSparse, streamOptimized).  Its extent lines name the files;
 * a sparse extent's grain directory and grain tables are read into
 * memory here and checked against the file's size, so that the I/O path
 * never meets a table entry outside its file.  parentFileNameHint opens
 * the base of a delta disk the same way, to a bounded depth.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "byteorder.h"
#include "overflow.h"
#include "vmdk.h"

#define SPARSE_MAGIC 0x564d444b                /* "KDMV" */
#define GD_AT_END UINT64_C(0xffffffffffffffff) /* streamOptimized */
#define FLAG_RGD (1 << 1)
#define FLAG_COMPRESSED (1 << 16)
#define DESCRIPTOR_MAX (1 << 20)       /* a text descriptor, in bytes */
#define TABLES_MAX (UINT64_C(1) << 28) /* grain table entries, in bytes */
#define GTES_MAX 4096                  /* per grain table; VMware uses 512 */
#define EXTENTS_MAX 4096
#define PARENTS_MAX 32 /* the depth of a snapshot chain */

/* The last id given to a sparse extent (struct vmdk_extent.id). */
static uint64_t extent_ids;

/* A sparse extent's header, in sectors where the format has them. */
struct sparse_header {
    uint32_t flags;
    uint64_t capacity, grain, desc_offset, desc_size, rgd_offset, gd_offset;
    uint64_t overhead;
    uint32_t gtes_per_gt;
};

static void
header_decode(const unsigned char *h, struct sparse_header *sh)
{
    sh->flags = byteorder_read_le32(h + 8);
    sh->capacity = byteorder_read_le64(h + 12);
    sh->grain = byteorder_read_le64(h + 20);
    sh->desc_offset = byteorder_read_le64(h + 28);
    sh->desc_size = byteorder_read_le64(h + 36);
    sh->gtes_per_gt = byteorder_read_le32(h + 44);
    sh->rgd_offset = byteorder_read_le64(h + 48);
    sh->gd_offset = byteorder_read_le64(h + 56);
    sh->overhead = byteorder_read_le64(h + 64);
}

/* Read and check the header of the sparse file FD.  A streamOptimized
 * file's header says its directory is at the end: the footer, a copy of
 * the header 1024 bytes before the end of the file, says where.
 */
static int
header_read(int fd, uint64_t file_size, struct sparse_header *sh,
            const char *what)
{
    unsigned char h[VMDK_SECTOR];

    if (vmdk_read_at(fd, h, sizeof h, 0, what) == -1)
        return -1;
    if (byteorder_read_le32(h) != SPARSE_MAGIC) {
        nbdkit_error("%s: not a VMDK sparse extent (bad magic)", what);
        return errno = EINVAL, -1;
    }
    header_decode(h, sh);
    if (sh->gd_offset == GD_AT_END) {
        if (file_size < 3 * VMDK_SECTOR ||
            vmdk_read_at(fd, h, sizeof h, file_size - 2 * VMDK_SECTOR, what) ==
                -1 ||
            byteorder_read_le32(h) != SPARSE_MAGIC) {
            nbdkit_error("%s: a streamOptimized extent without its footer",
                         what);
            return errno = EINVAL, -1;
        }
        header_decode(h, sh);
    }
    /* Grains are a power of two of at least one sector (VMware: 8..). */
    if (sh->grain == 0 || sh->grain > 1 << 14 ||
        (sh->grain & (sh->grain - 1)) != 0) {
        nbdkit_error("%s: bad grain size %" PRIu64 " sectors", what, sh->grain);
        return errno = EINVAL, -1;
    }
    if (sh->gtes_per_gt == 0 || sh->gtes_per_gt > GTES_MAX) {
        nbdkit_error("%s: bad grain table size %" PRIu32, what,
                     sh->gtes_per_gt);
        return errno = EINVAL, -1;
    }
    return 0;
}

/* Read one grain directory of NGTS entries at sector AT, host order,
 * checking that each of its tables (GT_BYTES long) lies inside the file.
 */
static uint32_t *
directory_read(int fd, uint64_t ngts, uint64_t at, uint64_t gt_bytes,
               uint64_t file_size, const char *what)
{
    uint32_t *gd = malloc(ngts * 4);
    uint64_t i;

    if (gd == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    if (at > file_size / VMDK_SECTOR ||
        vmdk_read_at(fd, gd, ngts * 4, at * VMDK_SECTOR, what) == -1) {
        if (at > file_size / VMDK_SECTOR)
            nbdkit_error("%s: the grain directory lies past the end of the "
                         "file",
                         what);
        free(gd);
        return errno = EINVAL, NULL;
    }
    for (i = 0; i < ngts; i++) {
        gd[i] = byteorder_read_le32(&gd[i]);
        if (gd[i] != 0 &&
            gd[i] * (uint64_t)VMDK_SECTOR + gt_bytes > file_size) {
            nbdkit_error("%s: grain table %" PRIu64 " lies past the end of "
                         "the file",
                         what, i);
            free(gd);
            return errno = EINVAL, NULL;
        }
    }
    return gd;
}

/* Read every grain table named by e->gd into e->table, then check that
 * each grain lies inside the file.
 */
static int
tables_read(struct vmdk_extent *e, uint64_t grain_sectors, uint64_t file_size)
{
    uint64_t gt_bytes = (uint64_t)e->gtes_per_gt * 4, i, g, s, need;

    for (i = 0; i < e->ngts; i++) {
        if (e->gd[i] == 0) /* the whole table unallocated */
            continue;
        if (vmdk_read_at(e->fd, e->table + i * e->gtes_per_gt, gt_bytes,
                         e->gd[i] * (uint64_t)VMDK_SECTOR, e->path) == -1)
            return -1;
    }
    /* A compressed grain need only hold its 12-byte marker here; its
     * length is checked when it is read.
     */
    need = e->compressed ? 12 : grain_sectors * VMDK_SECTOR;
    for (g = 0; g < e->ngrains; g++) {
        s = e->table[g] = byteorder_read_le32(&e->table[g]);
        if (s > 1 && s * VMDK_SECTOR + need > file_size) {
            nbdkit_error("%s: grain %" PRIu64 " at sector %" PRIu64
                         " lies past the end of the file",
                         e->path, g, s);
            return errno = EINVAL, -1;
        }
    }
    return 0;
}

/* Open sparse extent E of SECTORS sectors: header, directories, tables. */
static int
sparse_open(struct vmdk_extent *e, uint64_t sectors)
{
    struct sparse_header sh;
    uint64_t file_size, ngrains, ngts, bytes;
    struct stat st;

    if (fstat(e->fd, &st) == -1) {
        nbdkit_error("%s: fstat: %m", e->path);
        return -1;
    }
    file_size = st.st_size;
    if (header_read(e->fd, file_size, &sh, e->path) == -1)
        return -1;
    if (sh.capacity < sectors) {
        nbdkit_error("%s: holds %" PRIu64 " sectors, the descriptor says "
                     "%" PRIu64,
                     e->path, sh.capacity, sectors);
        return errno = EINVAL, -1;
    }
    ngrains = sh.capacity / sh.grain + (sh.capacity % sh.grain != 0);
    ngts = ngrains / sh.gtes_per_gt + (ngrains % sh.gtes_per_gt != 0);
    if (ngts == 0 || ngts > TABLES_MAX / 4 / sh.gtes_per_gt ||
        ngts * 4 > file_size) {
        nbdkit_error("%s: a capacity of %" PRIu64 " sectors does not fit "
                     "the file",
                     e->path, sh.capacity);
        return errno = EINVAL, -1;
    }
    e->id = __atomic_add_fetch(&extent_ids, 1, __ATOMIC_RELAXED);
    e->compressed = (sh.flags & FLAG_COMPRESSED) != 0;
    e->writable = e->writable && !e->compressed;
    e->grain = sh.grain * VMDK_SECTOR;
    e->gtes_per_gt = sh.gtes_per_gt;
    e->ngts = ngts;
    e->ngrains = ngts * sh.gtes_per_gt;
    e->gd_at = sh.gd_offset;
    e->gd = directory_read(e->fd, ngts, sh.gd_offset, sh.gtes_per_gt * 4,
                           file_size, e->path);
    if (e->gd == NULL)
        return -1;
    if ((sh.flags & FLAG_RGD) && sh.rgd_offset != 0) {
        e->rgd_at = sh.rgd_offset;
        e->rgd = directory_read(e->fd, ngts, sh.rgd_offset, sh.gtes_per_gt * 4,
                                file_size, e->path);
        if (e->rgd == NULL)
            return -1;
    }
    bytes = e->ngrains * 4;
    e->table = calloc(1, bytes);
    if (e->table == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    /* New grains go after everything the file holds. */
    e->file_end = file_size / VMDK_SECTOR + (file_size % VMDK_SECTOR != 0);
    if (e->file_end < sh.overhead && sh.overhead < UINT32_MAX)
        e->file_end = sh.overhead;
    return tables_read(e, sh.grain, file_size);
}

/* The path of NAME, relative to the folder of the descriptor BASE. */
static char *
path_relative(const char *base, const char *name)
{
    char *copy, *path;

    if (name[0] == '/')
        return strdup(name);
    copy = strdup(base);
    if (copy == NULL)
        return NULL;
    if (asprintf(&path, "%s/%s", dirname(copy), name) == -1)
        path = NULL;
    free(copy);
    return path;
}

/* The file of extent E, for reading, and for writing if E may be. */
static int
extent_file_open(struct vmdk_extent *e)
{
    e->fd = -1;
    if (e->writable) {
        e->fd = open(e->path, O_RDWR | O_CLOEXEC);
        if (e->fd == -1 && errno != EACCES && errno != EROFS &&
            errno != EPERM) {
            nbdkit_error("open: %s: %m", e->path);
            return -1;
        }
    }
    if (e->fd == -1) {
        e->writable = false;
        e->fd = open(e->path, O_RDONLY | O_CLOEXEC);
    }
    if (e->fd == -1) {
        nbdkit_error("open: %s: %m", e->path);
        return -1;
    }
    return 0;
}

static bool
type_is_flat(const char *type)
{
    return strcmp(type, "FLAT") == 0 || strcmp(type, "VMFS") == 0 ||
           strcmp(type, "VMFSRAW") == 0 || strcmp(type, "VMFSRDM") == 0 ||
           strcmp(type, "VMFSRDMP") == 0;
}

/* Open the file of extent E of TYPE, NAME and OFFSET (in sectors). */
static int
extent_open(struct vmdk_disk *d, struct vmdk_extent *e, const char *type,
            const char *name, uint64_t offset)
{
    if (strcmp(type, "ZERO") == 0) {
        e->type = VMDK_ZERO;
        return 0;
    }
    if (strcmp(type, "SPARSE") != 0 && !type_is_flat(type)) {
        nbdkit_error("%s: extent type %s is not supported", d->path, type);
        return errno = ENOTSUP, -1;
    }
    if (name[0] == '\0') {
        nbdkit_error("%s: a %s extent without a file", d->path, type);
        return errno = EINVAL, -1;
    }
    /* A descriptor embedded in a sparse file describes that file, even
     * if it was renamed, as qemu and VMware read it.
     */
    if (d->embedded && strcmp(type, "SPARSE") == 0)
        e->path = strdup(d->path);
    else
        e->path = path_relative(d->path, name);
    if (e->path == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    if (extent_file_open(e) == -1)
        return -1;
    if (strcmp(type, "SPARSE") == 0) {
        e->type = VMDK_SPARSE;
        return sparse_open(e, e->size / VMDK_SECTOR);
    }
    e->type = VMDK_FLAT;
    if (ckd_mul_u64(&e->offset, offset, VMDK_SECTOR)) {
        nbdkit_error("%s: bad extent offset %" PRIu64, d->path, offset);
        return errno = EINVAL, -1;
    }
    return 0;
}

/* Add one extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */
static int
extent_add(struct vmdk_disk *d, const char *line, bool readonly)
{
    char access[16], type[16], name[PATH_MAX] = "";
    uint64_t sectors, offset = 0, bytes;
    struct vmdk_extent *e, *n;

    if (sscanf(line, "%15s %" SCNu64 " %15s \"%4095[^\"]\" %" SCNu64, access,
               &sectors, type, name, &offset) < 3) {
        nbdkit_error("%s: bad extent line: %s", d->path, line);
        return errno = EINVAL, -1;
    }
    if (d->nextents == EXTENTS_MAX ||
        ckd_mul_u64(&bytes, sectors, VMDK_SECTOR) ||
        ckd_add_u64(&d->size, d->size, bytes) || d->size > INT64_MAX) {
        nbdkit_error("%s: the extents are too large", d->path);
        return errno = EINVAL, -1;
    }
    if (bytes == 0)
        return 0;
    n = realloc(d->extents, (d->nextents + 1) * sizeof *n);
    if (n == NULL) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    d->extents = n;
    e = &d->extents[d->nextents++];
    *e = (struct vmdk_extent){
        .start = d->size - bytes,
        .size = bytes,
        .fd = -1,
        .writable = !readonly && strcmp(access, "RW") == 0,
        .noaccess = strcmp(access, "NOACCESS") == 0,
    };
    return extent_open(d, e, type, name, offset);
}

/* The value of a descriptor line KEY=VALUE or KEY="VALUE", or NULL. */
static char *
line_value(char *line, const char *key)
{
    size_t len = strlen(key);
    char *v, *end;

    if (strncmp(line, key, len) != 0)
        return NULL;
    v = line + len + strspn(line + len, " \t");
    if (*v != '=')
        return NULL;
    v += 1 + strspn(v + 1, " \t");
    if (*v == '"') {
        v++;
        end = strchr(v, '"');
        if (end != NULL)
            *end = '\0';
    }
    return v;
}

/* Every line of the descriptor TEXT: the extents, and the parent's
 * file name (owned by TEXT) in *PARENT if the disk is a delta.
 */
static int
descriptor_parse(struct vmdk_disk *d, char *text, bool readonly,
                 const char **parent)
{
    char *line, *save = NULL, *v;
    bool has_parent = false;

    *parent = NULL;
    for (line = strtok_r(text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        line += strspn(line, " \t");
        if (strncmp(line, "RW ", 3) == 0 || strncmp(line, "RDONLY ", 7) == 0 ||
            strncmp(line, "NOACCESS ", 9) == 0) {
            if (extent_add(d, line, readonly) == -1)
                return -1;
        } else if ((v = line_value(line, "parentCID")) != NULL)
            has_parent = strcasecmp(v, "ffffffff") != 0;
        else if ((v = line_value(line, "parentFileNameHint")) != NULL)
            *parent = v;
    }
    if (d->nextents == 0) {
        nbdkit_error("%s: no extents in the descriptor", d->path);
        return errno = EINVAL, -1;
    }
    if (!has_parent)
        *parent = NULL;
    else if (*parent == NULL || **parent == '\0') {
        nbdkit_error("%s: a delta disk (parentCID) without "
                     "parentFileNameHint",
                     d->path);
        return errno = EINVAL, -1;
    }
    return 0;
}

/* The descriptor of D: embedded in a sparse file, or the file itself. */
static char *
descriptor_read(struct vmdk_disk *d)
{
    unsigned char h[4];
    struct sparse_header sh;
    uint64_t at = 0, size;
    struct stat st;
    char *text = NULL;
    int fd = open(d->path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        nbdkit_error("open: %s: %m", d->path);
        return NULL;
    }
    if (fstat(fd, &st) == -1) {
        nbdkit_error("%s: fstat: %m", d->path);
        goto out;
    }
    size = st.st_size;
    if (size >= 4 && vmdk_read_at(fd, h, 4, 0, d->path) == 0 &&
        byteorder_read_le32(h) == SPARSE_MAGIC) {
        if (header_read(fd, size, &sh, d->path) == -1)
            goto out;
        if (sh.desc_offset == 0 || sh.desc_size == 0) {
            nbdkit_error("%s: a sparse extent without a descriptor: "
                         "name its descriptor file instead",
                         d->path);
            errno = EINVAL;
            goto out;
        }
        if (sh.desc_size > DESCRIPTOR_MAX / VMDK_SECTOR ||
            sh.desc_offset > size / VMDK_SECTOR) {
            nbdkit_error("%s: bad descriptor position", d->path);
            errno = EINVAL;
            goto out;
        }
        d->embedded = true;
        at = sh.desc_offset * VMDK_SECTOR;
        size = sh.desc_size * VMDK_SECTOR;
    }
    if (size > DESCRIPTOR_MAX) {
        nbdkit_error("%s: not a VMDK disk: a descriptor larger than %d "
                     "bytes",
                     d->path, DESCRIPTOR_MAX);
        errno = EINVAL;
        goto out;
    }
    text = calloc(1, size + 1);
    if (text == NULL) {
        nbdkit_error("calloc: %m");
        goto out;
    }
    if (vmdk_read_at(fd, text, size, at, d->path) == -1) {
        free(text);
        text = NULL;
    }
out:
    close(fd);
    return text;
}

/* Is PATH the file of D or of a disk that D is the base of (CHILD)? */
static bool
chain_has(const struct vmdk_disk *const *chain, size_t depth, const char *path)
{
    size_t i;

    for (i = 0; i < depth; i++)
        if (strcmp(chain[i]->path, path) == 0)
            return true;
    return false;
}

static struct vmdk_disk *disk_open(const char *path, bool readonly,
                                   const struct vmdk_disk **chain,
                                   size_t depth);

/* Open the base disk NAME of D, read-only. */
static int
parent_open(struct vmdk_disk *d, const char *name,
            const struct vmdk_disk **chain, size_t depth)
{
    char *path = path_relative(d->path, name);

    if (path == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    if (depth == PARENTS_MAX) {
        nbdkit_error("%s: a chain of more than %d parent disks", d->path,
                     PARENTS_MAX);
        free(path);
        return errno = ELOOP, -1;
    }
    chain[depth] = d;
    d->parent = disk_open(path, true, chain, depth + 1);
    free(path);
    return d->parent == NULL ? -1 : 0;
}

static struct vmdk_disk *
disk_open(const char *path, bool readonly, const struct vmdk_disk **chain,
          size_t depth)
{
    struct vmdk_disk *d = calloc(1, sizeof *d);
    const char *parent;
    char *text = NULL;
    size_t i;

    if (d == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    pthread_mutex_init(&d->alloc_lock, NULL);
    d->path = realpath(path, NULL);
    if (d->path == NULL) {
        nbdkit_error("%s: %m", path);
        goto err;
    }
    if (chain_has(chain, depth, d->path)) {
        nbdkit_error("%s: a loop in the chain of parent disks", d->path);
        errno = ELOOP;
        goto err;
    }
    text = descriptor_read(d);
    if (text == NULL || descriptor_parse(d, text, readonly, &parent) == -1)
        goto err;
    if (parent != NULL && parent_open(d, parent, chain, depth) == -1)
        goto err;
    d->writable = !readonly;
    for (i = 0; i < d->nextents; i++)
        if (!d->extents[i].writable && d->extents[i].type != VMDK_ZERO)
            d->writable = false;
    free(text);
    return d;

err:
    free(text);
    vmdk_disk_close(d);
    return NULL;
}

struct vmdk_disk *
vmdk_disk_open(const char *path, bool readonly)
{
    const struct vmdk_disk *chain[PARENTS_MAX];

    return disk_open(path, readonly, chain, 0);
}

void
vmdk_disk_close(struct vmdk_disk *d)
{
    size_t i;

    if (d == NULL)
        return;
    vmdk_disk_close(d->parent);
    for (i = 0; i < d->nextents; i++) {
        struct vmdk_extent *e = &d->extents[i];

        if (e->fd >= 0)
            close(e->fd);
        free(e->path);
        free(e->table);
        free(e->gd);
        free(e->rgd);
    }
    free(d->extents);
    free(d->path);
    pthread_mutex_destroy(&d->alloc_lock);
    free(d);
}
