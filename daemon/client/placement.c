// SPDX-License-Identifier: GPL-2.0
/* Power-of-two-choices placement; pure logic, unit tested with a seeded random source. */
#include <errno.h>

#include "client/placement.h"

#define MEMXD_PLACE_MAX_DONORS 256

static bool excluded(uint32_t d, const uint32_t *exclude, int nr_exclude)
{
	for (int i = 0; i < nr_exclude; i++)
		if (exclude[i] == d)
			return true;
	return false;
}

int memxd_place(const struct memxd_donor_load *donors, int n, const uint32_t *exclude,
	       int nr_exclude, uint64_t need, memxd_rand_fn rnd, void *rnd_arg)
{
	uint16_t cand[MEMXD_PLACE_MAX_DONORS];
	int nc = 0, a, b;

	if (n > MEMXD_PLACE_MAX_DONORS)
		n = MEMXD_PLACE_MAX_DONORS;
	for (int i = 0; i < n; i++)
		if (donors[i].live && donors[i].free_bytes >= need &&
		    !excluded((uint32_t)i, exclude, nr_exclude))
			cand[nc++] = (uint16_t)i;
	if (!nc)
		return -ENOSPC;
	if (nc == 1)
		return cand[0];
	a = rnd(rnd_arg) % nc;
	b = rnd(rnd_arg) % (nc - 1);
	if (b >= a)
		b++;	/* two distinct candidates */
	return donors[cand[a]].free_bytes >= donors[cand[b]].free_bytes ? cand[a] : cand[b];
}
