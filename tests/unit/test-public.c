/* SPDX-License-Identifier: BSD-3-Clause */
/* test-public.c: unit tests of server/public.c.
 *
 * The file under test is included so the tests can see the interned
 * string lists.
 */

#include "../../server/public.c"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/stat.h>

#include "stubs.h"
#include "unit.h"

/* ---- nbdkit_parse_size ---- */

static void
test_parse_size(void)
{
    static const struct {
        const char *str;
        int64_t want;
    } cases[] = {
        {"0", 0},
        {"-0", 0},
        {"+0", 0},
        {" 08", 8}, /* decimal, never octal */
        {"1", 1},
        {"1234567890", 1234567890},
        {"9223372036854775807", INT64_MAX},
        {"1b", 1},
        {"1B", 1},
        {"1s", 512},
        {"2S", 1024},
        {"1k", 1024},
        {"1K", 1024},
        {"1m", 1 << 20},
        {"+1M", 1 << 20},
        {"1g", INT64_C(1) << 30},
        {"1T", INT64_C(1) << 40},
        {"1p", INT64_C(1) << 50},
        {"8191P", INT64_C(8191) << 50},
        {"1e", INT64_C(1) << 60},
        {"7E", INT64_C(7) << 60},
        /* Errors. */
        {"", -1},
        {" ", -1},
        {"garbage", -1},
        {"0x10", -1},
        {"1.5M", -1},
        {"1MB", -1},
        {"1MiB", -1},
        {"M", -1},
        {"1 M", -1},
        {"-1", -1},
        {"-9223372036854775808", -1},
        {"9223372036854775808", -1},
        {"18446744073709551616", -1},
        {"999999999999999999999999", -1},
        {"8E", -1},
        {"8192P", -1},
        {"9007199254740992k", -1},
    };
    size_t i;
    int64_t r;

    unit_group("nbdkit_parse_size");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stub_reset();
        r = nbdkit_parse_size(cases[i].str);
        if (!CHECK(r == cases[i].want) ||
            !CHECK((r == -1) == (stub_errors == 1)))
            printf("   for \"%s\": got %" PRId64 "\n", cases[i].str, r);
    }
}

/* ---- nbdkit_parse_int and friends ---- */

#define PARSE_OK(TYPE, STR, WANT)                                              \
    do {                                                                       \
        TYPE v_ = 42;                                                          \
        stub_reset();                                                          \
        CHECK(nbdkit_parse_##TYPE("test", (STR), &v_) == 0 &&                  \
              v_ == (TYPE)(WANT) && stub_errors == 0);                         \
    } while (0)
/* On error the result is untouched and the message names `what`. */
#define PARSE_BAD(TYPE, STR)                                                   \
    do {                                                                       \
        TYPE v_ = 42;                                                          \
        stub_reset();                                                          \
        CHECK(nbdkit_parse_##TYPE("what-it-is", (STR), &v_) == -1 &&           \
              v_ == 42 && stub_errors == 1 &&                                  \
              strstr(stub_last_error, "what-it-is") != NULL);                  \
    } while (0)

static void
test_parse_int(void)
{
    static const char *const junk[] = {
        "",   "-",   "- 0", "+",   "++0", "--0", "0x",      "0xg",
        "08", "42x", "1,0", "0.0", "inf", "nan", "garbage", "1 ",
    };
    size_t i;

    unit_group("nbdkit_parse_int");
    PARSE_OK(int, "0", 0);
    PARSE_OK(int, " 1", 1);
    PARSE_OK(int, "+99", 99);
    PARSE_OK(int, "-99", -99);
    PARSE_OK(int, "0x1F", 31);
    PARSE_OK(int, "-0xf", -15);
    PARSE_OK(int, "010", 8);
    PARSE_OK(int, "2147483647", INT_MAX);
    PARSE_OK(int, "-2147483648", INT_MIN);
    PARSE_BAD(int, "2147483648");
    PARSE_BAD(int, "-2147483649");
    PARSE_BAD(int, "999999999999999999999999");
    for (i = 0; i < sizeof junk / sizeof junk[0]; i++)
        PARSE_BAD(int, junk[i]);
    stub_reset();
    CHECK(nbdkit_parse_int("test", "5", NULL) == 0); /* result discarded */

    unit_group("nbdkit_parse_unsigned");
    PARSE_OK(unsigned, "0", 0);
    PARSE_OK(unsigned, "+0xf", 15);
    PARSE_OK(unsigned, "4294967295", UINT_MAX);
    PARSE_BAD(unsigned, "4294967296");
    PARSE_BAD(unsigned, "-0");
    PARSE_BAD(unsigned, " -1");
    PARSE_BAD(unsigned, "-0x1");

    unit_group("nbdkit_parse_int8_t .. uint64_t bounds");
    PARSE_OK(int8_t, "0x7f", INT8_MAX);
    PARSE_OK(int8_t, "-0x80", INT8_MIN);
    PARSE_BAD(int8_t, "0x80");
    PARSE_BAD(int8_t, "-0x81");
    PARSE_OK(uint8_t, "0xff", UINT8_MAX);
    PARSE_BAD(uint8_t, "0x100");
    PARSE_BAD(uint8_t, "-1");
    PARSE_OK(int16_t, "0x7fff", INT16_MAX);
    PARSE_OK(int16_t, "-0x8000", INT16_MIN);
    PARSE_BAD(int16_t, "0x8000");
    PARSE_BAD(int16_t, "-0x8001");
    PARSE_OK(uint16_t, "0xffff", UINT16_MAX);
    PARSE_BAD(uint16_t, "0x10000");
    PARSE_BAD(uint16_t, "-1");
    PARSE_OK(int32_t, "0x7fffffff", INT32_MAX);
    PARSE_OK(int32_t, "-0x80000000", INT32_MIN);
    PARSE_BAD(int32_t, "0x80000000");
    PARSE_BAD(int32_t, "-0x80000001");
    PARSE_OK(uint32_t, "0xffffffff", UINT32_MAX);
    PARSE_BAD(uint32_t, "0x100000000");
    PARSE_BAD(uint32_t, "-1");
    PARSE_OK(int64_t, "0x7fffffffffffffff", INT64_MAX);
    PARSE_OK(int64_t, "-0x8000000000000000", INT64_MIN);
    PARSE_BAD(int64_t, "0x8000000000000000");
    PARSE_BAD(int64_t, "-0x8000000000000001");
    PARSE_OK(uint64_t, "0xffffffffffffffff", UINT64_MAX);
    PARSE_OK(uint64_t, "18446744073709551615", UINT64_MAX);
    PARSE_BAD(uint64_t, "0x10000000000000000");
    PARSE_BAD(uint64_t, "-1");
    PARSE_BAD(uint64_t, "1x");
}

/* ---- booleans, probabilities, delays ---- */

static void
test_parse_bool(void)
{
    static const char *const yes[] = {"1",   "true", "TRUE", "t",
                                      "yes", "Y",    "on",   "On"};
    static const char *const no[] = {"0", "false", "F",  "no",
                                     "N", "off",   "OFF"};
    static const char *const bad[] = {"", "2", "yess", "of", " on", "nope"};
    size_t i;

    unit_group("nbdkit_parse_bool");
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(nbdkit_parse_bool(yes[i]) == 1);
    for (i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(nbdkit_parse_bool(no[i]) == 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        stub_reset();
        CHECK(nbdkit_parse_bool(bad[i]) == -1 && stub_errors == 1);
    }
}

static void
test_parse_probability(void)
{
    static const struct {
        const char *str;
        double want;
    } good[] = {
        {"0", 0},      {"1", 1},           {"2", 2},           {"0.1", 0.1},
        {"1e-1", 0.1}, {"10%", 0.1},       {"90.25%", 0.9025}, {"1:10", 0.1},
        {"1/10", 0.1}, {"2/99", 2.0 / 99}, {"0:1000", 0},      {"200%", 2},
    };
    static const char *const bad[] = {
        "",    "x",   "0x", "1X", "1%%",  "1:",   "1:1:1",        "1:0",   "1/",
        "inf", "nan", "-1", "-0", "-1/1", "1/-1", "1e200/1e-200", "1e999",
    };
    size_t i;
    double d;

    unit_group("nbdkit_parse_probability");
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        d = -1;
        if (!CHECK(nbdkit_parse_probability("p", good[i].str, &d) == 0 &&
                   d == good[i].want))
            printf("   for \"%s\": got %g\n", good[i].str, d);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        stub_reset();
        d = 42;
        if (!CHECK(nbdkit_parse_probability("prob", bad[i], &d) == -1 &&
                   d == 42 && stub_errors == 1 &&
                   strstr(stub_last_error, "prob") != NULL))
            printf("   for \"%s\"\n", bad[i]);
    }
}

static void
test_parse_delay(void)
{
    static const struct {
        const char *str;
        unsigned sec, nsec;
    } good[] = {
        {"0", 0, 0},
        {"1", 1, 0},
        {"1.2", 1, 200000000},
        {"1.2s", 1, 200000000},
        {".5", 0, 500000000},
        {"120ms", 0, 120000000},
        {"1.2ms", 0, 1200000},
        {"2500ms", 2, 500000000},
        {"1.2us", 0, 1200},
        {"120\xce\xbcs", 0, 120000},
        {"7\xc2\xb5s", 0, 7000},
        {"1ns", 0, 1},
        {"1.9ns", 0, 1},
        {"0.0000000019", 0, 1},
        {"4294967295", UINT_MAX, 0},
    };
    static const char *const bad[] = {
        "",
        ".",
        "s",
        "-1",
        "1x",
        "1 s",
        "1.2.3",
        "1m",
        "1e3",
        "4294967296",
        "99999999999999999999999",
        "1.5sec",
    };
    size_t i;
    unsigned sec, nsec;

    unit_group("nbdkit_parse_delay");
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        sec = nsec = 42;
        if (!CHECK(nbdkit_parse_delay("d", good[i].str, &sec, &nsec) == 0 &&
                   sec == good[i].sec && nsec == good[i].nsec))
            printf("   for \"%s\": got %u %u\n", good[i].str, sec, nsec);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        stub_reset();
        sec = nsec = 42;
        if (!CHECK(nbdkit_parse_delay("delay-read", bad[i], &sec, &nsec) ==
                       -1 &&
                   sec == 42 && nsec == 42 && stub_errors == 1 &&
                   strstr(stub_last_error, "delay-read") != NULL))
            printf("   for \"%s\"\n", bad[i]);
    }
    CHECK(nbdkit_parse_delay("d", "1.5", NULL, &nsec) == 0 &&
          nsec == 500000000);
}

/* ---- passwords ---- */

static void
write_file(const char *path, const char *content)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL || fputs(content, fp) == EOF || fclose(fp) == EOF) {
        perror(path);
        exit(EXIT_FAILURE);
    }
}

static void
test_password_tty(void)
{
    int master, slave, saved_stdin;
    struct termios t;
    char *pw = NULL;

    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master == -1 || grantpt(master) == -1 || unlockpt(master) == -1) {
        printf("   (no pseudo-terminals here: tty case not tested)\n");
        return;
    }
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    saved_stdin = dup(STDIN_FILENO);
    dup2(slave, STDIN_FILENO);
    CHECK(write(master, "typed secret\n", 13) == 13);
    CHECK(nbdkit_read_password("-", &pw) == 0 && pw != NULL &&
          strcmp(pw, "typed secret") == 0);
    /* Echo is back on afterwards. */
    CHECK(tcgetattr(STDIN_FILENO, &t) == 0 && (t.c_lflag & ECHO) != 0);
    free(pw);
    dup2(saved_stdin, STDIN_FILENO);
    close(saved_stdin);
    close(slave);
    close(master);
}

static void
test_read_password(void)
{
    char dir[] = "/tmp/nbdx-unit-XXXXXX";
    char path[64], arg[80];
    char *pw = (char *)"untouched";
    int fd;

    unit_group("nbdkit_read_password");
    CHECK(mkdtemp(dir) != NULL);
    CHECK(nbdkit_read_password("literal", &pw) == 0 &&
          strcmp(pw, "literal") == 0);
    free(pw);

    snprintf(path, sizeof path, "%s/pw", dir);
    write_file(path, "from file\n");
    snprintf(arg, sizeof arg, "+%s", path);
    CHECK(nbdkit_read_password(arg, &pw) == 0 && strcmp(pw, "from file") == 0);
    free(pw);
    stub_reset();
    CHECK(nbdkit_read_password("+/nonexistent/pw", &pw) == -1 && pw == NULL);
    CHECK(stub_errors == 1);

    /* -FD reads to the end and closes the descriptor. */
    fd = open(path, O_RDONLY);
    snprintf(arg, sizeof arg, "-%d", fd);
    CHECK(nbdkit_read_password(arg, &pw) == 0 && strcmp(pw, "from file") == 0);
    free(pw);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
    stub_reset();
    CHECK(nbdkit_read_password("-1", &pw) == -1 && pw == NULL);
    CHECK(nbdkit_read_password("-0", &pw) == -1);
    CHECK(nbdkit_read_password("-x", &pw) == -1);
    CHECK(stub_errors == 3);

    /* "-" cannot use stdin when stdin is the client (-s). */
    stub_options.listen_stdin = true;
    stub_reset();
    CHECK(nbdkit_stdio_safe() == 0);
    CHECK(nbdkit_read_password("-", &pw) == -1 && pw == NULL);
    CHECK(stub_errors == 1);
    stub_options.listen_stdin = false;
    CHECK(nbdkit_stdio_safe() == 1);
    test_password_tty();

    unlink(path);
    rmdir(dir);
}

/* ---- paths ---- */

static void
test_paths(void)
{
    char *cwd = getcwd(NULL, 0), *p, *want;

    unit_group("nbdkit_absolute_path and nbdkit_realpath");
    p = nbdkit_absolute_path("some/file");
    CHECK(asprintf(&want, "%s/some/file", cwd) > 0);
    CHECK(p != NULL && strcmp(p, want) == 0);
    free(p);
    free(want);
    p = nbdkit_absolute_path("/abs");
    CHECK(p != NULL && strcmp(p, "/abs") == 0);
    free(p);
    stub_reset();
    CHECK(nbdkit_absolute_path("") == NULL && stub_errors == 1);

    p = nbdkit_realpath(".");
    CHECK(p != NULL && strcmp(p, cwd) == 0);
    free(p);
    stub_reset();
    CHECK(nbdkit_realpath("/nonexistent/x") == NULL && stub_errors == 1);
    CHECK(strstr(stub_last_error, "/nonexistent/x") != NULL);
    free(cwd);
}

/* ---- sleeping ---- */

struct waker {
    int fd;                  /* write a byte here after 50 ms */
    _Atomic int *flag;       /* and set this, if not NULL */
    struct connection *conn; /* and lower its status, if not NULL */
    enum conn_status status;
};

static void *
waker_thread(void *arg)
{
    struct waker *w = arg;

    usleep(50000);
    if (w->flag)
        *w->flag = 1;
    if (w->conn)
        w->conn->status = w->status;
    if (write(w->fd, "x", 1) != 1)
        abort();
    return NULL;
}

/* Sleep with a waker running; returns what nbdkit_nanosleep returned
 * (errno kept) and the time it took in *ns.
 */
static int
sleep_with_waker(struct waker *w, unsigned sec, unsigned nsec, uint64_t *ns)
{
    pthread_t t;
    uint64_t t0 = public_now_ns();
    int r, saved_errno;

    if (pthread_create(&t, NULL, waker_thread, w) != 0)
        abort();
    errno = 0;
    r = nbdkit_nanosleep(sec, nsec);
    saved_errno = errno;
    pthread_join(t, NULL);
    *ns = public_now_ns() - t0;
    errno = saved_errno;
    return r;
}

static void
test_nanosleep(void)
{
    struct connection conn = {.status = STATUS_ACTIVE};
    int qp[2], sp[2], r;
    struct waker w = {.fd = -1};
    uint64_t t0, ns;

    unit_group("nbdkit_nanosleep sleeps, and wakes early on shutdown");
    t0 = public_now_ns();
    CHECK(nbdkit_nanosleep(0, 20000000) == 0);
    CHECK(public_now_ns() - t0 >= 20000000);
    stub_reset();
    CHECK(nbdkit_nanosleep((unsigned)INT_MAX + 1, 0) == -1 && stub_errors == 1);

    CHECK(pipe(qp) == 0 && pipe(sp) == 0);
    quit_fd = qp[0];
    w.fd = qp[1];
    w.flag = &quit;
    r = sleep_with_waker(&w, 10, 0, &ns);
    CHECK(r == -1 && errno == ESHUTDOWN && ns < UINT64_C(5000000000));
    quit = 0;
    close(qp[0]);
    close(qp[1]);
    quit_fd = -1;

    unit_group("nbdkit_nanosleep wakes early when the client is dropped");
    conn.status_pipe[0] = sp[0];
    threadlocal_set_conn(&conn);
    w.fd = sp[1];
    w.flag = NULL;
    w.conn = &conn;
    w.status = STATUS_DEAD;
    r = sleep_with_waker(&w, 10, 0, &ns);
    CHECK(r == -1 && errno == ESHUTDOWN && ns < UINT64_C(5000000000));

    unit_group("a soft disconnect lets the sleep finish");
    conn.status = STATUS_ACTIVE;
    w.status = STATUS_SHUTDOWN;
    r = sleep_with_waker(&w, 0, 300000000, &ns);
    CHECK(r == 0 && ns >= 300000000);
    threadlocal_set_conn(NULL);
    close(sp[0]);
    close(sp[1]);
}

/* ---- the current connection ---- */

static void
test_outside_connection(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    unit_group("connection functions outside a connection");
    threadlocal_set_conn(NULL);
    stub_reset();
    CHECK(nbdkit_export_name() == NULL);
    CHECK(nbdkit_is_tls() == -1);
    CHECK(nbdkit_peer_name((struct sockaddr *)&ss, &len) == -1);
    CHECK(nbdkit_peer_pid() == -1);
    CHECK(nbdkit_peer_uid() == -1);
    CHECK(nbdkit_peer_gid() == -1);
    CHECK(nbdkit_peer_security_context() == NULL);
    CHECK(nbdkit_peer_tls_dn() == NULL);
    CHECK(nbdkit_peer_tls_issuer_dn() == NULL);
    CHECK(stub_errors == 9);
    nbdkit_disconnect(1); /* no connection: nothing happens */
    CHECK(stub_set_status_calls == 0);
}

static void
test_unix_peer(void)
{
    struct connection conn = {.status = STATUS_ACTIVE};
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int sv[2];
    char *s, c;

    unit_group("peer credentials of a Unix socket client");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    conn.sockin = conn.sockout = sv[0];
    conn.exportname = (char *)"exp";
    threadlocal_set_conn(&conn);
    CHECK(nbdkit_export_name() != NULL &&
          strcmp(nbdkit_export_name(), "exp") == 0);
    CHECK(nbdkit_is_tls() == 0);
    CHECK(nbdkit_peer_name((struct sockaddr *)&ss, &len) == 0 &&
          ss.ss_family == AF_UNIX);
    CHECK(nbdkit_peer_pid() == getpid());
    CHECK(nbdkit_peer_uid() == getuid());
    CHECK(nbdkit_peer_gid() == getgid());
    stub_reset();
    s = nbdkit_peer_security_context();
    CHECK(s != NULL || stub_errors == 1); /* no LSM: a clean error */
    free(s);

    unit_group("TLS distinguished names without TLS are empty");
    s = nbdkit_peer_tls_dn();
    CHECK(s != NULL && strcmp(s, "") == 0);
    free(s);
    s = nbdkit_peer_tls_issuer_dn();
    CHECK(s != NULL && strcmp(s, "") == 0);
    free(s);
    conn.using_tls = true;
    CHECK(nbdkit_is_tls() == 1);
    /* TLS without a verified client certificate (PSK, or no
     * --tls-verify-peer): still "".
     */
    s = nbdkit_peer_tls_dn();
    CHECK(s != NULL && strcmp(s, "") == 0);
    free(s);
    {
        char dn[] = "CN=client,O=Test", issuer[] = "CN=Test CA";
        struct crypto_peer peer = {dn, issuer};

        conn.crypto_session = &peer;
        s = nbdkit_peer_tls_dn();
        CHECK(s != NULL && strcmp(s, "CN=client,O=Test") == 0);
        free(s);
        s = nbdkit_peer_tls_issuer_dn();
        CHECK(s != NULL && strcmp(s, "CN=Test CA") == 0);
        free(s);
        conn.crypto_session = NULL;
    }

    unit_group("nbdkit_disconnect");
    stub_reset();
    nbdkit_disconnect(0);
    CHECK(stub_set_status_calls == 1 && stub_last_status == STATUS_SHUTDOWN);
    nbdkit_disconnect(1);
    CHECK(stub_set_status_calls == 2 && stub_last_status == STATUS_DEAD);
    CHECK(read(sv[1], &c, 1) == 0); /* the client sees EOF */
    threadlocal_set_conn(NULL);
    close(sv[0]);
    close(sv[1]);
}

static void
test_tcp_peer(void)
{
    struct connection conn = {.status = STATUS_ACTIVE};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_storage ss;
    socklen_t len = sizeof sin;
    int lfd, cfd, afd;

    unit_group("peer of a TCP client");
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
        listen(lfd, 1) == -1 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) == -1) {
        printf("   (no loopback TCP here: not tested)\n");
        return;
    }
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(cfd, (struct sockaddr *)&sin, sizeof sin) == 0);
    afd = accept(lfd, NULL, NULL);
    conn.sockin = conn.sockout = afd;
    threadlocal_set_conn(&conn);
    len = sizeof ss;
    CHECK(nbdkit_peer_name((struct sockaddr *)&ss, &len) == 0 &&
          ss.ss_family == AF_INET &&
          ((struct sockaddr_in *)&ss)->sin_addr.s_addr ==
              htonl(INADDR_LOOPBACK));
    stub_reset();
    CHECK(nbdkit_peer_uid() == -1 && nbdkit_peer_pid() == -1);
    CHECK(stub_errors == 2);
    threadlocal_set_conn(NULL);
    close(afd);
    close(cfd);
    close(lfd);
}

/* ---- errors, shutdown, interned strings, hexdump ---- */

static void
test_set_error_shutdown(void)
{
    unit_group("nbdkit_set_error and nbdkit_shutdown");
    nbdkit_set_error(ENOSPC);
    CHECK(threadlocal_get_error() == ENOSPC);
    stub_reset();
    nbdkit_shutdown();
    CHECK(stub_set_quit_calls == 1);
    quit = 0;
}

static bool
interns_has(const struct interns *list, const char *s)
{
    size_t i;

    for (i = 0; list && i < list->strs.len; i++)
        if (list->strs.ptr[i] == s)
            return true;
    return false;
}

static void
test_interns(void)
{
    struct connection conn = {.status = STATUS_ACTIVE};
    char buf[] = "hello";
    const char *g, *c, *n, *f;

    unit_group("interned strings: global outside a connection");
    g = nbdkit_strdup_intern(buf);
    buf[0] = 'j';
    CHECK(g != NULL && strcmp(g, "hello") == 0 && g != buf);
    CHECK(interns_has(global_interns, g));
    f = nbdkit_printf_intern("%s-%d", "x", 7);
    CHECK(f != NULL && strcmp(f, "x-7") == 0 && interns_has(global_interns, f));
    stub_reset();
    CHECK(nbdkit_strdup_intern(NULL) == NULL && stub_errors == 1);

    unit_group("interned strings: per connection inside one");
    threadlocal_set_conn(&conn);
    c = nbdkit_strdup_intern("conn");
    n = nbdkit_strndup_intern("abcdef", 3);
    threadlocal_set_conn(NULL);
    CHECK(c != NULL && strcmp(c, "conn") == 0);
    CHECK(n != NULL && strcmp(n, "abc") == 0);
    CHECK(interns_has(conn.interns, c) && interns_has(conn.interns, n));
    CHECK(!interns_has(global_interns, c));
    interns_free(conn.interns);
    /* The global list outlives connections until unload. */
    CHECK(interns_has(global_interns, g) && strcmp(g, "hello") == 0);
    interns_free_global();
    CHECK(global_interns == NULL);
    interns_free(NULL);
}

static void
test_hexdump(void)
{
    static const char data[] = "0123456789abcdef\x01XYZ";
    char want[128];

    unit_group("nbdkit_debug_hexdump");
    stub_reset();
    nbdkit_debug_hexdump(data, 20, "p: ", 0);
    CHECK(stub_debug_count == 2);
    CHECK(stub_debug_count == 2 &&
          strcmp(stub_debug_lines[0],
                 "p: 00000000: 30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 "
                 "66 |0123456789abcdef|") == 0);
    CHECK(stub_debug_count == 2 &&
          strcmp(stub_debug_lines[1],
                 "p: 00000010: 01 58 59 5a                                   "
                 "   |.XYZ            |") == 0);
    /* An unaligned start lines the bytes up under their offsets: 15
     * blank columns of three characters plus the middle gap, then 41.
     */
    stub_reset();
    nbdkit_debug_hexdump("AB", 2, NULL, 0x1f);
    snprintf(want, sizeof want, "00000010: %46s41 |%15sA|", "", "");
    CHECK(stub_debug_count == 2);
    CHECK(stub_debug_count == 2 && strcmp(stub_debug_lines[0], want) == 0);
    snprintf(want, sizeof want, "00000020: 42%47s|B%15s|", "", "");
    CHECK(stub_debug_count == 2 && strcmp(stub_debug_lines[1], want) == 0);
    stub_reset();
    nbdkit_debug_hexdump("", 0, NULL, 0);
    CHECK(stub_debug_count == 0);
    stub_reset();
}

int
main(void)
{
    threadlocal_init();
    test_parse_size();
    test_parse_int();
    test_parse_bool();
    test_parse_probability();
    test_parse_delay();
    test_read_password();
    test_paths();
    test_nanosleep();
    test_outside_connection();
    test_unix_peer();
    test_tcp_peer();
    test_set_error_shutdown();
    test_interns();
    test_hexdump();
    return unit_finish();
}
