// SPDX-License-Identifier: GPL-2.0
/* Control-socket request lines: what memxd_ctl_parse() makes of each. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/ctl.h"

Test(ctl, status)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("status", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_STATUS);
	cr_expect(!r.json && !r.slabs && r.strict);
	cr_assert_eq(memxd_ctl_parse("status --json", &r), 0);
	cr_expect(r.json && !r.slabs && r.strict);
	cr_assert_eq(memxd_ctl_parse("status --slabs --json", &r), 0);
	cr_expect(r.json && r.slabs && r.strict);
	/* The client's handler has always taken the options anywhere in the line. */
	cr_assert_eq(memxd_ctl_parse("status x--jsony", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_STATUS);
	cr_expect(r.json && !r.strict, "found, but not a word of its own");
	for (const char **s = (const char *[]){ "status ", "status  --json", "status --json ",
						 "status --json --json", "status foo", NULL }; *s; s++) {
		cr_assert_eq(memxd_ctl_parse(*s, &r), 0, "'%s'", *s);
		cr_expect_eq(r.kind, MEMXD_CTL_STATUS, "'%s'", *s);
		cr_expect(!r.strict, "'%s' is not strict", *s);
	}
	for (const char **s = (const char *[]){ "", "statu", "statusx", "Status", " status",
						 "status\t--json", NULL }; *s; s++) {
		cr_expect_eq(memxd_ctl_parse(*s, &r), -EINVAL, "'%s'", *s);
		cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN, "'%s'", *s);
	}
}

Test(ctl, donor_drain)
{
	const char *line = "donor drain 10.0.0.2:7471";
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse(line, &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_DONOR_DRAIN);
	cr_expect_eq(r.arg, line + 12, "the address as given, for the handler's answers");
	/* Whatever follows is the handler's to judge ("no donor ..."). */
	cr_assert_eq(memxd_ctl_parse("donor drain ", &r), 0);
	cr_expect_str_eq(r.arg, "");
	cr_expect_eq(memxd_ctl_parse("donor drain", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
}

Test(ctl, donor_add)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("donor add 10.0.0.5", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_DONOR_ADD);
	cr_expect_str_eq(r.host, "10.0.0.5");
	cr_expect_eq(r.port, 7471);
	cr_assert_eq(memxd_ctl_parse("donor add [fe80::1]:9000", &r), 0);
	cr_expect_str_eq(r.host, "fe80::1");
	cr_expect_eq(r.port, 9000);
	for (const char **s = (const char *[]){ "donor add ", "donor add h:0", "donor add a:b:c",
						 "donor add h:x", NULL }; *s; s++) {
		cr_expect_eq(memxd_ctl_parse(*s, &r), -EINVAL, "'%s'", *s);
		cr_expect_eq(r.kind, MEMXD_CTL_DONOR_ADD, "'%s': a bad ADDR, not an unknown request",
			     *s);
		cr_expect_str_eq(r.arg, *s + 10);
	}
	cr_expect_eq(memxd_ctl_parse("donor add", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
	cr_expect_eq(memxd_ctl_parse("donor remove 10.0.0.5", &r), -EINVAL);
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
}

Test(ctl, reload)
{
	struct memxd_ctl_req r;

	cr_assert_eq(memxd_ctl_parse("reload", &r), 0);
	cr_expect_eq(r.kind, MEMXD_CTL_RELOAD);
	cr_expect_eq(memxd_ctl_parse("reload now", &r), -EINVAL, "reload takes nothing");
	cr_expect_eq(r.kind, MEMXD_CTL_UNKNOWN);
	cr_expect_eq(memxd_ctl_parse("reloads", &r), -EINVAL);
}
