/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: the life of the server process.
 *
 * Order of events: parse options; handle the ones that only print
 * (--dump-config, --short-options, ...); find and load the plugin and the
 * filters; pass parameters down the stack; config_complete; settle the
 * thread model; get_ready; bind; drop privileges; daemonise; after_fork;
 * write the pidfile; serve until quit; cleanup and unload.  The steps
 * themselves are in options.c, stack.c, sockets.c and usergroup.c.
 *
 * The state here is the process's, not the command line's: each piece
 * is a named global (see internal.h for why not a struct), written only
 * before the first connection.
 */

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

const char *program_name = "nbdx";
bool forked_into_background;
unsigned socket_activation;
pid_t original_parent;

static char *private_dir; /* owned: mkdtemp dir of -U -, removed at exit */
static char **saved_argv; /* owned array of argv's strings, in the order
                             before getopt permutes them */

/* -U -: a socket in a fresh private directory. */
static void
main_make_private_socket(struct options *o)
{
    const char *tmpdir = getenv("TMPDIR");
    char *sock;

    if (o->unixsocket == NULL || strcmp(o->unixsocket, "-") != 0)
        return;
    if (tmpdir == NULL || tmpdir[0] != '/' || strlen(tmpdir) > 60)
        tmpdir = "/tmp";
    if (asprintf(&private_dir, "%s/nbdxXXXXXX", tmpdir) == -1)
        fatal("asprintf: %m");
    if (mkdtemp(private_dir) == NULL)
        fatal("mkdtemp: %s: %m", private_dir);
    if (asprintf(&sock, "%s/socket", private_dir) == -1)
        fatal("asprintf: %m");
    o->unixsocket = sock;
}

static void
main_remove_private_socket(void)
{
    if (private_dir == NULL)
        return;
    unlink(opts->unixsocket);
    rmdir(private_dir);
    free(private_dir);
    private_dir = NULL;
}

static void
main_daemonise(void)
{
    pid_t pid = fork();
    int fd;

    if (pid == -1)
        fatal("fork: %m");
    if (pid > 0)
        _exit(0);
    if (setsid() == -1)
        fatal("setsid: %m");
    if (chdir("/") == -1)
        fatal("chdir: /: %m");
    forked_into_background = true;
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd == -1)
        fatal("open: /dev/null: %m");
    dup2(fd, 0);
    dup2(fd, 1);
    if (!opts->verbose)
        dup2(fd, 2);
    close(fd);
}

/* Opened before privileges are dropped, written once ready. */
static int pidfile_fd = -1;

static void
main_open_pidfile(void)
{
    if (opts->pidfile == NULL)
        return;
    pidfile_fd =
        open(opts->pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC,
             0644);
    if (pidfile_fd == -1)
        fatal("open: %s: %m", opts->pidfile);
}

static void
main_write_pidfile(void)
{
    char buf[32];
    int len;

    if (pidfile_fd == -1)
        return;
    len = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    if (write(pidfile_fd, buf, len) != len || close(pidfile_fd) == -1)
        fatal("write: %s: %m", opts->pidfile);
    pidfile_fd = -1;
    debug("wrote pidfile %s", opts->pidfile);
}

/* -s: stdin and stdout are the client. */
static void
main_serve_stdin(void)
{
    main_open_pidfile();
    usergroup_change();
    stack_after_fork();
    main_write_pidfile();
    handle_single_connection(0, 1);
}

static void
main_serve_sockets(void)
{
    int_vector fds = empty_vector;
    size_t i;

    main_make_private_socket(&options);
    main_open_pidfile();
    sockets_bind(&fds);
    usergroup_change();
    if (opts->print_uri)
        uri_print();
    if (!opts->foreground)
        main_daemonise();
    stack_after_fork();
    main_write_pidfile();
    run_command();
    sockets_accept_loop(&fds);
    for (i = 0; i < fds.len; i++)
        close(fds.ptr[i]);
    int_vector_reset(&fds);
}

static NORETURN void
main_shutdown(void)
{
    int status = captive_exit_status();

    connections_wait_all();
    stack_unload();
    debug_flags_check_unused();
    main_remove_private_socket();
    name_vector_reset(&options.filters);
    free(saved_argv);
    exit(status);
}

/* Request buffers (up to 32 MiB) come and go with every request.  By
 * default glibc maps the large ones fresh each time and trims freed heap
 * memory eagerly, so every request pays page faults.  Keep them in the
 * heap instead; connection.c trims when a connection ends.
 */
static void
main_tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
}

int
main(int argc, char *argv[])
{
    int first;

    saved_argv = malloc((argc + 1) * sizeof *saved_argv);
    if (saved_argv == NULL)
        fatal("malloc: %m");
    memcpy(saved_argv, argv, (argc + 1) * sizeof *saved_argv);
    original_parent = getppid();
    umask(022);
    main_tune_malloc();
    threadlocal_init();
    quit_init();
    socket_activation = socket_activation_get();

    first = options_parse(&options, argc, argv);
    options_early_exits(opts, argc, first);
    options_check(&options);
    usergroup_parse();
    if (opts->exit_with_parent)
        exit_with_parent_setup();
    debug_flags_apply("nbdx", RTLD_DEFAULT);

    stack_load(argv[first], saved_argv);
    stack_early_exits(argc, argv, first + 1);
    stack_configure(argc, argv, first + 1);
    stack_config_complete();
    if (opts->swap && mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
        fatal("--swap: mlockall: %m");
    stack_set_thread_model();
    stack_get_ready();

    quit_handle_signals();
    if (opts->listen_stdin)
        main_serve_stdin();
    else
        main_serve_sockets();
    main_shutdown();
}
