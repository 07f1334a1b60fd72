// SPDX-License-Identifier: GPL-2.0
/*
 * What k donors failing at once would cost, on the current slab maps: the
 * slabs whose live replicas are all on failed donors (lost), and the copies
 * the engine would then make of the others (recovery bytes and time). The
 * maps are not changed. Each trial's lost count comes from a per-donor index
 * of replicas; with --check it is recounted by walking every map.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct replica_ref {
	uint32_t vol;
	uint32_t slab;
};

struct loss_index {
	uint64_t *first;		/* donors + 1 offsets into ref */
	struct replica_ref *ref;	/* live replicas of MAPPED slabs, by donor */
};

static int index_build(const struct sim_cluster *c, struct loss_index *ix)
{
	uint32_t n = c->p->donors;
	uint64_t *fill;

	ix->first = calloc((size_t)n + 1, sizeof(*ix->first));
	fill = calloc(n, sizeof(*fill));
	if (!ix->first || !fill)
		goto out_nomem;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t vi = 0; vi < c->p->volumes; vi++) {
			const struct sim_volume *v = &c->vol[vi];

			for (uint64_t s = 0; v->live && s < v->map.nr_slabs; s++) {
				const struct memxd_slab *slab = &v->map.slabs[s];

				if (memxd_slab_state(slab) != MEMXD_SLAB_MAPPED)
					continue;
				for (uint32_t i = 0; i < slab->nr_replicas; i++) {
					uint32_t d;

					if (!slab->replica[i].live)
						continue;
					d = v->slot[slab->replica[i].donor];
					if (!pass)
						ix->first[d + 1]++;
					else
						ix->ref[ix->first[d] + fill[d]++] =
							(struct replica_ref){ vi, (uint32_t)s };
				}
			}
		}
		if (!pass) {
			for (uint32_t d = 0; d < n; d++)
				ix->first[d + 1] += ix->first[d];
			ix->ref = malloc((ix->first[n] + 1) * sizeof(*ix->ref));
			if (!ix->ref)
				goto out_nomem;
		}
	}
	free(fill);
	return 0;

out_nomem:
	free(fill);
	free(ix->first);
	free(ix->ref);
	ix->first = NULL;
	ix->ref = NULL;
	return -ENOMEM;
}

/* Picks the trial's failed donors: k distinct present ones, or (k 0) one whole rack. */
static uint32_t pick_failed(struct sim_cluster *c, unsigned int k, uint8_t *failed, uint32_t *ids)
{
	uint32_t n = 0, racks = (c->p->donors + c->p->rack - 1) / c->p->rack;

	if (!k) {
		uint32_t r = (uint32_t)(sim_rand_aux(c) % racks);

		for (uint32_t d = r * c->p->rack; d < c->p->donors && d < (r + 1) * c->p->rack; d++)
			if (c->donor[d].state != SIM_ABSENT) {
				failed[d] = 1;
				ids[n++] = d;
			}
		return n;
	}
	for (unsigned int tries = 0; n < k && tries < 100 * k; tries++) {
		uint32_t d = (uint32_t)(sim_rand_aux(c) % c->p->donors);

		if (c->donor[d].state == SIM_ABSENT || failed[d])
			continue;
		failed[d] = 1;
		ids[n++] = d;
	}
	return n;
}

/* The independent recount: every map, every slab. */
static uint64_t recount(const struct sim_cluster *c, const uint8_t *failed)
{
	uint64_t lost = 0;

	for (uint32_t vi = 0; vi < c->p->volumes; vi++) {
		const struct sim_volume *v = &c->vol[vi];

		for (uint64_t s = 0; v->live && s < v->map.nr_slabs; s++) {
			const struct memxd_slab *slab = &v->map.slabs[s];
			unsigned int live = memxd_slab_live_replicas(slab), dead = 0;

			if (memxd_slab_state(slab) != MEMXD_SLAB_MAPPED)
				continue;
			for (uint32_t d = 0; d < v->nr_slots; d++)
				if (v->slot[d] != SIM_NONE && failed[v->slot[d]] &&
				    memxd_slab_on_donor(slab, d))
					dead++;
			lost += live && dead == live;
		}
	}
	return lost;
}

int sim_loss(struct sim_cluster *c, unsigned int k, struct sim_loss *out)
{
	struct loss_index ix = { 0 };
	uint8_t *failed = calloc(c->p->donors, 1);
	uint32_t *ids = calloc(c->p->donors, sizeof(*ids));
	uint64_t *vol_bytes = calloc(c->p->volumes, sizeof(*vol_bytes));
	uint32_t *vol_touched = calloc(c->p->volumes, sizeof(*vol_touched));
	double link = c->p->link_gbps * 1e9 / 8;
	double lost_sum = 0, bytes_sum = 0, time_sum = 0;
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->rack = !k;
	if (!failed || !ids || !vol_bytes || !vol_touched || index_build(c, &ix))
		goto out_free;
	for (unsigned int t = 0; t < c->p->trials; t++) {
		uint32_t n = pick_failed(c, k, failed, ids), nr_vt = 0;
		uint64_t lost = 0, max_vol = 0;

		sim_recovery_begin(c);
		for (uint32_t j = 0; j < n; j++) {
			uint32_t f = ids[j];

			for (uint64_t e = ix.first[f]; e < ix.first[f + 1]; e++) {
				const struct sim_volume *v = &c->vol[ix.ref[e].vol];
				const struct memxd_slab *slab = &v->map.slabs[ix.ref[e].slab];
				uint32_t low = f, src = SIM_NONE;

				for (uint32_t i = 0; i < slab->nr_replicas; i++) {
					uint32_t d;

					if (!slab->replica[i].live)
						continue;
					d = v->slot[slab->replica[i].donor];
					if (!failed[d])
						src = d;
					else if (d < low)
						low = d;
				}
				if (src == SIM_NONE) {
					lost += low == f;	/* counted once: at its lowest failed donor */
					continue;
				}
				/* A survivor: the engine copies it again from src. */
				if (!c->rec.donor_bytes[src])
					c->rec.touched[c->rec.nr_touched++] = src;
				c->rec.donor_bytes[src] += SIM_SLAB_BYTES;
				c->rec.bytes += SIM_SLAB_BYTES;
				if (!vol_bytes[ix.ref[e].vol])
					vol_touched[nr_vt++] = ix.ref[e].vol;
				vol_bytes[ix.ref[e].vol] += SIM_SLAB_BYTES;
			}
		}
		for (uint32_t j = 0; j < nr_vt; j++) {
			if (vol_bytes[vol_touched[j]] > max_vol)
				max_vol = vol_bytes[vol_touched[j]];
			vol_bytes[vol_touched[j]] = 0;
		}
		if (c->p->recount && recount(c, failed) != lost)
			out->recount_mismatch++;
		bytes_sum += (double)c->rec.bytes;
		{
			uint64_t max_donor = sim_recovery_take_max_donor(c);

			c->rec.bytes = 0;
			time_sum += (double)max_vol / c->p->rereplicate_rate > (double)max_donor / link
					    ? (double)max_vol / c->p->rereplicate_rate
					    : (double)max_donor / link;
		}
		out->losing += lost > 0;
		lost_sum += (double)lost;
		if (!k)
			out->k = n > out->k ? n : out->k;	/* a rack: its size */
		for (uint32_t j = 0; j < n; j++)
			failed[ids[j]] = 0;
		out->trials++;
	}
	if (out->trials) {
		out->lost_slabs = lost_sum / out->trials;
		out->recovery_bytes = bytes_sum / out->trials;
		out->recovery_s = time_sum / out->trials;
	}
	r = 0;
out_free:
	free(ix.first);
	free(ix.ref);
	free(failed);
	free(ids);
	free(vol_bytes);
	free(vol_touched);
	return r;
}
