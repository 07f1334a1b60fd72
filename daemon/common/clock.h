/* SPDX-License-Identifier: GPL-2.0 */
/* The one clock of memxd: CLOCK_MONOTONIC in nanoseconds. */
#ifndef MEMXD_CLOCK_H
#define MEMXD_CLOCK_H

#include <stdint.h>

#define MEMXD_NS_PER_MS	1000000ULL
#define MEMXD_NS_PER_S	1000000000ULL

/*
 * An out-of-line function, not an inline: unit tests link their own to move
 * time by hand (tests/unit/test_recovery.c).
 */
uint64_t memxd_now_ns(void);

#endif /* MEMXD_CLOCK_H */
