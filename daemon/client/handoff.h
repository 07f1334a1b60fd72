/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A detached volume's state on its donors, so that `memxd client --attach`
 * needs no file carried from the host it left (common/state_seal.h says how
 * it is sealed, <memx/proto.h> "A detached volume's state" how it travels).
 */
#ifndef MEMXD_HANDOFF_H
#define MEMXD_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memxd_client;

/*
 * memxctl volume detach, the device gone and the volume quiet: seals the
 * state file's content and leaves a copy on each live donor that holds a slab
 * of the volume (control thread). Returns how many donors keep one (0 with
 * --insecure, which has no key to seal with).
 */
int memxd_handoff_store(struct memxd_client *c);

/*
 * Seals the state file's content as generation gen into buf (of
 * memxd_handoff_sealed_bytes(); NULL: one is allocated) and leaves it on
 * each live donor holding a slab of the volume (marking it rest_kept); why
 * names the occasion in the log, at info level when loud or when a donor did
 * not take it. The volume must not change meanwhile. Returns how many donors
 * keep it.
 */
int memxd_handoff_keep(struct memxd_client *c, uint64_t gen, uint8_t *buf, bool loud,
		       const char *why);
size_t memxd_handoff_sealed_bytes(const struct memxd_client *c);

/* Whether a state can be left on the donors (a --state-key they lack). */
bool memxd_handoff_possible(struct memxd_client *c);

/* The tag the donors find the state by (memxd_handoff_possible first). */
void memxd_handoff_tag(struct memxd_client *c, uint8_t tag[16]);

/*
 * --attach: asks each --donor for the volume's sealed state (proving the
 * cluster key, as any connection does), keeps the newest copy that opens,
 * and, if its epoch is above newer_than (the state file's, or 0 without one),
 * writes the state file from it (in place of one there). Returns 0 (written),
 * -ENOENT (no donor had a copy that opens, or none newer; why logged) or
 * -errno. Before the engine's own RDMA resources exist.
 */
int memxd_handoff_fetch(struct memxd_client *c, uint64_t newer_than);

#endif /* MEMXD_HANDOFF_H */
