/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The keeper of a ublk volume. memx.ko ends a dead engine's window itself
 * (--recovery-timeout: held requests fail, the volume goes) and deposes a
 * stuck one (--io-deadline); ublk does neither: it holds requests for as long
 * as nobody acts. So each engine forks a small keeper before it owns any RDMA
 * or ublk resource. It does two things:
 *   - while the engine lives, it reads the progress page the queue threads
 *     publish (below): if the engine holds requests and finished none for
 *     --io-deadline (stopped, deadlocked), it SIGKILLs it, which hands the
 *     volume to ublk's user recovery like any engine death;
 *   - when the engine dies (the pipe between them reads EOF), it waits out
 *     the window and, unless a new engine took the device over
 *     (END_USER_RECOVERY: live, another pid), stops and deletes it: its
 *     requests fail with EIO, nothing waits forever, and no dead device is
 *     left behind.
 */
#ifndef MEMXD_UBLK_WINDOW_H
#define MEMXD_UBLK_WINDOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <memx/uapi.h>

/*
 * Shared with the keeper (MAP_SHARED, mapped before the fork): each queue
 * thread counts the requests ublk handed it and the results it committed;
 * taken - done is what it holds. Written only by that queue's thread.
 */
struct memxd_ublk_progress {
	struct {
		_Atomic uint64_t taken;
		_Atomic uint64_t done;
	} q[MEMX_MAX_QUEUES];
};

struct memxd_ublk_keeper {
	int fd;					/* the pipe to the keeper, or -1 */
	pid_t pid;
	struct memxd_ublk_progress *progress;	/* shared page, or NULL */
};

/*
 * Forks the keeper of volume, whose engine may hold requests without
 * finishing any for deadline_s (0: no deadline) and whose dead engine's
 * device waits window_s for the next. Returns 0 or -errno.
 */
int memxd_ublk_keeper_start(struct memxd_ublk_keeper *k, const char *volume,
			    unsigned int deadline_s, unsigned int window_s);
/* From now on the keeper looks after device dev_id; UINT32_MAX: none (a clean exit). */
void memxd_ublk_window_watch(const struct memxd_ublk_keeper *k, uint32_t dev_id);
/* Ends the keeper of a clean exit and unmaps the page. */
void memxd_ublk_keeper_stop(struct memxd_ublk_keeper *k);

/*
 * The keeper's decision, pure for the unit tests: given how many requests
 * the engine holds and how many it finished so far (all queues), and the
 * last progress seen (updated here), whether the engine is stuck: it held
 * requests and finished none for deadline_s (0: never stuck).
 */
struct memxd_ublk_stall {
	uint64_t done;			/* results committed, all queues */
	uint64_t since;			/* when done last moved, or the engine held nothing */
};
bool memxd_ublk_stalled(struct memxd_ublk_stall *s, uint64_t held, uint64_t done,
			uint64_t now_s, unsigned int deadline_s);

#endif /* MEMXD_UBLK_WINDOW_H */
