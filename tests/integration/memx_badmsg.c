// SPDX-License-Identifier: GPL-2.0
/*
 * memx_badmsg --bind IP --donor IP [--port P] --memory BYTES [--key-file PATH]
 *
 * Plays a misbehaving client against a running `memxd donor` and checks
 * what the donor promises:
 *   - nothing but the handshake is served before it (a request first is
 *     refused, and the connection closed);
 *   - the control connection reaches no slab memory (it lives in a
 *     protection domain of its own); only data connections, admitted with
 *     the donor's ticket, do;
 *   - malformed control messages are dropped (no reply, connection usable);
 *   - bad requests get a reply with an errno (EINVAL, ENOSPC, ENOENT);
 *   - a granted slab reads as zeros before anything is written to it;
 *   - another client volume cannot reach a slab with its rkey (isolation);
 *   - a freed slab's rkey stops working.
 * Exits 0 when every check passes, 1 otherwise, 2 on bad arguments.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mxv.h"
#include "peer_auth.h"

#define RECVS		8
#define SLAB		(1U << 20)
#define SEND_OFF	(RECVS * MEMX_MSG_SIZE)
#define DATA_OFF	4096

struct peer {
	struct mxv_cq *cq;
	struct mxv_conn *conn;		/* control */
	struct mxv_conn *data;		/* admitted with the ticket */
	struct mxv_mr *mr;
	uint8_t *buf;		/* RECVS slots, a send slot, then SLAB bytes of data at DATA_OFF */
};

static struct mxv_ctx *ctx;
static struct memxd_keyring keys;
static const char *bind_ip, *donor_ip, *key_file;
static uint16_t port = MEMX_DEFAULT_PORT;
static int failures, checks;

static void check(int ok, const char *what)
{
	checks++;
	if (!ok)
		failures++;
	printf("badmsg: %s: %s\n", what, ok ? "OK" : "FAIL");
}

static int prepost(struct mxv_conn *conn, void *arg)
{
	struct peer *p = arg;

	for (int i = 0; i < RECVS; i++) {
		int r = mxv_post_recv(conn, p->mr, i * MEMX_MSG_SIZE, MEMX_MSG_SIZE, i);

		if (r)
			return r;
	}
	return 0;
}

/* Connects one control or data connection with this hello. */
static int peer_dial(struct peer *p, const struct peer_hs *hs, bool control, struct mxv_conn **out,
		     struct mxv_cm_result *res)
{
	struct mxv_qp_attr attr = { .max_send_wr = 8 };
	struct mxv_connect_param cp = { .dst_ip = donor_ip, .port = port, .src_ip = bind_ip,
					.pdata = hs->hello, .pdata_len = sizeof(hs->hello),
					.timeout_ms = 10000 };

	attr.send_cq = attr.recv_cq = p->cq;
	if (control) {
		attr.max_recv_wr = RECVS;
		attr.prepost = prepost;
		attr.prepost_arg = p;
	}
	return mxv_connect(&cp, &attr, out, res);
}

static int exchange(struct peer *p, const void *msg, int ms, struct memxd_msg_info *out);

/* A new volume's control connection, authenticated, and one data connection. */
static int peer_connect(struct peer *p)
{
	uint8_t volume_id[16], secret[MEMX_SECRET_LEN], ticket[MEMX_SECRET_LEN];
	uint8_t auth[MEMX_MSG_SIZE];
	struct memxd_msg_info rep;
	struct mxv_cm_result res;
	struct peer_hs hs;
	int r;

	memset(p, 0, sizeof(*p));
	p->buf = calloc(1, DATA_OFF + SLAB);
	if (!p->buf || getrandom(volume_id, 16, 0) != 16)
		return -ENOMEM;
	memxd_auth_random(secret, sizeof(secret));
	r = mxv_mr_reg(ctx, p->buf, DATA_OFF + SLAB, MXV_ACCESS_LOCAL_WRITE, &p->mr);
	if (!r)
		r = mxv_cq_create(ctx, 64, &p->cq);
	if (r)
		return r;
	peer_hs_hello(&hs, MEMX_ROLE_CLIENT, &keys.key[0], volume_id, NULL);
	r = peer_dial(p, &hs, true, &p->conn, &res);
	if (!r)
		r = peer_hs_auth(&hs, &keys.key[0], res.pdata, res.pdata_len, secret, 1, auth);
	if (!r)
		r = exchange(p, auth, 5000, &rep) == 1 ? peer_hs_ticket(&hs, &rep, ticket) : -EIO;
	if (!r) {
		peer_hs_hello(&hs, MEMX_ROLE_DATA, NULL, volume_id, ticket);
		r = peer_dial(p, &hs, false, &p->data, &res);
	}
	if (r)
		fprintf(stderr, "badmsg: connect: %s (%s)\n", strerror(-r), res.reason);
	return r;
}

/* Sends raw bytes as a control message; waits up to ms for a reply. Returns 1 with *out, 0 for none, -errno. */
static int exchange(struct peer *p, const void *msg, int ms, struct memxd_msg_info *out)
{
	struct ibv_wc wc[4];
	int r, got = 0;

	memcpy(p->buf + SEND_OFF, msg, MEMX_MSG_SIZE);
	r = mxv_post_send(p->conn, p->mr, SEND_OFF, MEMX_MSG_SIZE, 100);
	if (r)
		return r;
	for (;;) {
		int n = mxv_cq_wait(p->cq, wc, 4, ms);

		if (n == -ETIMEDOUT)
			return got;
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (wc[i].status != IBV_WC_SUCCESS)
				return -EIO;
			if (wc[i].opcode != IBV_WC_RECV)
				continue;
			r = memxd_msg_decode(p->buf + wc[i].wr_id * MEMX_MSG_SIZE, wc[i].byte_len, out,
					    NULL);
			mxv_post_recv(p->conn, p->mr, wc[i].wr_id * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      wc[i].wr_id);
			if (r)
				return -EPROTO;
			return 1;
		}
	}
}

static int request(struct peer *p, struct memxd_msg_info *req, struct memxd_msg_info *out)
{
	uint8_t raw[MEMX_MSG_SIZE];
	static uint32_t seq = 100;

	req->seq = ++seq;
	if (memxd_msg_encode(raw, sizeof(raw), req) < 0)
		return -EINVAL;
	return exchange(p, raw, 3000, out);
}

/* One-sided op on the data buffer, over conn; returns the completion's status. */
static int rdma_on(struct peer *p, struct mxv_conn *conn, int write, uint64_t raddr,
		   uint32_t rkey)
{
	struct ibv_wc wc;
	int r = write ? mxv_post_write(conn, p->mr, DATA_OFF, SLAB, raddr, rkey, 7)
		      : mxv_post_read(conn, p->mr, DATA_OFF, SLAB, raddr, rkey, 7);

	if (r)
		return r;
	for (;;) {
		r = mxv_cq_wait(p->cq, &wc, 1, 10000);
		if (r < 0)
			return r;
		if (wc.wr_id == 7)
			return mxv_wc_errno(wc.status);
	}
}

static int rdma(struct peer *p, int write, uint64_t raddr, uint32_t rkey)
{
	return rdma_on(p, p->data, write, raddr, rkey);
}

/* Whether the peer ends the connection within ms (harmless CM events do not count). */
static bool closed_within(struct mxv_conn *conn, int ms)
{
	for (int waited = 0; waited < ms; waited += 500)
		if (mxv_conn_check(conn, 500) < 0)
			return true;
	return false;
}

/* A control connection that asks for memory before it authenticates: refused. */
static void check_nothing_before_auth(void)
{
	struct memxd_msg_info req = { .type = MEMX_MSG_ALLOC_SLAB, .alloc.slab_bytes = SLAB }, rep;
	struct mxv_cm_result res;
	struct peer_hs hs;
	struct peer c = { 0 };
	uint8_t volume_id[16] = { 0x5a };
	int r;

	c.buf = calloc(1, DATA_OFF + SLAB);
	if (!c.buf || mxv_mr_reg(ctx, c.buf, DATA_OFF + SLAB, MXV_ACCESS_LOCAL_WRITE, &c.mr) ||
	    mxv_cq_create(ctx, 64, &c.cq)) {
		check(0, "setup of the unauthenticated peer");
		return;
	}
	peer_hs_hello(&hs, MEMX_ROLE_CLIENT, &keys.key[0], volume_id, NULL);
	r = peer_dial(&c, &hs, true, &c.conn, &res);
	check(!r, "a hello naming a held key is answered");
	if (r)
		return;
	r = request(&c, &req, &rep);
	check(r == 1 && rep.type == MEMX_MSG_AUTH_REPLY && rep.status == EACCES,
	      "a request before authentication is refused (EACCES), no slab granted");
	check(closed_within(c.conn, 10000), "the donor closes the unauthenticated connection");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bind", required_argument, NULL, 'b' }, { "donor", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' }, { "memory", required_argument, NULL, 'm' },
		{ "key-file", required_argument, NULL, 'k' }, { 0 }
	};
	struct memxd_msg_info req, rep;
	struct peer a, b;
	uint8_t raw[MEMX_MSG_SIZE];
	struct memx_msg *m = (struct memx_msg *)raw;
	uint64_t memory = 0, raddr;
	uint32_t rkey, handle;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': bind_ip = optarg; break;
		case 'd': donor_ip = optarg; break;
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'm': memory = strtoull(optarg, NULL, 0); break;
		case 'k': key_file = optarg; break;
		default: return 2;
		}
	}
	if (!bind_ip || !donor_ip || !memory) {
		fprintf(stderr, "usage: memx_badmsg --bind IP --donor IP [--port P] --memory BYTES "
			"[--key-file PATH]\n");
		return 2;
	}
	if (peer_load_keys(key_file, &keys))
		return 1;
	r = mxv_ctx_open(bind_ip, &ctx);
	if (r || peer_connect(&a)) {
		fprintf(stderr, "badmsg: setup failed\n");
		return 1;
	}

	/* Malformed messages: dropped, no reply, the connection stays usable. */
	req = (struct memxd_msg_info){ .type = MEMX_MSG_STATS, .seq = 1 };
	memxd_msg_encode(raw, sizeof(raw), &req);
	m->hdr.magic = htole32(0x12345678);
	check(exchange(&a, raw, 1000, &rep) == 0, "bad magic dropped");
	memxd_msg_encode(raw, sizeof(raw), &req);
	m->hdr.version = htole16(99);
	check(exchange(&a, raw, 1000, &rep) == 0, "other version dropped");
	memxd_msg_encode(raw, sizeof(raw), &req);
	m->hdr.type = htole16(77);
	check(exchange(&a, raw, 1000, &rep) == 0, "unknown type dropped");
	memxd_msg_encode(raw, sizeof(raw), &req);
	m->raw[5] = 1;
	check(exchange(&a, raw, 1000, &rep) == 0, "stats with a body dropped");
	req = (struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_SLAB, .alloc.slab_bytes = SLAB };
	memxd_msg_encode(raw, sizeof(raw), &req);
	m->alloc.slab_bytes = htole64(SLAB + 4096);
	check(exchange(&a, raw, 1000, &rep) == 0, "non-power-of-two slab dropped");
	memxd_msg_encode(raw, sizeof(raw), &req);
	m->alloc.reserved[0] = 1;
	check(exchange(&a, raw, 1000, &rep) == 0, "non-zero reserved dropped");
	memxd_msg_encode(raw, sizeof(raw), &(struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_REPLY });
	check(exchange(&a, raw, 1000, &rep) == 0, "a reply sent as a request dropped");

	/* Bad requests: answered with an errno. */
	req = (struct memxd_msg_info){ .type = MEMX_MSG_STATS };
	r = request(&a, &req, &rep);
	check(r == 1 && rep.type == MEMX_MSG_STATS_REPLY && rep.stats.memory_total == memory &&
	      rep.stats.memory_free == memory, "stats after garbage: connection still serves");
	req = (struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_SLAB,
				      .alloc.slab_bytes = 1ULL << MEMX_MAX_SLAB_SHIFT };
	r = request(&a, &req, &rep);
	check(r == 1 && (rep.status == EINVAL || rep.status == ENOSPC), "oversized slab refused");
	req = (struct memxd_msg_info){ .type = MEMX_MSG_FREE_SLAB, .free.handle = 4242 };
	r = request(&a, &req, &rep);
	check(r == 1 && rep.status == ENOENT, "free of an unknown handle refused with ENOENT");

	/* A grant reads as zeros, then holds what we write. */
	req = (struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_SLAB, .alloc.slab_bytes = SLAB };
	r = request(&a, &req, &rep);
	check(r == 1 && !rep.status && rep.grant.slab_bytes == SLAB, "1 MiB slab granted");
	if (r != 1 || rep.status)
		goto out;
	raddr = rep.grant.remote_addr;
	rkey = rep.grant.rkey;
	handle = rep.grant.handle;
	memset(a.buf + DATA_OFF, 0xa5, SLAB);
	r = rdma(&a, 0, raddr, rkey);
	check(!r, "RDMA READ of the fresh slab");
	{
		int zero = 1;

		for (uint32_t i = 0; i < SLAB; i++)
			zero &= a.buf[DATA_OFF + i] == 0;
		check(zero, "fresh slab is all zeros");
	}
	for (uint32_t i = 0; i < SLAB; i++)
		a.buf[DATA_OFF + i] = (uint8_t)(i * 7 + 3);
	check(!rdma(&a, 1, raddr, rkey), "RDMA WRITE to the slab");

	/* Another volume cannot use this slab's rkey: its QPs live in another PD. */
	if (!peer_connect(&b)) {
		r = rdma(&b, 0, raddr, rkey);
		check(r == -EACCES || r == -EREMOTEIO, "another volume's READ with our rkey fails");
		/* A take-over's CLAIM and PRUNE (proto.h) reach the sender's own grants only. */
		req = (struct memxd_msg_info){ .type = MEMX_MSG_CLAIM, .claim.first = handle };
		req.claim.bits[0] = 1;
		r = request(&b, &req, &rep);
		check(r == 1 && rep.status == ENOENT, "another volume's CLAIM of our grant: ENOENT");
		req = (struct memxd_msg_info){ .type = MEMX_MSG_PRUNE };
		r = request(&b, &req, &rep);
		check(r == 1 && !rep.status && !rep.stats.slabs_granted,
		      "another volume's PRUNE answered for its own (none)");
		r = request(&a, &req, &rep);
		check(r == 1 && !rep.status && rep.stats.slabs_granted == 1,
		      "our PRUNE keeps a grant made since our take-over");
		memset(a.buf + DATA_OFF, 0, SLAB);
		r = rdma(&a, 0, raddr, rkey);
		check(!r && a.buf[DATA_OFF + 5] == (uint8_t)(5 * 7 + 3),
		      "after both PRUNEs the slab still holds what we wrote");
	} else {
		check(0, "second volume connects");
	}
	/* A second slab so a freed one can be told from an empty donor. */
	req = (struct memxd_msg_info){ .type = MEMX_MSG_FREE_SLAB, .free.handle = handle };
	r = request(&a, &req, &rep);
	check(r == 1 && !rep.status && rep.stats.memory_free == memory, "slab freed, memory back");
	r = rdma(&a, 0, raddr, rkey);
	check(r == -EACCES || r == -EREMOTEIO, "freed slab's rkey no longer works");
	/* Last: a failed RDMA leaves the QP in error. */
	req = (struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_SLAB, .alloc.slab_bytes = SLAB };
	r = request(&a, &req, &rep);
	check(r == 1 && !rep.status, "a second slab granted");
	r = rdma_on(&a, a.conn, 0, rep.grant.remote_addr, rep.grant.rkey);
	check(r == -EACCES || r == -EREMOTEIO, "the control connection cannot reach the slab");
	check_nothing_before_auth();
out:
	printf("badmsg: %s: %d of %d checks passed\n", failures ? "FAIL" : "PASS", checks - failures,
	       checks);
	return failures ? 1 : 0;
}
