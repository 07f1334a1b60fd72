/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * memx client <-> donor wire protocol.
 *
 * Every field is little-endian and fixed-size. A connection starts with an
 * rdma_cm connect request whose private data is a struct memx_hello; the
 * passive side answers with a struct memx_welcome in the accept's private data
 * or a struct memx_reject in the reject's private data.
 *
 * rdma_cm limits for RC on IB/RoCE: connect private data 56 bytes, accept 196,
 * reject 148. The receiver of a connect request sees the private data padded
 * with zeros to 56 bytes, so the hello carries its own length and every byte
 * after it must be zero.
 */
#ifndef MEMX_PROTO_H
#define MEMX_PROTO_H

#include <linux/types.h>

#define MEMX_PROTO_MAGIC	0x584d454dU	/* "MEMX" read as little-endian bytes */
#define MEMX_PROTO_VERSION	7	/* 3: every connection authenticates (see "Trust"); 4: leases; 5: engine epochs; 6: CLAIM and PRUNE after a take-over; 7: a state at rest (STATE_DROP, state generations) */
#define MEMX_DEFAULT_PORT	7471

#define MEMX_CM_CONNECT_PDATA_MAX	56
#define MEMX_CM_ACCEPT_PDATA_MAX	196
#define MEMX_CM_REJECT_PDATA_MAX	148

/* Who is connecting (hello.role). */
enum memx_role {
	MEMX_ROLE_CLIENT = 1,	/* a client engine's control connection: asks for slabs */
	MEMX_ROLE_PROBE = 2,	/* a tool that only checks the donor answers */
	MEMX_ROLE_DATA = 3,	/* a client engine's data connection (one per queue): RDMA only */
	MEMX_ROLE_JOIN = 4,	/* a donor asking a client to take its memory (memxd donor --join) */
};

/*
 * Hello flags; unknown bits are rejected. MEMX_HELLO_F_STATE: a control
 * connection (CLIENT) that only reads the sealed state a detached volume left
 * on this donor (MEMX_MSG_STATE_READ); volume_id is the state's lookup tag,
 * and its MEMX_MSG_AUTH seals that tag (it proves the key, no volume secret).
 */
#define MEMX_HELLO_F_STATE	(1U << 0)
#define MEMX_HELLO_F_ALL	MEMX_HELLO_F_STATE

/*
 * Trust. Peers share a cluster key (32 bytes, named by a key id; id 0 is the
 * all-zero key of --insecure). A control connection (MEMX_ROLE_CLIENT) runs a
 * mutual challenge and response before the donor makes anything for it:
 *   hello:   key_id, token = the client's random challenge;
 *   welcome: nonce = the donor's challenge, proof = BLAKE2b keyed with the
 *            cluster key over the hello and the welcome up to the proof: the
 *            donor holds the key (the client checks it before it says more);
 *   MEMX_MSG_AUTH, the first message: the volume's 16-byte secret, hashed
 *            with the donor's id (so no donor learns what another checks),
 *            sealed (XChaCha20-Poly1305) with a session key derived from the
 *            cluster key, the hello and the welcome: the client holds the key,
 *            and this is not a replay (the donor's challenge is fresh);
 *   MEMX_MSG_AUTH_REPLY: a ticket for data connections, sealed the same way.
 * Only then does the donor make the volume (its protection domain) and bind
 * it to the secret: a later control connection for the volume must bring
 * the same secret. A data connection (MEMX_ROLE_DATA) carries the ticket in
 * token and is accepted into the volume's protection domain only if it
 * matches, before anything is made for it; a ticket lives MEMX_TICKET_MS and
 * dies with its control connection. A join (MEMX_ROLE_JOIN) carries a keyed
 * BLAKE2b of its own hello in token; a replayed join only makes the client
 * connect back, and that connection authenticates as above.
 */
#define MEMX_TOKEN_LEN		16
#define MEMX_NONCE_LEN		16
#define MEMX_PROOF_LEN		32
#define MEMX_SECRET_LEN		16	/* a volume's secret, and a data ticket */
#define MEMX_SEALED_LEN		32	/* MEMX_SECRET_LEN sealed: ciphertext, then its tag */
#define MEMX_TICKET_MS		60000

/* Sent by the active side as connect private data. Written by the client, read by the donor. */
struct memx_hello {
	__le32 magic;		/* MEMX_PROTO_MAGIC */
	__le16 version;		/* MEMX_PROTO_VERSION */
	__le16 length;		/* sizeof(struct memx_hello) */
	__le16 role;		/* enum memx_role */
	__le16 join_port;	/* MEMX_ROLE_JOIN: the port the donor listens on; else zero */
	__le32 flags;		/* MEMX_HELLO_F_*, unknown bits rejected */
	__u8 volume_id[16];	/* random identity of the client's volume */
	__le32 key_id;		/* CLIENT, JOIN: the cluster key used; DATA: zero */
	__le32 reserved0;	/* must be zero */
	__u8 token[MEMX_TOKEN_LEN];	/* by role: challenge, ticket or join MAC (above) */
};

#define MEMX_HOST_ID_LEN	16
#define MEMX_ZONE_LEN		16

/* Sent by the passive side as accept private data. Written by the donor, read by the client. */
struct memx_welcome {
	__le32 magic;
	__le16 version;
	__le16 length;		/* sizeof(struct memx_welcome) */
	__le64 memory_total;	/* bytes the donor lends in all */
	__le64 memory_free;	/* bytes not yet granted */
	__le32 max_slab_shift;	/* largest slab the donor grants, log2 bytes */
	__le32 reserved0;	/* must be zero */
	__u8 donor_id[16];	/* random identity of this donor process */
	/*
	 * Failure domains: two replicas of a slab never share a host, and never
	 * a zone when zones allow it. host_id is the donor machine's identity
	 * (from /etc/machine-id, or --host); zone is a label (--zone), both
	 * NUL-padded: [A-Za-z0-9._-] then zeros. An empty zone is no zone.
	 */
	__u8 host_id[MEMX_HOST_ID_LEN];
	char zone[MEMX_ZONE_LEN];
	__u8 nonce[MEMX_NONCE_LEN];	/* the donor's challenge */
	__u8 proof[MEMX_PROOF_LEN];	/* that the donor holds the hello's key (above) */
};

/* Why a connection was refused (reject.code). */
enum memx_reject_code {
	MEMX_REJ_MALFORMED = 1,	/* a field has a value that is not allowed */
	MEMX_REJ_BAD_MAGIC = 2,	/* not a memx peer */
	MEMX_REJ_VERSION = 3,	/* protocol version not spoken here */
	MEMX_REJ_LENGTH = 4,	/* declared length is not sizeof(struct memx_hello) */
	MEMX_REJ_ROLE = 5,	/* role not accepted by this listener */
	MEMX_REJ_BUSY = 6,	/* listener cannot take another connection now */
	MEMX_REJ_AUTH = 7,	/* credential refused */
};

#define MEMX_REJECT_REASON_LEN	96

/* Sent by the passive side as reject private data. */
struct memx_reject {
	__le32 magic;
	__le16 version;		/* the version the rejecting side speaks */
	__le16 code;		/* enum memx_reject_code */
	char reason[MEMX_REJECT_REASON_LEN];	/* NUL-terminated, human readable */
};


/*
 * Control messages travel as SEND/RECV on the connection, after the hello.
 * Each is exactly MEMX_MSG_SIZE bytes: a header and a body by type. The client
 * sends requests, the donor answers each with the matching reply and the same
 * seq. status is 0 or a positive errno (ENOSPC: no memory left, EINVAL: bad
 * request, ENOENT: no such slab).
 */
enum memx_msg_type {
	MEMX_MSG_ALLOC_SLAB = 1,	/* client -> donor: grant one slab */
	MEMX_MSG_ALLOC_REPLY = 2,	/* donor -> client */
	MEMX_MSG_FREE_SLAB = 3,		/* client -> donor: give a slab back */
	MEMX_MSG_FREE_REPLY = 4,	/* donor -> client */
	MEMX_MSG_STATS = 5,		/* client -> donor: memory figures */
	MEMX_MSG_STATS_REPLY = 6,	/* donor -> client */
	MEMX_MSG_EVICT = 7,		/* donor -> client, unsolicited: move slabs away */
	MEMX_MSG_AUTH = 8,		/* client -> donor: first message, proves the key */
	MEMX_MSG_AUTH_REPLY = 9,	/* donor -> client: the data ticket */
	MEMX_MSG_RELEASE = 10,		/* client -> donor: the volume ends (no body): free */
					/* every slab of it here now, keep no lease; the */
					/* answer is a MEMX_MSG_FREE_REPLY */
	MEMX_MSG_STATE_KEEP = 11,	/* client -> donor: a slab of the volume holds its */
					/* sealed state (detach): keep it under the lease */
	MEMX_MSG_STATE_READ = 12,	/* client -> donor, on a MEMX_HELLO_F_STATE */
					/* connection: RDMA WRITE a piece of it to me */
	MEMX_MSG_STATE_REPLY = 13,	/* donor -> client: to either */
	MEMX_MSG_CLAIM = 14,		/* client -> donor, after a take-over: these grants */
					/* kept from before it are still ours (the slab */
					/* map names them); answered FREE_REPLY */
	MEMX_MSG_PRUNE = 15,		/* client -> donor, after its CLAIMs (no body): free */
					/* every grant kept from before the take-over that */
					/* was not claimed; answered FREE_REPLY */
	MEMX_MSG_STATE_DROP = 16,	/* client -> donor: the volume changes: its state */
					/* kept here (at rest) is stale from generation */
					/* state.epoch down; answered STATE_REPLY */
};

#define MEMX_MSG_SIZE		64
#define MEMX_MIN_SLAB_SHIFT	20	/* 1 MiB */
#define MEMX_MAX_SLAB_SHIFT	34	/* 16 GiB */

struct memx_msg_hdr {
	__le32 magic;		/* MEMX_PROTO_MAGIC */
	__le16 version;		/* MEMX_PROTO_VERSION */
	__le16 type;		/* enum memx_msg_type */
	__le32 seq;		/* chosen by the requester, echoed in the reply */
	__le32 status;		/* replies: 0 or positive errno; requests: zero */
};

/*
 * The slab restores a replica that was lost or moves one off a leaving donor
 * (not a first mapping): a donor lets such copies into the room it keeps
 * beyond a client's quota, so that a failure elsewhere leaves no slab short.
 */
#define MEMX_ALLOC_F_REPAIR	(1U << 0)
#define MEMX_ALLOC_F_ALL	MEMX_ALLOC_F_REPAIR

struct memx_msg_alloc {		/* MEMX_MSG_ALLOC_SLAB */
	__le64 slab_bytes;	/* power of two, 2^MIN..2^MAX_SLAB_SHIFT */
	__le64 slab_index;	/* the client's slab number, for the donor's logs */
	__le32 flags;		/* MEMX_ALLOC_F_*, unknown bits rejected */
	__le32 reserved0;	/* must be zero */
	__le64 reserved[3];	/* must be zero */
};

struct memx_msg_grant {		/* MEMX_MSG_ALLOC_REPLY */
	__le64 remote_addr;	/* where the slab starts in the donor's address space */
	__le64 slab_bytes;
	__le32 rkey;		/* of the slab's own MR: reaches this slab only */
	__le32 handle;		/* donor's id of the grant, for FREE_SLAB */
	__le64 memory_free;	/* donor memory left after this grant */
	__le64 reserved[2];
};

struct memx_msg_free {		/* MEMX_MSG_FREE_SLAB */
	__le32 handle;		/* from the grant */
	__le32 reserved0;
	__le64 reserved[5];
};

struct memx_msg_stats {		/* MEMX_MSG_FREE_REPLY, MEMX_MSG_STATS_REPLY */
	__le64 memory_total;
	__le64 memory_free;
	__le32 slabs_granted;	/* to this client */
	__le32 reserved0;
	__le64 reserved[3];
};

#define MEMX_EVICT_F_LEAVE	(1U << 0)	/* the donor is leaving: move everything */
#define MEMX_EVICT_F_ALL	MEMX_EVICT_F_LEAVE

struct memx_msg_evict {		/* MEMX_MSG_EVICT */
	__le64 bytes;		/* how much memory the donor wants back (LEAVE: all) */
	__le32 flags;		/* MEMX_EVICT_F_*, unknown bits rejected */
	__le32 reserved0;
	__le64 reserved[4];
};

/*
 * A lease keeps a volume's grants on a donor after its control connection
 * drops, so that an engine that restarts (or attaches elsewhere) and proves the
 * same volume secret finds its data again. 0: the grants go with the
 * connection.
 */
#define MEMX_MAX_LEASE_S	3600

struct memx_msg_auth {		/* MEMX_MSG_AUTH, MEMX_MSG_AUTH_REPLY (status 0) */
	__u8 sealed[MEMX_SEALED_LEN];	/* AUTH: the volume secret; REPLY: the data ticket */
	__le32 lease_s;		/* AUTH: the lease asked for; REPLY: the lease given (<= asked) */
	__le32 slabs_kept;	/* REPLY: slabs the volume holds here already (kept under a */
				/* lease for this engine); AUTH: zero */
	__le64 epoch;		/* AUTH: the engine's epoch (each take-over of a volume adds */
				/* one); a donor refuses an epoch older than the volume's */
				/* (fencing) and closes the connections of an older one */
				/* still there; REPLY: the volume's epoch here now */
};

/*
 * A detached volume's state on its donors (memxctl volume detach, then
 * memxd client --attach anywhere with the cluster key). The engine writes it,
 * sealed (XChaCha20-Poly1305 under a key derived from the cluster key and the
 * volume's name, with its epoch as a generation), into a slab it was granted,
 * then names that slab with STATE_KEEP; the donor keeps it with the volume
 * (freed with it, or when an engine proves the volume's secret again: it is
 * stale from then on) and can neither read nor alter it undetected. A reader
 * finds it by its tag (a keyed hash of the name), asks for its size with a
 * READ of length 0, and for pieces (at most MEMX_STATE_PIECE bytes) that the
 * donor RDMA WRITEs to the reader's memory before it replies.
 *
 * An engine also keeps its state there while the volume is at rest (nothing
 * written for a while), so that a host that dies leaves the volume to be
 * attached elsewhere: before the next change it sends STATE_DROP, and the
 * donor frees the state and remembers its generation as a floor. A state's
 * generation is MEMX_STATE_GEN(engine epoch, a count the engine keeps); a
 * donor refuses to keep one at or below its floor, raises the floor to
 * MEMX_STATE_GEN(epoch, 0) when an engine of a newer epoch takes the volume
 * over, and answers a READ with no state kept ENOENT and its floor in
 * epoch: a reader trusts no state at or below a floor any donor tells it
 * (a donor that hands out a state its peers know to be stale loses).
 */
#define MEMX_STATE_SEQ_BITS	20
#define MEMX_STATE_GEN(epoch, seq)	(((__u64)(epoch) << MEMX_STATE_SEQ_BITS) | (seq))
#define MEMX_STATE_GEN_EPOCH(gen)	((gen) >> MEMX_STATE_SEQ_BITS)
#define MEMX_STATE_SEQ_MAX	((1U << MEMX_STATE_SEQ_BITS) - 1)
#define MEMX_STATE_PIECE	(1U << 20)

struct memx_msg_state {		/* MEMX_MSG_STATE_KEEP, _READ, _REPLY, _DROP */
	__u8 tag[16];		/* KEEP, DROP: the lookup tag; else zero */
	__le64 epoch;		/* KEEP: the state's generation; DROP: the newest one stale; */
				/* REPLY: the kept one's (status 0) or the floor (ENOENT, */
				/* and to a DROP); READ: 0 */
	__le64 remote_addr;	/* READ: where the piece goes in the reader's memory */
	__le32 handle;		/* KEEP: the slab that holds it; else zero */
	__le32 rkey;		/* READ: of the reader's memory */
	__le32 offset;		/* READ: where the piece starts in the state; else zero */
	__le32 length;		/* KEEP, REPLY: the sealed state's bytes; READ: the piece's */
				/* (0: only the reply) */
};

/*
 * A take-over's reconciliation: when an engine takes a volume over (its
 * epoch is newer), the donor marks every grant it keeps of the volume as
 * unclaimed. The engine CLAIMs those its slab map names, as a bitmap of
 * handles, then PRUNEs: what its predecessor held and nothing names (pooled
 * grants, a mapping or a copy it died in, frees it had deferred) is freed.
 * Grants made after the take-over are claimed already.
 */
#define MEMX_CLAIM_BITS		320

struct memx_msg_claim {		/* MEMX_MSG_CLAIM */
	__le32 first;		/* the handle of bit 0 (>= 1) */
	__le32 reserved0;	/* must be zero */
	__u8 bits[MEMX_CLAIM_BITS / 8];	/* bit i (byte i / 8, 1 << i % 8): handle first + i */
};

struct memx_msg {
	struct memx_msg_hdr hdr;
	union {
		struct memx_msg_alloc alloc;
		struct memx_msg_grant grant;
		struct memx_msg_free free;
		struct memx_msg_stats stats;
		struct memx_msg_evict evict;
		struct memx_msg_auth auth;
		struct memx_msg_state state;
		struct memx_msg_claim claim;
		__u8 raw[MEMX_MSG_SIZE - sizeof(struct memx_msg_hdr)];
	};
};

#ifdef __KERNEL__
#define MEMX_PROTO_ASSERT(c, m) static_assert(c, m)
#else
#include <assert.h>
#define MEMX_PROTO_ASSERT(c, m) static_assert(c, m)
#endif

MEMX_PROTO_ASSERT(sizeof(struct memx_hello) == 56, "hello size is part of the protocol");
MEMX_PROTO_ASSERT(sizeof(struct memx_hello) <= MEMX_CM_CONNECT_PDATA_MAX, "hello must fit CM");
MEMX_PROTO_ASSERT(sizeof(struct memx_welcome) == 128, "welcome size is part of the protocol");
MEMX_PROTO_ASSERT(sizeof(struct memx_welcome) <= MEMX_CM_ACCEPT_PDATA_MAX, "welcome must fit CM");
MEMX_PROTO_ASSERT(sizeof(struct memx_reject) == 104, "reject size is part of the protocol");
MEMX_PROTO_ASSERT(sizeof(struct memx_reject) <= MEMX_CM_REJECT_PDATA_MAX, "reject must fit CM");

MEMX_PROTO_ASSERT(sizeof(struct memx_msg) == MEMX_MSG_SIZE, "messages are fixed size");

#endif /* MEMX_PROTO_H */
