// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_reject_decode() and memxd_reject_explain(): the first two bytes choose
 * the sizes of the caller's buffers (allocated exactly, so any overrun shows),
 * the rest is the peer's reject. What decodes re-encodes to the same code and
 * reason.
 */
#include "fuzz.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char full[MEMX_REJECT_REASON_LEN + 1], again[MEMX_REJECT_REASON_LEN], *reason, *out;
	uint8_t buf[sizeof(struct memx_reject)];
	size_t reason_len, out_len, n;
	uint16_t code = 0, code2 = 0;
	int r, e;

	if (size < 2)
		return 0;
	reason_len = data[0] % (MEMX_REJECT_REASON_LEN + 8);
	out_len = data[1];
	data += 2;
	size -= 2;

	reason = malloc(reason_len ? reason_len : 1);
	out = malloc(out_len ? out_len : 1);
	if (!reason || !out)
		abort();
	r = memxd_reject_decode(data, size, &code, reason, reason_len);
	e = memxd_reject_explain(data, size, out, out_len);
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	FUZZ_CHECK(e == r);
	FUZZ_CHECK(memxd_reject_decode(data, size, NULL, NULL, 0) == r);
	if (reason_len) {
		n = strnlen(reason, reason_len);
		FUZZ_CHECK(n < reason_len);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(reason[i] >= 0x20 && reason[i] < 0x7f);
		FUZZ_CHECK(!r || n < MEMX_REJECT_REASON_LEN);
	}
	if (out_len) {
		FUZZ_CHECK(strnlen(out, out_len) < out_len);
		if (r)
			FUZZ_CHECK(!out[0]);
	}
	if (!r) {
		char want[MEMX_REJECT_REASON_LEN + 32];

		FUZZ_CHECK(size >= sizeof(buf));
		FUZZ_CHECK(memxd_reject_decode(data, size, &code, full, sizeof(full)) == 0);
		if (reason_len)
			FUZZ_CHECK(!strncmp(reason, full, reason_len - 1));
		/* A peer may fill all 96 bytes without a NUL: explain keeps 95. */
		snprintf(want, sizeof(want), "%.*s (%s)", MEMX_REJECT_REASON_LEN - 1, full,
			 memxd_reject_code_name(code));
		if (out_len)
			FUZZ_CHECK(!strncmp(out, want, out_len - 1));
		/* Round trip: the code and the printable reason (up to 95 bytes) survive. */
		FUZZ_CHECK(memxd_reject_encode(buf, sizeof(buf), code, full) == (int)sizeof(buf));
		FUZZ_CHECK(memxd_reject_decode(buf, sizeof(buf), &code2, again, sizeof(again)) == 0);
		FUZZ_CHECK(code2 == code && !strncmp(again, full, MEMX_REJECT_REASON_LEN - 1));
		FUZZ_CHECK(strlen(again) == strnlen(full, MEMX_REJECT_REASON_LEN - 1));
	}
	free(reason);
	free(out);
	return 0;
}
