// SPDX-License-Identifier: GPL-2.0
/* memxd_welcome_decode(): a welcome it accepts re-encodes to the very same bytes. */
#include "fuzz.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_welcome_info in, again;
	struct memxd_wire_error err = { 0 };
	uint8_t buf[sizeof(struct memx_welcome)];
	int r;

	r = memxd_welcome_decode(data, size, &in, &err);
	FUZZ_CHECK(memxd_welcome_decode(data, size, NULL, NULL) == r);
	if (r) {
		FUZZ_CHECK(r == -EPROTO && err.reason && *err.reason);
		FUZZ_CHECK(strcmp(memxd_reject_code_name(err.code), "unknown"));
		return 0;
	}
	FUZZ_CHECK(size >= sizeof(buf));
	FUZZ_CHECK(in.memory_free <= in.memory_total);
	FUZZ_CHECK(in.max_slab_shift >= 12 && in.max_slab_shift <= 40);
	FUZZ_CHECK(memxd_welcome_encode(buf, sizeof(buf), &in) == (int)sizeof(buf));
	FUZZ_CHECK(!memcmp(buf, data, sizeof(buf)));
	FUZZ_CHECK(memxd_welcome_decode(buf, sizeof(buf), &again, NULL) == 0);
	FUZZ_CHECK(again.memory_total == in.memory_total && again.memory_free == in.memory_free &&
		   again.max_slab_shift == in.max_slab_shift &&
		   !memcmp(again.donor_id, in.donor_id, 16) &&
		   !memcmp(again.host_id, in.host_id, sizeof(in.host_id)) &&
		   !strcmp(again.zone, in.zone));
	FUZZ_CHECK(memxd_label_ok(in.zone, true));
	return 0;
}
