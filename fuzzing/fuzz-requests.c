/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-requests.c: the request reader and validator.
 *
 * The harness does a valid handshake (which replies and which meta
 * context depend on the first byte), then sends the rest as requests.
 * Input layout:
 *
 *   u8   mode: bit 0 structured replies, bit 1 extended headers,
 *        bit 2 select base:allocation, bit 3 framed requests
 *   u8   the plugin's block size answer (see fuzz_control_reset)
 *   u8   export size choice
 *   then, unframed: raw request bytes;
 *   framed, records: u8 type, u16 flags, u64 offset, u32 count (u64 with
 *        extended headers), u16 payload length, payload bytes
 *
 * Framing supplies the magic and lets the payload length differ from the
 * count, so short and long payloads are both tried.
 */

#include <stddef.h>
#include <stdint.h>

#include "nbd-protocol.h"

#include "fuzz-common.h"

#define MODE_SR 1
#define MODE_EXT 2
#define MODE_META 4
#define MODE_FRAMED 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_plugin_control *ctl;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ctl = fuzz_setup();
    return 0;
}

static const uint64_t export_sizes[] = {
    0,                      /* FUZZ_STORE_SIZE */
    FUZZ_STORE_SIZE + 1,    /* not a multiple of any block size */
    1,                      /* one byte */
    UINT64_C(1) << 32,      /* past 32-bit counts */
    (UINT64_C(1) << 63) - 1 /* the largest size there is */
};

/* The handshake for mode: greeting, replies style, meta context, GO. */
static void
fuzz_requests_handshake(struct fuzz_stream *s, uint8_t mode)
{
    fuzz_put_cflags(s);
    if (mode & MODE_EXT)
        fuzz_put_option(s, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    else if (mode & MODE_SR)
        fuzz_put_option(s, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    if (mode & MODE_META)
        fuzz_put_set_meta(s);
    fuzz_put_go(s);
}

static void
fuzz_requests_record(struct fuzz_input *in, struct fuzz_stream *s, int ext)
{
    uint8_t type = fuzz_get8(in);
    uint16_t flags = fuzz_get16(in);
    uint64_t offset = fuzz_get64(in);
    uint64_t count = ext ? fuzz_get64(in) : fuzz_get32(in);
    uint16_t len = fuzz_get16(in);

    fuzz_put_request(s, ext, flags, type, offset, count);
    if (len > in->left)
        len = in->left;
    fuzz_put(s, in->p, len);
    in->p += len;
    in->left -= len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    struct fuzz_stream s = {0};
    uint8_t mode = fuzz_get8(&in);

    fuzz_control_reset(ctl, fuzz_get8(&in));
    ctl->size = export_sizes[fuzz_get8(&in) % 5];
    fuzz_requests_handshake(&s, mode);
    if (mode & MODE_FRAMED) {
        while (in.left > 0)
            fuzz_requests_record(&in, &s, mode & MODE_EXT);
    } else
        fuzz_put(&s, in.p, in.left);
    fuzz_serve(s.ptr, s.len);
    fuzz_stream_free(&s);
    return 0;
}
