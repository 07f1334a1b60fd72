/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Same-filled blocks: a 4 KiB block written as one 64-bit value repeated
 * (most often zero: swapped-out memory is full of them) is recorded here and
 * never sent to the donors; a read of it is answered from here (io.c).
 *
 * One bit per block says "same-filled", and a 64-bit word per block holds the
 * value: 8 bytes and a bit per 4 KiB (0.2% of the volume), allocated once at
 * start for the whole volume, as zram keeps a word per page. A dictionary of
 * values would be smaller but needs bookkeeping on the I/O path; a bit for
 * "zero" alone would miss the other patterns zram finds. The tables live in
 * the state file (state.c), like the CRC table: a mark means the donors hold
 * stale bytes for that block, so an engine that resumes the volume after a
 * crash must know every mark, or it would return them.
 *
 * Who writes: queue threads set a block's mark when a write of it completes
 * without the network, and clear it when a normal write of it completes
 * (before the tag is committed, so the next read sees it) or a discard covers
 * it; whoever hands a slab back (discard, forget-lost, an engine resuming a
 * half-done change) clears the slab's marks. The block layer keeps requests
 * to one block from overlapping in time; a concurrent pair is the
 * submitter's race, and either request's data is then what the block holds.
 * The value is stored before its bit is set (release) and read after the bit
 * (acquire). The table records marks whether or not --no-same-filled is
 * given: that option only stops new ones, so a volume written with it on
 * stays correct when an engine without it resumes it.
 */
#ifndef MEMXD_SAMEFILL_H
#define MEMXD_SAMEFILL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMXD_SF_BLOCK		4096U

struct memxd_samefill {
	uint64_t nr_blocks;
	_Atomic uint64_t *bits;		/* bit b: block b is same-filled with value[b] */
	_Atomic uint64_t *value;	/* nr_blocks entries */
	_Atomic uint64_t nr_marked;	/* bits set now */
	bool borrowed;			/* the tables live in memory the map does not own */
};

/* Bytes of each table for a volume of volume_bytes (state.c lays them out). */
size_t memxd_samefill_bits_bytes(uint64_t volume_bytes);
size_t memxd_samefill_value_bytes(uint64_t volume_bytes);

/* Allocates the tables, every block unmarked. Returns 0 or -ENOMEM. */
int memxd_samefill_init(struct memxd_samefill *sf, uint64_t volume_bytes);
void memxd_samefill_fini(struct memxd_samefill *sf);

/* From now on the tables live at bits and value (owned by the caller; NULL: none). */
void memxd_samefill_borrow(struct memxd_samefill *sf, _Atomic uint64_t *bits,
			   _Atomic uint64_t *value);

/* Counts the marks again (a borrowed table a dead engine left). Returns the count. */
uint64_t memxd_samefill_recount(struct memxd_samefill *sf);

/* Whether the 4 KiB at buf are one 64-bit value repeated; *value gets it. */
bool memxd_samefill_detect(const void *buf, uint64_t *value);

/* Whether every 4 KiB block of the len bytes at buf is same-filled (len a multiple of 4 KiB). */
bool memxd_samefill_all(const uint8_t *buf, uint32_t len);

/*
 * A write of len bytes at offset completed with buf's contents, every block
 * of which memxd_samefill_all() found same-filled: marks them.
 */
void memxd_samefill_mark(struct memxd_samefill *sf, uint64_t offset, const uint8_t *buf,
			 uint32_t len);

/* The blocks of [offset, offset + len) hold the donors' bytes again (written, discarded). */
void memxd_samefill_clear(struct memxd_samefill *sf, uint64_t offset, uint64_t len);

/* Whether every block of [offset, offset + len) is marked. */
bool memxd_samefill_covers(const struct memxd_samefill *sf, uint64_t offset, uint64_t len);

/* Fills the marked blocks of len bytes read at offset into buf. Returns how many. */
uint32_t memxd_samefill_fill(const struct memxd_samefill *sf, uint64_t offset, uint8_t *buf,
			     uint32_t len);

#endif /* MEMXD_SAMEFILL_H */
