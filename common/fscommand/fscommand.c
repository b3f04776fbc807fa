/* SPDX-License-Identifier: BSD-3-Clause */
/* fscommand.c: see fscommand.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fscommand.h"
#include "shell-quote.h"

/* Without command=: a sparse file formatted by mkfs.  Each type gets the
 * option that makes its mkfs work on a plain file without asking, and
 * the option that sets its label.
 */
static const char default_command[] =
    ": \"${type:=ext4}\"\n"
    "labelopt=-L\n"
    "case \"$type\" in\n"
    "ext2|ext3|ext4) force=-F ;;\n"
    "xfs|btrfs) force=-f ;;\n"
    "vfat|fat|msdos) force=-I; labelopt=-n ;;\n"
    "ntfs) force='-F -Q' ;;\n"
    "*) force= ;;\n"
    "esac\n"
    "truncate -s \"$size\" \"$disk\" || exit 1\n"
    "if [ -n \"${label-}\" ]; then\n"
    "    mkfs -t \"$type\" $force $labelopt \"$label\" \"$disk\"\n"
    "else\n"
    "    mkfs -t \"$type\" $force \"$disk\"\n"
    "fi\n";

static int
fscommand_is_name(const char *key)
{
    if (!(key[0] == '_' || (key[0] >= 'A' && key[0] <= 'Z') ||
          (key[0] >= 'a' && key[0] <= 'z')))
        return 0;
    for (const char *p = key + 1; *p; p++)
        if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') ||
              (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return 0;
    return strcmp(key, "disk") != 0 && strcmp(key, "size") != 0;
}

/* Replace *slot by a copy of value. */
static int
fscommand_set(char **slot, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

int
fscommand_add(struct fscommand *c, const char *key, const char *value)
{
    char **keys, **values;
    size_t i;

    if (strcmp(key, "command") == 0)
        return fscommand_set(&c->command, value);
    if (!fscommand_is_name(key)) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return fscommand_set(&c->values[i], value);
    keys = realloc(c->keys, (c->n + 1) * sizeof *keys);
    if (keys == NULL)
        return -1;
    c->keys = keys;
    values = realloc(c->values, (c->n + 1) * sizeof *values);
    if (values == NULL)
        return -1;
    c->values = values;
    c->keys[c->n] = c->values[c->n] = NULL;
    if (fscommand_set(&c->keys[c->n], key) == -1 ||
        fscommand_set(&c->values[c->n], value) == -1) {
        free(c->keys[c->n]);
        free(c->values[c->n]);
        return -1;
    }
    c->n++;
    return 0;
}

char *
fscommand_script(const struct fscommand *c, const char *disk, uint64_t size)
{
    char *script = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&script, &len);

    if (fp == NULL)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        fprintf(fp, "%s=", c->keys[i]);
        shell_quote_fp(fp, c->values[i]);
        fputc('\n', fp);
    }
    fputs("disk=", fp);
    shell_quote_fp(fp, disk);
    fprintf(fp, "\nsize=%" PRIu64 "\n", size);
    fputs(c->command ? c->command : default_command, fp);
    fputc('\n', fp);
    if (ferror(fp)) {
        fclose(fp);
        free(script);
        errno = ENOMEM;
        return NULL;
    }
    if (fclose(fp) == EOF) {
        free(script);
        return NULL;
    }
    return script;
}

int
fscommand_run(const struct fscommand *c, const char *disk, uint64_t size,
              struct call_output *o)
{
    char *script = fscommand_script(c, disk, size);
    int r;

    if (script == NULL)
        return -1;
    const char *argv[] = {"/bin/sh", "-c", script, "sh", NULL};
    r = call_run(argv, NULL, 0, o);
    free(script);
    return r;
}

void
fscommand_free(struct fscommand *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    free(c->command);
    *c = (struct fscommand){0};
}
