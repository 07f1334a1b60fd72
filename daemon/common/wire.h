/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encode and decode the client <-> donor wire messages of <memx/proto.h>.
 * Decoders check every field, reserved ones included, before anything else
 * sees the message; on rejection they fill a reject code and a reason.
 */
#ifndef MEMXD_WIRE_H
#define MEMXD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <memx/proto.h>

/* A decoded hello, in host byte order. */
struct memxd_hello_info {
	uint16_t role;
	uint16_t join_port;	/* MEMX_ROLE_JOIN only */
	uint32_t flags;
	uint8_t volume_id[16];
	uint32_t key_id;			/* CLIENT, JOIN: the cluster key's id */
	uint8_t token[MEMX_TOKEN_LEN];		/* challenge, ticket or join MAC */
};

/* A decoded welcome, in host byte order. */
struct memxd_welcome_info {
	uint64_t memory_total;
	uint64_t memory_free;
	uint32_t max_slab_shift;
	uint8_t donor_id[16];
	uint8_t host_id[MEMX_HOST_ID_LEN];	/* the donor's machine */
	char zone[MEMX_ZONE_LEN + 1];		/* NUL-terminated; "" is no zone */
	uint8_t nonce[MEMX_NONCE_LEN];		/* the donor's challenge */
	uint8_t proof[MEMX_PROOF_LEN];		/* checked by auth.c, not here */
};

/* Whether a host or zone label is [A-Za-z0-9._-]{1,15} (a zone may also be ""). */
bool memxd_label_ok(const char *s, bool may_be_empty);

/* Why a decoder refused a message. */
struct memxd_wire_error {
	uint16_t code;		/* enum memx_reject_code */
	const char *reason;	/* static string */
};

/* Writes a hello into buf (len >= sizeof(struct memx_hello)). Returns its size or -EINVAL. */
int memxd_hello_encode(void *buf, size_t len, const struct memxd_hello_info *in);

/*
 * Checks and decodes a hello received as connect private data of len bytes
 * (bytes past the hello must be zero: rdma_cm pads). Returns 0, or -EPROTO
 * with *err saying why.
 */
int memxd_hello_decode(const void *buf, size_t len, struct memxd_hello_info *out,
		      struct memxd_wire_error *err);

/* Writes a welcome into buf. Returns its size or -EINVAL. */
int memxd_welcome_encode(void *buf, size_t len, const struct memxd_welcome_info *in);

/* Checks and decodes a welcome. Returns 0, or -EPROTO with *err saying why. */
int memxd_welcome_decode(const void *buf, size_t len, struct memxd_welcome_info *out,
			struct memxd_wire_error *err);

/* Writes a reject with a code and a reason (truncated to fit). Returns its size or -EINVAL. */
int memxd_reject_encode(void *buf, size_t len, uint16_t code, const char *reason);

/*
 * Decodes a reject into *code and reason (always NUL-terminated).
 * Returns 0, or -EPROTO when the peer's reject is not a memx reject.
 */
int memxd_reject_decode(const void *buf, size_t len, uint16_t *code, char *reason,
		       size_t reason_len);

/*
 * Writes "reason (code name)" of a peer's reject into out, for a log line.
 * Returns 0, or -EPROTO when buf is not a memx reject (out is then empty).
 */
int memxd_reject_explain(const void *buf, size_t len, char *out, size_t out_len);

/* The body of MEMX_MSG_STATE_KEEP, _READ, _REPLY and _DROP (proto.h says which field is whose). */
struct memxd_state_info {
	uint8_t tag[16];	/* KEEP, DROP */
	uint64_t epoch;		/* KEEP, DROP, REPLY: a generation */
	uint64_t remote_addr;	/* READ only */
	uint32_t handle;	/* KEEP only */
	uint32_t rkey;		/* READ only */
	uint32_t offset;	/* READ only */
	uint32_t length;	/* READ: <= MEMX_STATE_PIECE */
};

/* A decoded control message, in host byte order. Which body is valid follows from type. */
struct memxd_msg_info {
	uint16_t type;		/* enum memx_msg_type */
	uint32_t seq;
	uint32_t status;	/* replies: 0 or positive errno */
	union {
		struct {
			uint64_t slab_bytes;
			uint64_t slab_index;
			uint32_t flags;		/* MEMX_ALLOC_F_* */
		} alloc;
		struct {
			uint64_t remote_addr;
			uint64_t slab_bytes;
			uint64_t memory_free;
			uint32_t rkey;
			uint32_t handle;
		} grant;
		struct {
			uint32_t handle;
		} free;
		struct {
			uint64_t memory_total;
			uint64_t memory_free;
			uint32_t slabs_granted;
		} stats;
		struct {
			uint64_t bytes;
			uint32_t flags;
		} evict;
		struct {
			uint8_t sealed[MEMX_SEALED_LEN];
			uint32_t lease_s;	/* <= MEMX_MAX_LEASE_S */
			uint32_t slabs_kept;	/* replies only */
			uint64_t epoch;		/* the engine's; replies: the volume's */
		} auth;
		struct memxd_state_info state;
		struct {
			uint32_t first;		/* >= 1 */
			uint8_t bits[MEMX_CLAIM_BITS / 8];
		} claim;
	};
};

/* Writes a control message into buf (len >= MEMX_MSG_SIZE). Returns MEMX_MSG_SIZE or -EINVAL. */
int memxd_msg_encode(void *buf, size_t len, const struct memxd_msg_info *in);

/* Checks and decodes a received control message. Returns 0, or -EPROTO with *err. */
int memxd_msg_decode(const void *buf, size_t len, struct memxd_msg_info *out,
		    struct memxd_wire_error *err);

/* A short name for a message type, for logs. */
const char *memxd_msg_type_name(uint16_t type);

/* A short name for a reject code, for logs ("version", "malformed", ...). */
const char *memxd_reject_code_name(uint16_t code);

#endif /* MEMXD_WIRE_H */
