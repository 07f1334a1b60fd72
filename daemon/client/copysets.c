// SPDX-License-Identifier: GPL-2.0
/* Copysets (copysets.h): built on membership changes in the control thread, never per request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/copysets.h"

static bool group_ok(const uint32_t *g, unsigned int size, memxd_same_fn same_host, void *arg)
{
	for (unsigned int i = 0; i < size; i++)
		for (unsigned int j = i + 1; j < size; j++)
			if (g[i] == g[j] || (same_host && same_host(g[i], g[j], arg)))
				return false;
	return true;
}

static bool group_shares_zone(const uint32_t *g, unsigned int size, memxd_same_fn same_zone,
			      void *arg)
{
	for (unsigned int i = 0; same_zone && i < size; i++)
		for (unsigned int j = i + 1; j < size; j++)
			if (same_zone(g[i], g[j], arg))
				return true;
	return false;
}

static void shuffle(uint32_t *a, unsigned int n, uint32_t (*rnd)(void *), void *rnd_arg)
{
	for (unsigned int i = n ? n - 1 : 0; i > 0; i--) {	/* Fisher-Yates */
		unsigned int j = rnd(rnd_arg) % (i + 1);
		uint32_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

/*
 * Sorts the donors into zones: zone[i] is the zone (0..) of ids[i], a donor
 * without one being a zone of its own; counts the donors per zone into
 * count. O(n * zones): a volume's table is small (the simulator's 10,000
 * donors of sim_placement come without zones).
 */
static unsigned int zones_of(const uint32_t *ids, unsigned int n, memxd_same_fn same_zone,
			     void *arg, uint32_t *zone, uint32_t *rep, uint32_t *count,
			     bool *named)
{
	unsigned int nz = 0;

	*named = false;
	for (unsigned int i = 0; i < n; i++) {
		unsigned int z = nz;

		if (same_zone && same_zone(ids[i], ids[i], arg)) {	/* it has a zone */
			*named = true;
			for (z = 0; z < nz; z++)
				if (same_zone(ids[i], rep[z], arg))
					break;
		}
		if (z == nz) {
			rep[nz] = ids[i];
			count[nz++] = 0;
		}
		zone[i] = z;
		count[z]++;
	}
	return nz;
}

/*
 * One permutation, zone by zone. The n % size donors left out of this
 * permutation's groups come from the largest zones (a random donor of one
 * of the largest, each time). The others: the zones in random order, each
 * zone's donors shuffled, laid end to end over m = per * size positions and
 * turned by a random offset; group g takes positions g, g + per, g + 2 * per,
 * ... A zone fills a run of consecutive positions (around the end), and two
 * positions of one group are at least per apart either way round, so a zone
 * of at most per donors is never twice in a group: groups span zones
 * whenever the zones' sizes allow it. A bigger zone (too few zones, or one
 * much larger than the others) shares as few groups as it must.
 */
static void lay_out(uint32_t *perm, const uint32_t *ids, unsigned int n, unsigned int m,
		    const uint32_t *zone, const uint32_t *count, unsigned int nz, uint32_t *order,
		    uint32_t *drop, uint32_t *tmp, uint32_t (*rnd)(void *), void *rnd_arg)
{
	unsigned int at = 0, out = m, turn;

	for (unsigned int z = 0; z < nz; z++) {
		order[z] = z;
		drop[z] = 0;
	}
	for (unsigned int l = m; l < n; l++) {	/* one out of a largest zone */
		unsigned int from = rnd(rnd_arg) % nz, best = from;

		for (unsigned int k = 1; k < nz; k++) {
			unsigned int z = (from + k) % nz;

			if (count[z] - drop[z] > count[best] - drop[best])
				best = z;
		}
		drop[best]++;
	}
	shuffle(order, nz, rnd, rnd_arg);
	for (unsigned int k = 0; k < nz; k++) {
		unsigned int from = at, z = order[k];

		for (unsigned int i = 0; i < n; i++)
			if (zone[i] == z)
				tmp[at++] = ids[i];
		shuffle(&tmp[from], at - from, rnd, rnd_arg);
		for (unsigned int i = 0; i < drop[z]; i++)
			perm[out++] = tmp[--at];	/* left out: past the groups */
	}
	turn = rnd(rnd_arg) % m;
	for (unsigned int i = 0; i < m; i++)
		perm[i] = tmp[(i + turn) % m];
}

int memxd_copysets_build(struct memxd_copysets *cs, const uint32_t *ids, unsigned int n,
			 unsigned int size, unsigned int width, memxd_same_fn same_host,
			 memxd_same_fn same_zone, void *arg, uint32_t (*rnd)(void *),
			 void *rnd_arg)
{
	unsigned int perms, per, nz;
	uint32_t *scratch, *member;
	uint32_t *perm, *tmp, *zone, *rep, *count, *order, *drop;

	memxd_copysets_fini(cs);
	cs->size = size;
	if (size < 2 || n < size || !width)
		return 0;
	perms = (width + size - 2) / (size - 1);
	per = n / size;
	scratch = malloc(7 * (size_t)n * sizeof(*scratch));
	member = malloc((size_t)perms * per * size * sizeof(*member));
	if (!scratch || !member) {
		free(scratch);
		free(member);
		return -ENOMEM;
	}
	perm = scratch;
	tmp = perm + n;
	zone = tmp + n;
	rep = zone + n;
	count = rep + n;
	order = count + n;
	drop = order + n;
	nz = zones_of(ids, n, same_zone, arg, zone, rep, count, &cs->zoned);
	cs->zones = nz;
	cs->largest = 0;
	for (unsigned int z = 0; z < nz; z++)
		if (count[z] > cs->largest)
			cs->largest = count[z];
	if (!cs->zoned)
		cs->largest = 0;
	for (unsigned int p = 0; p < perms; p++) {
		lay_out(perm, ids, n, per * size, zone, count, nz, order, drop, tmp, rnd, rnd_arg);
		for (unsigned int g = 0; g < per; g++) {
			uint32_t *grp = &member[cs->nr * size];

			for (unsigned int k = 0; k < size; k++)
				grp[k] = perm[g + k * per];
			if (!group_ok(grp, size, same_host, arg))
				continue;	/* two donors of one host: not a group */
			cs->shared += group_shares_zone(grp, size, same_zone, arg);
			cs->nr++;
		}
	}
	free(scratch);
	cs->member = member;
	return 0;
}

void memxd_copysets_fini(struct memxd_copysets *cs)
{
	free(cs->member);
	cs->member = NULL;
	cs->nr = 0;
	cs->shared = 0;
	cs->zones = 0;
	cs->largest = 0;
	cs->zoned = false;
}

static bool in_group(const uint32_t *g, unsigned int size, uint32_t d)
{
	for (unsigned int i = 0; i < size; i++)
		if (g[i] == d)
			return true;
	return false;
}

bool memxd_copysets_allow(const struct memxd_copysets *cs, const uint32_t *have, int nr_have,
			  uint32_t cand)
{
	if (!cs->nr || !nr_have)
		return true;	/* no groups, or the first replica: anywhere */
	for (unsigned int g = 0; g < cs->nr; g++) {
		const uint32_t *grp = &cs->member[g * cs->size];
		bool all = in_group(grp, cs->size, cand);

		for (int i = 0; all && i < nr_have; i++)
			all = in_group(grp, cs->size, have[i]);
		if (all)
			return true;
	}
	return false;
}
