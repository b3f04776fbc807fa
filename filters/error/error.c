/* SPDX-License-Identifier: BSD-3-Clause */
/* error.c: inject errors, to test how clients recover.
 *
 * error=CODE, error-rate=P and error-file=F set all kinds of request;
 * error-pread*, error-pwrite*, error-trim*, error-zero*, error-extents*
 * and error-cache* set one kind (the later parameter wins).  A request
 * fails with CODE (default EIO) with probability P (default 0), and
 * only while F exists if F is given.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-filter.h>

enum op { OP_PREAD, OP_PWRITE, OP_TRIM, OP_ZERO, OP_EXTENTS, OP_CACHE, NR_OPS };
static const char *op_names[NR_OPS] = {"pread", "pwrite",  "trim",
                                       "zero",  "extents", "cache"};

/* How one kind of request fails. */
struct setting {
    int code;         /* errno to return */
    double rate;      /* probability of failing */
    const char *file; /* inject only while this exists; NULL: always */
};

/* Written by config only, then read by every thread. */
static struct setting settings[NR_OPS] = {
    [0 ... NR_OPS - 1] = {.code = EIO},
};

static const struct {
    const char *name;
    int code;
} codes[] = {{"EPERM", EPERM},   {"EIO", EIO},       {"ENOMEM", ENOMEM},
             {"EINVAL", EINVAL}, {"ENOSPC", ENOSPC}, {"ESHUTDOWN", ESHUTDOWN}};

static int
error_parse_code(const char *value, int *code)
{
    size_t i;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(value, codes[i].name) == 0)
            return *code = codes[i].code, 0;
    nbdkit_error("error: unknown error '%s' (EPERM, EIO, ENOMEM, EINVAL, "
                 "ENOSPC or ESHUTDOWN)",
                 value);
    return -1;
}

static const char *
error_code_name(int code)
{
    size_t i;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].name;
    return "?";
}

/* Apply KEY's SUFFIX ("", "-rate" or "-file") = VALUE to S. */
static int
error_set(struct setting *s, const char *key, const char *suffix,
          const char *value)
{
    if (*suffix == '\0')
        return error_parse_code(value, &s->code);
    if (strcmp(suffix, "-rate") == 0) {
        if (nbdkit_parse_probability(key, value, &s->rate) == -1)
            return -1;
        if (s->rate < 0 || s->rate > 1) {
            nbdkit_error("%s: rate out of range: '%s' parsed as %g", key, value,
                         s->rate);
            return -1;
        }
        return 0;
    }
    s->file = value; /* config values live as long as the server */
    return 0;
}

/* The suffix of KEY after PREFIX if it is "", "-rate" or "-file". */
static const char *
error_suffix(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);

    if (strncmp(key, prefix, n) != 0)
        return NULL;
    key += n;
    if (*key == '\0' || strcmp(key, "-rate") == 0 || strcmp(key, "-file") == 0)
        return key;
    return NULL;
}

static int
error_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    char prefix[32];
    const char *suffix;
    int i;

    suffix = error_suffix(key, "error");
    if (suffix != NULL) {
        for (i = 0; i < NR_OPS; i++)
            if (error_set(&settings[i], key, suffix, value) == -1)
                return -1;
        return 0;
    }
    for (i = 0; i < NR_OPS; i++) {
        snprintf(prefix, sizeof prefix, "error-%s", op_names[i]);
        suffix = error_suffix(key, prefix);
        if (suffix != NULL)
            return error_set(&settings[i], key, suffix, value);
    }
    return next(nxdata, key, value);
}

#define error_config_help                                                      \
    "error=EPERM|EIO|ENOMEM|EINVAL|ENOSPC|ESHUTDOWN\n"                         \
    "                     The error to inject (default EIO).\n"                \
    "error-rate=<N>%|<0..1>\n"                                                 \
    "                     How often to inject it (default 0).\n"               \
    "error-file=<FILE>    Inject only while FILE exists.\n"                    \
    "error-pread=<CODE>   error-pread-rate= and error-pread-file= too:\n"      \
    "                     the same for reads only; and likewise\n"             \
    "error-pwrite=<CODE>  for writes,\n"                                       \
    "error-trim=<CODE>    trims,\n"                                            \
    "error-zero=<CODE>    zeroes,\n"                                           \
    "error-extents=<CODE> block status\n"                                      \
    "error-cache=<CODE>   and cache requests."

/* A number in [0, 1), from a generator of this thread's own. */
static double
error_random(void)
{
    static __thread uint64_t state;

    if (state == 0)
        state = (((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)&state ^
                 (uint64_t)getpid()) |
                1;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (state >> 11) * 0x1.0p-53;
}

/* Should request OP fail?  If so, sets *err and says so. */
static int
error_inject(enum op op, int *err)
{
    const struct setting *s = &settings[op];

    if (s->rate <= 0)
        return 0;
    if (s->file != NULL && access(s->file, F_OK) == -1)
        return 0;
    if (s->rate < 1 && error_random() >= s->rate)
        return 0;
    nbdkit_error("injecting %s error into %s", error_code_name(s->code),
                 op_names[op]);
    *err = s->code;
    return 1;
}

static int
error_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    if (error_inject(OP_PREAD, err))
        return -1;
    return next->pread(next, buf, count, offset, flags, err);
}

static int
error_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    if (error_inject(OP_PWRITE, err))
        return -1;
    return next->pwrite(next, buf, count, offset, flags, err);
}

static int
error_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if (error_inject(OP_TRIM, err))
        return -1;
    return next->trim(next, count, offset, flags, err);
}

static int
error_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    if (error_inject(OP_ZERO, err))
        return -1;
    return next->zero(next, count, offset, flags, err);
}

static int
error_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    if (error_inject(OP_EXTENTS, err))
        return -1;
    return next->extents(next, count, offset, flags, extents, err);
}

static int
error_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    if (error_inject(OP_CACHE, err))
        return -1;
    return next->cache(next, count, offset, flags, err);
}

static struct nbdkit_filter filter = {
    .name = "error",
    .longname = "nbdx error filter",
    .config = error_config,
    .config_help = error_config_help,
    .pread = error_pread,
    .pwrite = error_pwrite,
    .trim = error_trim,
    .zero = error_zero,
    .extents = error_extents,
    .cache = error_cache,
};

NBDKIT_REGISTER_FILTER(filter)
