// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_parse_uint(): the first 16 bytes are min and max, the rest the text.
 * Agrees with a reference; a parsed count lies in [min, max].
 */
#include "fuzz.h"
#include "common/parse.h"

static int ref_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned __int128 v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > UINT64_MAX)
			return -ERANGE;
	}
	if (*s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t min, max, v = 0x5a5a5a5a5a5a5a5aULL, want = 0;
	char *s;
	int r;

	if (size < 16)
		return 0;
	memcpy(&min, data, 8);
	memcpy(&max, data + 8, 8);
	/* Small bounds, as the product uses, most of the time. */
	if (data[15] & 0x80) {
		min %= 1000;
		max %= 100000;
	}
	s = fuzz_string(data + 16, size - 16);
	r = memxd_parse_uint(s, min, max, &v);
	FUZZ_CHECK(r == ref_uint(s, min, max, &want));
	if (r) {
		FUZZ_CHECK(v == 0x5a5a5a5a5a5a5a5aULL);
	} else {
		FUZZ_CHECK(v == want);
		FUZZ_CHECK(v >= min && v <= max);
	}
	free(s);
	return 0;
}
