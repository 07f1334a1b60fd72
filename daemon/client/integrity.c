// SPDX-License-Identifier: GPL-2.0
/* The CRC32C table of a volume's blocks (integrity.h). Allocated once; nothing on the I/O path. */
#include <errno.h>
#include <isa-l/crc.h>
#include <stdlib.h>

#include "client/integrity.h"

uint32_t memxd_crc32c(const void *buf, uint32_t len)
{
	/* ISA-L's crc32_iscsi without the final inversion: the standard CRC32C is ~crc. */
	return ~crc32_iscsi((unsigned char *)buf, (int)len, 0xffffffffU);
}

int memxd_crc_init(struct memxd_crcmap *m, uint64_t volume_bytes)
{
	static const uint8_t zeros[MEMXD_CRC_BLOCK];

	m->nr_blocks = volume_bytes / MEMXD_CRC_BLOCK;
	m->crc = malloc(m->nr_blocks * sizeof(*m->crc));
	if (!m->crc)
		return -ENOMEM;
	m->zero_crc = memxd_crc32c(zeros, sizeof(zeros));
	for (uint64_t b = 0; b < m->nr_blocks; b++)
		atomic_init(&m->crc[b], m->zero_crc);
	return 0;
}

void memxd_crc_fini(struct memxd_crcmap *m)
{
	if (!m->borrowed)
		free(m->crc);
	m->crc = NULL;
}

void memxd_crc_borrow(struct memxd_crcmap *m, _Atomic uint32_t *crc)
{
	if (!m->borrowed)
		free(m->crc);
	m->crc = crc;
	m->borrowed = true;
}

void memxd_crc_record(struct memxd_crcmap *m, uint64_t offset, const uint8_t *buf, uint32_t len)
{
	uint64_t b = offset / MEMXD_CRC_BLOCK;

	if (!m->crc)
		return;	/* --no-checksum */
	for (uint32_t off = 0; off < len && b < m->nr_blocks; off += MEMXD_CRC_BLOCK, b++)
		atomic_store_explicit(&m->crc[b], memxd_crc32c(buf + off, MEMXD_CRC_BLOCK),
				      memory_order_relaxed);
}

void memxd_crc_zero(struct memxd_crcmap *m, uint64_t offset, uint64_t len)
{
	uint64_t b = offset / MEMXD_CRC_BLOCK, end = (offset + len) / MEMXD_CRC_BLOCK;

	if (!m->crc)
		return;
	for (; b < end && b < m->nr_blocks; b++)
		atomic_store_explicit(&m->crc[b], m->zero_crc, memory_order_relaxed);
}

int64_t memxd_crc_check(const struct memxd_crcmap *m, uint64_t offset, const uint8_t *buf,
			uint32_t len)
{
	uint64_t b = offset / MEMXD_CRC_BLOCK;

	if (!m->crc)
		return -1;
	for (uint32_t off = 0; off < len && b < m->nr_blocks; off += MEMXD_CRC_BLOCK, b++)
		if (memxd_crc32c(buf + off, MEMXD_CRC_BLOCK) !=
		    atomic_load_explicit(&m->crc[b], memory_order_relaxed))
			return (int64_t)(offset + off);
	return -1;
}
