/* SPDX-License-Identifier: BSD-3-Clause */
/* python: a plugin written as a Python 3 script, run by an embedded
 * interpreter (see nbdx-python-plugin(1)).  The script defines functions
 * named like the plugin callbacks in its __main__ module; each callback
 * here takes the GIL, calls the function of the same name if there is
 * one and converts its answer.  An exception is an error: its traceback
 * goes to nbdkit_error and the client sees the errno the script gave to
 * nbdkit.set_error, or EIO.
 *
 * The GIL is held only while Python runs.  Each server thread keeps one
 * Python thread state for its whole life (python_enter), so a request
 * costs a lock handover and not a thread state's creation.
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

static char *script;        /* script=, an absolute path, owned */
static PyObject *module;    /* the script's __main__, owned; GIL */
static int api_version = 1; /* the script's API_VERSION */

/* Interpreter and threads. */

/* Set at load, cleared at unload; read by exiting threads. */
static bool python_alive;
static PyInterpreterState *interp;
static pthread_key_t tstate_key; /* each thread's state, to free at exit */
static __thread PyThreadState *tl_tstate; /* this thread's, owned */

/* A server thread ends: free its Python thread state, which needs the
 * GIL.  After unload the interpreter is gone and so is the state.
 */
static void
python_thread_exit(void *p)
{
    PyThreadState *ts = p;

    if (!python_alive)
        return;
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

/* Take the GIL on this thread, making its thread state the first time. */
static void
python_enter(void)
{
    if (tl_tstate == NULL) {
        tl_tstate = PyThreadState_New(interp);
        if (tl_tstate == NULL)
            abort(); /* out of memory, nothing else can run Python */
        pthread_setspecific(tstate_key, tl_tstate);
    }
    PyEval_RestoreThread(tl_tstate);
}

static void
python_leave(void)
{
    PyEval_SaveThread();
}

/* The nbdkit module the script imports. */

static PyObject *
python_nbdkit_debug(PyObject *self, PyObject *args)
{
    const char *msg;

    if (!PyArg_ParseTuple(args, "s:debug", &msg))
        return NULL;
    nbdkit_debug("%s", msg);
    Py_RETURN_NONE;
}

static PyObject *
python_nbdkit_set_error(PyObject *self, PyObject *args)
{
    int err;

    if (!PyArg_ParseTuple(args, "i:set_error", &err))
        return NULL;
    nbdkit_set_error(err);
    Py_RETURN_NONE;
}

static PyObject *
python_nbdkit_export_name(PyObject *self, PyObject *args)
{
    const char *name = nbdkit_export_name();

    if (name == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "nbdkit.export_name failed");
        return NULL;
    }
    return PyUnicode_FromString(name);
}

static PyObject *
python_nbdkit_is_tls(PyObject *self, PyObject *args)
{
    int r = nbdkit_is_tls();

    if (r == -1) {
        PyErr_SetString(PyExc_RuntimeError, "nbdkit.is_tls failed");
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *
python_nbdkit_parse_size(PyObject *self, PyObject *args)
{
    const char *s;
    int64_t size;

    if (!PyArg_ParseTuple(args, "s:parse_size", &s))
        return NULL;
    size = nbdkit_parse_size(s);
    if (size == -1) {
        PyErr_SetString(PyExc_ValueError, "Unable to parse string as size");
        return NULL;
    }
    return PyLong_FromLongLong(size);
}

static PyObject *
python_nbdkit_shutdown(PyObject *self, PyObject *args)
{
    nbdkit_shutdown();
    Py_RETURN_NONE;
}

static PyObject *
python_nbdkit_disconnect(PyObject *self, PyObject *args)
{
    int force = 0;

    if (!PyArg_ParseTuple(args, "|p:disconnect", &force))
        return NULL;
    nbdkit_disconnect(force);
    Py_RETURN_NONE;
}

static PyMethodDef python_nbdkit_methods[] = {
    {"debug", python_nbdkit_debug, METH_VARARGS, "Log a debug message."},
    {"set_error", python_nbdkit_set_error, METH_VARARGS,
     "The errno the client sees when this callback raises."},
    {"export_name", python_nbdkit_export_name, METH_NOARGS,
     "The export name the client asked for."},
    {"is_tls", python_nbdkit_is_tls, METH_NOARGS,
     "Whether the connection uses TLS."},
    {"parse_size", python_nbdkit_parse_size, METH_VARARGS,
     "Parse a size such as 100M into bytes."},
    {"shutdown", python_nbdkit_shutdown, METH_NOARGS,
     "Ask the server to shut down."},
    {"disconnect", python_nbdkit_disconnect, METH_VARARGS,
     "Disconnect the current client."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef python_nbdkit_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "nbdkit",
    .m_doc = "The nbdx server's functions and constants.",
    .m_size = -1,
    .m_methods = python_nbdkit_methods,
};

static const struct {
    const char *name;
    int value;
} python_nbdkit_constants[] = {
    {"THREAD_MODEL_SERIALIZE_CONNECTIONS",
     NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS},
    {"THREAD_MODEL_SERIALIZE_ALL_REQUESTS",
     NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS},
    {"THREAD_MODEL_SERIALIZE_REQUESTS", NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS},
    {"THREAD_MODEL_PARALLEL", NBDKIT_THREAD_MODEL_PARALLEL},
    {"FLAG_MAY_TRIM", NBDKIT_FLAG_MAY_TRIM},
    {"FLAG_FUA", NBDKIT_FLAG_FUA},
    {"FLAG_REQ_ONE", NBDKIT_FLAG_REQ_ONE},
    {"FLAG_FAST_ZERO", NBDKIT_FLAG_FAST_ZERO},
    {"FUA_NONE", NBDKIT_FUA_NONE},
    {"FUA_EMULATE", NBDKIT_FUA_EMULATE},
    {"FUA_NATIVE", NBDKIT_FUA_NATIVE},
    {"CACHE_NONE", NBDKIT_CACHE_NONE},
    {"CACHE_EMULATE", NBDKIT_CACHE_EMULATE},
    {"CACHE_NATIVE", NBDKIT_CACHE_NATIVE},
    {"EXTENT_HOLE", NBDKIT_EXTENT_HOLE},
    {"EXTENT_ZERO", NBDKIT_EXTENT_ZERO},
};

#define N_CONSTANTS                                                            \
    (sizeof python_nbdkit_constants / sizeof python_nbdkit_constants[0])

/* Python's import of nbdkit. */
static PyObject *
python_nbdkit_init(void)
{
    PyObject *m = PyModule_Create(&python_nbdkit_def);
    size_t i;

    if (m == NULL)
        return NULL;
    for (i = 0; i < N_CONSTANTS; i++) {
        if (PyModule_AddIntConstant(m, python_nbdkit_constants[i].name,
                                    python_nbdkit_constants[i].value) == -1) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}

/* Errors. */

/* The exception TYPE, VALUE, TB as traceback.format_exception prints
 * it, without the final newline; malloc'd, or NULL.
 */
static char *
python_format_exception(PyObject *type, PyObject *value, PyObject *tb)
{
    PyObject *mod, *lines = NULL, *empty = NULL, *text = NULL;
    const char *s;
    char *ret = NULL;

    mod = PyImport_ImportModule("traceback");
    if (mod == NULL)
        goto out;
    lines = PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                value ? value : Py_None, tb ? tb : Py_None);
    empty = PyUnicode_FromString("");
    if (lines == NULL || empty == NULL)
        goto out;
    text = PyUnicode_Join(empty, lines);
    s = text ? PyUnicode_AsUTF8(text) : NULL;
    if (s) {
        ret = strdup(s);
        if (ret && *ret && ret[strlen(ret) - 1] == '\n')
            ret[strlen(ret) - 1] = '\0';
    }
out:
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    return ret;
}

/* Report the pending Python exception as the failure of callback NAME
 * and clear it.  Always -1.
 */
static int
python_failed(const char *name)
{
    PyObject *type, *value, *tb;
    char *text;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    text = type ? python_format_exception(type, value, tb) : NULL;
    nbdkit_error("%s: %s: error: %s", script ? script : "python", name,
                 text ? text : "the Python callback failed");
    free(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return -1;
}

/* Calling the script.  Every function here needs the GIL. */

/* The script's function NAME, a new reference, or NULL (and no error
 * set) if the script has no such callable.
 */
static PyObject *
python_function(const char *name)
{
    PyObject *fn;

    if (module == NULL)
        return NULL;
    fn = PyObject_GetAttrString(module, name);
    if (fn == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (!PyCallable_Check(fn)) {
        Py_DECREF(fn);
        return NULL;
    }
    return fn;
}

static bool
python_defined(const char *name)
{
    PyObject *fn = python_function(name);

    Py_XDECREF(fn);
    return fn != NULL;
}

/* Call the script's NAME with the arguments Py_BuildValue makes of FMT
 * (a tuple format, "(...)").  1 when it ran, with its result in *RESULT
 * (a new reference) if RESULT is not NULL; 0 if the script has no NAME;
 * -1 when it raised, reported.
 */
static int
python_call(PyObject **result, const char *name, const char *fmt, ...)
{
    PyObject *fn, *args, *r;
    va_list ap;

    if (result)
        *result = NULL;
    fn = python_function(name);
    if (fn == NULL)
        return 0;
    va_start(ap, fmt);
    args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    r = args ? PyObject_Call(fn, args, NULL) : NULL;
    Py_XDECREF(args);
    Py_DECREF(fn);
    if (r == NULL)
        return python_failed(name);
    if (result)
        *result = r;
    else
        Py_DECREF(r);
    return 1;
}

/* The int R, which the script's NAME returned, into *OUT; -1 if it is
 * not an int, reported.  R is consumed.
 */
static int
python_to_int(PyObject *r, const char *name, int *out)
{
    long v = PyLong_AsLong(r);

    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred())
        return python_failed(name);
    *out = (int)v;
    return 0;
}

/* Release the memoryview VIEW of a request buffer after the call, so a
 * script that kept it cannot touch the buffer later.  VIEW is consumed.
 */
static void
python_view_done(PyObject *view)
{
    PyObject *r = PyObject_CallMethod(view, "release", NULL);

    if (r == NULL) {
        nbdkit_debug("python: the script still uses a request buffer");
        PyErr_Clear();
    }
    Py_XDECREF(r);
    Py_DECREF(view);
}

/* Loading the script. */

/* API_VERSION from the script: 1 if it has none. */
static int
python_api_version(void)
{
    PyObject *v = PyObject_GetAttrString(module, "API_VERSION");

    if (v == NULL) {
        PyErr_Clear();
        api_version = 1;
        return 0;
    }
    if (python_to_int(v, "API_VERSION", &api_version) == -1)
        return -1;
    if (api_version < 1 || api_version > 2) {
        nbdkit_error("%s: API_VERSION %d is not supported (1 or 2)", script,
                     api_version);
        return -1;
    }
    return 0;
}

/* A SyntaxError (or IndentationError) as one line, FILE:LINE: TYPE: MSG.
 * 0 if the pending exception is not one; it is then left pending.
 */
static int
python_syntax_error(void)
{
    PyObject *type, *value, *tb, *file, *line, *msg;
    int ret = 0;

    if (!PyErr_ExceptionMatches(PyExc_SyntaxError))
        return 0;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    file = PyObject_GetAttrString(value, "filename");
    line = PyObject_GetAttrString(value, "lineno");
    msg = PyObject_GetAttrString(value, "msg");
    if (file && line && msg && PyUnicode_Check(file) && PyLong_Check(line) &&
        PyUnicode_Check(msg)) {
        nbdkit_error("%s:%ld: %s: %s", PyUnicode_AsUTF8(file),
                     PyLong_AsLong(line), ((PyTypeObject *)type)->tp_name,
                     PyUnicode_AsUTF8(msg));
        ret = 1;
    }
    PyErr_Clear();
    Py_XDECREF(file);
    Py_XDECREF(line);
    Py_XDECREF(msg);
    if (ret == 0) {
        PyErr_Restore(type, value, tb);
        return 0;
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return 1;
}

/* Run the script in __main__, as nbdkit does: sys.argv and sys.path are
 * left alone, __file__ is its path.
 */
static int
python_run_script(FILE *fp)
{
    PyObject *globals, *path, *r;

    module = PyImport_AddModule("__main__"); /* borrowed */
    if (module == NULL)
        return python_failed("load");
    Py_INCREF(module);
    globals = PyModule_GetDict(module);
    path = PyUnicode_DecodeFSDefault(script);
    if (path == NULL || PyDict_SetItemString(globals, "__file__", path) == -1) {
        Py_XDECREF(path);
        return python_failed("load");
    }
    Py_DECREF(path);
    r = PyRun_FileExFlags(fp, script, Py_file_input, globals, globals, 0, NULL);
    if (r == NULL) {
        if (python_syntax_error())
            return -1;
        return python_failed("load");
    }
    Py_DECREF(r);
    return 0;
}

/* The callbacks nbdx cannot do without. */
static int
python_check_required(void)
{
    static const char *const required[] = {"open", "get_size", "pread"};
    size_t i;

    for (i = 0; i < 3; i++) {
        if (!python_defined(required[i])) {
            nbdkit_error("%s: the script defines no '%s' function (open, "
                         "get_size and pread are required)",
                         script, required[i]);
            return -1;
        }
    }
    return 0;
}

static int
python_load_script(const char *value)
{
    FILE *fp;
    int r;

    script = nbdkit_realpath(value);
    if (script == NULL)
        return -1;
    fp = fopen(script, "r");
    if (fp == NULL) {
        nbdkit_error("%s: %m", script);
        return -1;
    }
    python_enter();
    r = python_run_script(fp);
    if (r == 0)
        r = python_api_version();
    if (r == 0)
        r = python_check_required();
    python_leave();
    fclose(fp);
    return r;
}

/* Lifecycle and configuration. */

static void
python_load(void)
{
    if (pthread_key_create(&tstate_key, python_thread_exit) != 0) {
        nbdkit_error("pthread_key_create failed");
        abort();
    }
    if (PyImport_AppendInittab("nbdkit", python_nbdkit_init) == -1) {
        nbdkit_error("python: cannot register the nbdkit module");
        abort();
    }
    Py_InitializeEx(0);
    interp = PyInterpreterState_Main();
    python_alive = true;
    /* This thread keeps the state Py_InitializeEx made for it. */
    tl_tstate = PyEval_SaveThread();
}

static void
python_unload(void)
{
    python_enter();
    Py_CLEAR(module);
    python_alive = false;
    Py_FinalizeEx();
    tl_tstate = NULL;
    pthread_key_delete(tstate_key);
    free(script);
}

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

    if (script == NULL) {
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
                     script);
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
    if (script == NULL) {
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
        nbdkit_error("%s: the script has no open function", script);
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
                     script, view.len, count);
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
    if (api_version == 1)
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
        if (api_version == 1)
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
    if (api_version == 1)
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
    if (api_version == 2 || strcmp(name, "cache") == 0)
        r = python_call(NULL, name, "(OIKI)", handle, count, off, flags);
    else if (strcmp(name, "zero") == 0)
        r = python_call(NULL, name, "(OIKO)", handle, count, off,
                        flags & NBDKIT_FLAG_MAY_TRIM ? Py_True : Py_False);
    else
        r = python_call(NULL, name, "(OIK)", handle, count, off);
    python_leave();
    if (r == 0) {
        nbdkit_error("%s: the script has no %s function", script, name);
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
        nbdkit_error("%s: the script has no extents function", script);
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
