// SPDX-License-Identifier: GPL-2.0
/*
 * memxd client|donor --config FILE: the input is the file. Every file is
 * either accepted or refused with a message on stderr ("memxd ROLE: ..."),
 * never crashes, and parses the same twice (the reader keeps no state from
 * one file to the next). An accepted client file holds together as the
 * command line's checks promise.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "client/client.h"
#include "donor/donor.h"

static char *said;
static size_t said_len;
static FILE *quiet;

/* Parses path as role's config; what was said on stderr lands in `said`. */
static int parse(const char *role, const char *path, void *out)
{
	char *argv[] = { (char *)role, "--config", (char *)path, NULL };
	FILE *err = stderr;
	int r;

	free(said);
	said = NULL;
	stderr = open_memstream(&said, &said_len);
	if (!stderr)
		abort();
	if (role[0] == 'c')
		r = memxd_client_parse(3, argv, out);
	else
		r = memxd_donor_parse(3, argv, out);
	fclose(stderr);
	stderr = err;
	return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_stderr();
	quiet = stderr;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memxd_client_opts *o1 = malloc(sizeof(*o1)), *o2 = malloc(sizeof(*o2));
	struct donor *d1 = calloc(1, sizeof(*d1)), *d2 = calloc(1, sizeof(*d2));
	int fd = memfd_create("memx-fuzz.conf", 0), r1, r2;
	char path[64];

	if (!o1 || !o2 || !d1 || !d2 || fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	r1 = parse("client", path, o1);
	FUZZ_CHECK(r1 == 0 || r1 == -EINVAL || r1 == -ERANGE);
	FUZZ_CHECK(r1 == 0 || (said_len && !strncmp(said, "memxd client: ", 14)));
	r2 = parse("client", path, o2);
	FUZZ_CHECK(r2 == r1);
	if (!r1) {
		FUZZ_CHECK(!memcmp(o1, o2, sizeof(*o1)));
		FUZZ_CHECK(o1->name[0] && o1->size && o1->nr_donors >= 1 &&
			   o1->nr_donors <= MEMXD_MAX_DONORS);
		FUZZ_CHECK(o1->replicas >= 1 && o1->replicas <= o1->nr_donors);
	}

	r1 = parse("donor", path, d1);
	FUZZ_CHECK(r1 == 0 || r1 == -EINVAL || r1 == -ERANGE);
	FUZZ_CHECK(r1 == 0 || (said_len && !strncmp(said, "memxd donor: ", 13)));
	r2 = parse("donor", path, d2);
	FUZZ_CHECK(r2 == r1);
	if (!r1)
		FUZZ_CHECK(d1->host[0] && d1->memory_total && d1->nr_allow <= MEMXD_MAX_KEYS &&
			   !strcmp(d1->host, d2->host) && d1->memory_total == d2->memory_total);

	close(fd);
	free(o1);
	free(o2);
	free(d1);
	free(d2);
	return 0;
}
