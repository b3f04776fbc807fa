/* SPDX-License-Identifier: BSD-3-Clause */
/* overflow.h: unsigned arithmetic that says when it overflowed.
 *
 *     uint64_t end;
 *     if (ckd_add_u64(&end, offset, count) || end > size)
 *         return -1;
 *
 * Each function stores a OP b in *r and returns true if the exact result
 * did not fit, as C23's ckd_add does; *r then holds the result modulo
 * 2^N, which callers should not use.  They are pure functions of their
 * arguments: no state, safe from any thread.  Header only: link
 * common_overflow_dep for the include path.
 */

#ifndef NBDX_OVERFLOW_H
#define NBDX_OVERFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool
ckd_add_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_add_overflow(a, b, r);
}

/* Overflow here means a < b: the difference would be negative. */
static inline bool
ckd_sub_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_sub_overflow(a, b, r);
}

static inline bool
ckd_mul_u64(uint64_t *r, uint64_t a, uint64_t b)
{
    return __builtin_mul_overflow(a, b, r);
}

static inline bool
ckd_add_size(size_t *r, size_t a, size_t b)
{
    return __builtin_add_overflow(a, b, r);
}

static inline bool
ckd_mul_size(size_t *r, size_t a, size_t b)
{
    return __builtin_mul_overflow(a, b, r);
}

#endif /* NBDX_OVERFLOW_H */
