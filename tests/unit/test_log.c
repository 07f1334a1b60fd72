// SPDX-License-Identifier: GPL-2.0
/*
 * The log never blocks its caller: with stderr a pipe that nobody reads, an
 * engine thread that logs must go on (lines are dropped and counted), and
 * once the pipe is read every line that was kept comes out whole, followed by
 * the count of those dropped. Before memxd_log_start() lines go straight out.
 * When stderr is the journal ($JOURNAL_STREAM names its device and inode),
 * every line starts with its syslog priority, and with nothing else otherwise.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

struct capture {
	int saved_stderr;
	int rfd;
	pthread_t reader;
	char *buf;
	size_t len, cap;
};

static void *read_all(void *arg)
{
	struct capture *cap = arg;

	for (;;) {
		ssize_t n;

		if (cap->len + 4096 > cap->cap) {
			cap->cap = cap->cap * 2 + 65536;
			cap->buf = realloc(cap->buf, cap->cap);
		}
		n = read(cap->rfd, cap->buf + cap->len, 4096);
		if (n <= 0)
			return NULL;
		cap->len += (size_t)n;
	}
}

/* stderr becomes the write end of a pipe; nothing reads it until capture_read(). */
static void capture_begin(struct capture *cap)
{
	int p[2];

	memset(cap, 0, sizeof(*cap));
	cr_assert_eq(pipe(p), 0);
	cap->saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(dup2(p[1], STDERR_FILENO), 0);
	close(p[1]);
	cap->rfd = p[0];
}

static void capture_read(struct capture *cap)
{
	cr_assert_eq(pthread_create(&cap->reader, NULL, read_all, cap), 0);
}

/* Restores stderr (the pipe's last write end closes) and waits for the reader. */
static void capture_end(struct capture *cap)
{
	dup2(cap->saved_stderr, STDERR_FILENO);
	close(cap->saved_stderr);
	pthread_join(cap->reader, NULL);
	close(cap->rfd);
	cap->buf = realloc(cap->buf, cap->len + 1);
	cap->buf[cap->len] = '\0';
}

/* A blocking log would hang the second test: the timeout fails it. */
TestSuite(log, .timeout = 20);

Test(log, straight_to_stderr_before_start)
{
	struct capture cap;

	capture_begin(&cap);
	capture_read(&cap);
	memxd_info("hello %d", 42);
	capture_end(&cap);
	cr_expect(strstr(cap.buf, "memxd info: hello 42\n"), "got '%s'", cap.buf);
	free(cap.buf);
}

/*
 * 20000 lines of 200 bytes (4 MB) into a 64 KiB pipe that is not read: a
 * blocking log would hang here (the test's timeout fails it).
 */
Test(log, a_stalled_reader_never_blocks_the_caller)
{
	struct capture cap;
	char pad[160];
	unsigned int kept = 0, notices = 0;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	capture_begin(&cap);
	cr_assert_eq(memxd_log_start(16 * 1024), 0);
	for (int i = 0; i < 20000; i++)
		memxd_warn("line %05d %s", i, pad);
	cr_expect_gt(memxd_log_dropped(), 0, "lines were dropped, not waited for");
	capture_read(&cap);
	memxd_log_stop();
	capture_end(&cap);
	/* Every line that came out is whole and in order. */
	for (char *line = cap.buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		if (strstr(line, "log line(s) dropped")) {
			notices++;
			continue;
		}
		cr_assert(strstr(line, "memxd warning: line ") && strstr(line, pad),
			  "torn line '%.60s'", line);
		kept++;
	}
	cr_expect_gt(kept, 0);
	cr_expect_eq(kept + memxd_log_dropped(), 20000, "kept %u, dropped %llu", kept,
		     (unsigned long long)memxd_log_dropped());
	cr_expect_gt(notices, 0, "the drops are reported");
	free(cap.buf);
}

/* "DEV:INO" of fd, as systemd writes $JOURNAL_STREAM; ino_delta makes it another stream's. */
static void stream_id(int fd, int ino_delta, char *buf, size_t len)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	snprintf(buf, len, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + ino_delta);
}

Test(log, journal_stream_must_name_this_very_fd)
{
	char id[64], other[64], bad[80];
	int p[2];

	cr_assert_eq(pipe(p), 0);
	stream_id(p[1], 0, id, sizeof(id));
	stream_id(p[1], 1, other, sizeof(other));
	cr_expect(memxd_log_is_journal(p[1], id), "%s is the fd's own", id);
	cr_expect_not(memxd_log_is_journal(p[1], other), "another inode");
	cr_expect_not(memxd_log_is_journal(p[1], NULL), "no $JOURNAL_STREAM");
	cr_expect_not(memxd_log_is_journal(p[1], ""));
	/* What may come before and after the right "DEV:INO": nothing at all. */
	const char *const around[][2] = { { "", ":" }, { "", " " }, { " ", "" }, { "+", "" },
					  { "", ":1" }, { "x", "" } };

	for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
		snprintf(bad, sizeof(bad), "%s%s%s", around[i][0], id, around[i][1]);
		cr_expect_not(memxd_log_is_journal(p[1], bad), "'%s' is malformed", bad);
	}
	cr_expect_not(memxd_log_is_journal(-1, id), "a closed fd");
	close(p[0]);
	close(p[1]);
}

/* Logs one line at each level with stderr a pipe, $JOURNAL_STREAM as given. */
static char *log_levels(bool journal)
{
	struct capture cap;
	char id[64];

	capture_begin(&cap);
	stream_id(STDERR_FILENO, 0, id, sizeof(id));
	if (journal)
		setenv("JOURNAL_STREAM", id, 1);
	else
		unsetenv("JOURNAL_STREAM");
	memxd_log_init();
	capture_read(&cap);
	memxd_err("e");
	memxd_warn("w");
	memxd_info("i");
	memxd_log_debug_mask = MEMXD_DBG_IO;
	memxd_dbg(MEMXD_DBG_IO, "d");
	capture_end(&cap);
	return cap.buf;
}

Test(log, syslog_priorities_when_stderr_is_the_journal)
{
	char *out = log_levels(true);

	cr_expect_str_eq(out, "<3>memxd error: e\n<4>memxd warning: w\n<6>memxd info: i\n"
			 "<7>memxd debug: d\n");
	free(out);
}

Test(log, no_priorities_otherwise)
{
	char *out = log_levels(false);

	cr_expect_null(strchr(out, '<'), "got '%s'", out);
	cr_expect(strstr(out, "] memxd error: e\n["), "got '%s'", out);
	free(out);
}
