// SPDX-License-Identifier: GPL-2.0
/*
 * memxd: one program, two roles.
 *   memxd donor  --listen ADDR[:PORT] --memory SIZE     lend memory
 *   memxd client --name NAME --size SIZE --donor ADDR   serve /dev/memxN from donors
 *   memxd --version
 * The roles live in donor/ and client/; this only dispatches, and each role
 * writes its own usage text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memx/proto.h>
#include <memx/uapi.h>

#include "client/client.h"
#include "common/log.h"
#include "donor/donor.h"
#include "memx_config.h"

static void usage(FILE *f)
{
	memxd_donor_usage(f);
	fputc('\n', f);
	memxd_client_usage(f);
	fprintf(f, "\n       memxd --version\n");
	fprintf(f, "\nEnvironment: MEMXD_DEBUG=MASK turns on debug areas (queue 1, io 2, cm 4, cq 8,\n"
		"proto 16, ctrl 32).\n");
}

int main(int argc, char **argv)
{
	const char *dbg = getenv("MEMXD_DEBUG");

	memxd_log_init();	/* "<N>" priorities when stderr is the journal */
	if (dbg)
		memxd_log_debug_mask = (unsigned int)strtoul(dbg, NULL, 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "donor") || !strcmp(argv[1], "client")) {
		int rc = argv[1][0] == 'd' ? memxd_donor_main(argc - 1, argv + 1)
					   : memxd_client_main(argc - 1, argv + 1);

		memxd_log_stop();	/* every line written before we exit */
		return rc;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("memxd %s (protocol %d, kernel ABI %d)\n", MEMX_VERSION, MEMX_PROTO_VERSION,
		       MEMX_ABI_VERSION);
		return 0;
	}
	fprintf(stderr, "memxd: unknown role '%s' (donor or client)\n", argv[1]);
	usage(stderr);
	return 2;
}
