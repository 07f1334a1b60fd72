// SPDX-License-Identifier: GPL-2.0
/*
 * One line per call, written with a single write(2) so that lines from
 * several threads never interleave; formatted on the stack, no allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

unsigned int memxd_log_debug_mask;
const char *memxd_log_role = "memxd";

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void log_line(enum memxd_log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	int n, m;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "[%5ld.%03ld] %s %s: ", (long)ts.tv_sec,
		     ts.tv_nsec / 1000000, memxd_log_role, level_names[level]);
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m > 0)
		n = (size_t)(n + m) >= sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m;
	if (suffix) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", suffix);
		if (m > 0)
			n = (size_t)(n + m) >= sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void memxd_log(enum memxd_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, NULL, fmt, ap);
	va_end(ap);
}

int memxd_log_errno(int err, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	log_line(MEMXD_LOG_ERR, strerror_r(-err, buf, sizeof(buf)), fmt, ap);
	va_end(ap);
	return err;
}
