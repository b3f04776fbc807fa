/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-vmdk.c: the vmdk plugin's parsers and I/O on a hostile file.
 *
 * The input is the whole VMDK file: a sparse extent (header, embedded
 * descriptor, grain directories and tables, grains, compressed or not,
 * footer) or a text descriptor, whose extents and parent may name the
 * file itself (it is written as d.vmdk in a scratch folder).  If the
 * disk opens, the harness reads up to 1 MiB of it, in 64 KiB requests and
 * then sectors here and there (parts of grains), maps it, writes a
 * sector at the start and in the middle when it is writable and checks
 * that the sector reads back, then closes it.  Anything the parser lets
 * through must be safe for the I/O path.
 */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmdk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/nbdx-fuzz-vmdk.XXXXXX";

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/d.vmdk", dir);
    return 0;
}

static void
fuzz_vmdk_write_file(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd == -1 || write(fd, data, size) != (ssize_t)size) {
        perror(path);
        abort();
    }
    close(fd);
}

/* Write one sector at OFFSET and read it back. */
static void
fuzz_vmdk_write_check(struct vmdk_disk *d, uint64_t offset)
{
    char out[VMDK_SECTOR], in[VMDK_SECTOR];

    if (offset + VMDK_SECTOR > d->size)
        return;
    memset(out, 0xa5, sizeof out);
    if (vmdk_disk_write(d, out, sizeof out, offset) == -1)
        return;
    if (vmdk_disk_read(d, in, sizeof in, offset) == 0 &&
        memcmp(in, out, sizeof in) != 0)
        abort(); /* a write that does not read back */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[65536];
    struct nbdkit_extents *exts;
    struct vmdk_disk *d;
    uint64_t off, end;

    fuzz_vmdk_write_file(data, size);
    d = vmdk_disk_open(path, false);
    if (d == NULL)
        return 0;
    end = d->size < (1 << 20) ? d->size : (1 << 20);
    for (off = 0; off < end; off += sizeof buf)
        vmdk_disk_read(d, buf, end - off < sizeof buf ? end - off : sizeof buf,
                       off);
    /* Sector reads, forwards then backwards: parts of grains. */
    for (off = 0; off + 2 * VMDK_SECTOR <= end && off < 8 * 4096; off += 4096)
        vmdk_disk_read(d, buf, VMDK_SECTOR, off + VMDK_SECTOR);
    while (off >= 4096) {
        off -= 4096;
        if (off + 2 * VMDK_SECTOR <= end)
            vmdk_disk_read(d, buf, VMDK_SECTOR, off + VMDK_SECTOR);
    }
    exts = nbdkit_extents_new(0, d->size);
    if (exts != NULL) {
        vmdk_disk_map(d, end, 0, exts);
        nbdkit_extents_free(exts);
    }
    if (d->writable) {
        fuzz_vmdk_write_check(d, 0);
        fuzz_vmdk_write_check(d, d->size / 2 / VMDK_SECTOR * VMDK_SECTOR);
        vmdk_disk_flush(d);
    }
    vmdk_disk_close(d);
    return 0;
}
