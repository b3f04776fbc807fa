/* SPDX-License-Identifier: BSD-3-Clause */
/* fscommand.h: the shell script that makes a disk for the tmpdisk and
 * ondemand plugins.  The plugin's parameters become shell variables, set
 * in command-line order before the command, with $disk (the file to
 * make) and $size (the size asked for, in bytes).  The command is the
 * user's command=, or without one a sparse file of $size bytes formatted
 * by mkfs(8) as $type (ext4 if unset) with the label $label if set.
 *
 * A struct fscommand is filled while the plugin is configured and only
 * read afterwards, so fscommand_script and fscommand_run may then be
 * called from several threads at once.
 */

#ifndef NBDX_COMMON_FSCOMMAND_H
#define NBDX_COMMON_FSCOMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"

/* Start with `struct fscommand c = {0};`, end with fscommand_free. */
struct fscommand {
    char *command; /* command=, or NULL for the default mkfs script */
    char **keys;   /* variable names and their values, n of each */
    char **values;
    size_t n;
};

/* KEY=VALUE from the command line: command= sets the command, any other
 * key becomes a variable.  0, or -1 with errno EINVAL if KEY is not a
 * shell variable name or is disk or size (set by the script itself), or
 * ENOMEM.  A key given twice keeps its last value.
 */
int fscommand_add(struct fscommand *c, const char *key, const char *value);

/* The whole script for making DISK of SIZE bytes: malloc'd, the caller
 * frees it.  NULL with errno ENOMEM.
 */
char *fscommand_script(const struct fscommand *c, const char *disk,
                       uint64_t size);

/* Run the script under /bin/sh, stdin empty, into *O (see call_run):
 * 0 with *O filled, the caller reads o->wstatus and frees *O; -1 with
 * errno set if it could not be run.
 */
int fscommand_run(const struct fscommand *c, const char *disk, uint64_t size,
                  struct call_output *o);

/* Free what C holds and empty it. */
void fscommand_free(struct fscommand *c);

#endif /* NBDX_COMMON_FSCOMMAND_H */
