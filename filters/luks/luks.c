/* SPDX-License-Identifier: BSD-3-Clause */
/* luks.c: serve the decrypted payload of a LUKSv1 disk.
 *
 * prepare reads and checks the header (luks-header.c), then tries the
 * passphrase on each enabled key slot: PBKDF2 of the passphrase with
 * the slot's salt gives the key of the slot's key material, which
 * decrypted and merged (the anti-forensic split undone) is a candidate
 * master key; the one whose PBKDF2 matches the header's digest is the
 * disk's.  Each connection unlocks on its own and keeps its master key
 * in its handle, wiped at close.
 *
 * The payload is 512-byte sectors, each encrypted on its own with an IV
 * from its number (counted from the payload's start).  A read decrypts
 * whole sectors in place; a write encrypts whole sectors into a bounce
 * buffer; a partial sector is read, decrypted, patched, encrypted and
 * written back under the handle's lock, so two partial writes into one
 * sector cannot lose each other's bytes.  Zeroing writes encrypted
 * zeros.  Each request makes its own GnuTLS cipher handles (they hold
 * the IV), so requests run in parallel.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <nbdkit-filter.h>

#include "byteorder.h"
#include "cleanup.h"
#include "luks-header.h"
#include "minmax.h"

#define LUKS_IV_SIZE 16         /* AES block: the IV of CBC and XTS */
#define LUKS_CHUNK (64u * 1024) /* bytes encrypted per bounce buffer */

static char *passphrase; /* passphrase=, owned; set by config only */

static void
luks_unload(void)
{
    if (passphrase != NULL)
        gnutls_memset(passphrase, 0, strlen(passphrase));
    free(passphrase);
}

static int
luks_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
            const char *value)
{
    if (strcmp(key, "passphrase") == 0) {
        if (passphrase != NULL) {
            nbdkit_error("passphrase given more than once");
            return -1;
        }
        return nbdkit_read_password(value, &passphrase);
    }
    return next(nxdata, key, value);
}

static int
luks_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    if (passphrase == NULL) {
        nbdkit_error("the passphrase parameter is required");
        return -1;
    }
    return next(nxdata);
}

#define luks_config_help                                                       \
    "passphrase=<SECRET>  Secret passphrase (or +FILENAME, -, -FD)."

/* ---- sector encryption ---- */

/* The ciphers of one request: the data cipher keyed with a master or
 * slot key, and for ESSIV the IV cipher (AES-CBC of a single block from
 * a zero IV, i.e. ECB) keyed with the hash of that key.  Owned by the
 * caller, ended by luks_crypt_end.
 */
struct luks_crypt {
    const struct luks_header *h;
    gnutls_cipher_hd_t data;
    gnutls_cipher_hd_t essiv; /* NULL unless LUKS_IV_ESSIV */
};

static void
luks_crypt_end(struct luks_crypt *c)
{
    if (c->data != NULL)
        gnutls_cipher_deinit(c->data);
    if (c->essiv != NULL)
        gnutls_cipher_deinit(c->essiv);
    c->data = c->essiv = NULL;
}

/* The AES-CBC cipher taking a key of n bytes. */
static gnutls_cipher_algorithm_t
luks_essiv_cipher(unsigned n)
{
    return n == 16   ? GNUTLS_CIPHER_AES_128_CBC
           : n == 24 ? GNUTLS_CIPHER_AES_192_CBC
                     : GNUTLS_CIPHER_AES_256_CBC;
}

/* Make the ciphers for key (h->key_bytes).  -1 after nbdkit_error. */
static int
luks_crypt_init(struct luks_crypt *c, const struct luks_header *h,
                const uint8_t *key)
{
    uint8_t iv[LUKS_IV_SIZE] = {0}, essiv_key[32];
    gnutls_datum_t k = {(unsigned char *)key, h->key_bytes};
    gnutls_datum_t v = {iv, sizeof iv};
    gnutls_cipher_hd_t hd;
    int r;

    c->h = h;
    c->data = c->essiv = NULL;
    r = gnutls_cipher_init(&hd, h->cipher, &k, &v);
    if (r == 0) {
        c->data = hd;
        if (h->ivgen == LUKS_IV_ESSIV)
            r = gnutls_hash_fast(h->essiv_hash->digest, key, h->key_bytes,
                                 essiv_key);
    }
    if (r == 0 && h->ivgen == LUKS_IV_ESSIV) {
        k.data = essiv_key, k.size = h->essiv_hash->size;
        r = gnutls_cipher_init(&hd, luks_essiv_cipher(k.size), &k, &v);
        if (r == 0)
            c->essiv = hd;
    }
    gnutls_memset(essiv_key, 0, sizeof essiv_key);
    if (r < 0) {
        luks_crypt_end(c);
        nbdkit_error("luks: cipher %s-%s: %s", h->cipher_name, h->cipher_mode,
                     gnutls_strerror(r));
        return -1;
    }
    return 0;
}

/* The IV of sector n in iv[LUKS_IV_SIZE]. */
static int
luks_crypt_iv(struct luks_crypt *c, uint64_t n, uint8_t *iv)
{
    static const uint8_t zero[LUKS_IV_SIZE];

    memset(iv, 0, LUKS_IV_SIZE);
    if (c->h->ivgen == LUKS_IV_PLAIN)
        byteorder_write_le32(iv, (uint32_t)n);
    else
        byteorder_write_le64(iv, n);
    if (c->h->ivgen != LUKS_IV_ESSIV)
        return 0;
    gnutls_cipher_set_iv(c->essiv, (void *)zero, sizeof zero);
    return gnutls_cipher_encrypt(c->essiv, iv, LUKS_IV_SIZE);
}

/* En- or decrypt len bytes (whole sectors) of buf in place, the first
 * being sector first.  -1 after nbdkit_error.
 */
static int
luks_crypt_sectors(struct luks_crypt *c, uint8_t *buf, size_t len,
                   uint64_t first, bool encrypt)
{
    uint8_t iv[LUKS_IV_SIZE];
    size_t i;
    int r;

    for (i = 0; i < len / LUKS_SECTOR; i++) {
        r = luks_crypt_iv(c, first + i, iv);
        if (r == 0) {
            gnutls_cipher_set_iv(c->data, iv, sizeof iv);
            r = encrypt ? gnutls_cipher_encrypt(c->data, buf, LUKS_SECTOR)
                        : gnutls_cipher_decrypt(c->data, buf, LUKS_SECTOR);
        }
        if (r < 0) {
            nbdkit_error("luks: %scrypt: %s", encrypt ? "en" : "de",
                         gnutls_strerror(r));
            return -1;
        }
        buf += LUKS_SECTOR;
    }
    return 0;
}

/* ---- unlocking ---- */

/* PBKDF2-HMAC-hash of secret (n bytes) into out[len].  -1 after
 * nbdkit_error.
 */
static int
luks_pbkdf2(const struct luks_hash *hash, const void *secret, size_t n,
            const uint8_t *salt, uint32_t iterations, uint8_t *out, size_t len)
{
    gnutls_datum_t k = {(unsigned char *)secret, n};
    gnutls_datum_t s = {(unsigned char *)salt, LUKS_SALT_SIZE};
    int r;

    r = gnutls_pbkdf2(hash->mac, &k, &s, iterations, out, len);
    if (r < 0) {
        nbdkit_error("luks: pbkdf2-%s: %s", hash->name, gnutls_strerror(r));
        return -1;
    }
    return 0;
}

/* The AF diffuser: each hash-sized piece i of buf[len] (the last may
 * be short) becomes H(be32(i) || piece), cut to the piece's length.
 */
static int
luks_diffuse(const struct luks_hash *hash, uint8_t *buf, size_t len)
{
    uint8_t out[64], be[4];
    gnutls_hash_hd_t hd;
    size_t i, n;
    int r;

    for (i = 0; i * hash->size < len; i++) {
        n = MIN(hash->size, len - i * hash->size);
        byteorder_write_be32(be, i);
        r = gnutls_hash_init(&hd, hash->digest);
        if (r < 0) {
            nbdkit_error("luks: hash %s: %s", hash->name, gnutls_strerror(r));
            return -1;
        }
        r = gnutls_hash(hd, be, sizeof be);
        if (r == 0)
            r = gnutls_hash(hd, buf + i * hash->size, n);
        gnutls_hash_deinit(hd, out);
        if (r < 0) {
            nbdkit_error("luks: hash %s: %s", hash->name, gnutls_strerror(r));
            return -1;
        }
        memcpy(buf + i * hash->size, out, n);
    }
    return 0;
}

/* Merge the stripes of decrypted key material into key[h->key_bytes]:
 * key = diffuse(... diffuse(s0) ^ s1 ...) ^ s_last.
 */
static int
luks_af_merge(const struct luks_header *h, const uint32_t stripes,
              const uint8_t *material, uint8_t *key)
{
    uint32_t i, j, n = h->key_bytes;

    memset(key, 0, n);
    for (i = 0; i < stripes; i++) {
        for (j = 0; j < n; j++)
            key[j] ^= material[(size_t)i * n + j];
        if (i + 1 < stripes && luks_diffuse(h->hash, key, n) == -1)
            return -1;
    }
    return 0;
}

/* Try the passphrase on slot s: 1 and the master key in mk if it opens
 * the slot, 0 if not, -1 after nbdkit_error.
 */
static int
luks_slot_try(nbdkit_next *next, const struct luks_header *h,
              const struct luks_slot *s, uint8_t *mk)
{
    uint64_t size = luks_slot_material_size(h, s);
    uint8_t slot_key[LUKS_KEY_MAX], digest[LUKS_DIGEST_SIZE];
    CLEANUP_FREE uint8_t *material = malloc(size);
    struct luks_crypt c;
    int err, r = -1;

    if (material == NULL) {
        nbdkit_error("malloc: %m");
        return -1;
    }
    /* size <= LUKS_KEY_MAX * LUKS_STRIPES_MAX: one request. */
    if (next->pread(next, material, size, s->material_offset, 0, &err) == -1) {
        nbdkit_error("luks: key slot %u: read: %s", s->index, strerror(err));
        return -1;
    }
    if (luks_pbkdf2(h->hash, passphrase, strlen(passphrase), s->salt,
                    s->iterations, slot_key, h->key_bytes) == -1 ||
        luks_crypt_init(&c, h, slot_key) == -1)
        goto out;
    if (luks_crypt_sectors(&c, material, size, 0, false) == 0 &&
        luks_af_merge(h, s->stripes, material, mk) == 0 &&
        luks_pbkdf2(h->hash, mk, h->key_bytes, h->mk_digest_salt,
                    h->mk_digest_iterations, digest, sizeof digest) == 0)
        r = memcmp(digest, h->mk_digest, sizeof digest) == 0;
    luks_crypt_end(&c);
out:
    gnutls_memset(slot_key, 0, sizeof slot_key);
    gnutls_memset(material, 0, size);
    return r;
}

/* ---- the filter ---- */

/* One connection.  hdr and key are set by prepare, then read-only. */
struct luks_handle {
    struct luks_header hdr;
    uint8_t key[LUKS_KEY_MAX]; /* the master key, hdr.key_bytes long */
    pthread_mutex_t rmw_lock;  /* held across each partial-sector write */
};

static void *
luks_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
          const char *exportname, int is_tls)
{
    struct luks_handle *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    pthread_mutex_init(&h->rmw_lock, NULL);
    return h;
}

static void
luks_close(void *handle)
{
    struct luks_handle *h = handle;

    gnutls_memset(h->key, 0, sizeof h->key);
    pthread_mutex_destroy(&h->rmw_lock);
    free(h);
}

/* Read the header, then find the slot the passphrase opens. */
static int
luks_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct luks_handle *h = handle;
    uint8_t buf[LUKS_HEADER_SIZE];
    int64_t size = next->get_size(next);
    unsigned i;
    int err, r;

    if (size == -1)
        return -1;
    if (size < LUKS_HEADER_SIZE) {
        nbdkit_error("luks: not a LUKS disk (%" PRIi64 " bytes)", size);
        return -1;
    }
    if (next->pread(next, buf, sizeof buf, 0, 0, &err) == -1) {
        nbdkit_error("luks: reading the header: %s", strerror(err));
        return -1;
    }
    if (luks_header_parse(buf, size, &h->hdr) == -1)
        return -1;
    nbdkit_debug("luks: %s-%s, %" PRIu32 "-byte key, hash %s, payload at "
                 "%" PRIu64 ", %u key slots, uuid %s",
                 h->hdr.cipher_name, h->hdr.cipher_mode, h->hdr.key_bytes,
                 h->hdr.hash_spec, h->hdr.payload_offset, h->hdr.nr_slots,
                 h->hdr.uuid);
    for (i = 0; i < h->hdr.nr_slots; i++) {
        r = luks_slot_try(next, &h->hdr, &h->hdr.slots[i], h->key);
        if (r == -1)
            return -1;
        if (r == 1) {
            nbdkit_debug("luks: key slot %u opened", h->hdr.slots[i].index);
            return 0;
        }
    }
    gnutls_memset(h->key, 0, sizeof h->key);
    nbdkit_error("luks: the passphrase does not open any key slot "
                 "(wrong passphrase?)");
    return -1;
}

/* The payload, in whole sectors. */
static int64_t
luks_get_size(nbdkit_next *next, void *handle)
{
    struct luks_handle *h = handle;
    int64_t size = next->get_size(next);

    if (size == -1)
        return -1;
    if ((uint64_t)size < h->hdr.payload_offset) {
        nbdkit_error("luks: the disk shrank below its payload offset");
        return -1;
    }
    return (size - h->hdr.payload_offset) / LUKS_SECTOR * LUKS_SECTOR;
}

/* Clients should send whole sectors; the filter copes if they don't. */
static int
luks_block_size(nbdkit_next *next, void *handle, uint32_t *minimum,
                uint32_t *preferred, uint32_t *maximum)
{
    if (next->block_size(next, minimum, preferred, maximum) == -1)
        return -1;
    *minimum = MAX(*minimum, LUKS_SECTOR);
    *preferred = MAX(*preferred, LUKS_SECTOR);
    if (*maximum == 0)
        *maximum = UINT32_MAX;
    return 0;
}

/* Trimmed sectors would read back as garbage: no trim. */
static int
luks_can_trim(nbdkit_next *next, void *handle)
{
    return 0;
}

static int
luks_can_zero(nbdkit_next *next, void *handle)
{
    return NBDKIT_ZERO_NATIVE;
}

static int
luks_can_fast_zero(nbdkit_next *next, void *handle)
{
    return 0;
}

/* Read and decrypt the whole sectors [sector, sector + len/512) of the
 * payload into buf.
 */
static int
luks_read_sectors(nbdkit_next *next, struct luks_handle *h, uint8_t *buf,
                  uint32_t len, uint64_t sector, int *err)
{
    struct luks_crypt c;
    int r;

    if (next->pread(next, buf, len,
                    h->hdr.payload_offset + sector * LUKS_SECTOR, 0, err) == -1)
        return -1;
    if (luks_crypt_init(&c, &h->hdr, h->key) == -1) {
        *err = EIO;
        return -1;
    }
    r = luks_crypt_sectors(&c, buf, len, sector, false);
    luks_crypt_end(&c);
    if (r == -1)
        *err = EIO;
    return r;
}

/* Encrypt buf (whole sectors, clobbered) and write it at sector. */
static int
luks_write_sectors(nbdkit_next *next, struct luks_handle *h, uint8_t *buf,
                   uint32_t len, uint64_t sector, uint32_t flags, int *err)
{
    struct luks_crypt c;
    int r;

    if (luks_crypt_init(&c, &h->hdr, h->key) == -1) {
        *err = EIO;
        return -1;
    }
    r = luks_crypt_sectors(&c, buf, len, sector, true);
    luks_crypt_end(&c);
    if (r == -1) {
        *err = EIO;
        return -1;
    }
    return next->pwrite(next, buf, len,
                        h->hdr.payload_offset + sector * LUKS_SECTOR, flags,
                        err);
}

static int
luks_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    struct luks_handle *h = handle;
    uint8_t sector[LUKS_SECTOR], *p = buf;
    uint32_t skip, n;

    while (count > 0) {
        skip = offset % LUKS_SECTOR;
        if (skip != 0 || count < LUKS_SECTOR) {
            /* A partial sector, through a sector buffer. */
            n = MIN(count, LUKS_SECTOR - skip);
            if (luks_read_sectors(next, h, sector, LUKS_SECTOR,
                                  offset / LUKS_SECTOR, err) == -1)
                return -1;
            memcpy(p, sector + skip, n);
        } else {
            n = count / LUKS_SECTOR * LUKS_SECTOR;
            if (luks_read_sectors(next, h, p, n, offset / LUKS_SECTOR, err) ==
                -1)
                return -1;
        }
        p += n, count -= n, offset += n;
    }
    return 0;
}

/* Patch n bytes (from data, or zeros if NULL) into the sector at offset
 * rounded down, skip bytes in.
 */
static int
luks_write_partial(nbdkit_next *next, struct luks_handle *h,
                   const uint8_t *data, uint32_t n, uint64_t offset,
                   uint32_t flags, int *err)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&h->rmw_lock);
    uint8_t sector[LUKS_SECTOR];
    uint64_t number = offset / LUKS_SECTOR;
    uint32_t skip = offset % LUKS_SECTOR;

    if (luks_read_sectors(next, h, sector, LUKS_SECTOR, number, err) == -1)
        return -1;
    if (data != NULL)
        memcpy(sector + skip, data, n);
    else
        memset(sector + skip, 0, n);
    return luks_write_sectors(next, h, sector, LUKS_SECTOR, number, flags, err);
}

/* Write count bytes of data (zeros if NULL) at offset of the payload. */
static int
luks_write(nbdkit_next *next, struct luks_handle *h, const uint8_t *data,
           uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
    CLEANUP_FREE uint8_t *bounce = NULL;
    uint32_t skip, n;

    while (count > 0) {
        skip = offset % LUKS_SECTOR;
        if (skip != 0 || count < LUKS_SECTOR) {
            n = MIN(count, LUKS_SECTOR - skip);
            if (luks_write_partial(next, h, data, n, offset, flags, err) == -1)
                return -1;
        } else {
            n = MIN(count / LUKS_SECTOR * LUKS_SECTOR, LUKS_CHUNK);
            if (bounce == NULL && (bounce = malloc(LUKS_CHUNK)) == NULL) {
                *err = errno;
                nbdkit_error("malloc: %m");
                return -1;
            }
            if (data != NULL)
                memcpy(bounce, data, n);
            else
                memset(bounce, 0, n);
            if (luks_write_sectors(next, h, bounce, n, offset / LUKS_SECTOR,
                                   flags, err) == -1)
                return -1;
        }
        if (data != NULL)
            data += n;
        count -= n, offset += n;
    }
    return 0;
}

static int
luks_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    return luks_write(next, handle, buf, count, offset, flags, err);
}

/* Zeros are written encrypted like any data (flags: FUA only). */
static int
luks_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
          uint32_t flags, int *err)
{
    return luks_write(next, handle, NULL, count, offset,
                      flags & NBDKIT_FLAG_FUA, err);
}

/* Caching the ciphertext below is all a cache request can do. */
static int
luks_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    struct luks_handle *h = handle;

    return next->cache(next, count, h->hdr.payload_offset + offset, flags, err);
}

/* Sparse ciphertext is not zero plaintext: everything is data. */
static int
luks_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    if (nbdkit_add_extent(extents, offset, count, 0) == -1) {
        *err = errno;
        return -1;
    }
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "luks",
    .longname = "nbdx luks filter",
    .unload = luks_unload,
    .config = luks_config,
    .config_complete = luks_config_complete,
    .config_help = luks_config_help,
    .open = luks_open,
    .close = luks_close,
    .prepare = luks_prepare,
    .get_size = luks_get_size,
    .block_size = luks_block_size,
    .can_trim = luks_can_trim,
    .can_zero = luks_can_zero,
    .can_fast_zero = luks_can_fast_zero,
    .pread = luks_pread,
    .pwrite = luks_pwrite,
    .zero = luks_zero,
    .cache = luks_cache,
    .extents = luks_extents,
};

NBDKIT_REGISTER_FILTER(filter)
