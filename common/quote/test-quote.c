/* SPDX-License-Identifier: BSD-3-Clause */
/* test-quote.c: unit tests of percent.h and shell-quote.h; the shell
 * quoting is checked by /bin/sh itself.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "percent.h"
#include "shell-quote.h"
#include "unit.h"

/* What the _fp functions write, as malloc'd strings. */
static char *
capture_percent(const char *s, const char *keep)
{
    char *r = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&r, &len);

    if (fp == NULL)
        abort();
    percent_encode_fp(fp, s, keep);
    fclose(fp);
    return r;
}

static char *
capture_shell(const char *s)
{
    char *r = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&r, &len);

    if (fp == NULL)
        abort();
    shell_quote_fp(fp, s);
    fclose(fp);
    return r;
}

/* percent_encode(s, keep) is want, and so is percent_encode_fp. */
static bool
encodes(const char *s, const char *keep, const char *want)
{
    char *a = percent_encode(s, keep), *b = capture_percent(s, keep);
    bool ok = a && b && strcmp(a, want) == 0 && strcmp(b, want) == 0;

    if (!ok)
        printf("encode \"%s\": \"%s\", \"%s\", want \"%s\"\n", s, a, b, want);
    free(a);
    free(b);
    return ok;
}

static bool
decodes(const char *s, const char *want)
{
    char *r = percent_decode(s);
    bool ok = r && strcmp(r, want) == 0;

    free(r);
    return ok;
}

static bool
decode_fails(const char *s)
{
    char *r;

    errno = 0;
    r = percent_decode(s);
    free(r);
    return r == NULL && errno == EINVAL;
}

static void
test_percent(void)
{
    char all[256], *enc, *dec;
    int i;

    unit_group("encode keeps unreserved characters and those asked for");
    CHECK(encodes("", NULL, ""));
    CHECK(encodes("AZaz09-._~", NULL, "AZaz09-._~"));
    CHECK(encodes("/a b/", NULL, "%2Fa%20b%2F"));
    CHECK(encodes("/a b/", "/", "/a%20b/"));
    CHECK(encodes("%?#&=+:@", NULL, "%25%3F%23%26%3D%2B%3A%40"));
    CHECK(encodes("\xc3\xa9\x7f\x01\xff", NULL, "%C3%A9%7F%01%FF"));

    unit_group("decode takes either case and leaves '+' alone");
    CHECK(decodes("", ""));
    CHECK(decodes("%41%62c", "Abc"));
    CHECK(decodes("%2f%2F%c3%A9", "//\xc3\xa9"));
    CHECK(decodes("a+b", "a+b"));
    CHECK(decodes("%25", "%"));
    CHECK(decodes("%2500", "%00")); /* decoded once, not twice */

    unit_group("decode refuses bad and truncated escapes, and NUL");
    CHECK(decode_fails("%"));
    CHECK(decode_fails("abc%"));
    CHECK(decode_fails("%4"));
    CHECK(decode_fails("%4g"));
    CHECK(decode_fails("%g4"));
    CHECK(decode_fails("%%41"));
    CHECK(decode_fails("% 41"));
    CHECK(decode_fails("ok%00"));

    unit_group("every byte survives encode then decode");
    for (i = 1; i < 256; i++)
        all[i - 1] = i;
    all[255] = '\0';
    enc = percent_encode(all, "/");
    dec = enc ? percent_decode(enc) : NULL;
    CHECK(enc && strlen(enc) == 67 + 3 * (255 - 67));
    CHECK(dec && strcmp(dec, all) == 0);
    free(enc);
    free(dec);
}

/* shell_quote(s) and shell_quote_fp are want. */
static bool
quotes(const char *s, const char *want)
{
    char *a = shell_quote(s), *b = capture_shell(s);
    bool ok = a && b && strcmp(a, want) == 0 && strcmp(b, want) == 0;

    free(a);
    free(b);
    return ok;
}

/* sh, given the quoted word, prints back exactly s. */
static bool
sh_reads_back(const char *s)
{
    char *q = shell_quote(s), *cmd = NULL, out[512];
    size_t n = 0;
    FILE *fp;
    bool ok = false;

    if (q && asprintf(&cmd, "printf '%%s' %s", q) != -1 &&
        (fp = popen(cmd, "r")) != NULL) {
        n = fread(out, 1, sizeof out, fp);
        ok = pclose(fp) == 0 && n == strlen(s) && memcmp(out, s, n) == 0;
    }
    if (!ok)
        printf("sh did not read back [%s] from [%s]\n", s, q);
    free(q);
    free(cmd);
    return ok;
}

static void
test_shell(void)
{
    static const char *const hard[] = {
        "",
        "'",
        "''",
        "a'b",
        "'start",
        "end'",
        "-n",
        "two words",
        "$HOME ${x:-y} $(id) `id`",
        "back\\slash \\' \\",
        "\"double\"",
        "* ? [a-z] ~ #",
        "new\nline\ttab",
        "\xc3\xa9\xff",
        "; exit 3 &",
    };
    size_t i;
    int bad = 0;

    unit_group("quoting wraps in single quotes, each ' as '\\''");
    CHECK(quotes("", "''"));
    CHECK(quotes("abc", "'abc'"));
    CHECK(quotes("'", "''\\'''"));
    CHECK(quotes("a'b", "'a'\\''b'"));
    CHECK(quotes("$x", "'$x'"));

    unit_group("/bin/sh reads every quoted word back unchanged");
    for (i = 0; i < sizeof hard / sizeof hard[0]; i++)
        bad += !sh_reads_back(hard[i]);
    CHECK(bad == 0);
}

int
main(void)
{
    test_percent();
    test_shell();
    return unit_finish();
}
