/* SPDX-License-Identifier: BSD-3-Clause */
/* test-fscommand.c: unit tests of fscommand.h: which keys are variables,
 * values reaching the command unchanged whatever they hold, the last of
 * a repeated key winning, $disk and $size, and the default script making
 * a sparse file of $size bytes (with mkfs replaced by a stub on $PATH).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fscommand.h"
#include "unit.h"

static void
test_keys(void)
{
    struct fscommand c = {0};

    unit_group("keys");
    CHECK(fscommand_add(&c, "type", "xfs") == 0);
    CHECK(fscommand_add(&c, "_x9", "") == 0);
    CHECK(fscommand_add(&c, "disk", "x") == -1);
    CHECK(fscommand_add(&c, "size", "1") == -1);
    CHECK(fscommand_add(&c, "9a", "x") == -1);
    CHECK(fscommand_add(&c, "a-b", "x") == -1);
    CHECK(fscommand_add(&c, "", "x") == -1);
    CHECK(fscommand_add(&c, "command", "true") == 0);
    CHECK(c.n == 2 && c.command && strcmp(c.command, "true") == 0);
    fscommand_free(&c);
    CHECK(c.n == 0 && c.keys == NULL && c.command == NULL);
    fscommand_free(&c); /* empty: a no-op */
}

static void
test_values(void)
{
    struct fscommand c = {0};
    struct call_output o;
    const char *odd = "it's $HOME `id` \"q\" \\ *\nline2";
    char expect[256];

    unit_group("values and $disk, $size");
    CHECK(fscommand_add(&c, "label", "first") == 0);
    CHECK(fscommand_add(&c, "label", odd) == 0);
    CHECK(fscommand_add(&c, "command",
                        "printf '%s|%s|%s' \"$label\" \"$disk\" \"$size\"") ==
          0);
    CHECK(fscommand_run(&c, "/a b/'d", 18446744073709551615u, &o) == 0);
    CHECK(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0);
    snprintf(expect, sizeof expect, "%s|/a b/'d|18446744073709551615", odd);
    CHECK(strcmp(o.out, expect) == 0);
    call_output_free(&o);
    fscommand_free(&c);
}

/* The default script, with a mkfs stub that prints its arguments. */
static void
test_default(void)
{
    char dir[] = "/tmp/test-fscommand.XXXXXX";
    char path[512], disk[512];
    struct fscommand c = {0};
    struct call_output o;
    struct stat st;
    FILE *fp;

    unit_group("the default mkfs script");
    if (!CHECK(mkdtemp(dir) != NULL))
        return;
    snprintf(path, sizeof path, "%s/mkfs", dir);
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    fputs("#!/bin/sh\necho \"$*\"\n", fp);
    fclose(fp);
    chmod(path, 0755);
    snprintf(path, sizeof path, "%s:/usr/bin:/bin", dir);
    setenv("PATH", path, 1);
    snprintf(disk, sizeof disk, "%s/disk", dir);

    CHECK(fscommand_run(&c, disk, 1000000, &o) == 0);
    CHECK(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0);
    CHECK(strncmp(o.out, "-t ext4 -F /", 12) == 0);
    CHECK(stat(disk, &st) == 0 && st.st_size == 1000000);
    call_output_free(&o);

    CHECK(fscommand_add(&c, "type", "vfat") == 0);
    CHECK(fscommand_add(&c, "label", "MY DISK") == 0);
    CHECK(fscommand_run(&c, disk, 4096, &o) == 0);
    CHECK(strncmp(o.out, "-t vfat -I -n MY DISK /", 23) == 0);
    CHECK(stat(disk, &st) == 0 && st.st_size == 4096);
    call_output_free(&o);
    fscommand_free(&c);

    unlink(disk);
    snprintf(path, sizeof path, "%s/mkfs", dir);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    test_keys();
    test_values();
    test_default();
    return unit_finish();
}
