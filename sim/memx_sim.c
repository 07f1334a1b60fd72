// SPDX-License-Identifier: GPL-2.0
/*
 * memx-sim: placement and recovery at cluster scale, with the engine's own
 * code (sim.h). For each cluster size and each placement (today's: power of
 * two choices, no groups; and copysets), replays --hours of simulated time:
 * volumes arriving (until --hours * 3/4) and leaving, donors failing alone
 * and a rack at a time, draining, rejoining empty, and reclaiming memory
 * under pressure. At the peak (the last arrival) it measures utilisation,
 * balance and what k simultaneous donor failures would lose.
 *
 *   memx-sim [--sizes N[,N...]] [--volumes-per-donor V] [--out DIR] [options]
 *   memx-sim --check      a small case that asserts properties (TAP)
 *   memx-sim --one-volume DONORS,SLABS,FAIL,ROOM   one volume on a few donors (one_volume.c)
 *
 * Prints Markdown tables; with --out writes summary.csv, loss.csv,
 * timeline-*.csv and events-*.csv (for the largest size) and report.md there.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim.h"

#define MAX_SIZES	8
#define NR_K		7
static const unsigned int loss_k[NR_K] = { 1, 2, 3, 4, 5, 8, 0 };	/* 0: one rack */

/* ---- events ------------------------------------------------------------------- */

enum ev_kind { EV_ARRIVE, EV_DEPART, EV_FAIL, EV_RACK, EV_DRAIN, EV_PRESSURE, EV_JOIN, EV_HOUR,
	       EV_PEAK };

struct ev {
	double t;
	uint32_t kind, id;
};

struct heap {
	struct ev *e;
	size_t n, cap;
};

static int heap_push(struct heap *h, double t, uint32_t kind, uint32_t id)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 1024;
		struct ev *n = realloc(h->e, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		h->e = n;
		h->cap = cap;
	}
	for (i = h->n++; i && h->e[(i - 1) / 2].t > t; i = (i - 1) / 2)
		h->e[i] = h->e[(i - 1) / 2];
	h->e[i] = (struct ev){ t, kind, id };
	return 0;
}

static struct ev heap_pop(struct heap *h)
{
	struct ev top = h->e[0], last = h->e[--h->n];
	size_t i = 0;

	for (;;) {
		size_t k = 2 * i + 1;

		if (k >= h->n)
			break;
		if (k + 1 < h->n && h->e[k + 1].t < h->e[k].t)
			k++;
		if (h->e[k].t >= last.t)
			break;
		h->e[i] = h->e[k];
		i = k;
	}
	if (h->n)
		h->e[i] = last;
	return top;
}

/* ---- measurements ------------------------------------------------------------- */

struct metrics {
	uint32_t donors, volumes;
	double util_local, util, lent_used;
	double use_maxmin_local, use_maxmin;	/* memory in use per machine: max / min */
	double use_maxmed_local, use_maxmed;
	double use_maxmin_settled;		/* with memx, donors up for a day or more */
	double load_maxmin, load_maxmed;	/* slabs lent per donor */
	uint32_t idle_donors;			/* lending nothing */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : INFINITY;
}

static void measure(const struct sim_cluster *c, struct metrics *m, double *scratch)
{
	double cap = 0, local = 0, held = 0, lmin = INFINITY, lmax = 0, umin = INFINITY, umax = 0;
	double hmin = INFINITY, hmax = 0, lmed, umed, smin = INFINITY, smax = 0;
	uint32_t n = 0;

	memset(m, 0, sizeof(*m));
	for (uint32_t d = 0; d < c->p->donors; d++) {
		const struct sim_donor *dn = &c->donor[d];
		double l, u, h;

		if (dn->state == SIM_ABSENT)
			continue;
		l = (double)dn->local / (double)dn->cap;
		u = (double)(dn->local + dn->held) / (double)dn->cap;
		h = (double)dn->held;
		cap += (double)dn->cap;
		local += (double)dn->local;
		held += h;
		lmin = fmin(lmin, l);
		lmax = fmax(lmax, l);
		umin = fmin(umin, u);
		umax = fmax(umax, u);
		if (c->now - dn->joined_at >= 24) {
			smin = fmin(smin, u);
			smax = fmax(smax, u);
		}
		hmin = fmin(hmin, h);
		hmax = fmax(hmax, h);
		m->idle_donors += !dn->held;
		scratch[n] = l;
		scratch[c->p->donors + n] = u;
		scratch[2 * c->p->donors + n] = h;
		n++;
	}
	for (uint32_t v = 0; v < c->p->volumes; v++)
		m->volumes += c->vol[v].live;
	m->donors = n;
	if (!n)
		return;
	qsort(scratch, n, sizeof(double), cmp_double);
	lmed = scratch[n / 2];
	qsort(scratch + c->p->donors, n, sizeof(double), cmp_double);
	umed = scratch[c->p->donors + n / 2];
	qsort(scratch + 2 * c->p->donors, n, sizeof(double), cmp_double);
	m->util_local = local / cap;
	m->util = (local + held) / cap;
	m->lent_used = held / (cap - local);
	m->use_maxmin_local = ratio(lmax, lmin);
	m->use_maxmin = ratio(umax, umin);
	m->use_maxmin_settled = ratio(smax, smin);
	m->use_maxmed_local = ratio(lmax, lmed);
	m->use_maxmed = ratio(umax, umed);
	m->load_maxmin = ratio(hmax, hmin);
	m->load_maxmed = ratio(hmax, scratch[2 * c->p->donors + n / 2]);
}

/* ---- one run ------------------------------------------------------------------ */

struct result {
	const char *placement;
	uint32_t donors, volumes;
	double mean_slabs;		/* volume size, slabs */
	struct metrics peak;
	struct sim_loss loss[NR_K];
	struct sim_stats st;
	double wall_s;
	unsigned int invariant_failures;
	char why[256];
};

static const char *event_name(uint32_t kind)
{
	switch (kind) {
	case EV_ARRIVE: return "volume-arrives";
	case EV_DEPART: return "volume-leaves";
	case EV_FAIL: return "donor-fails";
	case EV_RACK: return "rack-fails";
	case EV_DRAIN: return "donor-drains";
	case EV_PRESSURE: return "donor-pressure";
	case EV_JOIN: return "donor-joins";
	case EV_HOUR: return "hourly";
	default: return "peak";
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Checks the invariants after an event (--check); the first failure is kept. */
static void check(const struct sim_cluster *c, struct result *res, const char *when)
{
	char why[200];

	if (!c->p->recount || !sim_check_invariants(c, why, sizeof(why)))
		return;
	if (!res->invariant_failures++)
		snprintf(res->why, sizeof(res->why), "%s: %s", when, why);
}

static int run(const struct sim_params *p, const char *placement, FILE *timeline, FILE *events,
	       struct result *res)
{
	double T = p->hours, t_arrive = 0.75 * T, life = 0.5 * T, t0 = now_s();
	double lent = 0, peak_live, mean_slabs, *scratch;
	uint32_t *released, racks = (p->donors + p->rack - 1) / p->rack;
	struct sim_cluster c;
	struct heap h = { 0 };
	int r;

	memset(res, 0, sizeof(*res));
	res->placement = placement;
	res->donors = p->donors;
	res->volumes = p->volumes;
	r = sim_cluster_init(&c, p);
	if (r)
		return r;
	scratch = calloc(3 * (size_t)p->donors, sizeof(*scratch));
	released = calloc(p->donors, sizeof(*released));
	if (!scratch || !released) {
		r = -ENOMEM;
		goto out;
	}
	/* Most donors are there at the start; the others join in the first half. */
	for (uint32_t d = 0; d < p->donors; d++) {
		lent += (double)(c.donor[d].cap - c.donor[d].local);
		if (sim_uniform(&c) < 0.95)
			sim_donor_join(&c, d);
		else
			heap_push(&h, sim_uniform(&c) * T / 2, EV_JOIN, d);
	}
	/* Volumes sized so that at the peak they ask for --demand of what donors lend. */
	peak_live = p->volumes / t_arrive * life * (1 - exp(-t_arrive / life));
	mean_slabs = p->demand * lent / SIM_SLAB_BYTES / (p->replicas * peak_live);
	res->mean_slabs = mean_slabs = mean_slabs < 1 ? 1 : mean_slabs;
	for (uint32_t v = 0; v < p->volumes; v++)
		heap_push(&h, sim_uniform(&c) * t_arrive, EV_ARRIVE, v);
	heap_push(&h, sim_exp(&c, 24 / (p->fail_per_day * p->donors)), EV_FAIL, 0);
	heap_push(&h, sim_exp(&c, 8760 / (p->rack_fail_per_year * racks)), EV_RACK, 0);
	heap_push(&h, sim_exp(&c, 24 / (p->drain_per_day * p->donors)), EV_DRAIN, 0);
	heap_push(&h, sim_exp(&c, 24 / (p->pressure_per_day * p->donors)), EV_PRESSURE, 0);
	heap_push(&h, 1, EV_HOUR, 0);
	heap_push(&h, t_arrive, EV_PEAK, 0);
	if (timeline)
		fprintf(timeline, "hour,donors,volumes,util_local,util,use_maxmin_local,use_maxmin,"
			"load_maxmin,load_maxmed,idle_donors,slabs_lost,recovery_gib,use_maxmin_settled\n");
	if (events)
		fprintf(events, "hour,event,donors,slabs_lost,recovery_gib,recovery_s\n");
	while (h.n) {
		struct ev e = heap_pop(&h);
		uint64_t lost_before = c.st.slabs_lost;
		uint32_t ids[1024], n = 0, d;
		double rec_s;

		if (e.t > T)
			break;
		c.now = e.t;
		sim_recovery_begin(&c);
		switch (e.kind) {
		case EV_ARRIVE:
			if (!sim_volume_arrive(&c, e.id, 1 + (uint64_t)sim_exp(&c, mean_slabs - 1)))
				heap_push(&h, e.t + sim_exp(&c, life), EV_DEPART, e.id);
			break;
		case EV_DEPART:
			sim_volume_depart(&c, e.id);
			break;
		case EV_FAIL:
		case EV_RACK:
			if (e.kind == EV_FAIL) {
				d = (uint32_t)(sim_rand(&c) % p->donors);
				if (c.donor[d].state != SIM_ABSENT)
					ids[n++] = d;
				heap_push(&h, e.t + sim_exp(&c, 24 / (p->fail_per_day * p->donors)),
					  EV_FAIL, 0);
			} else {
				uint32_t rk = (uint32_t)(sim_rand(&c) % racks);

				for (d = rk * p->rack; d < p->donors && d < (rk + 1) * p->rack && n < 1024; d++)
					if (c.donor[d].state != SIM_ABSENT)
						ids[n++] = d;
				heap_push(&h, e.t + sim_exp(&c, 8760 / (p->rack_fail_per_year * racks)),
					  EV_RACK, 0);
			}
			sim_donors_fail(&c, ids, n);
			for (uint32_t k = 0; k < n; k++)
				heap_push(&h, e.t + sim_exp(&c, p->repair_hours), EV_JOIN, ids[k]);
			break;
		case EV_DRAIN:
			/* The workload's choice: any donor, drained if it is live. */
			d = (uint32_t)(sim_rand(&c) % p->donors);
			if (c.donor[d].state == SIM_LIVE) {
				sim_donor_drain(&c, d);
				n = 1;
			}
			heap_push(&h, e.t + sim_exp(&c, 24 / (p->drain_per_day * p->donors)), EV_DRAIN, 0);
			break;
		case EV_PRESSURE:
			d = (uint32_t)(sim_rand(&c) % p->donors);
			sim_donor_pressure(&c, d, sim_draw_local(&c, c.donor[d].cap));
			heap_push(&h, e.t + sim_exp(&c, 24 / (p->pressure_per_day * p->donors)),
				  EV_PRESSURE, 0);
			break;
		case EV_JOIN:
			sim_donor_join(&c, e.id);
			break;
		case EV_HOUR:
		case EV_PEAK:
			sim_refill_tables(&c);
			sim_retry_stalled(&c);
			break;
		}
		/* Drained donors leave (and come back, empty, after their maintenance). */
		if (e.kind == EV_DRAIN || e.kind == EV_HOUR)
			for (uint32_t k = 0, nr = sim_release_drained(&c, released); k < nr; k++)
				heap_push(&h, e.t + sim_exp(&c, p->repair_hours), EV_JOIN, released[k]);
		rec_s = sim_recovery_end(&c);
		if (events && (e.kind == EV_FAIL || e.kind == EV_RACK || e.kind == EV_DRAIN) && n)
			fprintf(events, "%.3f,%s,%u,%lu,%.3f,%.2f\n", e.t, event_name(e.kind), n,
				(unsigned long)(c.st.slabs_lost - lost_before),
				(double)c.rec.bytes / (1 << 30), rec_s);
		if (p->recount)
			check(&c, res, event_name(e.kind));
		if (e.kind == EV_HOUR) {
			struct metrics m;

			measure(&c, &m, scratch);
			if (timeline)
				fprintf(timeline, "%.0f,%u,%u,%.4f,%.4f,%.3f,%.3f,%.3f,%.3f,%u,%lu,%.1f,%.3f\n",
					e.t, m.donors, m.volumes, m.util_local, m.util,
					m.use_maxmin_local, m.use_maxmin, m.load_maxmin, m.load_maxmed,
					m.idle_donors, (unsigned long)c.st.slabs_lost,
					(double)c.st.recovery_bytes / (1 << 30), m.use_maxmin_settled);
			heap_push(&h, e.t + 1, EV_HOUR, 0);
		}
		if (e.kind == EV_PEAK) {
			measure(&c, &res->peak, scratch);
			check(&c, res, "peak");
			for (int k = 0; k < NR_K; k++) {
				r = sim_loss(&c, loss_k[k], &res->loss[k]);
				if (r)
					goto out;
			}
		}
	}
	check(&c, res, "end");
	res->st = c.st;
	res->wall_s = now_s() - t0;
	r = 0;
out:
	free(h.e);
	free(scratch);
	free(released);
	sim_cluster_fini(&c);
	return r;
}

/* ---- output ------------------------------------------------------------------- */

static double place_ns(const struct result *r)
{
	uint64_t n = r->st.slabs_placed + r->st.slabs_refused;

	return n ? (double)r->st.place_ns / (double)n : 0;
}

static void print_summary(FILE *f, const struct result *res, int n)
{
	fprintf(f, "| donors | volumes | placement | memory use, local only -> with memx | "
		"lent memory used | machine use max/min, local -> with memx | "
		"with memx, donors up a day or more | "
		"donor load max/min | max/median | placement ns/slab | slabs refused | "
		"slabs lost in the run | recovery GiB | recovery s (mean / max) | run s |\n"
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		const struct result *r = &res[i];

		fprintf(f, "| %u | %u | %s | %.1f%% -> %.1f%% | %.1f%% | %.1fx -> %.2fx | %.2fx | %.2fx | "
			"%.2fx | %.0f | %lu | %lu | %.0f | %.1f / %.1f | %.1f |\n",
			r->donors, r->volumes, r->placement, 100 * r->peak.util_local,
			100 * r->peak.util, 100 * r->peak.lent_used, r->peak.use_maxmin_local,
			r->peak.use_maxmin, r->peak.use_maxmin_settled, r->peak.load_maxmin,
			r->peak.load_maxmed, place_ns(r),
			(unsigned long)r->st.slabs_refused, (unsigned long)r->st.slabs_lost,
			(double)r->st.recovery_bytes / (1 << 30),
			r->st.recovery_events ? r->st.recovery_s_sum / r->st.recovery_events : 0,
			r->st.recovery_s_max, r->wall_s);
	}
}

static void print_loss(FILE *f, const struct result *res, int n)
{
	fprintf(f, "| donors | placement | donors failing at once | P(data lost) | "
		"slabs lost (mean) | recovery GiB (mean) | recovery s (mean) |\n"
		"|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < NR_K; k++) {
			const struct sim_loss *l = &res[i].loss[k];
			char what[32];

			if (l->rack)
				snprintf(what, sizeof(what), "a rack (%u)", l->k);
			else
				snprintf(what, sizeof(what), "%u", l->k);
			fprintf(f, "| %u | %s | %s | %.4f | %.2f | %.1f | %.1f |\n", res[i].donors,
				res[i].placement, what, l->trials ? (double)l->losing / l->trials : 0,
				l->lost_slabs, l->recovery_bytes / (1 << 30), l->recovery_s);
		}
}

static void write_csv(const char *dir, const struct result *res, int n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/summary.csv", dir);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "donors,volumes,placement,util_local,util,lent_used,use_maxmin_local,"
			"use_maxmin,use_maxmed_local,use_maxmed,load_maxmin,load_maxmed,idle_donors,"
			"place_ns,slabs_placed,slabs_refused,slabs_lost,recovery_gib,recovery_s_mean,"
			"recovery_s_max,copies,moves,drops,evict_short_gib,run_s,use_maxmin_settled\n");
		for (int i = 0; i < n; i++) {
			const struct result *r = &res[i];

			fprintf(f, "%u,%u,%s,%.4f,%.4f,%.4f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%u,%.0f,%lu,%lu,"
				"%lu,%.1f,%.2f,%.2f,%lu,%lu,%lu,%.1f,%.1f,%.3f\n",
				r->donors, r->volumes, r->placement, r->peak.util_local, r->peak.util,
				r->peak.lent_used, r->peak.use_maxmin_local, r->peak.use_maxmin,
				r->peak.use_maxmed_local, r->peak.use_maxmed, r->peak.load_maxmin,
				r->peak.load_maxmed, r->peak.idle_donors, place_ns(r),
				(unsigned long)r->st.slabs_placed, (unsigned long)r->st.slabs_refused,
				(unsigned long)r->st.slabs_lost,
				(double)r->st.recovery_bytes / (1 << 30),
				r->st.recovery_events ? r->st.recovery_s_sum / r->st.recovery_events : 0,
				r->st.recovery_s_max, (unsigned long)r->st.copies,
				(unsigned long)r->st.moves, (unsigned long)r->st.drops,
				(double)r->st.evict_short_bytes / (1 << 30), r->wall_s,
				r->peak.use_maxmin_settled);
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/loss.csv", dir);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "donors,placement,k,rack,trials,p_loss,lost_slabs,recovery_gib,recovery_s\n");
		for (int i = 0; i < n; i++)
			for (int k = 0; k < NR_K; k++) {
				const struct sim_loss *l = &res[i].loss[k];

				fprintf(f, "%u,%s,%u,%d,%u,%.5f,%.3f,%.2f,%.2f\n", res[i].donors,
					res[i].placement, l->k, l->rack, l->trials,
					l->trials ? (double)l->losing / l->trials : 0, l->lost_slabs,
					l->recovery_bytes / (1 << 30), l->recovery_s);
			}
		fclose(f);
	}
}

/* ---- --check: a small case, properties asserted, TAP ------------------------- */

/* --one-volume on test_cluster_13's cluster: six donors, 24 slabs, two failing. */
static int check_one_volume(int *t)
{
	struct sim_one_volume p = { .donors = 6, .slabs = 24, .fail = 2, .room = 16,
				    .replicas = 2, .trials = 2000, .seed = 7 };
	struct sim_one_volume_result r[3];
	static const unsigned int width[3] = { 0, 2, 4 };
	unsigned int max_w2 = 0;
	bool exact = true, placed = true;
	int failed = 0;

	for (int i = 0; i < 3; i++) {
		p.scatter_width = width[i];
		if (sim_one_volume(&p, &r[i])) {
			printf("Bail out! out of memory\n");
			return 1;
		}
		/* Each slab is lost to exactly one pair: the mean over pairs is slabs / pairs. */
		exact &= r[i].pair_lost_sum * 15 == (uint64_t)p.slabs * r[i].pairs;
		placed &= !r[i].short_slabs && !r[i].off_copysets;
	}
	for (unsigned int v = 0; v < SIM_OV_HIST; v++)
		if (r[1].losing_pairs[v])
			max_w2 = v;
	printf("%s %d - one volume: every slab on 2 donors of one copyset; a random pair "
	       "loses %.3f slabs (24/15 = 1.6), the mean over all pairs exactly 1.6\n",
	       placed && exact && r[2].lost_sum > 1.5 * r[2].trials &&
	       r[2].lost_sum < 1.7 * r[2].trials ? "ok" : "not ok", ++*t,
	       (double)r[2].lost_sum / r[2].trials);
	failed += !(placed && exact && r[2].lost_sum > 1.5 * r[2].trials &&
		    r[2].lost_sum < 1.7 * r[2].trials);
	printf("%s %d - one volume: scatter width 2 puts slabs on at most 6 pairs (%u)\n",
	       max_w2 <= 6 ? "ok" : "not ok", ++*t, max_w2);
	failed += max_w2 > 6;
	{
		double lp0 = 0, lp2 = 0;

		for (unsigned int v = 0; v < SIM_OV_HIST; v++) {
			lp0 += (double)v * r[0].losing_pairs[v];
			lp2 += (double)v * r[1].losing_pairs[v];
		}
		printf("%s %d - one volume: pairs losing data, p2c %.2f of 15, copysets (W=2) "
		       "%.2f: fewer pairs, more slabs each\n", lp2 < lp0 ? "ok" : "not ok", ++*t,
		       lp0 / r[0].trials, lp2 / r[1].trials);
		failed += !(lp2 < lp0);
	}
	return failed;
}

static int check_main(struct sim_params *p)
{
	struct result res[2];
	int t = 0, failed = 0;
	const struct sim_loss *l0, *l1;

	p->donors = 64;
	p->volumes = 64;	/* few tables: per-volume copysets can only help where tables overlap little */
	p->rack = 16;	/* 4 racks: tables of 16 hold a few donors of each (groups inside one, before) */
	p->hours = 36;
	p->trials = 200;
	p->recount = true;
	/* More failures than a real week, so that recovery is exercised in two days. */
	p->fail_per_day = 0.05;
	p->rack_fail_per_year = 60;
	p->drain_per_day = 0.05;
	p->pressure_per_day = 1;
	printf("TAP version 13\n1..13\n");
	for (int i = 0; i < 2; i++) {
		struct sim_params q = *p;
		const struct result *r = &res[i];
		uint64_t mism = 0;

		q.scatter_width = i ? p->scatter_width : 0;
		if (run(&q, i ? "copysets" : "p2c", NULL, NULL, &res[i])) {
			printf("Bail out! the simulation failed\n");
			return 1;
		}
		for (int k = 0; k < NR_K; k++)
			mism += r->loss[k].recount_mismatch;
		printf("%s %d - %s: after every event, no slab has two replicas on one donor and "
		       "each donor lends what the maps say%s%s\n",
		       r->invariant_failures ? "not ok" : "ok", ++t, r->placement,
		       r->invariant_failures ? ": " : "", r->invariant_failures ? r->why : "");
		failed += r->invariant_failures > 0;
		printf("%s %d - %s: memory use %.3f with memx, between local only %.3f and 1\n",
		       r->peak.util > r->peak.util_local && r->peak.util <= 1 ? "ok" : "not ok", ++t,
		       r->placement, r->peak.util, r->peak.util_local);
		failed += !(r->peak.util > r->peak.util_local && r->peak.util <= 1);
		printf("%s %d - %s: slabs lost under k failures equal a recount from the maps "
		       "(%lu of %u trials differ)\n", mism ? "not ok" : "ok", ++t, r->placement,
		       (unsigned long)mism, NR_K * p->trials);
		failed += mism > 0;
	}
	l0 = &res[0].loss[1];
	l1 = &res[1].loss[1];
	printf("%s %d - two donors failing: copysets lose data in %u of %u trials, p2c in %u\n",
	       l1->losing <= l0->losing && l0->losing > 0 ? "ok" : "not ok", ++t, l1->losing,
	       l1->trials, l0->losing);
	failed += !(l1->losing <= l0->losing && l0->losing > 0);
	l0 = &res[0].loss[NR_K - 1];
	l1 = &res[1].loss[NR_K - 1];
	printf("%s %d - a rack failing (%u donors): copysets lose data in %u of %u trials, p2c in "
	       "%u (replicas never share a zone, groups span zones)\n",
	       !l0->losing && !l1->losing ? "ok" : "not ok", ++t, l1->k, l1->losing, l1->trials,
	       l0->losing);
	failed += l0->losing || l1->losing;
	printf("%s %d - p2c evens memory use out: machine max/min %.2fx with memx, %.2fx local "
	       "only\n", res[0].peak.use_maxmin < res[0].peak.use_maxmin_local ? "ok" : "not ok",
	       ++t, res[0].peak.use_maxmin, res[0].peak.use_maxmin_local);
	failed += !(res[0].peak.use_maxmin < res[0].peak.use_maxmin_local);
	printf("%s %d - recovery ran: %lu copies, %lu moves, %.1f GiB, %lu slabs placed\n",
	       res[0].st.copies && res[0].st.moves && res[0].st.slabs_placed ? "ok" : "not ok",
	       ++t, (unsigned long)res[0].st.copies, (unsigned long)res[0].st.moves,
	       (double)res[0].st.recovery_bytes / (1 << 30), (unsigned long)res[0].st.slabs_placed);
	failed += !(res[0].st.copies && res[0].st.moves && res[0].st.slabs_placed);
	failed += check_one_volume(&t);
	return failed ? 1 : 0;
}

/* ---- main --------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: memx-sim [--sizes N[,N...]] [--volumes-per-donor V] [--hours H] [--out DIR]\n"
		"                [--replicas R] [--scatter-width W] [--rack N] [--no-zones]\n"
		"                [--skew S] [--local-median F] [--demand F] [--donor-gib G]\n"
		"                [--fail-per-day F] [--rack-fail-per-year F] [--drain-per-day F]\n"
		"                [--pressure-per-day F] [--repair-hours H] [--link-gbps G]\n"
		"                [--rereplicate-rate MIB] [--trials N] [--seed S] [--check]\n"
		"       memx-sim --one-volume DONORS,SLABS,FAIL,ROOM [--replicas R]\n"
		"                [--scatter-width W] [--trials N] [--seed S]\n"
		"  one volume of SLABS slabs on DONORS donors with room for ROOM slabs each,\n"
		"  FAIL of them failing at once: distributions of lost slabs over placements\n"
		"Defaults: --sizes 32,100,316,1000,3162,10000 --volumes-per-donor 10 --hours 168\n"
		"  --replicas 2 --scatter-width 4 (the copysets run; p2c is 0) --rack 40 --skew 3.35\n"
		"  --local-median 0.35 --demand 0.35 --donor-gib 64 --fail-per-day 0.002\n"
		"  --rack-fail-per-year 1 --drain-per-day 0.002 --pressure-per-day 0.1\n"
		"  --repair-hours 12 --link-gbps 100 --rereplicate-rate 64 --trials 5000\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "volumes-per-donor", required_argument, NULL, 'v' },
		{ "hours", required_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		{ "replicas", required_argument, NULL, 'R' },
		{ "scatter-width", required_argument, NULL, 'W' },
		{ "rack", required_argument, NULL, 'k' },
		{ "no-zones", no_argument, NULL, 'z' },
		{ "skew", required_argument, NULL, 'S' },
		{ "local-median", required_argument, NULL, 'm' },
		{ "demand", required_argument, NULL, 'd' },
		{ "donor-gib", required_argument, NULL, 'g' },
		{ "fail-per-day", required_argument, NULL, 'f' },
		{ "rack-fail-per-year", required_argument, NULL, 'K' },
		{ "drain-per-day", required_argument, NULL, 'D' },
		{ "pressure-per-day", required_argument, NULL, 'P' },
		{ "repair-hours", required_argument, NULL, 'r' },
		{ "link-gbps", required_argument, NULL, 'l' },
		{ "rereplicate-rate", required_argument, NULL, 'e' },
		{ "trials", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'x' },
		{ "check", no_argument, NULL, 'c' },
		{ "one-volume", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sim_params p = {
		.rack = 40, .replicas = 2, .scatter_width = 4, .zones = true, .hours = 168,
		.donor_gib = 64, .local_median = 0.35, .skew = 3.35, .demand = 0.35,
		.fail_per_day = 0.002, .rack_fail_per_year = 1, .drain_per_day = 0.002,
		.pressure_per_day = 0.1, .repair_hours = 12, .link_gbps = 100,
		.rereplicate_rate = 64 << 20, .trials = 5000, .seed = 0x6d656d78,
	};
	uint32_t sizes[MAX_SIZES] = { 32, 100, 316, 1000, 3162, 10000 }, nr_sizes = 6;
	double per_donor = 10;
	const char *out = NULL;
	struct result res[2 * MAX_SIZES];
	struct rusage ru;
	bool check_mode = false, one_volume = false;
	struct sim_one_volume ov = { 0 };
	int c, n = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *e;

		switch (c) {
		case 's':
			nr_sizes = 0;
			for (e = optarg; *e && nr_sizes < MAX_SIZES; e += *e == ',')
				sizes[nr_sizes++] = (uint32_t)strtoul(e, &e, 10);
			break;
		case 'v': per_donor = atof(optarg); break;
		case 'H': p.hours = atof(optarg); break;
		case 'o': out = optarg; break;
		case 'R': p.replicas = (unsigned int)atoi(optarg); break;
		case 'W': p.scatter_width = (unsigned int)atoi(optarg); break;
		case 'k': p.rack = (uint32_t)atoi(optarg); break;
		case 'z': p.zones = false; break;
		case 'S': p.skew = atof(optarg); break;
		case 'm': p.local_median = atof(optarg); break;
		case 'd': p.demand = atof(optarg); break;
		case 'g': p.donor_gib = atof(optarg); break;
		case 'f': p.fail_per_day = atof(optarg); break;
		case 'K': p.rack_fail_per_year = atof(optarg); break;
		case 'D': p.drain_per_day = atof(optarg); break;
		case 'P': p.pressure_per_day = atof(optarg); break;
		case 'r': p.repair_hours = atof(optarg); break;
		case 'l': p.link_gbps = atof(optarg); break;
		case 'e': p.rereplicate_rate = atof(optarg) * (1 << 20); break;
		case 't': p.trials = (unsigned int)atoi(optarg); break;
		case 'x': p.seed = strtoull(optarg, NULL, 0); break;
		case 'c': check_mode = true; break;
		case 'O':
			one_volume = true;
			if (sscanf(optarg, "%u,%u,%u,%u", &ov.donors, &ov.slabs, &ov.fail,
				   &ov.room) != 4) {
				usage();
				return 2;
			}
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind < argc || p.replicas < 1 || p.replicas > MEMXD_MAX_COPIES || !p.rack ||
	    p.skew < 1 || p.hours <= 0 || p.fail_per_day <= 0 || p.rack_fail_per_year <= 0 ||
	    p.drain_per_day <= 0 || p.pressure_per_day <= 0 || p.rereplicate_rate <= 0) {
		usage();
		return 2;
	}
	for (uint32_t i = 0; i < nr_sizes; i++)
		if (sizes[i] < 2 || sizes[i] > 1000000) {
			usage();
			return 2;
		}
	if (check_mode)
		return check_main(&p);
	if (one_volume) {
		struct sim_one_volume_result r;

		if (ov.donors < 2 || ov.donors > MEMXD_MAX_DONORS || !ov.slabs ||
		    ov.slabs > 1000000 || !ov.fail || ov.fail > ov.donors ||
		    p.replicas > ov.donors || (uint64_t)ov.room * ov.donors <
		    (uint64_t)ov.slabs * p.replicas) {
			fprintf(stderr, "memx-sim: --one-volume DONORS,SLABS,FAIL,ROOM: 2 to %d "
				"donors, FAIL of them, room for SLABS x replicas\n",
				MEMXD_MAX_DONORS);
			return 2;
		}
		ov.replicas = p.replicas;
		ov.scatter_width = p.scatter_width;
		ov.trials = p.trials;
		ov.seed = p.seed;
		if (sim_one_volume(&ov, &r)) {
			fprintf(stderr, "memx-sim: out of memory\n");
			return 1;
		}
		sim_one_volume_print(stdout, &ov, &r);
		return 0;
	}
	for (uint32_t i = 0; i < nr_sizes; i++)
		for (int w = 0; w < 2; w++) {
			struct sim_params q = p;
			bool largest = i + 1 == nr_sizes;
			const char *name = w ? "copysets" : "p2c";
			FILE *tl = NULL, *ev = NULL;
			char path[4096];

			q.donors = sizes[i];
			q.volumes = (uint32_t)(per_donor * sizes[i]);
			q.scatter_width = w ? p.scatter_width : 0;
			/* At least 8 racks: a small cluster is not one rack. */
			if (q.donors / q.rack < 8)
				q.rack = q.donors / 8 ? q.donors / 8 : 1;
			if (out && largest) {
				snprintf(path, sizeof(path), "%s/timeline-%s.csv", out, name);
				tl = fopen(path, "w");
				snprintf(path, sizeof(path), "%s/events-%s.csv", out, name);
				ev = fopen(path, "w");
			}
			fprintf(stderr, "memx-sim: %u donors, %u volumes, %s ...\n", q.donors,
				q.volumes, name);
			if (run(&q, name, tl, ev, &res[n])) {
				fprintf(stderr, "memx-sim: out of memory\n");
				return 1;
			}
			fprintf(stderr, "memx-sim:   %.1f s\n", res[n].wall_s);
			n++;
			if (tl)
				fclose(tl);
			if (ev)
				fclose(ev);
		}
	getrusage(RUSAGE_SELF, &ru);
	for (int pass = 0; pass < 2; pass++) {
		FILE *f = stdout;
		char path[4096];

		if (pass) {
			if (!out)
				break;
			snprintf(path, sizeof(path), "%s/report.md", out);
			f = fopen(path, "w");
			if (!f)
				break;
		}
		fprintf(f, "Cluster at the peak (hour %.0f of %.0f): donors of %.0f GiB, local use "
			"log-normal (median %.0f%%, p99/median %.2f), %u-donor racks as zones, "
			"%u replicas of 64 MiB slabs, each volume a client with %u donors; "
			"copysets with scatter width %u.\n\n", 0.75 * p.hours, p.hours, p.donor_gib,
			100 * p.local_median, p.skew, p.rack, p.replicas, MEMXD_MAX_DONORS,
			p.scatter_width);
		print_summary(f, res, n);
		fprintf(f, "\nDonors failing at once, at the peak (%u trials each):\n\n", p.trials);
		print_loss(f, res, n);
		fprintf(f, "\nPeak memory (max RSS): %.0f MiB.\n", ru.ru_maxrss / 1024.0);
		if (pass)
			fclose(f);
	}
	if (out)
		write_csv(out, res, n);
	return 0;
}
