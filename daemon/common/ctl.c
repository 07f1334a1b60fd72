// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket that memxctl connects to. A
 * request is one line ("status", "status --json", "donor drain ADDR"...; the
 * role's handler parses it); the answer is text, then the server closes the
 * connection. An answer that starts with "error:" is a refusal. Served from
 * the control thread between its other events; a peer gets 2 seconds to send
 * its line.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/limits.h"

#define CTL_REPLY_MAX (64 * 1024)

struct memxd_ctl {
	int fd;
	char path[108];
	char *reply;
};

int memxd_ctl_open(const char *path, struct memxd_ctl **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct memxd_ctl *ctl;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->reply = malloc(CTL_REPLY_MAX);
	if (!ctl->reply) {
		free(ctl);
		return -ENOMEM;
	}
	strcpy(ctl->path, path);
	strcpy(sa.sun_path, path);
	mkdir(MEMXD_RUN_DIR, 0755);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->fd < 0) {
		r = -errno;
		goto out_free;
	}
	unlink(path);	/* a socket left by a memxd that died */
	if (bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(ctl->fd, 8)) {
		r = -errno;
		goto out_close;
	}
	*out = ctl;
	return 0;

out_close:
	close(ctl->fd);
out_free:
	free(ctl->reply);
	free(ctl);
	return r;
}

int memxd_ctl_fd(const struct memxd_ctl *ctl)
{
	return ctl->fd;
}

static void ctl_answer(struct memxd_ctl *ctl, int cfd, memxd_ctl_fn fn, void *arg)
{
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	char line[256];
	size_t got = 0, len;

	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t n;

		if (poll(&pfd, 1, 2000) <= 0)
			return;
		n = read(cfd, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (fn(arg, line, ctl->reply, CTL_REPLY_MAX))
		strcpy(ctl->reply, "error: answer too long\n");
	len = strlen(ctl->reply);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(cfd, ctl->reply + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

void memxd_ctl_serve(struct memxd_ctl *ctl, memxd_ctl_fn fn, void *arg)
{
	for (;;) {
		int cfd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0)
			return;
		ctl_answer(ctl, cfd, fn, arg);
		close(cfd);
	}
}

void memxd_ctl_close(struct memxd_ctl *ctl)
{
	if (!ctl)
		return;
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl->reply);
	free(ctl);
}

int memxd_ctl_reply(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}
