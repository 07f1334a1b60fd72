// SPDX-License-Identifier: GPL-2.0
/*
 * The keeper of a ublk volume (ublk_window.h). It is a forked copy of the
 * engine made before the engine holds RDMA resources, the ublk character
 * device or threads that matter to it: it closes every file but its pipe and
 * stderr (the volume's name lock among them, so that the next engine can
 * start), locks its memory (the volume may be its own swap) and writes its
 * few lines with dprintf, since the engine's logger thread is not in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "client/ublk_ctrl.h"
#include "client/ublk_window.h"

#define KEEPER_PIPE_FD	3

static void keeper_say(const char *volume, uint32_t id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void keeper_say(const char *volume, uint32_t id, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	dprintf(STDERR_FILENO, "memxd client (keeper): volume %s: ublk device %u: %s\n", volume,
		id, what);
}

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

bool memxd_ublk_stalled(struct memxd_ublk_stall *s, uint64_t held, uint64_t done,
			uint64_t now, unsigned int deadline_s)
{
	if (done != s->done || !held) {
		s->done = done;
		s->since = now;
		return false;
	}
	return deadline_s && now - s->since >= deadline_s;
}

/*
 * Requests the block layer gave the device and that are not done yet: what
 * ublk handed the engine, including those whose fetch completed but that a
 * stopped engine never took off its ring (the progress page cannot see
 * those). -1 when unknown.
 */
static long sysfs_inflight(int *fd, uint32_t dev_id)
{
	char buf[64];
	long rd, wr;
	ssize_t n;

	if (*fd < 0) {
		snprintf(buf, sizeof(buf), "/sys/block/ublkb%u/inflight", dev_id);
		*fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return -1;
	}
	n = pread(*fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld", &rd, &wr) != 2)
		return -1;
	return rd + wr;
}

/* Whether the engine holds requests: those it took and did not commit, or the kernel's count. */
static uint64_t engine_held(const struct memxd_ublk_progress *p, uint64_t *done, int *inflight_fd,
			    uint32_t dev_id)
{
	uint64_t taken = 0, d = 0;
	long kernel;

	for (unsigned int i = 0; i < MEMX_MAX_QUEUES; i++) {
		d += atomic_load_explicit(&p->q[i].done, memory_order_relaxed);
		taken += atomic_load_explicit(&p->q[i].taken, memory_order_relaxed);
	}
	*done = d;
	kernel = sysfs_inflight(inflight_fd, dev_id);
	if (kernel > 0 && (uint64_t)kernel > taken - d)
		return (uint64_t)kernel;
	return taken - d;
}

/*
 * While the engine lives: reads its progress once a second and kills it if
 * it is stuck. Returns the device to look after once the engine died
 * (UINT32_MAX: none, a clean exit).
 */
static uint32_t keeper_watch(pid_t engine, const struct memxd_ublk_progress *p,
			     const char *volume, unsigned int deadline_s)
{
	struct memxd_ublk_stall stall = { 0, now_s() };
	uint32_t dev_id = UINT32_MAX, v;
	bool killed = false;
	int inflight_fd = -1;

	for (;;) {
		struct pollfd pfd = { .fd = KEEPER_PIPE_FD, .events = POLLIN };
		uint64_t done, held;
		int r = poll(&pfd, 1, 1000);

		if (r > 0) {
			ssize_t n = read(KEEPER_PIPE_FD, &v, sizeof(v));

			if (n == sizeof(v)) {
				dev_id = v;
				if (inflight_fd >= 0)
					close(inflight_fd);
				inflight_fd = -1;
				continue;
			}
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break;	/* the engine is gone */
		}
		if (dev_id == UINT32_MAX || killed)
			continue;
		held = engine_held(p, &done, &inflight_fd, dev_id);
		if (!memxd_ublk_stalled(&stall, held, done, now_s(), deadline_s))
			continue;
		keeper_say(volume, dev_id, "the engine (pid %d) holds %llu request(s) and finished "
			   "none for --io-deadline %u s (stopped or stuck): killing it (SIGKILL); "
			   "ublk holds its requests for the next engine",
			   (int)engine, (unsigned long long)held, deadline_s);
		kill(engine, SIGKILL);
		killed = true;
	}
	if (inflight_fd >= 0)
		close(inflight_fd);
	return dev_id;
}

static _Noreturn void keeper(pid_t engine, const struct memxd_ublk_progress *p,
			     const char *volume, unsigned int deadline_s, unsigned int window_s)
{
	struct ublksrv_ctrl_dev_info info;
	struct memxd_ublk_ctrl ctrl;
	uint32_t dev_id = keeper_watch(engine, p, volume, deadline_s);
	uint64_t deadline;

	if (dev_id == UINT32_MAX || memxd_ublk_ctrl_open(&ctrl))
		_exit(0);
	deadline = now_s() + window_s;
	for (;;) {
		int r = memxd_ublk_get_info(&ctrl, dev_id, &info);

		if (r == -ENODEV)
			_exit(0);	/* removed */
		if (!r && info.state == UBLK_S_DEV_LIVE && info.ublksrv_pid != engine)
			_exit(0);	/* a new engine serves it */
		if (now_s() >= deadline)
			break;
		sleep(1);
	}
	keeper_say(volume, dev_id, "no engine took it over within --recovery-timeout: stopping "
		   "it, its requests fail with EIO");
	memxd_ublk_stop(&ctrl, dev_id);
	memxd_ublk_del(&ctrl, dev_id);
	_exit(0);
}

int memxd_ublk_keeper_start(struct memxd_ublk_keeper *k, const char *volume,
			    unsigned int deadline_s, unsigned int window_s)
{
	char name[64];
	int fds[2], err;
	pid_t engine = getpid(), pid;
	sigset_t none;

	k->fd = -1;
	k->pid = -1;
	/* Before the fork, and the only allocation: the queues publish here, the keeper reads. */
	k->progress = mmap(NULL, sizeof(*k->progress), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (k->progress == MAP_FAILED) {
		k->progress = NULL;
		return -errno;
	}
	if (pipe2(fds, O_CLOEXEC)) {
		err = -errno;
		memxd_ublk_keeper_stop(k);
		return err;
	}
	snprintf(name, sizeof(name), "%s", volume);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		memxd_ublk_keeper_stop(k);
		return err;
	}
	if (pid) {
		close(fds[0]);
		k->fd = fds[1];
		k->pid = pid;
		return 0;
	}
	/* The keeper: only its pipe, stdout and stderr; killable like any process. */
	if (dup2(fds[0], KEEPER_PIPE_FD) < 0)
		_exit(1);
	close_range(KEEPER_PIPE_FD + 1, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, "memxd-keeper", 0, 0, 0);
	/* Not inherited across fork; the keeper must not wait on the volume it watches. */
	mlockall(MCL_CURRENT | MCL_FUTURE);
	keeper(engine, k->progress, name, deadline_s, window_s);
}

void memxd_ublk_window_watch(const struct memxd_ublk_keeper *k, uint32_t dev_id)
{
	if (k->fd >= 0 && write(k->fd, &dev_id, sizeof(dev_id)) != sizeof(dev_id))
		return;	/* the keeper is gone: nothing to tell */
}

void memxd_ublk_keeper_stop(struct memxd_ublk_keeper *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	if (k->progress)
		munmap(k->progress, sizeof(*k->progress));
	k->progress = NULL;
}
