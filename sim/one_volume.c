// SPDX-License-Identifier: GPL-2.0
/*
 * memx-sim --one-volume: one volume on a few donors, as a guest test runs it
 * (test_cluster_13: six donors), and k of them failing at once. Each trial
 * builds the volume's copysets (copysets.c) and places every slab on R
 * replicas with the engine's placement (placement.c: power of two choices on
 * free memory, then the copyset and host tiers, each donor its own host),
 * then fails k random donors and counts the slabs whose replicas all were on
 * them. For k = 2 it also walks every pair of donors: how many pairs lose
 * data, and how many slabs the worst pair holds. The per-trial figures make
 * distributions a measured placement can be held against.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "common/proc.h"

struct ov_ctx {
	const struct sim_one_volume *p;
	const uint32_t *held;		/* slabs each donor holds */
};

static bool ov_usable(uint32_t d, void *arg) { (void)d; (void)arg; return true; }
static bool ov_same(uint32_t a, uint32_t b, void *arg) { (void)arg; return a == b; }
static bool ov_no_zone(uint32_t a, uint32_t b, void *arg) { (void)a; (void)b; (void)arg; return false; }

static uint64_t ov_free(uint32_t d, void *arg)
{
	const struct ov_ctx *x = arg;

	return (uint64_t)(x->p->room - x->held[d]) * SIM_SLAB_BYTES;
}

/* Whether every replica of a slab is among the failed donors. */
static bool all_failed(const uint32_t *rep, unsigned int nr, const uint8_t *failed)
{
	for (unsigned int i = 0; i < nr; i++)
		if (!failed[rep[i]])
			return false;
	return nr > 0;
}

int sim_one_volume_place(const struct sim_one_volume *p, uint32_t *rng, uint32_t *replicas,
			 unsigned int *nr_replicas, struct memxd_copysets *cs)
{
	uint32_t ids[MEMXD_MAX_DONORS], held[MEMXD_MAX_DONORS] = { 0 };
	struct memxd_donor_load load[MEMXD_MAX_DONORS];
	struct ov_ctx x = { p, held };
	struct memxd_place_view view = {
		.nr_donors = p->donors, .slab_bytes = SIM_SLAB_BYTES, .usable = ov_usable,
		.free_bytes = ov_free, .same_host = ov_same, .same_zone = ov_no_zone, .arg = &x,
		.copysets = cs,
	};

	for (uint32_t i = 0; i < p->donors; i++)
		ids[i] = i;
	if (memxd_copysets_build(cs, ids, p->donors, p->replicas, p->scatter_width, NULL, NULL,
				 NULL, memxd_rand, rng))
		return -ENOMEM;
	for (uint32_t s = 0; s < p->slabs; s++) {
		uint32_t *rep = &replicas[s * MEMXD_MAX_REPLICAS];
		unsigned int tier = 0;

		nr_replicas[s] = 0;
		while (nr_replicas[s] < p->replicas) {
			int d = memxd_place_replica(&view, rep, (int)nr_replicas[s], rep,
						    (int)nr_replicas[s], &tier, load, memxd_rand, rng);

			if (d < 0)
				break;
			held[d]++;
			rep[nr_replicas[s]++] = (uint32_t)d;
		}
	}
	return 0;
}

static void hist_add(uint32_t *hist, uint32_t v)
{
	hist[v > SIM_OV_HIST - 1 ? SIM_OV_HIST - 1 : v]++;
}

int sim_one_volume(const struct sim_one_volume *p, struct sim_one_volume_result *r)
{
	uint32_t *replicas = calloc((size_t)p->slabs * MEMXD_MAX_REPLICAS, sizeof(*replicas));
	unsigned int *nr = calloc(p->slabs, sizeof(*nr));
	uint32_t rng = (uint32_t)p->seed | 1;
	uint8_t failed[MEMXD_MAX_DONORS];

	memset(r, 0, sizeof(*r));
	if (!replicas || !nr) {
		free(replicas);
		free(nr);
		return -ENOMEM;
	}
	for (unsigned int t = 0; t < p->trials; t++) {
		struct memxd_copysets cs = { 0 };
		uint32_t lost = 0, losing_pairs = 0, worst = 0;

		if (sim_one_volume_place(p, &rng, replicas, nr, &cs)) {
			free(replicas);
			free(nr);
			return -ENOMEM;
		}
		for (uint32_t s = 0; s < p->slabs; s++) {
			r->short_slabs += nr[s] < p->replicas;
			/* Off its copysets: only when no group could take it (never here). */
			if (cs.nr && nr[s] > 1 &&
			    !memxd_copysets_allow(&cs, &replicas[s * MEMXD_MAX_REPLICAS],
						  (int)nr[s] - 1,
						  replicas[s * MEMXD_MAX_REPLICAS + nr[s] - 1]))
				r->off_copysets++;
		}
		/* k random donors fail. */
		memset(failed, 0, sizeof(failed));
		for (unsigned int k = 0; k < p->fail;) {
			uint32_t d = memxd_rand(&rng) % p->donors;

			if (!failed[d]) {
				failed[d] = 1;
				k++;
			}
		}
		for (uint32_t s = 0; s < p->slabs; s++)
			lost += all_failed(&replicas[s * MEMXD_MAX_REPLICAS], nr[s], failed);
		hist_add(r->lost, lost);
		r->lost_sum += lost;
		/* Every pair of donors. */
		for (uint32_t a = 0; p->fail == 2 && a < p->donors; a++)
			for (uint32_t b = a + 1; b < p->donors; b++) {
				uint32_t n = 0;

				memset(failed, 0, sizeof(failed));
				failed[a] = failed[b] = 1;
				for (uint32_t s = 0; s < p->slabs; s++)
					n += all_failed(&replicas[s * MEMXD_MAX_REPLICAS], nr[s], failed);
				losing_pairs += n > 0;
				worst = n > worst ? n : worst;
				r->pair_lost_sum += n;
				r->pairs++;
			}
		if (p->fail == 2) {
			hist_add(r->losing_pairs, losing_pairs);
			hist_add(r->worst_pair, worst);
		}
		memxd_copysets_fini(&cs);
		r->trials++;
	}
	free(replicas);
	free(nr);
	return 0;
}

/* The smallest v with at least q of the trials at or below it. */
static unsigned int quantile(const uint32_t *hist, unsigned int trials, double q)
{
	double need = q * trials, seen = 0;

	for (unsigned int v = 0; v < SIM_OV_HIST; v++) {
		seen += hist[v];
		if (seen >= need && seen > 0)
			return v;
	}
	return SIM_OV_HIST - 1;
}

static double mean(const uint32_t *hist)
{
	double n = 0, sum = 0;

	for (unsigned int v = 0; v < SIM_OV_HIST; v++) {
		n += hist[v];
		sum += (double)v * hist[v];
	}
	return n ? sum / n : 0;
}

static void print_dist(FILE *f, const char *name, const uint32_t *hist, unsigned int trials)
{
	unsigned int top = 0;

	for (unsigned int v = 0; v < SIM_OV_HIST; v++)
		if (hist[v])
			top = v;
	fprintf(f, "%s mean=%.3f p0.5=%u p50=%u p99.5=%u hist=", name, mean(hist),
		quantile(hist, trials, 0.005), quantile(hist, trials, 0.5),
		quantile(hist, trials, 0.995));
	for (unsigned int v = 0; v <= top; v++)
		fprintf(f, "%s%u", v ? "," : "", hist[v]);
	fprintf(f, "\n");
}

void sim_one_volume_print(FILE *f, const struct sim_one_volume *p,
			  const struct sim_one_volume_result *r)
{
	fprintf(f, "one volume: %u donors (room for %u slabs each), %u slabs, %u replicas, "
		"scatter width %u; %u donors fail at once; %u placements\n", p->donors, p->room,
		p->slabs, p->replicas, p->scatter_width, p->fail, r->trials);
	print_dist(f, "lost", r->lost, r->trials);
	fprintf(f, "lost_fraction=%.4f any_lost=%.4f\n",
		r->trials ? (double)r->lost_sum / r->trials / p->slabs : 0,
		r->trials ? 1 - (double)r->lost[0] / r->trials : 0);
	if (p->fail == 2) {
		print_dist(f, "losing_pairs", r->losing_pairs, r->trials);
		print_dist(f, "worst_pair", r->worst_pair, r->trials);
		fprintf(f, "pair_mean=%.3f pairs=%u\n",
			r->pairs ? (double)r->pair_lost_sum / r->pairs : 0,
			p->donors * (p->donors - 1) / 2);
	}
	fprintf(f, "short_slabs=%lu off_copysets=%lu\n", (unsigned long)r->short_slabs,
		(unsigned long)r->off_copysets);
}
