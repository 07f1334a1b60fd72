// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: what a dead engine left on the donors, given back by
 * the engine that takes its volume over.
 *
 * An engine that dies leaves grants that its slab map does not name: its
 * pooled grants (--grant-pool), the grants of a mapping or a copy it died in
 * (undone at the resume, state.c), frees it had deferred. The donors keep
 * them with the volume, and without this they would stay for the volume's
 * life: each crash would cost up to --grant-pool slabs per donor more.
 *
 * A donor marks every grant it keeps of the volume unclaimed when an engine
 * of a newer epoch takes it over (proto.h: MEMX_MSG_CLAIM). Once the resumed
 * map is known, this engine CLAIMs, donor by donor, the handles the map
 * names there (bitmaps of MEMX_CLAIM_BITS handles), then PRUNEs: the donor
 * frees the rest. Only a donor that kept more than the map names is asked,
 * so a clean take-over costs nothing. A claim that does not go through (the
 * donor stops answering) ends that donor's turn without a PRUNE: a grant is
 * never freed unless every claim before it was heard.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/log.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The handles the map names on donor d (live replicas), sorted, into h. Returns how many. */
static size_t named_handles(struct memxd_client *c, struct memxd_donor *d, uint32_t *h)
{
	size_t n = 0;

	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];
		uint32_t nr = atomic_load(&slab->nr_replicas);

		for (uint32_t i = 0; i < nr && i < MEMXD_MAX_REPLICAS; i++) {
			const struct memxd_replica *rep = &slab->replica[i];

			if (atomic_load(&rep->live) && rep->donor == d->idx && rep->handle)
				h[n++] = rep->handle;
		}
	}
	qsort(h, n, sizeof(*h), cmp_u32);
	return n;
}

/*
 * Claims h[0..n) on d, then prunes. Returns 0, or -errno from a message that
 * did not go through (then nothing was pruned).
 */
static int claim_and_prune(struct memxd_client *c, struct memxd_donor *d, const uint32_t *h,
			   size_t n, uint32_t *strangers, uint32_t *left)
{
	struct memxd_msg_info req, reply;
	int r;

	for (size_t k = 0; k < n;) {
		req = (struct memxd_msg_info){ .type = MEMX_MSG_CLAIM, .claim.first = h[k] };
		for (; k < n && h[k] - req.claim.first < MEMX_CLAIM_BITS; k++) {
			uint32_t bit = h[k] - req.claim.first;

			req.claim.bits[bit / 8] |= (uint8_t)(1U << (bit % 8));
		}
		r = memxd_donor_call(c, d, &req, &reply);
		if (r == -ENOENT)
			(*strangers)++;		/* the map names one it does not hold as ours */
		else if (r)
			return r;
	}
	req = (struct memxd_msg_info){ .type = MEMX_MSG_PRUNE };
	r = memxd_donor_call(c, d, &req, &reply);
	if (r)
		return r;
	*left = reply.stats.slabs_granted;
	memxd_donor_set_free(d, reply.stats.memory_free, c->map.slab_bytes);
	return 0;
}

void memxd_prune_leftovers(struct memxd_client *c)
{
	uint32_t *h = NULL;

	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		uint32_t strangers = 0, left = 0;
		size_t n;
		int r;

		if (atomic_load(&d->state) != MEMXD_DONOR_LIVE || d->slabs_kept <= d->slabs)
			continue;
		if (!h) {
			h = calloc(c->map.nr_slabs * MEMXD_MAX_REPLICAS + 1, sizeof(*h));
			if (!h) {
				memxd_warn("volume %s: no memory to claim our grants: what the engine "
					   "before us left on the donors stays until the volume ends",
					   c->opt.name);
				return;
			}
		}
		n = named_handles(c, d, h);
		r = claim_and_prune(c, d, h, n, &strangers, &left);
		if (r) {
			memxd_warn("volume %s: donor %s: claiming our %zu grant(s) failed (%s): it keeps "
				   "the %u the engine before us left, until a later take-over or the "
				   "volume's end", c->opt.name, d->name, n, strerror(-r),
				   d->slabs_kept - d->slabs);
			continue;
		}
		if (strangers)
			memxd_warn("volume %s: donor %s does not hold as ours some grants our map names "
				   "there", c->opt.name, d->name);
		memxd_info("volume %s: donor %s gave back %u grant(s) the engine before us left "
			   "(pooled, or half-mapped); it holds %u of ours, the map names %u",
			   c->opt.name, d->name, d->slabs_kept > left ? d->slabs_kept - left : 0, left,
			   d->slabs);
		d->slabs_kept = left;
	}
	free(h);
}
