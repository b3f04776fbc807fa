/* SPDX-License-Identifier: BSD-3-Clause */
/* tcl: a plugin written as a Tcl script, run by an embedded Tcl 8.6
 * interpreter (see nbdx-tcl-plugin(1)).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tcl.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* The interpreter: created by load, deleted by unload.  The thread
 * model serializes every callback, so one thread at a time uses it.
 */
static Tcl_Interp *interp;
static char *script; /* script=FILE as given, owned; NULL before it */

/* A connection's handle is the Tcl_Obj that the script's plugin_open
 * returned, with a reference held from open to close.
 */

/* ---- calling the script ---- */

/* Log the interpreter's result after WHAT, on one line. */
static void
tcl_log_result(const char *what)
{
    const char *msg = Tcl_GetStringResult(interp);
    char *line = strdup(msg);
    char *p;

    if (line == NULL) {
        nbdkit_error("%s: %s", what, msg);
        return;
    }
    for (p = line; *p; p++)
        if (*p == '\n')
            *p = ' ';
    nbdkit_error("%s: %s", what, line);
    free(line);
}

/* Evaluate the command of objc words at global level.  Each word is
 * referenced for the call, so the caller may pass new objects, which
 * are freed after it.  The result, if any, is the interpreter's until
 * the next evaluation.  An error is logged as "NAME: message" and
 * reaches the client as EIO.
 */
static int
tcl_call(int objc, Tcl_Obj **objv)
{
    int i, r;

    for (i = 0; i < objc; i++)
        Tcl_IncrRefCount(objv[i]);
    r = Tcl_EvalObjv(interp, objc, objv, TCL_EVAL_GLOBAL);
    if (r != TCL_OK)
        tcl_log_result(Tcl_GetString(objv[0]));
    for (i = 0; i < objc; i++)
        Tcl_DecrRefCount(objv[i]);
    if (r != TCL_OK) {
        nbdkit_set_error(EIO);
        return -1;
    }
    return 0;
}

static Tcl_Obj *
tcl_word(const char *s)
{
    return Tcl_NewStringObj(s, -1);
}

/* Whether the script defined the proc NAME.  Tcl's own commands do not
 * count, which is why the methods open, close and flush are called
 * plugin_open, plugin_close and plugin_flush.
 */
static bool
tcl_defined(const char *name)
{
    Tcl_Obj *objv[] = {tcl_word("info"), tcl_word("procs"), tcl_word(name)};

    if (tcl_call(3, objv) == -1)
        return false;
    return Tcl_GetCharLength(Tcl_GetObjResult(interp)) > 0;
}

/* A method without arguments or results, skipped if not defined. */
static int
tcl_call_optional(const char *name)
{
    Tcl_Obj *objv[1];

    if (!tcl_defined(name))
        return 0;
    objv[0] = tcl_word(name);
    return tcl_call(1, objv);
}

/* A can_* method: the script's boolean, or dflt if it has none. */
static int
tcl_bool(const char *name, Tcl_Obj *h, int dflt)
{
    Tcl_Obj *objv[2];
    int r;

    if (!tcl_defined(name))
        return dflt;
    objv[0] = tcl_word(name);
    objv[1] = h;
    if (tcl_call(2, objv) == -1)
        return -1;
    if (Tcl_GetBooleanFromObj(interp, Tcl_GetObjResult(interp), &r) != TCL_OK) {
        tcl_log_result(name);
        return -1;
    }
    return r;
}

/* ---- configuration ---- */

static void
tcl_load(void)
{
    Tcl_FindExecutable("nbdx");
    interp = Tcl_CreateInterp();
    if (Tcl_Init(interp) != TCL_OK) {
        tcl_log_result("cannot initialize the Tcl interpreter");
        exit(EXIT_FAILURE);
    }
}

static void
tcl_unload(void)
{
    if (interp)
        Tcl_DeleteInterp(interp);
    Tcl_Finalize();
    free(script);
}

/* script=FILE, always first: evaluate it, which defines the procs.  An
 * error, such as a missing brace, names the file and line.
 */
static int
tcl_config_script(const char *value)
{
    char *what;

    script = strdup(value);
    if (script == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    if (access(script, R_OK) == -1) {
        nbdkit_error("%s: %m", script);
        return -1;
    }
    if (Tcl_EvalFile(interp, script) == TCL_OK)
        return 0;
    if (asprintf(&what, "could not load Tcl script: %s: line %d", script,
                 Tcl_GetErrorLine(interp)) == -1) {
        nbdkit_error("asprintf: %m");
        return -1;
    }
    tcl_log_result(what);
    free(what);
    return -1;
}

/* Every later parameter goes to the script's config {key value}. */
static int
tcl_config(const char *key, const char *value)
{
    Tcl_Obj *objv[3];

    if (script == NULL) {
        if (strcmp(key, "script") != 0) {
            nbdkit_error("the first parameter must be script=FILE");
            return -1;
        }
        return tcl_config_script(value);
    }
    if (!tcl_defined("config")) {
        nbdkit_error("%s: this plugin does not need command line "
                     "configuration",
                     script);
        return -1;
    }
    objv[0] = tcl_word("config");
    objv[1] = tcl_word(key);
    objv[2] = tcl_word(value);
    return tcl_call(3, objv);
}

static int
tcl_config_complete(void)
{
    if (script == NULL) {
        nbdkit_error("the script parameter is required (script=FILE)");
        return -1;
    }
    if (!tcl_defined("plugin_open") || !tcl_defined("get_size") ||
        !tcl_defined("pread")) {
        nbdkit_error("%s: the script must define the procs plugin_open, "
                     "get_size and pread",
                     script);
        return -1;
    }
    return tcl_call_optional("config_complete");
}

static void
tcl_dump_plugin(void)
{
    printf("tcl_version=%s\n", TCL_VERSION);
    printf("tcl_patch_level=%s\n", TCL_PATCH_LEVEL);
    fflush(stdout);
    /* Tcl's stdout channel has its own buffer. */
    if (script && tcl_call_optional("dump_plugin") == 0)
        Tcl_Eval(interp, "flush stdout");
    fflush(stdout);
}

/* ---- connections ---- */

static void *
tcl_open(int readonly)
{
    Tcl_Obj *objv[] = {tcl_word("plugin_open"), Tcl_NewBooleanObj(readonly)};
    Tcl_Obj *h;

    if (tcl_call(2, objv) == -1)
        return NULL;
    h = Tcl_GetObjResult(interp);
    Tcl_IncrRefCount(h);
    return h;
}

/* Dropping the reference lets Tcl free the handle's value. */
static void
tcl_close(void *handle)
{
    Tcl_Obj *h = handle;
    Tcl_Obj *objv[2];

    if (tcl_defined("plugin_close")) {
        objv[0] = tcl_word("plugin_close");
        objv[1] = h;
        tcl_call(2, objv);
    }
    Tcl_DecrRefCount(h);
}

static int64_t
tcl_get_size(void *handle)
{
    Tcl_Obj *objv[] = {tcl_word("get_size"), handle};
    Tcl_WideInt size;

    if (tcl_call(2, objv) == -1)
        return -1;
    if (Tcl_GetWideIntFromObj(interp, Tcl_GetObjResult(interp), &size) !=
        TCL_OK) {
        tcl_log_result("get_size");
        return -1;
    }
    return size;
}

static int
tcl_can_write(void *handle)
{
    return tcl_bool("can_write", handle, tcl_defined("pwrite"));
}

static int
tcl_can_flush(void *handle)
{
    return tcl_bool("can_flush", handle, tcl_defined("plugin_flush"));
}

static int
tcl_can_trim(void *handle)
{
    return tcl_bool("can_trim", handle, tcl_defined("trim"));
}

/* Without a zero proc, zeroes are written with pwrite. */
static int
tcl_can_zero(void *handle)
{
    return tcl_bool("can_zero", handle, 1);
}

static int
tcl_is_rotational(void *handle)
{
    return tcl_bool("is_rotational", handle, 0);
}

/* ---- data path ---- */

/* The result must be convertible to a byte array of at least count
 * bytes.
 */
static int
tcl_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    Tcl_Obj *objv[] = {tcl_word("pread"), handle, Tcl_NewWideIntObj(count),
                       Tcl_NewWideIntObj((Tcl_WideInt)offset)};
    const unsigned char *data;
    int len;

    if (tcl_call(4, objv) == -1)
        return -1;
    data = Tcl_GetByteArrayFromObj(Tcl_GetObjResult(interp), &len);
    if (len < 0 || (uint32_t)len < count) {
        nbdkit_error("pread: the returned buffer is shorter than count "
                     "(%d < %" PRIu32 ")",
                     len, count);
        return -1;
    }
    memcpy(buf, data, count);
    return 0;
}

/* pwrite, plugin_flush and trim are only called when can_write,
 * can_flush or can_trim said yes, which by default means the proc
 * exists.
 */
static int
tcl_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    Tcl_Obj *objv[4];

    if (!tcl_defined("pwrite")) {
        nbdkit_error("pwrite: the script has no pwrite proc");
        nbdkit_set_error(EROFS);
        return -1;
    }
    objv[0] = tcl_word("pwrite");
    objv[1] = handle;
    objv[2] = Tcl_NewByteArrayObj(buf, (int)count);
    objv[3] = Tcl_NewWideIntObj((Tcl_WideInt)offset);
    return tcl_call(4, objv);
}

static int
tcl_flush(void *handle, uint32_t flags)
{
    Tcl_Obj *objv[2];

    if (!tcl_defined("plugin_flush")) {
        nbdkit_error("flush: the script has no plugin_flush proc");
        nbdkit_set_error(EINVAL);
        return -1;
    }
    objv[0] = tcl_word("plugin_flush");
    objv[1] = handle;
    return tcl_call(2, objv);
}

static int
tcl_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    Tcl_Obj *objv[4];

    if (!tcl_defined("trim")) {
        nbdkit_error("trim: the script has no trim proc");
        nbdkit_set_error(EINVAL);
        return -1;
    }
    objv[0] = tcl_word("trim");
    objv[1] = handle;
    objv[2] = Tcl_NewWideIntObj(count);
    objv[3] = Tcl_NewWideIntObj((Tcl_WideInt)offset);
    return tcl_call(4, objv);
}

/* Without a zero proc, EOPNOTSUPP makes the server write zeroes. */
static int
tcl_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    Tcl_Obj *objv[5];

    if (!tcl_defined("zero")) {
        nbdkit_debug("zero: no zero proc, falling back to pwrite");
        nbdkit_set_error(EOPNOTSUPP);
        return -1;
    }
    objv[0] = tcl_word("zero");
    objv[1] = handle;
    objv[2] = Tcl_NewWideIntObj(count);
    objv[3] = Tcl_NewWideIntObj((Tcl_WideInt)offset);
    objv[4] = Tcl_NewBooleanObj((flags & NBDKIT_FLAG_MAY_TRIM) != 0);
    return tcl_call(5, objv);
}

/* The interpreter is not thread safe. */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "tcl",
    .longname = "nbdx tcl plugin",
    .version = PACKAGE_VERSION,
    .description = "A plugin written as a Tcl script.",
    .load = tcl_load,
    .unload = tcl_unload,
    .dump_plugin = tcl_dump_plugin,
    .magic_config_key = "script",
    .config = tcl_config,
    .config_complete = tcl_config_complete,
    .config_help = "script=<FILENAME>  (required) The Tcl script to run.\n"
                   "[other parameters go to the script's config proc]",
    .open = tcl_open,
    .close = tcl_close,
    .get_size = tcl_get_size,
    .can_write = tcl_can_write,
    .can_flush = tcl_can_flush,
    .can_trim = tcl_can_trim,
    .can_zero = tcl_can_zero,
    .is_rotational = tcl_is_rotational,
    .pread = tcl_pread,
    .pwrite = tcl_pwrite,
    .flush = tcl_flush,
    .trim = tcl_trim,
    .zero = tcl_zero,
};

NBDKIT_REGISTER_PLUGIN(plugin)
