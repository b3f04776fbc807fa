/* SPDX-License-Identifier: BSD-3-Clause */
/* luks-header.c: parse and check a LUKSv1 header (see luks-header.h).
 *
 * The phdr is big-endian, at offset 0 of the disk:
 *
 *   0 magic "LUKS\xba\xbe"   6 version (1)     8 cipher-name[32]
 *   40 cipher-mode[32]      72 hash-spec[32]  104 payload-offset (sectors)
 *   108 key-bytes           112 mk-digest[20]  132 mk-digest-salt[32]
 *   164 mk-digest-iter      168 uuid[40]       208 eight key slots of 48:
 *     +0 active  +4 iterations  +8 salt[32]  +40 material offset (sectors)
 *     +44 stripes
 *
 * The checks are those a hostile image needs: each string ends inside
 * its field, each offset is bounded by the disk and by its neighbours,
 * each count by what any real tool writes.  Nothing is trusted further.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "byteorder.h"
#include "luks-header.h"

#define LUKS_MAGIC "LUKS\xba\xbe"
#define LUKS_SLOT_ENABLED 0x00AC71F3
#define LUKS_SLOT_DISABLED 0x0000DEAD
#define LUKS_SLOTS_AT 208
#define LUKS_SLOT_SIZE 48

static const struct luks_hash luks_hashes[] = {
    {"sha1", GNUTLS_DIG_SHA1, GNUTLS_MAC_SHA1, 20},
    {"sha224", GNUTLS_DIG_SHA224, GNUTLS_MAC_SHA224, 28},
    {"sha256", GNUTLS_DIG_SHA256, GNUTLS_MAC_SHA256, 32},
    {"sha384", GNUTLS_DIG_SHA384, GNUTLS_MAC_SHA384, 48},
    {"sha512", GNUTLS_DIG_SHA512, GNUTLS_MAC_SHA512, 64},
    {"ripemd160", GNUTLS_DIG_RMD160, GNUTLS_MAC_RMD160, 20},
    {"md5", GNUTLS_DIG_MD5, GNUTLS_MAC_MD5, 16},
};

/* Whether this GnuTLS provides the hash and its HMAC (a build may
 * leave some out, ripemd160 for one).
 */
static bool
luks_hash_available(const struct luks_hash *hash)
{
    const gnutls_digest_algorithm_t *d;
    const gnutls_mac_algorithm_t *m;
    bool digest = false, mac = false;

    for (d = gnutls_digest_list(); *d != 0; d++)
        digest = digest || *d == hash->digest;
    for (m = gnutls_mac_list(); *m != 0; m++)
        mac = mac || *m == hash->mac;
    return digest && mac;
}

/* The hash called name, if this GnuTLS has it; else NULL. */
static const struct luks_hash *
luks_hash_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof luks_hashes / sizeof luks_hashes[0]; i++)
        if (strcmp(luks_hashes[i].name, name) == 0)
            return luks_hash_available(&luks_hashes[i]) ? &luks_hashes[i]
                                                        : NULL;
    return NULL;
}

/* Whether this GnuTLS provides the cipher. */
static bool
luks_cipher_available(gnutls_cipher_algorithm_t cipher)
{
    const gnutls_cipher_algorithm_t *c;

    for (c = gnutls_cipher_list(); *c != 0; c++)
        if (*c == cipher)
            return true;
    return false;
}

/* Copy the 32-byte string field at p into out[33], NUL-ended. */
static void
luks_string_copy(char *out, const uint8_t *p)
{
    memcpy(out, p, 32);
    out[32] = '\0';
}

/* The AES cipher of mode ("cbc" or "xts") taking key_bytes keys, or
 * GNUTLS_CIPHER_UNKNOWN.
 */
static gnutls_cipher_algorithm_t
luks_cipher_find(const char *mode, uint32_t key_bytes)
{
    if (strcmp(mode, "cbc") == 0) {
        switch (key_bytes) {
        case 16:
            return GNUTLS_CIPHER_AES_128_CBC;
        case 24:
            return GNUTLS_CIPHER_AES_192_CBC;
        case 32:
            return GNUTLS_CIPHER_AES_256_CBC;
        }
    }
    if (strcmp(mode, "xts") == 0) {
        switch (key_bytes) {
        case 32:
            return GNUTLS_CIPHER_AES_128_XTS;
        case 64:
            return GNUTLS_CIPHER_AES_256_XTS;
        }
    }
    return GNUTLS_CIPHER_UNKNOWN;
}

/* The IV generator after the dash of cipher-mode: plain, plain64 or
 * essiv:HASH, whose hash must give an AES key (16, 24 or 32 bytes).
 */
static int
luks_ivgen_parse(const char *spec, struct luks_header *h)
{
    const struct luks_hash *eh;

    h->essiv_hash = NULL;
    if (strcmp(spec, "plain") == 0) {
        h->ivgen = LUKS_IV_PLAIN;
        return 0;
    }
    if (strcmp(spec, "plain64") == 0) {
        h->ivgen = LUKS_IV_PLAIN64;
        return 0;
    }
    if (strncmp(spec, "essiv:", 6) == 0) {
        eh = luks_hash_find(spec + 6);
        if (eh == NULL || (eh->size != 16 && eh->size != 24 && eh->size != 32))
            goto bad;
        h->ivgen = LUKS_IV_ESSIV;
        h->essiv_hash = eh;
        return 0;
    }
bad:
    nbdkit_error("luks: unsupported IV generator in cipher mode '%s' "
                 "(plain, plain64 or essiv:sha256 are)",
                 h->cipher_mode);
    return -1;
}

/* cipher-name, cipher-mode and key-bytes: AES in CBC or XTS. */
static int
luks_cipher_parse(struct luks_header *h)
{
    char mode[33];
    const char *dash;

    if (strcmp(h->cipher_name, "aes") != 0) {
        nbdkit_error("luks: unsupported cipher '%s' (only aes is)",
                     h->cipher_name);
        return -1;
    }
    dash = strchr(h->cipher_mode, '-');
    if (dash == NULL) {
        nbdkit_error("luks: unsupported cipher mode '%s' "
                     "(MODE-IVGEN such as xts-plain64 is needed)",
                     h->cipher_mode);
        return -1;
    }
    memcpy(mode, h->cipher_mode, dash - h->cipher_mode);
    mode[dash - h->cipher_mode] = '\0';
    if (strcmp(mode, "cbc") != 0 && strcmp(mode, "xts") != 0) {
        nbdkit_error("luks: unsupported cipher mode '%s' (cbc and xts are)",
                     h->cipher_mode);
        return -1;
    }
    h->cipher = luks_cipher_find(mode, h->key_bytes);
    if (h->cipher == GNUTLS_CIPHER_UNKNOWN ||
        !luks_cipher_available(h->cipher)) {
        nbdkit_error("luks: cipher aes-%s cannot take a %" PRIu32 "-byte key",
                     mode, h->key_bytes);
        return -1;
    }
    return luks_ivgen_parse(dash + 1, h);
}

uint64_t
luks_slot_material_size(const struct luks_header *h, const struct luks_slot *s)
{
    uint64_t n = (uint64_t)h->key_bytes * s->stripes;

    return (n + LUKS_SECTOR - 1) / LUKS_SECTOR * LUKS_SECTOR;
}

/* Key slot i at p: disabled (0), enabled and appended to h->slots (0),
 * or bad (-1 after nbdkit_error).  Enabled slots need key material
 * between the header and the payload.
 */
static int
luks_slot_parse(const uint8_t *p, unsigned i, struct luks_header *h)
{
    struct luks_slot *s = &h->slots[h->nr_slots];
    uint32_t active = byteorder_read_be32(p);

    if (active == LUKS_SLOT_DISABLED)
        return 0;
    if (active != LUKS_SLOT_ENABLED) {
        nbdkit_error("luks: key slot %u: bad state 0x%08" PRIx32, i, active);
        return -1;
    }
    s->index = i;
    s->iterations = byteorder_read_be32(p + 4);
    memcpy(s->salt, p + 8, LUKS_SALT_SIZE);
    s->material_offset = (uint64_t)byteorder_read_be32(p + 40) * LUKS_SECTOR;
    s->stripes = byteorder_read_be32(p + 44);
    if (s->iterations == 0) {
        nbdkit_error("luks: key slot %u: zero iterations", i);
        return -1;
    }
    if (s->stripes == 0 || s->stripes > LUKS_STRIPES_MAX) {
        nbdkit_error("luks: key slot %u: %" PRIu32 " stripes (1 to %d are "
                     "allowed)",
                     i, s->stripes, LUKS_STRIPES_MAX);
        return -1;
    }
    if (s->material_offset < LUKS_HEADER_SIZE ||
        s->material_offset > h->payload_offset ||
        luks_slot_material_size(h, s) >
            h->payload_offset - s->material_offset) {
        nbdkit_error("luks: key slot %u: key material at sector %" PRIu64
                     " is outside the space between the header and the "
                     "payload",
                     i, s->material_offset / LUKS_SECTOR);
        return -1;
    }
    h->nr_slots++;
    return 0;
}

/* The fixed part: magic, version, strings, payload, key, digest. */
static int
luks_fixed_parse(const uint8_t *buf, uint64_t disk_size, struct luks_header *h)
{
    if (memcmp(buf, LUKS_MAGIC, 6) != 0) {
        nbdkit_error("luks: not a LUKS disk (bad magic)");
        return -1;
    }
    if (byteorder_read_be16(buf + 6) != 1) {
        nbdkit_error("luks: LUKS version %u is not supported (only LUKSv1 is)",
                     byteorder_read_be16(buf + 6));
        return -1;
    }
    luks_string_copy(h->cipher_name, buf + 8);
    luks_string_copy(h->cipher_mode, buf + 40);
    luks_string_copy(h->hash_spec, buf + 72);
    h->payload_offset = (uint64_t)byteorder_read_be32(buf + 104) * LUKS_SECTOR;
    h->key_bytes = byteorder_read_be32(buf + 108);
    memcpy(h->mk_digest, buf + 112, LUKS_DIGEST_SIZE);
    memcpy(h->mk_digest_salt, buf + 132, LUKS_SALT_SIZE);
    h->mk_digest_iterations = byteorder_read_be32(buf + 164);
    memcpy(h->uuid, buf + 168, 40);
    h->uuid[40] = '\0';
    if (h->payload_offset < LUKS_HEADER_SIZE || h->payload_offset > disk_size) {
        nbdkit_error("luks: payload offset %" PRIu64 " is outside the disk "
                     "(%" PRIu64 " bytes)",
                     h->payload_offset, disk_size);
        return -1;
    }
    if (h->key_bytes == 0 || h->key_bytes > LUKS_KEY_MAX) {
        nbdkit_error("luks: bad key length %" PRIu32, h->key_bytes);
        return -1;
    }
    if (h->mk_digest_iterations == 0) {
        nbdkit_error("luks: zero master key digest iterations");
        return -1;
    }
    h->hash = luks_hash_find(h->hash_spec);
    if (h->hash == NULL) {
        nbdkit_error("luks: unsupported hash '%s' (or not in this GnuTLS)",
                     h->hash_spec);
        return -1;
    }
    return luks_cipher_parse(h);
}

int
luks_header_parse(const uint8_t *buf, uint64_t disk_size, struct luks_header *h)
{
    unsigned i;

    memset(h, 0, sizeof *h);
    if (luks_fixed_parse(buf, disk_size, h) == -1)
        return -1;
    for (i = 0; i < LUKS_SLOTS; i++)
        if (luks_slot_parse(buf + LUKS_SLOTS_AT + i * LUKS_SLOT_SIZE, i, h) ==
            -1)
            return -1;
    if (h->nr_slots == 0) {
        nbdkit_error("luks: no key slot is enabled");
        return -1;
    }
    return 0;
}
