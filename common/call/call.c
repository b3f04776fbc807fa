/* SPDX-License-Identifier: BSD-3-Clause */
/* call.c: run a program with a stdin buffer and capture its output
 * (call.h).
 *
 * The child is made with fork(2) and, between fork and exec, calls only
 * async-signal-safe functions, since the caller may have other threads.
 * The parent serves the three pipes with poll(2) until stdout and
 * stderr reach end of file, then reaps the child.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "call.h"

/* How much more room a capture buffer gets before each read. */
#define CALL_READ_CHUNK 65536

/* One captured stream: a growing buffer with a NUL after LEN bytes. */
struct call_buf {
    char *data;
    size_t len, cap;
};

/* Write the NUL-terminated S to fd 2 in the child; errors are ignored. */
static void
call_child_say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

/* In the child: make IN, OUT and ERR its fds 0, 1 and 2 and exec ARGV.
 * The copies above 2 come first, so a pipe that is itself one of 0-2
 * cannot be overwritten before it is moved.
 */
static void
call_child(const char *const *argv, int in, int out, int err)
{
    struct sigaction sa;
    sigset_t none;
    int code;

    in = fcntl(in, F_DUPFD_CLOEXEC, 3);
    out = fcntl(out, F_DUPFD_CLOEXEC, 3);
    err = fcntl(err, F_DUPFD_CLOEXEC, 3);
    if (in == -1 || out == -1 || err == -1 || dup2(in, 0) == -1 ||
        dup2(out, 1) == -1 || dup2(err, 2) == -1)
        _exit(126);

    /* A server ignores SIGPIPE; the script should not inherit that. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    execvp(argv[0], (char *const *)argv);
    code = errno == ENOENT ? 127 : 126;
    call_child_say(code == 127 ? "ENOENT" : "EIO");
    call_child_say(" cannot execute ");
    call_child_say(argv[0]);
    call_child_say("\n");
    _exit(code);
}

/* Read what is there from FD into B: 1 if something was read or the
 * read would block, 0 at end of file, -1 with errno set on error.
 */
static int
call_buf_read(int fd, struct call_buf *b)
{
    ssize_t r;

    if (b->cap - b->len < CALL_READ_CHUNK + 1) {
        size_t cap = b->cap ? b->cap * 2 : CALL_READ_CHUNK + 1;
        char *p;

        while (cap - b->len < CALL_READ_CHUNK + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    r = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (r == -1)
        return errno == EAGAIN || errno == EINTR ? 1 : -1;
    b->len += r;
    b->data[b->len] = '\0';
    return r > 0;
}

/* Write more of IN[*DONE, INLEN) to FD: false once FD should be closed
 * (everything written, or the reader went away).
 */
static bool
call_feed(int fd, const char *in, size_t inlen, size_t *done)
{
    ssize_t r = write(fd, in + *done, inlen - *done);

    if (r == -1)
        return errno == EAGAIN || errno == EINTR;
    *done += r;
    return *done < inlen;
}

/* Close *FD if open and mark it closed. */
static void
call_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Serve the parent's ends of the pipes until stdout and stderr are at
 * end of file and stdin is closed, closing each when it is done (the
 * caller closes what is left after an error).  0, or -1 with errno set.
 */
static int
call_pump(int fds[3], const char *in, size_t inlen, struct call_buf bufs[2])
{
    size_t done = 0;
    int i;

    for (i = 0; i < 3; i++)
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    if (inlen == 0)
        call_close(&fds[0]);
    while (fds[0] >= 0 || fds[1] >= 0 || fds[2] >= 0) {
        struct pollfd p[3] = {
            {.fd = fds[0], .events = POLLOUT},
            {.fd = fds[1], .events = POLLIN},
            {.fd = fds[2], .events = POLLIN},
        };

        if (poll(p, 3, -1) == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[0].revents && !call_feed(fds[0], in, inlen, &done))
            call_close(&fds[0]);
        for (i = 1; i < 3; i++) {
            int r;

            if (p[i].revents == 0)
                continue;
            r = call_buf_read(fds[i], &bufs[i - 1]);
            if (r == -1)
                return -1;
            if (r == 0)
                call_close(&fds[i]);
        }
    }
    return 0;
}

/* Wait for PID to exit; 0 with *WSTATUS set, or -1 with errno set. */
static int
call_wait(pid_t pid, int *wstatus)
{
    while (waitpid(pid, wstatus, 0) == -1) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* Make B a valid empty string if nothing was captured. */
static int
call_buf_finish(struct call_buf *b)
{
    if (b->data == NULL) {
        b->data = calloc(1, 1);
        if (b->data == NULL)
            return -1;
    }
    return 0;
}

int
call_run(const char *const *argv, const void *in, size_t inlen,
         struct call_output *o)
{
    /* pipes[i][0] is the read end; the child reads pipes[0], writes 1, 2. */
    int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    struct call_buf bufs[2] = {{0}};
    int mine[3], i, r, saved;
    pid_t pid;

    memset(o, 0, sizeof *o);
    for (i = 0; i < 3; i++) {
        if (pipe2(pipes[i], O_CLOEXEC) == -1)
            goto fail;
    }
    pid = fork();
    if (pid == -1)
        goto fail;
    if (pid == 0)
        call_child(argv, pipes[0][0], pipes[1][1], pipes[2][1]);
    mine[0] = pipes[0][1];
    mine[1] = pipes[1][0];
    mine[2] = pipes[2][0];
    close(pipes[0][0]);
    close(pipes[1][1]);
    close(pipes[2][1]);

    r = call_pump(mine, in, inlen, bufs);
    saved = errno;
    for (i = 0; i < 3; i++)
        call_close(&mine[i]);
    /* Reap the child even if serving it failed: with its pipes closed it
     * cannot block for long.
     */
    if (call_wait(pid, &o->wstatus) == -1 && r == 0) {
        saved = errno;
        r = -1;
    }
    if (r == 0 &&
        (call_buf_finish(&bufs[0]) == -1 || call_buf_finish(&bufs[1]) == -1)) {
        saved = errno;
        r = -1;
    }
    if (r == -1) {
        free(bufs[0].data);
        free(bufs[1].data);
        errno = saved;
        return -1;
    }
    o->out = bufs[0].data;
    o->outlen = bufs[0].len;
    o->err = bufs[1].data;
    o->errlen = bufs[1].len;
    return 0;

fail:
    saved = errno;
    for (i = 0; i < 3; i++) {
        call_close(&pipes[i][0]);
        call_close(&pipes[i][1]);
    }
    errno = saved;
    return -1;
}

void
call_output_free(struct call_output *o)
{
    int saved = errno;

    free(o->out);
    free(o->err);
    memset(o, 0, sizeof *o);
    errno = saved;
}

enum call_status
call_status_of(int wstatus)
{
    if (!WIFEXITED(wstatus))
        return CALL_ERROR;
    switch (WEXITSTATUS(wstatus)) {
    case 0:
        return CALL_OK;
    case 2:
        return CALL_MISSING;
    case 3:
        return CALL_FALSE;
    default: /* 1, the reserved 4-7 and 8-255 are all errors */
        return CALL_ERROR;
    }
}

/* The errno names a script may print, with their values here. */
static const struct {
    const char *name;
    int value;
} call_errnos[] = {
    {"EPERM", EPERM},           {"EIO", EIO},
    {"ENOMEM", ENOMEM},         {"EINVAL", EINVAL},
    {"ENOSPC", ENOSPC},         {"EOVERFLOW", EOVERFLOW},
    {"ESHUTDOWN", ESHUTDOWN},   {"ENOTSUP", ENOTSUP},
    {"EOPNOTSUPP", EOPNOTSUPP}, {"EROFS", EROFS},
    {"EFBIG", EFBIG},           {"EDQUOT", EDQUOT},
    {"EACCES", EACCES},         {"ENOENT", ENOENT},
    {"EAGAIN", EAGAIN},         {"EBADF", EBADF},
    {"EBUSY", EBUSY},           {"EEXIST", EEXIST},
    {"ENODEV", ENODEV},         {"ENXIO", ENXIO},
    {"ERANGE", ERANGE},         {"ETIMEDOUT", ETIMEDOUT},
    {"EPIPE", EPIPE},           {"ECONNRESET", ECONNRESET},
    {"EINTR", EINTR},           {"ENOTCONN", ENOTCONN},
};

int
call_errno_parse(const char *err, size_t len, size_t *msg)
{
    size_t word = 0, i;

    *msg = 0;
    while (word < len && !isspace((unsigned char)err[word]))
        word++;
    for (i = 0; i < sizeof call_errnos / sizeof call_errnos[0]; i++) {
        if (strlen(call_errnos[i].name) == word &&
            strncasecmp(err, call_errnos[i].name, word) == 0) {
            while (word < len && isspace((unsigned char)err[word]))
                word++;
            *msg = word;
            return call_errnos[i].value;
        }
    }
    return EIO;
}
