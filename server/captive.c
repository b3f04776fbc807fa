/* SPDX-License-Identifier: BSD-3-Clause */
/* captive.c: --run and --exit-with-parent.
 *
 * --run: once the sockets listen, the command runs under /bin/sh with the
 * shell variables uri, nbd, port, unixsocket, exportname and (unless TLS
 * is off) tls, tls_certificates and tls_psk set in front of it.  A
 * thread waits for it; when it ends the server quits and exits with the
 * command's status.
 *
 * --exit-with-parent: the kernel sends us SIGTERM when our parent dies,
 * which quits like any SIGTERM.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"
#include "shell-quote.h"

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static int command_status; /* guarded by status_lock; 0 until it ends */

/* NAME='VALUE' with VALUE single-quoted for sh; NULL is ''. */
static void
captive_assign(FILE *fp, const char *name, const char *value)
{
    fprintf(fp, "%s=", name);
    shell_quote_fp(fp, value ? value : "");
    fputc('\n', fp);
}

/* tls=1 (on) or 2 (require), and where the client finds credentials;
 * all unset when TLS is off.
 */
static void
captive_tls(FILE *fp)
{
    if (opts->tls <= 0)
        return;
    fprintf(fp, "tls=%d\n", opts->tls);
    if (opts->tls_certificates_dir)
        captive_assign(fp, "tls_certificates", opts->tls_certificates_dir);
    if (opts->tls_psk)
        captive_assign(fp, "tls_psk", opts->tls_psk);
}

/* The script run by sh: variable assignments, then the command. */
static char *
captive_script(void)
{
    CLEANUP_FREE char *uri = uri_make();
    const char *tcp_port =
        opts->unixsocket ? NULL : (opts->port ? opts->port : "10809");
    char *s = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&s, &len);

    if (fp == NULL)
        fatal("open_memstream: %m");
    captive_assign(fp, "uri", uri);
    captive_assign(fp, "nbd", uri);
    captive_assign(fp, "port", tcp_port);
    captive_assign(fp, "unixsocket", opts->unixsocket);
    captive_assign(fp, "exportname", opts->exportname);
    captive_tls(fp);
    fprintf(fp, "%s\n", opts->run);
    if (fclose(fp) == EOF)
        fatal("open_memstream: %m");
    return s;
}

static int
captive_decode(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

static void *
captive_wait(void *vp)
{
    pid_t pid = *(pid_t *)vp;
    int status;

    free(vp);
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            nbdkit_error("waitpid: %m");
            status = 1 << 8; /* as if it exited 1 */
            break;
        }
    }
    pthread_mutex_lock(&status_lock);
    command_status = captive_decode(status);
    pthread_mutex_unlock(&status_lock);
    debug("--run command exited with status %d", captive_decode(status));
    set_quit();
    return NULL;
}

/* In the child: undo the server's signal handling, run the script. */
static NORETURN void
captive_exec(const char *script)
{
    sigset_t all;

    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    perror("nbdx: --run: /bin/sh");
    _exit(127);
}

void
run_command(void)
{
    CLEANUP_FREE char *script = NULL;
    pthread_t thread;
    pid_t *pidp;
    int err;

    if (opts->run == NULL)
        return;
    script = captive_script();
    pidp = malloc(sizeof *pidp);
    if (pidp == NULL)
        fatal("malloc: %m");
    *pidp = fork();
    if (*pidp == -1)
        fatal("fork: %m");
    if (*pidp == 0)
        captive_exec(script);
    debug("--run: started command as pid %d", (int)*pidp);
    err = pthread_create(&thread, NULL, captive_wait, pidp);
    if (err != 0) {
        errno = err;
        fatal("pthread_create: %m");
    }
    pthread_detach(thread);
}

int
captive_exit_status(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&status_lock);
    return command_status;
}

void
exit_with_parent_setup(void)
{
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
        fatal("prctl: PR_SET_PDEATHSIG: %m");
    /* The parent may have died before prctl took effect. */
    if (getppid() != original_parent)
        set_quit();
}
