// SPDX-License-Identifier: GPL-2.0
/*
 * Copysets (client/copysets.c): groups of R donors from W/(R-1) random
 * permutations; each donor shares groups with about W others; no group holds
 * two donors of one host, nor of one zone while the zones' sizes allow it
 * (and as few as they must when they do not); allow() lets a replica join
 * only the donors of a group it completes, and anywhere when there are no
 * groups.
 */
#include <criterion/criterion.h>

#include "client/copysets.h"
#include "common/proc.h"

static bool host_of_pairs(uint32_t a, uint32_t b, void *arg)
{
	return a / 2 == b / 2;	/* donors 0-1, 2-3, ... share a host */
}

Test(copysets, groups_cover_every_donor_with_the_scatter_width)
{
	struct memxd_copysets cs = { 0 };
	uint32_t ids[64], rng = 12345, partners[64][64] = { { 0 } };

	for (uint32_t i = 0; i < 64; i++)
		ids[i] = i;
	cr_assert_eq(memxd_copysets_build(&cs, ids, 64, 2, 4, NULL, NULL, NULL, memxd_rand, &rng), 0);
	cr_expect_eq(cs.nr, 4 * 32, "4 permutations of 32 pairs");
	for (unsigned int g = 0; g < cs.nr; g++) {
		uint32_t a = cs.member[2 * g], b = cs.member[2 * g + 1];

		cr_assert_neq(a, b);
		partners[a][b] = partners[b][a] = 1;
	}
	for (int i = 0; i < 64; i++) {
		int n = 0;

		for (int j = 0; j < 64; j++)
			n += partners[i][j];
		cr_expect(n >= 1 && n <= 4, "donor %d has %d partners", i, n);
	}
	/* allow(): only group-mates after the first replica. */
	for (uint32_t a = 0; a < 64; a++)
		for (uint32_t b = 0; b < 64; b++)
			if (a != b)
				cr_expect_eq(memxd_copysets_allow(&cs, &a, 1, b), partners[a][b] == 1,
					     "%u %u", a, b);
	cr_expect(memxd_copysets_allow(&cs, NULL, 0, 7), "the first replica goes anywhere");
	memxd_copysets_fini(&cs);
}

Test(copysets, never_two_donors_of_one_host)
{
	struct memxd_copysets cs = { 0 };
	uint32_t ids[32], rng = 99;

	for (uint32_t i = 0; i < 32; i++)
		ids[i] = i;
	cr_assert_eq(memxd_copysets_build(&cs, ids, 32, 3, 4, host_of_pairs, NULL, NULL,
					  memxd_rand, &rng), 0);
	cr_expect_gt(cs.nr, 0);
	for (unsigned int g = 0; g < cs.nr; g++)
		for (int i = 0; i < 3; i++)
			for (int j = i + 1; j < 3; j++)
				cr_expect_neq(cs.member[3 * g + i] / 2, cs.member[3 * g + j] / 2,
					      "group %u puts two donors of one host together", g);
	memxd_copysets_fini(&cs);
}

Test(copysets, no_groups_means_anywhere)
{
	struct memxd_copysets cs = { 0 };
	uint32_t ids[2] = { 0, 1 }, rng = 1, a = 0;

	cr_assert_eq(memxd_copysets_build(&cs, ids, 2, 2, 0, NULL, NULL, NULL, memxd_rand, &rng), 0);
	cr_expect_eq(cs.nr, 0, "width 0: no copysets");
	cr_expect(memxd_copysets_allow(&cs, &a, 1, 1));
	cr_assert_eq(memxd_copysets_build(&cs, ids, 1, 2, 4, NULL, NULL, NULL, memxd_rand, &rng), 0);
	cr_expect_eq(cs.nr, 0, "fewer donors than a group");
	memxd_copysets_fini(&cs);
}

/*
 * Zones: a donor's zone in zone_tab (0: none), its host in host_tab (each
 * donor its own unless set). same_zone(a, a) says whether a has a zone.
 */
static int zone_tab[64], host_tab[64];

static bool zone_same(uint32_t a, uint32_t b, void *arg)
{
	return zone_tab[a] && zone_tab[a] == zone_tab[b];
}

static bool host_same(uint32_t a, uint32_t b, void *arg)
{
	return host_tab[a] == host_tab[b];
}

static void set_donors(unsigned int n, const int *zone_sizes, unsigned int nr_zones)
{
	unsigned int d = 0;

	for (unsigned int i = 0; i < 64; i++) {
		zone_tab[i] = 0;
		host_tab[i] = (int)i;
	}
	for (unsigned int z = 0; z < nr_zones; z++)
		for (int k = 0; k < zone_sizes[z]; k++)
			zone_tab[d++] = (int)z + 1;
	cr_assert_leq(d, n);
}

/* Groups that put two donors of one zone together. */
static unsigned int zone_shared(const struct memxd_copysets *cs)
{
	unsigned int shared = 0;

	for (unsigned int g = 0; g < cs->nr; g++) {
		const uint32_t *grp = &cs->member[g * cs->size];
		bool same = false;

		for (unsigned int i = 0; i < cs->size; i++)
			for (unsigned int j = i + 1; j < cs->size; j++)
				same |= zone_same(grp[i], grp[j], NULL);
		shared += same;
	}
	return shared;
}

static unsigned int groups_with(const struct memxd_copysets *cs, uint32_t d)
{
	unsigned int n = 0;

	for (unsigned int g = 0; g < cs->nr * cs->size; g++)
		n += cs->member[g] == d;
	return n;
}

Test(copysets, groups_span_zones)
{
	/* Racks of 8, 8 and 4: a group never holds two donors of one rack. */
	static const int sizes[] = { 8, 8, 4 };
	struct memxd_copysets cs = { 0 };
	uint32_t ids[20];

	set_donors(20, sizes, 3);
	for (uint32_t i = 0; i < 20; i++)
		ids[i] = i;
	for (uint32_t seed = 1; seed <= 200; seed++) {
		uint32_t rng = seed;

		cr_assert_eq(memxd_copysets_build(&cs, ids, 20, 2, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_assert_eq(cs.nr, 4 * 10, "4 permutations of 10 pairs");
		cr_assert_eq(zone_shared(&cs), 0, "seed %u: a group inside one rack", seed);
		cr_assert_eq(cs.shared, 0);
		cr_assert(cs.zoned);
		cr_assert_eq(cs.zones, 3);
		cr_assert_eq(cs.largest, 8);
	}
	/* Three replicas over racks of 8, 8 and 9: 25 donors, one (of the 9) left out each time. */
	{
		static const int three[] = { 8, 8, 9 };
		uint32_t rng = 7, ids25[25];

		set_donors(25, three, 3);
		for (uint32_t i = 0; i < 25; i++)
			ids25[i] = i;
		for (int round = 0; round < 100; round++) {
			cr_assert_eq(memxd_copysets_build(&cs, ids25, 25, 3, 4, host_same, zone_same,
							  NULL, memxd_rand, &rng), 0);
			cr_assert_eq(cs.nr, 2 * 8, "2 permutations of 8 triples");
			cr_assert_eq(zone_shared(&cs), 0, "a triple inside one rack");
		}
	}
	memxd_copysets_fini(&cs);
}

Test(copysets, the_left_out_donor_comes_from_the_largest_zone)
{
	/* 5 donors, racks of 3 and 2, pairs: 2 pairs span both racks if a donor of the 3 sits out. */
	static const int sizes[] = { 3, 2 };
	struct memxd_copysets cs = { 0 };
	uint32_t ids[5] = { 0, 1, 2, 3, 4 };

	set_donors(5, sizes, 2);
	for (uint32_t seed = 1; seed <= 200; seed++) {
		uint32_t rng = seed;

		cr_assert_eq(memxd_copysets_build(&cs, ids, 5, 2, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_assert_eq(cs.nr, 8);
		cr_assert_eq(zone_shared(&cs), 0, "seed %u: a pair inside one rack", seed);
	}
	memxd_copysets_fini(&cs);
}

Test(copysets, too_few_zones_share_as_few_groups_as_they_must)
{
	struct memxd_copysets cs = { 0 };
	uint32_t ids[16], rng = 3;

	for (uint32_t i = 0; i < 16; i++)
		ids[i] = i;
	/* One zone: every group inside it, as without zones; said in shared. */
	{
		static const int one[] = { 16 };

		set_donors(16, one, 1);
		cr_assert_eq(memxd_copysets_build(&cs, ids, 16, 2, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_expect_eq(cs.nr, 32, "groups still, for the scatter width");
		cr_expect_eq(cs.shared, 32);
		cr_expect_eq(zone_shared(&cs), 32);
		cr_expect_eq(cs.zones, 1);
		cr_expect_eq(cs.largest, 16);
	}
	/* Racks of 12 and 4: 4 pairs span them, the other 8 of rack 1 pair up (4). */
	{
		static const int uneven[] = { 12, 4 };

		set_donors(16, uneven, 2);
		for (int round = 0; round < 100; round++) {
			cr_assert_eq(memxd_copysets_build(&cs, ids, 16, 2, 4, host_same, zone_same,
							  NULL, memxd_rand, &rng), 0);
			cr_assert_eq(cs.nr, 32);
			cr_assert_eq(zone_shared(&cs), 4 * 4, "4 pairs inside rack 1 per permutation");
			cr_assert_eq(cs.shared, 16);
			cr_assert_eq(cs.largest, 12);
			for (uint32_t d = 0; d < 16; d++)
				cr_assert_eq(groups_with(&cs, d), 4, "every donor in every permutation");
		}
	}
	/* Three replicas, two racks: every triple shares one, never all three in one. */
	{
		static const int two[] = { 9, 9 };
		uint32_t ids18[18];

		for (uint32_t i = 0; i < 18; i++)
			ids18[i] = i;
		set_donors(18, two, 2);
		cr_assert_eq(memxd_copysets_build(&cs, ids18, 18, 3, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_expect_eq(cs.shared, cs.nr);
		for (unsigned int g = 0; g < cs.nr; g++) {
			const uint32_t *grp = &cs.member[3 * g];

			cr_expect(!(zone_same(grp[0], grp[1], NULL) && zone_same(grp[1], grp[2], NULL)),
				  "a triple inside one rack");
		}
	}
	/* Donors without zones count as zones of their own: no warning. */
	{
		set_donors(16, NULL, 0);
		cr_assert_eq(memxd_copysets_build(&cs, ids, 16, 2, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_expect_eq(cs.shared, 0);
		cr_expect(!cs.zoned);
		cr_expect_eq(cs.zones, 16);
	}
	memxd_copysets_fini(&cs);
}

Test(copysets, donors_joining_and_leaving_keep_groups_across_zones)
{
	/* Racks 1-3 of 4 donors (0-11); donors 12-15 join in rack 4, then rack 2 leaves. */
	static const int sizes[] = { 4, 4, 4, 4 };
	struct memxd_copysets cs = { 0 };
	uint32_t ids[16], n = 0, rng = 11;

	set_donors(16, sizes, 4);
	for (uint32_t i = 0; i < 12; i++)
		ids[n++] = i;
	cr_assert_eq(memxd_copysets_build(&cs, ids, n, 2, 4, host_same, zone_same, NULL, memxd_rand,
					  &rng), 0);
	cr_expect_eq(zone_shared(&cs), 0);
	cr_expect_eq(cs.zones, 3);
	for (uint32_t i = 12; i < 16; i++) {	/* rack 4 joins, one donor at a time */
		ids[n++] = i;
		cr_assert_eq(memxd_copysets_build(&cs, ids, n, 2, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_expect_eq(zone_shared(&cs), 0, "after donor %u joined", i);
		cr_expect_eq(cs.shared, 0);
		cr_expect_gt(groups_with(&cs, i), 0, "donor %u joined no group", i);
	}
	cr_expect_eq(cs.zones, 4);
	/* Rack 2 (donors 4-7) leaves: the rest never group with it nor within a rack. */
	n = 0;
	for (uint32_t i = 0; i < 16; i++)
		if (zone_tab[i] != 2)
			ids[n++] = i;
	cr_assert_eq(memxd_copysets_build(&cs, ids, n, 2, 4, host_same, zone_same, NULL, memxd_rand,
					  &rng), 0);
	cr_expect_eq(zone_shared(&cs), 0);
	for (uint32_t d = 4; d < 8; d++)
		cr_expect_eq(groups_with(&cs, d), 0, "donor %u left but is in a group", d);
	/* Racks 2 to 4 leave: one rack left, groups inside it, and said. */
	n = 0;
	for (uint32_t i = 0; i < 16; i++)
		if (zone_tab[i] == 1)
			ids[n++] = i;
	cr_assert_eq(memxd_copysets_build(&cs, ids, n, 2, 4, host_same, zone_same, NULL, memxd_rand,
					  &rng), 0);
	cr_expect_eq(cs.nr, 4 * 2);
	cr_expect_eq(cs.shared, cs.nr);
	memxd_copysets_fini(&cs);
}

Test(copysets, a_host_in_a_zone_still_never_twice)
{
	/* Zones of 6, hosts of 2 inside them, plus 4 donors without a zone on 2 hosts. */
	static const int sizes[] = { 6, 6 };
	struct memxd_copysets cs = { 0 };
	uint32_t ids[16], rng = 5;

	set_donors(16, sizes, 2);
	for (uint32_t i = 0; i < 16; i++) {
		ids[i] = i;
		host_tab[i] = (int)i / 2;
	}
	for (int round = 0; round < 100; round++) {
		cr_assert_eq(memxd_copysets_build(&cs, ids, 16, 2, 4, host_same, zone_same, NULL,
						  memxd_rand, &rng), 0);
		cr_assert_eq(zone_shared(&cs), 0);
		for (unsigned int g = 0; g < cs.nr; g++)
			cr_assert_neq(host_tab[cs.member[2 * g]], host_tab[cs.member[2 * g + 1]]);
	}
	memxd_copysets_fini(&cs);
}
