/* SPDX-License-Identifier: BSD-3-Clause */
/* test-parttable.c: unit tests of parttable.h: GUID parsing, MBR
 * entries, and a GPT entry and header checked byte for byte and against
 * CRCs computed independently (Python's zlib).
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "byteorder.h"
#include "parttable.h"
#include "unit.h"

static const unsigned char linux_fs[16] = {0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84,
                                           0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69,
                                           0xd8, 0x47, 0x7d, 0xe4};

static void
test_guid(void)
{
    unsigned char g[16], r1[16], r2[16];

    unit_group("GUIDs: mixed-endian bytes, either case, bad text refused");
    CHECK(parttable_parse_guid(PARTTABLE_LINUX_FS_GUID, g) == 0);
    CHECK(memcmp(g, linux_fs, 16) == 0);
    CHECK(parttable_parse_guid("0fc63daf-8483-4772-8e79-3d69d8477de4", g) == 0);
    CHECK(memcmp(g, linux_fs, 16) == 0);
    errno = 0;
    CHECK(parttable_parse_guid("0FC63DAF-8483-4772-8E79-3D69D8477DE", g) ==
              -1 &&
          errno == EINVAL);
    CHECK(parttable_parse_guid("0FC63DAF-8483-4772-8E79-3D69D8477DE4X", g) ==
          -1);
    CHECK(parttable_parse_guid("0FC63DAF+8483-4772-8E79-3D69D8477DE4", g) ==
          -1);
    CHECK(parttable_parse_guid("0FC63DAG-8483-4772-8E79-3D69D8477DE4", g) ==
          -1);
    CHECK(parttable_parse_guid("xyz", g) == -1);
    CHECK(parttable_random_guid(r1) == 0 && parttable_random_guid(r2) == 0);
    CHECK(memcmp(r1, r2, 16) != 0);
    CHECK((r1[7] & 0xf0) == 0x40 && (r1[8] & 0xc0) == 0x80);
}

static void
test_mbr(void)
{
    static const unsigned char want[16] = {0x80, 0xfe, 0xff, 0xff, 0x83, 0xfe,
                                           0xff, 0xff, 0x00, 0x08, 0x00, 0x00,
                                           0x02, 0x00, 0x00, 0x00};
    unsigned char e[16], mbr[512] = {0};

    unit_group("MBR entries, signature and protective MBR");
    parttable_mbr_entry(e, 0x80, 0x83, 2048, 2);
    CHECK(memcmp(e, want, 16) == 0);
    parttable_mbr_protective(mbr, 4129);
    CHECK(mbr[446 + 4] == 0xee && mbr[446] == 0);
    CHECK(byteorder_read_le32(mbr + 446 + 8) == 1);
    CHECK(byteorder_read_le32(mbr + 446 + 12) == 4128);
    CHECK(mbr[510] == 0x55 && mbr[511] == 0xaa);
    CHECK(mbr[446 + 16 + 4] == 0 && mbr[0] == 0);
    parttable_mbr_protective(mbr, (uint64_t)UINT32_MAX + 2);
    CHECK(byteorder_read_le32(mbr + 446 + 12) == UINT32_MAX);
    parttable_mbr_protective(mbr, (uint64_t)UINT32_MAX + 1);
    CHECK(byteorder_read_le32(mbr + 446 + 12) == UINT32_MAX);
}

static void
test_gpt(void)
{
    static unsigned char ents[128 * 128];
    unsigned char guid[16], h[512] = {0};
    static const char long_name[] = "0123456789012345678901234567890123456";
    size_t i;

    unit_group("GPT entry and header, with CRCs");
    for (i = 0; i < 16; i++)
        guid[i] = i;
    parttable_gpt_entry(ents, linux_fs, guid, 2048, 4095, PARTTABLE_GPT_BOOT,
                        "ab");
    CHECK(memcmp(ents, linux_fs, 16) == 0 && memcmp(ents + 16, guid, 16) == 0);
    CHECK(byteorder_read_le64(ents + 32) == 2048);
    CHECK(byteorder_read_le64(ents + 40) == 4095);
    CHECK(byteorder_read_le64(ents + 48) == 4);
    CHECK(memcmp(ents + 56, "a\0b\0\0\0", 6) == 0);
    parttable_gpt_header(h, 1, 4128, 2, 34, 4095, ents, 128);
    CHECK(memcmp(h, "EFI PART\0\0\1\0\x60\0\0\0", 16) == 0);
    CHECK(byteorder_read_le32(h + 88) == 0x6c5327ee);
    CHECK(byteorder_read_le32(h + 16) == 0xb0571ebe);
    CHECK(byteorder_read_le64(h + 72) == 2 && h[96] == 0);

    /* Names: 35 ASCII characters kept, 36 or non-ASCII left empty. */
    parttable_gpt_entry(ents + 128, linux_fs, guid, 1, 1, 0, long_name + 2);
    CHECK(ents[128 + 56 + 68] == '6' && ents[128 + 56 + 70] == 0);
    parttable_gpt_entry(ents + 256, linux_fs, guid, 1, 1, 0, long_name + 1);
    CHECK(ents[256 + 56] == 0);
    parttable_gpt_entry(ents + 384, linux_fs, guid, 1, 1, 0, "tr\xc3\xa8s");
    CHECK(ents[384 + 56] == 0);
}

int
main(void)
{
    test_guid();
    test_mbr();
    test_gpt();
    return unit_finish();
}
