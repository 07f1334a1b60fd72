// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_donor_parse(): the input, split on NUL bytes, is the command line
 * after "donor". Accepted options hold together; parsing is repeatable (see
 * fuzz_client_opts.c).
 */
#include "fuzz.h"
#include "donor/donor.h"

static const char *const good[] = { "donor", "--listen", "10.0.0.1", "--memory", "64M", NULL };

/* memxd donor starts from a zeroed struct donor, and so does each parse here. */
/*
 * The argument strings stay allocated until the caller frees them: getopt_long
 * may keep a pointer into them, and reading freed memory would hide what it
 * does with it (ASan reuses a freed block's first bytes).
 */
static int parse(const uint8_t *data, size_t size, struct donor *dn, char **argv, int *argc)
{
	int r;

	*argc = fuzz_argv(data, size, "donor", argv);
	if (*argc < 0) {
		*argc = 0;
		return 1;
	}
	memset(dn, 0, sizeof(*dn));
	r = memxd_donor_parse(*argc, argv, dn);
	return r;
}

static void check(const struct donor *dn)
{
	size_t n = strnlen(dn->host, sizeof(dn->host));

	FUZZ_CHECK(n > 0 && n < sizeof(dn->host) && dn->port);
	FUZZ_CHECK(dn->memory_total >= 1ULL << MEMX_MIN_SLAB_SHIFT);
	FUZZ_CHECK(dn->max_slab_shift >= MEMX_MIN_SLAB_SHIFT &&
		   dn->max_slab_shift <= MEMX_MAX_SLAB_SHIFT);
	FUZZ_CHECK(1ULL << dn->max_slab_shift <= dn->memory_total);
	FUZZ_CHECK(dn->leave_timeout_s >= 1 && dn->leave_timeout_s <= 86400);
	FUZZ_CHECK(strnlen(dn->join_host, sizeof(dn->join_host)) < sizeof(dn->join_host));
	FUZZ_CHECK(!dn->join_host[0] || dn->join_port);
	n = strnlen(dn->ctl_path, sizeof(dn->ctl_path));
	FUZZ_CHECK(n > 0 && n < sizeof(dn->ctl_path));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_stderr();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct donor *d1 = malloc(sizeof(*d1)), *d2 = malloc(sizeof(*d2));
	char *argv[FUZZ_MAX_ARGS + 2], *argv1[FUZZ_MAX_ARGS + 2], *argv2[FUZZ_MAX_ARGS + 2];
	int r1, r2, argc, argc1 = 0, argc2 = 0;

	if (!d1 || !d2)
		abort();
	r1 = parse(data, size, d1, argv1, &argc1);
	if (r1 == 1)
		goto out;	/* --help */
	FUZZ_CHECK(r1 == 0 || r1 == -EINVAL);
	if (!r1)
		check(d1);

	for (argc = 0; good[argc]; argc++)
		argv[argc] = fuzz_string((const uint8_t *)good[argc], strlen(good[argc]));
	argv[argc] = NULL;
	memset(d2, 0, sizeof(*d2));
	FUZZ_CHECK(memxd_donor_parse(argc, argv, d2) == 0);
	FUZZ_CHECK(!strcmp(d2->host, "10.0.0.1") && d2->memory_total == 64ULL << 20);
	fuzz_argv_free(argc, argv);

	r2 = parse(data, size, d2, argv2, &argc2);
	FUZZ_CHECK(r2 == r1);
	if (!r1)
		FUZZ_CHECK(!memcmp(d1, d2, sizeof(*d1)));
out:
	fuzz_argv_free(argc1, argv1);
	fuzz_argv_free(argc2, argv2);
	free(d1);
	free(d2);
	return 0;
}
