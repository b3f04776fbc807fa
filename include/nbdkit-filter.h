/* SPDX-License-Identifier: BSD-3-Clause */
/* nbdkit-filter.h: the nbdx filter API.
 *
 * The shape follows nbdkit's filter API, so a filter written for nbdkit
 * ports by recompiling.  Unlike nbdkit's, this ABI is stable within an
 * NBDX_FILTER_API_VERSION: struct nbdkit_filter is append-only behind
 * _struct_size, exactly like struct nbdkit_plugin, so a filter built
 * against an older nbdx header loads into a newer nbdx.  struct
 * nbdkit_next_ops is append-only too.  Filters compiled for nbdkit carry
 * nbdkit's API number and are refused with a clear error.
 */

#ifndef NBDKIT_FILTER_H
#define NBDKIT_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* High 16 bits spell "nx" so nbdkit's small API numbers never match. */
#define NBDX_FILTER_API_VERSION 0x6e780001

#define NBDKIT_ZERO_NONE 0
#define NBDKIT_ZERO_EMULATE 1
#define NBDKIT_ZERO_NATIVE 2

typedef struct nbdkit_backend nbdkit_backend;
typedef struct nbdkit_context nbdkit_context;
typedef struct nbdkit_next_ops nbdkit_next;

/* Calls into the next layer during configuration and connection setup. */
typedef int nbdkit_next_config(nbdkit_backend *backend, const char *key,
                               const char *value);
typedef int nbdkit_next_config_complete(nbdkit_backend *backend);
typedef int nbdkit_next_preconnect(nbdkit_backend *backend, int readonly);
typedef int nbdkit_next_list_exports(nbdkit_backend *backend, int readonly,
                                     struct nbdkit_exports *exports);
typedef const char *nbdkit_next_default_export(nbdkit_backend *backend,
                                               int readonly);
typedef int nbdkit_next_open(nbdkit_context *context, int readonly,
                             const char *exportname);

/* The next layer of one connection.  Data calls return -1 and set *err
 * on failure.
 */
struct nbdkit_next_ops {
    int (*prepare)(nbdkit_next *next);
    int (*finalize)(nbdkit_next *next);

    int64_t (*get_size)(nbdkit_next *next);
    const char *(*export_description)(nbdkit_next *next);
    int (*block_size)(nbdkit_next *next, uint32_t *minimum,
                      uint32_t *preferred, uint32_t *maximum);

    int (*can_write)(nbdkit_next *next);
    int (*can_flush)(nbdkit_next *next);
    int (*is_rotational)(nbdkit_next *next);
    int (*can_trim)(nbdkit_next *next);
    int (*can_zero)(nbdkit_next *next);
    int (*can_fast_zero)(nbdkit_next *next);
    int (*can_extents)(nbdkit_next *next);
    int (*can_fua)(nbdkit_next *next);
    int (*can_multi_conn)(nbdkit_next *next);
    int (*can_cache)(nbdkit_next *next);

    int (*pread)(nbdkit_next *next, void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err);
    int (*pwrite)(nbdkit_next *next, const void *buf, uint32_t count,
                  uint64_t offset, uint32_t flags, int *err);
    int (*flush)(nbdkit_next *next, uint32_t flags, int *err);
    int (*trim)(nbdkit_next *next, uint32_t count, uint64_t offset,
                uint32_t flags, int *err);
    int (*zero)(nbdkit_next *next, uint32_t count, uint64_t offset,
                uint32_t flags, int *err);
    int (*extents)(nbdkit_next *next, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdkit_extents *extents, int *err);
    int (*cache)(nbdkit_next *next, uint32_t count, uint64_t offset,
                 uint32_t flags, int *err);
};

struct nbdkit_filter {
    /* Set by NBDKIT_REGISTER_FILTER; do not set these yourself. */
    int _api_version;
    uint32_t _reserved;
    uint64_t _struct_size;

    const char *name;
    const char *longname;
    const char *version;
    const char *description;

    void (*load)(void);
    void (*unload)(void);

    int (*config)(nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value);
    int (*config_complete)(nbdkit_next_config_complete *next,
                           nbdkit_backend *nxdata);
    const char *config_help;

    int (*thread_model)(void);
    void (*dump_plugin)(void);
    int (*get_ready)(int thread_model);
    int (*after_fork)(nbdkit_backend *backend);
    void (*cleanup)(nbdkit_backend *backend);

    int (*preconnect)(nbdkit_next_preconnect *next, nbdkit_backend *nxdata,
                      int readonly);
    int (*list_exports)(nbdkit_next_list_exports *next,
                        nbdkit_backend *nxdata, int readonly, int is_tls,
                        struct nbdkit_exports *exports);
    const char *(*default_export)(nbdkit_next_default_export *next,
                                  nbdkit_backend *nxdata, int readonly,
                                  int is_tls);
    void *(*open)(nbdkit_next_open *next, nbdkit_context *context,
                  int readonly, const char *exportname, int is_tls);
    void (*close)(void *handle);

    int (*prepare)(nbdkit_next *next, void *handle, int readonly);
    int (*finalize)(nbdkit_next *next, void *handle);

    int64_t (*get_size)(nbdkit_next *next, void *handle);
    const char *(*export_description)(nbdkit_next *next, void *handle);
    int (*block_size)(nbdkit_next *next, void *handle, uint32_t *minimum,
                      uint32_t *preferred, uint32_t *maximum);

    int (*can_write)(nbdkit_next *next, void *handle);
    int (*can_flush)(nbdkit_next *next, void *handle);
    int (*is_rotational)(nbdkit_next *next, void *handle);
    int (*can_trim)(nbdkit_next *next, void *handle);
    int (*can_zero)(nbdkit_next *next, void *handle);
    int (*can_fast_zero)(nbdkit_next *next, void *handle);
    int (*can_extents)(nbdkit_next *next, void *handle);
    int (*can_fua)(nbdkit_next *next, void *handle);
    int (*can_multi_conn)(nbdkit_next *next, void *handle);
    int (*can_cache)(nbdkit_next *next, void *handle);

    int (*pread)(nbdkit_next *next, void *handle, void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err);
    int (*pwrite)(nbdkit_next *next, void *handle, const void *buf,
                  uint32_t count, uint64_t offset, uint32_t flags, int *err);
    int (*flush)(nbdkit_next *next, void *handle, uint32_t flags, int *err);
    int (*trim)(nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err);
    int (*zero)(nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err);
    int (*extents)(nbdkit_next *next, void *handle, uint32_t count,
                   uint64_t offset, uint32_t flags,
                   struct nbdkit_extents *extents, int *err);
    int (*cache)(nbdkit_next *next, void *handle, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err);
};

/* Extents helpers that call into the next layer. */
NBDKIT_EXTERN_DECL(int, nbdkit_extents_aligned,
                   (nbdkit_next * next, uint32_t count, uint64_t offset,
                    uint32_t flags, uint32_t align,
                    struct nbdkit_extents *extents, int *err));
NBDKIT_EXTERN_DECL(struct nbdkit_extents *, nbdkit_extents_full,
                   (nbdkit_next * next, uint32_t count, uint64_t offset,
                    uint32_t flags, int *err));

/* Export lists a filter builds or rewrites. */
NBDKIT_EXTERN_DECL(struct nbdkit_exports *, nbdkit_exports_new, (void));
NBDKIT_EXTERN_DECL(void, nbdkit_exports_free, (struct nbdkit_exports *));
NBDKIT_EXTERN_DECL(size_t, nbdkit_exports_count,
                   (const struct nbdkit_exports *));
NBDKIT_EXTERN_DECL(struct nbdkit_export, nbdkit_get_export,
                   (const struct nbdkit_exports *, size_t));

/* Independent contexts on the layer below (retry, openonce, ext2...). */
NBDKIT_EXTERN_DECL(nbdkit_backend *, nbdkit_context_get_backend,
                   (nbdkit_context * context));
NBDKIT_EXTERN_DECL(nbdkit_next *, nbdkit_next_context_open,
                   (nbdkit_backend * backend, int readonly,
                    const char *exportname, int shared));
NBDKIT_EXTERN_DECL(void, nbdkit_next_context_close, (nbdkit_next * next));
NBDKIT_EXTERN_DECL(nbdkit_next *, nbdkit_context_set_next,
                   (nbdkit_context * context, nbdkit_next *next));

#define NBDKIT_REGISTER_FILTER(filter)                                         \
    NBDKIT_CXX_LANG_C NBDKIT_DLL_PUBLIC struct nbdkit_filter *filter_init(    \
        void);                                                                 \
    NBDKIT_CXX_LANG_C NBDKIT_DLL_PUBLIC struct nbdkit_filter *filter_init(    \
        void)                                                                  \
    {                                                                          \
        (filter)._api_version = NBDX_FILTER_API_VERSION;                       \
        (filter)._struct_size = sizeof(filter);                                \
        return &(filter);                                                      \
    }

#ifdef __cplusplus
}
#endif

#endif /* NBDKIT_FILTER_H */
