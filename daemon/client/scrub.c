// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: the scrub, in the control thread.
 *
 * Reads cannot find a bad copy that nobody reads (a replica that is not the
 * first, a block written once and kept): the scrub walks every replica of
 * every mapped slab, one copy piece (memxd_copy_piece: MEMXD_COPY_CHUNK, less
 * on a slow link) per step at --scrub-rate bytes per second, and checks each
 * block against its CRC32C (integrity.h). While a chunk is checked its slab
 * is MIGRATING (writes wait, reads go on), so the table cannot change under
 * it. A bad block is read from another replica
 * into the same place of the bounce buffer; if that copy is good it is
 * written over the bad one. A block with no good copy is counted and logged:
 * its reads already fail with EIO. The walk starts over when it reaches the
 * end; memxctl status shows passes, position and findings.
 *
 * The scrub runs in the time applications leave idle: while the machine is
 * busy (the volume served I/O, or less than a CPU was idle: idle.h) it does
 * one step in MEMXD_SCRUB_BUSY_EVERY, so it still covers everything, at a
 * sixteenth of --scrub-rate. Reading replicas back costs CPU (under Soft-RoCE
 * the wire itself; the CRC), and a scrub at full rate took a quarter of a
 * vCPU from Redis on a 2-vCPU guest when nothing paged (README).
 */
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "client/client.h"
#include "common/log.h"

/* The next (slab, replica, offset) to check, or false when no slab is mapped. */
static bool scrub_next(struct memxd_client *c, struct memxd_scrub *sc)
{
	for (uint64_t tries = 0; tries <= c->map.nr_slabs; tries++) {
		struct memxd_slab *slab = &c->map.slabs[sc->slab];

		if (memxd_slab_state(slab) == MEMXD_SLAB_MAPPED && sc->rep < slab->nr_replicas &&
		    slab->replica[sc->rep].live)
			return true;
		if (memxd_slab_state(slab) == MEMXD_SLAB_MAPPED && sc->rep + 1 < slab->nr_replicas) {
			sc->rep++;
			sc->off = 0;
			continue;
		}
		sc->rep = 0;
		sc->off = 0;
		if (++sc->slab == c->map.nr_slabs) {
			sc->slab = 0;
			sc->passes++;
		}
	}
	return false;
}

/* Finds a good copy of the block at off in the chunk among the other replicas; writes it over. */
static void scrub_repair(struct memxd_client *c, struct memxd_slab *slab, uint32_t k,
			 uint64_t chunk_off, uint32_t off)
{
	uint64_t where = c->scrub.slab * c->map.slab_bytes + chunk_off + off;
	const struct memxd_replica *bad = &slab->replica[k];

	for (uint32_t j = 0; j < slab->nr_replicas; j++) {
		const struct memxd_replica *rep = &slab->replica[j];

		if (j == k || !rep->live ||
		    memxd_ctrl_rdma_at(c, &c->donor[rep->donor], false, off,
				       rep->remote_addr + chunk_off + off, rep->rkey, MEMXD_CRC_BLOCK))
			continue;
		if (memxd_crc_check(&c->crc, where, (uint8_t *)c->bounce + off, MEMXD_CRC_BLOCK) >= 0)
			continue;
		/* Only while writes are held off: a slow read gave the slab back to them. */
		if (c->copy_hold != slab)
			return;
		if (!memxd_ctrl_rdma_at(c, &c->donor[bad->donor], true, off,
					bad->remote_addr + chunk_off + off, bad->rkey, MEMXD_CRC_BLOCK)) {
			c->scrub.repaired++;
			memxd_warn("volume %s: scrub: block at %" PRIu64 " on donor %s was bad; "
				   "rewritten from donor %s", c->opt.name, where,
				   c->donor[bad->donor].name, c->donor[rep->donor].name);
			return;
		}
	}
	memxd_err("volume %s: scrub: block at %" PRIu64 " on donor %s is bad and no replica has "
		  "a good copy: its reads fail with EIO", c->opt.name, where,
		  c->donor[bad->donor].name);
}

/* Checks one chunk of one replica. */
static void scrub_chunk(struct memxd_client *c)
{
	struct memxd_scrub *sc = &c->scrub;
	struct memxd_slab *slab = &c->map.slabs[sc->slab];
	const struct memxd_replica *rep = &slab->replica[sc->rep];
	uint64_t base = sc->slab * c->map.slab_bytes + sc->off, t0 = memxd_now_ns();
	uint32_t len = memxd_copy_piece(c);
	int r = -EBUSY;

	if (sc->off + len > c->map.slab_bytes)
		len = (uint32_t)(c->map.slab_bytes - sc->off);
	if (base + len > c->map.volume_bytes)
		len = (uint32_t)(c->map.volume_bytes - base);
	if (!memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_MIGRATING))
		return;
	c->copy_hold = slab;
	if (memxd_slab_wait_idle(slab, false, true))
		r = memxd_ctrl_rdma(c, &c->donor[rep->donor], false, rep->remote_addr + sc->off,
				    rep->rkey, len);
	if (!r) {
		memxd_transfer_went_through(c);	/* the link carries transfers again */
		for (uint32_t off = 0; off < len && c->copy_hold == slab; off += MEMXD_CRC_BLOCK) {
			if (memxd_crc_check(&c->crc, base + off, (uint8_t *)c->bounce + off,
					    MEMXD_CRC_BLOCK) < 0)
				continue;
			sc->bad_blocks++;
			scrub_repair(c, slab, sc->rep, sc->off, off);
		}
		sc->bytes += len;
	}
	/*
	 * A donor may have died during the reads: never republish a dead replica
	 * as live. A slow read gave the slab back already (memxd_copy_slow).
	 */
	if (c->copy_hold == slab) {
		c->copy_hold = NULL;
		memxd_end_migration(c, slab);
	}
	memxd_dbg(MEMXD_DBG_CTRL, "volume %s: scrub: slab %" PRIu64 " replica %u at %" PRIu64
		  ", %u bytes: %" PRIu64 " us", c->opt.name, sc->slab, sc->rep, sc->off, len,
		  (memxd_now_ns() - t0) / 1000);
	if (r == -ETIMEDOUT)
		return;		/* slow: the same chunk again once copies back off */
	sc->off += len;
	if (sc->off >= c->map.slab_bytes) {
		sc->off = 0;
		sc->rep++;
	}
}

#define MEMXD_SCRUB_BUSY_EVERY	16	/* while the machine is busy, one step in this many */

/* Whether the machine is busy (idle.h): requests every queue served, the engine's CPU clock. */
static bool scrub_machine_busy(struct memxd_client *c, uint64_t now)
{
	uint64_t io = 0;
	struct timespec ts;

	for (unsigned int i = 0; i < c->nr_queues; i++) {
		const struct memxd_queue_stats *st = &c->queue[i].stats;

		io += atomic_load_explicit(&st->reads, memory_order_relaxed) +
		      atomic_load_explicit(&st->writes, memory_order_relaxed) +
		      atomic_load_explicit(&st->discards, memory_order_relaxed) +
		      atomic_load_explicit(&st->write_zeroes, memory_order_relaxed);
	}
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		ts = (struct timespec){ 0 };
	return memxd_idle_busy(&c->scrub.load, now, io,
			       (uint64_t)ts.tv_sec * MEMXD_NS_PER_S + (uint64_t)ts.tv_nsec);
}

int memxd_scrub_step(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns(), interval_ns;

	if (!c->opt.scrub_rate || !c->crc.crc)
		return -1;
	interval_ns = (uint64_t)memxd_copy_piece(c) * MEMXD_NS_PER_S / c->opt.scrub_rate;
	if (now < c->scrub.next_ns)
		return (int)((c->scrub.next_ns - now) / MEMXD_NS_PER_MS) + 1;
	if (now < c->copy_retry_ns)	/* backing off after a slow transfer */
		return (int)((c->copy_retry_ns - now) / MEMXD_NS_PER_MS) + 1;
	if (!scrub_next(c, &c->scrub))
		return 1000;	/* nothing mapped yet */
	if (scrub_machine_busy(c, now) && ++c->scrub.deferred < MEMXD_SCRUB_BUSY_EVERY) {
		c->scrub.yielded++;
		c->scrub.next_ns = now + interval_ns;
		return (int)(interval_ns / MEMXD_NS_PER_MS) + 1;
	}
	c->scrub.deferred = 0;
	scrub_chunk(c);
	c->scrub.next_ns = memxd_now_ns() + interval_ns;
	return (int)(interval_ns / MEMXD_NS_PER_MS) + 1;
}
