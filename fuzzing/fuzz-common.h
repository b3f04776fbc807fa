/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-common.h: what the libFuzzer harnesses share.
 *
 * Each harness loads the fuzz plugin once (fuzz_setup), then for every
 * input builds the bytes a client would send (a struct fuzz_stream) and
 * plays them to one connection of the real server code (fuzz_serve).
 */

#ifndef NBDX_FUZZ_COMMON_H
#define NBDX_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz-plugin.h"

/* Load the plugin and set the server's options, once per process.  Returns
 * the plugin's control block.
 */
struct fuzz_plugin_control *fuzz_setup(void);

/* Serve one connection whose client sends exactly these bytes, then
 * shuts down its writing side; the server's replies are read and
 * dropped.  Aborts if the connection leaked a file descriptor.
 */
void fuzz_serve(const uint8_t *data, size_t len);

/* A growing byte string in wire order.  Out of memory aborts. */
struct fuzz_stream {
    uint8_t *ptr;
    size_t len, cap;
};
void fuzz_put(struct fuzz_stream *s, const void *p, size_t n);
void fuzz_put_be16(struct fuzz_stream *s, uint16_t v);
void fuzz_put_be32(struct fuzz_stream *s, uint32_t v);
void fuzz_put_be64(struct fuzz_stream *s, uint64_t v);
void fuzz_stream_free(struct fuzz_stream *s);

/* The newstyle client greeting: fixed newstyle, no zeroes. */
void fuzz_put_cflags(struct fuzz_stream *s);
/* One option: IHAVEOPT, code, length, data. */
void fuzz_put_option(struct fuzz_stream *s, uint32_t code, const void *data,
                     uint32_t len);
/* NBD_OPT_SET_META_CONTEXT for base:allocation on the default export. */
void fuzz_put_set_meta(struct fuzz_stream *s);
/* NBD_OPT_GO for the default export with no info requests. */
void fuzz_put_go(struct fuzz_stream *s);
/* One request header, compact or extended. */
void fuzz_put_request(struct fuzz_stream *s, int extended, uint16_t flags,
                      uint16_t type, uint64_t offset, uint64_t count);

/* Reset ctl to the plugin's defaults, then choose its block size answer
 * (none, valid ones, and a few the server must refuse) with sel.
 */
void fuzz_control_reset(struct fuzz_plugin_control *ctl, uint8_t sel);

/* Reading an input: big-endian fields, zero past its end. */
struct fuzz_input {
    const uint8_t *p;
    size_t left;
};
uint8_t fuzz_get8(struct fuzz_input *in);
uint16_t fuzz_get16(struct fuzz_input *in);
uint32_t fuzz_get32(struct fuzz_input *in);
uint64_t fuzz_get64(struct fuzz_input *in);

#endif /* NBDX_FUZZ_COMMON_H */
