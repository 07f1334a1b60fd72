// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_parse_hostport(): byte 0 is the host buffer's size (allocated
 * exactly), bytes 1-2 the default port, the rest the text. A parsed host is
 * NUL-terminated inside its buffer, comes from the text, and written back as
 * ADDR:PORT ([ADDR]:PORT when it needs brackets) parses to the same.
 */
#include "fuzz.h"
#include "common/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *host, again[300], back[320];
	uint16_t def, port = 0, port2 = 0;
	size_t host_len, n;
	int r;

	if (size < 3)
		return 0;
	host_len = data[0];
	def = (uint16_t)(data[1] | data[2] << 8);
	s = fuzz_string(data + 3, size - 3);
	host = malloc(host_len ? host_len : 1);
	if (!host)
		abort();
	r = memxd_parse_hostport(s, host, host_len, &port, def);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (!r) {
		n = strnlen(host, host_len);
		FUZZ_CHECK(n > 0 && n < host_len);
		FUZZ_CHECK(strstr(s, host));
		FUZZ_CHECK(port || !def);
		if (!strchr(s, ':') || (s[0] == '[' && !strstr(s, "]:")))
			FUZZ_CHECK(port == def);	/* no port given */
		if (s[0] != '[')
			FUZZ_CHECK(!strchr(host, ':'));	/* bare IPv6 needs brackets */
		if (strchr(host, ':') || host[0] == '[')
			snprintf(back, sizeof(back), "[%s]", host);
		else
			snprintf(back, sizeof(back), "%s", host);
		if (port)
			snprintf(back + strlen(back), sizeof(back) - strlen(back), ":%u", port);
		FUZZ_CHECK(memxd_parse_hostport(back, again, sizeof(again), &port2, 0) == 0);
		FUZZ_CHECK(!strcmp(again, host) && port2 == port);
	}
	free(host);
	free(s);
	return 0;
}
