// SPDX-License-Identifier: GPL-2.0
/*
 * --directory srv://: the first byte picks the parser, the rest is its input:
 * a DNS answer (dns_srv.c, through libresolv's ns_* parser) or the URL
 * (dns_srv_url.c). What they accept holds together: every donor's host is a
 * NUL-terminated name --donor would take, with a port above 0; a URL's name
 * starts with the service and formats back to a URL that parses the same.
 */
#include "fuzz.h"
#include "common/dns_srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_dir_donor d[8];
	struct memxd_srv_url u, u2;
	char why[128], out[320];
	unsigned int skipped;
	uint8_t *msg;
	char *s;
	int r;

	if (!size)
		return 0;
	why[0] = '\0';
	if (data[0] & 1) {
		/* An exact-size copy: a read past the answer is caught by ASan. */
		msg = malloc(size - 1 ? size - 1 : 1);
		if (!msg)
			abort();
		memcpy(msg, data + 1, size - 1);
		r = memxd_srv_decode(msg, size - 1, d, 8, &skipped, why, sizeof(why));
		FUZZ_CHECK(r <= 8);
		FUZZ_CHECK(r >= 0 || ((r == -EPROTO || r == -ENOENT) && why[0]));
		for (int i = 0; i < r; i++) {
			size_t n = strnlen(d[i].host, sizeof(d[i].host));

			FUZZ_CHECK(n > 0 && n < sizeof(d[i].host));
			FUZZ_CHECK(strspn(d[i].host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
					  "VWXYZ0123456789.-_") == n);
			FUZZ_CHECK(d[i].port > 0 && !d[i].id[0] && !d[i].zone[0]);
		}
		free(msg);
		return 0;
	}
	s = fuzz_string(data + 1, size - 1);
	r = memxd_srv_parse_url(s, &u, why, sizeof(why));
	FUZZ_CHECK(!r || (r == -EINVAL && why[0]));
	if (!r) {
		FUZZ_CHECK(!strncmp(u.name, MEMXD_SRV_SERVICE, sizeof(MEMXD_SRV_SERVICE) - 1));
		FUZZ_CHECK(strlen(u.name) < MEMXD_DNS_NAME_MAX && u.server_port > 0);
		memxd_srv_format_url(&u, out, sizeof(out));
		FUZZ_CHECK(!memxd_srv_parse_url(out, &u2, why, sizeof(why)));
		FUZZ_CHECK(!memcmp(&u, &u2, sizeof(u)));
	}
	free(s);
	return 0;
}
