// SPDX-License-Identifier: GPL-2.0
/*
 * memxd client|donor --config FILE: ini files applied through the command
 * line's option handlers. Good files, bad keys, bad values, the line an error
 * names, repeated options, sections, and command-line options around --config.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "donor/donor.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))

static char dir[] = "/tmp/memx-test-config-XXXXXX";
static char cfg[sizeof(dir) + 16];	/* dir/c.conf: each test writes it */

/* What the parsers said on stderr during the last capture. */
static FILE *real_stderr;
static char *said;
static size_t said_len;

static void setup(void)
{
	cr_assert(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/c.conf", dir);
	real_stderr = stderr;
}

static void teardown(void)
{
	unlink(cfg);
	rmdir(dir);
	free(said);
}

static void write_cfg(const char *text)
{
	FILE *f = fopen(cfg, "w");

	cr_assert(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void capture(void)
{
	free(said);
	said = NULL;
	stderr = open_memstream(&said, &said_len);
	cr_assert(stderr);
}

static void release(void)
{
	fclose(stderr);
	stderr = real_stderr;
}

static int client_parse(int argc, char **argv, struct memxd_client_opts *o)
{
	int r;

	capture();
	r = memxd_client_parse(argc, argv, o);
	release();
	return r;
}
#define CLIENT_PARSE(o, ...) client_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o)

static int donor_parse(int argc, char **argv, struct donor **dn)
{
	int r;

	*dn = calloc(1, sizeof(**dn));	/* as memxd donor starts */
	cr_assert(*dn);
	capture();
	r = memxd_donor_parse(argc, argv, *dn);
	release();
	return r;
}
#define DONOR_PARSE(dn, ...) donor_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), dn)

/* stderr holds `text`, with FILE (if there) standing for the config file's path. */
static void expect_said(const char *text)
{
	char want[512];
	const char *at = strstr(text, "FILE");

	if (at)
		snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - text), text, cfg, at + 4);
	else
		snprintf(want, sizeof(want), "%s", text);
	cr_expect(said && strstr(said, want), "stderr '%s' should hold '%s'", said ? said : "",
		  want);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, client_file)
{
	struct memxd_client_opts o;

	write_cfg("; a volume for swap\n"
		  "# both comment styles\n"
		  "name = swap0\n"
		  "size = 2G\n"
		  "donor = 10.0.0.1\n"
		  "donor = 10.0.0.2:7000   ; a second donor\n"
		  "\n"
		  "io-deadline = 20\n"
		  "no-checksum = true\n"
		  "no-same-filled = yes\n"
		  "key-file = /etc/memx/other.key\n");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--config", cfg), 0, "%s", said);
	cr_expect_str_eq(o.name, "swap0");
	cr_expect_eq(o.size, 2ULL << 30);
	cr_expect_eq(o.nr_donors, 2, "a repeated key adds, as a repeated --donor does");
	cr_expect_str_eq(o.donor_host[0], "10.0.0.1");
	cr_expect_str_eq(o.donor_host[1], "10.0.0.2");
	cr_expect_eq(o.donor_port[1], 7000);
	cr_expect_eq(o.replicas, 2, "the same defaults as the command line");
	cr_expect_eq(o.io_deadline_s, 20);
	cr_expect(o.no_checksum);
	cr_expect(o.no_same_filled);
	cr_expect_str_eq(o.trust.key_file, "/etc/memx/other.key");
	cr_expect_str_eq(o.ctl_path, MEMXD_RUN_DIR "/client-swap0.sock");
}

Test(config, donor_file)
{
	struct donor *dn;

	write_cfg("listen = 10.0.0.9:7500\n"
		  "memory = 64M\n"
		  "allow-key = 3\n"
		  "allow-key = 4\n"
		  "lease = 30\n"
		  "zone = rack1\n"
		  "directory = etcd://10.0.0.5:4001/memx/lab\n"
		  "force = yes\n");
	cr_assert_eq(DONOR_PARSE(&dn, "donor", "--config", cfg), 0, "%s", said);
	cr_expect_str_eq(dn->dir_url.host, "10.0.0.5");
	cr_expect_eq(dn->dir_url.port, 4001);
	cr_expect_str_eq(dn->dir_url.prefix, "/memx/lab/");
	cr_expect_str_eq(dn->host, "10.0.0.9");
	cr_expect_eq(dn->port, 7500);
	cr_expect_eq(dn->memory_total, 64ULL << 20);
	cr_expect_eq(dn->nr_allow, 2);
	cr_expect_eq(dn->allow_key[1], 4);
	cr_expect_eq(dn->max_lease_s, 30);
	cr_expect_str_eq(dn->zone, "rack1");
	cr_expect(dn->force);
	free(dn);
}

/* One file for both roles: each reads the keys outside sections and its own section. */
Test(config, sections)
{
	struct memxd_client_opts o;
	struct donor *dn;

	write_cfg("key-file = /k\n"
		  "[donor]\n"
		  "listen = 10.0.0.9\n"
		  "memory = 64M\n"
		  "[client]\n"
		  "name = v\n"
		  "size = 1G\n"
		  "donor = 10.0.0.9\n");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--config", cfg), 0, "%s", said);
	cr_expect_str_eq(o.name, "v");
	cr_expect_str_eq(o.trust.key_file, "/k");
	cr_assert_eq(DONOR_PARSE(&dn, "donor", "--config", cfg), 0, "%s", said);
	cr_expect_str_eq(dn->host, "10.0.0.9");
	cr_expect_str_eq(dn->trust.key_file, "/k");
	free(dn);

	write_cfg("name = v\n"
		  "[volume]\n"
		  "size = 1G\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:3: key 'size' is in section [volume]; memxd client "
		    "reads keys before any section and in [client]");
}

/* Options apply in order: --config where it stands, later options over it. */
Test(config, command_line_overrides)
{
	struct memxd_client_opts o;

	write_cfg("name = v\nsize = 1G\ndonor = d1\nio-deadline = 20\nqueues = 3\n");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--config", cfg, "--io-deadline", "10"), 0);
	cr_expect_eq(o.io_deadline_s, 10, "an option after --config overrides the file");
	cr_expect_eq(o.queues, 3);
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--io-deadline", "10", "--config", cfg), 0);
	cr_expect_eq(o.io_deadline_s, 20, "the file overrides what came before it");
	cr_assert_eq(CLIENT_PARSE(&o, "client", "--config", cfg, "--donor", "d2"), 0);
	cr_expect_eq(o.nr_donors, 2, "--donor adds to the file's donors");
	cr_expect_str_eq(o.donor_host[1], "d2");
	cr_expect_eq(o.replicas, 2);
}

Test(config, unknown_key)
{
	struct memxd_client_opts o;
	struct donor *dn;

	write_cfg("name = v\n\n# the size\nsize = 1G\nsise = 1G\ndonor = d1\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:5: unknown key 'sise'");
	/* a donor's option is no client key, and a file names no other file */
	write_cfg("memory = 1G\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("FILE:1: unknown key 'memory'");
	write_cfg("config = /etc/memx/other.conf\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("FILE:1: unknown key 'config'");
	write_cfg("help = true\n");
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--config", cfg), -EINVAL);
	expect_said("memxd donor: FILE:1: unknown key 'help'");
	free(dn);
}

/* The command line's own checks and messages, with the file and line in front. */
Test(config, bad_values)
{
	struct memxd_client_opts o;
	struct donor *dn;

	write_cfg("name = v\nsize = 1G\ndonor = d1\nio-deadline = 0\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:4: --io-deadline '0' must be a number from");
	write_cfg("name = v\nsize = lots\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:2: --size 'lots' is not a size");
	write_cfg("name = v\nsize =\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("FILE:2: --size '' is not a size");
	write_cfg("name = v\nsize = 1G\ndonor = d1\nno-checksum = false\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("FILE:4: --no-checksum is a flag: write 'no-checksum = true', or leave it "
		    "out for off");
	write_cfg("listen = h\nmemory = 64M\n[donor]\nlease = 3601\n");
	cr_expect_eq(DONOR_PARSE(&dn, "donor", "--config", cfg), -EINVAL);
	expect_said("memxd donor: FILE:4: --lease must be 0 to 3600 seconds");
	free(dn);
	write_cfg("name = v\nsize = 1G\ndonor = d1\ndirectory = etcd://h:2379/a//b\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:4: --directory 'etcd://h:2379/a//b': the prefix has an "
		    "empty part ('//')");
	/* what the options mean together is checked once, after the file */
	write_cfg("name = v\nsize = 1G\ndonor = d1\nreplicas = 2\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: --replicas 2 needs at least that many donors");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg, "--donor", "d2"), 0);
}

/* A file that does not parse applies nothing: the first bad line is named. */
Test(config, syntax)
{
	struct memxd_client_opts o;

	write_cfg("donor = d1\n"
		  "name = v\n"
		  "size 1G\n"
		  "bogus = 1\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:3: expected 'key = value', '[section]' or a comment");
	cr_expect_null(strstr(said, "bogus"), "only the first bad line: %s", said);
	cr_expect_eq(o.nr_donors, 0, "nothing applied from a file that does not parse");
	write_cfg("name = v\n[client\n");
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("FILE:2: expected");
}

Test(config, long_line)
{
	struct memxd_client_opts o;
	char text[600];

	snprintf(text, sizeof(text), "name = v\nsize = 1G\nkey-file = /%0300d\ndonor = d\n", 0);
	write_cfg(text);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", cfg), -EINVAL);
	expect_said("memxd client: FILE:3: line longer than");
	cr_expect_eq(o.nr_donors, 0);
}

Test(config, files_that_are_not_config_files)
{
	struct memxd_client_opts o;
	char missing[sizeof(dir) + 16];

	snprintf(missing, sizeof(missing), "%s/none.conf", dir);
	/* The parsers' contract (fuzzed): 0 or -EINVAL; the reason is in the message. */
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", missing), -EINVAL);
	cr_expect(strstr(said, "--config") && strstr(said, "No such file"), "%s", said);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", "/dev/zero"), -EINVAL,
		     "an endless file is refused, not read forever");
	cr_expect(strstr(said, "not a regular file"), "%s", said);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config", dir), -EINVAL);
	cr_expect_eq(CLIENT_PARSE(&o, "client", "--config"), -EINVAL, "--config needs a FILE");
}

/* The examples meson installs parse, as the units run them. */
Test(config, shipped_examples)
{
	struct memxd_client_opts o;
	struct donor *dn;

	cr_assert_eq(CLIENT_PARSE(&o, "client", "--config", MEMX_EXAMPLES_DIR "/client-swap0.conf",
				  "--name", "swap0"), 0, "%s", said);
	cr_expect_eq(o.size, 24ULL << 30);
	cr_expect_eq(o.nr_donors, 2);
	cr_expect_str_eq(o.name, "swap0");
	/* --force: this machine need not have 32G to lend */
	cr_assert_eq(DONOR_PARSE(&dn, "donor", "--config", MEMX_EXAMPLES_DIR "/donor-main.conf",
				 "--force"), 0, "%s", said);
	cr_expect_eq(dn->memory_total, 32ULL << 30);
	cr_expect_str_eq(dn->host, "192.168.1.20");
	free(dn);
}
