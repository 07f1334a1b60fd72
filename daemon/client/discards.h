/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which blocks of the volume were discarded since last written: one bit per
 * 4 KiB block, so that a slab discarded piece by piece (swap discards a 1 MiB
 * cluster at a time, a slab is 64 MiB) is given back to its donors once all
 * of it is, as a discard of the whole slab would be (io.c).
 *
 * Queue threads set bits (DISCARD: blocks it covers whole) and clear them
 * (a write, before its data goes out); the control thread clears a slab's
 * bits when it maps the slab. Atomic words, no lock. A slab's bits are whole
 * words (a slab is at least 1 MiB: 256 blocks). Allocated once at start; the
 * I/O path only flips bits. After an engine restart the map starts empty:
 * what was discarded before is simply not given back early.
 */
#ifndef MEMXD_DISCARDS_H
#define MEMXD_DISCARDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct memxd_discards {
	_Atomic uint64_t *bits;		/* bit b: block b was discarded and not written since */
	uint64_t nr_blocks;
	uint32_t words_per_slab;
	uint32_t slab_shift;
};

/* Returns 0 or -ENOMEM (-EINVAL: a slab under 256 blocks). */
int memxd_discards_init(struct memxd_discards *d, uint64_t volume_bytes, uint32_t slab_shift);
void memxd_discards_fini(struct memxd_discards *d);

/* A write to [offset, offset + len): those blocks hold data again. */
void memxd_discards_clear(struct memxd_discards *d, uint64_t offset, uint64_t len);

/*
 * A discard of [offset, offset + len) inside slab s: marks the blocks it
 * covers whole. Returns true when every block of slab s is now discarded.
 */
bool memxd_discards_mark(struct memxd_discards *d, uint64_t s, uint64_t offset, uint64_t len);

/* Whether every block of slab s is discarded (acquire: after the caller's claim). */
bool memxd_discards_whole(struct memxd_discards *d, uint64_t s);

/* Slab s is (re)mapped, or was given back: none of it counts as discarded. */
void memxd_discards_reset_slab(struct memxd_discards *d, uint64_t s);

#endif /* MEMXD_DISCARDS_H */
