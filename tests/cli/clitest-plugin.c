/* SPDX-License-Identifier: BSD-3-Clause */
/* clitest-plugin.c: a plugin for the command-line tests.
 *
 * It has no magic parameter, so the first bare parameter becomes
 * script=VALUE.  It records every config key=value in order and prints
 * them, with its debug flags, from .dump_plugin, so --dump-plugin shows
 * what the command line delivered.  fail=MSG makes config fail with MSG;
 * an export name starting with "fail" makes .open fail with an error
 * naming it: both give the logging tests errors to look for.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

NBDKIT_DLL_PUBLIC int clitest_debug_level;
NBDKIT_DLL_PUBLIC int clitest_debug_a_b;

static char seen[8192]; /* "key=value\n" for each config call */

static int
clitest_config(const char *key, const char *value)
{
    size_t len = strlen(seen);

    if (strcmp(key, "fail") == 0) {
        nbdkit_error("config failed: %s", value);
        return -1;
    }
    snprintf(&seen[len], sizeof seen - len, "%s=%s\n", key, value);
    return 0;
}

static void
clitest_dump_plugin(void)
{
    const char *p = seen, *nl;

    while ((nl = strchr(p, '\n')) != NULL) {
        printf("clitest_config %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
    printf("clitest_debug_level=%d\n", clitest_debug_level);
    printf("clitest_debug_a_b=%d\n", clitest_debug_a_b);
}

static void *
clitest_open(int readonly)
{
    const char *name = nbdkit_export_name();

    if (name && strncmp(name, "fail", 4) == 0) {
        nbdkit_error("open: refusing export %s", name);
        return NULL;
    }
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
clitest_get_size(void *handle)
{
    return 1024 * 1024;
}

static int
clitest_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    memset(buf, 0, count);
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "clitest",
    .version = "1.0",
    .config = clitest_config,
    .config_help = "clitest: a test plugin; any KEY=VALUE is accepted",
    .dump_plugin = clitest_dump_plugin,
    .open = clitest_open,
    .get_size = clitest_get_size,
    .pread = clitest_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
