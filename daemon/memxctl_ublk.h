/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memxctl list's ublk half: the volumes served through the kernel's ublk,
 * from the kernel (UBLK_CMD_GET_DEV_INFO: live, quiesced, dead) and the
 * state files engines leave in the run directory (the volume's name and
 * size), so that it works with no engine to answer.
 */
#ifndef MEMXCTL_UBLK_H
#define MEMXCTL_UBLK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The volume whose state file in run_dir says it lives in ublk device id:
 * its name and size. The newest such file wins (an older one is stale).
 * Returns false when no file names it.
 */
bool memxctl_ublk_volume(const char *run_dir, uint32_t id, char *name, size_t len,
			 uint64_t *bytes);
/* A ublk device state (UBLK_S_DEV_*) in words. */
const char *memxctl_ublk_state_name(int state);
/*
 * Every ublk device (a /dev/ublkcN in dev_dir), as text on stdout or as
 * objects pushed to all when it is not NULL (*ok false if memory ran out).
 * The state is "unknown" when ublk cannot be asked. Returns how many.
 */
unsigned int memxctl_ublk_list(const char *run_dir, const char *dev_dir,
			       struct json_object *all, bool *ok);

#endif /* MEMXCTL_UBLK_H */
