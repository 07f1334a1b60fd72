/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the unit tests: one request through a real control socket (ctl.c), in
 * a directory of its own, answered by a handler in a server thread while the
 * test reads the whole answer, as memxctl does.
 */
#ifndef MEMX_TEST_CTL_ASK_H
#define MEMX_TEST_CTL_ASK_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctl.h"

struct ctl_serve_arg {
	struct memxd_ctl *ctl;
	memxd_ctl_fn fn;
	void *arg;
};

static void *ctl_serve_thread(void *p)
{
	struct ctl_serve_arg *a = p;

	memxd_ctl_serve(a->ctl, a->fn, a->arg);
	return NULL;
}

/* A connected client socket to a new control socket; *ctl and dir to close with ctl_done(). */
static int ctl_connect(struct memxd_ctl **ctl, char dir[64])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	strcpy(dir, "/tmp/memx-unit-XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir);
	cr_assert_eq(memxd_ctl_open(sa.sun_path, ctl), 0, "memxd_ctl_open");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect");
	return fd;
}

static void ctl_done(struct memxd_ctl *ctl, char dir[64])
{
	memxd_ctl_close(ctl);
	rmdir(dir);
}

/* Sends request (a line, no newline) and returns the whole answer (malloc'd, NUL-ended). */
static char *ctl_ask(memxd_ctl_fn fn, void *arg, const char *request, size_t *len)
{
	struct ctl_serve_arg a = { .fn = fn, .arg = arg };
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	char dir[64];
	pthread_t t;
	ssize_t got;
	int fd = ctl_connect(&a.ctl, dir);

	cr_assert(buf);
	cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	cr_assert_eq(write(fd, "\n", 1), 1);
	cr_assert_eq(pthread_create(&t, NULL, ctl_serve_thread, &a), 0);
	while ((got = read(fd, buf + n, cap - n - 1)) > 0) {
		n += (size_t)got;
		if (cap - n < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	cr_assert_eq(got, 0, "read: %s", strerror(errno));
	pthread_join(t, NULL);
	close(fd);
	ctl_done(a.ctl, dir);
	buf[n] = '\0';
	*len = n;
	return buf;
}

#endif /* MEMX_TEST_CTL_ASK_H */
