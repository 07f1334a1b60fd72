/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket that memxctl talks to: one request line in, one text
 * answer out. Each role supplies the function that answers.
 */
#ifndef MEMXD_CTL_H
#define MEMXD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct memxd_ctl;

/* What a request line asks for. */
enum memxd_ctl_kind {
	MEMXD_CTL_UNKNOWN = 0,
	MEMXD_CTL_STATUS,	/* "status [--json] [--slabs]" */
	MEMXD_CTL_DONOR_DRAIN,	/* "donor drain ADDR" */
	MEMXD_CTL_DONOR_ADD,	/* "donor add ADDR[:PORT]" */
	MEMXD_CTL_RELOAD,	/* "reload": re-read the key file */
};

/* A parsed request line. Pointers point into the line. */
struct memxd_ctl_req {
	enum memxd_ctl_kind kind;
	/* status: "--json" or "--slabs" appears anywhere after "status" */
	bool json, slabs;
	/* status: nothing follows but those options, each once, each after one space */
	bool strict;
	/* donor drain, donor add: the text after the command, as given */
	const char *arg;
	/* donor add: arg as ADDR[:PORT] */
	char host[MEMXD_HOST_MAX];
	uint16_t port;
};

/*
 * Parses a request line (without its newline). Returns 0, or -EINVAL with
 * out->kind MEMXD_CTL_UNKNOWN (no such request) or the request whose argument
 * is wrong (donor add with something that is not ADDR[:PORT]). Pure: the
 * control-socket handlers of both roles and the fuzzer call it.
 */
int memxd_ctl_parse(const char *line, struct memxd_ctl_req *out);

/*
 * Answers one request line ("status", "status --json", "donor drain ADDR", ...)
 * by writing text into out. Returns 0, or -ENOSPC when out is too small.
 */
typedef int (*memxd_ctl_fn)(void *arg, const char *request, char *out, size_t len);

int memxd_ctl_open(const char *path, struct memxd_ctl **out);
int memxd_ctl_fd(const struct memxd_ctl *ctl);
/* Answers whatever is waiting on the socket, with fn writing the answer. */
void memxd_ctl_serve(struct memxd_ctl *ctl, memxd_ctl_fn fn, void *arg);
void memxd_ctl_close(struct memxd_ctl *ctl);

/* printf into a reply buffer. Returns 0, or -ENOSPC when it did not fit. */
int memxd_ctl_reply(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* MEMXD_CTL_H */
