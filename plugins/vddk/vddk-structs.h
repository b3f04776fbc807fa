/* SPDX-License-Identifier: BSD-3-Clause */
/* vddk-structs.h: the parts of VMware's VixDiskLib API that the vddk
 * plugin uses, declared here because no VMware header is needed to build
 * nbdx.  The plugin resolves the functions with dlsym; the test stand-in
 * library in tests/vddk/ implements them.  Layouts are those of VDDK 6.7
 * and later on 64-bit Linux (LP64); the struct fields must stay in this
 * order and these types.
 */

#ifndef NBDX_VDDK_STRUCTS_H
#define NBDX_VDDK_STRUCTS_H

#include <stdarg.h>
#include <stdint.h>

/* Errors: the low 16 bits are the code. */
typedef uint64_t VixError;
#define VIX_OK 0
#define VIX_E_FAIL 1
#define VIX_E_OUT_OF_MEMORY 2
#define VIX_E_INVALID_ARG 3
#define VIX_E_FILE_NOT_FOUND 4
#define VIX_E_NOT_SUPPORTED 6
#define VIX_E_FILE_ERROR 7
#define VIX_E_DISK_FULL 8
#define VIX_E_FILE_READ_ONLY 11
#define VIX_E_FILE_ACCESS_ERROR 13
#define VIX_ASYNC 25000
#define VIX_ERROR_CODE(err) ((err)&0xffff)

#define VIXDISKLIB_SECTOR_SIZE 512

/* VixDiskLib_Open flags. */
#define VIXDISKLIB_FLAG_OPEN_UNBUFFERED 1
#define VIXDISKLIB_FLAG_OPEN_SINGLE_LINK 2
#define VIXDISKLIB_FLAG_OPEN_READ_ONLY 4
#define VIXDISKLIB_FLAG_OPEN_COMPRESSION_ZLIB 16
#define VIXDISKLIB_FLAG_OPEN_COMPRESSION_FASTLZ 32
#define VIXDISKLIB_FLAG_OPEN_COMPRESSION_SKIPZ 64

/* VixDiskLib_QueryAllocatedBlocks: chunk size in sectors, and the most
 * chunks one call may cover.
 */
#define VIXDISKLIB_MIN_CHUNK_SIZE 128
#define VIXDISKLIB_MAX_CHUNK_NUMBER (512 * 1024)

typedef void *VixDiskLibConnection;
typedef void *VixDiskLibHandle;
typedef uint64_t VixDiskLibSectorType;
typedef char VixBool;

typedef void VixDiskLibGenericLogFunc(const char *fmt, va_list args);
typedef void (*VixDiskLibCompletionCB)(void *data, VixError result);
typedef VixBool VixDiskLibProgressFunc(void *data, int percent);

enum VixDiskLibCredType {
    VIXDISKLIB_CRED_UID = 1,
    VIXDISKLIB_CRED_SESSIONID = 2,
    VIXDISKLIB_CRED_TICKETID = 3,
    VIXDISKLIB_CRED_SSPI = 4,
    VIXDISKLIB_CRED_UNKNOWN = 256,
};

enum VixDiskLibSpecType {
    VIXDISKLIB_SPEC_VMX = 0,
    VIXDISKLIB_SPEC_VSTORAGE_OBJECT = 1,
    VIXDISKLIB_SPEC_UNKNOWN = 2,
};

typedef struct VixDiskLibConnectParams {
    char *vmxSpec;    /* "moref=vm-16" */
    char *serverName; /* NULL for local files */
    char *thumbPrint;
    long reserved1;
    enum VixDiskLibCredType credType;
    union {
        struct {
            char *userName;
            char *password;
        } uid;
        struct {
            char *cookie;
            char *userName;
            char *key;
        } sessionId;
        void *reserved2;
    } creds;
    uint32_t port;
    uint32_t nfcHostPort;
    char *reserved3;
    char reserved4[8];
    void *reserved5;
    union {
        struct {
            char *id;
            char *datastoreMoRef;
            char *ssId;
        } vStorageObjSpec;
    } spec;
    enum VixDiskLibSpecType specType;
} VixDiskLibConnectParams;

enum VixDiskLibAdapterType {
    VIXDISKLIB_ADAPTER_IDE = 1,
    VIXDISKLIB_ADAPTER_SCSI_BUSLOGIC = 2,
    VIXDISKLIB_ADAPTER_SCSI_LSILOGIC = 3,
    VIXDISKLIB_ADAPTER_UNKNOWN = 256,
};

struct VixDiskLibGeometry {
    uint32_t cylinders;
    uint32_t heads;
    uint32_t sectors;
};

typedef struct VixDiskLibInfo {
    struct VixDiskLibGeometry biosGeo;
    struct VixDiskLibGeometry physGeo;
    VixDiskLibSectorType capacity; /* in sectors */
    enum VixDiskLibAdapterType adapterType;
    int numLinks;
    char *parentFileNameHint;
    char *uuid;
    uint32_t logicalSectorSize;  /* VDDK 7.0 and later */
    uint32_t physicalSectorSize; /* VDDK 7.0 and later */
} VixDiskLibInfo;

enum VixDiskLibDiskType {
    VIXDISKLIB_DISK_MONOLITHIC_SPARSE = 1,
    VIXDISKLIB_DISK_MONOLITHIC_FLAT = 2,
    VIXDISKLIB_DISK_SPLIT_SPARSE = 3,
    VIXDISKLIB_DISK_SPLIT_FLAT = 4,
    VIXDISKLIB_DISK_VMFS_FLAT = 5,
    VIXDISKLIB_DISK_STREAM_OPTIMIZED = 6,
    VIXDISKLIB_DISK_VMFS_THIN = 7,
    VIXDISKLIB_DISK_VMFS_SPARSE = 8,
};

/* Virtual hardware versions for VixDiskLib_Create. */
#define VIXDISKLIB_HWVERSION_WORKSTATION_4 3
#define VIXDISKLIB_HWVERSION_WORKSTATION_5 4
#define VIXDISKLIB_HWVERSION_WORKSTATION_6 6
#define VIXDISKLIB_HWVERSION_ESX30 4
#define VIXDISKLIB_HWVERSION_ESX4X 7
#define VIXDISKLIB_HWVERSION_ESX50 8
#define VIXDISKLIB_HWVERSION_ESX51 9
#define VIXDISKLIB_HWVERSION_ESX55 10
#define VIXDISKLIB_HWVERSION_ESX60 11
#define VIXDISKLIB_HWVERSION_ESX65 13

typedef struct VixDiskLibCreateParams {
    enum VixDiskLibDiskType diskType;
    enum VixDiskLibAdapterType adapterType;
    uint16_t hwVersion;
    VixDiskLibSectorType capacity; /* in sectors */
    uint32_t logicalSectorSize;
    uint32_t physicalSectorSize;
} VixDiskLibCreateParams;

typedef struct VixDiskLibBlock {
    VixDiskLibSectorType offset; /* in sectors */
    VixDiskLibSectorType length; /* in sectors */
} VixDiskLibBlock;

typedef struct VixDiskLibBlockList {
    uint32_t numBlocks;
    VixDiskLibBlock blocks[1]; /* numBlocks of them */
} VixDiskLibBlockList;

#endif /* NBDX_VDDK_STRUCTS_H */
