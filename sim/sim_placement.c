// SPDX-License-Identifier: GPL-2.0
/*
 * sim_placement: what two donors failing at once cost, with the engine's own
 * placement (client/placement.c: power of two choices on free memory, the
 * second replica never on the first's donor), for clusters of 8 to 10,000
 * donors.
 *
 *   sim_placement [--slabs N[,N...]] [--pairs N] [--seed S]
 *
 * For each cluster size and volume size (in 64 MiB slabs), places every slab
 * on 2 replicas exactly as the engine does, then fails pairs of donors (every
 * pair when there are at most --pairs pairs, else --pairs random ones) and
 * reports the share of pairs that lose at least one slab and the slabs lost
 * per pair: with replicas placed anywhere (today's placement without groups)
 * and with copysets of scatter width 4 (client/copysets.c, as the engine
 * places them by default). Prints a Markdown table.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/copysets.h"
#include "client/placement.h"
#include "common/proc.h"

#define SLAB_BYTES	(64ULL << 20)
#define SCATTER_WIDTH	4

struct pair_count {		/* an open-addressing hash of replica pairs -> slabs */
	uint64_t *key;		/* (a << 32 | b) + 1, a < b; 0 is empty */
	uint32_t *slabs;
	uint64_t cap;
};

static void pc_add(struct pair_count *pc, uint32_t a, uint32_t b)
{
	uint64_t k = ((uint64_t)(a < b ? a : b) << 32 | (a < b ? b : a)) + 1;
	uint64_t h = (k * 0x9e3779b97f4a7c15ULL) & (pc->cap - 1);

	while (pc->key[h] && pc->key[h] != k)
		h = (h + 1) & (pc->cap - 1);
	pc->key[h] = k;
	pc->slabs[h]++;
}

static uint32_t pc_get(const struct pair_count *pc, uint32_t a, uint32_t b)
{
	uint64_t k = ((uint64_t)(a < b ? a : b) << 32 | (a < b ? b : a)) + 1;
	uint64_t h = (k * 0x9e3779b97f4a7c15ULL) & (pc->cap - 1);

	while (pc->key[h]) {
		if (pc->key[h] == k)
			return pc->slabs[h];
		h = (h + 1) & (pc->cap - 1);
	}
	return 0;
}

/* Each donor's copyset partners (groups of 2), so that a placement costs O(partners). */
struct partners {
	uint32_t *first;	/* n + 1 offsets into list */
	uint32_t *list;
};

static int partners_of(const struct memxd_copysets *cs, int n, struct partners *p)
{
	p->first = calloc((size_t)n + 1, sizeof(*p->first));
	p->list = malloc((size_t)cs->nr * 2 * sizeof(*p->list) + 1);
	if (!p->first || !p->list)
		return -ENOMEM;
	for (unsigned int g = 0; g < cs->nr; g++) {
		p->first[cs->member[2 * g] + 1]++;
		p->first[cs->member[2 * g + 1] + 1]++;
	}
	for (int i = 0; i < n; i++)
		p->first[i + 1] += p->first[i];
	for (unsigned int g = 0, *fill = calloc((size_t)n, sizeof(*fill)); fill; g++) {
		if (g == cs->nr) {
			free(fill);
			break;
		}
		for (int k = 0; k < 2; k++) {
			uint32_t a = cs->member[2 * g + k], b = cs->member[2 * g + 1 - k];

			p->list[p->first[a] + fill[a]++] = b;
		}
	}
	return 0;
}

/*
 * The second replica as the engine places it (client/grants.c): power of two
 * choices among the first's copyset partners (p NULL: among all), or among
 * all when no partner can take it.
 */
static int place_second(struct memxd_donor_load *d, int n, uint32_t first,
			const struct partners *p, uint32_t *rng)
{
	struct memxd_donor_load near[256];
	uint32_t nr = 0;
	int b;

	for (uint32_t k = p ? p->first[first] : 0; p && k < p->first[first + 1] && nr < 256; k++)
		near[nr++] = d[p->list[k]];
	b = nr ? memxd_place(near, (int)nr, NULL, 0, SLAB_BYTES, memxd_rand, rng) : -ENOSPC;
	if (b >= 0)
		return (int)p->list[p->first[first] + (uint32_t)b];
	return memxd_place(d, n, &first, 1, SLAB_BYTES, memxd_rand, rng);
}

/* Places nr_slabs on n donors with 2 replicas; counts the slabs of each donor pair. */
static int place_all(int n, uint64_t nr_slabs, const struct partners *cs, uint32_t *rng,
		     struct pair_count *pc)
{
	struct memxd_donor_load *d = calloc((size_t)n, sizeof(*d));

	if (!d)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		d[i] = (struct memxd_donor_load){ .live = true, .free_bytes = 1ULL << 50 };
	for (uint64_t s = 0; s < nr_slabs; s++) {
		int a = memxd_place(d, n, NULL, 0, SLAB_BYTES, memxd_rand, rng);
		int b;

		if (a < 0)
			break;
		d[a].free_bytes -= SLAB_BYTES;
		b = place_second(d, n, (uint32_t)a, cs, rng);
		if (b < 0)
			break;
		d[b].free_bytes -= SLAB_BYTES;
		pc_add(pc, (uint32_t)a, (uint32_t)b);
	}
	free(d);
	return 0;
}

struct outcome {
	double losing;		/* share of donor pairs whose failure loses a slab */
	double lost;		/* slabs lost per failed pair */
};

static struct outcome simulate(int n, uint64_t nr_slabs, uint64_t max_pairs,
			       const struct partners *cs, uint32_t *rng)
{
	struct pair_count pc = { 0 };
	uint64_t pairs = (uint64_t)n * (uint64_t)(n - 1) / 2, tried = 0, losing = 0, lost = 0;

	for (pc.cap = 1024; pc.cap < 2 * nr_slabs + 2; pc.cap *= 2)
		;
	pc.key = calloc(pc.cap, sizeof(*pc.key));
	pc.slabs = calloc(pc.cap, sizeof(*pc.slabs));
	if (!pc.key || !pc.slabs || place_all(n, nr_slabs, cs, rng, &pc)) {
		fprintf(stderr, "sim_placement: out of memory\n");
		exit(1);
	}
	if (pairs <= max_pairs) {
		for (int a = 0; a < n; a++)
			for (int b = a + 1; b < n; b++) {
				uint32_t k = pc_get(&pc, (uint32_t)a, (uint32_t)b);

				tried++;
				losing += k > 0;
				lost += k;
			}
	} else {
		for (; tried < max_pairs; tried++) {
			uint32_t a = memxd_rand(rng) % (uint32_t)n, b = memxd_rand(rng) % (uint32_t)(n - 1);
			uint32_t k;

			b += b >= a;
			k = pc_get(&pc, a, b);
			losing += k > 0;
			lost += k;
		}
	}
	free(pc.key);
	free(pc.slabs);
	return (struct outcome){ (double)losing / (double)tried, (double)lost / (double)tried };
}

static void compare(int n, uint64_t nr_slabs, uint64_t max_pairs, uint32_t *rng)
{
	struct memxd_copysets cs = { 0 };
	struct partners p = { 0 };
	struct outcome anywhere, grouped;
	uint32_t *ids = malloc((size_t)n * sizeof(*ids));

	for (int i = 0; ids && i < n; i++)
		ids[i] = (uint32_t)i;
	if (!ids || memxd_copysets_build(&cs, ids, (unsigned int)n, 2, SCATTER_WIDTH, NULL, NULL,
					 NULL, memxd_rand, rng) || partners_of(&cs, n, &p)) {
		fprintf(stderr, "sim_placement: out of memory\n");
		exit(1);
	}
	anywhere = simulate(n, nr_slabs, max_pairs, NULL, rng);
	grouped = simulate(n, nr_slabs, max_pairs, &p, rng);
	free(p.first);
	free(p.list);
	printf("| %5d | %8" PRIu64 " | %9.1f GiB | %6.2f%% | %8.3f | %6.2f%% | %8.3f |\n", n,
	       nr_slabs, (double)nr_slabs * SLAB_BYTES / (1ULL << 30), 100 * anywhere.losing,
	       anywhere.lost, 100 * grouped.losing, grouped.lost);
	memxd_copysets_fini(&cs);
	free(ids);
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10000 };
	static const struct option opts[] = {
		{ "slabs", required_argument, NULL, 's' },
		{ "pairs", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'r' },
		{ 0 }
	};
	uint64_t slabs[8] = { 1024, 16384 }, max_pairs = 200000;
	unsigned int nr_slabs = 2;
	uint32_t rng = 0x9e3779b9U;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *p;

		switch (c) {
		case 's':
			nr_slabs = 0;
			for (p = optarg; *p && nr_slabs < 8; p += *p == ',')
				slabs[nr_slabs++] = strtoull(p, &p, 10);
			break;
		case 'p':
			max_pairs = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rng = (uint32_t)strtoul(optarg, NULL, 0) | 1;
			break;
		default:
			fprintf(stderr, "usage: sim_placement [--slabs N[,N...]] [--pairs N] "
				"[--seed S]\n");
			return 2;
		}
	}
	printf("Two donors fail at once; 2 replicas per 64 MiB slab, placed by the engine's "
	       "power of two choices.\n\n");
	printf("| donors | slabs | volume | pairs losing data, any placement | slabs lost per "
	       "pair | pairs losing data, copysets W=%d | slabs lost per pair |\n"
	       "|---|---|---|---|---|---|---|\n", SCATTER_WIDTH);
	for (unsigned int v = 0; v < nr_slabs; v++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			compare(sizes[i], slabs[v], max_pairs, &rng);
	return 0;
}
