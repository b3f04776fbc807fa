/* SPDX-License-Identifier: BSD-3-Clause */
/* file: serve a file or block device, or every file of a directory
 * (see nbdx-file-plugin(1)).
 *
 * Each connection opens the file itself, read-only when the server is
 * read-only or the file cannot be written.  All connections share the
 * kernel's page cache, so the plugin is multi-conn safe, and a flush on
 * any of them (fdatasync) covers the writes of all.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <nbdx-extensions.h>

#include "cleanup.h"
#include "minmax.h"
#include "vector.h"

/* Configuration, fixed after config_complete. */
static char *filename;                 /* file=FILENAME, absolute, owned */
static char *directory;                /* dir=DIRECTORY, absolute, owned */
static bool cache_none;                /* cache=none */
static int advice = POSIX_FADV_NORMAL; /* fadvise= */

static int
file_config_cache(const char *value)
{
    if (strcmp(value, "default") == 0)
        cache_none = false;
    else if (strcmp(value, "none") == 0)
        cache_none = true;
    else {
        nbdkit_error("cache= must be 'default' or 'none'");
        return -1;
    }
    return 0;
}

static int
file_config_fadvise(const char *value)
{
    if (strcmp(value, "normal") == 0)
        advice = POSIX_FADV_NORMAL;
    else if (strcmp(value, "random") == 0)
        advice = POSIX_FADV_RANDOM;
    else if (strcmp(value, "sequential") == 0)
        advice = POSIX_FADV_SEQUENTIAL;
    else {
        nbdkit_error("fadvise= must be 'normal', 'random' or 'sequential'");
        return -1;
    }
    return 0;
}

/* Replaces *path with the absolute form of value. */
static int
file_config_path(char **path, const char *value)
{
    free(*path);
    *path = nbdkit_absolute_path(value);
    return *path ? 0 : -1;
}

static int
file_config(const char *key, const char *value)
{
    if (strcmp(key, "file") == 0)
        return file_config_path(&filename, value);
    if (strcmp(key, "dir") == 0)
        return file_config_path(&directory, value);
    if (strcmp(key, "cache") == 0)
        return file_config_cache(value);
    if (strcmp(key, "fadvise") == 0)
        return file_config_fadvise(value);
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

/* Checks now that path can be opened, so mistakes show at startup.
 * O_NONBLOCK stops a FIFO from hanging the check.
 */
static int
file_check_path(const char *path, int flags)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | flags);

    if (fd == -1) {
        nbdkit_error("open: %s: %m", path);
        return -1;
    }
    close(fd);
    return 0;
}

static int
file_config_complete(void)
{
    if (filename == NULL && directory == NULL) {
        nbdkit_error("you must supply either file=<FILENAME> or "
                     "dir=<DIRECTORY>");
        return -1;
    }
    if (filename && directory) {
        nbdkit_error("file= and dir= cannot be used together");
        return -1;
    }
    if (filename)
        return file_check_path(filename, 0);
    return file_check_path(directory, O_DIRECTORY);
}

static void
file_unload(void)
{
    free(filename);
    free(directory);
}

/* Exports in dir= mode: the regular files and block devices of the
 * directory, symlinks followed, sorted by name.
 */
DEFINE_VECTOR_TYPE(name_vector, char *)

static void
file_names_free(name_vector *names)
{
    size_t i;

    for (i = 0; i < names->len; i++)
        free(names->ptr[i]);
    name_vector_reset(names);
}

static bool
file_is_servable(const struct stat *st)
{
    return S_ISREG(st->st_mode) || S_ISBLK(st->st_mode);
}

static int
file_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends name to names if it is a file we can serve. */
static int
file_add_name(name_vector *names, DIR *dir, const char *name)
{
    struct stat st;
    char *copy;

    if (fstatat(dirfd(dir), name, &st, 0) == -1 || !file_is_servable(&st))
        return 0;
    copy = strdup(name);
    if (copy == NULL || name_vector_append(names, copy) == -1) {
        free(copy);
        nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

/* Fills names (caller frees with file_names_free). */
static int
file_scan_dir(name_vector *names)
{
    DIR *dir = opendir(directory);
    struct dirent *d;
    int r = 0;

    if (dir == NULL) {
        nbdkit_error("opendir: %s: %m", directory);
        return -1;
    }
    while (r == 0 && (errno = 0, d = readdir(dir)) != NULL)
        r = file_add_name(names, dir, d->d_name);
    if (r == 0 && errno != 0) {
        nbdkit_error("readdir: %s: %m", directory);
        r = -1;
    }
    closedir(dir);
    if (r == 0 && names->len > 0)
        qsort(names->ptr, names->len, sizeof names->ptr[0], file_compare_names);
    return r;
}

static int
file_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    name_vector names = empty_vector;
    size_t i;
    int r = 0;

    if (directory == NULL)
        return nbdkit_add_export(exports, "", NULL);
    if (file_scan_dir(&names) == -1)
        return -1;
    for (i = 0; r == 0 && i < names.len; i++)
        r = nbdkit_add_export(exports, names.ptr[i], NULL);
    file_names_free(&names);
    return r;
}

/* In dir= mode the default export ("") is the first file by name.  The
 * returned string is interned: the server owns it.
 */
static const char *
file_default_export(int readonly, int is_tls)
{
    name_vector names = empty_vector;
    const char *name = NULL;

    if (directory == NULL)
        return "";
    if (file_scan_dir(&names) == -1)
        return NULL;
    if (names.len == 0)
        nbdkit_error("%s: no files to serve", directory);
    else
        name = nbdkit_strdup_intern(names.ptr[0]);
    file_names_free(&names);
    return name;
}

/* One per connection. */
struct handle {
    int fd;
    bool is_block;       /* a block device, else a regular file */
    bool readonly;       /* fd is O_RDONLY */
    uint32_t sector;     /* logical sector size of a block device */
    atomic_bool tainted; /* a flush failed: refuse later flushes */

    /* cache=none: the last writes, evicted from the page cache once they
     * have had time to reach the disk.
     */
    pthread_mutex_t window_lock; /* guards window and window_next */
    struct {
        uint64_t offset;
        uint32_t count;
    } window[8];
    unsigned window_next;
};

/* The path the client asked for: file=, or a name in dir=.  Returns a
 * malloc'd string, or NULL after nbdkit_error.
 */
static char *
file_export_path(void)
{
    const char *name;
    char *path;

    if (directory == NULL)
        return strdup(filename);
    name = nbdkit_export_name();
    if (name == NULL || name[0] == '\0')
        name = file_default_export(0, 0);
    if (name == NULL)
        return NULL;
    if (strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        nbdkit_error("export name '%s' is not a file name", name);
        return NULL;
    }
    if (asprintf(&path, "%s/%s", directory, name) == -1) {
        nbdkit_error("asprintf: %m");
        return NULL;
    }
    return path;
}

/* Opens path read-write, or read-only if asked to or if the file is not
 * writable (then *readonly becomes true).
 */
static int
file_open_path(const char *path, bool *readonly)
{
    const int flags = O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    int fd = -1;

    if (!*readonly) {
        fd = open(path, O_RDWR | flags);
        if (fd == -1 && (errno == EACCES || errno == EROFS || errno == EPERM))
            *readonly = true;
    }
    if (*readonly)
        fd = open(path, O_RDONLY | flags);
    if (fd == -1)
        nbdkit_error("open: %s: %m", path);
    return fd;
}

/* Checks the type of the opened file and fills in what depends on it. */
static int
file_setup(struct handle *h, const char *path)
{
    struct stat st;
    int sector;

    if (fstat(h->fd, &st) == -1) {
        nbdkit_error("fstat: %s: %m", path);
        return -1;
    }
    if (!file_is_servable(&st)) {
        nbdkit_error("%s: not a regular file or block device", path);
        return -1;
    }
    /* O_NONBLOCK was only there to make open safe. */
    if (fcntl(h->fd, F_SETFL, 0) == -1) {
        nbdkit_error("fcntl: %s: %m", path);
        return -1;
    }
    h->is_block = S_ISBLK(st.st_mode);
    if (h->is_block && ioctl(h->fd, BLKSSZGET, &sector) == 0 && sector > 0)
        h->sector = (uint32_t)sector;
    if (advice != POSIX_FADV_NORMAL)
        posix_fadvise(h->fd, 0, 0, advice); /* only a hint */
    return 0;
}

static void *
file_open(int readonly)
{
    CLEANUP_FREE char *path = file_export_path();
    struct handle *h;

    if (path == NULL)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->readonly = readonly;
    h->sector = 512;
    h->fd = file_open_path(path, &h->readonly);
    if (h->fd == -1 || file_setup(h, path) == -1) {
        if (h->fd >= 0)
            close(h->fd);
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->window_lock, NULL);
    return h;
}

static void
file_close(void *handle)
{
    struct handle *h = handle;

    close(h->fd);
    pthread_mutex_destroy(&h->window_lock);
    free(h);
}

/* Sizes are read on every open, as files and devices can change. */
static int64_t
file_get_size(void *handle)
{
    struct handle *h = handle;
    struct stat st;
    uint64_t size;

    if (h->is_block) {
        if (ioctl(h->fd, BLKGETSIZE64, &size) == -1) {
            nbdkit_error("ioctl: BLKGETSIZE64: %m");
            return -1;
        }
        return (int64_t)size;
    }
    if (fstat(h->fd, &st) == -1) {
        nbdkit_error("fstat: %m");
        return -1;
    }
    return st.st_size;
}

/* Block devices report their sector sizes; files have no preference. */
static int
file_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                uint32_t *maximum)
{
    struct handle *h = handle;
    unsigned physical = 0;

    if (!h->is_block) {
        *minimum = *preferred = *maximum = 0;
        return 0;
    }
    ioctl(h->fd, BLKPBSZGET, &physical);
    physical = MAX(physical, (unsigned)h->sector);
    *minimum = h->sector;
    *preferred = MAX((uint32_t)physical, (uint32_t)4096);
    *maximum = 0xffffffff;
    return 0;
}

/* For a block device, the queue/rotational flag in sysfs (of the whole
 * disk when the device is a partition).  Files say no.
 */
static int
file_is_rotational(void *handle)
{
    struct handle *h = handle;
    char path[128], c = '0';
    struct stat st;
    FILE *fp;

    if (!h->is_block || fstat(h->fd, &st) == -1)
        return 0;
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/queue/rotational",
             major(st.st_rdev), minor(st.st_rdev));
    fp = fopen(path, "re");
    if (fp == NULL) {
        snprintf(path, sizeof path, "/sys/dev/block/%u:%u/../queue/rotational",
                 major(st.st_rdev), minor(st.st_rdev));
        fp = fopen(path, "re");
    }
    if (fp == NULL)
        return 0;
    if (fread(&c, 1, 1, fp) != 1)
        c = '0';
    fclose(fp);
    return c == '1';
}

static int
file_can_write(void *handle)
{
    struct handle *h = handle;

    return !h->readonly;
}

/* One inode, one page cache: every connection sees every write, and
 * fdatasync on any fd covers them all.
 */
static int
file_can_multi_conn(void *handle)
{
    return 1;
}

static int
file_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
file_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* Zero requests that cannot be done fast fail at once with ENOTSUP. */
static int
file_can_fast_zero(void *handle)
{
    return 1;
}

/* SEEK_DATA works on most Linux file systems; probe it on the file. */
static int
file_can_extents(void *handle)
{
    struct handle *h = handle;

    if (h->is_block)
        return 0;
    if (lseek(h->fd, 0, SEEK_DATA) == -1 && errno != ENXIO) {
        nbdkit_debug("extents disabled: SEEK_DATA: %m");
        return 0;
    }
    return 1;
}

/* Fails with err: logs what went wrong and hands err to the client. */
static int
file_fail(const char *what, int err)
{
    nbdkit_error("%s: %s", what, strerror(err));
    nbdkit_set_error(err);
    errno = err;
    return -1;
}

/* fdatasync, except that once it has failed it always fails: Linux
 * reports a lost write-back only once, and a later success would claim
 * data is safe that never reached the disk.
 */
static int
file_sync(struct handle *h)
{
    if (atomic_load(&h->tainted))
        return file_fail("flush refused: an earlier flush failed and data "
                         "may have been lost",
                         EIO);
    if (fdatasync(h->fd) == -1) {
        atomic_store(&h->tainted, true);
        return file_fail("fdatasync", errno);
    }
    return 0;
}

static int
file_flush(void *handle, uint32_t flags)
{
    return file_sync(handle);
}

/* cache=none: drops [offset, offset + count) from the page cache.  The
 * kernel caches files in folios of up to 2 MiB and only drops those that
 * lie wholly inside the range, so the range is stretched back to a 2 MiB
 * boundary: a sequential reader or writer then drops every folio behind
 * it.  Only a hint.
 */
static void
file_drop(struct handle *h, uint32_t count, uint64_t offset)
{
    uint64_t start = ROUND_DOWN(offset, (uint64_t)2 << 20);

    posix_fadvise(h->fd, (off_t)start, (off_t)(offset + count - start),
                  POSIX_FADV_DONTNEED);
}

static int
file_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    struct handle *h = handle;
    char *p = buf;
    uint32_t left = count;
    ssize_t r;

    while (left > 0) {
        r = pread(h->fd, p, left, (off_t)(offset + (count - left)));
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return file_fail("pread", errno);
        if (r == 0)
            return file_fail("pread: unexpected end of file", EIO);
        p += r;
        left -= (uint32_t)r;
    }
    if (cache_none)
        file_drop(h, count, offset);
    return 0;
}

/* cache=none after a write: start writing this range back, then wait for
 * the oldest range in the window and drop it from the page cache.  Only
 * hints: durability still comes from flush and FUA.
 */
static void
file_evict_write(struct handle *h, uint32_t count, uint64_t offset)
{
    uint64_t old_offset;
    uint32_t old_count;
    const unsigned wait = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                          SYNC_FILE_RANGE_WAIT_AFTER;

    sync_file_range(h->fd, (off_t)offset, count, SYNC_FILE_RANGE_WRITE);
    pthread_mutex_lock(&h->window_lock);
    old_offset = h->window[h->window_next].offset;
    old_count = h->window[h->window_next].count;
    h->window[h->window_next].offset = offset;
    h->window[h->window_next].count = count;
    h->window_next = (h->window_next + 1) % 8;
    pthread_mutex_unlock(&h->window_lock);
    if (old_count == 0)
        return;
    sync_file_range(h->fd, (off_t)old_offset, old_count, wait);
    file_drop(h, old_count, old_offset);
}

static int
file_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    struct handle *h = handle;
    const char *p = buf;
    uint32_t left = count;
    ssize_t r;

    while (left > 0) {
        r = pwrite(h->fd, p, left, (off_t)(offset + (count - left)));
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1)
            return file_fail("pwrite", errno);
        if (r == 0)
            return file_fail("pwrite: no progress", EIO);
        p += r;
        left -= (uint32_t)r;
    }
    if (cache_none)
        file_evict_write(h, count, offset);
    return (flags & NBDKIT_FLAG_FUA) ? file_sync(h) : 0;
}

static bool
file_unsupported(int err)
{
    return err == EOPNOTSUPP || err == ENOTSUP;
}

static int
file_fallocate(struct handle *h, int mode, uint32_t count, uint64_t offset)
{
    int r;

    do
        r = fallocate(h->fd, mode, (off_t)offset, count);
    while (r == -1 && errno == EINTR);
    return r;
}

/* The part of [offset, offset + count) made of whole sectors, in
 * range[0] (offset) and range[1] (length); false if there is none.
 */
static bool
file_sector_range(const struct handle *h, uint32_t count, uint64_t offset,
                  uint64_t range[2])
{
    uint64_t start = ROUND_UP(offset, (uint64_t)h->sector);
    uint64_t end = ROUND_DOWN(offset + count, (uint64_t)h->sector);

    if (end <= start)
        return false;
    range[0] = start;
    range[1] = end - start;
    return true;
}

/* Trim is advisory: where it is unsupported it does nothing. */
static int
file_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct handle *h = handle;
    const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    uint64_t range[2];
    int r = 0;

    if (!h->is_block)
        r = file_fallocate(h, punch, count, offset);
    else if (file_sector_range(h, count, offset, range))
        r = ioctl(h->fd, BLKDISCARD, range);
    if (r == -1 && !file_unsupported(errno))
        return file_fail("trim", errno);
    return (flags & NBDKIT_FLAG_FUA) ? file_sync(h) : 0;
}

/* Zeroes a block device with BLKZEROOUT, which may write zeroes the slow
 * way, so never for a fast zero.  Only whole sectors.
 */
static int
file_zero_block(struct handle *h, uint32_t count, uint64_t offset,
                uint32_t flags)
{
    uint64_t range[2];

    if ((flags & NBDKIT_FLAG_FAST_ZERO) ||
        !file_sector_range(h, count, offset, range) || range[0] != offset ||
        range[1] != count) {
        errno = ENOTSUP;
        return -1;
    }
    return ioctl(h->fd, BLKZEROOUT, range);
}

/* Zeroes a file with FALLOC_FL_ZERO_RANGE, or punches a hole when the
 * client allows one.  Both are fast.
 */
static int
file_zero_file(struct handle *h, uint32_t count, uint64_t offset,
               uint32_t flags)
{
    const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    int r;

    r = file_fallocate(h, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, count,
                       offset);
    if (r == 0 || !file_unsupported(errno))
        return r;
    if (flags & NBDKIT_FLAG_MAY_TRIM) {
        r = file_fallocate(h, punch, count, offset);
        if (r == 0 || !file_unsupported(errno))
            return r;
    }
    errno = ENOTSUP;
    return -1;
}

/* Where no way of zeroing applies, fail with ENOTSUP and no message: the
 * server then writes zeroes itself, or for a fast zero tells the client.
 */
static int
file_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct handle *h = handle;
    int r;

    if (h->is_block)
        r = file_zero_block(h, count, offset, flags);
    else
        r = file_zero_file(h, count, offset, flags);
    if (r == -1 && file_unsupported(errno)) {
        nbdkit_set_error(ENOTSUP);
        return -1;
    }
    if (r == -1)
        return file_fail("zero", errno);
    return (flags & NBDKIT_FLAG_FUA) ? file_sync(h) : 0;
}

static int
file_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    struct handle *h = handle;
    int err;

    err = posix_fadvise(h->fd, (off_t)offset, count, POSIX_FADV_WILLNEED);
    if (err != 0)
        return file_fail("posix_fadvise", err);
    return 0;
}

/* Whether pos lies in a hole, and where its run of data or hole ends.
 * Past the end of file (which has shrunk) everything is a hole.
 */
static int
file_probe(struct handle *h, uint64_t pos, bool *hole, uint64_t *next)
{
    off_t data = lseek(h->fd, (off_t)pos, SEEK_DATA), end;

    if (data == -1 && errno == ENXIO) {
        *hole = true;
        *next = UINT64_MAX;
        return 0;
    }
    if (data == -1)
        return file_fail("lseek: SEEK_DATA", errno);
    if ((uint64_t)data > pos) {
        *hole = true;
        *next = (uint64_t)data;
        return 0;
    }
    end = lseek(h->fd, (off_t)pos, SEEK_HOLE);
    if (end == -1)
        return file_fail("lseek: SEEK_HOLE", errno);
    *hole = false;
    *next = (uint64_t)end;
    return 0;
}

static int
file_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *extents)
{
    const uint32_t sparse = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    uint64_t pos = offset, end = offset + count, next;
    bool hole;

    while (pos < end) {
        if (file_probe(handle, pos, &hole, &next) == -1)
            return -1;
        next = next > pos ? MIN(next, end) : end;
        if (nbdkit_add_extent(extents, pos, next - pos, hole ? sparse : 0) ==
            -1)
            return -1;
        if (flags & NBDKIT_FLAG_REQ_ONE)
            break;
        pos = next;
    }
    return 0;
}

/* nbdx only, for pread_fd and pwrite_fd: large READ replies go from the
 * page cache to the socket with sendfile, large WRITE payloads from the
 * socket to the file with splice.  Not with cache=none, which must drop
 * the pages it touched.
 */
static int
file_data_fd(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             int *fd, uint64_t *fd_offset)
{
    struct handle *h = handle;

    if (cache_none) {
        errno = ENOTSUP;
        return -1;
    }
    *fd = h->fd;
    *fd_offset = offset;
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "file",
    .longname = "nbdx file plugin",
    .version = PACKAGE_VERSION,
    .description = "Serve a file or block device, or each file of a "
                   "directory.",
    .magic_config_key = "file",
    .config = file_config,
    .config_complete = file_config_complete,
    .config_help =
        "file=<FILENAME>  The file or block device to serve.\n"
        "dir=<DIRECTORY>  Serve every file of the directory, by name.\n"
        "cache=default|none  With none, keep the page cache small.\n"
        "fadvise=normal|random|sequential  Access pattern hint for the "
        "kernel.",
    .unload = file_unload,
    .list_exports = file_list_exports,
    .default_export = file_default_export,
    .open = file_open,
    .close = file_close,
    .get_size = file_get_size,
    .block_size = file_block_size,
    .is_rotational = file_is_rotational,
    .can_write = file_can_write,
    .can_multi_conn = file_can_multi_conn,
    .can_fua = file_can_fua,
    .can_cache = file_can_cache,
    .can_fast_zero = file_can_fast_zero,
    .can_extents = file_can_extents,
    .pread = file_pread,
    .pwrite = file_pwrite,
    .flush = file_flush,
    .trim = file_trim,
    .zero = file_zero,
    .cache = file_cache,
    .extents = file_extents,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)

static const struct nbdx_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_EXTENSION_VERSION,
    .pread_fd = file_data_fd,
    .pwrite_fd = file_data_fd,
};

const struct nbdx_extension *nbdx_extension_init(void);

const struct nbdx_extension *
nbdx_extension_init(void)
{
    return &extension;
}
