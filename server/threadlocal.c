/* SPDX-License-Identifier: BSD-3-Clause */
/* threadlocal.c: per-thread state of the server.
 *
 * Each thread knows its log name, the connection it serves, the error
 * code a plugin chose with nbdkit_set_error, and the text of the last
 * error message.  The values live in __thread variables, so reading them
 * costs nothing and needs no lock.  The last error text is a malloc'd
 * copy owned by the thread; a pthread key whose destructor frees it is
 * armed the first time a thread stores one, so it does not leak when the
 * thread exits.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static __thread const char *tl_name;        /* static string, not owned */
static __thread struct connection *tl_conn; /* not owned */
static __thread int tl_error;               /* from nbdkit_set_error */
static __thread char *tl_last_error;        /* owned, malloc'd */
static __thread bool tl_key_armed;          /* destructor registered */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t last_error_key;
static bool key_ok;

/* Runs at thread exit with the value stored under the key. */
static void
threadlocal_free_last_error(void *p)
{
    free(p);
}

static void
threadlocal_make_key(void)
{
    key_ok =
        pthread_key_create(&last_error_key, threadlocal_free_last_error) == 0;
}

void
threadlocal_init(void)
{
    pthread_once(&key_once, threadlocal_make_key);
}

/* A new thread starts clean; call this first thing in every thread the
 * server creates so nothing is inherited from a reused thread slot.
 */
void
threadlocal_new_server_thread(void)
{
    threadlocal_init();
    tl_name = NULL;
    tl_conn = NULL;
    tl_error = 0;
    threadlocal_clear_last_error();
}

void
threadlocal_set_name(const char *name)
{
    tl_name = name;
}

const char *
threadlocal_get_name(void)
{
    return tl_name;
}

void
threadlocal_set_conn(struct connection *conn)
{
    tl_conn = conn;
}

struct connection *
threadlocal_get_conn(void)
{
    return tl_conn;
}

void
threadlocal_set_error(int err)
{
    tl_error = err;
}

int
threadlocal_get_error(void)
{
    return tl_error;
}

/* Keep the key pointing at the current copy, so the destructor frees
 * whatever the thread holds when it exits.
 */
static void
threadlocal_track_last_error(void)
{
    threadlocal_init();
    if (!key_ok)
        return;
    if (pthread_setspecific(last_error_key, tl_last_error) == 0)
        tl_key_armed = tl_last_error != NULL;
}

/* Called from the logging path: must not log, and keeps the previous
 * message if the copy cannot be made (a stale message is better than
 * none).
 */
void
threadlocal_set_last_error(const char *msg)
{
    char *copy;

    if (msg == NULL) {
        threadlocal_clear_last_error();
        return;
    }
    copy = strdup(msg);
    if (copy == NULL)
        return;
    free(tl_last_error);
    tl_last_error = copy;
    threadlocal_track_last_error();
}

const char *
threadlocal_get_last_error(void)
{
    return tl_last_error;
}

void
threadlocal_clear_last_error(void)
{
    free(tl_last_error);
    tl_last_error = NULL;
    if (tl_key_armed)
        threadlocal_track_last_error();
}
