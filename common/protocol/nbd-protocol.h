/* SPDX-License-Identifier: BSD-3-Clause */
/* nbd-protocol.h: the NBD wire format.
 *
 * Constants and packed structs for both phases of the protocol, shared by
 * the server and the raw test client.  All integers on the wire are
 * big-endian: convert with htobe16/be64toh & co from <endian.h>.
 * Values follow the NBD protocol document (doc/proto.md upstream), with
 * EXTENDED_HEADERS from its extension branch.
 */

#ifndef NBDX_NBD_PROTOCOL_H
#define NBDX_NBD_PROTOCOL_H

#include <stdint.h>

#define NBD_PACKED __attribute__((__packed__))

/* ---- Handshake ---- */
#define NBD_MAGIC 0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_OLD_VERSION 0x0000420281861253ULL
#define NBD_NEW_VERSION 0x49484156454F5054ULL /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ULL

/* Oldstyle greeting: the whole handshake, 152 bytes. */
struct nbd_old_handshake {
    uint64_t nbdmagic; /* NBD_MAGIC */
    uint64_t version;  /* NBD_OLD_VERSION */
    uint64_t exportsize;
    uint16_t gflags; /* always 0 */
    uint16_t eflags; /* transmission flags */
    char zeroes[124];
} NBD_PACKED;

/* Newstyle greeting, 18 bytes; the client answers a uint32_t of flags. */
struct nbd_new_handshake {
    uint64_t nbdmagic; /* NBD_MAGIC */
    uint64_t version;  /* NBD_NEW_VERSION */
    uint16_t gflags;   /* NBD_FLAG_FIXED_NEWSTYLE etc. */
} NBD_PACKED;

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE (1 << 0)
#define NBD_FLAG_NO_ZEROES (1 << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE NBD_FLAG_FIXED_NEWSTYLE
#define NBD_FLAG_C_NO_ZEROES NBD_FLAG_NO_ZEROES

/* Option request header; optlen bytes of data follow. */
struct nbd_new_option {
    uint64_t version; /* NBD_NEW_VERSION */
    uint32_t option;  /* NBD_OPT_* */
    uint32_t optlen;
} NBD_PACKED;

/* Reply to NBD_OPT_EXPORT_NAME: size and flags, then 124 zeroes unless
 * both sides agreed on NO_ZEROES.
 */
struct nbd_export_name_reply {
    uint64_t exportsize;
    uint16_t eflags;
    char zeroes[124];
} NBD_PACKED;

/* Option reply header; replylen bytes of data follow. */
struct nbd_option_reply {
    uint64_t magic;  /* NBD_REP_MAGIC */
    uint32_t option; /* echo of the option */
    uint32_t reply;  /* NBD_REP_* */
    uint32_t replylen;
} NBD_PACKED;

/* Payloads of NBD_REP_INFO. */
struct nbd_info_export {
    uint16_t info; /* NBD_INFO_EXPORT */
    uint64_t exportsize;
    uint16_t eflags;
} NBD_PACKED;

struct nbd_info_block_size {
    uint16_t info; /* NBD_INFO_BLOCK_SIZE */
    uint32_t minimum;
    uint32_t preferred;
    uint32_t maximum;
} NBD_PACKED;

/* NBD_INFO_NAME and NBD_INFO_DESCRIPTION: the type, then the string. */
struct nbd_info_string {
    uint16_t info;
} NBD_PACKED;

/* NBD_REP_SERVER: name length, name, then a description to the end. */
struct nbd_rep_server {
    uint32_t namelen;
} NBD_PACKED;

/* NBD_REP_META_CONTEXT: context id, then the context name. */
struct nbd_rep_meta_context {
    uint32_t context_id;
} NBD_PACKED;

/* Options. */
#define NBD_OPT_EXPORT_NAME 1
#define NBD_OPT_ABORT 2
#define NBD_OPT_LIST 3
#define NBD_OPT_PEEK_EXPORT 4 /* withdrawn */
#define NBD_OPT_STARTTLS 5
#define NBD_OPT_INFO 6
#define NBD_OPT_GO 7
#define NBD_OPT_STRUCTURED_REPLY 8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT 10
#define NBD_OPT_EXTENDED_HEADERS 11

/* Option replies. */
#define NBD_REP_ERR(x) (0x80000000U | (x))
#define NBD_REP_ACK 1
#define NBD_REP_SERVER 2
#define NBD_REP_INFO 3
#define NBD_REP_META_CONTEXT 4
#define NBD_REP_ERR_UNSUP NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG NBD_REP_ERR(9)
#define NBD_REP_ERR_EXT_HEADER_REQD NBD_REP_ERR(10)

/* Info types. */
#define NBD_INFO_EXPORT 0
#define NBD_INFO_NAME 1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE 3

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS (1 << 0)
#define NBD_FLAG_READ_ONLY (1 << 1)
#define NBD_FLAG_SEND_FLUSH (1 << 2)
#define NBD_FLAG_SEND_FUA (1 << 3)
#define NBD_FLAG_ROTATIONAL (1 << 4)
#define NBD_FLAG_SEND_TRIM (1 << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1 << 6)
#define NBD_FLAG_SEND_DF (1 << 7)
#define NBD_FLAG_CAN_MULTI_CONN (1 << 8)
#define NBD_FLAG_SEND_RESIZE (1 << 9)
#define NBD_FLAG_SEND_CACHE (1 << 10)
#define NBD_FLAG_SEND_FAST_ZERO (1 << 11)
#define NBD_FLAG_BLOCK_STATUS_PAYLOAD (1 << 12)

/* ---- Transmission ---- */
#define NBD_REQUEST_MAGIC 0x25609513U
#define NBD_EXTENDED_REQUEST_MAGIC 0x21e41c71U
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698U
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efU
#define NBD_EXTENDED_REPLY_MAGIC 0x6e8a278cU

/* Compact request, 28 bytes; WRITE data follows. */
struct nbd_request {
    uint32_t magic; /* NBD_REQUEST_MAGIC */
    uint16_t flags; /* NBD_CMD_FLAG_* */
    uint16_t type;  /* NBD_CMD_* */
    uint64_t cookie;
    uint64_t offset;
    uint32_t count;
} NBD_PACKED;

/* Extended request, 32 bytes; count bytes of data follow only with
 * NBD_CMD_FLAG_PAYLOAD_LEN.
 */
struct nbd_extended_request {
    uint32_t magic; /* NBD_EXTENDED_REQUEST_MAGIC */
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset;
    uint64_t count;
} NBD_PACKED;

/* Simple reply, 16 bytes; READ data follows on success. */
struct nbd_simple_reply {
    uint32_t magic; /* NBD_SIMPLE_REPLY_MAGIC */
    uint32_t error; /* NBD_E* */
    uint64_t cookie;
} NBD_PACKED;

/* Structured reply chunk header, 20 bytes; length bytes follow. */
struct nbd_structured_reply {
    uint32_t magic; /* NBD_STRUCTURED_REPLY_MAGIC */
    uint16_t flags; /* NBD_REPLY_FLAG_DONE */
    uint16_t type;  /* NBD_REPLY_TYPE_* */
    uint64_t cookie;
    uint32_t length;
} NBD_PACKED;

/* Extended reply chunk header, 32 bytes; length bytes follow. */
struct nbd_extended_reply {
    uint32_t magic; /* NBD_EXTENDED_REPLY_MAGIC */
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset; /* the request's offset */
    uint64_t length;
} NBD_PACKED;

/* Chunk payloads. */
struct nbd_chunk_offset_data {
    uint64_t offset; /* then the data */
} NBD_PACKED;

struct nbd_chunk_offset_hole {
    uint64_t offset;
    uint32_t length;
} NBD_PACKED;

struct nbd_chunk_error {
    uint32_t error;
    uint16_t len; /* then len bytes of message */
} NBD_PACKED;

struct nbd_chunk_block_status {
    uint32_t context_id; /* then nbd_block_descriptor[] */
} NBD_PACKED;

struct nbd_block_descriptor {
    uint32_t length;
    uint32_t status_flags;
} NBD_PACKED;

struct nbd_chunk_block_status_ext {
    uint32_t context_id;
    uint32_t count; /* then count nbd_block_descriptor_ext */
} NBD_PACKED;

struct nbd_block_descriptor_ext {
    uint64_t length;
    uint64_t status_flags;
} NBD_PACKED;

#define NBD_REPLY_FLAG_DONE (1 << 0)

#define NBD_REPLY_TYPE_NONE 0
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_OFFSET_HOLE 2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_BLOCK_STATUS_EXT 6
#define NBD_REPLY_TYPE_IS_ERR(t) (((t) & (1 << 15)) != 0)
#define NBD_REPLY_TYPE_ERROR ((1 << 15) + 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET ((1 << 15) + 2)

/* Commands. */
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_CACHE 5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7

/* Command flags. */
#define NBD_CMD_FLAG_FUA (1 << 0)
#define NBD_CMD_FLAG_NO_HOLE (1 << 1)
#define NBD_CMD_FLAG_DF (1 << 2)
#define NBD_CMD_FLAG_REQ_ONE (1 << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1 << 4)
#define NBD_CMD_FLAG_PAYLOAD_LEN (1 << 5)

/* Error values. */
#define NBD_SUCCESS 0
#define NBD_EPERM 1
#define NBD_EIO 5
#define NBD_ENOMEM 12
#define NBD_EINVAL 22
#define NBD_ENOSPC 28
#define NBD_EOVERFLOW 75
#define NBD_ENOTSUP 95
#define NBD_ESHUTDOWN 108

/* base:allocation states. */
#define NBD_STATE_HOLE (1 << 0)
#define NBD_STATE_ZERO (1 << 1)

/* Protocol limits. */
#define NBD_MAX_STRING 4096 /* names, queries, error messages */

/* The meta context id nbdx gives base:allocation in SET_META_CONTEXT
 * replies and BLOCK_STATUS chunks.
 */
#define NBDX_CONTEXT_BASE_ALLOCATION 1

#endif /* NBDX_NBD_PROTOCOL_H */
