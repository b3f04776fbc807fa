/* SPDX-License-Identifier: BSD-3-Clause */
/* locks.c: the thread model, enforced.
 *
 * The effective model is the most serial one any layer asks for.
 * Lock order: connection_lock, all_requests_lock, conn->request_lock.
 */

#include <pthread.h>

#include "internal.h"

/* Held for a whole connection under SERIALIZE_CONNECTIONS. */
static pthread_mutex_t connection_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held around every request under SERIALIZE_ALL_REQUESTS. */
static pthread_mutex_t all_requests_lock = PTHREAD_MUTEX_INITIALIZER;

const char *
thread_model_name(int model)
{
    switch (model) {
    case NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS:
        return "serialize_connections";
    case NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS:
        return "serialize_all_requests";
    case NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS:
        return "serialize_requests";
    case NBDKIT_THREAD_MODEL_PARALLEL:
        return "parallel";
    default:
        return "unknown";
    }
}

void
lock_init_thread_model(void)
{
    debug("using thread model: %d", thread_model);
}

void
lock_connection(void)
{
    if (thread_model <= NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS)
        pthread_mutex_lock(&connection_lock);
}

void
unlock_connection(void)
{
    if (thread_model <= NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS)
        pthread_mutex_unlock(&connection_lock);
}

void
lock_request(struct connection *conn)
{
    if (thread_model <= NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS)
        pthread_mutex_lock(&all_requests_lock);
    if (thread_model <= NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS)
        pthread_mutex_lock(&conn->request_lock);
}

void
unlock_request(struct connection *conn)
{
    if (thread_model <= NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS)
        pthread_mutex_unlock(&conn->request_lock);
    if (thread_model <= NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS)
        pthread_mutex_unlock(&all_requests_lock);
}
