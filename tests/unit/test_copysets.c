// SPDX-License-Identifier: GPL-2.0
/*
 * Copysets (client/copysets.c): groups of R donors from W/(R-1) random
 * permutations; each donor shares groups with about W others; no group holds
 * two donors of one host; allow() lets a replica join only the donors of a
 * group it completes, and anywhere when there are no groups.
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
	cr_assert_eq(memxd_copysets_build(&cs, ids, 64, 2, 4, NULL, NULL, memxd_rand, &rng), 0);
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
	cr_assert_eq(memxd_copysets_build(&cs, ids, 32, 3, 4, host_of_pairs, NULL, memxd_rand,
					  &rng), 0);
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

	cr_assert_eq(memxd_copysets_build(&cs, ids, 2, 2, 0, NULL, NULL, memxd_rand, &rng), 0);
	cr_expect_eq(cs.nr, 0, "width 0: no copysets");
	cr_expect(memxd_copysets_allow(&cs, &a, 1, 1));
	cr_assert_eq(memxd_copysets_build(&cs, ids, 1, 2, 4, NULL, NULL, memxd_rand, &rng), 0);
	cr_expect_eq(cs.nr, 0, "fewer donors than a group");
	memxd_copysets_fini(&cs);
}
