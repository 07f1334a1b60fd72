/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging for memxd's entry points (main loops, CLI, CM handlers). Library
 * code returns -errno and leaves the logging to its caller. Lines go to
 * stderr with a level and the role ("donor", "client") as prefix, and a
 * syslog priority when stderr is the journal (memxd_log_init()); once
 * memxd_log_start() ran, through a logger thread, so that no caller ever
 * waits on stderr (log.c).
 */
#ifndef MEMXD_LOG_H
#define MEMXD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * Decides, once and before any thread starts, how lines begin: with a syslog
 * priority ("<3>", "<4>", ...) when stderr is the journal, else with the time.
 */
void memxd_log_init(void);
/* Whether fd is the stream that journal_stream ($JOURNAL_STREAM, "DEV:INO") names. */
bool memxd_log_is_journal(int fd, const char *journal_stream);

/*
 * From now on lines go through a ring of `bytes` and a logger thread; a line
 * that finds the ring full is dropped and counted. Returns 0 or -errno (then
 * lines keep going straight to stderr). Call before starting other threads.
 */
int memxd_log_start(size_t bytes);
/*
 * Writes out what the ring holds and stops the logger (after other threads
 * stopped); gives up after 2 s if stderr is not being read.
 */
void memxd_log_stop(void);
/* Lines dropped because the ring was full. */
uint64_t memxd_log_dropped(void);
#define MEMXD_LOG_RING_BYTES	(256 * 1024)

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
