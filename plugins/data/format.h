/* SPDX-License-Identifier: BSD-3-Clause */
/* format.h: the data plugin's data format (see nbdx-data-plugin(1)),
 * evaluated into a blob: a size and the writes that make up its bytes.
 */

#ifndef NBDX_DATA_FORMAT_H
#define NBDX_DATA_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* The largest offset or size an expression may reach. */
#define DATA_MAX_SIZE INT64_MAX

/* Bytes shared by the segments that point into them. */
struct data_buf {
    size_t ref;
    size_t len;
    size_t cap;
    unsigned char *data;
};

/* len bytes at off: from buf at boff, or all equal to fill if buf is NULL. */
struct data_seg {
    uint64_t off;
    uint64_t len;
    struct data_buf *buf;
    size_t boff;
    unsigned char fill;
};

/* The bytes [0, size): zero, then each segment written over them in
 * order.  Segments lie within [0, size).  A blob owns a reference to
 * each buffer its segments use.
 */
struct data_blob {
    uint64_t size;
    struct data_seg *segs;
    size_t nsegs;
    size_t cap;
};

/* Returns the value of $NAME, or NULL to fall back to the environment.
 * The string must stay valid during data_format_parse.
 */
typedef const char *(*data_var_fn)(void *opaque, const char *name);

/* Evaluates text into *out (which the caller frees with data_blob_clear).
 * Returns 0, or -1 after nbdkit_error saying what is wrong and where.
 */
int data_format_parse(const char *text, data_var_fn var, void *opaque,
                      struct data_blob *out);
void data_blob_clear(struct data_blob *b);

#endif /* NBDX_DATA_FORMAT_H */
