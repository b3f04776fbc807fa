/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c: log every connection event and request, to a file or a script.
 *
 * Lines look like nbdkit's log filter, so tools that read those logs
 * keep working:
 *
 *   2026-01-02 03:04:05.678901 connection=1 Read id=1 offset=0x0 count=0x200
 * ... 2026-01-02 03:04:05.678950 connection=1 ...Read id=1 return=0
 *
 * A request is logged twice, when it starts (ENTER, ending "...") and
 * when it ends (LEAVE, starting "...", with its return value and its
 * error name on failure), so slow or hung requests show up.  Other
 * events are one PRINT line.  Request ids count per connection from 1.
 *
 * Every event is built once as "key=value ..." in shell syntax; the
 * same text makes the file line and the variables of the log script.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-filter.h>
#include <nbdx-extensions.h>

/* logfile=FILE, absolute; owned, freed at unload. */
static char *logfilename;
static bool logappend; /* logappend=BOOL */
/* logscript=SCRIPT, run by bash for each event; owned, freed at unload.
 * With neither logfile nor logscript the filter is inactive, as nbdkit's
 * is.
 */
static char *logscript;

/* Lock order: log_lock is a leaf lock; nothing else is taken while it is
 * held (but the server's own, inside nbdkit_error when a write fails),
 * and no script runs under it.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* The log file, open from get_ready until unload, or -1.  Set while
 * single-threaded; its writes are made under log_lock.
 */
static int logfd = -1;
/* Lines wait in out, and leave in one write(2) per batch: when out is
 * full, for an urgent line, or at most FLUSH_MS after the first line
 * that waits (the flusher thread).  Urgent lines are the events other
 * than requests, and failed requests.  Request threads on every core
 * append here, so a line touches only out, its length and the stamp.
 */
#define FLUSH_MS 20
#define OUT_SIZE (256 * 1024)
static char *out;         /* guarded by log_lock; OUT_SIZE bytes, owned */
static size_t out_len;    /* guarded by log_lock: bytes waiting in out */
static bool write_failed; /* guarded by log_lock: the error was reported */
static pthread_cond_t flush_cond = PTHREAD_COND_INITIALIZER;
static pthread_t flusher;         /* started by after_fork if logfile */
static bool flusher_running;      /* guarded by log_lock */
static bool flusher_idle;         /* guarded by log_lock: waits for dirty */
static bool flusher_stop;         /* guarded by log_lock */
static bool dirty;                /* guarded by log_lock: unflushed lines */
static time_t stamp_sec = -1;     /* guarded by log_lock: stamp's second */
#define STAMP_LEN 19              /* "YYYY-MM-DD HH:MM:SS" */
static char stamp[32];            /* guarded by log_lock */
static uint64_t connections;      /* guarded by log_lock */
static uint64_t preconnects;      /* guarded by log_lock */
static uint64_t list_exports_ids; /* guarded by log_lock */

/* One connection. */
struct handle {
    uint64_t connection; /* number in the log, from connections */
    char prefix[32];     /* "connection=N " */
    size_t prefix_len;
    uint64_t id;      /* last request id; atomic */
    char *exportname; /* owned; what the client asked for */
    int tls;
    bool connected; /* Connect was logged; written by prepare only */
};

enum log_type { LOG_ENTER, LOG_LEAVE, LOG_PRINT };

static void log_out_flush(void);

static void
log_unload(void)
{
    bool joined;

    pthread_mutex_lock(&log_lock);
    flusher_stop = true;
    joined = flusher_running;
    pthread_cond_signal(&flush_cond);
    pthread_mutex_unlock(&log_lock);
    if (joined)
        pthread_join(flusher, NULL);
    if (logfd >= 0) {
        log_out_flush();
        close(logfd);
    }
    free(out);
    free(logfilename);
    free(logscript);
}

static int
log_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
           const char *value)
{
    int r;

    if (strcmp(key, "logfile") == 0) {
        free(logfilename);
        logfilename = nbdkit_absolute_path(value);
        return logfilename == NULL ? -1 : 0;
    }
    if (strcmp(key, "logscript") == 0) {
        free(logscript);
        logscript = strdup(value);
        if (logscript == NULL) {
            nbdkit_error("strdup: %m");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "logappend") == 0) {
        r = nbdkit_parse_bool(value);
        if (r == -1)
            return -1;
        logappend = r;
        return 0;
    }
    return next(nxdata, key, value);
}

#define log_config_help                                                        \
    "logfile=<FILE>               The file to place the log in.\n"             \
    "logappend=<BOOL>             True to append to the log (default "         \
    "false).\n"                                                                \
    "logscript=<SCRIPT>           Script to run for logging."

/* Whether events are logged.  logfd changes only in get_ready and
 * unload, and logscript only in config, when no request runs, so
 * reading them without the lock is safe.
 */
static bool
log_active(void)
{
    return logfd >= 0 || logscript != NULL;
}

/* A line built without printf: request lines are the filter's hot
 * path.  Text that does not fit is cut (callers size it so that only
 * the rare long events need log_emit's heap fallback).
 */
struct line {
    char buf[240]; /* always NUL-terminated after len bytes */
    size_t len;
    size_t args; /* where an event's args start (line_event) */
};

static void
line_mem(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 1 - l->len;

    n = n < room ? n : room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static void
line_str(struct line *l, const char *s)
{
    line_mem(l, s, strlen(s));
}

/* v in base 10, or 16 with "0x", as printf's %llu and 0x%llx. */
static void
line_num(struct line *l, uint64_t v, unsigned base)
{
    char d[24], *p = d + sizeof d;

    do {
        *--p = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        line_str(l, "0x");
    line_mem(l, p, d + sizeof d - p);
}

/* " key=0" or " key=1". */
static void
line_flag(struct line *l, const char *key, bool v)
{
    line_str(l, " ");
    line_str(l, key);
    line_str(l, v ? "=1" : "=0");
}

/* "offset=0x... count=0x..." */
static void
line_range(struct line *l, uint64_t offset, uint32_t count)
{
    line_str(l, "offset=");
    line_num(l, offset, 16);
    line_str(l, " count=");
    line_num(l, count, 16);
}

/* "return=R", and " error=NAME" (or " error=N") for a failed call. */
static void
line_result(struct line *l, int r, int err)
{
    const char *name;

    line_str(l, r < 0 ? "return=-" : "return=");
    line_num(l, r < 0 ? -(uint64_t)r : (uint64_t)r, 10);
    if (r != -1)
        return;
    line_str(l, " error=");
    name = strerrorname_np(err);
    if (name)
        line_str(l, name);
    else
        line_num(l, (uint64_t)err, 10);
}

/* "YYYY-MM-DD HH:MM:SS" of sec, made once per second.  log_lock held. */
static const char *
log_stamp(time_t sec)
{
    struct tm tm;

    if (sec != stamp_sec) {
        localtime_r(&sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        stamp_sec = sec;
    }
    return stamp;
}

/* Write n bytes to the log file.  log_lock held (or single-threaded).
 * A failed write loses those bytes; the first failure is reported.
 */
static void
log_out_write(const char *p, size_t n)
{
    ssize_t r;

    while (n > 0) {
        r = write(logfd, p, n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (!write_failed)
                nbdkit_error("log: write: %s: %m", logfilename);
            write_failed = true;
            return;
        }
        p += r;
        n -= (size_t)r;
    }
}

/* Write out the lines that wait in out.  log_lock held. */
static void
log_out_flush(void)
{
    log_out_write(out, out_len);
    out_len = 0;
    dirty = false;
}

/* Append one line to out: the time tv, "connection=N " when h is not
 * NULL, then the len bytes of text.  A line bigger than out (a long
 * extent list) goes to the file directly.  log_lock held.
 */
static void
log_out_line(const struct handle *h, const struct timeval *tv, const char *text,
             size_t len)
{
    size_t prefix = h ? h->prefix_len : 0;
    size_t need = STAMP_LEN + 8 + prefix + len + 1;
    long u = tv->tv_usec;
    char *p;
    int i;

    if (out_len + need > OUT_SIZE)
        log_out_flush();
    p = out + out_len;
    memcpy(p, log_stamp(tv->tv_sec), STAMP_LEN);
    p += STAMP_LEN;
    *p++ = '.';
    for (i = 5; i >= 0; i--, u /= 10)
        p[i] = (char)('0' + u % 10);
    p += 6;
    *p++ = ' ';
    if (prefix)
        memcpy(p, h->prefix, prefix);
    p += prefix;
    if (need > OUT_SIZE) {
        out_len = (size_t)(p - out);
        log_out_flush();
        log_out_write(text, len);
        p = out;
    } else {
        memcpy(p, text, len);
        p += len;
    }
    *p++ = '\n';
    out_len = (size_t)(p - out);
}

/* Log one line of len bytes of text (see log_out_line).  An urgent line
 * is written at once; others wait in out for the flusher thread (if it
 * runs), at most FLUSH_MS.
 */
static void
log_write(const struct handle *h, const char *text, size_t len, bool urgent)
{
    struct timeval tv;

    pthread_mutex_lock(&log_lock);
    if (logfd >= 0) {
        /* Taken under the lock, so the time never goes back in the file. */
        gettimeofday(&tv, NULL);
        log_out_line(h, &tv, text, len);
        if (urgent || !flusher_running) {
            log_out_flush();
        } else if (!dirty) {
            dirty = true;
            if (flusher_idle)
                pthread_cond_signal(&flush_cond);
        }
    }
    pthread_mutex_unlock(&log_lock);
}

/* The flusher thread: FLUSH_MS after the first line that waits, write
 * out what out holds.  Holds log_lock except while it waits.
 */
static void *
log_flusher(void *arg)
{
    struct timespec deadline;

    (void)arg;
    pthread_mutex_lock(&log_lock);
    while (!flusher_stop) {
        if (!dirty) {
            flusher_idle = true;
            pthread_cond_wait(&flush_cond, &log_lock);
            flusher_idle = false;
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += FLUSH_MS / 1000;
        deadline.tv_nsec += FLUSH_MS % 1000 * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!flusher_stop &&
               pthread_cond_timedwait(&flush_cond, &log_lock, &deadline) == 0)
            ;
        log_out_flush();
    }
    pthread_mutex_unlock(&log_lock);
    return NULL;
}

/* Run /bin/bash -c text without waiting for it: the child forks the shell
 * and exits at once, so the shell is reparented and never a zombie of
 * ours.  Only async-signal-safe calls between fork and exec.  The
 * shell's stdin and stdout are /dev/null (they may be the client
 * socket with -s); stderr is the server's.
 */
static void
log_script_spawn(const char *text)
{
    char bash[] = "bash", dash_c[] = "-c";
    char *const argv[] = {bash, dash_c, (char *)text, NULL};
    pid_t pid;
    int fd;

    pid = fork();
    if (pid == -1) {
        nbdkit_error("log: fork: %m");
        return;
    }
    if (pid == 0) {
        if (fork() == 0) {
            fd = open("/dev/null", O_RDWR);
            if (fd >= 0) {
                dup2(fd, STDIN_FILENO);
                dup2(fd, STDOUT_FILENO);
            }
            execv("/bin/bash", argv);
            _exit(127);
        }
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
        ;
}

/* Pass one event to the log script as shell variables. */
static void
log_script(const struct handle *h, enum log_type type, const char *act,
           uint64_t id, const char *args)
{
    static const char *const types[] = {"ENTER", "LEAVE", "PRINT"};
    char *text;
    char conn[32] = "", ids[32] = "";

    if (h)
        snprintf(conn, sizeof conn, " connection=%" PRIu64, h->connection);
    if (id)
        snprintf(ids, sizeof ids, " id=%" PRIu64, id);
    if (asprintf(&text, "type=%s act=%s%s%s %s\n%s", types[type], act, conn,
                 ids, args, logscript) == -1) {
        nbdkit_error("log: asprintf: %m");
        return;
    }
    log_script_spawn(text);
    free(text);
}

/* Start the text of an event: "ACT id=N " ("...ACT ..." when it ends a
 * request); its args follow, from l->args.
 */
static void
line_event(struct line *l, enum log_type type, const char *act, uint64_t id)
{
    if (type == LOG_LEAVE)
        line_str(l, "...");
    line_str(l, act);
    if (id) {
        line_str(l, " id=");
        line_num(l, id, 10);
    }
    line_str(l, " ");
    l->args = l->len;
}

/* Log the event whose text line_event started in l, its args
 * appended.  Consumes l.
 */
static void
log_line(const struct handle *h, enum log_type type, const char *act,
         uint64_t id, struct line *l, bool urgent)
{
    if (l->len == l->args) /* no args: no space before them */
        l->buf[--l->len] = '\0';
    if (logscript)
        log_script(h, type, act, id, l->len > l->args ? l->buf + l->args : "");
    if (logfd < 0)
        return;
    if (type == LOG_ENTER)
        line_str(l, " ...");
    log_write(h, l->buf, l->len, urgent);
}

/* Log one event.  args is "key=value ..." in shell syntax, maybe "". */
static void
log_emit(const struct handle *h, enum log_type type, const char *act,
         uint64_t id, const char *args, bool urgent)
{
    struct line l = {.len = 0};
    char ids[32] = "", *big;

    if (strlen(act) + strlen(args) < sizeof l.buf - 40) {
        line_event(&l, type, act, id);
        line_str(&l, args);
        log_line(h, type, act, id, &l, urgent);
        return;
    }
    /* Long events (export and extent lists) are rare. */
    if (logscript)
        log_script(h, type, act, id, args);
    if (logfd < 0)
        return;
    if (id)
        snprintf(ids, sizeof ids, " id=%" PRIu64, id);
    if (asprintf(&big, "%s%s%s %s%s", type == LOG_LEAVE ? "..." : "", act, ids,
                 args, type == LOG_ENTER ? " ..." : "") == -1) {
        nbdkit_error("log: asprintf: %m");
        return;
    }
    log_write(h, big, strlen(big), urgent);
    free(big);
}

/* log_emit with printf-formatted args, for the events that are not
 * requests: these are urgent.
 */
static void log_emitf(const struct handle *h, enum log_type type,
                      const char *act, uint64_t id, const char *fs, ...)
    ATTRIBUTE_FORMAT_PRINTF(5, 6);

static void
log_emitf(const struct handle *h, enum log_type type, const char *act,
          uint64_t id, const char *fs, ...)
{
    va_list args;
    char *text;
    int r;

    if (!log_active())
        return;
    va_start(args, fs);
    r = vasprintf(&text, fs, args);
    va_end(args);
    if (r == -1) {
        nbdkit_error("log: vasprintf: %m");
        return;
    }
    log_emit(h, type, act, id, text, true);
    free(text);
}

/* An in-memory stream to build the args of one event in. */
struct log_args {
    char *text;
    size_t len;
    FILE *fp;
};

static int
log_args_open(struct log_args *a)
{
    a->text = NULL;
    a->len = 0;
    a->fp = open_memstream(&a->text, &a->len);
    if (a->fp == NULL) {
        nbdkit_error("log: open_memstream: %m");
        return -1;
    }
    return 0;
}

/* Close the stream, emit the event, free the text. */
static void
log_args_emit(struct log_args *a, const struct handle *h, enum log_type type,
              const char *act, uint64_t id, bool urgent)
{
    if (fclose(a->fp) == 0)
        log_emit(h, type, act, id, a->text, urgent);
    free(a->text);
}

static int
log_get_ready(int thread_model)
{
    if (logfilename) {
        /* Still single-threaded here: no lock needed. */
        out = malloc(OUT_SIZE);
        if (out == NULL) {
            nbdkit_error("malloc: %m");
            return -1;
        }
        logfd = open(logfilename,
                     O_WRONLY | O_CREAT | O_CLOEXEC |
                         (logappend ? O_APPEND : O_TRUNC),
                     0666);
        if (logfd == -1) {
            nbdkit_error("open: %s: %m", logfilename);
            return -1;
        }
    }
    log_emitf(NULL, LOG_PRINT, "Ready", 0, "thread_model=%d", thread_model);
    return 0;
}

static int
log_after_fork(nbdkit_backend *backend)
{
    int err;

    log_emitf(NULL, LOG_PRINT, "Fork", 0, "%s", "");
    if (logfd == -1)
        return 0;
    /* Threads do not survive the fork that daemonises: start it here. */
    err = pthread_create(&flusher, NULL, log_flusher, NULL);
    if (err) {
        errno = err;
        nbdkit_error("log: pthread_create: %m");
        return -1;
    }
    pthread_mutex_lock(&log_lock);
    flusher_running = true;
    pthread_mutex_unlock(&log_lock);
    return 0;
}

/* Take the next value of a counter guarded by log_lock. */
static uint64_t
log_next_id(uint64_t *counter)
{
    uint64_t id;

    pthread_mutex_lock(&log_lock);
    id = ++*counter;
    pthread_mutex_unlock(&log_lock);
    return id;
}

/* Print s so that a shell would read it back as one word: bare when
 * it is made only of safe characters, else double-quoted with \, ", $
 * and ` escaped.  Other control bytes are printed as \xNN, which the
 * shell does not decode: this keeps every event on one line.
 */
static void
log_print_quoted(FILE *fp, const char *s)
{
    const char *safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_-+.,:/@%";
    const unsigned char *p;

    if (*s != '\0' && strspn(s, safe) == strlen(s)) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (p = (const unsigned char *)s; *p; p++) {
        if (strchr("\\\"$`", *p))
            fprintf(fp, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\x%02x", *p);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
}

static int
log_preconnect(nbdkit_next_preconnect *next, nbdkit_backend *nxdata,
               int readonly)
{
    uint64_t id = log_next_id(&preconnects);
    int r;

    log_emitf(NULL, LOG_ENTER, "Preconnect", id, "readonly=%d", readonly);
    r = next(nxdata, readonly);
    log_emitf(NULL, LOG_LEAVE, "Preconnect", id, "return=%d", r);
    return r;
}

/* "exports=(a b c) return=R" */
static void
log_list_exports_end(uint64_t id, struct nbdkit_exports *exports, int r)
{
    struct log_args a;
    size_t i, n;

    if (!log_active() || log_args_open(&a) == -1)
        return;
    if (r == 0) {
        fprintf(a.fp, "exports=(");
        n = nbdkit_exports_count(exports);
        for (i = 0; i < n; i++) {
            if (i > 0)
                fputc(' ', a.fp);
            log_print_quoted(a.fp, nbdkit_get_export(exports, i).name);
        }
        fprintf(a.fp, ") ");
    }
    fprintf(a.fp, "return=%d", r);
    log_args_emit(&a, NULL, LOG_LEAVE, "ListExports", id, true);
}

static int
log_list_exports(nbdkit_next_list_exports *next, nbdkit_backend *nxdata,
                 int readonly, int is_tls, struct nbdkit_exports *exports)
{
    uint64_t id = log_next_id(&list_exports_ids);
    int r;

    log_emitf(NULL, LOG_ENTER, "ListExports", id, "readonly=%d tls=%d",
              readonly, is_tls);
    r = next(nxdata, readonly, exports);
    log_list_exports_end(id, exports, r);
    return r;
}

static void *
log_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
         const char *exportname, int is_tls)
{
    struct handle *h;

    if (next(context, readonly, exportname) == -1)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->exportname = strdup(exportname);
    if (h->exportname == NULL) {
        nbdkit_error("strdup: %m");
        free(h);
        return NULL;
    }
    h->tls = is_tls;
    h->connection = log_next_id(&connections);
    snprintf(h->prefix, sizeof h->prefix, "connection=%" PRIu64 " ",
             h->connection);
    h->prefix_len = strlen(h->prefix);
    return h;
}

static void
log_close(void *handle)
{
    struct handle *h = handle;

    if (h->connected)
        log_emitf(h, LOG_PRINT, "Disconnect", 0, "transactions=%" PRIu64,
                  __atomic_load_n(&h->id, __ATOMIC_SEQ_CST));
    free(h->exportname);
    free(h);
}

/* What the layers below answer, for the Connect line. */
struct log_caps {
    int64_t size;
    uint32_t minimum, preferred, maximum;
    int write, flush, rotational, trim, zero, fua, extents, cache, fast_zero;
};

static int
log_get_caps(nbdkit_next *next, struct log_caps *c)
{
    c->size = next->get_size(next);
    if (c->size == -1 ||
        next->block_size(next, &c->minimum, &c->preferred, &c->maximum) == -1)
        return -1;
    if ((c->write = next->can_write(next)) == -1 ||
        (c->flush = next->can_flush(next)) == -1 ||
        (c->rotational = next->is_rotational(next)) == -1 ||
        (c->trim = next->can_trim(next)) == -1 ||
        (c->zero = next->can_zero(next)) == -1 ||
        (c->fua = next->can_fua(next)) == -1 ||
        (c->extents = next->can_extents(next)) == -1 ||
        (c->cache = next->can_cache(next)) == -1 ||
        (c->fast_zero = next->can_fast_zero(next)) == -1)
        return -1;
    return 0;
}

/* Log the Connect line: the export, TLS and what the client will be
 * offered.
 */
static int
log_prepare(nbdkit_next *next, void *handle, int readonly)
{
    struct handle *h = handle;
    struct log_caps c;
    struct log_args a;

    if (!log_active())
        return 0;
    if (log_get_caps(next, &c) == -1 || log_args_open(&a) == -1)
        return -1;
    fprintf(a.fp, "export=");
    log_print_quoted(a.fp, h->exportname);
    fprintf(a.fp,
            " tls=%d size=0x%" PRIx64 " minsize=0x%" PRIx32
            " prefsize=0x%" PRIx32 " maxsize=0x%" PRIx32
            " write=%d flush=%d rotational=%d trim=%d zero=%d fua=%d"
            " extents=%d cache=%d fast_zero=%d",
            h->tls, (uint64_t)c.size, c.minimum, c.preferred, c.maximum,
            c.write, c.flush, c.rotational, c.trim, c.zero, c.fua, c.extents,
            c.cache, c.fast_zero);
    log_args_emit(&a, h, LOG_PRINT, "Connect", 0, true);
    h->connected = true;
    return 0;
}

/* Log the start of a request (args as log_emit) and return its id. */
static uint64_t
log_begin(struct handle *h, const char *act, const struct line *args)
{
    uint64_t id = __atomic_add_fetch(&h->id, 1, __ATOMIC_SEQ_CST);
    struct line l = {.len = 0};

    if (log_active()) {
        line_event(&l, LOG_ENTER, act, id);
        line_mem(&l, args->buf, args->len);
        log_line(h, LOG_ENTER, act, id, &l, false);
    }
    return id;
}

/* log_begin with "offset=0x... count=0x..." and then extra. */
static uint64_t
log_begin_range(struct handle *h, const char *act, uint64_t offset,
                uint32_t count, const struct line *extra)
{
    struct line l = {.len = 0};

    line_range(&l, offset, count);
    if (extra)
        line_mem(&l, extra->buf, extra->len);
    return log_begin(h, act, &l);
}

/* " fua=0|1" */
static struct line
log_fua(uint32_t flags)
{
    struct line l = {.len = 0};

    line_flag(&l, "fua", flags & NBDKIT_FLAG_FUA);
    return l;
}

/* Log the end of a request: "return=R [error=E]". */
static void
log_end(struct handle *h, const char *act, uint64_t id, int r, int err)
{
    struct line l = {.len = 0};

    if (!log_active())
        return;
    line_event(&l, LOG_LEAVE, act, id);
    line_result(&l, r, err);
    log_line(h, LOG_LEAVE, act, id, &l, r == -1);
}

static int
log_pread(nbdkit_next *next, void *handle, void *buf, uint32_t count,
          uint64_t offset, uint32_t flags, int *err)
{
    uint64_t id;
    int r;

    id = log_begin_range(handle, "Read", offset, count, NULL);
    r = next->pread(next, buf, count, offset, flags, err);
    log_end(handle, "Read", id, r, r == -1 ? *err : 0);
    return r;
}

static int
log_pwrite(nbdkit_next *next, void *handle, const void *buf, uint32_t count,
           uint64_t offset, uint32_t flags, int *err)
{
    struct line fua = log_fua(flags);
    uint64_t id;
    int r;

    id = log_begin_range(handle, "Write", offset, count, &fua);
    r = next->pwrite(next, buf, count, offset, flags, err);
    log_end(handle, "Write", id, r, r == -1 ? *err : 0);
    return r;
}

static int
log_flush(nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
    uint64_t id;
    int r;

    id = log_begin(handle, "Flush", &(struct line){.len = 0});
    r = next->flush(next, flags, err);
    log_end(handle, "Flush", id, r, r == -1 ? *err : 0);
    return r;
}

static int
log_trim(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    struct line fua = log_fua(flags);
    uint64_t id;
    int r;

    id = log_begin_range(handle, "Trim", offset, count, &fua);
    r = next->trim(next, count, offset, flags, err);
    log_end(handle, "Trim", id, r, r == -1 ? *err : 0);
    return r;
}

static int
log_zero(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
         uint32_t flags, int *err)
{
    struct line extra = {.len = 0};
    uint64_t id;
    int r;

    line_flag(&extra, "trim", flags & NBDKIT_FLAG_MAY_TRIM);
    line_flag(&extra, "fua", flags & NBDKIT_FLAG_FUA);
    line_flag(&extra, "fast", flags & NBDKIT_FLAG_FAST_ZERO);
    id = log_begin_range(handle, "Zero", offset, count, &extra);
    r = next->zero(next, count, offset, flags, err);
    log_end(handle, "Zero", id, r, r == -1 ? *err : 0);
    return r;
}

static int
log_cache(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
          uint32_t flags, int *err)
{
    uint64_t id;
    int r;

    id = log_begin_range(handle, "Cache", offset, count, NULL);
    r = next->cache(next, count, offset, flags, err);
    log_end(handle, "Cache", id, r, r == -1 ? *err : 0);
    return r;
}

/* The extent type as nbdkit's log writes it: "", "hole", "zero" or
 * "hole,zero".
 */
static const char *
log_extent_type(uint32_t type)
{
    switch (type & (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO)) {
    case NBDKIT_EXTENT_HOLE:
        return "hole";
    case NBDKIT_EXTENT_ZERO:
        return "zero";
    case NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO:
        return "hole,zero";
    default:
        return "";
    }
}

/* "extents=(OFF LEN "TYPE" ...) return=R" */
static void
log_extents_end(struct handle *h, uint64_t id, struct nbdkit_extents *extents,
                int r, int err)
{
    struct line res = {.len = 0};
    struct log_args a;
    struct nbdkit_extent e;
    size_t i, n;

    if (!log_active() || log_args_open(&a) == -1)
        return;
    if (r == 0) {
        fprintf(a.fp, "extents=(");
        n = nbdkit_extents_count(extents);
        for (i = 0; i < n; i++) {
            e = nbdkit_get_extent(extents, i);
            fprintf(a.fp, "%s0x%" PRIx64 " 0x%" PRIx64 " \"%s\"",
                    i > 0 ? " " : "", e.offset, e.length,
                    log_extent_type(e.type));
        }
        fprintf(a.fp, ") ");
    }
    line_result(&res, r, err);
    fputs(res.buf, a.fp);
    log_args_emit(&a, h, LOG_LEAVE, "Extents", id, r == -1);
}

static int
log_extents(nbdkit_next *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, struct nbdkit_extents *extents, int *err)
{
    struct line extra = {.len = 0};
    uint64_t id;
    int r;

    line_flag(&extra, "req_one", flags & NBDKIT_FLAG_REQ_ONE);
    id = log_begin_range(handle, "Extents", offset, count, &extra);
    r = next->extents(next, count, offset, flags, extents, err);
    log_extents_end(handle, id, extents, r, r == -1 ? *err : 0);
    return r;
}

static struct nbdkit_filter filter = {
    .name = "log",
    .longname = "nbdx log filter",
    .unload = log_unload,
    .config = log_config,
    .config_help = log_config_help,
    .get_ready = log_get_ready,
    .after_fork = log_after_fork,
    .preconnect = log_preconnect,
    .list_exports = log_list_exports,
    .open = log_open,
    .close = log_close,
    .prepare = log_prepare,
    .pread = log_pread,
    .pwrite = log_pwrite,
    .flush = log_flush,
    .trim = log_trim,
    .zero = log_zero,
    .extents = log_extents,
    .cache = log_cache,
};

NBDKIT_REGISTER_FILTER(filter)

/* nbdx only: the zero-copy calls, logged like the ordinary ones.  A
 * zero-copy READ is logged once per piece of it the layers describe; a
 * staged WRITE when it is committed (one that never fully arrived is not
 * logged, as it never reached the layers in nbdkit either).
 */
static const struct nbdx_next_zc *next_zc; /* set at load, then read-only */

/* What log_read_iov and log_write_iov wrap around the cookie below. */
struct log_zc {
    void *cookie;
    uint64_t id, offset;
    uint32_t count;
};

static int64_t
log_read_iov(void *next, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags, struct nbdx_iovec *iov, size_t max, size_t *n,
             void **cookie, int *err)
{
    struct log_zc *z = malloc(sizeof *z);
    int64_t r;

    if (z == NULL) {
        *err = errno;
        nbdkit_error("malloc: %m");
        return -1;
    }
    r = next_zc->read_iov(next, count, offset, flags, iov, max, n, &z->cookie,
                          err);
    z->id = log_begin_range(handle, "Read", offset,
                            r == -1 ? count : (uint32_t)r, NULL);
    if (r == -1) {
        log_end(handle, "Read", z->id, -1, *err);
        free(z);
        return -1;
    }
    *cookie = z;
    return r;
}

static void
log_read_iov_end(void *next, void *handle, void *cookie)
{
    struct log_zc *z = cookie;

    next_zc->read_iov_end(next, z->cookie);
    log_end(handle, "Read", z->id, 0, 0);
    free(z);
}

static int
log_read_fd(void *next, void *handle, uint32_t count, uint64_t offset,
            uint32_t flags, int *fd, uint64_t *fd_offset, int *err)
{
    uint64_t id;
    int r;

    id = log_begin_range(handle, "Read", offset, count, NULL);
    r = next_zc->read_fd(next, count, offset, flags, fd, fd_offset, err);
    log_end(handle, "Read", id, r, r == -1 ? *err : 0);
    return r;
}

static int
log_write_iov(void *next, void *handle, uint32_t count, uint64_t offset,
              uint32_t flags, struct nbdx_wiovec *iov, size_t max, size_t *n,
              void **cookie, int *err)
{
    struct log_zc *z = malloc(sizeof *z);

    if (z == NULL) {
        *err = errno;
        return -1;
    }
    if (next_zc->write_iov(next, count, offset, flags, iov, max, n, &z->cookie,
                           err) == -1) {
        free(z);
        return -1;
    }
    z->offset = offset;
    z->count = count;
    *cookie = z;
    return 0;
}

static int
log_write_iov_end(void *next, void *handle, void *cookie, int commit,
                  uint32_t flags, int *err)
{
    struct log_zc *z = cookie;
    struct line fua = log_fua(flags);
    uint64_t id = 0;
    int r;

    if (commit)
        id = log_begin_range(handle, "Write", z->offset, z->count, &fua);
    r = next_zc->write_iov_end(next, z->cookie, commit, flags, err);
    if (commit)
        log_end(handle, "Write", id, r, r == -1 ? *err : 0);
    free(z);
    return r;
}

static int
log_write_pipe(void *next, void *handle, uint32_t count, uint64_t offset,
               uint32_t flags, int pipe, int *err)
{
    struct line fua = log_fua(flags);
    uint64_t id;
    int r;

    id = log_begin_range(handle, "Write", offset, count, &fua);
    r = next_zc->write_pipe(next, count, offset, flags, pipe, err);
    log_end(handle, "Write", id, r, r == -1 ? *err : 0);
    return r;
}

static const struct nbdx_filter_extension extension = {
    ._struct_size = sizeof extension,
    ._version = NBDX_FILTER_EXTENSION_VERSION,
    .read_iov = log_read_iov,
    .read_iov_end = log_read_iov_end,
    .read_fd = log_read_fd,
    .write_iov = log_write_iov,
    .write_iov_end = log_write_iov_end,
    .write_pipe = log_write_pipe,
};

NBDX_REGISTER_FILTER_EXTENSION(extension, next_zc)
