/* SPDX-License-Identifier: BSD-3-Clause */
/* shebang.h: reading a script's #! line for the server it names.
 *
 * "#!/usr/sbin/nbdx perl", "#!/usr/bin/nbdkit sh" and
 * "#!/usr/bin/env -S nbdx python" each name the server (nbdx or nbdkit)
 * with a plugin after it.  The server uses this to run a script plugin
 * with itself whatever path the line gives; the sh plugin, so as not to
 * execute a script that would start another server.
 */

#ifndef NBDX_SHEBANG_H
#define NBDX_SHEBANG_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The last component of the N bytes of WORD. */
static inline const char *
shebang_base(const char *word, size_t n, size_t *len)
{
    const char *p = word + n;

    while (p > word && p[-1] != '/')
        p--;
    *len = word + n - p;
    return p;
}

/* The next blank-separated word of *S, its length in *N; NULL at the end
 * of the line.
 */
static inline const char *
shebang_word(const char **s, size_t *n)
{
    const char *w = *s + strspn(*s, " \t");

    *n = strcspn(w, " \t\r\n");
    *s = w + *n;
    return *n ? w : NULL;
}

/* Whether LINE, a script's first line, names nbdx or nbdkit; if so and
 * PLUGIN is not NULL, the word after it (the plugin, "" if none) is
 * copied there, cut to SIZE - 1 bytes.
 */
static inline bool
shebang_names_server(const char *line, char *plugin, size_t size)
{
    const char *s = line, *w, *b;
    size_t n, blen;

    if (strncmp(s, "#!", 2) != 0)
        return false;
    s += 2;
    w = shebang_word(&s, &n);
    if (w == NULL)
        return false;
    b = shebang_base(w, n, &blen);
    if (blen == 3 && memcmp(b, "env", 3) == 0)
        do /* env's options, as -S */
            w = shebang_word(&s, &n);
        while (w && w[0] == '-');
    if (w == NULL)
        return false;
    b = shebang_base(w, n, &blen);
    if (!(blen == 4 && memcmp(b, "nbdx", 4) == 0) &&
        !(blen == 6 && memcmp(b, "nbdkit", 6) == 0))
        return false;
    if (plugin && size > 0) {
        w = shebang_word(&s, &n);
        if (w == NULL)
            n = 0;
        if (n > size - 1)
            n = size - 1;
        memcpy(plugin, w ? w : "", n);
        plugin[n] = '\0';
    }
    return true;
}

/* shebang_names_server of the first line of the file PATH; false if it
 * cannot be read.
 */
static inline bool
shebang_file_names_server(const char *path, char *plugin, size_t size)
{
    char line[256];
    FILE *fp = fopen(path, "re");
    bool r;

    if (fp == NULL)
        return false;
    r = fgets(line, sizeof line, fp) != NULL &&
        shebang_names_server(line, plugin, size);
    fclose(fp);
    return r;
}

#endif /* NBDX_SHEBANG_H */
