// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: a detached volume's state, kept by its donors.
 *
 * At a detach (the device removed, so nothing changes any more) the engine
 * seals its state file's content (state_seal.c: the cluster key and the
 * volume's name make the key, its epoch is the generation) and, on each live
 * donor that holds a slab of the volume, asks for one more slab, RDMA WRITEs
 * the sealed bytes there over its copy connection and names the slab with
 * MEMX_MSG_STATE_KEEP. The donor keeps it with the volume, under its lease.
 *
 * An engine started with --attach on a host without the state file opens a
 * control connection of its own to each --donor, flagged MEMX_HELLO_F_STATE
 * and naming the state's tag: the donor proves the key in its welcome, we in
 * our MEMX_MSG_AUTH (which seals the tag), as for any control connection.
 * MEMX_MSG_STATE_READ asks the size, then pieces that the donor RDMA WRITEs
 * into a buffer of ours. Every copy is opened: one that does not
 * authenticate is refused and said so; of those that do, the highest epoch
 * wins (a donor that hands out an older copy, a replay, loses to any that
 * has the newer one). A donor that does not answer is given up after
 * MEMXD_MSG_TIMEOUT_MS a message. The state file is written from the winner,
 * and the --attach path goes on as if it had been copied here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "client/client.h"
#include "client/handoff.h"
#include "client/state.h"
#include "client/state_hdr.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/state_seal.h"

/*
 * The key that seals and opens the state: --state-key's, never by default.
 * The donors hold the key that connects (they check it), so a state sealed
 * under it would be theirs to open: the volume's secret with it.
 */
static const struct memxd_key *state_key(const struct memxd_client *c)
{
	return memxd_keyring_find(&c->opt.trust.kr, c->opt.state_key_id);
}

/* ---- at a detach: leave the sealed state on the donors -------------------- */

static unsigned int slab_shift_for(size_t bytes)
{
	unsigned int shift = MEMX_MIN_SLAB_SHIFT;

	while ((1ULL << shift) < bytes)
		shift++;
	return shift;
}

/* One donor: a slab, the sealed bytes in it, then STATE_KEEP (generation gen). Returns 0 or -errno. */
static int store_on(struct memxd_client *c, struct memxd_donor *d, const uint8_t *sealed,
		    size_t len, unsigned int shift, uint64_t gen,
		    const uint8_t tag[MEMXD_STATE_TAG_LEN])
{
	struct memxd_msg_info req = { .type = MEMX_MSG_ALLOC_SLAB }, reply;
	uint32_t handle;
	int r;

	if (d->welcome.max_slab_shift < shift)
		return -EFBIG;
	req.alloc.slab_bytes = 1ULL << shift;
	req.alloc.slab_index = c->map.nr_slabs;	/* past the volume's: for the donor's log */
	r = memxd_donor_call(c, d, &req, &reply);
	if (!r && (reply.type != MEMX_MSG_ALLOC_REPLY || reply.grant.slab_bytes < len))
		r = reply.status ? -(int)reply.status : -EPROTO;
	if (r)
		return r;
	handle = reply.grant.handle;
	for (size_t off = 0; !r && off < len; off += MEMXD_COPY_CHUNK) {
		uint32_t n = len - off < MEMXD_COPY_CHUNK ? (uint32_t)(len - off) : MEMXD_COPY_CHUNK;

		memcpy(c->bounce, sealed + off, n);
		r = memxd_ctrl_rdma_at(c, d, true, 0, reply.grant.remote_addr + off,
				       reply.grant.rkey, n);
	}
	if (!r) {
		req = (struct memxd_msg_info){ .type = MEMX_MSG_STATE_KEEP };
		memcpy(req.state.tag, tag, MEMXD_STATE_TAG_LEN);
		req.state.epoch = gen;
		req.state.handle = handle;
		req.state.length = (uint32_t)len;
		r = memxd_donor_call(c, d, &req, &reply);
		if (!r && (reply.type != MEMX_MSG_STATE_REPLY || reply.status))
			r = reply.status ? -(int)reply.status : -EPROTO;
	}
	if (r && memxd_donor_usable(atomic_load(&d->state))) {
		req = (struct memxd_msg_info){ .type = MEMX_MSG_FREE_SLAB,
					       .free.handle = handle };
		memxd_donor_call(c, d, &req, &reply);
	}
	return r;
}

/* Whether the state may be left on the donors: a key to seal it that they lack. */
static bool can_seal(struct memxd_client *c, bool say)
{
	if (c->opt.trust.insecure) {
		if (say)
			memxd_warn("volume %s: --insecure: its state is not left on the donors "
				   "(that needs a cluster key to seal it with); attach it where "
				   "%s/client-%s.state is", c->opt.name, MEMXD_RUN_DIR, c->opt.name);
		return false;
	}
	if (!c->opt.state_key_id) {
		if (say)
			memxd_info("volume %s: no --state-key: its state is not left on the donors "
				   "(they hold the key that connects, so they could open it); attach "
				   "it where %s/client-%s.state is", c->opt.name, MEMXD_RUN_DIR,
				   c->opt.name);
		return false;
	}
	if (!state_key(c)) {
		if (say)
			memxd_warn("volume %s: --state-key %u is not in %s: its state is not left on "
				   "the donors; attach it where %s/client-%s.state is", c->opt.name,
				   c->opt.state_key_id, c->opt.trust.key_file, MEMXD_RUN_DIR,
				   c->opt.name);
		return false;
	}
	return true;
}

bool memxd_handoff_possible(struct memxd_client *c)
{
	return can_seal(c, false);
}

void memxd_handoff_tag(struct memxd_client *c, uint8_t tag[MEMXD_STATE_TAG_LEN])
{
	memxd_state_tag(state_key(c), c->opt.name, tag);
}

size_t memxd_handoff_sealed_bytes(const struct memxd_client *c)
{
	return memxd_state_sealed_len(c->state_bytes);
}

int memxd_handoff_keep(struct memxd_client *c, uint64_t gen, uint8_t *buf, bool loud,
		       const char *why)
{
	const struct memxd_key *k = state_key(c);
	uint8_t tag[MEMXD_STATE_TAG_LEN];
	size_t len = memxd_state_sealed_len(c->state_bytes);
	unsigned int stored = 0, tried = 0, shift = slab_shift_for(len);
	uint64_t t0 = memxd_now_ns();
	uint8_t *sealed = buf;

	if (!gen)
		return 0;
	if (len > UINT32_MAX || shift > MEMX_MAX_SLAB_SHIFT) {
		memxd_warn("volume %s: its state (%zu bytes) is too large to leave on the donors",
			   c->opt.name, c->state_bytes);
		return 0;
	}
	if (!sealed)
		sealed = malloc(len);
	if (!sealed) {
		memxd_warn("volume %s: no memory to seal its state for the donors", c->opt.name);
		return 0;
	}
	memxd_state_seal(k, c->opt.name, gen, c->state_base, c->state_bytes, sealed);
	memxd_state_tag(k, c->opt.name, tag);
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		int r;

		if (!d->slabs || !memxd_donor_usable(atomic_load(&d->state)))
			continue;
		tried++;
		r = store_on(c, d, sealed, len, shift, gen, tag);
		if (r) {
			memxd_warn("volume %s: donor %s did not take its sealed state: %s",
				   c->opt.name, d->name, strerror(-r));
			continue;
		}
		d->rest_kept = true;
		stored++;
	}
	if (sealed != buf)
		free(sealed);
	if (loud || stored < tried)
		memxd_info("volume %s: %s: sealed state of generation %" PRIu64 ".%" PRIu64 " (%zu "
			   "bytes) left on %u of %u donor(s) holding its slabs in %" PRIu64 " ms",
			   c->opt.name, why, (uint64_t)MEMX_STATE_GEN_EPOCH(gen),
			   gen & MEMX_STATE_SEQ_MAX, len, stored, tried,
			   (uint64_t)((memxd_now_ns() - t0) / MEMXD_NS_PER_MS));
	else
		memxd_dbg(MEMXD_DBG_CTRL, "volume %s: %s: sealed state of generation %" PRIu64 ".%"
			  PRIu64 " left on %u donor(s) in %" PRIu64 " ms", c->opt.name, why,
			  (uint64_t)MEMX_STATE_GEN_EPOCH(gen), gen & MEMX_STATE_SEQ_MAX, stored,
			  (uint64_t)((memxd_now_ns() - t0) / MEMXD_NS_PER_MS));
	return (int)stored;
}

int memxd_handoff_store(struct memxd_client *c)
{
	if (!can_seal(c, true))
		return 0;
	return memxd_handoff_keep(c, memxd_rest_next_gen(c), c->rest.sealed, true, "detached");
}

/* ---- at an attach: the newest sealed state from the donors ---------------- */

/* A state reader's connection to one donor: its message slots and the buffer the pieces land in. */
struct reader {
	struct memxd_client *c;
	const char *name;		/* "host:port" */
	struct mxv_cq *cq;
	struct mxv_conn *conn;
	uint8_t *msgbuf;		/* 2 receive slots, 1 send slot */
	struct mxv_mr *msg_mr;
	struct mxv_mr *buf_mr;		/* the sealed bytes land here */
	uint32_t seq;
};

#define READER_RECVS	2

static int reader_prepost(struct mxv_conn *conn, void *arg)
{
	struct reader *rd = arg;

	for (unsigned int i = 0; i < READER_RECVS; i++) {
		int r = mxv_post_recv(conn, rd->msg_mr, i * MEMX_MSG_SIZE, MEMX_MSG_SIZE, i);

		if (r)
			return r;
	}
	return 0;
}

/* Sends req and waits (bounded) for the reply of its seq. Returns 0 or -errno. */
static int reader_call(struct reader *rd, struct memxd_msg_info *req, struct memxd_msg_info *reply)
{
	uint64_t deadline = memxd_now_ns() + MEMXD_MSG_TIMEOUT_MS * MEMXD_NS_PER_MS;
	struct memxd_wire_error err;
	int r;

	req->seq = ++rd->seq;
	r = memxd_msg_encode(rd->msgbuf + READER_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE, req);
	if (r < 0)
		return r;
	r = mxv_post_send(rd->conn, rd->msg_mr, READER_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
			  READER_RECVS);
	if (r)
		return r;
	for (;;) {
		uint64_t now = memxd_now_ns();
		struct ibv_wc wc[4];
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = mxv_cq_wait(rd->cq, wc, 4, (int)((deadline - now) / MEMXD_NS_PER_MS) + 1);
		if (n == -ETIMEDOUT || n == -EINTR)
			continue;
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			uint64_t slot = wc[i].wr_id;
			bool mine;

			if (wc[i].qp_num != mxv_conn_qp_num(rd->conn))
				continue;	/* a flush of an earlier donor's */
			if (wc[i].status != IBV_WC_SUCCESS)
				return mxv_wc_errno(wc[i].status);
			if (wc[i].opcode != IBV_WC_RECV || slot >= READER_RECVS)
				continue;
			r = memxd_msg_decode(rd->msgbuf + slot * MEMX_MSG_SIZE, wc[i].byte_len,
					     reply, &err);
			mine = !r && reply->seq == req->seq;
			mxv_post_recv(rd->conn, rd->msg_mr, slot * MEMX_MSG_SIZE, MEMX_MSG_SIZE, slot);
			if (r) {
				memxd_err("donor %s: bad message: %s", rd->name, err.reason);
				return -EPROTO;
			}
			if (mine)
				return 0;
		}
	}
}

/*
 * Connects as a state reader and proves the key (the welcome must prove the
 * donor's first). Returns 0 or -errno.
 */
static int reader_connect(struct reader *rd, const char *host, uint16_t port,
			  const uint8_t tag[MEMXD_STATE_TAG_LEN])
{
	struct memxd_client *c = rd->c;
	const struct memxd_key *k = &c->opt.trust.kr.key[0];
	struct memxd_hello_info hello = { .role = MEMX_ROLE_CLIENT, .flags = MEMX_HELLO_F_STATE,
					  .key_id = k->id };
	uint8_t pdata[sizeof(struct memx_hello)], session[MEMXD_KEY_BYTES];
	uint8_t nothing[MEMX_SECRET_LEN];
	struct mxv_qp_attr attr = {
		.send_cq = rd->cq, .recv_cq = rd->cq, .max_send_wr = 4,
		.max_recv_wr = READER_RECVS, .prepost = reader_prepost, .prepost_arg = rd,
	};
	struct mxv_connect_param p = {
		.dst_ip = host, .port = port, .src_ip = c->opt.bind, .pdata = pdata,
		.pdata_len = sizeof(pdata), .timeout_ms = MEMXD_CM_TIMEOUT_MS,
	};
	struct memxd_msg_info req = { .type = MEMX_MSG_AUTH }, reply;
	struct memxd_welcome_info wi;
	struct memxd_wire_error err;
	struct mxv_cm_result res;
	int r;

	memcpy(hello.volume_id, tag, MEMXD_STATE_TAG_LEN);
	memxd_auth_random(hello.token, sizeof(hello.token));
	memxd_hello_encode(pdata, sizeof(pdata), &hello);
	r = memxd_connect_to_donor(rd->name, &p, &attr, &rd->conn, &res);
	if (r)
		return r;
	if (res.pdata_len < sizeof(struct memx_welcome) ||
	    memxd_welcome_decode(res.pdata, res.pdata_len, &wi, &err)) {
		memxd_err("donor %s: bad welcome", rd->name);
		return -EPROTO;
	}
	if (!memxd_auth_welcome_ok(k, pdata, res.pdata)) {
		memxd_err("donor %s did not prove it holds key %u: not asking it for the state",
			  rd->name, k->id);
		return -EACCES;
	}
	memxd_auth_session(k, pdata, res.pdata, session);
	memxd_auth_seal(session, MEMXD_SEAL_CLIENT, tag, req.auth.sealed);
	r = reader_call(rd, &req, &reply);
	if (!r && (reply.type != MEMX_MSG_AUTH_REPLY || reply.status))
		r = reply.status ? -(int)reply.status : -EPROTO;
	if (!r && memxd_auth_open(session, MEMXD_SEAL_DONOR, reply.auth.sealed, nothing))
		r = -EACCES;
	sodium_memzero(session, sizeof(session));
	if (r)
		memxd_err("donor %s refused our credentials as a state reader: %s", rd->name,
			  strerror(-r));
	return r;
}

/*
 * Reads the sealed state the donor keeps under tag into rd->buf_mr (at most
 * max bytes). Returns its length, 0 when it keeps none (*floor then says the
 * newest generation it knows to be stale, 0 if none), or -errno.
 */
static long reader_fetch(struct reader *rd, size_t max, uint64_t *floor)
{
	struct memxd_msg_info req = { .type = MEMX_MSG_STATE_READ }, reply;
	uint8_t *buf = mxv_mr_addr(rd->buf_mr);
	uint32_t len;
	int r;

	r = reader_call(rd, &req, &reply);
	if (!r && reply.type != MEMX_MSG_STATE_REPLY)
		r = -EPROTO;
	if (!r && reply.status == ENOENT) {
		*floor = reply.state.epoch;	/* what it knows to be stale, if anything */
		return 0;
	}
	if (!r && reply.status)
		r = -(int)reply.status;
	if (r)
		return r;
	len = reply.state.length;
	if (len > max || len < memxd_state_sealed_len(0)) {
		memxd_err("donor %s: its state copy of %u bytes cannot be this volume's (at most "
			  "%zu): refused", rd->name, len, max);
		return -EPROTO;
	}
	for (uint32_t off = 0; off < len; off += MEMX_STATE_PIECE) {
		req = (struct memxd_msg_info){ .type = MEMX_MSG_STATE_READ };
		req.state.offset = off;
		req.state.length = len - off < MEMX_STATE_PIECE ? len - off : MEMX_STATE_PIECE;
		req.state.remote_addr = (uintptr_t)(buf + off);
		req.state.rkey = mxv_mr_rkey(rd->buf_mr);
		r = reader_call(rd, &req, &reply);
		if (!r && (reply.type != MEMX_MSG_STATE_REPLY || reply.status))
			r = reply.status ? -(int)reply.status : -EPROTO;
		if (!r && reply.state.length != len)
			r = -ESTALE;	/* it changed under us */
		if (r)
			return r;
	}
	return len;
}

static void reader_close(struct reader *rd)
{
	mxv_conn_destroy(rd->conn);
	rd->conn = NULL;
	mxv_mr_dereg(rd->msg_mr);
	rd->msg_mr = NULL;
	free(rd->msgbuf);
	rd->msgbuf = NULL;
}

/* Writes the state file whole under another name, then renames it over the file's. */
static int write_state_file(struct memxd_client *c, const void *plain, size_t len)
{
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16], tmp[sizeof(path) + 8];
	int fd, r = 0;

	memxd_make_run_dir();
	memxd_state_file_path(c, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return memxd_log_errno(-errno, "volume %s: create %s", c->opt.name, tmp);
	for (size_t off = 0; !r && off < len;) {
		ssize_t n = write(fd, (const uint8_t *)plain + off, len - off);

		if (n <= 0)
			r = -(n < 0 ? errno : EIO);
		else
			off += (size_t)n;
	}
	close(fd);
	if (!r && rename(tmp, path))
		r = -errno;
	if (r) {
		unlink(tmp);
		return memxd_log_errno(r, "volume %s: write %s", c->opt.name, path);
	}
	return 0;
}

int memxd_handoff_fetch(struct memxd_client *c, uint64_t newer_than)
{
	const struct memxd_key *k = state_key(c);
	size_t plain_max = memxd_state_file_bytes(c), sealed_max = memxd_state_sealed_len(plain_max);
	uint8_t tag[MEMXD_STATE_TAG_LEN], *sealed = NULL, *plain = NULL, *best = NULL;
	unsigned int had = 0, refused = 0, answered = 0;
	uint64_t best_gen = 0, floor = 0, t0 = memxd_now_ns();
	struct mxv_ctx *ctx = NULL;
	struct mxv_cq *cq = NULL;
	struct mxv_mr *buf_mr = NULL;
	char best_from[MEMXD_HOST_MAX + 8] = "", floor_from[MEMXD_HOST_MAX + 8] = "";
	long best_len = 0;
	int r;

	if (c->opt.trust.insecure) {
		memxd_warn("volume %s: --insecure: no state is asked of the donors (a state on the "
			   "donors needs a cluster key to seal it)", c->opt.name);
		return -ENOENT;
	}
	if (!c->opt.state_key_id)
		return -ENOKEY;		/* none was left there (memxd_handoff_store) */
	if (!k) {
		memxd_err("volume %s: --state-key %u is not in %s: cannot open a state from the "
			  "donors", c->opt.name, c->opt.state_key_id, c->opt.trust.key_file);
		return -ENOKEY;
	}
	memxd_state_tag(k, c->opt.name, tag);
	r = mxv_ctx_open(c->opt.bind, &ctx);
	if (!r)
		r = mxv_cq_create(ctx, 16, &cq);
	if (r) {
		memxd_log_errno(r, "volume %s: RDMA device for %s", c->opt.name, c->opt.bind);
		goto out;
	}
	sealed = aligned_alloc(4096, (sealed_max + 4095) & ~(size_t)4095);
	plain = malloc(plain_max);
	best = malloc(plain_max);
	if (!sealed || !plain || !best) {
		r = memxd_log_errno(-ENOMEM, "volume %s: buffers for its state", c->opt.name);
		goto out;
	}
	r = mxv_mr_reg(ctx, sealed, sealed_max, MXV_ACCESS_REMOTE_WRITE, &buf_mr);
	if (r) {
		memxd_log_errno(r, "volume %s: register the state buffer", c->opt.name);
		goto out;
	}
	for (unsigned int i = 0; i < c->opt.nr_donors; i++) {
		char name[MEMXD_HOST_MAX + 8];
		struct reader rd = { .c = c, .name = name, .cq = cq, .buf_mr = buf_mr };
		uint64_t gen = 0, its_floor = 0;
		long len, n;

		snprintf(name, sizeof(name), "%s:%u", c->opt.donor_host[i], c->opt.donor_port[i]);
		rd.msgbuf = calloc(READER_RECVS + 1, MEMX_MSG_SIZE);
		if (!rd.msgbuf || mxv_mr_reg(ctx, rd.msgbuf, (READER_RECVS + 1) * MEMX_MSG_SIZE,
					     MXV_ACCESS_LOCAL_WRITE, &rd.msg_mr)) {
			reader_close(&rd);
			continue;
		}
		len = reader_connect(&rd, c->opt.donor_host[i], c->opt.donor_port[i], tag);
		if (!len)
			len = reader_fetch(&rd, sealed_max, &its_floor);
		reader_close(&rd);
		if (len < 0) {
			memxd_warn("volume %s: donor %s: no state from it: %s", c->opt.name, name,
				   strerror((int)-len));
			continue;
		}
		answered++;
		if (its_floor > floor) {
			floor = its_floor;
			strcpy(floor_from, name);
		}
		if (!len)
			continue;
		had++;
		n = memxd_state_open_sealed(k, c->opt.name, sealed, (size_t)len,
					    plain, plain_max, &gen);
		/* A generation is its engine's epoch and a count (proto.h). */
		if (n >= 0 && ((size_t)n < sizeof(struct state_hdr) ||
			       ((struct state_hdr *)plain)->epoch != MEMX_STATE_GEN_EPOCH(gen)))
			n = -EPROTO;
		if (n < 0) {
			refused++;
			memxd_err("volume %s: donor %s handed out a state copy that %s: refused",
				  c->opt.name, name, n == -EACCES ? "does not authenticate "
				  "(altered, forged, or sealed under another key or name)" :
				  n == -ENOKEY ? "is not sealed under our state key" :
				  "is not a sealed state of this volume's size");
			continue;
		}
		memxd_info("volume %s: donor %s keeps its sealed state of generation %" PRIu64
			   ".%" PRIu64, c->opt.name, name, (uint64_t)MEMX_STATE_GEN_EPOCH(gen),
			   gen & MEMX_STATE_SEQ_MAX);
		if (gen > best_gen) {
			uint8_t *t = best;

			best = plain;
			plain = t;
			best_gen = gen;
			best_len = n;
			strcpy(best_from, name);
		}
	}
	if (best_len && best_gen <= floor) {
		memxd_err("volume %s: its newest state on the donors (generation %" PRIu64 ".%"
			  PRIu64 ", from %s) is stale: donor %s knows the volume changed after it "
			  "(generation %" PRIu64 ".%" PRIu64 "); only its state file can attach it",
			  c->opt.name, (uint64_t)MEMX_STATE_GEN_EPOCH(best_gen),
			  best_gen & MEMX_STATE_SEQ_MAX, best_from, floor_from,
			  (uint64_t)MEMX_STATE_GEN_EPOCH(floor), floor & MEMX_STATE_SEQ_MAX);
		r = -ESTALE;
		goto out;
	}
	if (!best_len || MEMX_STATE_GEN_EPOCH(best_gen) <= newer_than) {
		if (newer_than)
			memxd_info("volume %s: no donor holds a state newer than the state file's "
				   "(epoch %" PRIu64 "; %u of %u donor(s) had one, %u refused)",
				   c->opt.name, newer_than, had, c->opt.nr_donors, refused);
		else
			memxd_err("volume %s: none of its %u donor(s) holds a sealed state of it "
				  "that opens (%u answered, %u had one, %u refused)%s", c->opt.name,
				  c->opt.nr_donors, answered, had, refused, floor ?
				  "; the last one was dropped because the volume changed after it: "
				  "only its state file can attach it" : "");
		r = -ENOENT;
		goto out;
	}
	r = write_state_file(c, best, (size_t)best_len);
	if (!r)
		memxd_info("volume %s: state file %s from the sealed state of generation %" PRIu64
			   ".%" PRIu64
			   " on donor %s (%u of %u donor(s) had one, %u refused) in %" PRIu64 " ms",
			   c->opt.name, newer_than ? "replaced (it was older)" : "rebuilt",
			   (uint64_t)MEMX_STATE_GEN_EPOCH(best_gen), best_gen & MEMX_STATE_SEQ_MAX,
			   best_from, had, c->opt.nr_donors, refused,
			   (uint64_t)((memxd_now_ns() - t0) / MEMXD_NS_PER_MS));
out:
	if (best)
		sodium_memzero(best, plain_max);
	if (plain)
		sodium_memzero(plain, plain_max);
	free(best);
	free(plain);
	mxv_mr_dereg(buf_mr);
	free(sealed);
	mxv_cq_destroy(cq);
	mxv_ctx_close(ctx);
	return r;
}
