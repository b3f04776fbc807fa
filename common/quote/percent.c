/* SPDX-License-Identifier: BSD-3-Clause */
/* percent.c: percent-encoding of percent.h. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overflow.h"
#include "percent.h"

static const char hex_digits[] = "0123456789ABCDEF";

static bool
percent_keeps(unsigned char c, const char *keep)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("-._~", c) ||
           (keep && strchr(keep, c));
}

/* Writes the encoding of c (not NUL) to out; returns its length. */
static size_t
percent_encode_char(char out[3], unsigned char c, const char *keep)
{
    if (percent_keeps(c, keep)) {
        out[0] = c;
        return 1;
    }
    out[0] = '%';
    out[1] = hex_digits[c >> 4];
    out[2] = hex_digits[c & 15];
    return 3;
}

void
percent_encode_fp(FILE *fp, const char *s, const char *keep)
{
    char out[3];

    for (; *s; s++)
        fwrite(out, 1, percent_encode_char(out, *s, keep), fp);
}

char *
percent_encode(const char *s, const char *keep)
{
    size_t size;
    char *r, *p;

    if (ckd_mul_size(&size, strlen(s), 3) || ckd_add_size(&size, size, 1)) {
        errno = ENOMEM;
        return NULL;
    }
    r = p = malloc(size);
    if (r == NULL)
        return NULL;
    for (; *s; s++)
        p += percent_encode_char(p, *s, keep);
    *p = '\0';
    return r;
}

/* The value of hex digit c, or -1. */
static int
percent_hex_value(char c)
{
    const char *d;

    if (c >= 'a' && c <= 'f')
        c -= 'a' - 'A';
    d = c ? strchr(hex_digits, c) : NULL;
    return d ? d - hex_digits : -1;
}

char *
percent_decode(const char *s)
{
    char *r = malloc(strlen(s) + 1), *p = r;
    int hi, lo;

    if (r == NULL)
        return NULL;
    for (; *s; s++) {
        if (*s != '%') {
            *p++ = *s;
            continue;
        }
        hi = percent_hex_value(s[1]);
        lo = hi == -1 ? -1 : percent_hex_value(s[2]);
        if (lo == -1 || (hi | lo) == 0) {
            free(r);
            errno = EINVAL;
            return NULL;
        }
        *p++ = hi << 4 | lo;
        s += 2;
    }
    *p = '\0';
    return r;
}
