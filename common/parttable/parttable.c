/* SPDX-License-Identifier: BSD-3-Clause */
/* parttable.c: MBR and GPT table pieces; see parttable.h. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "byteorder.h"
#include "crc32.h"
#include "hexdigit.h"
#include "parttable.h"

int
parttable_parse_guid(const char *str, unsigned char out[16])
{
    /* Where each byte of the text goes on disk. */
    static const int order[16] = {3, 2, 1,  0,  5,  4,  7,  6,
                                  8, 9, 10, 11, 12, 13, 14, 15};
    size_t i, n = 0; /* n: hex digits read */
    unsigned char bytes[16];
    int d;

    if (strlen(str) != 36)
        goto bad;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (str[i] != '-')
                goto bad;
            continue;
        }
        d = hex_digit(str[i]);
        if (d == -1)
            goto bad;
        if (n % 2 == 0)
            bytes[n / 2] = d << 4;
        else
            bytes[n / 2] |= d;
        n++;
    }
    for (i = 0; i < 16; i++)
        out[order[i]] = bytes[i];
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

int
parttable_random_guid(unsigned char out[16])
{
    if (getrandom(out, 16, 0) != 16)
        return -1;
    out[7] = (out[7] & 0x0f) | 0x40; /* version 4: random */
    out[8] = (out[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    return 0;
}

void
parttable_mbr_entry(unsigned char *e, uint8_t status, uint8_t type,
                    uint32_t start, uint32_t count)
{
    e[0] = status;
    e[1] = e[5] = 0xfe;
    e[2] = e[3] = e[6] = e[7] = 0xff;
    e[4] = type;
    byteorder_write_le32(e + 8, start);
    byteorder_write_le32(e + 12, count);
}

void
parttable_mbr_signature(unsigned char *sector)
{
    sector[510] = 0x55;
    sector[511] = 0xaa;
}

void
parttable_mbr_protective(unsigned char *mbr, uint64_t total)
{
    parttable_mbr_entry(mbr + 446, 0, 0xee, 1,
                        total - 1 > UINT32_MAX ? UINT32_MAX : total - 1);
    parttable_mbr_signature(mbr);
}

static bool
parttable_name_ok(const char *name)
{
    size_t i, n = strlen(name);

    if (n > PARTTABLE_GPT_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)name[i] >= 0x80)
            return false;
    return true;
}

void
parttable_gpt_entry(unsigned char *e, const unsigned char *type,
                    const unsigned char *guid, uint64_t first, uint64_t last,
                    uint64_t attributes, const char *name)
{
    size_t i;

    memcpy(e, type, 16);
    memcpy(e + 16, guid, 16);
    byteorder_write_le64(e + 32, first);
    byteorder_write_le64(e + 40, last);
    byteorder_write_le64(e + 48, attributes);
    if (parttable_name_ok(name))
        for (i = 0; name[i] != '\0'; i++)
            byteorder_write_le16(e + 56 + 2 * i, (unsigned char)name[i]);
}

void
parttable_gpt_header(unsigned char *h, uint64_t self, uint64_t other,
                     uint64_t entries_lba, uint64_t first, uint64_t last,
                     const unsigned char *entries, uint32_t n)
{
    memcpy(h, "EFI PART", 8);
    byteorder_write_le32(h + 8, 0x00010000); /* revision 1.0 */
    byteorder_write_le32(h + 12, PARTTABLE_GPT_HEADER);
    byteorder_write_le32(h + 16, 0); /* the CRC is computed over zero */
    byteorder_write_le64(h + 24, self);
    byteorder_write_le64(h + 32, other);
    byteorder_write_le64(h + 40, first);
    byteorder_write_le64(h + 48, last);
    /* The disk GUID at 56 stays zero, as nbdkit leaves it. */
    byteorder_write_le64(h + 72, entries_lba);
    byteorder_write_le32(h + 80, n);
    byteorder_write_le32(h + 84, PARTTABLE_GPT_ENTRY);
    byteorder_write_le32(
        h + 88, crc32_compute(entries, (size_t)n * PARTTABLE_GPT_ENTRY));
    byteorder_write_le32(h + 16, crc32_compute(h, PARTTABLE_GPT_HEADER));
}
