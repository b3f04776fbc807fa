/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: the command line and the life of the server process.
 *
 * Order of events: parse options; handle the ones that only print
 * (--dump-config, --short-options, ...); find and load the plugin and the
 * filters; pass parameters down the stack; config_complete; settle the
 * thread model; get_ready; bind; drop privileges; daemonise; after_fork;
 * write the pidfile; serve until quit; cleanup and unload.
 *
 * The options live in struct options (internal.h); the state here that
 * is not an option is a named global each (see internal.h for why not a
 * struct), written only before the first connection.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
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

char *
paths_self(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

    if (n == -1)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

/* Non-empty, no path or parameter punctuation, no control characters. */
bool
paths_is_short_name(const char *name)
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
paths_if_file(char *path)
{
    struct stat st;

    if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return path;
    free(path);
    return NULL;
}

static char *
paths_join(const char *dir, const char *sub, const char *name, const char *kind)
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
paths_search_env(const char *var, const char *name, const char *kind)
{
    const char *path = getenv(var);
    CLEANUP_FREE char *copy = path ? strdup(path) : NULL;
    char *dir, *save = NULL, *found = NULL, *sub = NULL;

    if (copy == NULL)
        return NULL;
    for (dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        found = paths_if_file(paths_join(dir, "", name, kind));
        if (found == NULL && asprintf(&sub, "/%s", name) != -1) {
            found = paths_if_file(paths_join(dir, sub, name, kind));
            free(sub);
        }
    }
    return found;
}

/* In an uninstalled build: BUILDDIR/server/nbdx finds
 * BUILDDIR/{plugins,filters}/NAME/nbdkit-NAME-KIND.so.
 */
static char *
paths_search_build(const char *name, const char *kind)
{
    CLEANUP_FREE char *self = paths_self();
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
    return paths_if_file(paths_join(real, "", name, kind));
}

/* An executable PLUGINDIR/nbdkit-NAME-plugin (a script whose #! line
 * runs nbdx with a language plugin) replaces us, with the plugin name
 * (the very string name, one of orig_argv) taken out of the arguments.
 */
static void
paths_exec_script(const char *name, char *const *orig_argv)
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
    for (n = 0; orig_argv[n]; n++)
        ;
    args = calloc(n + 1, sizeof *args);
    if (args == NULL)
        fatal("calloc: %m");
    args[0] = script;
    for (i = 1, j = 1; i < n; i++)
        if (orig_argv[i] != name)
            args[j++] = orig_argv[i];
    execv(script, args);
    fatal("execv: %s: %m", script);
}

char *
paths_find_plugin(const char *name, char *const *orig_argv)
{
    char *path;

    if (!paths_is_short_name(name))
        return strdup(name);
    if ((path = paths_search_env("NBDX_PLUGIN_PATH", name, "plugin")) ||
        (path = paths_search_build(name, "plugin")) ||
        (path = paths_if_file(paths_join(PLUGINDIR, "", name, "plugin"))))
        return path;
    paths_exec_script(name, orig_argv);
    if ((path =
             paths_if_file(paths_join(NBDKIT_PLUGINDIR, "", name, "plugin"))))
        return path;
    fatal("plugin '%s' not found: looked in $NBDX_PLUGIN_PATH, the build "
          "tree, %s and %s",
          name, PLUGINDIR, NBDKIT_PLUGINDIR);
}

char *
paths_find_filter(const char *name)
{
    char *path;

    if (!paths_is_short_name(name))
        return strdup(name);
    if ((path = paths_search_env("NBDX_FILTER_PATH", name, "filter")) ||
        (path = paths_search_build(name, "filter")) ||
        (path = paths_if_file(paths_join(FILTERDIR, "", name, "filter"))))
        return path;
    fatal("filter '%s' not found: looked in $NBDX_FILTER_PATH, the build "
          "tree and %s",
          name, FILTERDIR);
}

struct backend *top;
int thread_model;

/* Plugin, then the filters from the last on the command line to the
 * first, so the first ends up outermost.
 */
void
stack_load(const char *plugin_arg, char *const *orig_argv)
{
    CLEANUP_FREE char *path = paths_find_plugin(plugin_arg, orig_argv);
    const name_vector *filters = &opts->filters;
    size_t i;

    /* Each load leaves the layer's name as the thread's log name. */
    top =
        plugin_load(path, paths_is_short_name(plugin_arg) ? plugin_arg : NULL);
    threadlocal_set_name(NULL);
    for (i = filters->len; i-- > 0;) {
        const char *name = filters->ptr[i];
        CLEANUP_FREE char *fpath = paths_find_filter(name);
        top = filter_load(top, fpath, paths_is_short_name(name) ? name : NULL);
        threadlocal_set_name(NULL);
    }
}

/* KEY as in KEY=VALUE: a letter, then letters, digits, '_', '-', '.'. */
static bool
stack_is_config_key(const char *s, size_t len)
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

static void stack_config_param(const char *arg, bool first, const char *base,
                               int depth);

/* Plugins may keep the key and value pointers .config receives for as
 * long as they are loaded (nbdkit promises this), so strings made here
 * for .config live until after backend_unload.
 */
DEFINE_VECTOR_TYPE(owned_strings, char *);
static owned_strings config_strings = empty_vector;

static char *
stack_keep_string(char *s)
{
    if (s == NULL || owned_strings_append(&config_strings, s) == -1)
        fatal("malloc: %m");
    return s;
}

static void
stack_free_config_strings(void)
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
stack_config_file(const char *path, int depth)
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
        char *s = stack_keep_string(line);
        line = NULL; /* the next line gets its own buffer */
        cap = 0;
        while (n > 0 && strchr(" \t\r\n", s[n - 1]))
            s[--n] = '\0';
        s += strspn(s, " \t");
        if (*s == '\0' || *s == '#')
            continue;
        stack_config_param(s, false, dir, depth);
    }
    fclose(fp);
}

static void
stack_config_param(const char *arg, bool first, const char *base, int depth)
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
        stack_config_file(path, depth + 1);
        return;
    }
    if (eq && stack_is_config_key(arg, eq - arg)) {
        char *key = stack_keep_string(strndup(arg, eq - arg));
        top->config(top, key, eq + 1);
        return;
    }
    magic = top->magic_config_key(top);
    if (magic)
        top->config(top, magic, arg);
    else if (first && eq == NULL)
        top->config(top, "script", arg);
    else
        options_usage_error("parameter '%s' must be KEY=VALUE "
                            "(this plugin has no magic parameter)",
                            arg);
}

void
stack_configure(int argc, char **argv, int first)
{
    int i;

    for (i = first; i < argc; i++)
        stack_config_param(argv[i], i == first, NULL, 0);
    threadlocal_set_name(NULL);
}

static void
stack_print_versions(void)
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
stack_print_help(void)
{
    struct backend *b;

    options_print_usage();
    for (b = top; b; b = b->next) {
        printf("\n");
        b->usage(b);
    }
}

void
stack_early_exits(int argc, char **argv, int first)
{
    if (opts->help) {
        stack_print_help();
        exit(0);
    }
    if (opts->version) {
        stack_print_versions();
        exit(0);
    }
    if (opts->dump_plugin) {
        stack_configure(argc, argv, first);
        top->dump_fields(top);
        exit(0);
    }
}

void
stack_config_complete(void)
{
    threadlocal_set_name(NULL);
    top->config_complete(top);
    threadlocal_set_name(NULL);
}

static const char *
stack_thread_model_name(int model)
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
stack_bottom_up(int (*step)(struct backend *), const char *what)
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
stack_get_ready_one(struct backend *b)
{
    return b->get_ready(b);
}

static int
stack_after_fork_one(struct backend *b)
{
    return b->after_fork(b);
}

void
stack_set_thread_model(void)
{
    struct backend *b;

    thread_model = NBDKIT_THREAD_MODEL_PARALLEL;
    for (b = top; b; b = b->next) {
        int m = b->thread_model(b);
        if (m < thread_model)
            thread_model = m;
    }
    debug("thread model: %s", stack_thread_model_name(thread_model));
    lock_init_thread_model();
}

void
stack_get_ready(void)
{
    stack_bottom_up(stack_get_ready_one, "get_ready");
}

void
stack_after_fork(void)
{
    stack_bottom_up(stack_after_fork_one, "after_fork");
}

void
stack_unload(void)
{
    struct backend *b;

    for (b = top; b; b = b->next) {
        threadlocal_set_name(b->name);
        b->cleanup(b);
    }
    threadlocal_set_name(NULL);
    backend_unload(top);
    stack_free_config_strings();
    top = NULL;
}

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
