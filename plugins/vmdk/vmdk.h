/* SPDX-License-Identifier: BSD-3-Clause */
/* vmdk: the disk model shared by the plugin (vmdk.c) and the fuzz target.
 *
 * vmdk-open.c turns a descriptor into a struct disk: its extents, their
 * grain tables read into memory, and the parent disk it is a delta of.
 * vmdk-io.c reads, writes and maps a struct disk.  Errors are reported
 * with nbdkit_error and returned as -1 with errno set.
 */

#ifndef NBDX_VMDK_H
#define NBDX_VMDK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-plugin.h>

#define VMDK_SECTOR 512 /* bytes; the unit of every VMDK offset */

enum vmdk_extent_type { VMDK_FLAT, VMDK_SPARSE, VMDK_ZERO };

/* One extent of a disk, in the descriptor's order.  Owned by its disk. */
struct vmdk_extent {
    enum vmdk_extent_type type;
    bool writable;          /* RW, and its file opened for writing */
    bool noaccess;          /* NOACCESS: reads and writes fail */
    bool compressed;        /* SPARSE: grains are deflated (streamOptimized) */
    uint64_t start;         /* first byte in the virtual disk */
    uint64_t size;          /* in bytes */
    int fd;                 /* -1 for VMDK_ZERO */
    char *path;             /* the extent's file, for messages */
    uint64_t offset;        /* FLAT: where the extent starts in its file */
    uint64_t grain;         /* SPARSE: grain size in bytes */
    uint32_t *table;        /* SPARSE: per grain: sector, 0 none, 1 zero */
    uint64_t ngrains;       /* SPARSE: entries in table */
    uint32_t gtes_per_gt;   /* SPARSE: entries per grain table */
    uint32_t *gd, *rgd;     /* SPARSE: GT sectors, primary and redundant
                             * (rgd NULL if the extent has none) */
    uint64_t ngts;          /* SPARSE: entries in gd and rgd */
    uint64_t gd_at, rgd_at; /* SPARSE: where gd and rgd are, in sectors */
    uint64_t file_end;      /* SPARSE: next free sector (alloc_lock) */
    uint64_t id;            /* SPARSE: unique in the process, never 0 */
};

/* A disk: one descriptor.  Built by vmdk_disk_open, then shared by every
 * thread; the only thing that changes after that is a sparse extent's
 * tables and file_end, under alloc_lock (table entries are also read
 * without it, atomically).
 */
struct vmdk_disk {
    char *path; /* the descriptor, absolute */
    struct vmdk_extent *extents;
    size_t nextents;
    uint64_t size;
    bool writable;            /* every RW extent can be written */
    bool embedded;            /* the descriptor is inside a sparse file */
    struct vmdk_disk *parent; /* a delta's base, or NULL */
    pthread_mutex_t alloc_lock;
};

/* vmdk-open.c */
extern struct vmdk_disk *vmdk_disk_open(const char *path, bool readonly);
extern void vmdk_disk_close(struct vmdk_disk *d);

/* vmdk-io.c */
extern int vmdk_disk_read(struct vmdk_disk *d, void *buf, uint64_t count,
                          uint64_t offset);
extern int vmdk_disk_write(struct vmdk_disk *d, const void *buf, uint64_t count,
                           uint64_t offset);
extern int vmdk_disk_flush(struct vmdk_disk *d);
/* Where [offset, offset + count) lies in one file, in one piece, if it
 * does: 0 and *fd, *fd_offset; else -1 with errno ENOTSUP.
 */
extern int vmdk_disk_fd_range(struct vmdk_disk *d, uint64_t count,
                              uint64_t offset, int *fd, uint64_t *fd_offset);
extern int vmdk_disk_map(struct vmdk_disk *d, uint64_t count, uint64_t offset,
                         struct nbdkit_extents *out);
extern int vmdk_read_at(int fd, void *buf, uint64_t count, uint64_t offset,
                        const char *what);

#endif /* NBDX_VMDK_H */
