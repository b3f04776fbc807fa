/* SPDX-License-Identifier: BSD-3-Clause */
/* unit.h: a tiny harness for the server's C unit tests.
 *
 * CHECK(cond) counts a pass or prints the failing expression; end main
 * with `return unit_finish();`, which prints "N passed, N failed" and
 * exits non-zero if anything failed.
 */

#ifndef NBDX_UNIT_H
#define NBDX_UNIT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int unit_passed, unit_failed;

static inline bool
unit_check(bool ok, const char *expr, const char *file, int line)
{
    if (ok)
        unit_passed++;
    else {
        unit_failed++;
        printf("FAIL %s:%d: %s\n", file, line, expr);
        fflush(stdout);
    }
    return ok;
}
#define CHECK(cond) unit_check((cond), #cond, __FILE__, __LINE__)

/* Announce a group of checks, so a failure is easy to place. */
static inline void
unit_group(const char *name)
{
    printf("-- %s\n", name);
    fflush(stdout);
}

static inline int
unit_finish(void)
{
    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    return unit_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* NBDX_UNIT_H */
