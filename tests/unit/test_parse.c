// SPDX-License-Identifier: GPL-2.0
/* Command-line value parsers: sizes with suffixes, counts, ADDR[:PORT]. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/parse.h"

Test(parse, sizes)
{
	uint64_t v;

	cr_assert_eq(memxd_parse_size("4096", &v), 0);
	cr_expect_eq(v, 4096);
	cr_assert_eq(memxd_parse_size("64K", &v), 0);
	cr_expect_eq(v, 64 << 10);
	cr_assert_eq(memxd_parse_size("3m", &v), 0);
	cr_expect_eq(v, 3 << 20);
	cr_assert_eq(memxd_parse_size("2G", &v), 0);
	cr_expect_eq(v, 2ULL << 30);
	cr_assert_eq(memxd_parse_size("1TiB", &v), 0);
	cr_expect_eq(v, 1ULL << 40);
	cr_assert_eq(memxd_parse_size("512B", &v), 0);
	cr_expect_eq(v, 512);
	cr_assert_eq(memxd_parse_size("0", &v), 0, "zero parses; callers refuse it with a reason");
	cr_expect_eq(v, 0);
	for (const char **s = (const char *[]){ "", "G", "-1", "+4", "1.5G", "4X", "4 K",
						 "4KK", " 4", "4Kx", "0x10", NULL }; *s; s++)
		cr_expect_eq(memxd_parse_size(*s, &v), -EINVAL, "'%s'", *s);
	cr_expect_eq(memxd_parse_size("99999999999999999999", &v), -ERANGE);
	cr_expect_eq(memxd_parse_size("20000000T", &v), -ERANGE);
	cr_expect_eq(memxd_parse_size(NULL, &v), -EINVAL);
}

Test(parse, counts)
{
	uint64_t v;

	cr_assert_eq(memxd_parse_uint("32", 1, 256, &v), 0);
	cr_expect_eq(v, 32);
	cr_expect_eq(memxd_parse_uint("0", 1, 256, &v), -ERANGE);
	cr_expect_eq(memxd_parse_uint("257", 1, 256, &v), -ERANGE);
	cr_expect_eq(memxd_parse_uint("3x", 1, 256, &v), -EINVAL);
	cr_expect_eq(memxd_parse_uint("-3", 1, 256, &v), -EINVAL);
}

Test(parse, hostport)
{
	char host[64];
	uint16_t port;

	cr_assert_eq(memxd_parse_hostport("10.0.0.1", host, sizeof(host), &port, 7471), 0);
	cr_expect_str_eq(host, "10.0.0.1");
	cr_expect_eq(port, 7471);
	cr_assert_eq(memxd_parse_hostport("10.0.0.1:9000", host, sizeof(host), &port, 7471), 0);
	cr_expect_eq(port, 9000);
	cr_assert_eq(memxd_parse_hostport("[fe80::1]:5", host, sizeof(host), &port, 7471), 0);
	cr_expect_str_eq(host, "fe80::1");
	cr_expect_eq(port, 5);
	for (const char **s = (const char *[]){ "", ":80", "h:0", "h:65536", "h:x", "h:",
						 "fe80::1", "[fe80::1", "[::1]x", NULL }; *s; s++)
		cr_expect_eq(memxd_parse_hostport(*s, host, sizeof(host), &port, 1), -EINVAL, "'%s'", *s);
	cr_expect_eq(memxd_parse_hostport("averyveryverylonghostname", host, 8, &port, 1), -EINVAL);
}
