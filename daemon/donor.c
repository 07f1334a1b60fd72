// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: `memxd donor`, lending memory to clients.
 *
 * The donor listens with rdma_cm. Each connect request carries a hello
 * (wire.c checks every field; a bad one is rejected with a memx_reject whose
 * reason the peer can print, and the listener goes on). Connections are
 * grouped by the hello's volume id: each volume gets its own protection
 * domain, so a client's QPs can reach only memory registered for its volume,
 * and one MR per granted slab, so a freed slab's rkey stops working at once.
 * A volume's control connection takes ALLOC_SLAB / FREE_SLAB / STATS as
 * SEND/RECV messages; its data connections only carry the client's one-sided
 * RDMA, which needs no CPU here.
 *
 * Slab memory is a fresh anonymous mapping (zero-filled by the kernel, so no
 * data crosses from one client to another), pinned by its MR registration.
 * When a volume's control connection goes away, its slabs are freed.
 *
 * Everything runs in one thread, sleeping in poll() on the listener, each
 * volume's CQ channel, each connection's CM channel, the control socket and
 * a signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "memxd.h"
#include "parse.h"

#define DONOR_MAX_CONNS		256
#define DONOR_MAX_VOLUMES	64
#define DONOR_MAX_SLABS		65536
#define DONOR_RECVS		MEMXD_CTRL_RECVS

struct donor_volume {
	bool used;
	uint8_t id[16];
	char idstr[33];
	struct mxv_ctx *ctx;	/* its own PD: isolation between clients */
	struct mxv_cq *cq;
	unsigned int nr_conns;
	uint32_t slabs;
};

struct donor_conn {
	bool used;
	uint16_t role;
	struct donor_volume *vol;
	struct mxv_conn *conn;
	uint8_t *msgbuf;	/* DONOR_RECVS receive slots, a reply slot, an evict slot */
	struct mxv_mr *msg_mr;
	char peer[64];
};

struct donor_slab {
	bool used;
	void *mem;
	uint64_t bytes;
	struct mxv_mr *mr;
	struct donor_volume *vol;
};

struct donor {
	char host[MEMXD_HOST_MAX];
	uint16_t port;
	uint64_t memory_total, memory_granted;
	unsigned int max_slab_shift;
	uint8_t donor_id[16];
	char ctl_path[108];
	struct mxv_listener *listener;
	struct donor_volume vol[DONOR_MAX_VOLUMES];
	struct donor_conn conn[DONOR_MAX_CONNS];
	struct donor_slab *slab;	/* DONOR_MAX_SLABS; handle = index + 1 */
	uint64_t grants, frees, rejects;
	char join_host[MEMXD_HOST_MAX];	/* --join: a client to offer ourselves to */
	uint16_t join_port;
	uint64_t low_watermark;		/* --low-watermark: ask memory back below this */
	unsigned int leave_timeout_s;	/* --leave-timeout */
	bool leaving;			/* SIGTERM: clients are moving our slabs away */
	uint64_t leave_deadline_ns;
	uint64_t next_evict_ns;
	uint64_t evictions;
};

static void donor_usage(FILE *f)
{
	fprintf(f,
		"usage: memxd donor --listen ADDR[:PORT] --memory SIZE [--join CLIENT[:PORT]]\n"
		"                   [--low-watermark SIZE] [--leave-timeout SEC] [--ctl PATH]\n"
		"  Lends up to SIZE bytes (K, M, G, T suffixes) to memx clients that connect\n"
		"  over RDMA to ADDR (default port %d).\n"
		"  --join           offer our memory to a running client (memxd client --listen)\n"
		"  --low-watermark  when this machine's available memory (or its cgroup's room)\n"
		"                   falls below SIZE, ask clients to move slabs away\n"
		"  --leave-timeout  on SIGTERM, wait this long for clients to move our slabs\n"
		"                   away before leaving anyway (default 60)\n"
		"  --ctl            control socket for memxctl (default %s/donor-ADDR-PORT.sock)\n",
		MEMX_DEFAULT_PORT, MEMXD_RUN_DIR);
}

static int donor_parse(int argc, char **argv, struct donor *dn)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "memory", required_argument, NULL, 'm' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "join", required_argument, NULL, 'j' },
		{ "low-watermark", required_argument, NULL, 'w' },
		{ "leave-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int ch;

	dn->leave_timeout_s = 60;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (memx_parse_hostport(optarg, dn->host, sizeof(dn->host), &dn->port,
						MEMX_DEFAULT_PORT)) {
				fprintf(stderr, "memxd donor: --listen '%s' is not ADDR[:PORT]\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'm':
			if (memx_parse_size(optarg, &dn->memory_total)) {
				fprintf(stderr, "memxd donor: --memory '%s' is not a size (digits with "
					"K, M, G or T)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			if (strlen(optarg) >= sizeof(dn->ctl_path)) {
				fprintf(stderr, "memxd donor: --ctl path too long\n");
				return -EINVAL;
			}
			strcpy(dn->ctl_path, optarg);
			break;
		case 'j':
			if (memx_parse_hostport(optarg, dn->join_host, sizeof(dn->join_host),
						&dn->join_port, MEMX_DEFAULT_PORT)) {
				fprintf(stderr, "memxd donor: --join '%s' is not ADDR[:PORT]\n", optarg);
				return -EINVAL;
			}
			break;
		case 'w':
			if (memx_parse_size(optarg, &dn->low_watermark)) {
				fprintf(stderr, "memxd donor: --low-watermark '%s' is not a size\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 't':
			if (memx_parse_uint(optarg, 1, 86400, &v)) {
				fprintf(stderr, "memxd donor: --leave-timeout must be 1 to 86400 "
					"seconds\n");
				return -EINVAL;
			}
			dn->leave_timeout_s = (unsigned int)v;
			break;
		case 'h':
			donor_usage(stdout);
			exit(0);
		default:
			donor_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "memxd donor: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!dn->host[0] || !dn->memory_total) {
		fprintf(stderr, "memxd donor: --listen and a non-zero --memory are needed\n");
		return -EINVAL;
	}
	if (dn->memory_total < (1ULL << MEMX_MIN_SLAB_SHIFT)) {
		fprintf(stderr, "memxd donor: --memory must be at least 1M (the smallest slab)\n");
		return -EINVAL;
	}
	dn->max_slab_shift = 63 - __builtin_clzll(dn->memory_total);
	if (dn->max_slab_shift > MEMX_MAX_SLAB_SHIFT)
		dn->max_slab_shift = MEMX_MAX_SLAB_SHIFT;
	if (!dn->ctl_path[0])
		snprintf(dn->ctl_path, sizeof(dn->ctl_path), "%s/donor-%s-%u.sock", MEMXD_RUN_DIR,
			 dn->host, dn->port);
	return 0;
}

/* ---- slabs ----------------------------------------------------------------- */

static void slab_free(struct donor *dn, struct donor_slab *s)
{
	mxv_mr_dereg(s->mr);	/* the rkey dies here */
	munmap(s->mem, s->bytes);
	dn->memory_granted -= s->bytes;
	s->vol->slabs--;
	memset(s, 0, sizeof(*s));
	dn->frees++;
}

static int slab_grant(struct donor *dn, struct donor_volume *vol, uint64_t bytes,
		      struct memx_msg_info *reply)
{
	struct donor_slab *s = NULL;
	uint32_t i;
	void *mem;
	int r;

	if (bytes > (1ULL << dn->max_slab_shift))
		return -EINVAL;
	if (dn->leaving || dn->memory_total - dn->memory_granted < bytes)
		return -ENOSPC;
	for (i = 0; i < DONOR_MAX_SLABS; i++)
		if (!dn->slab[i].used) {
			s = &dn->slab[i];
			break;
		}
	if (!s)
		return -ENOSPC;
	/* Fresh anonymous memory is zero: nothing of an earlier client leaks. */
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	r = mxv_mr_reg(vol->ctx, mem, bytes, MXV_ACCESS_REMOTE_READ | MXV_ACCESS_REMOTE_WRITE,
		       &s->mr);
	if (r) {
		munmap(mem, bytes);
		return r;
	}
	s->used = true;
	s->mem = mem;
	s->bytes = bytes;
	s->vol = vol;
	vol->slabs++;
	dn->memory_granted += bytes;
	dn->grants++;
	reply->grant.remote_addr = (uintptr_t)mem;
	reply->grant.slab_bytes = bytes;
	reply->grant.rkey = mxv_mr_rkey(s->mr);
	reply->grant.handle = i + 1;
	reply->grant.memory_free = dn->memory_total - dn->memory_granted;
	return 0;
}

/* ---- volumes and connections ---------------------------------------------- */

static struct donor_volume *volume_get(struct donor *dn, const uint8_t id[16])
{
	struct donor_volume *free_vol = NULL;
	int r;

	for (int i = 0; i < DONOR_MAX_VOLUMES; i++) {
		if (dn->vol[i].used && !memcmp(dn->vol[i].id, id, 16))
			return &dn->vol[i];
		if (!dn->vol[i].used && !free_vol)
			free_vol = &dn->vol[i];
	}
	if (!free_vol)
		return NULL;
	memset(free_vol, 0, sizeof(*free_vol));
	r = mxv_ctx_open(dn->host, &free_vol->ctx);
	if (!r)
		r = mxv_cq_create(free_vol->ctx, DONOR_RECVS * 4 + 64, &free_vol->cq);
	if (!r)
		r = mxv_cq_arm(free_vol->cq);	/* the first control message must wake us */
	if (r) {
		mxv_cq_destroy(free_vol->cq);
		mxv_ctx_close(free_vol->ctx);
		memx_log_errno(r, "volume context");
		return NULL;
	}
	memcpy(free_vol->id, id, 16);
	memxd_fmt_id(id, free_vol->idstr);
	free_vol->used = true;
	return free_vol;
}

static void volume_put(struct donor *dn, struct donor_volume *vol)
{
	if (vol->nr_conns)
		return;
	for (int i = 0; i < DONOR_MAX_SLABS; i++)
		if (dn->slab[i].used && dn->slab[i].vol == vol)
			slab_free(dn, &dn->slab[i]);
	mxv_cq_destroy(vol->cq);
	mxv_ctx_close(vol->ctx);
	memset(vol, 0, sizeof(*vol));
}

static void conn_close(struct donor *dn, struct donor_conn *dc, const char *why)
{
	struct donor_volume *vol = dc->vol;

	memx_info("volume %s: %s connection from %s closed (%s)", vol->idstr,
		  dc->role == MEMX_ROLE_CLIENT ? "control" : "data", dc->peer, why);
	/* The control connection going means the client is gone: its slabs go too. */
	if (dc->role == MEMX_ROLE_CLIENT) {
		uint32_t n = vol->slabs;

		for (int i = 0; i < DONOR_MAX_SLABS; i++)
			if (dn->slab[i].used && dn->slab[i].vol == vol)
				slab_free(dn, &dn->slab[i]);
		if (n)
			memx_info("volume %s: freed its %u slabs", vol->idstr, n);
	}
	mxv_conn_destroy(dc->conn);
	mxv_mr_dereg(dc->msg_mr);
	free(dc->msgbuf);
	memset(dc, 0, sizeof(*dc));
	vol->nr_conns--;
	volume_put(dn, vol);
}

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

	memx_warn("rejected connection from %s: %s (%s)", peer, reason,
		  memx_reject_code_name(code));
	memx_reject_encode(pdata, sizeof(pdata), code, reason);
	mxv_req_reject(req, pdata, sizeof(pdata));
	dn->rejects++;
}

static void accept_one(struct donor *dn, struct mxv_req *req)
{
	struct memx_hello_info hello;
	struct memx_wire_error err;
	struct memx_welcome_info wi = { 0 };
	uint8_t welcome[sizeof(struct memx_welcome)];
	struct donor_conn *dc = NULL;
	struct donor_volume *vol;
	struct mxv_cm_result res;
	struct mxv_qp_attr attr = { 0 };
	char peer[64];
	const void *pdata;
	size_t plen;
	int r, ci;

	mxv_req_peer(req, peer, sizeof(peer));
	pdata = mxv_req_pdata(req, &plen);
	if (memx_hello_decode(pdata, plen, &hello, &err)) {
		reject(dn, req, peer, err.code, err.reason);
		return;
	}
	if (hello.role != MEMX_ROLE_CLIENT && hello.role != MEMX_ROLE_DATA) {
		reject(dn, req, peer, MEMX_REJ_ROLE, "a donor serves client engines only");
		return;
	}
	for (ci = 0; ci < DONOR_MAX_CONNS; ci++)
		if (!dn->conn[ci].used) {
			dc = &dn->conn[ci];
			break;
		}
	vol = dc ? volume_get(dn, hello.volume_id) : NULL;
	if (!vol) {
		reject(dn, req, peer, MEMX_REJ_BUSY, "donor has no room for another connection");
		return;
	}
	memset(dc, 0, sizeof(*dc));
	dc->used = true;
	dc->role = hello.role;
	dc->vol = vol;
	vol->nr_conns++;
	strcpy(dc->peer, peer);

	attr.send_cq = vol->cq;
	attr.recv_cq = vol->cq;
	attr.max_send_wr = 4;
	if (hello.role == MEMX_ROLE_CLIENT) {
		dc->msgbuf = calloc(DONOR_RECVS + 2, MEMX_MSG_SIZE);
		r = dc->msgbuf ? mxv_mr_reg(vol->ctx, dc->msgbuf, (DONOR_RECVS + 2) * MEMX_MSG_SIZE,
					    MXV_ACCESS_LOCAL_WRITE, &dc->msg_mr) : -ENOMEM;
		if (r) {
			reject(dn, req, peer, MEMX_REJ_BUSY, "out of memory for message buffers");
			dc->role = MEMX_ROLE_DATA;
			conn_close(dn, dc, "setup failed");
			return;
		}
		attr.max_recv_wr = DONOR_RECVS;
		attr.prepost = conn_prepost;
		attr.prepost_arg = dc;
	}
	wi.memory_total = dn->memory_total;
	wi.memory_free = dn->memory_total - dn->memory_granted;
	wi.max_slab_shift = dn->max_slab_shift;
	memcpy(wi.donor_id, dn->donor_id, 16);
	memx_welcome_encode(welcome, sizeof(welcome), &wi);
	r = mxv_req_accept(req, &attr, welcome, sizeof(welcome), MEMXD_CM_TIMEOUT_MS, &dc->conn,
			   &res);
	if (r) {
		memx_warn("volume %s: accept of %s failed: %s (%s)", vol->idstr, peer, strerror(-r),
			  res.reason);
		dc->role = MEMX_ROLE_DATA;	/* nothing granted on it yet */
		conn_close(dn, dc, "accept failed");
		return;
	}
	mxv_conn_set_user(dc->conn, dc);
	memx_info("volume %s: %s connection from %s", vol->idstr,
		  hello.role == MEMX_ROLE_CLIENT ? "control" : "data", peer);
}

/* Answers one control message received on dc. */
static void handle_msg(struct donor *dn, struct donor_conn *dc, const void *buf, size_t len)
{
	struct memx_msg_info msg, reply = { 0 };
	struct memx_wire_error err;
	uint8_t *send_slot = dc->msgbuf + DONOR_RECVS * MEMX_MSG_SIZE;
	int r = 0;

	if (memx_msg_decode(buf, len, &msg, &err)) {
		memx_warn("volume %s: bad control message from %s: %s", dc->vol->idstr, dc->peer,
			  err.reason);
		return;
	}
	reply.seq = msg.seq;
	switch (msg.type) {
	case MEMX_MSG_ALLOC_SLAB:
		reply.type = MEMX_MSG_ALLOC_REPLY;
		r = slab_grant(dn, dc->vol, msg.alloc.slab_bytes, &reply);
		if (r)
			memx_warn("volume %s: slab %" PRIu64 " of %" PRIu64 " bytes refused: %s",
				  dc->vol->idstr, msg.alloc.slab_index, msg.alloc.slab_bytes,
				  strerror(-r));
		break;
	case MEMX_MSG_FREE_SLAB: {
		uint32_t h = msg.free.handle;

		reply.type = MEMX_MSG_FREE_REPLY;
		/* Only the volume that was granted a slab may free it. */
		if (!h || h > DONOR_MAX_SLABS || !dn->slab[h - 1].used ||
		    dn->slab[h - 1].vol != dc->vol)
			r = -ENOENT;
		else
			slab_free(dn, &dn->slab[h - 1]);
		break;
	}
	case MEMX_MSG_STATS:
		reply.type = MEMX_MSG_STATS_REPLY;
		break;
	default:
		memx_warn("volume %s: unexpected %s message from %s", dc->vol->idstr,
			  memx_msg_type_name(msg.type), dc->peer);
		return;
	}
	reply.status = (uint32_t)-r;
	if (reply.type != MEMX_MSG_ALLOC_REPLY || r) {
		memset(&reply.stats, 0, sizeof(reply.stats));
		if (reply.type != MEMX_MSG_ALLOC_REPLY) {
			reply.stats.memory_total = dn->memory_total;
			reply.stats.memory_free = dn->memory_total - dn->memory_granted;
			reply.stats.slabs_granted = dc->vol->slabs;
		}
	}
	memx_msg_encode(send_slot, MEMX_MSG_SIZE, &reply);
	r = mxv_post_send(dc->conn, dc->msg_mr, DONOR_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE, 1);
	if (r)
		memx_log_errno(r, "volume %s: reply to %s", dc->vol->idstr, dc->peer);
}

static struct donor_conn *conn_by_qp(struct donor *dn, uint32_t qp_num)
{
	for (int c = 0; c < DONOR_MAX_CONNS; c++)
		if (dn->conn[c].used && dn->conn[c].conn &&
		    mxv_conn_qp_num(dn->conn[c].conn) == qp_num)
			return &dn->conn[c];
	return NULL;
}

/* Handles every completion on a volume's CQ, then arms it; sleeps never. */
static void reap_volume(struct donor *dn, struct donor_volume *vol)
{
	struct ibv_wc wc[16];
	bool armed = false;
	int n;

	mxv_cq_drain_events(vol->cq);
	for (;;) {
		n = mxv_cq_poll(vol->cq, wc, 16);
		for (int i = 0; i < n; i++) {
			struct donor_conn *dc = conn_by_qp(dn, wc[i].qp_num);
			uint64_t slot = wc[i].wr_id;

			if (!dc || !dc->msgbuf || wc[i].status != IBV_WC_SUCCESS ||
			    wc[i].opcode != IBV_WC_RECV || slot >= DONOR_RECVS)
				continue;
			handle_msg(dn, dc, dc->msgbuf + slot * MEMX_MSG_SIZE, wc[i].byte_len);
			mxv_post_recv(dc->conn, dc->msg_mr, slot * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      slot);
		}
		if (n == 16)
			continue;
		if (armed && n <= 0)
			break;
		/* Arm, then look once more: a completion before the arm raises no event. */
		mxv_cq_arm(vol->cq);
		armed = true;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Asks a client volume to move slabs away: bytes of them, or all (LEAVE). */
static int send_evict(struct donor *dn, struct donor_volume *vol, uint64_t bytes, uint32_t flags)
{
	struct memx_msg_info msg = { .type = MEMX_MSG_EVICT, .evict = { bytes, flags } };
	size_t slot = (DONOR_RECVS + 1) * MEMX_MSG_SIZE;

	for (int i = 0; i < DONOR_MAX_CONNS; i++) {
		struct donor_conn *dc = &dn->conn[i];

		if (!dc->used || !dc->conn || dc->vol != vol || dc->role != MEMX_ROLE_CLIENT)
			continue;
		memx_msg_encode(dc->msgbuf + slot, MEMX_MSG_SIZE, &msg);
		return mxv_post_send(dc->conn, dc->msg_mr, slot, MEMX_MSG_SIZE, 2);
	}
	return -ENOTCONN;
}

/* SIGTERM: ask every client to move its slabs away, then leave when we hold nothing. */
static void start_leaving(struct donor *dn)
{
	dn->leaving = true;
	dn->leave_deadline_ns = now_ns() + (uint64_t)dn->leave_timeout_s * 1000000000ULL;
	memx_info("leaving: asking clients to move %" PRIu64 " MiB of slabs away (up to %u s)",
		  dn->memory_granted >> 20, dn->leave_timeout_s);
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && dn->vol[i].slabs &&
		    send_evict(dn, &dn->vol[i], (uint64_t)-1, MEMX_EVICT_F_LEAVE))
			memx_warn("volume %s: cannot ask it to move its slabs", dn->vol[i].idstr);
}

/* Returns true when leaving is over: nothing held, or the time is up. */
static bool leave_done(struct donor *dn)
{
	if (!dn->memory_granted) {
		memx_info("left cleanly: every slab was moved away");
		return true;
	}
	if (now_ns() < dn->leave_deadline_ns)
		return false;
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && dn->vol[i].slabs)
			memx_err("leave timeout: volume %s still had %u slabs here; they are lost to "
				 "it unless it holds other replicas", dn->vol[i].idstr, dn->vol[i].slabs);
	return true;
}

/* Memory this machine (and our cgroup, if it has a limit) can still give, in bytes. */
static uint64_t available_memory(void)
{
	uint64_t avail = UINT64_MAX, max, cur;
	char line[256], cg[256], path[512];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &avail) == 1) {
			avail <<= 10;
			break;
		}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "r");
	if (f && fgets(line, sizeof(line), f) && sscanf(line, "0::%255s", cg) == 1) {
		FILE *fm, *fc;

		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", cg);
		fm = fopen(path, "r");
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", cg);
		fc = fopen(path, "r");
		if (fm && fc && fscanf(fm, "%" SCNu64, &max) == 1 && fscanf(fc, "%" SCNu64, &cur) == 1)
			avail = avail < (max > cur ? max - cur : 0) ? avail : (max > cur ? max - cur : 0);
		if (fm)
			fclose(fm);
		if (fc)
			fclose(fc);
	}
	if (f)
		fclose(f);
	return avail;
}

/* Below the low watermark, ask the volume holding the most slabs to move some away. */
static void check_pressure(struct donor *dn)
{
	struct donor_volume *big = NULL;
	uint64_t avail, want, now = now_ns();

	if (!dn->low_watermark || dn->leaving || now < dn->next_evict_ns)
		return;
	avail = available_memory();
	if (avail >= dn->low_watermark)
		return;
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && dn->vol[i].slabs && (!big || dn->vol[i].slabs > big->slabs))
			big = &dn->vol[i];
	if (!big)
		return;
	want = dn->low_watermark - avail;
	memx_warn("memory pressure: %" PRIu64 " MiB available, below the %" PRIu64 " MiB "
		  "watermark: asking volume %s for %" PRIu64 " MiB back", avail >> 20,
		  dn->low_watermark >> 20, big->idstr, want >> 20);
	if (!send_evict(dn, big, want, 0))
		dn->evictions++;
	dn->next_evict_ns = now + 5000000000ULL;	/* give the client time to move them */
}

/* --join: offer ourselves to a running client; it then connects to us as to any donor. */
static int join_client(struct donor *dn)
{
	struct memx_hello_info hello = { .role = MEMX_ROLE_JOIN, .join_port = dn->port };
	uint8_t pdata[sizeof(struct memx_hello)];
	struct mxv_connect_param p = {
		.dst_ip = dn->join_host, .port = dn->join_port, .src_ip = dn->host,
		.pdata = pdata, .pdata_len = sizeof(pdata), .timeout_ms = MEMXD_CM_TIMEOUT_MS,
	};
	struct mxv_ctx *ctx = NULL;
	struct mxv_cq *cq = NULL;
	struct mxv_conn *conn = NULL;
	struct mxv_qp_attr attr = { .max_send_wr = 1 };
	struct mxv_cm_result res;
	int r;

	memx_hello_encode(pdata, sizeof(pdata), &hello);
	r = mxv_ctx_open(dn->host, &ctx);
	if (!r)
		r = mxv_cq_create(ctx, 4, &cq);
	if (!r) {
		attr.send_cq = attr.recv_cq = cq;
		r = mxv_connect(&p, &attr, &conn, &res);
	}
	if (r == -ECONNREFUSED && res.pdata_len) {
		uint16_t code;
		char reason[MEMX_REJECT_REASON_LEN];

		if (!memx_reject_decode(res.pdata, res.pdata_len, &code, reason, sizeof(reason)))
			memx_err("client %s:%u refused our join: %s", dn->join_host, dn->join_port,
				 reason);
	} else if (r) {
		memx_err("cannot join client %s:%u: %s (%s)", dn->join_host, dn->join_port,
			 strerror(-r), res.reason);
	} else {
		memx_info("joined client %s:%u: it will connect to us", dn->join_host,
			  dn->join_port);
	}
	mxv_conn_destroy(conn);
	mxv_cq_destroy(cq);
	mxv_ctx_close(ctx);
	return r;
}

static int donor_status(void *arg, const char *request, char *out, size_t len)
{
	struct donor *dn = arg;
	unsigned int vols = 0, conns = 0;
	bool json = !strcmp(request, "status --json");
	int n;

	if (!json && strcmp(request, "status")) {
		n = snprintf(out, len, "error: a donor answers 'status' and 'status --json'\n");
		return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
	}
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		vols += dn->vol[i].used;
	for (int i = 0; i < DONOR_MAX_CONNS; i++)
		conns += dn->conn[i].used;
	if (json)
		n = snprintf(out, len, "{\"role\":\"donor\",\"listen\":\"%s:%u\",\"memory_total\":%"
			     PRIu64 ",\"memory_free\":%" PRIu64 ",\"clients\":%u,\"connections\":%u,"
			     "\"grants\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"rejects\":%" PRIu64
			     ",\"evictions\":%" PRIu64 ",\"leaving\":%s}\n",
			     dn->host, dn->port, dn->memory_total,
			     dn->memory_total - dn->memory_granted, vols, conns, dn->grants,
			     dn->frees, dn->rejects, dn->evictions, dn->leaving ? "true" : "false");
	else
		n = snprintf(out, len, "donor %s:%u: lends %" PRIu64 " MiB, %" PRIu64 " MiB free, "
			     "%u client volume(s), %u connection(s), %" PRIu64 " grants, %" PRIu64
			     " frees, %" PRIu64 " rejected connects\n", dn->host, dn->port,
			     dn->memory_total >> 20, (dn->memory_total - dn->memory_granted) >> 20,
			     vols, conns, dn->grants, dn->frees, dn->rejects);
	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}

int memxd_donor_main(int argc, char **argv)
{
	struct donor *dn;
	struct memxd_ctl *ctl = NULL;
	sigset_t mask;
	int sfd, r, rc = 0;

	memx_log_role = "memxd donor";
	dn = calloc(1, sizeof(*dn));
	if (!dn)
		return 1;
	if (donor_parse(argc, argv, dn))
		return 2;
	dn->slab = calloc(DONOR_MAX_SLABS, sizeof(*dn->slab));
	if (!dn->slab || getrandom(dn->donor_id, 16, 0) != 16)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	r = mxv_listen(dn->host, dn->port, 64, &dn->listener);
	if (r) {
		memx_log_errno(r, "listen on %s:%u", dn->host, dn->port);
		return 1;
	}
	r = memxd_ctl_open(dn->ctl_path, &ctl);
	if (r)
		memx_log_errno(r, "control socket %s", dn->ctl_path);
	memx_info("listening on %s:%u, lending %" PRIu64 " MiB", dn->host, dn->port,
		  dn->memory_total >> 20);
	printf("listening %s:%u\n", dn->host, dn->port);
	fflush(stdout);
	if (dn->join_host[0])
		join_client(dn);

	for (;;) {
		struct pollfd pfd[3 + DONOR_MAX_VOLUMES + DONOR_MAX_CONNS];
		int map[3 + DONOR_MAX_VOLUMES + DONOR_MAX_CONNS];
		unsigned int n = 0;

		pfd[n] = (struct pollfd){ .fd = mxv_listener_fd(dn->listener), .events = POLLIN };
		map[n++] = -1;
		pfd[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		map[n++] = -2;
		pfd[n] = (struct pollfd){ .fd = ctl ? memxd_ctl_fd(ctl) : -1, .events = POLLIN };
		map[n++] = -3;
		for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
			if (dn->vol[i].used) {
				pfd[n] = (struct pollfd){ .fd = mxv_cq_fd(dn->vol[i].cq),
							  .events = POLLIN };
				map[n++] = 1000 + i;
			}
		for (int i = 0; i < DONOR_MAX_CONNS; i++)
			if (dn->conn[i].used && dn->conn[i].conn) {
				pfd[n] = (struct pollfd){ .fd = mxv_conn_fd(dn->conn[i].conn),
							  .events = POLLIN };
				map[n++] = 2000 + i;
			}
		if (poll(pfd, n, dn->leaving || dn->low_watermark ? 1000 : -1) < 0) {
			if (errno == EINTR)
				continue;
			memx_log_errno(-errno, "poll");
			break;
		}
		if (dn->leaving && leave_done(dn)) {
			rc = dn->memory_granted ? 1 : 0;
			goto out;
		}
		check_pressure(dn);
		for (unsigned int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] == -1) {
				struct mxv_req *req;

				while (mxv_listener_get_request(dn->listener, 0, &req) == 0)
					accept_one(dn, req);
			} else if (map[i] == -2) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				/* Nothing lent, or a second signal: go now. */
				if (!dn->memory_granted || dn->leaving) {
					memx_info("%s: leaving; %" PRIu64 " MiB lent are given up",
						  strsignal((int)si.ssi_signo),
						  dn->memory_granted >> 20);
					rc = dn->memory_granted ? 1 : 0;
					goto out;
				}
				start_leaving(dn);
			} else if (map[i] == -3) {
				memxd_ctl_serve(ctl, donor_status, dn);
			} else if (map[i] >= 2000) {
				struct donor_conn *dc = &dn->conn[map[i] - 2000];
				int cr;

				if (!dc->used || !dc->conn)
					continue;
				cr = mxv_conn_check(dc->conn, 0);
				if (cr < 0)
					conn_close(dn, dc, cr == -ECONNRESET ? "peer disconnected" :
						   strerror(-cr));
			} else if (map[i] >= 1000) {
				if (dn->vol[map[i] - 1000].used)
					reap_volume(dn, &dn->vol[map[i] - 1000]);
			}
		}
	}
out:
	for (int i = 0; i < DONOR_MAX_CONNS; i++)
		if (dn->conn[i].used)
			conn_close(dn, &dn->conn[i], "donor stopping");
	memxd_ctl_close(ctl);
	mxv_listener_destroy(dn->listener);
	free(dn->slab);
	free(dn);
	close(sfd);
	return rc;
}
