/* SPDX-License-Identifier: BSD-3-Clause */
/* percent.h: percent-encoding of URI components (RFC 3986).
 *
 * Encoding keeps the unreserved characters (A-Z a-z 0-9 - . _ ~) and
 * those in keep (for example "/" for a path, NULL for none), and writes
 * every other byte as %XX with upper-case hex digits.  Decoding accepts
 * either case; '+' is a plus sign, not a space (that is HTML forms).
 *
 * Ownership: strings returned are malloc'd and the caller frees them.
 * No state: safe from any thread.
 */

#ifndef NBDX_PERCENT_H
#define NBDX_PERCENT_H

#include <stdio.h>

/* Writes s encoded to fp.  Write errors stay on fp, for ferror or fclose
 * to report.
 */
extern void percent_encode_fp(FILE *fp, const char *s, const char *keep);

/* s encoded, or NULL with errno ENOMEM. */
extern char *percent_encode(const char *s, const char *keep);

/* s decoded, or NULL with errno EINVAL if a '%' is not followed by two
 * hex digits or encodes a NUL byte (which a C string cannot hold), or
 * ENOMEM.
 */
extern char *percent_decode(const char *s);

#endif /* NBDX_PERCENT_H */
