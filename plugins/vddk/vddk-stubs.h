/* SPDX-License-Identifier: BSD-3-Clause */
/* vddk-stubs.h: the VixDiskLib functions the vddk plugin calls, as one
 * list for vddk.c to expand three times (pointers, dlsym, --dump-plugin):
 *   STUB(return type, name, (arguments))            required
 *   OPTIONAL_STUB(return type, name, (arguments))   NULL if missing
 * A library without a required function is refused (VDDK < 6.5).
 */

#ifndef NBDX_VDDK_STUBS_H
#define NBDX_VDDK_STUBS_H

#define VDDK_STUBS                                                             \
    STUB(VixError, VixDiskLib_InitEx,                                          \
         (uint32_t, uint32_t, VixDiskLibGenericLogFunc *,                      \
          VixDiskLibGenericLogFunc *, VixDiskLibGenericLogFunc *,              \
          const char *, const char *))                                         \
    STUB(void, VixDiskLib_Exit, (void))                                        \
    STUB(char *, VixDiskLib_GetErrorText, (VixError, const char *))            \
    STUB(void, VixDiskLib_FreeErrorText, (char *))                             \
    STUB(void, VixDiskLib_FreeConnectParams, (VixDiskLibConnectParams *))      \
    STUB(VixError, VixDiskLib_ConnectEx,                                       \
         (const VixDiskLibConnectParams *, VixBool, const char *,              \
          const char *, VixDiskLibConnection *))                               \
    STUB(VixError, VixDiskLib_Open,                                            \
         (VixDiskLibConnection, const char *, uint32_t, VixDiskLibHandle *))   \
    STUB(const char *, VixDiskLib_GetTransportMode, (VixDiskLibHandle))        \
    STUB(VixError, VixDiskLib_Close, (VixDiskLibHandle))                       \
    STUB(VixError, VixDiskLib_Disconnect, (VixDiskLibConnection))              \
    STUB(VixError, VixDiskLib_GetInfo, (VixDiskLibHandle, VixDiskLibInfo **))  \
    STUB(void, VixDiskLib_FreeInfo, (VixDiskLibInfo *))                        \
    STUB(VixError, VixDiskLib_Read,                                            \
         (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,        \
          uint8_t *))                                                          \
    STUB(VixError, VixDiskLib_Write,                                           \
         (VixDiskLibHandle, VixDiskLibSectorType, VixDiskLibSectorType,        \
          const uint8_t *))                                                    \
    STUB(VixError, VixDiskLib_Create,                                          \
         (VixDiskLibConnection, const char *, const VixDiskLibCreateParams *,  \
          VixDiskLibProgressFunc *, void *))                                   \
    STUB(VixError, VixDiskLib_Flush, (VixDiskLibHandle))                       \
    OPTIONAL_STUB(VixError, VixDiskLib_ReadAsync,                              \
                  (VixDiskLibHandle, VixDiskLibSectorType,                     \
                   VixDiskLibSectorType, uint8_t *, VixDiskLibCompletionCB,    \
                   void *))                                                    \
    OPTIONAL_STUB(VixError, VixDiskLib_WriteAsync,                             \
                  (VixDiskLibHandle, VixDiskLibSectorType,                     \
                   VixDiskLibSectorType, const uint8_t *,                      \
                   VixDiskLibCompletionCB, void *))                            \
    OPTIONAL_STUB(VixError, VixDiskLib_Wait, (VixDiskLibHandle))               \
    OPTIONAL_STUB(VixError, VixDiskLib_QueryAllocatedBlocks,                   \
                  (VixDiskLibHandle, VixDiskLibSectorType,                     \
                   VixDiskLibSectorType, VixDiskLibSectorType,                 \
                   VixDiskLibBlockList **))                                    \
    OPTIONAL_STUB(VixError, VixDiskLib_FreeBlockList, (VixDiskLibBlockList *)) \
    OPTIONAL_STUB(VixDiskLibConnectParams *, VixDiskLib_AllocateConnectParams, \
                  (void))

#endif /* NBDX_VDDK_STUBS_H */
