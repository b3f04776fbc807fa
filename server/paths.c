/* SPDX-License-Identifier: BSD-3-Clause */
/* paths.c: where the running nbdx, its plugins and its filters are.
 *
 * A PLUGIN or --filter argument that is a short name is looked up, as
 * nbdkit does, in this order: $NBDX_PLUGIN_PATH (or $NBDX_FILTER_PATH),
 * the build tree beside the binary, then the install directory; for
 * plugins, then an executable script of that name (in the build tree or
 * the install directory), then nbdkit's own plugin directory.  Anything
 * else is taken as a path.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"
#include "shebang.h"

char *
paths_self(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

    if (n == -1)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

/* Non-empty, no path or parameter punctuation, no control characters. */
bool
paths_is_short_name(const char *name)
{
    const char *p;

    if (*name == '\0')
        return false;
    for (p = name; *p; p++)
        if (strchr("/\\:; .,=", *p) || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* path if it names a regular file, else free it and return NULL. */
static char *
paths_if_file(char *path)
{
    struct stat st;

    if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return path;
    free(path);
    return NULL;
}

static char *
paths_join(const char *dir, const char *sub, const char *name, const char *kind)
{
    char *s;

    if (asprintf(&s, "%s%s/nbdkit-%s-%s.so", dir, sub, name, kind) == -1)
        fatal("asprintf: %m");
    return s;
}

/* $NBDX_PLUGIN_PATH or $NBDX_FILTER_PATH: DIR/nbdkit-NAME-KIND.so, then
 * DIR/NAME/nbdkit-NAME-KIND.so for each DIR.
 */
static char *
paths_search_env(const char *var, const char *name, const char *kind)
{
    const char *path = getenv(var);
    CLEANUP_FREE char *copy = path ? strdup(path) : NULL;
    char *dir, *save = NULL, *found = NULL, *sub = NULL;

    if (copy == NULL)
        return NULL;
    for (dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        found = paths_if_file(paths_join(dir, "", name, kind));
        if (found == NULL && asprintf(&sub, "/%s", name) != -1) {
            found = paths_if_file(paths_join(dir, sub, name, kind));
            free(sub);
        }
    }
    return found;
}

/* In an uninstalled build: BUILDDIR/server/nbdx finds
 * BUILDDIR/{plugins,filters}/NAME/nbdkit-NAME-KIND.so.
 */
static char *
paths_search_build(const char *name, const char *kind)
{
    CLEANUP_FREE char *self = paths_self();
    CLEANUP_FREE char *dir = NULL;
    CLEANUP_FREE char *real = NULL;
    char *slash = self ? strrchr(self, '/') : NULL;

    if (slash == NULL)
        return NULL;
    *slash = '\0';
    if (asprintf(&dir, "%s/../%ss/%s", self, kind, name) == -1)
        fatal("asprintf: %m");
    /* Canonical, so debug messages and --dump-plugin show a clean path. */
    real = realpath(dir, NULL);
    if (real == NULL)
        return NULL;
    return paths_if_file(paths_join(real, "", name, kind));
}

/* The executable script plugin NAME, nbdkit-NAME-plugin without .so:
 * in the build tree beside the binary when uninstalled, else in
 * PLUGINDIR; NULL if there is none.
 */
static char *
paths_find_script(const char *name)
{
    CLEANUP_FREE char *self = paths_self();
    char *slash = self ? strrchr(self, '/') : NULL;
    char *path;

    if (slash) {
        *slash = '\0';
        if (asprintf(&path, "%s/../plugins/%s/nbdkit-%s-plugin", self, name,
                     name) == -1)
            fatal("asprintf: %m");
        if (access(path, X_OK) == 0 && (path = paths_if_file(path)))
            return path;
        free(path);
    }
    if (asprintf(&path, "%s/nbdkit-%s-plugin", PLUGINDIR, name) == -1)
        fatal("asprintf: %m");
    if (access(path, X_OK) == 0 && (path = paths_if_file(path)))
        return path;
    free(path);
    return NULL;
}

/* A script plugin NAME (see paths_find_script) replaces us, with the
 * plugin name (the very string name, one of orig_argv) taken out of the
 * arguments, as nbdkit does.  When its #! line names nbdx or nbdkit and
 * a plugin ("#!/usr/sbin/nbdx perl"), this binary runs that plugin with
 * the script, wherever the line says the server is; any other script is
 * executed.
 */
static void
paths_exec_script(const char *name, char *const *orig_argv)
{
    CLEANUP_FREE char *script = paths_find_script(name);
    CLEANUP_FREE char *self = NULL;
    char lang[64];
    size_t i, j, n;
    char **args;

    if (script == NULL)
        return;
    for (n = 0; orig_argv[n]; n++)
        ;
    args = calloc(n + 3, sizeof *args);
    if (args == NULL)
        fatal("calloc: %m");
    j = 0;
    if (shebang_file_names_server(script, lang, sizeof lang) && lang[0] &&
        (self = paths_self()) != NULL) {
        args[j++] = self;
        args[j++] = lang;
    }
    args[j++] = script;
    for (i = 1; i < n; i++)
        if (orig_argv[i] != name)
            args[j++] = orig_argv[i];
    execv(args[0], args);
    fatal("execv: %s: %m", args[0]);
}

char *
paths_find_plugin(const char *name, char *const *orig_argv)
{
    char *path;

    if (!paths_is_short_name(name))
        return strdup(name);
    if ((path = paths_search_env("NBDX_PLUGIN_PATH", name, "plugin")) ||
        (path = paths_search_build(name, "plugin")) ||
        (path = paths_if_file(paths_join(PLUGINDIR, "", name, "plugin"))))
        return path;
    paths_exec_script(name, orig_argv);
    if ((path =
             paths_if_file(paths_join(NBDKIT_PLUGINDIR, "", name, "plugin"))))
        return path;
    fatal("plugin '%s' not found: looked in $NBDX_PLUGIN_PATH, the build "
          "tree, %s and %s",
          name, PLUGINDIR, NBDKIT_PLUGINDIR);
}

char *
paths_find_filter(const char *name)
{
    char *path;

    if (!paths_is_short_name(name))
        return strdup(name);
    if ((path = paths_search_env("NBDX_FILTER_PATH", name, "filter")) ||
        (path = paths_search_build(name, "filter")) ||
        (path = paths_if_file(paths_join(FILTERDIR, "", name, "filter"))))
        return path;
    fatal("filter '%s' not found: looked in $NBDX_FILTER_PATH, the build "
          "tree and %s",
          name, FILTERDIR);
}
