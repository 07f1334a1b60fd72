// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: log lines that never block the caller.
 *
 * Each line is formatted on the caller's stack (no allocation) and written
 * whole, so lines from several threads never interleave. Before
 * memxd_log_start() (option errors, start-up) lines go straight to stderr.
 * After it, they go into a fixed ring and a logger thread writes them out:
 * the engine's queue threads must never wait on stderr, because whoever reads
 * it (a terminal, journald, a pipe) may itself be waiting for a page that
 * this engine serves. When the ring is full a line is dropped and counted,
 * and the logger says how many were dropped once it catches up. The ring's
 * mutex is held only to copy a line in or a batch out, never across a write.
 *
 * When stderr is the journal (systemd's $JOURNAL_STREAM names its device and
 * inode), each line starts with its syslog priority, "<3>" for an error as in
 * sd-daemon.h, so that `journalctl -p warning` can select by level; the
 * journal stamps lines itself, so ours leave out the time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define LOG_LINE_MAX	1024
#define LOG_STOP_WAIT_S	2	/* what stopping waits for the logger to drain */

unsigned int memxd_log_debug_mask;
const char *memxd_log_role = "memxd";

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static bool log_journal;	/* stderr is the journal: set before any thread starts */

static struct {
	pthread_mutex_t lock;	/* buf, head, tail, stopping */
	pthread_cond_t more;	/* a line came in, or stop */
	pthread_t thread;
	bool running;		/* set and cleared by start and stop only */
	bool stopping;
	char *buf;		/* cap bytes of whole lines */
	size_t cap, head, tail;	/* bytes; head - tail is what waits */
	_Atomic uint64_t dropped;	/* lines that found the ring full */
} ring = { .lock = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER };

/* How every line starts: its priority for the journal, else the time; then role and level. */
static int line_prefix(char *buf, size_t len, enum memxd_log_level level)
{
	struct timespec ts;

	if (log_journal)
		return snprintf(buf, len, "<%d>%s %s: ", level_prio[level], memxd_log_role,
				level_names[level]);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return snprintf(buf, len, "[%5ld.%03ld] %s %s: ", (long)ts.tv_sec, ts.tv_nsec / 1000000,
			memxd_log_role, level_names[level]);
}

/* A decimal number that starts at *p (no sign, no space); moves *p past it. */
static bool parse_decimal(const char **p, unsigned long long *v)
{
	char *end;

	if (**p < '0' || **p > '9')
		return false;
	*v = strtoull(*p, &end, 10);
	*p = end;
	return true;
}

bool memxd_log_is_journal(int fd, const char *journal_stream)
{
	unsigned long long dev, ino;
	const char *p = journal_stream;
	struct stat st;

	if (!p || !parse_decimal(&p, &dev) || *p++ != ':' || !parse_decimal(&p, &ino) || *p)
		return false;
	if (fstat(fd, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void memxd_log_init(void)
{
	log_journal = memxd_log_is_journal(STDERR_FILENO, getenv("JOURNAL_STREAM"));
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Copies a line into the ring, or counts it dropped. Never waits for the writer. */
static void ring_put(const char *line, size_t n)
{
	pthread_mutex_lock(&ring.lock);
	if (ring.cap - (ring.head - ring.tail) < n) {
		pthread_mutex_unlock(&ring.lock);
		atomic_fetch_add_explicit(&ring.dropped, 1, memory_order_relaxed);
		return;
	}
	for (size_t i = 0; i < n; i++)
		ring.buf[(ring.head + i) % ring.cap] = line[i];
	ring.head += n;
	pthread_cond_signal(&ring.more);
	pthread_mutex_unlock(&ring.lock);
}

static void *logger(void *arg)
{
	char out[4096];
	uint64_t reported = 0;

	pthread_setname_np(pthread_self(), "memxd-log");
	for (;;) {
		size_t n = 0;
		bool stop;

		pthread_mutex_lock(&ring.lock);
		while (ring.head == ring.tail && !ring.stopping)
			pthread_cond_wait(&ring.more, &ring.lock);
		while (n < sizeof(out) && ring.tail != ring.head)
			out[n++] = ring.buf[ring.tail++ % ring.cap];
		stop = ring.stopping && ring.head == ring.tail;
		pthread_mutex_unlock(&ring.lock);
		write_all(out, n);
		/* The count goes between lines, never inside one (a batch may end mid-line). */
		if ((!n || out[n - 1] == '\n') &&
		    atomic_load_explicit(&ring.dropped, memory_order_relaxed) != reported) {
			uint64_t d = atomic_load(&ring.dropped);
			int len = line_prefix(out, sizeof(out), MEMXD_LOG_WARN);

			len += snprintf(out + len, sizeof(out) - len, "%llu log line(s) dropped: stderr "
					"was not read fast enough\n", (unsigned long long)(d - reported));
			write_all(out, (size_t)len);
			reported = d;
		}
		if (stop)
			return NULL;
	}
}

int memxd_log_start(size_t bytes)
{
	int r;

	if (ring.running)
		return 0;
	ring.buf = malloc(bytes);
	if (!ring.buf)
		return -ENOMEM;
	ring.cap = bytes;
	ring.head = ring.tail = 0;
	ring.stopping = false;
	r = pthread_create(&ring.thread, NULL, logger, NULL);
	if (r) {
		free(ring.buf);
		ring.buf = NULL;
		return -r;
	}
	ring.running = true;
	return 0;
}

void memxd_log_stop(void)
{
	struct timespec deadline;

	if (!ring.running)
		return;
	pthread_mutex_lock(&ring.lock);
	ring.stopping = true;
	pthread_cond_signal(&ring.more);
	pthread_mutex_unlock(&ring.lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += LOG_STOP_WAIT_S;
	if (pthread_timedjoin_np(ring.thread, NULL, &deadline)) {
		/* Nobody reads stderr: exit anyway, with what is left unwritten. */
		return;
	}
	ring.running = false;
	free(ring.buf);
	ring.buf = NULL;
}

uint64_t memxd_log_dropped(void)
{
	return atomic_load(&ring.dropped);
}

static void log_line(enum memxd_log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n, m;

	n = line_prefix(line, sizeof(line), level);
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
	/* running changes only in start and stop, which no other thread races with. */
	if (ring.running)
		ring_put(line, (size_t)n);
	else
		write_all(line, (size_t)n);
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
