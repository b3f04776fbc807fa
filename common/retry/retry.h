/* SPDX-License-Identifier: BSD-3-Clause */
/* retry.h: what the retry and retry-request filters share: the schedule
 * of retries of one request (how many, how long to wait before each,
 * with optional exponential back-off) and one attempt at block status
 * that leaves nothing behind when it fails.
 *
 * The schedule is plain arithmetic; the filters log and sleep
 * themselves.
 */

#ifndef NBDX_COMMON_RETRY_H
#define NBDX_COMMON_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-filter.h>

/* The filter's parameters, fixed after config. */
struct retry_policy {
    unsigned retries; /* retries after the first attempt */
    unsigned delay;   /* seconds before the first retry */
    bool exponential; /* double the wait after each retry */
};

/* Where one request is in the schedule; starts zeroed. */
struct retry_count {
    unsigned done; /* retries begun so far */
    unsigned wait; /* seconds before the next one, once done > 0 */
};

/* The most a wait grows to (what nbdkit_nanosleep accepts). */
#define RETRY_MAX_WAIT 0x7fffffffu

/* Begin retry number C->done + 1 of a request: false if P allows no
 * more, else true with *SECS the seconds to wait first.
 */
bool retry_next(struct retry_count *c, const struct retry_policy *p,
                unsigned *secs);

/* One block status call to NEXT for [OFFSET, OFFSET+COUNT), collected
 * in a list of its own and copied into EXTENTS only if it succeeds, so
 * that a failed attempt adds nothing there.  0, or -1 with *err set.
 */
int retry_extents_once(nbdkit_next *next, uint32_t count, uint64_t offset,
                       uint32_t flags, struct nbdkit_extents *extents,
                       int *err);

#endif /* NBDX_COMMON_RETRY_H */
