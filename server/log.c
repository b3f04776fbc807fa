/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c: error and debug messages.
 *
 * Errors go where --log says (stderr by default, syslog when the server
 * has daemonised) and are also kept as the thread's last error, so the
 * protocol code can tell the client.  Debug messages (only with -v) always
 * go to stderr.  Each message is one line: control characters in it are
 * escaped, so a client-supplied string cannot forge log lines or drive the
 * terminal.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

enum log_to log_to = LOG_TO_DEFAULT;
static int log_fd = -1; /* --log=/PATH: opened O_APPEND, never closed */

int
log_set_target(const char *arg)
{
    if (strcmp(arg, "default") == 0)
        log_to = LOG_TO_DEFAULT;
    else if (strcmp(arg, "stderr") == 0)
        log_to = LOG_TO_STDERR;
    else if (strcmp(arg, "syslog") == 0)
        log_to = LOG_TO_SYSLOG;
    else if (strcmp(arg, "null") == 0)
        log_to = LOG_TO_NULL;
    else if (arg[0] == '/') {
        int fd = open(arg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1)
            return -1;
        if (log_fd >= 0)
            close(log_fd);
        log_fd = fd;
        log_to = LOG_TO_FILE;
    } else {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* "NAME[CONN]: ", "NAME: ", "[CONN]: " or "" for the calling thread. */
static void
log_prefix(char *buf, size_t len)
{
    const char *name = threadlocal_get_name();
    struct connection *conn = threadlocal_get_conn();

    if (name && conn)
        snprintf(buf, len, "%s[%" PRIu64 "]: ", name, conn->id);
    else if (name)
        snprintf(buf, len, "%s: ", name);
    else if (conn)
        snprintf(buf, len, "[%" PRIu64 "]: ", conn->id);
    else
        buf[0] = '\0';
}

/* Format fs (with %m meaning errno at entry) into a malloc'd string with
 * no trailing newline and control characters escaped as \xNN.  Newlines
 * are kept only outside connections (startup messages, which no client
 * can influence).  Never NULL: a fixed text replaces it if memory runs
 * out.  Caller frees.
 */
static char *
log_format(int err, const char *fs, va_list args)
{
    bool keep_nl = threadlocal_get_conn() == NULL;
    char *raw = NULL, *out;
    size_t n, i, j;

    errno = err;
    if (vasprintf(&raw, fs, args) == -1)
        return strdup("(out of memory formatting a message)");
    n = strlen(raw);
    if (n > 0 && raw[n - 1] == '\n')
        raw[--n] = '\0';
    out = malloc(4 * n + 1);
    if (out == NULL)
        return raw;
    for (i = j = 0; i < n; i++) {
        unsigned char c = raw[i];
        if ((c < 0x20 && c != '\t' && !(c == '\n' && keep_nl)) || c == 0x7f)
            j += sprintf(&out[j], "\\x%02x", c);
        else
            out[j++] = c;
    }
    out[j] = '\0';
    free(raw);
    return out;
}

static void
log_write_fd(int fd, const char *prefix, const char *msg)
{
    char *line;
    int len;

    /* One write per line: O_APPEND keeps lines from threads whole. */
    len = asprintf(&line, "%s: %s%s\n", program_name, prefix, msg);
    if (len == -1)
        return;
    if (write(fd, line, len) == -1) {
        /* Nowhere left to report it. */
    }
    free(line);
}

static void
log_open_syslog(void)
{
    openlog(program_name, LOG_PID, LOG_DAEMON);
}

static void
log_emit_error(const char *prefix, const char *msg)
{
    static pthread_once_t syslog_once = PTHREAD_ONCE_INIT;

    enum log_to to = log_to;

    if (to == LOG_TO_DEFAULT)
        to = forked_into_background ? LOG_TO_SYSLOG : LOG_TO_STDERR;
    switch (to) {
    case LOG_TO_STDERR:
    case LOG_TO_DEFAULT:
        fprintf(stderr, "%s: %s%s\n", program_name, prefix, msg);
        break;
    case LOG_TO_SYSLOG:
        pthread_once(&syslog_once, log_open_syslog);
        syslog(LOG_ERR, "%s%s", prefix, msg);
        break;
    case LOG_TO_FILE:
        log_write_fd(log_fd, prefix, msg);
        break;
    case LOG_TO_NULL:
        break;
    }
}

void
log_verror(const char *fs, va_list args)
{
    int err = errno;
    char prefix[256];
    char *msg;

    log_prefix(prefix, sizeof prefix);
    msg = log_format(err, fs, args);
    if (msg) {
        log_emit_error(prefix, msg);
        threadlocal_set_last_error(msg);
        free(msg);
    }
    errno = err;
}

void
nbdkit_verror(const char *fs, va_list args)
{
    log_verror(fs, args);
}

void
nbdkit_error(const char *fs, ...)
{
    va_list args;

    va_start(args, fs);
    log_verror(fs, args);
    va_end(args);
}

void
nbdkit_vdebug(const char *fs, va_list args)
{
    int err = errno;
    char prefix[256];
    char *msg;

    if (!opts->verbose)
        return;
    log_prefix(prefix, sizeof prefix);
    msg = log_format(err, fs, args);
    if (msg) {
        fprintf(stderr, "%s: %sdebug: %s\n", program_name, prefix, msg);
        free(msg);
    }
    errno = err;
}

void
nbdkit_debug(const char *fs, ...)
{
    va_list args;

    va_start(args, fs);
    nbdkit_vdebug(fs, args);
    va_end(args);
}

void
fatal(const char *fs, ...)
{
    va_list args;

    va_start(args, fs);
    log_verror(fs, args);
    va_end(args);
    exit(1);
}
