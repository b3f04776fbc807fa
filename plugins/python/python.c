/* SPDX-License-Identifier: BSD-3-Clause */
/* python: a plugin written as a Python 3 script, run by an embedded
 * interpreter (see nbdx-python-plugin(1)).  The script defines functions
 * named like the plugin callbacks in its __main__ module; each callback
 * here takes the GIL, calls the function of the same name if there is
 * one and converts its answer.  An exception is an error: its traceback
 * goes to nbdkit_error and the client sees the errno the script gave to
 * nbdkit.set_error, or EIO.
 *
 * The interpreter and the calls into it are in interp.c, the nbdkit
 * module in module.c.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "python.h"

static void
python_dump_plugin(void)
{
    printf("python_version=%s\n", PY_VERSION);
    printf("python_pep_384_abi_version=%d\n", PYTHON_ABI_VERSION);
    printf("nbdkit_python_maximum_api_version=%d\n", 2);
    fflush(stdout);
    python_enter();
    python_call(NULL, "dump_plugin", "()");
    python_leave();
    fflush(stdout);
}

/* script= first; after it every parameter, a second script= too, goes
 * to the script's config function.
 */
static int
python_config(const char *key, const char *value)
{
    int r;

    if (python_script == NULL) {
        if (strcmp(key, "script") != 0) {
            nbdkit_error("the first parameter must be "
                         "script=/path/to/script.py");
            return -1;
        }
        return python_load_script(value);
    }
    python_enter();
    r = python_call(NULL, "config", "(ss)", key, value);
    python_leave();
    if (r == 0) {
        nbdkit_error("%s: this plugin does not need command line "
                     "configuration",
                     python_script);
        return -1;
    }
    return r == -1 ? -1 : 0;
}

/* A callback with no arguments whose result is ignored. */
static int
python_run(const char *name)
{
    int r;

    python_enter();
    r = python_call(NULL, name, "()");
    python_leave();
    return r == -1 ? -1 : 0;
}

static int
python_config_complete(void)
{
    if (python_script == NULL) {
        nbdkit_error("the script parameter is required "
                     "(script=/path/to/script.py)");
        return -1;
    }
    return python_run("config_complete");
}

/* The script's thread_model(), SERIALIZE_ALL_REQUESTS without one. */
static int
python_thread_model(void)
{
    int model = NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS;
    PyObject *r;

    python_enter();
    if (python_call(&r, "thread_model", "()") == 1 &&
        python_to_int(r, "thread_model", &model) == -1)
        model = -1;
    python_leave();
    return model;
}

static int
python_get_ready(void)
{
    return python_run("get_ready");
}

static int
python_after_fork(void)
{
    return python_run("after_fork");
}

static void
python_cleanup(void)
{
    python_run("cleanup");
}

static int
python_preconnect(int readonly)
{
    int r;

    python_enter();
    r = python_call(NULL, "preconnect", "(O)", readonly ? Py_True : Py_False);
    python_leave();
    return r == -1 ? -1 : 0;
}

/* Add one entry ITEM of list_exports' answer: a name or (name, desc). */
static int
python_add_export(struct nbdkit_exports *exports, PyObject *item)
{
    const char *name, *desc = NULL;

    if (PyUnicode_Check(item))
        name = PyUnicode_AsUTF8(item);
    else if (!PyArg_ParseTuple(item, "s|z", &name, &desc))
        return python_failed("list_exports");
    if (name == NULL)
        return python_failed("list_exports");
    return nbdkit_add_export(exports, name, desc);
}

static int
python_list_exports_items(PyObject *list, struct nbdkit_exports *exports)
{
    PyObject *it = PyObject_GetIter(list), *item;
    int r = 0;

    if (it == NULL)
        return python_failed("list_exports");
    while (r == 0 && (item = PyIter_Next(it)) != NULL) {
        r = python_add_export(exports, item);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    if (r == 0 && PyErr_Occurred())
        r = python_failed("list_exports");
    return r;
}

static int
python_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
    PyObject *list;
    int r;

    python_enter();
    r = python_call(&list, "list_exports", "(OO)",
                    readonly ? Py_True : Py_False, is_tls ? Py_True : Py_False);
    if (r == 1) {
        r = python_list_exports_items(list, exports);
        Py_DECREF(list);
    } else if (r == 0)
        r = nbdkit_use_default_export(exports);
    python_leave();
    return r;
}

/* The str R that NAME returned, interned for the connection; R is
 * consumed.
 */
static const char *
python_intern_str(PyObject *r, const char *name)
{
    const char *s = PyUnicode_AsUTF8(r);
    const char *ret = NULL;

    if (s == NULL)
        python_failed(name);
    else
        ret = nbdkit_strdup_intern(s);
    Py_DECREF(r);
    return ret;
}

static const char *
python_default_export(int readonly, int is_tls)
{
    PyObject *r;
    const char *ret = "";

    python_enter();
    switch (python_call(&r, "default_export", "(OO)",
                        readonly ? Py_True : Py_False,
                        is_tls ? Py_True : Py_False)) {
    case 1:
        ret = python_intern_str(r, "default_export");
        break;
    case -1:
        ret = NULL;
        break;
    }
    python_leave();
    return ret;
}

/* Connections.  The handle is the object open returned, owned. */

static void *
python_open(int readonly)
{
    PyObject *h = NULL;

    python_enter();
    if (python_call(&h, "open", "(O)", readonly ? Py_True : Py_False) == 0)
        nbdkit_error("%s: the script has no open function", python_script);
    python_leave();
    return h;
}

static void
python_close(void *handle)
{
    python_enter();
    python_call(NULL, "close", "(O)", (PyObject *)handle);
    Py_DECREF((PyObject *)handle);
    python_leave();
}

static const char *
python_export_description(void *handle)
{
    PyObject *r;
    const char *ret = NULL;

    python_enter();
    if (python_call(&r, "export_description", "(O)", (PyObject *)handle) == 1)
        ret = python_intern_str(r, "export_description");
    python_leave();
    return ret;
}

static int64_t
python_get_size(void *handle)
{
    PyObject *r;
    int64_t size = -1;

    python_enter();
    if (python_call(&r, "get_size", "(O)", (PyObject *)handle) == 1) {
        size = PyLong_AsLongLong(r);
        Py_DECREF(r);
        if (size == -1 && PyErr_Occurred())
            python_failed("get_size");
    }
    python_leave();
    return size;
}

static int
python_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
    PyObject *r;
    unsigned int mn, pr, mx;
    int ret;

    *minimum = *preferred = *maximum = 0;
    python_enter();
    ret = python_call(&r, "block_size", "(O)", (PyObject *)handle);
    if (ret == 1) {
        if (PyArg_ParseTuple(r, "III", &mn, &pr, &mx)) {
            *minimum = mn;
            *preferred = pr;
            *maximum = mx;
            ret = 0;
        } else
            ret = python_failed("block_size");
        Py_DECREF(r);
    }
    python_leave();
    return ret == -1 ? -1 : 0;
}

/* A can_* or is_rotational callback: what the script's NAME(h) says
 * (a boolean, or an int if !BOOLEAN); without NAME, YES if the script
 * defines IMPLIED_BY, else NO.  GIL held.
 */
static int
python_ask(void *handle, const char *name, bool boolean, const char *implied_by,
           int yes, int no)
{
    PyObject *r;
    int ret = -1;

    switch (python_call(&r, name, "(O)", (PyObject *)handle)) {
    case 0:
        return implied_by && python_defined(implied_by) ? yes : no;
    case -1:
        return -1;
    }
    if (!boolean) {
        if (python_to_int(r, name, &ret) == -1)
            return -1;
        return ret;
    }
    ret = PyObject_IsTrue(r);
    Py_DECREF(r);
    return ret == -1 ? python_failed(name) : ret;
}

static int
python_query(void *handle, const char *name, bool boolean,
             const char *implied_by, int yes, int no)
{
    int r;

    python_enter();
    r = python_ask(handle, name, boolean, implied_by, yes, no);
    python_leave();
    return r;
}

static int
python_can_write(void *handle)
{
    return python_query(handle, "can_write", true, "pwrite", 1, 0);
}

static int
python_can_flush(void *handle)
{
    return python_query(handle, "can_flush", true, "flush", 1, 0);
}

static int
python_is_rotational(void *handle)
{
    return python_query(handle, "is_rotational", true, NULL, 1, 0);
}

static int
python_can_trim(void *handle)
{
    return python_query(handle, "can_trim", true, "trim", 1, 0);
}

static int
python_can_zero(void *handle)
{
    return python_query(handle, "can_zero", true, "zero", 1, 0);
}

/* Without can_fast_zero, zeroing is fast exactly when it is emulated:
 * the server then fails a fast zero at once.
 */
static int
python_can_fast_zero(void *handle)
{
    int r;

    python_enter();
    if (python_defined("can_fast_zero"))
        r = python_ask(handle, "can_fast_zero", true, NULL, 1, 0);
    else {
        r = python_ask(handle, "can_zero", true, "zero", 1, 0);
        if (r != -1)
            r = !r;
    }
    python_leave();
    return r;
}

static int
python_can_extents(void *handle)
{
    return python_query(handle, "can_extents", true, "extents", 1, 0);
}

static int
python_can_fua(void *handle)
{
    return python_query(handle, "can_fua", false, "flush", NBDKIT_FUA_EMULATE,
                        NBDKIT_FUA_NONE);
}

static int
python_can_multi_conn(void *handle)
{
    return python_query(handle, "can_multi_conn", true, NULL, 1, 0);
}

static int
python_can_cache(void *handle)
{
    return python_query(handle, "can_cache", false, "cache",
                        NBDKIT_CACHE_NATIVE, NBDKIT_CACHE_NONE);
}

/* The data path. */

/* API_VERSION 1: pread(h, count, offset) returns the data. */
static int
python_pread_v1(PyObject *h, char *buf, uint32_t count, uint64_t offset)
{
    PyObject *r;
    Py_buffer view;
    int ret = -1;

    if (python_call(&r, "pread", "(OIK)", h, count,
                    (unsigned long long)offset) != 1)
        return -1;
    if (PyObject_GetBuffer(r, &view, PyBUF_SIMPLE) == -1) {
        Py_DECREF(r);
        return python_failed("pread");
    }
    if (view.len < count)
        nbdkit_error("%s: pread: the script returned %zd bytes for a "
                     "%" PRIu32 " byte read",
                     python_script, view.len, count);
    else {
        memcpy(buf, view.buf, count);
        ret = 0;
    }
    PyBuffer_Release(&view);
    Py_DECREF(r);
    return ret;
}

/* API_VERSION 2: pread(h, buf, offset, flags) fills buf, a writable
 * memoryview of the request buffer itself.
 */
static int
python_pread_v2(PyObject *h, char *buf, uint32_t count, uint64_t offset,
                uint32_t flags)
{
    PyObject *view = PyMemoryView_FromMemory(buf, count, PyBUF_WRITE);
    int r;

    if (view == NULL)
        return python_failed("pread");
    r = python_call(NULL, "pread", "(OOKI)", h, view,
                    (unsigned long long)offset, flags);
    python_view_done(view);
    return r == 1 ? 0 : -1;
}

static int
python_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    int r;

    python_enter();
    if (python_api == 1)
        r = python_pread_v1(handle, buf, count, offset);
    else
        r = python_pread_v2(handle, buf, count, offset, flags);
    python_leave();
    return r;
}

/* pwrite(h, buf, offset[, flags]): buf is a read-only memoryview of the
 * request buffer.
 */
static int
python_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
    PyObject *view;
    int r = -1;

    python_enter();
    view = PyMemoryView_FromMemory((char *)buf, count, PyBUF_READ);
    if (view == NULL)
        python_failed("pwrite");
    else {
        if (python_api == 1)
            r = python_call(NULL, "pwrite", "(OOK)", handle, view,
                            (unsigned long long)offset);
        else
            r = python_call(NULL, "pwrite", "(OOKI)", handle, view,
                            (unsigned long long)offset, flags);
        python_view_done(view);
    }
    python_leave();
    return r == 1 ? 0 : -1;
}

/* The server calls these only when the matching can_* said yes, which
 * without a can_* function means the script defines them.
 */
static int
python_flush(void *handle, uint32_t flags)
{
    int r;

    python_enter();
    if (python_api == 1)
        r = python_call(NULL, "flush", "(O)", handle);
    else
        r = python_call(NULL, "flush", "(OI)", handle, flags);
    python_leave();
    return r == 1 ? 0 : -1;
}

/* trim, zero and cache: (h, count, offset, ARG), ARG being the flags,
 * or under API_VERSION 1 nothing (trim) or may_trim (zero).
 */
static int
python_range(const char *name, void *handle, uint32_t count, uint64_t offset,
             uint32_t flags)
{
    unsigned long long off = offset;
    int r;

    python_enter();
    if (python_api == 2 || strcmp(name, "cache") == 0)
        r = python_call(NULL, name, "(OIKI)", handle, count, off, flags);
    else if (strcmp(name, "zero") == 0)
        r = python_call(NULL, name, "(OIKO)", handle, count, off,
                        flags & NBDKIT_FLAG_MAY_TRIM ? Py_True : Py_False);
    else
        r = python_call(NULL, name, "(OIK)", handle, count, off);
    python_leave();
    if (r == 0) {
        nbdkit_error("%s: the script has no %s function", python_script, name);
        nbdkit_set_error(EOPNOTSUPP);
    }
    return r == 1 ? 0 : -1;
}

static int
python_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return python_range("trim", handle, count, offset, flags);
}

static int
python_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return python_range("zero", handle, count, offset, flags);
}

static int
python_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    return python_range("cache", handle, count, offset, flags);
}

/* Add each (offset, length, type) of the iterable LIST to EXTENTS. */
static int
python_add_extents(PyObject *list, struct nbdkit_extents *extents)
{
    PyObject *it = PyObject_GetIter(list), *item;
    unsigned long long off, len;
    unsigned int type;
    int r = 0;

    if (it == NULL)
        return python_failed("extents");
    while (r == 0 && (item = PyIter_Next(it)) != NULL) {
        if (!PyArg_ParseTuple(item, "KKI", &off, &len, &type))
            r = python_failed("extents");
        else
            r = nbdkit_add_extent(extents, off, len, type);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    if (r == 0 && PyErr_Occurred())
        r = python_failed("extents");
    return r;
}

static int
python_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents)
{
    PyObject *list;
    int r;

    python_enter();
    r = python_call(&list, "extents", "(OIKI)", (PyObject *)handle, count,
                    (unsigned long long)offset, flags);
    if (r == 1) {
        r = python_add_extents(list, extents);
        Py_DECREF(list);
    } else if (r == 0) {
        nbdkit_error("%s: the script has no extents function", python_script);
        r = -1;
    }
    python_leave();
    return r;
}

/* The real model is the script's thread_model(); the GIL keeps Python
 * itself serial whatever it says.
 */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
    .name = "python",
    .longname = "nbdx python plugin",
    .version = PACKAGE_VERSION,
    .description = "A plugin written as a Python 3 script.",
    .load = python_load,
    .unload = python_unload,
    .dump_plugin = python_dump_plugin,
    .magic_config_key = "script",
    .config = python_config,
    .config_complete = python_config_complete,
    .config_help = "script=<FILENAME>     (required) The Python script to "
                   "run.\n"
                   "[other parameters go to the script's config function]",
    .thread_model = python_thread_model,
    .get_ready = python_get_ready,
    .after_fork = python_after_fork,
    .cleanup = python_cleanup,
    .preconnect = python_preconnect,
    .list_exports = python_list_exports,
    .default_export = python_default_export,
    .open = python_open,
    .close = python_close,
    .export_description = python_export_description,
    .get_size = python_get_size,
    .block_size = python_block_size,
    .can_write = python_can_write,
    .can_flush = python_can_flush,
    .is_rotational = python_is_rotational,
    .can_trim = python_can_trim,
    .can_zero = python_can_zero,
    .can_fast_zero = python_can_fast_zero,
    .can_extents = python_can_extents,
    .can_fua = python_can_fua,
    .can_multi_conn = python_can_multi_conn,
    .can_cache = python_can_cache,
    .pread = python_pread,
    .pwrite = python_pwrite,
    .flush = python_flush,
    .trim = python_trim,
    .zero = python_zero,
    .extents = python_extents,
    .cache = python_cache,
};

NBDKIT_REGISTER_PLUGIN(plugin)
