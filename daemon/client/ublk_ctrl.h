/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's side of ublk's control device (/dev/ublk-control): add, set
 * parameters, start, stop, delete, ask about a device, user recovery. Each
 * is one io_uring URING_CMD (ioctl-encoded UBLK_U_CMD_*) on a small ring of
 * the control thread; each call waits for its answer. Thin wrappers that
 * return 0 or -errno; all policy stays with the caller (ublk.c).
 */
#ifndef MEMXD_UBLK_CTRL_H
#define MEMXD_UBLK_CTRL_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include <ublk/ublk_cmd.h>

struct memxd_ublk_ctrl {
	int fd;				/* /dev/ublk-control */
	struct io_uring ring;		/* SQE128: URING_CMD carries its command inline */
	bool ring_ok;
};

/* Opens /dev/ublk-control. Returns 0 or -errno (-ENOENT: no ublk_drv loaded). */
int memxd_ublk_ctrl_open(struct memxd_ublk_ctrl *u);
void memxd_ublk_ctrl_close(struct memxd_ublk_ctrl *u);

/* ADD_DEV: info->dev_id UINT32_MAX picks a free id; the kernel's answer replaces *info. */
int memxd_ublk_add(struct memxd_ublk_ctrl *u, struct ublksrv_ctrl_dev_info *info);
int memxd_ublk_set_params(struct memxd_ublk_ctrl *u, uint32_t dev_id, struct ublk_params *p);
int memxd_ublk_get_info(struct memxd_ublk_ctrl *u, uint32_t dev_id,
			struct ublksrv_ctrl_dev_info *info);
/* START_DEV: waits until every queue fetched all its tags, then adds /dev/ublkbN. */
int memxd_ublk_start(struct memxd_ublk_ctrl *u, uint32_t dev_id, int32_t pid);
/* STOP_DEV: removes /dev/ublkbN; the fetches still held come back aborted. */
int memxd_ublk_stop(struct memxd_ublk_ctrl *u, uint32_t dev_id);
/* DEL_DEV: removes /dev/ublkcN; waits until nothing holds it open. */
int memxd_ublk_del(struct memxd_ublk_ctrl *u, uint32_t dev_id);
/* User recovery: a new engine takes over the queues of a device whose engine died. */
int memxd_ublk_start_recovery(struct memxd_ublk_ctrl *u, uint32_t dev_id);
int memxd_ublk_end_recovery(struct memxd_ublk_ctrl *u, uint32_t dev_id, int32_t pid);

/* Fills a 128-byte SQE with a URING_CMD of ublk (control or I/O): cmd is copied inline. */
void memxd_ublk_prep_cmd(struct io_uring_sqe *sqe, int fd, uint32_t cmd_op, const void *cmd,
			 size_t len, uint64_t user_data);

#endif /* MEMXD_UBLK_CTRL_H */
