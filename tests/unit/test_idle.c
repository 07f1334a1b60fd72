// SPDX-License-Identifier: GPL-2.0
/*
 * Is the machine busy (client/idle.h)? /proc/stat's text parsed, and the
 * verdict: I/O makes it busy; otherwise less than one CPU's worth of idle
 * time over the window (half of it on one CPU), the engine's own CPU counted
 * as idle, so that the scrub does not take its own work for the load.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "client/idle.h"

static const char stat2[] =
	"cpu  100 5 50 800 20 1 4 0 0 0\n"
	"cpu0 50 2 25 400 10 1 2 0 0 0\n"
	"cpu1 50 3 25 400 10 0 2 0 0 0\n"
	"intr 12345 0 0\n"
	"ctxt 999\n";

Test(idle, parses_proc_stat)
{
	struct memxd_cpu_times t;

	cr_assert_eq(memxd_cpu_times_parse(stat2, &t), 0);
	cr_assert_eq(t.total, 980);
	cr_assert_eq(t.idle, 820);	/* idle + iowait */
	cr_assert_eq(t.ncpus, 2);
}

Test(idle, refuses_what_is_not_proc_stat)
{
	struct memxd_cpu_times t;

	cr_assert_eq(memxd_cpu_times_parse("", &t), -EINVAL);
	cr_assert_eq(memxd_cpu_times_parse("intr 1 2 3\n", &t), -EINVAL);
	cr_assert_eq(memxd_cpu_times_parse("cpu  1 2\ncpu0 1 2\n", &t), -EINVAL);
	cr_assert_eq(memxd_cpu_times_parse("cpu  1 2 3 4\n", &t), -EINVAL);	/* no cpuN line */
	cr_assert_eq(t.ncpus, 0);
}

/* Two samples of a machine of ncpus, ticks apart, idle of them idle. */
static void window(unsigned int ncpus, uint64_t ticks, uint64_t idle, struct memxd_cpu_times *a,
		   struct memxd_cpu_times *b)
{
	*a = (struct memxd_cpu_times){ .total = 1000, .idle = 500, .ncpus = ncpus };
	*b = (struct memxd_cpu_times){ .total = 1000 + ticks, .idle = 500 + idle, .ncpus = ncpus };
}

Test(idle, io_makes_it_busy)
{
	struct memxd_cpu_times a, b;

	window(2, 200, 200, &a, &b);	/* every CPU idle */
	cr_assert(memxd_idle_busy_verdict(1, &a, &b, 0, 100));
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
}

Test(idle, busy_below_one_idle_cpu)
{
	struct memxd_cpu_times a, b;

	/* 2 CPUs, 100 ticks each: 100 idle ticks is one CPU's worth. */
	window(2, 200, 100, &a, &b);
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
	window(2, 200, 99, &a, &b);
	cr_assert(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
	/* What the engine spent itself is not load: 0.3 s at 100 Hz is 30 ticks. */
	window(2, 200, 80, &a, &b);
	cr_assert(memxd_idle_busy_verdict(0, &a, &b, 100000000ULL, 100));
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &b, 300000000ULL, 100));
	/* 16 CPUs: one idle CPU of sixteen is enough. */
	window(16, 1600, 100, &a, &b);
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
	window(16, 1600, 90, &a, &b);
	cr_assert(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
}

Test(idle, one_cpu_needs_half_of_it_idle)
{
	struct memxd_cpu_times a, b;

	window(1, 100, 50, &a, &b);
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
	window(1, 100, 49, &a, &b);
	cr_assert(memxd_idle_busy_verdict(0, &a, &b, 0, 100));
}

Test(idle, without_cpu_figures_only_io_counts)
{
	struct memxd_cpu_times none = { 0 }, a, b;

	window(2, 200, 0, &a, &b);
	cr_assert_not(memxd_idle_busy_verdict(0, &none, &b, 0, 100));
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &none, 0, 100));
	cr_assert_not(memxd_idle_busy_verdict(0, &a, &a, 0, 100));	/* no tick passed */
	cr_assert(memxd_idle_busy_verdict(3, &none, &none, 0, 100));
}

Test(idle, keeps_its_verdict_for_a_window)
{
	struct memxd_idle s = { 0 };
	uint64_t t = 5000000000ULL;

	/* The first look only starts a window; I/O within a window changes nothing until it ends. */
	cr_assert_not(memxd_idle_busy(&s, t, 10, 0));
	cr_assert_not(memxd_idle_busy(&s, t + 1000000ULL, 20, 0));
	cr_assert(memxd_idle_busy(&s, t + MEMXD_IDLE_WINDOW_MS * 1000000ULL, 20, 0));
	cr_assert(memxd_idle_busy(&s, t + MEMXD_IDLE_WINDOW_MS * 1000000ULL + 1000000ULL, 20, 0));
	cr_assert_eq(s.io, 20);
	cr_assert_eq(s.at_ns, t + MEMXD_IDLE_WINDOW_MS * 1000000ULL);
}
