/* SPDX-License-Identifier: BSD-3-Clause */
/* pause.c: hold NBD requests while paused through a control socket.
 *
 * A thread serves the unix socket pause-control=SOCKET, one control
 * client at a time: 'p' pauses and answers 'P' once the requests already
 * running have finished, 'r' resumes and answers 'R', blanks are
 * skipped and anything else is answered 'X'.  A request arriving while
 * paused waits until resumed.  paused and running are guarded by lock;
 * cond is signalled when either changes.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nbdkit-filter.h>

static const char *control_path; /* pause-control=, absolute, interned */
static int listen_fd = -1;
static int wake_pipe[2] = {-1, -1}; /* cleanup writes to stop the thread */
static pthread_t control_thread;
static bool thread_started;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool paused;      /* guarded by lock */
static unsigned running; /* guarded by lock: requests in the plugin */

static int
pause_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    char *path;

    if (strcmp(key, "pause-control") != 0)
        return next(nxdata, key, value);
    path = nbdkit_absolute_path(value);
    if (path == NULL)
        return -1;
    control_path = nbdkit_strdup_intern(path);
    free(path);
    return control_path ? 0 : -1;
}

static int
pause_config_complete(nbdkit_next_config_complete *next, nbdkit_backend *nxdata)
{
    if (control_path == NULL) {
        nbdkit_error("pause-control socket was not set");
        return -1;
    }
    return next(nxdata);
}

#define pause_config_help                                                      \
    "pause-control=<SOCKET> (required) The control socket to listen on."

/* Pause: no new request starts, and wait for the running ones. */
static void
pause_pause(void)
{
    pthread_mutex_lock(&lock);
    paused = true;
    while (running > 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static void
pause_resume(void)
{
    pthread_mutex_lock(&lock);
    paused = false;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

/* The answer to one command byte, or 0 for none. */
static char
pause_command(char c)
{
    switch (c) {
    case 'p':
        pause_pause();
        return 'P';
    case 'r':
        pause_resume();
        return 'R';
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        return 0;
    default:
        return 'X';
    }
}

/* Wait for fd or the wake pipe; false if the thread should stop. */
static bool
pause_wait(int fd)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                          {.fd = wake_pipe[0], .events = POLLIN}};

    for (;;) {
        if (poll(p, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (p[1].revents)
            return false;
        if (p[0].revents)
            return true;
    }
}

/* Serve one control client until it hangs up. */
static void
pause_serve(int fd)
{
    char buf[64], reply;
    ssize_t n, i;

    while (pause_wait(fd)) {
        n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (i = 0; i < n; i++) {
            reply = pause_command(buf[i]);
            if (reply && write(fd, &reply, 1) != 1)
                return;
        }
    }
}

static void *
pause_control_loop(void *arg)
{
    int fd;

    while (pause_wait(listen_fd)) {
        fd = accept(listen_fd, NULL, NULL);
        if (fd == -1)
            continue;
        pause_serve(fd);
        close(fd);
    }
    return NULL;
}

static int
pause_listen(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    if (strlen(control_path) >= sizeof addr.sun_path) {
        nbdkit_error("pause-control: socket path too long: %s", control_path);
        return -1;
    }
    strcpy(addr.sun_path, control_path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd == -1) {
        nbdkit_error("pause-control: socket: %m");
        return -1;
    }
    unlink(control_path);
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listen_fd, 4) == -1) {
        nbdkit_error("pause-control: %s: %m", control_path);
        return -1;
    }
    return 0;
}

static int
pause_after_fork(nbdkit_backend *backend)
{
    int err;

    if (pause_listen() == -1)
        return -1;
    if (pipe2(wake_pipe, O_CLOEXEC) == -1) {
        nbdkit_error("pause-control: pipe: %m");
        return -1;
    }
    err = pthread_create(&control_thread, NULL, pause_control_loop, NULL);
    if (err != 0) {
        errno = err;
        nbdkit_error("pause-control: pthread_create: %m");
        return -1;
    }
    thread_started = true;
    return 0;
}

static void
pause_cleanup(nbdkit_backend *backend)
{
    if (thread_started) {
        if (write(wake_pipe[1], "q", 1) != 1)
            nbdkit_debug("pause: cannot wake the control thread");
        pthread_join(control_thread, NULL);
        thread_started = false;
    }
    pause_resume();
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(control_path);
        listen_fd = -1;
    }
}

/* Around every request: wait while paused, count it while running. */
static void
pause_begin(void)
{
    pthread_mutex_lock(&lock);
    while (paused)
        pthread_cond_wait(&cond, &lock);
    running++;
    pthread_mutex_unlock(&lock);
}

static int
pause_end(int r)
{
    pthread_mutex_lock(&lock);
    if (--running == 0)
        pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return r;
}

static int
pause_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
            uint64_t offset, uint32_t flags, int *err)
{
    pause_begin();
    return pause_end(next->pread(next, buf, count, offset, flags, err));
}

static int
pause_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
             uint64_t offset, uint32_t flags, int *err)
{
    pause_begin();
    return pause_end(next->pwrite(next, buf, count, offset, flags, err));
}

static int
pause_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    pause_begin();
    return pause_end(next->zero(next, count, offset, flags, err));
}

static int
pause_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
           uint32_t flags, int *err)
{
    pause_begin();
    return pause_end(next->trim(next, count, offset, flags, err));
}

static int
pause_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    pause_begin();
    return pause_end(next->flush(next, flags, err));
}

static int
pause_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    pause_begin();
    return pause_end(next->extents(next, count, offset, flags, extents, err));
}

static int
pause_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *err)
{
    pause_begin();
    return pause_end(next->cache(next, count, offset, flags, err));
}

static struct nbdkit_filter filter = {
    .name = "pause",
    .longname = "nbdx pause filter",
    .config = pause_config,
    .config_complete = pause_config_complete,
    .config_help = pause_config_help,
    .after_fork = pause_after_fork,
    .cleanup = pause_cleanup,
    .pread = pause_pread,
    .pwrite = pause_pwrite,
    .zero = pause_zero,
    .trim = pause_trim,
    .flush = pause_flush,
    .extents = pause_extents,
    .cache = pause_cache,
};

NBDKIT_REGISTER_FILTER(filter)
