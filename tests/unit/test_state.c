// SPDX-License-Identifier: GPL-2.0
/*
 * Engine restart: what a new engine makes of the map a dead one left
 * (memxd_state_resume() in daemon/client/state.c, compiled in). A dead engine
 * may leave a slab in any state, with I/O counted in flight, and donors that
 * did not come back or kept nothing: every such case must come out as a map
 * that never serves a read from a replica that may not hold the data.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../daemon/client/state.c"

#define MiB	(1ULL << 20)
#define SLAB	(4 * MiB)

static struct memxd_client *c;

static void setup(void)
{
	c = calloc(1, sizeof(*c));
	cr_assert(c);
	strcpy(c->opt.name, "t");
	cr_assert_eq(memxd_slabmap_init(&c->map, 8 * SLAB, SLAB), 0);
	cr_assert_eq(memxd_crc_init(&c->crc, 8 * SLAB), 0);
	cr_assert_eq(memxd_samefill_init(&c->samefill, 8 * SLAB), 0);
	c->nr_donors = 3;
	for (unsigned int i = 0; i < 3; i++) {
		c->donor[i].idx = i;
		atomic_store(&c->donor[i].state, MEMXD_DONOR_LIVE);
		atomic_store(&c->donor[i].gen, 7 + i);
		c->donor[i].slabs_kept = 5;
	}
}

static void teardown(void)
{
	memxd_slabmap_fini(&c->map);
	memxd_crc_fini(&c->crc);
	memxd_samefill_fini(&c->samefill);
	free(c);
}

/* Slab s in state st with live replicas on the donors listed (old generation 1). */
static void slab(uint64_t s, uint32_t st, int d0, int d1)
{
	struct memxd_slab *sl = &c->map.slabs[s];
	int d[2] = { d0, d1 };
	uint32_t n = 0;

	for (int i = 0; i < 2; i++)
		if (d[i] >= 0) {
			sl->replica[n] = (struct memxd_replica){ .donor = (uint32_t)d[i], .rkey = 1,
								 .handle = 1, .gen = 1,
								 .remote_addr = 4096 };
			atomic_store(&sl->replica[n].live, 1);
			n++;
		}
	atomic_store(&sl->nr_replicas, n);
	atomic_store(&sl->state, st);
	atomic_store(&sl->writes_inflight, 3);
	atomic_store(&sl->reads_inflight, 2);
}

TestSuite(state_resume, .init = setup, .fini = teardown);

Test(state_resume, half_done_mappings_and_discards_become_unmapped_zeros)
{
	uint8_t junk[4096];

	memset(junk, 0xab, sizeof(junk));
	slab(0, MEMXD_SLAB_MAPPING, 0, 1);
	slab(1, MEMXD_SLAB_FREEING, 0, 1);
	memxd_crc_record(&c->crc, 0, junk, sizeof(junk));
	memxd_crc_record(&c->crc, SLAB + 8192, junk, sizeof(junk));
	memxd_state_resume(c);
	for (int s = 0; s < 2; s++) {
		cr_expect_eq(atomic_load(&c->map.slabs[s].state), MEMXD_SLAB_UNMAPPED, "slab %d", s);
		cr_expect_eq(atomic_load(&c->map.slabs[s].nr_replicas), 0, "slab %d", s);
	}
	/* An unmapped slab reads zeros: its checksums must say zeros too. */
	memset(junk, 0, sizeof(junk));
	cr_expect_eq(memxd_crc_check(&c->crc, 0, junk, sizeof(junk)), -1);
	cr_expect_eq(memxd_crc_check(&c->crc, SLAB + 8192, junk, sizeof(junk)), -1);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 0);
}

Test(state_resume, a_copy_in_progress_keeps_only_the_complete_replicas)
{
	slab(2, MEMXD_SLAB_MIGRATING, 1, -1);
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->map.slabs[2].state), MEMXD_SLAB_MAPPED);
	cr_expect_eq(memxd_slab_live_replicas(&c->map.slabs[2]), 1);
	cr_expect_eq(atomic_load(&c->map.slabs[2].writes_inflight), 0);
	cr_expect_eq(atomic_load(&c->map.slabs[2].reads_inflight), 0);
	/* Replicas carry the generation of the donor slots as they are now. */
	cr_expect_eq(c->map.slabs[2].replica[0].gen, 8);
	cr_expect_eq(c->donor[1].slabs, 1);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 1);
}

Test(state_resume, replicas_on_donors_that_did_not_come_back_are_not_read)
{
	atomic_store(&c->donor[0].state, MEMXD_DONOR_DEAD);
	c->donor[2].slabs_kept = 0;	/* its lease ran out, or it restarted */
	slab(3, MEMXD_SLAB_MAPPED, 0, 1);	/* one replica left */
	slab(4, MEMXD_SLAB_MAPPED, 0, 2);	/* none left */
	slab(5, MEMXD_SLAB_MAPPED, 1, 2);	/* one left */
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->map.slabs[3].state), MEMXD_SLAB_MAPPED);
	cr_expect_eq(memxd_slab_read_replica(&c->map.slabs[3])->donor, 1);
	cr_expect_eq(atomic_load(&c->map.slabs[4].state), MEMXD_SLAB_LOST);
	cr_expect_null(memxd_slab_read_replica(&c->map.slabs[4]));
	cr_expect_eq(memxd_slab_live_replicas(&c->map.slabs[5]), 1);
	cr_expect_eq(memxd_slab_read_replica(&c->map.slabs[5])->donor, 1);
	cr_expect_eq(c->donor[1].slabs, 2);
	cr_expect_eq(c->donor[2].slabs, 0);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 2);
	cr_expect_eq(atomic_load(&c->slabs_lost), 1);
}

/*
 * Same-filled marks: the donors hold stale bytes under them, so a mapped
 * slab's marks stand after a restart (and are counted again); a half-done
 * mapping or give-back comes out unmapped, with none.
 */
Test(state_resume, same_filled_marks_stand_on_mapped_slabs_only)
{
	uint8_t ones[8192];

	memset(ones, 0xff, sizeof(ones));
	slab(2, MEMXD_SLAB_MAPPED, 0, 1);
	slab(1, MEMXD_SLAB_FREEING, 0, 1);
	memxd_samefill_mark(&c->samefill, 2 * SLAB + 4096, ones, sizeof(ones));
	memxd_samefill_mark(&c->samefill, 1 * SLAB, ones, 4096);
	atomic_store(&c->samefill.nr_marked, 999);	/* what a dead engine's count says: not trusted */
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->samefill.nr_marked), 2);
	cr_expect(memxd_samefill_covers(&c->samefill, 2 * SLAB + 4096, 8192));
	cr_expect_not(memxd_samefill_covers(&c->samefill, 1 * SLAB, 4096), "slab 1 was tidied");
}

Test(state_resume, an_unknown_state_is_not_trusted)
{
	slab(6, 77, 0, 1);
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->map.slabs[6].state), MEMXD_SLAB_UNMAPPED);
}

/*
 * The kernel device a ublk volume lives in: what the next engine reads back,
 * for the backend that noted it only; none in a header that never noted one
 * (a file of an older build reads zeros there).
 */
Test(state_kdev, noted_device_reads_back_for_its_backend_only)
{
	struct state_hdr *h = calloc(1, sizeof(*h));
	struct memxd_client *cl = calloc(1, sizeof(*cl));

	cr_assert(h && cl);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), -1, "no state file: no device");
	cl->state_base = h;
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), -1, "zeroed header: no device");
	memxd_state_note_kdev(cl, MEMXD_KBACKEND_UBLK, 7);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), 7);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_MEMX), -1);
	memxd_state_note_kdev(cl, MEMXD_KBACKEND_UBLK, 0);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), 0, "device 0 is a device");
	cr_expect_lt(sizeof(*h), STATE_ALIGN, "the header stays within its page");
	free(h);
	free(cl);
}
