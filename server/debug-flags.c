/* SPDX-License-Identifier: BSD-3-Clause */
/* debug-flags.c: -D NAME.FLAG=N.
 *
 * Each flag is stored at startup and written, when layer NAME is loaded
 * (before its .load), into the int variable NAME_debug_FLAG that the
 * layer exports, with every '.' in FLAG replaced by '_'.  Flags named
 * nbdx.FLAG or nbdkit.FLAG set the server's own nbdkit_debug_FLAG.  A flag
 * nothing used is reported at exit, as a typo would otherwise go unseen.
 * Only the main thread touches the list.
 */

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "options.h"

struct debug_flag {
    struct debug_flag *next;
    char *name; /* owned: the layer name, before the first '.' */
    char *flag; /* owned: after the first '.', up to '=' */
    int value;
    bool used; /* applied, or already warned about */
};

static struct debug_flag *debug_flags; /* owned list, newest first */

void
debug_flags_add(const char *arg)
{
    const char *dot = strchr(arg, '.');
    const char *eq = strchr(arg, '=');
    struct debug_flag *f;

    if (dot == NULL || eq == NULL || dot == arg || eq < dot + 2)
        fatal("-D: '%s' must be NAME.FLAG=N", arg);
    f = calloc(1, sizeof *f);
    if (f == NULL)
        fatal("calloc: %m");
    f->name = strndup(arg, dot - arg);
    f->flag = strndup(dot + 1, eq - dot - 1);
    if (f->name == NULL || f->flag == NULL)
        fatal("strndup: %m");
    if (nbdkit_parse_int("-D flag value", eq + 1, &f->value) == -1)
        exit(1);
    f->next = debug_flags;
    debug_flags = f;
}

static bool
debug_flags_is_server(const char *name)
{
    return strcmp(name, "nbdx") == 0 || strcmp(name, "nbdkit") == 0;
}

/* NAME_debug_FLAG with dots turned into underscores; malloc'd. */
static char *
debug_flags_symbol(const struct debug_flag *f)
{
    const char *prefix = debug_flags_is_server(f->name) ? "nbdkit" : f->name;
    char *sym, *p;

    if (asprintf(&sym, "%s_debug_%s", prefix, f->flag) == -1)
        fatal("asprintf: %m");
    for (p = sym; *p; p++)
        if (*p == '.')
            *p = '_';
    return sym;
}

void
debug_flags_apply(const char *name, void *dl)
{
    struct debug_flag *f;

    for (f = debug_flags; f != NULL; f = f->next) {
        CLEANUP_FREE char *sym = NULL;
        int *var;

        if (strcmp(f->name, name) != 0 &&
            !(debug_flags_is_server(f->name) && debug_flags_is_server(name)))
            continue;
        sym = debug_flags_symbol(f);
        var = dlsym(dl, sym);
        if (var == NULL) {
            fprintf(stderr, "%s: warning: -D %s.%s: %s has no variable %s\n",
                    program_name, f->name, f->flag, name, sym);
            f->used = true; /* reported once is enough */
            continue;
        }
        *var = f->value;
        f->used = true;
    }
}

void
debug_flags_check_unused(void)
{
    struct debug_flag *f, *next;

    for (f = debug_flags; f != NULL; f = next) {
        next = f->next;
        if (!f->used)
            fprintf(stderr, "%s: warning: debug flag -D %s.%s was not used\n",
                    program_name, f->name, f->flag);
        free(f->name);
        free(f->flag);
        free(f);
    }
    debug_flags = NULL;
}
