// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_seeds DIR: writes a small seed corpus for each fuzz target into
 * DIR/<target>/, the wire ones made by the encoders themselves so that they
 * follow the protocol as it is. ci/fuzz runs it before each fuzzing run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/wire.h"

static const char *dir;
static int failed;

static void seed(const char *target, int n, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		failed = 1;
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%02d", dir, target, n);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		failed = 1;
	}
}

/* A text seed; '|' stands for the NUL between arguments. */
static void text(const char *target, int n, const char *s)
{
	char buf[512];
	size_t len = strlen(s);

	memcpy(buf, s, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	seed(target, n, buf, len);
}

static void wire_seeds(void)
{
	struct memxd_hello_info h = { .role = MEMX_ROLE_CLIENT, .volume_id = { 1, 2, 3 } };
	struct memxd_welcome_info w = { .memory_total = 8ULL << 30, .memory_free = 6ULL << 30,
					.max_slab_shift = 30, .donor_id = { 9 },
					.host_id = { 1, 2, 3 }, .zone = "rack-1" };
	struct memxd_msg_info m[] = {
		{ .type = MEMX_MSG_ALLOC_SLAB, .seq = 1, .alloc = { 64 << 20, 7 } },
		{ .type = MEMX_MSG_ALLOC_REPLY, .seq = 1,
		  .grant = { 0x7f0000000000, 64 << 20, 1ULL << 30, 0x1234, 1 } },
		{ .type = MEMX_MSG_ALLOC_REPLY, .seq = 2, .status = ENOSPC },
		{ .type = MEMX_MSG_FREE_SLAB, .seq = 3, .free = { 1 } },
		{ .type = MEMX_MSG_FREE_REPLY, .seq = 3, .stats = { 8ULL << 30, 1ULL << 30, 2 } },
		{ .type = MEMX_MSG_STATS, .seq = 4 },
		{ .type = MEMX_MSG_STATS_REPLY, .seq = 4, .stats = { 8ULL << 30, 8ULL << 30, 0 } },
		{ .type = MEMX_MSG_EVICT, .evict = { 1ULL << 30, MEMX_EVICT_F_LEAVE } },
		{ .type = MEMX_MSG_RELEASE, .seq = 5 },
		{ .type = MEMX_MSG_STATE_KEEP, .seq = 6,
		  .state = { .tag = { 7, 7 }, .epoch = 2, .handle = 9, .length = 700000 } },
		{ .type = MEMX_MSG_STATE_READ, .seq = 7,
		  .state = { .remote_addr = 0x7f0000100000, .rkey = 0x42, .offset = 1 << 20,
			     .length = MEMX_STATE_PIECE } },
		{ .type = MEMX_MSG_STATE_READ, .seq = 8 },
		{ .type = MEMX_MSG_STATE_REPLY, .seq = 8, .state = { .epoch = 2, .length = 700000 } },
		{ .type = MEMX_MSG_STATE_REPLY, .seq = 9, .status = ENOENT },
		{ .type = MEMX_MSG_CLAIM, .seq = 10, .claim = { .first = 17, .bits = { 0xff, 1 } } },
		{ .type = MEMX_MSG_PRUNE, .seq = 11 },
		{ .type = MEMX_MSG_STATE_DROP, .seq = 12,
		  .state = { .tag = { 9, 8 }, .epoch = MEMX_STATE_GEN(2, 3) } },
	};
	uint8_t buf[MEMX_CM_REJECT_PDATA_MAX + 2];
	int n;

	memset(buf, 0, sizeof(buf));
	n = memxd_hello_encode(buf, sizeof(buf), &h);
	seed("hello", 0, buf, n);
	seed("hello", 1, buf, MEMX_CM_CONNECT_PDATA_MAX);	/* as rdma_cm pads it */
	h.role = MEMX_ROLE_JOIN;
	h.join_port = 7471;
	n = memxd_hello_encode(buf, sizeof(buf), &h);
	seed("hello", 2, buf, n);
	h.role = MEMX_ROLE_CLIENT;
	h.join_port = 0;
	h.flags = MEMX_HELLO_F_STATE;
	n = memxd_hello_encode(buf, sizeof(buf), &h);
	seed("hello", 3, buf, n);

	n = memxd_welcome_encode(buf, sizeof(buf), &w);
	seed("welcome", 0, buf, n);

	buf[0] = MEMX_REJECT_REASON_LEN;	/* the caller's reason buffer */
	buf[1] = 160;				/* the caller's explain buffer */
	n = memxd_reject_encode(buf + 2, sizeof(buf) - 2, MEMX_REJ_VERSION,
				"unsupported protocol version");
	seed("reject", 0, buf, n + 2);
	buf[0] = 10;
	buf[1] = 20;
	n = memxd_reject_encode(buf + 2, sizeof(buf) - 2, MEMX_REJ_BUSY, "busy");
	seed("reject", 1, buf, n + 2);

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		n = memxd_msg_encode(buf, sizeof(buf), &m[i]);
		if (n != MEMX_MSG_SIZE) {
			fprintf(stderr, "fuzz_seeds: message %zu does not encode\n", i);
			failed = 1;
			continue;
		}
		seed("msg", (int)i, buf, n);
	}
}

/* The directory's parsers: the first byte picks one (fuzz_etcd.c); answers as etcd 3.4 writes them. */
static void etcd_seeds(void)
{
	static const char *seeds[] = {
		"\x00{\"header\":{\"cluster_id\":\"3249\",\"revision\":\"1\"},\"ID\":\"2324035752487084037\","
		"\"TTL\":\"5\"}",
		"\x01{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"2324035752487084042\","
		"\"TTL\":\"5\"}}",
		"\x01{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"1\"}}",
		"\x02{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: "
		"requested lease not found\",\"code\":5}",
		"\x03{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\","
		"\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"YmFy\"},{\"key\":\"Yg==\"}],"
		"\"count\":\"2\"}",
		"\x04{\"address\":\"10.0.0.2:7471\",\"zone\":\"rack1\",\"id\":\"00112233445566778899aabb"
		"ccddeeff\",\"capacity\":1073741824,\"free\":536870912}",
		"\x04{\"address\":\"[fd00::2]:7471\",\"zone\":\"\",\"id\":\"00112233445566778899aabb"
		"ccddeeff\",\"capacity\":1,\"free\":0}",
		"\x05etcd://127.0.0.1:2379/memx/donors/",
		"\x05etcd://[::1]/a/b.c",
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		seed("etcd", (int)i, seeds[i], strlen(seeds[i] + 1) + 1);
}

/* DNS answers to _memx._tcp.c1.lan SRV (odd first byte) and URLs (even), for fuzz_srv.c. */
static void srv_seeds(void)
{
	/*
	 * The selector (1), then the header (id 1, QR RD RA, 1 question, 2
	 * answers), the question at offset 12 ("c1.lan" at 23), two SRV records
	 * whose targets point back into it: donor-a.c1.lan:7471, b.c1.lan:7472.
	 */
	static const uint8_t answer[] = {
		1,
		0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		5, '_', 'm', 'e', 'm', 'x', 4, '_', 't', 'c', 'p', 2, 'c', '1', 3, 'l', 'a', 'n', 0,
		0, 33, 0, 1,
		0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 16, 0, 10, 0, 5, 0x1d, 0x2f,
		7, 'd', 'o', 'n', 'o', 'r', '-', 'a', 0xc0, 23,
		0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 10, 0, 10, 0, 5, 0x1d, 0x30, 1, 'b', 0xc0, 23,
	};
	static const char *const urls[] = {
		"\x00srv://c1.lan", "\x00srv://memx.example.org.@127.0.0.1:5353",
	};

	seed("srv", 0, answer, sizeof(answer));
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		seed("srv", (int)i + 1, urls[i], strlen(urls[i] + 1) + 1);
}

int main(int argc, char **argv)
{
	static const char *const sizes[] = { "4096", "64K", "1TiB", "512B", "3m", "16383P",
					     "99999999999999999999", NULL };
	static const char *const hostports[] = { "10.0.0.1", "10.0.0.1:9000", "[fe80::1]:5",
						 "donor-1.example", "[::1]", NULL };
	static const char *const lines[] = { "status", "status --json --slabs",
					     "donor drain 10.0.0.2:7471", "donor add [fe80::1]:9000",
					     "donor add host", NULL };
	uint8_t buf[256];
	uint64_t min = 1, max = 256;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	wire_seeds();
	etcd_seeds();
	srv_seeds();
	for (int i = 0; sizes[i]; i++)
		text("parse_size", i, sizes[i]);
	memcpy(buf, &min, 8);
	memcpy(buf + 8, &max, 8);
	memcpy(buf + 16, "32", 2);
	seed("parse_uint", 0, buf, 18);
	memcpy(buf + 16, "65535", 5);
	seed("parse_uint", 1, buf, 21);
	for (int i = 0; hostports[i]; i++) {
		size_t len = strlen(hostports[i]);

		buf[0] = 64;	/* MEMXD_HOST_MAX */
		buf[1] = 7471 & 0xff;
		buf[2] = 7471 >> 8;
		memcpy(buf + 3, hostports[i], len);
		seed("parse_hostport", i, buf, len + 3);
	}
	for (int i = 0; lines[i]; i++)
		text("ctl", i, lines[i]);
	text("client_opts", 0, "--name|vol0|--size|1G|--donor|10.0.0.1");
	text("client_opts", 1, "--name|v.1|--size|64G|--donor|10.0.0.1:7000|--donor|[fe80::2]|"
	     "--donor|d3|--slab|1M|--queues|4|--depth|128|--max-io|1M|--replicas|3|"
	     "--rereplicate-rate|1G|--poll-us|0|--poll-queues|2|--bind|10.0.0.9|"
	     "--listen|0.0.0.0:7472|--ctl|/tmp/c.sock");
	text("client_opts", 2, "--name=v|--size=4K|--donor=h|extra");
	text("donor_opts", 0, "--listen|10.0.0.1|--memory|4G");
	text("donor_opts", 1, "--listen|[::1]:7000|--memory|1TiB|--join|10.0.0.9:7472|"
	     "--low-watermark|512M|--leave-timeout|30|--ctl|/tmp/d.sock");
	text("donor_opts", 2, "--listen=h|--memory=1M|-x");
	text("donor_opts", 3, "--listen|10.0.0.1|--memory|1G|--key-file|/etc/k|--allow-key|7|"
	     "--allow-key|9");
	text("client_opts", 3, "--name|v|--size|1G|--donor|h|--insecure");
	text("client_opts", 4, "--name|v|--size|1G|--donor|h|--directory|etcd://10.0.0.5:2379/memx/d");
	text("donor_opts", 4, "--listen|10.0.0.1|--memory|1G|--directory|etcd://[::1]");
	text("client_opts", 6, "--name|v|--size|1G|--directory|srv://c1.lan@10.0.0.5:53|"
	     "--directory-wait|60");
	text("client_opts", 5, "--name|v|--size|1G|--donor|h|--no-same-filled|--no-checksum|--overcommit");
	text("client_opts", 7, "--name|v|--size|1G|--donor|h|--grant-pool|16|--grant-pool|0|"
	     "--grant-pool|17");
	text("keyfile", 0, "# keys\n1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b"
	     "1c1d1e1f\n");
	text("keyfile", 1, "7 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\r\n"
	     "\n2 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f  \n");
	text("config", 0, "name = v\nsize = 1G\ndonor = 10.0.0.1\nlisten = 10.0.0.2\n"
	     "memory = 64M\n");
	text("config", 1, "key-file = /k\n[donor]\nlisten = h:7000\nmemory = 1G\nallow-key = 3\n"
	     "allow-key = 4\nforce = true\n[client]\nname = v ; c\nsize = 4K\ndonor = a\n"
	     "donor = [::1]:7\nreplicas = 2\nno-checksum = yes\nno-same-filled = 1\n");
	text("config", 2, "# c\n\nsize 1G\n[x\nbogus = 1\n");
	return failed;
}
