// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl volume remove NAME: the control socket's way to what SIGTERM does.
 * The request raises SIGTERM in this process, so the removal takes the one
 * path there is (client_try_remove() in main.c, from the signalfd): the volume
 * goes and the engine exits, or, while the volume is open (mounted, swap), it
 * refuses, says why in the log and keeps serving. The answer says the removal
 * began; memxctl waits for the control socket to go away to know it ended,
 * and names the refusal when it does not.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "common/ctl.h"
#include "common/log.h"

int memxd_client_ctl_remove(struct memxd_client *c, const char *name, char *out, size_t len)
{
	if (strcmp(name, c->opt.name))
		return memxd_ctl_reply(out, len, "error: this memxd serves volume %s, not %s\n",
				       c->opt.name, name);
	memxd_info("volume %s: memxctl volume remove: as SIGTERM", c->opt.name);
	if (kill(getpid(), SIGTERM))
		return memxd_ctl_reply(out, len, "error: volume %s: SIGTERM to ourselves failed\n",
				       c->opt.name);
	return memxd_ctl_reply(out, len, "removing volume %s (/dev/memx%d)\n", c->opt.name,
			       c->dev_id);
}
