/* SPDX-License-Identifier: BSD-3-Clause */
/* threadexit-plugin.c: a plugin that checks that the server's threads
 * have finished exiting before it is unloaded.
 *
 * Each thread that opens a connection gets a thread-local value whose
 * destructor takes 300 ms, as OpenSSL's or libssh's per-thread cleanup
 * may take a while.  Unload prints how many such destructors are still
 * running: a server that only counts its threads out, instead of
 * joining them, unloads (and then exits) under them.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#include <nbdkit-plugin.h>

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int exiting; /* threads with a pending destructor; atomic */

static void
threadexit_destructor(void *unused)
{
    usleep(300 * 1000);
    __atomic_sub_fetch(&exiting, 1, __ATOMIC_SEQ_CST);
}

static void
threadexit_make_key(void)
{
    pthread_key_create(&key, threadexit_destructor);
}

static void
threadexit_unload(void)
{
    fprintf(stderr, "threadexit: unload with %d thread(s) still exiting\n",
            __atomic_load_n(&exiting, __ATOMIC_SEQ_CST));
}

static void *
threadexit_open(int readonly)
{
    pthread_once(&key_once, threadexit_make_key);
    if (pthread_getspecific(key) == NULL) {
        __atomic_add_fetch(&exiting, 1, __ATOMIC_SEQ_CST);
        pthread_setspecific(key, &key);
    }
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
threadexit_get_size(void *handle)
{
    return 1024 * 1024;
}

static int
threadexit_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                 uint32_t flags)
{
    memset(buf, 0, count);
    return 0;
}

static struct nbdkit_plugin plugin = {
    .name = "threadexit",
    .unload = threadexit_unload,
    .open = threadexit_open,
    .get_size = threadexit_get_size,
    .pread = threadexit_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
