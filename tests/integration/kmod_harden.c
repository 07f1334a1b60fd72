// SPDX-License-Identifier: GPL-2.0
/*
 * kmod_harden: attacks on memx.ko's control device that must fail.
 *
 *   kmod_harden perm             an unprivileged process (root's fd passed to
 *                                it, or an inherited owner fd) cannot ADD_DEV,
 *                                BIND_QUEUE, START_DEV or DEL_DEV: EPERM;
 *                                GET_FEATURES and GET_INFO still work
 *   kmod_harden unpriv-open PATH drops to uid/gid 65534 first, then opens PATH
 *                                (a 0666 copy of the node) and tries ADD_DEV
 *   kmod_harden bind-other       another process (root, not the volume's owner)
 *                                cannot bind the volume's queues: EPERM; the
 *                                owner's own threads can
 *   kmod_harden mmap-exec        the queue mapping cannot be executable
 *   kmod_harden fork             an engine that forked a child dies: the child
 *                                has no copy of the queue mapping and does not
 *                                keep the queue alive: I/O fails with EIO at
 *                                once instead of hanging
 *   kmod_harden fork-recovery    the same with a named volume that outlives its
 *                                engine: the read is held, not failed; the
 *                                child's copies of the dead engine's fds are
 *                                dead (COMMIT, LAYOUT: ENODEV; START, DEL:
 *                                EBADFD; poll: POLLERR|POLLHUP); a new engine
 *                                attaches, binds, starts and serves the held
 *                                read with its data
 *   kmod_harden depose           an engine that holds a request and commits
 *                                nothing for io_timeout_ms while it lives (it
 *                                scribbles over its whole queue mapping, as
 *                                late RDMA would) is deposed: RECOVERING, its
 *                                commits refused; the next engine's mapping is
 *                                new memory, so the held read and a new write
 *                                carry exactly the data they should
 *   kmod_harden memcg            (run inside a memory cgroup with memory.max
 *                                128M) per-queue buffers are charged to the
 *                                caller's cgroup: ADD_DEV of 64 MiB raises
 *                                memory.current, 256 MiB fails with ENOMEM
 *
 * Needs memx.ko loaded and root. Prints one line per failed check ("FAIL")
 * and "kmod_harden MODE: all N checks passed"; exit 0 if all pass, 1 if not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <memx/uapi.h>

#define CTL "/dev/" MEMX_CONTROL_NAME

static int failures, checks;

static void check_(int line, const char *what, int ret, int err, int want)
{
	checks++;
	if (want == 0 && ret == 0)
		return;
	if (want != 0 && ret == -1 && err == want)
		return;
	failures++;
	printf("FAIL line %d: %s: got ret %d errno %d (%s), want %s%s\n", line, what, ret,
	       ret == -1 ? err : 0, ret == -1 ? strerror(err) : "-",
	       want ? "errno " : "success", want ? strerror(want) : "");
	fflush(stdout);
}
#define CHECK(what, expr, want) do { \
	errno = 0; int r_ = (expr); check_(__LINE__, what, r_, errno, want); } while (0)
#define EXPECT(what, cond) do { checks++; if (!(cond)) { failures++; \
	printf("FAIL line %d: %s\n", __LINE__, what); fflush(stdout); } } while (0)

static void die(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int ctl_open(void)
{
	int fd = open(CTL, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open " CTL);
	return fd;
}

static struct memx_dev_params params(unsigned int queues, unsigned int depth, unsigned int max_io)
{
	struct memx_dev_params p = {
		.size_bytes = 16 << 20, .nr_queues = queues, .queue_depth = depth,
		.max_io_bytes = max_io, .dev_id = -1,
	};
	return p;
}

static int info_cmd(int fd, unsigned long cmd, int id)
{
	struct memx_dev_info i = { .dev_id = id };

	return ioctl(fd, cmd, &i);
}

static int bind_q(int fd, int id, unsigned int q)
{
	struct memx_queue_bind b = { .dev_id = id, .queue_id = q };

	return ioctl(fd, MEMX_IO_BIND_QUEUE, &b);
}

static void drop_privileges(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		die("drop privileges to 65534");
}

/* Runs fn in a child process; returns the child's failure count (or 100+). */
static int in_child(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		failures = checks = 0;
		fn(arg);
		fflush(stdout);
		_exit(failures > 99 ? 99 : failures);
	}
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

/* Volume that root created, for the unprivileged attacks. */
struct victim {
	int owner_fd;	/* inherited by the child */
	int id;
};

static void unpriv_attacks(void *arg)
{
	struct victim *v = arg;
	struct memx_dev_params p = params(1, 4, 8192);
	struct memx_features f;
	int fd = ctl_open();	/* opened as root, then privileges go */

	drop_privileges();
	CHECK("unprivileged GET_FEATURES", ioctl(fd, MEMX_CTRL_GET_FEATURES, &f), 0);
	CHECK("unprivileged GET_INFO", info_cmd(fd, MEMX_CTRL_GET_INFO, v->id), 0);
	CHECK("unprivileged ADD_DEV", ioctl(fd, MEMX_CTRL_ADD_DEV, &p), EPERM);
	CHECK("unprivileged BIND_QUEUE", bind_q(fd, v->id, 0), EPERM);
	CHECK("unprivileged START_DEV (own fd)", info_cmd(fd, MEMX_CTRL_START_DEV, v->id), EPERM);
	CHECK("unprivileged DEL_DEV (own fd)", info_cmd(fd, MEMX_CTRL_DEL_DEV, v->id), EPERM);
	/* The owner fd leaked to an unprivileged process: it cannot use it either. */
	CHECK("unprivileged DEL_DEV (inherited owner fd)",
	      info_cmd(v->owner_fd, MEMX_CTRL_DEL_DEV, v->id), EPERM);
	CHECK("unprivileged START_DEV (inherited owner fd)",
	      info_cmd(v->owner_fd, MEMX_CTRL_START_DEV, v->id), EPERM);
	close(fd);
}

static void test_perm(void)
{
	struct memx_dev_params p = params(1, 4, 8192);
	struct victim v;
	int q, n;

	v.owner_fd = ctl_open();
	CHECK("root ADD_DEV", ioctl(v.owner_fd, MEMX_CTRL_ADD_DEV, &p), 0);
	v.id = p.dev_id;
	n = in_child(unpriv_attacks, &v);
	EXPECT("unprivileged attacks all refused (see FAIL lines above)", n == 0);
	/* The volume is intact: root can still bind, and delete it. */
	q = ctl_open();
	CHECK("root BIND after the attacks", bind_q(q, v.id, 0), 0);
	CHECK("GET_INFO after the attacks", info_cmd(q, MEMX_CTRL_GET_INFO, v.id), 0);
	CHECK("root DEL_DEV", info_cmd(v.owner_fd, MEMX_CTRL_DEL_DEV, v.id), 0);
	close(q);
	close(v.owner_fd);
}

static void test_unpriv_open(const char *path)
{
	struct memx_dev_params p = params(1, 4, 8192);
	struct memx_features f;
	int fd;

	drop_privileges();
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open the 0666 copy of the node as uid 65534");
	CHECK("unprivileged opener: GET_FEATURES", ioctl(fd, MEMX_CTRL_GET_FEATURES, &f), 0);
	CHECK("unprivileged opener: ADD_DEV", ioctl(fd, MEMX_CTRL_ADD_DEV, &p), EPERM);
	if (failures)
		printf("  (ADD_DEV by uid 65534 created memx%d)\n", p.dev_id);
	close(fd);
}

static void other_binds(void *arg)
{
	int id = *(int *)arg, fd = ctl_open();

	CHECK("BIND queue 0 from another process (root, not the owner)", bind_q(fd, id, 0), EPERM);
	CHECK("BIND queue 1 from another process (root, not the owner)", bind_q(fd, id, 1), EPERM);
	close(fd);
}

struct bind_arg {
	int fd, id, ret, err;
};

static void *bind_thread(void *arg)
{
	struct bind_arg *b = arg;

	b->ret = bind_q(b->fd, b->id, 1);
	b->err = errno;
	return NULL;
}

static void test_bind_other(void)
{
	struct memx_dev_params p = params(2, 4, 8192);
	struct bind_arg b;
	pthread_t t;
	int a = ctl_open(), q0 = ctl_open(), n;

	CHECK("ADD_DEV", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	n = in_child(other_binds, &p.dev_id);
	EXPECT("binds by a non-owner refused (see FAIL lines above)", n == 0);
	CHECK("owner binds queue 0", bind_q(q0, p.dev_id, 0), 0);
	b = (struct bind_arg){ .fd = ctl_open(), .id = p.dev_id };
	if (pthread_create(&t, NULL, bind_thread, &b))
		die("pthread_create");
	pthread_join(t, NULL);
	check_(__LINE__, "another thread of the owner binds queue 1", b.ret, b.err, 0);
	CHECK("DEL_DEV", info_cmd(a, MEMX_CTRL_DEL_DEV, p.dev_id), 0);
	close(b.fd);
	close(q0);
	close(a);
}

static void test_mmap_exec(void)
{
	struct memx_dev_params p = params(1, 4, 8192);
	struct memx_queue_layout l;
	int a = ctl_open(), q = ctl_open();
	void *m;

	CHECK("ADD_DEV", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	CHECK("BIND", bind_q(q, p.dev_id, 0), 0);
	CHECK("GET_LAYOUT", ioctl(q, MEMX_IO_GET_LAYOUT, &l), 0);
	m = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, q, 0);
	EXPECT("mmap PROT_EXEC of the queue refused", m == MAP_FAILED);
	if (m != MAP_FAILED)
		munmap(m, l.total_bytes);
	m = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	EXPECT("mmap read-write works", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		CHECK("mprotect PROT_EXEC of the queue mapping", mprotect(m, l.total_bytes,
		      PROT_READ | PROT_EXEC), EACCES);
		munmap(m, l.total_bytes);
	}
	CHECK("DEL_DEV", info_cmd(a, MEMX_CTRL_DEL_DEV, p.dev_id), 0);
	close(q);
	close(a);
}

/* ---- fork: a forked child of a dead engine ---------------------------- */

struct reader {
	pthread_t t;
	char path[32];
	atomic_int done;
	ssize_t ret;
	int err;
	void *buf;
};

static void *reader_fn(void *arg)
{
	struct reader *rd = arg;
	int fd = open(rd->path, O_RDONLY | O_DIRECT);

	if (fd < 0) {
		rd->ret = -2;
		rd->err = errno;
	} else {
		rd->ret = pread(fd, rd->buf, 4096, 0);
		rd->err = errno;
		close(fd);
	}
	atomic_store(&rd->done, 1);
	return NULL;
}

static void reader_start(struct reader *rd, int id)
{
	memset(rd, 0, sizeof(*rd));
	snprintf(rd->path, sizeof(rd->path), "/dev/" MEMX_DISK_NAME "%d", id);
	if (posix_memalign(&rd->buf, 4096, 4096) || pthread_create(&rd->t, NULL, reader_fn, rd))
		die("start reader");
}

/* Waits up to @ms for the reader; true if it finished. */
static int reader_wait(struct reader *rd, int ms)
{
	for (; ms > 0; ms -= 20) {
		if (atomic_load(&rd->done))
			return 1;
		usleep(20000);
	}
	return atomic_load(&rd->done);
}

static int has_memx_mapping(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, MEMX_CONTROL_NAME))
			found = 1;
	fclose(f);
	return found;
}

/*
 * The engine: ADD_DEV, BIND, mmap, START, fork a child that inherits every
 * fd (no exec: O_CLOEXEC does not help) and then only sleeps. Reports the
 * volume id and whether the child sees the mapping through @out, then waits
 * to be killed without serving anything.
 */
static void engine(int out)
{
	struct memx_dev_params p = params(1, 4, 8192);
	struct memx_queue_layout l;
	struct memx_dev_info info = { 0 };
	int a = ctl_open(), q = ctl_open(), pfd[2], msg[3];
	char c = '?';
	pid_t k;
	void *area;

	p.io_timeout_ms = 30000;
	if (ioctl(a, MEMX_CTRL_ADD_DEV, &p) || bind_q(q, p.dev_id, 0) ||
	    ioctl(q, MEMX_IO_GET_LAYOUT, &l))
		die("engine: ADD/BIND/LAYOUT");
	area = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	if (area == MAP_FAILED)
		die("engine: mmap");
	info.dev_id = p.dev_id;
	if (ioctl(a, MEMX_CTRL_START_DEV, &info))
		die("engine: START");
	if (pipe(pfd))
		die("pipe");
	k = fork();
	if (k < 0)
		die("engine: fork");
	if (k == 0) {
		c = has_memx_mapping() ? 'M' : 'N';
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(pfd[0], &c, 1) != 1)
		die("engine: read from child");
	msg[0] = p.dev_id;
	msg[1] = c;
	msg[2] = k;
	if (write(out, msg, sizeof(msg)) != sizeof(msg))
		die("engine: report");
	for (;;)
		pause();
}

static void test_fork(void)
{
	struct reader rd, rd2;
	int pfd[2], msg[3], a, i;
	pid_t e, k;
	struct timespec t0, t1;

	if (pipe(pfd))
		die("pipe");
	fflush(stdout);
	e = fork();
	if (e < 0)
		die("fork");
	if (e == 0) {
		close(pfd[0]);
		engine(pfd[1]);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], msg, sizeof(msg)) != sizeof(msg))
		die("engine did not report");
	k = msg[2];
	EXPECT("engine's forked child exists", k > 0);
	EXPECT("the forked child has no copy of the queue mapping (VM_DONTCOPY)", msg[1] == 'N');

	reader_start(&rd, msg[0]);
	usleep(500000);	/* the read sits in the ring: the engine serves nothing */
	EXPECT("read pending while the engine lives", !atomic_load(&rd.done));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(e, SIGKILL);
	waitpid(e, NULL, 0);
	if (!reader_wait(&rd, 10000)) {
		EXPECT("in-flight read ends within 10 s of the engine's death "
		       "(the forked child keeps the queue alive: attack succeeded)", 0);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("  in-flight read ended %ld ms after the engine died: ret %zd errno %d\n",
		       (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
		       rd.ret, rd.err);
		EXPECT("in-flight read fails with EIO", rd.ret == -1 && rd.err == EIO);
		reader_start(&rd2, msg[0]);
		EXPECT("a later read ends at once", reader_wait(&rd2, 5000));
		if (atomic_load(&rd2.done)) {
			EXPECT("a later read fails with EIO or ENXIO/ENOENT (volume gone)",
			       (rd2.ret == -1 && rd2.err == EIO) ||
			       (rd2.ret == -2 && (rd2.err == ENXIO || rd2.err == ENOENT ||
						  rd2.err == ENODEV)));
			pthread_join(rd2.t, NULL);
		}
		free(rd2.buf);
		/* The volume goes although the child still holds copies of both fds. */
		a = ctl_open();
		for (i = 0; i < 100; i++) {
			if (info_cmd(a, MEMX_CTRL_GET_INFO, msg[0]) && errno == ENODEV)
				break;
			usleep(50000);
		}
		EXPECT("volume removed while the forked child lives", i < 100);
		close(a);
	}
	if (k > 0)
		kill(k, SIGKILL);	/* releases whatever it kept */
	if (!reader_wait(&rd, 10000)) {
		printf("FAIL: read still pending after the forked child died too\n");
		exit(1);
	}
	pthread_join(rd.t, NULL);
	free(rd.buf);
	/* The child was reparented: it is not ours to reap. Wait until it is gone. */
	for (i = 0; k > 0 && i < 100 && kill(k, 0) == 0; i++)
		usleep(50000);
	a = ctl_open();
	for (i = 0; i < 100; i++) {
		if (info_cmd(a, MEMX_CTRL_GET_INFO, msg[0]) && errno == ENODEV)
			break;
		usleep(50000);
	}
	EXPECT("volume removed in the end", i < 100);
	close(a);
}

/* ---- fork-recovery: the dead engine's fds, in a child, after its death ---- */

#define RECOVERY_NAME	"harden-rec"

static struct memx_dev_params recovery_params(void)
{
	struct memx_dev_params p = params(1, 4, 8192);

	p.recovery_timeout_ms = 30000;
	strcpy(p.name, RECOVERY_NAME);
	return p;
}

/* The child of the engine: once told, it tries its copies of the dead engine's fds. */
static void stale_child(int a, int q, int go, int report)
{
	struct memx_io_result res = { .tag = 0, .result = 0 };
	struct memx_io_commit c = { .nr = 1, .results = (uintptr_t)&res };
	struct memx_queue_layout l;
	struct pollfd pfd = { .fd = q, .events = POLLIN };
	int id, n;

	if (read(go, &id, sizeof(id)) != sizeof(id))
		_exit(100);
	failures = checks = 0;
	CHECK("stale queue fd: COMMIT", ioctl(q, MEMX_IO_COMMIT, &c), ENODEV);
	CHECK("stale queue fd: GET_LAYOUT", ioctl(q, MEMX_IO_GET_LAYOUT, &l), ENODEV);
	CHECK("stale owner fd: START_DEV", info_cmd(a, MEMX_CTRL_START_DEV, id), EBADFD);
	CHECK("stale owner fd: DEL_DEV", info_cmd(a, MEMX_CTRL_DEL_DEV, id), EBADFD);
	CHECK("stale fd: BIND again", bind_q(a, id, 0), EBUSY);
	EXPECT("stale queue fd: poll says the queue is gone",
	       poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)));
	n = failures;
	if (write(report, &n, sizeof(n)) != sizeof(n))
		_exit(101);
	for (;;)
		pause();
}

static void recovery_engine(int out, int go, int report)
{
	struct memx_dev_params p = recovery_params();
	struct memx_dev_info info = { 0 };
	int a = ctl_open(), q = ctl_open(), msg[2];
	pid_t k;

	if (ioctl(a, MEMX_CTRL_ADD_DEV, &p) || bind_q(q, p.dev_id, 0))
		die("engine: ADD/BIND");
	info.dev_id = p.dev_id;
	if (ioctl(a, MEMX_CTRL_START_DEV, &info))
		die("engine: START");
	k = fork();
	if (k < 0)
		die("engine: fork");
	if (k == 0)
		stale_child(a, q, go, report);
	msg[0] = p.dev_id;
	msg[1] = k;
	if (write(out, msg, sizeof(msg)) != sizeof(msg))
		die("engine: report");
	for (;;)
		pause();	/* serves nothing: the read stays in the ring */
}

static void test_fork_recovery(void)
{
	struct memx_dev_params p = recovery_params();
	struct memx_dev_info info = { 0 };
	struct memx_queue_layout l;
	struct memx_io_result res;
	struct memx_io_commit c = { .nr = 1, .results = (uintptr_t)&res };
	struct pollfd pfd;
	struct reader rd;
	int out[2], go[2], report[2], msg[2], n = -1, a, q, id;
	struct memx_sq_ring *ring;
	uint8_t *area;
	pid_t e;

	if (pipe(out) || pipe(go) || pipe(report))
		die("pipe");
	fflush(stdout);
	e = fork();
	if (e < 0)
		die("fork");
	if (e == 0)
		recovery_engine(out[1], go[0], report[1]);
	if (read(out[0], msg, sizeof(msg)) != sizeof(msg))
		die("engine did not report");
	id = msg[0];
	reader_start(&rd, id);
	usleep(500000);
	kill(e, SIGKILL);
	waitpid(e, NULL, 0);
	usleep(1000000);
	EXPECT("the read is held, not failed, after the engine died", !atomic_load(&rd.done));
	a = ctl_open();
	info.dev_id = id;
	CHECK("GET_INFO of the orphan", ioctl(a, MEMX_CTRL_GET_INFO, &info), 0);
	EXPECT("the volume is RECOVERING", info.state == MEMX_S_RECOVERING);
	EXPECT("GET_INFO names it", !strcmp(info.name, RECOVERY_NAME));
	EXPECT("time is left in its window",
	       info.recovery_left_ms > 0 && info.recovery_left_ms <= 30000);
	printf("orphan: %u request(s) held (info_flags %#x)\n", info.held_requests,
	       info.info_flags);
	EXPECT("GET_INFO counts the waiting read as held",
	       (info.info_flags & MEMX_INFO_F_HELD) && info.held_requests >= 1);
	if (write(go[1], &id, sizeof(id)) != sizeof(id) ||
	    read(report[0], &n, sizeof(n)) != sizeof(n))
		die("the child did not report");
	EXPECT("the child's copies of the dead engine's fds are all refused (FAIL lines above)",
	       n == 0);
	kill(msg[1], SIGKILL);

	/* A new engine: attach, bind, map, start, and serve the held read. */
	CHECK("attach", ioctl(a, MEMX_CTRL_ADD_DEV, (p.attach = MEMX_ADD_ATTACH, &p)), 0);
	EXPECT("attach returns the same volume", p.dev_id == id);
	q = ctl_open();
	CHECK("bind after attach", bind_q(q, id, 0), 0);
	CHECK("layout after attach", ioctl(q, MEMX_IO_GET_LAYOUT, &l), 0);
	area = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	if (area == MAP_FAILED)
		die("mmap after attach");
	ring = (struct memx_sq_ring *)(area + l.ring_offset);
	EXPECT("the ring starts empty for the new engine", ring->tail == 0 && ring->head == 0);
	memset(&info, 0, sizeof(info));
	info.dev_id = id;
	CHECK("start after attach", ioctl(a, MEMX_CTRL_START_DEV, &info), 0);
	pfd = (struct pollfd){ .fd = q, .events = POLLIN };
	EXPECT("the held read reaches the new engine", poll(&pfd, 1, 5000) == 1 &&
	       (pfd.revents & POLLIN));
	/* Serve whatever was held (the read, and any probe of the disk): pattern 0x5a. */
	for (uint32_t h = 0, tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE); h < tail; h++) {
		struct memx_io_desc *d;

		res.tag = ring->tags[h & (l.ring_entries - 1)];
		res.result = 0;
		if (res.tag >= l.queue_depth)
			break;
		d = (struct memx_io_desc *)(area + l.desc_offset) + res.tag;
		if (d->op == MEMX_OP_READ)
			memset(area + l.buf_offset + res.tag * l.buf_stride, 0x5a, d->nr_bytes);
		__atomic_store_n(&ring->head, h + 1, __ATOMIC_RELEASE);
		CHECK("commit by the new engine", ioctl(q, MEMX_IO_COMMIT, &c) == 1 ? 0 : -1, 0);
	}
	EXPECT("the held read completes", reader_wait(&rd, 5000));
	EXPECT("with the new engine's data", rd.ret == 4096 && ((uint8_t *)rd.buf)[0] == 0x5a &&
	       ((uint8_t *)rd.buf)[4095] == 0x5a);
	pthread_join(rd.t, NULL);
	free(rd.buf);
	munmap(area, l.total_bytes);
	memset(&info, 0, sizeof(info));
	info.dev_id = id;
	CHECK("the new owner deletes it", ioctl(a, MEMX_CTRL_DEL_DEV, &info), 0);
	close(q);
	close(a);
}

/* ---- depose: a live engine that stopped committing ----------------------- */

#define DEPOSE_NAME	"harden-dep"
#define SCRIBBLE	0xee

/*
 * The stuck engine: never commits; scribbles over its whole mapping, as RDMA
 * still landing in it would; asks for its layout now and then, and reports
 * the first refusal (its errno) on @report.
 */
static void stuck_engine(int out, int report)
{
	struct memx_dev_params p = recovery_params();
	struct memx_dev_info info = { 0 };
	struct memx_queue_layout l;
	int a = ctl_open(), q = ctl_open(), reported = 0;
	uint8_t *area;

	strcpy(p.name, DEPOSE_NAME);
	p.io_timeout_ms = MEMX_MIN_TIMEOUT_MS;
	if (ioctl(a, MEMX_CTRL_ADD_DEV, &p) || bind_q(q, p.dev_id, 0) ||
	    ioctl(q, MEMX_IO_GET_LAYOUT, &l))
		die("stuck engine: ADD/BIND/LAYOUT");
	area = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	if (area == MAP_FAILED)
		die("stuck engine: mmap");
	info.dev_id = p.dev_id;
	if (ioctl(a, MEMX_CTRL_START_DEV, &info))
		die("stuck engine: START");
	if (write(out, &p.dev_id, sizeof(p.dev_id)) != sizeof(p.dev_id))
		die("stuck engine: report");
	for (unsigned long i = 0;; i++) {
		memset(area + l.buf_offset, SCRIBBLE, l.total_bytes - l.buf_offset);
		if (!reported && !(i % 64) && ioctl(q, MEMX_IO_GET_LAYOUT, &l)) {
			int err = errno;

			if (err == ENODEV) {
				reported = 1;
				if (write(report, &err, sizeof(err)) != sizeof(err))
					_exit(101);
			}
		}
	}
}

struct writer {
	pthread_t t;
	int id;
	atomic_int done;
	ssize_t ret;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	char path[32];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "/dev/" MEMX_DISK_NAME "%d", w->id);
	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd >= 0 && !posix_memalign(&buf, 4096, 4096)) {
		memset(buf, 0x33, 4096);
		w->ret = pwrite(fd, buf, 4096, 8192);
		free(buf);
	} else {
		w->ret = -2;
	}
	if (fd >= 0)
		close(fd);
	atomic_store(&w->done, 1);
	return NULL;
}

/*
 * The new engine serves every tag in its ring: a read gets 0x5a, a write is
 * checked to carry 0x33. Each buffer is looked at again 200 ms later, so that
 * a shared mapping would show the stuck engine's scribbling.
 */
static void serve_ring(int q, uint8_t *area, const struct memx_queue_layout *l, uint32_t *head)
{
	struct memx_io_result res;
	struct memx_io_commit c = { .nr = 1, .results = (uintptr_t)&res };
	struct memx_sq_ring *ring = (struct memx_sq_ring *)(area + l->ring_offset);
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);

	for (; *head != tail; (*head)++) {
		struct memx_io_desc *d;
		uint8_t *buf;
		int clean = 1;

		res.tag = ring->tags[*head & (l->ring_entries - 1)];
		res.result = 0;
		if (res.tag >= l->queue_depth) {
			EXPECT("a tag in range", 0);
			break;
		}
		d = (struct memx_io_desc *)(area + l->desc_offset) + res.tag;
		buf = area + l->buf_offset + res.tag * l->buf_stride;
		if (d->op == MEMX_OP_READ)
			memset(buf, 0x5a, d->nr_bytes);
		usleep(200000);
		for (uint32_t b = 0; b < d->nr_bytes; b++)
			if (buf[b] != (d->op == MEMX_OP_READ ? 0x5a : d->op == MEMX_OP_WRITE &&
				       d->offset == 8192 ? 0x33 : buf[b]))
				clean = 0;
		EXPECT("the new engine's buffer holds only the request's data", clean);
		__atomic_store_n(&ring->head, *head + 1, __ATOMIC_RELEASE);
		CHECK("commit by the new engine", ioctl(q, MEMX_IO_COMMIT, &c) == 1 ? 0 : -1, 0);
	}
}

static void test_depose(void)
{
	struct memx_dev_params p = recovery_params();
	struct memx_dev_info info = { 0 };
	struct memx_queue_layout l;
	struct writer w = { 0 };
	struct reader rd;
	int out[2], report[2], err = 0, a, q, id, ms;
	uint32_t head = 0;
	uint8_t *area;
	pid_t e;

	if (pipe(out) || pipe(report))
		die("pipe");
	fflush(stdout);
	e = fork();
	if (e < 0)
		die("fork");
	if (e == 0)
		stuck_engine(out[1], report[1]);
	if (read(out[0], &id, sizeof(id)) != sizeof(id))
		die("engine did not report");
	reader_start(&rd, id);
	a = ctl_open();
	info.dev_id = id;
	for (ms = 0; ms < 15000; ms += 100) {
		if (!ioctl(a, MEMX_CTRL_GET_INFO, &info) && info.state == MEMX_S_RECOVERING)
			break;
		usleep(100000);
	}
	EXPECT("the stuck engine is deposed: the volume is RECOVERING", info.state == MEMX_S_RECOVERING);
	printf("deposed after %d ms (io_timeout_ms %u)\n", ms, MEMX_MIN_TIMEOUT_MS);
	EXPECT("the deposed engine still lives", kill(e, 0) == 0);
	EXPECT("the read is held, not failed", !atomic_load(&rd.done));
	EXPECT("the deposed engine's fd is refused with ENODEV",
	       read(report[0], &err, sizeof(err)) == sizeof(err) && err == ENODEV);

	strcpy(p.name, DEPOSE_NAME);
	p.attach = MEMX_ADD_ATTACH;
	CHECK("attach while the deposed engine lives", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	EXPECT("attach returns the same volume", p.dev_id == id);
	q = ctl_open();
	CHECK("bind after attach", bind_q(q, id, 0), 0);
	CHECK("layout after attach", ioctl(q, MEMX_IO_GET_LAYOUT, &l), 0);
	area = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	if (area == MAP_FAILED)
		die("mmap after attach");
	memset(&info, 0, sizeof(info));
	info.dev_id = id;
	CHECK("start after attach", ioctl(a, MEMX_CTRL_START_DEV, &info), 0);
	w.id = id;
	if (pthread_create(&w.t, NULL, writer_fn, &w))
		die("writer");
	for (ms = 0; ms < 10000 && !(atomic_load(&rd.done) && atomic_load(&w.done)); ms += 10) {
		serve_ring(q, area, &l, &head);
		usleep(10000);
	}
	EXPECT("the held read completes", reader_wait(&rd, 100));
	EXPECT("with the new engine's data, none of the deposed one's",
	       rd.ret == 4096 && ((uint8_t *)rd.buf)[0] == 0x5a && ((uint8_t *)rd.buf)[4095] == 0x5a);
	EXPECT("the write completes", atomic_load(&w.done) && w.ret == 4096);
	pthread_join(rd.t, NULL);
	pthread_join(w.t, NULL);
	free(rd.buf);
	kill(e, SIGKILL);
	waitpid(e, NULL, 0);
	munmap(area, l.total_bytes);
	memset(&info, 0, sizeof(info));
	info.dev_id = id;
	CHECK("the new owner deletes it", ioctl(a, MEMX_CTRL_DEL_DEV, &info), 0);
	close(q);
	close(a);
}

/* ---- memcg --------------------------------------------------------------- */

static long long memcg_current(void)
{
	char line[512], path[600];
	long long v = -1;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return -1;
	/* cgroup v2: "0::/path" */
	if (!fgets(line, sizeof(line), f) || strncmp(line, "0::", 3)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", line + 3);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void test_memcg(void)
{
	/* 1 queue x 64 x 1 MiB = 64 MiB of buffers, then 256 MiB. */
	struct memx_dev_params p = params(1, 64, 1 << 20);
	long long before, after;
	int a = ctl_open();

	before = memcg_current();
	EXPECT("memory.current readable (run inside a cgroup v2 memory group)", before >= 0);
	CHECK("ADD_DEV 64 MiB of buffers", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	after = memcg_current();
	printf("  memory.current %lld -> %lld (+%lld KiB)\n", before, after, (after - before) >> 10);
	EXPECT("64 MiB of queue buffers charged to the caller's cgroup",
	       after - before >= 60LL << 20);
	close(a);	/* the volume is removed asynchronously */

	a = ctl_open();
	p = params(1, 256, 1 << 20);
	CHECK("ADD_DEV 256 MiB of buffers in a 128 MiB cgroup", ioctl(a, MEMX_CTRL_ADD_DEV, &p), ENOMEM);
	close(a);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(CTL, F_OK)) {
		printf("SKIP: %s missing (memx.ko not loaded)\n", CTL);
		return 77;
	}
	if (!strcmp(mode, "perm"))
		test_perm();
	else if (!strcmp(mode, "unpriv-open") && argc == 3)
		test_unpriv_open(argv[2]);
	else if (!strcmp(mode, "bind-other"))
		test_bind_other();
	else if (!strcmp(mode, "mmap-exec"))
		test_mmap_exec();
	else if (!strcmp(mode, "fork"))
		test_fork();
	else if (!strcmp(mode, "fork-recovery"))
		test_fork_recovery();
	else if (!strcmp(mode, "depose"))
		test_depose();
	else if (!strcmp(mode, "memcg"))
		test_memcg();
	else {
		fprintf(stderr, "usage: kmod_harden perm|unpriv-open PATH|bind-other|mmap-exec|fork|"
			"fork-recovery|depose|memcg\n");
		return 2;
	}
	if (failures) {
		printf("kmod_harden %s: %d of %d checks failed\n", mode, failures, checks);
		return 1;
	}
	printf("kmod_harden %s: all %d checks passed\n", mode, checks);
	return 0;
}
