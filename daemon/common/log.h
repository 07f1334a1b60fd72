/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging for memxd's entry points (main loops, CLI, CM handlers). Library
 * code returns -errno and leaves the logging to its caller. Lines go to
 * stderr with a level and the role ("donor", "client") as prefix.
 */
#ifndef MEMXD_LOG_H
#define MEMXD_LOG_H

enum memx_log_level { MEMX_LOG_ERR, MEMX_LOG_WARN, MEMX_LOG_INFO, MEMX_LOG_DEBUG };

/* Debug areas, for memx_log_debug_mask (MEMXD_DEBUG=mask in the environment). */
#define MEMX_DBG_QUEUE	(1U << 0)
#define MEMX_DBG_IO	(1U << 1)
#define MEMX_DBG_CM	(1U << 2)
#define MEMX_DBG_CQ	(1U << 3)
#define MEMX_DBG_PROTO	(1U << 4)
#define MEMX_DBG_CTRL	(1U << 5)

extern unsigned int memx_log_debug_mask;
extern const char *memx_log_role;

void memx_log(enum memx_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Logs "fmt: strerror(-err)" at error level and returns err (a -errno). */
int memx_log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define memx_err(...)	memx_log(MEMX_LOG_ERR, __VA_ARGS__)
#define memx_warn(...)	memx_log(MEMX_LOG_WARN, __VA_ARGS__)
#define memx_info(...)	memx_log(MEMX_LOG_INFO, __VA_ARGS__)
#define memx_dbg(area, ...)                                     \
	do {                                                    \
		if (memx_log_debug_mask & (area))               \
			memx_log(MEMX_LOG_DEBUG, __VA_ARGS__);  \
	} while (0)

#endif /* MEMXD_LOG_H */
