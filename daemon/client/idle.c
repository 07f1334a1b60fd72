// SPDX-License-Identifier: GPL-2.0
/* Is the machine busy (idle.h)? /proc/stat against the engine's own CPU, and the volume's I/O. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/idle.h"

int memxd_cpu_times_parse(const char *text, struct memxd_cpu_times *t)
{
	/* user nice system idle iowait irq softirq steal (guest time is inside user) */
	uint64_t v[8] = { 0 };
	const char *p;
	int n;

	memset(t, 0, sizeof(*t));
	if (strncmp(text, "cpu ", 4))
		return -EINVAL;
	n = sscanf(text + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
		   SCNu64 " %" SCNu64 " %" SCNu64, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]);
	if (n < 4)
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		t->total += v[i];
	t->idle = v[3] + v[4];
	for (p = strchr(text, '\n'); p && !strncmp(p + 1, "cpu", 3); p = strchr(p + 1, '\n'))
		t->ncpus++;
	return t->ncpus ? 0 : -EINVAL;
}

bool memxd_idle_busy_verdict(uint64_t io_delta, const struct memxd_cpu_times *a,
			     const struct memxd_cpu_times *b, uint64_t self_ns, long hz)
{
	uint64_t ticks, idle, one_cpu, self;

	if (io_delta)
		return true;
	if (!a->ncpus || !b->ncpus || b->total <= a->total || b->idle < a->idle || hz <= 0)
		return false;
	ticks = b->total - a->total;
	idle = b->idle - a->idle;
	self = self_ns * (uint64_t)hz / 1000000000ULL;
	one_cpu = ticks / b->ncpus;
	if (b->ncpus == 1)
		one_cpu /= 2;
	return idle + self < one_cpu;
}

/* /proc/stat into t; ncpus 0 when it cannot be read. Its cpu lines fit the buffer (250 CPUs). */
static void read_cpu_times(struct memxd_cpu_times *t)
{
	char buf[16384];
	ssize_t n = -1;
	int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0 || (buf[n] = '\0', memxd_cpu_times_parse(buf, t)))
		memset(t, 0, sizeof(*t));
}

bool memxd_idle_busy(struct memxd_idle *s, uint64_t now_ns, uint64_t io, uint64_t self_ns)
{
	struct memxd_cpu_times cpu;
	static long hz;

	if (s->at_ns && now_ns - s->at_ns < MEMXD_IDLE_WINDOW_MS * 1000000ULL)
		return s->busy;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	read_cpu_times(&cpu);
	if (s->at_ns)
		s->busy = memxd_idle_busy_verdict(io - s->io, &s->cpu, &cpu, self_ns - s->self_ns, hz);
	s->at_ns = now_ns;
	s->io = io;
	s->self_ns = self_ns;
	s->cpu = cpu;
	return s->busy;
}
