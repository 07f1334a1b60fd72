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

int memx_slabmap_init(struct memx_slabmap *map, uint64_t volume_bytes, uint64_t slab_bytes)
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

void memx_slabmap_fini(struct memx_slabmap *map)
{
	free(map->slabs);
	map->slabs = NULL;
}

int memx_slabmap_extents(const struct memx_slabmap *map, uint64_t offset, uint32_t len,
			 struct memx_extent *ext, int max)
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

bool memx_slabmap_whole_slabs(const struct memx_slabmap *map, uint64_t offset, uint64_t len,
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

bool memx_slab_edge(uint32_t from, uint32_t to)
{
	switch (from) {
	case MEMX_SLAB_UNMAPPED:
		return to == MEMX_SLAB_MAPPING;
	case MEMX_SLAB_MAPPING:
		return to == MEMX_SLAB_MAPPED || to == MEMX_SLAB_UNMAPPED;
	case MEMX_SLAB_MAPPED:
		return to == MEMX_SLAB_FREEING || to == MEMX_SLAB_MIGRATING || to == MEMX_SLAB_LOST;
	case MEMX_SLAB_FREEING:
		return to == MEMX_SLAB_UNMAPPED || to == MEMX_SLAB_MAPPED;
	case MEMX_SLAB_MIGRATING:
		return to == MEMX_SLAB_MAPPED || to == MEMX_SLAB_LOST;
	default:
		return false;	/* LOST is final */
	}
}

bool memx_slab_claim(struct memx_slab *slab, uint32_t from, uint32_t to)
{
	if (!memx_slab_edge(from, to))
		return false;
	/*
	 * Sequentially consistent: a claim pairs with the in-flight counts
	 * (the claimer changes the state, then reads the count; I/O raises
	 * the count, then reads the state), which needs store-load order.
	 */
	return atomic_compare_exchange_strong(&slab->state, &from, to);
}

void memx_slab_publish(struct memx_slab *slab, uint32_t state)
{
	atomic_store_explicit(&slab->state, state, memory_order_release);
}

bool memx_slab_wait_idle(const struct memx_slab *slab, bool reads, bool writes)
{
	for (unsigned int waited_us = 0;; waited_us += 100) {
		if ((!reads || !atomic_load(&slab->reads_inflight)) &&
		    (!writes || !atomic_load(&slab->writes_inflight)))
			return true;
		if (waited_us >= MEMX_SLAB_IDLE_WAIT_MS * 1000)
			return false;
		usleep(100);
	}
}

const struct memx_replica *memx_slab_read_replica(const struct memx_slab *slab)
{
	for (uint32_t i = 0; i < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); i++)
		if (atomic_load_explicit(&slab->replica[i].live, memory_order_acquire))
			return &slab->replica[i];
	return NULL;
}

unsigned int memx_slab_live_replicas(const struct memx_slab *slab)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); i++)
		n += atomic_load_explicit(&slab->replica[i].live, memory_order_acquire) != 0;
	return n;
}

bool memx_slab_on_donor(const struct memx_slab *slab, uint32_t donor)
{
	for (uint32_t i = 0; i < atomic_load_explicit(&slab->nr_replicas, memory_order_acquire); i++)
		if (atomic_load_explicit(&slab->replica[i].live, memory_order_acquire) &&
		    slab->replica[i].donor == donor)
			return true;
	return false;
}
