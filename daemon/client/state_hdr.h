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
};

#endif /* MEMXD_STATE_HDR_H */
