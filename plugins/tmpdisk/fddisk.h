/* SPDX-License-Identifier: BSD-3-Clause */
/* fddisk.h: the callbacks of a plugin whose connection serves one open
 * file, read and written in place: tmpdisk's fresh disk, ondemand's
 * locked export.  The plugins differ only in how .open finds the file;
 * ondemand compiles fddisk.c from here, as eval does sh's methods.
 */

#ifndef NBDX_FDDISK_H
#define NBDX_FDDISK_H

#include <stdint.h>

/* A connection's handle: the file, owned (closed by fddisk_close, which
 * also drops any lock held on it).  Allocated by fddisk_new.
 */
struct fddisk {
    int fd;
};

/* A handle for FD; NULL after nbdkit_error, FD then still the caller's. */
struct fddisk *fddisk_new(int fd);

void fddisk_close(void *handle);
int64_t fddisk_get_size(void *handle);
int fddisk_can_trim(void *handle);
int fddisk_can_fua(void *handle);
int fddisk_can_multi_conn(void *handle);
int fddisk_flush(void *handle, uint32_t flags);
int fddisk_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                 uint32_t flags);
int fddisk_pwrite(void *handle, const void *buf, uint32_t count,
                  uint64_t offset, uint32_t flags);
int fddisk_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags);

/* The fields of struct nbdkit_plugin that both plugins fill with the
 * callbacks above.
 */
#define FDDISK_CALLBACKS                                                       \
    .close = fddisk_close, .get_size = fddisk_get_size,                        \
    .can_trim = fddisk_can_trim, .can_fua = fddisk_can_fua,                    \
    .can_multi_conn = fddisk_can_multi_conn, .pread = fddisk_pread,            \
    .pwrite = fddisk_pwrite, .flush = fddisk_flush, .trim = fddisk_trim,       \
    .errno_is_preserved = 1

#endif /* NBDX_FDDISK_H */
