/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-block-status.c: extents from the plugin to BLOCK_STATUS replies.
 *
 * The fuzz plugin answers .extents from a script taken from the input,
 * so the server meets every kind of list a plugin can produce (gaps,
 * overlaps, zero lengths, unknown types, failures, too few or too many
 * extents), and must encode it for a client that negotiated structured
 * replies or extended headers.  Input layout:
 *
 *   u8   mode: bit 0 extended headers, bit 1 skip SET_META_CONTEXT
 *   u8   the plugin's block size answer (see fuzz_control_reset)
 *   u64  export size (top bit ignored)
 *   u8   number of requests, 1-4 (low 2 bits, plus 1)
 *   per request: u16 flags, u64 offset, u64 count (low 32 bits used
 *        without extended headers)
 *   the rest: the extent script (records of fuzz-plugin.h)
 */

#include <stddef.h>
#include <stdint.h>

#include "nbd-protocol.h"

#include "fuzz-common.h"

#define MODE_EXT 1
#define MODE_NO_META 2

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_plugin_control *ctl;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ctl = fuzz_setup();
    return 0;
}

static void
fuzz_bs_handshake(struct fuzz_stream *s, uint8_t mode)
{
    fuzz_put_cflags(s);
    if (mode & MODE_EXT)
        fuzz_put_option(s, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    else
        fuzz_put_option(s, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    if (!(mode & MODE_NO_META))
        fuzz_put_set_meta(s);
    fuzz_put_go(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    struct fuzz_stream s = {0};
    uint8_t mode = fuzz_get8(&in), n;
    int ext = mode & MODE_EXT;

    fuzz_control_reset(ctl, fuzz_get8(&in));
    ctl->size = fuzz_get64(&in);
    if (ctl->size == 0)
        ctl->size = 1; /* 0 would mean the plugin's default */
    fuzz_bs_handshake(&s, mode);
    n = (fuzz_get8(&in) & 3) + 1;
    while (n-- > 0) {
        uint16_t flags = fuzz_get16(&in);
        uint64_t offset = fuzz_get64(&in);
        uint64_t count = fuzz_get64(&in);

        fuzz_put_request(&s, ext, flags, NBD_CMD_BLOCK_STATUS, offset, count);
    }
    fuzz_put_request(&s, ext, 0, NBD_CMD_DISC, 0, 0);
    ctl->extents = in.p;
    ctl->extents_len = in.left;
    fuzz_serve(s.ptr, s.len);
    fuzz_stream_free(&s);
    return 0;
}
