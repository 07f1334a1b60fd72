// SPDX-License-Identifier: GPL-2.0
/* Recovery's decisions (recovery_plan.h), shared by the engine and the simulator. */
#include <errno.h>

#include "client/recovery_plan.h"

unsigned int memxd_plan_wanted(unsigned int replicas, unsigned int usable_donors)
{
	return replicas < usable_donors ? replicas : usable_donors;
}

bool memxd_plan_find_work(const struct memxd_slabmap *map, unsigned int want,
			  memxd_donor_pred wants_out, void *arg, uint64_t *slab_out, int *from)
{
	for (uint64_t s = 0; s < map->nr_slabs; s++) {
		const struct memxd_slab *slab = &map->slabs[s];

		if (memxd_slab_state(slab) != MEMXD_SLAB_MAPPED)
			continue;
		for (uint32_t i = 0; i < slab->nr_replicas; i++)
			if (slab->replica[i].live && wants_out(slab->replica[i].donor, arg)) {
				*slab_out = s;
				*from = (int)i;
				return true;
			}
	}
	for (uint64_t s = 0; s < map->nr_slabs; s++) {
		const struct memxd_slab *slab = &map->slabs[s];

		if (memxd_slab_state(slab) == MEMXD_SLAB_MAPPED &&
		    memxd_slab_live_replicas(slab) < want) {
			*slab_out = s;
			*from = -1;
			return true;
		}
	}
	return false;
}

int memxd_plan_copy_source(const struct memxd_slab *slab, int from, memxd_donor_pred usable,
			   void *arg, uint32_t exclude[MEMXD_MAX_REPLICAS], int *nr_exclude)
{
	uint32_t nr = slab->nr_replicas;
	int src = -ENODATA;

	*nr_exclude = 0;
	for (uint32_t i = 0; i < nr; i++) {
		const struct memxd_replica *rep = &slab->replica[i];

		if (!rep->live)
			continue;
		exclude[(*nr_exclude)++] = rep->donor;
		/* Read from a donor that stays, if there is one. */
		if (usable(rep->donor, arg) && (src < 0 || (int)i != from))
			src = (int)i;
	}
	return src;
}

bool memxd_plan_donor_holds(const struct memxd_slabmap *map, uint32_t donor)
{
	for (uint64_t s = 0; s < map->nr_slabs; s++) {
		uint32_t st = memxd_slab_state(&map->slabs[s]);

		/* Replicas of unmapped (discarded) slabs are stale, their grants freed. */
		if ((st == MEMXD_SLAB_MAPPED || st == MEMXD_SLAB_MIGRATING) &&
		    memxd_slab_on_donor(&map->slabs[s], donor))
			return true;
	}
	return false;
}

uint64_t memxd_plan_backlog(const struct memxd_slabmap *map, unsigned int replicas)
{
	uint64_t n = 0;

	for (uint64_t s = 0; s < map->nr_slabs; s++) {
		const struct memxd_slab *slab = &map->slabs[s];
		uint32_t st = memxd_slab_state(slab);

		if ((st == MEMXD_SLAB_MAPPED || st == MEMXD_SLAB_MIGRATING) &&
		    memxd_slab_live_replicas(slab) < replicas)
			n++;
	}
	return n;
}

enum memxd_gone memxd_plan_donor_gone(struct memxd_slab *slab, uint32_t donor)
{
	bool any = false, hit = false;

	for (uint32_t i = 0; i < slab->nr_replicas; i++) {
		if (slab->replica[i].donor == donor && slab->replica[i].live) {
			atomic_store_explicit(&slab->replica[i].live, 0, memory_order_release);
			hit = true;
		} else if (slab->replica[i].live) {
			any = true;
		}
	}
	if (!hit)
		return MEMXD_GONE_UNTOUCHED;
	return any ? MEMXD_GONE_DEGRADED : MEMXD_GONE_LAST;
}

unsigned int memxd_plan_settle(struct memxd_slab *slab, memxd_donor_pred usable, void *arg)
{
	for (uint32_t i = 0; i < slab->nr_replicas; i++)
		if (slab->replica[i].live && !usable(slab->replica[i].donor, arg))
			atomic_store_explicit(&slab->replica[i].live, 0, memory_order_release);
	return memxd_slab_live_replicas(slab);
}
