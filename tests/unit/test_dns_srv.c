// SPDX-License-Identifier: GPL-2.0
/*
 * --directory srv://: the URL, the decoding of DNS answers built here byte
 * by byte (forged and broken ones too: an answer is the network's word), and
 * the query against a DNS server of the test's own on 127.0.0.1 (one that
 * answers, one that says "no such name", and one that never answers).
 * Finally the directory thread itself lists the donors that server names.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/directory.h"
#include "common/dns_srv.h"

Test(dns_srv, url)
{
	struct memxd_srv_url u;
	char why[128], out[320];

	cr_assert_eq(memxd_srv_parse_url("srv://memx.example.org", &u, why, sizeof(why)), 0);
	cr_expect_str_eq(u.name, "_memx._tcp.memx.example.org");
	cr_expect_str_eq(u.server, "");
	memxd_srv_format_url(&u, out, sizeof(out));
	cr_expect_str_eq(out, "srv://memx.example.org");
	cr_assert_eq(memxd_srv_parse_url("srv://c1.lan.@127.0.0.1:5353", &u, why, sizeof(why)), 0);
	cr_expect_str_eq(u.name, "_memx._tcp.c1.lan.");
	cr_expect_str_eq(u.server, "127.0.0.1");
	cr_expect_eq(u.server_port, 5353);
	memxd_srv_format_url(&u, out, sizeof(out));
	cr_expect_str_eq(out, "srv://c1.lan.@127.0.0.1:5353");
	cr_assert_eq(memxd_srv_parse_url("srv://lan@10.0.0.1", &u, why, sizeof(why)), 0);
	cr_expect_eq(u.server_port, 53);

	static const char *const bad[] = {
		"etcd://lan", "srv://", "srv://.", "srv://a..b", "srv://.a", "srv://a b",
		"srv://a/b", "srv://a;rm", "srv://lan@", "srv://lan@host.name", "srv://lan@::1",
		"srv://lan@[::1]:53", "srv://lan@10.0.0.1:0", "srv://lan@10.0.0.1:65536",
		"srv://lan@10.0.0.1:x",
		"srv://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_expect_eq(memxd_srv_parse_url(bad[i], &u, why, sizeof(why)), -EINVAL, "%s",
			     bad[i]);
		cr_expect_neq(why[0], '\0', "%s: a reason", bad[i]);
	}
	/* A domain so long that the service name in front would pass 253 characters. */
	char lng[300] = "srv://";
	for (int i = 0; i < 4; i++)
		strcat(lng, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
	cr_expect_eq(memxd_srv_parse_url(lng, &u, why, sizeof(why)), -EINVAL);
}

/* A DNS message under construction. */
struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put16(struct msg *m, unsigned int v)
{
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);

		m->b[m->n++] = (uint8_t)len;
		memcpy(m->b + m->n, name, len);
		m->n += len;
		name += len + (dot ? 1 : 0);
	}
	m->b[m->n++] = 0;
}

/* A header with answer count an, rcode, and the question for name (SRV, IN). */
static void start_answer(struct msg *m, uint16_t id, unsigned int an, unsigned int rcode,
			 const char *name)
{
	m->n = 0;
	put16(m, id);
	put16(m, 0x8180 | rcode);	/* QR, RD, RA */
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	put_name(m, name);
	put16(m, 33);
	put16(m, 1);
}

/* An SRV record for the question's name (a pointer to offset 12). */
static void put_srv(struct msg *m, unsigned int port, const char *target)
{
	size_t rdlen_at;

	put16(m, 0xc00c);
	put16(m, 33);
	put16(m, 1);
	put32(m, 60);
	rdlen_at = m->n;
	put16(m, 0);
	put16(m, 10);	/* priority */
	put16(m, 5);	/* weight */
	put16(m, port);
	put_name(m, target);
	m->b[rdlen_at] = (uint8_t)((m->n - rdlen_at - 2) >> 8);
	m->b[rdlen_at + 1] = (uint8_t)(m->n - rdlen_at - 2);
}

static const char qname[] = "_memx._tcp.c1.lan";

Test(dns_srv, decode)
{
	struct memxd_dir_donor d[4];
	unsigned int skipped;
	char why[128];
	struct msg m;

	start_answer(&m, 1, 3, 0, qname);
	put_srv(&m, 7471, "donor-a.c1.lan");
	put_srv(&m, 7500, "10.77.0.3");
	put_srv(&m, 7471, ".");		/* no service: skipped */
	cr_assert_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), 2, "%s", why);
	cr_expect_str_eq(d[0].host, "donor-a.c1.lan");
	cr_expect_eq(d[0].port, 7471);
	cr_expect_str_eq(d[1].host, "10.77.0.3");
	cr_expect_eq(d[1].port, 7500);
	cr_expect_str_eq(d[1].id, "", "SRV gives no id");
	cr_expect_str_eq(d[1].zone, "");
	cr_expect_eq(skipped, 1);

	/* Only as many as asked for; the rest counted as skipped. */
	cr_assert_eq(memxd_srv_decode(m.b, m.n, d, 1, &skipped, why, sizeof(why)), 1);
	cr_expect_eq(skipped, 2);

	/* A target no --donor would take, or port 0: skipped, never listed. */
	start_answer(&m, 1, 3, 0, qname);
	put_srv(&m, 7471, "evil host");
	put_srv(&m, 0, "donor-b.c1.lan");
	put_srv(&m, 7471, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbb.c1.lan");
	cr_assert_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), 0);
	cr_expect_eq(skipped, 3);

	/* NXDOMAIN, and an empty answer: no donors, said as such. */
	start_answer(&m, 1, 0, 3, qname);
	cr_expect_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), -ENOENT);
	start_answer(&m, 1, 0, 0, qname);
	cr_expect_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), -ENOENT);
	/* SERVFAIL */
	start_answer(&m, 1, 0, 2, qname);
	why[0] = '\0';
	cr_expect_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), -EPROTO);
	cr_expect_neq(why[0], '\0');

	/* A query is not an answer. */
	start_answer(&m, 1, 1, 0, qname);
	put_srv(&m, 7471, "donor-a.c1.lan");
	m.b[2] &= 0x7f;
	cr_expect_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), -EPROTO);

	/* Cut short at every length: refused or fewer, never read past the end (ASan). */
	start_answer(&m, 1, 2, 0, qname);
	put_srv(&m, 7471, "donor-a.c1.lan");
	put_srv(&m, 7472, "donor-b.c1.lan");
	for (size_t len = 0; len < m.n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		int r;

		memcpy(copy, m.b, len);
		r = memxd_srv_decode(copy, len, d, 4, &skipped, why, sizeof(why));
		cr_expect(r == -EPROTO || (r >= 0 && r < 2), "cut at %zu: %d", len, r);
		free(copy);
	}

	/* A target name whose compression pointer loops: malformed. */
	start_answer(&m, 1, 1, 0, qname);
	put16(&m, 0xc00c);
	put16(&m, 33);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 8);
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 7471);
	put16(&m, 0xc000 | (unsigned int)(m.n));	/* points at itself */
	cr_expect_eq(memxd_srv_decode(m.b, m.n, d, 4, &skipped, why, sizeof(why)), -EPROTO);
}

/* A DNS server of the test's own: answers every query per mode, until stopped. */
enum server_mode { ANSWER, NXDOMAIN, SILENT };

struct server {
	int fd;
	uint16_t port;
	enum server_mode mode;
	unsigned int queries;
	volatile bool stop;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	uint8_t q[512];

	while (!s->stop) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct msg m;
		ssize_t n;

		n = recvfrom(s->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (n < 12)
			continue;
		s->queries++;
		if (s->mode == SILENT)
			continue;
		start_answer(&m, (uint16_t)(q[0] << 8 | q[1]), s->mode == ANSWER ? 2 : 0,
			     s->mode == ANSWER ? 0 : 3, qname);
		if (s->mode == ANSWER) {
			put_srv(&m, 7471, "127.0.0.1");
			put_srv(&m, 7472, "donor-b.c1.lan");
		}
		sendto(s->fd, m.b, m.n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void server_start(struct server *s, enum server_mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_usec = 100000 };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s->port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	s->stop = true;
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static void url_for(struct server *s, struct memxd_srv_url *u)
{
	char url[128], why[128];

	snprintf(url, sizeof(url), "srv://c1.lan@127.0.0.1:%u", s->port);
	cr_assert_eq(memxd_srv_parse_url(url, u, why, sizeof(why)), 0, "%s", why);
}

Test(dns_srv, query)
{
	struct memxd_dir_donor d[4];
	struct memxd_srv_url u;
	unsigned int skipped;
	uint8_t buf[MEMXD_SRV_ANSWER_MAX];
	char why[128];
	struct server s;
	uint64_t t0;
	int n;

	server_start(&s, ANSWER);
	url_for(&s, &u);
	n = memxd_srv_query(&u, 1000, buf, sizeof(buf), why, sizeof(why));
	cr_assert_gt(n, 0, "%s", why);
	cr_assert_eq(memxd_srv_decode(buf, (size_t)n, d, 4, &skipped, why, sizeof(why)), 2);
	cr_expect_str_eq(d[0].host, "127.0.0.1");
	cr_expect_str_eq(d[1].host, "donor-b.c1.lan");
	cr_expect_eq(d[1].port, 7472);
	server_stop(&s);

	server_start(&s, NXDOMAIN);
	url_for(&s, &u);
	cr_expect_eq(memxd_srv_query(&u, 1000, buf, sizeof(buf), why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "no such name"), "%s", why);
	server_stop(&s);

	/* Nobody answers: bounded (1 s per try, one retry), and said. */
	server_start(&s, SILENT);
	url_for(&s, &u);
	t0 = memxd_now_ns();
	cr_expect_eq(memxd_srv_query(&u, 1000, buf, sizeof(buf), why, sizeof(why)), -ETIMEDOUT,
		     "%s", why);
	cr_expect_lt(memxd_now_ns() - t0, 5 * MEMXD_NS_PER_S);
	cr_expect_geq(s.queries, 1);
	server_stop(&s);
}

/* The client's thread on DNS: a listing the control thread takes, and status. */
Test(dns_srv, directory_thread)
{
	struct memxd_dir_donor d[MEMXD_DIR_MAX_LISTED];
	struct memxd_dir_status st;
	struct memxd_srv_url u;
	struct memxd_dir *dir;
	uint64_t gen = 0;
	struct server s;
	int n = -EAGAIN;

	server_start(&s, ANSWER);
	url_for(&s, &u);
	cr_assert_eq(memxd_dir_watch_srv_start(&u, 200, &dir), 0);
	for (int i = 0; i < 50 && n == -EAGAIN; i++) {
		usleep(100000);
		n = memxd_dir_take(dir, &gen, d, MEMXD_DIR_MAX_LISTED);
	}
	cr_assert_eq(n, 2);
	cr_expect_str_eq(d[0].host, "127.0.0.1");
	memxd_dir_status(dir, &st);
	cr_expect_str_eq(st.state, "listed");
	cr_expect_eq(st.listed, 2);
	cr_expect_str_eq(st.last_error, "");
	cr_expect(strstr(st.url, "srv://c1.lan@127.0.0.1:"), "%s", st.url);
	/* The name goes: an empty listing, and the reason in status. */
	s.mode = NXDOMAIN;
	n = -EAGAIN;
	for (int i = 0; i < 50; i++) {
		usleep(100000);
		n = memxd_dir_take(dir, &gen, d, MEMXD_DIR_MAX_LISTED);
		if (n == 0)
			break;
	}
	cr_expect_eq(n, 0);
	memxd_dir_status(dir, &st);
	cr_expect(strstr(st.last_error, "no such name"), "%s", st.last_error);
	memxd_dir_stop(dir);
	server_stop(&s);
}
