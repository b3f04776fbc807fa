/* SPDX-License-Identifier: BSD-3-Clause */
/* methods.h: the plugin callbacks shared by the sh and eval plugins,
 * each running one script method (see nbdx-sh-plugin(1)).  The two
 * plugins differ only in where a method's script is and in how they are
 * configured.
 */

#ifndef NBDX_SH_METHODS_H
#define NBDX_SH_METHODS_H

#include <stdbool.h>
#include <stdint.h>

#include "call.h"

struct nbdkit_extents;
struct nbdkit_exports;

/* Provided by each plugin: the program to run for METHOD, or NULL if
 * there is none (the method is then missing, as if it had exited 2).
 * The string lives until unload.
 */
const char *sh_script(const char *method);

/* Whether scripts run as "/bin/sh SCRIPT METHOD..." rather than being
 * executed; set during configuration, read-only afterwards.
 */
extern bool sh_via_shell;

/* The temporary directory of $tmpdir, made by sh_tmpdir_make when the
 * first parameter is configured, or "" before that, after a failure and
 * once it is removed.
 */
extern char sh_tmpdir[];

/* Make the temporary directory and export it as $tmpdir; 0, or -1 after
 * nbdkit_error.
 */
int sh_tmpdir_make(void);

/* Remove the temporary directory and everything in it, if it was made.
 * Also called when configuration fails, since the server then exits
 * without unloading the plugin.
 */
void sh_tmpdir_remove(void);

/* Run METHOD of its script with the NULL-terminated ARGS after the method
 * name and INLEN bytes of IN on stdin.  If OUT, *OUT and *OUTLEN get its
 * stdout on CALL_OK (NUL-terminated, the caller frees it).  CALL_ERROR
 * comes after nbdkit_error with errno set from the script's stderr.
 */
enum call_status sh_run(const char *method, const char *const *args,
                        const void *in, size_t inlen, char **out,
                        size_t *outlen);

/* Report that METHOD answered false where that makes no sense; -1 with
 * errno EIO.
 */
int sh_unexpected_false(const char *method);

/* The status of a method for which CALL_OK and, if MISSING_OK,
 * CALL_MISSING mean success: 0, or -1 with the error reported.
 */
int sh_expect_ok(const char *method, enum call_status st, bool missing_ok);

/* "true" or "false", as scripts get booleans. */
const char *sh_bool(int b);

/* The handle string that open printed, for the script's arguments. */
const char *sh_handle_string(void *handle);

void sh_dump_plugin(void);
int sh_thread_model(void);
int sh_get_ready(void);
int sh_after_fork(void);
int sh_preconnect(int readonly);
void *sh_open(int readonly);
void sh_close(void *handle);
const char *sh_export_description(void *handle);
int64_t sh_get_size(void *handle);
int sh_can_write(void *handle);
int sh_can_flush(void *handle);
int sh_is_rotational(void *handle);
int sh_can_trim(void *handle);
int sh_can_zero(void *handle);
int sh_can_extents(void *handle);
int sh_can_multi_conn(void *handle);
int sh_can_fua(void *handle);
int sh_can_cache(void *handle);
int sh_can_fast_zero(void *handle);
int sh_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags);
int sh_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags);
int sh_flush(void *handle, uint32_t flags);
int sh_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags);
int sh_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags);
int sh_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents);
int sh_cache(void *handle, uint32_t count, uint64_t offset, uint32_t flags);
/* In exports.c. */
int sh_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports);
const char *sh_default_export(int readonly, int is_tls);
int sh_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum);

/* The fields of struct nbdkit_plugin that both plugins fill with the
 * callbacks above, so that the two tables cannot drift apart.
 */
#define SH_METHOD_CALLBACKS                                                    \
    .dump_plugin = sh_dump_plugin, .thread_model = sh_thread_model,            \
    .get_ready = sh_get_ready, .after_fork = sh_after_fork,                    \
    .preconnect = sh_preconnect, .open = sh_open, .close = sh_close,           \
    .export_description = sh_export_description, .get_size = sh_get_size,      \
    .can_write = sh_can_write, .can_flush = sh_can_flush,                      \
    .is_rotational = sh_is_rotational, .can_trim = sh_can_trim,                \
    .can_zero = sh_can_zero, .can_extents = sh_can_extents,                    \
    .can_multi_conn = sh_can_multi_conn, .can_fua = sh_can_fua,                \
    .can_cache = sh_can_cache, .can_fast_zero = sh_can_fast_zero,              \
    .pread = sh_pread, .pwrite = sh_pwrite, .flush = sh_flush,                 \
    .trim = sh_trim, .zero = sh_zero, .extents = sh_extents,                   \
    .cache = sh_cache, .list_exports = sh_list_exports,                        \
    .default_export = sh_default_export, .block_size = sh_block_size,          \
    .errno_is_preserved = 1

#endif /* NBDX_SH_METHODS_H */
