/* SPDX-License-Identifier: BSD-3-Clause */
/* blob.h: building the blobs of format.h, for the data format's parser.
 * Each function returns 0, or -1 with errno set (ENOMEM; E2BIG past
 * DATA_MAX_SEGS segments).
 */

#ifndef NBDX_DATA_BLOB_H
#define NBDX_DATA_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"

#define DATA_FLATTEN_MAX (16u << 20)    /* repeats up to this are copied */
#define DATA_MAX_SEGS ((size_t)1 << 20) /* per blob */

/* Append a copy of s, taking a new reference to its buffer. */
int blob_push(struct data_blob *b, struct data_seg s);

/* A blob of a copy of the len bytes at data. */
int blob_bytes(struct data_blob *b, const void *data, size_t len);

/* A blob of the len bytes at mem (malloc'd or NULL), which it takes; on
 * failure mem is still the caller's.
 */
int blob_take(struct data_blob *b, unsigned char *mem, size_t len);

/* dst, empty, becomes a copy of src sharing its buffers. */
int blob_dup(struct data_blob *dst, const struct data_blob *src);

/* Whether the first segment alone gives every byte. */
bool blob_dense(const struct data_blob *b);

/* n copies of b into the empty nb (n > 0, b->size > 0, no overflow). */
int blob_repeat(const struct data_blob *b, uint64_t n, struct data_blob *nb);

/* Cut b to [start, end). */
int blob_slice(struct data_blob *b, uint64_t start, uint64_t end);

#endif /* NBDX_DATA_BLOB_H */
