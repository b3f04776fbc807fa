/* SPDX-License-Identifier: BSD-3-Clause */
/* curl-script.h: header-script= and cookie-script= of the curl plugin,
 * the programs whose output becomes the headers and the cookie of every
 * request, run again when older than their -renew= seconds.
 */

#ifndef NBDX_CURL_SCRIPT_H
#define NBDX_CURL_SCRIPT_H

#include <stdbool.h>

#include <curl/curl.h>

/* What a handle last got from the scripts, to see when it is stale. */
struct script_seen {
    unsigned generation;        /* 0: nothing yet */
    struct curl_slist *headers; /* the handle's copy, owned by it */
};

/* Is KEY one of the scripts' parameters?  Then take VALUE and return 0,
 * or -1 after an error.  Returns 1 for other keys.
 */
int script_config(const char *key, const char *value);

/* Are the scripts' parameters consistent with header= (HAVE_HEADERS)
 * and cookie= (HAVE_COOKIE)?
 */
int script_config_complete(bool have_headers, bool have_cookie);

/* Does any script run?  Read-only after .config_complete. */
bool script_in_use(void);

/* Run the scripts that are due (all of them the first time), then give
 * handle C their current output if it has not seen it (SEEN).  URL goes
 * to the scripts as $url.  Returns -1 after an error, already reported.
 */
int script_apply(CURL *c, struct script_seen *seen, const char *url);

/* Free SEEN's copy, when its handle goes. */
void script_seen_free(struct script_seen *seen);

/* Free the parameters and the last output, in .unload. */
void script_unload(void);

#endif
