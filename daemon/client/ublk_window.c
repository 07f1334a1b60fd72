// SPDX-License-Identifier: GPL-2.0
/*
 * The keeper of a ublk volume's recovery window (ublk_window.h). It is a
 * forked copy of the engine made before the engine holds RDMA resources, the
 * ublk character device or threads that matter to it: it closes every file
 * but its pipe and stderr (the volume's name lock among them, so that the
 * next engine can start) and writes its few lines with dprintf, since the
 * engine's logger thread is not in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "client/ublk_ctrl.h"
#include "client/ublk_window.h"

static void keeper_say(const char *volume, const char *what, uint32_t id)
{
	dprintf(STDERR_FILENO, "memxd client (window keeper): volume %s: ublk device %u: %s\n",
		volume, id, what);
}

static _Noreturn void keeper(int rd, pid_t engine, const char *volume, unsigned int window_s)
{
	struct ublksrv_ctrl_dev_info info;
	struct memxd_ublk_ctrl ctrl;
	uint32_t dev_id = UINT32_MAX, v;
	time_t deadline;
	ssize_t n;

	for (;;) {
		n = read(rd, &v, sizeof(v));
		if (n == sizeof(v))
			dev_id = v;
		else if (n == 0 || errno != EINTR)
			break;
	}
	if (dev_id == UINT32_MAX || memxd_ublk_ctrl_open(&ctrl))
		_exit(0);
	deadline = time(NULL) + window_s;
	for (;;) {
		int r = memxd_ublk_get_info(&ctrl, dev_id, &info);

		if (r == -ENODEV)
			_exit(0);	/* removed */
		if (!r && info.state == UBLK_S_DEV_LIVE && info.ublksrv_pid != engine)
			_exit(0);	/* a new engine serves it */
		if (time(NULL) >= deadline)
			break;
		sleep(1);
	}
	keeper_say(volume, "no engine took it over within --recovery-timeout: stopping it, "
		   "its requests fail with EIO", dev_id);
	memxd_ublk_stop(&ctrl, dev_id);
	memxd_ublk_del(&ctrl, dev_id);
	_exit(0);
}

int memxd_ublk_window_start(const char *volume, unsigned int window_s)
{
	char name[64];
	int fds[2];
	pid_t engine = getpid(), pid;
	sigset_t none;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	snprintf(name, sizeof(name), "%s", volume);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid) {
		close(fds[0]);
		return fds[1];
	}
	/* The keeper: only its pipe, stdout and stderr; killable like any process. */
	if (dup2(fds[0], 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, "memxd-window", 0, 0, 0);
	keeper(3, engine, name, window_s);
}

void memxd_ublk_window_watch(int fd, uint32_t dev_id)
{
	if (fd >= 0 && write(fd, &dev_id, sizeof(dev_id)) != sizeof(dev_id))
		return;	/* the keeper is gone: nothing to tell */
}
