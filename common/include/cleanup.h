/* SPDX-License-Identifier: BSD-3-Clause */
/* cleanup.h: scope-bound cleanup of one resource (free, unlock, close). */

#ifndef NBDX_CLEANUP_H
#define NBDX_CLEANUP_H

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
cleanup_free(void *ptr)
{
    free(*(void **)ptr);
}
#define CLEANUP_FREE __attribute__((cleanup(cleanup_free)))

static inline void
cleanup_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
#define CLEANUP_CLOSE __attribute__((cleanup(cleanup_close)))

static inline void
cleanup_unlock(pthread_mutex_t **lock)
{
    pthread_mutex_unlock(*lock);
}

#define CLEANUP_CONCAT2(a, b) a##b
#define CLEANUP_CONCAT(a, b) CLEANUP_CONCAT2(a, b)

/* Lock a mutex until the end of the enclosing scope. */
#define ACQUIRE_LOCK_FOR_CURRENT_SCOPE(mutex)                                  \
    __attribute__((cleanup(cleanup_unlock))) pthread_mutex_t *CLEANUP_CONCAT( \
        scoped_lock_, __LINE__) = (mutex);                                     \
    pthread_mutex_lock(CLEANUP_CONCAT(scoped_lock_, __LINE__))

static inline void
cleanup_rwunlock(pthread_rwlock_t **lock)
{
    pthread_rwlock_unlock(*lock);
}

#define ACQUIRE_RDLOCK_FOR_CURRENT_SCOPE(rwlock)                               \
    __attribute__((cleanup(cleanup_rwunlock)))                                 \
    pthread_rwlock_t *CLEANUP_CONCAT(scoped_rdlock_, __LINE__) = (rwlock);     \
    pthread_rwlock_rdlock(CLEANUP_CONCAT(scoped_rdlock_, __LINE__))

#define ACQUIRE_WRLOCK_FOR_CURRENT_SCOPE(rwlock)                               \
    __attribute__((cleanup(cleanup_rwunlock)))                                 \
    pthread_rwlock_t *CLEANUP_CONCAT(scoped_wrlock_, __LINE__) = (rwlock);     \
    pthread_rwlock_wrlock(CLEANUP_CONCAT(scoped_wrlock_, __LINE__))

#endif /* NBDX_CLEANUP_H */
