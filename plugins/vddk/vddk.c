/* SPDX-License-Identifier: BSD-3-Clause */
/* vddk: a disk served by VMware's VixDiskLib (VDDK), loaded at run time
 * (see nbdx-vddk-plugin(1)).  nbdkit's vddk plugin's command line.
 *
 * config_complete dlopens libvixDiskLib.so.N (N from 9 down to 5) from
 * libdir= and, unless the library's folder is already on
 * LD_LIBRARY_PATH, re-executes the server with it there, since VDDK
 * loads more of its own libraries.  VixDiskLib_InitEx runs in
 * after_fork, once the server has daemonized: VDDK starts threads.  Each
 * connection has its own VixDiskLib connection and disk handle; VDDK is
 * not safe to call concurrently on one handle, so requests of one
 * connection are serialized (thread model serialize_requests), and
 * Open and Close, which are not thread-safe at all, take open_lock.
 */

#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "vddk-structs.h"
#include "vddk-stubs.h"

/* The functions of the library, by name (vddk-stubs.h); NULL if the
 * library lacks an optional one.
 */
#define STUB(ret, name, args) static ret(*name) args;
#define OPTIONAL_STUB(ret, name, args) static ret(*name) args;
VDDK_STUBS
#undef STUB
#undef OPTIONAL_STUB

/* The command line; set by config, read-only after config_complete. */
static struct {
    char *file, *libdir, *config, *server, *user, *password, *thumbprint;
    char *vm, *snapshot, *transports, *cookie, *reexeced;
    uint32_t port, nfchostport;
    bool single_link, unbuffered, reexec, create;
    uint32_t compression;                 /* an OPEN_COMPRESSION flag */
    VixDiskLibCreateParams create_params; /* create-* */
} opt = {.reexec = true,
         .create_params = {.diskType = VIXDISKLIB_DISK_MONOLITHIC_SPARSE,
                           .adapterType = VIXDISKLIB_ADAPTER_SCSI_BUSLOGIC,
                           .hwVersion = VIXDISKLIB_HWVERSION_WORKSTATION_5}};

static void *dl;         /* the library, from config_complete */
static char *dl_path;    /* its file */
static int dl_version;   /* its N */
static bool initialised; /* InitEx succeeded */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

/* One connection. */
struct vddk_handle {
    VixDiskLibConnectParams *params; /* owned; strings point into opt */
    VixDiskLibConnection conn;
    VixDiskLibHandle disk;
    uint64_t size; /* bytes */
    bool readonly;
};

/* VixErrors as errno values, and the library's own text in the log. */
static int
vddk_errno(VixError err)
{
    switch (VIX_ERROR_CODE(err)) {
    case VIX_E_OUT_OF_MEMORY:
        return ENOMEM;
    case VIX_E_INVALID_ARG:
        return EINVAL;
    case VIX_E_FILE_NOT_FOUND:
        return ENOENT;
    case VIX_E_NOT_SUPPORTED:
        return ENOTSUP;
    case VIX_E_DISK_FULL:
        return ENOSPC;
    case VIX_E_FILE_READ_ONLY:
        return EPERM;
    case VIX_E_FILE_ACCESS_ERROR:
        return EACCES;
    default:
        return EIO;
    }
}

static int
vddk_fail(const char *fn, VixError err)
{
    char *text = VixDiskLib_GetErrorText(err, NULL);

    nbdkit_error("%s: %s (VixError %" PRIu64 ")", fn,
                 text ? text : "unknown error", err);
    VixDiskLib_FreeErrorText(text);
    nbdkit_set_error(vddk_errno(err));
    return -1;
}

static int
vddk_parse_compression(const char *value)
{
    static const char *names[] = {"none", "zlib", "fastlz", "skipz"};
    static const uint32_t flags[] = {0, VIXDISKLIB_FLAG_OPEN_COMPRESSION_ZLIB,
                                     VIXDISKLIB_FLAG_OPEN_COMPRESSION_FASTLZ,
                                     VIXDISKLIB_FLAG_OPEN_COMPRESSION_SKIPZ};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(value, names[i]) == 0) {
            opt.compression = flags[i];
            return 0;
        }
    nbdkit_error("compression=%s: expected none, zlib, fastlz or skipz", value);
    return -1;
}

/* A string parameter: KEY names it, *DST receives a copy. */
static int
vddk_set_string(char **dst, const char *value)
{
    free(*dst);
    *dst = strdup(value);
    if (*dst == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

static int
vddk_set_bool(bool *dst, const char *value)
{
    int r = nbdkit_parse_bool(value);

    if (r == -1)
        return -1;
    *dst = r;
    return 0;
}

/* create-type, create-adapter-type, create-hwversion, create-size. */
static int
vddk_config_create(const char *key, const char *value)
{
    static const char *types[] = {
        "",           "monolithic-sparse", "monolithic-flat",  "split-sparse",
        "split-flat", "vmfs-flat",         "stream-optimized", "vmfs-thin",
        "vmfs-sparse"};
    static const char *adapters[] = {"", "ide", "scsi-buslogic",
                                     "scsi-lsilogic"};
    static const struct {
        const char *name;
        uint16_t version;
    } hw[] = {{"workstation4", 3}, {"workstation5", 4}, {"workstation6", 6},
              {"esx30", 4},        {"esx4x", 7},        {"esx50", 8},
              {"esx51", 9},        {"esx55", 10},       {"esx60", 11},
              {"esx65", 13}};
    VixDiskLibCreateParams *p = &opt.create_params;
    int64_t size;
    uint32_t n;
    size_t i;

    if (strcmp(key, "create-type") == 0) {
        for (i = 1; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(value, types[i]) == 0)
                return p->diskType = i, 0;
    } else if (strcmp(key, "create-adapter-type") == 0) {
        for (i = 1; i < sizeof adapters / sizeof adapters[0]; i++)
            if (strcmp(value, adapters[i]) == 0)
                return p->adapterType = i, 0;
    } else if (strcmp(key, "create-hwversion") == 0) {
        for (i = 0; i < sizeof hw / sizeof hw[0]; i++)
            if (strcmp(value, hw[i].name) == 0)
                return p->hwVersion = hw[i].version, 0;
        if (nbdkit_parse_uint32_t(key, value, &n) == 0 && n <= 0xffff)
            return p->hwVersion = n, 0;
    } else if (strcmp(key, "create-size") == 0) {
        size = nbdkit_parse_size(value);
        if (size == -1)
            return -1;
        if (size == 0 || size % VIXDISKLIB_SECTOR_SIZE != 0) {
            nbdkit_error("create-size must be a non-zero multiple of 512");
            return -1;
        }
        p->capacity = size / VIXDISKLIB_SECTOR_SIZE;
        return 0;
    } else {
        nbdkit_error("unknown parameter '%s'", key);
        return -1;
    }
    nbdkit_error("%s=%s: not a value nbdx knows", key, value);
    return -1;
}

static int
vddk_config(const char *key, const char *value)
{
    static const struct {
        const char *key;
        char **dst;
    } strings[] = {
        {"file", &opt.file},
        {"config", &opt.config},
        {"server", &opt.server},
        {"user", &opt.user},
        {"thumbprint", &opt.thumbprint},
        {"vm", &opt.vm},
        {"snapshot", &opt.snapshot},
        {"transports", &opt.transports},
        {"cookie", &opt.cookie},
        {"reexeced_", &opt.reexeced},
    };
    size_t i;

    for (i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strcmp(key, strings[i].key) == 0)
            return vddk_set_string(strings[i].dst, value);
    if (strcmp(key, "libdir") == 0) {
        free(opt.libdir);
        opt.libdir = nbdkit_realpath(value);
        return opt.libdir ? 0 : -1;
    }
    if (strcmp(key, "password") == 0) {
        free(opt.password);
        return nbdkit_read_password(value, &opt.password);
    }
    if (strcmp(key, "port") == 0)
        return nbdkit_parse_uint32_t(key, value, &opt.port);
    if (strcmp(key, "nfchostport") == 0)
        return nbdkit_parse_uint32_t(key, value, &opt.nfchostport);
    if (strcmp(key, "single-link") == 0)
        return vddk_set_bool(&opt.single_link, value);
    if (strcmp(key, "unbuffered") == 0)
        return vddk_set_bool(&opt.unbuffered, value);
    if (strcmp(key, "reexec") == 0)
        return vddk_set_bool(&opt.reexec, value);
    if (strcmp(key, "create") == 0)
        return vddk_set_bool(&opt.create, value);
    if (strcmp(key, "compression") == 0)
        return vddk_parse_compression(value);
    return vddk_config_create(key, value);
}

#define vddk_config_help                                                       \
    "[file=]<FILENAME>   (required) The disk, [datastore] path on a server.\n" \
    "libdir=<DIR>        The VDDK folder (default " VDDK_LIBDIR ").\n"         \
    "server=<HOST>       ESXi or vCenter host; without it, a local file.\n"    \
    "user=<USER>         The user on the server.\n"                            \
    "password=<PW>|-|+<FILE>|-<FD>  The password.\n"                           \
    "thumbprint=<SHA1>   The server's certificate thumbprint.\n"               \
    "vm=moref=<ID>       The virtual machine (with server=).\n"                \
    "snapshot=<MOREF>    The snapshot to read.\n"                              \
    "transports=<T:T..>  Transport modes to try (file:san:hotadd:nbd...).\n"   \
    "cookie=<COOKIE>     A session cookie instead of user and password.\n"     \
    "port=<PORT>         The server's port.\n"                                 \
    "nfchostport=<PORT>  The port of the host's NFC service.\n"                \
    "config=<FILE>       A VDDK configuration file.\n"                         \
    "single-link=true    Open only this link of a snapshot chain.\n"           \
    "unbuffered=true     Open without the host's cache.\n"                     \
    "compression=none|zlib|fastlz|skipz  NBD transport compression.\n"         \
    "create=true         Create the disk first, then serve it:\n"              \
    "create-size=<SIZE>  (required with create) Its size.\n"                   \
    "create-type=<TYPE>  monolithic-sparse (default), monolithic-flat...\n"    \
    "create-adapter-type=ide|scsi-buslogic|scsi-lsilogic\n"                    \
    "create-hwversion=<V> workstation5 (default), esx65... or a number.\n"     \
    "reexec=false        Do not re-execute with LD_LIBRARY_PATH set."

/* Resolve every function; a missing required one is an error. */
static int
vddk_load_symbols(void)
{
#define STUB(ret, name, args)                                                  \
    name = dlsym(dl, #name);                                                   \
    if (name == NULL) {                                                        \
        nbdkit_error("%s: %s is missing: nbdx needs VDDK 6.5 or later",        \
                     dl_path, #name);                                          \
        return -1;                                                             \
    }
#define OPTIONAL_STUB(ret, name, args) name = dlsym(dl, #name);
    VDDK_STUBS
#undef STUB
#undef OPTIONAL_STUB
    return 0;
}

/* dlopen the newest libvixDiskLib.so.N in libdir/lib64 or libdir. */
static int
vddk_load_library(void)
{
    const char *libdir = opt.libdir ? opt.libdir : VDDK_LIBDIR;
    const char *sub[] = {"/lib64", ""};
    char *err = NULL;
    int n;
    size_t i;

    for (n = 9; n >= 5 && dl == NULL; n--)
        for (i = 0; i < 2 && dl == NULL; i++) {
            free(dl_path);
            if (asprintf(&dl_path, "%s%s/libvixDiskLib.so.%d", libdir, sub[i],
                         n) == -1) {
                nbdkit_error("asprintf: %m");
                return -1;
            }
            dl = dlopen(dl_path, RTLD_NOW);
            if (dl != NULL)
                dl_version = n;
            else if (err == NULL && access(dl_path, F_OK) == 0)
                err = strdup(dlerror()); /* there, but it does not load */
        }
    if (dl == NULL) {
        nbdkit_error("cannot load libvixDiskLib.so.N (N = 5..9) from %s%s%s%s",
                     libdir, opt.libdir ? "" : " (set libdir=)",
                     err ? ": " : " or its lib64/: no such library",
                     err ? err : "");
        free(err);
        return -1;
    }
    free(err);
    nbdkit_debug("loaded %s", dl_path);
    return vddk_load_symbols();
}

/* Is DIR one of the folders of LD_LIBRARY_PATH? */
static bool
vddk_on_library_path(const char *dir)
{
    const char *p = getenv("LD_LIBRARY_PATH");
    size_t len = strlen(dir);

    while (p && *p) {
        if (strncmp(p, dir, len) == 0 && (p[len] == ':' || p[len] == '\0'))
            return true;
        p = strchr(p, ':');
        if (p)
            p++;
    }
    return false;
}

/* Read this process's command line into a NULL-terminated vector. */
static char **
vddk_own_argv(char **buf)
{
    size_t cap = 4096, len = 0, n = 0, i;
    char **argv;
    FILE *fp = fopen("/proc/self/cmdline", "re");
    size_t r;

    *buf = NULL;
    if (fp == NULL)
        return NULL;
    do {
        char *nb = realloc(*buf, cap *= 2);
        if (nb == NULL)
            break;
        *buf = nb;
        r = fread(*buf + len, 1, cap - len, fp);
        len += r;
    } while (r > 0 && len == cap);
    fclose(fp);
    if (*buf == NULL || len == 0)
        return NULL;
    for (i = 0; i < len; i++)
        n += (*buf)[i] == '\0';
    argv = calloc(n + 2, sizeof *argv); /* room for reexeced_= */
    if (argv == NULL)
        return NULL;
    for (i = 0, n = 0; i < len; i += strlen(*buf + i) + 1)
        argv[n++] = *buf + i;
    return argv;
}

/* Run the server again with the library's folder on LD_LIBRARY_PATH, so
 * that VDDK finds its own libraries; reexeced_= carries the old value,
 * which the new process puts back for the commands it runs.  Returns
 * only if it cannot exec, and then the server goes on as it is.
 */
static void
vddk_reexec(void)
{
    const char *old = getenv("LD_LIBRARY_PATH");
    char *dir = strdup(dl_path), *slash, *path = NULL, *arg = NULL, *buf;
    char **argv = vddk_own_argv(&buf);
    size_t n;

    if (dir == NULL || argv == NULL)
        goto out;
    slash = strrchr(dir, '/');
    *slash = '\0';
    if (vddk_on_library_path(dir))
        goto out;
    if (asprintf(&path, "%s%s%s", dir, old && *old ? ":" : "",
                 old ? old : "") == -1 ||
        asprintf(&arg, "reexeced_=%s", old ? old : "") == -1)
        goto out;
    for (n = 0; argv[n]; n++)
        ;
    argv[n] = arg;
    setenv("LD_LIBRARY_PATH", path, 1);
    nbdkit_debug("re-executing with LD_LIBRARY_PATH=%s", path);
    execv("/proc/self/exe", argv);
    nbdkit_debug("re-exec: %m: going on without it");
    if (old)
        setenv("LD_LIBRARY_PATH", old, 1);
    else
        unsetenv("LD_LIBRARY_PATH");
out:
    free(dir);
    free(path);
    free(arg);
    free(argv);
    free(buf);
}

static int
vddk_config_complete(void)
{
    if (opt.file == NULL) {
        nbdkit_error("you must supply file=<FILENAME> on the command line");
        return -1;
    }
    if (opt.server && opt.vm == NULL) {
        nbdkit_error("server= needs vm=moref=<ID>");
        return -1;
    }
    if (opt.create && opt.create_params.capacity == 0) {
        nbdkit_error("create=true needs create-size=<SIZE>");
        return -1;
    }
    if (vddk_load_library() == -1)
        return -1;
    if (opt.reexeced) {
        /* The re-executed server: commands it runs see the old value. */
        if (*opt.reexeced)
            setenv("LD_LIBRARY_PATH", opt.reexeced, 1);
        else
            unsetenv("LD_LIBRARY_PATH");
    } else if (opt.reexec)
        vddk_reexec();
    return 0;
}

static void
vddk_log(const char *fmt, va_list args)
{
    char *msg;

    if (vasprintf(&msg, fmt, args) == -1)
        return;
    msg[strcspn(msg, "\n")] = '\0';
    nbdkit_debug("VDDK: %s", msg);
    free(msg);
}

/* The connection parameters of the command line; NULL on error. */
static VixDiskLibConnectParams *
vddk_params_new(void)
{
    VixDiskLibConnectParams *p;

    p = VixDiskLib_AllocateConnectParams ? VixDiskLib_AllocateConnectParams()
                                         : calloc(1, sizeof *p);
    if (p == NULL) {
        nbdkit_error("cannot allocate the connection parameters");
        return NULL;
    }
    p->vmxSpec = opt.vm;
    p->serverName = opt.server;
    p->thumbPrint = opt.thumbprint;
    if (opt.cookie) {
        p->credType = VIXDISKLIB_CRED_SESSIONID;
        p->creds.sessionId.cookie = opt.cookie;
        p->creds.sessionId.userName = opt.user;
        p->creds.sessionId.key = opt.password;
    } else {
        p->credType = VIXDISKLIB_CRED_UID;
        p->creds.uid.userName = opt.user;
        p->creds.uid.password = opt.password;
    }
    p->port = opt.port;
    p->nfcHostPort = opt.nfchostport;
    return p;
}

/* FreeConnectParams frees what the library allocated: ours are not. */
static void
vddk_params_free(VixDiskLibConnectParams *p)
{
    if (p == NULL)
        return;
    if (VixDiskLib_AllocateConnectParams) {
        memset(p, 0, sizeof *p);
        VixDiskLib_FreeConnectParams(p);
    } else
        free(p);
}

/* create=true: make the disk, then the server serves it. */
static int
vddk_create(void)
{
    VixDiskLibConnectParams *p = vddk_params_new();
    VixDiskLibConnection conn;
    VixError err;

    if (p == NULL)
        return -1;
    err = VixDiskLib_ConnectEx(p, 0, opt.snapshot, opt.transports, &conn);
    if (err != VIX_OK) {
        vddk_params_free(p);
        return vddk_fail("VixDiskLib_ConnectEx", err);
    }
    err = VixDiskLib_Create(conn, opt.file, &opt.create_params, NULL, NULL);
    VixDiskLib_Disconnect(conn);
    vddk_params_free(p);
    return err == VIX_OK ? 0 : vddk_fail("VixDiskLib_Create", err);
}

static int
vddk_after_fork(void)
{
    VixError err =
        VixDiskLib_InitEx(6, 7, vddk_log, vddk_log, vddk_log,
                          opt.libdir ? opt.libdir : VDDK_LIBDIR, opt.config);

    if (err != VIX_OK)
        return vddk_fail("VixDiskLib_InitEx", err);
    initialised = true;
    return opt.create ? vddk_create() : 0;
}

static void
vddk_unload(void)
{
    if (initialised)
        VixDiskLib_Exit();
    if (dl)
        dlclose(dl);
    free(dl_path);
    free(opt.file), free(opt.libdir), free(opt.config), free(opt.server);
    free(opt.user), free(opt.password), free(opt.thumbprint), free(opt.vm);
    free(opt.snapshot), free(opt.transports), free(opt.cookie);
    free(opt.reexeced);
}

static void
vddk_dump_plugin(void)
{
    printf("vddk_default_libdir=%s\n", VDDK_LIBDIR);
    if (dl == NULL && vddk_load_library() == -1)
        return;
    printf("vddk_library_version=%d\n", dl_version);
    printf("vddk_dll=%s\n", dl_path);
#define STUB(ret, name, args) printf("%s=1\n", #name);
#define OPTIONAL_STUB(ret, name, args)                                         \
    if (name)                                                                  \
        printf("%s=1\n", #name);
    VDDK_STUBS
#undef STUB
#undef OPTIONAL_STUB
}

static uint32_t
vddk_open_flags(bool readonly)
{
    return (readonly ? VIXDISKLIB_FLAG_OPEN_READ_ONLY : 0) |
           (opt.single_link ? VIXDISKLIB_FLAG_OPEN_SINGLE_LINK : 0) |
           (opt.unbuffered ? VIXDISKLIB_FLAG_OPEN_UNBUFFERED : 0) |
           opt.compression;
}

/* Connect and open the disk; its size from GetInfo.  Under open_lock. */
static int
vddk_handle_open(struct vddk_handle *h)
{
    VixDiskLibInfo *info;
    VixError err;

    err = VixDiskLib_ConnectEx(h->params, h->readonly, opt.snapshot,
                               opt.transports, &h->conn);
    if (err != VIX_OK)
        return vddk_fail("VixDiskLib_ConnectEx", err);
    err = VixDiskLib_Open(h->conn, opt.file, vddk_open_flags(h->readonly),
                          &h->disk);
    if (err != VIX_OK)
        return vddk_fail("VixDiskLib_Open", err);
    nbdkit_debug("transport mode: %s", VixDiskLib_GetTransportMode(h->disk));
    err = VixDiskLib_GetInfo(h->disk, &info);
    if (err != VIX_OK)
        return vddk_fail("VixDiskLib_GetInfo", err);
    h->size = info->capacity * VIXDISKLIB_SECTOR_SIZE;
    VixDiskLib_FreeInfo(info);
    return 0;
}

static void
vddk_close(void *handle)
{
    struct vddk_handle *h = handle;

    pthread_mutex_lock(&open_lock);
    if (h->disk)
        VixDiskLib_Close(h->disk);
    if (h->conn)
        VixDiskLib_Disconnect(h->conn);
    pthread_mutex_unlock(&open_lock);
    vddk_params_free(h->params);
    free(h);
}

static void *
vddk_open(int readonly)
{
    struct vddk_handle *h = calloc(1, sizeof *h);
    int r;

    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->readonly = readonly;
    h->params = vddk_params_new();
    if (h->params == NULL) {
        free(h);
        return NULL;
    }
    pthread_mutex_lock(&open_lock);
    r = vddk_handle_open(h);
    pthread_mutex_unlock(&open_lock);
    if (r == -1) {
        vddk_close(h);
        return NULL;
    }
    return h;
}

static int64_t
vddk_get_size(void *handle)
{
    struct vddk_handle *h = handle;

    return h->size;
}

static int
vddk_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                uint32_t *maximum)
{
    *minimum = VIXDISKLIB_SECTOR_SIZE;
    *preferred = VIXDISKLIB_MIN_CHUNK_SIZE * VIXDISKLIB_SECTOR_SIZE;
    *maximum = 0xffffffff;
    return 0;
}

static int
vddk_can_flush(void *handle)
{
    return 1;
}

static int
vddk_can_fua(void *handle)
{
    return NBDKIT_FUA_NATIVE;
}

static int
vddk_can_extents(void *handle)
{
    return VixDiskLib_QueryAllocatedBlocks != NULL &&
           VixDiskLib_FreeBlockList != NULL;
}

/* Requests are in whole sectors (block_size says so). */
static int
vddk_check_aligned(uint32_t count, uint64_t offset)
{
    if (count % VIXDISKLIB_SECTOR_SIZE || offset % VIXDISKLIB_SECTOR_SIZE) {
        nbdkit_error("request not aligned to %d-byte sectors",
                     VIXDISKLIB_SECTOR_SIZE);
        nbdkit_set_error(EINVAL);
        return -1;
    }
    return 0;
}

/* The completion of an async request. */
struct vddk_done {
    VixError err;
};

static void
vddk_complete(void *data, VixError err)
{
    ((struct vddk_done *)data)->err = err;
}

/* Read or write with the async call and Wait, where the library has
 * them, else the synchronous one.
 */
static VixError
vddk_rw(struct vddk_handle *h, bool write, void *buf, uint64_t start,
        uint64_t count)
{
    struct vddk_done done = {VIX_OK};
    VixError err;

    if (VixDiskLib_ReadAsync && VixDiskLib_WriteAsync && VixDiskLib_Wait) {
        err = write ? VixDiskLib_WriteAsync(h->disk, start, count, buf,
                                            vddk_complete, &done)
                    : VixDiskLib_ReadAsync(h->disk, start, count, buf,
                                           vddk_complete, &done);
        if (err != VIX_ASYNC && err != VIX_OK)
            return err;
        err = VixDiskLib_Wait(h->disk);
        return err != VIX_OK ? err : done.err;
    }
    return write ? VixDiskLib_Write(h->disk, start, count, buf)
                 : VixDiskLib_Read(h->disk, start, count, buf);
}

static int
vddk_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    VixError err;

    if (vddk_check_aligned(count, offset) == -1)
        return -1;
    err = vddk_rw(handle, false, buf, offset / VIXDISKLIB_SECTOR_SIZE,
                  count / VIXDISKLIB_SECTOR_SIZE);
    return err == VIX_OK ? 0 : vddk_fail("VixDiskLib_Read", err);
}

static int
vddk_flush(void *handle, uint32_t flags)
{
    struct vddk_handle *h = handle;
    VixError err = VixDiskLib_Flush(h->disk);

    return err == VIX_OK ? 0 : vddk_fail("VixDiskLib_Flush", err);
}

static int
vddk_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    VixError err;

    if (vddk_check_aligned(count, offset) == -1)
        return -1;
    err = vddk_rw(handle, true, (void *)buf, offset / VIXDISKLIB_SECTOR_SIZE,
                  count / VIXDISKLIB_SECTOR_SIZE);
    if (err != VIX_OK)
        return vddk_fail("VixDiskLib_Write", err);
    return (flags & NBDKIT_FLAG_FUA) ? vddk_flush(handle, 0) : 0;
}

/* Allocated blocks of [START, START + COUNT) sectors, in chunks of
 * VIXDISKLIB_MIN_CHUNK_SIZE: data where the library says, holes between.
 * The disk's tail after its last whole chunk is data.
 */
static int
vddk_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
             struct nbdkit_extents *out)
{
    const uint64_t chunk = VIXDISKLIB_MIN_CHUNK_SIZE;
    struct vddk_handle *h = handle;
    uint64_t sectors = h->size / VIXDISKLIB_SECTOR_SIZE;
    uint64_t start = offset / VIXDISKLIB_SECTOR_SIZE / chunk * chunk;
    uint64_t last = sectors / chunk * chunk, end, pos, n, i;
    VixDiskLibBlockList *list;
    VixError err;

    end = (offset + count + chunk * VIXDISKLIB_SECTOR_SIZE - 1) /
          VIXDISKLIB_SECTOR_SIZE / chunk * chunk;
    if (end > last)
        end = last;
    if (end - start > chunk * VIXDISKLIB_MAX_CHUNK_NUMBER)
        end = start + chunk * VIXDISKLIB_MAX_CHUNK_NUMBER;
    if (start >= end) /* only the tail: data */
        return nbdkit_add_extent(out, offset, count, 0);
    err = VixDiskLib_QueryAllocatedBlocks(h->disk, start, end - start, chunk,
                                          &list);
    if (err != VIX_OK)
        return vddk_fail("VixDiskLib_QueryAllocatedBlocks", err);
    pos = start;
    for (i = 0; i < list->numBlocks; i++) {
        VixDiskLibBlock *b = &list->blocks[i];

        if (b->offset < pos || b->offset + b->length > end)
            continue; /* not in order, or outside: ignored */
        n = b->offset - pos;
        if ((n && nbdkit_add_extent(out, pos * VIXDISKLIB_SECTOR_SIZE,
                                    n * VIXDISKLIB_SECTOR_SIZE,
                                    NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) ==
                      -1) ||
            nbdkit_add_extent(out, b->offset * VIXDISKLIB_SECTOR_SIZE,
                              b->length * VIXDISKLIB_SECTOR_SIZE, 0) == -1) {
            VixDiskLib_FreeBlockList(list);
            return -1;
        }
        pos = b->offset + b->length;
    }
    VixDiskLib_FreeBlockList(list);
    if (pos < end &&
        nbdkit_add_extent(out, pos * VIXDISKLIB_SECTOR_SIZE,
                          (end - pos) * VIXDISKLIB_SECTOR_SIZE,
                          NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
        return -1;
    if (end == last && last < sectors)
        return nbdkit_add_extent(out, last * VIXDISKLIB_SECTOR_SIZE,
                                 (sectors - last) * VIXDISKLIB_SECTOR_SIZE, 0);
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "vddk",
    .longname = "nbdx VMware VDDK plugin",
    .version = PACKAGE_VERSION,
    .description = "A disk served by VMware's VixDiskLib (VDDK).",
    .config = vddk_config,
    .config_complete = vddk_config_complete,
    .config_help = vddk_config_help,
    .magic_config_key = "file",
    .dump_plugin = vddk_dump_plugin,
    .after_fork = vddk_after_fork,
    .unload = vddk_unload,
    .open = vddk_open,
    .close = vddk_close,
    .get_size = vddk_get_size,
    .block_size = vddk_block_size,
    .can_flush = vddk_can_flush,
    .can_fua = vddk_can_fua,
    .can_extents = vddk_can_extents,
    .pread = vddk_pread,
    .pwrite = vddk_pwrite,
    .flush = vddk_flush,
    .extents = vddk_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
