// SPDX-License-Identifier: GPL-2.0
/*
 * Wire codec: the only place that turns little-endian protocol structs into
 * host-order values and back. Decoders are strict: a field the protocol says
 * must be zero is checked, so a later version can give it meaning safely.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "wire.h"

static int wire_fail(struct memx_wire_error *err, uint16_t code, const char *reason)
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

int memx_hello_encode(void *buf, size_t len, const struct memx_hello_info *in)
{
	struct memx_hello h;

	if (!buf || !in || len < sizeof(h) || in->flags & ~MEMX_HELLO_F_ALL)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.magic = htole32(MEMX_PROTO_MAGIC);
	h.version = htole16(MEMX_PROTO_VERSION);
	h.length = htole16(sizeof(h));
	h.role = htole16(in->role);
	h.flags = htole32(in->flags);
	memcpy(h.volume_id, in->volume_id, sizeof(h.volume_id));
	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

int memx_hello_decode(const void *buf, size_t len, struct memx_hello_info *out,
		      struct memx_wire_error *err)
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
	if (role != MEMX_ROLE_CLIENT && role != MEMX_ROLE_PROBE)
		return wire_fail(err, MEMX_REJ_ROLE, "unknown role");
	if (h.reserved0 || h.reserved1)
		return wire_fail(err, MEMX_REJ_MALFORMED, "reserved field is not zero");
	if (le32toh(h.flags) & ~MEMX_HELLO_F_ALL)
		return wire_fail(err, MEMX_REJ_MALFORMED, "unknown hello flags");
	if (h.credential)
		return wire_fail(err, MEMX_REJ_AUTH, "credentials are not supported yet");
	if (out) {
		out->role = role;
		out->flags = le32toh(h.flags);
		memcpy(out->volume_id, h.volume_id, sizeof(out->volume_id));
	}
	return 0;
}

int memx_welcome_encode(void *buf, size_t len, const struct memx_welcome_info *in)
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
	memcpy(buf, &w, sizeof(w));
	return sizeof(w);
}

int memx_welcome_decode(const void *buf, size_t len, struct memx_welcome_info *out,
			struct memx_wire_error *err)
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
	if (out) {
		out->memory_total = le64toh(w.memory_total);
		out->memory_free = le64toh(w.memory_free);
		out->max_slab_shift = shift;
		memcpy(out->donor_id, w.donor_id, sizeof(out->donor_id));
	}
	return 0;
}

int memx_reject_encode(void *buf, size_t len, uint16_t code, const char *reason)
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

int memx_reject_decode(const void *buf, size_t len, uint16_t *code, char *reason,
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

const char *memx_reject_code_name(uint16_t code)
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
