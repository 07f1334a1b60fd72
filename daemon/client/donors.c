// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: the donors, as the client engine sees them.
 *
 * Each donor gets one control connection (SEND/RECV of <memx/proto.h>
 * messages, MEMXD_CTRL_RECVS receives kept posted, one send slot; its first
 * exchange authenticates both sides, see donor_authenticate), then one
 * RDMA-only data QP per queue and one for the control thread's copies, each
 * admitted with the ticket the donor handed out. Everything here runs in the
 * control thread:
 *   - the control channel: memxd_donor_call() sends one request and pumps the
 *     control CQ until its reply (the control thread has one request in
 *     flight at a time); unsolicited EVICT messages are handled as they come;
 *     memxd_ctrl_rdma() moves a piece of a slab through the bounce buffer and
 *     waits; a pipelined copy (recovery.c) posts pieces with memxd_copy_post()
 *     and takes their completions through memxd_copy_wait(), the same pump;
 *   - the lifecycle: connect (at start, memxctl donor add, a donor that
 *     joins through --listen: join.c), heartbeat (a STATS each MEMXD_HEARTBEAT_MS),
 *     and loss: a donor that disconnects, misses a reply or fails a work
 *     request is marked dead; its data QPs are disconnected (their work
 *     requests flush and fail), and the slabs that lost their last replica
 *     are marked lost so that they fail at once from then on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/recovery_plan.h"
#include "common/log.h"
#include "common/parse.h"

static uint64_t ctrl_wr_id(unsigned int donor, enum memxd_ctrl_wr_kind kind, unsigned int slot)
{
	return memxd_ctrl_wrid_pack((struct memxd_ctrl_wrid){ donor, kind, slot, 0 });
}

static uint64_t rdma_wr_id(unsigned int donor, unsigned int slot, uint32_t seq)
{
	return memxd_ctrl_wrid_pack((struct memxd_ctrl_wrid){ donor, MEMXD_CTRL_WR_RDMA, slot, seq });
}

/* ---- control messages to donors ------------------------------------------- */

static int ctrl_prepost(struct mxv_conn *conn, void *arg)
{
	struct memxd_donor *d = arg;

	for (unsigned int i = 0; i < MEMXD_CTRL_RECVS; i++) {
		int r = mxv_post_recv(conn, d->msg_mr, i * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      ctrl_wr_id(d->idx, MEMXD_CTRL_WR_RECV, i));
		if (r)
			return r;
	}
	return 0;
}

/* What the control thread waits for on its CQ: a reply, one work request, or a copy's. */
struct ctrl_wait {
	unsigned int donor;
	uint32_t seq;		/* reply with this seq from that donor (0: none) */
	uint64_t wr_id;		/* completion of this work request (0: none) */
	struct memxd_rdma_sink *sink;	/* RDMA completions of its copy (NULL: none) */
	bool done;
	int status;		/* -errno of the work request */
	struct memxd_msg_info reply;
};

/* A donor asks for memory back, or says it is leaving. */
static void handle_evict(struct memxd_client *c, struct memxd_donor *d,
			 const struct memxd_msg_info *msg)
{
	int expect = MEMXD_DONOR_LIVE;

	if (msg->evict.flags & MEMX_EVICT_F_LEAVE) {
		if (atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_DRAINING))
			memxd_info("volume %s: donor %s is leaving: moving its %u slabs away",
				  c->opt.name, d->name, d->slabs);
		return;
	}
	d->evict_bytes += msg->evict.bytes;
	memxd_info("volume %s: donor %s is short of memory and asks for %" PRIu64 " MiB back",
		  c->opt.name, d->name, msg->evict.bytes >> 20);
}

/*
 * Takes completions from the control CQ: replies and unsolicited messages
 * from donors, and the control thread's own sends and RDMA. Returns when w
 * is satisfied (0), when timeout_ms passed (-ETIMEDOUT; at once for 0), or
 * when w's donor failed (-ECONNRESET). With w NULL it drains what is there
 * and leaves the CQ armed for the main loop's poll().
 */
static int ctrl_pump(struct memxd_client *c, struct ctrl_wait *w, int timeout_ms)
{
	uint64_t deadline = memxd_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct ibv_wc wc[8];

	for (;;) {
		uint64_t now = memxd_now_ns();
		int n, left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ULL);

		if (w && w->done)
			return w->status;
		n = mxv_cq_wait(c->ctrl_cq, wc, 8, left);
		if (n == -EINTR)
			continue;
		if (n == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			struct memxd_ctrl_wrid id = memxd_ctrl_wrid_unpack(wc[i].wr_id);
			unsigned int di = id.donor, kind = id.kind, slot = id.slot;
			/* A donor being connected is not counted yet; its handshake is awaited. */
			struct memxd_donor *from = di < c->nr_donors ||
				(w && w->donor == di && di < MEMXD_MAX_DONORS) ? &c->donor[di] : NULL;
			struct memxd_wire_error err;
			struct memxd_msg_info msg;
			int r;

			if (!from)
				continue;
			if (wc[i].status != IBV_WC_SUCCESS) {
				memxd_dbg(MEMXD_DBG_CQ, "donor %s: control completion (kind %u): %s",
					 from->name, kind, ibv_wc_status_str(wc[i].status));
				if (memxd_donor_usable(atomic_load(&from->state)))
					memxd_donor_lost(c, from, ibv_wc_status_str(wc[i].status));
			}
			/* The transfer waited out while the mailbox is served aside. */
			if (kind == MEMXD_CTRL_WR_RDMA && c->aside_sink && id.seq == c->aside_sink->seq &&
			    !(w && w->sink == c->aside_sink)) {
				c->aside_sink->done(c->aside_sink, slot,
						    wc[i].status == IBV_WC_SUCCESS ? 0 : -ECONNRESET);
				continue;
			}
			if (kind == MEMXD_CTRL_WR_RDMA && w && w->sink && id.seq == w->sink->seq) {
				w->sink->done(w->sink, slot,
					      wc[i].status == IBV_WC_SUCCESS ? 0 : -ECONNRESET);
				/* A liveness check (memxd_copy_ping) waits on for its reply. */
				if (!w->seq) {
					w->done = true;
					w->status = 0;
				}
				continue;
			}
			if (wc[i].status != IBV_WC_SUCCESS) {
				if (w && w->donor == di) {
					w->done = true;
					w->status = -ECONNRESET;
				}
				continue;
			}
			if (kind != MEMXD_CTRL_WR_RECV) {
				if (w && w->wr_id == wc[i].wr_id) {
					w->done = !w->seq;
					w->status = 0;
				}
				continue;
			}
			if (slot >= MEMXD_CTRL_RECVS)
				continue;
			r = memxd_msg_decode(from->msgbuf + slot * MEMX_MSG_SIZE, wc[i].byte_len, &msg,
					    &err);
			mxv_post_recv(from->ctrl, from->msg_mr, slot * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      wc[i].wr_id);
			if (r) {
				memxd_err("donor %s: bad control message: %s", from->name, err.reason);
				continue;
			}
			if (msg.type == MEMX_MSG_EVICT) {
				handle_evict(c, from, &msg);
			} else if (w && w->seq && w->donor == di && msg.seq == w->seq) {
				memxd_dbg(MEMXD_DBG_PROTO, "donor %s: %s, seq %u, status %u", from->name,
					 memxd_msg_type_name(msg.type), msg.seq, msg.status);
				w->reply = msg;
				w->done = true;
				w->status = msg.status ? -(int)msg.status : 0;
			}
		}
	}
}

/*
 * Sends a request to a donor and waits for its reply, handing the completions
 * of a copy's pieces to sink meanwhile (NULL: none). Returns 0 or -errno.
 */
static int donor_call_sink(struct memxd_client *c, struct memxd_donor *d,
			   struct memxd_msg_info *req, struct memxd_msg_info *reply,
			   struct memxd_rdma_sink *sink)
{
	uint8_t *send_slot = d->msgbuf + MEMXD_CTRL_RECVS * MEMX_MSG_SIZE;
	struct ctrl_wait w = { .donor = d->idx, .sink = sink };
	int r;

	req->seq = ++c->seq;
	w.seq = req->seq;
	memxd_dbg(MEMXD_DBG_PROTO, "donor %s: %s, seq %u", d->name, memxd_msg_type_name(req->type),
		 req->seq);
	r = memxd_msg_encode(send_slot, MEMX_MSG_SIZE, req);
	if (r < 0)
		return r;
	r = mxv_post_send(d->ctrl, d->msg_mr, MEMXD_CTRL_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
			  ctrl_wr_id(d->idx, MEMXD_CTRL_WR_SEND, 0));
	if (r)
		return r;
	/* A slow answer: memxctl is answered meanwhile, about once a second. */
	for (unsigned int waited = 0;; waited += MEMXD_ASIDE_WAIT_MS) {
		r = ctrl_pump(c, &w, MEMXD_ASIDE_WAIT_MS);
		if (r != -ETIMEDOUT || waited + MEMXD_ASIDE_WAIT_MS >= MEMXD_MSG_TIMEOUT_MS)
			break;
		if (c->looping && c->serve_ctl_aside && !c->aside) {
			c->aside = true;
			snprintf(c->aside_why, sizeof(c->aside_why), "waiting for donor %s's "
				 "answer (up to %u s)", d->name, MEMXD_MSG_TIMEOUT_MS / 1000);
			c->serve_ctl_aside(c);
			c->aside = false;
		}
	}
	if (r == -ETIMEDOUT && memxd_donor_usable(atomic_load(&d->state)))
		memxd_donor_lost(c, d, "no reply to a control message");
	if (!r || (w.done && w.seq && w.reply.type))
		*reply = w.reply;
	return r;
}

static int donor_call(struct memxd_client *c, struct memxd_donor *d, struct memxd_msg_info *req,
		      struct memxd_msg_info *reply)
{
	return donor_call_sink(c, d, req, reply, NULL);
}

int memxd_copy_ping(struct memxd_client *c, struct memxd_donor *d, struct memxd_rdma_sink *sink)
{
	struct memxd_msg_info req = { .type = MEMX_MSG_STATS }, reply;
	int r;

	if (!memxd_donor_usable(atomic_load(&d->state)))
		return -ENOTCONN;
	r = donor_call_sink(c, d, &req, &reply, sink);
	if (!r)
		memxd_donor_set_free(d, reply.stats.memory_free, c->map.slab_bytes);
	return r;
}

/*
 * Sends a request to a donor and waits for its reply (the control thread
 * has one request in flight at a time). Returns 0 or -errno; a donor that
 * does not answer in time is declared lost.
 */
int memxd_donor_call(struct memxd_client *c, struct memxd_donor *d, struct memxd_msg_info *req,
		     struct memxd_msg_info *reply)
{
	if (!memxd_donor_usable(atomic_load(&d->state)))
		return -ENOTCONN;
	return donor_call(c, d, req, reply);
}

/*
 * One-sided RDMA between the control thread's bounce buffer and a donor's
 * memory, over the copy connection. Returns 0 or -errno.
 */
int memxd_ctrl_rdma(struct memxd_client *c, struct memxd_donor *d, bool write, uint64_t raddr,
		    uint32_t rkey, uint32_t len)
{
	return memxd_ctrl_rdma_at(c, d, write, 0, raddr, rkey, len);
}

/* One transfer of memxd_ctrl_rdma_at, as a copy of one piece. */
struct one_rdma {
	struct memxd_rdma_sink sink;
	bool in_flight;
	int status;
};

static void one_rdma_done(struct memxd_rdma_sink *sink, unsigned int slot, int status)
{
	struct one_rdma *o = (struct one_rdma *)sink;

	(void)slot;
	o->in_flight = false;
	o->status = status;
}

/*
 * A transfer that outlasts MEMXD_MSG_TIMEOUT_MS is slow, not proof of a dead
 * donor: it is abandoned (-ETIMEDOUT, counted, retried later) but waited out,
 * since its READ may still land in the bounce buffer. Meanwhile the donor's
 * liveness decides: one that does not answer a ping is lost, and its
 * connections flush.
 */
int memxd_ctrl_rdma_at(struct memxd_client *c, struct memxd_donor *d, bool write, uint32_t off,
		       uint64_t raddr, uint32_t rkey, uint32_t len)
{
	struct one_rdma o = { .sink = { .seq = ++c->rdma_seq, .done = one_rdma_done },
			      .in_flight = true };
	uint64_t wr_id = rdma_wr_id(d->idx, 0, o.sink.seq), slow_since = 0, last_ping = 0;
	unsigned int stuck = 0, stuck_ms = 0, wait_ms;
	int r;

	if (!memxd_donor_usable(atomic_load(&d->state)))
		return -ENOTCONN;
	if ((uint64_t)off + len > MEMXD_COPY_CHUNK)
		return -EINVAL;
	r = write ? mxv_post_write(d->copy, c->bounce_mr, off, len, raddr, rkey, wr_id)
		  : mxv_post_read(d->copy, c->bounce_mr, off, len, raddr, rkey, wr_id);
	if (r)
		return r;
	while (o.in_flight) {
		uint64_t now;

		/* Slow: waited out a second at a time, the mailbox served between. */
		if (slow_since)
			memxd_serve_aside(c, &o.sink);
		if (!o.in_flight)
			break;
		wait_ms = slow_since ? MEMXD_ASIDE_WAIT_MS : MEMXD_MSG_TIMEOUT_MS;
		r = memxd_copy_wait(c, &o.sink, (int)wait_ms);
		if (!r)
			continue;
		if (r != -ETIMEDOUT || !memxd_donor_usable(atomic_load(&d->state))) {
			/* A donor lost and never flushed (3 waits of 5 s): give up, as copy_pieces. */
			if (r == -ETIMEDOUT ? (stuck_ms += wait_ms) >= 3 * MEMXD_MSG_TIMEOUT_MS
					    : ++stuck > 2)
				return r;
			continue;
		}
		now = memxd_now_ns();
		if (!slow_since) {
			slow_since = last_ping = now;
			memxd_copy_slow(c, d, "a transfer");
		}
		if (now - slow_since >= MEMXD_COPY_STUCK_MS * 1000000ULL)
			memxd_donor_lost(c, d, "RDMA on the copy connection stuck although the "
					 "donor answers");
		else if (now - last_ping >= MEMXD_MSG_TIMEOUT_MS * 1000000ULL || now == slow_since) {
			last_ping = now;
			memxd_copy_ping(c, d, &o.sink);
		}
	}
	return slow_since ? -ETIMEDOUT : o.status;
}

int memxd_copy_post(struct memxd_client *c, struct memxd_donor *d, bool write, unsigned int slot,
		    uint32_t seq, uint64_t raddr, uint32_t rkey, uint32_t len)
{
	uint32_t off = slot * MEMXD_COPY_CHUNK;
	uint64_t wr_id = rdma_wr_id(d->idx, slot, seq);

	if (!memxd_donor_usable(atomic_load(&d->state)))
		return -ENOTCONN;
	if (slot >= MEMXD_COPY_DEPTH || len > MEMXD_COPY_CHUNK)
		return -EINVAL;
	return write ? mxv_post_write(d->copy, c->bounce_mr, off, len, raddr, rkey, wr_id)
		     : mxv_post_read(d->copy, c->bounce_mr, off, len, raddr, rkey, wr_id);
}

int memxd_copy_wait(struct memxd_client *c, struct memxd_rdma_sink *sink, int timeout_ms)
{
	/* No donor of its own: a failed control connection does not end the wait by itself. */
	struct ctrl_wait w = { .donor = MEMXD_MAX_DONORS, .sink = sink };

	return ctrl_pump(c, &w, timeout_ms);
}
/* ---- donors ---------------------------------------------------------------- */

void memxd_donor_lost(struct memxd_client *c, struct memxd_donor *d, const char *why)
{
	uint64_t lost = 0, degraded = 0;
	int was = atomic_exchange(&d->state, MEMXD_DONOR_DEAD);

	/* Bury each donor once; one that left cleanly is not lost. */
	if (was == MEMXD_DONOR_DEAD || was == MEMXD_DONOR_LEFT) {
		atomic_store(&d->state, was);
		return;
	}
	memxd_err("volume %s: donor %s lost (%s)", c->opt.name, d->name, why);
	for (unsigned int q = 0; q < c->nr_queues; q++)
		mxv_conn_disconnect(d->data[q]);
	mxv_conn_disconnect(d->copy);
	mxv_conn_disconnect(d->ctrl);
	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];
		uint32_t state = memxd_slab_state(slab);
		enum memxd_gone gone;

		/* A MIGRATING slab belongs to recovery.c, which publishes it LOST if need be. */
		if (state != MEMXD_SLAB_MAPPED && state != MEMXD_SLAB_MIGRATING)
			continue;
		gone = memxd_plan_donor_gone(slab, d->idx);
		if (gone == MEMXD_GONE_UNTOUCHED)
			continue;
		if (gone == MEMXD_GONE_LAST && state == MEMXD_SLAB_MAPPED &&
		    memxd_slab_claim(slab, MEMXD_SLAB_MAPPED, MEMXD_SLAB_LOST)) {
			lost++;
			atomic_fetch_sub(&c->slabs_mapped, 1);
			atomic_fetch_add(&c->slabs_lost, 1);
		} else if (gone == MEMXD_GONE_DEGRADED) {
			degraded++;
		}
	}
	if (lost)
		memxd_err("volume %s: %" PRIu64 " slabs lost their last replica with donor %s: "
			 "I/O to them fails with EIO", c->opt.name, lost, d->name);
	if (degraded)
		memxd_warn("volume %s: %" PRIu64 " slabs lost a replica with donor %s", c->opt.name,
			  degraded, d->name);
	d->slabs = 0;
	d->memory_free = 0;
	memxd_wake_queues(c);
}

/*
 * Our half of a control connection's handshake: the welcome must prove the
 * donor holds our key (else we say nothing more to it), then MEMX_MSG_AUTH
 * proves we do and carries the volume's secret; the reply brings the ticket
 * for our data connections. Returns 0 or -errno.
 */
static int donor_authenticate(struct memxd_client *c, struct memxd_donor *d, const void *hello,
			      const void *welcome)
{
	const struct memxd_key *k = &c->opt.trust.kr.key[0];
	struct memxd_msg_info req = { .type = MEMX_MSG_AUTH }, reply = { 0 };
	uint8_t session[MEMXD_KEY_BYTES], proof[MEMX_SECRET_LEN];
	int r;

	if (!memxd_auth_welcome_ok(k, hello, welcome)) {
		memxd_err("donor %s did not prove it holds key %u: not a donor of this cluster, "
			  "or one with other keys", d->name, k->id);
		return -EACCES;
	}
	memxd_auth_session(k, hello, welcome, session);
	memxd_auth_volume_proof(c->volume_secret, d->welcome.donor_id, proof);
	memxd_auth_seal(session, MEMXD_SEAL_CLIENT, proof, req.auth.sealed);
	memset(proof, 0, sizeof(proof));
	/* Our grants outlive us for as long as memx.ko waits for our successor. */
	req.auth.lease_s = c->opt.recovery_timeout_s;
	req.auth.epoch = c->epoch;
	r = donor_call(c, d, &req, &reply);
	if (!r && reply.type != MEMX_MSG_AUTH_REPLY)
		r = -EPROTO;
	if (!r && memxd_auth_open(session, MEMXD_SEAL_DONOR, reply.auth.sealed, d->ticket))
		r = -EACCES;
	memset(session, 0, sizeof(session));
	if (!r) {
		d->lease_s = reply.auth.lease_s;
		d->slabs_kept = reply.auth.slabs_kept;
		if (d->lease_s < c->opt.recovery_timeout_s)
			memxd_warn("donor %s keeps our memory only %u s after we are gone (its "
				   "--lease), less than our --recovery-timeout %u s", d->name,
				   d->lease_s, c->opt.recovery_timeout_s);
	}
	if (r)
		memxd_err("donor %s refused our credentials: %s%s", d->name, strerror(-r),
			  r == -EACCES ? " (its log says why)" : "");
	else if (c->opt.trust.insecure)
		memxd_warn("INSECURE: donor %s connected without authentication (--insecure)",
			   d->name);
	return r;
}

int memxd_connect_to_donor(const char *name, const struct mxv_connect_param *p,
			   const struct mxv_qp_attr *attr, struct mxv_conn **out,
			   struct mxv_cm_result *res)
{
	int r = mxv_connect(p, attr, out, res);

	if (r == -ECONNREFUSED && res->pdata_len) {
		char why[MEMX_REJECT_REASON_LEN + 32];

		if (!memxd_reject_explain(res->pdata, res->pdata_len, why, sizeof(why))) {
			memxd_err("donor %s refused us: %s", name, why);
			return r;
		}
	}
	if (r)
		memxd_err("donor %s: cannot connect: %s (%s)", name, strerror(-r), res->reason);
	return r;
}

/*
 * While a connect waits for the network, once the control loop runs (not in
 * a take-over's reconnects, while the map is being restored): first writes
 * and memxctl are served.
 */
static void connect_wait_hook(void *arg)
{
	struct memxd_client *c = arg;

	if (c->looping)
		memxd_serve_aside(c, NULL);
}

static int donor_connect_one(struct memxd_client *c, struct memxd_donor *d, uint16_t role,
			     const struct mxv_qp_attr *attr, struct mxv_conn **out)
{
	struct memxd_hello_info hello = { .role = role };
	uint8_t pdata[sizeof(struct memx_hello)];
	struct mxv_connect_param p = {
		.dst_ip = d->host, .port = d->port, .src_ip = c->opt.bind,
		.pdata = pdata, .pdata_len = sizeof(pdata), .timeout_ms = MEMXD_CM_TIMEOUT_MS,
		.wait_hook = connect_wait_hook, .wait_arg = c,
	};
	struct mxv_cm_result res;
	struct memxd_wire_error err;
	int r;

	memcpy(hello.volume_id, c->volume_id, sizeof(hello.volume_id));
	if (role == MEMX_ROLE_CLIENT) {
		hello.key_id = c->opt.trust.kr.key[0].id;
		memxd_auth_random(hello.token, sizeof(hello.token));	/* our challenge */
	} else {
		memcpy(hello.token, d->ticket, sizeof(hello.token));
	}
	memxd_hello_encode(pdata, sizeof(pdata), &hello);
	memxd_dbg(MEMXD_DBG_CM, "donor %s: connecting (%s)", d->name,
		 role == MEMX_ROLE_CLIENT ? "control" : "data");
	r = memxd_connect_to_donor(d->name, &p, attr, out, &res);
	if (r)
		return r;
	if (role != MEMX_ROLE_CLIENT)
		return 0;
	if (res.pdata_len < sizeof(struct memx_welcome) ||
	    memxd_welcome_decode(res.pdata, res.pdata_len, &d->welcome, &err)) {
		memxd_err("donor %s: bad welcome: %s", d->name,
			  res.pdata_len < sizeof(struct memx_welcome) ? "too short" : err.reason);
		return -EPROTO;
	}
	d->memory_free = d->welcome.memory_free;
	return donor_authenticate(c, d, pdata, res.pdata);
}

static int donor_connect(struct memxd_client *c, struct memxd_donor *d)
{
	struct mxv_qp_attr ctrl_attr = {
		.send_cq = c->ctrl_cq, .recv_cq = c->ctrl_cq, .max_send_wr = 4,
		.max_recv_wr = MEMXD_CTRL_RECVS, .prepost = ctrl_prepost, .prepost_arg = d,
	};
	/* Every piece of a pipelined copy may be in flight on one donor's copy connection. */
	struct mxv_qp_attr copy_attr = {
		.send_cq = c->ctrl_cq, .recv_cq = c->ctrl_cq, .max_send_wr = MEMXD_COPY_DEPTH + 2,
		.max_recv_wr = 0,
	};
	int r;

	d->msgbuf = calloc(MEMXD_CTRL_RECVS + 1, MEMX_MSG_SIZE);
	if (!d->msgbuf)
		return -ENOMEM;
	r = mxv_mr_reg(c->ctx, d->msgbuf, (MEMXD_CTRL_RECVS + 1) * MEMX_MSG_SIZE,
		       MXV_ACCESS_LOCAL_WRITE, &d->msg_mr);
	if (r)
		return memxd_log_errno(r, "donor %s: register message buffers", d->name);
	r = donor_connect_one(c, d, MEMX_ROLE_CLIENT, &ctrl_attr, &d->ctrl);
	if (!r)
		r = donor_connect_one(c, d, MEMX_ROLE_DATA, &copy_attr, &d->copy);
	if (r)
		return r;
	if (d->welcome.max_slab_shift < c->map.slab_shift)
		memxd_warn("donor %s grants slabs up to %u bytes only: it gets none of ours",
			  d->name, 1U << d->welcome.max_slab_shift);
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		struct mxv_qp_attr data_attr = {
			.send_cq = c->queue[q].cq, .recv_cq = c->queue[q].cq,
			.max_send_wr = c->opt.depth * MEMXD_MAX_WRS_PER_TAG + 8, .max_recv_wr = 0,
		};

		r = donor_connect_one(c, d, MEMX_ROLE_DATA, &data_attr, &d->data[q]);
		if (r)
			return r;
	}
	atomic_store(&d->state, MEMXD_DONOR_LIVE);
	memxd_info("donor %s: connected, lends %" PRIu64 " MiB, %" PRIu64 " MiB free", d->name,
		  d->welcome.memory_total >> 20, d->welcome.memory_free >> 20);
	return 0;
}

void memxd_donor_teardown(struct memxd_donor *d, unsigned int nr_queues)
{
	for (unsigned int q = 0; q < nr_queues; q++) {
		mxv_conn_destroy(d->data[q]);
		d->data[q] = NULL;
	}
	mxv_conn_destroy(d->copy);
	d->copy = NULL;
	mxv_conn_destroy(d->ctrl);
	d->ctrl = NULL;
	mxv_mr_dereg(d->msg_mr);
	d->msg_mr = NULL;
	free(d->msgbuf);
	d->msgbuf = NULL;
}

/*
 * Connects a donor and makes it one of ours; from the command line at start,
 * or later (memxctl donor add, a donor that joins). Returns 0 or -errno.
 */
/*
 * A slot whose donor is gone (dead, departed, or never connected) and that no
 * live replica points at can take a new donor. Its grants died with the old
 * donor's connection, so deferred frees for it are dropped; the queue threads
 * must have left every pass that could still post to its QPs before those are
 * destroyed. The generation goes up: replicas, work requests and mailbox
 * messages of the old occupant are told apart by it. Returns the slot or NULL.
 */
static struct memxd_donor *reuse_slot(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		int state = atomic_load(&d->state);
		uint32_t gen;
		bool used = false;

		if (memxd_donor_usable(state) || state == MEMXD_DONOR_FAILED)
			continue;
		for (uint64_t s = 0; s < c->map.nr_slabs && !used; s++) {
			const struct memxd_slab *slab = &c->map.slabs[s];
			uint32_t st = memxd_slab_state(slab);

			/* An unmapped (discarded) slab's replicas are stale: their grants are gone. */
			used = (st == MEMXD_SLAB_MAPPED || st == MEMXD_SLAB_MIGRATING ||
				st == MEMXD_SLAB_FREEING) && memxd_slab_on_donor(slab, i);
		}
		if (used || !memxd_queues_quiesce(c, 1000))
			continue;
		for (unsigned int k = 0; k < c->nr_deferred;)
			if (c->deferred[k].rep.donor == i)
				c->deferred[k] = c->deferred[--c->nr_deferred];
			else
				k++;
		memxd_donor_teardown(d, c->nr_queues);
		gen = atomic_load(&d->gen);
		memset(d, 0, sizeof(*d));
		d->idx = i;
		atomic_store_explicit(&d->gen, gen + 1, memory_order_release);
		return d;
	}
	return NULL;
}

/*
 * Connects a donor and makes it one of ours; from the command line at start,
 * or later (memxctl donor add, a donor that joins). A new donor takes a free
 * slot, or the slot of one that is gone. Returns 0 or -errno.
 */
static int add_donor(struct memxd_client *c, const char *host, uint16_t port, bool restore)
{
	char name[sizeof(c->donor[0].name)];
	struct memxd_donor *d;
	bool fresh;
	int r;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (!strcmp(c->donor[i].host, host) && c->donor[i].port == port &&
		    memxd_donor_usable(atomic_load(&c->donor[i].state)))
			return -EEXIST;
	if (strlen(host) >= MEMXD_HOST_MAX)
		return -EINVAL;
	fresh = c->nr_donors < MEMXD_MAX_DONORS;
	if (restore && !fresh)
		return -ENOSPC;
	d = fresh ? &c->donor[c->nr_donors] : reuse_slot(c);
	if (!d)
		return -ENOSPC;
	if (fresh) {
		memset(d, 0, sizeof(*d));
		d->idx = c->nr_donors;
	}
	strcpy(d->host, host);
	d->port = port;
	/* Via a local buffer: gcc 12 with ASan sees a false overlap in snprintf. */
	snprintf(name, sizeof(name), "%s:%u", host, port);
	memcpy(d->name, name, sizeof(name));
	r = restore && !host[0] ? -ENOENT : donor_connect(c, d);
	if (r && restore) {
		memxd_donor_teardown(d, c->nr_queues);
		atomic_store(&d->state, MEMXD_DONOR_DEAD);	/* its replicas are gone */
		atomic_store_explicit(&c->nr_donors, c->nr_donors + 1, memory_order_release);
		memxd_warn("volume %s: donor %s of the engine before us did not come back: its "
			   "replicas are lost", c->opt.name, d->name);
		return r;
	}
	if (r) {
		memxd_donor_teardown(d, c->nr_queues);
		d->host[0] = '\0';	/* state stays 0: the slot is free again */
		return r;
	}
	if (!fresh)
		memxd_info("volume %s: donor %s takes slot %u (generation %u) of a donor that is gone",
			   c->opt.name, d->name, d->idx, memxd_donor_gen(d));
	memxd_state_note_donor(c, d->idx);
	/* Queue threads see a new slot's donor once it is whole. */
	if (fresh)
		atomic_store_explicit(&c->nr_donors, c->nr_donors + 1, memory_order_release);
	return 0;
}

int memxd_add_donor(struct memxd_client *c, const char *host, uint16_t port)
{
	return add_donor(c, host, port, false);
}

int memxd_restore_donor(struct memxd_client *c, const char *host, uint16_t port)
{
	return add_donor(c, host, port, true);
}
/*
 * Heartbeat: every MEMXD_HEARTBEAT_MS each usable donor answers a STATS
 * request (which also refreshes its free memory for placement). A donor
 * whose machine hangs sends no disconnect, and one-sided RDMA to it may not
 * fail until I/O happens: a missed reply (MEMXD_MSG_TIMEOUT_MS) declares it lost.
 */
void memxd_heartbeat(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns();

	if (now < c->next_heartbeat_ns)
		return;
	c->next_heartbeat_ns = now + MEMXD_HEARTBEAT_MS * 1000000ULL;
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		struct memxd_msg_info req = { .type = MEMX_MSG_STATS }, reply;

		if (!memxd_donor_usable(atomic_load(&d->state)))
			continue;
		if (!memxd_donor_call(c, d, &req, &reply))
			memxd_donor_set_free(d, reply.stats.memory_free, c->map.slab_bytes);
	}
}

/* Unsolicited messages (EVICT); also leaves the control CQ armed for the main loop's poll(). */
void memxd_pump_ctrl(struct memxd_client *c)
{
	mxv_cq_drain_events(c->ctrl_cq);
	ctrl_pump(c, NULL, 0);
}

/* A donor's CM channel woke us (pfd: one entry per donor): it may have disconnected. */
void memxd_check_donors(struct memxd_client *c, const struct pollfd *pfd)
{
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		int r;

		if (!pfd[i].revents)
			continue;
		r = mxv_conn_check(d->ctrl, 0);
		if (r < 0)
			memxd_donor_lost(c, d, r == -ECONNRESET ? "disconnected" : strerror(-r));
	}
}

struct memxd_donor *memxd_donor_by_addr(struct memxd_client *c, const char *arg)
{
	char host[MEMXD_HOST_MAX];
	uint16_t port;

	if (memxd_parse_hostport(arg, host, sizeof(host), &port, MEMX_DEFAULT_PORT))
		return NULL;
	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (!strcmp(c->donor[i].host, host) && c->donor[i].port == port)
			return &c->donor[i];
	return NULL;
}
