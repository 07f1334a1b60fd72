// SPDX-License-Identifier: GPL-2.0
/* Power-of-two-choices placement; pure logic, unit tested with a seeded random source. */
#include <errno.h>

#include "client/placement.h"

static bool excluded(uint32_t d, const uint32_t *exclude, int nr_exclude)
{
	for (int i = 0; i < nr_exclude; i++)
		if (exclude[i] == d)
			return true;
	return false;
}

static bool eligible(const struct memxd_donor_load *donors, int i, const uint32_t *exclude,
		     int nr_exclude, uint64_t need)
{
	return donors[i].live && donors[i].free_bytes >= need &&
	       !excluded((uint32_t)i, exclude, nr_exclude);
}

/* The k-th (0-based) eligible donor. */
static int nth_eligible(const struct memxd_donor_load *donors, int n, const uint32_t *exclude,
			int nr_exclude, uint64_t need, int k)
{
	for (int i = 0; i < n; i++)
		if (eligible(donors, i, exclude, nr_exclude, need) && !k--)
			return i;
	return -ENOSPC;
}

/*
 * Two passes over the donors and no candidate array, so that any number of
 * donors works (the simulator places on thousands): count the eligible ones,
 * draw two distinct ranks among them, find those two.
 */
int memxd_place(const struct memxd_donor_load *donors, int n, const uint32_t *exclude,
	       int nr_exclude, uint64_t need, memxd_rand_fn rnd, void *rnd_arg)
{
	int nc = 0, a, b, da, db;

	for (int i = 0; i < n; i++)
		nc += eligible(donors, i, exclude, nr_exclude, need);
	if (!nc)
		return -ENOSPC;
	if (nc == 1)
		return nth_eligible(donors, n, exclude, nr_exclude, need, 0);
	a = (int)(rnd(rnd_arg) % (uint32_t)nc);
	b = (int)(rnd(rnd_arg) % (uint32_t)(nc - 1));
	if (b >= a)
		b++;	/* two distinct candidates */
	da = nth_eligible(donors, n, exclude, nr_exclude, need, a);
	db = nth_eligible(donors, n, exclude, nr_exclude, need, b);
	return donors[da].free_bytes >= donors[db].free_bytes ? da : db;
}

/*
 * Tiers tried in turn until one has a candidate. Zones before copysets: a
 * slab whose replicas share a zone is lost with one rack, one off its
 * copysets only widens the scatter a little (copysets.h).
 */
static const unsigned int place_tiers[] = {
	MEMXD_PLACE_COPYSETS | MEMXD_PLACE_ZONES, MEMXD_PLACE_ZONES, MEMXD_PLACE_COPYSETS, 0,
};

/*
 * Which donors may take a new replica of a slab whose replicas are on the
 * donors in exclude: usable ones with room for our slab size, never on the
 * host of one of those replicas, and, as the tier says, never in one of
 * their zones and only where they would all be one copyset.
 */
static void candidates(const struct memxd_place_view *v, const uint32_t *exclude, int nr_exclude,
		       unsigned int tier, struct memxd_donor_load *load)
{
	bool zones = tier & MEMXD_PLACE_ZONES;

	for (uint32_t i = 0; i < v->nr_donors; i++) {
		load[i].live = v->usable(i, v->arg);
		load[i].free_bytes = v->free_bytes(i, v->arg);
		/*
		 * The free memory a donor tells us is what our quota leaves for
		 * first mappings; a repair may use the room it keeps beyond
		 * that, which it does not tell: worth asking, last.
		 */
		if (v->repair && load[i].free_bytes < v->slab_bytes)
			load[i].free_bytes = v->slab_bytes;
		for (int k = 0; k < nr_exclude && load[i].live; k++)
			if (v->same_host(i, exclude[k], v->arg) ||
			    (zones && v->same_zone(i, exclude[k], v->arg)))
				load[i].live = false;
		if ((tier & MEMXD_PLACE_COPYSETS) && load[i].live &&
		    !memxd_copysets_allow(v->copysets, exclude, nr_exclude, i))
			load[i].live = false;
	}
}

int memxd_place_replica(const struct memxd_place_view *view, const uint32_t *exclude,
		       int nr_exclude, const uint32_t *tried, int nr_tried, unsigned int *tier,
		       struct memxd_donor_load *load, memxd_rand_fn rnd, void *rnd_arg)
{
	for (;;) {
		int idx;

		candidates(view, exclude, nr_exclude, place_tiers[*tier], load);
		idx = memxd_place(load, (int)view->nr_donors, tried, nr_tried, view->slab_bytes,
				  rnd, rnd_arg);
		if (idx == -ENOSPC && *tier + 1 < sizeof(place_tiers) / sizeof(place_tiers[0])) {
			(*tier)++;
			continue;
		}
		return idx;
	}
}

uint64_t memxd_capacity_slabs(const uint64_t *slots, unsigned int n, unsigned int replicas)
{
	uint64_t lo = 0, hi = 0;

	if (!replicas)
		replicas = 1;
	for (unsigned int i = 0; i < n; i++)
		hi += slots[i];
	hi /= replicas;
	/* sum(min(slots, N)) - replicas * N only falls once N passes the smaller slots. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2, held = 0;

		for (unsigned int i = 0; i < n; i++)
			held += slots[i] < mid ? slots[i] : mid;
		if (held >= replicas * mid)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}
