/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A volume at rest: its sealed state left on the donors while nothing is
 * written, so that a host that dies leaves it to `--attach` elsewhere
 * (rest.c says how).
 */
#ifndef MEMXD_REST_H
#define MEMXD_REST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct memxd_client;

enum memxd_rest_state {
	MEMXD_REST_OFF,		/* no --state-key, --rest-after 0, or no generation left */
	MEMXD_REST_BUSY,	/* changes go through; the control thread watches for quiet */
	MEMXD_REST_HELD,	/* changes wait: the state is being left, or lies, on donors */
};

struct memxd_rest {
	_Atomic int state;		/* enum memxd_rest_state: queue threads read it */
	_Atomic bool end_asked;		/* a queue thread mailed MEMXD_MAIL_REST_END */
	/* The rest: control thread only. */
	bool storing;			/* inside the keep: an end waits for it */
	bool end_after_store;
	bool kept;			/* a donor keeps the state (HELD only) */
	uint32_t seq;			/* generations used in this epoch */
	uint64_t gen;			/* the newest generation given out */
	uint64_t changes_seen;		/* changes begun, when last looked */
	uint64_t quiet_since_ns;	/* none begun since */
	uint64_t since_ns;		/* at rest since */
	uint32_t nr_kept;		/* donors that keep it */
	uint64_t rests, ends;		/* times it came to rest, and ended */
	uint64_t last_keep_ms, last_drop_ms;	/* how long the last of each took */
	uint8_t *sealed;		/* the sealed state is built here: allocated at start */
};

/* At start: on when a state key and --rest-after allow it (and its buffer could be had). */
void memxd_rest_init(struct memxd_client *c);
void memxd_rest_teardown(struct memxd_client *c);

/*
 * The control loop's turn: once no change has begun for --rest-after and the
 * volume is settled, holds changes and leaves the state on the donors.
 * Returns the milliseconds until it wants to look again, or -1.
 */
int memxd_rest_step(struct memxd_client *c);

/*
 * A change comes (a queue thread's mail, or the control thread about to
 * change the slab map): drops the state on every donor that keeps it, then
 * lets changes go. Nothing when the volume is not at rest.
 */
void memxd_rest_end(struct memxd_client *c, const char *why);

/* The next state generation of this engine's epoch; 0 when none is left. */
uint64_t memxd_rest_next_gen(struct memxd_client *c);

#endif /* MEMXD_REST_H */
