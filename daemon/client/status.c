// SPDX-License-Identifier: GPL-2.0
/*
 * `memxctl status` for a client engine: the volume, its I/O counters summed
 * over the queues, its donors and (with --slabs) every mapped slab, as text
 * or JSON. Runs in the control thread; counters written by queue threads are
 * read with atomic loads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "client/client.h"

/* ---- status for memxctl ---------------------------------------------------- */

static const char *slab_state_name(uint32_t s)
{
	switch (s) {
	case MEMX_SLAB_UNMAPPED: return "unmapped";
	case MEMX_SLAB_MAPPING: return "mapping";
	case MEMX_SLAB_MAPPED: return "mapped";
	case MEMX_SLAB_LOST: return "lost";
	case MEMX_SLAB_MIGRATING: return "migrating";
	case MEMX_SLAB_FREEING: return "freeing";
	default: return "?";
	}
}

const char *memxd_donor_state_name(int s)
{
	switch (s) {
	case MEMXD_DONOR_LIVE: return "live";
	case MEMXD_DONOR_DEAD: return "dead";
	case MEMXD_DONOR_FAILED: return "failing";
	case MEMXD_DONOR_DRAINING: return "draining";
	case MEMXD_DONOR_LEFT: return "left";
	default: return "connecting";
	}
}

int memxd_client_status(struct memxd_client *c, bool json, bool slabs, char *out, size_t len)
{
	uint64_t t[14] = { 0 };
	uint64_t backlog = memxd_backlog(c);
	size_t n = 0;

#define EMIT(...)                                                             \
	do {                                                                  \
		int w_ = snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (w_ > 0)                                                   \
			n += (size_t)w_;                                      \
	} while (0)

	for (unsigned int q = 0; q < c->nr_queues; q++) {
		struct memxd_queue_stats *s = &c->queue[q].stats;

		t[0] += atomic_load(&s->reads);
		t[1] += atomic_load(&s->writes);
		t[2] += atomic_load(&s->read_bytes);
		t[3] += atomic_load(&s->write_bytes);
		t[4] += atomic_load(&s->flushes);
		t[5] += atomic_load(&s->discards);
		t[6] += atomic_load(&s->write_zeroes);
		t[7] += atomic_load(&s->errors);
		t[8] += atomic_load(&s->zero_reads);
		t[9] += atomic_load(&s->commits);
		t[10] += atomic_load(&s->wakeups);
		t[11] += atomic_load(&s->posts);
		t[12] += atomic_load(&s->arms);
		t[13] += atomic_load(&s->failovers);
	}
	if (json) {
		EMIT("{\"role\":\"client\",\"volumes\":[{\"name\":\"%s\",\"device\":\"/dev/memx%d\","
		     "\"size\":%" PRIu64 ",\"slab_size\":%" PRIu64 ",\"slabs\":%" PRIu64
		     ",\"slabs_mapped\":%" PRIu64 ",\"slabs_lost\":%" PRIu64 ",\"replicas\":%u,"
		     "\"queues\":%u,\"depth\":%u,\"io\":{\"reads\":%" PRIu64 ",\"writes\":%" PRIu64
		     ",\"read_bytes\":%" PRIu64 ",\"write_bytes\":%" PRIu64 ",\"flushes\":%" PRIu64
		     ",\"discards\":%" PRIu64 ",\"write_zeroes\":%" PRIu64 ",\"errors\":%" PRIu64
		     ",\"zero_reads\":%" PRIu64 ",\"commits\":%" PRIu64 ",\"wakeups\":%" PRIu64
		     ",\"rdma_posts\":%" PRIu64 ",\"cq_arms\":%" PRIu64 ",\"failovers\":%" PRIu64
		     "},\"rereplication_backlog\":%" PRIu64 ",\"slabs_rereplicated\":%" PRIu64
		     ",\"slabs_moved\":%" PRIu64 ",\"copied_bytes\":%" PRIu64 ",\"poll_queues\":%u,"
		     "\"poll_us\":%u,\"queue_requests\":[", c->opt.name, c->dev_id,
		     c->map.volume_bytes, c->map.slab_bytes, c->map.nr_slabs,
		     atomic_load(&c->slabs_mapped), atomic_load(&c->slabs_lost),
		     c->opt.replicas, c->nr_queues, c->opt.depth, t[0], t[1], t[2], t[3], t[4], t[5],
		     t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], backlog, c->slabs_rereplicated,
		     c->slabs_moved, c->copied_bytes, c->opt.poll_queues, c->opt.poll_us);
		/* Requests each queue served; polled queues are the last poll_queues. */
		for (unsigned int q = 0; q < c->nr_queues; q++) {
			const struct memxd_queue_stats *s = &c->queue[q].stats;

			EMIT("%s%" PRIu64, q ? "," : "",
			     atomic_load(&s->reads) + atomic_load(&s->writes) +
			     atomic_load(&s->flushes) + atomic_load(&s->discards) +
			     atomic_load(&s->write_zeroes));
		}
		EMIT("]}],\"donors\":[");
		for (unsigned int i = 0; i < c->nr_donors; i++) {
			struct memxd_donor *d = &c->donor[i];

			EMIT("%s{\"address\":\"%s\",\"state\":\"%s\",\"memory_total\":%" PRIu64
			     ",\"memory_free\":%" PRIu64 ",\"slabs\":%u,\"evict_bytes\":%" PRIu64 "}",
			     i ? "," : "", d->name, memxd_donor_state_name(atomic_load(&d->state)),
			     d->welcome.memory_total, d->memory_free, d->slabs, d->evict_bytes);
		}
		EMIT("]");
		if (slabs) {
			bool first = true;

			EMIT(",\"slabs\":[");
			for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
				struct memx_slab *slab = &c->map.slabs[i];
				uint32_t st = memx_slab_state(slab);

				if (st == MEMX_SLAB_UNMAPPED)
					continue;
				EMIT("%s{\"slab\":%" PRIu64 ",\"state\":\"%s\",\"replicas\":[",
				     first ? "" : ",", i, slab_state_name(st));
				first = false;
				for (uint32_t k = 0, nk = 0; k < slab->nr_replicas; k++)
					if (slab->replica[k].live)
						EMIT("%s\"%s\"", nk++ ? "," : "",
						     c->donor[slab->replica[k].donor].name);
				EMIT("]}");
			}
			EMIT("]");
		}
		EMIT("}\n");
	} else {
		EMIT("volume %s: /dev/memx%d, %" PRIu64 " MiB, slabs %" PRIu64 " MiB: %" PRIu64
		     " of %" PRIu64 " mapped, %" PRIu64 " lost, %u replica(s), %u queues x %u "
		     "(%u polled), engine polls %u us\n",
		     c->opt.name, c->dev_id, c->map.volume_bytes >> 20, c->map.slab_bytes >> 20,
		     atomic_load(&c->slabs_mapped), c->map.nr_slabs, atomic_load(&c->slabs_lost),
		     c->opt.replicas, c->nr_queues, c->opt.depth, c->opt.poll_queues, c->opt.poll_us);
		EMIT("  replication: %" PRIu64 " slabs below %u replicas (backlog), %" PRIu64
		     " re-replicated, %" PRIu64 " moved off leaving donors\n", backlog,
		     c->opt.replicas, c->slabs_rereplicated, c->slabs_moved);
		EMIT("  io: %" PRIu64 " reads (%" PRIu64 " MiB), %" PRIu64 " writes (%" PRIu64
		     " MiB), %" PRIu64 " flushes, %" PRIu64 " discards, %" PRIu64 " write-zeroes, %"
		     PRIu64 " errors, %" PRIu64 " zero-filled reads\n",
		     t[0], t[2] >> 20, t[1], t[3] >> 20, t[4], t[5], t[6], t[7], t[8]);
		for (unsigned int i = 0; i < c->nr_donors; i++) {
			struct memxd_donor *d = &c->donor[i];

			EMIT("  donor %-24s %-8s lends %" PRIu64 " MiB, %" PRIu64 " MiB free, holds %u "
			     "slabs\n", d->name, memxd_donor_state_name(atomic_load(&d->state)),
			     d->welcome.memory_total >> 20, d->memory_free >> 20, d->slabs);
		}
		if (slabs)
			for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
				struct memx_slab *slab = &c->map.slabs[i];
				uint32_t st = memx_slab_state(slab);

				if (st == MEMX_SLAB_UNMAPPED)
					continue;
				EMIT("  slab %-6" PRIu64 " %-9s", i, slab_state_name(st));
				for (uint32_t k = 0; k < slab->nr_replicas; k++)
					if (slab->replica[k].live)
						EMIT(" %s", c->donor[slab->replica[k].donor].name);
				EMIT("\n");
			}
	}
#undef EMIT
	return n < len ? 0 : -ENOSPC;
}
