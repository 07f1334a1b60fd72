// SPDX-License-Identifier: GPL-2.0
/*
 * What a dead engine left on the donors (daemon/client/prune.c compiled in):
 * a fake donor that keeps grants by handle, marks them unclaimed at the
 * take-over and answers CLAIM and PRUNE as donor/lend.c does. Checked: the
 * grants the resumed map names stay, every other kept one goes (pooled,
 * half-mapped, on either side of a bitmap's window); a donor that kept no
 * more than the map names is not asked; a claim that does not go through
 * prunes nothing; a dead replica's grant is not claimed.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../../daemon/client/prune.c"

#define SLAB		(1ULL << 20)
#define NR_DONORS	2
#define MAX_HANDLE	2048

static struct {
	bool held[NR_DONORS][MAX_HANDLE + 1];	/* the donor's grants of our volume */
	bool unclaimed[NR_DONORS][MAX_HANDLE + 1];
	unsigned int claims[NR_DONORS], prunes[NR_DONORS];
	int fail_claim;		/* the Nth CLAIM fails with -ETIMEDOUT (0: none) */
} F;

static uint32_t held(unsigned int d)
{
	uint32_t n = 0;

	for (uint32_t h = 1; h <= MAX_HANDLE; h++)
		n += F.held[d][h];
	return n;
}

/* A grant kept on donor d from before the take-over (unclaimed, as lend_mark_unclaimed). */
static void kept(unsigned int d, uint32_t h)
{
	F.held[d][h] = true;
	F.unclaimed[d][h] = true;
}

int memxd_donor_call(struct memxd_client *c, struct memxd_donor *d, struct memxd_msg_info *req,
		     struct memxd_msg_info *reply)
{
	unsigned int i = d->idx;
	int r = 0;

	memset(reply, 0, sizeof(*reply));
	if (req->type == MEMX_MSG_CLAIM) {
		if (++F.claims[i] == (unsigned int)F.fail_claim)
			return -ETIMEDOUT;
		cr_assert_geq(req->claim.first, 1);
		for (unsigned int b = 0; b < MEMX_CLAIM_BITS; b++) {
			uint64_t h = (uint64_t)req->claim.first + b;

			if (!(req->claim.bits[b / 8] & (1U << (b % 8))))
				continue;
			if (h > MAX_HANDLE || !F.held[i][h])
				r = -ENOENT;
			else
				F.unclaimed[i][h] = false;
		}
	} else if (req->type == MEMX_MSG_PRUNE) {
		F.prunes[i]++;
		for (uint32_t h = 1; h <= MAX_HANDLE; h++)
			if (F.held[i][h] && F.unclaimed[i][h])
				F.held[i][h] = false;
	} else {
		cr_assert_fail("unexpected message %u", req->type);
	}
	reply->stats.memory_total = 1ULL << 30;
	reply->stats.memory_free = (1ULL << 30) - held(i) * SLAB;
	reply->stats.slabs_granted = held(i);
	return r;
}

static struct memxd_client *mk_client(unsigned int nr_slabs)
{
	struct memxd_client *c = calloc(1, sizeof(*c));

	cr_assert(c);
	memset(&F, 0, sizeof(F));
	strcpy(c->opt.name, "vol");
	cr_assert_eq(memxd_slabmap_init(&c->map, (uint64_t)nr_slabs * SLAB, SLAB), 0);
	for (unsigned int i = 0; i < NR_DONORS; i++) {
		c->donor[i].idx = i;
		snprintf(c->donor[i].name, sizeof(c->donor[i].name), "10.0.0.%u:7471", i + 2);
		c->donor[i].welcome.memory_total = 1ULL << 30;
		atomic_store(&c->donor[i].state, MEMXD_DONOR_LIVE);
	}
	atomic_store(&c->nr_donors, NR_DONORS);
	return c;
}

/* Slab s mapped with replica r on donor d as handle h (a grant the donor kept). */
static void map(struct memxd_client *c, uint64_t s, uint32_t r, uint32_t d, uint32_t h)
{
	struct memxd_slab *slab = &c->map.slabs[s];

	slab->replica[r] = (struct memxd_replica){ .donor = d, .handle = h, .live = 1 };
	if (atomic_load(&slab->nr_replicas) < r + 1)
		atomic_store(&slab->nr_replicas, r + 1);
	atomic_store(&slab->state, MEMXD_SLAB_MAPPED);
	kept(d, h);
	c->donor[d].slabs++;
}

static void take_over(struct memxd_client *c)
{
	for (unsigned int i = 0; i < NR_DONORS; i++)
		c->donor[i].slabs_kept = held(i);
}

static void free_client(struct memxd_client *c)
{
	memxd_slabmap_fini(&c->map);
	free(c);
}

Test(prune, leftovers_go_the_map_stays)
{
	struct memxd_client *c = mk_client(64);
	uint32_t h0 = 5;

	/* Donor 0: 40 slabs, handles spread over 4 bitmap windows, 3 left over among them. */
	for (uint64_t s = 0; s < 40; s++)
		map(c, s, 0, 0, h0 + (uint32_t)s * 31);
	kept(0, 1);		/* below the first window */
	kept(0, h0 + 31 * 7 + 1);	/* inside one */
	kept(0, MAX_HANDLE);	/* past the last */
	/* Donor 1: 40 slabs and 2 pooled grants left. */
	for (uint64_t s = 0; s < 40; s++)
		map(c, s, 1, 1, 1000 + (uint32_t)s);
	kept(1, 1040);
	kept(1, 1041);
	take_over(c);
	cr_assert_eq(c->donor[0].slabs_kept, 43);

	memxd_prune_leftovers(c);
	for (uint64_t s = 0; s < 40; s++) {
		cr_expect(F.held[0][h0 + s * 31], "slab %lu's grant on donor 0 was freed", (unsigned long)s);
		cr_expect(F.held[1][1000 + s], "slab %lu's grant on donor 1 was freed", (unsigned long)s);
	}
	cr_expect_not(F.held[0][1]);
	cr_expect_not(F.held[0][h0 + 31 * 7 + 1]);
	cr_expect_not(F.held[0][MAX_HANDLE]);
	cr_expect_not(F.held[1][1040]);
	cr_expect_not(F.held[1][1041]);
	cr_expect_eq(held(0), 40);
	cr_expect_eq(held(1), 40);
	cr_expect_eq(F.claims[0], (40 * 31 + MEMX_CLAIM_BITS - 1) / MEMX_CLAIM_BITS,
		     "one CLAIM per window of %u handles", MEMX_CLAIM_BITS);
	cr_expect_eq(F.claims[1], 1);
	cr_expect_eq(F.prunes[0], 1);
	cr_expect_eq(F.prunes[1], 1);
	cr_expect_eq(c->donor[0].slabs_kept, 40, "what the donor holds now");
	free_client(c);
}

Test(prune, nothing_left_nothing_asked)
{
	struct memxd_client *c = mk_client(8);

	for (uint64_t s = 0; s < 8; s++) {
		map(c, s, 0, 0, 10 + (uint32_t)s);
		map(c, s, 1, 1, 20 + (uint32_t)s);
	}
	take_over(c);
	memxd_prune_leftovers(c);
	cr_expect_eq(F.claims[0] + F.claims[1] + F.prunes[0] + F.prunes[1], 0);
	free_client(c);
}

/* A CLAIM that is not heard: no PRUNE, so no grant of ours can be freed unclaimed. */
Test(prune, failed_claim_prunes_nothing)
{
	struct memxd_client *c = mk_client(1024);

	for (uint64_t s = 0; s < 1000; s++)
		map(c, s, 0, 0, 1 + (uint32_t)s);
	kept(0, 1500);
	take_over(c);
	F.fail_claim = 2;
	memxd_prune_leftovers(c);
	cr_expect_eq(F.prunes[0], 0);
	cr_expect_eq(held(0), 1001, "everything kept");
	cr_expect_eq(c->donor[0].slabs_kept, 1001);
	free_client(c);
}

/* A replica that is not live (its donor was lost, or a move left it) is not claimed. */
Test(prune, dead_replicas_not_claimed)
{
	struct memxd_client *c = mk_client(8);

	map(c, 0, 0, 0, 3);
	map(c, 1, 0, 0, 4);
	atomic_store(&c->map.slabs[1].replica[0].live, 0);
	c->donor[0].slabs--;
	take_over(c);
	memxd_prune_leftovers(c);
	cr_expect(F.held[0][3]);
	cr_expect_not(F.held[0][4]);
	/* A donor that is not live is not asked. */
	cr_expect_eq(F.prunes[1], 0);
	free_client(c);
}
