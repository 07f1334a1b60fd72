// SPDX-License-Identifier: GPL-2.0
/* The process around either role: swap safety at start, signals, a random source, ids. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/proc.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

/*
 * A swap device's server must make progress when memory is short: lock every
 * page we have and will have, let the kernel treat our allocations as those of
 * an I/O flusher (no recursion into reclaim I/O), and never be the OOM victim.
 * Returns 0 or the first -errno (the caller decides whether to go on).
 */
int memxd_make_swap_safe(void)
{
	int r = 0, fd;

	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		r = -errno;
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) && !r)
		r = -errno;
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "-1000", 5) != 5 && !r)
			r = -errno;
		close(fd);
	}
	return r;
}

int memxd_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Never a stray death: HUP re-reads the key file, the others are only logged. */
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	/* Before any thread starts, so that every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void memxd_make_run_dir(void)
{
	struct stat st;

	/* EEXIST is fine; any other error shows when a socket or lock is made in it. */
	mkdir(MEMXD_RUN_DIR, 0700);
	/* One an older memxd made 0755: ours alone from now on (never through a link). */
	if (!lstat(MEMXD_RUN_DIR, &st) && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	    (st.st_mode & 07777) != 0700 && chmod(MEMXD_RUN_DIR, 0700)) {
		/* Left as it is: the sockets themselves are 0600. */
	}
}

int memxd_lock_name(const char *path, long *holder)
{
	char pid[32];
	int fd, n;

	*holder = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

		n = (int)read(fd, pid, sizeof(pid) - 1);
		if (n > 0) {
			pid[n] = '\0';
			*holder = strtol(pid, NULL, 10);
		}
		close(fd);
		return r;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* The lock is what matters; the pid is only for the message. */
	}
	return fd;
}

uint64_t memxd_mem_total(void)
{
	unsigned long long kib = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kib << 10;
}

void memxd_machine_id(uint8_t out[16])
{
	char hex[33] = "";
	FILE *f = fopen("/etc/machine-id", "re");
	int ok = f && fscanf(f, "%32s", hex) == 1 && strlen(hex) == 32;

	if (f)
		fclose(f);
	memset(out, 0, 16);
	for (int i = 0; ok && i < 16; i++) {
		unsigned int b;

		ok = sscanf(hex + 2 * i, "%2x", &b) == 1;
		out[i] = (uint8_t)b;
	}
	if (!ok) {
		char name[64] = "";

		gethostname(name, sizeof(name) - 1);
		memset(out, 0, 16);
		memcpy(out, name, strnlen(name, 16));
	}
	if (!memcmp(out, (uint8_t[16]){ 0 }, 16))
		out[0] = 1;	/* never all zeros: the wire refuses that */
}

int memxd_process_start(void)
{
	int sfd = memxd_signalfd(), r;

	if (sfd < 0)
		return memxd_log_errno(sfd, "signalfd");
	r = memxd_log_start(MEMXD_LOG_RING_BYTES);
	if (r)
		memxd_log_errno(r, "log thread: logging straight to stderr");
	return sfd;
}

uint32_t memxd_rand(void *state)
{
	uint32_t *s = state;

	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void memxd_fmt_id(const uint8_t id[16], char out[33])
{
	/* Its first 4 bytes name it in logs: enough to tell volumes apart, too few to use. */
	for (int i = 0; i < 4; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}
