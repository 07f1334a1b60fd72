// SPDX-License-Identifier: GPL-2.0
/*
 * Grants and the grant pool (--grant-pool): daemon/client/grants.c and
 * mailbox.c compiled in, on a fake engine whose donors answer ALLOC_SLAB and
 * FREE_SLAB from a fake memxd_donor_call (free memory kept, every grant and
 * free recorded). Checked: the pools fill and a first write maps from them
 * with no round trip; placement picks the same donors with a pool as without
 * one; pooled grants of a dead donor (or of an earlier occupant of its slot)
 * are forgotten and never used, those of a leaving or pressed donor given
 * back; no pool beyond the unwritten slabs; refills wait for the mailbox and
 * back off from a donor that refuses; everything given back at the end.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../../daemon/client/grants.c"
#include "../../daemon/client/mailbox.c"

#define MiB		(1ULL << 20)
#define SLAB		MiB
#define NR_DONORS	4
#define DONOR_MEM	(64 * MiB)
#define MAX_GRANTS	1024

static struct {
	uint32_t next_handle;		/* handles are unique across donors here */
	uint32_t grant_donor[MAX_GRANTS];
	bool grant_live[MAX_GRANTS];
	uint64_t used[NR_DONORS];	/* bytes granted, the donor's own count */
	/* A second client's donors are other donors (same addresses, their own memory). */
	struct memxd_client *other;
	uint64_t other_used[NR_DONORS];
	unsigned int allocs[NR_DONORS], frees[NR_DONORS];
	unsigned int calls_to_gone;	/* a call to a donor that is not usable */
	int refuse[NR_DONORS];		/* answer ALLOC_SLAB with this (0: grant) */
	uint64_t quota;			/* --max-per-client (0: none); repairs a quarter more */
	unsigned int rest_ends;		/* memxd_rest_end: before every change to the slab map */
} F;

/* rest.c: a volume at rest ends its rest before its slab map changes. */
void memxd_rest_end(struct memxd_client *c, const char *why)
{
	(void)c;
	(void)why;
	F.rest_ends++;
}

/* What a donor tells us is free: its memory, capped by the quota (lend_room_for). */
static uint64_t room(uint64_t used)
{
	uint64_t r = DONOR_MEM - used;

	if (F.quota)
		r = used >= F.quota ? 0 : (F.quota - used < r ? F.quota - used : r);
	return r;
}

/* As donors.c's, answered by a fake donor: grants, frees, and the free memory it reports. */
int memxd_donor_call(struct memxd_client *c, struct memxd_donor *d, struct memxd_msg_info *req,
		     struct memxd_msg_info *reply)
{
	unsigned int i = d->idx;
	uint64_t *used = c == F.other ? F.other_used : F.used;

	if (!memxd_donor_usable(atomic_load(&d->state))) {
		F.calls_to_gone++;
		return -ENOTCONN;
	}
	memset(reply, 0, sizeof(*reply));
	if (req->type == MEMX_MSG_ALLOC_SLAB) {
		uint32_t h;

		F.allocs[i]++;
		if (F.refuse[i])
			return F.refuse[i];
		if (used[i] + req->alloc.slab_bytes > DONOR_MEM)
			return -ENOSPC;
		if (F.quota && used[i] + req->alloc.slab_bytes >
		    F.quota + (req->alloc.flags & MEMX_ALLOC_F_REPAIR ? F.quota / 4 : 0))
			return -EDQUOT;
		h = ++F.next_handle;
		cr_assert_lt(h, MAX_GRANTS);
		F.grant_donor[h] = i;
		F.grant_live[h] = true;
		used[i] += req->alloc.slab_bytes;
		reply->grant.handle = h;
		reply->grant.slab_bytes = req->alloc.slab_bytes;
		reply->grant.remote_addr = (uint64_t)h * SLAB;
		reply->grant.rkey = h ^ 0x5a5a0000U;
		reply->grant.memory_free = room(used[i]);
		return 0;
	}
	if (req->type == MEMX_MSG_FREE_SLAB) {
		uint32_t h = req->free.handle;

		F.frees[i]++;
		cr_assert(h < MAX_GRANTS && F.grant_live[h] && F.grant_donor[h] == i,
			  "FREE_SLAB of handle %u on donor %u: not a live grant of it", h, i);
		F.grant_live[h] = false;
		used[i] -= SLAB;
		reply->stats.memory_free = room(used[i]);
		return 0;
	}
	cr_assert_fail("unexpected message %u", req->type);
	return -EINVAL;
}

static struct memxd_client *mk_client(unsigned int nr_slabs, unsigned int pool, uint32_t seed)
{
	struct memxd_client *c = calloc(1, sizeof(*c));

	cr_assert(c);
	strcpy(c->opt.name, "vol");
	c->opt.replicas = 2;
	c->opt.scatter_width = 0;	/* no copysets: every placement allowed */
	c->opt.grant_pool = pool;
	c->rng = seed | 1;
	cr_assert_eq(memxd_slabmap_init(&c->map, (uint64_t)nr_slabs * SLAB, SLAB), 0);
	cr_assert_eq(memxd_discards_init(&c->discards, c->map.volume_bytes, c->map.slab_shift), 0);
	cr_assert_eq(memxd_samefill_init(&c->samefill, c->map.volume_bytes), 0);
	c->fail_gen = calloc(nr_slabs, sizeof(*c->fail_gen));
	cr_assert(c->fail_gen);
	cr_assert_eq(memxd_mailbox_init(&c->mailbox, 16), 0);
	for (unsigned int i = 0; i < NR_DONORS; i++) {
		struct memxd_donor *d = &c->donor[i];

		d->idx = i;
		snprintf(d->name, sizeof(d->name), "10.0.0.%u:7471", i + 2);
		snprintf((char *)d->welcome.host_id, sizeof(d->welcome.host_id), "host%u", i);
		d->welcome.memory_total = DONOR_MEM;
		d->welcome.max_slab_shift = 30;
		d->memory_free = DONOR_MEM;
		atomic_store(&d->state, MEMXD_DONOR_LIVE);
	}
	atomic_store(&c->nr_donors, NR_DONORS);
	memxd_copysets_refresh(c);
	return c;
}

static void free_client(struct memxd_client *c)
{
	memxd_mailbox_fini(&c->mailbox);
	memxd_copysets_fini(&c->copysets);
	memxd_samefill_fini(&c->samefill);
	memxd_discards_fini(&c->discards);
	memxd_slabmap_fini(&c->map);
	free(c->fail_gen);
	free(c);
}

/* Refills until nothing more is due now; returns how many rounds did something. */
static unsigned int fill(struct memxd_client *c)
{
	unsigned int n = 0;

	while (memxd_pool_refill(c) == 0) {
		cr_assert_lt(++n, 1000, "the refill never settles");
	}
	return n;
}

static unsigned int total_allocs(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < NR_DONORS; i++)
		n += F.allocs[i];
	return n;
}

static void map(struct memxd_client *c, uint64_t s)
{
	cr_assert(memxd_slab_claim(&c->map.slabs[s], MEMXD_SLAB_UNMAPPED, MEMXD_SLAB_MAPPING));
	memxd_map_slab(c, s);
	cr_assert_eq(memxd_slab_state(&c->map.slabs[s]), MEMXD_SLAB_MAPPED);
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
}

TestSuite(pool, .init = setup);

Test(pool, fills_then_maps_a_slab_without_a_round_trip)
{
	struct memxd_client *c = mk_client(64, 2, 7);

	fill(c);
	for (unsigned int i = 0; i < NR_DONORS; i++) {
		cr_expect_eq(c->donor[i].nr_pooled, 2, "donor %u pools %u", i, c->donor[i].nr_pooled);
		cr_expect_eq(F.allocs[i], 2);
		/* Honest: the pooled grants are the donor's memory in use, and ours. */
		cr_expect_eq(c->donor[i].memory_free, DONOR_MEM - 2 * SLAB);
		cr_expect_eq(c->donor[i].slabs, 0, "pooled grants are no slab's yet");
	}
	cr_expect_eq(memxd_pool_held(c), 2 * NR_DONORS);
	cr_expect_eq(c->pool.refills, 2 * NR_DONORS);

	cr_expect_eq(F.rest_ends, 0, "pool refills change no slab's map: a rest goes on");
	map(c, 5);
	cr_expect_geq(F.rest_ends, 1, "a mapping ends a rest first");
	cr_expect_eq(total_allocs(), 2 * NR_DONORS, "no ALLOC_SLAB for a slab mapped from the pool");
	cr_expect_eq(c->map.slabs[5].nr_replicas, 2);
	for (unsigned int k = 0; k < 2; k++) {
		const struct memxd_replica *r = &c->map.slabs[5].replica[k];

		cr_expect(F.grant_live[r->handle], "replica %u has a live grant", k);
		cr_expect_eq(F.grant_donor[r->handle], r->donor, "the grant is its donor's");
		cr_expect_eq(r->rkey, r->handle ^ 0x5a5a0000U);
		cr_expect_eq(r->remote_addr, (uint64_t)r->handle * SLAB);
		cr_expect_eq(c->donor[r->donor].slabs, 1);
		cr_expect_eq(c->donor[r->donor].nr_pooled, 1);
	}
	cr_expect_neq(c->map.slabs[5].replica[0].donor, c->map.slabs[5].replica[1].donor);
	cr_expect_eq(c->pool.slabs, 1);
	cr_expect_eq(c->pool.taken, 2);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 1);

	/* The control thread tops the two pools up again, one grant a turn. */
	cr_expect_eq(fill(c), 2);
	cr_expect_eq(memxd_pool_held(c), 2 * NR_DONORS);
	free_client(c);
}

/* Placement picks the same donors, slab after slab, with a pool as without one. */
Test(pool, placement_is_unchanged)
{
	struct memxd_client *with = mk_client(200, 2, 12345), *without = mk_client(200, 0, 12345);
	unsigned int from_pool = 0;

	F.other = without;
	cr_expect_eq(memxd_pool_refill(without), -1, "--grant-pool 0 asks for nothing");
	for (uint64_t s = 0; s < 120; s++) {
		const struct memxd_slab *a, *b;

		/* Every other slab maps before the pools are topped up: some from the pool, some not. */
		if (s % 2)
			fill(with);
		map(with, s);
		map(without, s);
		a = &with->map.slabs[s];
		b = &without->map.slabs[s];
		cr_assert_eq(a->nr_replicas, b->nr_replicas, "slab %lu", (unsigned long)s);
		for (unsigned int k = 0; k < a->nr_replicas; k++)
			cr_assert_eq(a->replica[k].donor, b->replica[k].donor,
				     "slab %lu replica %u: donor %u with the pool, %u without",
				     (unsigned long)s, k, a->replica[k].donor, b->replica[k].donor);
	}
	from_pool = (unsigned int)with->pool.taken;
	cr_expect_gt(from_pool, 60, "only %u grants came from the pool", from_pool);
	cr_expect_lt(from_pool, 240, "every grant came from the pool");
	for (unsigned int i = 0; i < NR_DONORS; i++)
		cr_expect_eq(with->donor[i].slabs, without->donor[i].slabs);
	free_client(with);
	free_client(without);
}

Test(pool, a_dead_donor_takes_its_pooled_grants_along)
{
	struct memxd_client *c = mk_client(64, 2, 99);

	fill(c);
	atomic_store(&c->donor[1].state, MEMXD_DONOR_DEAD);	/* as memxd_donor_lost */
	memxd_pool_prune(c);
	cr_expect_eq(c->donor[1].nr_pooled, 0);
	cr_expect_eq(F.frees[1], 0, "nothing is sent to a donor that is gone");
	cr_expect_eq(F.calls_to_gone, 0);
	cr_expect_eq(c->pool.dropped, 2);
	cr_expect_eq(memxd_pool_held(c), 2 * (NR_DONORS - 1));
	for (uint64_t s = 0; s < 20; s++) {
		fill(c);
		map(c, s);
		for (unsigned int k = 0; k < c->map.slabs[s].nr_replicas; k++)
			cr_assert_neq(c->map.slabs[s].replica[k].donor, 1, "slab %lu on the dead donor",
				      (unsigned long)s);
	}
	cr_expect_eq(F.allocs[1], 2, "the dead donor was asked for no refill");
	free_client(c);
}

/* A queue saw the donor fail (FAILED, not yet buried): its pool is not used either. */
Test(pool, a_failing_donor_is_not_taken_from)
{
	struct memxd_client *c = mk_client(64, 1, 3);
	struct memxd_replica r;
	uint32_t ex[1];

	fill(c);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		if (i != 2)
			atomic_store(&c->donor[i].state, MEMXD_DONOR_DEAD);
	atomic_store(&c->donor[2].state, MEMXD_DONOR_FAILED);
	cr_expect_eq(memxd_grant_slab(c, 0, ex, 0, false, &r), -ENOSPC);
	cr_expect_eq(c->donor[2].nr_pooled, 1, "left to the prune");
	cr_expect_eq(c->pool.taken, 0);
	memxd_pool_prune(c);
	cr_expect_eq(memxd_pool_held(c), 0);
	free_client(c);
}

/* A slot reused by a new donor (generation up): the old occupant's grants are never used. */
Test(pool, an_earlier_occupant_s_grants_are_forgotten)
{
	struct memxd_client *c = mk_client(64, 2, 5);
	struct memxd_replica r;
	uint32_t ex[NR_DONORS];

	fill(c);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		atomic_fetch_add(&c->donor[i].gen, 1);
	/* No prune yet: the grant of slot 0 is asked for at once, its pool skipped. */
	cr_expect_eq(memxd_grant_slab(c, 0, ex, 0, false, &r), 0);
	cr_expect_eq(c->pool.taken, 0);
	cr_expect_eq(total_allocs(), 2 * NR_DONORS + 1, "asked with ALLOC_SLAB instead");
	memxd_pool_prune(c);
	cr_expect_eq(memxd_pool_held(c), 0);
	cr_expect_eq(c->pool.dropped, 2 * NR_DONORS);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		cr_expect_eq(F.frees[i], 0, "a grant of the old occupant sent to the new");
	free_client(c);
}

Test(pool, a_leaving_or_pressed_donor_gets_its_pooled_grants_back)
{
	struct memxd_client *c = mk_client(64, 2, 11);

	fill(c);
	atomic_store(&c->donor[0].state, MEMXD_DONOR_DRAINING);
	c->donor[3].evict_bytes = 3 * SLAB;
	memxd_pool_prune(c);
	cr_expect_eq(c->donor[0].nr_pooled, 0);
	cr_expect_eq(F.frees[0], 2);
	cr_expect_eq(F.used[0], 0, "the leaving donor holds nothing of ours");
	cr_expect_eq(c->donor[3].nr_pooled, 0);
	cr_expect_eq(F.frees[3], 2);
	cr_expect_eq(c->donor[3].evict_bytes, SLAB, "the pooled grants count as memory given back");
	cr_expect_eq(c->pool.dropped, 4);
	cr_expect_eq(fill(c), 0, "no refill on a leaving or pressed donor");
	cr_expect_eq(memxd_pool_held(c), 4);
	/* Its eviction done (recovery.c clears it): still no refill, for a while. */
	c->donor[3].evict_bytes = 0;
	memxd_pool_prune(c);
	cr_expect_eq(fill(c), 0, "a donor that just asked for memory back was refilled at once");
	cr_expect_gt(memxd_pool_refill(c), MEMXD_POOL_PRESSED_MS - 1000);
	c->donor[3].pool_retry_ns = 0;	/* that while is over */
	fill(c);
	cr_expect_eq(c->donor[3].nr_pooled, 2);
	free_client(c);
}

/* Drained donors (recovery.c) and the engine's end give back what is pooled. */
Test(pool, drop_and_give_back_free_every_grant)
{
	struct memxd_client *c = mk_client(64, 3, 13);

	fill(c);
	memxd_pool_drop(c, &c->donor[2]);
	cr_expect_eq(F.frees[2], 3);
	memxd_pool_give_back(c);
	cr_expect_eq(memxd_pool_held(c), 0);
	for (unsigned int i = 0; i < NR_DONORS; i++) {
		cr_expect_eq(F.used[i], 0, "donor %u still lends %lu bytes", i,
			     (unsigned long)F.used[i]);
		cr_expect_eq(F.frees[i], 3);
	}
	free_client(c);
}

Test(pool, never_beyond_the_unwritten_slabs)
{
	struct memxd_client *c = mk_client(3, 2, 17);

	fill(c);
	cr_expect_eq(memxd_pool_held(c), 2 * NR_DONORS);
	map(c, 0);
	map(c, 1);
	/* One slab left unwritten: a pool of one per donor is all it can use. */
	memxd_pool_prune(c);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		cr_expect_leq(c->donor[i].nr_pooled, 1, "donor %u pools %u", i, c->donor[i].nr_pooled);
	fill(c);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		cr_expect_eq(c->donor[i].nr_pooled, 1);
	map(c, 2);
	memxd_pool_prune(c);
	cr_expect_eq(memxd_pool_held(c), 0, "a volume written whole keeps no pool");
	cr_expect_eq(memxd_pool_refill(c), -1);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		cr_expect_eq(F.used[i], (uint64_t)c->donor[i].slabs * SLAB,
			     "donor %u lends more than our slabs", i);
	free_client(c);
}

Test(pool, refills_wait_for_the_mailbox)
{
	struct memxd_client *c = mk_client(64, 2, 19);
	struct memxd_mail mail = { .type = MEMXD_MAIL_MAP_SLAB, .map.slab = 4 };

	cr_assert_eq(memxd_mailbox_post(&c->mailbox, &mail), 0);
	cr_expect_eq(memxd_pool_refill(c), 0, "due at once, once the mailbox is served");
	cr_expect_eq(total_allocs(), 0, "a refill ran before the first write in the mailbox");
	cr_assert(memxd_mailbox_take(&c->mailbox, &mail));
	fill(c);
	cr_expect_eq(total_allocs(), 2 * NR_DONORS);
	free_client(c);
}

Test(pool, a_refusing_donor_is_asked_again_later)
{
	struct memxd_client *c = mk_client(64, 2, 23);
	int r;

	F.refuse[1] = -EDQUOT;
	fill(c);
	cr_expect_eq(F.allocs[1], 1, "asked once, then left alone");
	cr_expect_eq(c->donor[1].nr_pooled, 0);
	cr_expect_eq(c->donor[1].memory_free, 0, "full for us, as a mapping learns it");
	cr_expect_eq(memxd_pool_refill(c), -1, "nothing due while it says it is full");
	/* A heartbeat says it has room again: asked once the back-off is over, not before. */
	F.refuse[1] = 0;
	c->donor[1].memory_free = DONOR_MEM;
	r = memxd_pool_refill(c);
	cr_expect(r > MEMXD_POOL_RETRY_MS / 2 && r <= MEMXD_POOL_RETRY_MS + 1,
		  "next refill in %d ms", r);
	cr_expect_eq(F.allocs[1], 1);
	c->donor[1].pool_retry_ns = 0;	/* the back-off is over */
	fill(c);
	cr_expect_eq(c->donor[1].nr_pooled, 2);
	for (unsigned int i = 0; i < NR_DONORS; i++)
		if (i != 1)
			cr_expect_eq(c->donor[i].nr_pooled, 2);
	free_client(c);
}

/*
 * Quotas (test_cluster_11's case): a donor that granted a repair from the
 * reserve beyond its quota keeps no pool, so first mappings there stay
 * refused as without one; once it reports room again, the pool comes back.
 */
Test(pool, a_donor_in_its_repair_reserve_keeps_no_pool)
{
	struct memxd_client *c = mk_client(64, 2, 29);
	struct memxd_replica r;
	uint32_t ex[NR_DONORS];
	int nx = 0;

	F.quota = 8 * SLAB;
	/* Slabs and pools up to the quota on every donor. */
	fill(c);
	for (uint64_t s = 0; s < 12; s++) {
		map(c, s);
		fill(c);
	}
	cr_assert_leq(F.used[0], F.quota, "a first mapping or refill past the quota");
	/* Repairs onto donor 0 until it is past its quota: from the pool, then from its reserve. */
	for (unsigned int i = 1; i < NR_DONORS; i++)
		ex[nx++] = i;
	while (F.used[0] < F.quota + F.quota / 4 && !c->donor[0].pool_off) {
		cr_assert_eq(memxd_grant_slab(c, 40, ex, nx, true, &r), 0);
		cr_assert_eq(r.donor, 0);
	}
	cr_expect(c->donor[0].pool_off, "a repair from the reserve did not turn the pool off");
	memxd_pool_prune(c);
	cr_expect_eq(c->donor[0].nr_pooled, 0, "pooled grants kept past the quota");
	fill(c);
	cr_expect_eq(c->donor[0].nr_pooled, 0, "refilled in the reserve");
	/* A first mapping on it is refused, as without a pool. */
	cr_expect_eq(memxd_grant_slab(c, 41, ex, nx, false, &r), -ENOSPC);
	/* It reports room again (slabs freed): the pool comes back. */
	F.used[0] = 0;
	c->donor[0].memory_free = F.quota;
	memxd_pool_prune(c);
	fill(c);
	cr_expect_eq(c->donor[0].nr_pooled, 2);
	free_client(c);
}

/* What a discard gives back goes back to the donor, not into the pool (test_memxd_06's case). */
Test(pool, a_discard_s_memory_is_not_taken_again)
{
	struct memxd_client *c = mk_client(64, 1, 31);
	struct memxd_mail mail = { .type = MEMXD_MAIL_FREE_SLAB, .free.slab = 3 };
	uint32_t d0, d1;

	fill(c);
	map(c, 3);
	d0 = c->map.slabs[3].replica[0].donor;
	d1 = c->map.slabs[3].replica[1].donor;
	cr_assert(memxd_slab_claim(&c->map.slabs[3], MEMXD_SLAB_MAPPED, MEMXD_SLAB_FREEING));
	mail.free.nr_replicas = 2;
	memcpy(mail.free.replica, c->map.slabs[3].replica, sizeof(mail.free.replica[0]) * 2);
	memxd_free_discarded(c, &mail);
	cr_expect_eq(F.frees[d0], 1);
	cr_expect_eq(F.frees[d1], 1);
	cr_expect_eq(fill(c), 0, "the pools took the discarded memory again at once");
	cr_expect_eq(c->donor[d0].nr_pooled, 0);
	cr_expect_eq(c->donor[d1].nr_pooled, 0);
	cr_expect_gt(memxd_pool_refill(c), MEMXD_POOL_PRESSED_MS - 1000);
	c->donor[d0].pool_retry_ns = c->donor[d1].pool_retry_ns = 0;	/* a while later */
	fill(c);
	cr_expect_eq(memxd_pool_held(c), NR_DONORS);
	free_client(c);
}
