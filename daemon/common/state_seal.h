/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A detached volume's state, sealed for its donors (the "state on donors" of
 * memxctl volume detach and memxd client --attach): the donors keep it, and
 * any host with the cluster key can open it; a donor can neither read it
 * (the volume's secret is in it) nor alter, forge or swap it undetected.
 *
 * Sealed: a header in the clear (magic, the key's id, the epoch, the length,
 * a random nonce), then the state under XChaCha20-Poly1305 (libsodium) with
 * the header as associated data, under a key derived (keyed BLAKE2b) from
 * the cluster key and the volume's name. The epoch is the generation: of two
 * copies that open, the one with the higher epoch is the newer. A donor
 * finds a copy by its tag, another keyed hash of the name, which tells it
 * nothing of the name.
 */
#ifndef MEMXD_STATE_SEAL_H
#define MEMXD_STATE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/auth.h"

#define MEMXD_STATE_SEAL_MAGIC	"MEMXSS1"
#define MEMXD_STATE_TAG_LEN	16

struct memxd_state_seal_hdr {
	char magic[8];		/* MEMXD_STATE_SEAL_MAGIC */
	uint32_t key_id;	/* the cluster key it is sealed under */
	uint32_t reserved;	/* zero */
	uint64_t epoch;		/* the generation: the engine epoch that detached */
	uint64_t plain_len;	/* the state's bytes */
	uint8_t nonce[24];	/* random */
};	/* little-endian on every host memxd runs on; authenticated as it is */

/* The tag a donor files the sealed state of volume name under (key k). */
void memxd_state_tag(const struct memxd_key *k, const char *name,
		     uint8_t tag[MEMXD_STATE_TAG_LEN]);

/* The sealed size of a state of plain_len bytes. */
size_t memxd_state_sealed_len(size_t plain_len);

/* Seals plain (len bytes) of volume name at this epoch into out (memxd_state_sealed_len). */
void memxd_state_seal(const struct memxd_key *k, const char *name, uint64_t epoch,
		      const void *plain, size_t len, void *out);

/*
 * Opens a sealed state of volume name with key k, into out (room for out_max
 * bytes). Only k opens it: a copy sealed under any other key, even one we
 * hold (and donors may too), is refused. Returns its plain length (*epoch
 * set), or -EPROTO (not a sealed state, or too long), -ENOKEY (its header
 * names another key) or -EACCES (does not authenticate: altered, forged,
 * another volume's).
 */
long memxd_state_open_sealed(const struct memxd_key *k, const char *name, const void *in,
			     size_t len, void *out, size_t out_max, uint64_t *epoch);

#endif /* MEMXD_STATE_SEAL_H */
