/* SPDX-License-Identifier: BSD-3-Clause */
/* parttable.h: the pieces of generated MBR and GPT partition tables,
 * 512-byte sectors, laid out as nbdkit's partitioning and linuxdisk
 * plugins lay them out.
 *
 *     unsigned char mbr[512] = {0}, hdr[512] = {0}, ents[128 * 128] = {0};
 *     parttable_gpt_entry(ents, type, guid, 2048, 4095, PARTTABLE_GPT_BOOT,
 * ""); parttable_gpt_header(hdr, 1, total - 1, 2, 34, 4095, ents, 128);
 *     parttable_mbr_protective(mbr, total);
 *
 * The functions write into the caller's buffers and touch only the
 * bytes they define (the rest is left as the caller zeroed it).  No
 * state: safe from any thread.
 */

#ifndef NBDX_PARTTABLE_H
#define NBDX_PARTTABLE_H

#include <stdint.h>

#define PARTTABLE_SECTOR 512
#define PARTTABLE_GPT_ENTRY 128   /* bytes per GPT entry */
#define PARTTABLE_GPT_HEADER 96   /* header bytes under its CRC */
#define PARTTABLE_GPT_BOOT 4      /* attribute: legacy BIOS bootable */
#define PARTTABLE_GPT_NAME_MAX 35 /* ASCII characters kept in a name */
#define PARTTABLE_LINUX_FS_GUID "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

/* The 16 bytes on disk of a GUID written 8-4-4-4-12 in hex (either
 * case): the first three fields little-endian, the last two in order.
 * 0, or -1 with errno EINVAL if str is not such a GUID.
 */
extern int parttable_parse_guid(const char *str, unsigned char out[16]);

/* A random version 4 GUID.  0, or -1 with errno set by getrandom(2). */
extern int parttable_random_guid(unsigned char out[16]);

/* The 16-byte MBR entry at e: status (0x80 bootable), type, first
 * sector and count (each cut to 32 bits by the caller's choice of
 * values), and no CHS addresses (fe ff ff).
 */
extern void parttable_mbr_entry(unsigned char *e, uint8_t status, uint8_t type,
                                uint32_t start, uint32_t count);

/* The 0x55 0xaa signature at the end of a boot sector. */
extern void parttable_mbr_signature(unsigned char *sector);

/* A protective MBR for a GPT disk of total sectors: one entry of type
 * 0xee from sector 1 to the end (as far as 32 bits go), and the
 * signature.
 */
extern void parttable_mbr_protective(unsigned char *mbr, uint64_t total);

/* The GPT entry at e: type and unique GUIDs, first and last sectors,
 * attributes, and the name in UTF-16LE if it is plain ASCII of at most
 * PARTTABLE_GPT_NAME_MAX characters (left empty otherwise, as nbdkit
 * does).
 */
extern void parttable_gpt_entry(unsigned char *e, const unsigned char *type,
                                const unsigned char *guid, uint64_t first,
                                uint64_t last, uint64_t attributes,
                                const char *name);

/* The GPT header in sector h: at LBA self, its twin at LBA other, the
 * n entries at LBA entries_lba (with their CRC), usable sectors first to
 * last, disk GUID zero, and its own CRC.
 */
extern void parttable_gpt_header(unsigned char *h, uint64_t self,
                                 uint64_t other, uint64_t entries_lba,
                                 uint64_t first, uint64_t last,
                                 const unsigned char *entries, uint32_t n);

#endif /* NBDX_PARTTABLE_H */
