/* SPDX-License-Identifier: GPL-2.0 */
/* memxctl's parts: memxctl.c (commands, talking to memxd), memxctl_prom.c, memxctl_drain.c. */
#ifndef MEMXCTL_H
#define MEMXCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One memxd's whole answer. */
struct memxctl_answer {
	char *buf;
	size_t len;
};

/*
 * Sends one request to one memxd's socket and reads the whole answer into
 * *ans (malloc'd; free it). Returns 0, -EREMOTEIO when the answer starts with
 * "error:", or -errno (no answer, or only part of one, in *ans). memxd must
 * begin its answer to a status within MEMXCTL_STATUS_S, to any other request
 * (a change: its control thread may be inside one control message or
 * handshake) within MEMXCTL_CHANGE_S, or say "wait: why" first: that line
 * goes to stderr, and the answer is then waited for up to MEMXCTL_LATER_S.
 */
#define MEMXCTL_STATUS_S	5
#define MEMXCTL_CHANGE_S	30
#define MEMXCTL_LATER_S		300
int memxctl_ask(const char *path, const char *request, struct memxctl_answer *ans);

/* A drain one client started: its socket, the donor's name there, slabs to move. */
struct memxctl_drain {
	char socket[512];
	char donor[128];
	unsigned long long slabs;
};

/*
 * memxctl donor drain ADDR --wait: asks each client for its status every
 * poll_ms until the donor has left every volume, writing progress to out (slabs
 * moved, bytes left, rate, ETA): on a terminal one line rewritten in place,
 * else a line every line_ms. Returns the exit status: 0 once the donor left
 * every volume, 1 when it failed instead or a client stopped answering.
 */
int memxctl_drain_wait(const struct memxctl_drain *drains, size_t n, FILE *out, bool tty,
		       unsigned int poll_ms, unsigned int line_ms);

#endif /* MEMXCTL_H */
