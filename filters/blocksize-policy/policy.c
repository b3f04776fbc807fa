/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.c: the blocksize-policy filter.  Advertise block size
 * constraints the plugin does not have (or replace its own), and with
 * blocksize-error-policy=error refuse with EINVAL the requests that break
 * them, so that the plugin never sees them.  blocksize-write-disconnect=N
 * drops the connection of a client that writes more than N bytes at once.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "minmax.h"

/* The parameters, 0 when not given.  Read-only once configured. */
static uint32_t config_minimum;    /* blocksize-minimum=N */
static uint32_t config_preferred;  /* blocksize-preferred=N */
static uint32_t config_maximum;    /* blocksize-maximum=N */
static uint32_t config_disconnect; /* blocksize-write-disconnect=N */
static bool policy_error;          /* blocksize-error-policy=error */

/* Parse a size of at most 32 bits into *out. */
static int
policy_parse(const char *key, const char *value, uint32_t *out)
{
    int64_t r;

    r = nbdkit_parse_size(value);
    if (r == -1 || r > UINT32_MAX) {
        nbdkit_error("%s: could not parse %s", key, value);
        return -1;
    }
    *out = r;
    return 0;
}

static int
policy_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
              const char *value)
{
    if (strcmp(key, "blocksize-error-policy") == 0) {
        if (strcmp(value, "allow") != 0 && strcmp(value, "error") != 0) {
            nbdkit_error("unknown %s: %s", key, value);
            return -1;
        }
        policy_error = strcmp(value, "error") == 0;
        return 0;
    }
    if (strcmp(key, "blocksize-minimum") == 0)
        return policy_parse(key, value, &config_minimum);
    if (strcmp(key, "blocksize-preferred") == 0)
        return policy_parse(key, value, &config_preferred);
    if (strcmp(key, "blocksize-maximum") == 0)
        return policy_parse(key, value, &config_maximum);
    if (strcmp(key, "blocksize-write-disconnect") == 0)
        return policy_parse(key, value, &config_disconnect);
    return next(nxdata, key, value);
}

/* The rules each given size must keep on its own. */
static int
policy_check_each(void)
{
    if (config_minimum != 0 && !IS_POWER_OF_2(config_minimum)) {
        nbdkit_error("blocksize-minimum must be a power of 2");
        return -1;
    }
    if (config_minimum > 65536) {
        nbdkit_error("blocksize-minimum must be <= 64K");
        return -1;
    }
    if (config_preferred != 0 && !IS_POWER_OF_2(config_preferred)) {
        nbdkit_error("blocksize-preferred must be a power of 2");
        return -1;
    }
    if (config_preferred != 0 &&
        (config_preferred < 512 || config_preferred > 32 * 1024 * 1024)) {
        nbdkit_error("blocksize-preferred must be between 512 and 32M");
        return -1;
    }
    return 0;
}

/* The rules between two given sizes. */
static int
policy_check_pairs(void)
{
    if (config_minimum && config_preferred &&
        config_minimum > config_preferred) {
        nbdkit_error("blocksize-minimum must be <= blocksize-preferred");
        return -1;
    }
    if (config_preferred && config_maximum &&
        config_preferred > config_maximum) {
        nbdkit_error("blocksize-preferred must be <= blocksize-maximum");
        return -1;
    }
    if (config_minimum && config_disconnect &&
        config_disconnect <= config_minimum) {
        nbdkit_error("blocksize-write-disconnect must be larger than "
                     "blocksize-minimum");
        return -1;
    }
    return 0;
}

static int
policy_config_complete(nbdkit_next_config_complete *next,
                       nbdkit_backend *nxdata)
{
    if (policy_check_each() == -1 || policy_check_pairs() == -1)
        return -1;
    return next(nxdata);
}

#define policy_config_help                                                     \
    "blocksize-error-policy=allow|error\n"                                     \
    "                          Refuse requests that break the constraints "    \
    "(error)\n"                                                                \
    "                          or pass them on (allow, the default).\n"        \
    "blocksize-minimum=<N>     Advertise this minimum block size.\n"           \
    "blocksize-preferred=<N>   Advertise this preferred block size.\n"         \
    "blocksize-maximum=<N>     Advertise this maximum block size.\n"           \
    "blocksize-write-disconnect=<N>\n"                                         \
    "                          Disconnect a client writing more than N bytes."

/* Fill in what the user left out, below's values filled in wholly when
 * it has none.
 */
static void
policy_fill(uint32_t *minimum, uint32_t *preferred, uint32_t *maximum)
{
    bool below_has_none = *minimum == 0;

    if (below_has_none) {
        *minimum = 1;
        *preferred = 4096;
        *maximum = UINT32_MAX;
    }
    if (config_minimum != 0)
        *minimum = config_minimum;
    if (config_preferred != 0)
        *preferred = config_preferred;
    if (config_maximum != 0)
        *maximum = config_maximum;
    else if (below_has_none && config_disconnect != 0)
        *maximum = ROUND_DOWN(config_disconnect, *minimum);
}

static int
policy_block_size(nbdkit_next *next, void *handle, uint32_t *minimum,
                  uint32_t *preferred, uint32_t *maximum)
{
    if (config_minimum && config_preferred && config_maximum) {
        *minimum = config_minimum;
        *preferred = config_preferred;
        *maximum = config_maximum;
        return 0;
    }
    if (next->block_size(next, minimum, preferred, maximum) == -1)
        return -1;
    if (!config_minimum && !config_preferred && !config_maximum)
        return 0; /* below's, even none */
    policy_fill(minimum, preferred, maximum);
    if (*minimum > *preferred || *preferred > *maximum) {
        nbdkit_error("computed block size values are invalid, minimum %" PRIu32
                     " > preferred %" PRIu32 " or preferred > maximum %" PRIu32,
                     *minimum, *preferred, *maximum);
        return -1;
    }
    return 0;
}

/* With the error policy, refuse a request that breaks the constraints:
 * shorter than the minimum, not a multiple of it or not aligned to it,
 * or (data requests only) longer than the maximum.
 */
static int
policy_check(nbdkit_next *next, const char *type, bool data, uint32_t count,
             uint64_t offset, int *err)
{
    uint32_t minimum, preferred, maximum;
    const char *why;

    if (!policy_error)
        return 0;
    errno = 0;
    if (policy_block_size(next, NULL, &minimum, &preferred, &maximum) == -1) {
        *err = errno ? errno : EINVAL;
        return -1;
    }
    if (minimum == 0)
        return 0; /* no constraints */
    if (count < minimum)
        why = "is smaller than minimum size";
    else if (data && count > maximum)
        why = "is larger than maximum size";
    else if (count % minimum != 0)
        why = "is not a multiple of minimum size";
    else if (offset % minimum != 0) {
        nbdkit_error("client %s request rejected: offset %" PRIu64
                     " is not aligned to a multiple of minimum size %" PRIu32,
                     type, offset, minimum);
        *err = EINVAL;
        return -1;
    } else
        return 0;
    nbdkit_error("client %s request rejected: count %" PRIu32 " %s %" PRIu32,
                 type, count, why, data && count > maximum ? maximum : minimum);
    *err = EINVAL;
    return -1;
}

static int
policy_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    if (policy_check(next, "pread", true, count, offset, err) == -1)
        return -1;
    return next->pread(next, buf, count, offset, flags, err);
}

static int
policy_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
              uint64_t offset, uint32_t flags, int *err)
{
    if (config_disconnect != 0 && count > config_disconnect) {
        nbdkit_error("disconnecting client due to oversize write request");
        nbdkit_disconnect(1);
        *err = ESHUTDOWN;
        return -1;
    }
    if (policy_check(next, "pwrite", true, count, offset, err) == -1)
        return -1;
    return next->pwrite(next, buf, count, offset, flags, err);
}

static int
policy_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    if (policy_check(next, "zero", false, count, offset, err) == -1)
        return -1;
    return next->zero(next, count, offset, flags, err);
}

static int
policy_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    if (policy_check(next, "trim", false, count, offset, err) == -1)
        return -1;
    return next->trim(next, count, offset, flags, err);
}

static int
policy_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, int *err)
{
    if (policy_check(next, "cache", false, count, offset, err) == -1)
        return -1;
    return next->cache(next, count, offset, flags, err);
}

static int
policy_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
               uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    if (policy_check(next, "extents", false, count, offset, err) == -1)
        return -1;
    return next->extents(next, count, offset, flags, extents, err);
}

static struct nbdkit_filter filter = {
    .name = "blocksize-policy",
    .longname = "nbdx blocksize policy filter",
    .config = policy_config,
    .config_complete = policy_config_complete,
    .config_help = policy_config_help,
    .block_size = policy_block_size,
    .pread = policy_pread,
    .pwrite = policy_pwrite,
    .zero = policy_zero,
    .trim = policy_trim,
    .cache = policy_cache,
    .extents = policy_extents,
};

NBDKIT_REGISTER_FILTER(filter)
