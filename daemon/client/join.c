// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: donors that join a running client (--listen).
 *
 * A donor knocks (memxd donor --join) with a JOIN hello that names the port
 * it listens on and is signed with a cluster key we hold. We answer at once and keep the connection half-open, with a
 * deadline, among at most MEMXD_MAX_JOINS: a peer that never finishes the
 * handshake costs a slot, never the control thread. Once the connection is
 * established it has served its purpose (it was only the message): we close
 * it and connect to the donor as to any other (donors.c).
 */
#include <errno.h>
#include <string.h>

#include "client/client.h"
#include "common/log.h"

static void refuse(struct memxd_client *c, struct mxv_req *req, const char *peer, uint16_t code,
		   const char *why)
{
	uint8_t rej[sizeof(struct memx_reject)];

	memxd_warn("volume %s: refused a join from %s: %s", c->opt.name, peer, why);
	memxd_reject_encode(rej, sizeof(rej), code, why);
	mxv_req_reject(req, rej, sizeof(rej));
}

/*
 * Whether a join names a key we hold and proves it. (A replayed join only
 * makes us connect back to where it came from, and that connection must
 * authenticate: see donors.c.)
 */
static bool join_trusted(struct memxd_client *c, struct mxv_req *req, const char *peer,
			 const void *pdata, const struct memxd_hello_info *hello)
{
	const struct memxd_key *k = memxd_keyring_find(&c->opt.trust.kr, hello->key_id);

	if (!k) {
		refuse(c, req, peer, MEMX_REJ_AUTH, c->opt.trust.insecure ?
		       "this client runs --insecure and holds no keys" : hello->key_id ?
		       "unknown key id" : "this client needs a cluster key: the donor has none");
		return false;
	}
	if (!memxd_auth_join_ok(k, pdata)) {
		refuse(c, req, peer, MEMX_REJ_AUTH, "join not signed with the key it names");
		return false;
	}
	return true;
}

static struct memxd_join *free_slot(struct memxd_client *c)
{
	for (unsigned int i = 0; i < MEMXD_MAX_JOINS; i++)
		if (!c->join[i].conn)
			return &c->join[i];
	return NULL;
}

/* Takes the join requests waiting on the listener; answers each at once. */
void memxd_serve_join(struct memxd_client *c)
{
	struct mxv_req *req;

	while (mxv_listener_get_request(c->listener, 0, &req) == 0) {
		struct mxv_qp_attr attr = { .send_cq = c->ctrl_cq, .recv_cq = c->ctrl_cq,
					    .max_send_wr = 1 };
		struct memxd_hello_info hello;
		struct memxd_wire_error err;
		struct memxd_join *j;
		char peer[80], *colon;
		const void *pdata;
		size_t len;

		mxv_req_peer(req, peer, sizeof(peer));
		pdata = mxv_req_pdata(req, &len);
		if (memxd_hello_decode(pdata, len, &hello, &err)) {
			refuse(c, req, peer, err.code, err.reason);
			continue;
		}
		if (hello.role != MEMX_ROLE_JOIN) {
			refuse(c, req, peer, MEMX_REJ_ROLE, "a client listens for donors that join only");
			continue;
		}
		if (!join_trusted(c, req, peer, pdata, &hello))
			continue;
		j = free_slot(c);
		if (!j) {
			refuse(c, req, peer, MEMX_REJ_BUSY, "too many joins in progress");
			continue;
		}
		colon = strrchr(peer, ':');
		if (colon)
			*colon = '\0';
		if (strlen(peer) >= sizeof(j->host)) {
			refuse(c, req, peer, MEMX_REJ_MALFORMED, "address too long");
			continue;
		}
		if (mxv_req_accept_start(req, &attr, NULL, 0, &j->conn, NULL))
			continue;
		memcpy(j->host, peer, strlen(peer) + 1);
		j->port = hello.join_port;
		j->deadline_ns = memxd_now_ns() + MEMXD_CM_TIMEOUT_MS * MEMXD_NS_PER_MS;
	}
}

/* Finishes the joins whose handshake completed; drops those past their deadline. */
void memxd_advance_joins(struct memxd_client *c)
{
	for (unsigned int i = 0; i < MEMXD_MAX_JOINS; i++) {
		struct memxd_join *j = &c->join[i];
		int r;

		if (!j->conn)
			continue;
		r = mxv_conn_accept_poll(j->conn, NULL);
		if (r == -EINPROGRESS && memxd_now_ns() < j->deadline_ns)
			continue;
		mxv_conn_destroy(j->conn);
		j->conn = NULL;
		if (r) {
			memxd_warn("volume %s: a join from %s did not finish its handshake: %s",
				   c->opt.name, j->host, r == -EINPROGRESS ? "timed out" : strerror(-r));
			continue;
		}
		r = memxd_add_donor(c, j->host, j->port);
		if (r)
			memxd_err("volume %s: donor %s:%u asked to join but: %s", c->opt.name, j->host,
				  j->port, strerror(-r));
		else
			memxd_info("volume %s: donor %s:%u joined", c->opt.name, j->host, j->port);
	}
}

void memxd_joins_teardown(struct memxd_client *c)
{
	for (unsigned int i = 0; i < MEMXD_MAX_JOINS; i++) {
		mxv_conn_destroy(c->join[i].conn);
		c->join[i].conn = NULL;
	}
}
