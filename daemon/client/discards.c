// SPDX-License-Identifier: GPL-2.0
/* Discarded blocks, per slab (discards.h). */
#include <errno.h>
#include <stdlib.h>

#include <memx/uapi.h>

#include "client/discards.h"

#define BLOCK_SHIFT	12	/* MEMX_BLOCK_SIZE */

int memxd_discards_init(struct memxd_discards *d, uint64_t volume_bytes, uint32_t slab_shift)
{
	uint64_t words;

	if (slab_shift < BLOCK_SHIFT + 8)
		return -EINVAL;
	d->nr_blocks = volume_bytes >> BLOCK_SHIFT;
	d->slab_shift = slab_shift;
	d->words_per_slab = 1u << (slab_shift - BLOCK_SHIFT - 6);
	words = (d->nr_blocks + 63) / 64;
	d->bits = calloc(words, sizeof(*d->bits));
	return d->bits ? 0 : -ENOMEM;
}

void memxd_discards_fini(struct memxd_discards *d)
{
	free(d->bits);
	d->bits = NULL;
}

/* Sets (or clears) bits [first, end) of the map. */
static void flip_range(struct memxd_discards *d, uint64_t first, uint64_t end, bool set)
{
	while (first < end) {
		uint64_t w = first / 64, lo = first % 64;
		uint64_t n = end - first < 64 - lo ? end - first : 64 - lo;
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << lo;

		if (set)
			atomic_fetch_or_explicit(&d->bits[w], mask, memory_order_relaxed);
		else if (atomic_load_explicit(&d->bits[w], memory_order_relaxed) & mask)
			atomic_fetch_and_explicit(&d->bits[w], ~mask, memory_order_relaxed);
		first += n;
	}
}

void memxd_discards_clear(struct memxd_discards *d, uint64_t offset, uint64_t len)
{
	uint64_t first = offset >> BLOCK_SHIFT;
	uint64_t end = (offset + len + (1u << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT;	/* touched */

	if (!d->bits || !len)
		return;
	flip_range(d, first, end < d->nr_blocks ? end : d->nr_blocks, false);
}

bool memxd_discards_mark(struct memxd_discards *d, uint64_t s, uint64_t offset, uint64_t len)
{
	uint64_t first = (offset + (1u << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT;	/* covered whole */
	uint64_t end = (offset + len) >> BLOCK_SHIFT;
	uint64_t w0 = s * d->words_per_slab;

	if (!d->bits || w0 + d->words_per_slab > (d->nr_blocks + 63) / 64)
		return false;
	if (first < end)
		flip_range(d, first, end, true);
	return memxd_discards_whole(d, s);
}

bool memxd_discards_whole(struct memxd_discards *d, uint64_t s)
{
	uint64_t w0 = s * d->words_per_slab;

	if (!d->bits || w0 + d->words_per_slab > (d->nr_blocks + 63) / 64)
		return false;
	for (uint32_t i = 0; i < d->words_per_slab; i++)
		if (atomic_load_explicit(&d->bits[w0 + i], memory_order_acquire) != ~0ULL)
			return false;
	return true;
}

void memxd_discards_reset_slab(struct memxd_discards *d, uint64_t s)
{
	uint64_t w0 = s * d->words_per_slab;

	if (!d->bits || w0 + d->words_per_slab > (d->nr_blocks + 63) / 64)
		return;
	for (uint32_t i = 0; i < d->words_per_slab; i++)
		atomic_store_explicit(&d->bits[w0 + i], 0, memory_order_relaxed);
}
