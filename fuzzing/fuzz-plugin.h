/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-plugin.h: how a harness steers the fuzz plugin.
 *
 * The plugin (nbdkit-fuzz-plugin.so) exports one object of this type,
 * fuzz_plugin_control.  A harness finds it with dlsym on top->dl and sets
 * it before each input; the plugin reads it when a connection opens the
 * export and when it answers.  Only one connection runs at a time, so no
 * lock guards it.
 */

#ifndef NBDX_FUZZ_PLUGIN_H
#define NBDX_FUZZ_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of real storage; an export larger than this reads as zeroes
 * beyond it and drops writes there.
 */
#define FUZZ_STORE_SIZE (1024 * 1024)

/* Bits of one extent script record's control byte. */
#define FUZZ_EXT_TYPE 0x03    /* NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO */
#define FUZZ_EXT_RAWTYPE 0x04 /* pass control >> 3 as the type instead */
#define FUZZ_EXT_GAP 0x08     /* skip length bytes instead of adding */
#define FUZZ_EXT_FAIL 0x10    /* fail the call with EIO here */
#define FUZZ_EXT_IGNORE 0x20  /* ignore nbdkit_add_extent's failure */
#define FUZZ_EXT_BACK 0x40    /* step back length bytes (overlap) */
#define FUZZ_EXT_STOP 0x80    /* return success here */
#define FUZZ_EXT_RECORD 5     /* control byte, then a big-endian u32 */

struct fuzz_plugin_control {
    uint64_t size; /* export size; 0 means FUZZ_STORE_SIZE */
    /* Extent script for .extents, read from the request's offset rounded
     * down to 4096: records of FUZZ_EXT_RECORD bytes.  NULL means a fixed
     * pattern of data, zero and hole extents.  Not owned.
     */
    const uint8_t *extents;
    size_t extents_len;
    /* The .block_size answer; all 0 means the plugin has none. */
    uint32_t minimum, preferred, maximum;
};

#endif /* NBDX_FUZZ_PLUGIN_H */
