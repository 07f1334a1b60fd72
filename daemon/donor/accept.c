// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: accepting a connection, up to an authenticated peer.
 *
 * Nothing is made for a peer before it proves itself (the handshake is the
 * "Trust" comment of <memx/proto.h>):
 *   - a control connection (CLIENT) names a cluster key we hold (and that
 *     --allow-key lets in); we answer with a challenge and our proof, in the
 *     one protection domain of all control connections, which has no memory
 *     any peer may reach; its first message (MEMX_MSG_AUTH, within
 *     MEMXD_AUTH_MS) must open under the session key. Only then do we make
 *     or find the volume, check the owner's secret, and hand out the data
 *     ticket;
 *   - a data connection (DATA) must bring the ticket of a volume whose owner
 *     is connected; it is checked before the accept, which is what puts the
 *     connection in the volume's protection domain.
 * A refused peer gets a reason (a memx_reject, or an AUTH_REPLY with EACCES),
 * and the log says why; an unfinished handshake costs a slot and a deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/proc.h"
#include "donor/donor.h"

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
	if (code == MEMX_REJ_AUTH)
		dn->auth_failures++;
}

/*
 * Why a new connection from `source` must be refused, or NULL: too many
 * unauthenticated handshakes (in all, or from that address), or too many
 * connections from that address.
 */
static const char *over_a_cap(struct donor *dn, const char *source)
{
	unsigned int half_open = 0, half_open_here = 0, here = 0;

	for (int i = 0; i < DONOR_MAX_CONNS; i++) {
		const struct donor_conn *dc = &dn->conn[i];
		bool same = dc->used && !strcmp(dc->source, source);

		if (!dc->used)
			continue;
		half_open += !dc->authed;
		half_open_here += same && !dc->authed;
		here += same;
	}
	if (half_open >= DONOR_HALF_OPEN_MAX)
		return "too many handshakes in progress";
	if (half_open_here >= DONOR_HALF_OPEN_PER_SOURCE)
		return "too many handshakes in progress from this address";
	if (here >= DONOR_CONNS_PER_SOURCE)
		return "too many connections from this address";
	return NULL;
}

/* Why a control connection's key is refused (into why), or NULL if we take it. */
static const struct memxd_key *key_for(struct donor *dn, uint32_t id, char *why, size_t len)
{
	const struct memxd_key *k = memxd_keyring_find(&dn->trust.kr, id);
	bool allowed = !dn->nr_allow;

	for (unsigned int i = 0; i < dn->nr_allow; i++)
		allowed |= dn->allow_key[i] == id;
	if (!k && !id)
		snprintf(why, len, "this donor needs a cluster key: the peer has none (--insecure)");
	else if (!k && dn->trust.insecure)
		snprintf(why, len, "this donor runs --insecure and holds no keys");
	else if (!k)
		snprintf(why, len, "unknown key id %u", id);
	else if (!allowed)
		snprintf(why, len, "key id %u may not use this donor (--allow-key)", id);
	else
		return k;
	return NULL;
}

/* Why a data connection is refused, or NULL: it must bring a live ticket of its volume. */
static const char *ticket_refused(struct donor *dn, const struct memxd_hello_info *hello,
				  struct donor_volume **out)
{
	struct donor_volume *vol = lend_volume_find(dn, hello->volume_id);

	if (!vol || !vol->control)
		return "no authenticated volume with this id here";
	if (!memxd_auth_equal(hello->token, vol->ticket, MEMX_TOKEN_LEN))
		return "bad data ticket";
	if (memxd_now_ns() >= vol->ticket_expiry_ns)
		return "expired data ticket: authenticate again";
	*out = vol;
	return NULL;
}

/*
 * Answers the request with our welcome and returns at once: the connection
 * stays half-open (dc->established false) until its RTU comes, which
 * lend_conn_event() sees, or until its deadline (lend_expire_handshakes).
 */
static void accept_start(struct donor *dn, struct donor_conn *dc, struct mxv_req *req,
			 const struct memxd_key *k)
{
	struct memxd_welcome_info wi = { 0 };
	struct mxv_qp_attr attr = { .max_send_wr = 4 };
	struct mxv_ctx *ctx = dc->vol ? dc->vol->ctx : dn->ctl_ctx;
	struct mxv_cm_result res;
	int r;

	attr.send_cq = attr.recv_cq = dc->vol ? dc->vol->cq : dn->ctl_cq;
	if (dc->role == MEMX_ROLE_CLIENT) {
		dc->msgbuf = calloc(DONOR_RECVS + 2, MEMX_MSG_SIZE);
		r = dc->msgbuf ? mxv_mr_reg(ctx, dc->msgbuf, (DONOR_RECVS + 2) * MEMX_MSG_SIZE,
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
	if (k)
		memxd_auth_random(wi.nonce, sizeof(wi.nonce));
	memxd_welcome_encode(dc->welcome, sizeof(dc->welcome), &wi);
	if (k)
		memxd_auth_sign_welcome(k, dc->hello, dc->welcome);
	memxd_dbg(MEMXD_DBG_CM, "volume %s: accepting %s", lend_conn_volume(dc), dc->peer);
	r = mxv_req_accept_start(req, &attr, dc->welcome, sizeof(dc->welcome), &dc->conn, &res);
	if (r) {
		memxd_warn("volume %s: accept of %s failed: %s (%s)", lend_conn_volume(dc),
			   dc->peer, strerror(-r), res.reason);
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
		if (dc->role == MEMX_ROLE_CLIENT)	/* now it must prove itself, quickly */
			dc->deadline_ns = memxd_now_ns() + MEMXD_AUTH_MS * MEMXD_NS_PER_MS;
		memxd_info("volume %s: %s connection from %s", lend_conn_volume(dc),
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

		/* A state reader is let a minute in all: it holds a slot, never a volume. */
		if (!dc->used || (dc->established && dc->authed && !dc->state_reader))
			continue;
		if (now >= dc->deadline_ns) {
			if (!dc->refused)
				memxd_warn("%s did not finish its %s in time: dropped", dc->peer,
					   dc->established ? "authentication" : "handshake");
			lend_close_conn(dn, dc, dc->refused ? "authentication failed" :
					"handshake timed out");
			continue;
		}
		if (dc->deadline_ns < next)
			next = dc->deadline_ns;
	}
	return next == UINT64_MAX ? -1 : (int)((next - now) / MEMXD_NS_PER_MS) + 1;
}

/* Checks the hello's credentials; returns the key (control) or the volume (data) in *k, *vol. */
static bool hello_trusted(struct donor *dn, struct mxv_req *req, const char *peer,
			  const struct memxd_hello_info *hello, const struct memxd_key **k,
			  struct donor_volume **vol)
{
	char why[MEMX_REJECT_REASON_LEN];
	const char *refused;

	if (hello->role == MEMX_ROLE_CLIENT) {
		*k = key_for(dn, hello->key_id, why, sizeof(why));
		if (!*k)
			reject(dn, req, peer, MEMX_REJ_AUTH, why);
		return *k != NULL;
	}
	refused = ticket_refused(dn, hello, vol);
	if (refused) {
		/* The peer learns no more than "no": not whether the volume lives here. */
		memxd_warn("data connection from %s not admitted: %s", peer, refused);
		reject(dn, req, peer, MEMX_REJ_AUTH, "data connection not admitted: no such "
		       "volume, or a bad or expired ticket");
	}
	return !refused;
}

void lend_accept(struct donor *dn, struct mxv_req *req)
{
	struct memxd_hello_info hello;
	struct memxd_wire_error err;
	struct donor_conn *dc = NULL;
	struct donor_volume *vol = NULL;
	const struct memxd_key *k = NULL;
	char peer[64], source[64];
	const char *why;
	const void *pdata;
	size_t plen;

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
	if (hello.role != MEMX_ROLE_CLIENT && (hello.flags & MEMX_HELLO_F_STATE)) {
		reject(dn, req, peer, MEMX_REJ_MALFORMED, "only a control connection reads state");
		return;
	}
	strcpy(source, peer);
	if (strrchr(source, ':'))
		*strrchr(source, ':') = '\0';
	why = over_a_cap(dn, source);
	if (why) {
		reject(dn, req, peer, MEMX_REJ_BUSY, why);
		return;
	}
	if (!hello_trusted(dn, req, peer, &hello, &k, &vol))
		return;
	for (int ci = 0; ci < DONOR_MAX_CONNS && !dc; ci++)
		if (!dn->conn[ci].used)
			dc = &dn->conn[ci];
	if (!dc) {
		reject(dn, req, peer, MEMX_REJ_BUSY, "donor has no room for another connection");
		return;
	}
	memset(dc, 0, sizeof(*dc));
	dc->used = true;
	dc->role = hello.role;
	dc->state_reader = hello.flags & MEMX_HELLO_F_STATE;
	dc->key_id = hello.key_id;
	dc->vol = vol;		/* data: its volume; control: none until it authenticates */
	dc->authed = vol != NULL;
	if (vol)
		vol->nr_conns++;
	memcpy(dc->volume_id, hello.volume_id, sizeof(dc->volume_id));
	memcpy(dc->hello, pdata, sizeof(dc->hello));
	dc->deadline_ns = memxd_now_ns() + DONOR_HANDSHAKE_MS * MEMXD_NS_PER_MS;
	strcpy(dc->peer, peer);
	strcpy(dc->source, source);
	accept_start(dn, dc, req, k);
}

/* Refuses a control connection's handshake: a reply that says so, then the close. */
static void auth_refuse(struct donor *dn, struct donor_conn *dc, uint32_t seq, const char *why)
{
	struct memxd_msg_info reply = { .type = MEMX_MSG_AUTH_REPLY, .seq = seq,
					.status = EACCES };

	memxd_warn("refused control connection from %s: %s", dc->peer, why);
	dn->auth_failures++;
	dc->refused = true;
	lend_send(dn, dc, &reply);
	/* Closed by lend_expire_handshakes, after the reply had its chance to leave. */
	dc->deadline_ns = memxd_now_ns() + 200 * MEMXD_NS_PER_MS;
}

/*
 * Fencing: a new engine proved the secret of a volume whose old engine still
 * has connections here (it is being replaced: restarted before we saw it die,
 * or attached elsewhere). Every connection of the old engine goes, data ones
 * with their access to the volume's memory, so two engines never write it.
 * The slabs stay if the old engine held a lease. Returns the volume again (or
 * NULL if it went with its connections).
 */
static struct donor_volume *fence_old_engine(struct donor *dn, struct donor_volume *vol,
					     const struct donor_conn *by)
{
	uint8_t id[16];

	memcpy(id, vol->id, sizeof(id));
	memxd_warn("volume %s: a new engine at %s proved the volume's secret: closing the old "
		   "engine's connections (fenced)", vol->idstr, by->peer);
	for (int i = 0; i < DONOR_MAX_CONNS; i++)
		if (dn->conn[i].used && dn->conn[i].vol == vol && &dn->conn[i] != by)
			lend_close_conn(dn, &dn->conn[i], "replaced by a new engine");
	return lend_volume_find(dn, id);
}

/*
 * The owner's volume for an authenticated control connection of engine
 * epoch @epoch, or why not (into *why). Each engine that takes a volume over
 * has a higher epoch than the one before: an older engine (one that was only
 * stopped, and woke up) is refused for good, and the connections of an older
 * one still here are closed. Two connections of one epoch are one too many.
 */
static struct donor_volume *owned_volume(struct donor *dn, struct donor_conn *dc,
					 const uint8_t secret[MEMX_SECRET_LEN], uint64_t epoch,
					 const char **why)
{
	struct donor_volume *vol = lend_volume_find(dn, dc->volume_id);

	*why = NULL;
	if (vol && !memxd_auth_equal(vol->secret, secret, MEMX_SECRET_LEN))
		*why = "wrong volume secret: not this volume's owner";
	else if (vol && epoch < vol->epoch)
		*why = "its engine epoch is older than the volume's here: a newer engine took "
		       "the volume over (fenced)";
	else if (vol && vol->control && epoch == vol->epoch)
		*why = "this engine epoch already has a control connection here";
	else if (vol && vol->control)
		vol = fence_old_engine(dn, vol, dc);
	if (!*why && !vol && !(vol = lend_volume_make(dn, dc->volume_id, secret)))
		*why = "donor has no room for another volume";
	if (*why)
		return NULL;
	if (epoch > vol->epoch)
		lend_mark_unclaimed(dn, vol);	/* a take-over: the new engine claims its own */
	vol->epoch = epoch;
	return vol;
}

/*
 * A state reader proved the key: what it sealed is the tag its hello named
 * (so the handshake is its own). It gets no volume and no ticket, only
 * MEMX_MSG_STATE_READ, for a minute; wipes session and opened.
 */
static void state_reader_authed(struct donor *dn, struct donor_conn *dc,
				const struct memxd_msg_info *msg, uint8_t session[MEMXD_KEY_BYTES],
				uint8_t opened[MEMX_SECRET_LEN])
{
	struct memxd_msg_info reply = { .type = MEMX_MSG_AUTH_REPLY, .seq = msg->seq };
	bool ok = memxd_auth_equal(opened, dc->volume_id, sizeof(dc->volume_id));
	uint8_t nothing[MEMX_SECRET_LEN] = { 0 };

	memset(opened, 0, MEMX_SECRET_LEN);
	if (!ok) {
		memset(session, 0, MEMXD_KEY_BYTES);
		auth_refuse(dn, dc, msg->seq, "a state reader sealed another tag than its hello's");
		return;
	}
	memxd_auth_seal(session, MEMXD_SEAL_DONOR, nothing, reply.auth.sealed);
	memset(session, 0, MEMXD_KEY_BYTES);
	dc->authed = true;
	dc->deadline_ns = memxd_now_ns() + 60000 * MEMXD_NS_PER_MS;
	lend_send(dn, dc, &reply);
	memxd_info("state reader from %s authenticated (key %u)", dc->peer, dc->key_id);
}

void accept_auth(struct donor *dn, struct donor_conn *dc, const struct memxd_msg_info *msg)
{
	struct memxd_msg_info reply = { .type = MEMX_MSG_AUTH_REPLY, .seq = msg->seq };
	const struct memxd_key *k = memxd_keyring_find(&dn->trust.kr, dc->key_id);
	uint8_t session[MEMXD_KEY_BYTES], secret[MEMX_SECRET_LEN];
	struct donor_volume *vol;
	const char *why;

	if (dc->refused)
		return;
	if (dc->authed || msg->type != MEMX_MSG_AUTH) {
		auth_refuse(dn, dc, msg->seq, dc->authed ? "a second authentication" :
			    "a message before authentication");
		return;
	}
	if (!k) {	/* a reload took its key away meanwhile */
		auth_refuse(dn, dc, msg->seq, "its key is no longer held");
		return;
	}
	memxd_auth_session(k, dc->hello, dc->welcome, session);
	if (memxd_auth_open(session, MEMXD_SEAL_CLIENT, msg->auth.sealed, secret)) {
		memset(session, 0, sizeof(session));
		auth_refuse(dn, dc, msg->seq, "authentication failed: wrong key, or a replayed or "
			    "altered handshake");
		return;
	}
	if (dc->state_reader) {
		state_reader_authed(dn, dc, msg, session, secret);
		return;
	}
	vol = owned_volume(dn, dc, secret, msg->auth.epoch, &why);
	if (!vol) {
		memset(session, 0, sizeof(session));
		auth_refuse(dn, dc, msg->seq, why);
		return;
	}
	/*
	 * Its engine took it back, here or elsewhere: a state kept for that is
	 * stale now, and so is any of an older epoch a reader may be shown.
	 */
	if (MEMX_STATE_GEN(msg->auth.epoch, 0) > vol->state_floor)
		vol->state_floor = MEMX_STATE_GEN(msg->auth.epoch, 0);
	lend_state_drop(dn, vol);
	if (vol->lease_end_ns) {
		memxd_info("volume %s: its engine is back from %s: %u slabs kept under the lease",
			   vol->idstr, dc->peer, vol->slabs);
		vol->lease_end_ns = 0;
	}
	vol->lease_s = msg->auth.lease_s < dn->max_lease_s ? msg->auth.lease_s : dn->max_lease_s;
	reply.auth.lease_s = vol->lease_s;
	reply.auth.slabs_kept = vol->slabs;	/* 0 for a new volume: nothing to resume here */
	reply.auth.epoch = vol->epoch;
	dc->vol = vol;
	dc->authed = true;
	vol->control = dc;
	vol->nr_conns++;
	strcpy(vol->owner, dc->source);
	memxd_auth_random(vol->ticket, sizeof(vol->ticket));
	vol->ticket_expiry_ns = memxd_now_ns() + MEMX_TICKET_MS * MEMXD_NS_PER_MS;
	memxd_auth_seal(session, MEMXD_SEAL_DONOR, vol->ticket, reply.auth.sealed);
	memset(session, 0, sizeof(session));
	memset(secret, 0, sizeof(secret));
	lend_send(dn, dc, &reply);
	if (dn->trust.insecure)
		memxd_warn("INSECURE: volume %s: control connection from %s accepted without "
			   "authentication (--insecure)", vol->idstr, dc->peer);
	else
		memxd_info("volume %s: control connection from %s authenticated (key %u)",
			   vol->idstr, dc->peer, dc->key_id);
}
