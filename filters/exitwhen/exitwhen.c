/* SPDX-License-Identifier: BSD-3-Clause */
/* exitwhen.c: the server exits gracefully once an outside event happens
 * (a file created or deleted, a pipe closed, a process gone, a script
 * exiting 88): new clients are refused and the server shuts down when
 * the last one leaves.
 *
 * Events are checked when a client connects or disconnects, and by a
 * thread every exit-when-poll seconds.  The event list is configuration,
 * read-only once the server runs; connected and exiting are guarded by
 * lock, which is also held while the events are checked, so a script
 * never runs twice at once.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-filter.h>

#include "vector.h"

enum event_kind { EV_CREATED, EV_DELETED, EV_PIPE, EV_PROCESS, EV_SCRIPT };

struct event {
    enum event_kind kind;
    const char *path; /* file or script, points into argv */
    int n;            /* fd or pid */
};

DEFINE_VECTOR_TYPE(event_list, struct event);

static event_list events = empty_vector;
static unsigned poll_secs = 60; /* exit-when-poll= */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned connected; /* guarded by lock */
static bool exiting;       /* guarded by lock: an event happened */
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static bool stopping; /* guarded by lock: cleanup wants the poller out */
static pthread_t poller;
static bool poller_started;

static int
exitwhen_add(enum event_kind kind, const char *path, int n)
{
    struct event e = {kind, path, n};

    if (event_list_append(&events, e) == -1) {
        nbdkit_error("exitwhen: realloc: %m");
        return -1;
    }
    return 0;
}

/* A file event; the name is made absolute, as the server may chdir. */
static int
exitwhen_add_file(enum event_kind kind, const char *value)
{
    char *path = nbdkit_absolute_path(value);
    const char *interned;

    if (path == NULL)
        return -1;
    interned = nbdkit_strdup_intern(path);
    free(path);
    if (interned == NULL)
        return -1;
    return exitwhen_add(kind, interned, 0);
}

/* A file descriptor (>= 0) or a process ID (> 0). */
static int
exitwhen_add_number(enum event_kind kind, const char *key, const char *value)
{
    int n;

    if (nbdkit_parse_int(key, value, &n) == -1)
        return -1;
    if (n < 0 || (n == 0 && kind == EV_PROCESS)) {
        nbdkit_error("%s: invalid value '%s'", key, value);
        return -1;
    }
    return exitwhen_add(kind, NULL, n);
}

static int
exitwhen_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                const char *key, const char *value)
{
    if (strcmp(key, "exit-when-file-created") == 0)
        return exitwhen_add_file(EV_CREATED, value);
    if (strcmp(key, "exit-when-file-deleted") == 0)
        return exitwhen_add_file(EV_DELETED, value);
    if (strcmp(key, "exit-when-pipe-closed") == 0)
        return exitwhen_add_number(EV_PIPE, key, value);
    if (strcmp(key, "exit-when-process-exits") == 0)
        return exitwhen_add_number(EV_PROCESS, key, value);
    if (strcmp(key, "exit-when-script") == 0)
        return exitwhen_add(EV_SCRIPT, value, 0);
    if (strcmp(key, "exit-when-poll") == 0)
        return nbdkit_parse_unsigned(key, value, &poll_secs);
    return next(nxdata, key, value);
}

#define exitwhen_config_help                                                   \
    "exit-when-file-created=<FILE>  Exit when FILE is created.\n"              \
    "exit-when-file-deleted=<FILE>  Exit when FILE is deleted.\n"              \
    "exit-when-pipe-closed=<FD>     Exit when the pipe on FD is closed.\n"     \
    "exit-when-process-exits=<PID>  Exit when process PID exits.\n"            \
    "exit-when-script=<SCRIPT>      Exit when SCRIPT exits with code 88.\n"    \
    "exit-when-poll=<SECS>          Seconds between checks when idle "         \
    "(default 60)."

/* Run the script; true if it says the event happened (exit code 88). */
static bool
exitwhen_script(const char *script)
{
    int status = system(script);

    if (status == -1) {
        nbdkit_error("exit-when-script: %m");
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 88)
        return true;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return false;
    if (WIFEXITED(status))
        nbdkit_error("exit-when-script: command failed with exit code %d",
                     WEXITSTATUS(status));
    else
        nbdkit_error("exit-when-script: command killed by a signal");
    return false;
}

static bool
exitwhen_pipe_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (poll(&p, 1, 0) == -1)
        return false;
    return (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static bool
exitwhen_happened(const struct event *e)
{
    switch (e->kind) {
    case EV_CREATED:
        return access(e->path, F_OK) == 0;
    case EV_DELETED:
        return access(e->path, F_OK) == -1 && errno == ENOENT;
    case EV_PIPE:
        return exitwhen_pipe_closed(e->n);
    case EV_PROCESS:
        return kill(e->n, 0) == -1 && errno == ESRCH;
    case EV_SCRIPT:
        return exitwhen_script(e->path);
    }
    return false;
}

/* Check the events (unless one already happened); call with lock held.
 * With no client left the server is told to shut down.
 */
static void
exitwhen_check_locked(void)
{
    size_t i;

    for (i = 0; !exiting && i < events.len; i++) {
        if (exitwhen_happened(&events.ptr[i])) {
            nbdkit_debug("exitwhen: event %zu happened", i);
            exiting = true;
        }
    }
    if (exiting && connected == 0)
        nbdkit_shutdown();
}

/* Wait poll_secs (at least 1) or until cleanup says stop; call with
 * lock held.  Returns true to stop.
 */
static bool
exitwhen_wait_locked(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += poll_secs ? poll_secs : 1;
    while (!stopping)
        if (pthread_cond_timedwait(&stop_cond, &lock, &ts) == ETIMEDOUT)
            break;
    return stopping;
}

static void *
exitwhen_poll_thread(void *arg)
{
    pthread_mutex_lock(&lock);
    do
        exitwhen_check_locked();
    while (!exitwhen_wait_locked());
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int
exitwhen_after_fork(nbdkit_backend *backend)
{
    int err;

    if (events.len == 0)
        return 0;
    err = pthread_create(&poller, NULL, exitwhen_poll_thread, NULL);
    if (err != 0) {
        errno = err;
        nbdkit_error("exitwhen: pthread_create: %m");
        return -1;
    }
    poller_started = true;
    return 0;
}

static void
exitwhen_cleanup(nbdkit_backend *backend)
{
    if (!poller_started)
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&stop_cond);
    pthread_mutex_unlock(&lock);
    pthread_join(poller, NULL);
    poller_started = false;
}

static void
exitwhen_unload(void)
{
    free(events.ptr);
}

static int
exitwhen_preconnect(nbdkit_next_preconnect *next, nbdkit_backend *nxdata,
                    int readonly)
{
    bool refuse;

    if (next(nxdata, readonly) == -1)
        return -1;
    pthread_mutex_lock(&lock);
    exitwhen_check_locked();
    refuse = exiting;
    pthread_mutex_unlock(&lock);
    if (refuse) {
        nbdkit_error("exitwhen: nbdx is exiting: rejecting new connection");
        return -1;
    }
    return 0;
}

static void *
exitwhen_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
              const char *exportname, int is_tls)
{
    if (next(context, readonly, exportname) == -1)
        return NULL;
    pthread_mutex_lock(&lock);
    connected++;
    pthread_mutex_unlock(&lock);
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static void
exitwhen_close(void *handle)
{
    pthread_mutex_lock(&lock);
    connected--;
    exitwhen_check_locked();
    pthread_mutex_unlock(&lock);
}

static struct nbdkit_filter filter = {
    .name = "exitwhen",
    .longname = "nbdx exitwhen filter",
    .unload = exitwhen_unload,
    .config = exitwhen_config,
    .config_help = exitwhen_config_help,
    .after_fork = exitwhen_after_fork,
    .cleanup = exitwhen_cleanup,
    .preconnect = exitwhen_preconnect,
    .open = exitwhen_open,
    .close = exitwhen_close,
};

NBDKIT_REGISTER_FILTER(filter)
