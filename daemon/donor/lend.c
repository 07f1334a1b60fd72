// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: lending, the donor's side of the protocol.
 *
 * Each connect request carries a hello (wire.c checks every field; a bad one
 * is rejected with a memx_reject whose reason the peer can print, and the
 * listener goes on). Connections are grouped by the hello's volume id: each
 * volume gets its own protection domain, so a client's QPs can reach only
 * memory registered for its volume, and one MR per granted slab, so a freed
 * slab's rkey stops working at once. A volume's control connection takes
 * ALLOC_SLAB / FREE_SLAB / STATS as SEND/RECV messages; its data connections
 * only carry the client's one-sided RDMA, which needs no CPU here.
 *
 * Slab memory is a fresh anonymous mapping (zero-filled by the kernel, so no
 * data crosses from one client to another), pinned by its MR registration.
 * When a volume's control connection goes away, its slabs are freed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/proc.h"
#include "donor/donor.h"

/* ---- slabs ----------------------------------------------------------------- */

static void slab_free(struct donor *dn, struct donor_slab *s)
{
	if (s->vol->state_handle == (uint32_t)(s - dn->slab) + 1) {
		mxv_mr_dereg(s->vol->state_mr);
		s->vol->state_mr = NULL;
		s->vol->state_handle = 0;
		s->vol->state_len = 0;
	}
	mxv_mr_dereg(s->mr);	/* the rkey dies here */
	munmap(s->mem, s->bytes);
	dn->memory_granted -= s->bytes;
	s->vol->slabs--;
	s->vol->bytes -= s->bytes;
	memset(s, 0, sizeof(*s));
	dn->frees++;
}

/* Bytes lent to the volumes of one client address. */
static uint64_t lent_to(const struct donor *dn, const char *owner)
{
	uint64_t n = 0;

	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && !strcmp(dn->vol[i].owner, owner))
			n += dn->vol[i].bytes;
	return n;
}

/*
 * What one client address may still be granted: our free memory, capped by
 * what --max-per-client leaves it. This is the "free" a client is told, so
 * that its placement sees the quota too.
 */
uint64_t lend_room_for(const struct donor *dn, const char *owner)
{
	uint64_t room = dn->memory_total - dn->memory_granted, used;

	if (!dn->max_per_client)
		return room;
	used = lent_to(dn, owner);
	if (used >= dn->max_per_client)
		return 0;
	return room < dn->max_per_client - used ? room : dn->max_per_client - used;
}

/*
 * Whether one client address may be granted bytes more: within its quota,
 * or, for a copy that restores a lost replica (MEMX_ALLOC_F_REPAIR), within
 * the quota and the room kept beyond it (a quarter of it), so that a failure
 * elsewhere does not leave that client's slabs short.
 */
static bool within_quota(const struct donor *dn, const char *owner, uint64_t bytes, bool repair)
{
	uint64_t limit = dn->max_per_client;

	if (!limit)
		return true;
	if (repair)
		limit += limit / DONOR_REPAIR_RESERVE_DIV;
	return lent_to(dn, owner) + bytes <= limit;
}

static int slab_grant(struct donor *dn, struct donor_volume *vol, uint64_t bytes, bool repair,
		      struct memxd_msg_info *reply)
{
	struct donor_slab *s = NULL;
	uint32_t i;
	void *mem;
	int r;

	if (bytes > (1ULL << dn->max_slab_shift))
		return -EINVAL;
	if (dn->leaving || dn->memory_total - dn->memory_granted < bytes)
		return -ENOSPC;
	if (!within_quota(dn, vol->owner, bytes, repair))
		return -EDQUOT;	/* this client holds its share: others get the rest */
	for (i = 0; i < DONOR_MAX_SLABS; i++)
		if (!dn->slab[i].used) {
			s = &dn->slab[i];
			break;
		}
	if (!s)
		return -ENOSPC;
	/* Fresh anonymous memory is zero: nothing of an earlier client leaks. */
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	r = mxv_mr_reg(vol->ctx, mem, bytes, MXV_ACCESS_REMOTE_READ | MXV_ACCESS_REMOTE_WRITE,
		       &s->mr);
	if (r) {
		munmap(mem, bytes);
		return r;
	}
	s->used = true;
	s->mem = mem;
	s->bytes = bytes;
	s->vol = vol;
	vol->slabs++;
	vol->bytes += bytes;
	dn->memory_granted += bytes;
	dn->grants++;
	reply->grant.remote_addr = (uintptr_t)mem;
	reply->grant.slab_bytes = bytes;
	reply->grant.rkey = mxv_mr_rkey(s->mr);
	reply->grant.handle = i + 1;
	reply->grant.memory_free = lend_room_for(dn, vol->owner);
	return 0;
}

/* ---- a detached volume's sealed state ------------------------------------- */

/* The newest generation a volume's state here speaks of: the kept one's, or the floor. */
static uint64_t state_newest(const struct donor_volume *v)
{
	return v->state_handle && v->state_epoch > v->state_floor ? v->state_epoch : v->state_floor;
}

struct donor_volume *lend_state_find(struct donor *dn, const uint8_t tag[16])
{
	struct donor_volume *best = NULL;

	for (int i = 0; i < DONOR_MAX_VOLUMES; i++) {
		struct donor_volume *v = &dn->vol[i];

		if (!v->used || !(v->state_handle || v->state_floor) ||
		    !memxd_auth_equal(v->state_tag, tag, 16))
			continue;
		/* Newest first; at a tie the floor, which says that generation is stale. */
		if (!best || state_newest(v) > state_newest(best) ||
		    (state_newest(v) == state_newest(best) && !v->state_handle))
			best = v;
	}
	return best;
}

void lend_state_drop(struct donor *dn, struct donor_volume *vol)
{
	uint32_t h = vol->state_handle;

	if (!h)
		return;
	memxd_info("volume %s: dropping its sealed state of generation %" PRIu64 ".%" PRIu64
		   " (stale now)", vol->idstr, (uint64_t)MEMX_STATE_GEN_EPOCH(vol->state_epoch),
		   vol->state_epoch & MEMX_STATE_SEQ_MAX);
	slab_free(dn, &dn->slab[h - 1]);
}

/* ---- a take-over's reconciliation (proto.h: MEMX_MSG_CLAIM, _PRUNE) ------- */

void lend_mark_unclaimed(struct donor *dn, struct donor_volume *vol)
{
	if (!vol->slabs)
		return;
	for (int i = 0; i < DONOR_MAX_SLABS; i++)
		if (dn->slab[i].used && dn->slab[i].vol == vol)
			dn->slab[i].unclaimed = true;
}

/* CLAIM: the grants of vol its bits name are its engine's. -ENOENT: one named is not vol's. */
static int claim_grants(struct donor *dn, struct donor_volume *vol, const struct memxd_msg_info *m)
{
	int r = 0;

	for (unsigned int i = 0; i < MEMX_CLAIM_BITS; i++) {
		uint64_t h = (uint64_t)m->claim.first + i;
		struct donor_slab *s;

		if (!(m->claim.bits[i / 8] & (1U << (i % 8))))
			continue;
		s = h <= DONOR_MAX_SLABS ? &dn->slab[h - 1] : NULL;
		if (!s || !s->used || s->vol != vol) {
			r = -ENOENT;
			continue;
		}
		s->unclaimed = false;
	}
	return r;
}

/* PRUNE: what vol's engine before this one left and this one did not claim is freed. */
static void prune_grants(struct donor *dn, struct donor_volume *vol)
{
	uint32_t n = 0;

	for (int i = 0; i < DONOR_MAX_SLABS; i++)
		if (dn->slab[i].used && dn->slab[i].vol == vol && dn->slab[i].unclaimed) {
			slab_free(dn, &dn->slab[i]);
			n++;
		}
	memxd_info("volume %s: pruned %u grant(s) an engine before this one left and this one "
		   "did not claim; %u kept", vol->idstr, n, vol->slabs);
}

/*
 * MEMX_MSG_STATE_KEEP from a volume's engine: slab handle holds its sealed
 * state (length bytes, of this epoch). Replaces one kept before. We cannot
 * check what it wrote there (it is sealed for the cluster, not for us).
 */
static int state_keep(struct donor *dn, struct donor_volume *vol, const struct memxd_state_info *st)
{
	uint32_t h = st->handle;
	struct donor_slab *s;
	int r;

	if (h > DONOR_MAX_SLABS || !dn->slab[h - 1].used || dn->slab[h - 1].vol != vol)
		return -ENOENT;
	s = &dn->slab[h - 1];
	if (st->length > s->bytes || h == vol->state_handle)
		return -EINVAL;
	if ((vol->state_handle && st->epoch < vol->state_epoch) || st->epoch <= vol->state_floor)
		return -ESTALE;
	lend_state_drop(dn, vol);
	r = mxv_mr_reg(dn->ctl_ctx, s->mem, s->bytes, 0, &vol->state_mr);
	if (r)
		return r;
	vol->state_handle = h;
	vol->state_len = st->length;
	vol->state_epoch = st->epoch;
	memcpy(vol->state_tag, st->tag, sizeof(vol->state_tag));
	memxd_info("volume %s: keeping its sealed state of generation %" PRIu64 ".%" PRIu64
		   " (%u bytes) for an engine that attaches it", vol->idstr,
		   (uint64_t)MEMX_STATE_GEN_EPOCH(st->epoch), st->epoch & MEMX_STATE_SEQ_MAX,
		   st->length);
	return 0;
}

/*
 * MEMX_MSG_STATE_DROP: the volume changes, so its state kept at rest is
 * stale from generation st->epoch down: freed, and that floor remembered for
 * readers (a state we never kept may be stale elsewhere: the floor says so).
 */
static void state_drop_to(struct donor *dn, struct donor_volume *vol,
			  const struct memxd_state_info *st)
{
	if (st->epoch > vol->state_floor)
		vol->state_floor = st->epoch;
	memcpy(vol->state_tag, st->tag, sizeof(vol->state_tag));
	if (vol->state_handle && vol->state_epoch <= vol->state_floor)
		lend_state_drop(dn, vol);
}

/*
 * MEMX_MSG_STATE_READ on a state reader's connection: RDMA WRITE the piece
 * asked for to the reader's memory, then the reply (the same QP: the WRITE
 * lands before the reply arrives). Length 0 asks the size only.
 */
static void state_read(struct donor *dn, struct donor_conn *dc, const struct memxd_msg_info *msg)
{
	struct memxd_msg_info reply = { .type = MEMX_MSG_STATE_REPLY, .seq = msg->seq };
	const struct memxd_state_info *st = &msg->state;
	struct donor_volume *vol = lend_state_find(dn, dc->volume_id);
	int r = 0;

	if (msg->type != MEMX_MSG_STATE_READ) {
		memxd_warn("state reader %s: unexpected %s message", dc->peer,
			   memxd_msg_type_name(msg->type));
		return;
	}
	if (!vol || !vol->state_handle)
		r = -ENOENT;	/* with the floor, if there is one */
	else if ((uint64_t)st->offset + st->length > vol->state_len)
		r = -EINVAL;
	else if (st->length)
		r = mxv_post_write(dc->conn, vol->state_mr, st->offset, st->length,
				   st->remote_addr, st->rkey, DONOR_RECVS + 1);
	if (vol && !r) {
		reply.state.length = vol->state_len;
		reply.state.epoch = vol->state_epoch;
	} else if (vol && r == -ENOENT) {
		reply.state.epoch = vol->state_floor;
	}
	if (!vol || !st->length || r)
		memxd_info("state reader %s: %s", dc->peer, !vol ? "no sealed state with its tag" :
			   !vol->state_handle ? "its sealed state was dropped (stale)" :
			   r ? strerror(-r) : "asked the size of a sealed state");
	reply.status = (uint32_t)-r;
	lend_send(dn, dc, &reply);
}

/* ---- volumes and connections ---------------------------------------------- */

struct donor_volume *lend_volume_find(struct donor *dn, const uint8_t id[16])
{
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && memxd_auth_equal(dn->vol[i].id, id, 16))
			return &dn->vol[i];
	return NULL;
}

/* A new volume with its own protection domain, bound to its owner's secret. */
struct donor_volume *lend_volume_make(struct donor *dn, const uint8_t id[16],
				      const uint8_t secret[MEMX_SECRET_LEN])
{
	struct donor_volume *vol = NULL;
	int r;

	for (int i = 0; i < DONOR_MAX_VOLUMES && !vol; i++)
		if (!dn->vol[i].used)
			vol = &dn->vol[i];
	if (!vol)
		return NULL;
	memset(vol, 0, sizeof(*vol));
	r = mxv_ctx_open(dn->host, &vol->ctx);
	if (!r)
		r = mxv_cq_create(vol->ctx, 64, &vol->cq);
	if (r) {
		mxv_cq_destroy(vol->cq);
		mxv_ctx_close(vol->ctx);
		memxd_log_errno(r, "volume context");
		return NULL;
	}
	memcpy(vol->id, id, 16);
	memcpy(vol->secret, secret, MEMX_SECRET_LEN);
	memxd_fmt_id(id, vol->idstr);
	vol->used = true;
	return vol;
}

static void volume_put(struct donor *dn, struct donor_volume *vol)
{
	if (vol->nr_conns || vol->lease_end_ns)
		return;	/* in use, or kept for an engine that may come back */
	for (int i = 0; i < DONOR_MAX_SLABS; i++)
		if (dn->slab[i].used && dn->slab[i].vol == vol)
			slab_free(dn, &dn->slab[i]);
	mxv_cq_destroy(vol->cq);
	mxv_ctx_close(vol->ctx);
	memset(vol, 0, sizeof(*vol));	/* the secret and the ticket with it */
}

int lend_expire_leases(struct donor *dn)
{
	uint64_t now = memxd_now_ns(), next = UINT64_MAX;

	for (int i = 0; i < DONOR_MAX_VOLUMES; i++) {
		struct donor_volume *vol = &dn->vol[i];

		if (!vol->used || !vol->lease_end_ns)
			continue;
		if (now < vol->lease_end_ns) {
			if (vol->lease_end_ns < next)
				next = vol->lease_end_ns;
			continue;
		}
		memxd_info("volume %s: lease ended without its engine: freeing its %u slabs",
			   vol->idstr, vol->slabs);
		vol->lease_end_ns = 0;
		volume_put(dn, vol);
	}
	return next == UINT64_MAX ? -1 : (int)((next - now) / MEMXD_NS_PER_MS) + 1;
}

/* For logs: the volume a connection serves, or "-" before it authenticated. */
const char *lend_conn_volume(const struct donor_conn *dc)
{
	return dc->vol ? dc->vol->idstr : "-";
}

void lend_close_conn(struct donor *dn, struct donor_conn *dc, const char *why)
{
	struct donor_volume *vol = dc->vol;

	memxd_info("volume %s: %s%s connection from %s closed (%s)", lend_conn_volume(dc),
		   dc->established ? "" : "half-open ",
		   dc->role == MEMX_ROLE_CLIENT ? "control" : "data", dc->peer, why);
	/*
	 * The control connection going means the client is gone: its slabs go
	 * too, or, under a lease, when the lease ends unless its engine comes
	 * back first (accept.c). Not a handshake that never finished: that was
	 * never the client's.
	 */
	if (vol && vol->control == dc) {
		uint32_t n = vol->slabs;

		if (vol->lease_s && n) {	/* an engine that gave everything back left for good */
			vol->lease_end_ns = memxd_now_ns() + vol->lease_s * MEMXD_NS_PER_S;
			memxd_info("volume %s: its engine is gone; keeping its %u slabs for %u s "
				   "(lease)", vol->idstr, n, vol->lease_s);
		} else {
			for (int i = 0; i < DONOR_MAX_SLABS; i++)
				if (dn->slab[i].used && dn->slab[i].vol == vol)
					slab_free(dn, &dn->slab[i]);
			if (n)
				memxd_info("volume %s: freed its %u slabs", vol->idstr, n);
		}
		vol->control = NULL;
		memxd_auth_random(vol->ticket, sizeof(vol->ticket));	/* dies with it */
		vol->ticket_expiry_ns = 0;
	}
	mxv_conn_destroy(dc->conn);
	mxv_mr_dereg(dc->msg_mr);
	free(dc->msgbuf);
	memset(dc, 0, sizeof(*dc));
	if (vol) {
		vol->nr_conns--;
		volume_put(dn, vol);
	}
}

void lend_send(struct donor *dn, struct donor_conn *dc, const struct memxd_msg_info *reply)
{
	uint8_t *send_slot = dc->msgbuf + DONOR_RECVS * MEMX_MSG_SIZE;
	int r;

	(void)dn;
	memxd_msg_encode(send_slot, MEMX_MSG_SIZE, reply);
	r = mxv_post_send(dc->conn, dc->msg_mr, DONOR_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE, 1);
	if (r)
		memxd_log_errno(r, "volume %s: reply to %s", lend_conn_volume(dc), dc->peer);
}

/* Answers one control message received on dc. */
static void handle_msg(struct donor *dn, struct donor_conn *dc, const void *buf, size_t len)
{
	struct memxd_msg_info msg, reply = { 0 };
	struct memxd_wire_error err;
	int r = 0;

	if (memxd_msg_decode(buf, len, &msg, &err)) {
		memxd_warn("volume %s: bad control message from %s: %s", lend_conn_volume(dc),
			   dc->peer, err.reason);
		return;
	}
	memxd_dbg(MEMXD_DBG_PROTO, "volume %s: %s from %s, seq %u", lend_conn_volume(dc),
		 memxd_msg_type_name(msg.type), dc->peer, msg.seq);
	/* Nothing but the handshake before it is done; no second one after. */
	if (!dc->authed || msg.type == MEMX_MSG_AUTH) {
		accept_auth(dn, dc, &msg);
		return;
	}
	if (dc->state_reader) {
		state_read(dn, dc, &msg);
		return;
	}
	reply.seq = msg.seq;
	switch (msg.type) {
	case MEMX_MSG_ALLOC_SLAB:
		reply.type = MEMX_MSG_ALLOC_REPLY;
		r = slab_grant(dn, dc->vol, msg.alloc.slab_bytes,
			       msg.alloc.flags & MEMX_ALLOC_F_REPAIR, &reply);
		if (r)
			memxd_warn("volume %s: slab %" PRIu64 " of %" PRIu64 " bytes refused: %s",
				  dc->vol->idstr, msg.alloc.slab_index, msg.alloc.slab_bytes,
				  strerror(-r));
		else
			memxd_dbg(MEMXD_DBG_PROTO, "volume %s: slab %" PRIu64 " granted as handle %u "
				  "at %#" PRIx64 " rkey %#x", dc->vol->idstr, msg.alloc.slab_index,
				  reply.grant.handle, reply.grant.remote_addr, reply.grant.rkey);
		break;
	case MEMX_MSG_FREE_SLAB: {
		uint32_t h = msg.free.handle;

		reply.type = MEMX_MSG_FREE_REPLY;
		/* Only the volume that was granted a slab may free it. */
		if (!h || h > DONOR_MAX_SLABS || !dn->slab[h - 1].used ||
		    dn->slab[h - 1].vol != dc->vol)
			r = -ENOENT;
		else
			slab_free(dn, &dn->slab[h - 1]);
		break;
	}
	case MEMX_MSG_STATS:
		reply.type = MEMX_MSG_STATS_REPLY;
		break;
	case MEMX_MSG_RELEASE: {
		/* Its engine stops for good: everything of the volume, leftovers too, now. */
		uint32_t n = dc->vol->slabs;

		reply.type = MEMX_MSG_FREE_REPLY;
		for (int i = 0; i < DONOR_MAX_SLABS; i++)
			if (dn->slab[i].used && dn->slab[i].vol == dc->vol)
				slab_free(dn, &dn->slab[i]);
		dc->vol->lease_s = 0;
		memxd_info("volume %s: released by its engine: freed its %u slabs", dc->vol->idstr,
			   n);
		break;
	}
	case MEMX_MSG_CLAIM:
		reply.type = MEMX_MSG_FREE_REPLY;
		r = claim_grants(dn, dc->vol, &msg);
		if (r)
			memxd_warn("volume %s: its engine claimed grants that are not its own here",
				   dc->vol->idstr);
		break;
	case MEMX_MSG_PRUNE:
		reply.type = MEMX_MSG_FREE_REPLY;
		prune_grants(dn, dc->vol);
		break;
	case MEMX_MSG_STATE_KEEP:
		reply.type = MEMX_MSG_STATE_REPLY;
		r = state_keep(dn, dc->vol, &msg.state);
		if (r)
			memxd_warn("volume %s: its sealed state not kept: %s", dc->vol->idstr,
				   strerror(-r));
		else
			reply.state = (struct memxd_state_info){ .length = dc->vol->state_len,
								 .epoch = dc->vol->state_epoch };
		break;
	case MEMX_MSG_STATE_DROP:
		reply.type = MEMX_MSG_STATE_REPLY;
		state_drop_to(dn, dc->vol, &msg.state);
		reply.state = (struct memxd_state_info){ .length = dc->vol->state_len,
							 .epoch = dc->vol->state_floor };
		break;
	default:
		memxd_warn("volume %s: unexpected %s message from %s", dc->vol->idstr,
			  memxd_msg_type_name(msg.type), dc->peer);
		return;
	}
	reply.status = (uint32_t)-r;
	if (reply.type != MEMX_MSG_STATE_REPLY && (reply.type != MEMX_MSG_ALLOC_REPLY || r)) {
		memset(&reply.stats, 0, sizeof(reply.stats));
		if (reply.type != MEMX_MSG_ALLOC_REPLY) {
			reply.stats.memory_total = dn->memory_total;
			reply.stats.memory_free = lend_room_for(dn, dc->vol->owner);
			reply.stats.slabs_granted = dc->vol->slabs;
		}
	}
	lend_send(dn, dc, &reply);
}

static struct donor_conn *conn_by_qp(struct donor *dn, uint32_t qp_num)
{
	for (int c = 0; c < DONOR_MAX_CONNS; c++)
		if (dn->conn[c].used && dn->conn[c].conn &&
		    mxv_conn_qp_num(dn->conn[c].conn) == qp_num)
			return &dn->conn[c];
	return NULL;
}

int lend_start(struct donor *dn)
{
	int r = mxv_ctx_open(dn->host, &dn->ctl_ctx);

	if (!r)
		r = mxv_cq_create(dn->ctl_ctx, (DONOR_RECVS + 2) * DONOR_MAX_CONNS, &dn->ctl_cq);
	if (!r)
		r = mxv_cq_arm(dn->ctl_cq);	/* the first control message must wake us */
	return r;
}

void lend_stop(struct donor *dn)
{
	mxv_cq_destroy(dn->ctl_cq);
	mxv_ctx_close(dn->ctl_ctx);
}

/* Handles every completion on the control CQ, then arms it; sleeps never. */
void lend_reap_control(struct donor *dn)
{
	struct ibv_wc wc[16];
	bool armed = false;
	int n;

	mxv_cq_drain_events(dn->ctl_cq);
	for (;;) {
		n = mxv_cq_poll(dn->ctl_cq, wc, 16);
		for (int i = 0; i < n; i++) {
			struct donor_conn *dc = conn_by_qp(dn, wc[i].qp_num);
			uint64_t slot = wc[i].wr_id;

			if (!dc || !dc->msgbuf || wc[i].status != IBV_WC_SUCCESS ||
			    wc[i].opcode != IBV_WC_RECV || slot >= DONOR_RECVS)
				continue;
			handle_msg(dn, dc, dc->msgbuf + slot * MEMX_MSG_SIZE, wc[i].byte_len);
			/* handle_msg may have closed it */
			if (dc->used && dc->msgbuf)
				mxv_post_recv(dc->conn, dc->msg_mr, slot * MEMX_MSG_SIZE,
					      MEMX_MSG_SIZE, slot);
		}
		if (n == 16)
			continue;
		if (armed && n <= 0)
			break;
		/* Arm, then look once more: a completion before the arm raises no event. */
		mxv_cq_arm(dn->ctl_cq);
		armed = true;
	}
}
