// SPDX-License-Identifier: GPL-2.0
/*
 * libmxv without a device: the errno normalisers and mappings, the pure
 * helpers, argument checks that must fire before any network traffic, work
 * request building and batching, the completion wait (it must sleep, not
 * spin), and the unwind paths of constructors under injected failures.
 *
 * Fakes: fast-path verbs (ibv_post_send/recv, ibv_poll_cq, ibv_req_notify_cq)
 * are inline calls through ibv_context.ops, so a fake ibv_context with stub
 * ops stands in for a device. Out-of-line calls are replaced at link time
 * (-Wl,--wrap=..., see mxv_test_wraps in verbs/meson.build); a pipe stands in
 * for a completion channel's fd, one byte per completion event.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mxv_priv.h"

/* The fakes below match the real prototypes and ignore most of their arguments. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* ---- link-time fakes ------------------------------------------------------ */

static struct {
	/* injected failures: an errno to fail with, 0 to succeed */
	int create_comp_channel_err;
	int create_cq_err;
	int reg_mr_err;
	int create_event_channel_err;
	int create_id_err;
	int bind_err;
	bool bind_no_device;
	int listen_err;
	/* calls seen */
	int get_cq_event;
	int ack_calls;
	unsigned int acked;
	int destroy_comp_channel;
	int destroy_cq;
	int reg_mr;
	int create_event_channel;
	int destroy_event_channel;
	int create_id;
	int destroy_id;
	char seq[64];		/* order of teardown calls: a = ack, d = destroy_cq, c = channel */
	/* fast-path stubs */
	int poll_calls;
	int poll_ready;		/* completions the fake CQ holds */
	int poll_fail;
	int ready_after_event;	/* completions that appear once an event was taken */
	int notify_calls;
	int post_send_calls;
	int post_recv_calls;
	int post_fail_at;	/* index of the WR the provider refuses, -1: none */
	int post_fail_err;
	unsigned int nposted;
	struct ibv_send_wr posted[64];
	struct ibv_sge posted_sge[64];
	struct ibv_recv_wr recv;
	struct ibv_sge recv_sge;
} mock = { .post_fail_at = -1 };

static struct ibv_context fake_ibctx;
static struct ibv_cq fake_ibcq = { .context = &fake_ibctx };
static struct ibv_qp fake_qp = { .context = &fake_ibctx, .qp_num = 77 };
static struct ibv_comp_channel fake_comp_ch = { .context = &fake_ibctx, .fd = -1 };
static struct rdma_event_channel fake_cm_ch = { .fd = -1 };
static struct rdma_cm_id fake_cm_id;

static void seq_add(char c)
{
	size_t n = strlen(mock.seq);

	if (n + 1 < sizeof(mock.seq))
		mock.seq[n] = c;
}

/* Returns the read end of a fresh non-blocking pipe; *wr gets the write end. */
static int make_pipe(int *wr)
{
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	if (wr)
		*wr = fds[1];
	return fds[0];
}

/* Referenced so that a build without the --wrap flags fails to link instead of crashing. */
int __real_ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq,
			    void **cq_context);
__attribute__((used)) static int (*const wrap_guard)(struct ibv_comp_channel *,
						    struct ibv_cq **, void **) =
	__real_ibv_get_cq_event;

int __wrap_ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq,
			    void **cq_context);
int __wrap_ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq,
			    void **cq_context)
{
	char c;

	if (read(channel->fd, &c, 1) != 1)
		return -1;	/* errno is EAGAIN from the empty non-blocking pipe */
	mock.get_cq_event++;
	*cq = &fake_ibcq;
	*cq_context = NULL;
	return 0;
}

void __wrap_ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents);
void __wrap_ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	mock.ack_calls++;
	mock.acked += nevents;
	seq_add('a');
}

struct ibv_comp_channel *__wrap_ibv_create_comp_channel(struct ibv_context *context);
struct ibv_comp_channel *__wrap_ibv_create_comp_channel(struct ibv_context *context)
{
	if (mock.create_comp_channel_err) {
		errno = mock.create_comp_channel_err;
		return NULL;
	}
	fake_comp_ch.fd = make_pipe(NULL);
	return &fake_comp_ch;
}

int __wrap_ibv_destroy_comp_channel(struct ibv_comp_channel *channel);
int __wrap_ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	mock.destroy_comp_channel++;
	seq_add('c');
	return 0;
}

struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector);
struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector)
{
	if (mock.create_cq_err) {
		errno = mock.create_cq_err;
		return NULL;
	}
	return &fake_ibcq;
}

int __wrap_ibv_destroy_cq(struct ibv_cq *cq);
int __wrap_ibv_destroy_cq(struct ibv_cq *cq)
{
	mock.destroy_cq++;
	seq_add('d');
	return 0;
}

static struct ibv_mr *fake_reg_mr(void)
{
	mock.reg_mr++;
	errno = mock.reg_mr_err ? mock.reg_mr_err : ENOSYS;
	return NULL;
}

struct ibv_mr *__wrap_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access);
struct ibv_mr *__wrap_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	return fake_reg_mr();
}

struct ibv_mr *__wrap_ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				       uint64_t iova, unsigned int access);
struct ibv_mr *__wrap_ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				       uint64_t iova, unsigned int access)
{
	return fake_reg_mr();
}

struct rdma_event_channel *__wrap_rdma_create_event_channel(void);
struct rdma_event_channel *__wrap_rdma_create_event_channel(void)
{
	mock.create_event_channel++;
	if (mock.create_event_channel_err) {
		errno = mock.create_event_channel_err;
		return NULL;
	}
	fake_cm_ch.fd = make_pipe(NULL);
	return &fake_cm_ch;
}

void __wrap_rdma_destroy_event_channel(struct rdma_event_channel *channel);
void __wrap_rdma_destroy_event_channel(struct rdma_event_channel *channel)
{
	mock.destroy_event_channel++;
}

int __wrap_rdma_create_id(struct rdma_event_channel *channel, struct rdma_cm_id **id,
			  void *context, enum rdma_port_space ps);
int __wrap_rdma_create_id(struct rdma_event_channel *channel, struct rdma_cm_id **id,
			  void *context, enum rdma_port_space ps)
{
	mock.create_id++;
	if (mock.create_id_err) {
		errno = mock.create_id_err;
		return -1;
	}
	*id = &fake_cm_id;
	return 0;
}

int __wrap_rdma_bind_addr(struct rdma_cm_id *id, struct sockaddr *addr);
int __wrap_rdma_bind_addr(struct rdma_cm_id *id, struct sockaddr *addr)
{
	if (mock.bind_err) {
		errno = mock.bind_err;
		return -1;
	}
	id->verbs = mock.bind_no_device ? NULL : &fake_ibctx;
	return 0;
}

int __wrap_rdma_listen(struct rdma_cm_id *id, int backlog);
int __wrap_rdma_listen(struct rdma_cm_id *id, int backlog)
{
	errno = mock.listen_err ? mock.listen_err : ENOSYS;
	return -1;
}

/* Address resolution starts, and no event ever comes: a peer that does not answer. */
int __wrap_rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src, struct sockaddr *dst,
			     int timeout_ms);
int __wrap_rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src, struct sockaddr *dst,
			     int timeout_ms)
{
	return 0;
}

int __wrap_rdma_get_cm_event(struct rdma_event_channel *channel, struct rdma_cm_event **event);
int __wrap_rdma_get_cm_event(struct rdma_event_channel *channel, struct rdma_cm_event **event)
{
	errno = EAGAIN;
	return -1;
}

int __wrap_rdma_destroy_id(struct rdma_cm_id *id);
int __wrap_rdma_destroy_id(struct rdma_cm_id *id)
{
	mock.destroy_id++;
	return 0;
}

/* ---- fast-path stubs behind a fake ibv_context ---------------------------- */

static int stub_poll_cq(struct ibv_cq *cq, int num, struct ibv_wc *wc)
{
	int n, i;

	mock.poll_calls++;
	if (mock.poll_fail)
		return -1;
	if (mock.ready_after_event && __atomic_load_n(&mock.get_cq_event, __ATOMIC_SEQ_CST)) {
		mock.poll_ready += mock.ready_after_event;
		mock.ready_after_event = 0;
	}
	n = mock.poll_ready < num ? mock.poll_ready : num;
	for (i = 0; i < n; i++) {
		memset(&wc[i], 0, sizeof(wc[i]));
		wc[i].wr_id = 100 + (uint64_t)i;
		wc[i].status = IBV_WC_SUCCESS;
	}
	mock.poll_ready -= n;
	return n;
}

static int stub_req_notify(struct ibv_cq *cq, int solicited_only)
{
	mock.notify_calls++;
	return 0;
}

static int stub_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	unsigned int i = 0;

	mock.post_send_calls++;
	mock.nposted = 0;
	for (; wr; wr = wr->next, i++) {
		if ((int)i == mock.post_fail_at) {
			*bad = wr;
			return mock.post_fail_err;
		}
		cr_assert_lt(i, 64);
		mock.posted[i] = *wr;
		if (wr->num_sge)
			mock.posted_sge[i] = wr->sg_list[0];
		mock.nposted = i + 1;
	}
	return 0;
}

static int stub_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	mock.post_recv_calls++;
	mock.recv = *wr;
	if (wr->num_sge)
		mock.recv_sge = wr->sg_list[0];
	mock.recv.sg_list = NULL;
	return mock.post_fail_err;
}

static void fake_device(void)
{
	fake_ibctx.ops.poll_cq = stub_poll_cq;
	fake_ibctx.ops.req_notify_cq = stub_req_notify;
	fake_ibctx.ops.post_send = stub_post_send;
	fake_ibctx.ops.post_recv = stub_post_recv;
}

static struct mxv_ctx fake_ctx;
static uint8_t buf[4096];
static struct mxv_mr fake_mr = { .addr = buf, .length = sizeof(buf), .lkey = 0x11, .rkey = 0x22 };

static void conn_init(struct mxv_conn *conn)
{
	memset(conn, 0, sizeof(*conn));
	conn->qp = &fake_qp;
	conn->state = MXV_CONN_ESTABLISHED;
}

/* A CQ on the fake device whose channel is a pipe; *wr receives the pipe's write end. */
static void cq_init(struct mxv_cq *cq, int *wr)
{
	memset(cq, 0, sizeof(*cq));
	fake_comp_ch.fd = make_pipe(wr);
	cq->ctx = &fake_ctx;
	cq->ch = &fake_comp_ch;
	cq->cq = &fake_ibcq;
}

TestSuite(verbs, .init = fake_device, .timeout = 20);

/* ---- errno normalisers ---------------------------------------------------- */

Test(verbs, errno_pos)
{
	cr_expect_eq(mxv_errno_pos(0), 0);
	cr_expect_eq(mxv_errno_pos(EINVAL), -EINVAL);
	cr_expect_eq(mxv_errno_pos(ENOMEM), -ENOMEM);
	cr_expect_eq(mxv_errno_pos(-ENOMEM), -ENOMEM, "a provider's -errno is kept");
	cr_expect_eq(mxv_errno_pos(-1), -EIO, "-1 says nothing: -EIO, not -EPERM");
	cr_expect_eq(mxv_errno_pos(INT_MIN), -EIO);
}

Test(verbs, errno_ptr)
{
	int x = 0;

	errno = ENOMEM;
	cr_expect_eq(mxv_errno_ptr(&x), 0, "success whatever errno holds");
	errno = EMFILE;
	cr_expect_eq(mxv_errno_ptr(NULL), -EMFILE);
	errno = 0;
	cr_expect_eq(mxv_errno_ptr(NULL), -EIO, "NULL without errno still fails");
}

Test(verbs, errno_neg1)
{
	errno = EADDRINUSE;
	cr_expect_eq(mxv_errno_neg1(0), 0);
	cr_expect_eq(mxv_errno_neg1(5), 5, "counts pass through");
	cr_expect_eq(mxv_errno_neg1(-1), -EADDRINUSE);
	errno = 0;
	cr_expect_eq(mxv_errno_neg1(-1), -EIO);
}

/* ---- mappings ------------------------------------------------------------- */

Test(verbs, cm_event_errno)
{
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_ESTABLISHED, 0), 0);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_ADDR_RESOLVED, 0), 0);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_ROUTE_RESOLVED, 0), 0);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_ADDR_ERROR, -ETIMEDOUT), -EADDRNOTAVAIL);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_ROUTE_ERROR, -ETIMEDOUT), -ENETUNREACH);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_UNREACHABLE, -ETIMEDOUT), -EHOSTUNREACH);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_REJECTED, 28), -ECONNREFUSED);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_REJECTED, 8), -ECONNREFUSED);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_CONNECT_ERROR, -1), -ECONNABORTED);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_DISCONNECTED, 0), -ECONNRESET);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_DEVICE_REMOVAL, 0), -ENODEV);
	cr_expect_eq(mxv_cm_event_errno(RDMA_CM_EVENT_MULTICAST_JOIN, 0), -EPROTO);
}

Test(verbs, cm_errnos_are_distinct)
{
	static const enum rdma_cm_event_type bad[] = {
		RDMA_CM_EVENT_ADDR_ERROR, RDMA_CM_EVENT_ROUTE_ERROR, RDMA_CM_EVENT_UNREACHABLE,
		RDMA_CM_EVENT_REJECTED, RDMA_CM_EVENT_CONNECT_ERROR, RDMA_CM_EVENT_DISCONNECTED,
		RDMA_CM_EVENT_DEVICE_REMOVAL,
	};
	size_t i, j;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ri = mxv_cm_event_errno(bad[i], 0);

		cr_expect_lt(ri, 0);
		cr_expect_neq(ri, -ETIMEDOUT, "-ETIMEDOUT is kept for our own deadlines");
		for (j = i + 1; j < sizeof(bad) / sizeof(bad[0]); j++)
			cr_expect_neq(ri, mxv_cm_event_errno(bad[j], 0), "%s vs %s",
				      rdma_event_str(bad[i]), rdma_event_str(bad[j]));
	}
}

Test(verbs, reject_reasons)
{
	cr_expect(mxv_reject_is_consumer(28));
	cr_expect(mxv_reject_is_consumer(-ECONNREFUSED));
	cr_expect_not(mxv_reject_is_consumer(8));
	cr_expect_not(mxv_reject_is_consumer(0));
	cr_expect_not_null(mxv_ib_reject_str(8));
	cr_expect_not_null(mxv_ib_reject_str(28));
	cr_expect_null(mxv_ib_reject_str(9999));
}

Test(verbs, wc_errno)
{
	int s;

	cr_expect_eq(mxv_wc_errno(IBV_WC_SUCCESS), 0);
	cr_expect_eq(mxv_wc_errno(IBV_WC_WR_FLUSH_ERR), -ECANCELED);
	cr_expect_eq(mxv_wc_errno(IBV_WC_REM_ACCESS_ERR), -EACCES);
	cr_expect_eq(mxv_wc_errno(IBV_WC_RETRY_EXC_ERR), -ETIMEDOUT);
	cr_expect_eq(mxv_wc_errno(IBV_WC_RNR_RETRY_EXC_ERR), -ENOBUFS);
	cr_expect_eq(mxv_wc_errno(IBV_WC_LOC_LEN_ERR), -EMSGSIZE);
	cr_expect_eq(mxv_wc_errno(IBV_WC_LOC_PROT_ERR), -EFAULT);
	cr_expect_eq(mxv_wc_errno(IBV_WC_REM_OP_ERR), -EREMOTEIO);
	cr_expect_eq(mxv_wc_errno(IBV_WC_GENERAL_ERR), -EIO);
	for (s = IBV_WC_SUCCESS; s <= IBV_WC_TM_RNDV_INCOMPLETE + 1; s++) {
		int r = mxv_wc_errno((enum ibv_wc_status)s);

		if (s == IBV_WC_SUCCESS)
			continue;
		cr_expect_lt(r, 0, "status %d must be an error", s);
	}
}

Test(verbs, access_flags)
{
	cr_expect_eq(mxv_access_to_ibv(0), 0, "no rights unless asked");
	cr_expect_eq(mxv_access_to_ibv(MXV_ACCESS_LOCAL_WRITE), IBV_ACCESS_LOCAL_WRITE);
	cr_expect_eq(mxv_access_to_ibv(MXV_ACCESS_REMOTE_READ), IBV_ACCESS_REMOTE_READ,
		     "remote read does not drag in local write");
	cr_expect_eq(mxv_access_to_ibv(MXV_ACCESS_REMOTE_WRITE),
		     IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE,
		     "verbs need local write too");
	cr_expect_eq(mxv_access_to_ibv(MXV_ACCESS_ALL),
		     IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
	cr_expect_eq(mxv_access_to_ibv(1U << 7), -EINVAL);
}

Test(verbs, range_ok)
{
	cr_expect(mxv_range_ok(4096, 0, 4096));
	cr_expect(mxv_range_ok(4096, 4096, 0));
	cr_expect(mxv_range_ok(4096, 100, 3996));
	cr_expect_not(mxv_range_ok(4096, 100, 3997));
	cr_expect_not(mxv_range_ok(4096, 4097, 0));
	cr_expect_not(mxv_range_ok(4096, SIZE_MAX, 2), "no wrap-around");
	cr_expect_not(mxv_range_ok(4096, 2, SIZE_MAX));
}

Test(verbs, soft_device)
{
	cr_expect(mxv_is_soft_device("rxe0", 0));
	cr_expect(mxv_is_soft_device("memx_roce", 0xffffff));
	cr_expect(mxv_is_soft_device("siw_eth0", 0));
	cr_expect_not(mxv_is_soft_device("mlx5_0", 0x02c9));
	cr_expect_not(mxv_is_soft_device(NULL, 0x02c9));
}

Test(verbs, parse_addr)
{
	struct sockaddr_storage ss;
	char s[64];

	cr_assert_eq(mxv_parse_addr("10.77.0.1", 7471, &ss), 0);
	cr_expect_eq(ss.ss_family, AF_INET);
	cr_expect_str_eq(mxv_addr_str((struct sockaddr *)&ss, s, sizeof(s)), "10.77.0.1:7471");
	cr_assert_eq(mxv_parse_addr("fe80::1", 80, &ss), 0);
	cr_expect_eq(ss.ss_family, AF_INET6);
	cr_expect_str_eq(mxv_addr_str((struct sockaddr *)&ss, s, sizeof(s)), "[fe80::1]:80");
	cr_expect_eq(mxv_parse_addr("donor.example", 1, &ss), -EINVAL, "no name lookups");
	cr_expect_eq(mxv_parse_addr("10.77.0.256", 1, &ss), -EINVAL);
	cr_expect_eq(mxv_parse_addr("", 1, &ss), -EINVAL);
	cr_expect_eq(mxv_parse_addr(NULL, 1, &ss), -EINVAL);
	cr_expect_str_eq(mxv_addr_str(NULL, s, sizeof(s)), "?");
}

Test(verbs, deadlines)
{
	int64_t d;
	int left;

	cr_expect_eq(mxv_deadline(-1), INT64_MAX);
	cr_expect_eq(mxv_remaining_ms(INT64_MAX), -1, "no limit");
	cr_expect_eq(mxv_remaining_ms(mxv_deadline(0)), 0);
	cr_expect_eq(mxv_remaining_ms(mxv_now_ms() - 5), 0, "past is 0, never negative");
	d = mxv_deadline(10000);
	left = mxv_remaining_ms(d);
	cr_expect(left > 9000 && left <= 10000, "left %d", left);
}

Test(verbs, qp_init_attr)
{
	struct mxv_caps caps = { .max_qp_wr = 128, .max_sge = 4 };
	struct mxv_ctx other = { 0 };
	struct mxv_cq cq = { .ctx = &fake_ctx, .cq = &fake_ibcq };
	struct mxv_cq cq2 = { .ctx = &other, .cq = &fake_ibcq };
	struct mxv_qp_attr a = { .send_cq = &cq, .recv_cq = &cq, .max_send_wr = 64,
				 .max_recv_wr = 0, .max_inline_data = 32 };
	struct ibv_qp_init_attr init;

	cr_assert_eq(mxv_qp_init_attr_fill(&a, &caps, &init), 0);
	cr_expect_eq(init.qp_type, IBV_QPT_RC);
	cr_expect_eq(init.sq_sig_all, 0, "signalled per WR, by default");
	cr_expect_eq(init.cap.max_send_wr, 64);
	cr_expect_eq(init.cap.max_recv_wr, 0);
	cr_expect_eq(init.cap.max_send_sge, 1, "0 means 1");
	cr_expect_eq(init.cap.max_recv_sge, 1);
	cr_expect_eq(init.cap.max_inline_data, 32);
	cr_expect_eq(init.send_cq, &fake_ibcq);

	a.max_send_wr = 129;
	cr_expect_eq(mxv_qp_init_attr_fill(&a, &caps, &init), -EINVAL, "deeper than the device");
	a.max_send_wr = 0;
	cr_expect_eq(mxv_qp_init_attr_fill(&a, &caps, &init), -EINVAL, "a send queue is needed");
	a.max_send_wr = 8;
	a.max_send_sge = 5;
	cr_expect_eq(mxv_qp_init_attr_fill(&a, &caps, &init), -EINVAL);
	a.max_send_sge = 0;
	a.recv_cq = NULL;
	cr_expect_eq(mxv_qp_init_attr_fill(&a, &caps, &init), -EINVAL);
	a.recv_cq = &cq2;
	cr_expect_eq(mxv_qp_init_attr_fill(&a, &caps, &init), -EINVAL, "CQs on two devices");
}

/* ---- argument checks before any traffic ----------------------------------- */

Test(verbs, connect_pdata_too_long)
{
	struct mxv_cq cq = { .ctx = &fake_ctx };
	struct mxv_qp_attr attr = { .send_cq = &cq, .recv_cq = &cq, .max_send_wr = 4 };
	uint8_t pdata[MXV_PDATA_MAX] = { 0 };
	struct mxv_connect_param p = { .dst_ip = "10.77.0.1", .port = 7471, .pdata = pdata,
				       .timeout_ms = 1000 };
	struct mxv_cm_result res;
	struct mxv_conn *conn = (void *)&p;

	p.pdata_len = MXV_CONNECT_PDATA_MAX + 1;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EINVAL);
	cr_expect_null(conn);
	cr_expect_neq(strstr(res.reason, "56"), NULL, "reason: %s", res.reason);
	p.pdata_len = MXV_PDATA_MAX;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EINVAL);
	cr_expect_eq(mock.create_event_channel, 0, "refused before touching rdma_cm");
}

Test(verbs, connect_bad_arguments)
{
	struct mxv_ctx other = { 0 };
	struct mxv_cq cq = { .ctx = &fake_ctx }, cq2 = { .ctx = &other };
	struct mxv_qp_attr attr = { .send_cq = &cq, .recv_cq = &cq, .max_send_wr = 4 };
	struct mxv_connect_param p = { .dst_ip = "10.77.0.1", .port = 7471, .timeout_ms = 1000 };
	struct mxv_cm_result res;
	struct mxv_conn *conn;

	cr_expect_eq(mxv_connect(&p, &attr, NULL, &res), -EINVAL);
	cr_expect_eq(mxv_connect(NULL, &attr, &conn, &res), -EINVAL);
	cr_expect_eq(mxv_connect(&p, NULL, &conn, NULL), -EINVAL);
	p.pdata_len = 8;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EINVAL, "length without data");
	p.pdata_len = 0;
	p.dst_ip = "server-1";
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EINVAL);
	cr_expect(res.reason[0]);
	p.dst_ip = "10.77.0.1";
	p.src_ip = "::1";
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EINVAL, "mixed address families");
	p.src_ip = NULL;
	attr.recv_cq = &cq2;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EINVAL, "CQs on two devices");
	cr_expect_eq(mock.create_event_channel, 0);
}

Test(verbs, connect_unwinds_on_failure)
{
	struct mxv_cq cq = { .ctx = &fake_ctx };
	struct mxv_qp_attr attr = { .send_cq = &cq, .recv_cq = &cq, .max_send_wr = 4 };
	struct mxv_connect_param p = { .dst_ip = "10.77.0.1", .port = 7471, .timeout_ms = 1000 };
	struct mxv_cm_result res;
	struct mxv_conn *conn;

	mock.create_event_channel_err = EMFILE;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -EMFILE);
	cr_expect(res.reason[0]);
	cr_expect_eq(mock.destroy_event_channel, 0);

	mock.create_event_channel_err = 0;
	mock.create_id_err = ENOMEM;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -ENOMEM);
	cr_expect_null(conn);
	cr_expect_eq(mock.destroy_event_channel, 1, "the channel is freed");
	cr_expect_eq(mock.destroy_id, 0, "no id to free");
}

static void count_wait_hook(void *arg)
{
	(*(unsigned int *)arg)++;
}

/* A connect that waits for a peer lets its caller's loop run every MXV_WAIT_HOOK_MS. */
Test(verbs, a_waiting_connect_calls_its_hook)
{
	struct mxv_cq cq = { .ctx = &fake_ctx };
	struct mxv_qp_attr attr = { .send_cq = &cq, .recv_cq = &cq, .max_send_wr = 4 };
	unsigned int calls = 0;
	struct mxv_connect_param p = { .dst_ip = "10.77.0.1", .port = 7471, .timeout_ms = 450,
				       .wait_hook = count_wait_hook, .wait_arg = &calls };
	struct mxv_cm_result res;
	struct mxv_conn *conn;

	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -ETIMEDOUT);
	cr_expect_null(conn);
	cr_expect_geq(calls, 3, "called %u times in 450 ms", calls);
	cr_expect_leq(calls, 5, "called %u times in 450 ms", calls);
	cr_expect(strstr(res.reason, "address resolution"), "%s", res.reason);
	calls = 0;
	p.wait_hook = NULL;
	p.timeout_ms = 150;
	cr_expect_eq(mxv_connect(&p, &attr, &conn, &res), -ETIMEDOUT);
	cr_expect_eq(calls, 0);
}

Test(verbs, req_calls_accept_null)
{
	struct mxv_cm_result res;
	struct mxv_conn *conn;

	cr_expect_eq(mxv_req_reject(NULL, NULL, 0), -EINVAL);
	cr_expect_eq(mxv_req_accept(NULL, NULL, NULL, 0, 0, &conn, &res), -EINVAL);
	mxv_req_destroy(NULL);
}

Test(verbs, destroy_accepts_null_and_half_built)
{
	struct mxv_conn *conn;
	struct mxv_listener *l;

	mxv_ctx_close(NULL);
	mxv_mr_dereg(NULL);
	mxv_cq_destroy(NULL);
	mxv_listener_destroy(NULL);
	mxv_conn_destroy(NULL);
	mxv_batch_destroy(NULL);
	cr_expect_eq(mxv_conn_disconnect(NULL), 0);

	conn = calloc(1, sizeof(*conn));
	conn->ch = &fake_cm_ch;
	mxv_conn_destroy(conn);
	cr_expect_eq(mock.destroy_event_channel, 1);
	cr_expect_eq(mock.destroy_id, 0);

	l = calloc(1, sizeof(*l));
	l->ch = &fake_cm_ch;
	mxv_listener_destroy(l);
	cr_expect_eq(mock.destroy_event_channel, 2);
}

Test(verbs, conn_states)
{
	struct mxv_conn conn;

	conn_init(&conn);
	conn.state = MXV_CONN_NEW;
	cr_expect_eq(mxv_conn_check(&conn, 0), -ENOTCONN);
	cr_expect_eq(mxv_conn_disconnect(&conn), 0, "nothing to disconnect before ESTABLISHED");
	conn.state = MXV_CONN_CLOSED;
	conn.err = -ENODEV;
	cr_expect_eq(mxv_conn_check(&conn, 1000), -ENODEV, "a closed connection answers at once");
	cr_expect_eq(mxv_conn_qp_num(&conn), 77);
	mxv_conn_set_user(&conn, &conn);
	cr_expect_eq(mxv_conn_user(&conn), &conn);
}

/* ---- constructors under injected failures --------------------------------- */

Test(verbs, ctx_open_failures)
{
	struct mxv_ctx *ctx = (void *)&mock;

	cr_expect_eq(mxv_ctx_open("not-an-ip", &ctx), -EINVAL);
	cr_expect_null(ctx);
	cr_expect_eq(mock.create_id, 0);

	mock.create_id_err = ENODEV;
	cr_expect_eq(mxv_ctx_open("10.77.0.1", &ctx), -ENODEV);
	cr_expect_eq(mock.destroy_id, 0);

	mock.create_id_err = 0;
	mock.bind_err = EADDRNOTAVAIL;
	cr_expect_eq(mxv_ctx_open("10.77.0.9", &ctx), -EADDRNOTAVAIL, "not a local address");
	cr_expect_eq(mock.destroy_id, 1);

	mock.bind_err = 0;
	mock.bind_no_device = true;
	cr_expect_eq(mxv_ctx_open("127.0.0.1", &ctx), -ENODEV, "no RDMA device on it");
	cr_expect_eq(mock.destroy_id, 2);
	cr_expect_null(ctx);
}

Test(verbs, listen_failures)
{
	struct mxv_listener *l;

	mock.create_event_channel_err = EMFILE;
	cr_expect_eq(mxv_listen("10.77.0.1", 7471, 0, &l), -EMFILE);
	cr_expect_null(l);

	mock.create_event_channel_err = 0;
	mock.create_id_err = ENOMEM;
	cr_expect_eq(mxv_listen("10.77.0.1", 7471, 0, &l), -ENOMEM);
	cr_expect_eq(mock.destroy_event_channel, 1);
	cr_expect_eq(mock.destroy_id, 0);

	mock.create_id_err = 0;
	mock.bind_err = EADDRINUSE;
	cr_expect_eq(mxv_listen("10.77.0.1", 7471, 0, &l), -EADDRINUSE);
	cr_expect_eq(mock.destroy_id, 1);
	cr_expect_eq(mock.destroy_event_channel, 2);

	mock.bind_err = 0;
	mock.listen_err = EBUSY;
	cr_expect_eq(mxv_listen("10.77.0.1", 7471, 0, &l), -EBUSY);
	cr_expect_eq(mock.destroy_id, 2);
	cr_expect_eq(mock.destroy_event_channel, 3);
	cr_expect_eq(mxv_listen("10.77.0.x", 7471, 0, &l), -EINVAL);
	cr_expect_eq(mock.create_event_channel, 4, "a bad address is refused before rdma_cm");
}

Test(verbs, mr_reg_failures)
{
	struct mxv_ctx ctx = { .caps = { .max_mr_size = 8192 } };
	struct mxv_mr *mr = (void *)&mock;

	cr_expect_eq(mxv_mr_reg(&ctx, NULL, 4096, 0, &mr), -EINVAL);
	cr_expect_null(mr);
	cr_expect_eq(mxv_mr_reg(&ctx, buf, 0, 0, &mr), -EINVAL);
	cr_expect_eq(mxv_mr_reg(&ctx, buf, 8193, 0, &mr), -EINVAL, "over the device's limit");
	cr_expect_eq(mxv_mr_reg(&ctx, buf, 4096, 1U << 9, &mr), -EINVAL, "unknown access bit");
	cr_expect_eq(mock.reg_mr, 0);
	mock.reg_mr_err = EFAULT;
	cr_expect_eq(mxv_mr_reg(&ctx, buf, 4096, MXV_ACCESS_REMOTE_READ, &mr), -EFAULT,
		     "ibv_reg_mr's errno comes back negated");
	cr_expect_eq(mock.reg_mr, 1);
	cr_expect_null(mr);
}

Test(verbs, cq_create_and_destroy)
{
	struct mxv_ctx ctx = { .verbs = &fake_ibctx, .caps = { .max_cqe = 256 } };
	struct mxv_cq *cq = (void *)&mock;

	cr_expect_eq(mxv_cq_create(&ctx, 0, &cq), -EINVAL);
	cr_expect_null(cq);
	cr_expect_eq(mxv_cq_create(&ctx, 257, &cq), -EINVAL, "over the device's limit");

	mock.create_comp_channel_err = EMFILE;
	cr_expect_eq(mxv_cq_create(&ctx, 64, &cq), -EMFILE);
	mock.create_comp_channel_err = 0;
	mock.create_cq_err = ENOSPC;
	cr_expect_eq(mxv_cq_create(&ctx, 64, &cq), -ENOSPC);
	cr_expect_eq(mock.destroy_comp_channel, 1, "the channel is freed");
	cr_expect_null(cq);

	mock.create_cq_err = 0;
	cr_assert_eq(mxv_cq_create(&ctx, 64, &cq), 0);
	cr_expect_eq(mxv_cq_fd(cq), fake_comp_ch.fd);
	cr_expect(fcntl(mxv_cq_fd(cq), F_GETFL) & O_NONBLOCK, "the channel fd is non-blocking");
	cq->unacked = 5;
	mock.seq[0] = '\0';
	mxv_cq_destroy(cq);
	cr_expect_eq(mock.acked, 5, "every event taken is acknowledged");
	cr_expect_str_eq(mock.seq, "adc", "ack, then destroy the CQ, then its channel");
}

/* ---- completions ---------------------------------------------------------- */

Test(verbs, cq_poll)
{
	struct ibv_wc wc[4];
	struct mxv_cq cq;

	cq_init(&cq, NULL);
	mock.poll_ready = 3;
	cr_expect_eq(mxv_cq_poll(&cq, wc, 2), 2);
	cr_expect_eq(mxv_cq_poll(&cq, wc, 4), 1);
	cr_expect_eq(mxv_cq_poll(&cq, wc, 4), 0);
	cr_expect_eq(mxv_cq_poll(&cq, wc, 0), 0);
	cr_expect_eq(mxv_cq_poll(&cq, wc, -1), -EINVAL);
	mock.poll_fail = 1;
	cr_expect_eq(mxv_cq_poll(&cq, wc, 4), -EIO);
}

Test(verbs, cq_wait_ready)
{
	struct ibv_wc wc[4];
	struct mxv_cq cq;

	cq_init(&cq, NULL);
	mock.poll_ready = 2;
	cr_expect_eq(mxv_cq_wait(&cq, wc, 4, 1000), 2);
	cr_expect_eq(mock.notify_calls, 0, "no arming when completions are there");
	cr_expect_eq(mxv_cq_wait(&cq, NULL, 4, 0), -EINVAL);
}

Test(verbs, cq_wait_zero_timeout)
{
	struct ibv_wc wc[4];
	struct mxv_cq cq;

	cq_init(&cq, NULL);
	cr_expect_eq(mxv_cq_wait(&cq, wc, 4, 0), -ETIMEDOUT);
	cr_expect_eq(mock.notify_calls, 1);
	cr_expect_eq(mock.poll_calls, 2, "poll, arm, poll again to close the race");
	cr_expect(cq.armed);
	cr_expect_eq(mxv_cq_wait(&cq, wc, 4, 0), -ETIMEDOUT);
	cr_expect_eq(mock.notify_calls, 1, "still armed: no second arm");
}

Test(verbs, cq_wait_sleeps)
{
	struct ibv_wc wc[4];
	struct mxv_cq cq;
	int64_t t0, dt;

	cq_init(&cq, NULL);
	t0 = mxv_now_ms();
	cr_expect_eq(mxv_cq_wait(&cq, wc, 4, 200), -ETIMEDOUT);
	dt = mxv_now_ms() - t0;
	cr_expect_geq(dt, 190, "waited %lld ms", (long long)dt);
	cr_expect_leq(mock.poll_calls, 3, "%d CQ polls in 200 ms: it spins", mock.poll_calls);
}

struct late_event {
	int wr;
	int delay_ms;
};

static void *late_event_thread(void *arg)
{
	struct late_event *le = arg;
	struct timespec ts = { 0, le->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	if (write(le->wr, "e", 1) != 1)
		abort();
	return NULL;
}

Test(verbs, cq_wait_wakes_on_event)
{
	struct late_event le = { .delay_ms = 100 };
	struct ibv_wc wc[4];
	struct mxv_cq cq;
	pthread_t t;
	int64_t t0, dt;

	cq_init(&cq, &le.wr);
	mock.ready_after_event = 1;
	t0 = mxv_now_ms();
	cr_assert_eq(pthread_create(&t, NULL, late_event_thread, &le), 0);
	cr_expect_eq(mxv_cq_wait(&cq, wc, 4, 5000), 1);
	dt = mxv_now_ms() - t0;
	pthread_join(t, NULL);
	cr_expect_geq(dt, 90, "returned after %lld ms, before the event", (long long)dt);
	cr_expect_lt(dt, 2000);
	cr_expect_eq(mock.get_cq_event, 1);
	cr_expect_eq(cq.unacked, 1, "acknowledged later, in a batch");
	cr_expect_not(cq.armed, "an event disarms the CQ");
	cr_expect_leq(mock.poll_calls, 4);
}

Test(verbs, cq_events_acked_in_batches)
{
	char events[MXV_CQ_ACK_BATCH + 8];
	struct mxv_cq cq;
	int wr;

	cq_init(&cq, &wr);
	cq.armed = true;
	memset(events, 'e', sizeof(events));
	cr_assert_eq(write(wr, events, sizeof(events)), (ssize_t)sizeof(events));
	cr_expect_eq(mxv_cq_drain_events(&cq), (int)sizeof(events));
	cr_expect_eq(mock.ack_calls, 1);
	cr_expect_eq(mock.acked, MXV_CQ_ACK_BATCH);
	cr_expect_eq(cq.unacked, 8);
	cr_expect_not(cq.armed);
	cr_expect_eq(mxv_cq_drain_events(&cq), 0, "nothing left, no blocking");
}

/* ---- posting -------------------------------------------------------------- */

Test(verbs, post_one_each)
{
	struct mxv_conn conn;

	conn_init(&conn);
	cr_assert_eq(mxv_post_write(&conn, &fake_mr, 100, 200, 0xabc000, 0x99, 7), 0);
	cr_assert_eq(mock.nposted, 1);
	cr_expect_eq(mock.posted[0].opcode, IBV_WR_RDMA_WRITE);
	cr_expect_eq(mock.posted[0].wr_id, 7);
	cr_expect_eq(mock.posted[0].send_flags, IBV_SEND_SIGNALED, "signalled by default");
	cr_expect_eq(mock.posted[0].wr.rdma.remote_addr, 0xabc000);
	cr_expect_eq(mock.posted[0].wr.rdma.rkey, 0x99);
	cr_expect_eq(mock.posted_sge[0].addr, (uintptr_t)buf + 100);
	cr_expect_eq(mock.posted_sge[0].length, 200);
	cr_expect_eq(mock.posted_sge[0].lkey, 0x11);

	cr_assert_eq(mxv_post_read(&conn, &fake_mr, 0, 4096, 0x1000, 0x98, 8), 0);
	cr_expect_eq(mock.posted[0].opcode, IBV_WR_RDMA_READ);
	cr_expect_eq(mock.posted[0].wr.rdma.rkey, 0x98);

	cr_assert_eq(mxv_post_send(&conn, &fake_mr, 8, 64, 9), 0);
	cr_expect_eq(mock.posted[0].opcode, IBV_WR_SEND);
	cr_expect_eq(mock.posted[0].num_sge, 1);

	cr_assert_eq(mxv_post_send(&conn, NULL, 0, 0, 10), 0, "zero-length SEND needs no MR");
	cr_expect_eq(mock.posted[0].num_sge, 0);

	cr_assert_eq(mxv_post_recv(&conn, &fake_mr, 64, 128, 11), 0);
	cr_expect_eq(mock.recv.wr_id, 11);
	cr_expect_eq(mock.recv_sge.addr, (uintptr_t)buf + 64);
	cr_expect_eq(mock.recv_sge.length, 128);
	cr_expect_eq(mock.post_send_calls, 4);
	cr_expect_eq(mock.post_recv_calls, 1);
}

Test(verbs, post_checks)
{
	struct mxv_conn conn;

	conn_init(&conn);
	cr_expect_eq(mxv_post_write(&conn, &fake_mr, 4000, 97, 0, 0, 1), -EINVAL, "past the MR");
	cr_expect_eq(mxv_post_read(&conn, NULL, 0, 8, 0, 0, 1), -EINVAL);
	cr_expect_eq(mxv_post_recv(&conn, &fake_mr, 4096, 1, 1), -EINVAL);
	cr_expect_eq(mock.post_send_calls + mock.post_recv_calls, 0, "nothing reached the QP");
	conn.qp = NULL;
	cr_expect_eq(mxv_post_send(&conn, &fake_mr, 0, 8, 1), -ENOTCONN);
	cr_expect_eq(mxv_post_recv(&conn, &fake_mr, 0, 8, 1), -ENOTCONN);
	conn.qp = &fake_qp;
	mock.post_fail_at = 0;
	mock.post_fail_err = ENOMEM;
	cr_expect_eq(mxv_post_send(&conn, &fake_mr, 0, 8, 1), -ENOMEM, "queue full");
	cr_expect_eq(mxv_post_recv(&conn, &fake_mr, 0, 8, 1), -ENOMEM);
}

static void fill_batch(struct mxv_batch *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		cr_assert_eq(mxv_batch_write(b, &fake_mr, i * 100, 100, 0x10000 + i * 100, 0x55,
					     i, 0), 0);
}

Test(verbs, batch_chains_and_posts_once)
{
	struct mxv_batch *b;
	struct mxv_conn conn;
	unsigned int posted;
	unsigned int i;

	conn_init(&conn);
	cr_assert_eq(mxv_batch_create(8, &b), 0);
	cr_assert_eq(mxv_batch_write(b, &fake_mr, 0, 512, 0x1000, 1, 10, 0), 0);
	cr_assert_eq(mxv_batch_read(b, &fake_mr, 512, 512, 0x2000, 2, 11, MXV_WR_UNSIGNALED), 0);
	cr_assert_eq(mxv_batch_send(b, &fake_mr, 1024, 16, 12, MXV_WR_FENCE | MXV_WR_INLINE), 0);
	cr_expect_eq(mxv_batch_count(b), 3);
	cr_expect_eq(mxv_batch_wr_id(b, 1), 11);
	cr_assert_eq(mxv_batch_post(&conn, b, &posted), 0);
	cr_expect_eq(posted, 3);
	cr_expect_eq(mock.post_send_calls, 1, "one ibv_post_send for the whole batch");
	cr_assert_eq(mock.nposted, 3);
	cr_expect_eq(mock.posted[0].opcode, IBV_WR_RDMA_WRITE);
	cr_expect_eq(mock.posted[1].opcode, IBV_WR_RDMA_READ);
	cr_expect_eq(mock.posted[1].send_flags, 0, "unsignaled on request");
	cr_expect_eq(mock.posted[2].opcode, IBV_WR_SEND);
	cr_expect_eq(mock.posted[2].send_flags,
		     IBV_SEND_SIGNALED | IBV_SEND_FENCE | IBV_SEND_INLINE);
	for (i = 0; i < 3; i++)
		cr_expect_eq(mock.posted[i].wr_id, 10 + i);
	cr_expect_eq(mock.posted_sge[1].addr, (uintptr_t)buf + 512);
	cr_expect_eq(mxv_batch_count(b), 0, "emptied");

	cr_expect_eq(mxv_batch_post(&conn, b, &posted), 0, "empty batch");
	cr_expect_eq(posted, 0);
	cr_expect_eq(mock.post_send_calls, 1, "nothing posted for an empty batch");

	fill_batch(b, 2);
	cr_assert_eq(mxv_batch_post(&conn, b, NULL), 0);
	cr_expect_eq(mock.nposted, 2, "a reused batch ends its chain where it should");
	mxv_batch_destroy(b);
}

Test(verbs, batch_limits)
{
	struct mxv_batch *b = (void *)&mock;

	cr_expect_eq(mxv_batch_create(0, &b), -EINVAL);
	cr_expect_null(b);
	cr_assert_eq(mxv_batch_create(4, &b), 0);
	fill_batch(b, 4);
	cr_expect_eq(mxv_batch_write(b, &fake_mr, 0, 1, 0, 0, 99, 0), -ENOSPC);
	cr_expect_eq(mxv_batch_count(b), 4);
	mxv_batch_reset(b);
	cr_expect_eq(mxv_batch_send(b, &fake_mr, 4096, 1, 1, 0), -EINVAL, "past the MR");
	cr_expect_eq(mxv_batch_send(b, &fake_mr, 0, 1, 1, 1U << 8), -EINVAL, "unknown flag");
	cr_expect_eq(mxv_batch_count(b), 0, "a failed add leaves the batch as it was");
	cr_expect_eq(mxv_batch_wr_id(b, 0), 0);
	mxv_batch_destroy(b);
}

Test(verbs, batch_partial_failure)
{
	struct mxv_batch *b;
	struct mxv_conn conn;
	unsigned int posted = 99;
	unsigned int i;

	conn_init(&conn);
	cr_assert_eq(mxv_batch_create(8, &b), 0);
	fill_batch(b, 5);
	mock.post_fail_at = 2;
	mock.post_fail_err = ENOMEM;
	cr_expect_eq(mxv_batch_post(&conn, b, &posted), -ENOMEM);
	cr_expect_eq(posted, 2, "the provider took the first two");
	cr_assert_eq(mxv_batch_count(b), 3, "the batch keeps what did not go out");
	for (i = 0; i < 3; i++)
		cr_expect_eq(mxv_batch_wr_id(b, i), 2 + i);

	mock.post_fail_at = -1;
	cr_assert_eq(mxv_batch_post(&conn, b, &posted), 0);
	cr_expect_eq(posted, 3);
	cr_assert_eq(mock.nposted, 3, "relinked chain");
	for (i = 0; i < 3; i++) {
		cr_expect_eq(mock.posted[i].wr_id, 2 + i);
		cr_expect_eq(mock.posted_sge[i].addr, (uintptr_t)buf + (2 + i) * 100,
			     "each WR still points at its own SGE");
	}

	/* A provider that refuses the first work request posted nothing. */
	fill_batch(b, 3);
	mock.post_fail_at = 0;
	mock.post_fail_err = EINVAL;
	cr_expect_eq(mxv_batch_post(&conn, b, &posted), -EINVAL);
	cr_expect_eq(posted, 0);
	cr_expect_eq(mxv_batch_count(b), 3);
	conn.qp = NULL;
	cr_expect_eq(mxv_batch_post(&conn, b, &posted), -ENOTCONN);
	mxv_batch_destroy(b);
}
