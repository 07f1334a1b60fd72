/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libmxv internals: object layouts, the errno normalisers and the pure helpers
 * that unit tests reach directly. Nothing outside verbs/ and its unit test
 * includes this header.
 */
#ifndef MXV_PRIV_H
#define MXV_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "mxv.h"

#define MXV_DEV_NAME_MAX	64
#define MXV_CQ_ACK_BATCH	32	/* CQ events acknowledged at once */
#define MXV_RESOLVE_MAX_MS	30000	/* cap of one address or route resolution */
#define MXV_DEFAULT_BACKLOG	16
#define MXV_RETRY_COUNT		7	/* transport retries before IBV_WC_RETRY_EXC_ERR */
#define MXV_RNR_RETRY_COUNT	7	/* 7: retry forever while the peer posts no RECV */

struct mxv_ctx {
	struct rdma_cm_id *id;		/* bound to the local address: pins the device */
	struct ibv_context *verbs;	/* librdmacm's, shared by every cm_id on the device */
	struct ibv_pd *pd;
	struct mxv_caps caps;
	char name[MXV_DEV_NAME_MAX];
};

struct mxv_mr {
	struct ibv_mr *mr;
	void *addr;
	size_t length;
	uint32_t lkey;
	uint32_t rkey;
};

struct mxv_cq {
	struct mxv_ctx *ctx;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
	unsigned int unacked;		/* events taken, not yet acknowledged */
	bool armed;			/* notification requested, no event taken since */
};

struct mxv_listener {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
};

struct mxv_req {
	struct rdma_event_channel *ch;	/* the request's own channel (migrated) */
	struct rdma_cm_id *id;
	size_t pdata_len;
	uint8_t pdata[MXV_PDATA_MAX];
};

enum mxv_conn_state {
	MXV_CONN_NEW,		/* cm_id exists; resolving or QP being built */
	MXV_CONN_CONNECTING,	/* request sent or accepted; waiting for ESTABLISHED */
	MXV_CONN_ESTABLISHED,	/* data may flow */
	MXV_CONN_CLOSED,	/* terminal: conn->err says why */
};

struct mxv_conn {
	struct rdma_event_channel *ch;	/* this connection's own channel */
	struct rdma_cm_id *id;
	struct ibv_qp *qp;		/* id->qp once created */
	enum mxv_conn_state state;
	int err;			/* why it closed (state CLOSED) */
	bool active;			/* we connected (else accepted) */
	bool disconnected;		/* rdma_disconnect() done */
	void *user;
	size_t pdata_len;
	uint8_t pdata[MXV_PDATA_MAX];	/* the peer's welcome (active) or hello (passive) */
	void (*wait_hook)(void *arg);	/* mxv_connect_param's, while connecting */
	void *wait_arg;
};

struct mxv_batch {
	unsigned int max;
	unsigned int count;
	struct ibv_send_wr *wr;
	struct ibv_sge *sge;
};

/*
 * The three foreign error conventions, each turned into 0 or -errno. Read
 * errno straight after the call: mxv_errno_neg1(rdma_bind_addr(id, sa)).
 */

/* ibv_post_*, ibv_req_notify_cq, ibv_dereg_mr, ibv_destroy_*, ibv_query_*: 0 or errno. */
int mxv_errno_pos(int r);
/* ibv_reg_mr, ibv_create_*, ibv_alloc_pd, rdma_create_event_channel: NULL and errno. */
int mxv_errno_ptr(const void *p);
/* rdma_*, ibv_get_cq_event: -1 and errno (>= 0 passes through). */
int mxv_errno_neg1(int r);

/* The errno a CM event stands for (0 for the good ones); see mxv_connect(). */
int mxv_cm_event_errno(enum rdma_cm_event_type ev, int status);

/* Whether a REJECTED event's status says the peer's application rejected. */
bool mxv_reject_is_consumer(int status);

/* A short text for an IB CM reject reason ("invalid service ID"), or NULL. */
const char *mxv_ib_reject_str(int status);

/* MXV_ACCESS_* to IBV_ACCESS_* (remote write adds local write); -EINVAL on unknown bits. */
int mxv_access_to_ibv(unsigned int access);

/* Whether [off, off + len) lies inside a region of mr_len bytes, without overflow. */
bool mxv_range_ok(size_t mr_len, size_t off, size_t len);

/* Whether a device is a software one (rxe, siw) from its name and vendor id. */
bool mxv_is_soft_device(const char *name, uint32_t vendor_id);

/*
 * Checks @a against the device limits and fills @init for rdma_create_qp (RC,
 * sq_sig_all 0). Returns 0 or -EINVAL.
 */
int mxv_qp_init_attr_fill(const struct mxv_qp_attr *a, const struct mxv_caps *caps,
			  struct ibv_qp_init_attr *init);

/* Parses a numeric IPv4/IPv6 address and a port. Returns 0 or -EINVAL. */
int mxv_parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss);

/* Writes "ip:port" (IPv6 as "[ip]:port") of sa into buf; "?" when unknown. */
const char *mxv_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* Monotonic milliseconds; deadlines: INT64_MAX for timeout_ms < 0. */
int64_t mxv_now_ms(void);
int64_t mxv_deadline(int timeout_ms);
/* Milliseconds left until @deadline, 0 when past, -1 when it is INT64_MAX. */
int mxv_remaining_ms(int64_t deadline);

/* Sets O_NONBLOCK on fd. Returns 0 or -errno. */
int mxv_set_nonblock(int fd);

/* Records a failure in res (may be NULL) and returns err. */
int mxv_res_fail(struct mxv_cm_result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mxv_res_clear(struct mxv_cm_result *res);

/* Debug text through the hook of mxv_set_debug(); nothing when none is set. */
void mxv_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fills one send WR and its SGE; shared by mxv_post_* and the batch. Returns 0 or -EINVAL. */
int mxv_fill_send_wr(struct ibv_send_wr *wr, struct ibv_sge *sge, enum ibv_wr_opcode op,
		     const struct mxv_mr *mr, size_t off, uint32_t len, uint64_t raddr,
		     uint32_t rkey, uint64_t wr_id, unsigned int flags);

#endif /* MXV_PRIV_H */
