/* SPDX-License-Identifier: BSD-3-Clause */
/* public.c: the nbdkit_* functions plugins and filters call.
 *
 * Sections: parsing configuration values, passwords and paths, sleeping,
 * the current connection, shutdown, interned strings, hexdump.  Every
 * function here is part of the plugin ABI (server/nbdx.syms); errors are
 * reported with nbdkit_error and -1 or NULL, as nbdkit does.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "internal.h"
#include "transport.h"

/* ---- Parsing integers ----
 * Decimal, 0x hexadecimal or 0 octal, with optional leading white space
 * and sign, and nothing after the number.  Results are only stored on
 * success, and only if r is not NULL.
 */

static int
parse_fail(const char *what, const char *why, const char *str)
{
    nbdkit_error("%s: %s: \"%s\"", what, why, str);
    errno = EINVAL;
    return -1;
}

static int
parse_signed(const char *what, const char *str, intmax_t min, intmax_t max,
             intmax_t *r)
{
    char *end;
    intmax_t v;

    errno = 0;
    v = strtoimax(str, &end, 0);
    if (end == str || *end != '\0')
        return parse_fail(what, "could not parse number", str);
    if (errno == ERANGE || v < min || v > max)
        return parse_fail(what, "number out of range", str);
    if (errno != 0)
        return parse_fail(what, "could not parse number", str);
    *r = v;
    return 0;
}

static int
parse_unsigned(const char *what, const char *str, uintmax_t max, uintmax_t *r)
{
    const char *p = str;
    char *end;
    uintmax_t v;

    /* strtoumax would silently negate "-1" into a huge value. */
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '-')
        return parse_fail(what, "negative numbers are not allowed", str);
    errno = 0;
    v = strtoumax(str, &end, 0);
    if (end == str || *end != '\0')
        return parse_fail(what, "could not parse number", str);
    if (errno == ERANGE || v > max)
        return parse_fail(what, "number out of range", str);
    if (errno != 0)
        return parse_fail(what, "could not parse number", str);
    *r = v;
    return 0;
}

#define DEFINE_PARSE_SIGNED(NAME, TYPE, MIN, MAX)                              \
    int nbdkit_parse_##NAME(const char *what, const char *str, TYPE *rp)       \
    {                                                                          \
        intmax_t v;                                                            \
        if (parse_signed(what, str, (MIN), (MAX), &v) == -1)                   \
            return -1;                                                         \
        if (rp)                                                                \
            *rp = (TYPE)v;                                                     \
        return 0;                                                              \
    }
#define DEFINE_PARSE_UNSIGNED(NAME, TYPE, MAX)                                 \
    int nbdkit_parse_##NAME(const char *what, const char *str, TYPE *rp)       \
    {                                                                          \
        uintmax_t v;                                                           \
        if (parse_unsigned(what, str, (MAX), &v) == -1)                        \
            return -1;                                                         \
        if (rp)                                                                \
            *rp = (TYPE)v;                                                     \
        return 0;                                                              \
    }

DEFINE_PARSE_SIGNED(int, int, INT_MIN, INT_MAX)
DEFINE_PARSE_UNSIGNED(unsigned, unsigned, UINT_MAX)
DEFINE_PARSE_SIGNED(int8_t, int8_t, INT8_MIN, INT8_MAX)
DEFINE_PARSE_UNSIGNED(uint8_t, uint8_t, UINT8_MAX)
DEFINE_PARSE_SIGNED(int16_t, int16_t, INT16_MIN, INT16_MAX)
DEFINE_PARSE_UNSIGNED(uint16_t, uint16_t, UINT16_MAX)
DEFINE_PARSE_SIGNED(int32_t, int32_t, INT32_MIN, INT32_MAX)
DEFINE_PARSE_UNSIGNED(uint32_t, uint32_t, UINT32_MAX)
DEFINE_PARSE_SIGNED(int64_t, int64_t, INT64_MIN, INT64_MAX)
DEFINE_PARSE_UNSIGNED(uint64_t, uint64_t, UINT64_MAX)

/* ---- Parsing sizes, booleans, probabilities, delays ---- */

/* The scale of a size suffix, or 0 if c is not one. */
static int64_t
parse_size_scale(char c)
{
    switch (tolower((unsigned char)c)) {
    case 'b':
        return 1;
    case 's':
        return 512; /* "sectors", whatever the real sector size */
    case 'k':
        return INT64_C(1) << 10;
    case 'm':
        return INT64_C(1) << 20;
    case 'g':
        return INT64_C(1) << 30;
    case 't':
        return INT64_C(1) << 40;
    case 'p':
        return INT64_C(1) << 50;
    case 'e':
        return INT64_C(1) << 60;
    default:
        return 0;
    }
}

/* A decimal number with an optional one-letter suffix, 0 to 2^63-1. */
int64_t
nbdkit_parse_size(const char *str)
{
    char *end;
    intmax_t v;
    int64_t scale = 1;

    errno = 0;
    v = strtoimax(str, &end, 10);
    if (end == str) {
        nbdkit_error("could not parse size string: \"%s\"", str);
        return -1;
    }
    if (errno == ERANGE || v > INT64_MAX) {
        nbdkit_error("size out of range: \"%s\"", str);
        return -1;
    }
    if (v < 0) {
        nbdkit_error("size cannot be negative: \"%s\"", str);
        return -1;
    }
    if (*end != '\0') {
        scale = parse_size_scale(*end);
        if (scale == 0 || end[1] != '\0') {
            nbdkit_error("could not parse size: unknown suffix \"%s\"", end);
            return -1;
        }
    }
    if (v > INT64_MAX / scale) {
        nbdkit_error("size out of range: \"%s\"", str);
        return -1;
    }
    return v * scale;
}

int
nbdkit_parse_bool(const char *str)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "on"};
    static const char *const no[] = {"0", "false", "f", "no", "n", "off"};
    size_t i;

    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(str, yes[i]) == 0)
            return 1;
        if (strcasecmp(str, no[i]) == 0)
            return 0;
    }
    nbdkit_error("could not decipher boolean (%s)", str);
    return -1;
}

/* A finite, non-negative double at *p; advances *p past it. */
static int
parse_nonneg_double(const char **p, double *d)
{
    char *end;

    errno = 0;
    *d = strtod(*p, &end);
    if (end == *p || errno == ERANGE || !isfinite(*d) || signbit(*d))
        return -1;
    *p = end;
    return 0;
}

/* "0.1", "1e-1", "10%", "1:10" and "1/10" all mean one in ten.  The
 * result may exceed 1; callers that need a probability clamp it.
 */
int
nbdkit_parse_probability(const char *what, const char *str, double *r)
{
    const char *p = str;
    double n, d = 1;

    if (parse_nonneg_double(&p, &n) == -1)
        return parse_fail(what, "could not parse probability", str);
    if (*p == '%' && p[1] == '\0')
        d = 100;
    else if (*p == ':' || *p == '/') {
        p++;
        if (parse_nonneg_double(&p, &d) == -1 || *p != '\0' || d == 0)
            return parse_fail(what, "could not parse probability", str);
    } else if (*p != '\0')
        return parse_fail(what, "could not parse probability", str);
    if (!isfinite(n / d))
        return parse_fail(what, "probability out of range", str);
    if (r)
        *r = n / d;
    return 0;
}

/* Nanoseconds per unit for a delay suffix, or 0 if unknown. */
static uint64_t
parse_delay_unit(const char *s)
{
    if (strcmp(s, "") == 0 || strcmp(s, "s") == 0)
        return UINT64_C(1000000000);
    if (strcmp(s, "ms") == 0)
        return UINT64_C(1000000);
    /* "us", U+03BC GREEK SMALL LETTER MU and U+00B5 MICRO SIGN. */
    if (strcmp(s, "us") == 0 || strcmp(s, "\xce\xbcs") == 0 ||
        strcmp(s, "\xc2\xb5s") == 0)
        return UINT64_C(1000);
    if (strcmp(s, "ns") == 0)
        return 1;
    return 0;
}

/* Read digits as a whole number; -1 on overflow.  *ndigits counts them. */
static int
parse_delay_whole(const char **p, uint64_t *v, int *ndigits)
{
    *v = 0;
    *ndigits = 0;
    while (isdigit((unsigned char)**p)) {
        if (__builtin_mul_overflow(*v, 10, v) ||
            __builtin_add_overflow(*v, (uint64_t)(**p - '0'), v))
            return -1;
        (*p)++;
        (*ndigits)++;
    }
    return 0;
}

/* Up to nine fraction digits as nanoseconds-of-a-unit (0..999999999);
 * finer digits are checked but cannot change the result by 1 ns.
 */
static uint64_t
parse_delay_fraction(const char **p, int *ndigits)
{
    uint64_t f = 0;
    int i;

    *ndigits = 0;
    for (i = 0; i < 9; i++) {
        f *= 10;
        if (isdigit((unsigned char)**p)) {
            f += (uint64_t)(**p - '0');
            (*p)++;
            (*ndigits)++;
        }
    }
    while (isdigit((unsigned char)**p)) {
        (*p)++;
        (*ndigits)++;
    }
    return f;
}

/* "1", "1.2", "1.2s", "120ms", "1.2us", "120μs", "1ns"; exact decimal
 * arithmetic, rounding down to whole nanoseconds.
 */
int
nbdkit_parse_delay(const char *what, const char *str, unsigned *sec,
                   unsigned *nsec)
{
    const char *p = str;
    uint64_t whole, frac = 0, unit, ns;
    int nwhole, nfrac = 0;

    if (parse_delay_whole(&p, &whole, &nwhole) == -1)
        return parse_fail(what, "delay out of range", str);
    if (*p == '.') {
        p++;
        frac = parse_delay_fraction(&p, &nfrac);
    }
    if (nwhole + nfrac == 0)
        return parse_fail(what, "could not parse delay", str);
    unit = parse_delay_unit(p);
    if (unit == 0)
        return parse_fail(what, "could not parse delay: unknown unit", str);
    if (__builtin_mul_overflow(whole, unit, &ns) ||
        __builtin_add_overflow(ns, frac * unit / UINT64_C(1000000000), &ns) ||
        ns / UINT64_C(1000000000) > UINT_MAX)
        return parse_fail(what, "delay out of range", str);
    if (sec)
        *sec = (unsigned)(ns / UINT64_C(1000000000));
    if (nsec)
        *nsec = (unsigned)(ns % UINT64_C(1000000000));
    return 0;
}

/* ---- Standard I/O, passwords and paths ---- */

int
nbdkit_stdio_safe(void)
{
    return !opts->listen_stdin;
}

/* Big enough for any password; stops "password=+/dev/zero". */
#define MAX_PASSWORD (1024 * 1024)

/* Drop one line ending, so "echo secret > file" works. */
static void
password_chomp(char *pw, size_t *len)
{
    if (*len > 0 && pw[*len - 1] == '\n')
        pw[--*len] = '\0';
    if (*len > 0 && pw[*len - 1] == '\r')
        pw[--*len] = '\0';
}

/* Read all of fd into a malloc'd string.  Does not close fd. */
static char *
password_read_fd(int fd, const char *source)
{
    char *buf = NULL, *p;
    size_t len = 0, cap = 0;
    ssize_t r;

    for (;;) {
        if (len + 1 >= cap) {
            cap = cap ? cap * 2 : 256;
            if (cap > MAX_PASSWORD + 1) {
                nbdkit_error("password from %s is too long", source);
                goto error;
            }
            p = realloc(buf, cap);
            if (p == NULL) {
                nbdkit_error("reading password: %m");
                goto error;
            }
            buf = p;
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            nbdkit_error("reading password from %s: %m", source);
            goto error;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    password_chomp(buf, &len);
    return buf;

error:
    free(buf);
    return NULL;
}

static char *
password_from_file(const char *filename)
{
    char *pw;
    int fd;

    fd = open(filename, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        nbdkit_error("open: %s: %m", filename);
        return NULL;
    }
    pw = password_read_fd(fd, filename);
    close(fd);
    return pw;
}

/* "-FD": the fd is the caller's gift: read it to the end and close it. */
static char *
password_from_fd(const char *value)
{
    char *pw;
    int fd;

    if (nbdkit_parse_int("password file descriptor", value + 1, &fd) == -1)
        return NULL;
    if (fd <= STDERR_FILENO) {
        nbdkit_error("password=-%d: cannot read a password from stdin, "
                     "stdout or stderr",
                     fd);
        return NULL;
    }
    pw = password_read_fd(fd, value);
    close(fd);
    return pw;
}

/* "-": prompt on the terminal with echo turned off. */
static char *
password_from_tty(void)
{
    struct termios orig, noecho;
    char *line = NULL;
    size_t cap = 0, len;
    ssize_t r;

    if (!nbdkit_stdio_safe()) {
        nbdkit_error("password=-: stdin is the NBD socket in this mode");
        return NULL;
    }
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &orig) == -1) {
        nbdkit_error("password=-: stdin is not a terminal; "
                     "use password=+FILE or password=-FD");
        return NULL;
    }
    noecho = orig;
    noecho.c_lflag &= ~(tcflag_t)ECHO;
    fputs("password: ", stdout);
    fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &noecho);
    r = getline(&line, &cap, stdin);
    tcsetattr(STDIN_FILENO, TCSANOW, &orig);
    fputs("\n", stdout);
    if (r == -1) {
        nbdkit_error("password=-: could not read a password from stdin");
        free(line);
        return NULL;
    }
    len = (size_t)r;
    password_chomp(line, &len);
    return line;
}

int
nbdkit_read_password(const char *value, char **password)
{
    *password = NULL;
    if (strcmp(value, "-") == 0)
        *password = password_from_tty();
    else if (value[0] == '-')
        *password = password_from_fd(value);
    else if (value[0] == '+')
        *password = password_from_file(value + 1);
    else {
        *password = strdup(value);
        if (*password == NULL)
            nbdkit_error("strdup: %m");
    }
    return *password ? 0 : -1;
}

/* Prepend the working directory; no check that the file exists. */
char *
nbdkit_absolute_path(const char *path)
{
    char *cwd, *ret;

    if (path == NULL || *path == '\0') {
        nbdkit_error("cannot make an absolute path from an empty path");
        errno = EINVAL;
        return NULL;
    }
    if (path[0] == '/') {
        ret = strdup(path);
        if (ret == NULL)
            nbdkit_error("strdup: %m");
        return ret;
    }
    cwd = getcwd(NULL, 0);
    if (cwd == NULL) {
        nbdkit_error("getcwd: %m");
        return NULL;
    }
    if (asprintf(&ret, "%s/%s", cwd, path) == -1) {
        nbdkit_error("asprintf: %m");
        ret = NULL;
    }
    free(cwd);
    return ret;
}

char *
nbdkit_realpath(const char *path)
{
    char *ret;

    if (path == NULL || *path == '\0') {
        nbdkit_error("cannot resolve an empty path");
        errno = EINVAL;
        return NULL;
    }
    ret = realpath(path, NULL);
    if (ret == NULL)
        nbdkit_error("realpath: %s: %m", path);
    return ret;
}

/* ---- Sleeping ---- */

static uint64_t
public_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Sleep until deadline unless the server quits (quit_fd) or the
 * connection is dropped (its status pipe, then STATUS_DEAD).  A soft
 * disconnect also fills the status pipe, but requests in flight may
 * finish then, so the sleep goes on watching only quit_fd.  Returns 1
 * if interrupted, 0 if the time ran out.
 */
static int
public_sleep_until(uint64_t deadline)
{
    struct connection *conn = threadlocal_get_conn();
    struct pollfd fds[2] = {
        {.fd = quit_fd, .events = POLLIN},
        {.fd = conn ? conn->status_pipe[0] : -1, .events = POLLIN},
    };
    struct timespec ts;
    uint64_t now;

    for (;;) {
        if (quit)
            return 1;
        now = public_now_ns();
        if (now >= deadline)
            return 0;
        ts.tv_sec = (time_t)((deadline - now) / 1000000000);
        ts.tv_nsec = (long)((deadline - now) % 1000000000);
        /* 0 (timed out) or -1 (EINTR): recompute and go on. */
        if (ppoll(fds, 2, &ts, NULL) <= 0)
            continue;
        if (fds[0].revents != 0 || transport_get_status(conn) == STATUS_DEAD)
            return 1;
        fds[1].fd = -1;
    }
}

int
nbdkit_nanosleep(unsigned sec, unsigned nsec)
{
    uint64_t deadline;

    if (sec > INT_MAX || nsec >= 1000000000) {
        nbdkit_error("nbdkit_nanosleep: invalid time %us %uns", sec, nsec);
        errno = EINVAL;
        return -1;
    }
    deadline = public_now_ns() + (uint64_t)sec * 1000000000 + nsec;
    if (public_sleep_until(deadline)) {
        nbdkit_error("aborting sleep: the server or connection is "
                     "shutting down");
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

/* ---- The current connection ---- */

static struct connection *
public_conn(const char *fn)
{
    struct connection *conn = threadlocal_get_conn();

    if (conn == NULL) {
        nbdkit_error("%s: no connection in this thread", fn);
        errno = EINVAL;
    }
    return conn;
}

/* Valid until the connection closes; see struct connection. */
const char *
nbdkit_export_name(void)
{
    struct connection *conn = public_conn("nbdkit_export_name");

    if (conn == NULL)
        return NULL;
    if (conn->exportname == NULL) {
        nbdkit_error("nbdkit_export_name: no export name negotiated yet");
        return NULL;
    }
    return conn->exportname;
}

int
nbdkit_is_tls(void)
{
    struct connection *conn = public_conn("nbdkit_is_tls");

    if (conn == NULL)
        return -1;
    return conn->using_tls;
}

int
nbdkit_peer_name(struct sockaddr *addr, socklen_t *addrlen)
{
    struct connection *conn = public_conn("nbdkit_peer_name");

    if (conn == NULL)
        return -1;
    if (getpeername(conn->sockin, addr, addrlen) == -1) {
        nbdkit_error("nbdkit_peer_name: getpeername: %m");
        return -1;
    }
    return 0;
}

/* Credentials of a Unix domain socket peer. */
static int
public_peer_cred(const char *fn, struct ucred *cred)
{
    struct connection *conn = public_conn(fn);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss, clen = sizeof *cred;

    if (conn == NULL)
        return -1;
    if (getsockname(conn->sockin, (struct sockaddr *)&ss, &len) == -1) {
        nbdkit_error("%s: getsockname: %m", fn);
        return -1;
    }
    if (ss.ss_family != AF_UNIX) {
        nbdkit_error("%s: the client is not connected over a Unix socket", fn);
        errno = ENOTSUP;
        return -1;
    }
    if (getsockopt(conn->sockin, SOL_SOCKET, SO_PEERCRED, cred, &clen) == -1) {
        nbdkit_error("%s: getsockopt: SO_PEERCRED: %m", fn);
        return -1;
    }
    return 0;
}

int64_t
nbdkit_peer_pid(void)
{
    struct ucred cred;

    if (public_peer_cred("nbdkit_peer_pid", &cred) == -1)
        return -1;
    if (cred.pid < 1) {
        nbdkit_error("nbdkit_peer_pid: the peer's pid is not known");
        return -1;
    }
    return cred.pid;
}

int64_t
nbdkit_peer_uid(void)
{
    struct ucred cred;

    if (public_peer_cred("nbdkit_peer_uid", &cred) == -1)
        return -1;
    return cred.uid;
}

int64_t
nbdkit_peer_gid(void)
{
    struct ucred cred;

    if (public_peer_cred("nbdkit_peer_gid", &cred) == -1)
        return -1;
    return cred.gid;
}

/* The peer's security label (SELinux and friends): malloc'd, caller
 * frees.
 */
char *
nbdkit_peer_security_context(void)
{
    struct connection *conn = public_conn("nbdkit_peer_security_context");
    socklen_t len = 256;
    char *buf = NULL, *p;

    if (conn == NULL)
        return NULL;
    for (;;) {
        p = realloc(buf, (size_t)len + 1);
        if (p == NULL) {
            nbdkit_error("nbdkit_peer_security_context: %m");
            goto error;
        }
        buf = p;
        if (getsockopt(conn->sockin, SOL_SOCKET, SO_PEERSEC, buf, &len) == 0)
            break;
        if (errno != ERANGE || len > 65536) {
            nbdkit_error("nbdkit_peer_security_context: "
                         "getsockopt: SO_PEERSEC: %m");
            goto error;
        }
    }
    buf[len] = '\0';
    return buf;

error:
    free(buf);
    return NULL;
}

/* The client certificate's DN, verified against the CA: "" without TLS,
 * under PSK, without --tls-verify-peer, as in nbdkit.
 */
static char *
public_peer_dn(const char *fn, bool issuer)
{
    struct connection *conn = public_conn(fn);
    char *ret;

    if (conn == NULL)
        return NULL;
    ret = crypto_peer_dn(conn, issuer);
    if (ret == NULL)
        nbdkit_error("%s: %m", fn);
    return ret;
}

char *
nbdkit_peer_tls_dn(void)
{
    return public_peer_dn("nbdkit_peer_tls_dn", false);
}

char *
nbdkit_peer_tls_issuer_dn(void)
{
    return public_peer_dn("nbdkit_peer_tls_issuer_dn", true);
}

/* ---- Errors, shutdown and disconnect ---- */

void
nbdkit_set_error(int err)
{
    threadlocal_set_error(err);
}

void
nbdkit_shutdown(void)
{
    set_quit();
}

/* Outside a connection there is nothing to disconnect. */
void
nbdkit_disconnect(int force)
{
    struct connection *conn = threadlocal_get_conn();

    if (conn == NULL) {
        nbdkit_debug("nbdkit_disconnect: no connection in this thread");
        return;
    }
    if (!force) {
        transport_set_status(conn, STATUS_SHUTDOWN);
        return;
    }
    transport_set_status(conn, STATUS_DEAD);
    /* Wake any thread blocked reading or writing the socket. */
    shutdown(conn->sockin, SHUT_RDWR);
    if (conn->sockout != conn->sockin)
        shutdown(conn->sockout, SHUT_RDWR);
}

/* ---- Interned strings ----
 * Made inside a connection they go on conn->interns, freed by
 * interns_free when it closes; made outside one they go on a global list
 * freed by interns_free_global at unload.  One lock guards every list:
 * interning is rare and the worker threads of one connection may intern
 * at the same time.
 */

DEFINE_VECTOR_TYPE(string_vector, char *);

struct interns {
    string_vector strs; /* each owned */
};

static pthread_mutex_t interns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct interns *global_interns; /* guarded by interns_lock */

static void
interns_free_locked(struct interns *interns)
{
    size_t i;

    if (interns == NULL)
        return;
    for (i = 0; i < interns->strs.len; i++)
        free(interns->strs.ptr[i]);
    free(interns->strs.ptr);
    free(interns);
}

void
interns_free(struct interns *interns)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&interns_lock);
    interns_free_locked(interns);
}

void
interns_free_global(void)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&interns_lock);
    interns_free_locked(global_interns);
    global_interns = NULL;
}

/* Take ownership of str (freeing it on failure); return it interned. */
static const char *
interns_add(char *str)
{
    struct connection *conn = threadlocal_get_conn();
    struct interns **list = conn ? &conn->interns : &global_interns;

    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&interns_lock);
    if (*list == NULL) {
        *list = calloc(1, sizeof **list);
        if (*list == NULL)
            goto nomem;
    }
    if (string_vector_append(&(*list)->strs, str) == -1)
        goto nomem;
    return str;

nomem:
    nbdkit_error("interning a string: %m");
    free(str);
    return NULL;
}

/* Intern a fresh copy; copy is NULL if strdup/strndup failed. */
static const char *
interns_add_copy(const char *fn, const char *str, char *copy)
{
    if (str == NULL) {
        nbdkit_error("%s: NULL string", fn);
        errno = EINVAL;
        return NULL;
    }
    if (copy == NULL) {
        nbdkit_error("%s: %m", fn);
        return NULL;
    }
    return interns_add(copy);
}

const char *
nbdkit_strndup_intern(const char *str, size_t n)
{
    return interns_add_copy("nbdkit_strndup_intern", str,
                            str ? strndup(str, n) : NULL);
}

const char *
nbdkit_strdup_intern(const char *str)
{
    return interns_add_copy("nbdkit_strdup_intern", str,
                            str ? strdup(str) : NULL);
}

const char *
nbdkit_vprintf_intern(const char *fmt, va_list ap)
{
    char *str;

    if (vasprintf(&str, fmt, ap) == -1) {
        nbdkit_error("vasprintf: %m");
        return NULL;
    }
    return interns_add(str);
}

const char *
nbdkit_printf_intern(const char *fmt, ...)
{
    va_list ap;
    const char *ret;

    va_start(ap, fmt);
    ret = nbdkit_vprintf_intern(fmt, ap);
    va_end(ap);
    return ret;
}

/* ---- Hexdump ---- */

/* One line: 16 bytes from the 16-aligned line address, blanks for the
 * positions of [line, line+16) outside [start, start+len).
 */
static void
hexdump_line(const unsigned char *buf, size_t len, const char *prefix,
             uint64_t start, uint64_t line)
{
    char hex[16 * 3 + 2], ascii[17];
    size_t i, h = 0;
    uint64_t at;

    for (i = 0; i < 16; i++) {
        at = line + i;
        if (i == 8)
            hex[h++] = ' ';
        if (at < start || at - start >= len) {
            memcpy(&hex[h], "   ", 3);
            ascii[i] = ' ';
        } else {
            unsigned char c = buf[at - start];

            snprintf(&hex[h], 4, "%02x ", c);
            ascii[i] = isprint(c) ? (char)c : '.';
        }
        h += 3;
    }
    hex[h - 1] = '\0';
    ascii[16] = '\0';
    nbdkit_debug("%s%08" PRIx64 ": %s |%s|", prefix, line, hex, ascii);
}

void
nbdkit_debug_hexdump(const void *buf, size_t len, const char *prefix,
                     uint64_t start)
{
    uint64_t first = start & ~UINT64_C(15);
    uint64_t nlines = (start - first + (uint64_t)len + 15) / 16;
    uint64_t k;

    if (prefix == NULL)
        prefix = "";
    for (k = 0; k < nlines; k++)
        hexdump_line(buf, len, prefix, start, first + 16 * k);
}
