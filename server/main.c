/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: the command line and the life of the server process.
 *
 * Order of events: parse options; handle the ones that only print
 * (--dump-config, --short-options, ...); find and load the plugin and the
 * filters; pass parameters down the stack; config_complete; settle the
 * thread model; get_ready; bind; drop privileges; daemonise; after_fork;
 * write the pidfile; serve until quit; cleanup and unload.
 *
 * Every global here is written only before the first connection.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "crypto.h"
#include "internal.h"
#include "options.h"

const char *program_name = "nbdx";
int tls = -1; /* until crypto_init: -1 = no --tls given */
const char *tls_certificates_dir;
const char *tls_psk;
bool tls_verify_peer;
const char *tls_priority;
bool read_only;
const char *exportname_from_cli = "";
bool foreground;
bool oldstyle;
bool no_sr;
bool no_mc;
bool verbose;
bool listen_stdin;
bool keepalive;
int mask_handshake = 3;
unsigned threads = 16;
/* Bounded by default: see nbdx-security(1). */
unsigned handshake_timeout_sec = 60;
unsigned handshake_timeout_nsec;
const char *unixsocket;
const char *port;
const char *ipaddr;
const char *run;
int thread_model;
struct backend *top;

const char *pidfile;
unsigned max_connections = 1024;
bool exit_with_parent;
bool forked_into_background;
unsigned socket_activation;
pid_t original_parent;

DEFINE_VECTOR_TYPE(string_vector, const char *);

/* Options that only matter inside main.c. */
static string_vector filters = empty_vector; /* --filter, command order */
static bool dump_config, dump_plugin, help, version, print_uri, swap;
static bool short_options_wanted, long_options_wanted;
static char *private_dir; /* owned: mkdtemp dir of -U -, removed at exit */
static char **saved_argv; /* argv before getopt permutes it */

enum {
    OPT_DUMP_CONFIG = 256,
    OPT_DUMP_PLUGIN,
    OPT_EXIT_WITH_PARENT,
    OPT_FILTER,
    OPT_HELP,
    OPT_KEEPALIVE,
    OPT_LOG,
    OPT_LONG_OPTIONS,
    OPT_MASK_HANDSHAKE,
    OPT_MAX_CONNECTIONS,
    OPT_NO_MC,
    OPT_NO_SR,
    OPT_PRINT_URI,
    OPT_RUN,
    OPT_SELINUX_LABEL,
    OPT_SHORT_OPTIONS,
    OPT_SWAP,
    OPT_TIMEOUT,
    OPT_TLS,
    OPT_TLS_CERTIFICATES,
    OPT_TLS_PRIORITY,
    OPT_TLS_PSK,
    OPT_TLS_VERIFY_PEER,
    OPT_VSOCK,
};

static const char short_options[] = "46D:e:fg:i:nop:P:rst:u:U:vV";

/* Aliases follow the name nbdkit documents first. */
static const struct option long_options[] = {
    {"debug", required_argument, NULL, 'D'},
    {"dump-config", no_argument, NULL, OPT_DUMP_CONFIG},
    {"dump-plugin", no_argument, NULL, OPT_DUMP_PLUGIN},
    {"exit-with-parent", no_argument, NULL, OPT_EXIT_WITH_PARENT},
    {"export", required_argument, NULL, 'e'},
    {"export-name", required_argument, NULL, 'e'},
    {"exportname", required_argument, NULL, 'e'},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"foreground", no_argument, NULL, 'f'},
    {"no-fork", no_argument, NULL, 'f'},
    {"group", required_argument, NULL, 'g'},
    {"help", no_argument, NULL, OPT_HELP},
    {"ipaddr", required_argument, NULL, 'i'},
    {"ip-addr", required_argument, NULL, 'i'},
    {"ipv4-only", no_argument, NULL, '4'},
    {"ipv6-only", no_argument, NULL, '6'},
    {"keepalive", no_argument, NULL, OPT_KEEPALIVE},
    {"keep-alive", no_argument, NULL, OPT_KEEPALIVE},
    {"log", required_argument, NULL, OPT_LOG},
    {"long-options", no_argument, NULL, OPT_LONG_OPTIONS},
    {"mask-handshake", required_argument, NULL, OPT_MASK_HANDSHAKE},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"newstyle", no_argument, NULL, 'n'},
    {"new-style", no_argument, NULL, 'n'},
    {"no-mc", no_argument, NULL, OPT_NO_MC},
    {"no-meta-contexts", no_argument, NULL, OPT_NO_MC},
    {"no-sr", no_argument, NULL, OPT_NO_SR},
    {"no-structured-replies", no_argument, NULL, OPT_NO_SR},
    {"oldstyle", no_argument, NULL, 'o'},
    {"old-style", no_argument, NULL, 'o'},
    {"pidfile", required_argument, NULL, 'P'},
    {"pid-file", required_argument, NULL, 'P'},
    {"port", required_argument, NULL, 'p'},
    {"print-uri", no_argument, NULL, OPT_PRINT_URI},
    {"print-url", no_argument, NULL, OPT_PRINT_URI},
    {"show-uri", no_argument, NULL, OPT_PRINT_URI},
    {"show-url", no_argument, NULL, OPT_PRINT_URI},
    {"readonly", no_argument, NULL, 'r'},
    {"read-only", no_argument, NULL, 'r'},
    {"run", required_argument, NULL, OPT_RUN},
    {"selinux-label", required_argument, NULL, OPT_SELINUX_LABEL},
    {"short-options", no_argument, NULL, OPT_SHORT_OPTIONS},
    {"single", no_argument, NULL, 's'},
    {"stdin", no_argument, NULL, 's'},
    {"swap", no_argument, NULL, OPT_SWAP},
    {"threads", required_argument, NULL, 't'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"time-out", required_argument, NULL, OPT_TIMEOUT},
    {"tls", required_argument, NULL, OPT_TLS},
    {"tls-certificates", required_argument, NULL, OPT_TLS_CERTIFICATES},
    {"tls-priority", required_argument, NULL, OPT_TLS_PRIORITY},
    {"tls-psk", required_argument, NULL, OPT_TLS_PSK},
    {"tls-verify-peer", no_argument, NULL, OPT_TLS_VERIFY_PEER},
    {"unix", required_argument, NULL, 'U'},
    {"user", required_argument, NULL, 'u'},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {"vsock", no_argument, NULL, OPT_VSOCK},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    "nbdx [-4|--ipv4-only] [-6|--ipv6-only]\n"
    "     [-D|--debug PLUGIN|FILTER|nbdx.FLAG=N]\n"
    "     [--exit-with-parent]\n"
    "     [-e|--export|--export-name|--exportname EXPORTNAME]\n"
    "     [--filter=FILTER ...] [-f|--foreground|--no-fork]\n"
    "     [-g|--group GROUP] [-i|--ipaddr|--ip-addr IPADDR]\n"
    "     [--keepalive|--keep-alive]\n"
    "     [--log=default|stderr|syslog|null|/PATH]\n"
    "     [--mask-handshake=MASK] [--max-connections=N]\n"
    "     [-n|--newstyle|--new-style]\n"
    "     [--no-mc|--no-meta-contexts] [--no-sr|--no-structured-replies]\n"
    "     [-o|--oldstyle|--old-style] [-P|--pidfile|--pid-file PIDFILE]\n"
    "     [-p|--port PORT] [--print-uri|--print-url|--show-uri|--show-url]\n"
    "     [-r|--readonly|--read-only] [--run 'COMMAND ARGS ...']\n"
    "     [--selinux-label=LABEL] [-s|--single|--stdin] [--swap]\n"
    "     [-t|--threads THREADS] [--timeout|--time-out=TIMEOUT]\n"
    "     [--tls=off|on|require] [--tls-certificates=/path/to/certificates]\n"
    "     [--tls-priority=PRIORITY] [--tls-psk=/path/to/pskfile]\n"
    "     [--tls-verify-peer] [-U|--unix SOCKET|-] [-u|--user USER]\n"
    "     [-v|--verbose] [--vsock]\n"
    "     PLUGIN [[KEY=]VALUE ...] [@PATH ...]\n"
    "\n"
    "nbdx --dump-config\n"
    "nbdx PLUGIN --dump-plugin\n"
    "nbdx --help [PLUGIN]\n"
    "nbdx -V|--version [PLUGIN]\n"
    "nbdx --short-options|--long-options\n"
    "\n"
    "PLUGIN is a name (memory, file, ...) or the path of a plugin .so.\n"
    "Read the nbdx(1) manual page for full usage.\n";

/* One line on stderr, then exit 1. */
static NORETURN void ATTRIBUTE_FORMAT_PRINTF(1, 2)
    main_usage_error(const char *fs, ...)
{
    int err = errno;
    va_list args;

    fprintf(stderr, "%s: ", program_name);
    errno = err; /* for %m */
    va_start(args, fs);
    vfprintf(stderr, fs, args);
    va_end(args);
    fprintf(stderr, "; try %s --help\n", program_name);
    exit(1);
}

static void
main_print_short_options(void)
{
    const char *p;

    for (p = short_options; *p; p++)
        if (*p != ':')
            printf("-%c\n", *p);
}

static void
main_print_long_options(void)
{
    const struct option *o;

    for (o = long_options; o->name; o++)
        printf("--%s\n", o->name);
}

/* malloc'd path of the running binary, or NULL. */
static char *
main_self_path(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

    if (n == -1)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

static void
main_dump_config(void)
{
    CLEANUP_FREE char *binary = main_self_path();
    unsigned major = 0, minor = 0;

    sscanf(PACKAGE_VERSION, "%u.%u", &major, &minor);
    printf("binary=%s\n", binary ? binary : "");
    printf("bindir=%s\n", BINDIR);
    printf("exit_with_parent=yes\n");
    printf("filterdir=%s\n", FILTERDIR);
    printf("host_cpu=%s\n", HOST_CPU);
    printf("host_os=%s\n", HOST_OS);
    printf("libdir=%s\n", LIBDIR);
    printf("mandir=%s\n", MANDIR);
    printf("max_api_version=2\n");
    printf("name=%s\n", PACKAGE_NAME);
    printf("nbdkit_api_version=%s\n", NBDKIT_API_LEVEL);
    printf("plugindir=%s\n", PLUGINDIR);
    printf("root_tls_certificates_dir=%s\n", ROOT_TLS_CERTIFICATES_DIR);
    printf("run_default_socket=Unix\n");
    printf("sbindir=%s\n", SBINDIR);
    printf("selinux=no\n");
    printf("soext=so\n");
    printf("sysconfdir=%s\n", SYSCONFDIR);
    printf("timeout_option=yes\n");
    printf("tls=%s\n", HAVE_GNUTLS ? "yes" : "no");
    printf("version=%s\n", PACKAGE_VERSION);
    printf("version_major=%u\n", major);
    printf("version_minor=%u\n", minor);
    printf("vsock_option=no\n");
    printf("zstd=no\n");
}

/* A malloc'd absolute form of path (relative to the current directory);
 * the server may chdir("/") later.
 */
static char *
main_absolute(const char *path)
{
    char cwd[PATH_MAX];
    char *s;

    if (path[0] == '/')
        s = strdup(path);
    else if (getcwd(cwd, sizeof cwd) == NULL)
        fatal("getcwd: %m");
    else if (asprintf(&s, "%s/%s", cwd, path) == -1)
        s = NULL;
    if (s == NULL)
        fatal("malloc: %m");
    return s;
}

/* --tls=WORD: 0 off, 1 on, 2 require, -1 unknown. */
static int
main_parse_tls(const char *s)
{
    static const char *const off[] = {"off", "false", "no", "n", "f", "0"};
    static const char *const on[] = {"on", "true", "yes", "y", "t", "1"};
    size_t i;

    for (i = 0; i < sizeof off / sizeof off[0]; i++) {
        if (strcasecmp(s, off[i]) == 0)
            return 0;
        if (strcasecmp(s, on[i]) == 0)
            return 1;
    }
    if (strcasecmp(s, "require") == 0 || strcasecmp(s, "required") == 0 ||
        strcasecmp(s, "force") == 0)
        return 2;
    return -1;
}

/* Options with a value to check.  Returns false if c is not one. */
static bool
main_option_value(int c, const char *arg)
{
    switch (c) {
    case 'D':
        debug_flags_add(arg);
        break;
    case 'e':
        exportname_from_cli = arg;
        break;
    case 'P':
        pidfile = main_absolute(arg);
        break;
    case 't':
        if (nbdkit_parse_unsigned("-t", arg, &threads) == -1)
            exit(1);
        if (threads == 0)
            main_usage_error("-t: the number of threads must be at least 1");
        break;
    case 'U':
        unixsocket = strcmp(arg, "-") == 0 ? "-" : main_absolute(arg);
        break;
    case OPT_FILTER:
        if (string_vector_append(&filters, arg) == -1)
            fatal("realloc: %m");
        break;
    case OPT_LOG:
        if (log_set_target(arg) == -1)
            main_usage_error("--log=%s: expected default, stderr, syslog, "
                             "null or an absolute path (%m)",
                             arg);
        break;
    case OPT_MASK_HANDSHAKE: {
        unsigned mask;
        if (nbdkit_parse_unsigned("--mask-handshake", arg, &mask) == -1)
            exit(1);
        mask_handshake = mask;
        break;
    }
    case OPT_MAX_CONNECTIONS:
        if (nbdkit_parse_unsigned("--max-connections", arg, &max_connections) ==
            -1)
            exit(1);
        break;
    case OPT_TIMEOUT:
        if (nbdkit_parse_delay("--timeout", arg, &handshake_timeout_sec,
                               &handshake_timeout_nsec) == -1)
            exit(1);
        break;
    case OPT_TLS:
        tls = main_parse_tls(arg);
        if (tls == -1)
            main_usage_error("--tls=%s: expected off, on or require", arg);
        break;
    default:
        return false;
    }
    return true;
}

/* Options that store their argument or set a flag. */
static bool
main_option_simple(int c, const char *arg)
{
    switch (c) {
    case '4':
        ipv_family = AF_INET;
        break;
    case '6':
        ipv_family = AF_INET6;
        break;
    case 'f':
        foreground = true;
        break;
    case 'g':
        group = arg;
        break;
    case 'i':
        ipaddr = arg;
        break;
    case 'n':
        oldstyle = false;
        break;
    case 'o':
        oldstyle = true;
        break;
    case 'p':
        port = arg;
        break;
    case 'r':
        read_only = true;
        break;
    case 's':
        listen_stdin = true;
        break;
    case 'u':
        user = arg;
        break;
    case 'v':
        verbose = true;
        break;
    case 'V':
        version = true;
        break;
    case OPT_DUMP_CONFIG:
        dump_config = true;
        break;
    case OPT_DUMP_PLUGIN:
        dump_plugin = true;
        break;
    case OPT_EXIT_WITH_PARENT:
        exit_with_parent = true;
        break;
    case OPT_HELP:
        help = true;
        break;
    case OPT_KEEPALIVE:
        keepalive = true;
        break;
    case OPT_LONG_OPTIONS:
        long_options_wanted = true;
        break;
    case OPT_NO_MC:
        no_mc = true;
        break;
    case OPT_NO_SR:
        no_sr = true;
        break;
    case OPT_PRINT_URI:
        print_uri = true;
        break;
    case OPT_RUN:
        run = arg;
        break;
    case OPT_SHORT_OPTIONS:
        short_options_wanted = true;
        break;
    case OPT_SWAP:
        swap = true;
        break;
    case OPT_TLS_CERTIFICATES:
        tls_certificates_dir = arg;
        break;
    case OPT_TLS_PRIORITY:
        tls_priority = arg;
        break;
    case OPT_TLS_PSK:
        tls_psk = arg;
        break;
    case OPT_TLS_VERIFY_PEER:
        tls_verify_peer = true;
        break;
    default:
        return false;
    }
    return true;
}

/* The option as the user wrote it, for error messages. */
static NORETURN void
main_bad_option(int c, int optind_now, char **argv)
{
    const char *arg = argv[optind_now - 1];

    if (c == ':') {
        if (optopt && optopt < 256)
            main_usage_error("option -%c needs an argument", optopt);
        main_usage_error("option %s needs an argument", arg);
    }
    if (optopt && optopt < 256)
        main_usage_error("unknown option -%c", optopt);
    main_usage_error("unknown option %.*s", (int)strcspn(arg, "="), arg);
}

static void
main_parse_options(int argc, char *argv[])
{
    char optstring[sizeof short_options + 1];
    int c;

    /* GNU permutation lets options follow the plugin name, as nbdkit
     * allows (nbdx memory --dump-plugin); the leading ':' reports a
     * missing argument as ':'.
     */
    snprintf(optstring, sizeof optstring, ":%s", short_options);
    opterr = 0;
    while ((c = getopt_long(argc, argv, optstring, long_options, NULL)) != -1) {
        if (c == '?' || c == ':')
            main_bad_option(c, optind, argv);
        if (c == OPT_SELINUX_LABEL)
            main_usage_error("--selinux-label: this nbdx was built without "
                             "SELinux support");
        if (c == OPT_VSOCK)
            main_usage_error("--vsock: this nbdx was built without AF_VSOCK "
                             "support");
        if (!main_option_value(c, optarg) && !main_option_simple(c, optarg))
            main_usage_error("unhandled option %s", argv[optind - 1]);
    }
}

/* Conflicting options, and defaults that depend on several options. */
static void
main_check_options(void)
{
    bool tcp = port || ipaddr;

    if (listen_stdin && (unixsocket || tcp || run || print_uri))
        main_usage_error("-s cannot be combined with -U, -p, -i, --run or "
                         "--print-uri");
    if (unixsocket && tcp)
        main_usage_error("-U cannot be combined with -p or -i");
    if (socket_activation &&
        (unixsocket || tcp || listen_stdin || run || print_uri))
        main_usage_error("socket activation cannot be combined with -U, "
                         "-p, -i, -s, --run or --print-uri");
    if (tls == 2 && oldstyle)
        main_usage_error("-o and --tls=require cannot be combined: "
                         "oldstyle has no TLS");
    crypto_init(); /* before privileges are dropped */
    /* As in nbdkit >= 1.36, --run uses a private unix socket unless a
     * TCP address was asked for.
     */
    if (run && !unixsocket && !tcp)
        unixsocket = "-";
    if (listen_stdin || run || exit_with_parent || socket_activation)
        foreground = true;
}

/* -U -: a socket in a fresh private directory. */
static void
main_make_private_socket(void)
{
    const char *tmpdir = getenv("TMPDIR");
    char *sock;

    if (unixsocket == NULL || strcmp(unixsocket, "-") != 0)
        return;
    if (tmpdir == NULL || tmpdir[0] != '/' || strlen(tmpdir) > 60)
        tmpdir = "/tmp";
    if (asprintf(&private_dir, "%s/nbdxXXXXXX", tmpdir) == -1)
        fatal("asprintf: %m");
    if (mkdtemp(private_dir) == NULL)
        fatal("mkdtemp: %s: %m", private_dir);
    if (asprintf(&sock, "%s/socket", private_dir) == -1)
        fatal("asprintf: %m");
    unixsocket = sock;
}

static void
main_remove_private_socket(void)
{
    if (private_dir == NULL)
        return;
    unlink(unixsocket);
    rmdir(private_dir);
    free(private_dir);
    private_dir = NULL;
}

/* A name to look up rather than a path: non-empty, no path or
 * parameter punctuation, no control characters.
 */
static bool
main_is_short_name(const char *name)
{
    const char *p;

    if (*name == '\0')
        return false;
    for (p = name; *p; p++)
        if (strchr("/\\:; .,=", *p) || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* path if it names a regular file, else free it and return NULL. */
static char *
main_if_file(char *path)
{
    struct stat st;

    if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return path;
    free(path);
    return NULL;
}

static char *
main_join(const char *dir, const char *sub, const char *name, const char *kind)
{
    char *s;

    if (asprintf(&s, "%s%s/nbdkit-%s-%s.so", dir, sub, name, kind) == -1)
        fatal("asprintf: %m");
    return s;
}

/* $NBDX_PLUGIN_PATH or $NBDX_FILTER_PATH: DIR/nbdkit-NAME-KIND.so, then
 * DIR/NAME/nbdkit-NAME-KIND.so for each DIR.
 */
static char *
main_search_env(const char *var, const char *name, const char *kind)
{
    const char *path = getenv(var);
    CLEANUP_FREE char *copy = path ? strdup(path) : NULL;
    char *dir, *save = NULL, *found = NULL, *sub = NULL;

    if (copy == NULL)
        return NULL;
    for (dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        found = main_if_file(main_join(dir, "", name, kind));
        if (found == NULL && asprintf(&sub, "/%s", name) != -1) {
            found = main_if_file(main_join(dir, sub, name, kind));
            free(sub);
        }
    }
    return found;
}

/* In an uninstalled build: BUILDDIR/server/nbdx finds
 * BUILDDIR/{plugins,filters}/NAME/nbdkit-NAME-KIND.so.
 */
static char *
main_search_build(const char *name, const char *kind)
{
    CLEANUP_FREE char *self = main_self_path();
    CLEANUP_FREE char *dir = NULL;
    CLEANUP_FREE char *real = NULL;
    char *slash = self ? strrchr(self, '/') : NULL;

    if (slash == NULL)
        return NULL;
    *slash = '\0';
    if (asprintf(&dir, "%s/../%ss/%s", self, kind, name) == -1)
        fatal("asprintf: %m");
    /* Canonical, so debug messages and --dump-plugin show a clean path. */
    real = realpath(dir, NULL);
    if (real == NULL)
        return NULL;
    return main_if_file(main_join(real, "", name, kind));
}

/* An executable PLUGINDIR/nbdkit-NAME-plugin (a script whose #! line
 * runs nbdx with a language plugin) replaces us, with the plugin name
 * taken out of the original arguments.
 */
static void
main_exec_script(const char *name, const char *name_arg)
{
    CLEANUP_FREE char *script = NULL;
    struct stat st;
    size_t i, j, n;
    char **args;

    if (asprintf(&script, "%s/nbdkit-%s-plugin", PLUGINDIR, name) == -1)
        fatal("asprintf: %m");
    if (stat(script, &st) == -1 || !S_ISREG(st.st_mode) ||
        access(script, X_OK) == -1)
        return;
    for (n = 0; saved_argv[n]; n++)
        ;
    args = calloc(n + 1, sizeof *args);
    if (args == NULL)
        fatal("calloc: %m");
    args[0] = script;
    for (i = 1, j = 1; i < n; i++)
        if (saved_argv[i] != name_arg)
            args[j++] = saved_argv[i];
    execv(script, args);
    fatal("execv: %s: %m", script);
}

static char *
main_find_plugin(const char *name, const char *name_arg)
{
    char *path;

    if (!main_is_short_name(name))
        return strdup(name);
    if ((path = main_search_env("NBDX_PLUGIN_PATH", name, "plugin")) ||
        (path = main_search_build(name, "plugin")) ||
        (path = main_if_file(main_join(PLUGINDIR, "", name, "plugin"))))
        return path;
    main_exec_script(name, name_arg);
    if ((path = main_if_file(main_join(NBDKIT_PLUGINDIR, "", name, "plugin"))))
        return path;
    fatal("plugin '%s' not found: looked in $NBDX_PLUGIN_PATH, the build "
          "tree, %s and %s",
          name, PLUGINDIR, NBDKIT_PLUGINDIR);
}

static char *
main_find_filter(const char *name)
{
    char *path;

    if (!main_is_short_name(name))
        return strdup(name);
    if ((path = main_search_env("NBDX_FILTER_PATH", name, "filter")) ||
        (path = main_search_build(name, "filter")) ||
        (path = main_if_file(main_join(FILTERDIR, "", name, "filter"))))
        return path;
    fatal("filter '%s' not found: looked in $NBDX_FILTER_PATH, the build "
          "tree and %s",
          name, FILTERDIR);
}

/* Plugin, then the filters from the last on the command line to the
 * first, so the first ends up outermost.
 */
static void
main_load_stack(const char *plugin_arg)
{
    CLEANUP_FREE char *path = main_find_plugin(plugin_arg, plugin_arg);
    size_t i;

    /* Each load leaves the layer's name as the thread's log name. */
    top = plugin_load(path, main_is_short_name(plugin_arg) ? plugin_arg : NULL);
    threadlocal_set_name(NULL);
    for (i = filters.len; i-- > 0;) {
        CLEANUP_FREE char *fpath = main_find_filter(filters.ptr[i]);
        top = filter_load(top, fpath,
                          main_is_short_name(filters.ptr[i]) ? filters.ptr[i]
                                                             : NULL);
        threadlocal_set_name(NULL);
    }
}

/* KEY as in KEY=VALUE: a letter, then letters, digits, '_', '-', '.'. */
static bool
main_is_config_key(const char *s, size_t len)
{
    size_t i;

    if (len == 0 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (i = 1; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_-.",
                    s[i]))
            return false;
    return true;
}

static void main_config_param(const char *arg, bool first, const char *base,
                              int depth);

/* Plugins may keep the key and value pointers .config receives for as
 * long as they are loaded (nbdkit promises this), so strings made here
 * for .config live until after backend_unload.
 */
DEFINE_VECTOR_TYPE(owned_strings, char *);
static owned_strings config_strings = empty_vector;

static char *
main_keep_string(char *s)
{
    if (s == NULL || owned_strings_append(&config_strings, s) == -1)
        fatal("malloc: %m");
    return s;
}

static void
main_free_config_strings(void)
{
    size_t i;

    for (i = 0; i < config_strings.len; i++)
        free(config_strings.ptr[i]);
    owned_strings_reset(&config_strings);
}

/* @PATH: one parameter per line; blank lines and # comments skipped;
 * nested @PATHs are relative to this file's directory.
 */
static void
main_config_file(const char *path, int depth)
{
    CLEANUP_FREE char *line = NULL;
    CLEANUP_FREE char *dir = strdup(path);
    size_t cap = 0;
    ssize_t n;
    FILE *fp;

    if (dir == NULL)
        fatal("strdup: %m");
    *strrchr(dir, '/') = '\0';
    if (depth > 16)
        fatal("@%s: parameter files nested too deeply", path);
    fp = fopen(path, "re");
    if (fp == NULL)
        fatal("@%s: %m", path);
    while ((n = getline(&line, &cap, fp)) != -1) {
        char *s = main_keep_string(line);
        line = NULL; /* the next line gets its own buffer */
        cap = 0;
        while (n > 0 && strchr(" \t\r\n", s[n - 1]))
            s[--n] = '\0';
        s += strspn(s, " \t");
        if (*s == '\0' || *s == '#')
            continue;
        main_config_param(s, false, dir, depth);
    }
    fclose(fp);
}

static void
main_config_param(const char *arg, bool first, const char *base, int depth)
{
    const char *eq = strchr(arg, '=');
    const char *magic;

    if (arg[0] == '@' && strchr(arg, '/')) {
        CLEANUP_FREE char *path = NULL;
        if (arg[1] == '/' || base == NULL)
            path = strdup(&arg[1]);
        else if (asprintf(&path, "%s/%s", base, &arg[1]) == -1)
            path = NULL;
        if (path == NULL)
            fatal("malloc: %m");
        main_config_file(path, depth + 1);
        return;
    }
    if (eq && main_is_config_key(arg, eq - arg)) {
        char *key = main_keep_string(strndup(arg, eq - arg));
        top->config(top, key, eq + 1);
        return;
    }
    magic = top->magic_config_key(top);
    if (magic)
        top->config(top, magic, arg);
    else if (first && eq == NULL)
        top->config(top, "script", arg);
    else
        main_usage_error("parameter '%s' must be KEY=VALUE "
                         "(this plugin has no magic parameter)",
                         arg);
}

static void
main_configure(int argc, char *argv[], int first)
{
    int i;

    for (i = first; i < argc; i++)
        main_config_param(argv[i], i == first, NULL, 0);
    threadlocal_set_name(NULL);
}

static void
main_print_versions(void)
{
    struct backend *b;

    printf("%s %s\n", program_name, PACKAGE_VERSION);
    for (b = top; b; b = b->next) {
        const char *v = b->version(b);
        if (v)
            printf("%s %s\n", b->name, v);
    }
}

static void
main_print_help(void)
{
    struct backend *b;

    fputs(usage_text, stdout);
    for (b = top; b; b = b->next) {
        printf("\n");
        b->usage(b);
    }
}

static const char *
main_thread_model_name(int model)
{
    switch (model) {
    case NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS:
        return "serialize_connections";
    case NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS:
        return "serialize_all_requests";
    case NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS:
        return "serialize_requests";
    default:
        return "parallel";
    }
}

/* The plugin first, then each filter outward. */
static void
main_layers_bottom_up(int (*step)(struct backend *), const char *what)
{
    struct backend *layers[64];
    size_t n = 0;
    struct backend *b;

    for (b = top; b && n < sizeof layers / sizeof layers[0]; b = b->next)
        layers[n++] = b;
    while (n-- > 0) {
        b = layers[n];
        threadlocal_set_name(b->name);
        if (step(b) == -1)
            fatal("%s: %s failed", b->name, what);
    }
    threadlocal_set_name(NULL);
}

static int
main_get_ready(struct backend *b)
{
    return b->get_ready(b);
}

static int
main_after_fork(struct backend *b)
{
    return b->after_fork(b);
}

static void
main_set_thread_model(void)
{
    struct backend *b;

    thread_model = NBDKIT_THREAD_MODEL_PARALLEL;
    for (b = top; b; b = b->next) {
        int m = b->thread_model(b);
        if (m < thread_model)
            thread_model = m;
    }
    debug("thread model: %s", main_thread_model_name(thread_model));
    lock_init_thread_model();
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
    if (!verbose)
        dup2(fd, 2);
    close(fd);
}

/* Opened before privileges are dropped, written once ready. */
static int pidfile_fd = -1;

static void
main_open_pidfile(void)
{
    if (pidfile == NULL)
        return;
    pidfile_fd = open(
        pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC, 0644);
    if (pidfile_fd == -1)
        fatal("open: %s: %m", pidfile);
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
        fatal("write: %s: %m", pidfile);
    pidfile_fd = -1;
    debug("wrote pidfile %s", pidfile);
}

/* -s: stdin and stdout are the client. */
static void
main_serve_stdin(void)
{
    main_open_pidfile();
    usergroup_change();
    main_layers_bottom_up(main_after_fork, "after_fork");
    main_write_pidfile();
    handle_single_connection(0, 1);
}

static void
main_serve_sockets(void)
{
    int_vector fds = empty_vector;
    size_t i;

    main_make_private_socket();
    main_open_pidfile();
    sockets_bind(&fds);
    usergroup_change();
    if (print_uri)
        uri_print();
    if (!foreground)
        main_daemonise();
    main_layers_bottom_up(main_after_fork, "after_fork");
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
    struct backend *b;
    int status = captive_exit_status();

    connections_wait_all();
    for (b = top; b; b = b->next) {
        threadlocal_set_name(b->name);
        b->cleanup(b);
    }
    threadlocal_set_name(NULL);
    backend_unload(top);
    main_free_config_strings();
    top = NULL;
    debug_flags_check_unused();
    main_remove_private_socket();
    string_vector_reset(&filters);
    exit(status);
}

/* The options that print something and exit, before any plugin. */
static void
main_early_exits(int argc, int first)
{
    if (short_options_wanted)
        main_print_short_options();
    if (long_options_wanted)
        main_print_long_options();
    if (dump_config)
        main_dump_config();
    if (short_options_wanted || long_options_wanted || dump_config)
        exit(0);
    if (first < argc)
        return;
    if (help) {
        fputs(usage_text, stdout);
        exit(0);
    }
    if (version) {
        printf("%s %s\n", program_name, PACKAGE_VERSION);
        exit(0);
    }
    main_usage_error("no plugin given");
}

/* The options that print something about the loaded stack and exit. */
static void
main_stack_exits(int argc, char *argv[], int first)
{
    if (help) {
        main_print_help();
        exit(0);
    }
    if (version) {
        main_print_versions();
        exit(0);
    }
    if (dump_plugin) {
        main_configure(argc, argv, first);
        top->dump_fields(top);
        exit(0);
    }
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

    main_parse_options(argc, argv);
    first = optind;
    main_early_exits(argc, first);
    main_check_options();
    usergroup_parse();
    if (exit_with_parent)
        exit_with_parent_setup();
    debug_flags_apply("nbdx", RTLD_DEFAULT);

    main_load_stack(argv[first]);
    main_stack_exits(argc, argv, first + 1);
    main_configure(argc, argv, first + 1);
    threadlocal_set_name(NULL);
    top->config_complete(top);
    threadlocal_set_name(NULL);
    if (swap && mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
        fatal("--swap: mlockall: %m");
    main_set_thread_model();
    main_layers_bottom_up(main_get_ready, "get_ready");

    quit_handle_signals();
    if (listen_stdin)
        main_serve_stdin();
    else
        main_serve_sockets();
    main_shutdown();
}
