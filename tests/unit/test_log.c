// SPDX-License-Identifier: GPL-2.0
/*
 * The log never blocks its caller: with stderr a pipe that nobody reads, an
 * engine thread that logs must go on (lines are dropped and counted), and
 * once the pipe is read every line that was kept comes out whole, followed by
 * the count of those dropped. Before memxd_log_start() lines go straight out.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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
