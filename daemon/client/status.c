// SPDX-License-Identifier: GPL-2.0
/*
 * `memxctl status` for a client engine: the volume, its I/O counters summed
 * over the queues, its donors and (with --slabs) every mapped slab, as text
 * or JSON. Runs in the control thread; counters written by queue threads are
 * read with atomic loads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "common/log.h"

static const char *slab_state_name(uint32_t s)
{
	switch (s) {
	case MEMXD_SLAB_UNMAPPED: return "unmapped";
	case MEMXD_SLAB_MAPPING: return "mapping";
	case MEMXD_SLAB_MAPPED: return "mapped";
	case MEMXD_SLAB_LOST: return "lost";
	case MEMXD_SLAB_MIGRATING: return "migrating";
	case MEMXD_SLAB_FREEING: return "freeing";
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

/* The answer being written: text is cut at len, and the total length still counted. */
struct status_out {
	char *buf;
	size_t len, n;
};

static void emit(struct status_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct status_out *o, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(o->buf + (o->n < o->len ? o->n : o->len), o->n < o->len ? o->len - o->n : 0,
		      fmt, ap);
	va_end(ap);
	if (w > 0)
		o->n += (size_t)w;
}

/* I/O counters of every queue, summed. */
struct io_totals {
	uint64_t reads, writes, read_bytes, write_bytes, flushes, discards, write_zeroes;
	uint64_t errors, zero_reads, commits, wakeups, posts, arms, failovers;
	uint64_t checksum_errors, repairs;
};

static uint64_t queue_requests(const struct memxd_queue_stats *s)
{
	return atomic_load(&s->reads) + atomic_load(&s->writes) + atomic_load(&s->flushes) +
	       atomic_load(&s->discards) + atomic_load(&s->write_zeroes);
}

static void sum_queues(const struct memxd_client *c, struct io_totals *t)
{
	*t = (struct io_totals){ 0 };
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		const struct memxd_queue_stats *s = &c->queue[q].stats;

		t->reads += atomic_load(&s->reads);
		t->writes += atomic_load(&s->writes);
		t->read_bytes += atomic_load(&s->read_bytes);
		t->write_bytes += atomic_load(&s->write_bytes);
		t->flushes += atomic_load(&s->flushes);
		t->discards += atomic_load(&s->discards);
		t->write_zeroes += atomic_load(&s->write_zeroes);
		t->errors += atomic_load(&s->errors);
		t->zero_reads += atomic_load(&s->zero_reads);
		t->commits += atomic_load(&s->commits);
		t->wakeups += atomic_load(&s->wakeups);
		t->posts += atomic_load(&s->posts);
		t->arms += atomic_load(&s->arms);
		t->failovers += atomic_load(&s->failovers);
		t->checksum_errors += atomic_load(&s->checksum_errors);
		t->repairs += atomic_load(&s->repairs);
	}
}

static void json_volume(struct memxd_client *c, const struct io_totals *t, uint64_t backlog,
			struct status_out *o)
{
	emit(o, "{\"role\":\"client\",\"log_dropped\":%" PRIu64 ",", memxd_log_dropped());
	emit(o, "\"key_id\":%u,\"insecure\":%s,", c->opt.trust.kr.key[0].id,
	     c->opt.trust.insecure ? "true" : "false");
	emit(o, "\"volumes\":[{\"name\":\"%s\",\"device\":\"/dev/memx%d\","
	     "\"size\":%" PRIu64 ",\"slab_size\":%" PRIu64 ",\"slabs\":%" PRIu64
	     ",\"slabs_mapped\":%" PRIu64 ",\"slabs_lost\":%" PRIu64 ",\"replicas\":%u,"
	     "\"queues\":%u,\"depth\":%u,", c->opt.name, c->dev_id, c->map.volume_bytes,
	     c->map.slab_bytes, c->map.nr_slabs, atomic_load(&c->slabs_mapped),
	     atomic_load(&c->slabs_lost), c->opt.replicas, c->nr_queues, c->opt.depth);
	emit(o, "\"recovery_timeout_s\":%u,\"resumed\":%s,", c->opt.recovery_timeout_s,
	     c->resumed ? "true" : "false");
	emit(o, "\"io\":{\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"read_bytes\":%" PRIu64
	     ",\"write_bytes\":%" PRIu64 ",\"flushes\":%" PRIu64 ",\"discards\":%" PRIu64
	     ",\"write_zeroes\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"zero_reads\":%" PRIu64
	     ",\"commits\":%" PRIu64 ",\"wakeups\":%" PRIu64 ",\"rdma_posts\":%" PRIu64
	     ",\"cq_arms\":%" PRIu64 ",\"failovers\":%" PRIu64 ",\"checksum_errors\":%" PRIu64
	     ",\"repairs\":%" PRIu64 "},", t->reads, t->writes, t->read_bytes, t->write_bytes,
	     t->flushes, t->discards, t->write_zeroes, t->errors, t->zero_reads, t->commits,
	     t->wakeups, t->posts, t->arms, t->failovers, t->checksum_errors, t->repairs);
	emit(o, "\"scrub\":{\"rate\":%" PRIu64 ",\"passes\":%" PRIu64 ",\"bytes\":%" PRIu64
	     ",\"bad_blocks\":%" PRIu64 ",\"repaired\":%" PRIu64 ",\"slab\":%" PRIu64 "},",
	     c->crc.crc ? c->opt.scrub_rate : 0, c->scrub.passes, c->scrub.bytes,
	     c->scrub.bad_blocks, c->scrub.repaired, c->scrub.slab);
	emit(o, "\"rereplication_backlog\":%" PRIu64 ",\"slabs_rereplicated\":%" PRIu64
	     ",\"slabs_moved\":%" PRIu64 ",\"copied_bytes\":%" PRIu64 ",\"poll_queues\":%u,"
	     "\"poll_us\":%u,\"checksums\":%s,\"queue_requests\":[", backlog,
	     c->slabs_rereplicated, c->slabs_moved, c->copied_bytes, c->opt.poll_queues,
	     c->opt.poll_us, c->crc.crc ? "true" : "false");
	/* Requests each queue served; polled queues are the last poll_queues. */
	for (unsigned int q = 0; q < c->nr_queues; q++)
		emit(o, "%s%" PRIu64, q ? "," : "", queue_requests(&c->queue[q].stats));
	emit(o, "]}]");
}

/* A donor's host: its --host label as it is, a machine-id in hex. */
static const char *host_name(const struct memxd_donor *d, char out[2 * MEMX_HOST_ID_LEN + 1])
{
	const uint8_t *h = d->welcome.host_id;
	size_t n = strnlen((const char *)h, MEMX_HOST_ID_LEN);

	if (n && n < MEMX_HOST_ID_LEN && !memcmp(h + n, (uint8_t[MEMX_HOST_ID_LEN]){ 0 },
						 MEMX_HOST_ID_LEN - n)) {
		memcpy(out, h, n);
		out[n] = '\0';
		if (memxd_label_ok(out, false))
			return out;
	}
	for (int i = 0; i < MEMX_HOST_ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	return out;
}

static void json_donors(struct memxd_client *c, struct status_out *o)
{
	char host[2 * MEMX_HOST_ID_LEN + 1];

	emit(o, ",\"donors\":[");
	for (unsigned int i = 0, n = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];

		if (!d->host[0])
			continue;	/* a free slot: a reused one whose new donor failed to connect */
		emit(o, "%s{\"address\":\"%s\",\"state\":\"%s\",\"host\":\"%s\",\"zone\":\"%s\","
		     "\"memory_total\":%" PRIu64 ",\"memory_free\":%" PRIu64 ",\"slabs\":%u,"
		     "\"evict_bytes\":%" PRIu64 ",\"lease_s\":%u}", n++ ? "," : "", d->name,
		     memxd_donor_state_name(atomic_load(&d->state)), host_name(d, host),
		     d->welcome.zone, d->welcome.memory_total, d->memory_free, d->slabs,
		     d->evict_bytes, d->lease_s);
	}
	emit(o, "]");
}

/* The copysets now in force, by donor address. */
static void json_copysets(struct memxd_client *c, struct status_out *o)
{
	emit(o, ",\"copysets\":[");
	for (unsigned int g = 0; g < c->copysets.nr; g++) {
		emit(o, "%s[", g ? "," : "");
		for (unsigned int k = 0; k < c->copysets.size; k++)
			emit(o, "%s\"%s\"", k ? "," : "",
			     c->donor[c->copysets.member[g * c->copysets.size + k]].name);
		emit(o, "]");
	}
	emit(o, "]");
}

/* Every slab that is not unmapped, with the donors of its live replicas. */
static void list_slabs(struct memxd_client *c, bool json, struct status_out *o)
{
	bool first = true;

	if (json)
		emit(o, ",\"slabs\":[");
	for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
		struct memxd_slab *slab = &c->map.slabs[i];
		uint32_t st = memxd_slab_state(slab);
		unsigned int nk = 0;

		if (st == MEMXD_SLAB_UNMAPPED)
			continue;
		if (json)
			emit(o, "%s{\"slab\":%" PRIu64 ",\"state\":\"%s\",\"replicas\":[",
			     first ? "" : ",", i, slab_state_name(st));
		else
			emit(o, "  slab %-6" PRIu64 " %-9s", i, slab_state_name(st));
		first = false;
		for (uint32_t k = 0; k < slab->nr_replicas; k++) {
			const char *name = c->donor[slab->replica[k].donor].name;

			if (!slab->replica[k].live)
				continue;
			if (json)
				emit(o, "%s\"%s\"", nk++ ? "," : "", name);
			else
				emit(o, " %s", name);
		}
		emit(o, json ? "]}" : "\n");
	}
	if (json)
		emit(o, "]");
}

static void text_status(struct memxd_client *c, const struct io_totals *t, uint64_t backlog,
			struct status_out *o)
{
	char host[2 * MEMX_HOST_ID_LEN + 1];

	emit(o, "volume %s: /dev/memx%d, %" PRIu64 " MiB, slabs %" PRIu64 " MiB: %" PRIu64
	     " of %" PRIu64 " mapped, %" PRIu64 " lost, %u replica(s), %u queues x %u "
	     "(%u polled), engine polls %u us\n",
	     c->opt.name, c->dev_id, c->map.volume_bytes >> 20, c->map.slab_bytes >> 20,
	     atomic_load(&c->slabs_mapped), c->map.nr_slabs, atomic_load(&c->slabs_lost),
	     c->opt.replicas, c->nr_queues, c->opt.depth, c->opt.poll_queues, c->opt.poll_us);
	emit(o, "  replication: %" PRIu64 " slabs below %u replicas (backlog), %" PRIu64
	     " re-replicated, %" PRIu64 " moved off leaving donors\n", backlog,
	     c->opt.replicas, c->slabs_rereplicated, c->slabs_moved);
	emit(o, "  io: %" PRIu64 " reads (%" PRIu64 " MiB), %" PRIu64 " writes (%" PRIu64
	     " MiB), %" PRIu64 " flushes, %" PRIu64 " discards, %" PRIu64 " write-zeroes, %"
	     PRIu64 " errors, %" PRIu64 " zero-filled reads\n", t->reads, t->read_bytes >> 20,
	     t->writes, t->write_bytes >> 20, t->flushes, t->discards, t->write_zeroes, t->errors,
	     t->zero_reads);
	emit(o, "  integrity: %" PRIu64 " blocks failed their checksum, %" PRIu64 " copies "
	     "repaired; scrub at %" PRIu64 " MiB/s: %" PRIu64 " passes, %" PRIu64 " bad blocks, %"
	     PRIu64 " repaired\n", t->checksum_errors, t->repairs,
	     (c->crc.crc ? c->opt.scrub_rate : 0) >> 20, c->scrub.passes, c->scrub.bad_blocks,
	     c->scrub.repaired);
	if (c->opt.recovery_timeout_s)
		emit(o, "  restart: if this engine dies, the volume waits %u s for the same "
		     "command to take it over%s\n", c->opt.recovery_timeout_s,
		     c->resumed ? " (this engine took it over from a dead one)" : "");
	else
		emit(o, "  restart: off (--recovery-timeout 0): the volume dies with this engine\n");
	if (c->opt.trust.insecure)
		emit(o, "  trust: INSECURE (--insecure): peers are not authenticated\n");
	else
		emit(o, "  trust: connects with key %u, holds %u key(s)\n",
		     c->opt.trust.kr.key[0].id, c->opt.trust.kr.n);
	if (memxd_log_dropped())
		emit(o, "  log: %" PRIu64 " lines dropped (stderr not read fast enough)\n",
		     memxd_log_dropped());
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];

		if (!d->host[0])
			continue;
		emit(o, "  donor %-24s %-8s lends %" PRIu64 " MiB, %" PRIu64 " MiB free, holds %u "
		     "slabs, host %s%s%s\n", d->name, memxd_donor_state_name(atomic_load(&d->state)),
		     d->welcome.memory_total >> 20, d->memory_free >> 20, d->slabs,
		     host_name(d, host), d->welcome.zone[0] ? ", zone " : "", d->welcome.zone);
	}
}

int memxd_client_status(struct memxd_client *c, bool json, bool slabs, char *out, size_t len)
{
	struct status_out o = { .buf = out, .len = len };
	uint64_t backlog = memxd_backlog(c);
	struct io_totals t;

	sum_queues(c, &t);
	if (json) {
		json_volume(c, &t, backlog, &o);
		json_donors(c, &o);
		json_copysets(c, &o);
		if (slabs)
			list_slabs(c, true, &o);
		emit(&o, "}\n");
	} else {
		text_status(c, &t, backlog, &o);
		if (slabs)
			list_slabs(c, false, &o);
	}
	return o.n < len ? 0 : -ENOSPC;
}
