// SPDX-License-Identifier: GPL-2.0
/* Kernel ABI wrappers: every call returns 0 (or a count) or -errno. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/kdev.h"

static int ioctl_errno(int fd, unsigned long cmd, void *arg)
{
	int r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

int memxd_kdev_open(void)
{
	int fd = open(MEMXD_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int memxd_kdev_features(int fd, uint64_t *features)
{
	struct memx_features f;
	int r = ioctl_errno(fd, MEMX_CTRL_GET_FEATURES, &f);

	if (!r)
		*features = f.features;
	return r;
}

int memxd_kdev_add(int fd, struct memx_dev_params *p)
{
	return ioctl_errno(fd, MEMX_CTRL_ADD_DEV, p);
}

static int dev_cmd(int fd, unsigned long cmd, int dev_id, struct memx_dev_info *out)
{
	struct memx_dev_info info;
	int r;

	memset(&info, 0, sizeof(info));
	info.dev_id = dev_id;
	r = ioctl_errno(fd, cmd, &info);
	if (!r && out)
		*out = info;
	return r;
}

int memxd_kdev_start(int fd, int dev_id)
{
	return dev_cmd(fd, MEMX_CTRL_START_DEV, dev_id, NULL);
}

int memxd_kdev_del(int fd, int dev_id)
{
	return dev_cmd(fd, MEMX_CTRL_DEL_DEV, dev_id, NULL);
}

int memxd_kdev_info(int fd, int dev_id, struct memx_dev_info *info)
{
	return dev_cmd(fd, MEMX_CTRL_GET_INFO, dev_id, info);
}

int memxd_kqueue_open(struct memxd_kqueue *q, int dev_id, unsigned int queue_id)
{
	struct memx_queue_bind bind = { .dev_id = dev_id, .queue_id = queue_id };
	void *area;
	int r;

	memset(q, 0, sizeof(*q));
	q->fd = memxd_kdev_open();
	if (q->fd < 0)
		return q->fd;
	r = ioctl_errno(q->fd, MEMX_IO_BIND_QUEUE, &bind);
	if (r)
		goto out_close;
	r = ioctl_errno(q->fd, MEMX_IO_GET_LAYOUT, &q->layout);
	if (r)
		goto out_close;
	area = mmap(NULL, q->layout.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
	if (area == MAP_FAILED) {
		r = -errno;
		goto out_close;
	}
	q->area = area;
	q->ring = (struct memx_sq_ring *)((uint8_t *)area + q->layout.ring_offset);
	q->desc = (struct memx_io_desc *)((uint8_t *)area + q->layout.desc_offset);
	q->buf = (uint8_t *)area + q->layout.buf_offset;
	return 0;

out_close:
	close(q->fd);
	q->fd = -1;
	return r;
}

void memxd_kqueue_close(struct memxd_kqueue *q)
{
	if (q->area)
		munmap(q->area, q->layout.total_bytes);
	q->area = NULL;
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

int memxd_kqueue_commit(struct memxd_kqueue *q, const struct memx_io_result *res, unsigned int nr)
{
	struct memx_io_commit c = { .nr = nr, .results = (uintptr_t)res };

	return ioctl_errno(q->fd, MEMX_IO_COMMIT, &c);
}
