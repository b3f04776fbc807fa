/* SPDX-License-Identifier: BSD-3-Clause */
/* test-call.c: unit tests of call.h: exit statuses and their meaning,
 * output captured on both streams, 8 MiB through stdin and back (which
 * deadlocks unless the pipes are served together), a child that does
 * not read its stdin, a program that cannot be run, and errno names.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "call.h"
#include "unit.h"

/* Run the shell fragment SCRIPT with IN on stdin into *O. */
static int
run_sh(const char *script, const void *in, size_t inlen, struct call_output *o)
{
    const char *argv[] = {"/bin/sh", "-c", script, "sh", NULL};
    return call_run(argv, in, inlen, o);
}

static void
test_status(void)
{
    struct call_output o;
    static const struct {
        const char *script;
        enum call_status st;
    } cases[] = {
        {"exit 0", CALL_OK},        {"exit 1", CALL_ERROR},
        {"exit 2", CALL_MISSING},   {"exit 3", CALL_FALSE},
        {"exit 4", CALL_ERROR},     {"exit 7", CALL_ERROR},
        {"exit 8", CALL_ERROR},     {"exit 255", CALL_ERROR},
        {"kill -9 $$", CALL_ERROR},
    };
    size_t i;

    unit_group("exit statuses");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(run_sh(cases[i].script, NULL, 0, &o) == 0);
        CHECK(call_status_of(o.wstatus) == cases[i].st);
        CHECK(o.out != NULL && o.outlen == 0 && o.out[0] == '\0');
        call_output_free(&o);
    }
    CHECK(run_sh("kill -9 $$", NULL, 0, &o) == 0);
    CHECK(WIFSIGNALED(o.wstatus) && WTERMSIG(o.wstatus) == 9);
    call_output_free(&o);
    call_output_free(&o); /* empty: a no-op */
}

static void
test_streams(void)
{
    struct call_output o;
    const char *argv[] = {
        "/bin/sh", "-c", "printf '%s|%s' \"$1\" \"$2\"", "sh", "a b", "", NULL};

    unit_group("stdout, stderr and arguments");
    CHECK(run_sh("printf out; printf 'ENOSPC no room\\n' >&2; exit 1", NULL, 0,
                 &o) == 0);
    CHECK(o.outlen == 3 && strcmp(o.out, "out") == 0);
    CHECK(o.errlen == 15 && strcmp(o.err, "ENOSPC no room\n") == 0);
    call_output_free(&o);
    CHECK(call_run(argv, NULL, 0, &o) == 0);
    CHECK(strcmp(o.out, "a b|") == 0);
    call_output_free(&o);
}

static void
test_big(void)
{
    size_t n = 8 << 20, i;
    char *in = malloc(n);
    struct call_output o;

    unit_group("8 MiB in and out at once");
    CHECK(in != NULL);
    if (in == NULL)
        return;
    for (i = 0; i < n; i++)
        in[i] = (char)(i * 7 + i / 4096);
    /* cat writes while it reads: both pipes fill unless served together.
     * The copy to stderr fills that one too.
     */
    CHECK(run_sh("tee /dev/stderr", in, n, &o) == 0);
    CHECK(call_status_of(o.wstatus) == CALL_OK);
    CHECK(o.outlen == n && memcmp(o.out, in, n) == 0);
    CHECK(o.errlen == n && memcmp(o.err, in, n) == 0);
    call_output_free(&o);
    CHECK(run_sh("exit 0", in, n, &o) == 0); /* stdin never read */
    CHECK(call_status_of(o.wstatus) == CALL_OK);
    call_output_free(&o);
    CHECK(run_sh("head -c 10", in, n, &o) == 0); /* stops half way */
    CHECK(o.outlen == 10 && memcmp(o.out, in, 10) == 0);
    call_output_free(&o);
    free(in);
}

static void
test_exec_fails(void)
{
    struct call_output o;
    const char *missing[] = {"/nonexistent/prog", "x", NULL};
    const char *notexec[] = {"/dev/null", NULL};
    size_t m;

    unit_group("programs that cannot run");
    CHECK(call_run(missing, NULL, 0, &o) == 0);
    CHECK(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 127);
    CHECK(call_status_of(o.wstatus) == CALL_ERROR);
    CHECK(call_errno_parse(o.err, o.errlen, &m) == ENOENT);
    CHECK(strstr(o.err, "/nonexistent/prog") != NULL);
    call_output_free(&o);
    CHECK(call_run(notexec, NULL, 0, &o) == 0);
    CHECK(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 126);
    call_output_free(&o);
}

static void
test_errno(void)
{
    size_t m;
    const char *s;

    unit_group("errno names");
    s = "ENOSPC no room\n";
    CHECK(call_errno_parse(s, strlen(s), &m) == ENOSPC && m == 7);
    s = "EPERM";
    CHECK(call_errno_parse(s, strlen(s), &m) == EPERM && m == 5);
    s = "erofs \t read-only";
    CHECK(call_errno_parse(s, strlen(s), &m) == EROFS && m == 8);
    s = "EOPNOTSUPP\n";
    CHECK(call_errno_parse(s, strlen(s), &m) == EOPNOTSUPP && m == 11);
    s = "ENOSPCX no";
    CHECK(call_errno_parse(s, strlen(s), &m) == EIO && m == 0);
    s = "something broke";
    CHECK(call_errno_parse(s, strlen(s), &m) == EIO && m == 0);
    CHECK(call_errno_parse("", 0, &m) == EIO && m == 0);
    /* Only LEN bytes are looked at. */
    CHECK(call_errno_parse("EIOX", 3, &m) == EIO && m == 3);
    CHECK(call_errno_parse("EPERM", 2, &m) == EIO && m == 0);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as call.h asks, and as nbdx does */
    test_status();
    test_streams();
    test_big();
    test_exec_fails();
    test_errno();
    return unit_finish();
}
