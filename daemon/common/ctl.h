/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket that memxctl talks to: one request line in, one text
 * answer out. Each role supplies the function that answers.
 */
#ifndef MEMXD_CTL_H
#define MEMXD_CTL_H

#include <stddef.h>

struct memxd_ctl;

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
