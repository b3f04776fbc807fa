/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-options.c: the option parser of the newstyle handshake.
 *
 * The harness frames the input into options so the fuzzer spends its
 * time on option contents, not on the IHAVEOPT magic.  Input layout:
 *
 *   u8   client flags (low 2 bits)
 *   then records: u8 code, u16 length, length bytes of data
 *
 * Codes 0-15 are sent as they are (1-11 are the known options); a code
 * with bit 7 set sends code & 15 with a u32 declared length read from
 * the input but only the data that is left, so the option is cut short.
 */

#include <stddef.h>
#include <stdint.h>

#include "fuzz-common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_plugin_control *ctl;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ctl = fuzz_setup();
    return 0;
}

/* Frame one record of in as an option on s. */
static void
fuzz_options_record(struct fuzz_input *in, struct fuzz_stream *s)
{
    uint8_t code = fuzz_get8(in);
    uint32_t len;

    if (code & 0x80) {
        len = fuzz_get32(in);
        fuzz_put_be64(s, 0x49484156454F5054ULL); /* IHAVEOPT */
        fuzz_put_be32(s, code & 15);
        fuzz_put_be32(s, len);
        fuzz_put(s, in->p, in->left);
        in->p += in->left;
        in->left = 0;
        return;
    }
    len = fuzz_get16(in);
    if (len > in->left)
        len = in->left;
    fuzz_put_option(s, code & 15, in->p, len);
    in->p += len;
    in->left -= len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    struct fuzz_stream s = {0};

    fuzz_control_reset(ctl, 0);
    fuzz_put_be32(&s, fuzz_get8(&in) & 3);
    while (in.left > 0)
        fuzz_options_record(&in, &s);
    fuzz_serve(s.ptr, s.len);
    fuzz_stream_free(&s);
    return 0;
}
