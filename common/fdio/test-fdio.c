/* SPDX-License-Identifier: BSD-3-Clause */
/* test-fdio.c: a megabyte written and read back whole; a read past the
 * end of the file is EIO; a punched hole reads back as zeros and keeps
 * the size; a bad descriptor keeps the kernel's errno.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"

#define SIZE (1024 * 1024)

static int
test_file(void)
{
    char path[] = "/tmp/test-fdio.XXXXXX";
    static char out[SIZE], in[SIZE];
    struct stat st;
    int fd = mkstemp(path);
    size_t i;

    assert(fd >= 0);
    unlink(path);
    for (i = 0; i < SIZE; i++)
        out[i] = (char)(i * 7 + 1);
    assert(fdio_pwrite(fd, out, SIZE, 4096) == 0);
    assert(fdio_pread(fd, in, SIZE, 4096) == 0);
    assert(memcmp(in, out, SIZE) == 0);

    /* The file ends at 4096 + SIZE: reading one byte more fails. */
    errno = 0;
    assert(fdio_pread(fd, in, 2, 4096 + SIZE - 1) == -1 && errno == EIO);

    assert(fdio_punch(fd, 65536, 4096 + 65536) == 0);
    assert(fdio_pread(fd, in, 65536, 4096 + 65536) == 0);
    for (i = 0; i < 65536; i++)
        assert(in[i] == 0);
    assert(fstat(fd, &st) == 0 && st.st_size == 4096 + SIZE);

    /* A bad descriptor: errno from the kernel. */
    errno = 0;
    assert(fdio_pread(-1, in, 1, 0) == -1 && errno == EBADF);
    close(fd);
    return 0;
}

int
main(void)
{
    test_file();
    printf("fdio: ok\n");
    return 0;
}
