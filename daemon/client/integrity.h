/* SPDX-License-Identifier: GPL-2.0 */
/*
 * End-to-end checksums: the client keeps the CRC32C of every 4 KiB block of
 * its volume (4 bytes per 4 KiB) and checks every block a donor returns, so a
 * donor with a bad DIMM, a buggy one or a lying one can never hand a reader
 * wrong bytes: the read moves to another replica, and the bad copy is
 * rewritten from the good one (io.c).
 *
 * A block that was never written holds zeros on the donor (fresh memory), so
 * the table starts with the CRC of a zero block, and a slab given back is set
 * to it again. A write's CRCs are recorded when it completes, before its tag
 * is committed: a read the kernel sends after a write completed is checked
 * against that write. Entries are relaxed atomics: queue threads record and
 * check blocks that the block layer keeps from overlapping.
 */
#ifndef MEMXD_INTEGRITY_H
#define MEMXD_INTEGRITY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MEMXD_CRC_BLOCK		4096U

struct memxd_crcmap {
	uint64_t nr_blocks;
	_Atomic uint32_t *crc;		/* nr_blocks entries */
	uint32_t zero_crc;		/* of a block of zeros */
	bool borrowed;			/* crc lives in memory the map does not own (state.c) */
};

/*
 * Allocates the table for volume_bytes (a multiple of 4 KiB). Returns 0 or
 * -ENOMEM. A map never initialised (zeroed: --no-checksum) records nothing and
 * finds every block good.
 */
int memxd_crc_init(struct memxd_crcmap *m, uint64_t volume_bytes);
void memxd_crc_fini(struct memxd_crcmap *m);

/* From now on the entries live at crc (nr_blocks of them, owned by the caller); NULL: none. */
void memxd_crc_borrow(struct memxd_crcmap *m, _Atomic uint32_t *crc);

/* CRC32C of len bytes (ISA-L). */
uint32_t memxd_crc32c(const void *buf, uint32_t len);

/* A write of len bytes at offset completed with buf's contents: records its blocks. */
void memxd_crc_record(struct memxd_crcmap *m, uint64_t offset, const uint8_t *buf, uint32_t len);

/* The range [offset, offset + len) holds zeros from now on (written zeros, slab given back). */
void memxd_crc_zero(struct memxd_crcmap *m, uint64_t offset, uint64_t len);

/*
 * Checks len bytes read at offset. Returns -1 when every block matches, or
 * the byte offset (in the volume) of the first block that does not.
 */
int64_t memxd_crc_check(const struct memxd_crcmap *m, uint64_t offset, const uint8_t *buf,
			uint32_t len);

#endif /* MEMXD_INTEGRITY_H */
