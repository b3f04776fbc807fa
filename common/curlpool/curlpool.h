/* SPDX-License-Identifier: BSD-3-Clause */
/* curlpool.h: a fixed pool of libcurl easy handles shared by the
 * threads of a plugin (swift, s3), so that requests run in parallel
 * over keep-alive connections.
 *
 * curlpool_get hands out a free handle, waiting while all are busy;
 * curlpool_put gives it back.  Both are thread safe (the pool's own
 * lock, held only inside them).  curlpool_renew replaces every handle
 * after the server forks into the background, so that no connection
 * is shared with the parent; no handle may be out then.
 */

#ifndef NBDX_CURLPOOL_H
#define NBDX_CURLPOOL_H

#include <curl/curl.h>

struct curlpool;

/* n handles (n >= 1): NULL with errno set (ENOMEM; EIO when libcurl
 * makes no handle).
 */
extern struct curlpool *curlpool_new(unsigned n);
extern void curlpool_free(struct curlpool *p);
/* 0, or -1 with errno EIO (the pool is then unusable: free it). */
extern int curlpool_renew(struct curlpool *p);
extern CURL *curlpool_get(struct curlpool *p);
extern void curlpool_put(struct curlpool *p, CURL *c);

/* Sleep before retry number try (0, 1, ...): 100 ms, doubled each time. */
extern void curlpool_backoff(int try);

#endif /* NBDX_CURLPOOL_H */
