// SPDX-License-Identifier: GPL-2.0
/*
 * kmod_badioctl: feeds memx.ko's control device every kind of bad input and
 * checks that each gets the documented -errno and that the module still works
 * afterwards (a real request is served through a bound queue, a volume is
 * deleted, an engine death fails a pending read).
 *
 * Needs memx.ko loaded and no other memx volume. Prints one line per failed
 * check; exit 0 if all pass, 1 otherwise, 77 if /dev/memx-control is missing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <memx/uapi.h>

#define CTL "/dev/" MEMX_CONTROL_NAME

static int failures, checks;

/* Check that ret is -1 with errno == want (want 0: ret == 0). */
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
}
#define CHECK(what, expr, want) do { \
	errno = 0; int r_ = (expr); check_(__LINE__, what, r_, errno, want); } while (0)
#define EXPECT(what, cond) do { checks++; if (!(cond)) { failures++; \
	printf("FAIL line %d: %s\n", __LINE__, what); } } while (0)

static int ctl_open(void)
{
	int fd = open(CTL, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("FAIL: open %s: %s\n", CTL, strerror(errno));
		exit(1);
	}
	return fd;
}

static struct memx_dev_params good_params(void)
{
	struct memx_dev_params p = {
		.size_bytes = 16 << 20, .nr_queues = 2, .queue_depth = 4,
		.max_io_bytes = 8192, .dev_id = -1, .flags = MEMX_F_ALL, .nr_poll_queues = 1,
	};
	return p;
}

static int info_cmd(int fd, unsigned long cmd, int id, struct memx_dev_info *out)
{
	struct memx_dev_info i = { .dev_id = id };
	int r = ioctl(fd, cmd, &i);

	if (out)
		*out = i;
	return r;
}

static void bad_add(int fd, const char *what, struct memx_dev_params p, int want)
{
	errno = 0;
	int r = ioctl(fd, MEMX_CTRL_ADD_DEV, &p);

	check_(__LINE__, what, r, errno, want);
	if (r == 0) {
		printf("  (bad ADD_DEV %s created memx%d; fd now owns it)\n", what, p.dev_id);
		exit(1);
	}
}

static void test_params(void)
{
	int fd = ctl_open();
	struct memx_dev_params p;

#define BAD(field, val, want) do { p = good_params(); p.field = (val); \
	bad_add(fd, "ADD_DEV " #field "=" #val, p, want); } while (0)
	BAD(size_bytes, 0, EINVAL);
	BAD(size_bytes, 4097, EINVAL);
	BAD(size_bytes, 512, EINVAL);
	BAD(size_bytes, MEMX_MAX_DEV_BYTES + 4096, EINVAL);
	BAD(flags, 1ULL << 5, EINVAL);
	BAD(flags, 1ULL << 63, EINVAL);
	BAD(nr_queues, 0, EINVAL);
	BAD(nr_queues, MEMX_MAX_QUEUES + 1, EINVAL);
	BAD(nr_queues, 0xffffffffu, EINVAL);
	BAD(queue_depth, 0, EINVAL);
	BAD(queue_depth, MEMX_MAX_DEPTH + 1, EINVAL);
	BAD(max_io_bytes, 0, EINVAL);
	BAD(max_io_bytes, 2048, EINVAL);
	BAD(max_io_bytes, 3 * 4096, EINVAL);
	BAD(max_io_bytes, 4096 + 1, EINVAL);
	BAD(max_io_bytes, MEMX_MAX_IO_BYTES * 2, EINVAL);
	BAD(io_timeout_ms, MEMX_MIN_TIMEOUT_MS - 1, EINVAL);
	BAD(io_timeout_ms, MEMX_MAX_TIMEOUT_MS + 1, EINVAL);
	BAD(dev_id, -2, EINVAL);
	BAD(dev_id, MEMX_MAX_DEVS, EINVAL);
	BAD(nr_poll_queues, 0, EINVAL);
	BAD(nr_poll_queues, 2, EINVAL);
	BAD(nr_poll_queues, 0xffffffffu, EINVAL);
	BAD(reserved[0], 1, EINVAL);
	BAD(reserved[3], 1ULL << 40, EINVAL);
#undef BAD
	p = good_params();
	p.flags &= ~MEMX_F_POLL_QUEUES;
	bad_add(fd, "ADD_DEV nr_poll_queues without MEMX_F_POLL_QUEUES", p, EINVAL);
	/* 16 x 256 x 1 MiB = 4 GiB of buffers: over max_dev_mem_mb. */
	p = good_params();
	p.nr_queues = MEMX_MAX_QUEUES;
	p.queue_depth = MEMX_MAX_DEPTH;
	p.max_io_bytes = MEMX_MAX_IO_BYTES;
	bad_add(fd, "ADD_DEV 4 GiB of buffers", p, E2BIG);
	/* Names and engine restart (recovery): every field checked. */
	p = good_params();
	strcpy(p.name, "bad/name");
	bad_add(fd, "ADD_DEV name with '/'", p, EINVAL);
	p = good_params();
	memset(p.name, 'a', sizeof(p.name));
	bad_add(fd, "ADD_DEV name without its NUL", p, EINVAL);
	p = good_params();
	strcpy(p.name, "ok");
	p.name[5] = 'x';
	bad_add(fd, "ADD_DEV name with bytes after its NUL", p, EINVAL);
	p = good_params();
	p.recovery_timeout_ms = 60000;
	bad_add(fd, "ADD_DEV recovery without a name", p, EINVAL);
	p = good_params();
	strcpy(p.name, "r");
	p.recovery_timeout_ms = MEMX_MIN_TIMEOUT_MS - 1;
	bad_add(fd, "ADD_DEV recovery below the minimum", p, EINVAL);
	p.recovery_timeout_ms = MEMX_MAX_RECOVERY_MS + 1;
	bad_add(fd, "ADD_DEV recovery above an hour", p, EINVAL);
	p = good_params();
	p.attach = 2;
	bad_add(fd, "ADD_DEV attach=2", p, EINVAL);
	p.attach = MEMX_ADD_ATTACH;
	bad_add(fd, "ADD_DEV attach without a name", p, EINVAL);
	strcpy(p.name, "nosuch");
	p.dev_id = 3;
	bad_add(fd, "ADD_DEV attach with a dev_id", p, EINVAL);
	p.dev_id = -1;
	bad_add(fd, "ADD_DEV attach to no volume", p, ENOENT);

	CHECK("ADD_DEV NULL", ioctl(fd, MEMX_CTRL_ADD_DEV, NULL), EFAULT);
	CHECK("ADD_DEV bad pointer", ioctl(fd, MEMX_CTRL_ADD_DEV, (void *)8), EFAULT);
	CHECK("GET_FEATURES bad pointer", ioctl(fd, MEMX_CTRL_GET_FEATURES, (void *)8), EFAULT);

	/* Unknown numbers and known numbers with a wrong size or direction. */
	CHECK("ioctl x/0x7f", ioctl(fd, _IO(MEMX_IOC_MAGIC, 0x7f), 0), ENOTTY);
	CHECK("ioctl x/0x05", ioctl(fd, _IOWR(MEMX_IOC_MAGIC, 0x05, struct memx_dev_info), 0), ENOTTY);
	CHECK("ADD_DEV wrong size", ioctl(fd, _IOWR(MEMX_IOC_MAGIC, 0x01, char[8]), &p), ENOTTY);
	CHECK("ADD_DEV as _IOW", ioctl(fd, _IOW(MEMX_IOC_MAGIC, 0x01, struct memx_dev_params), &p), ENOTTY);
	CHECK("COMMIT wrong size", ioctl(fd, _IOW(MEMX_IOC_MAGIC, 0x12, uint64_t), &p), ENOTTY);
	CHECK("other magic", ioctl(fd, _IOWR('y', 0x01, struct memx_dev_params), &p), ENOTTY);
	CHECK("cmd 0", ioctl(fd, 0, 0), ENOTTY);

	/* Bad ids. */
	CHECK("GET_INFO id -1", info_cmd(fd, MEMX_CTRL_GET_INFO, -1, NULL), EINVAL);
	CHECK("GET_INFO id 64", info_cmd(fd, MEMX_CTRL_GET_INFO, MEMX_MAX_DEVS, NULL), EINVAL);
	CHECK("GET_INFO id INT_MIN", info_cmd(fd, MEMX_CTRL_GET_INFO, -2147483647 - 1, NULL), EINVAL);
	CHECK("GET_INFO nonexistent", info_cmd(fd, MEMX_CTRL_GET_INFO, 63, NULL), ENODEV);
	CHECK("DEL nonexistent", info_cmd(fd, MEMX_CTRL_DEL_DEV, 63, NULL), ENODEV);
	CHECK("START nonexistent", info_cmd(fd, MEMX_CTRL_START_DEV, 63, NULL), ENODEV);
	{
		struct memx_dev_info i = { .dev_id = 63, .reserved = 1 };
		CHECK("GET_INFO reserved", ioctl(fd, MEMX_CTRL_GET_INFO, &i), EINVAL);
		/* Out fields that were reserved in ABI 2: ignored on input, as all out fields. */
		i = (struct memx_dev_info){ .dev_id = 63, .held_requests = 1, .info_flags = ~0U };
		CHECK("GET_INFO out fields in", ioctl(fd, MEMX_CTRL_GET_INFO, &i), ENODEV);
	}
	{
		struct memx_queue_bind b = { .dev_id = 63 };
		CHECK("BIND nonexistent dev", ioctl(fd, MEMX_IO_BIND_QUEUE, &b), ENODEV);
		b.dev_id = -1;
		CHECK("BIND dev -1", ioctl(fd, MEMX_IO_BIND_QUEUE, &b), EINVAL);
		b.dev_id = 0;
		b.reserved = 1;
		CHECK("BIND reserved", ioctl(fd, MEMX_IO_BIND_QUEUE, &b), EINVAL);
	}
	close(fd);
}

struct reader {
	pthread_t t;
	char path[32];
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
		return NULL;
	}
	rd->ret = pread(fd, rd->buf, 4096, 8192);
	rd->err = errno;
	close(fd);
	return NULL;
}

static void reader_start(struct reader *rd, int id)
{
	memset(rd, 0, sizeof(*rd));
	snprintf(rd->path, sizeof(rd->path), "/dev/" MEMX_DISK_NAME "%d", id);
	if (posix_memalign(&rd->buf, 4096, 4096) || pthread_create(&rd->t, NULL, reader_fn, rd)) {
		printf("FAIL: cannot start reader\n");
		exit(1);
	}
}

/* Wait for POLLIN on any of fds[n]; returns index or -1 after ~10 s. */
static int wait_pollin(int *fds, int n)
{
	struct pollfd p[4];
	int i;

	for (i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, n, 10000) <= 0)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i].revents & POLLIN)
			return i;
	return -1;
}

/* 0 if mmap succeeded (then unmapped), -1 with errno otherwise. */
static int try_mmap(size_t len, int flags, int fd, off_t off)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	if (m == MAP_FAILED)
		return -1;
	munmap(m, len);
	return 0;
}

static int wait_devnode(int id)
{
	char path[32];
	int i;

	snprintf(path, sizeof(path), "/dev/" MEMX_DISK_NAME "%d", id);
	for (i = 0; i < 100; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static void test_lifecycle(void)
{
	struct memx_dev_params p = good_params();
	struct memx_queue_layout l;
	struct memx_dev_info info;
	struct memx_io_result res[8];
	struct memx_io_commit c;
	struct memx_features f;
	struct reader rd;
	int a = ctl_open(), b = ctl_open(), qc = ctl_open(), qd = ctl_open();
	int fds[2], id, i, k;
	uint8_t *area[2];

	CHECK("GET_FEATURES", ioctl(b, MEMX_CTRL_GET_FEATURES, &f), 0);
	EXPECT("features values", f.abi_version == MEMX_ABI_VERSION && f.features == MEMX_F_ALL &&
	       f.max_queues == MEMX_MAX_QUEUES && f.max_depth == MEMX_MAX_DEPTH);

	CHECK("ADD_DEV good", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	id = p.dev_id;
	EXPECT("ADD_DEV returns an id", id >= 0 && id < MEMX_MAX_DEVS);
	p = good_params();
	CHECK("ADD_DEV twice on owner fd", ioctl(a, MEMX_CTRL_ADD_DEV, &p), EBUSY);
	p.dev_id = id;
	CHECK("ADD_DEV taken id", ioctl(b, MEMX_CTRL_ADD_DEV, &p), EEXIST);

	CHECK("GET_INFO any fd", info_cmd(b, MEMX_CTRL_GET_INFO, id, &info), 0);
	EXPECT("GET_INFO NEW", info.state == MEMX_S_NEW && info.nr_queues == 2 &&
	       info.queue_depth == 4 && info.size_bytes == 16 << 20 && info.open_count == 0);
	EXPECT("GET_INFO NEW holds nothing", info.info_flags == MEMX_INFO_F_HELD &&
	       info.held_requests == 0 && info.reserved == 0);
	CHECK("START before bind", info_cmd(a, MEMX_CTRL_START_DEV, id, NULL), EAGAIN);
	CHECK("START not owner", info_cmd(b, MEMX_CTRL_START_DEV, id, NULL), EBADFD);
	CHECK("DEL not owner", info_cmd(b, MEMX_CTRL_DEL_DEV, id, NULL), EBADFD);

	/* Unbound fd. */
	CHECK("mmap before bind", try_mmap(1 << 20, MAP_SHARED, qc, 0), EINVAL);
	c = (struct memx_io_commit){ .nr = 1, .results = (uintptr_t)res };
	CHECK("COMMIT unbound", ioctl(qc, MEMX_IO_COMMIT, &c), EBADFD);
	CHECK("GET_LAYOUT unbound", ioctl(qc, MEMX_IO_GET_LAYOUT, &l), EBADFD);
	CHECK("COMMIT on owner", ioctl(a, MEMX_IO_COMMIT, &c), EBADFD);
	{
		struct pollfd pf = { .fd = qc, .events = POLLIN };
		EXPECT("poll unbound -> POLLERR", poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR));
	}

	/* Binding. */
	{
		struct memx_queue_bind bq = { .dev_id = id, .queue_id = 2 };
		CHECK("BIND queue 2 of 2", ioctl(qc, MEMX_IO_BIND_QUEUE, &bq), EINVAL);
		bq.queue_id = 0xffffffffu;
		CHECK("BIND queue ~0", ioctl(qc, MEMX_IO_BIND_QUEUE, &bq), EINVAL);
		bq.queue_id = 0;
		CHECK("BIND on owner fd", ioctl(a, MEMX_IO_BIND_QUEUE, &bq), EBUSY);
		CHECK("BIND q0", ioctl(qc, MEMX_IO_BIND_QUEUE, &bq), 0);
		CHECK("BIND same fd twice", ioctl(qc, MEMX_IO_BIND_QUEUE, &bq), EBUSY);
		bq.queue_id = 1;
		CHECK("BIND same fd other queue", ioctl(qc, MEMX_IO_BIND_QUEUE, &bq), EBUSY);
		bq.queue_id = 0;
		CHECK("BIND q0 already bound", ioctl(qd, MEMX_IO_BIND_QUEUE, &bq), EBUSY);
		p = good_params();
		CHECK("ADD_DEV on bound fd", ioctl(qc, MEMX_CTRL_ADD_DEV, &p), EBUSY);
		CHECK("START half bound", info_cmd(a, MEMX_CTRL_START_DEV, id, NULL), EAGAIN);
		bq.queue_id = 1;
		CHECK("BIND q1", ioctl(qd, MEMX_IO_BIND_QUEUE, &bq), 0);
	}
	CHECK("START from queue fd", info_cmd(qc, MEMX_CTRL_START_DEV, id, NULL), EBADFD);

	CHECK("GET_LAYOUT", ioctl(qc, MEMX_IO_GET_LAYOUT, &l), 0);
	EXPECT("layout sane", l.queue_depth == 4 && l.ring_entries >= 4 &&
	       !(l.ring_entries & (l.ring_entries - 1)) && l.buf_stride == 8192 &&
	       !(l.desc_offset % 4096) && !(l.buf_offset % 4096) &&
	       l.desc_offset >= 128 + 4 * l.ring_entries &&
	       l.buf_offset >= l.desc_offset + 16 * 4 &&
	       l.total_bytes >= l.buf_offset + 4 * 8192 && !(l.total_bytes % 4096));

	CHECK("mmap short", try_mmap(l.total_bytes - 4096, MAP_SHARED, qc, 0), EINVAL);
	CHECK("mmap long", try_mmap(l.total_bytes + 4096, MAP_SHARED, qc, 0), EINVAL);
	CHECK("mmap offset", try_mmap(l.total_bytes, MAP_SHARED, qc, 4096), EINVAL);
	CHECK("mmap private", try_mmap(l.total_bytes, MAP_PRIVATE, qc, 0), EINVAL);
	fds[0] = qc;
	fds[1] = qd;
	for (i = 0; i < 2; i++) {
		area[i] = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		EXPECT("mmap good", area[i] != MAP_FAILED);
		if (area[i] == MAP_FAILED)
			exit(1);
	}

	/* Commit garbage with nothing in flight. */
	memset(res, 0, sizeof(res));
	c = (struct memx_io_commit){ .nr = 0, .results = (uintptr_t)res };
	CHECK("COMMIT nr=0", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	c.nr = 5;
	CHECK("COMMIT nr>depth", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	c.nr = 0xffffffffu;
	CHECK("COMMIT nr=~0", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	c.nr = 1;
	c.reserved0 = 1;
	CHECK("COMMIT reserved0", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	c.reserved0 = 0;
	c.results = 0;
	CHECK("COMMIT NULL results", ioctl(qc, MEMX_IO_COMMIT, &c), EFAULT);
	c.results = 16;
	CHECK("COMMIT bad pointer", ioctl(qc, MEMX_IO_COMMIT, &c), EFAULT);
	c.results = (uintptr_t)res;
	CHECK("COMMIT tag not owned", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	res[0].tag = 4;
	CHECK("COMMIT tag=depth", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	res[0].tag = 0xffffffffu;
	CHECK("COMMIT tag=~0", ioctl(qc, MEMX_IO_COMMIT, &c), EINVAL);
	CHECK("COMMIT arg NULL", ioctl(qc, MEMX_IO_COMMIT, NULL), EFAULT);

	/* Start, then serve one real read by hand. */
	CHECK("START", info_cmd(a, MEMX_CTRL_START_DEV, id, &info), 0);
	EXPECT("START reports LIVE", info.state == MEMX_S_LIVE);
	CHECK("START twice", info_cmd(a, MEMX_CTRL_START_DEV, id, NULL), EBUSY);
	EXPECT("/dev/memxN appears", wait_devnode(id) == 0);

	for (k = 0; k < 2; k++) {
		/* k = 0: good read with a pattern; k = 1: engine says -EIO. */
		reader_start(&rd, id);
		i = wait_pollin(fds, 2);
		EXPECT("POLLIN for a read", i >= 0);
		if (i < 0)
			exit(1);
		{
			struct memx_sq_ring *ring = (void *)(area[i] + l.ring_offset);
			struct memx_io_desc *d = (void *)(area[i] + l.desc_offset);
			uint32_t head = ring->head, tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
			uint32_t tag;

			EXPECT("one ring entry", tail - head == 1);
			tag = ring->tags[head & (l.ring_entries - 1)];
			__atomic_store_n(&ring->head, head + 1, __ATOMIC_RELEASE);
			EXPECT("tag < depth", tag < 4);
			if (tag >= 4)
				exit(1);
			EXPECT("desc READ 4096 @8192", d[tag].op == MEMX_OP_READ &&
			       d[tag].nr_bytes == 4096 && d[tag].offset == 8192);
			memset(area[i] + l.buf_offset + tag * l.buf_stride, 0xa5 + k, 4096);
			/* Bad results first: nothing may be completed by them. */
			res[0] = (struct memx_io_result){ .tag = tag, .result = 1 };
			c = (struct memx_io_commit){ .nr = 1, .results = (uintptr_t)res };
			CHECK("COMMIT result>0", ioctl(fds[i], MEMX_IO_COMMIT, &c), EINVAL);
			res[0].result = -4096;
			CHECK("COMMIT result<-4095", ioctl(fds[i], MEMX_IO_COMMIT, &c), EINVAL);
			res[0].tag = (tag + 1) % 4;
			res[0].result = 0;
			CHECK("COMMIT other idle tag", ioctl(fds[i], MEMX_IO_COMMIT, &c), EINVAL);
			CHECK("COMMIT on the other queue", ioctl(fds[!i], MEMX_IO_COMMIT, &c), EINVAL);
			/* Good one, then the same tag again: 1 taken. */
			res[0] = (struct memx_io_result){ .tag = tag, .result = k ? -EIO : 0 };
			res[1] = res[0];
			c.nr = 2;
			errno = 0;
			EXPECT("COMMIT good+dup returns 1", ioctl(fds[i], MEMX_IO_COMMIT, &c) == 1);
		}
		pthread_join(rd.t, NULL);
		if (k == 0)
			EXPECT("read got the pattern", rd.ret == 4096 &&
			       ((uint8_t *)rd.buf)[0] == 0xa5 && ((uint8_t *)rd.buf)[4095] == 0xa5);
		else
			EXPECT("read got EIO", rd.ret == -1 && rd.err == EIO);
		free(rd.buf);
	}

	/* DEL refused while open, works after. */
	{
		char path[32];
		int dfd;

		snprintf(path, sizeof(path), "/dev/" MEMX_DISK_NAME "%d", id);
		dfd = open(path, O_RDONLY);
		EXPECT("open /dev/memxN", dfd >= 0);
		CHECK("GET_INFO open", info_cmd(b, MEMX_CTRL_GET_INFO, id, &info), 0);
		EXPECT("open_count 1", info.open_count == 1);
		CHECK("DEL while open", info_cmd(a, MEMX_CTRL_DEL_DEV, id, NULL), EBUSY);
		close(dfd);
	}
	CHECK("DEL", info_cmd(a, MEMX_CTRL_DEL_DEV, id, NULL), 0);
	CHECK("GET_INFO after DEL", info_cmd(b, MEMX_CTRL_GET_INFO, id, NULL), ENODEV);
	CHECK("DEL twice", info_cmd(a, MEMX_CTRL_DEL_DEV, id, NULL), ENODEV);
	{
		struct pollfd pf = { .fd = qc, .events = POLLIN };
		EXPECT("poll after DEL -> HUP", poll(&pf, 1, 1000) == 1 && (pf.revents & POLLHUP));
	}
	res[0] = (struct memx_io_result){ .tag = 0 };
	c = (struct memx_io_commit){ .nr = 1, .results = (uintptr_t)res };
	CHECK("COMMIT after DEL", ioctl(qc, MEMX_IO_COMMIT, &c), ENODEV);
	munmap(area[0], l.total_bytes);
	munmap(area[1], l.total_bytes);
	close(qc);
	close(qd);
	close(a);
	close(b);
}

/* DEL before START; engine death with a request in flight. */
static void test_death(void)
{
	struct memx_dev_params p = good_params();
	struct memx_queue_layout l;
	struct memx_queue_bind bq = { 0 };
	struct reader rd;
	int a = ctl_open(), q = ctl_open(), i;
	void *area;

	CHECK("ADD_DEV (del before start)", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	bq.dev_id = p.dev_id;
	CHECK("BIND (del before start)", ioctl(q, MEMX_IO_BIND_QUEUE, &bq), 0);
	CHECK("DEL before START", info_cmd(a, MEMX_CTRL_DEL_DEV, p.dev_id, NULL), 0);
	CHECK("GET_LAYOUT after DEL", ioctl(q, MEMX_IO_GET_LAYOUT, &l), 0);
	close(q);
	close(a);

	a = ctl_open();
	q = ctl_open();
	p = good_params();
	p.nr_queues = 1;
	p.flags &= ~MEMX_F_POLL_QUEUES;	/* one queue: nothing left for polled I/O */
	p.nr_poll_queues = 0;
	CHECK("ADD_DEV (death)", ioctl(a, MEMX_CTRL_ADD_DEV, &p), 0);
	bq.dev_id = p.dev_id;
	CHECK("BIND (death)", ioctl(q, MEMX_IO_BIND_QUEUE, &bq), 0);
	CHECK("GET_LAYOUT (death)", ioctl(q, MEMX_IO_GET_LAYOUT, &l), 0);
	area = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	EXPECT("mmap (death)", area != MAP_FAILED);
	CHECK("START (death)", info_cmd(a, MEMX_CTRL_START_DEV, p.dev_id, NULL), 0);
	EXPECT("/dev/memxN appears (death)", wait_devnode(p.dev_id) == 0);
	reader_start(&rd, p.dev_id);
	EXPECT("POLLIN (death)", wait_pollin(&q, 1) == 0);
	/* The engine "dies" with the read in flight: queue fd goes away. */
	munmap(area, l.total_bytes);
	close(q);
	pthread_join(rd.t, NULL);
	EXPECT("in-flight read fails with EIO on queue death", rd.ret == -1 && rd.err == EIO);
	free(rd.buf);
	reader_start(&rd, p.dev_id);
	pthread_join(rd.t, NULL);
	EXPECT("later read fails with EIO at once", rd.ret == -1 && rd.err == EIO);
	free(rd.buf);
	close(a);	/* owner death: volume removed asynchronously */
	a = ctl_open();
	for (i = 0; i < 100; i++) {
		if (info_cmd(a, MEMX_CTRL_GET_INFO, p.dev_id, NULL) && errno == ENODEV)
			break;
		usleep(50000);
	}
	EXPECT("dead volume removed after owner close", i < 100);
	close(a);
}

int main(void)
{
	if (access(CTL, F_OK)) {
		printf("SKIP: %s missing (memx.ko not loaded)\n", CTL);
		return 77;
	}
	test_params();
	test_lifecycle();
	test_death();
	if (failures) {
		printf("kmod_badioctl: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("kmod_badioctl: all %d checks passed\n", checks);
	return 0;
}
