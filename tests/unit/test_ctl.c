// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: what memxd_ctl_parse() makes of each request line;
 * answers of any length through a real socket, and the peers that read them
 * slowly or not at all; memxctl's JSON array of every memxd's answer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <time.h>

#include "common/ctl.h"
#include "ctl_ask.h"

Test(ctl, status)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("status", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_STATUS);
	cr_expect(!r.json && !r.slabs && r.strict);
	cr_assert_eq(memxd_ctl_parse("status --json", &r), 0);
	cr_expect(r.json && !r.slabs && r.strict);
	cr_assert_eq(memxd_ctl_parse("status --slabs --json", &r), 0);
	cr_expect(r.json && r.slabs && r.strict);
	/* The client's handler has always taken the options anywhere in the line. */
	cr_assert_eq(memxd_ctl_parse("status x--jsony", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_STATUS);
	cr_expect(r.json && !r.strict, "found, but not a word of its own");
	for (const char **s = (const char *[]){ "status ", "status  --json", "status --json ",
						 "status --json --json", "status foo", NULL }; *s; s++) {
		cr_assert_eq(memxd_ctl_parse(*s, &r), 0, "'%s'", *s);
		cr_expect_eq(r.kind, MEMXD_CTL_STATUS, "'%s'", *s);
		cr_expect(!r.strict, "'%s' is not strict", *s);
	}
	for (const char **s = (const char *[]){ "", "statu", "statusx", "Status", " status",
						 "status\t--json", NULL }; *s; s++) {
		cr_expect_eq(memxd_ctl_parse(*s, &r), -EINVAL, "'%s'", *s);
		cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN, "'%s'", *s);
	}
}

Test(ctl, donor_drain)
{
	const char *line = "donor drain 10.0.0.2:7471";
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse(line, &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_DONOR_DRAIN);
	cr_expect_eq(r.arg, line + 12, "the address as given, for the handler's answers");
	/* Whatever follows is the handler's to judge ("no donor ..."). */
	cr_assert_eq(memxd_ctl_parse("donor drain ", &r), 0);
	cr_expect_str_eq(r.arg, "");
	cr_expect_eq(memxd_ctl_parse("donor drain", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
}

Test(ctl, volume_remove)
{
	const char *line = "volume remove swap0";
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse(line, &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_VOLUME_REMOVE);
	cr_expect_eq(r.arg, line + 14, "the name as given: the engine compares it with its own");
	cr_expect_eq(memxd_ctl_parse("volume remove", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
	cr_expect_eq(memxd_ctl_parse("volume removeswap0", &r), -EINVAL);
}

Test(ctl, donor_add)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("donor add 10.0.0.5", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_DONOR_ADD);
	cr_expect_str_eq(r.host, "10.0.0.5");
	cr_expect_eq(r.port, 7471);
	cr_assert_eq(memxd_ctl_parse("donor add [fe80::1]:9000", &r), 0);
	cr_expect_str_eq(r.host, "fe80::1");
	cr_expect_eq(r.port, 9000);
	for (const char **s = (const char *[]){ "donor add ", "donor add h:0", "donor add a:b:c",
						 "donor add h:x", NULL }; *s; s++) {
		cr_expect_eq(memxd_ctl_parse(*s, &r), -EINVAL, "'%s'", *s);
		cr_expect_eq(r.kind, MEMXD_CTL_DONOR_ADD, "'%s': a bad ADDR, not an unknown request",
			     *s);
		cr_expect_str_eq(r.arg, *s + 10);
	}
	cr_expect_eq(memxd_ctl_parse("donor add", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
	cr_expect_eq(memxd_ctl_parse("donor remove 10.0.0.5", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
}

Test(ctl, volume_requests)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("volume detach", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_VOLUME_DETACH);
	cr_assert_eq(memxd_ctl_parse("volume forget-lost", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_VOLUME_FORGET_LOST);
	cr_expect_eq(memxd_ctl_parse("volume detach now", &r), -EINVAL, "detach takes nothing");
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
	cr_expect_eq(memxd_ctl_parse("volume", &r), -EINVAL);
	cr_expect_eq(memxd_ctl_parse("volume forget", &r), -EINVAL);
}

Test(ctl, reload)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("reload", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_RELOAD);
	cr_expect_eq(memxd_ctl_parse("reload now", &r), -EINVAL, "reload takes nothing");
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
	cr_expect_eq(memxd_ctl_parse("reloads", &r), -EINVAL);
}

/* ---- answers through the socket -------------------------------------------- */

#define BIG (4u << 20)

static int big_text(void *arg, const char *line, char *out, size_t len)
{
	char *t = malloc(BIG);

	cr_assert(t);
	for (size_t i = 0; i < BIG; i++)
		t[i] = (char)('a' + i % 26);
	t[BIG - 1] = '\n';
	return memxd_ctl_reply_text(out, len, t, BIG);
}

Test(ctl, answer_of_any_length)
{
	size_t n;
	char *s = ctl_ask(big_text, NULL, "status", &n);

	cr_assert_eq(n, BIG, "%zu bytes of %u", n, BIG);
	for (size_t i = 0; i < BIG - 1; i++)
		cr_assert_eq(s[i], 'a' + i % 26, "byte %zu", i);
	free(s);
}

/* A document whose strings need escaping, and a long array. */
static int tricky_json(void *arg, const char *line, char *out, size_t len)
{
	json_object *doc = json_object_new_object(), *a = json_object_new_array();
	bool ok = true;

	memxd_json_set(doc, "line", json_object_new_string(line), &ok);
	memxd_json_set(doc, "odd", json_object_new_string("q\"b\\s/n\nt\t\x01"), &ok);
	memxd_json_set(doc, "big", json_object_new_uint64(UINT64_MAX), &ok);
	for (int i = 0; i < 100000; i++)
		memxd_json_push(a, json_object_new_int(i), &ok);
	memxd_json_set(doc, "a", a, &ok);
	cr_assert(ok);
	return memxd_ctl_reply_json(out, len, doc);
}

Test(ctl, answer_json)
{
	json_object *all = json_object_new_array(), *doc, *v;
	char why[256] = "";
	size_t n;
	char *s = ctl_ask(tricky_json, NULL, "status --json", &n);

	cr_assert_gt(n, 64 * 1024);
	static const char head[] =
		"{\"line\":\"status --json\",\"odd\":\"q\\\"b\\\\s/n\\nt\\t\\u0001\",";
	cr_expect(!strncmp(s, head, strlen(head)), "plain, '/' as it is: %.80s", s);
	cr_expect_eq(s[n - 1], '\n');
	cr_assert_eq(memxd_ctl_collect_json(all, s, n, why, sizeof(why)), 0, "%s", why);
	doc = json_object_array_get_idx(all, 0);
	cr_assert(json_object_object_get_ex(doc, "odd", &v));
	cr_expect_str_eq(json_object_get_string(v), "q\"b\\s/n\nt\t\x01");
	cr_assert(json_object_object_get_ex(doc, "big", &v));
	cr_expect_eq(json_object_get_uint64(v), UINT64_MAX);
	cr_assert(json_object_object_get_ex(doc, "a", &v));
	cr_expect_eq(json_object_array_length(v), 100000);
	json_object_put(all);
	free(s);
}

static int short_text(void *arg, const char *line, char *out, size_t len)
{
	return memxd_ctl_reply(out, len, "got '%s'\n", line);
}

static int fails(void *arg, const char *line, char *out, size_t len)
{
	/* What it handed over is dropped, and the peer told why. */
	memxd_ctl_reply_json(out, len, json_object_new_object());
	return -ENOMEM;
}

static int too_long(void *arg, const char *line, char *out, size_t len)
{
	return memxd_ctl_reply(out, len, "%*s", (int)len, "x");
}

static int foreign_buffer(void *arg, const char *line, char *out, size_t len)
{
	char mine[64];

	/* Not the buffer the socket handed over: refused, and what it held freed. */
	cr_expect_eq(memxd_ctl_reply_text(mine, sizeof(mine), strdup("x"), 1), -EINVAL);
	cr_expect_eq(memxd_ctl_reply_json(mine, sizeof(mine), json_object_new_object()), -EINVAL);
	cr_expect_eq(memxd_ctl_reply_json(out, len, NULL), -ENOMEM, "a constructor's NULL");
	return memxd_ctl_reply(out, len, "short\n");
}

Test(ctl, short_answers_and_errors)
{
	size_t n;
	char *s = ctl_ask(short_text, NULL, "status --json\r", &n);

	cr_expect_str_eq(s, "got 'status --json'\n");
	free(s);
	s = ctl_ask(fails, NULL, "status", &n);
	cr_expect_str_eq(s, "error: Cannot allocate memory\n");
	free(s);
	s = ctl_ask(too_long, NULL, "status", &n);
	cr_expect_str_eq(s, "error: answer too long\n");
	free(s);
	s = ctl_ask(foreign_buffer, NULL, "status", &n);
	cr_expect_str_eq(s, "short\n");
	free(s);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A peer that asks and never reads (a stopped memxctl): the control thread is
 * held 5 s at most, then goes on. One that hangs up at once costs nothing,
 * and no SIGPIPE (which would kill this test).
 */
Test(ctl, slow_and_gone_readers, .timeout = 30)
{
	struct memxd_ctl *ctl;
	char dir[64];
	double t0, t;
	int fd = ctl_connect(&ctl, dir);

	cr_assert_eq(write(fd, "status\n", 7), 7);
	t0 = now_s();
	memxd_ctl_serve(ctl, big_text, NULL);
	t = now_s() - t0;
	cr_expect(t >= 4.5 && t < 7, "served a peer that does not read for %.1f s", t);
	close(fd);
	ctl_done(ctl, dir);

	fd = ctl_connect(&ctl, dir);
	cr_assert_eq(write(fd, "status\n", 7), 7);
	shutdown(fd, SHUT_RD);
	close(fd);
	t0 = now_s();
	memxd_ctl_serve(ctl, big_text, NULL);
	t = now_s() - t0;
	cr_expect(t < 2, "served a peer that went away for %.1f s", t);
	ctl_done(ctl, dir);

	/* And one that never sends its line: 2 s, no answer. */
	fd = ctl_connect(&ctl, dir);
	t0 = now_s();
	memxd_ctl_serve(ctl, big_text, NULL);
	t = now_s() - t0;
	cr_expect(t >= 1.5 && t < 4, "waited %.1f s for a line", t);
	close(fd);
	ctl_done(ctl, dir);
}

/* ---- requests kept for later (MEMXD_CTL_LATER) ------------------------------ */

/* One more peer of the control socket in dir (ctl_connect made it), its line sent. */
static int connect_again(const char dir[64], const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect");
	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	return fd;
}

/* What the peer has been sent so far (waits up to 1 s for the first byte); "" when nothing. */
static const char *sent_so_far(int fd)
{
	static char buf[4096];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	ssize_t got;

	while (n < sizeof(buf) - 1 && poll(&pfd, 1, n ? 50 : 1000) > 0 &&
	       (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
	return buf;
}

/* Says "wait" while *busy, else answers; counts its calls. */
struct busy_handler {
	bool busy;
	unsigned int calls;
	const char *wait_text;
};

static int busy_or_answer(void *arg, const char *line, char *out, size_t len)
{
	struct busy_handler *h = arg;

	h->calls++;
	if (!h->busy)
		return memxd_ctl_reply(out, len, "done '%s'\n", line);
	memxd_ctl_reply(out, len, "%s", h->wait_text);
	return MEMXD_CTL_LATER;
}

/*
 * A request the handler cannot answer now: the peer is told one "wait:" line
 * at once and gets the answer from a later serve, with no new connection.
 */
Test(ctl, kept_for_later_then_answered, .timeout = 30)
{
	struct busy_handler h = { .busy = true, .wait_text = "wait: copying\n" };
	struct memxd_ctl *ctl;
	char dir[64];
	int fd = ctl_connect(&ctl, dir);

	cr_assert_eq(write(fd, "volume detach\n", 14), 14);
	cr_expect_not(memxd_ctl_later(ctl));
	memxd_ctl_serve(ctl, busy_or_answer, &h);
	cr_expect_str_eq(sent_so_far(fd), "wait: copying\n");
	cr_expect(memxd_ctl_later(ctl));
	/* Still busy: asked again, kept, and not told twice. */
	memxd_ctl_serve(ctl, busy_or_answer, &h);
	cr_expect_str_eq(sent_so_far(fd), "");
	cr_expect_eq(h.calls, 2);
	h.busy = false;
	memxd_ctl_serve(ctl, busy_or_answer, &h);
	cr_expect_str_eq(sent_so_far(fd), "done 'volume detach'\n");
	cr_expect_eq(read(fd, (char[1]){ 0 }, 1), 0, "closed after the answer");
	cr_expect_not(memxd_ctl_later(ctl));
	cr_expect_not(memxd_ctl_later(NULL));
	close(fd);
	ctl_done(ctl, dir);
}

/* A handler's "wait" text that is not one "wait:" line is replaced: memxctl needs one. */
Test(ctl, wait_text_is_one_line, .timeout = 30)
{
	static const char *const bad[] = { "", "busy\n", "wait: no newline", "wait: a\nwait: b\n" };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct busy_handler h = { .busy = true, .wait_text = bad[i] };
		struct memxd_ctl *ctl;
		char dir[64];
		int fd = ctl_connect(&ctl, dir);

		cr_assert_eq(write(fd, "x\n", 2), 2);
		memxd_ctl_serve(ctl, busy_or_answer, &h);
		cr_expect_str_eq(sent_so_far(fd), "wait: busy; answered later\n", "for '%s'", bad[i]);
		close(fd);
		ctl_done(ctl, dir);
	}
}

/* Four kept at most: the fifth is refused at once; at the close the kept ones are told. */
Test(ctl, later_is_bounded_and_told_at_close, .timeout = 30)
{
	struct busy_handler h = { .busy = true, .wait_text = "wait: copying\n" };
	int fd[MEMXD_CTL_LATER_MAX + 1];
	struct memxd_ctl *ctl;
	char dir[64];

	fd[0] = ctl_connect(&ctl, dir);
	cr_assert_eq(write(fd[0], "a\n", 2), 2);
	for (unsigned int i = 1; i <= MEMXD_CTL_LATER_MAX; i++)
		fd[i] = connect_again(dir, "b\n");
	memxd_ctl_serve(ctl, busy_or_answer, &h);
	for (unsigned int i = 0; i < MEMXD_CTL_LATER_MAX; i++)
		cr_expect_str_eq(sent_so_far(fd[i]), "wait: copying\n", "peer %u", i);
	cr_expect(strstr(sent_so_far(fd[MEMXD_CTL_LATER_MAX]), "error: busy: 4 requests"),
		  "the fifth is refused");
	ctl_done(ctl, dir);
	for (unsigned int i = 0; i < MEMXD_CTL_LATER_MAX; i++) {
		cr_expect_str_eq(sent_so_far(fd[i]), "error: memxd stopped before it could answer\n",
				 "peer %u", i);
		close(fd[i]);
	}
	close(fd[MEMXD_CTL_LATER_MAX]);
}

/* A handler whose slow wait serves aside: the nested serve leaves its answer buffer alone. */
struct nesting {
	struct memxd_ctl *ctl;
	int nested_calls;
};

static int nests(void *arg, const char *line, char *out, size_t len)
{
	struct nesting *n = arg;

	memxd_ctl_reply(out, len, "outer '%s'\n", line);
	if (!strcmp(line, "outer"))
		memxd_ctl_serve(n->ctl, nests, n);
	else
		n->nested_calls++;
	return 0;
}

Test(ctl, serve_inside_a_handler_does_nothing, .timeout = 30)
{
	struct nesting n = { 0 };
	char dir[64];
	int fd = ctl_connect(&n.ctl, dir), fd2;

	cr_assert_eq(write(fd, "outer\n", 6), 6);
	fd2 = connect_again(dir, "inner\n");
	memxd_ctl_serve(n.ctl, nests, &n);
	cr_expect_str_eq(sent_so_far(fd), "outer 'outer'\n");
	cr_expect_eq(n.nested_calls, 1, "the second peer was answered by the outer serve");
	cr_expect_str_eq(sent_so_far(fd2), "outer 'inner'\n");
	close(fd);
	close(fd2);
	ctl_done(n.ctl, dir);
}

/* ---- memxctl: every memxd's answer in one JSON array ----------------------- */

Test(ctl, collect_json)
{
	static const char client[] = "{\"role\":\"client\",\"volumes\":[{\"name\":\"v\"}]}\n";
	static const char donor_refused[] =
		"error: a donor answers 'status', 'status --json' and 'reload'\n";
	static const char *not_one[] = {
		"{\"role\":\"client\",\"volumes\":[{\"na",	/* cut short */
		"{\"role\":\"donor\"}{\"role\":\"donor\"}\n",	/* two */
		"[1,2]\n",	/* not an object */
		"{\"a\":1,}\n",	/* not JSON (strict) */
		"volume v: /dev/memx0, 64 MiB\n",	/* text */
		"{\"a\":1}\n\0",
		"",
	};
	json_object *all = json_object_new_array(), *back, *e;
	char why[256];
	const char *s;
	size_t n, count = 2 + sizeof(not_one) / sizeof(not_one[0]);

	cr_assert_eq(memxd_ctl_collect_json(all, client, strlen(client), why, sizeof(why)), 0);
	cr_assert_eq(memxd_ctl_collect_json(all, donor_refused, strlen(donor_refused), why,
					    sizeof(why)), -EREMOTEIO);
	cr_expect_str_eq(why, "error: a donor answers 'status', 'status --json' and 'reload'");
	for (size_t i = 0; i < sizeof(not_one) / sizeof(not_one[0]); i++) {
		size_t len = strlen(not_one[i]) + (i == 5);	/* one with a NUL after it */

		why[0] = '\0';
		cr_expect_eq(memxd_ctl_collect_json(all, not_one[i], len, why, sizeof(why)), -EBADMSG,
			     "'%s'", not_one[i]);
		cr_expect(why[0], "'%s': no reason given", not_one[i]);
	}
	/* What memxctl prints: valid JSON, a null for each that was not a document. */
	s = json_object_to_json_string_length(all, MEMXD_JSON_FLAGS, &n);
	cr_assert(s);
	back = json_tokener_parse(s);
	cr_assert(back, "not JSON: %s", s);
	cr_assert_eq(json_object_array_length(back), count);
	e = json_object_array_get_idx(back, 0);
	cr_expect(json_object_is_type(e, json_type_object));
	for (size_t i = 1; i < count; i++)
		cr_expect_null(json_object_array_get_idx(back, i), "element %zu", i);
	cr_expect(!strncmp(s, "[{\"role\":\"client\",\"volumes\":[{\"name\":\"v\"}]},null,null", 52),
		  "%s", s);
	json_object_put(back);
	json_object_put(all);
}
