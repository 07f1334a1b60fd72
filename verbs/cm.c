// SPDX-License-Identifier: GPL-2.0
/*
 * Connection management over rdma_cm: listen, take requests, accept or
 * reject with private data, connect, watch and tear down connections.
 *
 * Theory of operation.
 *
 * Channels. Every rdma_cm event channel here is non-blocking, and each
 * connection owns one. A listener's channel carries connect requests; when
 * mxv_listener_get_request() takes one, the new cm_id is moved at once
 * (rdma_migrate_id) to a channel of its own, so that what happens to it later
 * (ESTABLISHED, DISCONNECTED, ...) is never mixed into the listener's stream
 * and can be waited for on its own fd, by its own code. Migrating before the
 * CONNECT_REQUEST event is acknowledged is safe: librdmacm counts that event
 * against the listening id, not the new one, and the kernel moves any event of
 * the new id still queued on the old channel.
 *
 * Waiting. Every wait is "try rdma_get_cm_event(); on EAGAIN poll(2) the fd
 * with the time left until the deadline", so a step never blocks longer than
 * its caller allowed and a multi-step call (resolve address, resolve route,
 * connect) honours one overall timeout. Events are copied from and
 * acknowledged before the function returns: rdma_destroy_id() blocks until
 * every event of its id has been acknowledged, so none is ever kept.
 *
 * Active side (mxv_connect): create id -> rdma_resolve_addr -> ADDR_RESOLVED
 * -> rdma_resolve_route -> ROUTE_RESOLVED -> create QP on the caller's CQs ->
 * prepost hook -> rdma_connect(hello) -> ESTABLISHED, whose private data is
 * the peer's welcome. REJECTED gives -ECONNREFUSED with the peer's reject
 * private data when its application rejected. Private data over 56 bytes is
 * refused before anything is created.
 *
 * Passive side: take request -> (caller checks the hello) -> either
 * mxv_req_reject(reason) or mxv_req_accept(): create QP -> prepost hook ->
 * rdma_accept(welcome) -> wait for ESTABLISHED (the peer's RTU). Until that
 * event the passive side cannot know the connection works, so accept does
 * not return before it, or before its timeout, after which the half-made
 * connection is destroyed (the kernel CM then rejects it). A server that
 * must not wait on a peer (a peer may never send its RTU) splits this in
 * two: mxv_req_accept_start() answers at once, and mxv_conn_accept_poll()
 * looks, without waiting, whether ESTABLISHED came; the caller keeps the
 * half-open connection with a deadline of its own and watches its fd.
 *
 * Teardown. mxv_conn_disconnect() moves the QP to error (flushing posted work
 * to the CQ) and sends the DREQ; mxv_conn_destroy() does that if needed, then
 * destroys the QP, the id and the channel, each only if it exists, so it also
 * serves every failure path of connect and accept. librdmacm keeps the QP
 * in RTS when the peer disconnects; only our rdma_disconnect() flushes it,
 * which is why destroy disconnects a connection the peer already closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "mxv_priv.h"

/* ---- helpers ------------------------------------------------------------- */

static int cm_channel_create(struct rdma_event_channel **out)
{
	struct rdma_event_channel *ch;
	int r;

	ch = rdma_create_event_channel();
	r = mxv_errno_ptr(ch);
	if (r)
		return r;
	r = mxv_set_nonblock(ch->fd);
	if (r) {
		rdma_destroy_event_channel(ch);
		return r;
	}
	*out = ch;
	return 0;
}

/*
 * Takes the next event of @ch, waiting until @deadline; with a @hook, in
 * slices of MXV_WAIT_HOOK_MS with the hook called after each.
 * Returns 0, -ETIMEDOUT, -EINTR or -errno.
 */
static int cm_next_event(struct rdma_event_channel *ch, int64_t deadline,
			 struct rdma_cm_event **ev, void (*hook)(void *), void *hook_arg)
{
	struct pollfd pfd;
	int left;
	int r;

	for (;;) {
		r = mxv_errno_neg1(rdma_get_cm_event(ch, ev));
		if (r != -EAGAIN && r != -EWOULDBLOCK)
			return r;
		left = mxv_remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		if (hook && (left < 0 || left > MXV_WAIT_HOOK_MS))
			left = MXV_WAIT_HOOK_MS;
		pfd.fd = ch->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, left);
		if (r < 0)
			return -errno;
		if (!r && !hook)
			return -ETIMEDOUT;
		if (!r)
			hook(hook_arg);	/* the deadline is checked on the next turn */
	}
}

/* Time to give rdma_resolve_addr/route: what is left, capped, at least 1 ms. */
static int resolve_ms(int64_t deadline)
{
	int left = mxv_remaining_ms(deadline);

	if (left < 0 || left > MXV_RESOLVE_MAX_MS)
		return MXV_RESOLVE_MAX_MS;
	return left ? left : 1;
}

static size_t copy_pdata(uint8_t *dst, const struct rdma_conn_param *cp)
{
	size_t len = cp->private_data ? cp->private_data_len : 0;

	if (len > MXV_PDATA_MAX)
		len = MXV_PDATA_MAX;
	if (len)
		memcpy(dst, cp->private_data, len);
	return len;
}

static const char *dev_name(struct rdma_cm_id *id)
{
	const char *name = NULL;

	if (id && id->verbs && id->verbs->device)
		name = ibv_get_device_name(id->verbs->device);
	return name ? name : "?";
}

/* Turns an unwanted event into an errno and a reason; copies reject private data into res. */
static int cm_event_failure(const struct rdma_cm_event *ev, int64_t deadline,
			    struct mxv_cm_result *res, const char *step)
{
	const char *why;
	int r;

	r = mxv_cm_event_errno(ev->event, ev->status);
	if (!r)
		r = -EPROTO;	/* a good event, but not the one this step waits for */

	if (ev->event == RDMA_CM_EVENT_REJECTED) {
		if (res && mxv_reject_is_consumer(ev->status))
			res->pdata_len = copy_pdata(res->pdata, &ev->param.conn);
		why = mxv_ib_reject_str(ev->status);
		return mxv_res_fail(res, r, "%s: rejected (reason %d: %s)", step, ev->status,
				    why ? why : "see the IB CM reject reasons");
	}
	if ((ev->event == RDMA_CM_EVENT_ADDR_ERROR || ev->event == RDMA_CM_EVENT_ROUTE_ERROR) &&
	    ev->status == -ETIMEDOUT && mxv_remaining_ms(deadline) == 0)
		r = -ETIMEDOUT;
	return mxv_res_fail(res, r, "%s: %s (status %d)", step, rdma_event_str(ev->event),
			    ev->status);
}

/*
 * Waits on the connection's channel for @want, skipping harmless events.
 * On ESTABLISHED keeps the peer's private data. Returns 0 or -errno.
 */
static int cm_expect(struct mxv_conn *conn, enum rdma_cm_event_type want, int64_t deadline,
		     struct mxv_cm_result *res, const char *step)
{
	struct rdma_cm_event *ev;
	int r;

	for (;;) {
		r = cm_next_event(conn->ch, deadline, &ev, conn->wait_hook, conn->wait_arg);
		if (r == -ETIMEDOUT)
			return mxv_res_fail(res, r, "%s: no %s within the time limit", step,
					    rdma_event_str(want));
		if (r)
			return mxv_res_fail(res, r, "%s: waiting for %s failed", step,
					    rdma_event_str(want));
		mxv_dbg("%s: %s, status %d", step, rdma_event_str(ev->event), ev->status);
		if (ev->event == want) {
			/* The passive side's ESTABLISHED carries nothing: keep the hello. */
			if (want == RDMA_CM_EVENT_ESTABLISHED && conn->active)
				conn->pdata_len = copy_pdata(conn->pdata, &ev->param.conn);
			rdma_ack_cm_event(ev);
			return 0;
		}
		if (ev->event == RDMA_CM_EVENT_TIMEWAIT_EXIT ||
		    ev->event == RDMA_CM_EVENT_ADDR_CHANGE) {
			rdma_ack_cm_event(ev);
			continue;
		}
		r = cm_event_failure(ev, deadline, res, step);
		rdma_ack_cm_event(ev);
		return r;
	}
}

/* Creates the QP on the connection's id and runs the prepost hook. */
static int conn_create_qp(struct mxv_conn *conn, const struct mxv_qp_attr *attr,
			  struct mxv_cm_result *res)
{
	struct ibv_qp_init_attr init;
	struct mxv_ctx *ctx = attr->send_cq->ctx;
	int r;

	if (conn->id->verbs != ctx->verbs)
		return mxv_res_fail(res, -EXDEV, "connection is on device %s, its CQs on %s",
				    dev_name(conn->id), ctx->name);
	r = mxv_qp_init_attr_fill(attr, &ctx->caps, &init);
	if (r)
		return mxv_res_fail(res, r, "QP attributes exceed what %s allows", ctx->name);
	r = mxv_errno_neg1(rdma_create_qp(conn->id, ctx->pd, &init));
	if (r)
		return mxv_res_fail(res, r, "rdma_create_qp failed on %s", ctx->name);
	conn->qp = conn->id->qp;
	if (attr->prepost) {
		r = attr->prepost(conn, attr->prepost_arg);
		if (r)
			return mxv_res_fail(res, r < 0 ? r : -EINVAL, "prepost hook failed");
	}
	return 0;
}

static void conn_params(struct rdma_conn_param *cp, const void *pdata, size_t len)
{
	memset(cp, 0, sizeof(*cp));
	cp->private_data = len ? pdata : NULL;
	cp->private_data_len = (uint8_t)len;
	/* Let librdmacm pick the most RDMA READs both ends allow. */
	cp->responder_resources = RDMA_MAX_RESP_RES;
	cp->initiator_depth = RDMA_MAX_INIT_DEPTH;
	cp->retry_count = MXV_RETRY_COUNT;
	cp->rnr_retry_count = MXV_RNR_RETRY_COUNT;
}

static bool qp_attr_usable(const struct mxv_qp_attr *attr)
{
	return attr && attr->send_cq && attr->recv_cq && attr->send_cq->ctx == attr->recv_cq->ctx;
}

/* ---- listener ------------------------------------------------------------ */

int mxv_listen(const char *ip, uint16_t port, int backlog, struct mxv_listener **out)
{
	struct sockaddr_storage ss;
	struct mxv_listener *l;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	r = mxv_parse_addr(ip, port, &ss);
	if (r)
		return r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = cm_channel_create(&l->ch);
	if (r)
		goto out_free_listener;
	r = mxv_errno_neg1(rdma_create_id(l->ch, &l->id, l, RDMA_PS_TCP));
	if (r)
		goto out_destroy_channel;
	r = mxv_errno_neg1(rdma_bind_addr(l->id, (struct sockaddr *)&ss));
	if (r)
		goto out_destroy_id;
	r = mxv_errno_neg1(rdma_listen(l->id, backlog > 0 ? backlog : MXV_DEFAULT_BACKLOG));
	if (r)
		goto out_destroy_id;
	mxv_dbg("listening on %s:%u", ip, mxv_listener_port(l));
	*out = l;
	return 0;

out_destroy_id:
	rdma_destroy_id(l->id);
out_destroy_channel:
	rdma_destroy_event_channel(l->ch);
out_free_listener:
	free(l);
	return r;
}

void mxv_listener_destroy(struct mxv_listener *l)
{
	if (!l)
		return;
	if (l->id)
		rdma_destroy_id(l->id);
	if (l->ch)
		rdma_destroy_event_channel(l->ch);
	free(l);
}

int mxv_listener_fd(const struct mxv_listener *l)
{
	return l->ch->fd;
}

uint16_t mxv_listener_port(const struct mxv_listener *l)
{
	return ntohs(rdma_get_src_port(l->id));
}

/* A request from a CONNECT_REQUEST event: its private data copied, its id on a new channel. */
static int req_take(struct rdma_cm_event *ev, struct mxv_req **out)
{
	struct rdma_cm_id *id = ev->id;
	struct mxv_req *req;
	int r;

	req = calloc(1, sizeof(*req));
	if (!req) {
		r = -ENOMEM;
		goto out_refuse;
	}
	req->id = id;
	req->pdata_len = copy_pdata(req->pdata, &ev->param.conn);
	r = cm_channel_create(&req->ch);
	if (r)
		goto out_free_req;
	r = mxv_errno_neg1(rdma_migrate_id(id, req->ch));
	if (r)
		goto out_destroy_channel;
	id->context = req;
	*out = req;
	return 0;

out_destroy_channel:
	rdma_destroy_event_channel(req->ch);
out_free_req:
	free(req);
out_refuse:
	rdma_reject(id, NULL, 0);
	rdma_destroy_id(id);
	return r;
}

int mxv_listener_get_request(struct mxv_listener *l, int timeout_ms, struct mxv_req **out)
{
	int64_t deadline = mxv_deadline(timeout_ms);
	struct rdma_cm_event *ev;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l)
		return -EINVAL;
	for (;;) {
		r = cm_next_event(l->ch, deadline, &ev, NULL, NULL);
		if (r)
			return r;
		mxv_dbg("listener: %s, status %d", rdma_event_str(ev->event), ev->status);
		if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
			r = req_take(ev, out);
			rdma_ack_cm_event(ev);
			return r;
		}
		r = ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL && ev->id == l->id ? -ENODEV : 0;
		rdma_ack_cm_event(ev);
		if (r)
			return r;
	}
}

const void *mxv_req_pdata(const struct mxv_req *req, size_t *len)
{
	if (len)
		*len = req->pdata_len;
	return req->pdata;
}

const char *mxv_req_peer(const struct mxv_req *req, char *buf, size_t len)
{
	return mxv_addr_str(req ? rdma_get_peer_addr(req->id) : NULL, buf, len);
}

/* Destroys the request's id and channel without answering it. */
static void req_free(struct mxv_req *req)
{
	if (req->id)
		rdma_destroy_id(req->id);
	if (req->ch)
		rdma_destroy_event_channel(req->ch);
	free(req);
}

void mxv_req_destroy(struct mxv_req *req)
{
	if (!req)
		return;
	if (req->id)
		rdma_reject(req->id, NULL, 0);
	req_free(req);
}

int mxv_req_reject(struct mxv_req *req, const void *pdata, size_t pdata_len)
{
	int r;

	if (!req)
		return -EINVAL;
	if (pdata_len > MXV_REJECT_PDATA_MAX || (pdata_len && !pdata)) {
		mxv_req_destroy(req);
		return -EINVAL;
	}
	r = mxv_errno_neg1(rdma_reject(req->id, pdata_len ? pdata : NULL, (uint8_t)pdata_len));
	req_free(req);
	return r;
}

int mxv_req_accept_start(struct mxv_req *req, const struct mxv_qp_attr *attr, const void *pdata,
			 size_t pdata_len, struct mxv_conn **out, struct mxv_cm_result *res)
{
	struct rdma_conn_param cp;
	struct mxv_conn *conn;
	int r;

	mxv_res_clear(res);
	if (out)
		*out = NULL;
	if (!req)
		return mxv_res_fail(res, -EINVAL, "accept: no request");
	if (!out || !qp_attr_usable(attr)) {
		mxv_req_destroy(req);
		return mxv_res_fail(res, -EINVAL, "accept: bad arguments");
	}
	if (pdata_len > MXV_ACCEPT_PDATA_MAX || (pdata_len && !pdata)) {
		mxv_req_destroy(req);
		return mxv_res_fail(res, -EINVAL,
				    "accept: private data is %zu bytes, the most is %d",
				    pdata_len, MXV_ACCEPT_PDATA_MAX);
	}

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		mxv_req_destroy(req);
		return mxv_res_fail(res, -ENOMEM, "accept: out of memory");
	}
	/* The connection takes over the request's id and channel. */
	conn->id = req->id;
	conn->ch = req->ch;
	conn->pdata_len = req->pdata_len;
	memcpy(conn->pdata, req->pdata, req->pdata_len);
	conn->id->context = conn;
	free(req);

	r = conn_create_qp(conn, attr, res);
	if (r)
		goto out_refuse;
	conn_params(&cp, pdata, pdata_len);
	conn->state = MXV_CONN_CONNECTING;
	r = mxv_errno_neg1(rdma_accept(conn->id, &cp));
	if (r) {
		mxv_res_fail(res, r, "accept: rdma_accept failed");
		goto out_refuse;
	}
	*out = conn;
	return 0;

out_refuse:
	rdma_reject(conn->id, NULL, 0);
	mxv_conn_destroy(conn);
	return r;
}

int mxv_conn_accept_poll(struct mxv_conn *conn, struct mxv_cm_result *res)
{
	int r;

	mxv_res_clear(res);
	if (!conn || conn->active)
		return mxv_res_fail(res, -EINVAL, "accept: not a connection being accepted");
	if (conn->state == MXV_CONN_ESTABLISHED)
		return 0;
	if (conn->state != MXV_CONN_CONNECTING)
		return mxv_res_fail(res, conn->err ? conn->err : -ENOTCONN,
				    "accept: the connection failed earlier");
	/* A deadline of now: take what is there, never wait. */
	r = cm_expect(conn, RDMA_CM_EVENT_ESTABLISHED, mxv_deadline(0), res, "accept");
	if (r == -ETIMEDOUT) {
		mxv_res_clear(res);
		return -EINPROGRESS;
	}
	if (r) {
		conn->state = MXV_CONN_CLOSED;
		conn->err = r;
		return r;
	}
	conn->state = MXV_CONN_ESTABLISHED;
	return 0;
}

int mxv_req_accept(struct mxv_req *req, const struct mxv_qp_attr *attr, const void *pdata,
		   size_t pdata_len, int timeout_ms, struct mxv_conn **out,
		   struct mxv_cm_result *res)
{
	int64_t deadline = mxv_deadline(timeout_ms);
	struct mxv_conn *conn;
	int r;

	if (!out) {
		mxv_res_clear(res);
		mxv_req_destroy(req);
		return mxv_res_fail(res, -EINVAL, "accept: bad arguments");
	}
	*out = NULL;
	r = mxv_req_accept_start(req, attr, pdata, pdata_len, &conn, res);
	if (r)
		return r;
	r = cm_expect(conn, RDMA_CM_EVENT_ESTABLISHED, deadline, res, "accept");
	if (r) {
		mxv_conn_destroy(conn);
		return r;
	}
	conn->state = MXV_CONN_ESTABLISHED;
	*out = conn;
	return 0;
}

/* ---- active connect ------------------------------------------------------ */

int mxv_connect(const struct mxv_connect_param *p, const struct mxv_qp_attr *attr,
		struct mxv_conn **out, struct mxv_cm_result *res)
{
	struct sockaddr_storage dst, src;
	struct rdma_conn_param cp;
	struct mxv_conn *conn;
	char peer[64];
	int64_t deadline;
	int r;

	mxv_res_clear(res);
	if (!out)
		return mxv_res_fail(res, -EINVAL, "connect: no place for the connection");
	*out = NULL;
	if (!p || !qp_attr_usable(attr))
		return mxv_res_fail(res, -EINVAL, "connect: bad arguments");
	if (p->pdata_len > MXV_CONNECT_PDATA_MAX || (p->pdata_len && !p->pdata))
		return mxv_res_fail(res, -EINVAL,
				    "connect: private data is %zu bytes, the most is %d",
				    p->pdata_len, MXV_CONNECT_PDATA_MAX);
	if (mxv_parse_addr(p->dst_ip, p->port, &dst))
		return mxv_res_fail(res, -EINVAL, "connect: '%s' is not a numeric address",
				    p->dst_ip ? p->dst_ip : "(null)");
	if (p->src_ip && (mxv_parse_addr(p->src_ip, 0, &src) || src.ss_family != dst.ss_family))
		return mxv_res_fail(res, -EINVAL, "connect: bad source address '%s'", p->src_ip);
	deadline = mxv_deadline(p->timeout_ms);
	mxv_addr_str((struct sockaddr *)&dst, peer, sizeof(peer));

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return mxv_res_fail(res, -ENOMEM, "connect: out of memory");
	conn->active = true;
	conn->wait_hook = p->wait_hook;
	conn->wait_arg = p->wait_arg;
	r = cm_channel_create(&conn->ch);
	if (r) {
		mxv_res_fail(res, r, "connect to %s: cannot open an rdma_cm channel", peer);
		goto out_destroy_conn;
	}
	r = mxv_errno_neg1(rdma_create_id(conn->ch, &conn->id, conn, RDMA_PS_TCP));
	if (r) {
		mxv_res_fail(res, r, "connect to %s: rdma_create_id failed", peer);
		goto out_destroy_conn;
	}

	r = mxv_errno_neg1(rdma_resolve_addr(conn->id, p->src_ip ? (struct sockaddr *)&src : NULL,
					     (struct sockaddr *)&dst, resolve_ms(deadline)));
	if (r) {
		mxv_res_fail(res, r, "connect to %s: rdma_resolve_addr failed", peer);
		goto out_destroy_conn;
	}
	r = cm_expect(conn, RDMA_CM_EVENT_ADDR_RESOLVED, deadline, res, "address resolution");
	if (r)
		goto out_destroy_conn;

	r = mxv_errno_neg1(rdma_resolve_route(conn->id, resolve_ms(deadline)));
	if (r) {
		mxv_res_fail(res, r, "connect to %s: rdma_resolve_route failed", peer);
		goto out_destroy_conn;
	}
	r = cm_expect(conn, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline, res, "route resolution");
	if (r)
		goto out_destroy_conn;

	r = conn_create_qp(conn, attr, res);
	if (r)
		goto out_destroy_conn;

	conn_params(&cp, p->pdata, p->pdata_len);
	conn->state = MXV_CONN_CONNECTING;
	r = mxv_errno_neg1(rdma_connect(conn->id, &cp));
	if (r) {
		mxv_res_fail(res, r, "connect to %s: rdma_connect failed", peer);
		goto out_destroy_conn;
	}
	r = cm_expect(conn, RDMA_CM_EVENT_ESTABLISHED, deadline, res, "connect");
	if (r)
		goto out_destroy_conn;

	conn->state = MXV_CONN_ESTABLISHED;
	conn->wait_hook = NULL;	/* the connect is over */
	if (res) {
		res->pdata_len = conn->pdata_len;
		memcpy(res->pdata, conn->pdata, conn->pdata_len);
	}
	mxv_dbg("connected to %s on %s, qp %u", peer, dev_name(conn->id), conn->qp->qp_num);
	*out = conn;
	return 0;

out_destroy_conn:
	mxv_conn_destroy(conn);
	return r;
}

/* ---- connections --------------------------------------------------------- */

int mxv_conn_fd(const struct mxv_conn *conn)
{
	return conn->ch->fd;
}

int mxv_conn_check(struct mxv_conn *conn, int timeout_ms)
{
	int64_t deadline = mxv_deadline(timeout_ms);
	enum rdma_cm_event_type type;
	struct rdma_cm_event *ev;
	int status;
	int r;

	if (!conn)
		return -EINVAL;
	if (conn->state == MXV_CONN_CLOSED)
		return conn->err;
	if (conn->state != MXV_CONN_ESTABLISHED)
		return -ENOTCONN;
	for (;;) {
		r = cm_next_event(conn->ch, deadline, &ev, NULL, NULL);
		if (r == -ETIMEDOUT)
			return 0;
		if (r)
			return r;
		type = ev->event;
		status = ev->status;
		rdma_ack_cm_event(ev);
		mxv_dbg("conn qp %u: %s, status %d", conn->qp ? conn->qp->qp_num : 0,
			rdma_event_str(type), status);
		if (type == RDMA_CM_EVENT_TIMEWAIT_EXIT || type == RDMA_CM_EVENT_ESTABLISHED ||
		    type == RDMA_CM_EVENT_ADDR_CHANGE)
			continue;
		r = mxv_cm_event_errno(type, status);
		conn->state = MXV_CONN_CLOSED;
		conn->err = r ? r : -EPROTO;
		return conn->err;
	}
}

int mxv_conn_disconnect(struct mxv_conn *conn)
{
	int r;

	if (!conn || !conn->id || !conn->qp || conn->disconnected)
		return 0;
	if (conn->state != MXV_CONN_ESTABLISHED && conn->state != MXV_CONN_CLOSED)
		return 0;	/* never established: destroying the id is the whole story */
	conn->disconnected = true;
	r = mxv_errno_neg1(rdma_disconnect(conn->id));
	/* When the peer went first, its side of the exchange is already over. */
	return conn->state == MXV_CONN_CLOSED ? 0 : r;
}

void mxv_conn_destroy(struct mxv_conn *conn)
{
	if (!conn)
		return;
	if (conn->id) {
		mxv_conn_disconnect(conn);
		if (conn->id->qp)
			rdma_destroy_qp(conn->id);
		rdma_destroy_id(conn->id);
	}
	if (conn->ch)
		rdma_destroy_event_channel(conn->ch);
	free(conn);
}

const void *mxv_conn_peer_pdata(const struct mxv_conn *conn, size_t *len)
{
	if (len)
		*len = conn->pdata_len;
	return conn->pdata;
}

const char *mxv_conn_peer(const struct mxv_conn *conn, char *buf, size_t len)
{
	return mxv_addr_str(conn && conn->id ? rdma_get_peer_addr(conn->id) : NULL, buf, len);
}

uint32_t mxv_conn_qp_num(const struct mxv_conn *conn)
{
	return conn->qp ? conn->qp->qp_num : 0;
}

void mxv_conn_set_user(struct mxv_conn *conn, void *user)
{
	conn->user = user;
}

void *mxv_conn_user(const struct mxv_conn *conn)
{
	return conn->user;
}
