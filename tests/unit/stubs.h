/* SPDX-License-Identifier: BSD-3-Clause */
/* stubs.h: what the unit tests can observe of the stand-ins in stubs.c
 * for the server pieces outside the file under test.
 */

#ifndef NBDX_UNIT_STUBS_H
#define NBDX_UNIT_STUBS_H

#include <stddef.h>

#include "internal.h"

extern struct options stub_options; /* what opts points to */
extern int stub_errors;           /* nbdkit_error calls so far */
extern char stub_last_error[512]; /* text of the latest one */
extern int stub_set_quit_calls;
extern int stub_set_status_calls;
extern enum conn_status stub_last_status;

/* Debug lines are kept so tests can compare them. */
#define STUB_MAX_DEBUG 64
extern char *stub_debug_lines[STUB_MAX_DEBUG];
extern size_t stub_debug_count;

void stub_reset(void); /* zero the counters and free the debug lines */

#endif /* NBDX_UNIT_STUBS_H */
