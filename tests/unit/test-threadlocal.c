/* SPDX-License-Identifier: BSD-3-Clause */
/* test-threadlocal.c: unit tests of server/threadlocal.c. */

#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "stubs.h"
#include "unit.h"

static struct connection conn_a, conn_b;

/* Set every value in a second thread and check the main thread's
 * values did not change, and that the thread saw only its own.
 */
static void *
other_thread(void *arg)
{
    bool *ok = arg;

    threadlocal_new_server_thread();
    *ok = threadlocal_get_conn() == NULL && threadlocal_get_error() == 0 &&
          threadlocal_get_last_error() == NULL &&
          threadlocal_get_name() == NULL;
    threadlocal_set_name("other");
    threadlocal_set_conn(&conn_b);
    threadlocal_set_error(EROFS);
    threadlocal_set_last_error("other's error");
    *ok &= threadlocal_get_conn() == &conn_b &&
           strcmp(threadlocal_get_name(), "other") == 0;
    /* The last error is freed by the key destructor at exit. */
    return NULL;
}

static void
test_isolation(void)
{
    pthread_t t;
    bool ok = false;

    unit_group("each thread has its own state");
    threadlocal_set_name("main");
    threadlocal_set_conn(&conn_a);
    threadlocal_set_error(ENOSPC);
    threadlocal_set_last_error("main's error");
    CHECK(pthread_create(&t, NULL, other_thread, &ok) == 0);
    pthread_join(t, NULL);
    CHECK(ok);
    CHECK(strcmp(threadlocal_get_name(), "main") == 0);
    CHECK(threadlocal_get_conn() == &conn_a);
    CHECK(threadlocal_get_error() == ENOSPC);
    CHECK(strcmp(threadlocal_get_last_error(), "main's error") == 0);
}

static void
test_last_error(void)
{
    char msg[] = "disk full";

    unit_group("the last error is a private copy");
    threadlocal_set_last_error(msg);
    msg[0] = 'X';
    CHECK(strcmp(threadlocal_get_last_error(), "disk full") == 0);
    CHECK(threadlocal_get_last_error() != msg);
    threadlocal_set_last_error("second");
    CHECK(strcmp(threadlocal_get_last_error(), "second") == 0);
    threadlocal_clear_last_error();
    CHECK(threadlocal_get_last_error() == NULL);
    threadlocal_set_last_error("third");
    threadlocal_set_last_error(NULL);
    CHECK(threadlocal_get_last_error() == NULL);

    unit_group("a new server thread starts clean");
    threadlocal_set_error(EIO);
    threadlocal_set_last_error("stale");
    threadlocal_new_server_thread();
    CHECK(threadlocal_get_error() == 0 && threadlocal_get_conn() == NULL);
    CHECK(threadlocal_get_last_error() == NULL &&
          threadlocal_get_name() == NULL);
}

int
main(void)
{
    threadlocal_init();
    test_isolation();
    test_last_error();
    return unit_finish();
}
