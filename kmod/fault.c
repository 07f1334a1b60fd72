// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko fault injection, for testing error paths (as null_blk does).
 *
 * Theory of operation
 * -------------------
 * Built in only with MEMX_FAULT_INJECTION (meson -Dfault_injection=true, or
 * kmod/build.sh ... 1); otherwise this file is empty and the points in memx.h
 * are constant false. Self-contained: it does not need the kernel's
 * CONFIG_FAULT_INJECTION (Debian's 6.1 and 6.12 kernels lack it), and it
 * behaves the same on every kernel. Three points, each a struct memx_fault
 * set by a module parameter in the format of the kernel's fault-injection
 * boot options (Documentation/fault-injection/fault-injection.rst):
 *
 *   fail_submit=<interval>,<probability>,<space>,<times>
 *       queue_rq fails the request with BLK_STS_IOERR before the engine
 *       sees it (memx_queue_submit()).
 *   fail_commit=...
 *       a result the engine commits is taken as -EIO: the request fails and
 *       READ data is not copied out (memx_complete_one()).
 *   fail_timeout=...
 *       the request is kept out of the ring, so the engine never sees it and
 *       blk-mq's timer expires after io_timeout_ms; the timeout handler then
 *       ends it with BLK_STS_TIMEOUT (memx_queue_timeout()).
 *
 * A point is asked on every chance (every request, every result) and fires
 * when all of these hold, checked in this order:
 *   probability > 0                 (0: off; no other field is touched);
 *   times != 0                      (-1: unlimited);
 *   space == 0                      (else space counts down by one and the
 *                                    chance passes: "skip the first <space>");
 *   interval <= 1, or this is the interval-th chance since the value was set;
 *   probability == 100, or a random draw below 100 is < probability;
 *   a unit of times can be taken    (times > 0 is decremented atomically, so
 *                                    exactly <times> faults fire even when
 *                                    queues race; -1 is never decremented).
 * E.g. "1,100,0,3" fails the next 3 chances, "1,10,0,-1" one in ten for ever,
 * "2,100,0,-1" every second one, "1,100,5,1" the sixth, "1,0,0,0" is off (the
 * default). interval 0 means 1 (as in the kernel's framework); probability
 * over 100, times below -1 or space below 0 are refused with -EINVAL, as is a
 * value that does not parse; a refused value leaves the point as it was.
 * The parameters can be given at insmod and changed at any time in
 * /sys/module/memx/parameters/; reading one shows the live values (<space>
 * and <times> count down). Injected failures are not logged.
 *
 * Concurrency: the I/O path only does atomic reads, atomic_inc_return and
 * atomic_dec_if_positive on the point: no lock. Writers (the module parameter
 * code, serialised by the kernel's param lock) switch the point off
 * (probability 0), set the other fields, then publish the new probability
 * with a release store that pairs with the acquire load in memx_fault_hit().
 * A chance racing with a write may see a mix of old and new fields; it fires
 * at most once and only by taking a unit of the times it saw, which is
 * harmless for a test tool.
 */
#include <linux/atomic.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/string.h>

#include "memx.h"
#include "compat.h"

#ifdef MEMX_FAULT_INJECTION

struct memx_fault {
	atomic_t probability;	/* percent, 0..100; 0: off */
	atomic_t interval;	/* >= 1: fire on every interval-th chance */
	atomic_t space;		/* >= 0: chances still to let pass */
	atomic_t times;		/* faults left; -1: unlimited */
	atomic_t count;		/* chances seen since set, for interval */
};

#define MEMX_FAULT_INIT { .probability = ATOMIC_INIT(0), .interval = ATOMIC_INIT(1), \
			  .space = ATOMIC_INIT(0), .times = ATOMIC_INIT(0), \
			  .count = ATOMIC_INIT(0) }

static struct memx_fault memx_fail_submit = MEMX_FAULT_INIT;
static struct memx_fault memx_fail_commit = MEMX_FAULT_INIT;
static struct memx_fault memx_fail_timeout = MEMX_FAULT_INIT;

/* One chance at @f: true when a fault is to be injected. Lock-free. */
static bool memx_fault_hit(struct memx_fault *f)
{
	int p = atomic_read_acquire(&f->probability);	/* pairs with the setter */
	int interval;

	if (likely(!p))
		return false;
	if (!atomic_read(&f->times))
		return false;
	if (atomic_read(&f->space) > 0 && atomic_dec_if_positive(&f->space) >= 0)
		return false;
	interval = atomic_read(&f->interval);
	if (interval > 1 && (atomic_inc_return(&f->count) % interval))
		return false;
	if (p < 100 && memx_random_below(100) >= (u32)p)
		return false;
	if (atomic_read(&f->times) == -1)
		return true;
	return atomic_dec_if_positive(&f->times) >= 0;
}

/* Writers are serialised by the module parameter lock. */
static int memx_fault_param_set(const char *val, const struct kernel_param *kp)
{
	struct memx_fault *f = kp->arg;
	unsigned int interval, probability;
	int space, times;
	char buf[64], *s, *field[4];
	unsigned int i;

	if (strscpy(buf, val, sizeof(buf)) < 0)
		return -EINVAL;
	s = strim(buf);
	for (i = 0; i < ARRAY_SIZE(field); i++) {
		field[i] = strsep(&s, ",");
		if (!field[i])
			return -EINVAL;
	}
	if (s)
		return -EINVAL;		/* a fifth field */
	if (kstrtouint(field[0], 10, &interval) || kstrtouint(field[1], 10, &probability) ||
	    kstrtoint(field[2], 10, &space) || kstrtoint(field[3], 10, &times))
		return -EINVAL;
	if (probability > 100 || space < 0 || times < -1 || interval > INT_MAX)
		return -EINVAL;

	atomic_set(&f->probability, 0);	/* off while the fields change */
	smp_wmb();
	atomic_set(&f->interval, interval ? interval : 1);
	atomic_set(&f->space, space);
	atomic_set(&f->times, times);
	atomic_set(&f->count, 0);
	atomic_set_release(&f->probability, probability);
	return 0;
}

/* Reads back the live values: <space> and <times> count down. */
static int memx_fault_param_get(char *buffer, const struct kernel_param *kp)
{
	struct memx_fault *f = kp->arg;

	return scnprintf(buffer, PAGE_SIZE, "%d,%d,%d,%d\n", atomic_read(&f->interval),
			 atomic_read(&f->probability), atomic_read(&f->space),
			 atomic_read(&f->times));
}

static const struct kernel_param_ops memx_fault_param_ops = {
	.set = memx_fault_param_set,
	.get = memx_fault_param_get,
};

module_param_cb(fail_submit, &memx_fault_param_ops, &memx_fail_submit, 0644);
MODULE_PARM_DESC(fail_submit,
		 "Fault injection: fail requests at submit. <interval>,<probability>,<space>,<times>");
module_param_cb(fail_commit, &memx_fault_param_ops, &memx_fail_commit, 0644);
MODULE_PARM_DESC(fail_commit,
		 "Fault injection: take engine results as -EIO. <interval>,<probability>,<space>,<times>");
module_param_cb(fail_timeout, &memx_fault_param_ops, &memx_fail_timeout, 0644);
MODULE_PARM_DESC(fail_timeout,
		 "Fault injection: withhold requests until they time out. <interval>,<probability>,<space>,<times>");

bool memx_fault_submit(void)
{
	return memx_fault_hit(&memx_fail_submit);
}

bool memx_fault_commit(void)
{
	return memx_fault_hit(&memx_fail_commit);
}

bool memx_fault_timeout(void)
{
	return memx_fault_hit(&memx_fail_timeout);
}
#endif /* MEMX_FAULT_INJECTION */
