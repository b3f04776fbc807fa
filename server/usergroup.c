/* SPDX-License-Identifier: BSD-3-Clause */
/* usergroup.c: -u USER and -g GROUP.
 *
 * Names (or numeric ids) are resolved at startup so a typo fails before
 * anything is bound.  The switch happens after binding, so a root server
 * can listen on a privileged port: group first (while still allowed),
 * then supplementary groups, then the user, then no_new_privs so no
 * setuid binary run later (--run, plugin helpers) can regain them.
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

static uid_t new_uid;
static gid_t new_gid;
static bool have_gid; /* from -g, or the primary group of -u */

/* A decimal id, or -1 if s is not all digits. */
static long long
usergroup_number(const char *s)
{
    char *end;
    long long n;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || n > 0x7fffffff)
        return -1;
    return n;
}

static void
usergroup_parse_user(void)
{
    struct passwd *pw;
    long long n = usergroup_number(opts->user);

    pw = n >= 0 ? getpwuid(n) : getpwnam(opts->user);
    if (pw == NULL && n < 0)
        fatal("-u: unknown user '%s'", opts->user);
    new_uid = pw ? pw->pw_uid : (uid_t)n;
    if (pw && opts->group == NULL) {
        new_gid = pw->pw_gid;
        have_gid = true;
    }
}

static void
usergroup_parse_group(void)
{
    struct group *gr;
    long long n = usergroup_number(opts->group);

    gr = n >= 0 ? getgrgid(n) : getgrnam(opts->group);
    if (gr == NULL && n < 0)
        fatal("-g: unknown group '%s'", opts->group);
    new_gid = gr ? gr->gr_gid : (gid_t)n;
    have_gid = true;
}

void
usergroup_parse(void)
{
    if (opts->group)
        usergroup_parse_group();
    if (opts->user)
        usergroup_parse_user();
}

void
usergroup_change(void)
{
    if (opts->user == NULL && opts->group == NULL)
        return;
    if (have_gid && setgid(new_gid) == -1)
        fatal("setgid: %m");
    /* Only root can drop supplementary groups; nobody else has groups
     * beyond what setgid already allowed.  A numeric -u with no passwd
     * entry (and no -g) keeps the primary group but still loses root's
     * supplementary ones.
     */
    if (geteuid() == 0 &&
        (have_gid ? setgroups(1, &new_gid) : setgroups(0, NULL)) == -1)
        fatal("setgroups: %m");
    if (opts->user && setuid(new_uid) == -1)
        fatal("setuid: %m");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
        fatal("prctl: PR_SET_NO_NEW_PRIVS: %m");
    debug("changed to uid %d gid %d", (int)getuid(), (int)getgid());
}
