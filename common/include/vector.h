/* SPDX-License-Identifier: BSD-3-Clause */
/* vector.h: a typed growable array.
 *
 * DEFINE_VECTOR_TYPE(int_vector, int) defines `int_vector` with fields
 * ptr, len and cap, and int_vector_append (returns 0, or -1 with errno
 * ENOMEM).  Start with `int_vector v = empty_vector;` and free v.ptr.
 */

#ifndef NBDX_VECTOR_H
#define NBDX_VECTOR_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define empty_vector {.ptr = NULL, .len = 0, .cap = 0}

int generic_vector_reserve(void *vp, size_t n, size_t itemsize);

#define DEFINE_VECTOR_TYPE(name, type)                                         \
    typedef struct {                                                           \
        type *ptr;                                                             \
        size_t len;                                                            \
        size_t cap;                                                            \
    } name;                                                                    \
    static inline int __attribute__((unused))                                  \
    name##_reserve(name *v, size_t n)                                          \
    {                                                                          \
        return generic_vector_reserve(v, n, sizeof(type));                     \
    }                                                                          \
    static inline int __attribute__((unused))                                  \
    name##_append(name *v, type elem)                                          \
    {                                                                          \
        if (v->len >= v->cap && name##_reserve(v, 1) == -1)                    \
            return -1;                                                         \
        v->ptr[v->len++] = elem;                                               \
        return 0;                                                              \
    }                                                                          \
    static inline void __attribute__((unused)) name##_reset(name *v)           \
    {                                                                          \
        free(v->ptr);                                                          \
        v->ptr = NULL;                                                         \
        v->len = v->cap = 0;                                                   \
    }

#endif /* NBDX_VECTOR_H */
