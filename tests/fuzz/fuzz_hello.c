// SPDX-License-Identifier: GPL-2.0
/* memxd_hello_decode(): a hello it accepts re-encodes to the very same bytes. */
#include "fuzz.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_hello_info in, again;
	struct memxd_wire_error err = { 0 };
	uint8_t buf[sizeof(struct memx_hello)];
	int r;

	r = memxd_hello_decode(data, size, &in, &err);
	FUZZ_CHECK(memxd_hello_decode(data, size, NULL, NULL) == r);
	if (r) {
		FUZZ_CHECK(r == -EPROTO && err.reason && *err.reason);
		FUZZ_CHECK(strcmp(memxd_reject_code_name(err.code), "unknown"));
		return 0;
	}
	FUZZ_CHECK(size >= sizeof(buf));
	/* Every field is checked, so an accepted hello is the canonical encoding of its info. */
	FUZZ_CHECK(memxd_hello_encode(buf, sizeof(buf), &in) == (int)sizeof(buf));
	FUZZ_CHECK(!memcmp(buf, data, sizeof(buf)));
	FUZZ_CHECK(memxd_hello_decode(buf, sizeof(buf), &again, NULL) == 0);
	FUZZ_CHECK(again.role == in.role && again.join_port == in.join_port &&
		   again.flags == in.flags && !memcmp(again.volume_id, in.volume_id, 16));
	return 0;
}
