// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket that memxctl connects to. A
 * request is one line ("status", "status --json", "donor drain ADDR"...; the
 * role's handler parses it); the answer is text, then the server closes the
 * connection. An answer that starts with "error:" is a refusal. Served from
 * the control thread between its other events; a peer gets 2 seconds to send
 * its line. memxd_ctl_parse() turns a line into a request for the handlers;
 * it touches nothing else, so it is unit tested and fuzzed alone.
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

#include <memx/proto.h>

#include "common/ctl.h"
#include "common/limits.h"
#include "common/parse.h"
#include "common/proc.h"

#define CTL_REPLY_MAX (64 * 1024)

struct memxd_ctl {
	int fd;
	char path[108];
	char *reply;
};

/*
 * A socket left by a memxd that died is removed; anything else at that path
 * (a file, a link, a directory) is left alone and refused: --ctl must never
 * make memxd delete what it did not create. A live memxd's socket is never
 * reached: one memxd per name holds a lock (proc.c) before it gets here.
 */
static int remove_stale_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) ? -errno : 0;
}

int memxd_ctl_open(const char *path, struct memxd_ctl **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct memxd_ctl *ctl;
	mode_t old_mask;
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
	memxd_make_run_dir();
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->fd < 0) {
		r = -errno;
		goto out_free;
	}
	r = remove_stale_socket(path);
	if (r)
		goto out_close;
	/* Made 0600 from the start: no window in which another user may connect. */
	old_mask = umask(0177);	/* the socket is made 0600 */
	r = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old_mask);
	if (r || listen(ctl->fd, 8)) {
		r = r ? r : -errno;
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

/* Whether the words of s (each after one space) are --json and --slabs, each at most once. */
static bool ctl_status_strict(const char *s)
{
	bool json = false, slabs = false;

	while (*s) {
		const char *w = s + 1;
		size_t n;

		if (*s != ' ')
			return false;
		n = strcspn(w, " ");
		if (n == 6 && !strncmp(w, "--json", 6) && !json)
			json = true;
		else if (n == 7 && !strncmp(w, "--slabs", 7) && !slabs)
			slabs = true;
		else
			return false;
		s = w + n;
	}
	return true;
}

int memxd_ctl_parse(const char *line, struct memxd_ctl_req *out)
{
	memset(out, 0, sizeof(*out));
	if (!line)
		return -EINVAL;
	if (!strncmp(line, "status", 6) && (!line[6] || line[6] == ' ')) {
		out->kind = MEMXD_CTL_STATUS;
		out->json = strstr(line + 6, "--json") != NULL;
		out->slabs = strstr(line + 6, "--slabs") != NULL;
		out->strict = ctl_status_strict(line + 6);
		return 0;
	}
	if (!strcmp(line, "reload")) {
		out->kind = MEMXD_CTL_RELOAD;
		return 0;
	}
	if (!strncmp(line, "donor drain ", 12)) {
		out->kind = MEMXD_CTL_DONOR_DRAIN;
		out->arg = line + 12;
		return 0;
	}
	if (!strncmp(line, "donor add ", 10)) {
		out->kind = MEMXD_CTL_DONOR_ADD;
		out->arg = line + 10;
		if (memxd_parse_hostport(out->arg, out->host, sizeof(out->host), &out->port,
					MEMX_DEFAULT_PORT))
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}
