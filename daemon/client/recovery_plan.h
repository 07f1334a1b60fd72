/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What recovery does next, decided from the slab map alone: which slab to
 * copy or move, from which replica, which replicas a lost donor takes with
 * it. Pure: no I/O, no clock, no client. recovery.c and donors.c act on
 * these answers in the engine; the simulator (sim/) acts on them in its
 * cluster, so both run the same plan.
 */
#ifndef MEMXD_RECOVERY_PLAN_H
#define MEMXD_RECOVERY_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "client/slabmap.h"

/* A question about a donor (by its index in the client's table). */
typedef bool (*memxd_donor_pred)(uint32_t donor, void *arg);

/* Replicas a slab should have now: what was asked, as far as usable donors allow. */
unsigned int memxd_plan_wanted(unsigned int replicas, unsigned int usable_donors);

/*
 * Finds one piece of work: leaving or pressured donors first (wants_out),
 * their memory is needed back: *slab and *from (the replica slot to move
 * away); then a MAPPED slab with fewer than want live replicas: *from is -1
 * (add a copy). Returns false when there is nothing to do.
 */
bool memxd_plan_find_work(const struct memxd_slabmap *map, unsigned int want,
			  memxd_donor_pred wants_out, void *arg, uint64_t *slab, int *from);

/*
 * The replica slot a copy of slab reads from: a usable donor's, preferably
 * not slot from (the one moving away). Fills exclude with the donors of its
 * live replicas (a new copy goes to none of them), *nr_exclude their count.
 * Returns the slot or -ENODATA when no usable donor holds it.
 */
int memxd_plan_copy_source(const struct memxd_slab *slab, int from, memxd_donor_pred usable,
			   void *arg, uint32_t exclude[MEMXD_MAX_REPLICAS], int *nr_exclude);

/* Whether donor holds a live replica of a MAPPED or MIGRATING slab (a drain is not over). */
bool memxd_plan_donor_holds(const struct memxd_slabmap *map, uint32_t donor);

/* MAPPED or MIGRATING slabs with fewer than replicas live replicas. */
uint64_t memxd_plan_backlog(const struct memxd_slabmap *map, unsigned int replicas);

/* What a lost donor did to a slab (memxd_plan_donor_gone). */
enum memxd_gone {
	MEMXD_GONE_UNTOUCHED,	/* it held no live replica of the slab */
	MEMXD_GONE_DEGRADED,	/* it held one; others are live */
	MEMXD_GONE_LAST,	/* it held the last live ones: the slab is lost */
};

/*
 * A donor is lost: its replicas of slab are no longer live. The caller
 * moves a MAPPED slab left with none to LOST (a MIGRATING one is recovery's).
 */
enum memxd_gone memxd_plan_donor_gone(struct memxd_slab *slab, uint32_t donor);

/*
 * The end of a copy or a move: replicas on donors no longer usable are not
 * live. Returns the live replicas left (0: the slab is lost).
 */
unsigned int memxd_plan_settle(struct memxd_slab *slab, memxd_donor_pred usable, void *arg);

#endif /* MEMXD_RECOVERY_PLAN_H */
