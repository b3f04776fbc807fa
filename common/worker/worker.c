/* SPDX-License-Identifier: BSD-3-Clause */
/* worker.c: see worker.h. */

#include "worker.h"

void
worker_init(struct worker *w)
{
    w->running = false;
    w->quit = false;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

int
worker_start(struct worker *w, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(&w->thread, NULL, fn, arg);

    if (err != 0)
        return err;
    w->running = true;
    return 0;
}

void
worker_stop(struct worker *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->running = false;
}

void
worker_destroy(struct worker *w)
{
    worker_stop(w);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}
