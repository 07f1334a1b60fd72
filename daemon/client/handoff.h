/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A detached volume's state on its donors, so that `memxd client --attach`
 * needs no file carried from the host it left (common/state_seal.h says how
 * it is sealed, <memx/proto.h> "A detached volume's state" how it travels).
 */
#ifndef MEMXD_HANDOFF_H
#define MEMXD_HANDOFF_H

struct memxd_client;

/*
 * memxctl volume detach, the device gone and the volume quiet: seals the
 * state file's content and leaves a copy on each live donor that holds a slab
 * of the volume (control thread). Returns how many donors keep one (0 with
 * --insecure, which has no key to seal with).
 */
int memxd_handoff_store(struct memxd_client *c);

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
