/* SPDX-License-Identifier: BSD-3-Clause */
/* module.c: the nbdkit module that python plugin scripts import: the
 * server's functions (debug, set_error, export_name...) and constants.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "python.h"

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
PyObject *
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
