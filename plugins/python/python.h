/* SPDX-License-Identifier: BSD-3-Clause */
/* python.h: what the python plugin's files share.  interp.c holds the
 * interpreter, the script and the calls into it; module.c the nbdkit
 * module scripts import; python.c the plugin callbacks.
 *
 * Every function here except python_enter, python_load and python_unload
 * needs the GIL: take it with python_enter, give it back with
 * python_leave.
 */

#ifndef NBDX_PYTHON_H
#define NBDX_PYTHON_H

#include <stdbool.h>

/* Set while script= is loaded, read-only afterwards. */
extern char *python_script;   /* script=, an absolute path, owned */
extern PyObject *python_main; /* the script's __main__, owned */
extern int python_api;        /* the script's API_VERSION, 1 or 2 */

/* The interpreter: started at load, stopped at unload. */
void python_load(void);
void python_unload(void);
void python_enter(void);
void python_leave(void);

/* Run the script of script=VALUE; 0, or -1 after nbdkit_error. */
int python_load_script(const char *value);

/* Report the pending exception as the failure of callback NAME and clear
 * it.  Always -1.
 */
int python_failed(const char *name);

/* Whether the script defines a function NAME. */
bool python_defined(const char *name);

/* Call the script's NAME with Py_BuildValue(FMT, ...) as arguments (a
 * tuple format): 1 when it ran, its result in *RESULT (a new reference)
 * if RESULT is not NULL; 0 if there is no NAME; -1 when it raised,
 * reported.
 */
int python_call(PyObject **result, const char *name, const char *fmt, ...);

/* The int R that NAME returned into *OUT; -1 if it is none, reported.
 * R is consumed.
 */
int python_to_int(PyObject *r, const char *name, int *out);

/* Release the memoryview VIEW of a request buffer; VIEW is consumed. */
void python_view_done(PyObject *view);

/* Python's import of the nbdkit module (module.c). */
PyObject *python_nbdkit_init(void);

#endif /* NBDX_PYTHON_H */
