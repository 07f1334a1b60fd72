// SPDX-License-Identifier: GPL-2.0
/* memxd_msg_decode(): a control message it accepts re-encodes to the very same bytes. */
#include "fuzz.h"
#include "common/wire.h"

static int same_body(const struct memxd_msg_info *a, const struct memxd_msg_info *b)
{
	switch (a->type) {
	case MEMX_MSG_ALLOC_SLAB:
		return a->alloc.slab_bytes == b->alloc.slab_bytes &&
		       a->alloc.slab_index == b->alloc.slab_index;
	case MEMX_MSG_ALLOC_REPLY:
		return a->grant.remote_addr == b->grant.remote_addr &&
		       a->grant.slab_bytes == b->grant.slab_bytes &&
		       a->grant.memory_free == b->grant.memory_free &&
		       a->grant.rkey == b->grant.rkey && a->grant.handle == b->grant.handle;
	case MEMX_MSG_FREE_SLAB:
		return a->free.handle == b->free.handle;
	case MEMX_MSG_STATS:
	case MEMX_MSG_RELEASE:
	case MEMX_MSG_PRUNE:
		return 1;	/* no body */
	case MEMX_MSG_CLAIM:
		return a->claim.first == b->claim.first &&
		       !memcmp(a->claim.bits, b->claim.bits, sizeof(a->claim.bits));
	case MEMX_MSG_EVICT:
		return a->evict.bytes == b->evict.bytes && a->evict.flags == b->evict.flags;
	case MEMX_MSG_FREE_REPLY:
	case MEMX_MSG_STATS_REPLY:
		return a->stats.memory_total == b->stats.memory_total &&
		       a->stats.memory_free == b->stats.memory_free &&
		       a->stats.slabs_granted == b->stats.slabs_granted;
	case MEMX_MSG_AUTH:
	case MEMX_MSG_AUTH_REPLY:
		return !memcmp(a->auth.sealed, b->auth.sealed, sizeof(a->auth.sealed)) &&
		       a->auth.lease_s == b->auth.lease_s && a->auth.slabs_kept == b->auth.slabs_kept &&
		       a->auth.epoch == b->auth.epoch;
	case MEMX_MSG_STATE_KEEP:
	case MEMX_MSG_STATE_READ:
	case MEMX_MSG_STATE_REPLY:
	case MEMX_MSG_STATE_DROP:
		return !memcmp(&a->state, &b->state, sizeof(a->state));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_msg_info in, again;
	struct memxd_wire_error err = { 0 };
	uint8_t buf[MEMX_MSG_SIZE];
	int r;

	r = memxd_msg_decode(data, size, &in, &err);
	FUZZ_CHECK(memxd_msg_decode(data, size, NULL, NULL) == r);
	if (r) {
		FUZZ_CHECK(r == -EPROTO && err.reason && *err.reason);
		FUZZ_CHECK(strcmp(memxd_reject_code_name(err.code), "unknown"));
		return 0;
	}
	FUZZ_CHECK(size == MEMX_MSG_SIZE);
	FUZZ_CHECK(strcmp(memxd_msg_type_name(in.type), "unknown"));
	FUZZ_CHECK(in.status <= 4095);
	FUZZ_CHECK(memxd_msg_encode(buf, sizeof(buf), &in) == MEMX_MSG_SIZE);
	FUZZ_CHECK(!memcmp(buf, data, sizeof(buf)));
	FUZZ_CHECK(memxd_msg_decode(buf, sizeof(buf), &again, NULL) == 0);
	FUZZ_CHECK(again.type == in.type && again.seq == in.seq && again.status == in.status);
	FUZZ_CHECK(same_body(&in, &again));
	return 0;
}
