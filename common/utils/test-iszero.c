/* SPDX-License-Identifier: BSD-3-Clause */
/* test-iszero.c: unit tests of is_zero in iszero.h. */

#include <string.h>

#include "iszero.h"
#include "unit.h"

int
main(void)
{
    static char buf[4096 + 1];
    size_t len, at;
    bool ok = true;

    unit_group("all zero at every length, even none");
    for (len = 0; len <= 100; len++)
        ok &= is_zero(buf, len);
    CHECK(ok && is_zero(buf, sizeof buf));

    unit_group("one non-zero byte anywhere, in the head or the tail");
    ok = true;
    for (len = 1; len <= 40; len++)
        for (at = 0; at < len; at++) {
            buf[at] = 1;
            ok &= !is_zero(buf, len) && is_zero(buf, at);
            buf[at] = 0;
        }
    buf[4096] = (char)0x80;
    CHECK(ok && !is_zero(buf, sizeof buf) && is_zero(buf, 4096));
    return unit_finish();
}
