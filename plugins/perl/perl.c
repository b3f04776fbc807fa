/* SPDX-License-Identifier: BSD-3-Clause */
/* perl: a plugin written in Perl, run by an embedded interpreter; each
 * callback calls the script's sub of the same name (see
 * nbdx-perl-plugin(1)).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"

/* After the nbdkit headers: perl.h redefines common names. */
#include <EXTERN.h>
#include <perl.h>
#include <XSUB.h>

/* The one interpreter, made at load and destroyed at unload.  Every
 * use after load holds perl_lock and first makes it the current
 * thread's context: callbacks come from the server's threads.
 */
static PerlInterpreter *perl_interp;
static pthread_mutex_t perl_lock = PTHREAD_MUTEX_INITIALIZER;
static char *script; /* script=FILE, absolute, owned; set once */

#define PERL_ENTER                                                             \
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&perl_lock);                                \
    PERL_SET_CONTEXT(perl_interp)

/* ---- the Nbdkit package, in C ---- */

XS(perl_xs_set_error);
XS(perl_xs_set_error)
{
    dXSARGS;

    if (items != 1)
        croak("Usage: Nbdkit::set_error($errno)");
    nbdkit_set_error((int)SvIV(ST(0)));
    XSRETURN_EMPTY;
}

XS(perl_xs_debug);
XS(perl_xs_debug)
{
    dXSARGS;

    if (items != 1)
        croak("Usage: Nbdkit::debug($message)");
    nbdkit_debug("%s", SvPV_nolen(ST(0)));
    XSRETURN_EMPTY;
}

EXTERN_C void boot_DynaLoader(pTHX_ CV *cv);

/* Run by perl_parse: DynaLoader so scripts can use XS modules, and ours. */
static void
perl_xs_init(pTHX)
{
    newXS("DynaLoader::boot_DynaLoader", boot_DynaLoader, __FILE__);
    newXS("Nbdkit::set_error", perl_xs_set_error, __FILE__);
    newXS("Nbdkit::debug", perl_xs_debug, __FILE__);
}

static void
perl_set_constant(const char *name, IV value)
{
    sv_setiv(get_sv(name, GV_ADD), value);
}

/* $Nbdkit::FLAG_*, for the $flags argument, and the can_fua values. */
static void
perl_set_constants(void)
{
    perl_set_constant("Nbdkit::FLAG_MAY_TRIM", NBDKIT_FLAG_MAY_TRIM);
    perl_set_constant("Nbdkit::FLAG_FUA", NBDKIT_FLAG_FUA);
    perl_set_constant("Nbdkit::FLAG_REQ_ONE", NBDKIT_FLAG_REQ_ONE);
    perl_set_constant("Nbdkit::FLAG_FAST_ZERO", NBDKIT_FLAG_FAST_ZERO);
    perl_set_constant("Nbdkit::FUA_NONE", NBDKIT_FUA_NONE);
    perl_set_constant("Nbdkit::FUA_EMULATE", NBDKIT_FUA_EMULATE);
    perl_set_constant("Nbdkit::FUA_NATIVE", NBDKIT_FUA_NATIVE);
}

/* ---- lifecycle ---- */

static void
perl_load(void)
{
    static char arg0[] = "nbdx-perl", arg1[] = "-e", arg2[] = "0";
    static char *args[] = {arg0, arg1, arg2, NULL};
    int argc = 3;
    char **argv = args, **env = NULL;

    PERL_SYS_INIT3(&argc, &argv, &env);
    perl_interp = perl_alloc();
    if (perl_interp == NULL) {
        nbdkit_error("perl_alloc failed");
        return;
    }
    PERL_SET_CONTEXT(perl_interp);
    perl_construct(perl_interp);
    /* END blocks run at perl_destruct, in unload. */
    PL_exit_flags |= PERL_EXIT_DESTRUCT_END;
    if (perl_parse(perl_interp, perl_xs_init, argc, argv, NULL) != 0 ||
        perl_run(perl_interp) != 0) {
        nbdkit_error("the perl interpreter failed to start");
        return;
    }
    perl_set_constants();
}

static void
perl_unload(void)
{
    if (perl_interp) {
        PERL_SET_CONTEXT(perl_interp);
        perl_destruct(perl_interp);
        perl_free(perl_interp);
        PERL_SYS_TERM();
    }
    free(script);
}

static void
perl_dump_plugin(void)
{
    printf("perl_version=%d.%d.%d\n", PERL_REVISION, PERL_VERSION,
           PERL_SUBVERSION);
}

/* ---- calling the script ---- */

static bool
perl_defined(const char *name)
{
    char full[64];

    snprintf(full, sizeof full, "main::%s", name);
    return get_cv(full, 0) != NULL;
}

/* $@, chomped, as the error; its first line only when first_line is
 * set (Perl adds an "Execution ... aborted" line after compile errors).
 */
static void
perl_report(const char *name, bool first_line)
{
    STRLEN len;
    const char *msg = SvPV(ERRSV, len);
    size_t n = first_line ? strcspn(msg, "\n") : len;

    while (n > 0 && msg[n - 1] == '\n')
        n--;
    if (name)
        nbdkit_error("%s: %.*s", name, (int)n, msg);
    else
        nbdkit_error("%.*s", (int)n, msg);
}

/* Calls main::NAME(ARGS) in scalar context, trapping die.  Each of the
 * nargs args is a new reference the call takes over.  Returns a new
 * reference to the result (the caller drops it), or NULL when the sub
 * died, with its message logged: any Nbdkit::set_error it made stays
 * for the server, which otherwise answers EIO.  The caller holds the
 * interpreter (PERL_ENTER).
 */
static SV *
perl_call(const char *name, int nargs, SV **args)
{
    dSP;
    SV *result = NULL;
    int i, count;
    char full[64];

    snprintf(full, sizeof full, "main::%s", name);
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    for (i = 0; i < nargs; i++)
        XPUSHs(sv_2mortal(args[i]));
    PUTBACK;
    count = call_pv(full, G_SCALAR | G_EVAL);
    SPAGAIN;
    if (count == 1)
        result = newSVsv(POPs);
    PUTBACK;
    FREETMPS;
    LEAVE;
    if (SvTRUE(ERRSV)) {
        perl_report(name, false);
        if (result)
            SvREFCNT_dec(result);
        return NULL;
    }
    return result ? result : newSV(0);
}

/* A call whose result is ignored: 0, or -1 if it died. */
static int
perl_call_void(const char *name, int nargs, SV **args)
{
    SV *r = perl_call(name, nargs, args);

    if (r == NULL)
        return -1;
    SvREFCNT_dec(r);
    return 0;
}

/* A call whose result is an integer (or a boolean, as 0/1). */
static int64_t
perl_call_int(const char *name, int nargs, SV **args, bool boolean)
{
    SV *r = perl_call(name, nargs, args);
    int64_t v;

    if (r == NULL)
        return -1;
    v = boolean ? SvTRUE(r) : (int64_t)SvIV(r);
    SvREFCNT_dec(r);
    return v;
}

/* ---- configuration ---- */

/* Runs the script (its subs, top-level code and BEGIN blocks) with do,
 * so a compile error is in $@ and not on stderr.
 */
static int
perl_run_script(void)
{
    static const char *const required[] = {"open", "get_size", "pread"};
    size_t i;

    sv_setpv(get_sv("0", GV_ADD), script);
    sv_setpv(get_sv("Nbdkit::_script", GV_ADD), script);
    eval_pv("do $Nbdkit::_script; die $@ if $@; "
            "die \"$Nbdkit::_script: $!\\n\" unless -r $Nbdkit::_script",
            FALSE);
    if (SvTRUE(ERRSV)) {
        perl_report(NULL, true);
        return -1;
    }
    for (i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!perl_defined(required[i])) {
            nbdkit_error("%s: the script has no '%s' sub", script, required[i]);
            return -1;
        }
    return 0;
}

/* script= comes first and loads the script; every later key goes to
 * its config sub.
 */
static int
perl_config(const char *key, const char *value)
{
    PERL_ENTER;
    if (perl_interp == NULL) {
        nbdkit_error("the perl interpreter did not start");
        return -1;
    }
    if (script == NULL) {
        if (strcmp(key, "script") != 0) {
            nbdkit_error("the first parameter must be script=FILE");
            return -1;
        }
        script = nbdkit_realpath(value);
        if (script == NULL)
            return -1;
        return perl_run_script();
    }
    if (!perl_defined("config")) {
        nbdkit_error("%s: unknown parameter '%s' (the script has no config "
                     "sub)",
                     script, key);
        return -1;
    }
    return perl_call_void("config", 2,
                          (SV *[]){newSVpv(key, 0), newSVpv(value, 0)});
}

static int
perl_config_complete(void)
{
    PERL_ENTER;
    if (script == NULL) {
        nbdkit_error("script=FILE is required");
        return -1;
    }
    if (!perl_defined("config_complete"))
        return 0;
    return perl_call_void("config_complete", 0, NULL);
}

#define perl_config_help                                                       \
    "[script=]FILE        (required) The Perl script of the plugin.\n"         \
    "Other parameters are passed to its config sub."

/* ---- per connection ---- */

/* The handle is a new reference to what open returned; close drops it. */
static void *
perl_open(int readonly)
{
    PERL_ENTER;
    return perl_call("open", 1, (SV *[]){newSViv(readonly ? 1 : 0)});
}

static void
perl_close(void *handle)
{
    SV *h = handle;

    PERL_ENTER;
    if (perl_defined("close"))
        perl_call_void("close", 1, (SV *[]){h});
    else
        SvREFCNT_dec(h);
}

static int64_t
perl_get_size(void *handle)
{
    PERL_ENTER;
    return perl_call_int("get_size", 1, (SV *[]){SvREFCNT_inc(handle)}, false);
}

/* can_NAME from the script's sub, else whether sub FALLBACK exists
 * (nothing, NULL, means false).
 */
static int
perl_can(void *handle, const char *name, const char *fallback)
{
    PERL_ENTER;
    if (perl_defined(name))
        return perl_call_int(name, 1, (SV *[]){SvREFCNT_inc(handle)}, true);
    return fallback && perl_defined(fallback);
}

static int
perl_can_write(void *handle)
{
    return perl_can(handle, "can_write", "pwrite");
}

static int
perl_can_flush(void *handle)
{
    return perl_can(handle, "can_flush", "flush");
}

static int
perl_is_rotational(void *handle)
{
    return perl_can(handle, "is_rotational", NULL);
}

static int
perl_can_trim(void *handle)
{
    return perl_can(handle, "can_trim", "trim");
}

/* False makes the server write zeroes with pwrite. */
static int
perl_can_zero(void *handle)
{
    return perl_can(handle, "can_zero", "zero");
}

static int
perl_can_multi_conn(void *handle)
{
    return perl_can(handle, "can_multi_conn", NULL);
}

/* An integer, $Nbdkit::FUA_*; without the sub FUA is emulated with
 * flush, if the script can flush.
 */
static int
perl_can_fua(void *handle)
{
    PERL_ENTER;
    if (!perl_defined("can_fua"))
        return NBDKIT_FUA_EMULATE;
    return perl_call_int("can_fua", 1, (SV *[]){SvREFCNT_inc(handle)}, false);
}

/* ---- data ---- */

static int
perl_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    STRLEN len;
    const char *data;
    SV *r;

    PERL_ENTER;
    r = perl_call("pread", 4,
                  (SV *[]){SvREFCNT_inc(handle), newSVuv(count),
                           newSVuv(offset), newSVuv(flags)});
    if (r == NULL)
        return -1;
    data = SvPV(r, len);
    if (len < count) {
        nbdkit_error("pread: the script returned %zu bytes, %" PRIu32
                     " were asked for",
                     (size_t)len, count);
        SvREFCNT_dec(r);
        nbdkit_set_error(EIO);
        return -1;
    }
    memcpy(buf, data, count);
    SvREFCNT_dec(r);
    return 0;
}

/* A request the script has no sub for: refused with err (EOPNOTSUPP
 * for zero, which makes the server write zeroes instead).
 */
static int
perl_missing(const char *name, int err)
{
    nbdkit_error("the script has no '%s' sub", name);
    nbdkit_set_error(err);
    return -1;
}

static int
perl_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
    PERL_ENTER;
    if (!perl_defined("pwrite"))
        return perl_missing("pwrite", EROFS);
    return perl_call_void("pwrite", 4,
                          (SV *[]){SvREFCNT_inc(handle), newSVpvn(buf, count),
                                   newSVuv(offset), newSVuv(flags)});
}

static int
perl_flush(void *handle, uint32_t flags)
{
    PERL_ENTER;
    if (!perl_defined("flush"))
        return perl_missing("flush", EINVAL);
    return perl_call_void("flush", 2,
                          (SV *[]){SvREFCNT_inc(handle), newSVuv(flags)});
}

/* trim and zero have the same arguments. */
static int
perl_call_range(const char *name, int err, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags)
{
    PERL_ENTER;
    if (!perl_defined(name))
        return perl_missing(name, err);
    return perl_call_void(name, 4,
                          (SV *[]){SvREFCNT_inc(handle), newSVuv(count),
                                   newSVuv(offset), newSVuv(flags)});
}

static int
perl_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return perl_call_range("trim", EINVAL, handle, count, offset, flags);
}

static int
perl_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return perl_call_range("zero", EOPNOTSUPP, handle, count, offset, flags);
}

/* One interpreter: one request at a time, across all connections. */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "perl",
    .longname = "nbdx perl plugin",
    .version = PACKAGE_VERSION,
    .load = perl_load,
    .unload = perl_unload,
    .dump_plugin = perl_dump_plugin,
    .config = perl_config,
    .config_complete = perl_config_complete,
    .config_help = perl_config_help,
    .magic_config_key = "script",
    .open = perl_open,
    .close = perl_close,
    .get_size = perl_get_size,
    .can_write = perl_can_write,
    .can_flush = perl_can_flush,
    .is_rotational = perl_is_rotational,
    .can_trim = perl_can_trim,
    .can_zero = perl_can_zero,
    .can_multi_conn = perl_can_multi_conn,
    .can_fua = perl_can_fua,
    .pread = perl_pread,
    .pwrite = perl_pwrite,
    .flush = perl_flush,
    .trim = perl_trim,
    .zero = perl_zero,
};

NBDKIT_REGISTER_PLUGIN(plugin)
