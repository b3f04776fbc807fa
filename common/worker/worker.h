/* SPDX-License-Identifier: BSD-3-Clause */
/* worker.h: one background thread of a connection, as the scan and
 * readahead filters run it: started once, told to quit through a flag
 * under a lock with a condition to wake it, and joined before the
 * connection's handle goes.
 *
 * Ownership: the struct is embedded in its owner's handle.  running is
 * touched only by the owner's thread (start, stop, destroy), never by
 * the worker.  lock guards quit and whatever the owner adds under it
 * (a queue, a position); cond is signalled when any of it changes.
 */

#ifndef NBDX_COMMON_WORKER_H
#define NBDX_COMMON_WORKER_H

#include <pthread.h>
#include <stdbool.h>

struct worker {
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool quit; /* under lock: the thread must return */
};

/* Set up lock and cond, not running (with default attributes they cannot
 * fail on Linux).
 */
extern void worker_init(struct worker *w);

/* Start fn(arg) in a new thread; 0, or the error number of
 * pthread_create, with nothing started.
 */
extern int worker_start(struct worker *w, void *(*fn)(void *), void *arg);

/* Under lock: whether the thread must return.  For use inside the
 * worker's own wait loop.
 */
static inline bool
worker_quitting(const struct worker *w)
{
    return w->quit;
}

/* Set quit, wake the thread and join it; its current step, if any,
 * completes first.  Does nothing if it is not running.  quit stays set.
 */
extern void worker_stop(struct worker *w);

/* worker_stop, then release lock and cond. */
extern void worker_destroy(struct worker *w);

#endif /* NBDX_COMMON_WORKER_H */
