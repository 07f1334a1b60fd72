// SPDX-License-Identifier: GPL-2.0
/* Placement: power of two choices on free memory; never a dead, full or excluded donor. */
#include <criterion/criterion.h>
#include <errno.h>

#include "client/placement.h"

static uint32_t xorshift(void *arg)
{
	uint32_t *s = arg;

	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(placement, no_candidate_is_enospc)
{
	struct memxd_donor_load d[3] = { { false, 1 << 30 }, { true, 100 }, { true, 1 << 30 } };
	uint32_t seed = 1, excl[1] = { 2 };

	cr_expect_eq(memxd_place(d, 0, NULL, 0, 4096, xorshift, &seed), -ENOSPC);
	cr_expect_eq(memxd_place(d, 3, excl, 1, 4096, xorshift, &seed), -ENOSPC);
}

Test(placement, never_dead_full_or_excluded)
{
	struct memxd_donor_load d[5] = {
		{ true, 1ULL << 30 }, { false, 1ULL << 40 }, { true, 1 << 10 },
		{ true, 1ULL << 29 }, { true, 1ULL << 31 },
	};
	uint32_t seed = 12345, excl[1] = { 4 };

	for (int i = 0; i < 10000; i++) {
		int r = memxd_place(d, 5, excl, 1, 1 << 20, xorshift, &seed);

		cr_assert(r == 0 || r == 3, "placed on donor %d", r);
	}
}

Test(placement, prefers_free_memory_and_balances)
{
	/* Equal donors: every donor gets a fair share of many placements. */
	struct memxd_donor_load d[4];
	uint64_t count[4] = { 0 };
	uint32_t seed = 99;
	const uint64_t slab = 1 << 20;

	for (int i = 0; i < 4; i++)
		d[i] = (struct memxd_donor_load){ true, 1000 * slab };
	for (int i = 0; i < 2000; i++) {
		int r = memxd_place(d, 4, NULL, 0, slab, xorshift, &seed);

		cr_assert(r >= 0 && r < 4);
		d[r].free_bytes -= slab;
		count[r]++;
	}
	/* Two choices keep the spread tight: within 2 slabs of the mean here. */
	for (int i = 0; i < 4; i++)
		cr_expect(count[i] >= 498 && count[i] <= 502, "donor %d got %lu", i,
			  (unsigned long)count[i]);

	/* The emptier of two donors wins every time. */
	struct memxd_donor_load two[2] = { { true, 10 * slab }, { true, 20 * slab } };

	for (int i = 0; i < 100; i++)
		cr_expect_eq(memxd_place(two, 2, NULL, 0, slab, xorshift, &seed), 1);
}

Test(placement, two_replicas_apart_and_balanced)
{
	/* 3000 slabs, 2 replicas each, 5 equal donors: the second choice excludes the first. */
	struct memxd_donor_load d[5];
	uint64_t count[5] = { 0 };
	uint32_t seed = 4242;
	const uint64_t slab = 1 << 20;

	for (int i = 0; i < 5; i++)
		d[i] = (struct memxd_donor_load){ true, 4000 * slab };
	for (int s = 0; s < 3000; s++) {
		int a = memxd_place(d, 5, NULL, 0, slab, xorshift, &seed);
		uint32_t excl[1];
		int b;

		cr_assert(a >= 0 && a < 5, "slab %d: first replica on %d", s, a);
		d[a].free_bytes -= slab;
		count[a]++;
		excl[0] = (uint32_t)a;
		b = memxd_place(d, 5, excl, 1, slab, xorshift, &seed);
		cr_assert(b >= 0 && b < 5, "slab %d: second replica on %d", s, b);
		cr_assert_neq(a, b, "slab %d: both replicas on donor %d", s, a);
		d[b].free_bytes -= slab;
		count[b]++;
	}
	/*
	 * Mean 1200. Two choices on free memory keep every donor within a few
	 * slabs of it (at most 3 over 2000 seeds); one random choice would
	 * stray by about 31 (one standard deviation). Bound: 6 slabs, 0.5%.
	 */
	for (int i = 0; i < 5; i++) {
		cr_expect(count[i] >= 1200 - 6 && count[i] <= 1200 + 6, "donor %d got %lu", i,
			  (unsigned long)count[i]);
		cr_expect_eq(d[i].free_bytes, (4000 - count[i]) * slab);
	}
}

Test(placement, dead_and_short_donors_never_chosen)
{
	/*
	 * The dead donors have the most free memory and the short ones miss
	 * by a byte, so a wrong filter would show. The eligible ones have
	 * exactly what is needed (the bound is inclusive) and tie, so each
	 * wins about a third of the draws.
	 */
	const uint64_t need = 4ULL << 20;
	struct memxd_donor_load d[8] = {
		{ false, 1ULL << 40 }, { true, need }, { true, need - 1 }, { false, 1ULL << 40 },
		{ true, need }, { true, 0 }, { true, need }, { false, need },
	};
	uint64_t count[8] = { 0 };
	uint32_t seed = 777, excl[2] = { 1, 4 }, all[3] = { 1, 4, 6 };
	const int draws = 30000;

	for (int i = 0; i < draws; i++) {
		int r = memxd_place(d, 8, NULL, 0, need, xorshift, &seed);

		cr_assert(r == 1 || r == 4 || r == 6, "draw %d chose donor %d", i, r);
		count[r]++;
	}
	for (int i = 0; i < 3; i++)
		cr_expect(count[all[i]] > draws / 4, "donor %u chosen only %lu times", all[i],
			  (unsigned long)count[all[i]]);
	/* Excluding two of the three leaves one; excluding all three leaves none. */
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(memxd_place(d, 8, excl, 2, need, xorshift, &seed), 6);
	cr_expect_eq(memxd_place(d, 8, all, 3, need, xorshift, &seed), -ENOSPC);
	cr_expect_eq(memxd_place(d, 8, NULL, 0, need + 1, xorshift, &seed), -ENOSPC,
		     "no live donor has room for one byte more");
}

/*
 * memxd_place_replica's tiers (grants.c and the simulator): six donors on
 * hosts 0,0,1,2,3,4 and zones a,a,a,b,b,c; copysets {0,3}, {2,4}, {1,5}.
 */
struct view_donors {
	bool usable[6];
	uint64_t free_bytes[6];
};

static const int host_of[6] = { 0, 0, 1, 2, 3, 4 };
static const char zone_of[6] = { 'a', 'a', 'a', 'b', 'b', 'c' };

static bool v_usable(uint32_t d, void *arg)
{
	return ((struct view_donors *)arg)->usable[d];
}

static uint64_t v_free(uint32_t d, void *arg)
{
	return ((struct view_donors *)arg)->free_bytes[d];
}

static bool v_same_host(uint32_t a, uint32_t b, void *arg)
{
	return host_of[a] == host_of[b];
}

static bool v_same_zone(uint32_t a, uint32_t b, void *arg)
{
	return zone_of[a] == zone_of[b];
}

static uint32_t group_members[] = { 0, 3, 2, 4, 1, 5 };

Test(placement, tiers_copysets_then_zones_then_anything_but_the_host)
{
	struct view_donors vd = { .usable = { true, true, true, true, true, true } };
	struct memxd_copysets cs = { .size = 2, .nr = 3, .member = group_members };
	struct memxd_place_view view = {
		.nr_donors = 6, .slab_bytes = 1 << 20, .usable = v_usable, .free_bytes = v_free,
		.same_host = v_same_host, .same_zone = v_same_zone, .arg = &vd, .copysets = &cs,
	};
	struct memxd_donor_load load[6];
	uint32_t seed = 99, have[1] = { 0 };
	unsigned int tier;

	for (int i = 0; i < 6; i++)
		vd.free_bytes[i] = 1ULL << 30;
	/* Group and zone allow 3 alone: the strictest tier. */
	for (int i = 0; i < 100; i++) {
		tier = 0;
		cr_assert_eq(memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift,
						 &seed), 3);
		cr_assert_eq(tier, 0);
	}
	/* 3 full: no group left, then zones: 4 or 5 (b, c), never 1 (host 0) or 2 (zone a). */
	vd.free_bytes[3] = 0;
	for (int i = 0; i < 100; i++) {
		int r;

		tier = 0;
		r = memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed);
		cr_assert(r == 4 || r == 5, "chose %d", r);
		cr_assert_eq(tier, 1);
	}
	/* Zones b and c full too: anything but donor 0's host: 2. */
	vd.free_bytes[4] = vd.free_bytes[5] = 0;
	tier = 0;
	cr_expect_eq(memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed), 2);
	cr_expect_eq(tier, 3);
	/* A repair may ask a full donor (its reserve): the group's 3 again, strictest tier. */
	view.repair = true;
	tier = 0;
	cr_expect_eq(memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed), 3);
	cr_expect_eq(tier, 0);
	/* Only donor 0's host has room and it is not usable elsewhere: none. */
	view.repair = false;
	vd.usable[2] = false;
	tier = 0;
	cr_expect_eq(memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed),
		     -ENOSPC);
}

/* memxd_capacity_slabs: replicas of one slab on distinct donors. */
Test(placement, capacity_slabs)
{
	uint64_t even[] = { 10, 10, 10 }, skewed[] = { 100, 1, 1 }, none[] = { 0, 0 };

	cr_expect_eq(memxd_capacity_slabs(even, 3, 1), 30);
	cr_expect_eq(memxd_capacity_slabs(even, 3, 2), 15);
	cr_expect_eq(memxd_capacity_slabs(even, 3, 3), 10);
	cr_expect_eq(memxd_capacity_slabs(even, 3, 0), 30, "0 replicas counts as 1");
	/* A big donor cannot hold two replicas of one slab: its partners limit it. */
	cr_expect_eq(memxd_capacity_slabs(skewed, 3, 2), 2);
	cr_expect_eq(memxd_capacity_slabs(skewed, 3, 1), 102);
	cr_expect_eq(memxd_capacity_slabs(skewed, 1, 2), 0, "one donor holds no 2-replica slab");
	cr_expect_eq(memxd_capacity_slabs(none, 2, 1), 0);
	cr_expect_eq(memxd_capacity_slabs(NULL, 0, 2), 0);
}

/*
 * Zones before copysets: donor 0's only group is {0, 2}, both in zone a (a
 * group that had to share a zone). While zone b or c has room, the replica
 * goes there, off the group; only when they are full does the group's 2 win.
 * (Before, the group won at once: both replicas in zone a, lost with it.)
 */
static uint32_t zone_group_members[] = { 0, 2, 3, 4, 1, 5 };

Test(placement, zones_win_over_copysets)
{
	struct view_donors vd = { .usable = { true, true, true, true, true, true } };
	struct memxd_copysets cs = { .size = 2, .nr = 3, .member = zone_group_members };
	struct memxd_place_view view = {
		.nr_donors = 6, .slab_bytes = 1 << 20, .usable = v_usable, .free_bytes = v_free,
		.same_host = v_same_host, .same_zone = v_same_zone, .arg = &vd, .copysets = &cs,
	};
	struct memxd_donor_load load[6];
	uint32_t seed = 7, have[1] = { 0 };
	unsigned int tier;

	for (int i = 0; i < 6; i++)
		vd.free_bytes[i] = 1ULL << 30;
	for (int i = 0; i < 100; i++) {
		int r;

		tier = 0;
		r = memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed);
		cr_assert(r == 3 || r == 4 || r == 5, "chose %d: zone a again while b and c have room",
			  r);
		cr_assert_eq(tier, 1, "zones alone");
	}
	/* Zones b and c full: the group, in zone a, before any other donor of zone a. */
	vd.free_bytes[3] = vd.free_bytes[4] = vd.free_bytes[5] = 0;
	tier = 0;
	cr_expect_eq(memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed), 2);
	cr_expect_eq(tier, 2, "copysets alone");
	/* A repair may ask zone b's full donors (their reserve): across zones again. */
	view.repair = true;
	tier = 0;
	{
		int r = memxd_place_replica(&view, have, 1, have, 1, &tier, load, xorshift, &seed);

		cr_expect(r == 3 || r == 4 || r == 5, "chose %d", r);
		cr_expect_eq(tier, 1);
	}
}
