/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging for memxd's entry points (main loops, CLI, CM handlers). Library
 * code returns -errno and leaves the logging to its caller. Lines go to
 * stderr with a level and the role ("donor", "client") as prefix.
 */
#ifndef MEMXD_LOG_H
#define MEMXD_LOG_H

enum memxd_log_level { MEMXD_LOG_ERR, MEMXD_LOG_WARN, MEMXD_LOG_INFO, MEMXD_LOG_DEBUG };

/* Debug areas, for memxd_log_debug_mask (MEMXD_DEBUG=mask in the environment). */
#define MEMXD_DBG_QUEUE	(1U << 0)
#define MEMXD_DBG_IO	(1U << 1)
#define MEMXD_DBG_CM	(1U << 2)
#define MEMXD_DBG_CQ	(1U << 3)
#define MEMXD_DBG_PROTO	(1U << 4)
#define MEMXD_DBG_CTRL	(1U << 5)

extern unsigned int memxd_log_debug_mask;
extern const char *memxd_log_role;

void memxd_log(enum memxd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Logs "fmt: strerror(-err)" at error level and returns err (a -errno). */
int memxd_log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define memxd_err(...)	memxd_log(MEMXD_LOG_ERR, __VA_ARGS__)
#define memxd_warn(...)	memxd_log(MEMXD_LOG_WARN, __VA_ARGS__)
#define memxd_info(...)	memxd_log(MEMXD_LOG_INFO, __VA_ARGS__)
#define memxd_dbg(area, ...)                                     \
	do {                                                    \
		if (memxd_log_debug_mask & (area))               \
			memxd_log(MEMXD_LOG_DEBUG, __VA_ARGS__);  \
	} while (0)

#endif /* MEMXD_LOG_H */
