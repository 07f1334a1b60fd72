// SPDX-License-Identifier: GPL-2.0
/*
 * swap_pattern MIB [SEED [SAME%]]: allocates MIB mebibytes, writes a pattern
 * unique to each page (its index and the seed mixed into every 8-byte word, so
 * pages are incompressible and no two are alike), then reads every page back
 * and checks every word. With SAME% (0-100), about that share of the pages,
 * chosen by the seed, are instead one 64-bit value repeated: zeros for half of
 * them, a value of the page's own for the rest (as swapped memory holds them). Run it in a memory cgroup smaller than MIB to make the
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

static unsigned long same_pct;

/* Word w of page p: the unique pattern, or the page's one value if it is same-filled. */
static uint64_t word(uint64_t seed, size_t p, size_t w)
{
	uint64_t pick = mix(seed ^ ~(uint64_t)p);

	if (pick % 100 < same_pct)
		return (pick >> 32) & 1 ? 0 : mix(seed ^ p);
	return mix(seed ^ (p << 12 | w));
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
		fprintf(stderr, "usage: swap_pattern MIB [SEED [SAME%%]]\n");
		return 2;
	}
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	if (argc > 3 && (same_pct = strtoul(argv[3], NULL, 0)) > 100) {
		fprintf(stderr, "swap_pattern: SAME%% is 0 to 100\n");
		return 2;
	}
	pages = (size_t)mib * 256;
	mem = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	t0 = now();
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < words; w++)
			mem[p * words + w] = word(seed, p, w);
	t1 = now();
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < words; w++)
			if (mem[p * words + w] != word(seed, p, w)) {
				if (bad++ < 5)
					fprintf(stderr, "page %zu word %zu: %#llx, expected %#llx\n",
						p, w, (unsigned long long)mem[p * words + w],
						(unsigned long long)word(seed, p, w));
				break;
			}
	t2 = now();
	printf("swap_pattern: %lu MiB, %zu pages (%lu%% same-filled): write %.2f s, verify %.2f s, "
	       "%lu bad pages\n", mib, pages, same_pct, t1 - t0, t2 - t1, bad);
	return bad ? 1 : 0;
}
