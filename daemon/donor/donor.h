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

struct donor_volume {
	bool used;
	uint8_t id[16];
	char idstr[33];
	struct mxv_ctx *ctx;	/* its own PD: isolation between clients */
	struct mxv_cq *cq;
	unsigned int nr_conns;
	uint32_t slabs;
};

struct donor_conn {
	bool used;
	uint16_t role;
	struct donor_volume *vol;
	struct mxv_conn *conn;
	uint8_t *msgbuf;	/* DONOR_RECVS receive slots, a reply slot, an evict slot */
	struct mxv_mr *msg_mr;
	char peer[64];
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
	bool leaving;			/* SIGTERM: clients are moving our slabs away */
	uint64_t leave_deadline_ns;
	uint64_t next_evict_ns;
	uint64_t evictions;
};

/* lend.c: volumes, connections, slabs and control messages. */
void lend_accept(struct donor *dn, struct mxv_req *req);
void lend_close_conn(struct donor *dn, struct donor_conn *dc, const char *why);
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
