/* SPDX-License-Identifier: BSD-3-Clause */
/* options.c: nbdx's own command-line flags, into struct options.
 *
 * The flags and their aliases are nbdkit's.  Parsing only records what
 * was asked; options_check then rejects conflicts and fills in the
 * defaults that depend on several flags.  What follows the flags (the
 * plugin and its parameters) is stack.c's.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "internal.h"
#include "options.h"

/* nbdkit's defaults. */
struct options options = {
    .ipv_family = AF_UNSPEC,
    .max_connections = 1024,
    /* Bounded by default: see nbdx-security(1). */
    .handshake_timeout_sec = 60,
    .exportname = "",
    .mask_handshake = 3,
    .threads = 16,
    .tls = -1,
    .filters = empty_vector,
};
const struct options *const opts = &options;

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

static const char options_short[] = "46D:e:fg:i:nop:P:rst:u:U:vV";

/* Aliases follow the name nbdkit documents first. */
static const struct option options_long[] = {
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

void
options_usage_error(const char *fs, ...)
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

void
options_print_usage(void)
{
    fputs(usage_text, stdout);
}

static void
options_print_short(void)
{
    const char *p;

    for (p = options_short; *p; p++)
        if (*p != ':')
            printf("-%c\n", *p);
}

static void
options_print_long(void)
{
    const struct option *l;

    for (l = options_long; l->name; l++)
        printf("--%s\n", l->name);
}

static void
options_dump_config(void)
{
    CLEANUP_FREE char *binary = paths_self();
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
options_absolute(const char *path)
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
options_parse_tls(const char *s)
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

/* Flags with a value to check.  Returns false if c is not one. */
static bool
options_value(struct options *o, int c, const char *arg)
{
    switch (c) {
    case 'D':
        debug_flags_add(arg);
        break;
    case 'e':
        o->exportname = arg;
        break;
    case 'P':
        o->pidfile = options_absolute(arg);
        break;
    case 't':
        if (nbdkit_parse_unsigned("-t", arg, &o->threads) == -1)
            exit(1);
        if (o->threads == 0)
            options_usage_error("-t: the number of threads must be at least 1");
        break;
    case 'U':
        o->unixsocket = strcmp(arg, "-") == 0 ? "-" : options_absolute(arg);
        break;
    case OPT_FILTER:
        if (name_vector_append(&o->filters, arg) == -1)
            fatal("realloc: %m");
        break;
    case OPT_LOG:
        if (log_set_target(arg) == -1)
            options_usage_error("--log=%s: expected default, stderr, syslog, "
                                "null or an absolute path (%m)",
                                arg);
        break;
    case OPT_MASK_HANDSHAKE: {
        unsigned mask;
        if (nbdkit_parse_unsigned("--mask-handshake", arg, &mask) == -1)
            exit(1);
        o->mask_handshake = mask;
        break;
    }
    case OPT_MAX_CONNECTIONS:
        if (nbdkit_parse_unsigned("--max-connections", arg,
                                  &o->max_connections) == -1)
            exit(1);
        break;
    case OPT_TIMEOUT:
        if (nbdkit_parse_delay("--timeout", arg, &o->handshake_timeout_sec,
                               &o->handshake_timeout_nsec) == -1)
            exit(1);
        break;
    case OPT_TLS:
        o->tls = options_parse_tls(arg);
        if (o->tls == -1)
            options_usage_error("--tls=%s: expected off, on or require", arg);
        break;
    default:
        return false;
    }
    return true;
}

/* Flags that store their argument or set a bool. */
static bool
options_simple(struct options *o, int c, const char *arg)
{
    switch (c) {
    case '4':
        o->ipv_family = AF_INET;
        break;
    case '6':
        o->ipv_family = AF_INET6;
        break;
    case 'f':
        o->foreground = true;
        break;
    case 'g':
        o->group = arg;
        break;
    case 'i':
        o->ipaddr = arg;
        break;
    case 'n':
        o->oldstyle = false;
        break;
    case 'o':
        o->oldstyle = true;
        break;
    case 'p':
        o->port = arg;
        break;
    case 'r':
        o->read_only = true;
        break;
    case 's':
        o->listen_stdin = true;
        break;
    case 'u':
        o->user = arg;
        break;
    case 'v':
        o->verbose = true;
        break;
    case 'V':
        o->version = true;
        break;
    case OPT_DUMP_CONFIG:
        o->dump_config = true;
        break;
    case OPT_DUMP_PLUGIN:
        o->dump_plugin = true;
        break;
    case OPT_EXIT_WITH_PARENT:
        o->exit_with_parent = true;
        break;
    case OPT_HELP:
        o->help = true;
        break;
    case OPT_KEEPALIVE:
        o->keepalive = true;
        break;
    case OPT_LONG_OPTIONS:
        o->long_options = true;
        break;
    case OPT_NO_MC:
        o->no_mc = true;
        break;
    case OPT_NO_SR:
        o->no_sr = true;
        break;
    case OPT_PRINT_URI:
        o->print_uri = true;
        break;
    case OPT_RUN:
        o->run = arg;
        break;
    case OPT_SHORT_OPTIONS:
        o->short_options = true;
        break;
    case OPT_SWAP:
        o->swap = true;
        break;
    case OPT_TLS_CERTIFICATES:
        o->tls_certificates_dir = arg;
        break;
    case OPT_TLS_PRIORITY:
        o->tls_priority = arg;
        break;
    case OPT_TLS_PSK:
        o->tls_psk = arg;
        break;
    case OPT_TLS_VERIFY_PEER:
        o->tls_verify_peer = true;
        break;
    default:
        return false;
    }
    return true;
}

/* The option as the user wrote it, for error messages. */
static NORETURN void
options_bad(int c, int optind_now, char **argv)
{
    const char *arg = argv[optind_now - 1];

    if (c == ':') {
        if (optopt && optopt < 256)
            options_usage_error("option -%c needs an argument", optopt);
        options_usage_error("option %s needs an argument", arg);
    }
    if (optopt && optopt < 256)
        options_usage_error("unknown option -%c", optopt);
    options_usage_error("unknown option %.*s", (int)strcspn(arg, "="), arg);
}

int
options_parse(struct options *o, int argc, char **argv)
{
    char optstring[sizeof options_short + 1];
    int c;

    /* GNU permutation lets options follow the plugin name, as nbdkit
     * allows (nbdx memory --dump-plugin); the leading ':' reports a
     * missing argument as ':'.
     */
    snprintf(optstring, sizeof optstring, ":%s", options_short);
    opterr = 0;
    while ((c = getopt_long(argc, argv, optstring, options_long, NULL)) != -1) {
        if (c == '?' || c == ':')
            options_bad(c, optind, argv);
        if (c == OPT_SELINUX_LABEL)
            options_usage_error("--selinux-label: this nbdx was built without "
                                "SELinux support");
        if (c == OPT_VSOCK)
            options_usage_error("--vsock: this nbdx was built without "
                                "AF_VSOCK support");
        if (!options_value(o, c, optarg) && !options_simple(o, c, optarg))
            options_usage_error("unhandled option %s", argv[optind - 1]);
    }
    return optind;
}

void
options_early_exits(const struct options *o, int argc, int first)
{
    if (o->short_options)
        options_print_short();
    if (o->long_options)
        options_print_long();
    if (o->dump_config)
        options_dump_config();
    if (o->short_options || o->long_options || o->dump_config)
        exit(0);
    if (first < argc)
        return;
    if (o->help) {
        options_print_usage();
        exit(0);
    }
    if (o->version) {
        printf("%s %s\n", program_name, PACKAGE_VERSION);
        exit(0);
    }
    options_usage_error("no plugin given");
}

void
options_check(struct options *o)
{
    bool tcp = o->port || o->ipaddr;

    if (o->listen_stdin && (o->unixsocket || tcp || o->run || o->print_uri))
        options_usage_error("-s cannot be combined with -U, -p, -i, --run or "
                            "--print-uri");
    if (o->unixsocket && tcp)
        options_usage_error("-U cannot be combined with -p or -i");
    if (socket_activation &&
        (o->unixsocket || tcp || o->listen_stdin || o->run || o->print_uri))
        options_usage_error("socket activation cannot be combined with -U, "
                            "-p, -i, -s, --run or --print-uri");
    if (o->tls == 2 && o->oldstyle)
        options_usage_error("-o and --tls=require cannot be combined: "
                            "oldstyle has no TLS");
    crypto_init(o); /* before privileges are dropped */
    /* As in nbdkit >= 1.36, --run uses a private unix socket unless a
     * TCP address was asked for.
     */
    if (o->run && !o->unixsocket && !tcp)
        o->unixsocket = "-";
    if (o->listen_stdin || o->run || o->exit_with_parent || socket_activation)
        o->foreground = true;
}
