/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libmxv: a small library over librdmacm/libibverbs for memx.
 *
 * It connects and listens with private data, registers memory regions, posts
 * one-sided RDMA READ/WRITE and two-sided SEND/RECV, and reaps completions
 * through a completion channel. It knows nothing of slabs or volumes.
 *
 * Conventions:
 * - Every fallible call returns 0 (or a count) on success and a negative errno
 *   on failure. Constructors hand their object back through an out-parameter,
 *   which is set to NULL on failure.
 * - Every destroy function accepts NULL and half-built objects.
 * - The library never logs; it hands back reasons (struct mxv_cm_result) and,
 *   when a debug hook is installed with mxv_set_debug(), debug text only.
 * - Nothing is allocated on the post/poll path (mxv_post_*, mxv_batch_*,
 *   mxv_cq_poll, mxv_cq_wait, mxv_cq_arm, mxv_cq_drain_events).
 *
 * Object lifetimes: an mxv_ctx outlives every MR, CQ and connection made on
 * it; a CQ outlives every connection whose QP completes on it. Destroy in the
 * reverse order: connections, then CQs and MRs, then the context.
 *
 * Threads: no object is locked. A CQ, and the posting side of a connection,
 * belong to one thread at a time (the engine's queue thread). The CM side of
 * a connection (mxv_conn_check, mxv_conn_disconnect) and listeners belong to
 * one thread at a time (the control thread); the two sides share no mutable
 * state, so a queue thread may post while the control thread checks events.
 * mxv_conn_destroy must not race with anything on that connection.
 *
 * CM events: every connection, active or passive, has its own rdma_cm event
 * channel (mxv_conn_fd). Requests taken from a listener are migrated to a
 * channel of their own (rdma_migrate_id) as soon as they are taken, so the
 * listener's channel only ever carries new connect requests, and events of an
 * accepted connection (DISCONNECTED, DEVICE_REMOVAL, ...) arrive on that
 * connection's fd.
 */
#ifndef MXV_H
#define MXV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct mxv_ctx;
struct mxv_mr;
struct mxv_cq;
struct mxv_listener;
struct mxv_req;
struct mxv_conn;
struct mxv_batch;

/* rdma_cm private data limits for RC on IB/RoCE. */
#define MXV_CONNECT_PDATA_MAX	56	/* connect request */
#define MXV_ACCEPT_PDATA_MAX	196	/* accept (reply) */
#define MXV_REJECT_PDATA_MAX	148	/* reject */
#define MXV_PDATA_MAX		256	/* largest private data handed back (iWARP: 512 is cut) */

#define MXV_REASON_MAX		160

/*
 * What a connect or accept learned beyond its return value. Filled by
 * mxv_connect() and mxv_req_accept() on success and on failure.
 */
struct mxv_cm_result {
	/* Human-readable account of a failure ("" on success). */
	char reason[MXV_REASON_MAX];
	/*
	 * mxv_connect(): on 0, the peer's accept private data (the welcome); on
	 * -ECONNREFUSED, the peer's reject private data when the peer's
	 * application rejected (pdata_len 0 when the peer's CM refused on its
	 * own, e.g. nothing listens on that port). Empty otherwise. rdma_cm pads
	 * private data with zeros: on IB/RoCE pdata_len is 196 for an accept and
	 * 148 for a reject whatever the peer sent.
	 */
	size_t pdata_len;
	uint8_t pdata[MXV_PDATA_MAX];
};

/* ---- debug ---------------------------------------------------------------- */

/* Receives one line of debug text (no trailing newline). */
typedef void (*mxv_debug_fn)(void *arg, const char *fmt, va_list ap);

/*
 * Installs a debug hook (NULL, the default, turns debug text off). Call it
 * once, before other threads use the library.
 */
void mxv_set_debug(mxv_debug_fn fn, void *arg);

/* ---- errors --------------------------------------------------------------- */

/*
 * Maps a work completion status to a negative errno: 0 for IBV_WC_SUCCESS,
 * -ECANCELED for IBV_WC_WR_FLUSH_ERR (the QP went to error: expected after a
 * disconnect, never worth a warning), -EACCES for a remote access error (bad
 * rkey or range), -ETIMEDOUT for transport retries exhausted (peer gone),
 * -ENOBUFS for RNR retries exhausted, -EMSGSIZE for a local length error,
 * -EFAULT for local protection/access errors, -EREMOTEIO for other remote
 * errors, -EIO otherwise.
 */
int mxv_wc_errno(enum ibv_wc_status status);

/* ---- context: device + protection domain ---------------------------------- */

/* What the device can do, as reported by ibv_query_device. */
struct mxv_caps {
	uint32_t max_qp_wr;		/* work requests per queue */
	uint32_t max_sge;		/* scatter/gather entries per work request */
	uint32_t max_cqe;		/* entries per CQ */
	uint64_t max_mr_size;		/* bytes per MR */
	uint32_t max_qp_rd_atom;	/* RDMA READs a QP serves at once */
	uint32_t max_qp_init_rd_atom;	/* RDMA READs a QP issues at once */
	uint32_t vendor_id;
	bool soft;			/* software device (rxe, siw): no DMA, CPU copies */
};

/*
 * Opens the RDMA device that serves a local IP address and allocates a PD.
 * @local_ip: numeric IPv4 or IPv6 address of a local netdev with an RDMA
 *	device on it (RoCE, or rxe/siw on any netdev).
 * @out: receives the context.
 * Returns 0, -EINVAL (not a numeric address), -EADDRNOTAVAIL (not a local
 * address), -ENODEV (no RDMA device serves that address), or another -errno.
 */
int mxv_ctx_open(const char *local_ip, struct mxv_ctx **out);

/* Frees the PD and lets go of the device. Accepts NULL. */
void mxv_ctx_close(struct mxv_ctx *ctx);

/* The device's name ("rxe0"). */
const char *mxv_ctx_device_name(const struct mxv_ctx *ctx);

/* The device's limits. */
const struct mxv_caps *mxv_ctx_caps(const struct mxv_ctx *ctx);

/* ---- memory regions ------------------------------------------------------- */

/*
 * Access rights of an MR; give the least a region needs. A region written by
 * RECV or by an RDMA READ into it needs MXV_ACCESS_LOCAL_WRITE; one that only
 * sources SENDs and RDMA WRITEs needs none.
 */
#define MXV_ACCESS_LOCAL_WRITE	(1U << 0)
#define MXV_ACCESS_REMOTE_READ	(1U << 1)	/* peers may RDMA READ it */
#define MXV_ACCESS_REMOTE_WRITE	(1U << 2)	/* peers may RDMA WRITE it; implies LOCAL_WRITE */
#define MXV_ACCESS_ALL		(MXV_ACCESS_LOCAL_WRITE | MXV_ACCESS_REMOTE_READ | \
				 MXV_ACCESS_REMOTE_WRITE)

/*
 * Registers [addr, addr + len) with the device.
 * @access: MXV_ACCESS_* bits. Verbs require local write with remote write,
 *	so MXV_ACCESS_REMOTE_WRITE turns MXV_ACCESS_LOCAL_WRITE on as well.
 * Returns 0, -EINVAL (NULL or empty range, unknown access bits, or longer
 * than the device allows), or the -errno of ibv_reg_mr (-ENOMEM, -EFAULT...).
 */
int mxv_mr_reg(struct mxv_ctx *ctx, void *addr, size_t len, unsigned int access,
	       struct mxv_mr **out);

/* Deregisters: the rkey stops working at once. Accepts NULL. */
void mxv_mr_dereg(struct mxv_mr *mr);

void *mxv_mr_addr(const struct mxv_mr *mr);
size_t mxv_mr_length(const struct mxv_mr *mr);
uint32_t mxv_mr_lkey(const struct mxv_mr *mr);
uint32_t mxv_mr_rkey(const struct mxv_mr *mr);

/* ---- completion queues ---------------------------------------------------- */

/*
 * Creates a CQ of at least @cqe entries with its own completion channel. Any
 * number of QPs, to any number of peers, may complete on one CQ; wc.qp_num
 * (see mxv_conn_qp_num) and the caller's wr_id tell them apart.
 * Returns 0, -EINVAL (cqe < 1 or above the device's limit) or -errno.
 */
int mxv_cq_create(struct mxv_ctx *ctx, int cqe, struct mxv_cq **out);

/*
 * Destroys the CQ and its channel after acknowledging every event taken.
 * Destroy every connection using the CQ first. Accepts NULL.
 */
void mxv_cq_destroy(struct mxv_cq *cq);

/*
 * The completion channel's fd (non-blocking): readable once the CQ has been
 * armed and a completion arrived. For poll()/epoll/io_uring in a caller's
 * own loop, which must then call, in this order: mxv_cq_drain_events(),
 * mxv_cq_poll() until it returns less than asked, mxv_cq_arm(), and
 * mxv_cq_poll() once more (a completion that landed before the arm raises no
 * event) before sleeping again.
 */
int mxv_cq_fd(const struct mxv_cq *cq);

/*
 * Takes up to @max completions. Returns their number (0 if none) or -EIO
 * when the provider fails. Each wc.status must be checked (mxv_wc_errno()).
 */
int mxv_cq_poll(struct mxv_cq *cq, struct ibv_wc *wc, int max);

/*
 * Asks for an event on the next completion. Returns 0 or -errno.
 */
int mxv_cq_arm(struct mxv_cq *cq);

/*
 * Consumes every event waiting on the channel without blocking, acknowledging
 * them in batches. Returns the number consumed or -errno.
 */
int mxv_cq_drain_events(struct mxv_cq *cq);

/*
 * Takes up to @max completions, sleeping in the completion channel for up to
 * @timeout_ms (< 0: no limit) when there are none. Never spins: it polls,
 * arms, polls again to close the race, then blocks in poll(2) on the channel.
 * Returns the number of completions (> 0), -ETIMEDOUT when none came in time
 * (at once when timeout_ms is 0), -EINTR when a signal interrupted the sleep,
 * or -errno.
 */
int mxv_cq_wait(struct mxv_cq *cq, struct ibv_wc *wc, int max, int timeout_ms);

/* ---- queue pairs ---------------------------------------------------------- */

/* How to build a connection's RC queue pair. */
struct mxv_qp_attr {
	struct mxv_cq *send_cq;		/* SEND/WRITE/READ completions; required */
	struct mxv_cq *recv_cq;		/* RECV completions; required, may be send_cq */
	uint32_t max_send_wr;		/* send queue depth, >= 1 */
	uint32_t max_recv_wr;		/* receive queue depth, may be 0 */
	uint32_t max_send_sge;		/* 0 means 1 */
	uint32_t max_recv_sge;		/* 0 means 1 */
	uint32_t max_inline_data;	/* bytes a SEND/WRITE may carry inline; 0: none */
	/*
	 * Optional: called once the QP exists and before the connection is
	 * requested or accepted, so that RECVs can be posted before the peer
	 * can send. A non-zero (-errno) return aborts the connect or accept
	 * with that value.
	 */
	int (*prepost)(struct mxv_conn *conn, void *arg);
	void *prepost_arg;
};

/* ---- listening (passive side) --------------------------------------------- */

/*
 * Listens for connections on a local address.
 * @ip: numeric local address; @port: port, 0 for any (see mxv_listener_port);
 * @backlog: pending requests kept by the kernel, <= 0 for a default.
 * Returns 0, -EINVAL, -EADDRINUSE, -EADDRNOTAVAIL or -errno.
 */
int mxv_listen(const char *ip, uint16_t port, int backlog, struct mxv_listener **out);

/* Stops listening. Requests already taken live on. Accepts NULL. */
void mxv_listener_destroy(struct mxv_listener *l);

/* The listener's event channel fd (non-blocking): readable when a request may be waiting. */
int mxv_listener_fd(const struct mxv_listener *l);

/* The port listened on, in host order. */
uint16_t mxv_listener_port(const struct mxv_listener *l);

/*
 * Takes the next connect request, waiting up to @timeout_ms (< 0: no limit,
 * 0: don't wait). The request has its own event channel from here on. It must
 * be answered with mxv_req_accept() or mxv_req_reject(), both of which
 * consume it, or dropped with mxv_req_destroy(), which refuses it.
 * Returns 0, -ETIMEDOUT, -EINTR, -ENODEV (device removed: the listener is
 * dead) or -errno.
 */
int mxv_listener_get_request(struct mxv_listener *l, int timeout_ms, struct mxv_req **out);

/*
 * The request's private data and its length. On IB/RoCE the length is always
 * 56: rdma_cm pads what the peer sent with zeros.
 */
const void *mxv_req_pdata(const struct mxv_req *req, size_t *len);

/* Writes "ip:port" of the requesting peer into buf. Returns buf. */
const char *mxv_req_peer(const struct mxv_req *req, char *buf, size_t len);

/*
 * Accepts a request: creates its QP per @attr (whose CQs must belong to the
 * device the request came in on), runs attr->prepost, answers with @pdata
 * (at most MXV_ACCEPT_PDATA_MAX bytes) and waits up to @timeout_ms (< 0: no
 * limit) for the connection to be established.
 * Consumes @req whatever happens: on failure the request is refused or the
 * half-made connection torn down.
 * @res: optional; receives a reason on failure.
 * Returns 0 with *out established, -EINVAL (bad attr, pdata too long),
 * -EXDEV (CQs on another device), -ETIMEDOUT, -ECONNRESET, -ECONNABORTED,
 * -ECONNREFUSED (peer gave up), or -errno.
 */
int mxv_req_accept(struct mxv_req *req, const struct mxv_qp_attr *attr, const void *pdata,
		   size_t pdata_len, int timeout_ms, struct mxv_conn **out,
		   struct mxv_cm_result *res);

/*
 * The same, without waiting: creates the QP, runs attr->prepost and answers
 * with @pdata, then returns. The connection is half-open until
 * mxv_conn_accept_poll() says it is established; until then its fd
 * (mxv_conn_fd) becomes readable when something happens to it. A peer may
 * never complete the handshake: keep a deadline and mxv_conn_destroy() the
 * connection when it passes.
 * Consumes @req whatever happens. Returns 0 with *out half-open, or the
 * errors of mxv_req_accept() but -ETIMEDOUT.
 */
int mxv_req_accept_start(struct mxv_req *req, const struct mxv_qp_attr *attr, const void *pdata,
			 size_t pdata_len, struct mxv_conn **out, struct mxv_cm_result *res);

/*
 * Looks, without waiting, whether a connection from mxv_req_accept_start()
 * is established. Returns 0 (established: use it), -EINPROGRESS (not yet),
 * or -errno (it failed: destroy it).
 */
int mxv_conn_accept_poll(struct mxv_conn *conn, struct mxv_cm_result *res);

/*
 * Refuses a request with @pdata (at most MXV_REJECT_PDATA_MAX bytes) as the
 * reject's private data. Consumes @req whatever happens: with pdata too long
 * it refuses without private data and returns -EINVAL.
 * Returns 0 or -errno.
 */
int mxv_req_reject(struct mxv_req *req, const void *pdata, size_t pdata_len);

/* Refuses (without private data) and frees a request. Accepts NULL. */
void mxv_req_destroy(struct mxv_req *req);

/* ---- connecting (active side) --------------------------------------------- */

struct mxv_connect_param {
	const char *dst_ip;	/* numeric address of the listener */
	uint16_t port;		/* its port */
	const char *src_ip;	/* optional local address to connect from (NULL: any) */
	const void *pdata;	/* connect private data (the hello) */
	size_t pdata_len;	/* at most MXV_CONNECT_PDATA_MAX */
	/*
	 * Overall limit (< 0: none, but address and route resolution each
	 * still give up after 30 s, as rdma_cm does).
	 */
	int timeout_ms;
	/*
	 * Optional: called at least every MXV_WAIT_HOOK_MS while the connect
	 * waits for the network (resolution, the peer's answer), so that the
	 * caller's event loop can do what must not wait that long. It must not
	 * use this connection.
	 */
	void (*wait_hook)(void *arg);
	void *wait_arg;
};

#define MXV_WAIT_HOOK_MS	100

/*
 * Connects to a listener: resolves the address (from src_ip when given) and
 * the route, creates the QP per @attr (whose CQs must be on the device the
 * route goes out of), runs attr->prepost, sends the request with the private
 * data and waits for the connection to be established.
 * @res: optional; on success receives the peer's accept private data, on
 *	-ECONNREFUSED its reject private data, and a reason on any failure.
 * Returns 0 with *out established, or
 *	-EINVAL		bad arguments, pdata_len > MXV_CONNECT_PDATA_MAX (checked
 *			before anything touches the network), bad attr;
 *	-EADDRNOTAVAIL	address resolution failed (RDMA_CM_EVENT_ADDR_ERROR);
 *	-ENETUNREACH	route resolution failed (RDMA_CM_EVENT_ROUTE_ERROR);
 *	-EHOSTUNREACH	the peer's CM never answered (RDMA_CM_EVENT_UNREACHABLE);
 *	-ECONNREFUSED	rejected (by the peer's application, or nothing listens);
 *	-ECONNABORTED	connection setup failed (RDMA_CM_EVENT_CONNECT_ERROR);
 *	-ETIMEDOUT	timeout_ms ran out;
 *	-EXDEV		the route leaves through another device than the CQs';
 *	-ENODEV		device removed; -EINTR a signal; or another -errno.
 */
int mxv_connect(const struct mxv_connect_param *param, const struct mxv_qp_attr *attr,
		struct mxv_conn **out, struct mxv_cm_result *res);

/* ---- connections ---------------------------------------------------------- */

/*
 * The connection's rdma_cm event channel fd (non-blocking): readable when a
 * CM event (DISCONNECTED, DEVICE_REMOVAL...) is waiting; call
 * mxv_conn_check() then.
 */
int mxv_conn_fd(const struct mxv_conn *conn);

/*
 * Processes the connection's CM events, waiting up to @timeout_ms (< 0: no
 * limit, 0: don't wait) for one. Returns 0 while the connection stands (no
 * event, or a harmless one), or the error that ended it: -ECONNRESET (the
 * peer disconnected, or we did and the peer answered: a graceful close is
 * mxv_conn_disconnect() then mxv_conn_check() until -ECONNRESET), -ENODEV
 * (device removed), -ENOTCONN (never established), -EINTR, or another -errno.
 * Once ended, returns that error at once.
 */
int mxv_conn_check(struct mxv_conn *conn, int timeout_ms);

/*
 * Starts a disconnect: the QP moves to the error state, so every posted work
 * request completes with IBV_WC_WR_FLUSH_ERR. Idempotent. Accepts NULL.
 * Returns 0 or -errno.
 */
int mxv_conn_disconnect(struct mxv_conn *conn);

/*
 * Disconnects if needed and frees the QP, the cm_id and the channel. Accepts
 * NULL and half-built connections. Completions of this QP already in a shared
 * CQ stay there: reap them (flush errors) before freeing what their wr_ids
 * point to.
 */
void mxv_conn_destroy(struct mxv_conn *conn);

/*
 * The private data the peer sent: its accept (the welcome) on the active
 * side, its connect request (the hello) on the passive side; zero-padded.
 */
const void *mxv_conn_peer_pdata(const struct mxv_conn *conn, size_t *len);

/* Writes "ip:port" of the peer into buf. Returns buf. */
const char *mxv_conn_peer(const struct mxv_conn *conn, char *buf, size_t len);

/* The QP number, as found in ibv_wc.qp_num of this connection's completions. */
uint32_t mxv_conn_qp_num(const struct mxv_conn *conn);

/* A caller's pointer carried by the connection (NULL until set). */
void mxv_conn_set_user(struct mxv_conn *conn, void *user);
void *mxv_conn_user(const struct mxv_conn *conn);

/* ---- posting work --------------------------------------------------------- */

/*
 * Each post names its local buffer as an MR plus an offset and a length that
 * must lie inside the MR (-EINVAL otherwise); a length of 0 posts no buffer
 * (mr may then be NULL). @wr_id comes back in ibv_wc.wr_id. Every work
 * request is signalled unless posted with MXV_WR_UNSIGNALED in a batch.
 * Returns 0 or -errno (-ENOMEM: queue full, -EINVAL...).
 */

/* RDMA WRITE of local [off, off + len) to the peer's (raddr, rkey). */
int mxv_post_write(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		   uint64_t raddr, uint32_t rkey, uint64_t wr_id);

/* RDMA READ of the peer's (raddr, rkey) into local [off, off + len); needs LOCAL_WRITE. */
int mxv_post_read(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		  uint64_t raddr, uint32_t rkey, uint64_t wr_id);

/* SEND of local [off, off + len); the peer must have a RECV posted. */
int mxv_post_send(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		  uint64_t wr_id);

/* RECV into local [off, off + len); needs LOCAL_WRITE. */
int mxv_post_recv(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		  uint64_t wr_id);

/* Flags for work requests added to a batch. */
#define MXV_WR_UNSIGNALED	(1U << 0)	/* no completion unless it fails */
#define MXV_WR_FENCE		(1U << 1)	/* wait for earlier RDMA READs first */
#define MXV_WR_INLINE		(1U << 2)	/* copy the data into the WR (<= max_inline_data) */
#define MXV_WR_ALL		(MXV_WR_UNSIGNALED | MXV_WR_FENCE | MXV_WR_INLINE)

/*
 * A batch chains send-queue work requests so that one ibv_post_send posts
 * them all. It is not tied to a connection: fill it, post it to one, reuse it.
 * Storage for @max_wr work requests is allocated here, never later.
 * Returns 0, -EINVAL (max_wr 0) or -ENOMEM.
 */
int mxv_batch_create(unsigned int max_wr, struct mxv_batch **out);

/* Accepts NULL. */
void mxv_batch_destroy(struct mxv_batch *b);

/* Empties the batch. */
void mxv_batch_reset(struct mxv_batch *b);

/* Work requests in the batch. */
unsigned int mxv_batch_count(const struct mxv_batch *b);

/* The wr_id of the i-th work request in the batch (0 when out of range). */
uint64_t mxv_batch_wr_id(const struct mxv_batch *b, unsigned int i);

/*
 * Append one work request, as the mxv_post_* of the same name would post it.
 * @flags: MXV_WR_* bits. Unsignaled work requests still hold their send queue
 * slot until a later signalled one on the same QP completes.
 * Returns 0, -ENOSPC (batch full) or -EINVAL; a failed add leaves the batch
 * as it was.
 */
int mxv_batch_write(struct mxv_batch *b, const struct mxv_mr *mr, size_t off, uint32_t len,
		    uint64_t raddr, uint32_t rkey, uint64_t wr_id, unsigned int flags);
int mxv_batch_read(struct mxv_batch *b, const struct mxv_mr *mr, size_t off, uint32_t len,
		   uint64_t raddr, uint32_t rkey, uint64_t wr_id, unsigned int flags);
int mxv_batch_send(struct mxv_batch *b, const struct mxv_mr *mr, size_t off, uint32_t len,
		   uint64_t wr_id, unsigned int flags);

/*
 * Posts the whole batch with one ibv_post_send.
 * @posted: optional; receives how many work requests were posted.
 * Returns 0 with the batch emptied (an empty batch posts nothing), or -errno
 * with the posted work requests removed: the batch then holds exactly those
 * that were not posted, in order (see mxv_batch_wr_id), to post again or to
 * fail, then mxv_batch_reset().
 */
int mxv_batch_post(struct mxv_conn *conn, struct mxv_batch *b, unsigned int *posted);

#endif /* MXV_H */
