// SPDX-License-Identifier: GPL-2.0
#include <time.h>

#include "common/clock.h"

uint64_t memxd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * MEMXD_NS_PER_S + (uint64_t)ts.tv_nsec;
}
