// SPDX-License-Identifier: GPL-2.0
/* `memxd donor`'s command line: every option checked alone, then together. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/directory.h"
#include "common/parse.h"
#include "common/proc.h"
#include "donor/donor.h"

/* Errors name the option, and the file and line when it came from --config. */
#define opt_err(fmt, ...) \
	fprintf(stderr, "memxd donor: %s" fmt, memxd_config_where(), ##__VA_ARGS__)

void memxd_donor_usage(FILE *f)
{
	fprintf(f,
		"usage: memxd donor --listen ADDR[:PORT] --memory SIZE [--join CLIENT[:PORT]]\n"
		"                   [--low-watermark SIZE] [--leave-timeout SEC] [--lease SEC]\n"
		"                   [--ctl PATH]\n"
		"                   [--max-per-client SIZE] [--host NAME] [--zone NAME] [--force]\n"
		"                   [--key-file PATH] [--allow-key ID]... [--insecure]\n"
		"                   [--directory etcd://HOST[:PORT][/PREFIX]] [--config FILE]\n"
		"  Lends up to SIZE bytes (K, M, G, T suffixes) to memx clients that connect\n"
		"  over RDMA to ADDR (default port %d).\n"
		"  --join           offer our memory to a running client (memxd client --listen)\n"
		"  --low-watermark  when this machine's available memory (or its cgroup's room)\n"
		"                   falls below SIZE, ask clients to move slabs away\n"
		"  --leave-timeout  on SIGTERM, wait this long for clients to move our slabs\n"
		"                   away before leaving anyway (default 60)\n"
		"  --lease          keep a volume's slabs up to this long after its engine is\n"
		"                   gone, for the engine to come back (it asks for as long as\n"
		"                   its --recovery-timeout; 0 to 3600, default %d)\n"
		"  --max-per-client most memory the volumes of one client address may hold\n"
		"                   here (default: no limit)\n"
		"  --host           this donor's host for failure domains (default: the\n"
		"                   machine-id); replicas of a slab never share a host\n"
		"  --zone           a failure zone (rack, room); replicas avoid sharing one\n"
		"  --force          lend SIZE even if it is more than this machine can spare\n"
		"                   (RAM less an eighth, at least 256M, kept for the machine)\n"
		"  --ctl            control socket for memxctl (default %s/donor-ADDR-PORT.sock)\n"
		"  --key-file       the cluster keys (default %s, mode 0600, root's);\n"
		"                   re-read on SIGHUP or memxctl reload\n"
		"  --allow-key      serve only clients that use this key id (repeat for more;\n"
		"                   default: any key in the file)\n"
		"  --insecure       no keys: any peer may use this donor (tests only)\n"
		"  --directory      list this donor in etcd under PREFIX (default\n"
		"                   %s) with a %d s lease it keeps alive, so that\n"
		"                   clients started with --directory join it\n"
		"  --config         read options from an ini file, keys named as the long\n"
		"                   options (memx.conf(5)); options after it override it\n",
		MEMX_DEFAULT_PORT, DONOR_DEFAULT_LEASE_S, MEMXD_RUN_DIR, MEMXD_KEY_FILE,
		MEMXD_ETCD_DEFAULT_PREFIX, MEMXD_DIR_TTL_S);
}

/* One option. Returns 0, -EINVAL (said why) or -ENOENT (not an option of ours). */
static int parse_option(int ch, const char *arg, struct donor *dn)
{
	char why[MEMXD_ETCD_WHY_LEN];
	uint64_t v;

	switch (ch) {
	case 'l':
		if (memxd_parse_hostport(arg, dn->host, sizeof(dn->host), &dn->port,
					MEMX_DEFAULT_PORT)) {
			opt_err("--listen '%s' is not ADDR[:PORT]\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'm':
		if (memxd_parse_size(arg, &dn->memory_total)) {
			opt_err("--memory '%s' is not a size (digits with "
				"K, M, G or T)\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'c':
		if (strlen(arg) >= sizeof(dn->ctl_path)) {
			opt_err("--ctl path too long\n");
			return -EINVAL;
		}
		strcpy(dn->ctl_path, arg);
		return 0;
	case 'j':
		if (memxd_parse_hostport(arg, dn->join_host, sizeof(dn->join_host),
					&dn->join_port, MEMX_DEFAULT_PORT)) {
			opt_err("--join '%s' is not ADDR[:PORT]\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'w':
		if (memxd_parse_size(arg, &dn->low_watermark)) {
			opt_err("--low-watermark '%s' is not a size\n", arg);
			return -EINVAL;
		}
		return 0;
	case 'f':
		dn->force = true;
		return 0;
	case 'H':
	case 'z':
		if (!memxd_label_ok(arg, false)) {
			opt_err("--%s must be 1-15 letters, digits, '.', '_' or "
				"'-'\n", ch == 'H' ? "host" : "zone");
			return -EINVAL;
		}
		if (ch == 'z') {
			strcpy(dn->zone, arg);
		} else {
			memset(dn->host_id, 0, sizeof(dn->host_id));
			memcpy(dn->host_id, arg, strlen(arg));
			dn->host_given = true;
		}
		return 0;
	case 'q':
		if (memxd_parse_size(arg, &dn->max_per_client) || !dn->max_per_client) {
			opt_err("--max-per-client '%s' is not a size above 0\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case 'k':
		if (strlen(arg) >= sizeof(dn->trust.key_file)) {
			opt_err("--key-file path too long\n");
			return -EINVAL;
		}
		strcpy(dn->trust.key_file, arg);
		return 0;
	case 'I':
		dn->trust.insecure = true;
		return 0;
	case 'a':
		if (memxd_parse_uint(arg, 1, UINT32_MAX, &v) || dn->nr_allow == MEMXD_MAX_KEYS) {
			opt_err("--allow-key '%s' is not a key id "
				"(1..4294967295; at most 16)\n", arg);
			return -EINVAL;
		}
		dn->allow_key[dn->nr_allow++] = (uint32_t)v;
		return 0;
	case 'L':
		if (memxd_parse_uint(arg, 0, MEMX_MAX_LEASE_S, &v)) {
			opt_err("--lease must be 0 to %d seconds\n",
				MEMX_MAX_LEASE_S);
			return -EINVAL;
		}
		dn->max_lease_s = (unsigned int)v;
		return 0;
	case 'D':
		if (!strncmp(arg, "srv://", 6)) {
			opt_err("--directory '%s': DNS SRV records are read-only: whoever runs "
				"the zone lists the donors there; a donor lists itself only in "
				"etcd (etcd://HOST[:PORT][/PREFIX])\n", arg);
			return -EINVAL;
		}
		if (memxd_etcd_parse_url(arg, &dn->dir_url, why, sizeof(why))) {
			opt_err("--directory '%s': %s (etcd://HOST[:PORT][/PREFIX])\n", arg, why);
			return -EINVAL;
		}
		return 0;
	case 't':
		if (memxd_parse_uint(arg, 1, 86400, &v)) {
			opt_err("--leave-timeout must be 1 to 86400 "
				"seconds\n");
			return -EINVAL;
		}
		dn->leave_timeout_s = (unsigned int)v;
		return 0;
	}
	return -ENOENT;
}

/*
 * Lent memory is pinned (one MR per slab): a donor that promises more than
 * the machine has wins placement with memory it cannot give, and pinning it
 * would starve the machine. Keep an eighth of RAM (at least 256 MiB) for the
 * machine itself. True (and says why) when `bytes` is more than that allows.
 */
static bool more_than_the_machine_has(uint64_t bytes)
{
	uint64_t total = memxd_mem_total(), keep = total / 8, can;

	if (!total)
		return false;	/* no /proc/meminfo: nothing to check against */
	if (keep < (256ULL << 20))
		keep = 256ULL << 20;
	can = total > keep ? total - keep : 0;
	if (bytes <= can)
		return false;
	opt_err("--memory %llu MiB is more than this machine can lend: it has "
		"%llu MiB of RAM and keeps %llu MiB for itself, so at most %llu MiB; lower "
		"--memory, or add --force\n", (unsigned long long)(bytes >> 20),
		(unsigned long long)(total >> 20), (unsigned long long)(keep >> 20),
		(unsigned long long)(can >> 20));
	return true;
}

/* What the options mean together; fills in the defaults that depend on others. */
static int check_options(struct donor *dn)
{
	if (!dn->host[0] || !dn->memory_total) {
		opt_err("--listen and a non-zero --memory are needed\n");
		return -EINVAL;
	}
	if (dn->memory_total < (1ULL << MEMX_MIN_SLAB_SHIFT)) {
		opt_err("--memory must be at least 1M (the smallest slab)\n");
		return -EINVAL;
	}
	if (dn->trust.insecure && (dn->trust.key_file[0] || dn->nr_allow)) {
		opt_err("--insecure takes no --key-file or --allow-key\n");
		return -EINVAL;
	}
	if (!dn->host_given)
		memxd_machine_id(dn->host_id);
	if (!dn->force && more_than_the_machine_has(dn->memory_total))
		return -EINVAL;
	dn->max_slab_shift = 63 - __builtin_clzll(dn->memory_total);
	if (dn->max_slab_shift > MEMX_MAX_SLAB_SHIFT)
		dn->max_slab_shift = MEMX_MAX_SLAB_SHIFT;
	if (!dn->ctl_path[0])
		snprintf(dn->ctl_path, sizeof(dn->ctl_path), "%s/donor-%s-%u.sock", MEMXD_RUN_DIR,
			 dn->host, dn->port);
	return 0;
}

static const struct option donor_longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "memory", required_argument, NULL, 'm' },
	{ "ctl", required_argument, NULL, 'c' },
	{ "join", required_argument, NULL, 'j' },
	{ "low-watermark", required_argument, NULL, 'w' },
	{ "leave-timeout", required_argument, NULL, 't' },
	{ "lease", required_argument, NULL, 'L' },
	{ "force", no_argument, NULL, 'f' },
	{ "max-per-client", required_argument, NULL, 'q' },
	{ "host", required_argument, NULL, 'H' },
	{ "zone", required_argument, NULL, 'z' },
	{ "key-file", required_argument, NULL, 'k' },
	{ "allow-key", required_argument, NULL, 'a' },
	{ "insecure", no_argument, NULL, 'I' },
	{ "directory", required_argument, NULL, 'D' },
	{ "config", required_argument, NULL, 'F' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* A key of a --config file: the option of that name, through the same handler. */
static int apply_config_key(void *ctx, const char *key, const char *value)
{
	const char *arg;
	int ch = memxd_config_option("donor", donor_longopts, key, value, &arg);

	if (ch < 0)
		return ch;
	return parse_option(ch, arg, ctx);
}

int memxd_donor_parse(int argc, char **argv, struct donor *dn)
{
	int ch, r;

	dn->leave_timeout_s = 60;
	dn->max_lease_s = DONOR_DEFAULT_LEASE_S;
	/*
	 * 0, not 1: glibc (and musl) then reset all of getopt's state. With 1, a
	 * parse that stopped inside a group of short options ("-xy": 'x' refused)
	 * leaves getopt pointing at 'y', and the next parse starts there.
	 */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", donor_longopts, NULL)) != -1) {
		if (ch == 'h') {
			memxd_donor_usage(stdout);
			exit(0);
		}
		/* The file's options take its place: later ones override them. */
		if (ch == 'F') {
			r = memxd_config_read(optarg, "donor", apply_config_key, dn);
			if (r)
				return r;
			continue;
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
		opt_err("unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return check_options(dn);
}
