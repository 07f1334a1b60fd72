// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated cluster's state and events (sim.h). Everything a client
 * engine decides is decided here by the engine's own functions over the
 * volume's donor table: where a slab's replicas go (memxd_place_replica,
 * with the volume's copysets), what a lost donor takes (memxd_plan_donor_gone),
 * what recovery does next and from where (memxd_plan_find_work,
 * memxd_plan_copy_source, memxd_plan_settle), with the slab map's states and
 * edges (memxd_slab_claim). What stands in for the network is a grant that
 * succeeds when the donor has room, and a copy that only counts its bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/recovery_plan.h"
#include "common/proc.h"
#include "sim.h"

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t sim_rand(struct sim_cluster *c)
{
	return splitmix64(&c->rng);
}

uint64_t sim_rand_aux(struct sim_cluster *c)
{
	return splitmix64(&c->rng_aux);
}

double sim_uniform(struct sim_cluster *c)
{
	return ((double)(sim_rand(c) >> 11) + 0.5) / 9007199254740992.0;	/* (0, 1) */
}

double sim_exp(struct sim_cluster *c, double mean)
{
	return -mean * log(sim_uniform(c));
}

double sim_normal(struct sim_cluster *c)
{
	return sqrt(-2 * log(sim_uniform(c))) * cos(2 * M_PI * sim_uniform(c));
}

/*
 * Local use: log-normal around the median, sigma such that the 99th
 * percentile is skew times the median (z(0.99) = 2.326); kept within
 * 2% and 95% of the donor's memory.
 */
uint64_t sim_draw_local(struct sim_cluster *c, uint64_t cap)
{
	double f = c->p->local_median * exp(c->sigma * sim_normal(c));

	f = f < 0.02 ? 0.02 : f > 0.95 ? 0.95 : f;
	return (uint64_t)(f * (double)cap);
}

uint64_t sim_donor_free(const struct sim_donor *d)
{
	return d->local + d->held >= d->cap ? 0 : d->cap - d->local - d->held;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- donors and tables -------------------------------------------------------- */

static void live_add(struct sim_cluster *c, uint32_t d)
{
	c->live_pos[d] = c->nr_live_donors;
	c->live_ids[c->nr_live_donors++] = d;
}

static void live_remove(struct sim_cluster *c, uint32_t d)
{
	uint32_t pos = c->live_pos[d], last = c->live_ids[--c->nr_live_donors];

	c->live_ids[pos] = last;
	c->live_pos[last] = pos;
	c->live_pos[d] = SIM_NONE;
}

static void set_state(struct sim_cluster *c, uint32_t d, uint8_t state)
{
	struct sim_donor *dn = &c->donor[d];

	if (dn->state == SIM_LIVE && state != SIM_LIVE)
		live_remove(c, d);
	else if (dn->state != SIM_LIVE && state == SIM_LIVE)
		live_add(c, d);
	dn->state = state;
}

uint32_t sim_pick_live(struct sim_cluster *c)
{
	return c->nr_live_donors ? c->live_ids[sim_rand_aux(c) % c->nr_live_donors] : SIM_NONE;
}

static int donor_add_vol(struct sim_donor *d, uint32_t v)
{
	if (d->nr_vols == d->cap_vols) {
		uint32_t cap = d->cap_vols ? 2 * d->cap_vols : 16;
		uint32_t *n = realloc(d->vols, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->vols = n;
		d->cap_vols = cap;
	}
	d->vols[d->nr_vols++] = v;
	return 0;
}

static void donor_remove_vol(struct sim_donor *d, uint32_t v)
{
	for (uint32_t i = 0; i < d->nr_vols; i++)
		if (d->vols[i] == v) {
			d->vols[i] = d->vols[--d->nr_vols];
			return;
		}
}

static int slot_of(const struct sim_volume *v, uint32_t d)
{
	for (uint32_t i = 0; i < v->nr_slots; i++)
		if (v->slot[i] == d)
			return (int)i;
	return -1;
}

/* Table slot i gets a live donor the volume does not have yet (as a directory would hand out). */
static void slot_fill(struct sim_cluster *c, uint32_t vi, uint32_t i)
{
	struct sim_volume *v = &c->vol[vi];

	v->slot[i] = SIM_NONE;
	for (int tries = 0; tries < 64 && c->nr_live_donors > 0; tries++) {
		uint32_t d = sim_pick_live(c);

		if (slot_of(v, d) >= 0)
			continue;
		if (donor_add_vol(&c->donor[d], vi))
			return;
		v->slot[i] = d;
		return;
	}
	c->short_tables = true;
}

/* ---- placement's and recovery's view of one volume's table --------------------- */

struct vctx {
	struct sim_cluster *c;
	struct sim_volume *v;
};

static const struct sim_donor *slot_donor(const struct vctx *x, uint32_t i)
{
	uint32_t d = i < x->v->nr_slots ? x->v->slot[i] : SIM_NONE;

	return d == SIM_NONE ? NULL : &x->c->donor[d];
}

/* The engine's donor_usable (grants.c): LIVE and not giving memory back. */
static bool slot_usable(uint32_t i, void *arg)
{
	struct vctx *x = arg;
	const struct sim_donor *d = slot_donor(x, i);

	return d && d->state == SIM_LIVE && !x->v->evict[i];
}

static uint64_t slot_free(uint32_t i, void *arg)
{
	const struct sim_donor *d = slot_donor(arg, i);

	return d ? sim_donor_free(d) : 0;
}

/* One donor per host. */
static bool slot_same_host(uint32_t a, uint32_t b, void *arg)
{
	struct vctx *x = arg;

	return x->v->slot[a] != SIM_NONE && x->v->slot[a] == x->v->slot[b];
}

/* A rack is a zone. */
static bool slot_same_zone(uint32_t a, uint32_t b, void *arg)
{
	const struct sim_donor *da = slot_donor(arg, a), *db = slot_donor(arg, b);
	struct vctx *x = arg;

	return x->c->p->zones && da && db && da->rack == db->rack;
}

/* memxd_donor_usable: a draining donor still serves reads. */
static bool slot_readable(uint32_t i, void *arg)
{
	const struct sim_donor *d = slot_donor(arg, i);

	return d && (d->state == SIM_LIVE || d->state == SIM_DRAINING);
}

/* recovery.c's donor_wants_out. */
static bool slot_wants_out(uint32_t i, void *arg)
{
	struct vctx *x = arg;
	const struct sim_donor *d = slot_donor(x, i);

	return (d && d->state == SIM_DRAINING) || x->v->evict[i];
}

static unsigned int live_slots(struct vctx *x)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < x->v->nr_slots; i++) {
		const struct sim_donor *d = slot_donor(x, i);

		n += d && d->state == SIM_LIVE;
	}
	return n;
}

/* grants.c's memxd_copysets_refresh: groups over the live donors of the table. */
static void refresh_copysets(struct sim_cluster *c, struct sim_volume *v)
{
	struct vctx x = { c, v };
	uint32_t live[MEMXD_MAX_DONORS];
	unsigned int n = 0;

	for (uint32_t i = 0; i < v->nr_slots; i++) {
		const struct sim_donor *d = slot_donor(&x, i);

		if (d && d->state == SIM_LIVE)
			live[n++] = i;
	}
	if (memxd_copysets_build(&v->cs, live, n, c->p->replicas, c->p->scatter_width,
				 slot_same_host, slot_same_zone, &x, memxd_rand, &v->rng))
		fprintf(stderr, "memx-sim: no memory for copysets\n");
}

/*
 * grants.c's memxd_grant_slab: the engine's placement, then the donor's
 * answer, here whether it has room; a refusal is remembered and the next
 * choice made, at the same tier.
 */
static int grant(struct sim_cluster *c, struct sim_volume *v, const uint32_t *exclude, int nr_exclude,
		 bool repair)
{
	struct vctx x = { c, v };
	struct memxd_place_view view = {
		.nr_donors = v->nr_slots, .slab_bytes = SIM_SLAB_BYTES, .repair = repair,
		.usable = slot_usable, .free_bytes = slot_free, .same_host = slot_same_host,
		.same_zone = slot_same_zone, .arg = &x, .copysets = &v->cs,
	};
	uint32_t tried[MEMXD_MAX_DONORS + MEMXD_MAX_REPLICAS];
	unsigned int tier = 0;
	int nr_tried = nr_exclude;

	memcpy(tried, exclude, nr_exclude * sizeof(*exclude));
	for (;;) {
		int idx = memxd_place_replica(&view, exclude, nr_exclude, tried, nr_tried, &tier,
					      c->load, memxd_rand, &v->rng);
		struct sim_donor *d;

		if (idx < 0)
			return idx;
		d = &c->donor[v->slot[idx]];
		if (sim_donor_free(d) >= SIM_SLAB_BYTES) {
			d->held += SIM_SLAB_BYTES;
			return idx;
		}
		tried[nr_tried++] = (uint32_t)idx;	/* full: only a repair asks a full donor */
	}
}

static void ungrant(struct sim_cluster *c, struct sim_volume *v, uint32_t slot)
{
	struct sim_donor *d = &c->donor[v->slot[slot]];

	d->held -= SIM_SLAB_BYTES;
}

/* grants.c's memxd_map_slab: a first write maps the slab on --replicas donors. */
static void map_slab(struct sim_cluster *c, struct sim_volume *v, uint64_t s)
{
	struct memxd_slab *slab = &v->map.slabs[s];
	uint32_t exclude[MEMXD_MAX_REPLICAS];
	uint64_t t0 = now_ns();
	int n = 0;

	if (!memxd_slab_claim(slab, MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_MAPPING))
		return;
	while ((unsigned int)n < c->p->replicas) {
		int r = grant(c, v, exclude, n, false);

		if (r < 0)
			break;
		slab->replica[n] = (struct memxd_replica){ .donor = (uint32_t)r, .live = 1 };
		exclude[n++] = (uint32_t)r;
	}
	c->st.place_ns += now_ns() - t0;
	if (!n) {
		c->st.slabs_refused++;
		memxd_slab_publish(slab, MEMXD_SLAB_UNMAPPED);
		return;
	}
	c->st.slabs_placed++;
	atomic_store(&slab->nr_replicas, (uint32_t)n);
	memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);
}

/* ---- recovery ----------------------------------------------------------------- */

static void rec_add(struct sim_cluster *c, uint32_t d, uint64_t bytes)
{
	if (!c->rec.donor_bytes[d])
		c->rec.touched[c->rec.nr_touched++] = d;
	c->rec.donor_bytes[d] += bytes;
}

void sim_recovery_begin(struct sim_cluster *c)
{
	c->rec.bytes = 0;
	c->rec.max_volume_bytes = 0;
}

uint64_t sim_recovery_take_max_donor(struct sim_cluster *c)
{
	uint64_t max_donor = 0;

	for (uint32_t i = 0; i < c->rec.nr_touched; i++) {
		uint32_t d = c->rec.touched[i];

		if (c->rec.donor_bytes[d] > max_donor)
			max_donor = c->rec.donor_bytes[d];
		c->rec.donor_bytes[d] = 0;
	}
	c->rec.nr_touched = 0;
	return max_donor;
}

double sim_recovery_end(struct sim_cluster *c)
{
	double link = c->p->link_gbps * 1e9 / 8, t;
	uint64_t max_donor = sim_recovery_take_max_donor(c);

	t = fmax((double)c->rec.max_volume_bytes / c->p->rereplicate_rate, (double)max_donor / link);
	if (c->rec.bytes) {
		c->st.recovery_bytes += c->rec.bytes;
		c->st.recovery_events++;
		c->st.recovery_s_sum += t;
		if (t > c->st.recovery_s_max)
			c->st.recovery_s_max = t;
	}
	return t;
}

/* recovery.c's memxd_end_migration. */
static void end_migration(struct sim_cluster *c, struct vctx *x, struct memxd_slab *slab)
{
	if (memxd_plan_settle(slab, slot_readable, x)) {
		memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);
	} else {
		c->st.slabs_lost++;
		memxd_slab_publish(slab, MEMXD_SLAB_LOST);
	}
}

/* recovery.c's drop_replica: a leaving donor's replica with nowhere to go, another live. */
static int drop_replica(struct sim_cluster *c, struct vctx *x, struct memxd_slab *slab, int from)
{
	if (!memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_MIGRATING))
		return -EAGAIN;
	atomic_store(&slab->replica[from].live, 0);
	ungrant(c, x->v, slab->replica[from].donor);
	c->st.drops++;
	end_migration(c, x, slab);
	return 0;
}

/* recovery.c's copy_slab: a copy to a new donor, and a move when from >= 0. */
static int copy_slab(struct sim_cluster *c, struct vctx *x, uint64_t s, int from)
{
	struct memxd_slab *slab = &x->v->map.slabs[s];
	uint32_t exclude[MEMXD_MAX_REPLICAS], nr = slab->nr_replicas;
	int nx = 0, slot = -1, src, r;

	src = memxd_plan_copy_source(slab, from, slot_readable, x, exclude, &nx);
	if (src < 0)
		return src;
	r = grant(c, x->v, exclude, nx, true);
	if (r == -ENOSPC && from >= 0 && memxd_slab_live_replicas(slab) > 1)
		return drop_replica(c, x, slab, from);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < MEMXD_MAX_REPLICAS && slot < 0; i++)
		if (i >= nr || !slab->replica[i].live)
			slot = (int)i;
	if (slot < 0 || !memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_MIGRATING)) {
		ungrant(c, x->v, (uint32_t)r);
		return -EAGAIN;
	}
	/* The copy: read from the source's link, written to the target's, one slab at a time. */
	rec_add(c, x->v->slot[slab->replica[src].donor], SIM_SLAB_BYTES);
	rec_add(c, x->v->slot[r], SIM_SLAB_BYTES);
	c->rec.bytes += SIM_SLAB_BYTES;
	c->rec.vol_bytes += SIM_SLAB_BYTES;
	slab->replica[slot] = (struct memxd_replica){ .donor = (uint32_t)r, .live = 1 };
	if ((uint32_t)slot >= nr)
		atomic_store(&slab->nr_replicas, (uint32_t)slot + 1);
	if (from >= 0) {
		atomic_store(&slab->replica[from].live, 0);
		ungrant(c, x->v, slab->replica[from].donor);
		c->st.moves++;
	} else {
		c->st.copies++;
	}
	end_migration(c, x, slab);
	return 0;
}

/* recovery.c's memxd_recovery_step, run until nothing is left (or it cannot go on). */
static void recover(struct sim_cluster *c, struct sim_volume *v)
{
	struct vctx x = { c, v };
	uint64_t guard = 4 * v->map.nr_slabs * MEMXD_MAX_REPLICAS + 16;

	c->rec.vol_bytes = 0;
	for (;;) {
		uint64_t s;
		int from, r;

		if (!memxd_plan_find_work(&v->map, memxd_plan_wanted(c->p->replicas, live_slots(&x)),
					  slot_wants_out, &x, &s, &from)) {
			memset(v->evict, 0, sizeof(v->evict));	/* nothing left to move off them */
			v->stalled = false;
			break;
		}
		r = guard-- ? copy_slab(c, &x, s, from) : -ELOOP;
		if (r) {
			/* The engine retries later; so do we (hourly), an eviction not at all. */
			memset(v->evict, 0, sizeof(v->evict));
			v->stalled = true;
			c->st.stalls++;
			break;
		}
		if (from >= 0) {
			uint32_t i = v->map.slabs[s].replica[from].donor;

			v->evict[i] = v->evict[i] > SIM_SLAB_BYTES ? v->evict[i] - SIM_SLAB_BYTES : 0;
		}
	}
	if (c->rec.vol_bytes > c->rec.max_volume_bytes)
		c->rec.max_volume_bytes = c->rec.vol_bytes;
}

/* ---- events ------------------------------------------------------------------- */

int sim_volume_arrive(struct sim_cluster *c, uint32_t vi, uint64_t slabs)
{
	struct sim_volume *v = &c->vol[vi];
	uint32_t want = c->nr_live_donors < MEMXD_MAX_DONORS ? c->nr_live_donors : MEMXD_MAX_DONORS;
	int r;

	memset(v, 0, sizeof(*v));
	v->rng = (uint32_t)sim_rand_aux(c) | 1;
	r = memxd_slabmap_init(&v->map, slabs * SIM_SLAB_BYTES, SIM_SLAB_BYTES);
	if (r)
		return r;
	v->live = true;
	v->nr_slots = want;
	for (uint32_t i = 0; i < want; i++)
		slot_fill(c, vi, i);
	refresh_copysets(c, v);
	for (uint64_t s = 0; s < v->map.nr_slabs; s++)
		map_slab(c, v, s);
	return 0;
}

void sim_volume_depart(struct sim_cluster *c, uint32_t vi)
{
	struct sim_volume *v = &c->vol[vi];

	if (!v->live)
		return;
	for (uint64_t s = 0; s < v->map.nr_slabs; s++) {
		struct memxd_slab *slab = &v->map.slabs[s];

		if (memxd_slab_state(slab) != MEMXD_SLAB_MAPPED)
			continue;
		for (uint32_t i = 0; i < slab->nr_replicas; i++)
			if (slab->replica[i].live)
				ungrant(c, v, slab->replica[i].donor);
	}
	for (uint32_t i = 0; i < v->nr_slots; i++)
		if (v->slot[i] != SIM_NONE)
			donor_remove_vol(&c->donor[v->slot[i]], vi);
	memxd_slabmap_fini(&v->map);
	memxd_copysets_fini(&v->cs);
	v->live = false;
}

static void touch(struct sim_cluster *c, uint32_t *nr, uint32_t vi)
{
	if (!c->vol[vi].mark) {
		c->vol[vi].mark = true;
		c->vol_list[(*nr)++] = vi;
	}
}

/* The volumes in the list get new donors for the slots of donors gone, then recover. */
static void refill_and_recover(struct sim_cluster *c, uint32_t nr)
{
	for (uint32_t k = 0; k < nr; k++) {
		uint32_t vi = c->vol_list[k];
		struct sim_volume *v = &c->vol[vi];

		for (uint32_t i = 0; i < v->nr_slots; i++)
			if (v->slot[i] == SIM_NONE || c->donor[v->slot[i]].state == SIM_ABSENT)
				slot_fill(c, vi, i);
		refresh_copysets(c, v);
		recover(c, v);
		v->mark = false;
	}
}

void sim_donors_fail(struct sim_cluster *c, const uint32_t *ids, uint32_t n)
{
	uint32_t nr = 0;

	/* All of them go at once: a slab whose replicas are all among them is lost. */
	for (uint32_t k = 0; k < n; k++) {
		struct sim_donor *d = &c->donor[ids[k]];

		if (d->state == SIM_ABSENT)
			continue;
		set_state(c, ids[k], SIM_ABSENT);
		d->held = 0;
	}
	for (uint32_t k = 0; k < n; k++) {
		struct sim_donor *d = &c->donor[ids[k]];

		for (uint32_t j = 0; j < d->nr_vols; j++) {
			uint32_t vi = d->vols[j];
			struct sim_volume *v = &c->vol[vi];
			int i = slot_of(v, ids[k]);

			if (i < 0)
				continue;
			/* donors.c's memxd_donor_lost over the volume's map */
			for (uint64_t s = 0; s < v->map.nr_slabs; s++) {
				struct memxd_slab *slab = &v->map.slabs[s];
				uint32_t st = memxd_slab_state(slab);

				if (st != MEMXD_SLAB_MAPPED && st != MEMXD_SLAB_MIGRATING)
					continue;
				if (memxd_plan_donor_gone(slab, (uint32_t)i) == MEMXD_GONE_LAST &&
				    memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_LOST))
					c->st.slabs_lost++;
			}
			v->slot[i] = SIM_NONE;
			touch(c, &nr, vi);
		}
		d->nr_vols = 0;
	}
	refill_and_recover(c, nr);
}

/* A draining donor that holds none of a volume's slabs is let go (recovery.c's release_drained). */
static bool release(struct sim_cluster *c, uint32_t d)
{
	struct sim_donor *dn = &c->donor[d];
	uint32_t nr = 0;

	for (uint32_t j = 0; j < dn->nr_vols; j++) {
		struct sim_volume *v = &c->vol[dn->vols[j]];
		int i = slot_of(v, d);

		if (i >= 0 && memxd_plan_donor_holds(&v->map, (uint32_t)i))
			return false;
	}
	set_state(c, d, SIM_ABSENT);
	for (uint32_t j = 0; j < dn->nr_vols; j++) {
		struct sim_volume *v = &c->vol[dn->vols[j]];
		int i = slot_of(v, d);

		if (i >= 0)
			v->slot[i] = SIM_NONE;
		touch(c, &nr, dn->vols[j]);
	}
	dn->nr_vols = 0;	/* it lends nothing now: every replica moved off gave its grant back */
	refill_and_recover(c, nr);
	return true;
}

void sim_donor_drain(struct sim_cluster *c, uint32_t d)
{
	struct sim_donor *dn = &c->donor[d];

	if (dn->state != SIM_LIVE)
		return;
	set_state(c, d, SIM_DRAINING);
	for (uint32_t j = 0; j < dn->nr_vols; j++) {
		struct sim_volume *v = &c->vol[dn->vols[j]];

		refresh_copysets(c, v);
		recover(c, v);
	}
}

uint32_t sim_release_drained(struct sim_cluster *c, uint32_t *out)
{
	uint32_t n = 0;

	for (uint32_t d = 0; d < c->p->donors; d++)
		if (c->donor[d].state == SIM_DRAINING && release(c, d))
			out[n++] = d;
	return n;
}

void sim_donor_join(struct sim_cluster *c, uint32_t d)
{
	struct sim_donor *dn = &c->donor[d];

	if (dn->state != SIM_ABSENT)
		return;
	dn->local = sim_draw_local(c, dn->cap);
	dn->held = 0;
	dn->joined_at = c->now;
	set_state(c, d, SIM_LIVE);
}

/*
 * The donor's own use grows or shrinks to new_local; if what it lends no
 * longer fits, it asks its clients for the difference (EVICT), one volume
 * after another from a random one, each up to what it holds there.
 */
void sim_donor_pressure(struct sim_cluster *c, uint32_t d, uint64_t new_local)
{
	struct sim_donor *dn = &c->donor[d];
	uint64_t over;
	uint32_t start;

	if (dn->state == SIM_ABSENT)
		return;
	dn->local = new_local;
	if (dn->local + dn->held <= dn->cap)
		return;
	over = dn->local + dn->held - dn->cap;
	start = dn->nr_vols ? (uint32_t)(sim_rand_aux(c) % dn->nr_vols) : 0;
	for (uint32_t j = 0; j < dn->nr_vols && over; j++) {
		struct sim_volume *v = &c->vol[dn->vols[(start + j) % dn->nr_vols]];
		int i = slot_of(v, d);
		uint64_t holds = 0, before = dn->held;

		if (i < 0)
			continue;
		for (uint64_t s = 0; s < v->map.nr_slabs; s++)
			if (memxd_slab_state(&v->map.slabs[s]) == MEMXD_SLAB_MAPPED &&
			    memxd_slab_on_donor(&v->map.slabs[s], (uint32_t)i))
				holds += SIM_SLAB_BYTES;
		if (!holds)
			continue;
		v->evict[i] = holds < over ? holds : over;
		recover(c, v);
		over -= before - dn->held < over ? before - dn->held : over;
	}
	c->st.evict_short_bytes += over;
}

void sim_refill_tables(struct sim_cluster *c)
{
	uint32_t nr = 0;

	if (!c->short_tables)
		return;
	c->short_tables = false;
	for (uint32_t vi = 0; vi < c->p->volumes; vi++) {
		struct sim_volume *v = &c->vol[vi];

		for (uint32_t i = 0; v->live && i < v->nr_slots; i++)
			if (v->slot[i] == SIM_NONE) {
				touch(c, &nr, vi);
				break;
			}
	}
	refill_and_recover(c, nr);
}

void sim_retry_stalled(struct sim_cluster *c)
{
	for (uint32_t vi = 0; vi < c->p->volumes; vi++)
		if (c->vol[vi].live && c->vol[vi].stalled)
			recover(c, &c->vol[vi]);
}

/* ---- setup and checks ---------------------------------------------------------- */

int sim_cluster_init(struct sim_cluster *c, const struct sim_params *p)
{
	memset(c, 0, sizeof(*c));
	c->p = p;
	c->rng = p->seed;
	c->rng_aux = p->seed ^ 0x5bd1e9955bd1e995ULL;
	c->sigma = log(p->skew) / 2.326;
	c->donor = calloc(p->donors, sizeof(*c->donor));
	c->vol = calloc(p->volumes, sizeof(*c->vol));
	c->live_ids = calloc(p->donors, sizeof(*c->live_ids));
	c->live_pos = calloc(p->donors, sizeof(*c->live_pos));
	c->vol_list = calloc(p->volumes, sizeof(*c->vol_list));
	c->rec.donor_bytes = calloc(p->donors, sizeof(*c->rec.donor_bytes));
	c->rec.touched = calloc(p->donors, sizeof(*c->rec.touched));
	c->load = calloc(MEMXD_MAX_DONORS, sizeof(*c->load));
	if (!c->donor || !c->vol || !c->live_ids || !c->live_pos || !c->vol_list ||
	    !c->rec.donor_bytes || !c->rec.touched || !c->load) {
		sim_cluster_fini(c);
		return -ENOMEM;
	}
	for (uint32_t d = 0; d < p->donors; d++) {
		c->donor[d].cap = (uint64_t)(p->donor_gib * (1ULL << 30));
		c->donor[d].rack = d / p->rack;
		c->donor[d].local = sim_draw_local(c, c->donor[d].cap);
		c->live_pos[d] = SIM_NONE;
	}
	return 0;
}

void sim_cluster_fini(struct sim_cluster *c)
{
	for (uint32_t v = 0; c->vol && v < c->p->volumes; v++)
		sim_volume_depart(c, v);
	for (uint32_t d = 0; c->donor && d < c->p->donors; d++)
		free(c->donor[d].vols);
	free(c->donor);
	free(c->vol);
	free(c->live_ids);
	free(c->live_pos);
	free(c->vol_list);
	free(c->rec.donor_bytes);
	free(c->rec.touched);
	free(c->load);
	memset(c, 0, sizeof(*c));
}

int sim_check_invariants(const struct sim_cluster *c, char *why, size_t len)
{
	uint64_t *held = calloc(c->p->donors, sizeof(*held));
	int r = 0;

	if (!held)
		return -ENOMEM;
	for (uint32_t vi = 0; vi < c->p->volumes && !r; vi++) {
		const struct sim_volume *v = &c->vol[vi];

		for (uint64_t s = 0; v->live && s < v->map.nr_slabs && !r; s++) {
			const struct memxd_slab *slab = &v->map.slabs[s];
			uint32_t on[MEMXD_MAX_REPLICAS], n = 0;

			if (memxd_slab_state(slab) != MEMXD_SLAB_MAPPED)
				continue;
			for (uint32_t i = 0; i < slab->nr_replicas && !r; i++) {
				uint32_t d;

				if (!slab->replica[i].live)
					continue;
				d = v->slot[slab->replica[i].donor];
				if (d == SIM_NONE || c->donor[d].state == SIM_ABSENT) {
					snprintf(why, len, "volume %u slab %lu: live replica on a donor gone",
						 vi, (unsigned long)s);
					r = -EINVAL;
				}
				for (uint32_t k = 0; k < n && !r; k++)
					if (on[k] == d) {
						snprintf(why, len, "volume %u slab %lu: two replicas on donor %u",
							 vi, (unsigned long)s, d);
						r = -EINVAL;
					}
				if (!r) {
					on[n++] = d;
					held[d] += SIM_SLAB_BYTES;
				}
			}
			if (!r && n > c->p->replicas) {
				snprintf(why, len, "volume %u slab %lu: %u live replicas", vi,
					 (unsigned long)s, n);
				r = -EINVAL;
			}
		}
	}
	for (uint32_t d = 0; d < c->p->donors && !r; d++)
		if (held[d] != c->donor[d].held) {
			snprintf(why, len, "donor %u lends %lu bytes, the maps say %lu", d,
				 (unsigned long)c->donor[d].held, (unsigned long)held[d]);
			r = -EINVAL;
		}
	free(held);
	return r;
}
