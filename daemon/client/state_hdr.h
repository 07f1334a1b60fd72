/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The header of an engine's state file (MEMXD_RUN_DIR/client-NAME.state,
 * state.c): shared with memxctl list, which reads which kernel device a
 * volume lives in from it when no engine answers.
 */
#ifndef MEMXD_STATE_HDR_H
#define MEMXD_STATE_HDR_H

#include <stdint.h>
#include <memx/proto.h>

#include "client/wrid.h"
#include "common/limits.h"

#define STATE_MAGIC	"MEMXST1"

/*
 * The file's formats. Each adds sections after the last; an engine reads the
 * current format and the one before it (migrated in place: the file grows,
 * the new sections start empty) and refuses any other, leaving the file as
 * it is for the memxd that wrote it.
 *   1: the slab map and the checksums;
 *   2: the same-filled marks after them (samefill.h).
 * Files of builds before the format field read 0 there (the header's page is
 * zeroed): format 1 or 2, told apart by their size.
 */
#define STATE_FORMAT		2
#define STATE_FORMAT_OLDEST	1

enum { SEC_MAP, SEC_CRC, SEC_SF_BITS, SEC_SF_VALUE, STATE_NR_SECTIONS };

struct state_section {
	uint64_t offset, bytes;	/* in the file; bytes 0: not in this format */
};

struct state_hdr {
	char magic[8];
	uint32_t layout;	/* sizeof(struct memxd_slab): the same engine build's tables */
	uint32_t started;	/* the volume was started: worth resuming */
	uint64_t volume_bytes, slab_bytes, nr_slabs, nr_blocks;
	uint32_t checksums;	/* the table holds CRCs (not --no-checksum) */
	uint32_t nr_donors;	/* slots listed in donor[] */
	uint8_t volume_id[16];
	uint8_t secret[MEMX_SECRET_LEN];
	uint64_t epoch;		/* the last engine's (AUTH): the next takes one more */
	struct {
		char host[MEMXD_HOST_MAX];
		uint16_t port;
	} donor[MEMXD_MAX_DONORS];
	/*
	 * The kernel device the volume lives in, for backends whose devices
	 * have no name to be found by (ublk). A file of an older build reads 0
	 * here (the header's page is zeroed): no device.
	 */
	uint32_t kbackend;	/* enum memxd_kbackend_kind; AUTO: none noted */
	uint32_t kdev_id;
	/* STATE_FORMAT and where its sections lie (0 in files of older builds). */
	uint32_t format;
	uint32_t nr_sections;
	struct state_section section[STATE_NR_SECTIONS];
};

#endif /* MEMXD_STATE_HDR_H */
