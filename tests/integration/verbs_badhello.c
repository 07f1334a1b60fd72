// SPDX-License-Identifier: GPL-2.0
/*
 * verbs_badhello: a listener must refuse every malformed hello with a reason.
 *
 *   verbs_badhello --bind IP --server IP [--port P] [--timeout S]
 *
 * Theory of operation. Runs against a listening `verbs_pingpong server`. Each
 * case starts from a well-formed hello (memxd_hello_encode), breaks one thing,
 * connects with it through libmxv and expects -ECONNREFUSED carrying a memx
 * reject whose code is the one memxd_hello_decode gives for that fault and
 * whose reason is not empty. rdma_cm pads connect private data with zeros to
 * 56 bytes, the hello's size, so faults are chosen to survive the padding: a
 * hello cut short is indistinguishable from a whole one with zero fields, and
 * is not tried; an empty private data reads as a zero magic. Private data over 56 bytes must be
 * refused by libmxv itself with -EINVAL, quickly, before any network traffic.
 * Prints one line per case; exit 0 only if every case behaved.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mxv.h"
#include "common/wire.h"

#define LOCAL_REFUSAL_MAX_MS	200

/* Connect private data being built: a hello (which fills it) and the length sent. */
struct hb_pdata {
	struct memx_hello h;
	size_t len;
};

struct hb_case {
	const char *name;
	void (*mutate)(struct hb_pdata *p);
	uint16_t expect;	/* enum memx_reject_code */
};

static void set_magic(struct hb_pdata *p)
{
	p->h.magic = htole32(0xdeadbeefU);
}

static void set_version(struct hb_pdata *p)
{
	p->h.version = htole16(MEMX_PROTO_VERSION + 1);
}

static void set_short_length(struct hb_pdata *p)
{
	p->h.length = htole16(sizeof(p->h) - 8);
}

static void set_long_length(struct hb_pdata *p)
{
	p->h.length = htole16(sizeof(p->h) + 8);
	p->len = MEMX_CM_CONNECT_PDATA_MAX;
}

static void set_reserved0(struct hb_pdata *p)
{
	p->h.join_port = htole16(1);	/* a port without the join role */
}

static void set_reserved1(struct hb_pdata *p)
{
	p->h.reserved0 = htole32(1U << 31);
}

static void set_role_zero(struct hb_pdata *p)
{
	p->h.role = htole16(0);
}

static void set_role_unknown(struct hb_pdata *p)
{
	p->h.role = htole16(99);
}

static void set_role_probe(struct hb_pdata *p)
{
	p->h.role = htole16(MEMX_ROLE_PROBE);
}

static void set_flags(struct hb_pdata *p)
{
	p->h.flags = htole32(0x80000000U);
}

static void set_data_key(struct hb_pdata *p)
{
	p->h.role = htole16(MEMX_ROLE_DATA);	/* admitted by a ticket: it names no key */
	p->h.key_id = htole32(1);
}

static void make_empty(struct hb_pdata *p)
{
	memset(&p->h, 0, sizeof(p->h));
	p->len = 0;
}

static const struct hb_case cases[] = {
	{ "bad magic", set_magic, MEMX_REJ_BAD_MAGIC },
	{ "wrong version", set_version, MEMX_REJ_VERSION },
	{ "declared length too short", set_short_length, MEMX_REJ_LENGTH },
	{ "declared length too long", set_long_length, MEMX_REJ_LENGTH },
	{ "join port without the join role", set_reserved0, MEMX_REJ_MALFORMED },
	{ "non-zero reserved0", set_reserved1, MEMX_REJ_MALFORMED },
	{ "role 0", set_role_zero, MEMX_REJ_ROLE },
	{ "unknown role 99", set_role_unknown, MEMX_REJ_ROLE },
	{ "probe role (well-formed, refused by this listener)", set_role_probe, MEMX_REJ_ROLE },
	{ "unknown flag bit", set_flags, MEMX_REJ_MALFORMED },
	{ "data connection naming a key", set_data_key, MEMX_REJ_MALFORMED },
	{ "empty private data", make_empty, MEMX_REJ_BAD_MAGIC },
};

#define ARRAY_SIZE_CASES (sizeof(cases) / sizeof(cases[0]))

struct hb {
	const char *bind;
	const char *server;
	unsigned int port;
	int timeout_ms;
	struct mxv_ctx *ctx;
	struct mxv_cq *cq;
};

static void mxv_debug_print(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	fprintf(stderr, "badhello: mxv: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hb_connect(struct hb *hb, const void *pdata, size_t len, struct mxv_cm_result *res)
{
	struct mxv_connect_param cp;
	struct mxv_qp_attr attr;
	struct mxv_conn *conn = NULL;
	int r;

	memset(&attr, 0, sizeof(attr));
	attr.send_cq = hb->cq;
	attr.recv_cq = hb->cq;
	attr.max_send_wr = 4;
	attr.max_recv_wr = 4;
	memset(&cp, 0, sizeof(cp));
	cp.dst_ip = hb->server;
	cp.port = (uint16_t)hb->port;
	cp.src_ip = hb->bind;
	cp.pdata = pdata;
	cp.pdata_len = len;
	cp.timeout_ms = hb->timeout_ms;
	r = mxv_connect(&cp, &attr, &conn, res);
	if (!r) {
		/* Accepted: not what any case wants. Leave politely. */
		mxv_conn_destroy(conn);
	}
	return r;
}

/* Runs one malformed-hello case. Returns true if it behaved. */
static bool run_case(struct hb *hb, const struct hb_case *c)
{
	uint8_t buf[MEMX_CM_CONNECT_PDATA_MAX];
	char reason[MEMX_REJECT_REASON_LEN];
	struct memxd_hello_info hi;
	struct mxv_cm_result res;
	struct hb_pdata p;
	uint16_t code = 0;
	size_t len;
	int r;

	memset(&p, 0, sizeof(p));
	memset(&hi, 0, sizeof(hi));
	hi.role = MEMX_ROLE_CLIENT;
	memset(hi.volume_id, 0x42, sizeof(hi.volume_id));
	r = memxd_hello_encode(&p.h, sizeof(p.h), &hi);
	if (r < 0) {
		printf("badhello: %s: FAIL: cannot encode the base hello: %s\n", c->name,
		       strerror(-r));
		return false;
	}
	p.len = (size_t)r;
	c->mutate(&p);
	memcpy(buf, &p.h, sizeof(p.h));
	len = p.len;

	r = hb_connect(hb, buf, len, &res);
	if (r != -ECONNREFUSED) {
		printf("badhello: %s: FAIL: connect returned %d (%s), expected -ECONNREFUSED%s%s\n",
		       c->name, r, r ? strerror(-r) : "accepted", res.reason[0] ? ": " : "",
		       res.reason);
		return false;
	}
	if (memxd_reject_decode(res.pdata, res.pdata_len, &code, reason, sizeof(reason))) {
		printf("badhello: %s: FAIL: refused without a memx reject (%zu bytes of private "
		       "data; %s)\n", c->name, res.pdata_len, res.reason);
		return false;
	}
	if (code != c->expect || !reason[0]) {
		printf("badhello: %s: FAIL: rejected with code %s (%u), expected %s (%u); "
		       "reason \"%s\"\n", c->name, memxd_reject_code_name(code), code,
		       memxd_reject_code_name(c->expect), c->expect, reason);
		return false;
	}
	printf("badhello: %s: OK: rejected, code %s (%u): \"%s\"\n", c->name,
	       memxd_reject_code_name(code), code, reason);
	return true;
}

/* Private data over the CM limit must be refused locally, fast, with -EINVAL. */
static bool run_oversize(struct hb *hb, size_t len)
{
	uint8_t buf[MXV_PDATA_MAX];
	struct mxv_cm_result res;
	struct memxd_hello_info hi;
	int64_t t0, dt;
	int r;

	memset(buf, 0, sizeof(buf));
	memset(&hi, 0, sizeof(hi));
	hi.role = MEMX_ROLE_CLIENT;
	memxd_hello_encode(buf, sizeof(buf), &hi);
	t0 = now_ms();
	r = hb_connect(hb, buf, len, &res);
	dt = now_ms() - t0;
	if (r != -EINVAL) {
		printf("badhello: %zu-byte private data: FAIL: connect returned %d (%s), "
		       "expected -EINVAL\n", len, r, r ? strerror(-r) : "accepted");
		return false;
	}
	if (dt > LOCAL_REFUSAL_MAX_MS) {
		printf("badhello: %zu-byte private data: FAIL: -EINVAL took %lld ms: was the "
		       "network involved?\n", len, (long long)dt);
		return false;
	}
	printf("badhello: %zu-byte private data: OK: refused locally with -EINVAL (%s)\n", len,
	       res.reason);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: verbs_badhello --bind IP --server IP [--port P] [--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct hb hb = { .port = MEMX_DEFAULT_PORT, .timeout_ms = 10000 };
	unsigned int failed = 0, total = 0;
	unsigned long v;
	char *end;
	size_t i;
	int r;

	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < (size_t)argc ? argv[i + 1] : NULL;

		if (!val)
			usage();
		if (!strcmp(a, "--bind")) {
			hb.bind = val;
		} else if (!strcmp(a, "--server")) {
			hb.server = val;
		} else if (!strcmp(a, "--port") || !strcmp(a, "--timeout")) {
			errno = 0;
			v = strtoul(val, &end, 0);
			if (errno || !*val || *end || v == 0 || v > 65535)
				usage();
			if (a[2] == 'p')
				hb.port = (unsigned int)v;
			else
				hb.timeout_ms = (int)v * 1000;
		} else {
			usage();
		}
		i++;
	}
	if (!hb.bind || !hb.server)
		usage();
	if (getenv("MXV_DEBUG"))
		mxv_set_debug(mxv_debug_print, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Backstop: every connect is bounded, but nothing may hang a test run. */
	alarm((unsigned int)(hb.timeout_ms / 1000) * (unsigned int)(ARRAY_SIZE_CASES + 2) + 10);

	r = mxv_ctx_open(hb.bind, &hb.ctx);
	if (r) {
		fprintf(stderr, "badhello: no RDMA device for %s: %s\n", hb.bind, strerror(-r));
		return 1;
	}
	r = mxv_cq_create(hb.ctx, 16, &hb.cq);
	if (r) {
		fprintf(stderr, "badhello: create CQ: %s\n", strerror(-r));
		mxv_ctx_close(hb.ctx);
		return 1;
	}

	for (i = 0; i < ARRAY_SIZE_CASES; i++) {
		total++;
		failed += !run_case(&hb, &cases[i]);
	}
	total += 2;
	failed += !run_oversize(&hb, MEMX_CM_CONNECT_PDATA_MAX + 1);
	failed += !run_oversize(&hb, MXV_PDATA_MAX);

	printf("badhello: %s: %u of %u checks passed\n", failed ? "FAIL" : "PASS", total - failed,
	       total);
	mxv_cq_destroy(hb.cq);
	mxv_ctx_close(hb.ctx);
	return failed ? 1 : 0;
}
