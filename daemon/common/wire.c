// SPDX-License-Identifier: GPL-2.0
/*
 * Wire codec: the only place that turns little-endian protocol structs into
 * host-order values and back. Decoders are strict: a field the protocol says
 * must be zero is checked, so a later version can give it meaning safely.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/wire.h"

static int wire_fail(struct memxd_wire_error *err, uint16_t code, const char *reason)
{
	if (err) {
		err->code = code;
		err->reason = reason;
	}
	return -EPROTO;
}

static int all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int memxd_hello_encode(void *buf, size_t len, const struct memxd_hello_info *in)
{
	struct memx_hello h;

	if (!buf || !in || len < sizeof(h) || in->flags & ~MEMX_HELLO_F_ALL)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.magic = htole32(MEMX_PROTO_MAGIC);
	h.version = htole16(MEMX_PROTO_VERSION);
	h.length = htole16(sizeof(h));
	if ((in->role == MEMX_ROLE_JOIN) != (in->join_port != 0))
		return -EINVAL;
	h.role = htole16(in->role);
	h.join_port = htole16(in->join_port);
	h.flags = htole32(in->flags);
	memcpy(h.volume_id, in->volume_id, sizeof(h.volume_id));
	if (in->role == MEMX_ROLE_DATA && in->key_id)
		return -EINVAL;
	h.key_id = htole32(in->key_id);
	memcpy(h.token, in->token, sizeof(h.token));
	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

int memxd_hello_decode(const void *buf, size_t len, struct memxd_hello_info *out,
		      struct memxd_wire_error *err)
{
	struct memx_hello h;
	uint16_t role;

	if (!buf || len < sizeof(h))
		return wire_fail(err, MEMX_REJ_LENGTH, "hello shorter than the protocol's hello");
	memcpy(&h, buf, sizeof(h));
	if (le32toh(h.magic) != MEMX_PROTO_MAGIC)
		return wire_fail(err, MEMX_REJ_BAD_MAGIC, "bad magic: not a memx peer");
	if (le16toh(h.version) != MEMX_PROTO_VERSION)
		return wire_fail(err, MEMX_REJ_VERSION, "unsupported protocol version");
	if (le16toh(h.length) != sizeof(h))
		return wire_fail(err, MEMX_REJ_LENGTH, "hello length is not the protocol's");
	if (!all_zero((const uint8_t *)buf + sizeof(h), len - sizeof(h)))
		return wire_fail(err, MEMX_REJ_LENGTH, "hello followed by extra bytes");
	role = le16toh(h.role);
	if (role != MEMX_ROLE_CLIENT && role != MEMX_ROLE_PROBE && role != MEMX_ROLE_DATA &&
	    role != MEMX_ROLE_JOIN)
		return wire_fail(err, MEMX_REJ_ROLE, "unknown role");
	if (h.reserved0 || (role != MEMX_ROLE_JOIN && h.join_port))
		return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
	if (role == MEMX_ROLE_DATA && h.key_id)
		return wire_fail(err, MEMX_REJ_MALFORMED, "a data connection names no key");
	if (role == MEMX_ROLE_JOIN && !h.join_port)
		return wire_fail(err, MEMX_REJ_MALFORMED, "join without a port");
	if (le32toh(h.flags) & ~MEMX_HELLO_F_ALL)
		return wire_fail(err, MEMX_REJ_MALFORMED, "unknown hello flags");
	if (out) {
		out->role = role;
		out->join_port = le16toh(h.join_port);
		out->flags = le32toh(h.flags);
		memcpy(out->volume_id, h.volume_id, sizeof(out->volume_id));
		out->key_id = le32toh(h.key_id);
		memcpy(out->token, h.token, sizeof(out->token));
	}
	return 0;
}

bool memxd_label_ok(const char *s, bool may_be_empty)
{
	size_t n = strlen(s);

	if (n >= MEMX_ZONE_LEN || (!n && !may_be_empty))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* A zone on the wire: a label, then zeros to the end of the field (all zeros: none). */
static bool zone_ok(const char *z)
{
	char label[MEMX_ZONE_LEN + 1];
	size_t n = strnlen(z, MEMX_ZONE_LEN);

	if (n == MEMX_ZONE_LEN || !all_zero((const uint8_t *)z + n, MEMX_ZONE_LEN - n))
		return false;
	memcpy(label, z, n);
	label[n] = '\0';
	return memxd_label_ok(label, true);
}

int memxd_welcome_encode(void *buf, size_t len, const struct memxd_welcome_info *in)
{
	struct memx_welcome w;

	if (!buf || !in || len < sizeof(w) || in->max_slab_shift < 12 || in->max_slab_shift > 40)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.magic = htole32(MEMX_PROTO_MAGIC);
	w.version = htole16(MEMX_PROTO_VERSION);
	w.length = htole16(sizeof(w));
	w.memory_total = htole64(in->memory_total);
	w.memory_free = htole64(in->memory_free);
	w.max_slab_shift = htole32(in->max_slab_shift);
	memcpy(w.donor_id, in->donor_id, sizeof(w.donor_id));
	memcpy(w.host_id, in->host_id, sizeof(w.host_id));
	if (!memxd_label_ok(in->zone, true))
		return -EINVAL;
	memcpy(w.zone, in->zone, strlen(in->zone));
	memcpy(w.nonce, in->nonce, sizeof(w.nonce));
	memcpy(w.proof, in->proof, sizeof(w.proof));
	memcpy(buf, &w, sizeof(w));
	return sizeof(w);
}

int memxd_welcome_decode(const void *buf, size_t len, struct memxd_welcome_info *out,
			struct memxd_wire_error *err)
{
	struct memx_welcome w;
	uint32_t shift;

	if (!buf || len < sizeof(w))
		return wire_fail(err, MEMX_REJ_LENGTH, "welcome shorter than the protocol's welcome");
	memcpy(&w, buf, sizeof(w));
	if (le32toh(w.magic) != MEMX_PROTO_MAGIC)
		return wire_fail(err, MEMX_REJ_BAD_MAGIC, "bad magic: not a memx peer");
	if (le16toh(w.version) != MEMX_PROTO_VERSION)
		return wire_fail(err, MEMX_REJ_VERSION, "unsupported protocol version");
	if (le16toh(w.length) != sizeof(w))
		return wire_fail(err, MEMX_REJ_LENGTH, "welcome length is not the protocol's");
	if (!all_zero((const uint8_t *)buf + sizeof(w), len - sizeof(w)))
		return wire_fail(err, MEMX_REJ_LENGTH, "welcome followed by extra bytes");
	if (w.reserved0)
		return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
	shift = le32toh(w.max_slab_shift);
	if (shift < 12 || shift > 40)
		return wire_fail(err, MEMX_REJ_MALFORMED, "slab size out of range");
	if (le64toh(w.memory_free) > le64toh(w.memory_total))
		return wire_fail(err, MEMX_REJ_MALFORMED, "free memory exceeds total");
	if (all_zero(w.host_id, sizeof(w.host_id)))
		return wire_fail(err, MEMX_REJ_MALFORMED, "no host identity");
	if (!zone_ok(w.zone))
		return wire_fail(err, MEMX_REJ_MALFORMED, "zone is not a label padded with zeros");
	if (out) {
		memcpy(out->host_id, w.host_id, sizeof(out->host_id));
		memcpy(out->zone, w.zone, sizeof(w.zone));
		out->zone[sizeof(w.zone)] = '\0';
		out->memory_total = le64toh(w.memory_total);
		out->memory_free = le64toh(w.memory_free);
		out->max_slab_shift = shift;
		memcpy(out->donor_id, w.donor_id, sizeof(out->donor_id));
		memcpy(out->nonce, w.nonce, sizeof(out->nonce));
		memcpy(out->proof, w.proof, sizeof(out->proof));
	}
	return 0;
}

int memxd_reject_encode(void *buf, size_t len, uint16_t code, const char *reason)
{
	struct memx_reject r;

	if (!buf || len < sizeof(r) || !reason)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.magic = htole32(MEMX_PROTO_MAGIC);
	r.version = htole16(MEMX_PROTO_VERSION);
	r.code = htole16(code);
	strncpy(r.reason, reason, sizeof(r.reason) - 1);
	memcpy(buf, &r, sizeof(r));
	return sizeof(r);
}

int memxd_reject_decode(const void *buf, size_t len, uint16_t *code, char *reason,
		       size_t reason_len)
{
	struct memx_reject r;
	size_t n;

	if (reason && reason_len)
		reason[0] = '\0';
	if (!buf || len < sizeof(r))
		return -EPROTO;
	memcpy(&r, buf, sizeof(r));
	if (le32toh(r.magic) != MEMX_PROTO_MAGIC)
		return -EPROTO;
	if (code)
		*code = le16toh(r.code);
	if (reason && reason_len) {
		n = strnlen(r.reason, sizeof(r.reason));
		if (n >= reason_len)
			n = reason_len - 1;
		/* A peer's text reaches our logs: keep it printable. */
		for (size_t i = 0; i < n; i++)
			reason[i] = (r.reason[i] >= 0x20 && r.reason[i] < 0x7f) ? r.reason[i] : '?';
		reason[n] = '\0';
	}
	return 0;
}

int memxd_reject_explain(const void *buf, size_t len, char *out, size_t out_len)
{
	char reason[MEMX_REJECT_REASON_LEN];
	uint16_t code;

	if (out_len)
		out[0] = '\0';
	if (memxd_reject_decode(buf, len, &code, reason, sizeof(reason)))
		return -EPROTO;
	snprintf(out, out_len, "%s (%s)", reason, memxd_reject_code_name(code));
	return 0;
}

const char *memxd_reject_code_name(uint16_t code)
{
	switch (code) {
	case MEMX_REJ_MALFORMED: return "malformed";
	case MEMX_REJ_BAD_MAGIC: return "bad-magic";
	case MEMX_REJ_VERSION: return "version";
	case MEMX_REJ_LENGTH: return "length";
	case MEMX_REJ_ROLE: return "role";
	case MEMX_REJ_BUSY: return "busy";
	case MEMX_REJ_AUTH: return "auth";
	default: return "unknown";
	}
}

static int is_slab_size(uint64_t bytes)
{
	return bytes >= (1ULL << MEMX_MIN_SLAB_SHIFT) && bytes <= (1ULL << MEMX_MAX_SLAB_SHIFT) &&
	       !(bytes & (bytes - 1));
}

static int is_reply(uint16_t type)
{
	return type == MEMX_MSG_ALLOC_REPLY || type == MEMX_MSG_FREE_REPLY ||
	       type == MEMX_MSG_STATS_REPLY || type == MEMX_MSG_AUTH_REPLY ||
	       type == MEMX_MSG_STATE_REPLY;
}

/* Which fields of a state message its type allows (proto.h); NULL: all is well. */
static const char *state_check(uint16_t type, const struct memxd_state_info *s)
{
	bool tag = !all_zero(s->tag, sizeof(s->tag));

	switch (type) {
	case MEMX_MSG_STATE_KEEP:
		if (s->remote_addr || s->rkey || s->offset)
			return "state keep carries reader fields";
		if (!s->handle || !s->length || !tag)
			return "state keep without a slab, a length or a tag";
		return NULL;
	case MEMX_MSG_STATE_DROP:
		if (s->remote_addr || s->rkey || s->offset || s->handle || s->length)
			return "state drop carries more than a tag and a generation";
		if (!tag || !s->epoch)
			return "state drop without a tag or a generation";
		return NULL;
	case MEMX_MSG_STATE_READ:
		if (tag || s->epoch || s->handle)
			return "state read carries keeper fields";
		if (s->length > MEMX_STATE_PIECE)
			return "state read of a piece over MEMX_STATE_PIECE";
		if (s->length && (!s->remote_addr || s->remote_addr + s->length < s->remote_addr ||
				  (uint64_t)s->offset + s->length > UINT32_MAX))
			return "state read to a bad address or range";
		return NULL;
	default:	/* MEMX_MSG_STATE_REPLY */
		if (tag || s->remote_addr || s->handle || s->rkey || s->offset)
			return "state reply carries request fields";
		return NULL;
	}
}

int memxd_msg_encode(void *buf, size_t len, const struct memxd_msg_info *in)
{
	struct memx_msg m;

	if (!buf || !in || len < sizeof(m))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.hdr.magic = htole32(MEMX_PROTO_MAGIC);
	m.hdr.version = htole16(MEMX_PROTO_VERSION);
	m.hdr.type = htole16(in->type);
	m.hdr.seq = htole32(in->seq);
	if (in->status && !is_reply(in->type))
		return -EINVAL;
	m.hdr.status = htole32(in->status);
	switch (in->type) {
	case MEMX_MSG_ALLOC_SLAB:
		if (!is_slab_size(in->alloc.slab_bytes))
			return -EINVAL;
		m.alloc.slab_bytes = htole64(in->alloc.slab_bytes);
		m.alloc.slab_index = htole64(in->alloc.slab_index);
		if (in->alloc.flags & ~MEMX_ALLOC_F_ALL)
			return -EINVAL;
		m.alloc.flags = htole32(in->alloc.flags);
		break;
	case MEMX_MSG_ALLOC_REPLY:
		m.grant.remote_addr = htole64(in->grant.remote_addr);
		m.grant.slab_bytes = htole64(in->grant.slab_bytes);
		m.grant.rkey = htole32(in->grant.rkey);
		m.grant.handle = htole32(in->grant.handle);
		m.grant.memory_free = htole64(in->grant.memory_free);
		break;
	case MEMX_MSG_FREE_SLAB:
		m.free.handle = htole32(in->free.handle);
		break;
	case MEMX_MSG_CLAIM:
		if (!in->claim.first)
			return -EINVAL;
		m.claim.first = htole32(in->claim.first);
		memcpy(m.claim.bits, in->claim.bits, sizeof(m.claim.bits));
		break;
	case MEMX_MSG_STATS:
	case MEMX_MSG_RELEASE:
	case MEMX_MSG_PRUNE:
		break;
	case MEMX_MSG_EVICT:
		if (in->evict.flags & ~MEMX_EVICT_F_ALL)
			return -EINVAL;
		m.evict.bytes = htole64(in->evict.bytes);
		m.evict.flags = htole32(in->evict.flags);
		break;
	case MEMX_MSG_FREE_REPLY:
	case MEMX_MSG_STATS_REPLY:
		if (in->stats.memory_free > in->stats.memory_total)
			return -EINVAL;
		m.stats.memory_total = htole64(in->stats.memory_total);
		m.stats.memory_free = htole64(in->stats.memory_free);
		m.stats.slabs_granted = htole32(in->stats.slabs_granted);
		break;
	case MEMX_MSG_AUTH:
	case MEMX_MSG_AUTH_REPLY:
		if (in->auth.lease_s > MEMX_MAX_LEASE_S ||
		    (in->type == MEMX_MSG_AUTH && in->auth.slabs_kept))
			return -EINVAL;
		memcpy(m.auth.sealed, in->auth.sealed, sizeof(m.auth.sealed));
		m.auth.lease_s = htole32(in->auth.lease_s);
		m.auth.slabs_kept = htole32(in->auth.slabs_kept);
		m.auth.epoch = htole64(in->auth.epoch);
		break;
	case MEMX_MSG_STATE_KEEP:
	case MEMX_MSG_STATE_READ:
	case MEMX_MSG_STATE_REPLY:
	case MEMX_MSG_STATE_DROP:
		if (state_check(in->type, &in->state))
			return -EINVAL;
		memcpy(m.state.tag, in->state.tag, sizeof(m.state.tag));
		m.state.epoch = htole64(in->state.epoch);
		m.state.remote_addr = htole64(in->state.remote_addr);
		m.state.handle = htole32(in->state.handle);
		m.state.rkey = htole32(in->state.rkey);
		m.state.offset = htole32(in->state.offset);
		m.state.length = htole32(in->state.length);
		break;
	default:
		return -EINVAL;
	}
	memcpy(buf, &m, sizeof(m));
	return sizeof(m);
}

/* The bodies of the stats replies and of the handshake messages. */
static int decode_tail(const struct memx_msg *m, struct memxd_msg_info *info,
		       struct memxd_wire_error *err)
{
	if (info->type == MEMX_MSG_AUTH || info->type == MEMX_MSG_AUTH_REPLY) {
		info->auth.epoch = le64toh(m->auth.epoch);
		info->auth.lease_s = le32toh(m->auth.lease_s);
		info->auth.slabs_kept = le32toh(m->auth.slabs_kept);
		if (info->type == MEMX_MSG_AUTH && info->auth.slabs_kept)
			return wire_fail(err, MEMX_REJ_MALFORMED, "a request carries slabs_kept");
		if (info->auth.lease_s > MEMX_MAX_LEASE_S)
			return wire_fail(err, MEMX_REJ_MALFORMED, "lease longer than an hour");
		memcpy(info->auth.sealed, m->auth.sealed, sizeof(info->auth.sealed));
		return 0;
	}
	if (m->stats.reserved0 || !all_zero(m->stats.reserved, sizeof(m->stats.reserved)))
		return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
	info->stats.memory_total = le64toh(m->stats.memory_total);
	info->stats.memory_free = le64toh(m->stats.memory_free);
	info->stats.slabs_granted = le32toh(m->stats.slabs_granted);
	if (info->stats.memory_free > info->stats.memory_total)
		return wire_fail(err, MEMX_REJ_MALFORMED, "free memory exceeds total");
	return 0;
}

int memxd_msg_decode(const void *buf, size_t len, struct memxd_msg_info *out,
		    struct memxd_wire_error *err)
{
	struct memx_msg m;
	struct memxd_msg_info info;
	uint16_t type;

	if (!buf || len != sizeof(m))
		return wire_fail(err, MEMX_REJ_LENGTH, "control message has the wrong size");
	memcpy(&m, buf, sizeof(m));
	if (le32toh(m.hdr.magic) != MEMX_PROTO_MAGIC)
		return wire_fail(err, MEMX_REJ_BAD_MAGIC, "bad magic in control message");
	if (le16toh(m.hdr.version) != MEMX_PROTO_VERSION)
		return wire_fail(err, MEMX_REJ_VERSION, "control message of another version");
	memset(&info, 0, sizeof(info));
	type = le16toh(m.hdr.type);
	info.type = type;
	info.seq = le32toh(m.hdr.seq);
	info.status = le32toh(m.hdr.status);
	if (info.status && !is_reply(type))
		return wire_fail(err, MEMX_REJ_MALFORMED, "request carries a status");
	if (info.status > 4095)
		return wire_fail(err, MEMX_REJ_MALFORMED, "status is not an errno");
	switch (type) {
	case MEMX_MSG_ALLOC_SLAB:
		if (m.alloc.reserved0 || !all_zero(m.alloc.reserved, sizeof(m.alloc.reserved)))
			return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
		info.alloc.flags = le32toh(m.alloc.flags);
		if (info.alloc.flags & ~MEMX_ALLOC_F_ALL)
			return wire_fail(err, MEMX_REJ_MALFORMED, "unknown allocation flags");
		info.alloc.slab_bytes = le64toh(m.alloc.slab_bytes);
		info.alloc.slab_index = le64toh(m.alloc.slab_index);
		if (!is_slab_size(info.alloc.slab_bytes))
			return wire_fail(err, MEMX_REJ_MALFORMED, "slab size not a power of two in range");
		break;
	case MEMX_MSG_ALLOC_REPLY:
		if (!all_zero(m.grant.reserved, sizeof(m.grant.reserved)))
			return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
		info.grant.remote_addr = le64toh(m.grant.remote_addr);
		info.grant.slab_bytes = le64toh(m.grant.slab_bytes);
		info.grant.rkey = le32toh(m.grant.rkey);
		info.grant.handle = le32toh(m.grant.handle);
		info.grant.memory_free = le64toh(m.grant.memory_free);
		if (!info.status && (!is_slab_size(info.grant.slab_bytes) || !info.grant.remote_addr ||
				     info.grant.remote_addr + info.grant.slab_bytes < info.grant.remote_addr))
			return wire_fail(err, MEMX_REJ_MALFORMED, "grant has a bad address or size");
		break;
	case MEMX_MSG_FREE_SLAB:
		if (m.free.reserved0 || !all_zero(m.free.reserved, sizeof(m.free.reserved)))
			return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
		info.free.handle = le32toh(m.free.handle);
		break;
	case MEMX_MSG_CLAIM:
		if (m.claim.reserved0)
			return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
		info.claim.first = le32toh(m.claim.first);
		if (!info.claim.first)
			return wire_fail(err, MEMX_REJ_MALFORMED, "claim of handle 0 (no such grant)");
		memcpy(info.claim.bits, m.claim.bits, sizeof(info.claim.bits));
		break;
	case MEMX_MSG_STATS:
	case MEMX_MSG_RELEASE:
	case MEMX_MSG_PRUNE:
		if (!all_zero(m.raw, sizeof(m.raw)))
			return wire_fail(err, MEMX_REJ_MALFORMED, "stats, release or prune request "
					 "has a body");
		break;
	case MEMX_MSG_EVICT:
		if (m.evict.reserved0 || !all_zero(m.evict.reserved, sizeof(m.evict.reserved)))
			return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
		info.evict.bytes = le64toh(m.evict.bytes);
		info.evict.flags = le32toh(m.evict.flags);
		if (info.evict.flags & ~MEMX_EVICT_F_ALL)
			return wire_fail(err, MEMX_REJ_MALFORMED, "unknown evict flags");
		break;
	case MEMX_MSG_FREE_REPLY:
	case MEMX_MSG_STATS_REPLY:
	case MEMX_MSG_AUTH:
	case MEMX_MSG_AUTH_REPLY:
		if (decode_tail(&m, &info, err))
			return -EPROTO;
		break;
	case MEMX_MSG_STATE_KEEP:
	case MEMX_MSG_STATE_READ:
	case MEMX_MSG_STATE_REPLY:
	case MEMX_MSG_STATE_DROP: {
		const char *why;

		memcpy(info.state.tag, m.state.tag, sizeof(info.state.tag));
		info.state.epoch = le64toh(m.state.epoch);
		info.state.remote_addr = le64toh(m.state.remote_addr);
		info.state.handle = le32toh(m.state.handle);
		info.state.rkey = le32toh(m.state.rkey);
		info.state.offset = le32toh(m.state.offset);
		info.state.length = le32toh(m.state.length);
		why = state_check(type, &info.state);
		if (why)
			return wire_fail(err, MEMX_REJ_MALFORMED, why);
		break;
	}
	default:
		return wire_fail(err, MEMX_REJ_MALFORMED, "unknown control message type");
	}
	if (out)
		*out = info;
	return 0;
}

const char *memxd_msg_type_name(uint16_t type)
{
	switch (type) {
	case MEMX_MSG_ALLOC_SLAB: return "alloc-slab";
	case MEMX_MSG_ALLOC_REPLY: return "alloc-reply";
	case MEMX_MSG_FREE_SLAB: return "free-slab";
	case MEMX_MSG_FREE_REPLY: return "free-reply";
	case MEMX_MSG_STATS: return "stats";
	case MEMX_MSG_STATS_REPLY: return "stats-reply";
	case MEMX_MSG_EVICT: return "evict";
	case MEMX_MSG_AUTH: return "auth";
	case MEMX_MSG_AUTH_REPLY: return "auth-reply";
	case MEMX_MSG_RELEASE: return "release";
	case MEMX_MSG_STATE_KEEP: return "state-keep";
	case MEMX_MSG_STATE_READ: return "state-read";
	case MEMX_MSG_STATE_REPLY: return "state-reply";
	case MEMX_MSG_CLAIM: return "claim";
	case MEMX_MSG_PRUNE: return "prune";
	case MEMX_MSG_STATE_DROP: return "state-drop";
	default: return "unknown";
	}
}
