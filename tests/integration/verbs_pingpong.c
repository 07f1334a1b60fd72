// SPDX-License-Identifier: GPL-2.0
/*
 * verbs_pingpong: end-to-end check of libmxv over a real (or Soft-RoCE) device.
 *
 *   verbs_pingpong server --bind IP [--port P] [--count N] [--timeout S]
 *   verbs_pingpong client --bind IP --server IP [--port P] [--timeout S]
 *			   [--seed N] [--corrupt-readback]
 *
 * Theory of operation. The server registers a 1 MiB region for remote read
 * and write and listens. Each connect request's private data must decode as a
 * memx hello with the client role; anything else is rejected with a memx
 * reject (code and reason) and logged, and the server keeps listening.
 * Rejections do not count towards --count.
 *
 * One session, with every SEND matched by a RECV posted beforehand (the
 * prepost hook posts the first one before the connection exists):
 *
 *	client				server
 *	connect(hello)  ------------->	accept(welcome)
 *			<-------------	SEND REGION{addr, rkey, len}
 *	SEND PING	------------->
 *			<-------------	SEND PONG
 *	RDMA WRITE 16 x 64 KiB (one chained post) of a seeded xorshift pattern
 *	RDMA READ 1 MiB back into a zeroed buffer; compare every byte
 *	SEND DONE{seed, result} ----->	compare its region with the pattern
 *	disconnect
 *
 * Messages are in host byte order: both ends run on one machine.
 * --corrupt-readback (or MEMX_CORRUPT_READBACK=1) flips one byte of the
 * read-back buffer before the comparison, to prove the check can fail.
 * MXV_DEBUG=1 prints libmxv's debug text. Exit status: 0 only when every
 * check passed; every wait is bounded by --timeout (default 30 s).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mxv.h"
#include "common/wire.h"

#define PP_REGION_SIZE	(1U << 20)
#define PP_WRITE_CHUNKS	16
#define PP_MSG_MAGIC	0x47504d58U
#define PP_SLOTS	4	/* message slots: 0, 1 receive; 2, 3 send */
#define PP_CORRUPT_AT	123457U

enum pp_type {
	PP_REGION = 1,
	PP_PING = 2,
	PP_PONG = 3,
	PP_DONE = 4,
};

struct pp_msg {
	uint32_t magic;
	uint32_t type;		/* enum pp_type */
	uint64_t addr;		/* REGION: the region's address */
	uint32_t rkey;		/* REGION */
	uint32_t len;		/* REGION, DONE: region bytes */
	uint64_t seed;		/* DONE: pattern seed */
	uint32_t status;	/* DONE: 0 if the client's read-back matched */
	uint32_t pad;
	char text[32];		/* PING, PONG */
};

/* wr_ids: one bit each in struct pp.done. */
enum {
	WR_RECV0 = 0,
	WR_RECV1 = 1,
	WR_SEND0 = 2,
	WR_SEND1 = 3,
	WR_READ = 4,
	WR_WRITE0 = 5,	/* WR_WRITE0 .. WR_WRITE0 + PP_WRITE_CHUNKS - 1 */
	WR_COUNT = WR_WRITE0 + PP_WRITE_CHUNKS,
};

#define BIT(n) (1ULL << (n))

struct pp {
	const char *who;
	struct mxv_ctx *ctx;
	struct mxv_cq *cq;
	struct pp_msg *msgs;		/* PP_SLOTS messages */
	struct mxv_mr *msg_mr;
	uint32_t qp_num;		/* the connection being served; others are stale */
	uint64_t done;			/* wr_ids completed, not yet consumed */
	enum ibv_wc_opcode expect[WR_COUNT];
	uint32_t byte_len[WR_COUNT];
	int timeout_ms;
};

struct opts {
	const char *mode;
	const char *bind;
	const char *server;
	unsigned int port;
	unsigned int count;
	int timeout_s;
	uint64_t seed;
	bool corrupt;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: verbs_pingpong server --bind IP [--port P] [--count N] [--timeout S]\n"
		"       verbs_pingpong client --bind IP --server IP [--port P] [--timeout S]\n"
		"                             [--seed N] [--corrupt-readback]\n");
	exit(2);
}

static void mxv_debug_print(void *arg, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: mxv: ", (const char *)arg);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Fills buf with the pattern of @seed: xorshift64* words, little-endian. */
static void pattern_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ULL;
	uint64_t w;
	size_t i;

	for (i = 0; i < len; i += 8) {
		w = htole64(xorshift64(&s));
		memcpy(buf + i, &w, len - i < 8 ? len - i : 8);
	}
}

/* Compares buf with the pattern of @seed. Returns the number of bytes that differ. */
static size_t pattern_check(const uint8_t *buf, size_t len, uint64_t seed, size_t *first,
			    uint8_t *got, uint8_t *want)
{
	uint8_t expect[8];
	uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ULL;
	uint64_t w;
	size_t bad = 0;
	size_t i, j;

	for (i = 0; i < len; i += 8) {
		w = htole64(xorshift64(&s));
		memcpy(expect, &w, 8);
		for (j = 0; j < 8 && i + j < len; j++) {
			if (buf[i + j] == expect[j])
				continue;
			if (!bad) {
				*first = i + j;
				*got = buf[i + j];
				*want = expect[j];
			}
			bad++;
		}
	}
	return bad;
}

static void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t s;
	size_t i;

	if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
		return;
	s = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)xorshift64(&s);
}

/* ---- completions ---------------------------------------------------------- */

static const char *wr_name(uint64_t wr_id)
{
	switch (wr_id) {
	case WR_RECV0: return "RECV0";
	case WR_RECV1: return "RECV1";
	case WR_SEND0: return "SEND0";
	case WR_SEND1: return "SEND1";
	case WR_READ: return "READ";
	default: return wr_id < WR_COUNT ? "WRITE" : "?";
	}
}

/* Waits until every wr_id in @want has completed successfully, then consumes them. */
static int pp_wait(struct pp *pp, uint64_t want, const char *what)
{
	int64_t deadline = now_ms() + pp->timeout_ms;
	struct ibv_wc wc[16];
	int64_t left;
	int n, i;

	while ((pp->done & want) != want) {
		left = deadline - now_ms();
		if (left <= 0) {
			fprintf(stderr, "%s: timed out waiting for %s\n", pp->who, what);
			return -ETIMEDOUT;
		}
		n = mxv_cq_wait(pp->cq, wc, 16, (int)left);
		if (n == -ETIMEDOUT || n == -EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: waiting for %s: %s\n", pp->who, what, strerror(-n));
			return n;
		}
		for (i = 0; i < n; i++) {
			/* The CQ is shared: a closed connection's flushed work may linger. */
			if (wc[i].qp_num != pp->qp_num)
				continue;
			if (wc[i].wr_id >= WR_COUNT) {
				fprintf(stderr, "%s: completion with unknown wr_id %" PRIu64 "\n",
					pp->who, (uint64_t)wc[i].wr_id);
				return -EPROTO;
			}
			if (wc[i].status != IBV_WC_SUCCESS) {
				fprintf(stderr,
					"%s: %s (wr_id %" PRIu64 ") failed: %s (vendor err %u)\n",
					pp->who, wr_name(wc[i].wr_id), (uint64_t)wc[i].wr_id,
					ibv_wc_status_str(wc[i].status), wc[i].vendor_err);
				return mxv_wc_errno(wc[i].status);
			}
			if (wc[i].opcode != pp->expect[wc[i].wr_id]) {
				fprintf(stderr, "%s: %s completed with opcode %d, expected %d\n",
					pp->who, wr_name(wc[i].wr_id), wc[i].opcode,
					pp->expect[wc[i].wr_id]);
				return -EPROTO;
			}
			if (pp->done & BIT(wc[i].wr_id)) {
				fprintf(stderr, "%s: %s completed twice\n", pp->who,
					wr_name(wc[i].wr_id));
				return -EPROTO;
			}
			pp->done |= BIT(wc[i].wr_id);
			pp->byte_len[wc[i].wr_id] = wc[i].byte_len;
		}
	}
	pp->done &= ~want;
	return 0;
}

static int pp_post_recv(struct mxv_conn *conn, struct pp *pp, unsigned int slot)
{
	uint64_t wr_id = slot ? WR_RECV1 : WR_RECV0;
	int r;

	pp->expect[wr_id] = IBV_WC_RECV;
	memset(&pp->msgs[slot], 0, sizeof(pp->msgs[slot]));
	r = mxv_post_recv(conn, pp->msg_mr, slot * sizeof(struct pp_msg), sizeof(struct pp_msg),
			  wr_id);
	if (r)
		fprintf(stderr, "%s: post RECV: %s\n", pp->who, strerror(-r));
	return r;
}

/* Sends msg from send slot 2 or 3 (wr_id SEND0 or SEND1) and waits for its completion. */
static int pp_send(struct mxv_conn *conn, struct pp *pp, unsigned int which,
		   const struct pp_msg *msg)
{
	unsigned int slot = 2 + which;
	uint64_t wr_id = which ? WR_SEND1 : WR_SEND0;
	int r;

	pp->msgs[slot] = *msg;
	pp->expect[wr_id] = IBV_WC_SEND;
	r = mxv_post_send(conn, pp->msg_mr, slot * sizeof(struct pp_msg), sizeof(struct pp_msg),
			  wr_id);
	if (r) {
		fprintf(stderr, "%s: post SEND: %s\n", pp->who, strerror(-r));
		return r;
	}
	return pp_wait(pp, BIT(wr_id), "SEND completion");
}

/* Waits for the RECV of @slot and checks it carries a message of @type. */
static int pp_recv(struct pp *pp, unsigned int slot, uint32_t type, struct pp_msg *out)
{
	uint64_t wr_id = slot ? WR_RECV1 : WR_RECV0;
	int r;

	r = pp_wait(pp, BIT(wr_id), "a message");
	if (r)
		return r;
	*out = pp->msgs[slot];
	if (pp->byte_len[wr_id] != sizeof(*out) || out->magic != PP_MSG_MAGIC ||
	    out->type != type) {
		fprintf(stderr, "%s: bad message: %u bytes, magic %#x, type %u (wanted type %u)\n",
			pp->who, pp->byte_len[wr_id], out->magic, out->type, type);
		return -EPROTO;
	}
	out->text[sizeof(out->text) - 1] = '\0';
	return 0;
}

static int prepost_slot0(struct mxv_conn *conn, void *arg)
{
	struct pp *pp = arg;

	pp->qp_num = mxv_conn_qp_num(conn);
	pp->done = 0;
	return pp_post_recv(conn, pp, 0);
}

/* Reaps whatever a finished connection left in the shared CQ (flush errors). */
static void pp_drain(struct pp *pp)
{
	struct ibv_wc wc[16];

	while (mxv_cq_poll(pp->cq, wc, 16) > 0)
		;
	pp->done = 0;
}

static int pp_setup(struct pp *pp, const struct opts *o)
{
	int r;

	pp->timeout_ms = o->timeout_s * 1000;
	r = mxv_ctx_open(o->bind, &pp->ctx);
	if (r) {
		fprintf(stderr, "%s: no RDMA device for %s: %s\n", pp->who, o->bind, strerror(-r));
		return r;
	}
	r = mxv_cq_create(pp->ctx, 64, &pp->cq);
	if (r) {
		fprintf(stderr, "%s: create CQ: %s\n", pp->who, strerror(-r));
		return r;
	}
	pp->msgs = aligned_alloc(64, PP_SLOTS * sizeof(struct pp_msg));
	if (!pp->msgs)
		return -ENOMEM;
	memset(pp->msgs, 0, PP_SLOTS * sizeof(struct pp_msg));
	r = mxv_mr_reg(pp->ctx, pp->msgs, PP_SLOTS * sizeof(struct pp_msg),
		       MXV_ACCESS_LOCAL_WRITE, &pp->msg_mr);
	if (r)
		fprintf(stderr, "%s: register message buffers: %s\n", pp->who, strerror(-r));
	return r;
}

static void pp_teardown(struct pp *pp)
{
	mxv_mr_dereg(pp->msg_mr);
	free(pp->msgs);
	mxv_cq_destroy(pp->cq);
	mxv_ctx_close(pp->ctx);
}

static void qp_attr_init(struct mxv_qp_attr *attr, struct pp *pp)
{
	memset(attr, 0, sizeof(*attr));
	attr->send_cq = pp->cq;
	attr->recv_cq = pp->cq;
	attr->max_send_wr = 32;
	attr->max_recv_wr = 4;
	attr->prepost = prepost_slot0;
	attr->prepost_arg = pp;
}

/* ---- server --------------------------------------------------------------- */

struct region {
	uint8_t *buf;
	struct mxv_mr *mr;
};

enum serve_result {
	SERVE_OK,		/* a session that passed every check */
	SERVE_FAILED,		/* a session that failed */
	SERVE_REJECTED,		/* a bad hello, refused: not a session */
	SERVE_NO_REQUEST,	/* no request came (timeout) or the listener broke */
};

static enum serve_result serve_one(struct pp *pp, struct mxv_listener *l, struct region *rg,
				   unsigned int nr)
{
	struct memxd_welcome_info wi;
	struct memxd_hello_info hi, hi2;
	struct memxd_wire_error werr;
	struct mxv_cm_result res;
	struct mxv_qp_attr attr;
	struct mxv_conn *conn = NULL;
	struct mxv_req *req;
	uint8_t rej[MEMX_CM_REJECT_PDATA_MAX];
	uint8_t wel[MEMX_CM_ACCEPT_PDATA_MAX];
	struct pp_msg m;
	const void *pdata;
	char peer[64];
	size_t plen, bad, first = 0;
	uint8_t got = 0, want = 0;
	int r, n;

	r = mxv_listener_get_request(l, pp->timeout_ms, &req);
	if (r) {
		fprintf(stderr, "server: no connect request: %s\n", strerror(-r));
		return SERVE_NO_REQUEST;
	}
	mxv_req_peer(req, peer, sizeof(peer));
	pdata = mxv_req_pdata(req, &plen);
	r = memxd_hello_decode(pdata, plen, &hi, &werr);
	if (!r && hi.role != MEMX_ROLE_CLIENT) {
		r = -EPROTO;
		werr.code = MEMX_REJ_ROLE;
		werr.reason = "this listener serves clients only";
	}
	if (r) {
		n = memxd_reject_encode(rej, sizeof(rej), werr.code, werr.reason);
		r = n < 0 ? n : mxv_req_reject(req, rej, (size_t)n);
		printf("server: rejected connect from %s: %s (code %u): %s%s%s\n", peer,
		       memxd_reject_code_name(werr.code), werr.code, werr.reason,
		       r ? ", and sending the reject failed: " : "", r ? strerror(-r) : "");
		fflush(stdout);
		return SERVE_REJECTED;
	}

	printf("server: session %u: hello from %s, volume %02x%02x%02x%02x...\n", nr, peer,
	       hi.volume_id[0], hi.volume_id[1], hi.volume_id[2], hi.volume_id[3]);
	memset(rg->buf, 0, PP_REGION_SIZE);
	memset(&wi, 0, sizeof(wi));
	wi.memory_total = PP_REGION_SIZE;
	wi.memory_free = PP_REGION_SIZE;
	wi.max_slab_shift = 20;
	random_bytes(wi.donor_id, sizeof(wi.donor_id));
	memcpy(wi.host_id, "pingpong", 8);	/* the wire wants a host identity */
	n = memxd_welcome_encode(wel, sizeof(wel), &wi);
	if (n < 0) {
		mxv_req_destroy(req);
		fprintf(stderr, "server: encode welcome: %s\n", strerror(-n));
		return SERVE_FAILED;
	}
	qp_attr_init(&attr, pp);
	r = mxv_req_accept(req, &attr, wel, (size_t)n, pp->timeout_ms, &conn, &res);
	if (r) {
		fprintf(stderr, "server: session %u: accept %s failed: %s (%s)\n", nr, peer,
			strerror(-r), res.reason);
		return SERVE_FAILED;
	}
	/* The connection keeps the hello it was accepted with. */
	pdata = mxv_conn_peer_pdata(conn, &plen);
	if (memxd_hello_decode(pdata, plen, &hi2, &werr) ||
	    memcmp(hi2.volume_id, hi.volume_id, sizeof(hi.volume_id))) {
		fprintf(stderr, "server: session %u: the connection lost its hello (%zu bytes)\n",
			nr, plen);
		r = -EPROTO;
		goto out_destroy_conn;
	}

	memset(&m, 0, sizeof(m));
	m.magic = PP_MSG_MAGIC;
	m.type = PP_REGION;
	m.addr = (uintptr_t)mxv_mr_addr(rg->mr);
	m.rkey = mxv_mr_rkey(rg->mr);
	m.len = PP_REGION_SIZE;
	r = pp_send(conn, pp, 0, &m);
	if (r)
		goto out_destroy_conn;

	r = pp_recv(pp, 0, PP_PING, &m);
	if (r)
		goto out_destroy_conn;
	if (strncmp(m.text, "ping", 4)) {
		fprintf(stderr, "server: PING carries '%s'\n", m.text);
		r = -EPROTO;
		goto out_destroy_conn;
	}
	printf("server: session %u: got '%s'\n", nr, m.text);

	r = pp_post_recv(conn, pp, 1);
	if (r)
		goto out_destroy_conn;
	memset(&m, 0, sizeof(m));
	m.magic = PP_MSG_MAGIC;
	m.type = PP_PONG;
	snprintf(m.text, sizeof(m.text), "pong %u", nr);
	r = pp_send(conn, pp, 1, &m);
	if (r)
		goto out_destroy_conn;

	r = pp_recv(pp, 1, PP_DONE, &m);
	if (r)
		goto out_destroy_conn;
	if (m.len != PP_REGION_SIZE) {
		fprintf(stderr, "server: DONE says %u bytes\n", m.len);
		r = -EPROTO;
		goto out_destroy_conn;
	}
	bad = pattern_check(rg->buf, PP_REGION_SIZE, m.seed, &first, &got, &want);
	if (bad) {
		printf("server: session %u: FAIL: %zu of %u bytes of the region differ from the "
		       "pattern (seed %#" PRIx64 "), first at offset %zu: %#04x, expected %#04x\n",
		       nr, bad, PP_REGION_SIZE, m.seed, first, got, want);
		r = -EIO;
		goto out_destroy_conn;
	}
	printf("server: session %u: PASS: region holds the client's pattern, all %u bytes "
	       "(seed %#" PRIx64 "); client reports %s\n", nr, PP_REGION_SIZE, m.seed,
	       m.status ? "FAIL" : "PASS");

	/* The client disconnects after DONE; wait a little for it to be polite. */
	n = mxv_conn_check(conn, 5000);
	if (n != -ECONNRESET)
		printf("server: session %u: no disconnect from the client (%s)\n", nr,
		       n ? strerror(-n) : "still connected");
	r = 0;

out_destroy_conn:
	mxv_conn_destroy(conn);
	pp_drain(pp);
	fflush(stdout);
	return r ? SERVE_FAILED : SERVE_OK;
}

static int run_server(const struct opts *o)
{
	struct pp pp = { .who = "server" };
	struct region rg = { 0 };
	struct mxv_listener *l = NULL;
	unsigned int sessions = 0, failed = 0, rejected = 0;
	int r;

	r = pp_setup(&pp, o);
	if (r)
		goto out;
	rg.buf = aligned_alloc(4096, PP_REGION_SIZE);
	if (!rg.buf) {
		r = -ENOMEM;
		goto out;
	}
	memset(rg.buf, 0, PP_REGION_SIZE);
	r = mxv_mr_reg(pp.ctx, rg.buf, PP_REGION_SIZE,
		       MXV_ACCESS_REMOTE_READ | MXV_ACCESS_REMOTE_WRITE, &rg.mr);
	if (r) {
		fprintf(stderr, "server: register region: %s\n", strerror(-r));
		goto out;
	}
	r = mxv_listen(o->bind, (uint16_t)o->port, 8, &l);
	if (r) {
		fprintf(stderr, "server: listen on %s:%u: %s\n", o->bind, o->port, strerror(-r));
		goto out;
	}
	printf("server: listening on %s:%u (device %s), serving %u client(s)\n", o->bind,
	       mxv_listener_port(l), mxv_ctx_device_name(pp.ctx), o->count);
	fflush(stdout);

	while (sessions < o->count) {
		r = serve_one(&pp, l, &rg, sessions + 1);
		if (r == SERVE_NO_REQUEST)
			break;
		if (r == SERVE_REJECTED) {
			rejected++;
			continue;
		}
		sessions++;
		if (r == SERVE_FAILED)
			failed++;
	}
	r = failed || sessions < o->count ? -EIO : 0;
	printf("server: %s: %u session(s), %u failed, %u connect(s) rejected\n",
	       r ? "FAIL" : "PASS", sessions, failed, rejected);

out:
	mxv_listener_destroy(l);
	mxv_mr_dereg(rg.mr);
	free(rg.buf);
	pp_teardown(&pp);
	return r ? 1 : 0;
}

/* ---- client --------------------------------------------------------------- */

static int run_client(const struct opts *o)
{
	struct pp pp = { .who = "client" };
	struct memxd_hello_info hi;
	struct memxd_welcome_info wi;
	struct memxd_wire_error werr;
	struct mxv_connect_param cp;
	struct mxv_cm_result res;
	struct mxv_qp_attr attr;
	struct mxv_conn *conn = NULL;
	struct mxv_batch *batch = NULL;
	struct mxv_mr *src_mr = NULL, *dst_mr = NULL;
	uint8_t *src = NULL, *dst = NULL;
	uint8_t hello[MEMX_CM_CONNECT_PDATA_MAX];
	char reason[MEMX_REJECT_REASON_LEN];
	struct pp_msg m, region;
	unsigned int posted, i;
	size_t bad = 0, first = 0;
	uint8_t got = 0, want = 0;
	uint16_t code;
	uint64_t need;
	int r, n;

	r = pp_setup(&pp, o);
	if (r)
		goto out;
	src = aligned_alloc(4096, PP_REGION_SIZE);
	dst = aligned_alloc(4096, PP_REGION_SIZE);
	if (!src || !dst) {
		r = -ENOMEM;
		goto out;
	}
	pattern_fill(src, PP_REGION_SIZE, o->seed);
	memset(dst, 0, PP_REGION_SIZE);
	/* Least privilege: the WRITE source needs no rights, the READ target local write. */
	r = mxv_mr_reg(pp.ctx, src, PP_REGION_SIZE, 0, &src_mr);
	if (!r)
		r = mxv_mr_reg(pp.ctx, dst, PP_REGION_SIZE, MXV_ACCESS_LOCAL_WRITE, &dst_mr);
	if (!r)
		r = mxv_batch_create(PP_WRITE_CHUNKS, &batch);
	if (r) {
		fprintf(stderr, "client: set up buffers: %s\n", strerror(-r));
		goto out;
	}

	memset(&hi, 0, sizeof(hi));
	hi.role = MEMX_ROLE_CLIENT;
	random_bytes(hi.volume_id, sizeof(hi.volume_id));
	n = memxd_hello_encode(hello, sizeof(hello), &hi);
	if (n < 0) {
		r = n;
		goto out;
	}
	memset(&cp, 0, sizeof(cp));
	cp.dst_ip = o->server;
	cp.port = (uint16_t)o->port;
	cp.src_ip = o->bind;
	cp.pdata = hello;
	cp.pdata_len = (size_t)n;
	cp.timeout_ms = pp.timeout_ms;
	qp_attr_init(&attr, &pp);
	r = mxv_connect(&cp, &attr, &conn, &res);
	if (r == -ECONNREFUSED && !memxd_reject_decode(res.pdata, res.pdata_len, &code, reason,
						      sizeof(reason))) {
		fprintf(stderr, "client: FAIL: server rejected us: %s (code %u): %s\n",
			memxd_reject_code_name(code), code, reason);
		goto out;
	}
	if (r) {
		fprintf(stderr, "client: FAIL: connect to %s:%u: %s (%s)\n", o->server, o->port,
			strerror(-r), res.reason);
		goto out;
	}
	r = memxd_welcome_decode(res.pdata, res.pdata_len, &wi, &werr);
	if (r) {
		fprintf(stderr, "client: FAIL: bad welcome (%zu bytes): %s\n", res.pdata_len,
			werr.reason);
		goto out;
	}
	printf("client: connected %s -> %s:%u, donor lends %" PRIu64 " bytes\n", o->bind,
	       o->server, o->port, wi.memory_total);

	r = pp_recv(&pp, 0, PP_REGION, &region);
	if (r)
		goto out;
	if (region.len != PP_REGION_SIZE) {
		fprintf(stderr, "client: FAIL: server region is %u bytes\n", region.len);
		r = -EPROTO;
		goto out;
	}

	/* Ping-pong: RECV for the PONG first, then the PING. */
	r = pp_post_recv(conn, &pp, 1);
	if (r)
		goto out;
	memset(&m, 0, sizeof(m));
	m.magic = PP_MSG_MAGIC;
	m.type = PP_PING;
	snprintf(m.text, sizeof(m.text), "ping from %d", (int)getpid());
	r = pp_send(conn, &pp, 0, &m);
	if (r)
		goto out;
	r = pp_recv(&pp, 1, PP_PONG, &m);
	if (r)
		goto out;
	if (strncmp(m.text, "pong", 4)) {
		fprintf(stderr, "client: FAIL: PONG carries '%s'\n", m.text);
		r = -EPROTO;
		goto out;
	}
	printf("client: message exchange OK (got '%s')\n", m.text);

	/* RDMA WRITE the pattern in chunks, chained and posted at once. */
	need = 0;
	for (i = 0; i < PP_WRITE_CHUNKS; i++) {
		uint32_t chunk = PP_REGION_SIZE / PP_WRITE_CHUNKS;

		pp.expect[WR_WRITE0 + i] = IBV_WC_RDMA_WRITE;
		r = mxv_batch_write(batch, src_mr, (size_t)i * chunk, chunk,
				    region.addr + (uint64_t)i * chunk, region.rkey, WR_WRITE0 + i,
				    0);
		if (r) {
			fprintf(stderr, "client: batch WRITE %u: %s\n", i, strerror(-r));
			goto out;
		}
		need |= BIT(WR_WRITE0 + i);
	}
	r = mxv_batch_post(conn, batch, &posted);
	if (r) {
		fprintf(stderr, "client: FAIL: post %u WRITEs: %s (%u posted)\n", PP_WRITE_CHUNKS,
			strerror(-r), posted);
		goto out;
	}
	r = pp_wait(&pp, need, "RDMA WRITE completions");
	if (r)
		goto out;

	/* RDMA READ it all back into a zeroed buffer. */
	pp.expect[WR_READ] = IBV_WC_RDMA_READ;
	r = mxv_post_read(conn, dst_mr, 0, PP_REGION_SIZE, region.addr, region.rkey, WR_READ);
	if (r) {
		fprintf(stderr, "client: FAIL: post READ: %s\n", strerror(-r));
		goto out;
	}
	r = pp_wait(&pp, BIT(WR_READ), "RDMA READ completion");
	if (r)
		goto out;
	if (o->corrupt) {
		dst[PP_CORRUPT_AT] ^= 0x5a;
		printf("client: --corrupt-readback: flipped byte %u of the read-back buffer\n",
		       PP_CORRUPT_AT);
	}
	bad = pattern_check(dst, PP_REGION_SIZE, o->seed, &first, &got, &want);
	if (bad)
		printf("client: FAIL: %zu of %u bytes read back differ (seed %#" PRIx64 "), "
		       "first at offset %zu: %#04x, expected %#04x\n", bad, PP_REGION_SIZE,
		       o->seed, first, got, want);
	else
		printf("client: PASS: wrote %u bytes by RDMA WRITE, read them back by RDMA READ, "
		       "all match (seed %#" PRIx64 ")\n", PP_REGION_SIZE, o->seed);

	memset(&m, 0, sizeof(m));
	m.magic = PP_MSG_MAGIC;
	m.type = PP_DONE;
	m.len = PP_REGION_SIZE;
	m.seed = o->seed;
	m.status = bad ? 1 : 0;
	r = pp_send(conn, &pp, 1, &m);
	if (r)
		goto out;

	/* Graceful close: DREQ, then wait for the server's answer. */
	n = mxv_conn_disconnect(conn);
	if (!n)
		n = mxv_conn_check(conn, 2000);
	if (n != -ECONNRESET)
		printf("client: disconnect not acknowledged by the server (%s)\n",
		       n ? strerror(-n) : "no DISCONNECTED event within 2 s");
	r = bad ? -EIO : 0;

out:
	if (r)
		printf("client: FAIL (%s)\n", strerror(r < 0 ? -r : EIO));
	mxv_conn_destroy(conn);
	mxv_batch_destroy(batch);
	mxv_mr_dereg(dst_mr);
	mxv_mr_dereg(src_mr);
	free(dst);
	free(src);
	pp_teardown(&pp);
	fflush(stdout);
	return r ? 1 : 0;
}

/* ---- main ----------------------------------------------------------------- */

static unsigned long parse_num(const char *s, const char *what, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > max) {
		fprintf(stderr, "verbs_pingpong: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = { .port = MEMX_DEFAULT_PORT, .count = 1, .timeout_s = 30 };
	const char *env;
	int i;

	if (argc < 2)
		usage();
	o.mode = argv[1];
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--corrupt-readback")) {
			o.corrupt = true;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--bind"))
			o.bind = v;
		else if (!strcmp(a, "--server"))
			o.server = v;
		else if (!strcmp(a, "--port"))
			o.port = (unsigned int)parse_num(v, "port", 65535);
		else if (!strcmp(a, "--count"))
			o.count = (unsigned int)parse_num(v, "count", 100000);
		else if (!strcmp(a, "--timeout"))
			o.timeout_s = (int)parse_num(v, "timeout", 3600);
		else if (!strcmp(a, "--seed"))
			o.seed = parse_num(v, "seed", ULONG_MAX);
		else
			usage();
		i++;
	}
	env = getenv("MEMX_CORRUPT_READBACK");
	if (env && *env && strcmp(env, "0"))
		o.corrupt = true;
	if (!o.bind || !o.timeout_s || !o.count)
		usage();
	if (getenv("MXV_DEBUG"))
		mxv_set_debug(mxv_debug_print, (void *)o.mode);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(o.mode, "server")) {
		if (o.server)
			usage();
		return run_server(&o);
	}
	if (!strcmp(o.mode, "client")) {
		if (!o.server)
			usage();
		while (!o.seed)
			random_bytes(&o.seed, sizeof(o.seed));
		/* Backstop: every wait is bounded, but nothing may hang a test run. */
		alarm((unsigned int)o.timeout_s * 3 + 10);
		return run_client(&o);
	}
	usage();
	return 2;
}
