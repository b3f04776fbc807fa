/* SPDX-License-Identifier: BSD-3-Clause */
/* test-regions.c: unit tests of regions.h. */

#include <errno.h>
#include <stdint.h>

#include "regions.h"
#include "unit.h"

static const char mbr[512], file_handle[1];

/* find(offset) is region i of rs, by position in the array. */
static int
found(const struct regions *rs, uint64_t offset, size_t i)
{
    return regions_find(rs, offset) == regions_get(rs, i);
}

static void
test_layout(void)
{
    struct regions rs;

    unit_group("an empty list has size 0 and holds no offset");
    regions_init(&rs);
    CHECK(regions_count(&rs) == 0 && regions_size(&rs) == 0);
    CHECK(regions_find(&rs, 0) == NULL);
    CHECK(regions_pad(&rs, 4096) == 0 && regions_count(&rs) == 0);

    unit_group("appends and padding tile the disk in order");
    CHECK(regions_append(&rs, 512, REGION_DATA, mbr) == 0);
    CHECK(regions_pad(&rs, 4096) == 0);
    CHECK(regions_append(&rs, 1000, REGION_FILE, file_handle) == 0);
    CHECK(regions_pad(&rs, 4096) == 0);
    CHECK(regions_pad(&rs, 4096) == 0);                   /* already aligned */
    CHECK(regions_append(&rs, 0, REGION_DATA, mbr) == 0); /* nothing */
    CHECK(regions_count(&rs) == 4 && regions_size(&rs) == 8192);
    CHECK(regions_get(&rs, 0)->start == 0 && regions_get(&rs, 0)->end == 512 &&
          regions_get(&rs, 0)->type == REGION_DATA &&
          regions_get(&rs, 0)->data == mbr);
    CHECK(regions_get(&rs, 1)->start == 512 &&
          regions_get(&rs, 1)->end == 4096 &&
          regions_get(&rs, 1)->type == REGION_ZERO &&
          regions_get(&rs, 1)->data == NULL);
    CHECK(regions_get(&rs, 2)->start == 4096 &&
          regions_get(&rs, 2)->end == 5096 &&
          regions_get(&rs, 2)->data == file_handle);
    CHECK(regions_get(&rs, 3)->start == 5096 &&
          regions_get(&rs, 3)->end == 8192);

    unit_group("lookups at the first and last byte of every region");
    CHECK(found(&rs, 0, 0) && found(&rs, 511, 0));
    CHECK(found(&rs, 512, 1) && found(&rs, 4095, 1));
    CHECK(found(&rs, 4096, 2) && found(&rs, 5095, 2));
    CHECK(found(&rs, 5096, 3) && found(&rs, 8191, 3));
    CHECK(regions_find(&rs, 8192) == NULL);
    CHECK(regions_find(&rs, UINT64_MAX) == NULL);

    unit_group("padding to an alignment that is not a power of 2");
    CHECK(regions_pad(&rs, 3000) == 0 && regions_size(&rs) == 9000);
    CHECK(regions_pad(&rs, 1) == 0 && regions_count(&rs) == 5);
    errno = 0;
    CHECK(regions_pad(&rs, 0) == -1 && errno == EINVAL);
    regions_free(&rs);
    CHECK(regions_count(&rs) == 0 && regions_size(&rs) == 0);
}

static void
test_limits(void)
{
    struct regions rs;

    unit_group("the disk may reach INT64_MAX bytes, not pass it");
    regions_init(&rs);
    errno = 0;
    CHECK(regions_append(&rs, UINT64_MAX, REGION_ZERO, NULL) == -1 &&
          errno == EOVERFLOW);
    CHECK(regions_append(&rs, INT64_MAX - 1, REGION_ZERO, NULL) == 0);
    CHECK(regions_append(&rs, 1, REGION_DATA, mbr) == 0);
    CHECK(regions_size(&rs) == INT64_MAX);
    errno = 0;
    CHECK(regions_append(&rs, 1, REGION_ZERO, NULL) == -1 &&
          errno == EOVERFLOW);
    errno = 0;
    CHECK(regions_append(&rs, UINT64_MAX, REGION_ZERO, NULL) == -1 &&
          errno == EOVERFLOW);
    errno = 0;
    CHECK(regions_pad(&rs, 2) == -1 && errno == EOVERFLOW);
    CHECK(regions_count(&rs) == 2 && regions_size(&rs) == INT64_MAX);
    CHECK(found(&rs, INT64_MAX - 1, 1) && found(&rs, INT64_MAX - 2, 0));
    CHECK(regions_find(&rs, INT64_MAX) == NULL);
    regions_free(&rs);
}

static void
test_many(void)
{
    struct regions rs;
    uint64_t seed = 7, len;
    size_t i, n = 1000;
    int bad = 0;

    unit_group("binary search over many regions of odd lengths");
    regions_init(&rs);
    for (i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        len = 1 + (seed >> 33) % (i % 3 == 0 ? 1 : 100000);
        bad += regions_append(&rs, len, (enum region_type)(i % 3), NULL);
    }
    CHECK(bad == 0 && regions_count(&rs) == n);
    for (i = 0; i < n; i++) {
        const struct region *r = regions_get(&rs, i);
        bad += !found(&rs, r->start, i) || !found(&rs, r->end - 1, i) ||
               !found(&rs, r->start + (r->end - r->start) / 2, i);
        bad += i + 1 < n ? !found(&rs, r->end, i + 1)
                         : regions_find(&rs, r->end) != NULL;
        bad += i > 0 && r->start != regions_get(&rs, i - 1)->end;
    }
    CHECK(bad == 0);
    regions_free(&rs);
}

int
main(void)
{
    test_layout();
    test_limits();
    test_many();
    return unit_finish();
}
