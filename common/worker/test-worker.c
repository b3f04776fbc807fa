/* SPDX-License-Identifier: BSD-3-Clause */
/* test-worker.c: unit tests of worker.h: a thread that waits on the
 * condition is woken and joined by worker_stop; one that works in steps
 * finishes its current step first; stopping twice, or a worker never
 * started, is harmless.
 */

#include <stdatomic.h>
#include <time.h>

#include "unit.h"
#include "worker.h"

struct waiter {
    struct worker w;
    atomic_int woke; /* set by the thread just before it returns */
};

/* Waits on cond for quit, as readahead's thread waits for work. */
static void *
waiter_thread(void *arg)
{
    struct waiter *t = arg;

    pthread_mutex_lock(&t->w.lock);
    while (!worker_quitting(&t->w))
        pthread_cond_wait(&t->w.cond, &t->w.lock);
    pthread_mutex_unlock(&t->w.lock);
    atomic_store(&t->woke, 1);
    return NULL;
}

struct stepper {
    struct worker w;
    atomic_int steps; /* steps begun */
    atomic_int done;  /* steps finished */
};

/* Polls quit between steps of 1 ms, as scan's thread does. */
static void *
stepper_thread(void *arg)
{
    struct stepper *t = arg;
    struct timespec ms = {0, 1000000};
    bool quit;

    for (;;) {
        pthread_mutex_lock(&t->w.lock);
        quit = worker_quitting(&t->w);
        pthread_mutex_unlock(&t->w.lock);
        if (quit)
            return NULL;
        atomic_fetch_add(&t->steps, 1);
        nanosleep(&ms, NULL);
        atomic_fetch_add(&t->done, 1);
    }
}

static void
test_waiter(void)
{
    struct waiter t = {0};

    unit_group("a waiting thread is woken and joined");
    worker_init(&t.w);
    CHECK(!t.w.running);
    CHECK(worker_start(&t.w, waiter_thread, &t) == 0);
    CHECK(t.w.running);
    worker_stop(&t.w);
    CHECK(!t.w.running);
    CHECK(atomic_load(&t.woke) == 1);
    worker_stop(&t.w); /* twice: nothing happens */
    CHECK(!t.w.running);
    worker_destroy(&t.w);
}

static void
test_stepper(void)
{
    struct stepper t = {0};
    struct timespec wait = {0, 20000000};

    unit_group("a stepping thread finishes its step");
    worker_init(&t.w);
    CHECK(worker_start(&t.w, stepper_thread, &t) == 0);
    nanosleep(&wait, NULL);
    worker_stop(&t.w);
    CHECK(atomic_load(&t.steps) > 0);
    CHECK(atomic_load(&t.steps) == atomic_load(&t.done));
    worker_destroy(&t.w);
}

static void
test_never_started(void)
{
    struct worker w;

    unit_group("a worker never started");
    worker_init(&w);
    worker_stop(&w);
    CHECK(!w.running);
    worker_destroy(&w);
}

int
main(void)
{
    test_waiter();
    test_stepper();
    test_never_started();
    return unit_finish();
}
