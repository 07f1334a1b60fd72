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
 *
 * The grant pool (--grant-pool N) takes the round trip out of a first write:
 * each live donor holds up to N grants of ours obtained ahead, bound to no
 * slab. Placement chooses donors exactly as without it (a pooled grant counts
 * as the donor's free memory, which it was); a chosen donor with a pooled
 * grant gives that one, at once, else it is asked with ALLOC_SLAB as before.
 * The control thread refills the pools one grant per turn, only while no
 * queue thread waits on the mailbox, and never beyond what the volume's
 * unwritten slabs can use. A pooled grant is fresh memory (the donor zeroes
 * what it grants) that nothing has written. It dies with its donor's
 * connection (a slot's generation changes with a new donor); a donor that
 * leaves or asks for memory back gets its pooled grants back first (and a
 * pressed one, or one a discard gave slabs back to, no refill until
 * MEMXD_POOL_PRESSED_MS after: that memory goes back to the cluster), and so
 * does one that granted a repair from the reserve it keeps beyond a quota
 * (first mappings stay held to the quota); the engine gives them back when
 * it stops or detaches. They are not in the state file: an
 * engine that dies leaves them on the donors as it leaves a half-done
 * mapping, freed when the volume is released or its lease ends.
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

/* What it reports free, plus our pooled grants there: placement sees what it would without a pool. */
static uint64_t donor_free(uint32_t i, void *arg)
{
	struct memxd_client *c = arg;

	return c->donor[i].memory_free + (uint64_t)c->donor[i].nr_pooled * c->map.slab_bytes;
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

/* A pooled grant of donor d as replica *out, if it has one that is still good. */
static bool pool_take(struct memxd_client *c, struct memxd_donor *d, struct memxd_replica *out)
{
	const struct memxd_pooled_grant *g;

	if (!d->nr_pooled || atomic_load(&d->state) != MEMXD_DONOR_LIVE ||
	    d->pool[d->nr_pooled - 1].gen != memxd_donor_gen(d))
		return false;
	g = &d->pool[--d->nr_pooled];
	d->slabs++;
	*out = (struct memxd_replica){ .donor = d->idx, .rkey = g->rkey, .handle = g->handle,
				      .live = 1, .gen = g->gen, .remote_addr = g->remote_addr };
	c->pool.taken++;
	return true;
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

	memxd_rest_end(c, "a slab gets a new grant");
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
		if (pool_take(c, d, out))
			return 0;
		req.alloc.slab_bytes = c->map.slab_bytes;
		req.alloc.slab_index = s;
		req.alloc.flags = repair ? MEMX_ALLOC_F_REPAIR : 0;
		r = memxd_donor_call(c, d, &req, &reply);
		if (!r && reply.grant.slab_bytes == c->map.slab_bytes) {
			d->slabs++;
			memxd_donor_set_free(d, reply.grant.memory_free, c->map.slab_bytes);
			if (repair && reply.grant.memory_free < c->map.slab_bytes)
				d->pool_off = true;	/* in its reserve: see pool_target() */
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
	memxd_rest_end(c, "a slab's grant is freed");
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
	uint64_t pooled_before = c->pool.taken;
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
	if (c->pool.taken - pooled_before == (uint64_t)n)
		c->pool.slabs++;	/* no round trip at all */
	memxd_dbg(MEMXD_DBG_CTRL, "volume %s: slab %" PRIu64 " mapped on %d donor(s), %" PRIu64
		 " from the pool", c->opt.name, s, n, c->pool.taken - pooled_before);
	atomic_fetch_add(&c->slabs_mapped, 1);
	memxd_discards_reset_slab(&c->discards, s);	/* nothing of it is discarded yet */
	/* Nor same-filled: a slab is unmapped only after its marks were cleared. */
	memxd_samefill_clear(&c->samefill, s * c->map.slab_bytes, c->map.slab_bytes);
	memxd_slab_publish(slab, MEMXD_SLAB_MAPPED);
}
/* Frees a replica's grant now, or later if I/O still uses the slab. */
static void free_or_defer(struct memxd_client *c, uint64_t s, const struct memxd_replica *rep)
{
	/* What a discard gives back is not for our pool to take again (MEMXD_POOL_PRESSED_MS). */
	if (rep->donor < c->nr_donors)
		c->donor[rep->donor].pool_retry_ns = memxd_now_ns() +
						     MEMXD_POOL_PRESSED_MS * 1000000ULL;
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

	if (c->slabs_lost)
		memxd_rest_end(c, "memxctl volume forget-lost");
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

/* ---- the grant pool ---------------------------------------------------------- */

/* Slabs no write has mapped yet: the most a pool of one donor can be of use to. */
static uint64_t unwritten_slabs(struct memxd_client *c)
{
	uint64_t used = atomic_load(&c->slabs_mapped) + atomic_load(&c->slabs_lost);

	return c->map.nr_slabs > used ? c->map.nr_slabs - used : 0;
}

/* What donor d's pool should hold now. */
static uint32_t pool_target(struct memxd_client *c, struct memxd_donor *d)
{
	uint64_t want = c->opt.grant_pool, unwritten = unwritten_slabs(c);

	/*
	 * A donor in its repair reserve has no room for our first mappings:
	 * without a pool it would refuse them, so with one it keeps none.
	 */
	if (d->pool_off && d->memory_free >= c->map.slab_bytes)
		d->pool_off = false;
	if (!donor_usable(d->idx, c) || d->pool_off)
		return 0;
	return (uint32_t)(want < unwritten ? want : unwritten);
}

/*
 * Gives back the newest pooled grant of d: FREE_SLAB if the donor still
 * answers for that grant; one whose connection died took it along.
 */
static void pool_free_one(struct memxd_client *c, struct memxd_donor *d)
{
	const struct memxd_pooled_grant *g = &d->pool[--d->nr_pooled];
	struct memxd_msg_info req = { .type = MEMX_MSG_FREE_SLAB, .free.handle = g->handle };
	struct memxd_msg_info reply;

	c->pool.dropped++;
	if (g->gen != memxd_donor_gen(d) || !memxd_donor_usable(atomic_load(&d->state)))
		return;
	if (memxd_donor_call(c, d, &req, &reply) == 0) {
		memxd_donor_set_free(d, reply.stats.memory_free, c->map.slab_bytes);
		/* Memory a pressed donor asked back: this grant was some of it. */
		d->evict_bytes = d->evict_bytes > c->map.slab_bytes ?
				 d->evict_bytes - c->map.slab_bytes : 0;
	}
}

void memxd_pool_drop(struct memxd_client *c, struct memxd_donor *d)
{
	uint32_t n = d->nr_pooled;

	while (d->nr_pooled)
		pool_free_one(c, d);
	if (n)
		memxd_dbg(MEMXD_DBG_CTRL, "volume %s: %u pooled grant(s) of donor %s dropped",
			  c->opt.name, n, d->name);
}

void memxd_pool_prune(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		uint32_t target = pool_target(c, d);

		/* Grants of an earlier occupant of the slot died with its connection. */
		if (d->nr_pooled && d->pool[0].gen != memxd_donor_gen(d)) {
			c->pool.dropped += d->nr_pooled;
			d->nr_pooled = 0;
		}
		/* A pressed or leaving donor gets these back before any slab moves. */
		while (d->nr_pooled > target)
			pool_free_one(c, d);
		/* Nor does it get asked again while pressed, nor soon after: no tug of war. */
		if (d->evict_bytes)
			d->pool_retry_ns = memxd_now_ns() + MEMXD_POOL_PRESSED_MS * 1000000ULL;
	}
}

void memxd_pool_give_back(struct memxd_client *c)
{
	uint64_t n = memxd_pool_held(c);

	for (unsigned int i = 0; i < c->nr_donors; i++)
		memxd_pool_drop(c, &c->donor[i]);
	if (n)
		memxd_info("volume %s: gave back %" PRIu64 " pooled grant(s)", c->opt.name, n);
}

int memxd_pool_refill(struct memxd_client *c)
{
	struct memxd_msg_info req = { .type = MEMX_MSG_ALLOC_SLAB }, reply;
	uint64_t now = memxd_now_ns(), retry = UINT64_MAX;
	struct memxd_donor *d = NULL;
	int r;

	/* Only when idle: a first write waiting in the mailbox goes first. */
	if (!c->opt.grant_pool || memxd_mailbox_pending(&c->mailbox))
		return c->opt.grant_pool ? 0 : -1;
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *e = &c->donor[i];

		if (e->nr_pooled >= pool_target(c, e) || e->memory_free < c->map.slab_bytes)
			continue;
		if (now < e->pool_retry_ns) {
			retry = e->pool_retry_ns < retry ? e->pool_retry_ns : retry;
			continue;
		}
		if (!d || e->nr_pooled < d->nr_pooled)
			d = e;
	}
	if (!d)
		return retry == UINT64_MAX ? -1 : (int)((retry - now) / 1000000ULL) + 1;
	req.alloc.slab_bytes = c->map.slab_bytes;
	req.alloc.slab_index = c->map.nr_slabs;	/* none yet: one past the last, in its logs */
	r = memxd_donor_call(c, d, &req, &reply);
	if (r || reply.grant.slab_bytes != c->map.slab_bytes) {
		if (r == -ENOSPC || r == -EDQUOT)
			d->memory_free = 0;	/* as a mapping would learn it */
		d->pool_retry_ns = now + MEMXD_POOL_RETRY_MS * 1000000ULL;
		memxd_dbg(MEMXD_DBG_CTRL, "volume %s: donor %s refused a pool grant: %s",
			  c->opt.name, d->name, r ? strerror(-r) : "wrong slab size");
		return 0;
	}
	/* Its connection may have died while we waited: the grant died with it. */
	if (!memxd_donor_usable(atomic_load(&d->state)))
		return 0;
	d->pool[d->nr_pooled++] = (struct memxd_pooled_grant){
		.remote_addr = reply.grant.remote_addr, .rkey = reply.grant.rkey,
		.handle = reply.grant.handle, .gen = memxd_donor_gen(d) };
	memxd_donor_set_free(d, reply.grant.memory_free, c->map.slab_bytes);
	c->pool.refills++;
	return 0;
}
