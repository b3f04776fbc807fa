/* SPDX-License-Identifier: BSD-3-Clause */
/* exportname.c: change the export list, the default export and the
 * descriptions a client sees, and optionally refuse unlisted names.
 *
 * All state is configuration, set before the first connection and only
 * read afterwards: no lock.  The exportname= names point into argv.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <nbdkit-filter.h>

#include "cleanup.h"
#include "shell-quote.h"
#include "vector.h"

DEFINE_VECTOR_TYPE(name_list, const char *);

enum list_mode {
    LIST_KEEP,
    LIST_ERROR,
    LIST_EMPTY,
    LIST_DEFAULTONLY,
    LIST_EXPLICIT
};
enum desc_mode { DESC_KEEP, DESC_NONE, DESC_FIXED, DESC_SCRIPT };

static const char *default_export;     /* default-export=, NULL if unset */
static enum list_mode list_mode;       /* exportname-list= */
static bool strict;                    /* exportname-strict= */
static name_list names = empty_vector; /* exportname=, in order */
static enum desc_mode desc_mode;       /* exportdesc= */
static const char *desc_arg;           /* the STRING or SCRIPT */

static void
exportname_unload(void)
{
    free(names.ptr);
}

static int
exportname_parse_list(const char *value)
{
    static const char *const modes[] = {"keep", "error", "empty", "defaultonly",
                                        "explicit"};
    size_t i;

    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(value, modes[i]) == 0) {
            list_mode = (enum list_mode)i;
            return 0;
        }
    }
    nbdkit_error("exportname-list: unknown mode '%s'", value);
    return -1;
}

static int
exportname_parse_desc(const char *value)
{
    if (strcmp(value, "keep") == 0)
        desc_mode = DESC_KEEP;
    else if (strcmp(value, "none") == 0)
        desc_mode = DESC_NONE;
    else if (strncmp(value, "fixed:", 6) == 0) {
        desc_mode = DESC_FIXED;
        desc_arg = value + 6;
    } else if (strncmp(value, "script:", 7) == 0) {
        desc_mode = DESC_SCRIPT;
        desc_arg = value + 7;
    } else {
        nbdkit_error("exportdesc: unknown mode '%s'", value);
        return -1;
    }
    return 0;
}

static int
exportname_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value)
{
    int r;

    if (strcmp(key, "default-export") == 0) {
        default_export = value;
        return 0;
    }
    if (strcmp(key, "exportname-list") == 0)
        return exportname_parse_list(value);
    if (strcmp(key, "exportname-strict") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        strict = r;
        return 0;
    }
    if (strcmp(key, "exportname") == 0) {
        if (name_list_append(&names, value) == -1) {
            nbdkit_error("exportname: realloc: %m");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "exportdesc") == 0)
        return exportname_parse_desc(value);
    return next(nxdata, key, value);
}

#define exportname_config_help                                                 \
    "default-export=<NAME>     Canonical name for the \"\" default export.\n"  \
    "exportname-list=<MODE>    Which exports to advertise: keep (default),\n"  \
    "                          error, empty, defaultonly, explicit.\n"         \
    "exportname-strict=<BOOL>  Limit clients to the names in exportname=.\n"   \
    "exportname=<NAME>         Add an export name to advertise "               \
    "(repeatable).\n"                                                          \
    "exportdesc=<MODE>         Descriptions: keep (default), none,\n"          \
    "                          fixed:STRING, script:SCRIPT."

/* True if name was given with exportname=. */
static bool
exportname_listed(const char *name)
{
    size_t i;

    for (i = 0; i < names.len; i++)
        if (strcmp(names.ptr[i], name) == 0)
            return true;
    return false;
}

/* Run the exportdesc script with $name set; return its output without
 * one trailing newline, interned, or "" if it failed.
 */
static const char *
exportname_run_script(const char *name)
{
    CLEANUP_FREE char *cmd = NULL, *out = NULL, *quoted = NULL;
    size_t len = 0, n;
    char buf[4096];
    FILE *fp;
    int status;

    /* The name enters the command quoted, so sh sees it as data. */
    quoted = shell_quote(name);
    if (quoted == NULL) {
        nbdkit_error("exportdesc: %m");
        return NULL;
    }
    if (asprintf(&cmd, "name=%s\n%s", quoted, desc_arg) == -1) {
        nbdkit_error("exportdesc: asprintf: %m");
        return NULL;
    }
    fp = popen(cmd, "r");
    if (fp == NULL) {
        nbdkit_error("exportdesc: popen: %m");
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0 && len < 4096) {
        char *p = realloc(out, len + n + 1);
        if (p == NULL) {
            pclose(fp);
            return NULL;
        }
        out = p;
        memcpy(out + len, buf, n);
        len += n;
    }
    status = pclose(fp);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        out == NULL)
        return "";
    if (len > 4096)
        len = 4096;
    if (len > 0 && out[len - 1] == '\n')
        len--;
    return nbdkit_strndup_intern(out, len);
}

/* The description to send for name; plugin is what the layer below said. */
static const char *
exportname_describe(const char *name, const char *plugin)
{
    switch (desc_mode) {
    case DESC_KEEP:
        return plugin;
    case DESC_NONE:
        return NULL;
    case DESC_FIXED:
        return desc_arg;
    case DESC_SCRIPT:
        return exportname_run_script(name);
    }
    return NULL;
}

static int
exportname_add(struct nbdkit_exports *exports, const char *name,
               const char *plugin_desc)
{
    return nbdkit_add_export(exports, name,
                             exportname_describe(name, plugin_desc));
}

/* Copy the layer below's list, with our descriptions. */
static int
exportname_list_keep(nbdkit_next_list_exports *next, nbdkit_backend *nxdata,
                     int readonly, struct nbdkit_exports *exports)
{
    struct nbdkit_exports *below = nbdkit_exports_new();
    size_t i;
    int r = 0;

    if (below == NULL)
        return -1;
    if (next(nxdata, readonly, below) == -1) {
        nbdkit_exports_free(below);
        return -1;
    }
    for (i = 0; r == 0 && i < nbdkit_exports_count(below); i++) {
        struct nbdkit_export e = nbdkit_get_export(below, i);
        r = exportname_add(exports, e.name, e.description);
    }
    nbdkit_exports_free(below);
    return r;
}

static const char *exportname_default_export(nbdkit_next_default_export *next,
                                             nbdkit_backend *nxdata,
                                             int readonly, int is_tls);

static int
exportname_list_exports(nbdkit_next_list_exports *next, nbdkit_backend *nxdata,
                        int readonly, int is_tls,
                        struct nbdkit_exports *exports)
{
    const char *def;
    size_t i;

    switch (list_mode) {
    case LIST_KEEP:
        return exportname_list_keep(next, nxdata, readonly, exports);
    case LIST_ERROR:
        nbdkit_error("export list restricted by policy");
        return -1;
    case LIST_EMPTY:
        return 0;
    case LIST_DEFAULTONLY:
        def = default_export && *default_export ? default_export : NULL;
        if (def == NULL)
            return nbdkit_use_default_export(exports);
        return exportname_add(exports, def, NULL);
    case LIST_EXPLICIT:
        for (i = 0; i < names.len; i++)
            if (exportname_add(exports, names.ptr[i], NULL) == -1)
                return -1;
        return 0;
    }
    return -1;
}

static const char *
exportname_default_export(nbdkit_next_default_export *next,
                          nbdkit_backend *nxdata, int readonly, int is_tls)
{
    if (strict && !exportname_listed("")) {
        nbdkit_error("default export (\"\") not permitted");
        return NULL;
    }
    if (default_export && *default_export)
        return default_export;
    return next(nxdata, readonly);
}

static void *
exportname_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
                const char *exportname, int is_tls)
{
    if (strict && !exportname_listed(exportname)) {
        nbdkit_error("export '%s' not found", exportname);
        errno = ENOENT;
        return NULL;
    }
    if (next(context, readonly, exportname) == -1)
        return NULL;
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static const char *
exportname_export_description(nbdkit_next *next, void *handle)
{
    const char *plugin = NULL;

    if (desc_mode == DESC_KEEP)
        plugin = next->export_description(next);
    return exportname_describe(nbdkit_export_name(), plugin);
}

static struct nbdkit_filter filter = {
    .name = "exportname",
    .longname = "nbdx exportname filter",
    .unload = exportname_unload,
    .config = exportname_config,
    .config_help = exportname_config_help,
    .list_exports = exportname_list_exports,
    .default_export = exportname_default_export,
    .open = exportname_open,
    .export_description = exportname_export_description,
};

NBDKIT_REGISTER_FILTER(filter)
