// SPDX-License-Identifier: GPL-2.0
/*
 * Queue pairs: how they are shaped, and posting work to them.
 *
 * Theory of operation. Every connection has one RC QP, created by cm.c from a
 * struct mxv_qp_attr checked here against the device limits. The QP is made
 * with sq_sig_all = 0 and each work request asks for its own completion
 * (IBV_SEND_SIGNALED) unless the caller said MXV_WR_UNSIGNALED, so signalled
 * is the default and unsignaled the exception.
 *
 * Posting takes a local buffer as (MR, offset, length), checks the range
 * against the MR, and builds the verbs work request on the stack (single
 * posts) or in a batch's preallocated arrays: nothing is allocated here. A
 * batch chains its work requests through wr.next and posts them with a single
 * ibv_post_send(), the doorbell being the expensive part. When the provider
 * refuses a work request of the chain, those before it were posted and will
 * complete; the batch then drops them and keeps the refused one and the rest,
 * relinked, so the caller sees exactly what did not go out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mxv_priv.h"

int mxv_qp_init_attr_fill(const struct mxv_qp_attr *a, const struct mxv_caps *caps,
			  struct ibv_qp_init_attr *init)
{
	uint32_t send_sge, recv_sge;

	if (!a || !caps || !init || !a->send_cq || !a->recv_cq || !a->max_send_wr)
		return -EINVAL;
	send_sge = a->max_send_sge ? a->max_send_sge : 1;
	recv_sge = a->max_recv_sge ? a->max_recv_sge : 1;
	if (caps->max_qp_wr &&
	    (a->max_send_wr > caps->max_qp_wr || a->max_recv_wr > caps->max_qp_wr))
		return -EINVAL;
	if (caps->max_sge && (send_sge > caps->max_sge || recv_sge > caps->max_sge))
		return -EINVAL;
	if (a->send_cq->ctx != a->recv_cq->ctx)
		return -EINVAL;

	memset(init, 0, sizeof(*init));
	init->send_cq = a->send_cq->cq;
	init->recv_cq = a->recv_cq->cq;
	init->qp_type = IBV_QPT_RC;
	init->sq_sig_all = 0;
	init->cap.max_send_wr = a->max_send_wr;
	init->cap.max_recv_wr = a->max_recv_wr;
	init->cap.max_send_sge = send_sge;
	init->cap.max_recv_sge = recv_sge;
	init->cap.max_inline_data = a->max_inline_data;
	return 0;
}

int mxv_fill_send_wr(struct ibv_send_wr *wr, struct ibv_sge *sge, enum ibv_wr_opcode op,
		     const struct mxv_mr *mr, size_t off, uint32_t len, uint64_t raddr,
		     uint32_t rkey, uint64_t wr_id, unsigned int flags)
{
	if (flags & ~MXV_WR_ALL)
		return -EINVAL;
	if (len && (!mr || !mxv_range_ok(mr->length, off, len)))
		return -EINVAL;

	memset(wr, 0, sizeof(*wr));
	wr->wr_id = wr_id;
	wr->opcode = op;
	if (len) {
		sge->addr = (uintptr_t)mr->addr + off;
		sge->length = len;
		sge->lkey = mr->lkey;
		wr->sg_list = sge;
		wr->num_sge = 1;
	}
	if (!(flags & MXV_WR_UNSIGNALED))
		wr->send_flags |= IBV_SEND_SIGNALED;
	if (flags & MXV_WR_FENCE)
		wr->send_flags |= IBV_SEND_FENCE;
	if (flags & MXV_WR_INLINE)
		wr->send_flags |= IBV_SEND_INLINE;
	if (op == IBV_WR_RDMA_WRITE || op == IBV_WR_RDMA_READ) {
		wr->wr.rdma.remote_addr = raddr;
		wr->wr.rdma.rkey = rkey;
	}
	return 0;
}

static int post_one(struct mxv_conn *conn, enum ibv_wr_opcode op, const struct mxv_mr *mr,
		    size_t off, uint32_t len, uint64_t raddr, uint32_t rkey, uint64_t wr_id)
{
	struct ibv_send_wr wr, *bad = NULL;
	struct ibv_sge sge;
	int r;

	if (!conn || !conn->qp)
		return -ENOTCONN;
	r = mxv_fill_send_wr(&wr, &sge, op, mr, off, len, raddr, rkey, wr_id, 0);
	if (r)
		return r;
	return mxv_errno_pos(ibv_post_send(conn->qp, &wr, &bad));
}

int mxv_post_write(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		   uint64_t raddr, uint32_t rkey, uint64_t wr_id)
{
	return post_one(conn, IBV_WR_RDMA_WRITE, mr, off, len, raddr, rkey, wr_id);
}

int mxv_post_read(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		  uint64_t raddr, uint32_t rkey, uint64_t wr_id)
{
	return post_one(conn, IBV_WR_RDMA_READ, mr, off, len, raddr, rkey, wr_id);
}

int mxv_post_send(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		  uint64_t wr_id)
{
	return post_one(conn, IBV_WR_SEND, mr, off, len, 0, 0, wr_id);
}

int mxv_post_recv(struct mxv_conn *conn, const struct mxv_mr *mr, size_t off, uint32_t len,
		  uint64_t wr_id)
{
	struct ibv_recv_wr wr, *bad = NULL;
	struct ibv_sge sge;

	if (!conn || !conn->qp)
		return -ENOTCONN;
	if (len && (!mr || !mxv_range_ok(mr->length, off, len)))
		return -EINVAL;
	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	if (len) {
		sge.addr = (uintptr_t)mr->addr + off;
		sge.length = len;
		sge.lkey = mr->lkey;
		wr.sg_list = &sge;
		wr.num_sge = 1;
	}
	return mxv_errno_pos(ibv_post_recv(conn->qp, &wr, &bad));
}

/* ---- batches -------------------------------------------------------------- */

int mxv_batch_create(unsigned int max_wr, struct mxv_batch **out)
{
	struct mxv_batch *b;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!max_wr || max_wr > 65536)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->wr = calloc(max_wr, sizeof(*b->wr));
	if (!b->wr)
		goto out_free_batch;
	b->sge = calloc(max_wr, sizeof(*b->sge));
	if (!b->sge)
		goto out_free_wr;
	b->max = max_wr;
	*out = b;
	return 0;

out_free_wr:
	free(b->wr);
out_free_batch:
	free(b);
	return -ENOMEM;
}

void mxv_batch_destroy(struct mxv_batch *b)
{
	if (!b)
		return;
	free(b->sge);
	free(b->wr);
	free(b);
}

void mxv_batch_reset(struct mxv_batch *b)
{
	b->count = 0;
}

unsigned int mxv_batch_count(const struct mxv_batch *b)
{
	return b->count;
}

uint64_t mxv_batch_wr_id(const struct mxv_batch *b, unsigned int i)
{
	return i < b->count ? b->wr[i].wr_id : 0;
}

static int batch_add(struct mxv_batch *b, enum ibv_wr_opcode op, const struct mxv_mr *mr,
		     size_t off, uint32_t len, uint64_t raddr, uint32_t rkey, uint64_t wr_id,
		     unsigned int flags)
{
	unsigned int i;
	int r;

	if (!b)
		return -EINVAL;
	if (b->count == b->max)
		return -ENOSPC;
	i = b->count;
	r = mxv_fill_send_wr(&b->wr[i], &b->sge[i], op, mr, off, len, raddr, rkey, wr_id, flags);
	if (r)
		return r;
	if (i)
		b->wr[i - 1].next = &b->wr[i];
	b->count++;
	return 0;
}

int mxv_batch_write(struct mxv_batch *b, const struct mxv_mr *mr, size_t off, uint32_t len,
		    uint64_t raddr, uint32_t rkey, uint64_t wr_id, unsigned int flags)
{
	return batch_add(b, IBV_WR_RDMA_WRITE, mr, off, len, raddr, rkey, wr_id, flags);
}

int mxv_batch_read(struct mxv_batch *b, const struct mxv_mr *mr, size_t off, uint32_t len,
		   uint64_t raddr, uint32_t rkey, uint64_t wr_id, unsigned int flags)
{
	return batch_add(b, IBV_WR_RDMA_READ, mr, off, len, raddr, rkey, wr_id, flags);
}

int mxv_batch_send(struct mxv_batch *b, const struct mxv_mr *mr, size_t off, uint32_t len,
		   uint64_t wr_id, unsigned int flags)
{
	return batch_add(b, IBV_WR_SEND, mr, off, len, 0, 0, wr_id, flags);
}

/* Drops the first n work requests, moving the rest to the front and relinking them. */
static void batch_drop_front(struct mxv_batch *b, unsigned int n)
{
	unsigned int i;

	if (n >= b->count) {
		b->count = 0;
		return;
	}
	memmove(b->wr, b->wr + n, (b->count - n) * sizeof(*b->wr));
	memmove(b->sge, b->sge + n, (b->count - n) * sizeof(*b->sge));
	b->count -= n;
	for (i = 0; i < b->count; i++) {
		b->wr[i].sg_list = b->wr[i].num_sge ? &b->sge[i] : NULL;
		b->wr[i].next = i + 1 < b->count ? &b->wr[i + 1] : NULL;
	}
}

int mxv_batch_post(struct mxv_conn *conn, struct mxv_batch *b, unsigned int *posted)
{
	struct ibv_send_wr *bad = NULL;
	unsigned int done;
	int r;

	if (posted)
		*posted = 0;
	if (!b)
		return -EINVAL;
	if (!b->count)
		return 0;
	if (!conn || !conn->qp)
		return -ENOTCONN;
	b->wr[b->count - 1].next = NULL;
	r = mxv_errno_pos(ibv_post_send(conn->qp, b->wr, &bad));
	if (!r) {
		if (posted)
			*posted = b->count;
		b->count = 0;
		return 0;
	}
	/* bad is the first refused WR; a provider that leaves it unset posted nothing. */
	done = 0;
	if (bad >= b->wr && bad < b->wr + b->count)
		done = (unsigned int)(bad - b->wr);
	if (posted)
		*posted = done;
	batch_drop_front(b, done);
	return r;
}
