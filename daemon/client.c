// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: `memxd client`, the engine behind /dev/memxN.
 *
 * Start-up, in order: make the process safe to serve swap (mlockall,
 * PR_SET_IO_FLUSHER, oom_score_adj), check the options, create the volume in
 * memx.ko (ADD_DEV), bind and map one kernel queue per engine thread and
 * register its buffers as RDMA memory, connect to every donor (one control
 * connection and one data QP per queue each), start the queue threads, then
 * START_DEV and print "ready /dev/memxN".
 *
 * This thread then becomes the control thread. It sleeps in poll() on:
 *   - the request eventfd: queue threads ask for a slab to be mapped (first
 *     write) or freed (whole-slab DISCARD); it places the slab by power of two
 *     choices, asks the donor for a grant over the control connection, fills
 *     the slab map and publishes it, then wakes the queue threads;
 *   - each donor's CM channel: a donor that disconnects is marked dead, its
 *     data QPs are disconnected (their work requests flush and fail with
 *     EIO), and the slabs that lost their last replica are marked lost so
 *     that they fail at once from then on;
 *   - the control socket, for memxctl;
 *   - a signalfd: SIGINT/SIGTERM remove the volume, unless it is open
 *     (mounted, swap), which is refused with a message while serving goes on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "memxd.h"
#include "parse.h"
#include "placement.h"

#define CTRL_WR_RECV	1
#define CTRL_WR_SEND	2
#define CTRL_WR_RDMA	3
#define ctrl_wr_id(donor, kind, slot) (((uint64_t)(donor) << 16) | ((kind) << 8) | (slot))

static void client_usage(FILE *f)
{
	fprintf(f,
		"usage: memxd client --name NAME --size SIZE --donor ADDR[:PORT] [--donor ...]\n"
		"                    [--slab SIZE] [--queues N] [--depth N] [--max-io SIZE]\n"
		"                    [--replicas R] [--rereplicate-rate SIZE] [--bind ADDR]\n"
		"                    [--poll-us US] [--poll-queues N] [--listen ADDR[:PORT]]\n"
		"                    [--ctl PATH]\n"
		"  Creates /dev/memxN of SIZE bytes backed by the donors' memory and serves it\n"
		"  until SIGINT/SIGTERM. Sizes take K, M, G, T suffixes (powers of 1024).\n"
		"  --slab      unit of remote allocation, power of two >= 1M (default 64M)\n"
		"  --queues    hardware queues, one engine thread each (default 2)\n"
		"  --depth     requests in flight per queue (default 32)\n"
		"  --max-io    largest request, power of two 4K..1M (default 128K)\n"
		"  --replicas  copies of each slab on distinct donors (default 2 with two or\n"
		"              more donors, else 1)\n"
		"  --rereplicate-rate  bytes per second copied to restore lost replicas or\n"
		"              move slabs off a leaving donor (default 64M)\n"
		"  --poll-us   microseconds an idle queue thread keeps looking for requests\n"
		"              and completions before it sleeps; 0 sleeps at once (default %u)\n"
		"  --poll-queues  extra queues, one engine thread each, for polled I/O\n"
		"              (io_uring IOPOLL, fio --hipri): the submitter spins instead\n"
		"              of sleeping, for the lowest latency (default 0: none)\n"
		"  --bind      local address to reach the donors from (default: the route's)\n"
		"  --listen    ADDR[:PORT] where donors may join (memxd donor --join)\n"
		"  --ctl       control socket for memxctl (default %s/client-NAME.sock)\n",
		MEMXD_DEFAULT_POLL_US, MEMXD_RUN_DIR);
}

static int opt_size(const char *what, const char *arg, uint64_t *out)
{
	int r = memx_parse_size(arg, out);

	if (r)
		fprintf(stderr, "memxd client: %s '%s' is not a size (digits with K, M, G or T)\n",
			what, arg);
	return r;
}

static int opt_count(const char *what, const char *arg, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	int r = memx_parse_uint(arg, min, max, out);

	if (r)
		fprintf(stderr, "memxd client: %s '%s' must be a number from %" PRIu64 " to %" PRIu64
			"\n", what, arg, min, max);
	return r;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int client_parse(int argc, char **argv, struct memxd_client_opts *o)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "donor", required_argument, NULL, 'd' },
		{ "slab", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'D' },
		{ "max-io", required_argument, NULL, 'm' },
		{ "replicas", required_argument, NULL, 'r' },
		{ "rereplicate-rate", required_argument, NULL, 'R' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "poll-queues", required_argument, NULL, 'P' },
		{ "bind", required_argument, NULL, 'b' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->slab = 64ULL << 20;
	o->queues = 2;
	o->depth = 32;
	o->max_io = 128 << 10;
	o->replicas = 0;
	o->rereplicate_rate = 64ULL << 20;
	o->poll_us = MEMXD_DEFAULT_POLL_US;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (!*optarg || strlen(optarg) >= sizeof(o->name) ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789-_.") != strlen(optarg)) {
				fprintf(stderr, "memxd client: --name must be 1-%zu letters, digits, "
					"'-', '_' or '.'\n", sizeof(o->name) - 1);
				return -EINVAL;
			}
			strcpy(o->name, optarg);
			break;
		case 's':
			if (opt_size("--size", optarg, &o->size))
				return -EINVAL;
			break;
		case 'd':
			if (o->nr_donors == MEMXD_MAX_DONORS) {
				fprintf(stderr, "memxd client: at most %d donors\n", MEMXD_MAX_DONORS);
				return -EINVAL;
			}
			if (memx_parse_hostport(optarg, o->donor_host[o->nr_donors], MEMXD_HOST_MAX,
						&o->donor_port[o->nr_donors], MEMX_DEFAULT_PORT)) {
				fprintf(stderr, "memxd client: --donor '%s' is not ADDR[:PORT]\n",
					optarg);
				return -EINVAL;
			}
			o->nr_donors++;
			break;
		case 'S':
			if (opt_size("--slab", optarg, &o->slab))
				return -EINVAL;
			break;
		case 'q':
			if (opt_count("--queues", optarg, 1, MEMX_MAX_QUEUES, &v))
				return -EINVAL;
			o->queues = (unsigned int)v;
			break;
		case 'D':
			if (opt_count("--depth", optarg, 1, MEMX_MAX_DEPTH, &v))
				return -EINVAL;
			o->depth = (unsigned int)v;
			break;
		case 'm':
			if (opt_size("--max-io", optarg, &v))
				return -EINVAL;
			if (v < MEMX_MIN_IO_BYTES || v > MEMX_MAX_IO_BYTES || !is_pow2(v)) {
				fprintf(stderr, "memxd client: --max-io must be a power of two from 4K "
					"to 1M\n");
				return -EINVAL;
			}
			o->max_io = (unsigned int)v;
			break;
		case 'r':
			if (opt_count("--replicas", optarg, 1, MEMX_MAX_COPIES, &v))
				return -EINVAL;
			o->replicas = (unsigned int)v;
			break;
		case 'R':
			if (opt_size("--rereplicate-rate", optarg, &o->rereplicate_rate))
				return -EINVAL;
			if (o->rereplicate_rate < (1 << 20)) {
				fprintf(stderr, "memxd client: --rereplicate-rate must be at least 1M "
					"(bytes per second)\n");
				return -EINVAL;
			}
			break;
		case 'p':
			if (opt_count("--poll-us", optarg, 0, MEMXD_MAX_POLL_US, &v))
				return -EINVAL;
			o->poll_us = (unsigned int)v;
			break;
		case 'P':
			if (opt_count("--poll-queues", optarg, 0, MEMX_MAX_QUEUES - 1, &v))
				return -EINVAL;
			o->poll_queues = (unsigned int)v;
			break;
		case 'b':
			if (strlen(optarg) >= sizeof(o->bind)) {
				fprintf(stderr, "memxd client: --bind address too long\n");
				return -EINVAL;
			}
			strcpy(o->bind, optarg);
			break;
		case 'c':
			if (strlen(optarg) >= sizeof(o->ctl_path)) {
				fprintf(stderr, "memxd client: --ctl path too long\n");
				return -EINVAL;
			}
			strcpy(o->ctl_path, optarg);
			break;
		case 'l':
			if (memx_parse_hostport(optarg, o->listen_host, sizeof(o->listen_host),
						&o->listen_port, MEMX_DEFAULT_PORT)) {
				fprintf(stderr, "memxd client: --listen '%s' is not ADDR[:PORT]\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			client_usage(stdout);
			exit(0);
		default:
			client_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "memxd client: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->name[0] || !o->size || !o->nr_donors) {
		fprintf(stderr, "memxd client: --name, --size and at least one --donor are needed%s\n",
			o->name[0] && !o->size ? " (--size must not be zero)" : "");
		return -EINVAL;
	}
	if (o->size % MEMX_BLOCK_SIZE || o->size > MEMX_MAX_DEV_BYTES) {
		fprintf(stderr, "memxd client: --size must be a multiple of 4K and at most 64T\n");
		return -EINVAL;
	}
	if (!is_pow2(o->slab) || o->slab < (1ULL << MEMX_MIN_SLAB_SHIFT) ||
	    o->slab > (1ULL << MEMX_MAX_SLAB_SHIFT)) {
		fprintf(stderr, "memxd client: --slab must be a power of two from 1M to 16G\n");
		return -EINVAL;
	}
	if (o->queues + o->poll_queues > MEMX_MAX_QUEUES) {
		fprintf(stderr, "memxd client: --queues plus --poll-queues must be at most %u\n",
			MEMX_MAX_QUEUES);
		return -EINVAL;
	}
	if (o->max_io > o->slab) {
		fprintf(stderr, "memxd client: --max-io must not exceed --slab\n");
		return -EINVAL;
	}
	if (!o->replicas)
		o->replicas = o->nr_donors >= 2 ? 2 : 1;
	if (o->replicas > o->nr_donors) {
		fprintf(stderr, "memxd client: --replicas %u needs at least that many donors\n",
			o->replicas);
		return -EINVAL;
	}
	if (!o->ctl_path[0])
		snprintf(o->ctl_path, sizeof(o->ctl_path), "%s/client-%s.sock", MEMXD_RUN_DIR,
			 o->name);
	return 0;
}

/* The local address the kernel would use to reach host:port (no packet is sent). */
static int route_source(const char *host, uint16_t port, char *out, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char portstr[8];
	int fd, r;

	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &ai))
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r = fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) ? -errno : 0;
	freeaddrinfo(ai);
	if (fd >= 0)
		close(fd);
	if (r)
		return r;
	if (getnameinfo((struct sockaddr *)&ss, sl, out, len, NULL, 0, NI_NUMERICHOST))
		return -EINVAL;
	return 0;
}

/* ---- control messages to donors ------------------------------------------- */

static int ctrl_prepost(struct mxv_conn *conn, void *arg)
{
	struct memxd_donor *d = arg;

	for (unsigned int i = 0; i < MEMXD_CTRL_RECVS; i++) {
		int r = mxv_post_recv(conn, d->msg_mr, i * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      ctrl_wr_id(d->idx, CTRL_WR_RECV, i));
		if (r)
			return r;
	}
	return 0;
}

static void donor_lost(struct memxd_client *c, struct memxd_donor *d, const char *why);

uint64_t memxd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* What the control thread waits for on its CQ: a reply, or one work request. */
struct ctrl_wait {
	unsigned int donor;
	uint32_t seq;		/* reply with this seq from that donor (0: none) */
	uint64_t wr_id;		/* completion of this work request (0: none) */
	bool done;
	int status;		/* -errno of the work request */
	struct memx_msg_info reply;
};

/* A donor asks for memory back, or says it is leaving. */
static void handle_evict(struct memxd_client *c, struct memxd_donor *d,
			 const struct memx_msg_info *msg)
{
	int expect = MEMXD_DONOR_LIVE;

	if (msg->evict.flags & MEMX_EVICT_F_LEAVE) {
		if (atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_DRAINING))
			memx_info("volume %s: donor %s is leaving: moving its %u slabs away",
				  c->opt.name, d->name, d->slabs);
		return;
	}
	d->evict_bytes += msg->evict.bytes;
	memx_info("volume %s: donor %s is short of memory and asks for %" PRIu64 " MiB back",
		  c->opt.name, d->name, msg->evict.bytes >> 20);
}

/*
 * Takes completions from the control CQ: replies and unsolicited messages
 * from donors, and the control thread's own sends and RDMA. Returns when w
 * is satisfied (0), when timeout_ms passed (-ETIMEDOUT; at once for 0), or
 * when w's donor failed (-ECONNRESET). With w NULL it drains what is there
 * and leaves the CQ armed for the main loop's poll().
 */
static int ctrl_pump(struct memxd_client *c, struct ctrl_wait *w, int timeout_ms)
{
	uint64_t deadline = memxd_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct ibv_wc wc[8];

	for (;;) {
		uint64_t now = memxd_now_ns();
		int n, left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ULL);

		if (w && w->done)
			return w->status;
		n = mxv_cq_wait(c->ctrl_cq, wc, 8, left);
		if (n == -EINTR)
			continue;
		if (n == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			unsigned int di = (unsigned int)(wc[i].wr_id >> 16);
			unsigned int kind = (wc[i].wr_id >> 8) & 0xff, slot = wc[i].wr_id & 0xff;
			struct memxd_donor *from = di < c->nr_donors ? &c->donor[di] : NULL;
			struct memx_wire_error err;
			struct memx_msg_info msg;
			int r;

			if (!from)
				continue;
			if (wc[i].status != IBV_WC_SUCCESS) {
				if (memxd_donor_usable(atomic_load(&from->state)))
					donor_lost(c, from, ibv_wc_status_str(wc[i].status));
				if (w && w->donor == di) {
					w->done = true;
					w->status = -ECONNRESET;
				}
				continue;
			}
			if (kind != CTRL_WR_RECV) {
				if (w && w->wr_id == wc[i].wr_id) {
					w->done = !w->seq;
					w->status = 0;
				}
				continue;
			}
			if (slot >= MEMXD_CTRL_RECVS)
				continue;
			r = memx_msg_decode(from->msgbuf + slot * MEMX_MSG_SIZE, wc[i].byte_len, &msg,
					    &err);
			mxv_post_recv(from->ctrl, from->msg_mr, slot * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
				      wc[i].wr_id);
			if (r) {
				memx_err("donor %s: bad control message: %s", from->name, err.reason);
				continue;
			}
			if (msg.type == MEMX_MSG_EVICT) {
				handle_evict(c, from, &msg);
			} else if (w && w->seq && w->donor == di && msg.seq == w->seq) {
				w->reply = msg;
				w->done = true;
				w->status = msg.status ? -(int)msg.status : 0;
			}
		}
	}
}

/*
 * Sends a request to a donor and waits for its reply (the control thread
 * has one request in flight at a time). Returns 0 or -errno; a donor that
 * does not answer in time is declared lost.
 */
int memxd_donor_call(struct memxd_client *c, struct memxd_donor *d, struct memx_msg_info *req,
		     struct memx_msg_info *reply)
{
	uint8_t *send_slot = d->msgbuf + MEMXD_CTRL_RECVS * MEMX_MSG_SIZE;
	struct ctrl_wait w = { .donor = d->idx };
	int r;

	if (!memxd_donor_usable(atomic_load(&d->state)))
		return -ENOTCONN;
	req->seq = ++c->seq;
	w.seq = req->seq;
	r = memx_msg_encode(send_slot, MEMX_MSG_SIZE, req);
	if (r < 0)
		return r;
	r = mxv_post_send(d->ctrl, d->msg_mr, MEMXD_CTRL_RECVS * MEMX_MSG_SIZE, MEMX_MSG_SIZE,
			  ctrl_wr_id(d->idx, CTRL_WR_SEND, 0));
	if (r)
		return r;
	r = ctrl_pump(c, &w, MEMXD_MSG_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		donor_lost(c, d, "no reply to a control message");
	if (!r || (w.done && w.seq && w.reply.type))
		*reply = w.reply;
	return r;
}

/*
 * One-sided RDMA between the control thread's bounce buffer and a donor's
 * memory, over the control connection. Returns 0 or -errno.
 */
int memxd_ctrl_rdma(struct memxd_client *c, struct memxd_donor *d, bool write, uint64_t raddr,
		    uint32_t rkey, uint32_t len)
{
	struct ctrl_wait w = { .donor = d->idx, .wr_id = ctrl_wr_id(d->idx, CTRL_WR_RDMA, 0) };
	int r;

	if (!memxd_donor_usable(atomic_load(&d->state)))
		return -ENOTCONN;
	r = write ? mxv_post_write(d->ctrl, c->bounce_mr, 0, len, raddr, rkey, w.wr_id)
		  : mxv_post_read(d->ctrl, c->bounce_mr, 0, len, raddr, rkey, w.wr_id);
	if (r)
		return r;
	r = ctrl_pump(c, &w, MEMXD_MSG_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		donor_lost(c, d, "RDMA on the control connection timed out");
	return r;
}

/* ---- slab mapping ---------------------------------------------------------- */

void memxd_wake_queues(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_queues; i++)
		memxd_queue_wake(&c->queue[i]);
}

int memxd_grant_slab(struct memxd_client *c, uint64_t s, uint32_t *exclude, int nr_exclude,
		      struct memx_replica *out)
{
	struct memx_donor_load load[MEMXD_MAX_DONORS];
	uint32_t tried[MEMXD_MAX_DONORS * 2];
	int nr_tried = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];

		load[i].live = atomic_load(&d->state) == MEMXD_DONOR_LIVE && !d->evict_bytes &&
			       d->welcome.max_slab_shift >= c->map.slab_shift;
		load[i].free_bytes = d->memory_free;
	}
	memcpy(tried, exclude, nr_exclude * sizeof(*exclude));
	nr_tried = nr_exclude;
	for (;;) {
		struct memx_msg_info req = { .type = MEMX_MSG_ALLOC_SLAB }, reply;
		struct memxd_donor *d;
		int idx, r;

		idx = memx_place(load, (int)c->nr_donors, tried, nr_tried, c->map.slab_bytes,
				 memxd_rand, &c->rng);
		if (idx < 0)
			return idx;
		d = &c->donor[idx];
		req.alloc.slab_bytes = c->map.slab_bytes;
		req.alloc.slab_index = s;
		r = memxd_donor_call(c, d, &req, &reply);
		if (!r && reply.grant.slab_bytes == c->map.slab_bytes) {
			d->memory_free = reply.grant.memory_free;
			d->slabs++;
			*out = (struct memx_replica){ .donor = (uint32_t)idx, .rkey = reply.grant.rkey,
						      .handle = reply.grant.handle, .live = 1,
						      .remote_addr = reply.grant.remote_addr };
			return 0;
		}
		if (r == -ENOSPC)
			d->memory_free = 0;
		memx_warn("volume %s: donor %s refused slab %" PRIu64 ": %s", c->opt.name, d->name,
			  s, r ? strerror(-r) : "wrong slab size");
		tried[nr_tried++] = (uint32_t)idx;
	}
}

void memxd_free_grant(struct memxd_client *c, const struct memx_replica *rep)
{
	struct memxd_donor *d = &c->donor[rep->donor];
	struct memx_msg_info req = { .type = MEMX_MSG_FREE_SLAB, .free.handle = rep->handle };
	struct memx_msg_info reply;

	if (rep->donor >= c->nr_donors || !memxd_donor_usable(atomic_load(&d->state)))
		return;
	if (memxd_donor_call(c, d, &req, &reply) == 0) {
		d->memory_free = reply.stats.memory_free;
		if (d->slabs)
			d->slabs--;
	}
}

static void map_slab(struct memxd_client *c, uint64_t s)
{
	struct memx_slab *slab = &c->map.slabs[s];
	uint32_t exclude[MEMX_MAX_REPLICAS];
	int n = 0, r = 0;

	while ((unsigned int)n < c->opt.replicas) {
		r = memxd_grant_slab(c, s, exclude, n, &slab->replica[n]);
		if (r)
			break;
		exclude[n] = slab->replica[n].donor;
		n++;
	}
	if (!n) {
		memx_err("volume %s: no donor can take slab %" PRIu64 " (%" PRIu64 " bytes): %s; "
			 "writes to it fail with EIO", c->opt.name, s, c->map.slab_bytes,
			 r == -ENOSPC ? "no live donor has free memory" : strerror(-r));
		atomic_fetch_add(&c->fail_gen[s], 1);
		memx_slab_publish(slab, MEMX_SLAB_UNMAPPED);
		return;
	}
	if ((unsigned int)n < c->opt.replicas)
		memx_warn("volume %s: slab %" PRIu64 " has %d of %u replicas", c->opt.name, s, n,
			  c->opt.replicas);
	slab->nr_replicas = (uint32_t)n;
	atomic_fetch_add(&c->slabs_mapped, 1);
	memx_slab_publish(slab, MEMX_SLAB_MAPPED);
}

int memxd_client_request(struct memxd_client *c, const struct memxd_slab_req *req)
{
	uint64_t one = 1;
	int r = 0;

	pthread_mutex_lock(&c->req_lock);
	if (c->req_tail - c->req_head >= c->req_cap)
		r = -ENOSPC;
	else
		c->req[c->req_tail++ % c->req_cap] = *req;
	pthread_mutex_unlock(&c->req_lock);
	if (!r && write(c->req_fd, &one, sizeof(one)) < 0)
		r = -errno;
	return r;
}

/*
 * Waits (bounded) until no I/O is in flight on a slab. Freeing a grant while
 * a work request still uses it would put that QP in error. Returns true when idle.
 */
static bool slab_quiesce(struct memx_slab *slab, bool reads, bool writes)
{
	for (int i = 0; i < 50000; i++) {	/* 5 s */
		if ((!reads || !atomic_load(&slab->reads_inflight)) &&
		    (!writes || !atomic_load(&slab->writes_inflight)))
			return true;
		usleep(100);
	}
	return false;
}

/* Frees a replica's grant now, or later if I/O still uses the slab. */
static void free_or_defer(struct memxd_client *c, uint64_t s, const struct memx_replica *rep)
{
	if (slab_quiesce(&c->map.slabs[s], true, true)) {
		memxd_free_grant(c, rep);
		return;
	}
	if (c->nr_deferred < sizeof(c->deferred) / sizeof(c->deferred[0])) {
		c->deferred[c->nr_deferred].slab = s;
		c->deferred[c->nr_deferred].rep = *rep;
		c->nr_deferred++;
		return;
	}
	memx_warn("volume %s: slab %" PRIu64 " stays busy; its old grant on donor %s is kept until "
		  "we disconnect", c->opt.name, s, c->donor[rep->donor].name);
}

/* Gives back the grants of a discarded slab (those still live when it was discarded). */
static void free_discarded(struct memxd_client *c, const struct memxd_slab_req *req)
{
	for (uint32_t i = 0; i < req->nr_replicas; i++)
		if (req->replica[i].live)
			free_or_defer(c, req->slab, &req->replica[i]);
}

/* Retries deferred frees whose slab has gone quiet. */
static void retry_deferred(struct memxd_client *c)
{
	for (unsigned int i = 0; i < c->nr_deferred;) {
		struct memx_slab *slab = &c->map.slabs[c->deferred[i].slab];

		if (atomic_load(&slab->reads_inflight) || atomic_load(&slab->writes_inflight)) {
			i++;
			continue;
		}
		memxd_free_grant(c, &c->deferred[i].rep);
		c->deferred[i] = c->deferred[--c->nr_deferred];
	}
}

static void serve_requests(struct memxd_client *c)
{
	uint64_t cnt;
	bool mapped = false;

	if (read(c->req_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		memx_warn("request eventfd: %s", strerror(errno));
	for (;;) {
		struct memxd_slab_req req;

		pthread_mutex_lock(&c->req_lock);
		if (c->req_head == c->req_tail) {
			pthread_mutex_unlock(&c->req_lock);
			break;
		}
		req = c->req[c->req_head++ % c->req_cap];
		pthread_mutex_unlock(&c->req_lock);
		if (req.op == MEMXD_REQ_MAP) {
			map_slab(c, req.slab);
			mapped = true;
		} else if (req.op == MEMXD_REQ_DONOR_FAILED) {
			if (req.slab < c->nr_donors)
				donor_lost(c, &c->donor[req.slab], "I/O error on its queue pair");
		} else {
			free_discarded(c, &req);
			mapped = true;	/* writes parked on FREEING go on */
		}
	}
	if (mapped)
		memxd_wake_queues(c);
}

/* ---- donors ---------------------------------------------------------------- */

static void donor_lost(struct memxd_client *c, struct memxd_donor *d, const char *why)
{
	uint64_t lost = 0, degraded = 0;
	int was = atomic_exchange(&d->state, MEMXD_DONOR_DEAD);

	/* Bury each donor once; one that left cleanly is not lost. */
	if (was == MEMXD_DONOR_DEAD || was == MEMXD_DONOR_LEFT) {
		atomic_store(&d->state, was);
		return;
	}
	memx_err("volume %s: donor %s lost (%s)", c->opt.name, d->name, why);
	for (unsigned int q = 0; q < c->nr_queues; q++)
		mxv_conn_disconnect(d->data[q]);
	mxv_conn_disconnect(d->ctrl);
	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memx_slab *slab = &c->map.slabs[s];
		uint32_t state = memx_slab_state(slab), expect_state = MEMX_SLAB_MAPPED;
		bool any = false, hit = false;

		/* A MIGRATING slab belongs to recovery.c, which publishes it LOST if need be. */
		if (state != MEMX_SLAB_MAPPED && state != MEMX_SLAB_MIGRATING)
			continue;
		for (uint32_t i = 0; i < slab->nr_replicas; i++) {
			if (slab->replica[i].donor == d->idx && slab->replica[i].live) {
				__atomic_store_n(&slab->replica[i].live, 0, __ATOMIC_RELEASE);
				hit = true;
			} else if (slab->replica[i].live) {
				any = true;
			}
		}
		if (!hit)
			continue;
		if (!any && state == MEMX_SLAB_MAPPED &&
		    atomic_compare_exchange_strong(&slab->state, &expect_state, MEMX_SLAB_LOST)) {
			lost++;
			atomic_fetch_sub(&c->slabs_mapped, 1);
			atomic_fetch_add(&c->slabs_lost, 1);
		} else if (any) {
			degraded++;
		}
	}
	if (lost)
		memx_err("volume %s: %" PRIu64 " slabs lost their last replica with donor %s: "
			 "I/O to them fails with EIO", c->opt.name, lost, d->name);
	if (degraded)
		memx_warn("volume %s: %" PRIu64 " slabs lost a replica with donor %s", c->opt.name,
			  degraded, d->name);
	d->slabs = 0;
	d->memory_free = 0;
	memxd_wake_queues(c);
}

static int donor_connect_one(struct memxd_client *c, struct memxd_donor *d, uint16_t role,
			     const struct mxv_qp_attr *attr, struct mxv_conn **out)
{
	struct memx_hello_info hello = { .role = role };
	uint8_t pdata[sizeof(struct memx_hello)];
	struct mxv_connect_param p = {
		.dst_ip = d->host, .port = d->port, .src_ip = c->opt.bind,
		.pdata = pdata, .pdata_len = sizeof(pdata), .timeout_ms = MEMXD_CM_TIMEOUT_MS,
	};
	struct mxv_cm_result res;
	struct memx_wire_error err;
	int r;

	memcpy(hello.volume_id, c->volume_id, sizeof(hello.volume_id));
	memx_hello_encode(pdata, sizeof(pdata), &hello);
	r = mxv_connect(&p, attr, out, &res);
	if (r == -ECONNREFUSED && res.pdata_len) {
		uint16_t code;
		char reason[MEMX_REJECT_REASON_LEN];

		if (!memx_reject_decode(res.pdata, res.pdata_len, &code, reason, sizeof(reason))) {
			memx_err("donor %s refused us: %s (%s)", d->name, reason,
				 memx_reject_code_name(code));
			return r;
		}
	}
	if (r) {
		memx_err("donor %s: cannot connect: %s (%s)", d->name, strerror(-r), res.reason);
		return r;
	}
	if (role == MEMX_ROLE_CLIENT) {
		if (memx_welcome_decode(res.pdata, res.pdata_len, &d->welcome, &err)) {
			memx_err("donor %s: bad welcome: %s", d->name, err.reason);
			return -EPROTO;
		}
		d->memory_free = d->welcome.memory_free;
	}
	return 0;
}

static int donor_connect(struct memxd_client *c, struct memxd_donor *d)
{
	struct mxv_qp_attr ctrl_attr = {
		.send_cq = c->ctrl_cq, .recv_cq = c->ctrl_cq, .max_send_wr = 4,
		.max_recv_wr = MEMXD_CTRL_RECVS, .prepost = ctrl_prepost, .prepost_arg = d,
	};
	int r;

	d->msgbuf = calloc(MEMXD_CTRL_RECVS + 1, MEMX_MSG_SIZE);
	if (!d->msgbuf)
		return -ENOMEM;
	r = mxv_mr_reg(c->ctx, d->msgbuf, (MEMXD_CTRL_RECVS + 1) * MEMX_MSG_SIZE,
		       MXV_ACCESS_LOCAL_WRITE, &d->msg_mr);
	if (r)
		return memx_log_errno(r, "donor %s: register message buffers", d->name);
	r = donor_connect_one(c, d, MEMX_ROLE_CLIENT, &ctrl_attr, &d->ctrl);
	if (r)
		return r;
	if (d->welcome.max_slab_shift < c->map.slab_shift)
		memx_warn("donor %s grants slabs up to %u bytes only: it gets none of ours",
			  d->name, 1U << d->welcome.max_slab_shift);
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		struct mxv_qp_attr data_attr = {
			.send_cq = c->queue[q].cq, .recv_cq = c->queue[q].cq,
			.max_send_wr = c->opt.depth * MEMXD_MAX_EXTENTS + 8, .max_recv_wr = 0,
		};

		r = donor_connect_one(c, d, MEMX_ROLE_DATA, &data_attr, &d->data[q]);
		if (r)
			return r;
	}
	atomic_store(&d->state, MEMXD_DONOR_LIVE);
	memx_info("donor %s: connected, lends %" PRIu64 " MiB, %" PRIu64 " MiB free", d->name,
		  d->welcome.memory_total >> 20, d->welcome.memory_free >> 20);
	return 0;
}

static void donor_teardown(struct memxd_donor *d, unsigned int nr_queues)
{
	for (unsigned int q = 0; q < nr_queues; q++) {
		mxv_conn_destroy(d->data[q]);
		d->data[q] = NULL;
	}
	mxv_conn_destroy(d->ctrl);
	d->ctrl = NULL;
	mxv_mr_dereg(d->msg_mr);
	d->msg_mr = NULL;
	free(d->msgbuf);
	d->msgbuf = NULL;
}

/*
 * Connects a donor and makes it one of ours; from the command line at start,
 * or later (memxctl donor add, a donor that joins). Returns 0 or -errno.
 */
static int client_add_donor(struct memxd_client *c, const char *host, uint16_t port)
{
	char name[sizeof(c->donor[0].name)];
	struct memxd_donor *d;
	int r;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (!strcmp(c->donor[i].host, host) && c->donor[i].port == port &&
		    memxd_donor_usable(atomic_load(&c->donor[i].state)))
			return -EEXIST;
	if (c->nr_donors == MEMXD_MAX_DONORS || strlen(host) >= MEMXD_HOST_MAX)
		return -ENOSPC;
	d = &c->donor[c->nr_donors];
	memset(d, 0, sizeof(*d));
	d->idx = c->nr_donors;
	strcpy(d->host, host);
	d->port = port;
	/* Via a local buffer: gcc 12 with ASan sees a false overlap in snprintf. */
	snprintf(name, sizeof(name), "%s:%u", host, port);
	memcpy(d->name, name, sizeof(name));
	r = donor_connect(c, d);
	if (r) {
		donor_teardown(d, c->nr_queues);
		memset(d, 0, sizeof(*d));
		return r;
	}
	/* Queue threads see the donor once it is whole. */
	__atomic_store_n(&c->nr_donors, c->nr_donors + 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- status for memxctl ---------------------------------------------------- */

static const char *slab_state_name(uint32_t s)
{
	switch (s) {
	case MEMX_SLAB_UNMAPPED: return "unmapped";
	case MEMX_SLAB_MAPPING: return "mapping";
	case MEMX_SLAB_MAPPED: return "mapped";
	case MEMX_SLAB_LOST: return "lost";
	case MEMX_SLAB_MIGRATING: return "migrating";
	case MEMX_SLAB_FREEING: return "freeing";
	default: return "?";
	}
}

static const char *donor_state_name(int s)
{
	switch (s) {
	case MEMXD_DONOR_LIVE: return "live";
	case MEMXD_DONOR_DEAD: return "dead";
	case MEMXD_DONOR_FAILED: return "failing";
	case MEMXD_DONOR_DRAINING: return "draining";
	case MEMXD_DONOR_LEFT: return "left";
	default: return "connecting";
	}
}

static int client_status(struct memxd_client *c, bool json, bool slabs, char *out, size_t len)
{
	uint64_t t[14] = { 0 };
	uint64_t backlog = memxd_backlog(c);
	size_t n = 0;

#define EMIT(...)                                                             \
	do {                                                                  \
		int w_ = snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (w_ > 0)                                                   \
			n += (size_t)w_;                                      \
	} while (0)

	for (unsigned int q = 0; q < c->nr_queues; q++) {
		struct memxd_queue_stats *s = &c->queue[q].stats;

		t[0] += atomic_load(&s->reads);
		t[1] += atomic_load(&s->writes);
		t[2] += atomic_load(&s->read_bytes);
		t[3] += atomic_load(&s->write_bytes);
		t[4] += atomic_load(&s->flushes);
		t[5] += atomic_load(&s->discards);
		t[6] += atomic_load(&s->write_zeroes);
		t[7] += atomic_load(&s->errors);
		t[8] += atomic_load(&s->zero_reads);
		t[9] += atomic_load(&s->commits);
		t[10] += atomic_load(&s->wakeups);
		t[11] += atomic_load(&s->posts);
		t[12] += atomic_load(&s->arms);
		t[13] += atomic_load(&s->failovers);
	}
	if (json) {
		EMIT("{\"role\":\"client\",\"volumes\":[{\"name\":\"%s\",\"device\":\"/dev/memx%d\","
		     "\"size\":%" PRIu64 ",\"slab_size\":%" PRIu64 ",\"slabs\":%" PRIu64
		     ",\"slabs_mapped\":%" PRIu64 ",\"slabs_lost\":%" PRIu64 ",\"replicas\":%u,"
		     "\"queues\":%u,\"depth\":%u,\"io\":{\"reads\":%" PRIu64 ",\"writes\":%" PRIu64
		     ",\"read_bytes\":%" PRIu64 ",\"write_bytes\":%" PRIu64 ",\"flushes\":%" PRIu64
		     ",\"discards\":%" PRIu64 ",\"write_zeroes\":%" PRIu64 ",\"errors\":%" PRIu64
		     ",\"zero_reads\":%" PRIu64 ",\"commits\":%" PRIu64 ",\"wakeups\":%" PRIu64
		     ",\"rdma_posts\":%" PRIu64 ",\"cq_arms\":%" PRIu64 ",\"failovers\":%" PRIu64
		     "},\"rereplication_backlog\":%" PRIu64 ",\"slabs_rereplicated\":%" PRIu64
		     ",\"slabs_moved\":%" PRIu64 ",\"copied_bytes\":%" PRIu64 ",\"poll_queues\":%u,"
		     "\"poll_us\":%u,\"queue_requests\":[", c->opt.name, c->dev_id,
		     c->map.volume_bytes, c->map.slab_bytes, c->map.nr_slabs,
		     atomic_load(&c->slabs_mapped), atomic_load(&c->slabs_lost),
		     c->opt.replicas, c->nr_queues, c->opt.depth, t[0], t[1], t[2], t[3], t[4], t[5],
		     t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], backlog, c->slabs_rereplicated,
		     c->slabs_moved, c->copied_bytes, c->opt.poll_queues, c->opt.poll_us);
		/* Requests each queue served; polled queues are the last poll_queues. */
		for (unsigned int q = 0; q < c->nr_queues; q++) {
			const struct memxd_queue_stats *s = &c->queue[q].stats;

			EMIT("%s%" PRIu64, q ? "," : "",
			     atomic_load(&s->reads) + atomic_load(&s->writes) +
			     atomic_load(&s->flushes) + atomic_load(&s->discards) +
			     atomic_load(&s->write_zeroes));
		}
		EMIT("]}],\"donors\":[");
		for (unsigned int i = 0; i < c->nr_donors; i++) {
			struct memxd_donor *d = &c->donor[i];

			EMIT("%s{\"address\":\"%s\",\"state\":\"%s\",\"memory_total\":%" PRIu64
			     ",\"memory_free\":%" PRIu64 ",\"slabs\":%u,\"evict_bytes\":%" PRIu64 "}",
			     i ? "," : "", d->name, donor_state_name(atomic_load(&d->state)),
			     d->welcome.memory_total, d->memory_free, d->slabs, d->evict_bytes);
		}
		EMIT("]");
		if (slabs) {
			bool first = true;

			EMIT(",\"slabs\":[");
			for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
				struct memx_slab *slab = &c->map.slabs[i];
				uint32_t st = memx_slab_state(slab);

				if (st == MEMX_SLAB_UNMAPPED)
					continue;
				EMIT("%s{\"slab\":%" PRIu64 ",\"state\":\"%s\",\"replicas\":[",
				     first ? "" : ",", i, slab_state_name(st));
				first = false;
				for (uint32_t k = 0, nk = 0; k < slab->nr_replicas; k++)
					if (slab->replica[k].live)
						EMIT("%s\"%s\"", nk++ ? "," : "",
						     c->donor[slab->replica[k].donor].name);
				EMIT("]}");
			}
			EMIT("]");
		}
		EMIT("}\n");
	} else {
		EMIT("volume %s: /dev/memx%d, %" PRIu64 " MiB, slabs %" PRIu64 " MiB: %" PRIu64
		     " of %" PRIu64 " mapped, %" PRIu64 " lost, %u replica(s), %u queues x %u "
		     "(%u polled), engine polls %u us\n",
		     c->opt.name, c->dev_id, c->map.volume_bytes >> 20, c->map.slab_bytes >> 20,
		     atomic_load(&c->slabs_mapped), c->map.nr_slabs, atomic_load(&c->slabs_lost),
		     c->opt.replicas, c->nr_queues, c->opt.depth, c->opt.poll_queues, c->opt.poll_us);
		EMIT("  replication: %" PRIu64 " slabs below %u replicas (backlog), %" PRIu64
		     " re-replicated, %" PRIu64 " moved off leaving donors\n", backlog,
		     c->opt.replicas, c->slabs_rereplicated, c->slabs_moved);
		EMIT("  io: %" PRIu64 " reads (%" PRIu64 " MiB), %" PRIu64 " writes (%" PRIu64
		     " MiB), %" PRIu64 " flushes, %" PRIu64 " discards, %" PRIu64 " write-zeroes, %"
		     PRIu64 " errors, %" PRIu64 " zero-filled reads\n",
		     t[0], t[2] >> 20, t[1], t[3] >> 20, t[4], t[5], t[6], t[7], t[8]);
		for (unsigned int i = 0; i < c->nr_donors; i++) {
			struct memxd_donor *d = &c->donor[i];

			EMIT("  donor %-24s %-8s lends %" PRIu64 " MiB, %" PRIu64 " MiB free, holds %u "
			     "slabs\n", d->name, donor_state_name(atomic_load(&d->state)),
			     d->welcome.memory_total >> 20, d->memory_free >> 20, d->slabs);
		}
		if (slabs)
			for (uint64_t i = 0; i < c->map.nr_slabs; i++) {
				struct memx_slab *slab = &c->map.slabs[i];
				uint32_t st = memx_slab_state(slab);

				if (st == MEMX_SLAB_UNMAPPED)
					continue;
				EMIT("  slab %-6" PRIu64 " %-9s", i, slab_state_name(st));
				for (uint32_t k = 0; k < slab->nr_replicas; k++)
					if (slab->replica[k].live)
						EMIT(" %s", c->donor[slab->replica[k].donor].name);
				EMIT("\n");
			}
	}
#undef EMIT
	return n < len ? 0 : -ENOSPC;
}

static int ctl_reply(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ctl_reply(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}

static struct memxd_donor *donor_by_addr(struct memxd_client *c, const char *arg)
{
	char host[MEMXD_HOST_MAX];
	uint16_t port;

	if (memx_parse_hostport(arg, host, sizeof(host), &port, MEMX_DEFAULT_PORT))
		return NULL;
	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (!strcmp(c->donor[i].host, host) && c->donor[i].port == port)
			return &c->donor[i];
	return NULL;
}

static int client_add_donor(struct memxd_client *c, const char *host, uint16_t port);

/* memxctl requests: status [--json] [--slabs], donor drain ADDR, donor add ADDR. */
static int client_ctl(void *arg, const char *req, char *out, size_t len)
{
	struct memxd_client *c = arg;
	char host[MEMXD_HOST_MAX];
	struct memxd_donor *d;
	uint16_t port;
	int expect = MEMXD_DONOR_LIVE, r;

	if (!strncmp(req, "status", 6) && (!req[6] || req[6] == ' '))
		return client_status(c, strstr(req, "--json") != NULL, strstr(req, "--slabs") != NULL,
				     out, len);
	if (!strncmp(req, "donor drain ", 12)) {
		d = donor_by_addr(c, req + 12);
		if (!d)
			return ctl_reply(out, len, "error: no donor %s in volume %s\n", req + 12,
					 c->opt.name);
		if (!atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_DRAINING))
			return ctl_reply(out, len, "error: donor %s is %s, not live\n", d->name,
					 donor_state_name(expect));
		memx_info("volume %s: draining donor %s (memxctl): moving its %u slabs", c->opt.name,
			  d->name, d->slabs);
		return ctl_reply(out, len, "draining %s: %u slabs to move\n", d->name, d->slabs);
	}
	if (!strncmp(req, "donor add ", 10)) {
		if (memx_parse_hostport(req + 10, host, sizeof(host), &port, MEMX_DEFAULT_PORT))
			return ctl_reply(out, len, "error: '%s' is not ADDR[:PORT]\n", req + 10);
		r = client_add_donor(c, host, port);
		if (r)
			return ctl_reply(out, len, "error: donor %s:%u not added: %s\n", host, port,
					 strerror(-r));
		return ctl_reply(out, len, "added donor %s:%u\n", host, port);
	}
	return ctl_reply(out, len, "error: unknown request '%s' (known: status [--json] [--slabs], "
			 "donor drain ADDR, donor add ADDR)\n", req);
}


/* ---- main ------------------------------------------------------------------ */

static int client_setup(struct memxd_client *c)
{
	struct memx_dev_params p = { 0 };
	int r;

	r = memx_slabmap_init(&c->map, c->opt.size, c->opt.slab);
	if (r)
		return memx_log_errno(r, "slab map for %" PRIu64 " bytes", c->opt.size);
	c->fail_gen = calloc(c->map.nr_slabs, sizeof(*c->fail_gen));
	c->req_cap = (uint32_t)(c->map.nr_slabs + 1024);
	c->req = calloc(c->req_cap, sizeof(*c->req));
	if (!c->fail_gen || !c->req)
		return memx_log_errno(-ENOMEM, "slab tables");
	c->req_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->req_fd < 0)
		return memx_log_errno(-errno, "eventfd");

	if (!c->opt.bind[0]) {
		r = route_source(c->opt.donor_host[0], c->opt.donor_port[0], c->opt.bind,
				 sizeof(c->opt.bind));
		if (r)
			return memx_log_errno(r, "no route to donor %s", c->opt.donor_host[0]);
	}
	r = mxv_ctx_open(c->opt.bind, &c->ctx);
	if (r)
		return memx_log_errno(r, "no RDMA device serves %s", c->opt.bind);
	r = mxv_cq_create(c->ctx, MEMXD_MAX_DONORS * (MEMXD_CTRL_RECVS + 4), &c->ctrl_cq);
	if (r)
		return memx_log_errno(r, "control CQ");
	/* Background copies of slabs go through here, 1 MiB at a time. */
	c->bounce = aligned_alloc(4096, 1 << 20);
	if (!c->bounce)
		return memx_log_errno(-ENOMEM, "bounce buffer");
	r = mxv_mr_reg(c->ctx, c->bounce, 1 << 20, MXV_ACCESS_LOCAL_WRITE, &c->bounce_mr);
	if (r)
		return memx_log_errno(r, "register the bounce buffer");

	c->kfd = memx_kdev_open();
	if (c->kfd < 0)
		return memx_log_errno(c->kfd, "open %s (is memx.ko loaded?)", MEMX_CONTROL_PATH);
	p.size_bytes = c->opt.size;
	p.flags = MEMX_F_DISCARD | MEMX_F_WRITE_ZEROES;
	p.nr_queues = c->opt.queues + c->opt.poll_queues;
	if (c->opt.poll_queues) {
		uint64_t features;

		r = memx_kdev_features(c->kfd, &features);
		if (r)
			return memx_log_errno(r, "ask memx.ko what it supports");
		if (!(features & MEMX_F_POLL_QUEUES))
			return memx_log_errno(-EOPNOTSUPP, "this memx.ko has no polled queues "
					      "(--poll-queues)");
		p.flags |= MEMX_F_POLL_QUEUES;
		p.nr_poll_queues = c->opt.poll_queues;
	}
	p.queue_depth = c->opt.depth;
	p.max_io_bytes = c->opt.max_io;
	p.dev_id = -1;
	r = memx_kdev_add(c->kfd, &p);
	if (r)
		return memx_log_errno(r, "create the volume in memx.ko");
	c->dev_id = p.dev_id;
	c->nr_queues = p.nr_queues;
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		r = memxd_queue_setup(c, &c->queue[q], q);
		if (r)
			return r;
	}
	for (unsigned int i = 0; i < c->opt.nr_donors; i++) {
		r = client_add_donor(c, c->opt.donor_host[i], c->opt.donor_port[i]);
		if (r)
			return r;
	}
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		r = memxd_queue_start(&c->queue[q]);
		if (r)
			return memx_log_errno(r, "start queue thread %u", q);
	}
	r = memx_kdev_start(c->kfd, c->dev_id);
	if (r)
		return memx_log_errno(r, "start /dev/memx%d", c->dev_id);
	if (c->opt.listen_host[0]) {
		r = mxv_listen(c->opt.listen_host, c->opt.listen_port, 16, &c->listener);
		if (r)
			return memx_log_errno(r, "listen for donors on %s:%u", c->opt.listen_host,
					      c->opt.listen_port);
	}
	return 0;
}

static void client_teardown(struct memxd_client *c)
{
	atomic_store(&c->stopping, true);
	for (unsigned int q = 0; q < c->nr_queues; q++)
		memxd_queue_stop(&c->queue[q]);
	if (c->kfd >= 0 && c->dev_id >= 0)
		memx_kdev_del(c->kfd, c->dev_id);
	for (unsigned int i = 0; i < c->nr_donors; i++)
		donor_teardown(&c->donor[i], c->nr_queues);
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		memxd_queue_teardown(&c->queue[q]);
		mxv_cq_destroy(c->queue[q].cq);
	}
	mxv_listener_destroy(c->listener);
	mxv_cq_destroy(c->ctrl_cq);
	mxv_mr_dereg(c->bounce_mr);
	free(c->bounce);
	mxv_ctx_close(c->ctx);
	if (c->kfd >= 0)
		close(c->kfd);	/* closing the owner fd removes whatever is left */
	if (c->req_fd >= 0)
		close(c->req_fd);
	free(c->req);
	free(c->fail_gen);
	memx_slabmap_fini(&c->map);
}

/* Handles SIGINT/SIGTERM. Returns true when the volume is gone and we may exit. */
static bool client_try_remove(struct memxd_client *c, int sig)
{
	struct memx_dev_info info;
	int r;

	memx_info("volume %s: %s: removing /dev/memx%d", c->opt.name, strsignal(sig), c->dev_id);
	r = memx_kdev_del(c->kfd, c->dev_id);
	if (r == -EBUSY) {
		memx_kdev_info(c->kfd, c->dev_id, &info);
		memx_err("volume %s: /dev/memx%d is in use (%u openers: mounted or swap?); not "
			 "removing it, still serving. Unmount or swapoff it first.", c->opt.name,
			 c->dev_id, info.open_count);
		return false;
	}
	if (r)
		memx_log_errno(r, "volume %s: remove /dev/memx%d", c->opt.name, c->dev_id);
	c->dev_id = -1;
	return true;
}

/*
 * A donor knocks (memxd donor --join): its hello names the port it listens
 * on; we take the connection only as the message, then connect to the donor
 * as to any other.
 */
static void serve_join(struct memxd_client *c)
{
	struct mxv_req *req;

	while (mxv_listener_get_request(c->listener, 0, &req) == 0) {
		struct mxv_qp_attr attr = { .send_cq = c->ctrl_cq, .recv_cq = c->ctrl_cq,
					    .max_send_wr = 1 };
		uint8_t rej[sizeof(struct memx_reject)];
		struct memx_hello_info hello;
		struct memx_wire_error err;
		struct mxv_conn *conn = NULL;
		char peer[80], *colon;
		const void *pdata;
		size_t len;
		int r;

		mxv_req_peer(req, peer, sizeof(peer));
		pdata = mxv_req_pdata(req, &len);
		if (memx_hello_decode(pdata, len, &hello, &err) || hello.role != MEMX_ROLE_JOIN) {
			const char *why = err.reason;

			if (!memx_hello_decode(pdata, len, &hello, &err))
				why = "a client listens for donors that join only";
			memx_warn("volume %s: refused a join from %s: %s", c->opt.name, peer, why);
			memx_reject_encode(rej, sizeof(rej), hello.role ? MEMX_REJ_ROLE : err.code, why);
			mxv_req_reject(req, rej, sizeof(rej));
			continue;
		}
		r = mxv_req_accept(req, &attr, NULL, 0, MEMXD_CM_TIMEOUT_MS, &conn, NULL);
		mxv_conn_destroy(conn);
		if (r)
			continue;
		colon = strrchr(peer, ':');
		if (colon)
			*colon = '\0';
		r = client_add_donor(c, peer, hello.join_port);
		if (r)
			memx_err("volume %s: donor %s:%u asked to join but: %s", c->opt.name, peer,
				 hello.join_port, strerror(-r));
		else
			memx_info("volume %s: donor %s:%u joined", c->opt.name, peer,
				  hello.join_port);
	}
}

/*
 * Heartbeat: every MEMXD_HEARTBEAT_MS each usable donor answers a STATS
 * request (which also refreshes its free memory for placement). A donor
 * whose machine hangs sends no disconnect, and one-sided RDMA to it may not
 * fail until I/O happens: a missed reply (MEMXD_MSG_TIMEOUT_MS) declares it lost.
 */
static void heartbeat(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns();

	if (now < c->next_heartbeat_ns)
		return;
	c->next_heartbeat_ns = now + MEMXD_HEARTBEAT_MS * 1000000ULL;
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		struct memx_msg_info req = { .type = MEMX_MSG_STATS }, reply;

		if (!memxd_donor_usable(atomic_load(&d->state)))
			continue;
		if (!memxd_donor_call(c, d, &req, &reply))
			d->memory_free = reply.stats.memory_free;
	}
}

static int client_loop(struct memxd_client *c, int sfd, struct memxd_ctl *ctl)
{
	int timeout = 0;

	for (;;) {
		struct pollfd pfd[5 + MEMXD_MAX_DONORS];
		unsigned int n = 0, first_donor;

		pfd[n++] = (struct pollfd){ .fd = c->req_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl ? memxd_ctl_fd(ctl) : -1, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = mxv_cq_fd(c->ctrl_cq), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = c->listener ? mxv_listener_fd(c->listener) : -1,
					    .events = POLLIN };
		first_donor = n;
		for (unsigned int i = 0; i < c->nr_donors; i++)
			pfd[n++] = (struct pollfd){
				.fd = memxd_donor_usable(atomic_load(&c->donor[i].state)) ?
				      mxv_conn_fd(c->donor[i].ctrl) : -1,
				.events = POLLIN };
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return memx_log_errno(-errno, "poll");
		}
		if (pfd[0].revents)
			serve_requests(c);
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    client_try_remove(c, (int)si.ssi_signo))
				return 0;
		}
		if (pfd[2].revents)
			memxd_ctl_serve(ctl, client_ctl, c);
		/* Unsolicited messages (EVICT); also leaves the CQ armed for the next poll. */
		mxv_cq_drain_events(c->ctrl_cq);
		ctrl_pump(c, NULL, 0);
		for (unsigned int i = 0; i < c->nr_donors; i++) {
			struct memxd_donor *d = &c->donor[i];
			int r;

			if (!pfd[first_donor + i].revents)
				continue;
			r = mxv_conn_check(d->ctrl, 0);
			if (r < 0)
				donor_lost(c, d, r == -ECONNRESET ? "disconnected" : strerror(-r));
		}
		if (pfd[4].revents)
			serve_join(c);
		retry_deferred(c);
		heartbeat(c);
		timeout = memxd_recovery_step(c);
		if (timeout < 0 || timeout > MEMXD_HEARTBEAT_MS)
			timeout = MEMXD_HEARTBEAT_MS;
	}
}

int memxd_client_main(int argc, char **argv)
{
	struct memxd_client *c;
	struct memxd_ctl *ctl = NULL;
	sigset_t mask;
	int sfd, r;

	memx_log_role = "memxd client";
	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->kfd = -1;
	c->dev_id = -1;
	c->req_fd = -1;
	pthread_mutex_init(&c->req_lock, NULL);
	if (client_parse(argc, argv, &c->opt))
		return 2;
	if (getrandom(c->volume_id, sizeof(c->volume_id), 0) != sizeof(c->volume_id) ||
	    getrandom(&c->rng, sizeof(c->rng), 0) != sizeof(c->rng))
		return 1;
	c->rng |= 1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);	/* before any thread starts */
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	r = memxd_make_swap_safe();
	if (r)
		memx_log_errno(r, "swap safety (mlockall, PR_SET_IO_FLUSHER): continuing without");
	r = client_setup(c);
	if (r) {
		memx_err("volume %s: start-up failed; nothing was left behind", c->opt.name);
		client_teardown(c);
		return 1;
	}
	r = memxd_ctl_open(c->opt.ctl_path, &ctl);
	if (r)
		memx_log_errno(r, "control socket %s: memxctl will not reach us", c->opt.ctl_path);
	printf("ready /dev/memx%d\n", c->dev_id);
	fflush(stdout);
	memx_info("volume %s: /dev/memx%d ready, %" PRIu64 " MiB on %u donor(s)", c->opt.name,
		  c->dev_id, c->opt.size >> 20, c->nr_donors);

	r = client_loop(c, sfd, ctl);
	memxd_ctl_close(ctl);
	client_teardown(c);
	close(sfd);
	memx_info("volume %s: stopped", c->opt.name);
	return r ? 1 : 0;
}
