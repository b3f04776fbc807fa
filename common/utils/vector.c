/* SPDX-License-Identifier: BSD-3-Clause */
/* vector.c: growth policy of the typed vectors in vector.h. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vector.h"

/* The vector types share this layout; see DEFINE_VECTOR_TYPE. */
struct generic_vector {
    void *ptr;
    size_t len;
    size_t cap;
};

/* Make room for n more items, growing by half again to amortise. */
int
generic_vector_reserve(void *vp, size_t n, size_t itemsize)
{
    struct generic_vector *v = vp;
    size_t want, newcap, bytes;
    void *p;

    if (__builtin_add_overflow(v->len, n, &want)) {
        errno = ENOMEM;
        return -1;
    }
    if (want <= v->cap)
        return 0;
    newcap = v->cap + v->cap / 2;
    if (newcap < want)
        newcap = want;
    if (newcap < 8)
        newcap = 8;
    if (__builtin_mul_overflow(newcap, itemsize, &bytes)) {
        errno = ENOMEM;
        return -1;
    }
    p = realloc(v->ptr, bytes);
    if (p == NULL)
        return -1;
    v->ptr = p;
    v->cap = newcap;
    return 0;
}
