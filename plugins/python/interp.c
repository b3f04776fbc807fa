/* SPDX-License-Identifier: BSD-3-Clause */
/* interp.c: the python plugin's interpreter (see python.h): the GIL and
 * the thread states, the script's loading, the calls into it and the
 * report of its exceptions.
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

#include "python.h"

char *python_script;
PyObject *python_main;
int python_api = 1;

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
void
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

void
python_leave(void)
{
    PyEval_SaveThread();
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
int
python_failed(const char *name)
{
    PyObject *type, *value, *tb;
    char *text;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    text = type ? python_format_exception(type, value, tb) : NULL;
    nbdkit_error("%s: %s: error: %s", python_script ? python_script : "python",
                 name, text ? text : "the Python callback failed");
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

    if (python_main == NULL)
        return NULL;
    fn = PyObject_GetAttrString(python_main, name);
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

bool
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
int
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
int
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
void
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
    PyObject *v = PyObject_GetAttrString(python_main, "API_VERSION");

    if (v == NULL) {
        PyErr_Clear();
        python_api = 1;
        return 0;
    }
    if (python_to_int(v, "API_VERSION", &python_api) == -1)
        return -1;
    if (python_api < 1 || python_api > 2) {
        nbdkit_error("%s: API_VERSION %d is not supported (1 or 2)",
                     python_script, python_api);
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

    python_main = PyImport_AddModule("__main__"); /* borrowed */
    if (python_main == NULL)
        return python_failed("load");
    Py_INCREF(python_main);
    globals = PyModule_GetDict(python_main);
    path = PyUnicode_DecodeFSDefault(python_script);
    if (path == NULL || PyDict_SetItemString(globals, "__file__", path) == -1) {
        Py_XDECREF(path);
        return python_failed("load");
    }
    Py_DECREF(path);
    r = PyRun_FileExFlags(fp, python_script, Py_file_input, globals, globals, 0,
                          NULL);
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
                         python_script, required[i]);
            return -1;
        }
    }
    return 0;
}

int
python_load_script(const char *value)
{
    FILE *fp;
    int r;

    python_script = nbdkit_realpath(value);
    if (python_script == NULL)
        return -1;
    fp = fopen(python_script, "r");
    if (fp == NULL) {
        nbdkit_error("%s: %m", python_script);
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

/* Starting and stopping the interpreter. */

void
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

void
python_unload(void)
{
    python_enter();
    Py_CLEAR(python_main);
    python_alive = false;
    Py_FinalizeEx();
    tl_tstate = NULL;
    pthread_key_delete(tstate_key);
    free(python_script);
}
