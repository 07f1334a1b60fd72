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
