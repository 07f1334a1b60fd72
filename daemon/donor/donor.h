/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The donor role's types: the memory it lends, the client volumes it lends
 * to, their connections, and what each file of donor/ offers the others.
 * One thread does everything; no field here is shared between threads.
 */
#ifndef MEMXD_DONOR_H
#define MEMXD_DONOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/auth.h"
#include "common/directory.h"
#include "common/limits.h"
#include "common/wire.h"
#include "mxv.h"

#define DONOR_MAX_CONNS		256
#define DONOR_MAX_VOLUMES	64
#define DONOR_MAX_SLABS		65536
#define DONOR_RECVS		MEMXD_CTRL_RECVS
/*
 * A handshake a peer never finishes costs a slot and a deadline, never the
 * thread; these caps keep one source from taking every slot.
 */
#define DONOR_HALF_OPEN_MAX		64	/* accepted, not yet established, in all */
#define DONOR_HALF_OPEN_PER_SOURCE	8	/* ... from one address */
#define DONOR_CONNS_PER_SOURCE		128	/* connections of any kind from one address */
#define DONOR_HANDSHAKE_MS		MEMXD_CM_TIMEOUT_MS
/* Copies that restore replicas may go this fraction (1/4) beyond --max-per-client. */
#define DONOR_REPAIR_RESERVE_DIV	4
#define DONOR_DEFAULT_LEASE_S		120

struct donor_volume {
	bool used;
	uint8_t id[16];
	char idstr[33];		/* for logs: the id's first 8 hex digits */
	struct mxv_ctx *ctx;	/* its own PD: isolation between clients */
	struct mxv_cq *cq;	/* its data QPs' (they complete nothing here) */
	uint8_t secret[MEMX_SECRET_LEN];	/* its owner proved it; binds the volume */
	uint8_t ticket[MEMX_SECRET_LEN];	/* what its data connections must bring */
	uint64_t ticket_expiry_ns;
	uint32_t lease_s;	/* granted at authentication: keep our slabs this long without it */
	uint64_t lease_end_ns;	/* its engine is gone and the lease runs: kept until then; else 0 */
	struct donor_conn *control;	/* its authenticated control connection, or NULL */
	uint64_t epoch;		/* its engine's (AUTH): older ones are fenced off */
	unsigned int nr_conns;
	uint32_t slabs;
	uint64_t bytes;		/* lent to this volume */
	/*
	 * The address its control connection came from: the principal that
	 * --max-per-client counts, until connections authenticate.
	 */
	char owner[64];
	/*
	 * Its sealed state (MEMX_MSG_STATE_KEEP at a detach): in slab
	 * state_handle, registered again in the control PD (local access only)
	 * so that we can RDMA WRITE it to a reader. 0: none kept.
	 */
	uint32_t state_handle;
	uint32_t state_len;
	uint64_t state_epoch;		/* the kept state's generation */
	/*
	 * The newest generation known stale (STATE_DROP, or a take-over by a
	 * newer epoch): none at or below it is kept, and a reader with the
	 * tag is told it when nothing is kept (proto.h). 0: none.
	 */
	uint64_t state_floor;
	uint8_t state_tag[16];		/* set by a KEEP or a DROP */
	struct mxv_mr *state_mr;
};

struct donor_conn {
	bool used;
	bool established;	/* false: half-open, accepted but no RTU yet */
	bool authed;		/* control: its MEMX_MSG_AUTH was good; data: its ticket */
	bool refused;		/* control: its MEMX_MSG_AUTH was bad; closes at its deadline */
	bool state_reader;	/* control with MEMX_HELLO_F_STATE: reads a sealed state only */
	uint16_t role;
	struct donor_volume *vol;	/* control: NULL until authenticated */
	uint32_t key_id;
	uint8_t volume_id[16];		/* as the hello named it */
	uint8_t hello[sizeof(struct memx_hello)];	/* the handshake, as sent: the */
	uint8_t welcome[sizeof(struct memx_welcome)];	/* session key is derived from it */
	struct mxv_conn *conn;
	uint8_t *msgbuf;	/* DONOR_RECVS receive slots, a reply slot, an evict slot */
	struct mxv_mr *msg_mr;
	uint64_t deadline_ns;	/* until authenticated: destroyed if not by then */
	char peer[64];		/* "ADDR:PORT" */
	char source[64];	/* ADDR alone: what the per-source caps count */
};

struct donor_slab {
	bool used;
	/* Kept from before a take-over, not claimed by the new engine yet (PRUNE frees it). */
	bool unclaimed;
	void *mem;
	uint64_t bytes;
	struct mxv_mr *mr;
	struct donor_volume *vol;
};

struct donor {
	char host[MEMXD_HOST_MAX];
	uint16_t port;
	uint64_t memory_total, memory_granted;
	unsigned int max_slab_shift;
	uint8_t donor_id[16];
	uint8_t host_id[MEMX_HOST_ID_LEN];	/* machine-id, or --host */
	char zone[MEMX_ZONE_LEN + 1];		/* --zone; "" is none */
	char ctl_path[108];
	struct mxv_listener *listener;
	struct memxd_trust trust;	/* --key-file, --insecure */
	uint32_t allow_key[MEMXD_MAX_KEYS];	/* --allow-key; none: any key held */
	unsigned int nr_allow;
	struct mxv_ctx *ctl_ctx;	/* control connections: one PD with no remote access */
	struct mxv_cq *ctl_cq;
	struct donor_volume vol[DONOR_MAX_VOLUMES];
	struct donor_conn conn[DONOR_MAX_CONNS];
	struct donor_slab *slab;	/* DONOR_MAX_SLABS; handle = index + 1 */
	uint64_t grants, frees, rejects, auth_failures;
	char join_host[MEMXD_HOST_MAX];	/* --join: a client to offer ourselves to */
	uint16_t join_port;
	uint64_t low_watermark;		/* --low-watermark: ask memory back below this */
	unsigned int leave_timeout_s;	/* --leave-timeout */
	unsigned int max_lease_s;	/* --lease: the longest lease granted */
	bool force;			/* --force: lend more than the machine seems to have */
	bool host_given;		/* --host set host_id */
	uint64_t max_per_client;	/* --max-per-client: bytes one client address may hold */
	bool leaving;			/* SIGTERM: clients are moving our slabs away */
	uint64_t leave_deadline_ns;
	uint64_t next_evict_ns;
	uint64_t evictions;
	struct memxd_etcd_url dir_url;	/* --directory; host "" is none */
	struct memxd_dir *dir;		/* its thread, while we are listed */
};

/* lend.c: volumes, slabs and control messages. */
uint64_t lend_room_for(const struct donor *dn, const char *owner);
void lend_close_conn(struct donor *dn, struct donor_conn *dc, const char *why);
struct donor_volume *lend_volume_find(struct donor *dn, const uint8_t id[16]);
struct donor_volume *lend_volume_make(struct donor *dn, const uint8_t id[16],
				      const uint8_t secret[MEMX_SECRET_LEN]);
/* For logs: the volume a connection serves, or "-" before it authenticated. */
const char *lend_conn_volume(const struct donor_conn *dc);
/* Sends a reply on a control connection. */
void lend_send(struct donor *dn, struct donor_conn *dc, const struct memxd_msg_info *reply);
/* Makes the shared context of control connections. Returns 0 or -errno. */
int lend_start(struct donor *dn);
void lend_stop(struct donor *dn);
/* Handles the control messages that arrived. */
void lend_reap_control(struct donor *dn);

/* accept.c: connections, from the connect request to an authenticated peer. */
void lend_accept(struct donor *dn, struct mxv_req *req);
/* Something happened on a connection's CM channel: established, or gone. */
void lend_conn_event(struct donor *dn, struct donor_conn *dc);
/* Destroys unauthenticated connections past their deadline; returns ms until the next, or -1. */
int lend_expire_handshakes(struct donor *dn);
/* Frees volumes whose lease ran out; returns ms until the next ends, or -1. */
int lend_expire_leases(struct donor *dn);
/* The volume whose sealed state has this tag (the newest if several claim it), or NULL. */
struct donor_volume *lend_state_find(struct donor *dn, const uint8_t tag[16]);
/* Frees the sealed state a volume keeps, if any (a new engine proved its secret: it is stale). */
void lend_state_drop(struct donor *dn, struct donor_volume *vol);
/* A take-over: every grant kept of vol waits for the new engine's CLAIM (proto.h). */
void lend_mark_unclaimed(struct donor *dn, struct donor_volume *vol);
/* A control message on a connection that has not authenticated, or a second MEMX_MSG_AUTH. */
void accept_auth(struct donor *dn, struct donor_conn *dc, const struct memxd_msg_info *msg);

/* pressure.c: giving memory back, when short of it or leaving. */
void pressure_start_leaving(struct donor *dn);
bool pressure_leave_done(struct donor *dn);
void pressure_check(struct donor *dn);

/* opts.c */
void memxd_donor_usage(FILE *f);
int memxd_donor_parse(int argc, char **argv, struct donor *dn);

/* main.c */
int memxd_donor_main(int argc, char **argv);

#endif /* MEMXD_DONOR_H */
