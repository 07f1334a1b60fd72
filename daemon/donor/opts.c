// SPDX-License-Identifier: GPL-2.0
/* `memxd donor`'s command line: every option checked alone, then together. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "donor/donor.h"

void memxd_donor_usage(FILE *f)
{
	fprintf(f,
		"usage: memxd donor --listen ADDR[:PORT] --memory SIZE [--join CLIENT[:PORT]]\n"
		"                   [--low-watermark SIZE] [--leave-timeout SEC] [--ctl PATH]\n"
		"  Lends up to SIZE bytes (K, M, G, T suffixes) to memx clients that connect\n"
		"  over RDMA to ADDR (default port %d).\n"
		"  --join           offer our memory to a running client (memxd client --listen)\n"
		"  --low-watermark  when this machine's available memory (or its cgroup's room)\n"
		"                   falls below SIZE, ask clients to move slabs away\n"
		"  --leave-timeout  on SIGTERM, wait this long for clients to move our slabs\n"
		"                   away before leaving anyway (default 60)\n"
		"  --ctl            control socket for memxctl (default %s/donor-ADDR-PORT.sock)\n",
		MEMX_DEFAULT_PORT, MEMXD_RUN_DIR);
}

/* One option. Returns 0, -EINVAL (said why) or -ENOENT (not an option of ours). */
static int parse_option(int ch, const char *arg, struct donor *dn)
{
	uint64_t v;

	switch (ch) {
	case 'l':
		if (memxd_parse_hostport(arg, dn->host, sizeof(dn->host), &dn->port,
					MEMX_DEFAULT_PORT)) {
			fprintf(stderr, "memxd donor: --listen '%s' is not ADDR[:PORT]\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'm':
		if (memxd_parse_size(arg, &dn->memory_total)) {
			fprintf(stderr, "memxd donor: --memory '%s' is not a size (digits with "
				"K, M, G or T)\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'c':
		if (strlen(arg) >= sizeof(dn->ctl_path)) {
			fprintf(stderr, "memxd donor: --ctl path too long\n");
			return -EINVAL;
		}
		strcpy(dn->ctl_path, arg);
		return 0;
	case 'j':
		if (memxd_parse_hostport(arg, dn->join_host, sizeof(dn->join_host),
					&dn->join_port, MEMX_DEFAULT_PORT)) {
			fprintf(stderr, "memxd donor: --join '%s' is not ADDR[:PORT]\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'w':
		if (memxd_parse_size(arg, &dn->low_watermark)) {
			fprintf(stderr, "memxd donor: --low-watermark '%s' is not a size\n", arg);
			return -EINVAL;
		}
		return 0;
	case 't':
		if (memxd_parse_uint(arg, 1, 86400, &v)) {
			fprintf(stderr, "memxd donor: --leave-timeout must be 1 to 86400 "
				"seconds\n");
			return -EINVAL;
		}
		dn->leave_timeout_s = (unsigned int)v;
		return 0;
	}
	return -ENOENT;
}

/* What the options mean together; fills in the defaults that depend on others. */
static int check_options(struct donor *dn)
{
	if (!dn->host[0] || !dn->memory_total) {
		fprintf(stderr, "memxd donor: --listen and a non-zero --memory are needed\n");
		return -EINVAL;
	}
	if (dn->memory_total < (1ULL << MEMX_MIN_SLAB_SHIFT)) {
		fprintf(stderr, "memxd donor: --memory must be at least 1M (the smallest slab)\n");
		return -EINVAL;
	}
	dn->max_slab_shift = 63 - __builtin_clzll(dn->memory_total);
	if (dn->max_slab_shift > MEMX_MAX_SLAB_SHIFT)
		dn->max_slab_shift = MEMX_MAX_SLAB_SHIFT;
	if (!dn->ctl_path[0])
		snprintf(dn->ctl_path, sizeof(dn->ctl_path), "%s/donor-%s-%u.sock", MEMXD_RUN_DIR,
			 dn->host, dn->port);
	return 0;
}

int memxd_donor_parse(int argc, char **argv, struct donor *dn)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "memory", required_argument, NULL, 'm' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "join", required_argument, NULL, 'j' },
		{ "low-watermark", required_argument, NULL, 'w' },
		{ "leave-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int ch, r;

	dn->leave_timeout_s = 60;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'h') {
			memxd_donor_usage(stdout);
			exit(0);
		}
		r = parse_option(ch, optarg, dn);
		if (r == -ENOENT) {
			memxd_donor_usage(stderr);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "memxd donor: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return check_options(dn);
}
