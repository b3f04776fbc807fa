/* SPDX-License-Identifier: BSD-3-Clause */
/* plugin-v1.c: a RAM disk written to the oldest plugin API
 * (NBDKIT_API_VERSION 1: no flags arguments, zero with may_trim).
 *
 * Every data callback appends one line to the file named by log=, so
 * plugin-v1.sh can check how the server maps NBD requests onto v1 calls:
 * FUA emulated with flush, NO_HOLE as may_trim=0, and the fallback to
 * pwrite when zero fails with EOPNOTSUPP (zero=refuse).
 */

#define NBDKIT_API_VERSION 1
#include <nbdkit-plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static int64_t size = 1048576; /* size=SIZE */
static char *logname;          /* log=FILE, required */
static int refuse_zero;        /* zero=refuse */
static unsigned char *disk;

static void
v1_log(const char *fs, ...) ATTRIBUTE_FORMAT_PRINTF(1, 2);

static void
v1_log(const char *fs, ...)
{
    FILE *fp = fopen(logname, "a");
    va_list args;

    if (fp == NULL)
        return;
    va_start(args, fs);
    vfprintf(fp, fs, args);
    va_end(args);
    fputc('\n', fp);
    fclose(fp);
}

static int
v1_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(key, "log") == 0) {
        logname = nbdkit_absolute_path(value);
        return logname == NULL ? -1 : 0;
    }
    if (strcmp(key, "zero") == 0) {
        refuse_zero = strcmp(value, "refuse") == 0;
        return 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
v1_config_complete(void)
{
    if (logname == NULL) {
        nbdkit_error("log=FILE is required");
        return -1;
    }
    disk = calloc(1, (size_t)size);
    if (disk == NULL) {
        nbdkit_error("calloc: %m");
        return -1;
    }
    v1_log("config_complete size=%" PRId64, size);
    return 0;
}

static void
v1_unload(void)
{
    if (logname)
        v1_log("unload");
    free(disk);
    free(logname);
}

static void *
v1_open(int readonly)
{
    v1_log("open readonly=%d", readonly);
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
v1_get_size(void *handle)
{
    return size;
}

static int
v1_can_write(void *handle)
{
    return 1;
}

static int
v1_can_trim(void *handle)
{
    return 1;
}

static int
v1_pread(void *handle, void *buf, uint32_t count, uint64_t offset)
{
    memcpy(buf, disk + offset, count);
    return 0;
}

static int
v1_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset)
{
    v1_log("pwrite %" PRIu32 " %" PRIu64, count, offset);
    memcpy(disk + offset, buf, count);
    return 0;
}

static int
v1_flush(void *handle)
{
    v1_log("flush");
    return 0;
}

static int
v1_trim(void *handle, uint32_t count, uint64_t offset)
{
    v1_log("trim %" PRIu32 " %" PRIu64, count, offset);
    memset(disk + offset, 0, count);
    return 0;
}

static int
v1_zero(void *handle, uint32_t count, uint64_t offset, int may_trim)
{
    v1_log("zero %" PRIu32 " %" PRIu64 " may_trim=%d", count, offset,
           may_trim);
    if (refuse_zero) {
        nbdkit_set_error(EOPNOTSUPP);
        return -1;
    }
    memset(disk + offset, 0, count);
    return 0;
}

static struct nbdkit_plugin plugin = {
    .name = "abiv1",
    .version = "1.0",
    .unload = v1_unload,
    .config = v1_config,
    .config_complete = v1_config_complete,
    .config_help = "size=<SIZE> log=<FILE> [zero=refuse]",
    .open = v1_open,
    .get_size = v1_get_size,
    .can_write = v1_can_write,
    .can_trim = v1_can_trim,
    .pread = v1_pread,
    .pwrite = v1_pwrite,
    .flush = v1_flush,
    .trim = v1_trim,
    .zero = v1_zero,
};

NBDKIT_REGISTER_PLUGIN(plugin)
