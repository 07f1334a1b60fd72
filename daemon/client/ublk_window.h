/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The recovery window of a ublk volume. memx.ko ends a dead engine's window
 * itself (--recovery-timeout: held requests fail, the volume goes); ublk
 * holds them for as long as nobody acts. So each engine forks a small keeper
 * before it owns any RDMA or ublk resource. When the engine dies (the pipe
 * between them reads EOF), the keeper waits out the window and, unless a new
 * engine took the device over (END_USER_RECOVERY: live, another pid), stops
 * and deletes it: its requests fail with EIO, nothing waits forever, and no
 * dead device is left behind.
 */
#ifndef MEMXD_UBLK_WINDOW_H
#define MEMXD_UBLK_WINDOW_H

#include <stdint.h>

/* Forks the keeper; returns the pipe's write end (or -errno). */
int memxd_ublk_window_start(const char *volume, unsigned int window_s);
/* From now on the keeper looks after device dev_id; UINT32_MAX: none (a clean exit). */
void memxd_ublk_window_watch(int fd, uint32_t dev_id);

#endif /* MEMXD_UBLK_WINDOW_H */
