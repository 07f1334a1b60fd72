// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket that memxctl connects to. A
 * request is one line ("status", "status --json", "donor drain ADDR"...; the
 * role's handler parses it); the answer is text or one JSON document, of any
 * length, then the server closes the connection. An answer that starts with
 * "error:" is a refusal. Served from the control thread between its other
 * events, so a peer is never waited on for long: 2 seconds to send its line,
 * 5 to read the whole answer (a 64 GiB volume's slab list is about 80 KiB),
 * then it is cut off. A request the handler cannot answer where it is called
 * (client: while the control thread waits out a slow transfer, only status and
 * reload are answered) is told "wait: ..." and kept, with its line, for the
 * next serve (MEMXD_CTL_LATER). memxd_ctl_parse() turns a line into a request
 * for the handlers; it touches nothing else, so it is unit tested and fuzzed
 * alone.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <memx/proto.h>

#include "common/ctl.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proc.h"

#define CTL_SHORT_MAX	(64 * 1024)	/* what memxd_ctl_reply may write */
#define CTL_LINE_MS	2000		/* a peer sends its request line in this */
#define CTL_SEND_MS	5000		/* and reads the whole answer in this */
#define CTL_LINE_MAX	256		/* a request line, its newline and NUL included */

/*
 * The answer being made: a short text in text[], or what the handler handed
 * over (memxd_ctl_reply_text, memxd_ctl_reply_json), which then is the answer.
 */
struct ctl_answer {
	char *big;
	size_t big_len;
	struct json_object *doc;
	char text[CTL_SHORT_MAX];
};

/* A request kept for later (MEMXD_CTL_LATER): its peer waits on fd. */
struct ctl_later {
	int fd;
	char line[CTL_LINE_MAX];
};

struct memxd_ctl {
	int fd;
	char path[108];
	struct ctl_answer *ans;
	struct ctl_later later[MEMXD_CTL_LATER_MAX];
	unsigned int nr_later;
	bool serving;	/* a handler runs: a serve from inside it returns at once */
};

/* The answer whose handler runs in this thread, for memxd_ctl_reply_text and _json. */
static __thread struct ctl_answer *answering;

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
	ctl->ans = calloc(1, sizeof(*ctl->ans));
	if (!ctl->ans) {
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
	free(ctl->ans);
	free(ctl);
	return r;
}

int memxd_ctl_fd(const struct memxd_ctl *ctl)
{
	return ctl->fd;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Writes all of buf unless the peer goes away or is still reading at deadline
 * (mono_ms). Never blocks past the deadline. Returns 0, -EPIPE (gone) or
 * -ETIMEDOUT.
 */
static int send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		uint64_t now;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return -EPIPE;
		now = mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -EPIPE;
	}
	return 0;
}

/* Drops what a handler handed over (the text buffer is simply written again). */
static void forget_answer(struct ctl_answer *a)
{
	free(a->big);
	a->big = NULL;
	json_object_put(a->doc);
	a->doc = NULL;
}

/* Sends the answer the handler made (r: what it returned), then forgets it. */
static void send_answer(struct ctl_answer *a, int cfd, int r)
{
	uint64_t deadline = mono_ms() + CTL_SEND_MS;
	const char *doc = NULL;
	size_t len = 0;
	int w = 0;

	if (!r && a->doc) {
		doc = json_object_to_json_string_length(a->doc, MEMXD_JSON_FLAGS, &len);
		if (!doc)
			r = -ENOMEM;
	}
	if (r) {
		memxd_ctl_reply(a->text, sizeof(a->text), "error: %s\n", r == -ENOSPC ?
				"answer too long" : strerror(-r));
		w = send_all(cfd, a->text, strlen(a->text), deadline);
	} else if (doc) {
		w = send_all(cfd, doc, len, deadline);
		if (!w)
			w = send_all(cfd, "\n", 1, deadline);
	} else if (a->big) {
		w = send_all(cfd, a->big, a->big_len, deadline);
	} else {
		w = send_all(cfd, a->text, strlen(a->text), deadline);
	}
	if (w == -ETIMEDOUT)
		memxd_warn("control socket: a reader took more than %d s over its answer; cut off",
			   CTL_SEND_MS / 1000);
	forget_answer(a);
}

/*
 * Runs the handler on line and answers cfd. Returns true when the request was
 * kept for later (cfd then belongs to ctl), false when cfd may be closed.
 */
static bool answer_line(struct memxd_ctl *ctl, int cfd, const char *line, bool told_wait,
			memxd_ctl_fn fn, void *arg)
{
	struct ctl_answer *a = ctl->ans;
	struct ctl_later *l;
	int r;

	a->text[0] = '\0';
	answering = a;
	r = fn(arg, line, a->text, sizeof(a->text));
	answering = NULL;
	if (r != MEMXD_CTL_LATER) {
		send_answer(a, cfd, r);
		return false;
	}
	forget_answer(a);
	if (told_wait)
		return true;	/* still waiting: the peer was told so */
	if (ctl->nr_later == MEMXD_CTL_LATER_MAX) {
		memxd_ctl_reply(a->text, sizeof(a->text), "error: busy: %u requests wait for an "
				"answer already; try again later\n", ctl->nr_later);
		send_answer(a, cfd, 0);
		return false;
	}
	/* The peer learns that the answer comes later, and why: one "wait:" line. */
	if (strncmp(a->text, "wait:", 5) || strcspn(a->text, "\n") + 1 != strlen(a->text))
		memxd_ctl_reply(a->text, sizeof(a->text), "wait: busy; answered later\n");
	if (send_all(cfd, a->text, strlen(a->text), mono_ms() + CTL_SEND_MS))
		return false;
	l = &ctl->later[ctl->nr_later++];
	l->fd = cfd;
	snprintf(l->line, sizeof(l->line), "%s", line);
	return true;
}

/* Reads a peer's request line and answers it. Returns as answer_line. */
static bool ctl_answer(struct memxd_ctl *ctl, int cfd, memxd_ctl_fn fn, void *arg)
{
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	uint64_t deadline = mono_ms() + CTL_LINE_MS;
	char line[CTL_LINE_MAX];
	size_t got = 0;

	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		uint64_t now = mono_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return false;
		n = read(cfd, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	return answer_line(ctl, cfd, line, false, fn, arg);
}

/* The requests kept for later, asked again in the order they came; those answered go. */
static void serve_later(struct memxd_ctl *ctl, memxd_ctl_fn fn, void *arg)
{
	unsigned int kept = 0, n = ctl->nr_later;

	for (unsigned int i = 0; i < n; i++) {
		struct ctl_later l = ctl->later[i];

		if (answer_line(ctl, l.fd, l.line, true, fn, arg))
			ctl->later[kept++] = l;
		else
			close(l.fd);
	}
	ctl->nr_later = kept;
}

void memxd_ctl_serve(struct memxd_ctl *ctl, memxd_ctl_fn fn, void *arg)
{
	/* Nested (a handler's slow wait serves aside): the answer buffer is in use. */
	if (ctl->serving)
		return;
	ctl->serving = true;
	serve_later(ctl, fn, arg);
	for (;;) {
		int cfd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0)
			break;
		if (!ctl_answer(ctl, cfd, fn, arg))
			close(cfd);
	}
	ctl->serving = false;
}

bool memxd_ctl_later(const struct memxd_ctl *ctl)
{
	return ctl && ctl->nr_later;
}

void memxd_ctl_close(struct memxd_ctl *ctl)
{
	if (!ctl)
		return;
	for (unsigned int i = 0; i < ctl->nr_later; i++) {
		static const char gone[] = "error: memxd stopped before it could answer\n";

		send_all(ctl->later[i].fd, gone, sizeof(gone) - 1, mono_ms() + CTL_SEND_MS);
		close(ctl->later[i].fd);
	}
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl->ans);
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

/* The answer that out (a handler's buffer) belongs to, or NULL. */
static struct ctl_answer *answer_of(const char *out, size_t len)
{
	struct ctl_answer *a = answering;

	return a && out == a->text && len == sizeof(a->text) ? a : NULL;
}

int memxd_ctl_reply_text(char *out, size_t len, char *text, size_t text_len)
{
	struct ctl_answer *a = answer_of(out, len);

	if (!a) {
		free(text);
		return -EINVAL;
	}
	free(a->big);
	json_object_put(a->doc);
	a->doc = NULL;
	a->big = text;
	a->big_len = text_len;
	return 0;
}

int memxd_ctl_reply_json(char *out, size_t len, struct json_object *doc)
{
	struct ctl_answer *a = answer_of(out, len);

	if (!a || !doc) {
		json_object_put(doc);
		return a ? -ENOMEM : -EINVAL;
	}
	free(a->big);
	a->big = NULL;
	json_object_put(a->doc);
	a->doc = doc;
	return 0;
}

void memxd_json_set(struct json_object *o, const char *key, struct json_object *v, bool *ok)
{
	if (!o || !v || json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW |
						  JSON_C_OBJECT_KEY_IS_CONSTANT)) {
		json_object_put(v);
		*ok = false;
	}
}

void memxd_json_push(struct json_object *array, struct json_object *v, bool *ok)
{
	if (!array || !v || json_object_array_add(array, v)) {
		json_object_put(v);
		*ok = false;
	}
}

/* The document an answer holds, or NULL with why saying what it holds instead. */
static struct json_object *answer_json(const char *answer, size_t len, char *why,
				       size_t why_len, int *r)
{
	struct json_tokener *tok;
	struct json_object *doc;
	const char *problem = NULL, *nl;
	size_t end;

	*r = -EBADMSG;
	if (len >= 6 && !memcmp(answer, "error:", 6)) {
		/* Its first line, as memxd wrote it. */
		nl = memchr(answer, '\n', len);
		end = nl ? (size_t)(nl - answer) : len;
		snprintf(why, why_len, "%.*s", (int)(end < 1024 ? end : 1024), answer);
		*r = -EREMOTEIO;
		return NULL;
	}
	if (!len) {
		snprintf(why, why_len, "an empty answer");
		return NULL;
	}
	if (len > INT_MAX) {
		snprintf(why, why_len, "an answer too long to read");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(why, why_len, "%s", strerror(ENOMEM));
		*r = -ENOMEM;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, answer, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!doc && json_tokener_get_error(tok) == json_tokener_continue)
		problem = "it is cut short";
	else if (!doc)
		problem = json_tokener_error_desc(json_tokener_get_error(tok));
	else if (!json_object_is_type(doc, json_type_object))
		problem = "it is not a JSON object";
	else
		for (; end < len && !problem; end++)
			if (!answer[end] || !strchr(" \t\r\n", answer[end]))
				problem = "more follows the document";
	json_tokener_free(tok);
	if (problem) {
		snprintf(why, why_len, "not one JSON document: %s", problem);
		json_object_put(doc);
		return NULL;
	}
	*r = 0;
	return doc;
}

int memxd_ctl_collect_json(struct json_object *all, const char *answer, size_t len, char *why,
			   size_t why_len)
{
	int r;
	struct json_object *doc = answer_json(answer, len, why, why_len, &r);

	if (json_object_array_add(all, doc)) {
		json_object_put(doc);
		snprintf(why, why_len, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return r;
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
	if (!strcmp(line, "volume detach")) {
		out->kind = MEMXD_CTL_VOLUME_DETACH;
		return 0;
	}
	if (!strcmp(line, "volume forget-lost")) {
		out->kind = MEMXD_CTL_VOLUME_FORGET_LOST;
		return 0;
	}
	if (!strncmp(line, "donor drain ", 12)) {
		out->kind = MEMXD_CTL_DONOR_DRAIN;
		out->arg = line + 12;
		return 0;
	}
	if (!strncmp(line, "volume remove ", 14)) {
		out->kind = MEMXD_CTL_VOLUME_REMOVE;
		out->arg = line + 14;
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
