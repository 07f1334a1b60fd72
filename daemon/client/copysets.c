// SPDX-License-Identifier: GPL-2.0
/* Copysets (copysets.h): built on membership changes in the control thread, never per request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/copysets.h"

static bool group_ok(const uint32_t *g, unsigned int size, memxd_same_host_fn same_host,
		     void *arg)
{
	for (unsigned int i = 0; i < size; i++)
		for (unsigned int j = i + 1; j < size; j++)
			if (g[i] == g[j] || (same_host && same_host(g[i], g[j], arg)))
				return false;
	return true;
}

int memxd_copysets_build(struct memxd_copysets *cs, const uint32_t *ids, unsigned int n,
			 unsigned int size, unsigned int width, memxd_same_host_fn same_host,
			 void *host_arg, uint32_t (*rnd)(void *), void *rnd_arg)
{
	unsigned int perms, per = 0;
	uint32_t *perm, *member;

	memxd_copysets_fini(cs);
	cs->size = size;
	if (size < 2 || n < size || !width)
		return 0;
	perms = (width + size - 2) / (size - 1);
	per = n / size;
	perm = malloc(n * sizeof(*perm));
	member = malloc((size_t)perms * per * size * sizeof(*member));
	if (!perm || !member) {
		free(perm);
		free(member);
		return -ENOMEM;
	}
	for (unsigned int p = 0; p < perms; p++) {
		memcpy(perm, ids, n * sizeof(*perm));
		for (unsigned int i = n - 1; i > 0; i--) {	/* Fisher-Yates */
			unsigned int j = rnd(rnd_arg) % (i + 1);
			uint32_t t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (unsigned int g = 0; g < per; g++) {
			const uint32_t *grp = &perm[g * size];

			if (!group_ok(grp, size, same_host, host_arg))
				continue;	/* two donors of one host: not a group */
			memcpy(&member[cs->nr * size], grp, size * sizeof(*grp));
			cs->nr++;
		}
	}
	free(perm);
	cs->member = member;
	return 0;
}

void memxd_copysets_fini(struct memxd_copysets *cs)
{
	free(cs->member);
	cs->member = NULL;
	cs->nr = 0;
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
