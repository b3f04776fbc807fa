/* SPDX-License-Identifier: BSD-3-Clause */
/* fdio.h: whole transfers on a file descriptor, for the plugins that keep
 * a disk in a file (tmpdisk, ondemand).  Short transfers and EINTR
 * are retried.  Nothing here logs: each call returns 0, or -1 with errno
 * set for the caller to report.
 */

#ifndef NBDX_FDIO_H
#define NBDX_FDIO_H

#include <stddef.h>
#include <stdint.h>

/* Read all N bytes at OFF; the end of the file before them is EIO. */
int fdio_pread(int fd, void *buf, size_t n, uint64_t off);

/* Write all N bytes at OFF. */
int fdio_pwrite(int fd, const void *buf, size_t n, uint64_t off);

/* Punch a hole of N bytes at OFF, keeping the size.  A file system that
 * cannot punch holes is no error: trimming is only advice.
 */
int fdio_punch(int fd, uint64_t n, uint64_t off);

#endif /* NBDX_FDIO_H */
