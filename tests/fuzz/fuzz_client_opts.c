// SPDX-License-Identifier: GPL-2.0
/*
 * memxd_client_parse(): the input, split on NUL bytes, is the command line
 * after "client". Accepted options hold together (every limit the usage
 * states); parsing is repeatable: a well-formed command line parses the same
 * after any other, and the same input parses the same twice (getopt_long
 * keeps state between calls).
 */
#include "fuzz.h"
#include "client/client.h"

static const char *const good[] = { "client", "--name", "v", "--size", "1G", "--donor",
				    "10.0.0.1:7000", NULL };

/*
 * The argument strings stay allocated until the caller frees them: getopt_long
 * may keep a pointer into them, and reading freed memory would hide what it
 * does with it (ASan reuses a freed block's first bytes).
 */
static int parse(const uint8_t *data, size_t size, struct memxd_client_opts *o, char **argv, int *argc)
{
	int r;

	*argc = fuzz_argv(data, size, "client", argv);
	if (*argc < 0) {
		*argc = 0;
		return 1;
	}
	r = memxd_client_parse(*argc, argv, o);
	return r;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static void check(const struct memxd_client_opts *o)
{
	size_t n = strnlen(o->name, sizeof(o->name));

	FUZZ_CHECK(n > 0 && n < sizeof(o->name));
	FUZZ_CHECK(strspn(o->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789-_.") == n);
	FUZZ_CHECK(o->size && o->size % MEMX_BLOCK_SIZE == 0 && o->size <= MEMX_MAX_DEV_BYTES);
	FUZZ_CHECK(is_pow2(o->slab) && o->slab >= 1ULL << MEMX_MIN_SLAB_SHIFT &&
		   o->slab <= 1ULL << MEMX_MAX_SLAB_SHIFT);
	FUZZ_CHECK(o->queues >= 1 && o->queues + o->poll_queues <= MEMX_MAX_QUEUES);
	FUZZ_CHECK(o->depth >= 1 && o->depth <= MEMX_MAX_DEPTH);
	FUZZ_CHECK(is_pow2(o->max_io) && o->max_io >= MEMX_MIN_IO_BYTES &&
		   o->max_io <= MEMX_MAX_IO_BYTES && o->max_io <= o->slab);
	/* A directory may bring every donor: then no --donor, and any replica count. */
	FUZZ_CHECK(o->nr_donors <= MEMXD_MAX_DONORS &&
		   (o->nr_donors >= 1 || memxd_client_has_directory(o)));
	FUZZ_CHECK(!o->dir_url.host[0] || !o->dir_srv.name[0]);
	FUZZ_CHECK(o->replicas >= 1 && o->replicas <= MEMXD_MAX_COPIES &&
		   (o->replicas <= o->nr_donors || memxd_client_has_directory(o)));
	FUZZ_CHECK(!memxd_client_has_directory(o) ||
		   (o->dir_wait_s >= 1 && o->dir_wait_s <= MEMXD_MAX_DIR_WAIT_S));
	FUZZ_CHECK(o->rereplicate_rate >= 1 << 20);
	FUZZ_CHECK(o->poll_us <= MEMXD_MAX_POLL_US);
	for (unsigned int i = 0; i < o->nr_donors; i++) {
		n = strnlen(o->donor_host[i], MEMXD_HOST_MAX);
		FUZZ_CHECK(n > 0 && n < MEMXD_HOST_MAX && o->donor_port[i]);
	}
	FUZZ_CHECK(strnlen(o->bind, sizeof(o->bind)) < sizeof(o->bind));
	FUZZ_CHECK(strnlen(o->listen_host, sizeof(o->listen_host)) < sizeof(o->listen_host));
	n = strnlen(o->ctl_path, sizeof(o->ctl_path));
	FUZZ_CHECK(n > 0 && n < sizeof(o->ctl_path));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_stderr();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_client_opts *o1 = malloc(sizeof(*o1)), *o2 = malloc(sizeof(*o2));
	char *argv[FUZZ_MAX_ARGS + 2], *argv1[FUZZ_MAX_ARGS + 2], *argv2[FUZZ_MAX_ARGS + 2];
	int r1, r2, argc, argc1 = 0, argc2 = 0;

	if (!o1 || !o2)
		abort();
	r1 = parse(data, size, o1, argv1, &argc1);
	if (r1 == 1)
		goto out;	/* --help */
	FUZZ_CHECK(r1 == 0 || r1 == -EINVAL || r1 == -ERANGE);
	if (!r1)
		check(o1);

	/* What the last call left in getopt's state must not change the next parse. */
	for (argc = 0; good[argc]; argc++)
		argv[argc] = fuzz_string((const uint8_t *)good[argc], strlen(good[argc]));
	argv[argc] = NULL;
	FUZZ_CHECK(memxd_client_parse(argc, argv, o2) == 0);
	FUZZ_CHECK(!strcmp(o2->name, "v") && o2->nr_donors == 1 && o2->donor_port[0] == 7000);
	fuzz_argv_free(argc, argv);

	r2 = parse(data, size, o2, argv2, &argc2);
	FUZZ_CHECK(r2 == r1);
	if (!r1)
		FUZZ_CHECK(!memcmp(o1, o2, sizeof(*o1)));
out:
	fuzz_argv_free(argc1, argv1);
	fuzz_argv_free(argc2, argv2);
	free(o1);
	free(o2);
	return 0;
}
