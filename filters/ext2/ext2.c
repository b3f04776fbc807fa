/* SPDX-License-Identifier: BSD-3-Clause */
/* ext2.c: serve one regular file inside the ext2/3/4 filesystem that the
 * layer below holds, read and write, with libext2fs.
 *
 * libext2fs reaches the filesystem through an io_manager of our own
 * (nbdio_*), which turns its block reads and writes into calls on the
 * layer below.  ext2fs_open2 only passes the io_manager a name, so the
 * name carries the connection's handle ("nbdx-ext2:%p").  Each
 * connection opens the filesystem in .prepare and closes it, writing
 * back what libext2fs holds in memory, in .finalize.
 *
 * Locking: libext2fs is not thread safe and two connections writing the
 * same filesystem would corrupt it, so the thread model is
 * SERIALIZE_CONNECTIONS: one connection at a time, one request at a
 * time.  No lock is needed beyond that.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2fs.h>
#include <et/com_err.h>

#include <nbdkit-filter.h>

#include "cleanup.h"

/* ext2file=PATH (owned), or NULL until configured; from_exportname when
 * it was ext2file=exportname.  Set during configuration, then read-only.
 */
static char *ext2file = NULL;
static bool from_exportname = false;

/* The largest piece of one call on the layer below, and of the scratch
 * buffers of zero and cache requests.
 */
#define EXT2_CHUNK (1 << 20)

/* One connection.  The layer below is reachable only through next,
 * which every callback refreshes before calling libext2fs and which is
 * NULL in .close: the io_manager then fails rather than touch a layer
 * that may be gone.
 */
struct ext2_handle {
    nbdkit_next *next;
    int64_t size;     /* of the layer below, bytes */
    char *path;       /* inside the filesystem; owned */
    bool readonly;    /* the filesystem was opened read-only */
    ext2_filsys fs;   /* owned; NULL when closed */
    ext2_file_t file; /* owned; NULL when closed */
};

/* ---- the io_manager: libext2fs I/O on the layer below ---- */

/* An open channel's private data: owned by the channel. */
struct nbdio {
    struct ext2_handle *h;
    bool rw;
    struct struct_io_stats stats;
};

static struct struct_io_manager nbdio_manager;

/* The errno of a failed call below, as a libext2fs error code (errno
 * values are valid com_err codes).
 */
static errcode_t
nbdio_errcode(int err)
{
    return err > 0 ? err : EIO;
}

static errcode_t
nbdio_open(const char *name, int flags, io_channel *channel)
{
    struct ext2_handle *h;
    struct nbdio *io;
    io_channel c;
    void *p;
    int n = -1;

    if (sscanf(name, "nbdx-ext2:%p%n", &p, &n) != 1 || n < 0 || name[n] != '\0')
        return EXT2_ET_BAD_DEVICE_NAME;
    h = p;
    c = calloc(1, sizeof *c);
    io = calloc(1, sizeof *io);
    if (c == NULL || io == NULL || (c->name = strdup(name)) == NULL) {
        free(c);
        free(io);
        return ENOMEM;
    }
    io->h = h;
    io->rw = (flags & IO_FLAG_RW) != 0;
    io->stats.num_fields = 2;
    c->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    c->manager = &nbdio_manager;
    c->block_size = 1024;
    c->refcount = 1;
    c->private_data = io;
    *channel = c;
    return 0;
}

static errcode_t
nbdio_close(io_channel c)
{
    if (--c->refcount > 0)
        return 0;
    free(c->private_data);
    free(c->name);
    free(c);
    return 0;
}

static errcode_t
nbdio_set_blksize(io_channel c, int blksize)
{
    if (blksize <= 0)
        return EXT2_ET_INVALID_ARGUMENT;
    c->block_size = blksize;
    return 0;
}

/* The byte range of count blocks at block (count < 0: -count bytes),
 * checked against the size below.  Returns 0 or a libext2fs error.
 */
static errcode_t
nbdio_range(io_channel c, unsigned long long block, int count, uint64_t *offset,
            uint64_t *len, errcode_t past_end)
{
    struct nbdio *io = c->private_data;
    uint64_t bs = c->block_size;

    *len = count < 0 ? (uint64_t) - (int64_t)count : (uint64_t)count * bs;
    if (block > UINT64_MAX / bs)
        return past_end;
    *offset = block * bs;
    if (io->h->size < 0 || *offset > (uint64_t)io->h->size ||
        *len > (uint64_t)io->h->size - *offset)
        return past_end;
    if (io->h->next == NULL)
        return EIO;
    return 0;
}

/* Read len bytes at offset from the layer below, in pieces. */
static errcode_t
nbdio_pread(struct nbdio *io, void *buf, uint64_t len, uint64_t offset)
{
    nbdkit_next *next = io->h->next;
    uint32_t n;
    int err = 0;

    while (len > 0) {
        n = len < EXT2_CHUNK ? len : EXT2_CHUNK;
        if (next->pread(next, buf, n, offset, 0, &err) == -1)
            return nbdio_errcode(err);
        io->stats.bytes_read += n;
        buf = (char *)buf + n, offset += n, len -= n;
    }
    return 0;
}

static errcode_t
nbdio_pwrite(struct nbdio *io, const void *buf, uint64_t len, uint64_t offset)
{
    nbdkit_next *next = io->h->next;
    uint32_t n;
    int err = 0;

    if (!io->rw)
        return EXT2_ET_RO_FILSYS;
    while (len > 0) {
        n = len < EXT2_CHUNK ? len : EXT2_CHUNK;
        if (next->pwrite(next, buf, n, offset, 0, &err) == -1)
            return nbdio_errcode(err);
        io->stats.bytes_written += n;
        buf = (const char *)buf + n, offset += n, len -= n;
    }
    return 0;
}

static errcode_t
nbdio_read_blk64(io_channel c, unsigned long long block, int count, void *data)
{
    uint64_t offset, len;
    errcode_t r;

    r = nbdio_range(c, block, count, &offset, &len, EXT2_ET_SHORT_READ);
    if (r == 0)
        r = nbdio_pread(c->private_data, data, len, offset);
    if (r != 0 && c->read_error)
        r = c->read_error(c, block, count, data, len, 0, r);
    return r;
}

static errcode_t
nbdio_read_blk(io_channel c, unsigned long block, int count, void *data)
{
    return nbdio_read_blk64(c, block, count, data);
}

static errcode_t
nbdio_write_blk64(io_channel c, unsigned long long block, int count,
                  const void *data)
{
    uint64_t offset, len;
    errcode_t r;

    r = nbdio_range(c, block, count, &offset, &len, EXT2_ET_SHORT_WRITE);
    if (r == 0)
        r = nbdio_pwrite(c->private_data, data, len, offset);
    if (r != 0 && c->write_error)
        r = c->write_error(c, block, count, data, len, 0, r);
    return r;
}

static errcode_t
nbdio_write_blk(io_channel c, unsigned long block, int count, const void *data)
{
    return nbdio_write_blk64(c, block, count, data);
}

/* count bytes at byte offset: a range of "blocks" of one byte. */
static errcode_t
nbdio_write_byte(io_channel c, unsigned long offset, int count,
                 const void *data)
{
    struct nbdio *io = c->private_data;

    if (count < 0 || io->h->next == NULL || io->h->size < 0 ||
        offset > (uint64_t)io->h->size ||
        (uint64_t)count > (uint64_t)io->h->size - offset)
        return EXT2_ET_SHORT_WRITE;
    return nbdio_pwrite(io, data, count, offset);
}

static errcode_t
nbdio_flush(io_channel c)
{
    struct nbdio *io = c->private_data;
    nbdkit_next *next = io->h->next;
    int err = 0, r;

    if (next == NULL)
        return EIO;
    r = next->can_flush(next);
    if (r == -1)
        return EIO;
    if (r == 1 && next->flush(next, 0, &err) == -1)
        return nbdio_errcode(err);
    return 0;
}

static errcode_t
nbdio_set_option(io_channel c, const char *option, const char *arg)
{
    return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t
nbdio_get_stats(io_channel c, io_stats *stats)
{
    struct nbdio *io = c->private_data;

    *stats = &io->stats;
    return 0;
}

/* A table of functions, constant after load; discard, zeroout and
 * readahead are left NULL (libext2fs then does without them).
 */
static struct struct_io_manager nbdio_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "nbdx ext2 filter I/O manager",
    .open = nbdio_open,
    .close = nbdio_close,
    .set_blksize = nbdio_set_blksize,
    .read_blk = nbdio_read_blk,
    .write_blk = nbdio_write_blk,
    .flush = nbdio_flush,
    .write_byte = nbdio_write_byte,
    .set_option = nbdio_set_option,
    .get_stats = nbdio_get_stats,
    .read_blk64 = nbdio_read_blk64,
    .write_blk64 = nbdio_write_blk64,
};

/* ---- configuration ---- */

/* libext2fs's messages for error_message, added at load and removed at
 * unload, before the library can go away with the filter.
 */
static void
ext2_load(void)
{
    if (add_error_table(&et_ext2_error_table) != 0)
        nbdkit_debug("ext2: cannot add libext2fs's error messages");
}

static void
ext2_unload(void)
{
    remove_error_table(&et_ext2_error_table);
    free(ext2file);
}

static int
ext2_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
            const char *value)
{
    char *copy;

    if (strcmp(key, "ext2file") != 0)
        return next(nxdata, key, value);
    if (strcmp(value, "exportname") != 0 && value[0] != '/') {
        nbdkit_error("ext2file: %s: must be an absolute path or "
                     "'exportname'",
                     value);
        return -1;
    }
    copy = strdup(value);
    if (copy == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    free(ext2file);
    ext2file = copy;
    from_exportname = strcmp(value, "exportname") == 0;
    return 0;
}

static int
ext2_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    if (ext2file == NULL) {
        nbdkit_error("you must supply the ext2file=<FILE> parameter "
                     "after the plugin name on the command line");
        return -1;
    }
    return next(nxdata);
}

#define ext2_config_help                                                       \
    "ext2file=<FILENAME>  (required) Absolute path of the file inside the "    \
    "filesystem,\n"                                                            \
    "                     or 'exportname' to take it from the client."

static int
ext2_thread_model(void)
{
    return NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS;
}

/* With ext2file=exportname the names are paths inside the filesystem:
 * nothing is advertised, and the default export is "", which .open
 * refuses.  Otherwise the plugin's exports pass through.
 */
static int
ext2_list_exports(nbdkit_next_list_exports *next, nbdkit_backend *nxdata,
                  int readonly, int is_tls, struct nbdkit_exports *exports)
{
    if (from_exportname)
        return 0;
    return next(nxdata, readonly, exports);
}

static const char *
ext2_default_export(nbdkit_next_default_export *next, nbdkit_backend *nxdata,
                    int readonly, int is_tls)
{
    if (from_exportname)
        return "";
    return next(nxdata, readonly);
}

/* ---- connections ---- */

static void *
ext2_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
          const char *exportname, int is_tls)
{
    const char *path = from_exportname ? exportname : ext2file;
    struct ext2_handle *h;

    if (from_exportname && *exportname == '\0') {
        nbdkit_error("ext2: the default export (\"\") is not permitted with "
                     "ext2file=exportname");
        errno = ENOENT;
        return NULL;
    }
    /* The plugin serves the whole filesystem: with ext2file=exportname
     * it sees the default export.
     */
    if (next(context, readonly, from_exportname ? "" : exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL || (h->path = strdup(path)) == NULL) {
        nbdkit_error("ext2: %m");
        free(h);
        return NULL;
    }
    h->size = -1;
    h->readonly = true;
    return h;
}

/* Open the filesystem on the layer below into h->fs. */
static int
ext2_fs_open(struct ext2_handle *h, bool writable)
{
    char name[64];
    int flags = EXT2_FLAG_64BITS | (writable ? EXT2_FLAG_RW : 0);
    errcode_t r;

    snprintf(name, sizeof name, "nbdx-ext2:%p", (void *)h);
    r = ext2fs_open2(name, NULL, flags, 0, 0, &nbdio_manager, &h->fs);
    if (r != 0) {
        h->fs = NULL;
        nbdkit_error("ext2: cannot open the filesystem: %s", error_message(r));
        errno = EINVAL;
        return -1;
    }
    /* libext2fs cannot replay a journal: writing around an unreplayed
     * one would corrupt the filesystem.
     */
    if (writable && ext2fs_has_feature_journal_needs_recovery(h->fs->super)) {
        nbdkit_error("ext2: the filesystem needs journal recovery (run "
                     "e2fsck on it, or connect read-only)");
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Open h->path, a regular file, into h->file. */
static int
ext2_file_open(struct ext2_handle *h, bool writable)
{
    struct ext2_inode inode;
    ext2_ino_t ino;
    errcode_t r;

    r = ext2fs_namei(h->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, h->path, &ino);
    if (r != 0) {
        nbdkit_error("ext2: %s: %s", h->path, error_message(r));
        errno = ENOENT;
        return -1;
    }
    r = ext2fs_read_inode(h->fs, ino, &inode);
    if (r != 0) {
        nbdkit_error("ext2: %s: reading the inode: %s", h->path,
                     error_message(r));
        errno = EIO;
        return -1;
    }
    if (!LINUX_S_ISREG(inode.i_mode)) {
        nbdkit_error("ext2: %s: not a regular file", h->path);
        errno = EINVAL;
        return -1;
    }
    r = ext2fs_file_open2(h->fs, ino, &inode, writable ? EXT2_FILE_WRITE : 0,
                          &h->file);
    if (r != 0) {
        h->file = NULL;
        nbdkit_error("ext2: %s: %s", h->path, error_message(r));
        errno = EIO;
        return -1;
    }
    return 0;
}

/* Open the filesystem and the file, writable when both the client and
 * the layer below allow it.  What is left open on failure, .close frees.
 */
static int
ext2_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct ext2_handle *h = handle;
    int w = 0;

    h->next = next;
    h->size = next->get_size(next);
    if (h->size == -1)
        return -1;
    if (!readonly) {
        w = next->can_write(next);
        if (w == -1)
            return -1;
    }
    h->readonly = w != 1;
    if (ext2_fs_open(h, !h->readonly) == -1)
        return -1;
    return ext2_file_open(h, !h->readonly);
}

/* Close the file and the filesystem, writing back what is pending;
 * -1 after nbdkit_error.
 */
static int
ext2_finalize(nbdkit_next *next, void *handle)
{
    struct ext2_handle *h = handle;
    errcode_t r;

    h->next = next;
    r = ext2fs_file_close(h->file);
    h->file = NULL;
    if (r != 0) {
        nbdkit_error("ext2: %s: closing: %s", h->path, error_message(r));
        return -1;
    }
    r = ext2fs_close2(h->fs, 0);
    if (r != 0) {
        nbdkit_error("ext2: closing the filesystem: %s", error_message(r));
        return -1;
    }
    h->fs = NULL;
    return 0;
}

/* Frees what .finalize did not close, without I/O: the layer below
 * may be gone, and a connection that failed keeps nothing.
 */
static void
ext2_close(void *handle)
{
    struct ext2_handle *h = handle;

    h->next = NULL;
    if (h->file)
        ext2fs_file_close(h->file);
    if (h->fs)
        ext2fs_free(h->fs);
    free(h->path);
    free(h);
}

/* ---- sizes and capabilities ---- */

static int64_t
ext2_get_size(nbdkit_next *next, void *handle)
{
    struct ext2_handle *h = handle;
    __u64 size;
    errcode_t r;

    r = ext2fs_file_get_lsize(h->file, &size);
    if (r != 0) {
        nbdkit_error("ext2: %s: size: %s", h->path, error_message(r));
        return -1;
    }
    return size;
}

static int
ext2_can_write(nbdkit_next *next, void *handle)
{
    struct ext2_handle *h = handle;

    return !h->readonly;
}

static int
ext2_true(nbdkit_next *next, void *handle)
{
    return 1;
}

static int
ext2_false(nbdkit_next *next, void *handle)
{
    return 0;
}

/* Zero requests are written as zeroes through the file (.zero). */
static int
ext2_can_zero(nbdkit_next *next, void *handle)
{
    return NBDKIT_ZERO_EMULATE;
}

static int
ext2_can_fua(nbdkit_next *next, void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

/* Cache requests read the range through the filesystem (.cache). */
static int
ext2_can_cache(nbdkit_next *next, void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* ---- data ---- */

/* A libext2fs error as an errno for the client, after nbdkit_error. */
static int
ext2_errno(struct ext2_handle *h, const char *what, errcode_t r)
{
    nbdkit_error("ext2: %s: %s: %s", h->path, what, error_message(r));
    if (r == EXT2_ET_BLOCK_ALLOC_FAIL)
        return ENOSPC;
    if (r == EXT2_ET_RO_FILSYS)
        return EROFS;
    return r > 0 && r < 4096 ? (int)r : EIO;
}

static int
ext2_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    struct ext2_handle *h = handle;
    unsigned int got = 0;
    errcode_t r;

    h->next = next;
    r = ext2fs_file_llseek(h->file, offset, EXT2_SEEK_SET, NULL);
    while (r == 0 && count > 0) {
        r = ext2fs_file_read(h->file, buf, count, &got);
        if (r == 0 && got == 0)
            r = EXT2_ET_SHORT_READ;
        buf = (char *)buf + got, count -= got;
    }
    if (r != 0) {
        *err = ext2_errno(h, "read", r);
        return -1;
    }
    return 0;
}

/* Write back the file's buffer, the filesystem's metadata if changed,
 * and flush the layer below.
 */
static int
ext2_sync(struct ext2_handle *h, int *err)
{
    errcode_t r;

    r = ext2fs_file_flush(h->file);
    if (r == 0 && (h->fs->flags & EXT2_FLAG_DIRTY))
        r = ext2fs_flush(h->fs);
    else if (r == 0)
        r = io_channel_flush(h->fs->io);
    if (r != 0) {
        *err = ext2_errno(h, "flush", r);
        return -1;
    }
    return 0;
}

/* Write count bytes of buf (zeroes if NULL) at offset into the file. */
static int
ext2_write(struct ext2_handle *h, const void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    CLEANUP_FREE void *zeroes = NULL;
    unsigned int n, put = 0;
    errcode_t r;

    if (buf == NULL) {
        zeroes = calloc(1, count < EXT2_CHUNK ? count : EXT2_CHUNK);
        if (zeroes == NULL) {
            *err = errno;
            nbdkit_error("ext2: calloc: %m");
            return -1;
        }
    }
    r = ext2fs_file_llseek(h->file, offset, EXT2_SEEK_SET, NULL);
    while (r == 0 && count > 0) {
        n = buf == NULL && count > EXT2_CHUNK ? EXT2_CHUNK : count;
        r = ext2fs_file_write(h->file, buf ? buf : zeroes, n, &put);
        if (r == 0 && put == 0)
            r = EXT2_ET_SHORT_WRITE;
        if (buf)
            buf = (const char *)buf + put;
        count -= put;
    }
    if (r != 0) {
        *err = ext2_errno(h, "write", r);
        return -1;
    }
    if (flags & NBDKIT_FLAG_FUA)
        return ext2_sync(h, err);
    return 0;
}

static int
ext2_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    struct ext2_handle *h = handle;

    h->next = next;
    return ext2_write(h, buf, count, offset, flags, err);
}

static int
ext2_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
          uint32_t flags, int *err)
{
    struct ext2_handle *h = handle;

    h->next = next;
    return ext2_write(h, NULL, count, offset, flags, err);
}

static int
ext2_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    struct ext2_handle *h = handle;

    h->next = next;
    return ext2_sync(h, err);
}

static int
ext2_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    CLEANUP_FREE void *buf = malloc(count < EXT2_CHUNK ? count : EXT2_CHUNK);
    uint32_t n;

    if (buf == NULL) {
        *err = errno;
        nbdkit_error("ext2: malloc: %m");
        return -1;
    }
    while (count > 0) {
        n = count < EXT2_CHUNK ? count : EXT2_CHUNK;
        if (ext2_pread(next, handle, buf, n, offset, 0, err) == -1)
            return -1;
        count -= n, offset += n;
    }
    return 0;
}

/* ---- block status ---- */

#define EXT2_MAX_MAP 65536 /* blocks mapped by one block status request */

/* The extent type of logical block lblk of the file: a hole, an
 * unwritten (zero) extent, or data.  Anything libext2fs cannot map
 * (inline data, an error) counts as data, which is always true.
 */
static uint32_t
ext2_block_type(struct ext2_handle *h, char *block_buf, blk64_t lblk)
{
    struct ext2_inode *inode = ext2fs_file_get_inode(h->file);
    ext2_ino_t ino = ext2fs_file_get_inode_num(h->file);
    blk64_t pblk = 0;
    int ret_flags = 0;

    if (ext2fs_bmap2(h->fs, ino, inode, block_buf, 0, lblk, &ret_flags,
                     &pblk) != 0)
        return 0;
    if (pblk == 0)
        return NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
    if (ret_flags & BMAP_RET_UNINIT)
        return NBDKIT_EXTENT_ZERO;
    return 0;
}

/* Describe [offset, offset+count) block by block, one extent per run of
 * blocks of the same type (only the first with NBDKIT_FLAG_REQ_ONE).
 * The file's buffer is written back first, so that its blocks are
 * mapped.  A reply may stop short of the range: it stops after
 * EXT2_MAX_MAP blocks, which bounds the work of one request.
 */
static int
ext2_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct ext2_handle *h = handle;
    uint64_t bs = h->fs->blocksize, start, end = offset + count;
    blk64_t lblk = offset / bs;
    CLEANUP_FREE char *block_buf = malloc(2 * bs);
    uint32_t type, run_type;
    errcode_t r;

    h->next = next;
    if (block_buf == NULL) {
        *err = errno;
        nbdkit_error("ext2: malloc: %m");
        return -1;
    }
    r = ext2fs_file_flush(h->file);
    if (r != 0) {
        *err = ext2_errno(h, "flush", r);
        return -1;
    }
    start = lblk * bs;
    if (end - start > EXT2_MAX_MAP * bs)
        end = start + EXT2_MAX_MAP * bs;
    run_type = ext2_block_type(h, block_buf, lblk);
    while (++lblk * bs < end) {
        type = ext2_block_type(h, block_buf, lblk);
        if (type == run_type)
            continue;
        if (nbdkit_add_extent(extents, start, lblk * bs - start, run_type) ==
            -1) {
            *err = errno;
            return -1;
        }
        if (flags & NBDKIT_FLAG_REQ_ONE)
            return 0;
        start = lblk * bs, run_type = type;
    }
    if (nbdkit_add_extent(extents, start, lblk * bs - start, run_type) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "ext2",
    .longname = "nbdx ext2 filter",
    .load = ext2_load,
    .unload = ext2_unload,
    .config = ext2_config,
    .config_complete = ext2_config_complete,
    .config_help = ext2_config_help,
    .thread_model = ext2_thread_model,
    .list_exports = ext2_list_exports,
    .default_export = ext2_default_export,
    .open = ext2_open,
    .prepare = ext2_prepare,
    .finalize = ext2_finalize,
    .close = ext2_close,
    .get_size = ext2_get_size,
    .can_write = ext2_can_write,
    .can_flush = ext2_true,
    .can_trim = ext2_false,
    .can_zero = ext2_can_zero,
    .can_fast_zero = ext2_false,
    .can_extents = ext2_true,
    .can_fua = ext2_can_fua,
    .can_multi_conn = ext2_false,
    .can_cache = ext2_can_cache,
    .pread = ext2_pread,
    .pwrite = ext2_pwrite,
    .zero = ext2_zero,
    .flush = ext2_flush,
    .cache = ext2_cache,
    .extents = ext2_extents,
};

NBDKIT_REGISTER_FILTER(filter)
