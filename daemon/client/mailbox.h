/* SPDX-License-Identifier: GPL-2.0 */
/* Queue threads -> control thread: typed messages (mailbox.c). */
#ifndef MEMXD_MAILBOX_H
#define MEMXD_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/slabmap.h"

enum memxd_mail_type {
	MEMXD_MAIL_MAP_SLAB = 1,	/* a first write: map this slab */
	MEMXD_MAIL_FREE_SLAB,		/* a whole-slab DISCARD: give these grants back */
	MEMXD_MAIL_DONOR_FAILED,	/* a work request to this donor failed */
	MEMXD_MAIL_REST_END,		/* a change waits: the volume is at rest (no body) */
};

struct memxd_mail {
	uint8_t type;			/* enum memxd_mail_type */
	union {
		struct {
			uint64_t slab;
		} map;
		struct {
			uint64_t slab;
			uint32_t nr_replicas;	/* the grants the slab had */
			struct memxd_replica replica[MEMXD_MAX_REPLICAS];
		} free;
		struct {
			uint32_t donor;		/* index in the donor table */
			uint32_t gen;		/* of that slot, when the work request was posted */
		} donor_failed;
	};
};

struct memxd_mailbox {
	pthread_mutex_t lock;		/* ring, head, tail */
	struct memxd_mail *ring;	/* cap messages */
	uint32_t cap, head, tail;
	int fd;				/* eventfd: a message is waiting */
};

/* Allocates room for cap messages. Returns 0 or -errno. */
int memxd_mailbox_init(struct memxd_mailbox *mb, uint32_t cap);
void memxd_mailbox_fini(struct memxd_mailbox *mb);

/* Any thread. Returns 0, or -ENOSPC when the ring is full (the caller backs off). */
int memxd_mailbox_post(struct memxd_mailbox *mb, const struct memxd_mail *mail);

/* Control thread: clears the doorbell, then takes messages one by one until false. */
void memxd_mailbox_ack(struct memxd_mailbox *mb);
bool memxd_mailbox_take(struct memxd_mailbox *mb, struct memxd_mail *out);
/* Control thread: whether a message waits (background work yields to it). */
bool memxd_mailbox_pending(struct memxd_mailbox *mb);

#endif /* MEMXD_MAILBOX_H */
