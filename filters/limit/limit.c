/* SPDX-License-Identifier: BSD-3-Clause */
/* limit.c: refuse clients beyond limit=N connected at once (default 1,
 * 0 for no limit).  A refused client's handshake fails; the count is
 * taken in open and given back in close, under count_lock.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

static unsigned limit = 1;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned connected; /* guarded by count_lock */

static int
limit_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
             const char *value)
{
    if (strcmp(key, "limit") == 0)
        return nbdkit_parse_unsigned(key, value, &limit);
    return next(nxdata, key, value);
}

#define limit_config_help                                                      \
    "limit=<N>            At most N clients at once (default 1, 0: any)."

static void *
limit_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
           const char *exportname, int is_tls)
{
    bool full;

    pthread_mutex_lock(&count_lock);
    full = limit > 0 && connected >= limit;
    if (!full)
        connected++;
    pthread_mutex_unlock(&count_lock);
    if (full) {
        nbdkit_error("limit: too many clients connected, connection rejected");
        return NULL;
    }
    if (next(context, readonly, exportname) == -1) {
        pthread_mutex_lock(&count_lock);
        connected--;
        pthread_mutex_unlock(&count_lock);
        return NULL;
    }
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static void
limit_close(void *handle)
{
    pthread_mutex_lock(&count_lock);
    connected--;
    pthread_mutex_unlock(&count_lock);
}

static struct nbdkit_filter filter = {
    .name = "limit",
    .longname = "nbdx limit filter",
    .config = limit_config,
    .config_help = limit_config_help,
    .open = limit_open,
    .close = limit_close,
};

NBDKIT_REGISTER_FILTER(filter)
