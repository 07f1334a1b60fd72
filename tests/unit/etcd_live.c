// SPDX-License-Identifier: GPL-2.0
/*
 * etcd_live ENDPOINT: the directory's code against a real etcd (etcd_live.sh
 * starts one on 127.0.0.1 at a free port). TAP; exit 0 pass, 1 fail.
 *
 * 1. The gateway calls: grant, put under the lease, range, keepalive,
 *    revoke (the key goes at once).
 * 2. A key whose lease is not kept alive is gone once the lease ends.
 * 3. A donor's thread lists the donor; a client's thread sees it; a change of
 *    free memory reaches etcd; withdrawing unlists it at once.
 * 4. A donor process killed with SIGKILL (no revoke) is unlisted within its
 *    lease, and not before: the lease, not a goodbye, removed it.
 * 5. A dead etcd: calls fail within their timeout, the thread says so in its
 *    status, and stopping it does not hang; nor with an etcd that takes the
 *    connection and never answers.
 * 6. A fake etcd that answers garbage (not JSON, wrong shapes, an HTML 500,
 *    an endless body): every call is an error, never a crash.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/directory.h"
#include "common/etcd.h"

static int nr, failed;

#define check(cond, ...)                                  \
	do {                                              \
		nr++;                                     \
		if (cond) {                               \
			printf("ok %d - ", nr);           \
		} else {                                  \
			printf("not ok %d - ", nr);       \
			failed = 1;                       \
		}                                         \
		printf(__VA_ARGS__);                      \
		printf("\n");                             \
		fflush(stdout);                           \
	} while (0)

static double now_s(void)
{
	return (double)memxd_now_ns() / 1e9;
}

struct found {
	const char *key;
	bool there;
	char value[512];
};

static int find_key(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
		    size_t value_len)
{
	struct found *f = ctx;

	if (key_len == strlen(f->key) && !memcmp(key, f->key, key_len)) {
		f->there = true;
		snprintf(f->value, sizeof(f->value), "%.*s", (int)value_len, (const char *)value);
	}
	return 0;
}

/* Whether key is in etcd now (-1: could not ask). */
static int listed(struct memxd_etcd *e, const char *prefix, const char *key, char *value)
{
	struct found f = { .key = key };

	if (memxd_etcd_range_prefix(e, prefix, find_key, &f))
		return -1;
	if (value)
		strcpy(value, f.value);
	return f.there;
}

/* Seconds until key is gone (polled every 100 ms), or -1 after limit_s. */
static double wait_gone(struct memxd_etcd *e, const char *prefix, const char *key, double limit_s)
{
	double t0 = now_s();

	while (now_s() - t0 < limit_s) {
		if (listed(e, prefix, key, NULL) == 0)
			return now_s() - t0;
		usleep(100 * 1000);
	}
	return -1;
}

static void test_calls(struct memxd_etcd *e)
{
	int64_t lease = 0, ttl = 0;
	char value[512];

	check(!memxd_etcd_grant(e, 30, &lease) && lease > 0, "lease/grant: lease %" PRId64,
	      lease);
	check(!memxd_etcd_put(e, "/t1/a", "hello", lease), "kv/put under the lease");
	check(listed(e, "/t1/", "/t1/a", value) == 1 && !strcmp(value, "hello"),
	      "kv/range over the prefix finds it");
	check(listed(e, "/t1/a", "/t1/a", NULL) == 1 && listed(e, "/t1/b/", "/t1/a", NULL) == 0,
	      "the range is the prefix's, no more");
	check(!memxd_etcd_keepalive(e, lease, &ttl) && ttl > 25, "lease/keepalive: TTL %" PRId64,
	      ttl);
	check(!memxd_etcd_revoke(e, lease), "lease/revoke");
	check(listed(e, "/t1/", "/t1/a", NULL) == 0, "the key went with its lease");
	check(memxd_etcd_keepalive(e, lease, &ttl) == -ENOENT,
	      "a keepalive of a revoked lease is -ENOENT (%s)", memxd_etcd_why(e));
	check(memxd_etcd_revoke(e, lease) == -ENOENT, "revoking it again is -ENOENT");
	check(memxd_etcd_put(e, "/t1/b", "x", 12345) < 0,
	      "a put under a lease etcd does not know fails (%s)", memxd_etcd_why(e));
}

static void test_expiry(struct memxd_etcd *e)
{
	int64_t lease = 0, ttl;
	double gone;

	/* etcd's shortest lease is 3 s here (3 x its election timeout of 1 s) */
	check(!memxd_etcd_grant(e, 3, &lease), "grant a 3 s lease");
	check(!memxd_etcd_put(e, "/t2/a", "v", lease), "put under it");
	sleep(2);
	check(!memxd_etcd_keepalive(e, lease, &ttl), "kept alive once, after 2 s");
	gone = wait_gone(e, "/t2/", "/t2/a", 15);
	check(gone >= 2.0 && gone <= 6.0,
	      "no more keepalives: the key is gone %.1f s later (lease 3 s)", gone);
}

static void test_threads(const struct memxd_etcd_url *u, struct memxd_etcd *e)
{
	struct memxd_dir_donor self = { .host = "10.9.8.7", .port = 7471, .zone = "z1",
					.id = "0123456789abcdef0123456789abcdef",
					.capacity = 64ULL << 20, .free = 64ULL << 20 };
	struct memxd_dir_donor got[8];
	struct memxd_dir *reg = NULL, *watch = NULL;
	struct memxd_dir_status st;
	char key[256], value[512];
	uint64_t gen = 0;
	double t0;
	int n = -1;

	snprintf(key, sizeof(key), "%s10.9.8.7:7471", u->prefix);
	check(!memxd_dir_register_start(u, &self, 3, &reg), "a donor's thread starts");
	check(!memxd_dir_watch_start(u, 200, &watch), "a client's thread starts");
	for (t0 = now_s(); now_s() - t0 < 5; usleep(50 * 1000)) {
		n = memxd_dir_take(watch, &gen, got, 8);
		if (n > 0)
			break;
	}
	check(n == 1 && !strcmp(got[0].host, "10.9.8.7") && got[0].port == 7471 &&
	      !strcmp(got[0].zone, "z1") && got[0].capacity == 64ULL << 20,
	      "the client's thread lists the donor, with its zone and capacity (%.2f s)",
	      now_s() - t0);
	check(memxd_dir_take(watch, &gen, got, 8) == -EAGAIN, "the same listing is not taken twice");
	memxd_dir_status(reg, &st);
	check(!strcmp(st.state, "registered") && st.lease > 0 && !st.last_error[0],
	      "the donor's status: %s, lease %" PRId64, st.state, st.lease);
	memxd_dir_set_free(reg, 16ULL << 20);
	/* The free memory goes out with the next keepalive (every third of the lease). */
	for (t0 = now_s(); now_s() - t0 < 4; usleep(100 * 1000))
		if (listed(e, u->prefix, key, value) == 1 && strstr(value, "\"free\":16777216"))
			break;
	check(strstr(value, "\"free\":16777216") != NULL, "a change of free memory reached etcd "
	      "in %.1f s: %s", now_s() - t0, value);
	sleep(4);	/* past the 3 s lease: kept alive */
	check(listed(e, u->prefix, key, NULL) == 1, "still listed after 4 s (lease 3 s): kept alive");
	t0 = now_s();
	memxd_dir_withdraw(reg);
	check(wait_gone(e, u->prefix, key, 2) >= 0, "withdrawn: unlisted in %.2f s",
	      now_s() - t0);
	memxd_dir_status(reg, &st);
	check(!strcmp(st.state, "withdrawn"), "the donor's status says withdrawn");
	for (t0 = now_s(); now_s() - t0 < 3; usleep(50 * 1000)) {
		n = memxd_dir_take(watch, &gen, got, 8);
		if (n == 0)
			break;
	}
	check(n == 0, "the client's next listing is empty");
	memxd_dir_stop(reg);
	memxd_dir_stop(watch);
}

/* A donor process that lists itself and then waits to be killed. */
static void test_sigkill(const struct memxd_etcd_url *u, struct memxd_etcd *e)
{
	struct memxd_dir_donor self = { .host = "10.9.8.6", .port = 7471,
					.id = "fedcba9876543210fedcba9876543210",
					.capacity = 1 << 20, .free = 1 << 20 };
	char key[256];
	double t0, gone;
	pid_t pid;
	int status;

	snprintf(key, sizeof(key), "%s10.9.8.6:7471", u->prefix);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct memxd_dir *reg;

		if (memxd_dir_register_start(u, &self, 3, &reg))
			_exit(1);
		for (;;)
			pause();
	}
	for (t0 = now_s(); now_s() - t0 < 5; usleep(50 * 1000))
		if (listed(e, u->prefix, key, NULL) == 1)
			break;
	check(listed(e, u->prefix, key, NULL) == 1, "a donor process listed itself");
	sleep(2);	/* mid-lease: a keepalive has been sent */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	t0 = now_s();
	usleep(500 * 1000);
	check(listed(e, u->prefix, key, NULL) == 1,
	      "0.5 s after kill -9 it is still listed (nobody revoked its lease)");
	gone = wait_gone(e, u->prefix, key, 10);
	gone = gone < 0 ? -1 : gone + 0.5;
	check(gone > 0 && gone <= 3.0 + 1.5,
	      "after kill -9 it is unlisted by its lease's end: %.1f s (lease 3 s)", gone);
}

static void test_dead_etcd(void)
{
	struct memxd_etcd_url u = { .host = "127.0.0.1", .prefix = "/x/" };
	struct memxd_dir_donor self = { .host = "10.9.8.5", .port = 1,
					.id = "00000000000000000000000000000000" };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct memxd_dir_status st;
	struct memxd_etcd *e;
	struct memxd_dir *reg;
	int64_t lease;
	double t0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port nobody listens on: bound, then closed. */
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	u.port = ntohs(sa.sin_port);
	close(fd);
	memxd_etcd_open(&u, 1000, &e);
	t0 = now_s();
	check(memxd_etcd_grant(e, 3, &lease) < 0 && now_s() - t0 < 1.5,
	      "no etcd: lease/grant fails in %.2f s (%s)", now_s() - t0, memxd_etcd_why(e));
	memxd_etcd_close(e);
	check(!memxd_dir_register_start(&u, &self, 3, &reg), "a donor's thread starts anyway");
	usleep(1500 * 1000);
	memxd_dir_status(reg, &st);
	check(!strcmp(st.state, "registering") && st.last_error[0] && st.errors >= 1,
	      "its status: %s, %" PRIu64 " error(s), last: %s", st.state, st.errors,
	      st.last_error);
	t0 = now_s();
	memxd_dir_stop(reg);
	check(now_s() - t0 < 3, "stopping it took %.2f s", now_s() - t0);
}

/* A fake etcd: answers every request with the next canned reply. */
static const struct {
	const char *status;	/* NULL: not HTTP at all */
	const char *body;	/* NULL: an endless body (more than MEMXD_ETCD_REPLY_MAX) */
	int cut;		/* bytes of the body left unsent (Content-Length says them) */
} fake_replies[] = {
	{ "200 OK", "not json", 0 },
	{ "200 OK", "[]", 0 },
	{ "500 Internal Server Error", "<html>oops</html>", 0 },
	{ "200 OK", "{\"ID\":\"1\",\"TTL\":\"nope\"}", 0 },
	{ "200 OK", "{\"result\":{\"TTL\":{\"x\":1}}}", 0 },
	{ "200 OK", "{\"header\":{},\"kvs\":[{\"key\":\"***\"}]}", 0 },
	{ "200 OK", "{\"ID\":\"7\",\"TTL\":\"3\"}", 5 },	/* cut short */
	{ "200 OK", "{\"error\":\"etcdserver: no leader\",\"code\":14}", 0 },
	{ "200 OK", "{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"value\":[1,2]}]}", 0 },
	{ NULL, "garbage that is not HTTP", 0 },
	{ "200 OK", NULL, 0 },
};
#define NR_FAKE (sizeof(fake_replies) / sizeof(fake_replies[0]))

static void *fake_etcd(void *arg)
{
	int lfd = *(int *)arg;
	char buf[4096], head[256];

	for (size_t i = 0; i < NR_FAKE; i++) {
		const char *body = fake_replies[i].body;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			break;
		(void)!read(fd, buf, sizeof(buf));
		if (!fake_replies[i].status) {
			(void)!write(fd, body, strlen(body));
		} else if (body) {
			snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n", fake_replies[i].status, strlen(body));
			(void)!write(fd, head, strlen(head));
			(void)!write(fd, body, strlen(body) - (size_t)fake_replies[i].cut);
		} else {
			static char junk[65536];
			const char *h = "HTTP/1.1 200 OK\r\n\r\n";

			memset(junk, '{', sizeof(junk));
			(void)!write(fd, h, strlen(h));
			for (int k = 0; k < 80; k++)	/* 5 MiB */
				if (write(fd, junk, sizeof(junk)) < 0)
					break;
		}
		close(fd);
	}
	return NULL;
}

static void test_fake_etcd(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct memxd_etcd_url u = { .host = "127.0.0.1", .prefix = "/x/" };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct memxd_etcd *e;
	pthread_t t;
	int64_t v;
	int r;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(lfd, 8);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	u.port = ntohs(sa.sin_port);
	pthread_create(&t, NULL, fake_etcd, &lfd);
	memxd_etcd_open(&u, 2000, &e);
	for (size_t i = 0; i < NR_FAKE; i++) {
		/* Each kind of call in turn: a new connection each (the fake closes). */
		switch (i % 3) {
		case 0:
			r = memxd_etcd_grant(e, 3, &v);
			break;
		case 1:
			r = memxd_etcd_keepalive(e, 1, &v);
			break;
		default:
			r = memxd_etcd_range_prefix(e, "/x/", find_key, &(struct found){ .key = "k" });
			break;
		}
		check(r < 0, "fake etcd answer %zu: an error, %d (%s)", i, r, memxd_etcd_why(e));
	}
	memxd_etcd_close(e);
	pthread_join(t, NULL);
	close(lfd);
}

/* An etcd that takes the connection and never answers: each call ends at its timeout. */
static void test_hung_etcd(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct memxd_etcd_url u = { .host = "127.0.0.1", .prefix = "/x/" };
	struct memxd_dir_donor self = { .host = "10.9.8.4", .port = 1,
					.id = "00000000000000000000000000000000" };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct memxd_etcd *e;
	struct memxd_dir *reg;
	int64_t lease;
	double t0;
	int r;

	/* Listening, never accepting: the kernel completes the handshake, nobody reads. */
	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(lfd, 8);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	u.port = ntohs(sa.sin_port);
	memxd_etcd_open(&u, 1000, &e);
	t0 = now_s();
	r = memxd_etcd_grant(e, 3, &lease);
	check(r == -ETIMEDOUT && now_s() - t0 < 1.6,
	      "a hung etcd: lease/grant gives up after %.2f s (timeout 1 s): %d (%s)",
	      now_s() - t0, r, memxd_etcd_why(e));
	memxd_etcd_close(e);
	check(!memxd_dir_register_start(&u, &self, 3, &reg), "a donor's thread starts against it");
	usleep(500 * 1000);	/* in its first call */
	t0 = now_s();
	memxd_dir_stop(reg);
	check(now_s() - t0 < MEMXD_DIR_HTTP_TIMEOUT_MS / 1000.0 + 0.5,
	      "stopping it waits only for the call in progress: %.2f s", now_s() - t0);
	close(lfd);
}

int main(int argc, char **argv)
{
	struct memxd_etcd_url u;
	struct memxd_etcd *e;
	char why[MEMXD_ETCD_WHY_LEN], url[256];

	if (argc != 2) {
		fprintf(stderr, "usage: etcd_live HOST:PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(url, sizeof(url), "etcd://%s/memxtest/donors", argv[1]);
	if (memxd_etcd_parse_url(url, &u, why, sizeof(why))) {
		fprintf(stderr, "%s: %s\n", url, why);
		return 2;
	}
	if (memxd_etcd_open(&u, 2000, &e))
		return 1;
	test_calls(e);
	test_expiry(e);
	test_threads(&u, e);
	test_sigkill(&u, e);
	test_dead_etcd();
	test_hung_etcd();
	test_fake_etcd();
	memxd_etcd_close(e);
	printf("1..%d\n", nr);
	return failed;
}
