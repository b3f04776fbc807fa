/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-luks.c: the luks filter's LUKSv1 header parsing on a hostile
 * disk, and the key slot code on what the header accepted.
 *
 * The input is the start of the disk (header, then key material); the
 * harness compiles the filter in and gives it a layer below that reads
 * the input, zeroes past its end, and is 4 MiB large.  The header is
 * parsed (luks_header_parse) and must either fail or describe a payload
 * and key material inside the disk with a cipher GnuTLS takes.  Then,
 * for the first enabled slot, the key material is read, decrypted with
 * a fixed key and merged as when unlocking, which must all succeed; the
 * PBKDF2 steps are left out (their cost is the image's iteration
 * counts, not a parsing question).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../filters/luks/luks.c"
#include "fuzz-disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK_SIZE (INT64_C(4) << 20)

/* What luks_header_parse promises of a header it accepted. */
static void
fuzz_check_header(const struct luks_header *h)
{
    const struct luks_slot *s;
    unsigned i;

    if (h->payload_offset % LUKS_SECTOR != 0 ||
        h->payload_offset > (uint64_t)DISK_SIZE || h->key_bytes == 0 ||
        h->key_bytes > LUKS_KEY_MAX || h->nr_slots == 0 ||
        h->nr_slots > LUKS_SLOTS || h->hash == NULL ||
        (h->ivgen == LUKS_IV_ESSIV) != (h->essiv_hash != NULL) ||
        gnutls_cipher_get_key_size(h->cipher) != h->key_bytes)
        abort();
    for (i = 0; i < h->nr_slots; i++) {
        s = &h->slots[i];
        if (s->material_offset < LUKS_HEADER_SIZE ||
            s->material_offset > h->payload_offset ||
            luks_slot_material_size(h, s) >
                h->payload_offset - s->material_offset ||
            s->stripes == 0 || s->iterations == 0)
            abort(); /* key material outside its room */
    }
}

/* Read, decrypt and merge the first slot's key material, as unlocking
 * does, with a fixed key in place of the passphrase's.
 */
static void
fuzz_slot(nbdkit_next *next, const struct luks_header *h)
{
    const struct luks_slot *s = &h->slots[0];
    uint64_t size = luks_slot_material_size(h, s);
    uint8_t key[LUKS_KEY_MAX], mk[LUKS_KEY_MAX];
    uint8_t *material = malloc(size);
    struct luks_crypt c;
    int err;
    size_t i;

    if (material == NULL)
        abort();
    for (i = 0; i < sizeof key; i++)
        key[i] = i * 7 + 1;
    if (fuzz_disk_pread(next, material, size, s->material_offset, 0, &err) ==
            -1 ||
        luks_crypt_init(&c, h, key) == -1)
        abort(); /* the header promised both */
    if (luks_crypt_sectors(&c, material, size, 0, false) == -1 ||
        luks_af_merge(h, s->stripes, material, mk) == -1)
        abort();
    luks_crypt_end(&c);
    free(material);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t buf[LUKS_HEADER_SIZE];
    struct luks_header h;
    nbdkit_next next;
    int err;

    memset(&next, 0, sizeof next);
    next.get_size = fuzz_disk_get_size;
    next.pread = fuzz_disk_pread;
    fuzz_disk_data = data, fuzz_disk_len = size, fuzz_disk_size = DISK_SIZE;
    if (fuzz_disk_pread(&next, buf, sizeof buf, 0, 0, &err) == -1)
        abort();
    if (luks_header_parse(buf, DISK_SIZE, &h) == -1)
        return 0;
    fuzz_check_header(&h);
    fuzz_slot(&next, &h);
    return 0;
}
