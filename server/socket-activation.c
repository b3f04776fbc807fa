/* SPDX-License-Identifier: BSD-3-Clause */
/* socket-activation.c: systemd socket activation (sd_listen_fds(3)).
 *
 * The protocol: LISTEN_PID names the process the fds are for and
 * LISTEN_FDS counts them, starting at fd 3.  A LISTEN_PID for another
 * process means the variables were inherited by mistake and are ignored.
 * Every fd passed must be a socket: one that was not passed open could
 * otherwise be an fd the server opened itself (its quit pipe).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

/* The variable as a number, or -1 if unset or not a plain number. */
static long
socket_activation_env(const char *var)
{
    const char *s = getenv(var);
    char *end;
    long n;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    return n;
}

unsigned
socket_activation_get(void)
{
    long pid = socket_activation_env("LISTEN_PID");
    long nfds = socket_activation_env("LISTEN_FDS");
    long i;

    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (pid == -1 || pid != (long)getpid())
        return 0;
    if (nfds < 1 || nfds > 64)
        fatal("socket activation: LISTEN_FDS must be between 1 and 64");
    for (i = 0; i < nfds; i++) {
        int fd = FIRST_SOCKET_ACTIVATION_FD + i;
        struct stat st;

        if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode))
            fatal("socket activation: fd %d is not a socket", fd);
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
            fatal("socket activation: fd %d: %m", fd);
    }
    return nfds;
}
