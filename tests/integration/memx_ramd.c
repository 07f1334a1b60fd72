// SPDX-License-Identifier: GPL-2.0
/*
 * memx_ramd: a tiny test engine serving a memx volume from its own RAM
 * through the real kernel ABI (include/memx/uapi.h), no RDMA.
 *
 *   memx_ramd --size SIZE [--queues N] [--poll-queues N] [--depth N]
 *             [--max-io BYTES] [--flags F] [--timeout-ms MS]
 *             [--name NAME] [--recovery-ms MS] [--store FILE] [--attach]
 *             [--slow-ms MS]
 *
 * Engine restart (uapi.h): --name and --recovery-ms ask memx.ko to keep the
 * volume through this engine's death; --store keeps the data in FILE
 * (MAP_SHARED) so that it survives too; --attach takes over the orphaned
 * volume NAME instead of adding one. --slow-ms waits that long before each
 * commit, so that a kill finds requests in the engine's hands.
 *
 * --poll-queues adds that many queues for polled I/O (MEMX_F_POLL_QUEUES),
 * served like the others.
 *
 * ADD_DEV on one control fd, one thread per queue (own fd: BIND_QUEUE,
 * GET_LAYOUT, mmap, poll loop: consume the ring, do the op on a calloc'd
 * backing store, one MEMX_IO_COMMIT per loop), START_DEV, then prints
 * "ready /dev/memxN". SIGINT/SIGTERM: DEL_DEV; on EBUSY it says why and keeps
 * serving. Exit 0 on a clean stop, 1 on error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <memx/uapi.h>

struct ramd_queue {
	pthread_t thread;
	unsigned int id;
	int fd;
	int bound;	/* 1 bound+mapped, -1 failed */
};

static uint8_t *store;
static uint64_t store_size;
static int dev_id = -1;
static unsigned int slow_ms;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int do_op(const struct memx_io_desc *d, uint8_t *buf, uint32_t max_io)
{
	uint64_t off = d->offset, len = d->nr_bytes;

	if (d->op != MEMX_OP_FLUSH && (off > store_size || len > store_size - off))
		return -EIO;
	switch (d->op) {
	case MEMX_OP_READ:
		if (len > max_io)
			return -EIO;
		memcpy(buf, store + off, len);
		return 0;
	case MEMX_OP_WRITE:
		if (len > max_io)
			return -EIO;
		memcpy(store + off, buf, len);
		return 0;
	case MEMX_OP_DISCARD:
	case MEMX_OP_WRITE_ZEROES:
		memset(store + off, 0, len);
		return 0;
	case MEMX_OP_FLUSH:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static void set_bound(struct ramd_queue *q, int v)
{
	pthread_mutex_lock(&lock);
	q->bound = v;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void *queue_thread(void *arg)
{
	struct ramd_queue *q = arg;
	struct memx_queue_bind b = { .dev_id = dev_id, .queue_id = q->id };
	struct memx_queue_layout l;
	struct memx_io_result *res;
	struct memx_sq_ring *ring;
	struct memx_io_desc *desc;
	uint8_t *area;
	uint32_t head = 0;

	q->fd = open("/dev/" MEMX_CONTROL_NAME, O_RDWR | O_CLOEXEC);
	if (q->fd < 0) {
		perror("memx_ramd: open control");
		set_bound(q, -1);
		return NULL;
	}
	if (ioctl(q->fd, MEMX_IO_BIND_QUEUE, &b) || ioctl(q->fd, MEMX_IO_GET_LAYOUT, &l)) {
		fprintf(stderr, "memx_ramd: queue %u: bind/layout: %s\n", q->id, strerror(errno));
		set_bound(q, -1);
		return NULL;
	}
	area = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
	res = calloc(l.queue_depth, sizeof(*res));
	if (area == MAP_FAILED || !res) {
		fprintf(stderr, "memx_ramd: queue %u: mmap: %s\n", q->id, strerror(errno));
		set_bound(q, -1);
		return NULL;
	}
	ring = (struct memx_sq_ring *)(area + l.ring_offset);
	desc = (struct memx_io_desc *)(area + l.desc_offset);
	set_bound(q, 1);

	for (;;) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		struct memx_io_commit c = { 0 };
		uint32_t tail, nr = 0;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("memx_ramd: poll");
			break;
		}
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			break;	/* volume deleted or dead */
		tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		while (head != tail) {
			uint32_t tag = ring->tags[head & (l.ring_entries - 1)];

			head++;
			if (tag >= l.queue_depth || nr >= l.queue_depth) {
				fprintf(stderr, "memx_ramd: queue %u: bad tag %u\n", q->id, tag);
				continue;
			}
			res[nr].tag = tag;
			res[nr].result = do_op(&desc[tag], area + l.buf_offset +
					       (uint64_t)tag * l.buf_stride, (uint32_t)l.buf_stride);
			nr++;
		}
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
		if (!nr)
			continue;
		if (slow_ms)
			usleep(slow_ms * 1000);
		c.nr = nr;
		c.results = (uintptr_t)res;
		int r = ioctl(q->fd, MEMX_IO_COMMIT, &c);
		if (r != (int)nr) {
			fprintf(stderr, "memx_ramd: queue %u: commit %u returned %d (%s)\n",
				q->id, nr, r, r < 0 ? strerror(errno) : "short");
			if (r < 0 && errno == ENODEV)
				break;
		}
	}
	munmap(area, l.total_bytes);
	free(res);
	close(q->fd);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: memx_ramd --size SIZE [--queues N] [--poll-queues N] [--depth N]\n"
			"                 [--max-io BYTES] [--flags F] [--timeout-ms MS]\n"
			"                 [--name NAME] [--recovery-ms MS] [--store FILE] [--attach]\n"
			"                 [--slow-ms MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "max-io", required_argument, NULL, 'm' },
		{ "poll-queues", required_argument, NULL, 'P' },
		{ "flags", required_argument, NULL, 'f' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "recovery-ms", required_argument, NULL, 'r' },
		{ "store", required_argument, NULL, 'S' },
		{ "attach", no_argument, NULL, 'a' },
		{ "slow-ms", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct memx_dev_params p = { .nr_queues = 1, .queue_depth = 64,
				     .max_io_bytes = 128 << 10, .dev_id = -1,
				     .flags = MEMX_F_DISCARD | MEMX_F_WRITE_ZEROES };
	struct memx_dev_info info;
	struct ramd_queue *qs;
	sigset_t sigs;
	uint64_t v;
	unsigned int i;
	const char *store_path = NULL;
	int c, fd, sig, ok = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a') {
			p.attach = MEMX_ADD_ATTACH;
			continue;
		}
		if (c == 'n') {
			if (strlen(optarg) >= sizeof(p.name))
				usage();
			strcpy(p.name, optarg);
			continue;
		}
		if (c == 'S') {
			store_path = optarg;
			continue;
		}
		if (!optarg || parse_size(optarg, &v))
			usage();
		switch (c) {
		case 's': p.size_bytes = v; break;
		case 'q': p.nr_queues = (uint32_t)v; break;
		case 'd': p.queue_depth = (uint32_t)v; break;
		case 'm': p.max_io_bytes = (uint32_t)v; break;
		case 'P': p.nr_poll_queues = (uint32_t)v; break;
		case 'f': p.flags = v; break;
		case 't': p.io_timeout_ms = (uint32_t)v; break;
		case 'r': p.recovery_timeout_ms = (uint32_t)v; break;
		case 'w': slow_ms = (unsigned int)v; break;
		default: usage();
		}
	}
	if (p.nr_poll_queues) {
		p.flags |= MEMX_F_POLL_QUEUES;
		p.nr_queues += p.nr_poll_queues;
	}
	if (!p.size_bytes || optind != argc)
		usage();
	store_size = p.size_bytes;
	if (store_path) {
		int sfd = open(store_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (sfd < 0 || ftruncate(sfd, (off_t)store_size)) {
			perror("memx_ramd: store");
			return 1;
		}
		store = mmap(NULL, store_size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
		close(sfd);
		if (store == MAP_FAILED)
			store = NULL;
	} else {
		store = calloc(1, store_size);
	}
	if (!store) {
		fprintf(stderr, "memx_ramd: cannot allocate %llu bytes\n",
			(unsigned long long)store_size);
		return 1;
	}

	/* Only the main thread takes SIGINT/SIGTERM, with sigwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	fd = open("/dev/" MEMX_CONTROL_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("memx_ramd: open /dev/" MEMX_CONTROL_NAME);
		return 1;
	}
	if (ioctl(fd, MEMX_CTRL_ADD_DEV, &p)) {
		perror(p.attach ? "memx_ramd: ADD_DEV (attach)" : "memx_ramd: ADD_DEV");
		return 1;
	}
	dev_id = p.dev_id;
	qs = calloc(p.nr_queues, sizeof(*qs));
	if (!qs)
		return 1;
	for (i = 0; i < p.nr_queues; i++) {
		qs[i].id = i;
		if (pthread_create(&qs[i].thread, NULL, queue_thread, &qs[i])) {
			fprintf(stderr, "memx_ramd: pthread_create failed\n");
			return 1;
		}
	}
	pthread_mutex_lock(&lock);
	for (i = 0; i < p.nr_queues; i++) {
		while (!qs[i].bound)
			pthread_cond_wait(&cond, &lock);
		if (qs[i].bound < 0)
			ok = 0;
	}
	pthread_mutex_unlock(&lock);
	if (!ok)
		return 1;	/* closing the owner fd at exit removes the volume */

	memset(&info, 0, sizeof(info));
	info.dev_id = dev_id;
	if (ioctl(fd, MEMX_CTRL_START_DEV, &info)) {
		perror("memx_ramd: START_DEV");
		return 1;
	}
	printf("ready /dev/" MEMX_DISK_NAME "%d\n", dev_id);
	fflush(stdout);

	for (;;) {
		if (sigwait(&sigs, &sig))
			continue;
		memset(&info, 0, sizeof(info));
		info.dev_id = dev_id;
		if (!ioctl(fd, MEMX_CTRL_DEL_DEV, &info))
			break;
		if (errno == EBUSY) {
			memset(&info, 0, sizeof(info));
			info.dev_id = dev_id;
			ioctl(fd, MEMX_CTRL_GET_INFO, &info);
			fprintf(stderr, "memx_ramd: /dev/memx%d is busy (%u openers: mounted, swap or open), still serving\n",
				dev_id, info.open_count);
			continue;
		}
		perror("memx_ramd: DEL_DEV");
		return 1;
	}
	for (i = 0; i < p.nr_queues; i++)
		pthread_join(qs[i].thread, NULL);
	close(fd);
	free(qs);
	if (store_path)
		munmap(store, store_size);
	else
		free(store);
	fprintf(stderr, "memx_ramd: /dev/memx%d deleted\n", dev_id);
	return 0;
}
