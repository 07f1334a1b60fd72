// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_ctl_parse(): the line as the control socket hands it over (at most
 * 255 bytes, cut at CR or LF). Besides not crashing, the parse must give what
 * the client's and the donor's handlers decided before it existed (the
 * strncmp/strcmp chains kept below as the reference).
 */
#include <stdbool.h>
#include <memx/proto.h>

#include "fuzz.h"
#include "common/ctl.h"
#include "common/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_ctl_req req;
	char host[MEMXD_HOST_MAX];
	uint16_t port;
	char *line;
	int r;

	line = fuzz_string(data, size < 255 ? size : 255);
	line[strcspn(line, "\r\n")] = '\0';
	r = memxd_ctl_parse(line, &req);
	FUZZ_CHECK(r == 0 || r == -EINVAL);

	/* The donor answered exactly "status" and "status --json". */
	FUZZ_CHECK((req.kind == MEMXD_CTL_STATUS && req.strict && !req.slabs) ==
		   (!strcmp(line, "status") || !strcmp(line, "status --json")));
	if (req.kind == MEMXD_CTL_STATUS && req.strict && !req.slabs)
		FUZZ_CHECK(req.json == !strcmp(line, "status --json"));
	/* It now takes --slabs too (and lists nothing): strict is these lines alone. */
	FUZZ_CHECK((req.kind == MEMXD_CTL_STATUS && req.strict) ==
		   (!strcmp(line, "status") || !strcmp(line, "status --json") ||
		    !strcmp(line, "status --slabs") || !strcmp(line, "status --json --slabs") ||
		    !strcmp(line, "status --slabs --json")));

	/* The client's chain. */
	if (!strncmp(line, "status", 6) && (!line[6] || line[6] == ' ')) {
		FUZZ_CHECK(r == 0 && req.kind == MEMXD_CTL_STATUS);
		FUZZ_CHECK(req.json == (strstr(line, "--json") != NULL));
		FUZZ_CHECK(req.slabs == (strstr(line, "--slabs") != NULL));
		FUZZ_CHECK(!req.strict || strlen(line) <= strlen("status --json --slabs"));
	} else if (!strcmp(line, "reload")) {
		FUZZ_CHECK(r == 0 && req.kind == MEMXD_CTL_RELOAD);
	} else if (!strncmp(line, "donor drain ", 12)) {
		FUZZ_CHECK(r == 0 && req.kind == MEMXD_CTL_DONOR_DRAIN && req.arg == line + 12);
	} else if (!strcmp(line, "volume detach")) {
		FUZZ_CHECK(r == 0 && req.kind == MEMXD_CTL_VOLUME_DETACH);
	} else if (!strcmp(line, "volume forget-lost")) {
		FUZZ_CHECK(r == 0 && req.kind == MEMXD_CTL_VOLUME_FORGET_LOST);
	} else if (!strncmp(line, "volume remove ", 14)) {
		FUZZ_CHECK(r == 0 && req.kind == MEMXD_CTL_VOLUME_REMOVE && req.arg == line + 14);
	} else if (!strncmp(line, "donor add ", 10)) {
		bool ok = !memxd_parse_hostport(line + 10, host, sizeof(host), &port,
						MEMX_DEFAULT_PORT);

		FUZZ_CHECK(req.kind == MEMXD_CTL_DONOR_ADD && req.arg == line + 10);
		FUZZ_CHECK(ok == (r == 0));
		if (ok)
			FUZZ_CHECK(!strcmp(req.host, host) && req.port == port);
	} else {
		FUZZ_CHECK(r == -EINVAL && req.kind == MEMXD_CTL_UNKNOWN);
	}
	free(line);
	return 0;
}
