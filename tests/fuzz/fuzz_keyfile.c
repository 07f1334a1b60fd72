// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_keyring_parse(): any text is refused with a reason or gives 1..16
 * keys with distinct non-zero ids; a parsed ring written back out in the key
 * file's format parses to the same ring.
 */
#include "fuzz.h"
#include "common/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_keyring kr, again;
	char why[160] = "", *s = fuzz_string(data, size), *text;
	size_t off = 0;
	int r;

	r = memxd_keyring_parse(s, &kr, why, sizeof(why));
	free(s);
	if (r) {
		FUZZ_CHECK(r == -EINVAL && why[0]);
		return 0;
	}
	FUZZ_CHECK(kr.n >= 1 && kr.n <= MEMXD_MAX_KEYS && !kr.insecure);
	text = malloc(kr.n * 80 + 1);
	if (!text)
		abort();
	for (unsigned int i = 0; i < kr.n; i++) {
		FUZZ_CHECK(kr.key[i].id != 0);
		for (unsigned int j = 0; j < i; j++)
			FUZZ_CHECK(kr.key[i].id != kr.key[j].id);
		off += (size_t)sprintf(text + off, "%u ", kr.key[i].id);
		for (int b = 0; b < MEMXD_KEY_BYTES; b++)
			off += (size_t)sprintf(text + off, "%02x", kr.key[i].bytes[b]);
		text[off++] = '\n';
	}
	text[off] = '\0';
	FUZZ_CHECK(memxd_keyring_parse(text, &again, why, sizeof(why)) == 0);
	FUZZ_CHECK(!memcmp(&kr, &again, sizeof(kr)));
	free(text);
	return 0;
}
