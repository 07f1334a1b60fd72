// SPDX-License-Identifier: GPL-2.0
/*
 * `memxd client`'s command line: every option checked alone, then together,
 * with a message that says what is wrong and what is allowed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/config.h"
#include "common/directory.h"
#include "common/parse.h"

/* Errors name the option, and the file and line when it came from --config. */
#define opt_err(fmt, ...) \
	fprintf(stderr, "memxd client: %s" fmt, memxd_config_where(), ##__VA_ARGS__)

void memxd_client_usage(FILE *f)
{
	fprintf(f,
		"usage: memxd client --name NAME --size SIZE --donor ADDR[:PORT] [--donor ...]\n"
		"       memxd client --name NAME --size SIZE --directory URL [--donor ...]\n"
		"                    [--slab SIZE] [--queues N] [--depth N] [--max-io SIZE]\n"
		"                    [--replicas R] [--rereplicate-rate SIZE] [--bind ADDR]\n"
		"                    [--poll-us US] [--poll-queues N] [--listen ADDR[:PORT]]\n"
		"                    [--no-checksum] [--no-same-filled] [--scrub-rate SIZE]\n"
		"                    [--scatter-width W] [--grant-pool N]\n"
		"                    [--ctl PATH] [--key-file PATH] [--insecure] [--io-deadline SEC]\n"
		"                    [--recovery-timeout SEC] [--attach] [--state-key ID]\n"
		"                    [--rest-after SEC]\n"
		"                    [--config FILE]\n"
		"                    [--kernel-backend auto|memx|ublk] [--overcommit]\n"
		"                    [--directory etcd://HOST[:PORT][/PREFIX] | srv://DOMAIN[@SERVER[:PORT]]]\n"
		"                    [--directory-wait SEC]\n"
		"  Creates a block device of SIZE bytes backed by the donors' memory and serves\n"
		"  it until SIGINT/SIGTERM: /dev/memxN through memx.ko, or /dev/ublkbN through\n"
		"  the kernel's ublk. Sizes take K, M, G, T suffixes (powers of 1024).\n"
		"  --slab      unit of remote allocation, power of two >= 1M (default 64M)\n"
		"  --queues    hardware queues, one engine thread each (default 2)\n"
		"  --depth     requests in flight per queue (default 32)\n"
		"  --max-io    largest request, power of two 4K..1M (default 128K)\n"
		"  --replicas  copies of each slab on distinct donors (default 2 with two or\n"
		"              more donors or a --directory, else 1)\n"
		"  --rereplicate-rate  bytes per second copied to restore lost replicas or\n"
		"              move slabs off a leaving donor (default 64M)\n"
		"  --poll-us   microseconds an idle queue thread keeps looking for requests\n"
		"              and completions before it sleeps; 0 sleeps at once (default %u)\n"
		"  --poll-queues  extra queues, one engine thread each, for polled I/O\n"
		"              (io_uring IOPOLL, fio --hipri): the submitter spins instead\n"
		"              of sleeping, for the lowest latency (default 0: none)\n"
		"  --bind      local address to reach the donors from (default: the route's)\n"
		"  --listen    ADDR[:PORT] where donors may join (memxd donor --join)\n"
		"  --overcommit  start even if the donors cannot hold the whole volume at\n"
		"              its replica count (writes past their memory fail); default:\n"
		"              such a volume is refused\n"
		"  --no-checksum  do not keep and check a CRC32C of every 4K block (for\n"
		"              volumes under dm-integrity; default: every read is checked)\n"
		"  --no-same-filled  send every block to the donors, even one that is a\n"
		"              single 64-bit value repeated (zeros); by default such a block\n"
		"              is only recorded in the engine, and read back from there\n"
		"  --scrub-rate  bytes per second of every replica read back and checked in\n"
		"              the background, bad copies rewritten; 0 turns it off (default 4M)\n"
		"  --scatter-width  how many other donors each donor may share slabs with\n"
		"              (copysets: fewer lose less to two failures at once; 0: any)\n"
		"              (default 4)\n"
		"  --grant-pool  grants each donor keeps ready, so that a first write to a\n"
		"              slab maps at once instead of waiting for the donor; refilled\n"
		"              in the background; 0: none (default %u, at most %u)\n"
		"  --ctl       control socket for memxctl (default %s/client-NAME.sock)\n"
		"  --key-file  the cluster keys (default %s, mode 0600, root's); the\n"
		"              first connects; re-read on SIGHUP or memxctl reload\n"
		"  --insecure  no keys: donors that run --insecure only (tests only)\n"
		"  --io-deadline  seconds the engine may hold requests without finishing any\n"
		"              before memx.ko treats it as dead and fails them (on ublk, its\n"
		"              keeper kills it and the next engine takes over) (default 30)\n"
		"  --recovery-timeout  if the engine dies, the kernel holds the volume's requests\n"
		"              this long and donors keep its memory, for the same command to\n"
		"              be run again and take over; 0: the volume dies with the engine\n"
		"              (default %u)\n"
		"  --attach    take over the volume NAME that `memxctl volume detach` handed\n"
		"              off (here or on another host): its data stays on the donors for\n"
		"              the recovery timeout, and %s/client-NAME.state says\n"
		"              where: copied from the host it left, or, when there is none,\n"
		"              rebuilt from the sealed copy the detach (or the volume at\n"
		"              rest, --rest-after) left on the donors (any host with the key\n"
		"              opens it); never a new volume\n"
		"  --state-key  the id of the key in --key-file that seals (detach) and\n"
		"              opens (attach) the state left on the donors: one the donors'\n"
		"              key files lack (default: none; no state is left on the donors,\n"
		"              since they hold the connecting key and could read the\n"
		"              volume's secret in it)\n"
		"  --rest-after  with --state-key: once nothing is written for this long,\n"
		"              leave the sealed state on the donors too (the volume is at\n"
		"              rest), so that if this host dies --attach elsewhere takes it\n"
		"              over; the next write first drops it; 0: never (default %u)\n"
		"  --kernel-backend  how the kernel hands us block requests: memx (memx.ko),\n"
		"              ublk (the kernel's ublk_drv, Linux 6.0+: no module to build;\n"
		"              no --poll-queues), or auto:\n"
		"              memx.ko if loaded, else ublk if /dev/ublk-control exists\n"
		"              (default auto)\n"
		"  --directory  also join the donors listed in etcd under PREFIX (default\n"
		"              %s), read every %u s; they authenticate as any\n"
		"              donor. With no --donor, the donors all come from it.\n"
		"              srv://DOMAIN: the SRV records of _memx._tcp.DOMAIN instead\n"
		"              (asked of SERVER, an IPv4 address, or the system's resolvers)\n"
		"  --directory-wait  with --directory and fewer --donors than --replicas, how\n"
		"              long a new volume waits at start for the directory to list\n"
		"              enough donors that join (default %u)\n"
		"  --config    read options from an ini file, keys named as the long options\n"
		"              (memx.conf(5)); options after it override the file's\n",
		MEMXD_DEFAULT_POLL_US, MEMXD_DEFAULT_GRANT_POOL, MEMXD_MAX_GRANT_POOL, MEMXD_RUN_DIR,
		MEMXD_KEY_FILE, MEMXD_DEFAULT_RECOVERY_S,
		MEMXD_RUN_DIR, MEMXD_DEFAULT_REST_AFTER_S, MEMXD_ETCD_DEFAULT_PREFIX,
		MEMXD_DIR_POLL_MS / 1000,
		MEMXD_DEFAULT_DIR_WAIT_S);
}

static int opt_size(const char *what, const char *arg, uint64_t *out)
{
	int r = memxd_parse_size(arg, out);

	if (r)
		opt_err("%s '%s' is not a size (digits with K, M, G or T)\n",
			what, arg);
	return r;
}

static int opt_count(const char *what, const char *arg, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	int r = memxd_parse_uint(arg, min, max, out);

	if (r)
		opt_err("%s '%s' must be a number from %" PRIu64 " to %" PRIu64
			"\n", what, arg, min, max);
	return r;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Options that name things: the volume, donors, addresses, the socket. */
static int parse_name_option(int ch, const char *arg, struct memxd_client_opts *o)
{
	char why[MEMXD_ETCD_WHY_LEN];

	switch (ch) {
	case 'G':
		/* One directory: the last --directory wins. */
		memset(&o->dir_url, 0, sizeof(o->dir_url));
		memset(&o->dir_srv, 0, sizeof(o->dir_srv));
		if (!strncmp(arg, "srv://", 6) ?
		    memxd_srv_parse_url(arg, &o->dir_srv, why, sizeof(why)) :
		    memxd_etcd_parse_url(arg, &o->dir_url, why, sizeof(why))) {
			opt_err("--directory '%s': %s (etcd://HOST[:PORT][/PREFIX] or "
				"srv://DOMAIN[@SERVER[:PORT]])\n", arg, why);
			return -EINVAL;
		}
		return 0;
	case 'n':
		if (!*arg || strlen(arg) >= sizeof(o->name) ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789-_.") != strlen(arg)) {
			opt_err("--name must be 1-%zu letters, digits, "
				"'-', '_' or '.'\n", sizeof(o->name) - 1);
			return -EINVAL;
		}
		strcpy(o->name, arg);
		return 0;
	case 'd':
		if (o->nr_donors == MEMXD_MAX_DONORS) {
			opt_err("at most %d donors\n", MEMXD_MAX_DONORS);
			return -EINVAL;
		}
		if (memxd_parse_hostport(arg, o->donor_host[o->nr_donors], MEMXD_HOST_MAX,
					&o->donor_port[o->nr_donors], MEMX_DEFAULT_PORT)) {
			opt_err("--donor '%s' is not ADDR[:PORT]\n", arg);
			return -EINVAL;
		}
		o->nr_donors++;
		return 0;
	case 'b':
		if (strlen(arg) >= sizeof(o->bind)) {
			opt_err("--bind address too long\n");
			return -EINVAL;
		}
		strcpy(o->bind, arg);
		return 0;
	case 'c':
		if (strlen(arg) >= sizeof(o->ctl_path)) {
			opt_err("--ctl path too long\n");
			return -EINVAL;
		}
		strcpy(o->ctl_path, arg);
		return 0;
	case 'l':
		if (memxd_parse_hostport(arg, o->listen_host, sizeof(o->listen_host),
					&o->listen_port, MEMX_DEFAULT_PORT)) {
			opt_err("--listen '%s' is not ADDR[:PORT]\n", arg);
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

/* Options that size things: the volume, its slabs, queues, copies and polling. */
static int parse_size_option(int ch, const char *arg, struct memxd_client_opts *o)
{
	uint64_t v;

	switch (ch) {
	case 's':
		return opt_size("--size", arg, &o->size);
	case 'S':
		return opt_size("--slab", arg, &o->slab);
	case 'q':
		if (opt_count("--queues", arg, 1, MEMX_MAX_QUEUES, &v))
			return -EINVAL;
		o->queues = (unsigned int)v;
		return 0;
	case 'D':
		if (opt_count("--depth", arg, 1, MEMX_MAX_DEPTH, &v))
			return -EINVAL;
		o->depth = (unsigned int)v;
		return 0;
	case 'm':
		if (opt_size("--max-io", arg, &v))
			return -EINVAL;
		if (v < MEMX_MIN_IO_BYTES || v > MEMX_MAX_IO_BYTES || !is_pow2(v)) {
			opt_err("--max-io must be a power of two from 4K "
				"to 1M\n");
			return -EINVAL;
		}
		o->max_io = (unsigned int)v;
		return 0;
	case 'r':
		if (opt_count("--replicas", arg, 1, MEMXD_MAX_COPIES, &v))
			return -EINVAL;
		o->replicas = (unsigned int)v;
		return 0;
	case 'R':
		if (opt_size("--rereplicate-rate", arg, &o->rereplicate_rate))
			return -EINVAL;
		if (o->rereplicate_rate < (1 << 20)) {
			opt_err("--rereplicate-rate must be at least 1M "
				"(bytes per second)\n");
			return -EINVAL;
		}
		return 0;
	case 'X':
		return opt_size("--scrub-rate", arg, &o->scrub_rate);
	case 'W':
		if (opt_count("--scatter-width", arg, 0, 64, &v))
			return -EINVAL;
		o->scatter_width = (unsigned int)v;
		return 0;
	case 'g':
		if (opt_count("--grant-pool", arg, 0, MEMXD_MAX_GRANT_POOL, &v))
			return -EINVAL;
		o->grant_pool = (unsigned int)v;
		return 0;
	case 'p':
		if (opt_count("--poll-us", arg, 0, MEMXD_MAX_POLL_US, &v))
			return -EINVAL;
		o->poll_us = (unsigned int)v;
		return 0;
	case 'P':
		if (opt_count("--poll-queues", arg, 0, MEMX_MAX_QUEUES - 1, &v))
			return -EINVAL;
		o->poll_queues = (unsigned int)v;
		return 0;
	case 'K':
		if (strlen(arg) >= sizeof(o->trust.key_file)) {
			opt_err("--key-file path too long\n");
			return -EINVAL;
		}
		strcpy(o->trust.key_file, arg);
		return 0;
	case 'I':
		o->trust.insecure = true;
		return 0;
	case 'T':
		if (opt_count("--io-deadline", arg, MEMX_MIN_TIMEOUT_MS / 1000,
			      MEMX_MAX_TIMEOUT_MS / 1000, &v))
			return -EINVAL;
		o->io_deadline_s = (unsigned int)v;
		return 0;
	case 'w':
		if (opt_count("--directory-wait", arg, 1, MEMXD_MAX_DIR_WAIT_S, &v))
			return -EINVAL;
		o->dir_wait_s = (unsigned int)v;
		return 0;
	case 'V':
		if (opt_count("--state-key", arg, 1, UINT32_MAX, &v))
			return -EINVAL;
		o->state_key_id = (uint32_t)v;
		return 0;
	case 'v':
		if (opt_count("--rest-after", arg, 0, MEMXD_MAX_REST_AFTER_S, &v))
			return -EINVAL;
		o->rest_after_s = (unsigned int)v;
		return 0;
	case 'Y':
		if (opt_count("--recovery-timeout", arg, 0, MEMX_MAX_LEASE_S, &v))
			return -EINVAL;
		o->recovery_timeout_s = (unsigned int)v;
		return 0;
	case 'B':
		if (memxd_kbackend_parse(arg, &o->kernel_backend)) {
			fprintf(stderr, "memxd client: --kernel-backend '%s' is not auto, memx or ublk\n",
				arg);
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

/* What the options mean together; fills in the defaults that depend on others. */
static int check_options(struct memxd_client_opts *o)
{
	bool dir = memxd_client_has_directory(o);

	if (!o->name[0] || !o->size || (!o->nr_donors && !dir)) {
		opt_err("--name, --size and at least one --donor or a --directory are needed%s\n",
			o->name[0] && !o->size ? " (--size must not be zero)" : "");
		return -EINVAL;
	}
	if (o->size % MEMX_BLOCK_SIZE || o->size > MEMX_MAX_DEV_BYTES) {
		opt_err("--size must be a multiple of 4K and at most 64T\n");
		return -EINVAL;
	}
	if (!is_pow2(o->slab) || o->slab < (1ULL << MEMX_MIN_SLAB_SHIFT) ||
	    o->slab > (1ULL << MEMX_MAX_SLAB_SHIFT)) {
		opt_err("--slab must be a power of two from 1M to 16G\n");
		return -EINVAL;
	}
	if (o->queues + o->poll_queues > MEMX_MAX_QUEUES) {
		opt_err("--queues plus --poll-queues must be at most %u\n",
			MEMX_MAX_QUEUES);
		return -EINVAL;
	}
	if (o->kernel_backend == MEMXD_KBACKEND_UBLK && o->poll_queues) {
		fprintf(stderr, "memxd client: --poll-queues needs memx.ko: ublk has no polled "
			"queues\n");
		return -EINVAL;
	}
	if (o->max_io > o->slab) {
		opt_err("--max-io must not exceed --slab\n");
		return -EINVAL;
	}
	if (o->trust.insecure && o->trust.key_file[0]) {
		opt_err("--insecure takes no --key-file\n");
		return -EINVAL;
	}
	if (o->state_key_id && o->trust.insecure) {
		opt_err("--insecure has no keys: no --state-key\n");
		return -EINVAL;
	}
	if (o->attach && !o->recovery_timeout_s) {
		opt_err("--attach takes a volume over from its state file, "
			"which --recovery-timeout 0 does not keep\n");
		return -EINVAL;
	}
	/* The directory may bring any number of donors: it gets the safe default. */
	if (!o->replicas)
		o->replicas = o->nr_donors >= 2 || dir ? 2 : 1;
	if (o->replicas > o->nr_donors && !dir) {
		opt_err("--replicas %u needs at least that many donors\n",
			o->replicas);
		return -EINVAL;
	}
	if (!o->ctl_path[0])
		snprintf(o->ctl_path, sizeof(o->ctl_path), "%s/client-%s.sock", MEMXD_RUN_DIR,
			 o->name);
	return 0;
}

static const struct option client_longopts[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "size", required_argument, NULL, 's' },
	{ "donor", required_argument, NULL, 'd' },
	{ "slab", required_argument, NULL, 'S' },
	{ "queues", required_argument, NULL, 'q' },
	{ "depth", required_argument, NULL, 'D' },
	{ "max-io", required_argument, NULL, 'm' },
	{ "replicas", required_argument, NULL, 'r' },
	{ "rereplicate-rate", required_argument, NULL, 'R' },
	{ "poll-us", required_argument, NULL, 'p' },
	{ "poll-queues", required_argument, NULL, 'P' },
	{ "bind", required_argument, NULL, 'b' },
	{ "ctl", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "no-checksum", no_argument, NULL, 'C' },
	{ "no-same-filled", no_argument, NULL, 'Z' },
	{ "scrub-rate", required_argument, NULL, 'X' },
	{ "scatter-width", required_argument, NULL, 'W' },
	{ "grant-pool", required_argument, NULL, 'g' },
	{ "key-file", required_argument, NULL, 'K' },
	{ "insecure", no_argument, NULL, 'I' },
	{ "io-deadline", required_argument, NULL, 'T' },
	{ "recovery-timeout", required_argument, NULL, 'Y' },
	{ "attach", no_argument, NULL, 'A' },
	{ "state-key", required_argument, NULL, 'V' },
	{ "rest-after", required_argument, NULL, 'v' },
	{ "overcommit", no_argument, NULL, 'O' },
	{ "kernel-backend", required_argument, NULL, 'B' },
	{ "directory", required_argument, NULL, 'G' },
	{ "directory-wait", required_argument, NULL, 'w' },
	{ "config", required_argument, NULL, 'F' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* One option, from the command line or a config file. Returns 0, -EINVAL or -ENOENT. */
static int apply_option(int ch, const char *arg, struct memxd_client_opts *o)
{
	int r;

	if (ch == 'C') {
		o->no_checksum = true;
		return 0;
	}
	if (ch == 'A') {
		o->attach = true;
		return 0;
	}
	if (ch == 'O') {
		o->overcommit = true;
		return 0;
	}
	if (ch == 'Z') {
		o->no_same_filled = true;
		return 0;
	}
	r = parse_name_option(ch, arg, o);
	if (r == -ENOENT)
		r = parse_size_option(ch, arg, o);
	return r;
}

/* A key of a --config file: the option of that name, through the same handlers. */
static int apply_config_key(void *ctx, const char *key, const char *value)
{
	const char *arg;
	int ch = memxd_config_option("client", client_longopts, key, value, &arg);

	if (ch < 0)
		return ch;
	return apply_option(ch, arg, ctx);
}

int memxd_client_parse(int argc, char **argv, struct memxd_client_opts *o)
{
	int ch, r;

	memset(o, 0, sizeof(*o));
	o->slab = 64ULL << 20;
	o->queues = 2;
	o->depth = 32;
	o->max_io = 128 << 10;
	o->replicas = 0;
	o->rereplicate_rate = 64ULL << 20;
	o->scrub_rate = MEMXD_DEFAULT_SCRUB_RATE;
	o->scatter_width = MEMXD_DEFAULT_SCATTER_WIDTH;
	o->grant_pool = MEMXD_DEFAULT_GRANT_POOL;
	o->poll_us = MEMXD_DEFAULT_POLL_US;
	o->io_deadline_s = MEMXD_DEFAULT_IO_DEADLINE_S;
	o->recovery_timeout_s = MEMXD_DEFAULT_RECOVERY_S;
	o->dir_wait_s = MEMXD_DEFAULT_DIR_WAIT_S;
	o->rest_after_s = MEMXD_DEFAULT_REST_AFTER_S;
	/*
	 * 0, not 1: glibc (and musl) then reset all of getopt's state. With 1, a
	 * parse that stopped inside a group of short options ("-xy": 'x' refused)
	 * leaves getopt pointing at 'y', and the next parse starts there.
	 */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", client_longopts, NULL)) != -1) {
		if (ch == 'h') {
			memxd_client_usage(stdout);
			exit(0);
		}
		/* The file's options take its place: later ones override them. */
		if (ch == 'F') {
			r = memxd_config_read(optarg, "client", apply_config_key, o);
			if (r)
				return r;
			continue;
		}
		r = apply_option(ch, optarg, o);
		if (r == -ENOENT) {
			memxd_client_usage(stderr);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (optind < argc) {
		opt_err("unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return check_options(o);
}
