// SPDX-License-Identifier: GPL-2.0
/*
 * The directory's parsers, without an etcd: --directory's URL, the v3
 * gateway's answers (as etcd 3.4 writes them, and as a broken or hostile
 * one might), and a donor's entry. Every bad input is an error with a
 * reason, never a crash. (etcd_live.sh runs the same code against a real etcd.)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/directory.h"
#include "common/etcd.h"

static char why[MEMXD_ETCD_WHY_LEN];

Test(etcd, url_good)
{
	struct memxd_etcd_url u;

	cr_assert_eq(memxd_etcd_parse_url("etcd://127.0.0.1:2379", &u, why, sizeof(why)), 0);
	cr_assert_str_eq(u.host, "127.0.0.1");
	cr_assert_eq(u.port, 2379);
	cr_assert_str_eq(u.prefix, "/memx/donors/");
	cr_assert_eq(memxd_etcd_parse_url("etcd://etcd.lan", &u, why, sizeof(why)), 0);
	cr_assert_eq(u.port, MEMXD_ETCD_DEFAULT_PORT);
	cr_assert_eq(memxd_etcd_parse_url("etcd://10.0.0.1:4001/a/b-c_d.e", &u, why, sizeof(why)),
		     0);
	cr_assert_str_eq(u.prefix, "/a/b-c_d.e/");
	cr_assert_eq(memxd_etcd_parse_url("etcd://[::1]:2379/x/", &u, why, sizeof(why)), 0);
	cr_assert_str_eq(u.host, "::1");
	cr_assert_str_eq(u.prefix, "/x/");
	cr_assert_eq(memxd_etcd_parse_url("etcd://h:1/", &u, why, sizeof(why)), 0);
	cr_assert_str_eq(u.prefix, "/memx/donors/");
}

Test(etcd, url_bad)
{
	static const char *bad[] = {
		"", "etcd:/h", "http://h:2379", "etcd://", "etcd:///p", "etcd://h:0",
		"etcd://h:65536", "etcd://h:x", "etcd://h:2379//", "etcd://h:2379/a//b",
		"etcd://h:2379/a/../b", "etcd://h:2379/./", "etcd://h:2379/a b",
		"etcd://h:2379/a?b", "etcd://user@h:2379", "etcd://h:2379#f", "etcd://h%41",
		"etcd://h:2379/\xff", "etcd://[::1:2379", "ETCD://h",
	};
	struct memxd_etcd_url u;
	char longp[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_assert_eq(memxd_etcd_parse_url(bad[i], &u, why, sizeof(why)), -EINVAL,
			     "'%s' taken", bad[i]);
		cr_assert(why[0], "'%s' refused without a reason", bad[i]);
	}
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "etcd://h:1/", 11);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(memxd_etcd_parse_url(longp, &u, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "longer"));
}

/* As etcd 3.4.23 answers (captured from etcd-server 3.4.23-4). */
#define HDR "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\"," \
	    "\"revision\":\"2\",\"raft_term\":\"2\"}"

Test(etcd, answers_good)
{
	const char *grant = "{" HDR ",\"ID\":\"2324035752487084037\",\"TTL\":\"5\"}";
	const char *ka = "{\"result\":{" HDR ",\"ID\":\"2324035752487084042\",\"TTL\":\"5\"}}";
	const char *ka_gone = "{\"result\":{" HDR ",\"ID\":\"1\"}}";
	const char *notfound = "{\"error\":\"etcdserver: requested lease not found\",\"message\":"
			       "\"etcdserver: requested lease not found\",\"code\":5}";
	int64_t id = 0, ttl = 0;

	cr_assert_eq(memxd_etcd_parse_grant(grant, strlen(grant), &id, &ttl, why, sizeof(why)), 0);
	cr_assert_eq(id, 2324035752487084037LL);
	cr_assert_eq(ttl, 5);
	cr_assert_eq(memxd_etcd_parse_keepalive(ka, strlen(ka), &ttl, why, sizeof(why)), 0);
	cr_assert_eq(ttl, 5);
	cr_assert_eq(memxd_etcd_parse_keepalive(ka_gone, strlen(ka_gone), &ttl, why, sizeof(why)),
		     -ENOENT);
	cr_assert_eq(memxd_etcd_parse_ack(notfound, strlen(notfound), why, sizeof(why)), -ENOENT);
	cr_assert(strstr(why, "lease not found"));
	cr_assert_eq(memxd_etcd_parse_ack("{" HDR "}", strlen("{" HDR "}"), why, sizeof(why)), 0);
}

struct kvs {
	int n;
	char key[4][64], value[4][256];
};

static int collect(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
		   size_t value_len)
{
	struct kvs *k = ctx;

	cr_assert(k->n < 4 && key_len < 64 && value_len < 256);
	memcpy(k->key[k->n], key, key_len);
	memcpy(k->value[k->n], value, value_len);
	k->n++;
	return 0;
}

Test(etcd, range)
{
	/* {"a": "bar"} and {"b": ""} (etcd leaves an empty value out) */
	const char *two = "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":\"2\","
			  "\"value\":\"YmFy\"},{\"key\":\"Yg==\"}],\"count\":\"2\"}";
	const char *none = "{" HDR "}";
	struct kvs k = { 0 };

	cr_assert_eq(memxd_etcd_parse_range(two, strlen(two), collect, &k, why, sizeof(why)), 0);
	cr_assert_eq(k.n, 2);
	cr_assert_str_eq(k.key[0], "a");
	cr_assert_str_eq(k.value[0], "bar");
	cr_assert_str_eq(k.key[1], "b");
	cr_assert_str_eq(k.value[1], "");
	k.n = 0;
	cr_assert_eq(memxd_etcd_parse_range(none, strlen(none), collect, &k, why, sizeof(why)), 0);
	cr_assert_eq(k.n, 0);
}

Test(etcd, answers_hostile)
{
	static const char *bad[] = {
		"", "not json", "[]", "\"s\"", "{", "{\"header\":", "null", "{}x",
		"{\"ID\":\"12x\",\"TTL\":\"5\"}", "{\"ID\":\"-1\",\"TTL\":\"5\"}",
		"{\"ID\":\"99999999999999999999\",\"TTL\":\"5\"}", "{\"ID\":{},\"TTL\":\"5\"}",
		"{\"ID\":\"1\",\"TTL\":\"0\"}", "{\"ID\":\"1\"}", "{\"error\":\"x\",\"code\":13}",
		"{\"code\":\"five\"}", "{\"result\":[]}", "{\"result\":{\"TTL\":true}}",
		"{\"header\":{},\"kvs\":{}}", "{\"header\":{},\"kvs\":[1]}",
		"{\"header\":{},\"kvs\":[{\"key\":\"!!!\"}]}",
		"{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"value\":7}]}",
		"{\"header\":{},\"kvs\":[{\"value\":\"YQ==\"}]}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		"]]]]]]]]]]]]]]]]]]}",
	};
	int64_t id, ttl;
	struct kvs k;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		int r;

		k.n = 0;
		why[0] = '\0';
		r = memxd_etcd_parse_grant(bad[i], n, &id, &ttl, why, sizeof(why));
		cr_assert(r == -EPROTO || r == -ENOENT, "grant took '%s'", bad[i]);
		cr_assert(why[0]);
		r = memxd_etcd_parse_keepalive(bad[i], n, &ttl, why, sizeof(why));
		cr_assert(r == -EPROTO || r == -ENOENT, "keepalive took '%s'", bad[i]);
		if (strstr(bad[i], "kvs") || !strchr(bad[i], '{')) {
			r = memxd_etcd_parse_range(bad[i], n, collect, &k, why, sizeof(why));
			cr_assert(r < 0, "range took '%s'", bad[i]);
		}
	}
	/* A length shorter than the text: only len bytes are read. */
	cr_assert_eq(memxd_etcd_parse_ack("{\"header\":{}}", 5, why, sizeof(why)), -EPROTO);
}

Test(etcd, donor_entry)
{
	struct memxd_dir_donor d = { .host = "10.0.0.2", .port = 7471, .zone = "rack1",
				     .id = "00112233445566778899aabbccddeeff",
				     .capacity = 1ULL << 30, .free = 1ULL << 29 }, e;
	struct memxd_dir_donor v6 = d;
	char json[512], key[256];
	int n;

	n = memxd_dir_donor_encode(&d, json, sizeof(json));
	cr_assert_gt(n, 0);
	cr_assert_eq(memxd_dir_donor_decode((uint8_t *)json, (size_t)n, &e, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_str_eq(e.host, "10.0.0.2");
	cr_assert_eq(e.port, 7471);
	cr_assert_str_eq(e.zone, "rack1");
	cr_assert_str_eq(e.id, d.id);
	cr_assert_eq(e.capacity, d.capacity);
	cr_assert_eq(e.free, d.free);
	cr_assert_eq(memxd_dir_donor_key("/memx/donors/", &d, key, sizeof(key)), 0);
	cr_assert_str_eq(key, "/memx/donors/10.0.0.2:7471");
	strcpy(v6.host, "fd00::2");
	n = memxd_dir_donor_encode(&v6, json, sizeof(json));
	cr_assert_eq(memxd_dir_donor_decode((uint8_t *)json, (size_t)n, &e, why, sizeof(why)), 0);
	cr_assert_str_eq(e.host, "fd00::2");
	cr_assert_eq(memxd_dir_donor_encode(&d, json, 20), -ENOSPC);
}

Test(etcd, donor_entry_bad)
{
	static const char *bad[] = {
		"", "{}", "[]", "x",
		"{\"address\":\"10.0.0.2\",\"zone\":\"\",\"id\":\"00112233445566778899aabbccddeeff\","
		"\"capacity\":1,\"free\":1}",	/* no port */
		"{\"address\":\"10.0.0.2:7471\",\"zone\":\"a b\",\"id\":\"00112233445566778899aabb"
		"ccddeeff\",\"capacity\":1,\"free\":1}",
		"{\"address\":\"10.0.0.2:7471\",\"zone\":\"\",\"id\":\"0011\",\"capacity\":1,"
		"\"free\":1}",
		"{\"address\":\"10.0.0.2:7471\",\"zone\":\"\",\"id\":\"00112233445566778899AABBCCDDEEFF"
		"\",\"capacity\":1,\"free\":1}",
		"{\"address\":\"10.0.0.2:7471\",\"zone\":\"\",\"id\":\"00112233445566778899aabbccddeeff"
		"\",\"capacity\":1,\"free\":2}",
		"{\"address\":\"10.0.0.2:7471\",\"zone\":\"\",\"id\":\"00112233445566778899aabbccddeeff"
		"\",\"capacity\":-1,\"free\":0}",
		"{\"address\":\"10.0.0.2:7471\",\"zone\":\"\",\"id\":\"00112233445566778899aabbccddeeff"
		"\",\"capacity\":\"1\",\"free\":0}",
		"{\"address\":\"10.0.0.2:7471\\u0000x\",\"zone\":\"\",\"id\":\"00112233445566778899aabb"
		"ccddeeff\",\"capacity\":1,\"free\":0}",
		"{\"address\":[\"10.0.0.2:7471\"],\"zone\":\"\",\"id\":\"00112233445566778899aabb"
		"ccddeeff\",\"capacity\":1,\"free\":0}",
	};
	struct memxd_dir_donor e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_assert_eq(memxd_dir_donor_decode((const uint8_t *)bad[i], strlen(bad[i]), &e, why,
						    sizeof(why)), -EPROTO, "took '%s'", bad[i]);
		cr_assert(why[0]);
	}
}
