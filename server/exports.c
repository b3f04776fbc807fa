/* SPDX-License-Identifier: BSD-3-Clause */
/* exports.c: the export lists layers build for NBD_OPT_LIST.
 *
 * A list holds {name, description} pairs, both copied.  Names and
 * descriptions are limited to the protocol's 4096-byte string limit and
 * the list to MAX_EXPORTS entries, so a layer cannot make one option
 * reply unbounded.  nbdkit_use_default_export only sets a flag: the
 * handshake code, which knows the default export name, sees it with
 * exports_get_use_default and adds that name itself.
 *
 * A list belongs to one option of one connection: no locking.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_EXPORTS 10000
#define MAX_STRING 4096 /* NBD protocol limit on names and descriptions */

DEFINE_VECTOR_TYPE(export_vector, struct nbdkit_export);

struct nbdkit_exports {
    export_vector exports; /* entries own their name and description */
    bool use_default;      /* nbdkit_use_default_export was called */
};

struct nbdkit_exports *
nbdkit_exports_new(void)
{
    struct nbdkit_exports *exps;

    exps = calloc(1, sizeof *exps);
    if (exps == NULL) {
        nbdkit_error("nbdkit_exports_new: calloc: %m");
        return NULL;
    }
    return exps;
}

struct nbdkit_exports *
exports_new(void)
{
    return nbdkit_exports_new();
}

void
nbdkit_exports_free(struct nbdkit_exports *exps)
{
    size_t i;

    if (exps == NULL)
        return;
    for (i = 0; i < exps->exports.len; i++) {
        free(exps->exports.ptr[i].name);
        free(exps->exports.ptr[i].description);
    }
    free(exps->exports.ptr);
    free(exps);
}

size_t
nbdkit_exports_count(const struct nbdkit_exports *exps)
{
    return exps->exports.len;
}

/* The strings stay owned by the list: valid until nbdkit_exports_free. */
struct nbdkit_export
nbdkit_get_export(const struct nbdkit_exports *exps, size_t i)
{
    if (i >= exps->exports.len) {
        struct nbdkit_export none = {.name = NULL, .description = NULL};

        nbdkit_error("nbdkit_get_export: index %zu out of range", i);
        return none;
    }
    return exps->exports.ptr[i];
}

static int
exports_check(const struct nbdkit_exports *exps, const char *name,
              const char *description)
{
    if (name == NULL) {
        nbdkit_error("nbdkit_add_export: the export name must not be NULL");
        errno = EINVAL;
        return -1;
    }
    if (strnlen(name, MAX_STRING + 1) > MAX_STRING) {
        nbdkit_error("nbdkit_add_export: export name longer than %d bytes",
                     MAX_STRING);
        errno = EINVAL;
        return -1;
    }
    if (description && strnlen(description, MAX_STRING + 1) > MAX_STRING) {
        nbdkit_error("nbdkit_add_export: description longer than %d bytes",
                     MAX_STRING);
        errno = EINVAL;
        return -1;
    }
    if (exps->exports.len >= MAX_EXPORTS) {
        nbdkit_error("nbdkit_add_export: too many exports (limit %d)",
                     MAX_EXPORTS);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
nbdkit_add_export(struct nbdkit_exports *exps, const char *name,
                  const char *description)
{
    struct nbdkit_export e = {.name = NULL, .description = NULL};

    if (exports_check(exps, name, description) == -1)
        return -1;
    e.name = strdup(name);
    if (e.name == NULL)
        goto nomem;
    if (description) {
        e.description = strdup(description);
        if (e.description == NULL)
            goto nomem;
    }
    if (export_vector_append(&exps->exports, e) == -1)
        goto nomem;
    return 0;

nomem:
    nbdkit_error("nbdkit_add_export: %m");
    free(e.name);
    free(e.description);
    return -1;
}

int
nbdkit_use_default_export(struct nbdkit_exports *exps)
{
    exps->use_default = true;
    return 0;
}

bool
exports_get_use_default(const struct nbdkit_exports *exps)
{
    return exps->use_default;
}

void
exports_clear_use_default(struct nbdkit_exports *exps)
{
    exps->use_default = false;
}
