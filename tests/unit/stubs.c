/* SPDX-License-Identifier: BSD-3-Clause */
/* stubs.c: stand-ins for the server pieces the files under test call:
 * the logging functions (log.c), the quit flag (quit.c), the connection
 * status (connection.c) and the options (options.c) they read.  They record
 * what happened so the tests can check it.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stubs.h"
#include "transport.h"

/* Zero: no -s, no -v. */
struct options stub_options;
const struct options *const opts = &stub_options;
_Atomic int quit;
int quit_fd = -1;

int stub_errors;
char stub_last_error[512];
int stub_set_quit_calls;
int stub_set_status_calls;
enum conn_status stub_last_status = STATUS_ACTIVE;
char *stub_debug_lines[STUB_MAX_DEBUG];
size_t stub_debug_count;

void
stub_reset(void)
{
    size_t i;

    stub_errors = 0;
    stub_last_error[0] = '\0';
    stub_set_quit_calls = 0;
    stub_set_status_calls = 0;
    stub_last_status = STATUS_ACTIVE;
    for (i = 0; i < stub_debug_count; i++)
        free(stub_debug_lines[i]);
    stub_debug_count = 0;
}

void
nbdkit_verror(const char *fs, va_list args)
{
    int saved_errno = errno;

    vsnprintf(stub_last_error, sizeof stub_last_error, fs, args);
    stub_errors++;
    errno = saved_errno;
}

void
nbdkit_error(const char *fs, ...)
{
    va_list args;

    va_start(args, fs);
    nbdkit_verror(fs, args);
    va_end(args);
}

void
nbdkit_vdebug(const char *fs, va_list args)
{
    int saved_errno = errno;
    char *line;

    if (vasprintf(&line, fs, args) == -1)
        abort();
    if (stub_debug_count < STUB_MAX_DEBUG)
        stub_debug_lines[stub_debug_count++] = line;
    else
        free(line);
    errno = saved_errno;
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
set_quit(void)
{
    stub_set_quit_calls++;
    quit = 1;
}

enum conn_status
transport_get_status(struct connection *conn)
{
    return conn->status;
}

void
transport_set_status(struct connection *conn, enum conn_status status)
{
    stub_set_status_calls++;
    stub_last_status = status;
    if (status < conn->status)
        conn->status = status;
}
