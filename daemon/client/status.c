// SPDX-License-Identifier: GPL-2.0
/*
 * `memxctl status` for a client engine: the volume, its I/O counters summed
 * over the queues, its donors and (with --slabs) every mapped slab, as text
 * or JSON (built with json-c), of any length. Runs in the control thread;
 * counters written by queue threads are read with atomic loads.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/ctl.h"
#include "common/log.h"
#include "memx_config.h"

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

/* The text answer being written, of any length; fails (ENOMEM) as a whole. */
struct status_out {
	FILE *f;
};

static void emit(struct status_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct status_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

/* I/O counters of every queue, summed. */
struct io_totals {
	uint64_t reads, writes, read_bytes, write_bytes, flushes, discards, write_zeroes;
	uint64_t errors, zero_reads, commits, wakeups, posts, arms, failovers;
	uint64_t checksum_errors, repairs, rdma_write_bytes;
	uint64_t samefill_writes, samefill_reads, samefill_bytes_saved;
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
		t->rdma_write_bytes += atomic_load(&s->rdma_write_bytes);
		t->samefill_writes += atomic_load(&s->samefill_writes);
		t->samefill_reads += atomic_load(&s->samefill_reads);
		t->samefill_bytes_saved += atomic_load(&s->samefill_bytes_saved);
	}
}

#define U64(v)	json_object_new_uint64(v)
#define STR(v)	json_object_new_string(v)
#define BOOL(v)	json_object_new_boolean(v)

static json_object *json_io(const struct io_totals *t, bool *ok)
{
	json_object *io = json_object_new_object();

	memxd_json_set(io, "reads", U64(t->reads), ok);
	memxd_json_set(io, "writes", U64(t->writes), ok);
	memxd_json_set(io, "read_bytes", U64(t->read_bytes), ok);
	memxd_json_set(io, "write_bytes", U64(t->write_bytes), ok);
	memxd_json_set(io, "flushes", U64(t->flushes), ok);
	memxd_json_set(io, "discards", U64(t->discards), ok);
	memxd_json_set(io, "write_zeroes", U64(t->write_zeroes), ok);
	memxd_json_set(io, "errors", U64(t->errors), ok);
	memxd_json_set(io, "zero_reads", U64(t->zero_reads), ok);
	memxd_json_set(io, "commits", U64(t->commits), ok);
	memxd_json_set(io, "wakeups", U64(t->wakeups), ok);
	memxd_json_set(io, "rdma_posts", U64(t->posts), ok);
	memxd_json_set(io, "cq_arms", U64(t->arms), ok);
	memxd_json_set(io, "failovers", U64(t->failovers), ok);
	memxd_json_set(io, "checksum_errors", U64(t->checksum_errors), ok);
	memxd_json_set(io, "repairs", U64(t->repairs), ok);
	memxd_json_set(io, "rdma_write_bytes", U64(t->rdma_write_bytes), ok);
	memxd_json_set(io, "same_filled_writes", U64(t->samefill_writes), ok);
	memxd_json_set(io, "same_filled_reads", U64(t->samefill_reads), ok);
	memxd_json_set(io, "same_filled_bytes_saved", U64(t->samefill_bytes_saved), ok);
	return io;
}

static json_object *json_scrub(struct memxd_client *c, bool *ok)
{
	json_object *sc = json_object_new_object();

	memxd_json_set(sc, "rate", U64(c->crc.crc ? c->opt.scrub_rate : 0), ok);
	memxd_json_set(sc, "passes", U64(c->scrub.passes), ok);
	memxd_json_set(sc, "bytes", U64(c->scrub.bytes), ok);
	memxd_json_set(sc, "bad_blocks", U64(c->scrub.bad_blocks), ok);
	memxd_json_set(sc, "repaired", U64(c->scrub.repaired), ok);
	memxd_json_set(sc, "yielded", U64(c->scrub.yielded), ok);
	memxd_json_set(sc, "slab", U64(c->scrub.slab), ok);
	return sc;
}

static const char *rest_state_name(struct memxd_client *c)
{
	switch (atomic_load(&c->rest.state)) {
	case MEMXD_REST_BUSY: return "busy";
	case MEMXD_REST_HELD: return c->rest.kept ? "at_rest" : "holding";
	default: return "off";
	}
}

/* The state left on the donors while the volume is at rest (rest.c). */
static json_object *json_rest(struct memxd_client *c, bool *ok)
{
	const struct memxd_rest *rs = &c->rest;
	json_object *r = json_object_new_object();

	memxd_json_set(r, "state", json_object_new_string(rest_state_name(c)), ok);
	memxd_json_set(r, "after_s", U64(c->opt.rest_after_s), ok);
	memxd_json_set(r, "generation", U64(rs->gen), ok);
	memxd_json_set(r, "donors_keeping", U64(rs->kept ? rs->nr_kept : 0), ok);
	memxd_json_set(r, "rests", U64(rs->rests), ok);
	memxd_json_set(r, "ends", U64(rs->ends), ok);
	memxd_json_set(r, "last_keep_ms", U64(rs->last_keep_ms), ok);
	memxd_json_set(r, "last_drop_ms", U64(rs->last_drop_ms), ok);
	return r;
}

static void emit_rest(struct memxd_client *c, struct status_out *o)
{
	const struct memxd_rest *rs = &c->rest;

	if (atomic_load(&rs->state) == MEMXD_REST_OFF) {
		emit(o, "  at rest: off (%s): if this host dies, only its state file can attach "
		     "the volume\n", !c->opt.rest_after_s ? "--rest-after 0" :
		     !c->opt.recovery_timeout_s ? "--recovery-timeout 0" :
		     rs->seq >= MEMX_STATE_SEQ_MAX ? "every generation used" : "no --state-key");
		return;
	}
	if (rs->kept)
		emit(o, "  at rest: yes, for %" PRIu64 " s: its state (generation %" PRIu64 ".%"
		     PRIu64 ") is on %u donor(s), so --attach on another host takes it over; "
		     "the next write first drops it\n",
		     (uint64_t)((memxd_now_ns() - rs->since_ns) / (1000 * MEMXD_NS_PER_MS)),
		     (uint64_t)MEMX_STATE_GEN_EPOCH(rs->gen), rs->gen & MEMX_STATE_SEQ_MAX,
		     rs->nr_kept);
	else
		emit(o, "  at rest: no (its state is left on the donors after %u s without a "
		     "write)\n", c->opt.rest_after_s);
	emit(o, "  rests: %" PRIu64 " begun, %" PRIu64 " ended; the last keep took %" PRIu64
	     " ms, the last drop %" PRIu64 " ms\n", rs->rests, rs->ends, rs->last_keep_ms,
	     rs->last_drop_ms);
}

/* The volume: "volumes" holds this one object. */
static json_object *json_volume(struct memxd_client *c, const struct io_totals *t,
				uint64_t backlog, bool *ok)
{
	json_object *v = json_object_new_object(), *qr = json_object_new_array();

	memxd_json_set(v, "name", STR(c->opt.name), ok);
	memxd_json_set(v, "device", STR(c->dev_path), ok);
	memxd_json_set(v, "backend", STR(c->kb ? c->kb->name : "none"), ok);
	memxd_json_set(v, "size", U64(c->map.volume_bytes), ok);
	memxd_json_set(v, "slab_size", U64(c->map.slab_bytes), ok);
	memxd_json_set(v, "slabs", U64(c->map.nr_slabs), ok);
	memxd_json_set(v, "slabs_mapped", U64(atomic_load(&c->slabs_mapped)), ok);
	memxd_json_set(v, "slabs_lost", U64(atomic_load(&c->slabs_lost)), ok);
	memxd_json_set(v, "replicas", U64(c->opt.replicas), ok);
	memxd_json_set(v, "queues", U64(c->nr_queues), ok);
	memxd_json_set(v, "depth", U64(c->opt.depth), ok);
	memxd_json_set(v, "recovery_timeout_s", U64(c->opt.recovery_timeout_s), ok);
	memxd_json_set(v, "resumed", BOOL(c->resumed), ok);
	memxd_json_set(v, "epoch", U64(c->epoch), ok);
	memxd_json_set(v, "slabs_given_back", U64(atomic_load(&c->slabs_given_back)), ok);
	memxd_json_set(v, "rest", json_rest(c, ok), ok);
	{
		struct memxd_capacity cap;

		memxd_capacity(c, &cap);
		memxd_json_set(v, "overcommit", BOOL(c->opt.overcommit), ok);
		memxd_json_set(v, "room_bytes", U64(cap.room_slabs * c->map.slab_bytes), ok);
		memxd_json_set(v, "shortfall_bytes", U64(cap.shortfall_bytes), ok);
	}
	memxd_json_set(v, "io", json_io(t, ok), ok);
	memxd_json_set(v, "scrub", json_scrub(c, ok), ok);
	memxd_json_set(v, "rereplication_backlog", U64(backlog), ok);
	memxd_json_set(v, "slabs_rereplicated", U64(c->slabs_rereplicated), ok);
	memxd_json_set(v, "slabs_moved", U64(c->slabs_moved), ok);
	memxd_json_set(v, "copied_bytes", U64(c->copied_bytes), ok);
	memxd_json_set(v, "copy_timeouts", U64(c->copy_timeouts), ok);
	memxd_json_set(v, "copy_piece_bytes", U64(memxd_copy_piece(c)), ok);
	memxd_json_set(v, "grant_pool", U64(c->opt.grant_pool), ok);
	memxd_json_set(v, "grants_pooled", U64(memxd_pool_held(c)), ok);
	memxd_json_set(v, "slabs_mapped_from_pool", U64(c->pool.slabs), ok);
	memxd_json_set(v, "grants_from_pool", U64(c->pool.taken), ok);
	memxd_json_set(v, "pool_refills", U64(c->pool.refills), ok);
	memxd_json_set(v, "pool_dropped", U64(c->pool.dropped), ok);
	memxd_json_set(v, "poll_queues", U64(c->opt.poll_queues), ok);
	memxd_json_set(v, "poll_us", U64(c->opt.poll_us), ok);
	memxd_json_set(v, "checksums", BOOL(c->crc.crc != NULL), ok);
	memxd_json_set(v, "same_filled", BOOL(!c->opt.no_same_filled), ok);
	memxd_json_set(v, "same_filled_blocks",
		       U64(atomic_load_explicit(&c->samefill.nr_marked, memory_order_relaxed)), ok);
	/* Requests each queue served; polled queues are the last poll_queues. */
	for (unsigned int q = 0; q < c->nr_queues; q++)
		memxd_json_push(qr, U64(queue_requests(&c->queue[q].stats)), ok);
	memxd_json_set(v, "queue_requests", qr, ok);
	return v;
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

static json_object *json_donors(struct memxd_client *c, bool *ok)
{
	json_object *all = json_object_new_array();
	char host[2 * MEMX_HOST_ID_LEN + 1];

	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		json_object *o;

		if (!d->host[0])
			continue;	/* a free slot: a reused one whose new donor failed to connect */
		o = json_object_new_object();
		memxd_json_set(o, "address", STR(d->name), ok);
		memxd_json_set(o, "state", STR(memxd_donor_state_name(atomic_load(&d->state))), ok);
		memxd_json_set(o, "host", STR(host_name(d, host)), ok);
		memxd_json_set(o, "zone", STR(d->welcome.zone), ok);
		memxd_json_set(o, "memory_total", U64(d->welcome.memory_total), ok);
		memxd_json_set(o, "memory_free", U64(d->memory_free), ok);
		memxd_json_set(o, "slabs", U64(d->slabs), ok);
		memxd_json_set(o, "pooled", U64(d->nr_pooled), ok);
		memxd_json_set(o, "evict_bytes", U64(d->evict_bytes), ok);
		memxd_json_set(o, "lease_s", U64(d->lease_s), ok);
		memxd_json_push(all, o, ok);
	}
	return all;
}

/* The copysets now in force, by donor address. */
static json_object *json_copysets(struct memxd_client *c, bool *ok)
{
	json_object *all = json_object_new_array();

	for (unsigned int g = 0; g < c->copysets.nr; g++) {
		json_object *set = json_object_new_array();

		for (unsigned int k = 0; k < c->copysets.size; k++)
			memxd_json_push(set, STR(c->donor[c->copysets.member[g * c->copysets.size +
									 k]].name), ok);
		memxd_json_push(all, set, ok);
	}
	return all;
}

/* One slab that is not unmapped, with the donors of its live replicas. */
static json_object *json_slab(struct memxd_client *c, uint64_t i, uint32_t st)
{
	struct memxd_slab *slab = &c->map.slabs[i];
	json_object *o = json_object_new_object(), *rep = json_object_new_array_ext(2);
	bool ok = true;

	memxd_json_set(o, "slab", U64(i), &ok);
	memxd_json_set(o, "state", STR(slab_state_name(st)), &ok);
	for (uint32_t k = 0; k < slab->nr_replicas; k++)
		if (slab->replica[k].live)
			memxd_json_push(rep, STR(c->donor[slab->replica[k].donor].name), &ok);
	memxd_json_set(o, "replicas", rep, &ok);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * "slabs" writes itself when the document is written: each slab's object is
 * made, written and freed in turn, so that a status of a million slabs takes
 * the memory of its text (some 80 bytes a slab), not of a million objects
 * (some 1300 bytes each). json-c calls this with the document's buffer.
 */
static int json_slabs_write(json_object *jso, struct printbuf *pb, int level, int flags)
{
	struct memxd_client *c = json_object_get_userdata(jso);
	bool first = true;

	if (printbuf_strappend(pb, "[") < 0)
		return -1;
	for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
		uint32_t st = memxd_slab_state(&c->map.slabs[i]);
		json_object *o;
		const char *s;
		size_t n = 0;
		int r;

		if (st == MEMXD_SLAB_UNMAPPED)
			continue;
		o = json_slab(c, i, st);
		s = o ? json_object_to_json_string_length(o, flags, &n) : NULL;
		r = s && (first || printbuf_strappend(pb, ",") >= 0) &&
		    printbuf_memappend(pb, s, (int)n) >= 0 ? 0 : -1;
		json_object_put(o);
		if (r)
			return -1;
		first = false;
	}
	return printbuf_strappend(pb, "]") < 0 ? -1 : 0;
}

static json_object *json_slabs(struct memxd_client *c)
{
	json_object *slabs = json_object_new_array();

	if (slabs)
		json_object_set_serializer(slabs, json_slabs_write, c, NULL);
	return slabs;
}

/* --directory: where, its state, the last error, and how many donors it made us join. */
static json_object *json_directory(struct memxd_client *c, bool *ok)
{
	struct memxd_dir_status st;
	json_object *o = json_object_new_object();

	memxd_dir_status(c->dir, &st);
	memxd_json_set(o, "url", STR(st.url), ok);
	memxd_json_set(o, "state", STR(st.state), ok);
	memxd_json_set(o, "listed", U64(st.listed), ok);
	memxd_json_set(o, "skipped", U64(st.skipped), ok);
	memxd_json_set(o, "joined", U64(c->dir_joins), ok);
	memxd_json_set(o, "errors", U64(st.errors), ok);
	memxd_json_set(o, "last_error", STR(st.last_error), ok);
	return o;
}

/* The whole document, or NULL when memory ran out. */
static json_object *status_json(struct memxd_client *c, const struct io_totals *t,
				uint64_t backlog, bool slabs)
{
	json_object *doc = json_object_new_object(), *vols = json_object_new_array();
	bool ok = true;

	memxd_json_set(doc, "role", STR("client"), &ok);
	memxd_json_set(doc, "version", STR(MEMX_VERSION), &ok);	/* memxctl version */
	memxd_json_set(doc, "log_dropped", U64(memxd_log_dropped()), &ok);
	memxd_json_set(doc, "key_id", U64(c->opt.trust.kr.key[0].id), &ok);
	memxd_json_set(doc, "insecure", BOOL(c->opt.trust.insecure), &ok);
	memxd_json_push(vols, json_volume(c, t, backlog, &ok), &ok);
	memxd_json_set(doc, "volumes", vols, &ok);
	memxd_json_set(doc, "donors", json_donors(c, &ok), &ok);
	memxd_json_set(doc, "copysets", json_copysets(c, &ok), &ok);
	if (c->dir)	/* only with --directory */
		memxd_json_set(doc, "directory", json_directory(c, &ok), &ok);
	if (slabs)
		memxd_json_set(doc, "slabs", json_slabs(c), &ok);
	if (!ok) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

/* --slabs as text: every slab that is not unmapped, with the donors of its live replicas. */
static void text_slabs(struct memxd_client *c, struct status_out *o)
{
	for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
		struct memxd_slab *slab = &c->map.slabs[i];
		uint32_t st = memxd_slab_state(slab);

		if (st == MEMXD_SLAB_UNMAPPED)
			continue;
		emit(o, "  slab %-6" PRIu64 " %-9s", i, slab_state_name(st));
		for (uint32_t k = 0; k < slab->nr_replicas; k++)
			if (slab->replica[k].live)
				emit(o, " %s", c->donor[slab->replica[k].donor].name);
		emit(o, "\n");
	}
}

static void text_status(struct memxd_client *c, const struct io_totals *t, uint64_t backlog,
			struct status_out *o)
{
	char host[2 * MEMX_HOST_ID_LEN + 1];

	emit(o, "volume %s: %s (%s), %" PRIu64 " MiB, slabs %" PRIu64 " MiB: %" PRIu64
	     " of %" PRIu64 " mapped, %" PRIu64 " lost, %u replica(s), %u queues x %u "
	     "(%u polled), engine polls %u us\n",
	     c->opt.name, c->dev_path, c->kb ? c->kb->name : "none", c->map.volume_bytes >> 20, c->map.slab_bytes >> 20,
	     atomic_load(&c->slabs_mapped), c->map.nr_slabs, atomic_load(&c->slabs_lost),
	     c->opt.replicas, c->nr_queues, c->opt.depth, c->opt.poll_queues, c->opt.poll_us);
	{
		struct memxd_capacity cap;

		memxd_capacity(c, &cap);
		emit(o, "  capacity: the donors have room for %" PRIu64 " more slab(s) at %u "
		     "replica(s); %" PRIu64 " unwritten; shortfall %" PRIu64 " MiB%s\n",
		     cap.room_slabs, cap.replicas, cap.unmapped_slabs, cap.shortfall_bytes >> 20,
		     c->opt.overcommit ? " (--overcommit)" : "");
	}
	emit(o, "  grant pool: %u per donor, %" PRIu64 " held; %" PRIu64 " slabs mapped from it "
	     "without a round trip (%" PRIu64 " grants taken), %" PRIu64 " refills, %" PRIu64
	     " dropped\n", c->opt.grant_pool, memxd_pool_held(c), c->pool.slabs, c->pool.taken,
	     c->pool.refills, c->pool.dropped);
	emit(o, "  replication: %" PRIu64 " slabs below %u replicas (backlog), %" PRIu64
	     " re-replicated, %" PRIu64 " moved off leaving donors, %" PRIu64
	     " slow copies abandoned (pieces of %u KiB)\n", backlog, c->opt.replicas,
	     c->slabs_rereplicated, c->slabs_moved, c->copy_timeouts,
	     memxd_copy_piece(c) >> 10);
	emit(o, "  io: %" PRIu64 " reads (%" PRIu64 " MiB), %" PRIu64 " writes (%" PRIu64
	     " MiB), %" PRIu64 " flushes, %" PRIu64 " discards, %" PRIu64 " write-zeroes, %"
	     PRIu64 " errors, %" PRIu64 " zero-filled reads\n", t->reads, t->read_bytes >> 20,
	     t->writes, t->write_bytes >> 20, t->flushes, t->discards, t->write_zeroes, t->errors,
	     t->zero_reads);
	emit(o, "  same-filled: %s; %" PRIu64 " blocks now; %" PRIu64 " blocks written and %"
	     PRIu64 " read without the network, %" PRIu64 " MiB not moved; %" PRIu64
	     " MiB written to donors\n", c->opt.no_same_filled ? "off" : "on",
	     atomic_load_explicit(&c->samefill.nr_marked, memory_order_relaxed),
	     t->samefill_writes, t->samefill_reads, t->samefill_bytes_saved >> 20,
	     t->rdma_write_bytes >> 20);
	emit(o, "  integrity: %" PRIu64 " blocks failed their checksum, %" PRIu64 " copies "
	     "repaired; scrub at %" PRIu64 " MiB/s: %" PRIu64 " passes, %" PRIu64 " bad blocks, %"
	     PRIu64 " repaired\n", t->checksum_errors, t->repairs,
	     (c->crc.crc ? c->opt.scrub_rate : 0) >> 20, c->scrub.passes, c->scrub.bad_blocks,
	     c->scrub.repaired);
	if (c->opt.recovery_timeout_s)
		emit(o, "  restart: if this engine dies, the volume waits %u s for the same "
		     "command to take it over%s; engine epoch %" PRIu64 "\n",
		     c->opt.recovery_timeout_s,
		     c->resumed ? " (this engine took it over from a dead one)" : "", c->epoch);
	else
		emit(o, "  restart: off (--recovery-timeout 0): the volume dies with this engine\n");
	emit_rest(c, o);
	if (c->opt.trust.insecure)
		emit(o, "  trust: INSECURE (--insecure): peers are not authenticated\n");
	else
		emit(o, "  trust: connects with key %u, holds %u key(s)\n",
		     c->opt.trust.kr.key[0].id, c->opt.trust.kr.n);
	if (c->dir) {
		struct memxd_dir_status st;

		memxd_dir_status(c->dir, &st);
		emit(o, "  directory %s: %s, %u donor(s) listed, %" PRIu64 " joined from it%s%s\n",
		     st.url, st.state, st.listed, c->dir_joins,
		     st.last_error[0] ? "; last error: " : "", st.last_error);
	}
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

/*
 * The answer to "status [--json] [--slabs]", of any length: handed to the
 * control socket (ctl.c), which writes it whole. Returns 0 or -ENOMEM.
 */
int memxd_client_status(struct memxd_client *c, bool json, bool slabs, char *out, size_t len)
{
	uint64_t backlog = memxd_backlog(c);
	struct status_out o;
	struct io_totals t;
	char *text = NULL;
	size_t n = 0;
	bool failed;

	sum_queues(c, &t);
	if (json)
		return memxd_ctl_reply_json(out, len, status_json(c, &t, backlog, slabs));
	o.f = open_memstream(&text, &n);
	if (!o.f)
		return -ENOMEM;
	text_status(c, &t, backlog, &o);
	if (slabs)
		text_slabs(c, &o);
	failed = ferror(o.f);
	if (fclose(o.f) || failed) {
		free(text);
		return -ENOMEM;
	}
	return memxd_ctl_reply_text(out, len, text, n);
}
