// SPDX-License-Identifier: GPL-2.0
/*
 * The mailbox from the queue threads to the control thread: a bounded ring
 * of typed messages under a mutex, and an eventfd that wakes the control
 * thread's poll(). A queue thread posts only on a first write to a slab, a
 * whole-slab DISCARD or a failed donor: never on the steady path. The ring is
 * sized at start for every slab and more, and allocates nothing afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client/mailbox.h"

int memxd_mailbox_init(struct memxd_mailbox *mb, uint32_t cap)
{
	mb->fd = -1;
	mb->ring = calloc(cap, sizeof(*mb->ring));
	if (!mb->ring)
		return -ENOMEM;
	mb->cap = cap;
	mb->head = mb->tail = 0;
	mb->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mb->fd < 0)
		return -errno;
	pthread_mutex_init(&mb->lock, NULL);
	return 0;
}

void memxd_mailbox_fini(struct memxd_mailbox *mb)
{
	if (mb->fd >= 0)
		close(mb->fd);
	mb->fd = -1;
	free(mb->ring);
	mb->ring = NULL;
}

int memxd_mailbox_post(struct memxd_mailbox *mb, const struct memxd_mail *mail)
{
	uint64_t one = 1;
	int r = 0;

	pthread_mutex_lock(&mb->lock);
	if (mb->tail - mb->head >= mb->cap)
		r = -ENOSPC;
	else
		mb->ring[mb->tail++ % mb->cap] = *mail;
	pthread_mutex_unlock(&mb->lock);
	if (!r && write(mb->fd, &one, sizeof(one)) < 0)
		r = -errno;
	return r;
}

void memxd_mailbox_ack(struct memxd_mailbox *mb)
{
	uint64_t cnt;

	/* Nonblocking: an empty eventfd (EAGAIN) is fine, messages are in the ring. */
	if (read(mb->fd, &cnt, sizeof(cnt)) < 0)
		return;
}

bool memxd_mailbox_take(struct memxd_mailbox *mb, struct memxd_mail *out)
{
	bool got = false;

	pthread_mutex_lock(&mb->lock);
	if (mb->head != mb->tail) {
		*out = mb->ring[mb->head++ % mb->cap];
		got = true;
	}
	pthread_mutex_unlock(&mb->lock);
	return got;
}

bool memxd_mailbox_pending(struct memxd_mailbox *mb)
{
	bool pending;

	pthread_mutex_lock(&mb->lock);
	pending = mb->head != mb->tail;
	pthread_mutex_unlock(&mb->lock);
	return pending;
}
