/* SPDX-License-Identifier: BSD-3-Clause */
/* curlpool.c: a pool of libcurl easy handles (see curlpool.h). */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "cleanup.h"
#include "curlpool.h"

struct curlpool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    unsigned n;
    CURL **all;     /* [n], owned */
    CURL **free;    /* free[0 .. nfree-1]; guarded by lock */
    unsigned nfree; /* guarded by lock */
};

/* Make all[0 .. n-1]: 0, or -1 (those made stay, for curlpool_free). */
static int
curlpool_make(struct curlpool *p)
{
    unsigned i;

    for (i = 0; i < p->n; i++) {
        p->all[i] = curl_easy_init();
        if (p->all[i] == NULL) {
            errno = EIO;
            return -1;
        }
        p->free[i] = p->all[i];
    }
    p->nfree = p->n;
    return 0;
}

static void
curlpool_clean(struct curlpool *p)
{
    unsigned i;

    for (i = 0; i < p->n; i++) {
        curl_easy_cleanup(p->all[i]); /* NULL is allowed */
        p->all[i] = NULL;
    }
    p->nfree = 0;
}

struct curlpool *
curlpool_new(unsigned n)
{
    struct curlpool *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->n = n;
    p->all = calloc(n, sizeof *p->all);
    p->free = calloc(n, sizeof *p->free);
    if (n == 0 || p->all == NULL || p->free == NULL || curlpool_make(p) == -1) {
        if (n == 0)
            errno = EINVAL;
        curlpool_free(p);
        return NULL;
    }
    return p;
}

void
curlpool_free(struct curlpool *p)
{
    if (p == NULL)
        return;
    if (p->all)
        curlpool_clean(p);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->all);
    free(p->free);
    free(p);
}

int
curlpool_renew(struct curlpool *p)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&p->lock);

    curlpool_clean(p);
    return curlpool_make(p);
}

CURL *
curlpool_get(struct curlpool *p)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&p->lock);

    while (p->nfree == 0)
        pthread_cond_wait(&p->freed, &p->lock);
    return p->free[--p->nfree];
}

void
curlpool_put(struct curlpool *p, CURL *c)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&p->lock);

    p->free[p->nfree++] = c;
    pthread_cond_signal(&p->freed);
}

void
curlpool_backoff(int try)
{
    struct timespec ts = {.tv_nsec = 100000000L << try};

    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    nanosleep(&ts, NULL);
}
