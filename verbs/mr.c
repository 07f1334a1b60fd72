// SPDX-License-Identifier: GPL-2.0
/*
 * Memory regions with least-privilege access.
 *
 * Theory of operation. An MR is a caller's buffer registered with the
 * context's PD; the device then checks every access against the rights given
 * here. The caller says what the region is for and gets no more: a donor's
 * slab gets remote read and write, a client's per-tag buffer gets local write
 * (for RDMA READ results) and no remote rights at all, a buffer that only
 * sources SENDs gets nothing. The one widening is the verbs rule that remote
 * write needs local write. Deregistration invalidates the rkey at once, which
 * is how a donor takes a freed slab away from a client.
 *
 * The struct keeps addr/length/lkey/rkey next to the ibv_mr so that posting
 * reads one small struct.
 */
#include <errno.h>
#include <stdlib.h>

#include "mxv_priv.h"

int mxv_access_to_ibv(unsigned int access)
{
	int ibv = 0;

	if (access & ~MXV_ACCESS_ALL)
		return -EINVAL;
	if (access & (MXV_ACCESS_LOCAL_WRITE | MXV_ACCESS_REMOTE_WRITE))
		ibv |= IBV_ACCESS_LOCAL_WRITE;
	if (access & MXV_ACCESS_REMOTE_READ)
		ibv |= IBV_ACCESS_REMOTE_READ;
	if (access & MXV_ACCESS_REMOTE_WRITE)
		ibv |= IBV_ACCESS_REMOTE_WRITE;
	return ibv;
}

int mxv_mr_reg(struct mxv_ctx *ctx, void *addr, size_t len, unsigned int access,
	       struct mxv_mr **out)
{
	struct mxv_mr *mr;
	int ibv_access;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!ctx || !addr || !len)
		return -EINVAL;
	if (ctx->caps.max_mr_size && len > ctx->caps.max_mr_size)
		return -EINVAL;
	ibv_access = mxv_access_to_ibv(access);
	if (ibv_access < 0)
		return ibv_access;

	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	mr->mr = ibv_reg_mr(ctx->pd, addr, len, ibv_access);
	r = mxv_errno_ptr(mr->mr);
	if (r)
		goto out_free_mr;
	mr->addr = addr;
	mr->length = len;
	mr->lkey = mr->mr->lkey;
	mr->rkey = mr->mr->rkey;
	*out = mr;
	return 0;

out_free_mr:
	free(mr);
	return r;
}

void mxv_mr_dereg(struct mxv_mr *mr)
{
	if (!mr)
		return;
	if (mr->mr)
		ibv_dereg_mr(mr->mr);
	free(mr);
}

void *mxv_mr_addr(const struct mxv_mr *mr)
{
	return mr->addr;
}

size_t mxv_mr_length(const struct mxv_mr *mr)
{
	return mr->length;
}

uint32_t mxv_mr_lkey(const struct mxv_mr *mr)
{
	return mr->lkey;
}

uint32_t mxv_mr_rkey(const struct mxv_mr *mr)
{
	return mr->rkey;
}
