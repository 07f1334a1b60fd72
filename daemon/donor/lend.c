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

/* ---- volumes and connections ---------------------------------------------- */

static struct donor_volume *volume_get(struct donor *dn, const uint8_t id[16])
{
	struct donor_volume *free_vol = NULL;
	int r;

	for (int i = 0; i < DONOR_MAX_VOLUMES; i++) {
		if (dn->vol[i].used && !memcmp(dn->vol[i].id, id, 16))
			return &dn->vol[i];
		if (!dn->vol[i].used && !free_vol)
			free_vol = &dn->vol[i];
	}
	if (!free_vol)
		return NULL;
	memset(free_vol, 0, sizeof(*free_vol));
	r = mxv_ctx_open(dn->host, &free_vol->ctx);
	if (!r)
		r = mxv_cq_create(free_vol->ctx, DONOR_RECVS * 4 + 64, &free_vol->cq);
	if (!r)
		r = mxv_cq_arm(free_vol->cq);	/* the first control message must wake us */
	if (r) {
		mxv_cq_destroy(free_vol->cq);
		mxv_ctx_close(free_vol->ctx);
		memxd_log_errno(r, "volume context");
		return NULL;
	}
	memcpy(free_vol->id, id, 16);
	memxd_fmt_id(id, free_vol->idstr);
	free_vol->used = true;
	return free_vol;
}

static void volume_put(struct donor *dn, struct donor_volume *vol)
{
	if (vol->nr_conns)
		return;
	for (int i = 0; i < DONOR_MAX_SLABS; i++)
		if (dn->slab[i].used && dn->slab[i].vol == vol)
			slab_free(dn, &dn->slab[i]);
	mxv_cq_destroy(vol->cq);
	mxv_ctx_close(vol->ctx);
	memset(vol, 0, sizeof(*vol));
}

void lend_close_conn(struct donor *dn, struct donor_conn *dc, const char *why)
{
	struct donor_volume *vol = dc->vol;

	memxd_info("volume %s: %s%s connection from %s closed (%s)", vol->idstr,
		   dc->established ? "" : "half-open ",
		   dc->role == MEMX_ROLE_CLIENT ? "control" : "data", dc->peer, why);
	/*
	 * The control connection going means the client is gone: its slabs go
	 * too. Not a handshake that never finished: that was never the client's.
	 */
	if (dc->role == MEMX_ROLE_CLIENT && dc->established) {
		uint32_t n = vol->slabs;

		for (int i = 0; i < DONOR_MAX_SLABS; i++)
			if (dn->slab[i].used && dn->slab[i].vol == vol)
				slab_free(dn, &dn->slab[i]);
		if (n)
			memxd_info("volume %s: freed its %u slabs", vol->idstr, n);
	}
	mxv_conn_destroy(dc->conn);
	mxv_mr_dereg(dc->msg_mr);
	free(dc->msgbuf);
	memset(dc, 0, sizeof(*dc));
	vol->nr_conns--;
	volume_put(dn, vol);
}

static int conn_prepost(struct mxv_conn *conn, void *arg)
{
	struct donor_conn *dc = arg;

	/* wr_id = the receive slot. */
	for (unsigned int i = 0; i < DONOR_RECVS; i++) {
		int r = mxv_post_recv(conn, dc->msg_mr, i * MEMX_MSG_SIZE, MEMX_MSG_SIZE, i);

		if (r)
			return r;
	}
	return 0;
}

static void reject(struct donor *dn, struct mxv_req *req, const char *peer, uint16_t code,
		   const char *reason)
{
	uint8_t pdata[sizeof(struct memx_reject)];

	memxd_warn("rejected connection from %s: %s (%s)", peer, reason,
		  memxd_reject_code_name(code));
	memxd_reject_encode(pdata, sizeof(pdata), code, reason);
	mxv_req_reject(req, pdata, sizeof(pdata));
	dn->rejects++;
}

/*
 * Why a new connection from `source` must be refused, or NULL: too many
 * half-open handshakes (in all, or from that address), too many connections
 * from that address, or a second control connection for a volume that has
 * one (its engine holds exactly one per donor; another would let whoever
 * knows the volume id end it by disconnecting).
 */
static const char *over_a_cap(struct donor *dn, const char *source, uint16_t role,
			      const uint8_t volume_id[16])
{
	unsigned int half_open = 0, half_open_here = 0, here = 0;

	for (int i = 0; i < DONOR_MAX_CONNS; i++) {
		const struct donor_conn *dc = &dn->conn[i];
		bool same = dc->used && !strcmp(dc->source, source);

		if (!dc->used)
			continue;
		half_open += !dc->established;
		half_open_here += same && !dc->established;
		here += same;
		if (role == MEMX_ROLE_CLIENT && dc->role == MEMX_ROLE_CLIENT &&
		    !memcmp(dc->vol->id, volume_id, 16))
			return "this volume already has a control connection here";
	}
	if (half_open >= DONOR_HALF_OPEN_MAX)
		return "too many handshakes in progress";
	if (half_open_here >= DONOR_HALF_OPEN_PER_SOURCE)
		return "too many handshakes in progress from this address";
	if (here >= DONOR_CONNS_PER_SOURCE)
		return "too many connections from this address";
	return NULL;
}

/*
 * Answers the request with our welcome and returns at once: the connection
 * stays half-open (dc->established false) until its RTU comes, which
 * lend_conn_event() sees, or until its deadline (lend_expire_handshakes).
 */
static void accept_start(struct donor *dn, struct donor_conn *dc, struct mxv_req *req)
{
	struct donor_volume *vol = dc->vol;
	struct memxd_welcome_info wi = { 0 };
	uint8_t welcome[sizeof(struct memx_welcome)];
	struct mxv_qp_attr attr = { .send_cq = vol->cq, .recv_cq = vol->cq, .max_send_wr = 4 };
	struct mxv_cm_result res;
	int r;

	if (dc->role == MEMX_ROLE_CLIENT) {
		dc->msgbuf = calloc(DONOR_RECVS + 2, MEMX_MSG_SIZE);
		r = dc->msgbuf ? mxv_mr_reg(vol->ctx, dc->msgbuf, (DONOR_RECVS + 2) * MEMX_MSG_SIZE,
					    MXV_ACCESS_LOCAL_WRITE, &dc->msg_mr) : -ENOMEM;
		if (r) {
			reject(dn, req, dc->peer, MEMX_REJ_BUSY, "out of memory for message buffers");
			lend_close_conn(dn, dc, "setup failed");
			return;
		}
		attr.max_recv_wr = DONOR_RECVS;
		attr.prepost = conn_prepost;
		attr.prepost_arg = dc;
	}
	wi.memory_total = dn->memory_total;
	wi.memory_free = lend_room_for(dn, dc->source);
	wi.max_slab_shift = dn->max_slab_shift;
	memcpy(wi.donor_id, dn->donor_id, 16);
	memcpy(wi.host_id, dn->host_id, sizeof(wi.host_id));
	memcpy(wi.zone, dn->zone, sizeof(wi.zone));
	memxd_welcome_encode(welcome, sizeof(welcome), &wi);
	memxd_dbg(MEMXD_DBG_CM, "volume %s: accepting %s", vol->idstr, dc->peer);
	r = mxv_req_accept_start(req, &attr, welcome, sizeof(welcome), &dc->conn, &res);
	if (r) {
		memxd_warn("volume %s: accept of %s failed: %s (%s)", vol->idstr, dc->peer,
			   strerror(-r), res.reason);
		lend_close_conn(dn, dc, "accept failed");
		return;
	}
	mxv_conn_set_user(dc->conn, dc);
}

void lend_conn_event(struct donor *dn, struct donor_conn *dc)
{
	struct mxv_cm_result res;
	int r;

	if (!dc->used || !dc->conn)
		return;
	if (!dc->established) {
		r = mxv_conn_accept_poll(dc->conn, &res);
		if (r == -EINPROGRESS)
			return;
		if (r) {
			lend_close_conn(dn, dc, res.reason[0] ? res.reason : strerror(-r));
			return;
		}
		dc->established = true;
		memxd_info("volume %s: %s connection from %s", dc->vol->idstr,
			   dc->role == MEMX_ROLE_CLIENT ? "control" : "data", dc->peer);
		return;
	}
	r = mxv_conn_check(dc->conn, 0);
	if (r < 0)
		lend_close_conn(dn, dc, r == -ECONNRESET ? "peer disconnected" : strerror(-r));
}

int lend_expire_handshakes(struct donor *dn)
{
	uint64_t now = memxd_now_ns(), next = UINT64_MAX;

	for (int i = 0; i < DONOR_MAX_CONNS; i++) {
		struct donor_conn *dc = &dn->conn[i];

		if (!dc->used || dc->established)
			continue;
		if (now >= dc->deadline_ns) {
			memxd_warn("volume %s: %s did not finish its handshake in %d ms: dropped",
				   dc->vol->idstr, dc->peer, DONOR_HANDSHAKE_MS);
			lend_close_conn(dn, dc, "handshake timed out");
			continue;
		}
		if (dc->deadline_ns < next)
			next = dc->deadline_ns;
	}
	return next == UINT64_MAX ? -1 : (int)((next - now) / MEMXD_NS_PER_MS) + 1;
}

void lend_accept(struct donor *dn, struct mxv_req *req)
{
	struct memxd_hello_info hello;
	struct memxd_wire_error err;
	struct donor_conn *dc = NULL;
	struct donor_volume *vol;
	char peer[64], source[64];
	const char *why;
	const void *pdata;
	size_t plen;
	int ci;

	mxv_req_peer(req, peer, sizeof(peer));
	pdata = mxv_req_pdata(req, &plen);
	if (memxd_hello_decode(pdata, plen, &hello, &err)) {
		reject(dn, req, peer, err.code, err.reason);
		return;
	}
	if (hello.role != MEMX_ROLE_CLIENT && hello.role != MEMX_ROLE_DATA) {
		reject(dn, req, peer, MEMX_REJ_ROLE, "a donor serves client engines only");
		return;
	}
	strcpy(source, peer);
	if (strrchr(source, ':'))
		*strrchr(source, ':') = '\0';
	why = over_a_cap(dn, source, hello.role, hello.volume_id);
	if (why) {
		reject(dn, req, peer, MEMX_REJ_BUSY, why);
		return;
	}
	for (ci = 0; ci < DONOR_MAX_CONNS; ci++)
		if (!dn->conn[ci].used) {
			dc = &dn->conn[ci];
			break;
		}
	vol = dc ? volume_get(dn, hello.volume_id) : NULL;
	if (!vol) {
		reject(dn, req, peer, MEMX_REJ_BUSY, "donor has no room for another connection");
		return;
	}
	memset(dc, 0, sizeof(*dc));
	dc->used = true;
	dc->role = hello.role;
	dc->vol = vol;
	dc->deadline_ns = memxd_now_ns() + DONOR_HANDSHAKE_MS * MEMXD_NS_PER_MS;
	vol->nr_conns++;
	strcpy(dc->peer, peer);
	strcpy(dc->source, source);
	if (dc->role == MEMX_ROLE_CLIENT)
		strcpy(vol->owner, source);
	accept_start(dn, dc, req);
}

/* Answers one control message received on dc. */
static void handle_msg(struct donor *dn, struct donor_conn *dc, const void *buf, size_t len)
{
	struct memxd_msg_info msg, reply = { 0 };
	struct memxd_wire_error err;
	uint8_t *send_slot = dc->msgbuf + DONOR_RECVS * MEMX_MSG_SIZE;
	int r = 0;

	if (memxd_msg_decode(buf, len, &msg, &err)) {
		memxd_warn("volume %s: bad control message from %s: %s", dc->vol->idstr, dc->peer,
			  err.reason);
		return;
	}
	reply.seq = msg.seq;
	memxd_dbg(MEMXD_DBG_PROTO, "volume %s: %s from %s, seq %u", dc->vol->idstr,
		 memxd_msg_type_name(msg.type), dc->peer, msg.seq);
	switch (msg.type) {
	case MEMX_MSG_ALLOC_SLAB:
		reply.type = MEMX_MSG_ALLOC_REPLY;
		r = slab_grant(dn, dc->vol, msg.alloc.slab_bytes,
			       msg.alloc.flags & MEMX_ALLOC_F_REPAIR, &reply);
		if (r)
			memxd_warn("volume %s: slab %" PRIu64 " of %" PRIu64 " bytes refused: %s",
				  dc->vol->idstr, msg.alloc.slab_index, msg.alloc.slab_bytes,
				  strerror(-r));
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
	default:
		memxd_warn("volume %s: unexpected %s message from %s", dc->vol->idstr,
			  memxd_msg_type_name(msg.type), dc->peer);
		return;
	}
	reply.status = (uint32_t)-r;
	if (reply.type != MEMX_MSG_ALLOC_REPLY || r) {
		memset(&reply.stats, 0, sizeof(reply.stats));
		if (reply.type != MEMX_MSG_ALLOC_REPLY) {
			reply.stats.memory_total = dn->memory_total;
			reply.stats.memory_free = lend_room_for(dn, dc->vol->owner);
			reply.stats.slabs_granted = dc->vol->slabs;
		}
	}
	memxd_msg_encode(send_slot, MEMX_MSG_SIZE, &reply);
	r = mxv_post_send(dc->conn, dc->msg_mr, DONOR_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE, 1);
	if (r)
		memxd_log_errno(r, "volume %s: reply to %s", dc->vol->idstr, dc->peer);
}

static struct donor_conn *conn_by_qp(struct donor *dn, uint32_t qp_num)
{
	for (int c = 0; c < DONOR_MAX_CONNS; c++)
		if (dn->conn[c].used && dn->conn[c].conn &&
		    mxv_conn_qp_num(dn->conn[c].conn) == qp_num)
			return &dn->conn[c];
	return NULL;
}

/* Handles every completion on a volume's CQ, then arms it; sleeps never. */
void lend_reap_volume(struct donor *dn, struct donor_volume *vol)
{
	struct ibv_wc wc[16];
	bool armed = false;
	int n;

	mxv_cq_drain_events(vol->cq);
	for (;;) {
		n = mxv_cq_poll(vol->cq, wc, 16);
		for (int i = 0; i < n; i++) {
			struct donor_conn *dc = conn_by_qp(dn, wc[i].qp_num);
			uint64_t slot = wc[i].wr_id;

			if (!dc || !dc->msgbuf || wc[i].status != IBV_WC_SUCCESS ||
			    wc[i].opcode != IBV_WC_RECV || slot >= DONOR_RECVS)
				continue;
			handle_msg(dn, dc, dc->msgbuf + slot * MEMX_MSG_SIZE, wc[i].byte_len);
			mxv_post_recv(dc->conn, dc->msg_mr, slot * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      slot);
		}
		if (n == 16)
			continue;
		if (armed && n <= 0)
			break;
		/* Arm, then look once more: a completion before the arm raises no event. */
		mxv_cq_arm(vol->cq);
		armed = true;
	}
}
