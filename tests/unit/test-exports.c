/* SPDX-License-Identifier: BSD-3-Clause */
/* test-exports.c: unit tests of server/exports.c.
 *
 * The file under test is included so the tests can use its limits
 * (MAX_EXPORTS, MAX_STRING) instead of repeating the numbers.
 */

#include "../../server/exports.c"

#include "stubs.h"
#include "unit.h"

static void
test_add_get(void)
{
    struct nbdkit_exports *exps = nbdkit_exports_new();
    char name[] = "disk";
    struct nbdkit_export e;

    unit_group("exports are copied and kept in order");
    stub_reset();
    CHECK(exps != NULL && nbdkit_exports_count(exps) == 0);
    CHECK(nbdkit_add_export(exps, name, "the disk") == 0);
    CHECK(nbdkit_add_export(exps, "", NULL) == 0);
    name[0] = 'X'; /* the list must hold its own copy */
    CHECK(nbdkit_exports_count(exps) == 2);
    e = nbdkit_get_export(exps, 0);
    CHECK(strcmp(e.name, "disk") == 0 &&
          strcmp(e.description, "the disk") == 0);
    e = nbdkit_get_export(exps, 1);
    CHECK(strcmp(e.name, "") == 0 && e.description == NULL);
    e = nbdkit_get_export(exps, 2);
    CHECK(e.name == NULL && stub_errors == 1);
    CHECK(!exports_get_use_default(exps));
    nbdkit_exports_free(exps);
    nbdkit_exports_free(NULL);
}

static void
test_limits(void)
{
    struct nbdkit_exports *exps = exports_new();
    char *big = malloc(MAX_STRING + 2);
    size_t i;
    int r = 0;

    unit_group("export names and descriptions are at most 4096 bytes");
    stub_reset();
    memset(big, 'a', MAX_STRING + 1);
    big[MAX_STRING + 1] = '\0';
    CHECK(nbdkit_add_export(exps, big, NULL) == -1 && errno == EINVAL);
    CHECK(nbdkit_add_export(exps, "ok", big) == -1);
    CHECK(nbdkit_add_export(exps, NULL, NULL) == -1);
    CHECK(stub_errors == 3);
    big[MAX_STRING] = '\0';
    CHECK(nbdkit_add_export(exps, big, big) == 0);

    unit_group("the number of exports is capped");
    for (i = 1; i < MAX_EXPORTS; i++)
        r |= nbdkit_add_export(exps, "e", NULL);
    CHECK(r == 0 && nbdkit_exports_count(exps) == MAX_EXPORTS);
    stub_reset();
    CHECK(nbdkit_add_export(exps, "one too many", NULL) == -1);
    CHECK(stub_errors == 1 && nbdkit_exports_count(exps) == MAX_EXPORTS);
    nbdkit_exports_free(exps);
    free(big);
}

static void
test_use_default(void)
{
    struct nbdkit_exports *exps = nbdkit_exports_new();

    unit_group("nbdkit_use_default_export sets the flag only");
    CHECK(nbdkit_add_export(exps, "a", NULL) == 0);
    CHECK(nbdkit_use_default_export(exps) == 0);
    CHECK(exports_get_use_default(exps));
    CHECK(nbdkit_exports_count(exps) == 1);
    nbdkit_exports_free(exps);
}

int
main(void)
{
    test_add_get();
    test_limits();
    test_use_default();
    stub_reset();
    return unit_finish();
}
