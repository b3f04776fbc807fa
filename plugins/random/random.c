/* SPDX-License-Identifier: BSD-3-Clause */
/* random: a disk of pseudo-random bytes, the same bytes nbdkit's random
 * plugin serves for the same seed (see nbdx-random-plugin(1)).  Writes
 * are accepted only when they match what is already there.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "genwrite.h"
#include "prng.h"

static int64_t size = -1; /* size=SIZE, required */
static uint32_t seed;     /* seed=SEED, or the time at load */

static void
random_load(void)
{
    seed = (uint32_t)time(NULL);
}

static int
random_config(const char *key, const char *value)
{
    if (strcmp(key, "size") == 0) {
        size = nbdkit_parse_size(value);
        return size == -1 ? -1 : 0;
    }
    if (strcmp(key, "seed") == 0)
        return nbdkit_parse_uint32_t("seed", value, &seed);
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
random_config_complete(void)
{
    if (size == -1) {
        nbdkit_error("you must specify size=<SIZE> on the command line");
        return -1;
    }
    return 0;
}

static void *
random_open(int readonly)
{
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
random_get_size(void *handle)
{
    return size;
}

static int
random_can_multi_conn(void *handle)
{
    return 1;
}

static int
random_can_cache(void *handle)
{
    return NBDKIT_CACHE_NATIVE;
}

/* The byte at offset depends on nothing else, so any range can be read
 * without running the generator from the start: seed a generator with
 * seed + offset, step it three times and keep the low 8 bits of the
 * third number.
 */
static unsigned char
random_byte_at(uint64_t offset)
{
    struct prng st;

    prng_seed(&st, seed + offset);
    prng_next(&st);
    prng_next(&st);
    return prng_next(&st) & 0xff;
}

static void
random_fill(unsigned char *buf, uint32_t count, uint64_t offset)
{
    uint32_t i;

    for (i = 0; i < count; i++)
        buf[i] = random_byte_at(offset + i);
}

static int
random_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    random_fill(buf, count, offset);
    return 0;
}

/* A write succeeds if it changes nothing, so that a copy from this disk
 * to itself can be checked; anything else fails with EIO.
 */
static int
random_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    int64_t bad = genwrite_mismatch(buf, count, offset, random_fill);

    if (bad != -1) {
        nbdkit_error("write at offset %" PRId64 " differs from the disk's data",
                     bad);
        nbdkit_set_error(EIO);
        return -1;
    }
    return 0;
}

/* The disk has no holes and no zero runs to speak of, so trimming or
 * zeroing always fails with EIO, as in nbdkit.
 */
static int
random_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    nbdkit_error("the disk cannot be trimmed or zeroed");
    nbdkit_set_error(EIO);
    return -1;
}

static int
random_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "random",
    .longname = "nbdx random plugin",
    .version = PACKAGE_VERSION,
    .description = "A disk of pseudo-random bytes, repeatable with seed=.",
    .load = random_load,
    .magic_config_key = "size",
    .config = random_config,
    .config_complete = random_config_complete,
    .config_help = "size=<SIZE>  (required) Size of the disk.\n"
                   "seed=<SEED>  Seed of the generator (default: the time).",
    .open = random_open,
    .get_size = random_get_size,
    .can_multi_conn = random_can_multi_conn,
    .can_cache = random_can_cache,
    .pread = random_pread,
    .pwrite = random_pwrite,
    .trim = random_zero,
    .zero = random_zero,
    .cache = random_cache,
    .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
