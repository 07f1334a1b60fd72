// SPDX-License-Identifier: GPL-2.0
/*
 * Completion queues, each with its own completion channel.
 *
 * Theory of operation. A CQ is owned by one thread (in memx, an engine queue
 * thread whose QPs to several donors all complete on it). That thread reaps
 * completions in batches with mxv_cq_poll() and, when there are none, sleeps
 * on the channel's fd, never spinning:
 *
 *	poll CQ -> empty -> arm (ibv_req_notify_cq) -> poll CQ again -> empty
 *	-> sleep in poll(2) on the channel fd -> take the events -> poll CQ ...
 *
 * The second poll closes the race of a completion that lands between the
 * first poll and the arm: such a completion raises no event, so sleeping
 * without looking again could sleep forever. The channel fd is non-blocking;
 * events are taken with ibv_get_cq_event() until EAGAIN, and acknowledged
 * MXV_CQ_ACK_BATCH at a time, because ibv_ack_cq_events() takes a mutex and
 * ibv_destroy_cq() waits until every taken event has been acknowledged (the
 * remainder is acknowledged at destroy).
 *
 * "armed" remembers that a notification is pending, so a loop that finds
 * completions again and again does not re-arm (a system call on some
 * providers) each time. It is cleared when an event is taken, since an event
 * disarms the CQ. mxv_cq_wait() runs the loop above; a caller with its own
 * event loop (epoll, io_uring) runs the same steps with mxv_cq_fd(),
 * mxv_cq_drain_events(), mxv_cq_arm() and mxv_cq_poll(). Nothing here
 * allocates after mxv_cq_create().
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "mxv_priv.h"

int mxv_cq_create(struct mxv_ctx *ctx, int cqe, struct mxv_cq **out)
{
	struct mxv_cq *cq;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!ctx || cqe < 1 || (ctx->caps.max_cqe && (uint32_t)cqe > ctx->caps.max_cqe))
		return -EINVAL;

	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->ctx = ctx;
	cq->ch = ibv_create_comp_channel(ctx->verbs);
	r = mxv_errno_ptr(cq->ch);
	if (r)
		goto out_free_cq;
	r = mxv_set_nonblock(cq->ch->fd);
	if (r)
		goto out_destroy_channel;
	cq->cq = ibv_create_cq(ctx->verbs, cqe, cq, cq->ch, 0);
	r = mxv_errno_ptr(cq->cq);
	if (r)
		goto out_destroy_channel;
	*out = cq;
	return 0;

out_destroy_channel:
	ibv_destroy_comp_channel(cq->ch);
out_free_cq:
	free(cq);
	return r;
}

void mxv_cq_destroy(struct mxv_cq *cq)
{
	int r;

	if (!cq)
		return;
	if (cq->cq) {
		if (cq->unacked)
			ibv_ack_cq_events(cq->cq, cq->unacked);
		r = mxv_errno_pos(ibv_destroy_cq(cq->cq));
		if (r)
			mxv_dbg("cq destroy failed (%d): QPs still use it?", r);
	}
	if (cq->ch)
		ibv_destroy_comp_channel(cq->ch);
	free(cq);
}

int mxv_cq_fd(const struct mxv_cq *cq)
{
	return cq->ch->fd;
}

int mxv_cq_poll(struct mxv_cq *cq, struct ibv_wc *wc, int max)
{
	int n;

	if (max < 0)
		return -EINVAL;
	if (!max)
		return 0;
	n = ibv_poll_cq(cq->cq, max, wc);
	/* Providers disagree on what a failed poll returns; none says why. */
	return n < 0 ? -EIO : n;
}

int mxv_cq_arm(struct mxv_cq *cq)
{
	int r;

	r = mxv_errno_pos(ibv_req_notify_cq(cq->cq, 0));
	if (!r)
		cq->armed = true;
	return r;
}

int mxv_cq_drain_events(struct mxv_cq *cq)
{
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	int n = 0;
	int r;

	for (;;) {
		r = mxv_errno_neg1(ibv_get_cq_event(cq->ch, &ev_cq, &ev_ctx));
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return n;
		if (r)
			return r;
		n++;
		cq->armed = false;
		if (++cq->unacked >= MXV_CQ_ACK_BATCH) {
			ibv_ack_cq_events(cq->cq, cq->unacked);
			cq->unacked = 0;
		}
	}
}

int mxv_cq_wait(struct mxv_cq *cq, struct ibv_wc *wc, int max, int timeout_ms)
{
	int64_t deadline = mxv_deadline(timeout_ms);
	struct pollfd pfd;
	int left;
	int n;

	if (!cq || !wc || max < 1)
		return -EINVAL;
	for (;;) {
		n = mxv_cq_poll(cq, wc, max);
		if (n)
			return n;
		if (!cq->armed) {
			n = mxv_cq_arm(cq);
			if (n)
				return n;
			n = mxv_cq_poll(cq, wc, max);
			if (n)
				return n;
		}
		left = mxv_remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		pfd.fd = cq->ch->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, left);
		if (n < 0)
			return -errno;
		if (!n)
			return -ETIMEDOUT;
		n = mxv_cq_drain_events(cq);
		if (n < 0)
			return n;
		/* A broken channel stays readable without events: don't spin on it. */
		if (!n && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
			return -EIO;
	}
}
