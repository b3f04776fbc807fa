/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-connection.c: the whole connection as one byte stream.
 *
 * The input is exactly what the client sends, from its handshake flags
 * through options (STARTTLS included) to transmission requests.  The
 * seeds in corpus/connection carry the magic numbers mutation rarely
 * finds on its own.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_control_reset(ctl, 0);
    fuzz_serve(data, size);
    return 0;
}
