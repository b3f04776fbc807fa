/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-common.c: one in-process connection per fuzz input.
 *
 * The server code is linked in (main.c with main renamed), so the
 * harness sets the options main would parse, loads the fuzz plugin the
 * way main does, and then runs handle_single_connection in a thread on one
 * end of a socketpair while this thread plays the client on the other.
 */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "nbd-protocol.h"
#include "options.h"

#include "fuzz-common.h"

/* The number of open file descriptors.  Compared before and after each
 * input, not kept from the start: the sanitizers' symbolizer keeps
 * pipes open once libFuzzer first prints a new function.
 */
static size_t
fuzz_count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    size_t n = 0;

    if (dir == NULL) {
        perror("fuzz: /proc/self/fd");
        abort();
    }
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n;
}

struct fuzz_plugin_control *
fuzz_setup(void)
{
    static struct fuzz_plugin_control *ctl;
    const char *path = getenv("NBDX_FUZZ_PLUGIN");

    if (ctl)
        return ctl;
    if (path == NULL)
        path = FUZZ_PLUGIN;
    threadlocal_init();
    quit_init();
    if (getenv("NBDX_FUZZ_VERBOSE"))
        options.verbose = true;
    else
        log_set_target("null");
    options.threads = 1;
    options.tls = 0;
    top = plugin_load(path, NULL);
    top->config_complete(top);
    thread_model = top->thread_model(top);
    lock_init_thread_model();
    if (top->get_ready(top) == -1 || top->after_fork(top) == -1) {
        fprintf(stderr, "fuzz: the plugin failed to start\n");
        abort();
    }
    ctl = dlsym(top->dl, "fuzz_plugin_control");
    if (ctl == NULL) {
        fprintf(stderr, "fuzz: %s is not the fuzz plugin\n", path);
        abort();
    }
    signal(SIGPIPE, SIG_IGN);
    return ctl;
}

static void *
fuzz_server_thread(void *arg)
{
    int fd = *(int *)arg;

    handle_single_connection(fd, fd);
    return NULL;
}

/* After this long without a byte from the server, the harness asks the
 * server to quit, as SIGTERM would.  The connection must then end: a
 * request that keeps the server busy for minutes (a huge TRIM with
 * extended headers) is fine only if quitting stops it.  libFuzzer's
 * -timeout reports the input if it does not.
 */
#define FUZZ_STALL_MS 3000

/* Undo the quit of a stalled connection before the next input. */
static void
fuzz_unquit(void)
{
    char buf[64];

    while (read(quit_fd, buf, sizeof buf) > 0)
        ;
    quit = 0;
}

/* Write data to fd while reading everything the server sends, until the
 * server closes its end.  Returns true if the server had to be told to
 * quit.
 */
static bool
fuzz_pump(int fd, const uint8_t *data, size_t len)
{
    char sink[65536];
    struct pollfd pfd = {.fd = fd};
    bool shut = false, quitted = false;
    ssize_t r;
    int n;

    for (;;) {
        if (!shut && len == 0) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        pfd.events = POLLIN | (shut ? 0 : POLLOUT);
        n = poll(&pfd, 1, quitted ? -1 : FUZZ_STALL_MS);
        if (n == -1 && errno != EINTR)
            abort();
        if (n == 0) {
            set_quit();
            quitted = true;
            continue;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            r = read(fd, sink, sizeof sink);
            if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR))
                return quitted;
        }
        if (!shut && (pfd.revents & POLLOUT)) {
            r = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r == -1 && errno != EAGAIN && errno != EINTR)
                len = 0; /* the server hung up: stop writing */
            else if (r > 0) {
                data += r;
                len -= r;
            }
        }
    }
}

void
fuzz_serve(const uint8_t *data, size_t len)
{
    int sv[2];
    pthread_t tid;
    size_t fds = fuzz_count_fds();
    bool quitted;
    int err;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
        perror("fuzz: socketpair");
        abort();
    }
    err = pthread_create(&tid, NULL, fuzz_server_thread, &sv[0]);
    if (err != 0) {
        fprintf(stderr, "fuzz: pthread_create: %s\n", strerror(err));
        abort();
    }
    quitted = fuzz_pump(sv[1], data, len);
    pthread_join(tid, NULL);
    close(sv[1]);
    if (quitted)
        fuzz_unquit();
    if (fuzz_count_fds() != fds) {
        fprintf(stderr, "fuzz: the connection leaked a file descriptor\n");
        abort();
    }
}

/* ---- Building client streams ---- */

void
fuzz_put(struct fuzz_stream *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        uint8_t *q;

        while (cap < s->len + n)
            cap *= 2;
        q = realloc(s->ptr, cap);
        if (q == NULL)
            abort();
        s->ptr = q;
        s->cap = cap;
    }
    if (n)
        memcpy(s->ptr + s->len, p, n);
    s->len += n;
}

void
fuzz_put_be16(struct fuzz_stream *s, uint16_t v)
{
    v = htobe16(v);
    fuzz_put(s, &v, sizeof v);
}

void
fuzz_put_be32(struct fuzz_stream *s, uint32_t v)
{
    v = htobe32(v);
    fuzz_put(s, &v, sizeof v);
}

void
fuzz_put_be64(struct fuzz_stream *s, uint64_t v)
{
    v = htobe64(v);
    fuzz_put(s, &v, sizeof v);
}

void
fuzz_stream_free(struct fuzz_stream *s)
{
    free(s->ptr);
    s->ptr = NULL;
    s->len = s->cap = 0;
}

void
fuzz_put_cflags(struct fuzz_stream *s)
{
    fuzz_put_be32(s, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
}

void
fuzz_put_option(struct fuzz_stream *s, uint32_t code, const void *data,
                uint32_t len)
{
    fuzz_put_be64(s, NBD_NEW_VERSION);
    fuzz_put_be32(s, code);
    fuzz_put_be32(s, len);
    fuzz_put(s, data, len);
}

void
fuzz_put_set_meta(struct fuzz_stream *s)
{
    static const char ctx[] = "base:allocation";
    struct fuzz_stream d = {0};

    fuzz_put_be32(&d, 0); /* export name length: the default export */
    fuzz_put_be32(&d, 1); /* one query */
    fuzz_put_be32(&d, sizeof ctx - 1);
    fuzz_put(&d, ctx, sizeof ctx - 1);
    fuzz_put_option(s, NBD_OPT_SET_META_CONTEXT, d.ptr, d.len);
    fuzz_stream_free(&d);
}

void
fuzz_put_go(struct fuzz_stream *s)
{
    static const uint8_t empty[6]; /* name length 0, 0 info requests */

    fuzz_put_option(s, NBD_OPT_GO, empty, sizeof empty);
}

void
fuzz_put_request(struct fuzz_stream *s, int extended, uint16_t flags,
                 uint16_t type, uint64_t offset, uint64_t count)
{
    static uint64_t cookie;

    fuzz_put_be32(s, extended ? NBD_EXTENDED_REQUEST_MAGIC : NBD_REQUEST_MAGIC);
    fuzz_put_be16(s, flags);
    fuzz_put_be16(s, type);
    fuzz_put_be64(s, ++cookie);
    fuzz_put_be64(s, offset);
    if (extended)
        fuzz_put_be64(s, count);
    else
        fuzz_put_be32(s, (uint32_t)count);
}

/* ---- Reading inputs ---- */

uint8_t
fuzz_get8(struct fuzz_input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

uint16_t
fuzz_get16(struct fuzz_input *in)
{
    uint16_t hi = fuzz_get8(in);

    return hi << 8 | fuzz_get8(in);
}

uint32_t
fuzz_get32(struct fuzz_input *in)
{
    uint32_t hi = fuzz_get16(in);

    return hi << 16 | fuzz_get16(in);
}

uint64_t
fuzz_get64(struct fuzz_input *in)
{
    uint64_t hi = fuzz_get32(in);

    return hi << 32 | fuzz_get32(in);
}

/* ---- The plugin's answers ---- */

void
fuzz_control_reset(struct fuzz_plugin_control *ctl, uint8_t sel)
{
    static const uint32_t sizes[][3] = {
        {0, 0, 0},                     /* no constraints */
        {1, 4096, 0xffffffff},         /* what nbdkit reports by default */
        {512, 4096, 32 * 1024 * 1024}, /* a typical disk */
        {4096, 65536, 65536},          /* large blocks, small maximum */
        {65536, 65536, 1024 * 1024},   /* the largest minimum allowed */
        {3, 4096, 4096},               /* invalid: minimum not a power of 2 */
        {4096, 512, 8192},             /* invalid: minimum > preferred */
        {512, 4096, 1024},             /* invalid: preferred > maximum */
    };
    const uint32_t *b = sizes[sel % (sizeof sizes / sizeof sizes[0])];

    memset(ctl, 0, sizeof *ctl);
    ctl->minimum = b[0];
    ctl->preferred = b[1];
    ctl->maximum = b[2];
}
