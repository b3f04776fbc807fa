/* SPDX-License-Identifier: BSD-3-Clause */
/* luks-header.h: the LUKSv1 header (phdr) of a disk, parsed and checked.
 *
 * luks_header_parse turns the first LUKS_HEADER_SIZE bytes of a disk of
 * disk_size bytes into a struct luks_header whose every field has been
 * checked: a known cipher, mode, IV generator and hash; a key length
 * the cipher takes; a payload and key material inside the disk, the
 * key material between the header and the payload.  A caller may then
 * use the fields as they are (no arithmetic on them can overflow).
 * Pure functions, no state: safe from any thread.
 */

#ifndef NBDX_LUKS_HEADER_H
#define NBDX_LUKS_HEADER_H

#include <stdint.h>

#include <gnutls/gnutls.h>

#define LUKS_HEADER_SIZE 592 /* bytes of the phdr */
#define LUKS_SECTOR 512u     /* LUKSv1 counts offsets in 512-byte sectors */
#define LUKS_SLOTS 8
#define LUKS_DIGEST_SIZE 20 /* master key digest */
#define LUKS_SALT_SIZE 32
#define LUKS_KEY_MAX 64       /* bytes of the largest key (AES-256-XTS) */
#define LUKS_STRIPES_MAX 4000 /* what cryptsetup and qemu write */

/* How each sector's IV is made from its number. */
enum luks_ivgen {
    LUKS_IV_PLAIN,   /* low 32 bits, little-endian */
    LUKS_IV_PLAIN64, /* 64 bits, little-endian */
    LUKS_IV_ESSIV,   /* plain64 encrypted by AES keyed with H(key) */
};

/* A hash LUKS names, as GnuTLS knows it. */
struct luks_hash {
    const char *name; /* as in the header: "sha256" */
    gnutls_digest_algorithm_t digest;
    gnutls_mac_algorithm_t mac; /* HMAC for PBKDF2 */
    unsigned size;              /* output bytes */
};

/* One enabled key slot. */
struct luks_slot {
    unsigned index; /* 0..7 */
    uint32_t iterations;
    uint8_t salt[LUKS_SALT_SIZE];
    uint64_t material_offset; /* bytes from the start of the disk */
    uint32_t stripes;
};

struct luks_header {
    char cipher_name[33], cipher_mode[33], hash_spec[33]; /* NUL-ended */
    gnutls_cipher_algorithm_t cipher; /* AES in CBC or XTS, key_bytes long */
    enum luks_ivgen ivgen;
    const struct luks_hash *hash;       /* PBKDF2 and the AF diffuser */
    const struct luks_hash *essiv_hash; /* LUKS_IV_ESSIV only, else NULL */
    uint32_t key_bytes;                 /* master key length */
    uint64_t payload_offset;            /* bytes; a multiple of 512 */
    uint8_t mk_digest[LUKS_DIGEST_SIZE];
    uint8_t mk_digest_salt[LUKS_SALT_SIZE];
    uint32_t mk_digest_iterations;
    char uuid[41];
    unsigned nr_slots;                  /* enabled slots, >= 1 */
    struct luks_slot slots[LUKS_SLOTS]; /* the enabled ones, in order */
};

/* Parse and check the header in buf (LUKS_HEADER_SIZE bytes) of a disk
 * of disk_size bytes into *h.  0, or -1 after nbdkit_error saying
 * which field is wrong.
 */
extern int luks_header_parse(const uint8_t *buf, uint64_t disk_size,
                             struct luks_header *h);

/* The bytes of a slot's key material: key_bytes * stripes, rounded up
 * to whole sectors.
 */
extern uint64_t luks_slot_material_size(const struct luks_header *h,
                                        const struct luks_slot *s);

#endif /* NBDX_LUKS_HEADER_H */
