/* SPDX-License-Identifier: BSD-3-Clause */
/* example2: serve one file, read-only (see nbdx-example2-plugin(1)).
 *
 * The second example adds what most plugins need beyond example1: a
 * parameter (file=), a check that it was given, and a handle, the state
 * of one client connection: here the file descriptor it reads from.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* -D example2.extra=1 on the command line sets this: extra debug
 * messages only developers want.
 */
NBDKIT_DLL_PUBLIC int example2_debug_extra = 0;

/* file=FILENAME, required; an absolute path, so that it still names the
 * same file after the server changes directory.  Owned here, freed by
 * .unload.
 */
static char *filename = NULL;

/* .config is called once for each KEY=VALUE on the command line, before
 * any client connects.
 */
static int
example2_config(const char *key, const char *value)
{
    if (strcmp(key, "file") == 0) {
        free(filename);
        filename = nbdkit_realpath(value);
        return filename == NULL ? -1 : 0;
    }
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

/* .config_complete runs after the last parameter: the place to check
 * that the required ones were given.
 */
static int
example2_config_complete(void)
{
    if (filename == NULL) {
        nbdkit_error("you must supply the file=<FILENAME> parameter "
                     "after the plugin name on the command line");
        return -1;
    }
    return 0;
}

static void
example2_unload(void)
{
    free(filename);
}

/* The state of one connection.  Allocated by .open, freed by .close. */
struct example2_handle {
    int fd;
};

static void *
example2_open(int readonly)
{
    struct example2_handle *h = malloc(sizeof *h);

    if (h == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    h->fd = open(filename, O_RDONLY | O_CLOEXEC);
    if (h->fd == -1) {
        nbdkit_error("open: %s: %m", filename);
        free(h);
        return NULL;
    }
    return h;
}

static void
example2_close(void *handle)
{
    struct example2_handle *h = handle;

    close(h->fd);
    free(h);
}

/* The size is the file's size when the client connects. */
static int64_t
example2_get_size(void *handle)
{
    struct example2_handle *h = handle;
    struct stat st;

    if (fstat(h->fd, &st) == -1) {
        nbdkit_error("stat: %s: %m", filename);
        return -1;
    }
    if (example2_debug_extra)
        nbdkit_debug("extra debugging: st_size = %lld", (long long)st.st_size);
    return st.st_size;
}

/* pread(2) may return less than asked, so loop until count bytes are
 * read.  On an error, nbdkit_error says why and errno (kept, see
 * errno_is_preserved below) becomes the client's error code.
 */
static int
example2_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
               uint32_t flags)
{
    struct example2_handle *h = handle;
    char *p = buf;

    while (count > 0) {
        ssize_t r = pread(h->fd, p, count, offset);
        if (r == -1) {
            nbdkit_error("pread: %s: %m", filename);
            return -1;
        }
        if (r == 0) {
            errno = EIO;
            nbdkit_error("pread: %s: unexpected end of file", filename);
            return -1;
        }
        p += r;
        count -= r;
        offset += r;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "example2",
    .longname = "nbdx example2 plugin",
    .version = PACKAGE_VERSION,
    .description = "Serve one file read-only, an example plugin.",
    .config = example2_config,
    .config_complete = example2_config_complete,
    .config_help = "file=<FILENAME>     (required) The filename to serve.",
    .unload = example2_unload,
    .open = example2_open,
    .close = example2_close,
    .get_size = example2_get_size,
    .pread = example2_pread,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
