/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's side of the kernel ABI (<memx/uapi.h>): create, start and
 * remove a volume, bind and map a queue, commit results. Thin wrappers that
 * turn -1/errno into -errno; all policy stays with the caller.
 */
#ifndef MEMXD_KDEV_H
#define MEMXD_KDEV_H

#include <stdint.h>
#include <memx/uapi.h>

#include "client/kbackend.h"

#define MEMXD_CONTROL_PATH "/dev/" MEMX_CONTROL_NAME

/* Opens the control device. Returns an fd or -errno (-ENOENT: memx.ko not loaded). */
int memxd_kdev_open(void);

/* GET_FEATURES: the MEMX_F_* this memx.ko knows. Returns 0 or -errno. */
int memxd_kdev_features(int fd, uint64_t *features);

/* ADD_DEV on the owner fd; fills p->dev_id. Returns 0 or -errno. */
int memxd_kdev_add(int fd, struct memx_dev_params *p);
int memxd_kdev_start(int fd, int dev_id);
int memxd_kdev_del(int fd, int dev_id);
int memxd_kdev_info(int fd, int dev_id, struct memx_dev_info *info);


/* Opens a control fd, binds it to (dev_id, queue_id) and maps the queue. Returns 0 or -errno. */
int memxd_kqueue_open(struct memxd_kqueue *q, int dev_id, unsigned int queue_id);
void memxd_kqueue_close(struct memxd_kqueue *q);

/* Commits nr results in one system call. Returns the number taken or -errno. */
int memxd_kqueue_commit(struct memxd_kqueue *q, const struct memx_io_result *res, unsigned int nr);

#endif /* MEMXD_KDEV_H */
