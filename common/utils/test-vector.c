/* SPDX-License-Identifier: BSD-3-Clause */
/* test-vector.c: unit tests of the typed vectors in vector.h. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "unit.h"
#include "vector.h"

DEFINE_VECTOR_TYPE(int_vector, int)
struct big {
    char bytes[1024];
};
DEFINE_VECTOR_TYPE(big_vector, struct big)

static void
test_append(void)
{
    int_vector v = empty_vector;
    size_t i;
    int r = 0;

    unit_group("appended items keep their order through regrowth");
    for (i = 0; i < 1000; i++)
        r |= int_vector_append(&v, (int)i * 3);
    CHECK(r == 0 && v.len == 1000 && v.cap >= 1000);
    for (i = 0; i < v.len && v.ptr[i] == (int)i * 3; i++)
        ;
    CHECK(i == 1000);
    int_vector_reset(&v);
    CHECK(v.ptr == NULL && v.len == 0 && v.cap == 0);
}

static void
test_reserve(void)
{
    int_vector v = empty_vector;
    big_vector b = empty_vector;

    unit_group("reserve grows to at least what is asked, at least 8");
    CHECK(int_vector_reserve(&v, 1) == 0 && v.cap == 8 && v.len == 0);
    CHECK(int_vector_reserve(&v, 8) == 0 && v.cap == 8);
    CHECK(int_vector_reserve(&v, 9) == 0 && v.cap >= 9);
    CHECK(int_vector_reserve(&v, 0) == 0);

    unit_group("reserve refuses counts whose size overflows");
    errno = 0;
    CHECK(int_vector_reserve(&v, SIZE_MAX) == -1 && errno == ENOMEM);
    errno = 0;
    CHECK(big_vector_reserve(&b, SIZE_MAX / 1024 + 1) == -1 && errno == ENOMEM);
    CHECK(b.ptr == NULL && b.cap == 0);
    CHECK(v.ptr != NULL && v.len == 0); /* a failure leaves it as it was */
    int_vector_reset(&v);
}

int
main(void)
{
    test_append();
    test_reserve();
    return unit_finish();
}
