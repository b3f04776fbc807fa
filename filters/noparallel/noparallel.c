/* SPDX-License-Identifier: BSD-3-Clause */
/* noparallel.c: make the server run requests less in parallel.
 *
 * serialize=requests (the default): one request at a time per
 * connection; all-requests: one request at a time in the whole server;
 * connections: one client at a time, and no multi-conn.  The thread
 * model is the stricter of this and the plugin's.
 */

#include <string.h>

#include <nbdkit-filter.h>

static int model = NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS;

static int
noparallel_config(nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value)
{
    if (strcmp(key, "serialize") != 0 && strcmp(key, "serialise") != 0)
        return next(nxdata, key, value);
    if (strcmp(value, "requests") == 0)
        model = NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS;
    else if (strcmp(value, "all-requests") == 0 ||
             strcmp(value, "all_requests") == 0)
        model = NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS;
    else if (strcmp(value, "connections") == 0)
        model = NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS;
    else {
        nbdkit_error("unknown serialize mode '%s'", value);
        return -1;
    }
    return 0;
}

#define noparallel_config_help                                                 \
    "serialize=requests|all-requests|connections\n"                            \
    "                     How much to serialize (default requests)."

static int
noparallel_thread_model(void)
{
    return model;
}

static int
noparallel_can_multi_conn(nbdkit_next *next, void *handle)
{
    if (model == NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS)
        return 0;
    return next->can_multi_conn(next);
}

static struct nbdkit_filter filter = {
    .name = "noparallel",
    .longname = "nbdx noparallel filter",
    .config = noparallel_config,
    .config_help = noparallel_config_help,
    .thread_model = noparallel_thread_model,
    .can_multi_conn = noparallel_can_multi_conn,
};

NBDKIT_REGISTER_FILTER(filter)
