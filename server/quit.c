/* SPDX-License-Identifier: BSD-3-Clause */
/* quit.c: server-wide shutdown through a self-pipe.
 *
 * set_quit may run in a signal handler, so it only stores a flag and
 * writes one byte.  The read end (quit_fd) is never drained: once
 * readable it stays readable, which wakes every poll loop that watches it
 * (the accept loop, connections, nbdkit_nanosleep).
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

_Atomic int quit;
int quit_fd = -1;
static int write_quit_fd = -1; /* non-blocking, so set_quit never waits */

void
quit_init(void)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
        perror("nbdx: pipe2");
        exit(1);
    }
    quit_fd = fds[0];
    write_quit_fd = fds[1];
}

void
set_quit(void)
{
    int saved_errno = errno;
    char c = 0;
    ssize_t r;

    quit = 1;
    /* A full pipe (EAGAIN) is fine: it is readable already. */
    r = write(write_quit_fd, &c, 1);
    (void)r;
    errno = saved_errno;
}

static void
quit_on_signal(int sig)
{
    set_quit();
}

void
quit_handle_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = quit_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    /* As in nbdkit, SIGHUP is a request to quit, not a reason to die. */
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Writes to a closed socket fail with EPIPE instead of killing us. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}
