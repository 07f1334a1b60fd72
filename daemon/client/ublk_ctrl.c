// SPDX-License-Identifier: GPL-2.0
/* ublk control commands over io_uring: every call returns 0 or -errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "client/kbackend.h"
#include "client/ublk_ctrl.h"

void memxd_ublk_prep_cmd(struct io_uring_sqe *sqe, int fd, uint32_t cmd_op, const void *cmd,
			 size_t len, uint64_t user_data)
{
	/* Both halves: a reused slot may hold an earlier command's bytes. */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, cmd, len);
	io_uring_sqe_set_data64(sqe, user_data);
}

int memxd_ublk_ctrl_open(struct memxd_ublk_ctrl *u)
{
	int r;

	u->ring_ok = false;
	u->fd = open(MEMXD_UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (u->fd < 0)
		return -errno;
	r = io_uring_queue_init(4, &u->ring, IORING_SETUP_SQE128);
	if (r) {
		close(u->fd);
		u->fd = -1;
		return r;
	}
	u->ring_ok = true;
	return 0;
}

void memxd_ublk_ctrl_close(struct memxd_ublk_ctrl *u)
{
	if (u->ring_ok)
		io_uring_queue_exit(&u->ring);
	u->ring_ok = false;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/* One command, waited for. Returns the CQE's result (0 or -errno). */
static int ctrl_cmd(struct memxd_ublk_ctrl *u, uint32_t cmd_op, uint32_t dev_id, void *buf,
		    uint16_t len, uint64_t data)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = dev_id,
		.queue_id = (uint16_t)-1,
		.len = len,
		.addr = (uintptr_t)buf,
		.data = { data },
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	struct io_uring_cqe *cqe;
	int r;

	if (!sqe)
		return -EBUSY;
	memxd_ublk_prep_cmd(sqe, u->fd, cmd_op, &cmd, sizeof(cmd), 0);
	r = io_uring_submit(&u->ring);
	if (r < 0)
		return r;
	do
		r = io_uring_wait_cqe(&u->ring, &cqe);
	while (r == -EINTR);
	if (r)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	return r < 0 ? r : 0;
}

int memxd_ublk_add(struct memxd_ublk_ctrl *u, struct ublksrv_ctrl_dev_info *info)
{
	return ctrl_cmd(u, UBLK_U_CMD_ADD_DEV, info->dev_id, info, sizeof(*info), 0);
}

int memxd_ublk_set_params(struct memxd_ublk_ctrl *u, uint32_t dev_id, struct ublk_params *p)
{
	p->len = sizeof(*p);
	return ctrl_cmd(u, UBLK_U_CMD_SET_PARAMS, dev_id, p, sizeof(*p), 0);
}

int memxd_ublk_get_info(struct memxd_ublk_ctrl *u, uint32_t dev_id,
			struct ublksrv_ctrl_dev_info *info)
{
	return ctrl_cmd(u, UBLK_U_CMD_GET_DEV_INFO, dev_id, info, sizeof(*info), 0);
}

int memxd_ublk_start(struct memxd_ublk_ctrl *u, uint32_t dev_id, int32_t pid)
{
	return ctrl_cmd(u, UBLK_U_CMD_START_DEV, dev_id, NULL, 0, (uint64_t)pid);
}

int memxd_ublk_stop(struct memxd_ublk_ctrl *u, uint32_t dev_id)
{
	return ctrl_cmd(u, UBLK_U_CMD_STOP_DEV, dev_id, NULL, 0, 0);
}

int memxd_ublk_del(struct memxd_ublk_ctrl *u, uint32_t dev_id)
{
	return ctrl_cmd(u, UBLK_U_CMD_DEL_DEV, dev_id, NULL, 0, 0);
}

int memxd_ublk_start_recovery(struct memxd_ublk_ctrl *u, uint32_t dev_id)
{
	return ctrl_cmd(u, UBLK_U_CMD_START_USER_RECOVERY, dev_id, NULL, 0, 0);
}

int memxd_ublk_end_recovery(struct memxd_ublk_ctrl *u, uint32_t dev_id, int32_t pid)
{
	return ctrl_cmd(u, UBLK_U_CMD_END_USER_RECOVERY, dev_id, NULL, 0, (uint64_t)pid);
}
