/* SPDX-License-Identifier: BSD-3-Clause */
/* shell-quote.h: one word for /bin/sh, whatever it contains.
 *
 * The result is s inside single quotes, each ' in s written as '\''
 * (close the quotes, an escaped quote, reopen them): sh reads it back as
 * exactly s, with no expansion of $, `, \, * or newlines.  The empty
 * string becomes ''.
 *
 * Ownership: strings returned are malloc'd and the caller frees them.
 * No state: safe from any thread.
 */

#ifndef NBDX_SHELL_QUOTE_H
#define NBDX_SHELL_QUOTE_H

#include <stdio.h>

/* Writes s quoted to fp.  Write errors stay on fp, for ferror or fclose
 * to report.
 */
extern void shell_quote_fp(FILE *fp, const char *s);

/* s quoted, or NULL with errno ENOMEM. */
extern char *shell_quote(const char *s);

#endif /* NBDX_SHELL_QUOTE_H */
