// SPDX-License-Identifier: GPL-2.0
/*
 * Context: the RDMA device serving a local IP address, and a protection domain.
 *
 * Theory of operation. memx names its endpoints by IP address, not by device,
 * so a context is opened from an address: a cm_id is bound to it and rdma_cm
 * says which device (id->verbs) carries that address. The bound cm_id stays
 * for the context's lifetime: librdmacm counts device users per cm_id, and
 * holding one keeps the device and its ibv_context open for the MRs, CQs and
 * QPs made on this context. The ibv_context belongs to librdmacm, shared with
 * every cm_id on the device, which is what lets rdma_create_qp() take this
 * context's PD for a cm_id that a listener or a connect produced.
 *
 * Each context has its own PD: MRs and QPs of different contexts cannot touch
 * each other. The device limits are queried once and kept (mxv_ctx_caps), and
 * software devices are flagged because they behave differently in ways the
 * engine may care about (every byte is copied by a CPU, no real DMA).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxv_priv.h"

#define MXV_RXE_VENDOR_ID	0xffffffU
#define MXV_SIW_VENDOR_ID	0x626d74U

bool mxv_is_soft_device(const char *name, uint32_t vendor_id)
{
	if (vendor_id == MXV_RXE_VENDOR_ID || vendor_id == MXV_SIW_VENDOR_ID)
		return true;
	return name && (!strncmp(name, "rxe", 3) || !strncmp(name, "siw", 3));
}

int mxv_ctx_open(const char *local_ip, struct mxv_ctx **out)
{
	struct ibv_device_attr attr;
	struct sockaddr_storage ss;
	struct mxv_ctx *ctx;
	const char *name;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	r = mxv_parse_addr(local_ip, 0, &ss);
	if (r)
		return r;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;

	r = mxv_errno_neg1(rdma_create_id(NULL, &ctx->id, NULL, RDMA_PS_TCP));
	if (r)
		goto out_free_ctx;
	r = mxv_errno_neg1(rdma_bind_addr(ctx->id, (struct sockaddr *)&ss));
	if (r)
		goto out_destroy_id;
	if (!ctx->id->verbs) {
		r = -ENODEV;
		goto out_destroy_id;
	}
	ctx->verbs = ctx->id->verbs;

	r = mxv_errno_pos(ibv_query_device(ctx->verbs, &attr));
	if (r)
		goto out_destroy_id;
	ctx->caps.max_qp_wr = attr.max_qp_wr > 0 ? (uint32_t)attr.max_qp_wr : 0;
	ctx->caps.max_sge = attr.max_sge > 0 ? (uint32_t)attr.max_sge : 0;
	ctx->caps.max_cqe = attr.max_cqe > 0 ? (uint32_t)attr.max_cqe : 0;
	ctx->caps.max_mr_size = attr.max_mr_size;
	ctx->caps.max_qp_rd_atom = attr.max_qp_rd_atom > 0 ? (uint32_t)attr.max_qp_rd_atom : 0;
	ctx->caps.max_qp_init_rd_atom =
		attr.max_qp_init_rd_atom > 0 ? (uint32_t)attr.max_qp_init_rd_atom : 0;
	ctx->caps.vendor_id = attr.vendor_id;
	name = ibv_get_device_name(ctx->verbs->device);
	snprintf(ctx->name, sizeof(ctx->name), "%s", name ? name : "?");
	ctx->caps.soft = mxv_is_soft_device(ctx->name, attr.vendor_id);

	ctx->pd = ibv_alloc_pd(ctx->verbs);
	r = mxv_errno_ptr(ctx->pd);
	if (r)
		goto out_destroy_id;

	mxv_dbg("ctx %s: device %s%s, max_qp_wr %u max_sge %u max_cqe %u rd_atom %u/%u",
		local_ip, ctx->name, ctx->caps.soft ? " (software)" : "", ctx->caps.max_qp_wr,
		ctx->caps.max_sge, ctx->caps.max_cqe, ctx->caps.max_qp_rd_atom,
		ctx->caps.max_qp_init_rd_atom);
	*out = ctx;
	return 0;

out_destroy_id:
	rdma_destroy_id(ctx->id);
out_free_ctx:
	free(ctx);
	return r;
}

void mxv_ctx_close(struct mxv_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->pd)
		ibv_dealloc_pd(ctx->pd);
	if (ctx->id)
		rdma_destroy_id(ctx->id);
	free(ctx);
}

const char *mxv_ctx_device_name(const struct mxv_ctx *ctx)
{
	return ctx->name;
}

const struct mxv_caps *mxv_ctx_caps(const struct mxv_ctx *ctx)
{
	return &ctx->caps;
}
