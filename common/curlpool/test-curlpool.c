/* SPDX-License-Identifier: BSD-3-Clause */
/* test-curlpool.c: unit tests of curlpool.h: every handle is handed out
 * once, a get with none free waits for a put, renew makes the handles
 * again, and the backoff's pauses grow.
 */

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "curlpool.h"
#include "unit.h"

static struct curlpool *pool;
static CURL *got; /* what the waiting thread got; atomic */

static void *
waiter(void *unused)
{
    __atomic_store_n(&got, curlpool_get(pool), __ATOMIC_SEQ_CST);
    return NULL;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_pool(void)
{
    CURL *a, *b;
    pthread_t t;

    unit_group("get and put");
    pool = curlpool_new(2);
    CHECK(pool != NULL);
    a = curlpool_get(pool);
    b = curlpool_get(pool);
    CHECK(a != NULL && b != NULL && a != b);
    /* None free: the third get waits until a put. */
    CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
    usleep(200 * 1000);
    CHECK(__atomic_load_n(&got, __ATOMIC_SEQ_CST) == NULL);
    curlpool_put(pool, b);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(got == b);
    curlpool_put(pool, got);
    curlpool_put(pool, a);

    unit_group("renew");
    CHECK(curlpool_renew(pool) == 0);
    a = curlpool_get(pool);
    b = curlpool_get(pool);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(curl_easy_setopt(a, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK);
    curlpool_put(pool, a);
    curlpool_put(pool, b);
    curlpool_free(pool);
    CHECK(curlpool_new(0) == NULL && errno == EINVAL);
}

static void
test_backoff(void)
{
    double t0, t1, t2;

    unit_group("backoff");
    t0 = now();
    curlpool_backoff(0);
    t1 = now();
    curlpool_backoff(2);
    t2 = now();
    CHECK(t1 - t0 >= 0.099 && t1 - t0 < 0.4 + 0.099);
    CHECK(t2 - t1 >= 0.399);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_pool();
    test_backoff();
    curl_global_cleanup();
    return unit_finish();
}
