// SPDX-License-Identifier: GPL-2.0
/* Same-filled blocks (samefill.h). Allocated once; the I/O path only flips bits and words. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/samefill.h"

#define WORDS_PER_BLOCK	(MEMXD_SF_BLOCK / sizeof(uint64_t))

static uint64_t blocks_of(uint64_t volume_bytes)
{
	return volume_bytes / MEMXD_SF_BLOCK;
}

size_t memxd_samefill_bits_bytes(uint64_t volume_bytes)
{
	return (size_t)((blocks_of(volume_bytes) + 63) / 64) * sizeof(uint64_t);
}

size_t memxd_samefill_value_bytes(uint64_t volume_bytes)
{
	return (size_t)blocks_of(volume_bytes) * sizeof(uint64_t);
}

int memxd_samefill_init(struct memxd_samefill *sf, uint64_t volume_bytes)
{
	memset(sf, 0, sizeof(*sf));
	sf->nr_blocks = blocks_of(volume_bytes);
	sf->bits = calloc(1, memxd_samefill_bits_bytes(volume_bytes) ?: 1);
	sf->value = calloc(1, memxd_samefill_value_bytes(volume_bytes) ?: 1);
	if (!sf->bits || !sf->value) {
		memxd_samefill_fini(sf);
		return -ENOMEM;
	}
	return 0;
}

void memxd_samefill_fini(struct memxd_samefill *sf)
{
	if (!sf->borrowed) {
		free(sf->bits);
		free(sf->value);
	}
	sf->bits = NULL;
	sf->value = NULL;
}

void memxd_samefill_borrow(struct memxd_samefill *sf, _Atomic uint64_t *bits,
			   _Atomic uint64_t *value)
{
	if (!sf->borrowed) {
		free(sf->bits);
		free(sf->value);
	}
	sf->bits = bits;
	sf->value = value;
	sf->borrowed = true;
}

uint64_t memxd_samefill_recount(struct memxd_samefill *sf)
{
	uint64_t n = 0;

	if (sf->bits)
		for (uint64_t w = 0; w < (sf->nr_blocks + 63) / 64; w++)
			n += (uint64_t)__builtin_popcountll(atomic_load(&sf->bits[w]));
	atomic_store(&sf->nr_marked, n);
	return n;
}

bool memxd_samefill_detect(const void *buf, uint64_t *value)
{
	const uint64_t *w = buf;
	uint64_t v = w[0];

	/* Random data differs at the end as surely as anywhere: leave at once. */
	if (w[WORDS_PER_BLOCK - 1] != v)
		return false;
	for (size_t i = 1; i < WORDS_PER_BLOCK - 1; i++)
		if (w[i] != v)
			return false;
	*value = v;
	return true;
}

bool memxd_samefill_all(const uint8_t *buf, uint32_t len)
{
	uint64_t v;

	if (!len || len % MEMXD_SF_BLOCK)
		return false;
	for (uint32_t off = 0; off < len; off += MEMXD_SF_BLOCK)
		if (!memxd_samefill_detect(buf + off, &v))
			return false;
	return true;
}

/* Whether block b is in the table. */
static bool in_range(const struct memxd_samefill *sf, uint64_t b)
{
	return sf->bits && b < sf->nr_blocks;
}

void memxd_samefill_mark(struct memxd_samefill *sf, uint64_t offset, const uint8_t *buf,
			 uint32_t len)
{
	uint64_t b = offset / MEMXD_SF_BLOCK;

	for (uint32_t off = 0; off + MEMXD_SF_BLOCK <= len && in_range(sf, b);
	     off += MEMXD_SF_BLOCK, b++) {
		uint64_t v, bit = 1ULL << (b % 64);

		if (!memxd_samefill_detect(buf + off, &v))
			continue;	/* the caller checked: cannot happen */
		atomic_store_explicit(&sf->value[b], v, memory_order_relaxed);
		if (!(atomic_fetch_or_explicit(&sf->bits[b / 64], bit, memory_order_release) & bit))
			atomic_fetch_add_explicit(&sf->nr_marked, 1, memory_order_relaxed);
	}
}

void memxd_samefill_clear(struct memxd_samefill *sf, uint64_t offset, uint64_t len)
{
	uint64_t first = offset / MEMXD_SF_BLOCK;
	uint64_t end = (offset + len + MEMXD_SF_BLOCK - 1) / MEMXD_SF_BLOCK;	/* touched */

	if (!sf->bits)
		return;
	if (end > sf->nr_blocks)
		end = sf->nr_blocks;
	while (first < end) {
		uint64_t w = first / 64, lo = first % 64;
		uint64_t n = end - first < 64 - lo ? end - first : 64 - lo;
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << lo, old;

		/* A plain load first: most writes find nothing to clear. */
		if (atomic_load_explicit(&sf->bits[w], memory_order_relaxed) & mask) {
			old = atomic_fetch_and_explicit(&sf->bits[w], ~mask, memory_order_relaxed);
			if (old & mask)
				atomic_fetch_sub_explicit(&sf->nr_marked,
							  (uint64_t)__builtin_popcountll(old & mask),
							  memory_order_relaxed);
		}
		first += n;
	}
}

static bool marked(const struct memxd_samefill *sf, uint64_t b)
{
	return atomic_load_explicit(&sf->bits[b / 64], memory_order_acquire) & (1ULL << (b % 64));
}

bool memxd_samefill_covers(const struct memxd_samefill *sf, uint64_t offset, uint64_t len)
{
	uint64_t b = offset / MEMXD_SF_BLOCK, end = (offset + len) / MEMXD_SF_BLOCK;

	if (!sf->bits || !len || offset % MEMXD_SF_BLOCK || len % MEMXD_SF_BLOCK ||
	    end > sf->nr_blocks)
		return false;
	for (; b < end; b++)
		if (!marked(sf, b))
			return false;
	return true;
}

uint32_t memxd_samefill_fill(const struct memxd_samefill *sf, uint64_t offset, uint8_t *buf,
			     uint32_t len)
{
	uint64_t b = offset / MEMXD_SF_BLOCK;
	uint32_t n = 0;

	for (uint32_t off = 0; off + MEMXD_SF_BLOCK <= len && in_range(sf, b);
	     off += MEMXD_SF_BLOCK, b++) {
		uint64_t v, *w = (uint64_t *)(void *)(buf + off);

		if (!marked(sf, b))
			continue;
		v = atomic_load_explicit(&sf->value[b], memory_order_relaxed);
		for (size_t i = 0; i < WORDS_PER_BLOCK; i++)
			w[i] = v;
		n++;
	}
	return n;
}
