// SPDX-License-Identifier: GPL-2.0
/*
 * swap_pattern MIB [SEED]: allocates MIB mebibytes, writes a pattern unique to
 * each page (its index and the seed mixed into every 8-byte word, so pages
 * are incompressible and no two are alike), then reads every page back and
 * checks every word. Run it in a memory cgroup smaller than MIB to make the
 * kernel swap. Exits 0 when every page verified, 1 on any mismatch (printing
 * the first few), 2 on bad arguments or allocation failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const size_t page = 4096, words = page / 8;
	unsigned long mib, bad = 0;
	uint64_t seed = 0x5eed;
	size_t pages;
	uint64_t *mem;
	double t0, t1, t2;

	if (argc < 2 || (mib = strtoul(argv[1], NULL, 0)) == 0) {
		fprintf(stderr, "usage: swap_pattern MIB [SEED]\n");
		return 2;
	}
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	pages = (size_t)mib * 256;
	mem = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	t0 = now();
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < words; w++)
			mem[p * words + w] = mix(seed ^ (p << 12 | w));
	t1 = now();
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < words; w++)
			if (mem[p * words + w] != mix(seed ^ (p << 12 | w))) {
				if (bad++ < 5)
					fprintf(stderr, "page %zu word %zu: %#llx, expected %#llx\n",
						p, w, (unsigned long long)mem[p * words + w],
						(unsigned long long)mix(seed ^ (p << 12 | w)));
				break;
			}
	t2 = now();
	printf("swap_pattern: %lu MiB, %zu pages: write %.2f s, verify %.2f s, %lu bad pages\n",
	       mib, pages, t1 - t0, t2 - t1, bad);
	return bad ? 1 : 0;
}
