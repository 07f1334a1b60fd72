/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an engine leaves to the next one, for engine restart (memx.ko's
 * recovery window, --recovery-timeout): the volume's identity and secret,
 * its donors in slot order, the slab map, the checksum table and the
 * same-filled marks (samefill.h), in one file,
 * /run/memx/client-NAME.state (tmpfs: memory, never disk; 0600, root's).
 *
 * The file is mapped MAP_SHARED and the engine's slab map, checksum table and
 * same-filled marks live in it, so a crash leaves them exactly as the engine last wrote them,
 * and nothing is written on the I/O path. A new engine with the same name and
 * geometry finds it, attaches to the orphaned volume in memx.ko, reconnects
 * to the same donors (which kept the grants under a lease, proven by the same
 * secret) and tidies what the dead engine left half done
 * (memxd_state_resume()). An engine that stops cleanly, or whose volume dies,
 * gives its grants back and removes the file.
 */
#ifndef MEMXD_STATE_H
#define MEMXD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memxd_client;

/*
 * Maps the state file of c->opt.name and makes c->map and c->crc live in it.
 * *resume: it describes a volume of the same geometry that was started,
 * whose identity is now c's (a file of the format before the current one is
 * migrated in place); else it now describes a new volume (c's identity,
 * empty tables). Returns 0 or -errno; -EPROTO for a file of another format,
 * damaged or not memxd's, which is left as it is.
 */
int memxd_state_open(struct memxd_client *c, bool *resume);

/*
 * We attached to the orphaned volume: the file becomes ours alone. The
 * engine before us may live on, deposed by memx.ko for missing its deadline,
 * with the file still mapped; what it writes from now on must not reach our
 * tables. So they move to a copy that takes the file's name; the old inode
 * lives on with that engine's mapping until it exits. Returns 0 or -errno.
 */
int memxd_state_own(struct memxd_client *c);

/*
 * We take the volume over: our epoch is one more than the last engine's, and
 * the file says so before any donor hears of it (a donor refuses older ones).
 */
void memxd_state_next_epoch(struct memxd_client *c);

/* No orphan to resume after all: the file describes a new volume (new identity, empty tables). */
void memxd_state_renew(struct memxd_client *c);

/* The volume started: from now on the file is worth resuming. */
void memxd_state_started(struct memxd_client *c);

/* Donor slot idx now holds the donor c->donor[idx] (host and port). */
void memxd_state_note_donor(struct memxd_client *c, unsigned int idx);

/* The volume lives in kernel device dev_id of backend kind (kbackend.h). */
void memxd_state_note_kdev(struct memxd_client *c, int kind, uint32_t dev_id);
/* The device the dead engine noted for backend kind, or -1 if none. */
int64_t memxd_state_kdev(const struct memxd_client *c, int kind);

/* Donor slots the file lists; slot idx's address (false: the slot was never used). */
unsigned int memxd_state_nr_donors(const struct memxd_client *c);
bool memxd_state_donor(const struct memxd_client *c, unsigned int idx, char *host,
		       uint16_t *port);

/*
 * After the donors were reconnected in slot order: tidies the map a dead
 * engine left (transient states, in-flight counts, replicas on donors that did
 * not come back) and recounts what the counters say.
 */
void memxd_state_resume(struct memxd_client *c);

/* The state file's path, and its size for this volume's geometry (handoff.c). */
void memxd_state_file_path(const struct memxd_client *c, char *path, size_t len);
uint64_t memxd_state_file_bytes(const struct memxd_client *c);
/* The epoch the state file's header says. Returns 0 or -errno (-EPROTO: not a state file). */
int memxd_state_file_epoch(const struct memxd_client *c, uint64_t *epoch);

/* The engine stops with its volume gone: unmaps and removes the file. */
void memxd_state_close(struct memxd_client *c);

#endif /* MEMXD_STATE_H */
