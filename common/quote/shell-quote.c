/* SPDX-License-Identifier: BSD-3-Clause */
/* shell-quote.c: single-quoting for sh, as in shell-quote.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overflow.h"
#include "shell-quote.h"

/* Inside single quotes nothing is special but the closing quote. */
static const char quote_escape[] = "'\\''";

void
shell_quote_fp(FILE *fp, const char *s)
{
    fputc('\'', fp);
    for (; *s; s++) {
        if (*s == '\'')
            fputs(quote_escape, fp);
        else
            fputc(*s, fp);
    }
    fputc('\'', fp);
}

char *
shell_quote(const char *s)
{
    size_t quotes = 0, size;
    const char *q;
    char *r, *p;

    for (q = s; (q = strchr(q, '\'')) != NULL; q++)
        quotes++;
    /* Each quote grows by 3 bytes; add the outer quotes and the NUL. */
    if (ckd_mul_size(&size, quotes, 3) || ckd_add_size(&size, size, 3) ||
        ckd_add_size(&size, size, strlen(s))) {
        errno = ENOMEM;
        return NULL;
    }
    r = p = malloc(size);
    if (r == NULL)
        return NULL;
    *p++ = '\'';
    for (; *s; s++) {
        if (*s == '\'')
            p = stpcpy(p, quote_escape);
        else
            *p++ = *s;
    }
    *p++ = '\'';
    *p = '\0';
    return r;
}
