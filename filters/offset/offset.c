/* SPDX-License-Identifier: BSD-3-Clause */
/* offset.c: serve the byte range [offset, offset+range) of the layer below.
 *
 * prepare checks the range against the size of the layer below and
 * places the connection's window; the data calls are common/window's:
 * shifted up by offset, extents shifted back down.  The server bounds
 * each request by get_size, which is range, so the shifted requests
 * always fall inside the layer below.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

#include "window.h"

static uint64_t offset = 0; /* offset=OFFSET, default 0 */
static int64_t range = -1;  /* range=LENGTH, -1 = to the end */

static int
offset_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
              const char *value)
{
    int64_t r;

    if (strcmp(key, "offset") == 0) {
        r = nbdkit_parse_size(value);
        if (r == -1)
            return -1;
        offset = r;
        return 0;
    }
    if (strcmp(key, "range") == 0) {
        r = nbdkit_parse_size(value);
        if (r == -1)
            return -1;
        range = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define offset_config_help                                                     \
    "offset=<OFFSET>            The start offset to serve (default 0).\n"      \
    "range=<LENGTH>             The total size to serve (default rest of "     \
    "file)."

/* The window [offset, offset+range) of a layer below of SIZE bytes;
 * -1 after nbdkit_error.
 */
static int
offset_place(struct window *w, int64_t size)
{
    if (range >= 0) {
        if (window_place(w, offset, range, size) == -1) {
            nbdkit_error("offset+range (%" PRIu64 "+%" PRIi64 ") is larger "
                         "than the size of the layer below (%" PRIi64 ")",
                         offset, range, size);
            return -1;
        }
        return 0;
    }
    if (offset > (uint64_t)size) {
        nbdkit_error("offset (%" PRIu64 ") is larger than the size of the "
                     "layer below (%" PRIi64 ")",
                     offset, size);
        return -1;
    }
    return window_place(w, offset, size - offset, size);
}

/* nbdx only: the zero-copy calls of the layer below, which the window's
 * callbacks use.
 */
static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

/* One connection's window, placed by prepare. */
static void *
offset_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
            const char *exportname, int is_tls)
{
    void *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = window_new(sizeof(struct window), next_zc);
    if (h == NULL)
        nbdkit_error("calloc: %m");
    return h;
}

static int
offset_prepare(nbdkit_next *next, void *handle, int readonly)
{
    int64_t size = next->get_size(next);

    if (size == -1)
        return -1;
    return offset_place(handle, size);
}

static struct nbdkit_filter filter = {
    .name = "offset",
    .longname = "nbdx offset filter",
    .config = offset_config,
    .config_help = offset_config_help,
    .open = offset_open,
    .close = window_free,
    .prepare = offset_prepare,
    WINDOW_FILTER_CALLBACKS,
};

NBDKIT_REGISTER_FILTER(filter)

/* nbdx only: the zero-copy calls pass through with the same shift. */
WINDOW_REGISTER_EXTENSION(next_zc)
