// SPDX-License-Identifier: GPL-2.0
/*
 * `memxctl status` of a client engine: daemon/client/status.c compiled in,
 * on a fake engine (no RDMA, no memx.ko), asked through a real control socket
 * (ctl.c) as memxctl asks. The JSON must be one whole document whatever the
 * number of slabs, with every key and type that scripts read (tests/, ci/).
 */
#include <criterion/criterion.h>
#include <json-c/json.h>

#include "../../daemon/client/status.c"
#include "../../daemon/client/capacity.c"
#include "ctl_ask.h"

#define MiB (1ULL << 20)

/* recovery.c's, not compiled in. */
uint64_t memxd_backlog(struct memxd_client *c)
{
	return 7;
}

static uint32_t copyset_members[] = { 0, 1, 1, 2 };

/* status.c reads only the backend's name. */
static const struct memxd_kbackend fake_kbackend = { .name = "memx" };

/* An engine with nr_slabs slabs of 4 MiB, each mapped on donors 0 and 1; three donors. */
static struct memxd_client *fake_client(uint64_t nr_slabs)
{
	struct memxd_client *c = calloc(1, sizeof(*c));

	cr_assert(c);
	strcpy(c->opt.name, "vol");
	c->dev_id = 3;
	strcpy(c->dev_path, "/dev/memx3");
	c->kb = &fake_kbackend;
	c->opt.replicas = 2;
	c->opt.depth = 64;
	c->opt.poll_queues = 1;
	c->opt.poll_us = 50;
	c->opt.recovery_timeout_s = 60;
	c->epoch = 3;
	c->opt.scrub_rate = 4 * MiB;
	c->opt.trust.kr.key[0].id = 9;
	c->opt.trust.kr.n = 1;
	c->nr_queues = 3;
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		atomic_store(&c->queue[q].stats.reads, 10 + q);
		atomic_store(&c->queue[q].stats.writes, 20);
		atomic_store(&c->queue[q].stats.read_bytes, 4096ULL * (10 + q));
		atomic_store(&c->queue[q].stats.samefill_writes, 2);
		atomic_store(&c->queue[q].stats.samefill_reads, 1);
		atomic_store(&c->queue[q].stats.samefill_bytes_saved, 1ULL << 20);
		atomic_store(&c->queue[q].stats.rdma_write_bytes, 2ULL << 20);
	}
	cr_assert_eq(memxd_slabmap_init(&c->map, nr_slabs * 4 * MiB, 4 * MiB), 0);
	for (uint64_t i = 0; i < nr_slabs; i++) {
		struct memxd_slab *s = &c->map.slabs[i];

		atomic_store(&s->state, i % 5 == 4 ? MEMXD_SLAB_MIGRATING : MEMXD_SLAB_MAPPED);
		atomic_store(&s->nr_replicas, 2);
		s->replica[0].donor = 0;
		atomic_store(&s->replica[0].live, 1);
		s->replica[1].donor = 1;
		atomic_store(&s->replica[1].live, 1);
	}
	atomic_store(&c->slabs_mapped, nr_slabs);
	atomic_store(&c->slabs_lost, 1);
	c->slabs_rereplicated = 5;
	c->scrub.passes = 2;
	c->crc.crc = (_Atomic uint32_t *)copyset_members;	/* checksums on; never read */
	atomic_store(&c->samefill.nr_marked, 7);
	for (unsigned int i = 0; i < 3; i++) {
		struct memxd_donor *d = &c->donor[i];

		snprintf(d->host, sizeof(d->host), "10.0.0.%u", i + 2);
		snprintf(d->name, sizeof(d->name), "10.0.0.%u:7471", i + 2);
		atomic_store(&d->state, i == 2 ? MEMXD_DONOR_DEAD : MEMXD_DONOR_LIVE);
		snprintf((char *)d->welcome.host_id, sizeof(d->welcome.host_id), "host%u", i);
		if (i == 1)
			strcpy(d->welcome.zone, "z1");
		d->welcome.memory_total = 1ULL << 30;
		d->memory_free = 512 * MiB;
		d->slabs = (uint32_t)nr_slabs;
		d->lease_s = 60;
	}
	/* A machine-id host, shown in hex. */
	memset(c->donor[2].welcome.host_id, 0xab, MEMX_HOST_ID_LEN);
	atomic_store(&c->nr_donors, 3);
	c->copysets = (struct memxd_copysets){ .size = 2, .nr = 2, .member = copyset_members };
	return c;
}

/* The goldens' grant pool: counted as room (capacity) and shown per donor. */
static struct memxd_client *with_pool(struct memxd_client *c)
{
	c->opt.grant_pool = 2;
	c->donor[0].nr_pooled = 1;
	c->donor[1].nr_pooled = 2;
	c->pool = (struct memxd_pool_stats){ .taken = 9, .slabs = 4, .refills = 12, .dropped = 1 };
	return c;
}

static void free_client(struct memxd_client *c)
{
	memxd_slabmap_fini(&c->map);
	free(c);
}

/* The control thread's handler for status, as client/main.c's. */
static int status_fn(void *arg, const char *line, char *out, size_t len)
{
	struct memxd_ctl_req req;

	memxd_ctl_parse(line, &req);
	return memxd_client_status(arg, req.json, req.slabs, out, len);
}

/* The answer as one JSON document and a newline, nothing else. */
static json_object *parse_whole(const char *s, size_t n)
{
	json_tokener *tok = json_tokener_new();
	json_object *doc;

	cr_assert(tok);
	cr_assert_gt(n, 0);
	cr_assert_eq(s[n - 1], '\n', "the answer ends with a newline");
	doc = json_tokener_parse_ex(tok, s, (int)n - 1);
	cr_assert(doc, "not JSON: %s (answer starts '%.60s', %zu bytes)",
		  json_tokener_error_desc(json_tokener_get_error(tok)), s, n);
	cr_assert_eq(json_tokener_get_parse_end(tok), n - 1, "one document, nothing after it");
	json_tokener_free(tok);
	return doc;
}

static json_object *get(json_object *o, const char *key, json_type type)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
	cr_assert_eq(json_object_get_type(v), type, "'%s' is a %s, not a %s", key,
		     json_type_to_name(json_object_get_type(v)), json_type_to_name(type));
	return v;
}

/*
 * The document as the printf code wrote it, byte for byte: key names, their
 * order and types, and no spaces. Scripts (tests/integration, ci/) read these.
 */
static const char golden[] =
	"{\"role\":\"client\",\"version\":\"" MEMX_VERSION "\",\"log_dropped\":0,\"key_id\":9,\"insecure\":false,"
	"\"volumes\":[{\"name\":\"vol\",\"device\":\"/dev/memx3\",\"backend\":\"memx\",\"size\":20971520,"
	"\"slab_size\":4194304,\"slabs\":5,\"slabs_mapped\":5,\"slabs_lost\":1,\"replicas\":2,"
	"\"queues\":3,\"depth\":64,\"recovery_timeout_s\":60,\"resumed\":false,\"epoch\":3,\"slabs_given_back\":0,"
	"\"rest\":{\"state\":\"off\",\"after_s\":0,\"generation\":0,\"donors_keeping\":0,"
	"\"rests\":0,\"ends\":0,\"last_keep_ms\":0,\"last_drop_ms\":0},"
	"\"overcommit\":false,\"room_bytes\":541065216,\"shortfall_bytes\":0,"
	"\"io\":{\"reads\":33,\"writes\":60,\"read_bytes\":135168,\"write_bytes\":0,"
	"\"flushes\":0,\"discards\":0,\"write_zeroes\":0,\"errors\":0,\"zero_reads\":0,"
	"\"commits\":0,\"wakeups\":0,\"rdma_posts\":0,\"cq_arms\":0,\"failovers\":0,"
	"\"checksum_errors\":0,\"repairs\":0,\"rdma_write_bytes\":6291456,"
	"\"same_filled_writes\":6,\"same_filled_reads\":3,\"same_filled_bytes_saved\":3145728},"
	"\"scrub\":{\"rate\":4194304,\"passes\":2,\"bytes\":0,\"bad_blocks\":0,\"repaired\":0,\"yielded\":0,"
	"\"slab\":0},"
	"\"rereplication_backlog\":7,\"slabs_rereplicated\":5,\"slabs_moved\":0,"
	"\"copied_bytes\":0,\"copy_timeouts\":0,\"copy_piece_bytes\":1048576,\"grant_pool\":2,\"grants_pooled\":3,"
	"\"slabs_mapped_from_pool\":4,\"grants_from_pool\":9,\"pool_refills\":12,\"pool_dropped\":1,"
	"\"poll_queues\":1,\"poll_us\":50,\"checksums\":true,"
	"\"same_filled\":true,\"same_filled_blocks\":7,"
	"\"queue_requests\":[30,31,32]}],"
	"\"donors\":[{\"address\":\"10.0.0.2:7471\",\"state\":\"live\",\"host\":\"host0\","
	"\"zone\":\"\",\"memory_total\":1073741824,\"memory_free\":536870912,\"slabs\":5,"
	"\"pooled\":1,\"evict_bytes\":0,\"lease_s\":60},"
	"{\"address\":\"10.0.0.3:7471\",\"state\":\"live\",\"host\":\"host1\",\"zone\":\"z1\","
	"\"memory_total\":1073741824,\"memory_free\":536870912,\"slabs\":5,\"pooled\":2,"
	"\"evict_bytes\":0,\"lease_s\":60},"
	"{\"address\":\"10.0.0.4:7471\",\"state\":\"dead\","
	"\"host\":\"abababababababababababababababab\",\"zone\":\"\",\"memory_total\":1073741824,"
	"\"memory_free\":536870912,\"slabs\":5,\"pooled\":0,\"evict_bytes\":0,\"lease_s\":60}],"
	"\"copysets\":[[\"10.0.0.2:7471\",\"10.0.0.3:7471\"],[\"10.0.0.3:7471\",\"10.0.0.4:7471\"]]";

Test(status, json_as_before)
{
	struct memxd_client *c = with_pool(fake_client(5));
	char want[sizeof(golden) + 2];
	size_t n;
	char *s = ctl_ask(status_fn, c, "status --json", &n);

	snprintf(want, sizeof(want), "%s}\n", golden);
	cr_expect_str_eq(s, want);
	json_object_put(parse_whole(s, n));
	free(s);
	free_client(c);
}

Test(status, json_slabs_as_before)
{
	struct memxd_client *c = with_pool(fake_client(5));
	size_t n;
	char *s = ctl_ask(status_fn, c, "status --json --slabs", &n);
	char want[sizeof(golden) + 1024];

	snprintf(want, sizeof(want), "%s,\"slabs\":["
		 "{\"slab\":0,\"state\":\"mapped\",\"replicas\":[\"10.0.0.2:7471\",\"10.0.0.3:7471\"]},"
		 "{\"slab\":1,\"state\":\"mapped\",\"replicas\":[\"10.0.0.2:7471\",\"10.0.0.3:7471\"]},"
		 "{\"slab\":2,\"state\":\"mapped\",\"replicas\":[\"10.0.0.2:7471\",\"10.0.0.3:7471\"]},"
		 "{\"slab\":3,\"state\":\"mapped\",\"replicas\":[\"10.0.0.2:7471\",\"10.0.0.3:7471\"]},"
		 "{\"slab\":4,\"state\":\"migrating\",\"replicas\":[\"10.0.0.2:7471\",\"10.0.0.3:7471\"]}"
		 "]}\n", golden);
	cr_expect_str_eq(s, want);
	json_object_put(parse_whole(s, n));
	free(s);
	free_client(c);
}

/* 2000 slabs (past the old 64 KiB cap at about 780): one whole document. */
Test(status, json_2000_slabs)
{
	struct memxd_client *c = fake_client(2000);
	json_object *doc, *slabs, *vol;
	size_t n;
	char *s = ctl_ask(status_fn, c, "status --json --slabs", &n);

	cr_assert_gt(n, 64 * 1024, "%zu bytes: '%.80s'", n, s);
	doc = parse_whole(s, n);
	cr_expect_str_eq(json_object_get_string(get(doc, "role", json_type_string)), "client");
	vol = json_object_array_get_idx(get(doc, "volumes", json_type_array), 0);
	cr_expect_eq(json_object_get_int64(get(vol, "slabs", json_type_int)), 2000);
	slabs = get(doc, "slabs", json_type_array);
	cr_assert_eq(json_object_array_length(slabs), 2000);
	for (size_t i = 0; i < 2000; i++) {
		json_object *e = json_object_array_get_idx(slabs, i);
		json_object *rep = get(e, "replicas", json_type_array);

		cr_assert_eq(json_object_get_int64(get(e, "slab", json_type_int)), (int64_t)i);
		cr_assert_str_eq(json_object_get_string(get(e, "state", json_type_string)),
				 i % 5 == 4 ? "migrating" : "mapped");
		cr_assert_eq(json_object_array_length(rep), 2);
		cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(rep, 1)),
				 "10.0.0.3:7471");
	}
	json_object_put(doc);
	free(s);
	free_client(c);
}

/* The text list of 2000 slabs, whole too. */
Test(status, text_2000_slabs)
{
	struct memxd_client *c = fake_client(2000);
	unsigned int lines = 0;
	size_t n;
	char *s = ctl_ask(status_fn, c, "status --slabs", &n);

	cr_assert(!strncmp(s, "volume vol: /dev/memx3 (memx), 8000 MiB, slabs 4 MiB: 2000 of 2000 mapped",
			   strlen("volume vol: /dev/memx3 (memx), 8000 MiB, slabs 4 MiB: 2000 of 2000 mapped")),
		  "'%.100s'", s);
	for (char *p = s; (p = strstr(p, "\n  slab ")); p++)
		lines++;
	cr_expect_eq(lines, 2000);
	cr_expect(strstr(s, "\n  slab 1999   migrating 10.0.0.2:7471 10.0.0.3:7471\n"),
		  "the last slab, whole");
	cr_expect_eq(s[n - 1], '\n');
	free(s);
	free_client(c);
}

/* The text, as the printf code wrote it into a fixed buffer. */
Test(status, text_as_before)
{
	struct memxd_client *c = with_pool(fake_client(5));
	size_t n;
	char *s = ctl_ask(status_fn, c, "status --slabs", &n);

	cr_expect_str_eq(s,
		"volume vol: /dev/memx3 (memx), 20 MiB, slabs 4 MiB: 5 of 5 mapped, 1 lost, 2 replica(s), "
		"3 queues x 64 (1 polled), engine polls 50 us\n"
		"  capacity: the donors have room for 129 more slab(s) at 2 replica(s); 0 unwritten; "
		"shortfall 0 MiB\n"
		"  grant pool: 2 per donor, 3 held; 4 slabs mapped from it without a round trip "
		"(9 grants taken), 12 refills, 1 dropped\n"
		"  replication: 7 slabs below 2 replicas (backlog), 5 re-replicated, 0 moved off "
		"leaving donors, 0 slow copies abandoned (pieces of 1024 KiB)\n"
		"  io: 33 reads (0 MiB), 60 writes (0 MiB), 0 flushes, 0 discards, 0 write-zeroes, "
		"0 errors, 0 zero-filled reads\n"
		"  same-filled: on; 7 blocks now; 6 blocks written and 3 read without the network, "
		"3 MiB not moved; 6 MiB written to donors\n"
		"  integrity: 0 blocks failed their checksum, 0 copies repaired; scrub at 4 MiB/s: "
		"2 passes, 0 bad blocks, 0 repaired\n"
		"  restart: if this engine dies, the volume waits 60 s for the same command to take "
		"it over; engine epoch 3\n"
		"  at rest: off (--rest-after 0): if this host dies, only its state file can attach "
		"the volume\n"
		"  trust: connects with key 9, holds 1 key(s)\n"
		"  donor 10.0.0.2:7471            live     lends 1024 MiB, 512 MiB free, holds 5 "
		"slabs, host host0\n"
		"  donor 10.0.0.3:7471            live     lends 1024 MiB, 512 MiB free, holds 5 "
		"slabs, host host1, zone z1\n"
		"  donor 10.0.0.4:7471            dead     lends 1024 MiB, 512 MiB free, holds 5 "
		"slabs, host abababababababababababababababab\n"
		"  slab 0      mapped    10.0.0.2:7471 10.0.0.3:7471\n"
		"  slab 1      mapped    10.0.0.2:7471 10.0.0.3:7471\n"
		"  slab 2      mapped    10.0.0.2:7471 10.0.0.3:7471\n"
		"  slab 3      mapped    10.0.0.2:7471 10.0.0.3:7471\n"
		"  slab 4      migrating 10.0.0.2:7471 10.0.0.3:7471\n");
	free(s);
	free_client(c);
}

/*
 * Capacity (capacity.c): what the live donors can still hold of the volume.
 * fake_client: 4 MiB slabs, donors 0 and 1 live with 512 MiB free (128 slabs
 * each), donor 2 dead.
 */
Test(capacity, room_at_the_replica_count)
{
	struct memxd_client *c = fake_client(400);
	struct memxd_capacity cap;

	atomic_store(&c->slabs_mapped, 100);	/* 300 unwritten */
	memxd_capacity(c, &cap);
	cr_expect_eq(cap.replicas, 2);
	cr_expect_eq(cap.room_slabs, 128, "two donors of 128 slots hold 128 slabs of 2 replicas");
	cr_expect_eq(cap.unmapped_slabs, 300);
	cr_expect_eq(cap.shortfall_bytes, (300 - 128) * 4 * MiB);
	/* One replica: both donors' room counts. */
	c->opt.replicas = 1;
	memxd_capacity(c, &cap);
	cr_expect_eq(cap.room_slabs, 256);
	cr_expect_eq(cap.shortfall_bytes, (300 - 256) * 4 * MiB);
	/* A lone live donor: a slab gets the one replica it can. */
	c->opt.replicas = 2;
	atomic_store(&c->donor[1].state, MEMXD_DONOR_DEAD);
	memxd_capacity(c, &cap);
	cr_expect_eq(cap.replicas, 1);
	cr_expect_eq(cap.room_slabs, 128);
	free_client(c);
}

/* Our pooled grants on a donor are room for our slabs: the donor's free memory left out. */
Test(capacity, pooled_grants_are_room)
{
	struct memxd_client *c = fake_client(400);
	struct memxd_capacity cap;

	atomic_store(&c->slabs_mapped, 100);
	c->donor[0].nr_pooled = 2;
	c->donor[1].nr_pooled = 2;
	memxd_capacity(c, &cap);
	cr_expect_eq(cap.room_slabs, 130, "two donors of 128 free slots and 2 pooled each");
	c->donor[0].memory_free = 0;	/* full: only its pool is left */
	c->opt.replicas = 1;
	memxd_capacity(c, &cap);
	cr_expect_eq(cap.room_slabs, 2 + 130);
	free_client(c);
}

Test(capacity, a_new_volume_must_fit_unless_overcommit)
{
	struct memxd_client *c = fake_client(400);

	atomic_store(&c->slabs_mapped, 0);
	cr_expect_eq(memxd_capacity_check(c), -ENOSPC, "400 slabs at 2 replicas on 2x128 slots");
	c->opt.overcommit = true;
	cr_expect_eq(memxd_capacity_check(c), 0, "--overcommit starts it anyway");
	c->opt.overcommit = false;
	atomic_store(&c->slabs_mapped, 400 - 128);	/* what is left fits exactly */
	cr_expect_eq(memxd_capacity_check(c), 0);
	atomic_store(&c->slabs_mapped, 400 - 129);
	cr_expect_eq(memxd_capacity_check(c), -ENOSPC, "one slab too many");
	free_client(c);
}

Test(capacity, json_shows_the_shortfall)
{
	struct memxd_client *c = fake_client(400);
	json_object *doc, *vol;
	size_t n;
	char *s;

	atomic_store(&c->slabs_mapped, 0);
	c->opt.overcommit = true;
	s = ctl_ask(status_fn, c, "status --json", &n);
	doc = parse_whole(s, n);
	vol = json_object_array_get_idx(get(doc, "volumes", json_type_array), 0);
	cr_expect(json_object_get_boolean(get(vol, "overcommit", json_type_boolean)));
	cr_expect_eq(json_object_get_uint64(get(vol, "room_bytes", json_type_int)), 128 * 4 * MiB);
	cr_expect_eq(json_object_get_uint64(get(vol, "shortfall_bytes", json_type_int)),
		     (400 - 128) * 4 * MiB);
	json_object_put(doc);
	free(s);
	free_client(c);
}

Test(capacity, warned_once_as_the_room_ends)
{
	struct memxd_client *c = fake_client(400);

	atomic_store(&c->slabs_mapped, 0);
	memxd_capacity_watch(c);
	cr_expect(!c->capacity_warned, "128 slabs of room is past a twentieth of 400");
	c->donor[0].memory_free = c->donor[1].memory_free = 40 * MiB;	/* room for 10 */
	memxd_capacity_watch(c);
	cr_expect(c->capacity_warned);
	c->donor[0].memory_free = c->donor[1].memory_free = 120 * MiB;	/* 30: not past a tenth */
	memxd_capacity_watch(c);
	cr_expect(c->capacity_warned, "re-armed only past a tenth of the volume");
	c->donor[0].memory_free = c->donor[1].memory_free = 512 * MiB;
	memxd_capacity_watch(c);
	cr_expect(!c->capacity_warned);
	free_client(c);
}
