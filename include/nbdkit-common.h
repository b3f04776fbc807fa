/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-common.h: declarations shared by plugins and filters.
 *
 * Written for nbdx from the published facts of the nbdkit ABI.  Everything
 * declared here is exported by the nbdx server binary; plugins link against
 * nothing.  Include nbdkit-plugin.h or nbdkit-filter.h, not this file.
 */

#if !defined(NBDKIT_PLUGIN_H) && !defined(NBDKIT_FILTER_H)
#error "Do not include nbdkit-common.h directly; include nbdkit-plugin.h"
#endif

#ifndef NBDKIT_COMMON_H
#define NBDKIT_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>

#include <nbdkit-version.h>

#ifdef __cplusplus
#define NBDKIT_CXX_LANG_C extern "C"
extern "C" {
#else
#define NBDKIT_CXX_LANG_C /* nothing */
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ATTRIBUTE_FORMAT_PRINTF(fmtpos, argpos)                                \
    __attribute__((__format__(__printf__, fmtpos, argpos)))
#define NBDKIT_DLL_PUBLIC __attribute__((__visibility__("default")))
#else
#define ATTRIBUTE_FORMAT_PRINTF(fmtpos, argpos)
#define NBDKIT_DLL_PUBLIC
#endif

#define NBDKIT_EXTERN_DECL(ret, fn, args) extern ret fn args

#define NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS 0
#define NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS 1
#define NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS 2
#define NBDKIT_THREAD_MODEL_PARALLEL 3

#define NBDKIT_FLAG_MAY_TRIM (1 << 0) /* Maps to !NBD_CMD_FLAG_NO_HOLE */
#define NBDKIT_FLAG_FUA (1 << 1)      /* Maps to NBD_CMD_FLAG_FUA */
#define NBDKIT_FLAG_REQ_ONE (1 << 2)  /* Maps to NBD_CMD_FLAG_REQ_ONE */
#define NBDKIT_FLAG_FAST_ZERO (1 << 3) /* Maps to NBD_CMD_FLAG_FAST_ZERO */

#define NBDKIT_FUA_NONE 0
#define NBDKIT_FUA_EMULATE 1
#define NBDKIT_FUA_NATIVE 2

#define NBDKIT_CACHE_NONE 0
#define NBDKIT_CACHE_EMULATE 1
#define NBDKIT_CACHE_NATIVE 2

#define NBDKIT_EXTENT_HOLE (1 << 0) /* Same as NBD_STATE_HOLE */
#define NBDKIT_EXTENT_ZERO (1 << 1) /* Same as NBD_STATE_ZERO */

/* Logging.  %m expands to strerror(errno) as in syslog(3). */
NBDKIT_EXTERN_DECL(void, nbdkit_error, (const char *msg, ...))
ATTRIBUTE_FORMAT_PRINTF(1, 2);
NBDKIT_EXTERN_DECL(void, nbdkit_verror, (const char *msg, va_list args))
ATTRIBUTE_FORMAT_PRINTF(1, 0);
NBDKIT_EXTERN_DECL(void, nbdkit_debug, (const char *msg, ...))
ATTRIBUTE_FORMAT_PRINTF(1, 2);
NBDKIT_EXTERN_DECL(void, nbdkit_vdebug, (const char *msg, va_list args))
ATTRIBUTE_FORMAT_PRINTF(1, 0);

/* Paths.  Both return a malloc'd string the caller frees, or NULL. */
NBDKIT_EXTERN_DECL(char *, nbdkit_absolute_path, (const char *path));
NBDKIT_EXTERN_DECL(char *, nbdkit_realpath, (const char *path));

/* Parsing configuration values.  All return -1 after nbdkit_error. */
NBDKIT_EXTERN_DECL(int64_t, nbdkit_parse_size, (const char *str));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_probability,
                   (const char *what, const char *str, double *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_bool, (const char *str));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_int,
                   (const char *what, const char *str, int *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_unsigned,
                   (const char *what, const char *str, unsigned *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_int8_t,
                   (const char *what, const char *str, int8_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_uint8_t,
                   (const char *what, const char *str, uint8_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_int16_t,
                   (const char *what, const char *str, int16_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_uint16_t,
                   (const char *what, const char *str, uint16_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_int32_t,
                   (const char *what, const char *str, int32_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_uint32_t,
                   (const char *what, const char *str, uint32_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_int64_t,
                   (const char *what, const char *str, int64_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_uint64_t,
                   (const char *what, const char *str, uint64_t *r));
NBDKIT_EXTERN_DECL(int, nbdkit_parse_delay,
                   (const char *what, const char *str, unsigned *sec,
                    unsigned *nsec));
NBDKIT_EXTERN_DECL(int, nbdkit_stdio_safe, (void));
NBDKIT_EXTERN_DECL(int, nbdkit_read_password,
                   (const char *value, char **password));

/* Sleep, returning early with -1/ESHUTDOWN when the server or the
 * connection is shutting down.
 */
NBDKIT_EXTERN_DECL(int, nbdkit_nanosleep, (unsigned sec, unsigned nsec));

/* About the current connection. */
NBDKIT_EXTERN_DECL(const char *, nbdkit_export_name, (void));
NBDKIT_EXTERN_DECL(int, nbdkit_peer_name,
                   (struct sockaddr * addr, socklen_t *addrlen));
NBDKIT_EXTERN_DECL(int64_t, nbdkit_peer_pid, (void));
NBDKIT_EXTERN_DECL(int64_t, nbdkit_peer_uid, (void));
NBDKIT_EXTERN_DECL(int64_t, nbdkit_peer_gid, (void));
NBDKIT_EXTERN_DECL(char *, nbdkit_peer_security_context, (void));
NBDKIT_EXTERN_DECL(char *, nbdkit_peer_tls_dn, (void));
NBDKIT_EXTERN_DECL(char *, nbdkit_peer_tls_issuer_dn, (void));

/* Ask the server to exit, or to drop the current client. */
NBDKIT_EXTERN_DECL(void, nbdkit_shutdown, (void));
NBDKIT_EXTERN_DECL(void, nbdkit_disconnect, (int force));

/* Server-owned strings.  Made outside a connection they live until the
 * plugin is unloaded; made inside one they live until it closes.
 */
NBDKIT_EXTERN_DECL(const char *, nbdkit_strdup_intern, (const char *str));
NBDKIT_EXTERN_DECL(const char *, nbdkit_strndup_intern,
                   (const char *str, size_t n));
NBDKIT_EXTERN_DECL(const char *, nbdkit_printf_intern, (const char *fmt, ...))
ATTRIBUTE_FORMAT_PRINTF(1, 2);
NBDKIT_EXTERN_DECL(const char *, nbdkit_vprintf_intern,
                   (const char *fmt, va_list ap))
ATTRIBUTE_FORMAT_PRINTF(1, 0);

/* Write a hexdump of buf through the debug channel. */
NBDKIT_EXTERN_DECL(void, nbdkit_debug_hexdump,
                   (const void *buf, size_t len, const char *prefix,
                    uint64_t start));

/* Extents (block status). */
struct nbdkit_extents;
struct nbdkit_extent {
    uint64_t offset;
    uint64_t length;
    uint32_t type;
};
NBDKIT_EXTERN_DECL(int, nbdkit_add_extent,
                   (struct nbdkit_extents *, uint64_t offset, uint64_t length,
                    uint32_t type));
NBDKIT_EXTERN_DECL(struct nbdkit_extents *, nbdkit_extents_new,
                   (uint64_t start, uint64_t end));
NBDKIT_EXTERN_DECL(void, nbdkit_extents_free, (struct nbdkit_extents *));
NBDKIT_EXTERN_DECL(size_t, nbdkit_extents_count,
                   (const struct nbdkit_extents *));
NBDKIT_EXTERN_DECL(struct nbdkit_extent, nbdkit_get_extent,
                   (const struct nbdkit_extents *, size_t));

/* Export lists (NBD_OPT_LIST). */
struct nbdkit_exports;
struct nbdkit_export {
    char *name;
    char *description;
};
NBDKIT_EXTERN_DECL(int, nbdkit_add_export,
                   (struct nbdkit_exports *, const char *name,
                    const char *description));
NBDKIT_EXTERN_DECL(int, nbdkit_use_default_export,
                   (struct nbdkit_exports *));

NBDKIT_EXTERN_DECL(int, nbdkit_is_tls, (void));

/* A non-NULL handle for plugins and filters that keep no per-connection
 * state (in nbdkit-common.h as in nbdkit, so filters have it too).
 */
#define NBDKIT_HANDLE_NOT_NEEDED (&errno)

#ifdef __cplusplus
}
#endif

#endif /* NBDKIT_COMMON_H */
