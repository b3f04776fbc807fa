/* SPDX-License-Identifier: BSD-3-Clause */
/* options.h: what main.c shares with the other process-level files
 * (options, the stack at startup, sockets, socket activation, captive
 * mode, URIs, logging, privileges).
 *
 * The connection and protocol code never needs these; they stay out of
 * internal.h on purpose.  Everything here is set before the first
 * connection is accepted and read-only afterwards.
 */

#ifndef NBDX_OPTIONS_H
#define NBDX_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

#include "internal.h"

/* options.c: the command line (struct options is in internal.h). */
/* The instance behind opts, holding nbdkit's defaults until
 * options_parse.  Startup code only: main.c and what it calls before the
 * first connection, and the fuzz harnesses standing in for main.
 */
extern struct options options;
/* Parse argv into *o, which holds the defaults (pass &options).  Returns
 * the index of the plugin name, argc if there is none.  A bad option
 * exits(1) with a one-line message.
 */
int options_parse(struct options *o, int argc, char **argv);
/* The options that print something and exit before any plugin loads:
 * --short-options, --long-options, --dump-config, and --help, -V or an
 * error when no plugin was given.  Returns if there is more to do.
 */
void options_early_exits(const struct options *o, int argc, int first);
/* Reject conflicting options, settle TLS (crypto_init) and fill in the
 * defaults that depend on several options.  Exits on a conflict.
 */
void options_check(struct options *o);
/* The synopsis of --help. */
void options_print_usage(void);
/* "nbdx: MESSAGE; try nbdx --help" on stderr, then exit 1. */
NORETURN void options_usage_error(const char *fs, ...)
    ATTRIBUTE_FORMAT_PRINTF(1, 2);

/* paths.c: where nbdx, its plugins and its filters are. */
char *paths_self(void); /* malloc'd path of the running binary, or NULL */
/* A plugin or filter name to look up, rather than a path. */
bool paths_is_short_name(const char *name);
/* The malloc'd path of plugin name, which is one of orig_argv (argv
 * before getopt permuted it).  If only an executable script
 * PLUGINDIR/nbdkit-NAME-plugin exists, replaces the process with it,
 * passing orig_argv without name.  Exits if nothing is found.
 */
char *paths_find_plugin(const char *name, char *const *orig_argv);
char *paths_find_filter(const char *name); /* malloc'd; exits if none */

/* stack.c: the layer stack through the life of the process. */
/* Load the plugin and opts->filters (the first outermost) into top. */
void stack_load(const char *plugin_arg, char *const *orig_argv);
/* Pass argv[first..] down as KEY=VALUE, magic or @PATH parameters. */
void stack_configure(int argc, char **argv, int first);
/* --help, -V and --dump-plugin with a plugin: print and exit. */
void stack_early_exits(int argc, char **argv, int first);
/* Then, in this order (each exits if a layer fails): */
void stack_config_complete(void);
void stack_set_thread_model(void); /* the strictest layer's */
void stack_get_ready(void);        /* plugin first, then each filter */
void stack_after_fork(void);       /* the same order */
/* Once every connection has ended: cleanup each layer, then unload. */
void stack_unload(void);

/* main.c: process state, not options (see internal.h). */
extern bool forked_into_background; /* daemonised: default log is syslog */
extern unsigned socket_activation;  /* LISTEN_FDS, 0 if not activated */
extern pid_t original_parent;       /* getppid() at startup */

/* socket-activation.c: the fds passed by systemd start here. */
#define FIRST_SOCKET_ACTIVATION_FD 3
/* Number of fds passed to this process (0 if none); unsets the
 * LISTEN_* variables so children do not see them.  Exits on garbage.
 */
unsigned socket_activation_get(void);

/* quit.c: SIGHUP, SIGINT, SIGTERM and SIGQUIT call set_quit; SIGPIPE
 * ignored.
 */
void quit_handle_signals(void);

/* usergroup.c: -u and -g.  Parse early so a bad name fails before
 * binding; change after binding.  Both exit on failure.
 */
void usergroup_parse(void);
void usergroup_change(void);

/* uri.c: --print-uri writes the URI (if there is one) to stdout. */
void uri_print(void);

/* captive.c: after the accept loop, the exit status of --run's command
 * (its exit code, 128+N if killed by signal N), or 0 if it has not ended.
 */
int captive_exit_status(void);

#endif /* NBDX_OPTIONS_H */
