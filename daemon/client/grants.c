// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: slabs granted and given back, in the control thread.
 *
 * A first write to a slab parks its request and asks (mailbox.c) for the slab
 * to be mapped: the slab gets --replicas grants, each placed by power of two
 * choices among live donors by free memory (placement.c) on a donor that
 * holds no other replica of it, asked for with ALLOC_SLAB. The replicas are
 * written into the slab map before the slab is published MAPPED (slabmap.h);
 * the queue threads are then woken to restart what was parked.
 *
 * A slab that a DISCARD covers whole is given back: its grants are freed with
 * FREE_SLAB once no I/O is in flight on it, or later (deferred) if some still is.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "client/client.h"
#include "client/placement.h"
#include "common/log.h"
#include "common/proc.h"

/* Placement's view of our donor table (placement.h). */
static bool donor_usable(uint32_t i, void *arg)
{
	struct memxd_client *c = arg;
	struct memxd_donor *d = &c->donor[i];

	return atomic_load(&d->state) == MEMXD_DONOR_LIVE && !d->evict_bytes &&
	       d->welcome.max_slab_shift >= c->map.slab_shift;
}

static uint64_t donor_free(uint32_t i, void *arg)
{
	struct memxd_client *c = arg;

	return c->donor[i].memory_free;
}

static bool donors_share_zone(uint32_t a, uint32_t b, void *arg)
{
	struct memxd_client *c = arg;
	const char *za = c->donor[a].welcome.zone;

	return za[0] && !strcmp(za, c->donor[b].welcome.zone);
}

static bool donors_share_host(uint32_t a, uint32_t b, void *arg)
{
	struct memxd_client *c = arg;

	return !memcmp(c->donor[a].welcome.host_id, c->donor[b].welcome.host_id,
		       sizeof(c->donor[a].welcome.host_id));
}

void memxd_copysets_refresh(struct memxd_client *c)
{
	uint32_t live[MEMXD_MAX_DONORS];
	uint64_t sig = 1469598103934665603ULL;	/* FNV-1a over (slot, live, generation) */
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++) {
		bool is_live = atomic_load(&c->donor[i].state) == MEMXD_DONOR_LIVE;

		if (is_live)
			live[n++] = i;
		sig = (sig ^ (i << 8 | is_live << 7 | memxd_donor_gen(&c->donor[i]))) *
		      1099511628211ULL;
	}
	if (c->copysets_built && sig == c->copysets_sig)
		return;
	if (memxd_copysets_build(&c->copysets, live, n, c->opt.replicas, c->opt.scatter_width,
				 donors_share_host, donors_share_zone, c, memxd_rand, &c->rng))
		memxd_warn("volume %s: no memory for copysets: replicas go anywhere", c->opt.name);
	c->copysets_sig = sig;
	c->copysets_built = true;
	memxd_dbg(MEMXD_DBG_CTRL, "volume %s: %u copysets over %u live donors in %u zones",
		  c->opt.name, c->copysets.nr, n, c->copysets.zones);
	/* Said once when it starts and once when it ends, not at every rebuild. */
	if (c->copysets.shared && !c->copysets_zone_shared)
		memxd_warn("volume %s: %u of %u copysets put two donors of one zone together: "
			   "too few zones (%u live donors in %u zones, the largest holds %u); "
			   "replicas still avoid sharing a zone while another zone has room",
			   c->opt.name, c->copysets.shared, c->copysets.nr, n, c->copysets.zones,
			   c->copysets.largest);
	else if (!c->copysets.shared && c->copysets_zone_shared)
		memxd_info("volume %s: copysets span zones again (%u live donors in %u zones)",
			   c->opt.name, n, c->copysets.zones);
	c->copysets_zone_shared = c->copysets.shared;
}

int memxd_grant_slab(struct memxd_client *c, uint64_t s, uint32_t *exclude, int nr_exclude,
		     bool repair, struct memxd_replica *out)
{
	struct memxd_donor_load load[MEMXD_MAX_DONORS];
	uint32_t tried[MEMXD_MAX_DONORS * 2];
	unsigned int tier = 0;	/* placement's tiers: the strictest first */
	struct memxd_place_view view = {
		.nr_donors = c->nr_donors, .slab_bytes = c->map.slab_bytes, .repair = repair,
		.usable = donor_usable, .free_bytes = donor_free, .same_host = donors_share_host,
		.same_zone = donors_share_zone, .arg = c, .copysets = &c->copysets,
	};
	int nr_tried = 0;

	memcpy(tried, exclude, nr_exclude * sizeof(*exclude));
	nr_tried = nr_exclude;
	for (;;) {
		struct memxd_msg_info req = { .type = MEMX_MSG_ALLOC_SLAB }, reply;
		struct memxd_donor *d;
		int idx, r;

		idx = memxd_place_replica(&view, exclude, nr_exclude, tried, nr_tried, &tier, load,
					  memxd_rand, &c->rng);
		if (idx < 0)
			return idx;
		d = &c->donor[idx];
		req.alloc.slab_bytes = c->map.slab_bytes;
		req.alloc.slab_index = s;
		req.alloc.flags = repair ? MEMX_ALLOC_F_REPAIR : 0;
		r = memxd_donor_call(c, d, &req, &reply);
		if (!r && reply.grant.slab_bytes == c->map.slab_bytes) {
			d->slabs++;
			memxd_donor_set_free(d, reply.grant.memory_free, c->map.slab_bytes);
			*out = (struct memxd_replica){ .donor = (uint32_t)idx, .rkey = reply.grant.rkey,
						      .handle = reply.grant.handle, .live = 1,
						      .gen = memxd_donor_gen(d),
						      .remote_addr = reply.grant.remote_addr };
			return 0;
		}
		if (r == -ENOSPC || r == -EDQUOT)
			d->memory_free = 0;	/* full, or full for us (its quota) */
		memxd_warn("volume %s: donor %s refused slab %" PRIu64 ": %s", c->opt.name, d->name,
			  s, r ? strerror(-r) : "wrong slab size");
		tried[nr_tried++] = (uint32_t)idx;
	}
}

void memxd_free_grant(struct memxd_client *c, const struct memxd_replica *rep)
{
	struct memxd_donor *d = &c->donor[rep->donor];
	struct memxd_msg_info req = { .type = MEMX_MSG_FREE_SLAB, .free.handle = rep->handle };
	struct memxd_msg_info reply;

	/* A grant of an earlier occupant of the slot died with that donor's connection. */
	if (rep->donor >= c->nr_donors || rep->gen != memxd_donor_gen(d) ||
	    !memxd_donor_usable(atomic_load(&d->state)))
		return;
	if (memxd_donor_call(c, d, &req, &reply) == 0) {
		if (d->slabs)
			d->slabs--;
		memxd_donor_set_free(d, reply.stats.memory_free, c->map.slab_bytes);
	}
}

void memxd_map_slab(struct memxd_client *c, uint64_t s)
{
	struct memxd_slab *slab = &c->map.slabs[s];
	uint32_t exclude[MEMXD_MAX_REPLICAS];
	int n = 0, r = 0;

	while ((unsigned int)n < c->opt.replicas) {
		r = memxd_grant_slab(c, s, exclude, n, false, &slab->replica[n]);
		if (r)
			break;
		exclude[n] = slab->replica[n].donor;
		n++;
	}
	if (!n) {
		memxd_err("volume %s: no donor can take slab %" PRIu64 " (%" PRIu64 " bytes): %s; "
			 "writes to it fail with EIO", c->opt.name, s, c->map.slab_bytes,
			 r == -ENOSPC ? "no live donor has free memory" : strerror(-r));
		atomic_fetch_add(&c->fail_gen[s], 1);
		memxd_slab_publish(slab, MEMXD_SLAB_UNMAPPED);
		return;
	}
	if ((unsigned int)n < c->opt.replicas)
		memxd_warn("volume %s: slab %" PRIu64 " has %d of %u replicas", c->opt.name, s, n,
			  c->opt.replicas);
	slab->nr_replicas = (uint32_t)n;
	memxd_dbg(MEMXD_DBG_CTRL, "volume %s: slab %" PRIu64 " mapped on %d donor(s)", c->opt.name, s,
		 n);
	atomic_fetch_add(&c->slabs_mapped, 1);
	memxd_discards_reset_slab(&c->discards, s);	/* nothing of it is discarded yet */
	/* Nor same-filled: a slab is unmapped only after its marks were cleared. */
	memxd_samefill_clear(&c->samefill, s * c->map.slab_bytes, c->map.slab_bytes);
	memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);
}
/* Frees a replica's grant now, or later if I/O still uses the slab. */
static void free_or_defer(struct memxd_client *c, uint64_t s, const struct memxd_replica *rep)
{
	if (memxd_slab_wait_idle(&c->map.slabs[s], true, true)) {
		memxd_free_grant(c, rep);
		return;
	}
	if (c->nr_deferred < sizeof(c->deferred) / sizeof(c->deferred[0])) {
		c->deferred[c->nr_deferred].slab = s;
		c->deferred[c->nr_deferred].rep = *rep;
		c->nr_deferred++;
		return;
	}
	memxd_warn("volume %s: slab %" PRIu64 " stays busy; its old grant on donor %s is kept until "
		  "we disconnect", c->opt.name, s, c->donor[rep->donor].name);
}

/* Gives back the grants of a discarded slab (those still live when it was discarded). */
void memxd_free_discarded(struct memxd_client *c, const struct memxd_mail *mail)
{
	for (uint32_t i = 0; i < mail->free.nr_replicas; i++)
		if (mail->free.replica[i].live)
			free_or_defer(c, mail->free.slab, &mail->free.replica[i]);
}

uint64_t memxd_forget_lost(struct memxd_client *c)
{
	uint64_t n = 0;

	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];

		/* As a discard of the whole slab does it (io.c): no grant is left to free. */
		if (!memxd_slab_claim(slab, MEMXD_SLAB_LOST, MEMXD_SLAB_FREEING))
			continue;
		memxd_crc_zero(&c->crc, s * c->map.slab_bytes, c->map.slab_bytes);
		memxd_samefill_clear(&c->samefill, s * c->map.slab_bytes, c->map.slab_bytes);
		atomic_fetch_sub(&c->slabs_lost, 1);
		memxd_slab_publish(slab, MEMXD_SLAB_UNMAPPED);
		n++;
	}
	if (n)
		memxd_warn("volume %s: %" PRIu64 " lost slab(s) forgotten (memxctl): their data is "
			   "given up, they read as zeros and take writes again", c->opt.name, n);
	return n;
}

/* Retries deferred frees whose slab has gone quiet. */
void memxd_retry_deferred(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_deferred;) {
		struct memxd_slab *slab = &c->map.slabs[c->deferred[i].slab];

		if (atomic_load(&slab->reads_inflight) || atomic_load(&slab->writes_inflight)) {
			i++;
			continue;
		}
		memxd_free_grant(c, &c->deferred[i].rep);
		c->deferred[i] = c->deferred[--c->nr_deferred];
	}
}
