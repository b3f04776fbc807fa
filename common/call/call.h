/* SPDX-License-Identifier: BSD-3-Clause */
/* call.h: run an external program once, the way the sh and eval plugins
 * run their scripts: an argument vector, a buffer written to its stdin,
 * its stdout and stderr captured whole, and its exit status read as
 * one of the four answers a script can give.  Also the errno name a
 * failing script may print at the start of its stderr.
 *
 * The caller must ignore SIGPIPE (nbdx does): a program that exits
 * without reading all its input makes the write to its stdin fail with
 * EPIPE, which is not an error here.
 *
 * Every function may be called from several threads at once: the pipes
 * are close-on-exec, so a program started by one thread never holds
 * another's pipes open.
 */

#ifndef NBDX_COMMON_CALL_H
#define NBDX_COMMON_CALL_H

#include <stddef.h>

/* What a script's exit status means. */
enum call_status {
    CALL_OK = 0,      /* exit 0: done, or true */
    CALL_ERROR = 1,   /* exit 1 or 4-255, or killed by a signal */
    CALL_MISSING = 2, /* exit 2: the script does not implement the method */
    CALL_FALSE = 3,   /* exit 3: false, for methods answering yes or no */
};

/* What one run left behind.  OUT and ERR are owned by the structure
 * (call_output_free), never NULL after a successful call_run, and have a
 * NUL byte after their LEN bytes so they can be read as strings.
 */
struct call_output {
    char *out; /* everything written to stdout */
    size_t outlen;
    char *err; /* everything written to stderr */
    size_t errlen;
    int wstatus; /* the status from waitpid(2) */
};

/* Run ARGV[0] (looked up in $PATH if it has no '/'; a file without a
 * #! line runs under /bin/sh) with the NULL-terminated ARGV, writing
 * the INLEN bytes of IN to its stdin and then closing it, and wait for
 * it to exit.  Stdin, stdout and stderr are served together, so any
 * amount of data can flow both ways.  A program that exits without
 * reading all its input is not an error.  0 with *O filled, or -1 with
 * errno set and *O empty if the program could not be started or waited
 * for.  A program that cannot be executed exits 127 (not found) or 126
 * (other errors) with a message on stderr.
 */
int call_run(const char *const *argv, const void *in, size_t inlen,
             struct call_output *o);

/* Free what O holds and empty it; a no-op on an empty (zeroed) one. */
void call_output_free(struct call_output *o);

/* The meaning of a waitpid(2) status. */
enum call_status call_status_of(int wstatus);

/* The errno named by the first word of the LEN bytes of ERR ("ENOSPC",
 * "EIO", "EPERM"... in any case), or EIO if it names none.  *MSG is set
 * to the offset of the message after that word and the blanks following
 * it (0 if no errno was named).
 */
int call_errno_parse(const char *err, size_t len, size_t *msg);

#endif /* NBDX_COMMON_CALL_H */
