/* SPDX-License-Identifier: GPL-2.0 */
/* The process around either role: swap safety, signals, ids and randomness. */
#ifndef MEMXD_PROC_H
#define MEMXD_PROC_H

#include <stdint.h>

/*
 * Locks memory, marks the process an I/O flusher and exempts it from the OOM
 * killer. Returns 0 or the first -errno (the caller decides whether to go on).
 */
int memxd_make_swap_safe(void);

/*
 * Blocks SIGINT and SIGTERM in every thread created afterwards and returns a
 * signalfd that reports them (or -errno); SIGPIPE is ignored.
 */
int memxd_signalfd(void);

/* xorshift32: a fast random source for placement (state must not be 0). */
uint32_t memxd_rand(void *state);

/* A 16-byte id as 32 hex digits. */
void memxd_fmt_id(const uint8_t id[16], char out[33]);

#endif /* MEMXD_PROC_H */
