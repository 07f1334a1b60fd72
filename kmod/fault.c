// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko fault injection, for testing error paths (as null_blk does).
 *
 * Theory of operation
 * -------------------
 * Built in only with MEMX_FAULT_INJECTION (meson -Dfault_injection=true) on a
 * kernel with CONFIG_FAULT_INJECTION; otherwise this file is empty and the
 * points in memx.h are constant false. Three struct fault_attr, each set by a
 * module parameter in the format of the fault-injection boot options
 * (Documentation/fault-injection/fault-injection.rst):
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
 * E.g. "1,100,0,3" fails the next 3 chances, "1,10,0,-1" one in ten for ever,
 * "1,0,0,0" turns it off (probability 0 is the default). The parameters can
 * be given at insmod and changed at any time in /sys/module/memx/parameters/;
 * reading one shows the live values (<times> counts down). A value that does
 * not parse is refused with -EINVAL and leaves the attribute as it was.
 * Injected failures are not logged (verbose = 0) and no debugfs is created.
 */
#include <linux/moduleparam.h>
#include <linux/string.h>

#include "memx.h"

#ifdef MEMX_FAULT_ENABLED
#include <linux/fault-inject.h>

/* Probability 0: off until a parameter sets it. */
static DECLARE_FAULT_ATTR(memx_fail_submit);
static DECLARE_FAULT_ATTR(memx_fail_commit);
static DECLARE_FAULT_ATTR(memx_fail_timeout);

/* Writers are serialised by the module parameter lock. */
static int memx_fault_param_set(const char *val, const struct kernel_param *kp)
{
	struct fault_attr *attr = kp->arg;
	char buf[64];

	if (strscpy(buf, val, sizeof(buf)) < 0)
		return -EINVAL;
	if (!setup_fault_attr(attr, strim(buf)))
		return -EINVAL;
	attr->verbose = 0;
	return 0;
}

/* Reads back the live values: <times> counts down as faults are injected. */
static int memx_fault_param_get(char *buffer, const struct kernel_param *kp)
{
	const struct fault_attr *attr = kp->arg;

	return scnprintf(buffer, PAGE_SIZE, "%lu,%lu,%d,%d\n", attr->interval,
			 attr->probability, atomic_read(&attr->space),
			 atomic_read(&attr->times));
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
	return should_fail(&memx_fail_submit, 1);
}

bool memx_fault_commit(void)
{
	return should_fail(&memx_fail_commit, 1);
}

bool memx_fault_timeout(void)
{
	return should_fail(&memx_fail_timeout, 1);
}
#endif /* MEMX_FAULT_ENABLED */
