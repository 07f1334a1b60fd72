/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Is the machine busy? Background work (the scrub) asks before each step, so
 * that it runs in the time the applications leave idle instead of taking CPU
 * from them: reading replicas back costs CPU (on Soft-RoCE, the whole wire
 * is CPU work), and on a small machine an engine that spends a quarter of a
 * CPU while the application needs all of it slows the application down.
 *
 * Busy means, over the last window (at least MEMXD_IDLE_WINDOW_MS): the
 * volume served I/O, or the CPUs had less than one CPU's worth of idle time
 * (half of it on a one-CPU machine), not counting what the engine itself
 * spent (/proc/stat's idle and iowait, against the engine's CPU clock).
 * Without /proc/stat only I/O counts.
 */
#ifndef MEMXD_IDLE_H
#define MEMXD_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#define MEMXD_IDLE_WINDOW_MS	100U

struct memxd_cpu_times {
	uint64_t total, idle;		/* USER_HZ ticks over every CPU; idle includes iowait */
	unsigned int ncpus;
};

struct memxd_idle {
	uint64_t at_ns;			/* when the window began; 0: never sampled */
	uint64_t io;			/* the volume's request count then */
	uint64_t self_ns;		/* the engine's CPU clock then */
	struct memxd_cpu_times cpu;	/* /proc/stat then (ncpus 0: unreadable) */
	bool busy;			/* the verdict over the last window */
};

/* Parses /proc/stat's text. Returns 0, or -EINVAL when its "cpu" lines are missing or bad. */
int memxd_cpu_times_parse(const char *text, struct memxd_cpu_times *t);

/*
 * The verdict over one window: busy if io_delta > 0, or if idle ticks plus
 * the engine's own (self_ns, converted at hz) fall short of one CPU's worth
 * of the window (half on one CPU). A window with no ticks counts I/O only.
 */
bool memxd_idle_busy_verdict(uint64_t io_delta, const struct memxd_cpu_times *a,
			     const struct memxd_cpu_times *b, uint64_t self_ns, long hz);

/*
 * Whether the machine is busy now: the last verdict, renewed when a window
 * has passed (reads /proc/stat; no allocation). io: the volume's requests
 * served so far; self_ns: the engine's CPU clock.
 */
bool memxd_idle_busy(struct memxd_idle *s, uint64_t now_ns, uint64_t io, uint64_t self_ns);

#endif /* MEMXD_IDLE_H */
