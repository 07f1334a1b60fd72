// SPDX-License-Identifier: GPL-2.0
/*
 * memx_badmsg --bind IP --donor IP [--port P] --memory BYTES
 *
 * Plays a misbehaving client against a running `memxd donor` and checks
 * what the donor promises:
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
#include "common/wire.h"

#define RECVS		8
#define SLAB		(1U << 20)
#define SEND_OFF	(RECVS * MEMX_MSG_SIZE)
#define DATA_OFF	4096

struct peer {
	struct mxv_cq *cq;
	struct mxv_conn *conn;
	struct mxv_mr *mr;
	uint8_t *buf;		/* RECVS slots, a send slot, then SLAB bytes of data at DATA_OFF */
};

static struct mxv_ctx *ctx;
static const char *bind_ip, *donor_ip;
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

static int peer_connect(struct peer *p)
{
	struct memxd_hello_info hello = { .role = MEMX_ROLE_CLIENT };
	uint8_t pdata[sizeof(struct memx_hello)];
	struct mxv_qp_attr attr = { 0 };
	struct mxv_connect_param cp = { 0 };
	struct mxv_cm_result res;
	int r;

	memset(p, 0, sizeof(*p));
	p->buf = calloc(1, DATA_OFF + SLAB);
	if (!p->buf || getrandom(hello.volume_id, 16, 0) != 16)
		return -ENOMEM;
	r = mxv_mr_reg(ctx, p->buf, DATA_OFF + SLAB, MXV_ACCESS_LOCAL_WRITE, &p->mr);
	if (!r)
		r = mxv_cq_create(ctx, 64, &p->cq);
	if (r)
		return r;
	memxd_hello_encode(pdata, sizeof(pdata), &hello);
	attr.send_cq = attr.recv_cq = p->cq;
	attr.max_send_wr = 8;
	attr.max_recv_wr = RECVS;
	attr.prepost = prepost;
	attr.prepost_arg = p;
	cp.dst_ip = donor_ip;
	cp.port = port;
	cp.src_ip = bind_ip;
	cp.pdata = pdata;
	cp.pdata_len = sizeof(pdata);
	cp.timeout_ms = 10000;
	r = mxv_connect(&cp, &attr, &p->conn, &res);
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

/* One-sided op on the data buffer; returns the completion's status. */
static int rdma(struct peer *p, int write, uint64_t raddr, uint32_t rkey)
{
	struct ibv_wc wc;
	int r = write ? mxv_post_write(p->conn, p->mr, DATA_OFF, SLAB, raddr, rkey, 7)
		      : mxv_post_read(p->conn, p->mr, DATA_OFF, SLAB, raddr, rkey, 7);

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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bind", required_argument, NULL, 'b' }, { "donor", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' }, { "memory", required_argument, NULL, 'm' },
		{ 0 }
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
		default: return 2;
		}
	}
	if (!bind_ip || !donor_ip || !memory) {
		fprintf(stderr, "usage: memx_badmsg --bind IP --donor IP [--port P] --memory BYTES\n");
		return 2;
	}
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
	} else {
		check(0, "second volume connects");
	}
	/* A second slab so a freed one can be told from an empty donor. */
	req = (struct memxd_msg_info){ .type = MEMX_MSG_FREE_SLAB, .free.handle = handle };
	r = request(&a, &req, &rep);
	check(r == 1 && !rep.status && rep.stats.memory_free == memory, "slab freed, memory back");
	r = rdma(&a, 0, raddr, rkey);
	check(r == -EACCES || r == -EREMOTEIO, "freed slab's rkey no longer works");
out:
	printf("badmsg: %s: %d of %d checks passed\n", failures ? "FAIL" : "PASS", checks - failures,
	       checks);
	return failures ? 1 : 0;
}
