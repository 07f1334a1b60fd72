// SPDX-License-Identifier: GPL-2.0
/* memxd_parse_size(): agrees with a reference written from parse.h's contract. */
#include "fuzz.h"
#include "common/parse.h"

/* digits, then K/M/G/T (either case) with an optional iB/ib, or an optional B/b alone */
static int ref_size(const char *s, uint64_t *out)
{
	unsigned __int128 v = 0;
	unsigned int shift = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > UINT64_MAX)
			return -ERANGE;	/* the digits alone overflow: whatever follows */
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	}
	if (!(*p == '\0' || !strcmp(p, "B") || !strcmp(p, "b") ||
	      (shift && (!strcmp(p, "iB") || !strcmp(p, "ib")))))
		return -EINVAL;
	v <<= shift;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL, want = 0;
	int r, w;

	r = memxd_parse_size(s, &v);
	w = ref_size(s, &want);
	FUZZ_CHECK(r == w);
	if (r)
		FUZZ_CHECK(v == 0x5a5a5a5a5a5a5a5aULL);	/* untouched on failure */
	else
		FUZZ_CHECK(v == want);
	free(s);
	return 0;
}
