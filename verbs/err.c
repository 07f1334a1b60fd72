// SPDX-License-Identifier: GPL-2.0
/*
 * Errors: the one place where the verbs stack's three error conventions
 * become memx's single one (0 or -errno), and where events and completion
 * statuses are given an errno.
 *
 * Theory of operation. libibverbs and librdmacm report failure three ways:
 * ibv_post_* and most ibv_* that return int give a positive errno;
 * constructors (ibv_reg_mr, ibv_create_*) give NULL and set errno; rdma_*
 * give -1 and set errno. Each form has one normaliser below, and every call
 * site in verbs/ wraps the foreign call in the matching one, so that errno is
 * read before anything else can change it. When a library fails without
 * saying why, the normalisers answer -EIO rather than pretend success or
 * invent a precise cause.
 *
 * CM events and work completion statuses map to fixed errnos so that callers
 * can tell failure kinds apart without knowing rdma_cm (see mxv_connect() in
 * mxv.h for the table). The library does not log: it fills a reason string in
 * struct mxv_cm_result and, when the embedding program installed a hook,
 * passes debug text to it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mxv_priv.h"

static mxv_debug_fn mxv_debug_hook;
static void *mxv_debug_arg;

void mxv_set_debug(mxv_debug_fn fn, void *arg)
{
	mxv_debug_hook = fn;
	mxv_debug_arg = arg;
}

void mxv_dbg(const char *fmt, ...)
{
	va_list ap;

	if (!mxv_debug_hook)
		return;
	va_start(ap, fmt);
	mxv_debug_hook(mxv_debug_arg, fmt, ap);
	va_end(ap);
}

int mxv_errno_pos(int r)
{
	if (r > 0)
		return -r;
	if (r == 0)
		return 0;
	/* A provider that answers -errno already speaks our convention; -1 says nothing. */
	if (r == -1 || r < -4095)
		return -EIO;
	return r;
}

int mxv_errno_ptr(const void *p)
{
	if (p)
		return 0;
	return errno > 0 ? -errno : -EIO;
}

int mxv_errno_neg1(int r)
{
	if (r >= 0)
		return r;
	return errno > 0 ? -errno : -EIO;
}

int mxv_cm_event_errno(enum rdma_cm_event_type ev, int status)
{
	(void)status;
	switch (ev) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
	case RDMA_CM_EVENT_CONNECT_REQUEST:
	case RDMA_CM_EVENT_CONNECT_RESPONSE:
	case RDMA_CM_EVENT_ESTABLISHED:
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		return 0;
	case RDMA_CM_EVENT_ADDR_ERROR:
		return -EADDRNOTAVAIL;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return -ENETUNREACH;
	case RDMA_CM_EVENT_UNREACHABLE:
		return -EHOSTUNREACH;
	case RDMA_CM_EVENT_REJECTED:
		return -ECONNREFUSED;
	case RDMA_CM_EVENT_CONNECT_ERROR:
		return -ECONNABORTED;
	case RDMA_CM_EVENT_DISCONNECTED:
		return -ECONNRESET;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		return -ENODEV;
	case RDMA_CM_EVENT_ADDR_CHANGE:
		return -ENETRESET;
	default:
		return -EPROTO;
	}
}

bool mxv_reject_is_consumer(int status)
{
	/* IB/RoCE: IB_CM_REJ_CONSUMER_DEFINED; iWARP: -ECONNREFUSED. */
	return status == 28 || status == -ECONNREFUSED;
}

const char *mxv_ib_reject_str(int status)
{
	switch (status) {
	case 1: return "no QP";
	case 3: return "no resources";
	case 4: return "timeout";
	case 5: return "unsupported request";
	case 6: return "invalid comm id";
	case 8: return "invalid service ID: nothing listens on that port";
	case 9: return "invalid transport type";
	case 10: return "stale connection";
	case 12: return "invalid GID";
	case 26: return "invalid MTU";
	case 27: return "insufficient responder resources";
	case 28: return "rejected by the peer's application";
	case 29: return "invalid RNR retry";
	case 30: return "duplicate local comm id";
	default: return NULL;
	}
}

int mxv_wc_errno(enum ibv_wc_status status)
{
	switch (status) {
	case IBV_WC_SUCCESS:
		return 0;
	case IBV_WC_WR_FLUSH_ERR:
		return -ECANCELED;
	case IBV_WC_REM_ACCESS_ERR:
		return -EACCES;
	case IBV_WC_RETRY_EXC_ERR:
	case IBV_WC_RESP_TIMEOUT_ERR:
		return -ETIMEDOUT;
	case IBV_WC_RNR_RETRY_EXC_ERR:
		return -ENOBUFS;
	case IBV_WC_LOC_LEN_ERR:
		return -EMSGSIZE;
	case IBV_WC_LOC_PROT_ERR:
	case IBV_WC_LOC_ACCESS_ERR:
		return -EFAULT;
	case IBV_WC_REM_INV_REQ_ERR:
	case IBV_WC_REM_OP_ERR:
	case IBV_WC_REM_INV_RD_REQ_ERR:
	case IBV_WC_REM_ABORT_ERR:
	case IBV_WC_BAD_RESP_ERR:
		return -EREMOTEIO;
	default:
		return -EIO;
	}
}

void mxv_res_clear(struct mxv_cm_result *res)
{
	if (!res)
		return;
	res->reason[0] = '\0';
	res->pdata_len = 0;
}

int mxv_res_fail(struct mxv_cm_result *res, int err, const char *fmt, ...)
{
	char reason[MXV_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	mxv_dbg("%s (%d)", reason, err);
	if (res)
		memcpy(res->reason, reason, sizeof(res->reason));
	return err;
}
