/* SPDX-License-Identifier: BSD-3-Clause */
/* vddk-standin.c: a test-only libvixDiskLib that serves a local raw file,
 * so the vddk plugin can be tested without VMware's library.  Never
 * installed.
 *
 * The path given to VixDiskLib_Open is a VMDK disk, read and written
 * with nbdx's own VMDK code (plugins/vmdk, whose nbdkit_* calls resolve
 * against the server that loads this library), as VDDK opens local
 * VMDK files; any other file is a raw disk of its size in sectors.  Like the
 * real library, InitEx starts a background thread, and Open aborts if that
 * thread is gone (the process forked after InitEx).  The same thread completes
 * ReadAsync and WriteAsync.
 *
 * Environment:
 *   VDDK_STANDIN_LOG=FILE   append one line per call, with its arguments
 *   VDDK_STANDIN_FAIL=FN:ERR[,FN:ERR...]
 *                           make VixDiskLib_FN return the VixError ERR
 *
 * Built three times (see meson.build): the full library; with
 * STANDIN_MINIMAL, without the optional functions (QueryAllocatedBlocks,
 * FreeBlockList, ReadAsync, WriteAsync, Wait, AllocateConnectParams);
 * with STANDIN_BROKEN, also without the required VixDiskLib_Read.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vddk-structs.h"
#define NBDKIT_API_VERSION 2
#include "vmdk.h"

#define PUBLIC __attribute__((visibility("default")))

/* Declarations of the exported functions, for -Wmissing-prototypes. */
#define DECLARE(ret, name, args) PUBLIC ret VixDiskLib_##name args;
DECLARE(VixError, InitEx,
        (uint32_t, uint32_t, VixDiskLibGenericLogFunc *,
         VixDiskLibGenericLogFunc *, VixDiskLibGenericLogFunc *, const char *,
         const char *))
DECLARE(void, Exit, (void))
DECLARE(char *, GetErrorText, (VixError, const char *))
DECLARE(void, FreeErrorText, (char *))
DECLARE(VixDiskLibConnectParams *, AllocateConnectParams, (void))
DECLARE(void, FreeConnectParams, (VixDiskLibConnectParams *))
DECLARE(VixError, ConnectEx,
        (const VixDiskLibConnectParams *, VixBool, const char *, const char *,
         VixDiskLibConnection *))
DECLARE(VixError, Disconnect, (VixDiskLibConnection))
DECLARE(VixError, Create,
        (VixDiskLibConnection, const char *, const VixDiskLibCreateParams *,
         VixDiskLibProgressFunc *, void *))
DECLARE(VixError, Open,
        (VixDiskLibConnection, const char *, uint32_t, VixDiskLibHandle *))
DECLARE(const char *, GetTransportMode, (VixDiskLibHandle))
DECLARE(VixError, Close, (VixDiskLibHandle))
DECLARE(VixError, GetInfo, (VixDiskLibHandle, VixDiskLibInfo **))
DECLARE(void, FreeInfo, (VixDiskLibInfo *))
DECLARE(VixError, Read,
        (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,
         uint8_t *))
DECLARE(VixError, Write,
        (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,
         const uint8_t *))
DECLARE(VixError, Flush, (VixDiskLibHandle))
DECLARE(VixError, ReadAsync,
        (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,
         uint8_t *, VixDiskLibCompletionCB, void *))
DECLARE(VixError, WriteAsync,
        (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,
         const uint8_t *, VixDiskLibCompletionCB, void *))
DECLARE(VixError, Wait, (VixDiskLibHandle))
DECLARE(VixError, QueryAllocatedBlocks,
        (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,
         VixDiskLibSectorType, VixDiskLibBlockList **))
DECLARE(VixError, FreeBlockList, (VixDiskLibBlockList *))

struct standin_connection {
    bool readonly;
};

struct standin_disk {
    struct vmdk_disk *vmdk; /* a VMDK, or NULL: fd is a raw disk */
    int fd;
    bool readonly;
    uint64_t capacity; /* sectors */
    unsigned pending;  /* async requests not completed, guarded by lock */
};

/* An async request, queued for the background thread. */
struct standin_job {
    struct standin_job *next;
    struct standin_disk *disk;
    bool write;
    uint64_t start, count;
    uint8_t *buf;
    VixDiskLibCompletionCB cb;
    void *cb_data;
};

/* All guarded by lock; cond signals every change. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool initialised, stopping;
static pid_t init_pid;
static pthread_t worker;
static unsigned pings, pongs;
static struct standin_job *jobs, **jobs_tail = &jobs;

static void
standin_log(const char *fmt, ...)
{
    const char *file = getenv("VDDK_STANDIN_LOG");
    va_list ap;
    FILE *fp;

    if (file == NULL)
        return;
    fp = fopen(file, "a");
    if (fp == NULL)
        return;
    va_start(ap, fmt);
    vfprintf(fp, fmt, ap);
    va_end(ap);
    fputc('\n', fp);
    fclose(fp);
}

static const char *
standin_str(const char *s)
{
    return s ? s : "(null)";
}

/* The error VDDK_STANDIN_FAIL asks fn to return, or VIX_OK. */
static VixError
standin_fail(const char *fn)
{
    const char *p = getenv("VDDK_STANDIN_FAIL");
    size_t len = strlen(fn);

    while (p && *p) {
        if (strncmp(p, fn, len) == 0 && p[len] == ':') {
            standin_log("%s: injected error %s", fn, p + len + 1);
            return strtoull(p + len + 1, NULL, 10);
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return VIX_OK;
}

/* Reads the variable name of the environment the process was started
 * with (the loader's view), not the one setenv may have changed since.
 */
static char *
standin_exec_env(const char *name)
{
    static char buf[65536];
    size_t len = strlen(name), n;
    char *p;
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    ssize_t r;

    if (fd == -1)
        return NULL;
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return NULL;
    buf[r] = '\0';
    for (p = buf; p < buf + r; p += n + 1) {
        n = strlen(p);
        if (strncmp(p, name, len) == 0 && p[len] == '=')
            return p + len + 1;
    }
    return NULL;
}

static VixError
standin_rw(struct standin_disk *d, bool write, uint64_t start, uint64_t count,
           uint8_t *buf)
{
    uint64_t off = start * VIXDISKLIB_SECTOR_SIZE;
    size_t len = count * VIXDISKLIB_SECTOR_SIZE, done;
    ssize_t r;

    if (start > d->capacity || count > d->capacity - start)
        return VIX_E_INVALID_ARG;
    if (write && d->readonly)
        return VIX_E_FILE_READ_ONLY;
    if (d->vmdk && write)
        return vmdk_disk_write(d->vmdk, buf, len, off) ? VIX_E_FILE_ERROR
                                                       : VIX_OK;
    if (d->vmdk)
        return vmdk_disk_read(d->vmdk, buf, len, off) ? VIX_E_FILE_ERROR
                                                      : VIX_OK;
    for (done = 0; done < len; done += r) {
        if (write)
            r = pwrite(d->fd, buf + done, len - done, off + done);
        else
            r = pread(d->fd, buf + done, len - done, off + done);
        if (r <= 0)
            return VIX_E_FILE_ERROR;
    }
    return VIX_OK;
}

/* The background thread: answers pings and runs async jobs. */
static void *
standin_worker(void *arg)
{
    struct standin_job *job;
    VixError err;

    pthread_mutex_lock(&lock);
    for (;;) {
        if (pongs != pings) {
            pongs = pings;
            pthread_cond_broadcast(&cond);
        }
        if (jobs) {
            job = jobs;
            jobs = job->next;
            if (jobs == NULL)
                jobs_tail = &jobs;
            pthread_mutex_unlock(&lock);
            err = standin_rw(job->disk, job->write, job->start, job->count,
                             job->buf);
            job->cb(job->cb_data, err);
            pthread_mutex_lock(&lock);
            job->disk->pending--;
            free(job);
            pthread_cond_broadcast(&cond);
            continue;
        }
        if (stopping)
            break;
        pthread_cond_wait(&cond, &lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Aborts unless InitEx ran in this process and its thread still answers. */
static void
standin_check_thread(void)
{
    struct timespec deadline;
    int r = 0;

    pthread_mutex_lock(&lock);
    if (!initialised || init_pid != getpid()) {
        fprintf(stderr, "vddk-standin: %s\n",
                initialised ? "process forked after VixDiskLib_InitEx"
                            : "VixDiskLib_InitEx was not called");
        abort();
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pings++;
    pthread_cond_broadcast(&cond);
    while (pongs != pings && r == 0)
        r = pthread_cond_timedwait(&cond, &lock, &deadline);
    pthread_mutex_unlock(&lock);
    if (r != 0) {
        fprintf(stderr, "vddk-standin: background thread is gone\n");
        abort();
    }
}

PUBLIC VixError
VixDiskLib_InitEx(uint32_t major, uint32_t minor,
                  VixDiskLibGenericLogFunc *log_fn,
                  VixDiskLibGenericLogFunc *warn_fn,
                  VixDiskLibGenericLogFunc *panic_fn, const char *libdir,
                  const char *config)
{
    const char *ld = getenv("LD_LIBRARY_PATH");
    const char *exec_ld = standin_exec_env("LD_LIBRARY_PATH");
    VixError err = standin_fail("InitEx");
    int r;

    standin_log(
        "InitEx major=%" PRIu32 " minor=%" PRIu32 " libdir=%s config=%s pid=%d",
        major, minor, standin_str(libdir), standin_str(config), (int)getpid());
    standin_log("InitEx LD_LIBRARY_PATH=%s", standin_str(ld));
    standin_log("InitEx exec LD_LIBRARY_PATH=%s", standin_str(exec_ld));
    if (err != VIX_OK)
        return err;
    if (initialised)
        return VIX_E_FAIL;
    stopping = false;
    r = pthread_create(&worker, NULL, standin_worker, NULL);
    if (r != 0)
        return VIX_E_FAIL;
    initialised = true;
    init_pid = getpid();
    return VIX_OK;
}

PUBLIC void
VixDiskLib_Exit(void)
{
    standin_log("Exit");
    if (!initialised || init_pid != getpid())
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(worker, NULL);
    initialised = false;
}

PUBLIC char *
VixDiskLib_GetErrorText(VixError err, const char *locale)
{
    char *text;

    if (asprintf(&text, "stand-in VixError %" PRIu64, err) == -1)
        return NULL;
    return text;
}

PUBLIC void
VixDiskLib_FreeErrorText(char *text)
{
    free(text);
}

#ifndef STANDIN_MINIMAL
PUBLIC VixDiskLibConnectParams *
VixDiskLib_AllocateConnectParams(void)
{
    standin_log("AllocateConnectParams");
    return calloc(1, sizeof(VixDiskLibConnectParams));
}
#endif

PUBLIC void
VixDiskLib_FreeConnectParams(VixDiskLibConnectParams *params)
{
    standin_log("FreeConnectParams");
    free(params);
}

PUBLIC VixError
VixDiskLib_ConnectEx(const VixDiskLibConnectParams *p, VixBool readonly,
                     const char *snapshot, const char *transports,
                     VixDiskLibConnection *conn)
{
    struct standin_connection *c;
    VixError err = standin_fail("ConnectEx");

    standin_log("ConnectEx vmxSpec=%s serverName=%s thumbPrint=%s "
                "credType=%d port=%" PRIu32 " nfcHostPort=%" PRIu32
                " readonly=%d snapshot=%s transports=%s",
                standin_str(p->vmxSpec), standin_str(p->serverName),
                standin_str(p->thumbPrint), (int)p->credType, p->port,
                p->nfcHostPort, readonly, standin_str(snapshot),
                standin_str(transports));
    if (p->credType == VIXDISKLIB_CRED_UID)
        standin_log("ConnectEx userName=%s password=%s",
                    standin_str(p->creds.uid.userName),
                    standin_str(p->creds.uid.password));
    else if (p->credType == VIXDISKLIB_CRED_SESSIONID)
        standin_log("ConnectEx cookie=%s userName=%s key=%s",
                    standin_str(p->creds.sessionId.cookie),
                    standin_str(p->creds.sessionId.userName),
                    standin_str(p->creds.sessionId.key));
    if (err != VIX_OK)
        return err;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return VIX_E_OUT_OF_MEMORY;
    c->readonly = readonly;
    *conn = c;
    return VIX_OK;
}

PUBLIC VixError
VixDiskLib_Disconnect(VixDiskLibConnection conn)
{
    standin_log("Disconnect");
    free(conn);
    return VIX_OK;
}

PUBLIC VixError
VixDiskLib_Create(VixDiskLibConnection conn, const char *path,
                  const VixDiskLibCreateParams *p,
                  VixDiskLibProgressFunc *progress, void *progress_data)
{
    VixError err = standin_fail("Create");
    int fd;

    standin_log("Create path=%s diskType=%d adapterType=%d hwVersion=%d "
                "capacity=%" PRIu64,
                path, (int)p->diskType, (int)p->adapterType, (int)p->hwVersion,
                p->capacity);
    if (err != VIX_OK)
        return err;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd == -1)
        return errno == EEXIST ? 12 /* VIX_E_FILE_ALREADY_EXISTS */
                               : VIX_E_FILE_ACCESS_ERROR;
    if (ftruncate(fd, p->capacity * VIXDISKLIB_SECTOR_SIZE) == -1) {
        close(fd);
        return VIX_E_DISK_FULL;
    }
    close(fd);
    if (progress)
        progress(progress_data, 100);
    return VIX_OK;
}

/* Open VMDK disks, shared by every handle of the same file, as they
 * share its grain tables and its end.  Guarded by lock.
 */
struct standin_vmdk {
    struct standin_vmdk *next;
    char *path;
    bool readonly;
    unsigned refs;
    struct vmdk_disk *disk;
};
static struct standin_vmdk *vmdks;

static struct vmdk_disk *
standin_vmdk_get(const char *path, bool ro)
{
    struct standin_vmdk *v;
    char *real = realpath(path, NULL);

    if (real == NULL)
        return NULL;
    pthread_mutex_lock(&lock);
    for (v = vmdks; v; v = v->next)
        if (strcmp(v->path, real) == 0 && v->readonly == ro)
            break;
    if (v == NULL && (v = calloc(1, sizeof *v)) != NULL) {
        v->disk = vmdk_disk_open(real, ro);
        if (v->disk == NULL) {
            free(v);
            v = NULL;
        } else {
            v->path = real, real = NULL;
            v->readonly = ro;
            v->next = vmdks;
            vmdks = v;
        }
    }
    if (v)
        v->refs++;
    pthread_mutex_unlock(&lock);
    free(real);
    return v ? v->disk : NULL;
}

static void
standin_vmdk_put(struct vmdk_disk *disk)
{
    struct standin_vmdk **p, *v;

    if (disk == NULL)
        return;
    pthread_mutex_lock(&lock);
    for (p = &vmdks; (v = *p) != NULL; p = &v->next)
        if (v->disk == disk)
            break;
    if (v && --v->refs == 0) {
        *p = v->next;
        vmdk_disk_close(v->disk);
        free(v->path);
        free(v);
    }
    pthread_mutex_unlock(&lock);
}

/* A sparse VMDK or a descriptor file, by its first bytes. */
static bool
standin_is_vmdk(int fd)
{
    static const char desc[] = "# Disk DescriptorFile";
    char buf[sizeof desc - 1];

    if (pread(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf)
        return false;
    return memcmp(buf, "KDMV", 4) == 0 || memcmp(buf, desc, sizeof buf) == 0;
}

PUBLIC VixError
VixDiskLib_Open(VixDiskLibConnection conn, const char *path, uint32_t flags,
                VixDiskLibHandle *handle)
{
    struct standin_connection *c = conn;
    struct standin_disk *d;
    VixError err = standin_fail("Open");
    struct stat st;
    bool ro = c->readonly || (flags & VIXDISKLIB_FLAG_OPEN_READ_ONLY);

    standin_log("Open path=%s flags=%" PRIu32, path, flags);
    standin_check_thread();
    if (err != VIX_OK)
        return err;
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return VIX_E_OUT_OF_MEMORY;
    d->readonly = ro;
    d->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (d->fd == -1 || fstat(d->fd, &st) == -1) {
        err = errno == ENOENT ? VIX_E_FILE_NOT_FOUND : VIX_E_FILE_ACCESS_ERROR;
        if (d->fd >= 0)
            close(d->fd);
        free(d);
        return err;
    }
    d->capacity = st.st_size / VIXDISKLIB_SECTOR_SIZE;
    if (standin_is_vmdk(d->fd)) {
        d->vmdk = standin_vmdk_get(path, ro);
        if (d->vmdk == NULL) {
            close(d->fd);
            free(d);
            return VIX_E_FILE_ACCESS_ERROR;
        }
        if (!ro && !d->vmdk->writable) {
            standin_vmdk_put(d->vmdk);
            close(d->fd);
            free(d);
            return VIX_E_FILE_READ_ONLY;
        }
        d->capacity = d->vmdk->size / VIXDISKLIB_SECTOR_SIZE;
    }
    *handle = d;
    return VIX_OK;
}

PUBLIC const char *
VixDiskLib_GetTransportMode(VixDiskLibHandle handle)
{
    return "file";
}

PUBLIC VixError
VixDiskLib_Close(VixDiskLibHandle handle)
{
    struct standin_disk *d = handle;

    standin_log("Close");
    pthread_mutex_lock(&lock);
    if (d->pending) {
        fprintf(stderr, "vddk-standin: Close with %u async requests pending\n",
                d->pending);
        abort();
    }
    pthread_mutex_unlock(&lock);
    standin_vmdk_put(d->vmdk);
    close(d->fd);
    free(d);
    return VIX_OK;
}

PUBLIC VixError
VixDiskLib_GetInfo(VixDiskLibHandle handle, VixDiskLibInfo **info)
{
    struct standin_disk *d = handle;
    VixError err = standin_fail("GetInfo");

    if (err != VIX_OK)
        return err;
    *info = calloc(1, sizeof **info);
    if (*info == NULL)
        return VIX_E_OUT_OF_MEMORY;
    (*info)->capacity = d->capacity;
    (*info)->adapterType = VIXDISKLIB_ADAPTER_SCSI_LSILOGIC;
    (*info)->numLinks = 1;
    return VIX_OK;
}

PUBLIC void
VixDiskLib_FreeInfo(VixDiskLibInfo *info)
{
    free(info);
}

#ifndef STANDIN_BROKEN
PUBLIC VixError
VixDiskLib_Read(VixDiskLibHandle handle, VixDiskLibSectorType start,
                VixDiskLibSectorType count, uint8_t *buf)
{
    VixError err = standin_fail("Read");

    standin_log("Read start=%" PRIu64 " count=%" PRIu64, start, count);
    return err != VIX_OK ? err : standin_rw(handle, false, start, count, buf);
}
#endif

PUBLIC VixError
VixDiskLib_Write(VixDiskLibHandle handle, VixDiskLibSectorType start,
                 VixDiskLibSectorType count, const uint8_t *buf)
{
    VixError err = standin_fail("Write");

    standin_log("Write start=%" PRIu64 " count=%" PRIu64, start, count);
    return err != VIX_OK ? err
                         : standin_rw(handle, true, start, count, (void *)buf);
}

PUBLIC VixError
VixDiskLib_Flush(VixDiskLibHandle handle)
{
    struct standin_disk *d = handle;
    VixError err = standin_fail("Flush");

    standin_log("Flush");
    if (err != VIX_OK)
        return err;
    if (d->vmdk)
        return vmdk_disk_flush(d->vmdk) == 0 ? VIX_OK : VIX_E_FILE_ERROR;
    return fdatasync(d->fd) == 0 ? VIX_OK : VIX_E_FILE_ERROR;
}

#ifndef STANDIN_MINIMAL
static VixError
standin_queue(VixDiskLibHandle handle, bool write, uint64_t start,
              uint64_t count, uint8_t *buf, VixDiskLibCompletionCB cb,
              void *cb_data)
{
    struct standin_job *job = calloc(1, sizeof *job);

    if (job == NULL)
        return VIX_E_OUT_OF_MEMORY;
    *job = (struct standin_job){.disk = handle,
                                .write = write,
                                .start = start,
                                .count = count,
                                .buf = buf,
                                .cb = cb,
                                .cb_data = cb_data};
    pthread_mutex_lock(&lock);
    job->disk->pending++;
    *jobs_tail = job;
    jobs_tail = &job->next;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return VIX_ASYNC;
}

PUBLIC VixError
VixDiskLib_ReadAsync(VixDiskLibHandle handle, VixDiskLibSectorType start,
                     VixDiskLibSectorType count, uint8_t *buf,
                     VixDiskLibCompletionCB cb, void *cb_data)
{
    VixError err = standin_fail("ReadAsync");

    standin_log("ReadAsync start=%" PRIu64 " count=%" PRIu64, start, count);
    if (err != VIX_OK)
        return err;
    return standin_queue(handle, false, start, count, buf, cb, cb_data);
}

PUBLIC VixError
VixDiskLib_WriteAsync(VixDiskLibHandle handle, VixDiskLibSectorType start,
                      VixDiskLibSectorType count, const uint8_t *buf,
                      VixDiskLibCompletionCB cb, void *cb_data)
{
    VixError err = standin_fail("WriteAsync");

    standin_log("WriteAsync start=%" PRIu64 " count=%" PRIu64, start, count);
    if (err != VIX_OK)
        return err;
    return standin_queue(handle, true, start, count, (uint8_t *)buf, cb,
                         cb_data);
}

PUBLIC VixError
VixDiskLib_Wait(VixDiskLibHandle handle)
{
    struct standin_disk *d = handle;

    pthread_mutex_lock(&lock);
    while (d->pending)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return VIX_OK;
}

/* Add chunk [CS, CE) to L, merged with the one before if they touch. */
static void
standin_block_add(VixDiskLibBlockList *l, uint64_t cs, uint64_t ce)
{
    VixDiskLibBlock *last = l->numBlocks ? &l->blocks[l->numBlocks - 1] : NULL;

    if (last && last->offset + last->length >= cs) {
        if (ce > last->offset + last->length)
            last->length = ce - last->offset;
    } else
        l->blocks[l->numBlocks++] =
            (VixDiskLibBlock){.offset = cs, .length = ce - cs};
}

/* The allocated chunks of a VMDK: those holding any extent that is not
 * a hole, as the vmdk code maps them.
 */
static VixError
standin_vmdk_blocks(struct standin_disk *d, uint64_t start, uint64_t end,
                    uint64_t chunk, VixDiskLibBlockList *l)
{
    const uint64_t ss = VIXDISKLIB_SECTOR_SIZE;
    struct nbdkit_extents *e = nbdkit_extents_new(start * ss, end * ss);
    size_t i;

    if (e == NULL)
        return VIX_E_OUT_OF_MEMORY;
    if (vmdk_disk_map(d->vmdk, (end - start) * ss, start * ss, e) == -1) {
        nbdkit_extents_free(e);
        return VIX_E_FILE_ERROR;
    }
    for (i = 0; i < nbdkit_extents_count(e); i++) {
        struct nbdkit_extent x = nbdkit_get_extent(e, i);
        uint64_t cs = x.offset / ss / chunk * chunk;
        uint64_t ce =
            (x.offset + x.length + chunk * ss - 1) / ss / chunk * chunk;

        if (x.type & NBDKIT_EXTENT_HOLE)
            continue;
        standin_block_add(l, cs < start ? start : cs, ce > end ? end : ce);
    }
    nbdkit_extents_free(e);
    return VIX_OK;
}

/* Allocated chunks, found with SEEK_DATA and SEEK_HOLE; a chunk holding
 * any data is allocated.  Like VDDK, start and count must be multiples
 * of chunk, and one call covers at most VIXDISKLIB_MAX_CHUNK_NUMBER
 * chunks.
 */
PUBLIC VixError
VixDiskLib_QueryAllocatedBlocks(VixDiskLibHandle handle,
                                VixDiskLibSectorType start,
                                VixDiskLibSectorType count,
                                VixDiskLibSectorType chunk,
                                VixDiskLibBlockList **list)
{
    struct standin_disk *d = handle;
    VixError err = standin_fail("QueryAllocatedBlocks");
    VixDiskLibBlockList *l;
    uint64_t end = start + count, pos = start, data, hole, cs, ce;
    size_t max = count / (chunk ? chunk : 1) + 1;

    standin_log("QueryAllocatedBlocks start=%" PRIu64 " count=%" PRIu64
                " chunk=%" PRIu64,
                start, count, chunk);
    if (err != VIX_OK)
        return err;
    if (chunk < VIXDISKLIB_MIN_CHUNK_SIZE || start % chunk || count % chunk ||
        count / chunk > VIXDISKLIB_MAX_CHUNK_NUMBER || start > d->capacity ||
        count > d->capacity - start)
        return VIX_E_INVALID_ARG;
    l = calloc(1, sizeof *l + max * sizeof l->blocks[0]);
    if (l == NULL)
        return VIX_E_OUT_OF_MEMORY;
    if (d->vmdk) {
        err = standin_vmdk_blocks(d, start, end, chunk, l);
        if (err != VIX_OK)
            free(l);
        else
            *list = l;
        return err;
    }
    while (pos < end) {
        off_t r = lseek(d->fd, pos * VIXDISKLIB_SECTOR_SIZE, SEEK_DATA);
        if (r == -1)
            break; /* ENXIO: no data after pos */
        data = r / VIXDISKLIB_SECTOR_SIZE;
        r = lseek(d->fd, r, SEEK_HOLE);
        hole = r == -1 ? end
                       : ((uint64_t)r + VIXDISKLIB_SECTOR_SIZE - 1) /
                             VIXDISKLIB_SECTOR_SIZE;
        cs = data / chunk * chunk;
        ce = (hole + chunk - 1) / chunk * chunk;
        if (cs >= end)
            break;
        if (ce > end)
            ce = end;
        if (cs < pos)
            cs = pos;
        if (l->numBlocks && l->blocks[l->numBlocks - 1].offset +
                                    l->blocks[l->numBlocks - 1].length ==
                                cs)
            l->blocks[l->numBlocks - 1].length += ce - cs;
        else
            l->blocks[l->numBlocks++] =
                (VixDiskLibBlock){.offset = cs, .length = ce - cs};
        pos = ce;
    }
    *list = l;
    return VIX_OK;
}

PUBLIC VixError
VixDiskLib_FreeBlockList(VixDiskLibBlockList *list)
{
    free(list);
    return VIX_OK;
}
#endif
