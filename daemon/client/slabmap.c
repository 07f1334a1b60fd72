// SPDX-License-Identifier: GPL-2.0
/*
 * Slab map arithmetic. The map is allocated once when the volume is created
 * (one small entry per slab) and never on the request path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/slabmap.h"

int memxd_slabmap_init(struct memxd_slabmap *map, uint64_t volume_bytes, uint64_t slab_bytes)
{
	memset(map, 0, sizeof(*map));
	if (!volume_bytes || volume_bytes % 4096 || slab_bytes < (1ULL << 20) ||
	    (slab_bytes & (slab_bytes - 1)))
		return -EINVAL;
	map->volume_bytes = volume_bytes;
	map->slab_bytes = slab_bytes;
	map->slab_shift = __builtin_ctzll(slab_bytes);
	map->nr_slabs = (volume_bytes + slab_bytes - 1) >> map->slab_shift;
	map->slabs = calloc(map->nr_slabs, sizeof(*map->slabs));
	if (!map->slabs)
		return -ENOMEM;
	return 0;
}

void memxd_slabmap_fini(struct memxd_slabmap *map)
{
	if (!map->borrowed)
		free(map->slabs);
	map->slabs = NULL;
}

void memxd_slabmap_borrow(struct memxd_slabmap *map, struct memxd_slab *slabs)
{
	if (!map->borrowed)
		free(map->slabs);
	map->slabs = slabs;
	map->borrowed = true;
}

int memxd_slabmap_extents(const struct memxd_slabmap *map, uint64_t offset, uint32_t len,
			 struct memxd_extent *ext, int max)
{
	uint64_t pos = offset, end = offset + len;
	int n = 0;

	if (!len || end < offset || end > map->volume_bytes)
		return -EINVAL;
	while (pos < end) {
		uint64_t slab = pos >> map->slab_shift;
		uint64_t slab_end = (slab + 1) << map->slab_shift;
		uint64_t piece = (end < slab_end ? end : slab_end) - pos;

		if (n == max)
			return -E2BIG;
		ext[n].slab = slab;
		ext[n].slab_offset = pos - (slab << map->slab_shift);
		ext[n].len = (uint32_t)piece;
		ext[n].buf_offset = (uint32_t)(pos - offset);
		n++;
		pos += piece;
	}
	return n;
}

bool memxd_slabmap_whole_slabs(const struct memxd_slabmap *map, uint64_t offset, uint64_t len,
			      uint64_t *first, uint64_t *end)
{
	uint64_t stop = offset + len;

	if (stop < offset || stop > map->volume_bytes)
		return false;
	*first = (offset + map->slab_bytes - 1) >> map->slab_shift;
	/* The last slab may be short: reaching the volume's end covers it whole. */
	*end = stop == map->volume_bytes ? map->nr_slabs : stop >> map->slab_shift;
	return *first < *end;
}

bool memxd_slab_edge(uint32_t from, uint32_t to)
{
	switch (from) {
	case MEMXD_SLAB_UNMAPPED:
		return to == MEMXD_SLAB_MAPPING;
	case MEMXD_SLAB_MAPPING:
		return to == MEMXD_SLAB_MAPPED || to == MEMXD_SLAB_UNMAPPED;
	case MEMXD_SLAB_MAPPED:
		return to == MEMXD_SLAB_FREEING || to == MEMXD_SLAB_MIGRATING || to == MEMXD_SLAB_LOST;
	case MEMXD_SLAB_FREEING:
		return to == MEMXD_SLAB_UNMAPPED || to == MEMXD_SLAB_MAPPED;
	case MEMXD_SLAB_MIGRATING:
		return to == MEMXD_SLAB_MAPPED || to == MEMXD_SLAB_LOST;
	case MEMXD_SLAB_LOST:
		return to == MEMXD_SLAB_FREEING;	/* only a whole-slab DISCARD */
	default:
		return false;
	}
}

bool memxd_slab_claim(struct memxd_slab *slab, uint32_t from, uint32_t to)
{
	if (!memxd_slab_edge(from, to))
		return false;
	/*
	 * Sequentially consistent: a claim pairs with the in-flight counts
	 * (the claimer changes the state, then reads the count; I/O raises
	 * the count, then reads the state), which needs store-load order.
	 */
	return atomic_compare_exchange_strong(&slab->state, &from, to);
}

void memxd_slab_publish(struct memxd_slab *slab, uint32_t state)
{
	atomic_store_explicit(&slab->state, state, memory_order_release);
}

bool memxd_slab_wait_idle(const struct memxd_slab *slab, bool reads, bool writes)
{
	for (unsigned int waited_us = 0;; waited_us += 100) {
		if ((!reads || !atomic_load(&slab->reads_inflight)) &&
		    (!writes || !atomic_load(&slab->writes_inflight)))
			return true;
		if (waited_us >= MEMXD_SLAB_IDLE_WAIT_MS * 1000)
			return false;
		usleep(100);
	}
}

const struct memxd_replica *memxd_slab_read_replica(const struct memxd_slab *slab)
{
	for (uint32_t i = 0; i < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); i++)
		if (atomic_load_explicit(&slab->replica[i].live, memory_order_acquire))
			return &slab->replica[i];
	return NULL;
}

unsigned int memxd_slab_live_replicas(const struct memxd_slab *slab)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); i++)
		n += atomic_load_explicit(&slab->replica[i].live, memory_order_acquire) != 0;
	return n;
}

bool memxd_slab_on_donor(const struct memxd_slab *slab, uint32_t donor)
{
	for (uint32_t i = 0; i < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); i++)
		if (atomic_load_explicit(&slab->replica[i].live, memory_order_acquire) &&
		    slab->replica[i].donor == donor)
			return true;
	return false;
}
