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

/* Makes MEMXD_RUN_DIR, or makes it 0700 if it is ours: sockets and locks of root's daemons. */
void memxd_make_run_dir(void);

/*
 * Holds an exclusive lock on path (created 0600, our pid written in it) for
 * the rest of the process's life, so that no second memxd serves the same
 * name. Returns the open fd, -EBUSY when another process holds the lock (its
 * pid in *holder, if known), or -errno.
 */
int memxd_lock_name(const char *path, long *holder);

/* The machine's RAM (MemTotal of /proc/meminfo) in bytes, or 0 if unknown. */
uint64_t memxd_mem_total(void);

/*
 * This machine's identity for failure domains: /etc/machine-id's 128 bits,
 * or, without one, the host name (NUL-padded, cut to 16 bytes).
 */
void memxd_machine_id(uint8_t out[16]);

/*
 * What either role does first, before any other thread exists: the signalfd
 * (memxd_signalfd), then the logger thread (which inherits the signal mask).
 * Returns the signalfd, or -errno (said why).
 */
int memxd_process_start(void);

/* xorshift32: a fast random source for placement (state must not be 0). */
uint32_t memxd_rand(void *state);

/* A 16-byte id for logs: its first 8 hex digits (a full id is never logged). */
void memxd_fmt_id(const uint8_t id[16], char out[33]);

#endif /* MEMXD_PROC_H */
