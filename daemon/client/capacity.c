// SPDX-License-Identifier: GPL-2.0
/*
 * Whether the donors can hold the volume. A swap device whose donors run out
 * of memory fails the next write to a new slab, and swap kills the process
 * whose page it was: so a new volume larger than its donors can hold at its
 * replica count is refused, unless --overcommit says that is meant (sparse
 * volumes, donors still to join). Status shows the shortfall either way. The
 * figures are the donors' free memory now: volumes created together on the
 * same donors, none written yet, each see all of it.
 */
#include <inttypes.h>
#include <stdio.h>

#include "client/client.h"
#include "client/placement.h"
#include "client/recovery_plan.h"
#include "common/log.h"

void memxd_capacity(struct memxd_client *c, struct memxd_capacity *cap)
{
	uint64_t slots[MEMXD_MAX_DONORS], mapped = atomic_load(&c->slabs_mapped);
	unsigned int usable = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];

		slots[i] = 0;
		if (atomic_load(&d->state) == MEMXD_DONOR_LIVE) {
			/* Our pooled grants there are room for our slabs too. */
			slots[i] = d->memory_free / c->map.slab_bytes + d->nr_pooled;
			usable++;
		}
	}
	cap->replicas = memxd_plan_wanted(c->opt.replicas, usable);
	cap->room_slabs = memxd_capacity_slabs(slots, c->nr_donors, cap->replicas);
	cap->unmapped_slabs = c->map.nr_slabs > mapped ? c->map.nr_slabs - mapped : 0;
	cap->shortfall_bytes = cap->unmapped_slabs > cap->room_slabs ?
			       (cap->unmapped_slabs - cap->room_slabs) * c->map.slab_bytes : 0;
}

int memxd_capacity_check(struct memxd_client *c)
{
	struct memxd_capacity cap;
	char free_list[512] = "";
	size_t n = 0;

	memxd_capacity(c, &cap);
	memxd_info("volume %s: the donors have room for %" PRIu64 " slab(s) of %" PRIu64 " MiB at %u "
		   "replica(s), and it has %" PRIu64 " unwritten", c->opt.name, cap.room_slabs,
		   c->map.slab_bytes >> 20, cap.replicas, cap.unmapped_slabs);
	if (!cap.shortfall_bytes)
		return 0;
	for (unsigned int i = 0; i < c->nr_donors && n < sizeof(free_list); i++)
		if (atomic_load(&c->donor[i].state) == MEMXD_DONOR_LIVE)
			n += (size_t)snprintf(free_list + n, sizeof(free_list) - n, "%s%s %" PRIu64
					      " MiB", n ? ", " : "", c->donor[i].name,
					      c->donor[i].memory_free >> 20);
	if (c->opt.overcommit) {
		memxd_warn("volume %s: overcommitted (--overcommit): the donors have room for %"
			   PRIu64 " of its %" PRIu64 " slabs at %u replica(s) (free: %s); writes "
			   "past that fail until donors join or free memory", c->opt.name,
			   cap.room_slabs, cap.unmapped_slabs, cap.replicas, free_list);
		return 0;
	}
	return memxd_log_errno(-ENOSPC, "volume %s: %" PRIu64 " MiB at %u replica(s) needs %"
			       PRIu64 " slabs of %" PRIu64 " MiB, the donors have room for %"
			       PRIu64 " (free: %s): add donors or memory, make the volume "
			       "smaller, or start it with --overcommit (then writes past the "
			       "donors' memory fail)", c->opt.name, c->map.volume_bytes >> 20,
			       cap.replicas, cap.unmapped_slabs, c->map.slab_bytes >> 20,
			       cap.room_slabs, free_list);
}

/*
 * Once a second: a volume that cannot be held whole (--overcommit, or donors
 * that lost memory since) is warned about as its donors' room nears its end
 * (a twentieth of the volume's slabs, or none), once, and again only after
 * the room grew back past a tenth.
 */
void memxd_capacity_watch(struct memxd_client *c)
{
	struct memxd_capacity cap;
	uint64_t low = c->map.nr_slabs / 20;

	memxd_capacity(c, &cap);
	if (c->capacity_warned) {
		if (!cap.shortfall_bytes || cap.room_slabs > c->map.nr_slabs / 10)
			c->capacity_warned = false;
		return;
	}
	if (!cap.shortfall_bytes || cap.room_slabs > low)
		return;
	c->capacity_warned = true;
	memxd_warn("volume %s: the donors have room for %" PRIu64 " more slab(s) at %u replica(s), "
		   "%" PRIu64 " are unwritten: writes to new slabs past that fail; add donors or "
		   "memory", c->opt.name, cap.room_slabs, cap.replicas, cap.unmapped_slabs);
}
