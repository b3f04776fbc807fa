/* SPDX-License-Identifier: BSD-3-Clause */
/* stack.c: the layer stack through the life of the process.
 *
 * At startup: load the plugin and the filters, pass the parameters after
 * the plugin name down from the top, config_complete, settle the thread
 * model, get_ready (and after_fork once main.c has forked).  At exit:
 * cleanup each layer and unload them all.  The calls into each layer are
 * backend.c's; this file only decides their order.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "options.h"

struct backend *top;
int thread_model;

/* Plugin, then the filters from the last on the command line to the
 * first, so the first ends up outermost.
 */
void
stack_load(const char *plugin_arg, char *const *orig_argv)
{
    CLEANUP_FREE char *path = paths_find_plugin(plugin_arg, orig_argv);
    const name_vector *filters = &opts->filters;
    size_t i;

    /* Each load leaves the layer's name as the thread's log name. */
    top =
        plugin_load(path, paths_is_short_name(plugin_arg) ? plugin_arg : NULL);
    threadlocal_set_name(NULL);
    for (i = filters->len; i-- > 0;) {
        const char *name = filters->ptr[i];
        CLEANUP_FREE char *fpath = paths_find_filter(name);
        top = filter_load(top, fpath, paths_is_short_name(name) ? name : NULL);
        threadlocal_set_name(NULL);
    }
}

/* KEY as in KEY=VALUE: a letter, then letters, digits, '_', '-', '.'. */
static bool
stack_is_config_key(const char *s, size_t len)
{
    size_t i;

    if (len == 0 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (i = 1; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_-.",
                    s[i]))
            return false;
    return true;
}

static void stack_config_param(const char *arg, bool first, const char *base,
                               int depth);

/* Plugins may keep the key and value pointers .config receives for as
 * long as they are loaded (nbdkit promises this), so strings made here
 * for .config live until after backend_unload.
 */
DEFINE_VECTOR_TYPE(owned_strings, char *);
static owned_strings config_strings = empty_vector;

static char *
stack_keep_string(char *s)
{
    if (s == NULL || owned_strings_append(&config_strings, s) == -1)
        fatal("malloc: %m");
    return s;
}

static void
stack_free_config_strings(void)
{
    size_t i;

    for (i = 0; i < config_strings.len; i++)
        free(config_strings.ptr[i]);
    owned_strings_reset(&config_strings);
}

/* @PATH: one parameter per line; blank lines and # comments skipped;
 * nested @PATHs are relative to this file's directory.
 */
static void
stack_config_file(const char *path, int depth)
{
    CLEANUP_FREE char *line = NULL;
    CLEANUP_FREE char *dir = strdup(path);
    size_t cap = 0;
    ssize_t n;
    FILE *fp;

    if (dir == NULL)
        fatal("strdup: %m");
    *strrchr(dir, '/') = '\0';
    if (depth > 16)
        fatal("@%s: parameter files nested too deeply", path);
    fp = fopen(path, "re");
    if (fp == NULL)
        fatal("@%s: %m", path);
    while ((n = getline(&line, &cap, fp)) != -1) {
        char *s = stack_keep_string(line);
        line = NULL; /* the next line gets its own buffer */
        cap = 0;
        while (n > 0 && strchr(" \t\r\n", s[n - 1]))
            s[--n] = '\0';
        s += strspn(s, " \t");
        if (*s == '\0' || *s == '#')
            continue;
        stack_config_param(s, false, dir, depth);
    }
    fclose(fp);
}

static void
stack_config_param(const char *arg, bool first, const char *base, int depth)
{
    const char *eq = strchr(arg, '=');
    const char *magic;

    if (arg[0] == '@' && strchr(arg, '/')) {
        CLEANUP_FREE char *path = NULL;
        if (arg[1] == '/' || base == NULL)
            path = strdup(&arg[1]);
        else if (asprintf(&path, "%s/%s", base, &arg[1]) == -1)
            path = NULL;
        if (path == NULL)
            fatal("malloc: %m");
        stack_config_file(path, depth + 1);
        return;
    }
    if (eq && stack_is_config_key(arg, eq - arg)) {
        char *key = stack_keep_string(strndup(arg, eq - arg));
        top->config(top, key, eq + 1);
        return;
    }
    magic = top->magic_config_key(top);
    if (magic)
        top->config(top, magic, arg);
    else if (first && eq == NULL)
        top->config(top, "script", arg);
    else
        options_usage_error("parameter '%s' must be KEY=VALUE "
                            "(this plugin has no magic parameter)",
                            arg);
}

void
stack_configure(int argc, char **argv, int first)
{
    int i;

    for (i = first; i < argc; i++)
        stack_config_param(argv[i], i == first, NULL, 0);
    threadlocal_set_name(NULL);
}

static void
stack_print_versions(void)
{
    struct backend *b;

    printf("%s %s\n", program_name, PACKAGE_VERSION);
    for (b = top; b; b = b->next) {
        const char *v = b->version(b);
        if (v)
            printf("%s %s\n", b->name, v);
    }
}

static void
stack_print_help(void)
{
    struct backend *b;

    options_print_usage();
    for (b = top; b; b = b->next) {
        printf("\n");
        b->usage(b);
    }
}

/* The strictest thread model of the layers. */
static int
stack_thread_model(void)
{
    int m, model = NBDKIT_THREAD_MODEL_PARALLEL;
    struct backend *b;

    for (b = top; b; b = b->next) {
        m = b->thread_model(b);
        if (m < model)
            model = m;
    }
    return model;
}

void
stack_early_exits(int argc, char **argv, int first)
{
    if (opts->help) {
        stack_print_help();
        exit(0);
    }
    if (opts->version) {
        stack_print_versions();
        exit(0);
    }
    if (opts->dump_plugin) {
        stack_configure(argc, argv, first);
        thread_model = stack_thread_model(); /* dump_fields prints it */
        top->dump_fields(top);
        /* Unloaded as after serving (the sh plugin removes its $tmpdir),
         * but without cleanup: the stack never got ready.
         */
        backend_unload(top);
        top = NULL;
        exit(0);
    }
}

void
stack_config_complete(void)
{
    threadlocal_set_name(NULL);
    top->config_complete(top);
    threadlocal_set_name(NULL);
}

/* The plugin first, then each filter outward. */
static void
stack_bottom_up(int (*step)(struct backend *), const char *what)
{
    struct backend *layers[64];
    size_t n = 0;
    struct backend *b;

    for (b = top; b && n < sizeof layers / sizeof layers[0]; b = b->next)
        layers[n++] = b;
    while (n-- > 0) {
        b = layers[n];
        threadlocal_set_name(b->name);
        threadlocal_clear_last_error();
        if (step(b) == -1) {
            /* The layer's own error says why; a layer that failed
             * without one gets this line.
             */
            if (threadlocal_get_last_error() != NULL)
                exit(1);
            threadlocal_set_name(NULL); /* the message names the layer */
            fatal("%s: %s failed", b->name, what);
        }
    }
    threadlocal_set_name(NULL);
}

static int
stack_get_ready_one(struct backend *b)
{
    return b->get_ready(b);
}

static int
stack_after_fork_one(struct backend *b)
{
    return b->after_fork(b);
}

void
stack_set_thread_model(void)
{
    thread_model = stack_thread_model();
    debug("thread model: %s", thread_model_name(thread_model));
    lock_init_thread_model();
}

void
stack_get_ready(void)
{
    stack_bottom_up(stack_get_ready_one, "get_ready");
}

void
stack_after_fork(void)
{
    stack_bottom_up(stack_after_fork_one, "after_fork");
}

void
stack_unload(void)
{
    struct backend *b;

    for (b = top; b; b = b->next) {
        threadlocal_set_name(b->name);
        b->cleanup(b);
    }
    threadlocal_set_name(NULL);
    backend_unload(top);
    stack_free_config_strings();
    top = NULL;
}
