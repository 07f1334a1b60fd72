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

struct donor_volume {
	bool used;
	uint8_t id[16];
	char idstr[33];
	struct mxv_ctx *ctx;	/* its own PD: isolation between clients */
	struct mxv_cq *cq;
	unsigned int nr_conns;
	uint32_t slabs;
	uint64_t bytes;		/* lent to this volume */
	/*
	 * The address its control connection came from: the principal that
	 * --max-per-client counts, until connections authenticate.
	 */
	char owner[64];
};

struct donor_conn {
	bool used;
	bool established;	/* false: half-open, accepted but no RTU yet */
	uint16_t role;
	struct donor_volume *vol;
	struct mxv_conn *conn;
	uint8_t *msgbuf;	/* DONOR_RECVS receive slots, a reply slot, an evict slot */
	struct mxv_mr *msg_mr;
	uint64_t deadline_ns;	/* half-open: destroyed if not established by then */
	char peer[64];		/* "ADDR:PORT" */
	char source[64];	/* ADDR alone: what the per-source caps count */
};

struct donor_slab {
	bool used;
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
	struct donor_volume vol[DONOR_MAX_VOLUMES];
	struct donor_conn conn[DONOR_MAX_CONNS];
	struct donor_slab *slab;	/* DONOR_MAX_SLABS; handle = index + 1 */
	uint64_t grants, frees, rejects;
	char join_host[MEMXD_HOST_MAX];	/* --join: a client to offer ourselves to */
	uint16_t join_port;
	uint64_t low_watermark;		/* --low-watermark: ask memory back below this */
	unsigned int leave_timeout_s;	/* --leave-timeout */
	bool force;			/* --force: lend more than the machine seems to have */
	bool host_given;		/* --host set host_id */
	uint64_t max_per_client;	/* --max-per-client: bytes one client address may hold */
	bool leaving;			/* SIGTERM: clients are moving our slabs away */
	uint64_t leave_deadline_ns;
	uint64_t next_evict_ns;
	uint64_t evictions;
};

/* lend.c: volumes, connections, slabs and control messages. */
void lend_accept(struct donor *dn, struct mxv_req *req);
uint64_t lend_room_for(const struct donor *dn, const char *owner);
void lend_close_conn(struct donor *dn, struct donor_conn *dc, const char *why);
/* Something happened on a connection's CM channel: established, or gone. */
void lend_conn_event(struct donor *dn, struct donor_conn *dc);
/* Destroys half-open connections past their deadline; returns ms until the next one, or -1. */
int lend_expire_handshakes(struct donor *dn);
void lend_reap_volume(struct donor *dn, struct donor_volume *vol);

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
