// SPDX-License-Identifier: GPL-2.0
/*
 * Wire codec: every message round-trips, and every malformed field of a
 * received message is refused with the right reject code.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "common/wire.h"

static struct memxd_hello_info good_hello(void)
{
	struct memxd_hello_info h = { .role = MEMX_ROLE_CLIENT, .flags = 0, .key_id = 0x01020304 };

	for (int i = 0; i < 16; i++) {
		h.volume_id[i] = (uint8_t)(0xa0 + i);
		h.token[i] = (uint8_t)(0x30 + i);
	}
	return h;
}

/* Encodes a good hello into a zeroed 56-byte CM private data buffer. */
static void encode_pdata(uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX])
{
	struct memxd_hello_info h = good_hello();

	memset(pdata, 0, MEMX_CM_CONNECT_PDATA_MAX);
	cr_assert_eq(memxd_hello_encode(pdata, MEMX_CM_CONNECT_PDATA_MAX, &h),
		     (int)sizeof(struct memx_hello));
}

static void expect_reject(const uint8_t *pdata, size_t len, uint16_t code)
{
	struct memxd_wire_error err = { 0 };
	struct memxd_hello_info out;

	cr_assert_eq(memxd_hello_decode(pdata, len, &out, &err), -EPROTO);
	cr_expect_eq(err.code, code, "code %u, wanted %u (%s)", err.code, code,
		     err.reason ? err.reason : "");
	cr_expect(err.reason && err.reason[0], "a reason is given");
}

Test(hello, round_trip_with_cm_padding)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];
	struct memxd_hello_info in = good_hello(), out;
	struct memxd_wire_error err;

	encode_pdata(pdata);
	cr_assert_eq(memxd_hello_decode(pdata, sizeof(pdata), &out, &err), 0);
	cr_expect_eq(out.role, in.role);
	cr_expect_eq(out.flags, 0);
	cr_expect_arr_eq(out.volume_id, in.volume_id, 16);
	cr_expect_eq(out.key_id, 0x01020304);
	cr_expect_arr_eq(out.token, in.token, 16);
	cr_expect_eq(pdata[32], 0x04, "key_id is little-endian at offset 32");
	cr_expect_eq(pdata[40], 0x30, "token starts at offset 40");
}

Test(hello, fields_are_little_endian)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];

	encode_pdata(pdata);
	cr_expect_eq(pdata[0], 'M');
	cr_expect_eq(pdata[1], 'E');
	cr_expect_eq(pdata[2], 'M');
	cr_expect_eq(pdata[3], 'X');
	cr_expect_eq(pdata[4], MEMX_PROTO_VERSION);
	cr_expect_eq(pdata[5], 0);
	cr_expect_eq(pdata[6], sizeof(struct memx_hello));
}

Test(hello, encode_refuses_bad_arguments)
{
	uint8_t buf[64];
	struct memxd_hello_info h = good_hello();

	cr_expect_eq(memxd_hello_encode(buf, sizeof(struct memx_hello) - 1, &h), -EINVAL);
	cr_expect_eq(memxd_hello_encode(NULL, sizeof(buf), &h), -EINVAL);
	cr_expect_eq(memxd_hello_encode(buf, sizeof(buf), NULL), -EINVAL);
	h.flags = MEMX_HELLO_F_ALL + 1;	/* an unknown flag */
	cr_expect_eq(memxd_hello_encode(buf, sizeof(buf), &h), -EINVAL);
}

Test(hello, rejects_short)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];

	encode_pdata(pdata);
	expect_reject(pdata, sizeof(struct memx_hello) - 1, MEMX_REJ_LENGTH);
	expect_reject(pdata, 0, MEMX_REJ_LENGTH);
	expect_reject(NULL, 56, MEMX_REJ_LENGTH);
}

Test(hello, rejects_bad_magic)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];

	encode_pdata(pdata);
	pdata[0] ^= 0x20;
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_BAD_MAGIC);
}

Test(hello, rejects_other_versions)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];
	struct memx_hello *h = (struct memx_hello *)pdata;

	encode_pdata(pdata);
	h->version = htole16(MEMX_PROTO_VERSION + 1);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_VERSION);
	h->version = htole16(0);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_VERSION);
}

Test(hello, rejects_declared_length)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];
	struct memx_hello *h = (struct memx_hello *)pdata;

	encode_pdata(pdata);
	h->length = htole16(sizeof(*h) + 8);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_LENGTH);
	h->length = htole16(sizeof(*h) - 8);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_LENGTH);
}

Test(hello, rejects_trailing_bytes)
{
	/* The hello fills CM's 56 bytes; a transport with more room pads with zeros too. */
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX + 8] = { 0 };

	encode_pdata(pdata);
	cr_expect_eq(memxd_hello_decode(pdata, sizeof(pdata), NULL, NULL), 0);
	pdata[sizeof(pdata) - 1] = 1;
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_LENGTH);
}

Test(hello, rejects_unknown_role)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];
	struct memx_hello *h = (struct memx_hello *)pdata;

	encode_pdata(pdata);
	h->role = htole16(0);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_ROLE);
	h->role = htole16(77);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_ROLE);
}

Test(hello, rejects_reserved_flags_and_a_data_key)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX];
	struct memx_hello *h = (struct memx_hello *)pdata;

	encode_pdata(pdata);
	h->join_port = htole16(1);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_MALFORMED);
	encode_pdata(pdata);
	h->reserved0 = htole32(1U << 31);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_MALFORMED);
	encode_pdata(pdata);
	h->flags = htole32(0x80000000U);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_MALFORMED);
	/* A data connection is admitted by its ticket; it names no key. */
	encode_pdata(pdata);
	h->role = htole16(MEMX_ROLE_DATA);
	h->key_id = htole32(3);
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_MALFORMED);
}

Test(welcome, round_trip_and_rejections)
{
	uint8_t buf[MEMX_CM_ACCEPT_PDATA_MAX] = { 0 };
	struct memxd_welcome_info in = { .memory_total = 1ULL << 30, .memory_free = 1ULL << 29,
					.max_slab_shift = 26 }, out;
	struct memx_welcome *w = (struct memx_welcome *)buf;
	struct memxd_wire_error err;

	in.donor_id[3] = 9;
	in.host_id[15] = 7;
	strcpy(in.zone, "rack-1.a_b");
	cr_assert_eq(memxd_welcome_encode(buf, sizeof(buf), &in), (int)sizeof(*w));
	cr_assert_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), 0);
	cr_expect_eq(out.memory_total, in.memory_total);
	cr_expect_eq(out.memory_free, in.memory_free);
	cr_expect_eq(out.max_slab_shift, 26);
	cr_expect_eq(out.donor_id[3], 9);
	cr_expect_eq(out.host_id[15], 7);
	cr_expect_str_eq(out.zone, "rack-1.a_b");

	/* Failure domains: a host identity is required, a zone is a clean label or none. */
	memset(w->host_id, 0, sizeof(w->host_id));
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	cr_expect_eq(err.code, MEMX_REJ_MALFORMED);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	w->zone[sizeof(w->zone) - 1] = 'x';	/* garbage after the label's NUL */
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	w->zone[0] = ' ';
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	memset(w->zone, 'z', sizeof(w->zone));	/* no room for a NUL */
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	in.zone[0] = '\0';
	memxd_welcome_encode(buf, sizeof(buf), &in);
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), 0, "no zone is fine");
	cr_expect_str_eq(out.zone, "");
	strcpy(in.zone, "bad zone");
	cr_expect_eq(memxd_welcome_encode(buf, sizeof(buf), &in), -EINVAL);
	strcpy(in.zone, "rack-1.a_b");
	memxd_welcome_encode(buf, sizeof(buf), &in);

	w->memory_free = htole64((1ULL << 30) + 1);
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	cr_expect_eq(err.code, MEMX_REJ_MALFORMED);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	w->max_slab_shift = htole32(11);
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	w->reserved0 = 1;
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	w->version = htole16(MEMX_PROTO_VERSION + 1);
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(buf), &out, &err), -EPROTO);
	cr_expect_eq(err.code, MEMX_REJ_VERSION);
	memxd_welcome_encode(buf, sizeof(buf), &in);
	cr_expect_eq(memxd_welcome_decode(buf, sizeof(*w) - 1, &out, &err), -EPROTO);
	in.max_slab_shift = 41;
	cr_expect_eq(memxd_welcome_encode(buf, sizeof(buf), &in), -EINVAL);
}

Test(reject, round_trip_truncates_and_sanitises)
{
	uint8_t buf[MEMX_CM_REJECT_PDATA_MAX] = { 0 };
	char long_reason[300], reason[MEMX_REJECT_REASON_LEN + 8], small[8];
	uint16_t code = 0;

	memset(long_reason, 'r', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	cr_assert_eq(memxd_reject_encode(buf, sizeof(buf), MEMX_REJ_VERSION, long_reason),
		     (int)sizeof(struct memx_reject));
	cr_assert_eq(memxd_reject_decode(buf, sizeof(buf), &code, reason, sizeof(reason)), 0);
	cr_expect_eq(code, MEMX_REJ_VERSION);
	cr_expect_eq(strlen(reason), MEMX_REJECT_REASON_LEN - 1);

	memxd_reject_encode(buf, sizeof(buf), MEMX_REJ_BUSY, "busy\x01\n");
	cr_assert_eq(memxd_reject_decode(buf, sizeof(buf), &code, small, sizeof(small)), 0);
	cr_expect_str_eq(small, "busy??");
	cr_expect_str_eq(memxd_reject_code_name(code), "busy");

	/* A reject that is not ours (e.g. the CM's own, no private data) is told apart. */
	memset(buf, 0, sizeof(buf));
	cr_expect_eq(memxd_reject_decode(buf, sizeof(buf), &code, small, sizeof(small)), -EPROTO);
	cr_expect_str_eq(small, "");
	cr_expect_eq(memxd_reject_decode(buf, 10, &code, small, sizeof(small)), -EPROTO);
}

static void encode_msg(uint8_t *buf, const struct memxd_msg_info *in)
{
	cr_assert_eq(memxd_msg_encode(buf, MEMX_MSG_SIZE, in), MEMX_MSG_SIZE);
}

static void expect_msg_reject(const uint8_t *buf, size_t len, uint16_t code)
{
	struct memxd_wire_error err = { 0 };
	struct memxd_msg_info out;

	cr_assert_eq(memxd_msg_decode(buf, len, &out, &err), -EPROTO);
	cr_expect_eq(err.code, code, "code %u, wanted %u (%s)", err.code, code,
		     err.reason ? err.reason : "");
}

Test(msg, auth_round_trips_and_rejects_a_reserved_byte)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memxd_msg_info out, auth = { .type = MEMX_MSG_AUTH, .seq = 1 };
	struct memxd_msg_info reply = { .type = MEMX_MSG_AUTH_REPLY, .seq = 1, .status = EACCES };

	for (int i = 0; i < MEMX_SEALED_LEN; i++)
		auth.auth.sealed[i] = (uint8_t)(i * 7 + 1);
	encode_msg(buf, &auth);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_arr_eq(out.auth.sealed, auth.auth.sealed, MEMX_SEALED_LEN);
	/* The message ends with the epoch (protocol 5; it was a reserved field). */
	buf[MEMX_MSG_SIZE - 1] = 1;
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.auth.epoch, 1ULL << 56);
	/* A refusal is a reply with a status; a request never carries one. */
	encode_msg(buf, &reply);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.status, EACCES);
	auth.status = EACCES;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &auth), -EINVAL);
}

Test(msg, auth_carries_a_lease_of_at_most_an_hour)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memxd_msg_info out, auth = { .type = MEMX_MSG_AUTH, .seq = 2, .auth.lease_s = 90 };
	struct memx_msg *m = (struct memx_msg *)buf;

	encode_msg(buf, &auth);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.auth.lease_s, 90);
	m->auth.lease_s = htole32(MEMX_MAX_LEASE_S + 1);
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), -EPROTO);
	m->auth.lease_s = htole32(MEMX_MAX_LEASE_S);
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	m->auth.slabs_kept = htole32(1);	/* a reply's field, in a request */
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), -EPROTO);
	m->auth.slabs_kept = 0;
	auth.auth.lease_s = MEMX_MAX_LEASE_S + 1;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &auth), -EINVAL);
}

Test(msg, auth_carries_the_engine_epoch)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memxd_msg_info out, auth = { .type = MEMX_MSG_AUTH, .seq = 3,
					    .auth.epoch = 0x0102030405060708ULL };
	struct memx_msg *m = (struct memx_msg *)buf;

	encode_msg(buf, &auth);
	cr_expect_eq(le64toh(m->auth.epoch), 0x0102030405060708ULL, "little-endian on the wire");
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.auth.epoch, 0x0102030405060708ULL);
	auth.type = MEMX_MSG_AUTH_REPLY;
	auth.auth.epoch = 7;
	encode_msg(buf, &auth);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.auth.epoch, 7);
}

Test(msg, release_has_no_body)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memxd_msg_info out, rel = { .type = MEMX_MSG_RELEASE, .seq = 4 };

	encode_msg(buf, &rel);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.type, MEMX_MSG_RELEASE);
	cr_expect_eq(out.seq, 4);
	cr_expect_str_eq(memxd_msg_type_name(MEMX_MSG_RELEASE), "release");
	buf[MEMX_MSG_SIZE - 1] = 1;
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), -EPROTO, "a body");
	rel.status = EIO;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &rel), -EINVAL, "a request with a status");
}

/* A take-over's CLAIM (a bitmap of handles from first) and PRUNE (no body), proto.h. */
Test(msg, claim_and_prune)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memx_msg *m = (struct memx_msg *)buf;
	struct memxd_msg_info out, claim = { .type = MEMX_MSG_CLAIM, .seq = 9,
					     .claim.first = 70000 };
	struct memxd_msg_info prune = { .type = MEMX_MSG_PRUNE, .seq = 10 };

	claim.claim.bits[0] = 0x81;
	claim.claim.bits[MEMX_CLAIM_BITS / 8 - 1] = 0x80;
	encode_msg(buf, &claim);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.type, MEMX_MSG_CLAIM);
	cr_expect_eq(out.claim.first, 70000);
	cr_expect_eq(memcmp(out.claim.bits, claim.claim.bits, sizeof(out.claim.bits)), 0);
	cr_expect_str_eq(memxd_msg_type_name(MEMX_MSG_CLAIM), "claim");
	m->claim.reserved0 = htole32(1);
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), -EPROTO, "reserved set");
	m->claim.reserved0 = 0;
	m->claim.first = 0;
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), -EPROTO, "handle 0");
	claim.claim.first = 0;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &claim), -EINVAL, "handle 0");

	encode_msg(buf, &prune);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.type, MEMX_MSG_PRUNE);
	cr_expect_str_eq(memxd_msg_type_name(MEMX_MSG_PRUNE), "prune");
	buf[MEMX_MSG_SIZE - 1] = 1;
	cr_expect_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), -EPROTO, "a body");
}

Test(msg, every_type_round_trips)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memxd_msg_info out;
	struct memxd_msg_info alloc = { .type = MEMX_MSG_ALLOC_SLAB, .seq = 7,
				       .alloc = { .slab_bytes = 1 << 26, .slab_index = 99,
						  .flags = MEMX_ALLOC_F_REPAIR } };
	struct memxd_msg_info grant = { .type = MEMX_MSG_ALLOC_REPLY, .seq = 7,
				       .grant = { .remote_addr = 0x7f0000001000ULL,
						  .slab_bytes = 1 << 26, .memory_free = 5 << 20,
						  .rkey = 0x1234, .handle = 3 } };
	struct memxd_msg_info freem = { .type = MEMX_MSG_FREE_SLAB, .seq = 8, .free = { .handle = 3 } };
	struct memxd_msg_info stats = { .type = MEMX_MSG_STATS_REPLY, .seq = 9,
				       .stats = { .memory_total = 10, .memory_free = 4,
						  .slabs_granted = 2 } };

	encode_msg(buf, &alloc);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.seq, 7);
	cr_expect_eq(out.alloc.slab_bytes, 1 << 26);
	cr_expect_eq(out.alloc.slab_index, 99);
	cr_expect_eq(out.alloc.flags, MEMX_ALLOC_F_REPAIR);
	encode_msg(buf, &grant);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.grant.remote_addr, 0x7f0000001000ULL);
	cr_expect_eq(out.grant.rkey, 0x1234);
	cr_expect_eq(out.grant.handle, 3);
	cr_expect_eq(out.grant.memory_free, 5 << 20);
	encode_msg(buf, &freem);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.free.handle, 3);
	encode_msg(buf, &stats);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.stats.memory_total, 10);
	cr_expect_eq(out.stats.slabs_granted, 2);
	/* A failed grant carries only a status. */
	grant = (struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_REPLY, .seq = 1, .status = ENOSPC };
	encode_msg(buf, &grant);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.status, ENOSPC);
}

Test(msg, rejects_every_malformed_field)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memx_msg *m = (struct memx_msg *)buf;
	struct memxd_msg_info alloc = { .type = MEMX_MSG_ALLOC_SLAB, .seq = 1,
				       .alloc = { .slab_bytes = 1 << 20 } };
	struct memxd_msg_info grant = { .type = MEMX_MSG_ALLOC_REPLY, .seq = 1,
				       .grant = { .remote_addr = 4096, .slab_bytes = 1 << 20 } };

	encode_msg(buf, &alloc);
	expect_msg_reject(buf, MEMX_MSG_SIZE - 1, MEMX_REJ_LENGTH);
	expect_msg_reject(buf, MEMX_MSG_SIZE + 1, MEMX_REJ_LENGTH);
	m->hdr.magic = 0;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_BAD_MAGIC);
	encode_msg(buf, &alloc);
	m->hdr.version = htole16(9);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_VERSION);
	encode_msg(buf, &alloc);
	m->hdr.type = htole16(0);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &alloc);
	m->hdr.type = htole16(200);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &alloc);
	m->hdr.status = htole32(5);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &alloc);
	m->alloc.slab_bytes = htole64((1 << 20) + 4096);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	m->alloc.slab_bytes = htole64(1 << 19);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	m->alloc.slab_bytes = htole64(1ULL << 40);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &alloc);
	m->alloc.reserved[2] = 1;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &alloc);
	m->alloc.reserved0 = 1;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &alloc);
	m->alloc.flags = htole32(MEMX_ALLOC_F_ALL + 1);	/* an unknown flag */
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &grant);
	m->grant.remote_addr = 0;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &grant);
	m->grant.remote_addr = htole64(UINT64_MAX - 100);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &grant);
	m->hdr.status = htole32(100000);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &(struct memxd_msg_info){ .type = 99 }), -EINVAL);
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf),
				     &(struct memxd_msg_info){ .type = MEMX_MSG_ALLOC_SLAB,
							      .alloc.slab_bytes = 3 << 20 }), -EINVAL);
}

Test(msg, evict_round_trip_and_rejections)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memx_msg *m = (struct memx_msg *)buf;
	struct memxd_msg_info out, in = { .type = MEMX_MSG_EVICT, .seq = 3,
					 .evict = { .bytes = 1ULL << 30, .flags = MEMX_EVICT_F_LEAVE } };

	encode_msg(buf, &in);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.evict.bytes, 1ULL << 30);
	cr_expect_eq(out.evict.flags, MEMX_EVICT_F_LEAVE);
	m->evict.flags = htole32(2);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &in);
	m->evict.reserved0 = 1;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	in.evict.flags = 4;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &in), -EINVAL);
}

Test(hello, join_carries_a_port_and_only_join_does)
{
	uint8_t pdata[MEMX_CM_CONNECT_PDATA_MAX] = { 0 };
	struct memxd_hello_info in = { .role = MEMX_ROLE_JOIN, .join_port = 7471 }, out;
	struct memx_hello *h = (struct memx_hello *)pdata;

	cr_assert_eq(memxd_hello_encode(pdata, sizeof(pdata), &in), (int)sizeof(*h));
	cr_assert_eq(memxd_hello_decode(pdata, sizeof(pdata), &out, NULL), 0);
	cr_expect_eq(out.role, MEMX_ROLE_JOIN);
	cr_expect_eq(out.join_port, 7471);
	h->join_port = 0;
	expect_reject(pdata, sizeof(pdata), MEMX_REJ_MALFORMED);
	in.join_port = 0;
	cr_expect_eq(memxd_hello_encode(pdata, sizeof(pdata), &in), -EINVAL);
	in = (struct memxd_hello_info){ .role = MEMX_ROLE_CLIENT, .join_port = 5 };
	cr_expect_eq(memxd_hello_encode(pdata, sizeof(pdata), &in), -EINVAL);
}

/* A detached volume's state on its donors: KEEP, READ and REPLY, and what each may carry. */
Test(msg, state_messages_round_trip_and_carry_only_their_fields)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memx_msg *m = (struct memx_msg *)buf;
	struct memxd_msg_info out;
	struct memxd_msg_info keep = { .type = MEMX_MSG_STATE_KEEP, .seq = 3,
				      .state = { .tag = { 1, 2, 3 }, .epoch = 9, .handle = 17,
						 .length = 4096 } };
	struct memxd_msg_info read = { .type = MEMX_MSG_STATE_READ, .seq = 4,
				      .state = { .remote_addr = 0x7f0000002000ULL, .rkey = 0x55,
						 .offset = 1 << 20, .length = MEMX_STATE_PIECE } };
	struct memxd_msg_info reply = { .type = MEMX_MSG_STATE_REPLY, .seq = 4, .status = ENOENT,
				       .state = { .epoch = 9, .length = 4096 } };

	encode_msg(buf, &keep);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.state.tag[2], 3);
	cr_expect_eq(out.state.epoch, 9);
	cr_expect_eq(out.state.handle, 17);
	cr_expect_eq(out.state.length, 4096);
	cr_expect_str_eq(memxd_msg_type_name(MEMX_MSG_STATE_KEEP), "state-keep");
	encode_msg(buf, &read);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.state.remote_addr, 0x7f0000002000ULL);
	cr_expect_eq(out.state.rkey, 0x55);
	cr_expect_eq(out.state.offset, 1 << 20);
	cr_expect_eq(out.state.length, MEMX_STATE_PIECE);
	encode_msg(buf, &reply);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.status, ENOENT);
	cr_expect_eq(out.state.epoch, 9);
	/* A size query: a READ of nothing, to nowhere. */
	read.state = (struct memxd_state_info){ 0 };
	encode_msg(buf, &read);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);

	encode_msg(buf, &keep);
	memset(m->state.tag, 0, sizeof(m->state.tag));
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* no tag */
	encode_msg(buf, &keep);
	m->state.handle = 0;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* no slab */
	encode_msg(buf, &keep);
	m->state.rkey = htole32(1);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* a reader's field */
	read.state = (struct memxd_state_info){ .remote_addr = 4096, .rkey = 1, .length = 10 };
	encode_msg(buf, &read);
	m->state.length = htole32(MEMX_STATE_PIECE + 1);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* over a piece */
	encode_msg(buf, &read);
	m->state.remote_addr = 0;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* to nowhere */
	encode_msg(buf, &read);
	m->state.remote_addr = htole64(UINT64_MAX - 4);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* wraps */
	encode_msg(buf, &read);
	m->state.offset = htole32(UINT32_MAX - 4);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* past 4 GiB */
	encode_msg(buf, &read);
	m->state.tag[0] = 1;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* a keeper's field */
	encode_msg(buf, &read);
	m->hdr.status = htole32(EIO);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* a request with a status */
	encode_msg(buf, &reply);
	m->state.handle = htole32(1);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* a request's field */
	keep.state.remote_addr = 1;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &keep), -EINVAL);
}

Test(msg, state_drop_carries_a_tag_and_a_generation_only)
{
	uint8_t buf[MEMX_MSG_SIZE];
	struct memx_msg *m = (struct memx_msg *)buf;
	struct memxd_msg_info out;
	struct memxd_msg_info drop = { .type = MEMX_MSG_STATE_DROP, .seq = 5,
				      .state = { .tag = { 7 }, .epoch = MEMX_STATE_GEN(3, 2) } };

	encode_msg(buf, &drop);
	cr_assert_eq(memxd_msg_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.type, MEMX_MSG_STATE_DROP);
	cr_expect_eq(out.state.tag[0], 7);
	cr_expect_eq(out.state.epoch, MEMX_STATE_GEN(3, 2));
	cr_expect_eq(MEMX_STATE_GEN_EPOCH(out.state.epoch), 3);
	cr_expect_eq(out.state.epoch & MEMX_STATE_SEQ_MAX, 2);
	cr_expect_str_eq(memxd_msg_type_name(MEMX_MSG_STATE_DROP), "state-drop");
	/* Generations order by epoch first, then by the count within it. */
	cr_expect_gt(MEMX_STATE_GEN(4, 0), MEMX_STATE_GEN(3, MEMX_STATE_SEQ_MAX));

	encode_msg(buf, &drop);
	memset(m->state.tag, 0, sizeof(m->state.tag));
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* no tag */
	encode_msg(buf, &drop);
	m->state.epoch = 0;
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* no generation */
	encode_msg(buf, &drop);
	m->state.handle = htole32(1);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* a keeper's slab */
	encode_msg(buf, &drop);
	m->state.length = htole32(4096);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);
	encode_msg(buf, &drop);
	m->state.remote_addr = htole64(4096);
	expect_msg_reject(buf, sizeof(buf), MEMX_REJ_MALFORMED);	/* a reader's field */
	drop.state.rkey = 1;
	cr_expect_eq(memxd_msg_encode(buf, sizeof(buf), &drop), -EINVAL);
}

Test(hello, the_state_reader_flag_round_trips)
{
	uint8_t buf[MEMX_CM_CONNECT_PDATA_MAX] = { 0 };
	struct memxd_hello_info h = good_hello(), out;

	h.flags = MEMX_HELLO_F_STATE;
	cr_assert_eq(memxd_hello_encode(buf, sizeof(buf), &h), (int)sizeof(struct memx_hello));
	cr_assert_eq(memxd_hello_decode(buf, sizeof(buf), &out, NULL), 0);
	cr_expect_eq(out.flags, MEMX_HELLO_F_STATE);
}
