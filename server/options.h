/* SPDX-License-Identifier: BSD-3-Clause */
/* options.h: what main.c shares with the other process-level files
 * (sockets, socket activation, captive mode, URIs, logging, privileges).
 *
 * The connection and protocol code never needs these; they stay out of
 * internal.h on purpose.  Everything here is set before the first
 * connection is accepted and read-only afterwards.
 */

#ifndef NBDX_OPTIONS_H
#define NBDX_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

/* main.c */
extern const char *tls_priority;    /* --tls-priority */
extern const char *pidfile;         /* -P */
extern unsigned max_connections;    /* --max-connections, 0 = no limit */
extern bool exit_with_parent;       /* --exit-with-parent */
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
extern const char *user, *group;
void usergroup_parse(void);
void usergroup_change(void);

/* uri.c: --print-uri writes the URI (if there is one) to stdout. */
void uri_print(void);

/* captive.c: after the accept loop, the exit status of --run's command
 * (its exit code, 128+N if killed by signal N), or 0 if it has not ended.
 */
int captive_exit_status(void);

#endif /* NBDX_OPTIONS_H */
