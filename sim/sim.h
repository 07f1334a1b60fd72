/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memx-sim: a cluster of donors and volumes over simulated time, placed and
 * recovered by the engine's own code (client/placement.c, copysets.c,
 * slabmap.c, recovery_plan.c), not a model of it.
 *
 * The cluster: donors of equal memory in racks (a rack is a zone), each with
 * local use drawn from a skewed (log-normal) distribution; what local use
 * leaves is lent to memx. A volume is one client engine: its donor table
 * holds MEMXD_MAX_DONORS donors drawn from the live ones (as a directory
 * would hand them out), its slab map and copysets are the engine's, and its
 * slabs are placed and recovered by the engine's functions over that table.
 * Recovery happens at the instant of the event; its duration is computed
 * from the bytes it copies (the engine copies one slab at a time per volume
 * at --rereplicate-rate, each donor's link carries its share at the link rate).
 */
#ifndef MEMX_SIM_H
#define MEMX_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/copysets.h"
#include "client/placement.h"
#include "client/slabmap.h"
#include "client/wrid.h"	/* MEMXD_MAX_DONORS: a client's donor table */

#define SIM_SLAB_BYTES	(64ULL << 20)	/* the engine's default --slab-size */
#define SIM_NONE	UINT32_MAX

struct sim_params {
	uint32_t donors;		/* the cluster at full strength */
	uint32_t volumes;		/* volume arrivals over the run */
	uint32_t rack;			/* donors per rack (zone) */
	unsigned int replicas;
	unsigned int scatter_width;	/* 0: today's placement without groups */
	bool zones;			/* donors report their rack as their zone */
	double hours;			/* simulated time */
	double donor_gib;		/* each donor's memory */
	double local_median;		/* median local use, share of a donor's memory */
	double skew;			/* local use: 99th percentile / median */
	double demand;			/* volumes' peak demand / memory lent */
	double fail_per_day;		/* single donor failures, per donor */
	double rack_fail_per_year;	/* whole-rack failures, per rack */
	double drain_per_day;		/* drains, per donor */
	double pressure_per_day;	/* local use redrawn (may evict), per donor */
	double repair_hours;		/* a failed or drained donor returns, empty, after this (mean) */
	double link_gbps;		/* each donor's and client's link */
	double rereplicate_rate;	/* bytes/s: one volume's copies (memxd --rereplicate-rate) */
	unsigned int trials;		/* per k in the simultaneous-failure test */
	uint64_t seed;
	bool recount;			/* check the loss counts against a recount (--check) */
};

enum sim_donor_state { SIM_ABSENT, SIM_LIVE, SIM_DRAINING };

struct sim_donor {
	uint8_t state;
	uint32_t rack;
	uint64_t cap, local, held;	/* bytes: memory, local use, slabs lent */
	double joined_at;		/* hour it last joined (empty) */
	uint32_t *vols, nr_vols, cap_vols;	/* volumes with it in their table */
};

struct sim_volume {
	bool live;
	uint32_t rng;			/* the engine's placement random source */
	uint32_t nr_slots;
	uint32_t slot[MEMXD_MAX_DONORS];	/* table slot -> cluster donor (SIM_NONE: empty) */
	uint64_t evict[MEMXD_MAX_DONORS];	/* bytes the slot's donor asks back (EVICT) */
	struct memxd_slabmap map;
	struct memxd_copysets cs;
	bool stalled;			/* recovery could not finish: retried hourly */
	bool mark;			/* scratch: in a list being built */
};

/* Bytes one event's recovery copies, and the links they load. */
struct sim_recovery {
	uint64_t bytes;
	uint64_t *donor_bytes;		/* per donor, in and out (its link) */
	uint32_t *touched, nr_touched;
	uint64_t max_volume_bytes;	/* one volume copies serially */
	uint64_t vol_bytes;		/* of the volume being recovered */
};

struct sim_stats {
	uint64_t slabs_placed, slabs_refused, slabs_lost, copies, moves, drops;
	uint64_t place_ns;		/* in the engine's placement for the slabs placed */
	uint64_t recovery_bytes, evict_short_bytes, stalls;
	double recovery_s_max, recovery_s_sum;
	uint64_t recovery_events;
};

struct sim_cluster {
	const struct sim_params *p;
	uint64_t rng;			/* the workload: the same whatever the placement */
	uint64_t rng_aux;		/* choices that depend on the placement's outcome */
	struct sim_donor *donor;
	struct sim_volume *vol;
	uint32_t nr_live_donors;	/* LIVE: new volumes' tables draw from these */
	uint32_t *live_ids, *live_pos;	/* the LIVE donors, and where each is in live_ids */
	uint32_t *vol_list;		/* scratch: volumes an event touches */
	struct sim_stats st;
	struct sim_recovery rec;
	struct memxd_donor_load *load;	/* placement's scratch */
	bool short_tables;		/* some volume's table has an empty slot */
	double now;			/* simulated hour, set by the event loop */
	double sigma;			/* of log local use */
};

/* Random numbers for the cluster (not the engine's: each volume has its own). */
uint64_t sim_rand(struct sim_cluster *c);
uint64_t sim_rand_aux(struct sim_cluster *c);
double sim_uniform(struct sim_cluster *c);
double sim_exp(struct sim_cluster *c, double mean);
double sim_normal(struct sim_cluster *c);

int sim_cluster_init(struct sim_cluster *c, const struct sim_params *p);
void sim_cluster_fini(struct sim_cluster *c);
uint64_t sim_draw_local(struct sim_cluster *c, uint64_t cap);
uint64_t sim_donor_free(const struct sim_donor *d);

/* Events. Each recovers at once and adds what it copied to c->rec (sim_recovery_begin/end). */
int sim_volume_arrive(struct sim_cluster *c, uint32_t v, uint64_t slabs);
void sim_volume_depart(struct sim_cluster *c, uint32_t v);
void sim_donors_fail(struct sim_cluster *c, const uint32_t *ids, uint32_t n);
void sim_donor_drain(struct sim_cluster *c, uint32_t d);
void sim_donor_join(struct sim_cluster *c, uint32_t d);
void sim_donor_pressure(struct sim_cluster *c, uint32_t d, uint64_t new_local);
void sim_retry_stalled(struct sim_cluster *c);
/* Volumes whose tables have empty slots get new donors, and recover onto them. */
void sim_refill_tables(struct sim_cluster *c);
/* Donors DRAINING that hold nothing more leave: the ids go to out (returns how many). */
uint32_t sim_release_drained(struct sim_cluster *c, uint32_t *out);

void sim_recovery_begin(struct sim_cluster *c);
/* Returns the seconds the recovery since sim_recovery_begin takes. */
/* The most bytes one donor took in the recovery just ended; clears the per-donor counts. */
uint64_t sim_recovery_take_max_donor(struct sim_cluster *c);
double sim_recovery_end(struct sim_cluster *c);

/* A random live donor, or SIM_NONE. */
uint32_t sim_pick_live(struct sim_cluster *c);

/* Checks the invariants (no two replicas on one donor, donors' bytes = the maps'). 0 or -EINVAL. */
int sim_check_invariants(const struct sim_cluster *c, char *why, size_t len);

/* Simultaneous failures of k donors (or one rack: k 0), over trials; on the current maps. */
struct sim_loss {
	unsigned int k, trials, losing;	/* k: donors failed (a rack: the most in one) */
	bool rack;
	double lost_slabs;		/* mean per trial */
	double recovery_bytes;		/* mean per trial: copies of the slabs that survive */
	double recovery_s;		/* mean per trial */
	uint64_t recount_mismatch;	/* trials whose independent recount differed */
};
int sim_loss(struct sim_cluster *c, unsigned int k, struct sim_loss *out);

/*
 * --one-volume: one volume's slabs on a few donors (a guest test's cluster),
 * placed by the engine over fresh copysets each trial, and fail donors at once.
 */
struct sim_one_volume {
	uint32_t donors;		/* at most MEMXD_MAX_DONORS */
	uint32_t slabs;
	uint32_t fail;			/* donors failing at once */
	uint32_t room;			/* slabs each donor can hold */
	unsigned int replicas, scatter_width, trials;
	uint64_t seed;
};
#define SIM_OV_HIST	256		/* histogram buckets: counts above land in the last */
struct sim_one_volume_result {
	unsigned int trials;
	uint32_t lost[SIM_OV_HIST];		/* slabs lost when fail random donors fail */
	uint32_t losing_pairs[SIM_OV_HIST];	/* fail 2: pairs of donors that lose a slab */
	uint32_t worst_pair[SIM_OV_HIST];	/* fail 2: slabs the worst pair loses */
	uint64_t lost_sum, pair_lost_sum, pairs;
	uint64_t short_slabs, off_copysets;	/* slabs with fewer replicas, off their groups */
};
/* Places p->slabs slabs (replicas: MEMXD_MAX_REPLICAS per slab) over fresh copysets cs. */
int sim_one_volume_place(const struct sim_one_volume *p, uint32_t *rng, uint32_t *replicas,
			 unsigned int *nr_replicas, struct memxd_copysets *cs);
int sim_one_volume(const struct sim_one_volume *p, struct sim_one_volume_result *r);
void sim_one_volume_print(FILE *f, const struct sim_one_volume *p,
			  const struct sim_one_volume_result *r);

#endif /* MEMX_SIM_H */
