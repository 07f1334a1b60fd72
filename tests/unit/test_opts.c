// SPDX-License-Identifier: GPL-2.0
/*
 * The command lines of memxd client and memxd donor: parsed again and again
 * in one process (as the tests and the fuzzers do), each parse starts afresh.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "donor/donor.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define CLIENT_PARSE(o, ...) memxd_client_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o)

static int donor_parse(int argc, char **argv, struct donor **dn)
{
	*dn = calloc(1, sizeof(**dn));	/* as memxd donor starts */
	cr_assert(*dn);
	return memxd_donor_parse(argc, argv, *dn);
}
#define DONOR_PARSE(dn, ...) donor_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), dn)

TestSuite(opts, .init = cr_redirect_stderr);

Test(opts, client)
{
	struct memxd_client_opts o;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--donor", "d2:7000"), 0);
	cr_expect_str_eq(o.name, "v");
	cr_expect_eq(o.size, 1ULL << 30);
	cr_expect_eq(o.nr_donors, 2);
	cr_expect_eq(o.donor_port[1], 7000);
	cr_expect_eq(o.replicas, 2, "two donors: two copies by default");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--replicas", "2"), -EINVAL);
}

/* Same-filled blocks are recorded unless --no-same-filled (also a --config flag). */
Test(opts, same_filled)
{
	struct memxd_client_opts o;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1"), 0);
	cr_expect_not(o.no_same_filled, "on by default");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--no-same-filled"), 0);
	cr_expect(o.no_same_filled);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--no-same-filled=1"), -EINVAL, "a flag takes no value");
}

/* --grant-pool N: 2 by default, 0 (none) to MEMXD_MAX_GRANT_POOL. */
Test(opts, grant_pool)
{
	struct memxd_client_opts o;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1"), 0);
	cr_expect_eq(o.grant_pool, MEMXD_DEFAULT_GRANT_POOL);
	cr_expect_eq(MEMXD_DEFAULT_GRANT_POOL, 2);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--grant-pool", "0"), 0);
	cr_expect_eq(o.grant_pool, 0);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--grant-pool", "16"), 0);
	cr_expect_eq(o.grant_pool, 16);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--grant-pool", "17"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--grant-pool", "-1"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d1",
				  "--grant-pool", "two"), -EINVAL);
}

/*
 * Found by tests/fuzz/fuzz_client_opts.c: "-xy" stops the parse at 'x' with
 * getopt inside "-xy"; with optind = 1 the next parse began with 'y' and
 * refused a good command line.
 */
Test(opts, client_after_short_option_group)
{
	struct memxd_client_opts o;

	cr_expect_eq(CLIENT_PARSE(&o, "client", "-xy"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d"), 0,
		     "a parse must not start where the last one stopped");
	cr_expect_str_eq(o.name, "v");
}

Test(opts, donor_after_short_option_group)
{
	struct donor *dn;

	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "10.0.0.1", "-xy"), -EINVAL);
	free(dn);
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "10.0.0.1", "--memory", "64M"), 0,
		     "a parse must not start where the last one stopped");
	cr_expect_str_eq(dn->host, "10.0.0.1");
	cr_expect_eq(dn->memory_total, 64ULL << 20);
	cr_expect_eq(dn->max_slab_shift, 26);
	free(dn);
}

Test(opts, keys)
{
	struct memxd_client_opts o;
	struct donor *dn;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--key-file", "/etc/k"), 0);
	cr_expect_str_eq(o.trust.key_file, "/etc/k");
	cr_expect_not(o.trust.insecure);
	cr_expect_eq(o.state_key_id, 0, "no state key by default: no state is left on the donors");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--key-file", "/etc/k", "--insecure"), -EINVAL,
		     "--insecure with a key file is a contradiction");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--state-key", "4294967295"), 0);
	cr_expect_eq(o.state_key_id, 4294967295U);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--state-key", "0"), -EINVAL, "key id 0 is --insecure's");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--insecure", "--state-key", "2"), -EINVAL, "--insecure has no keys");
	cr_expect_eq(o.rest_after_s, MEMXD_DEFAULT_REST_AFTER_S);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--state-key", "2", "--rest-after", "0"), 0);
	cr_expect_eq(o.rest_after_s, 0, "--rest-after 0: the state is never left at rest");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--rest-after", "86400"), 0);
	cr_expect_eq(o.rest_after_s, 86400);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--rest-after", "86401"), -EINVAL, "more than a day");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--rest-after", "-1"), -EINVAL);
	cr_assert_eq(DONOR_PARSE(&dn, "donor", "--listen", "h", "--memory", "64M", "--allow-key",
				 "7", "--allow-key", "4294967295"), 0);
	cr_expect_eq(dn->nr_allow, 2);
	cr_expect_eq(dn->allow_key[1], 4294967295U);
	free(dn);
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "h", "--memory", "64M", "--allow-key",
				 "0"), -EINVAL, "key id 0 is --insecure's");
	free(dn);
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "h", "--memory", "64M", "--insecure",
				 "--allow-key", "3"), -EINVAL);
	free(dn);
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "h", "--memory", "64M", "--insecure"), 0);
	cr_expect(dn->trust.insecure);
	free(dn);
}

Test(opts, kernel_backend)
{
	struct memxd_client_opts o;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d"), 0);
	cr_expect_eq(o.kernel_backend, MEMXD_KBACKEND_AUTO, "auto unless asked");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "ublk"), 0);
	cr_expect_eq(o.kernel_backend, MEMXD_KBACKEND_UBLK);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "memx"), 0);
	cr_expect_eq(o.kernel_backend, MEMXD_KBACKEND_MEMX);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "auto"), 0);
	cr_expect_eq(o.kernel_backend, MEMXD_KBACKEND_AUTO);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "nbd"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", ""), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "UBLK"), -EINVAL, "names are exact");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend"), -EINVAL);
	/* ublk has no polled queues; memx.ko and auto may. */
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "ublk", "--poll-queues", "1"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--kernel-backend", "memx", "--poll-queues", "1"), 0);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--poll-queues", "1"), 0);
}

Test(opts, kernel_backend_choice)
{
	const char *why = NULL;

	/* auto: memx.ko when loaded, else ublk when there, else memx.ko (whose open fails). */
	cr_expect_eq(memxd_kbackend_choose(MEMXD_KBACKEND_AUTO, true, true, &why),
		     MEMXD_KBACKEND_MEMX);
	cr_expect(strstr(why, "memx.ko is loaded"), "%s", why);
	cr_expect_eq(memxd_kbackend_choose(MEMXD_KBACKEND_AUTO, true, false, &why),
		     MEMXD_KBACKEND_MEMX);
	cr_expect_eq(memxd_kbackend_choose(MEMXD_KBACKEND_AUTO, false, true, &why),
		     MEMXD_KBACKEND_UBLK);
	cr_expect(strstr(why, "/dev/ublk-control exists"), "%s", why);
	cr_expect_eq(memxd_kbackend_choose(MEMXD_KBACKEND_AUTO, false, false, &why),
		     MEMXD_KBACKEND_MEMX);
	cr_expect(strstr(why, "neither"), "%s", why);
	/* Forced: whatever the host has. */
	cr_expect_eq(memxd_kbackend_choose(MEMXD_KBACKEND_UBLK, true, false, &why),
		     MEMXD_KBACKEND_UBLK);
	cr_expect_str_eq(why, "--kernel-backend ublk");
	cr_expect_eq(memxd_kbackend_choose(MEMXD_KBACKEND_MEMX, false, true, &why),
		     MEMXD_KBACKEND_MEMX);
	cr_expect_str_eq(why, "--kernel-backend memx");
	cr_expect_str_eq(memxd_kbackend_kind_name(MEMXD_KBACKEND_UBLK), "ublk");
	cr_expect_str_eq(memxd_kbackend_kind_name(7), "?");
}

/* --directory etcd://HOST[:PORT][/PREFIX], both roles: the URL is checked, with a reason. */
Test(opts, directory)
{
	struct memxd_client_opts o;
	struct donor *dn;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--directory", "etcd://10.0.0.5:2379/memx/test"), 0);
	cr_expect_str_eq(o.dir_url.host, "10.0.0.5");
	cr_expect_eq(o.dir_url.port, 2379);
	cr_expect_str_eq(o.dir_url.prefix, "/memx/test/");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d"), 0);
	cr_expect_eq(o.dir_url.host[0], '\0', "no --directory: no etcd");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--directory", "http://10.0.0.5:2379"), -EINVAL);
	/* The directory alone may bring every donor: replicas default to 2, the wait to 30 s. */
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G",
				  "--directory", "etcd://10.0.0.5"), 0);
	cr_expect_eq(o.nr_donors, 0);
	cr_expect_eq(o.replicas, 2);
	cr_expect_eq(o.dir_wait_s, MEMXD_DEFAULT_DIR_WAIT_S);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--replicas", "3",
				  "--directory-wait", "90", "--directory", "etcd://10.0.0.5"), 0);
	cr_expect_eq(o.replicas, 3, "more replicas than static donors: the directory has them");
	cr_expect_eq(o.dir_wait_s, 90);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G",
				  "--directory-wait", "0", "--directory", "etcd://10.0.0.5"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G",
				  "--directory-wait", "3601", "--directory", "etcd://10.0.0.5"), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G"), -EINVAL,
		     "neither a --donor nor a --directory");
	/* DNS SRV records: the client reads them; the last --directory wins. */
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--directory",
				  "etcd://10.0.0.5", "--directory", "srv://c1.lan@10.0.0.53"), 0);
	cr_expect_str_eq(o.dir_srv.name, "_memx._tcp.c1.lan");
	cr_expect_str_eq(o.dir_srv.server, "10.0.0.53");
	cr_expect_eq(o.dir_url.host[0], '\0', "the etcd URL is replaced");
	cr_expect(memxd_client_has_directory(&o));
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--directory",
				  "srv://c1.lan@dns.lan"), -EINVAL, "the server is an IPv4 address");
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "10.0.0.1", "--memory", "64M",
				 "--directory", "srv://c1.lan"), -EINVAL,
		     "a donor cannot list itself in DNS");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--name", "v", "--size", "1G", "--donor", "d",
				  "--replicas", "2"), -EINVAL,
		     "no directory: --replicas 2 needs two --donors");
	cr_assert_eq(DONOR_PARSE(&dn, "donor", "--listen", "10.0.0.1", "--memory", "64M",
				 "--directory", "etcd://[::1]"), 0);
	cr_expect_str_eq(dn->dir_url.host, "::1");
	cr_expect_eq(dn->dir_url.port, MEMXD_ETCD_DEFAULT_PORT);
	cr_expect_str_eq(dn->dir_url.prefix, MEMXD_ETCD_DEFAULT_PREFIX);
	free(dn);
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--listen", "10.0.0.1", "--memory", "64M",
				 "--directory", "etcd://h:2379/a/../b"), -EINVAL);
	free(dn);
}
