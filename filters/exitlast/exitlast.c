/* SPDX-License-Identifier: BSD-3-Clause */
/* exitlast.c: the server exits when its last client disconnects.
 *
 * Connections are counted in open and close (count_lock); when the count
 * drops to zero the filter asks the server to shut down, which it does
 * as on SIGTERM.  Until the first client comes the server waits.
 */

#include <pthread.h>

#include <nbdkit-filter.h>

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned connected; /* guarded by count_lock */

static void *
exitlast_open(nbdkit_next_open *next, nbdkit_context *context, int readonly,
              const char *exportname, int is_tls)
{
    if (next(context, readonly, exportname) == -1)
        return NULL;
    pthread_mutex_lock(&count_lock);
    connected++;
    pthread_mutex_unlock(&count_lock);
    return NBDKIT_HANDLE_NOT_NEEDED;
}

static void
exitlast_close(void *handle)
{
    unsigned left;

    pthread_mutex_lock(&count_lock);
    left = --connected;
    pthread_mutex_unlock(&count_lock);
    if (left == 0) {
        nbdkit_debug("exitlast: the last client disconnected: exiting");
        nbdkit_shutdown();
    }
}

static struct nbdkit_filter filter = {
    .name = "exitlast",
    .longname = "nbdx exitlast filter",
    .open = exitlast_open,
    .close = exitlast_close,
};

NBDKIT_REGISTER_FILTER(filter)
