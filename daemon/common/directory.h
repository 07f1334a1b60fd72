/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The donor directory (--directory etcd://...): donors list themselves in
 * etcd under a prefix, each under a lease they keep alive; clients read the
 * prefix and join donors they do not know yet. Only membership and capacity
 * live there, never the slab map. The directory is never in the data path:
 * each role talks to etcd from a thread of its own, and the daemon's other
 * threads only read a snapshot under a mutex.
 */
#ifndef MEMXD_DIRECTORY_H
#define MEMXD_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memx/proto.h>

#include "common/etcd.h"

/*
 * A donor's lease in etcd, in seconds: how long a donor that died (host
 * powered off, kill -9) stays listed. Clients decide a donor's death by their
 * own heartbeats within seconds; the directory only has to stop offering a
 * dead donor to new joins soon. 10 s is three keepalives (one every third of
 * it) so that one or two lost to a slow etcd do not drop a live donor.
 */
#define MEMXD_DIR_TTL_S		10
/* Clients read the prefix this often. */
#define MEMXD_DIR_POLL_MS	2000
/* Clients ask DNS for the SRV records this often (srv://). */
#define MEMXD_DIR_SRV_POLL_MS	5000
/* Each HTTP call to etcd gives up after this long. */
#define MEMXD_DIR_HTTP_TIMEOUT_MS	2000
/* A client acts on at most this many listed donors (more than it can hold). */
#define MEMXD_DIR_MAX_LISTED	256
/* The same error is logged at most this often (etcd down: one line a minute). */
#define MEMXD_DIR_LOG_EVERY_S	60

/* A donor as listed: the value under PREFIX + "HOST:PORT", as JSON. */
struct memxd_dir_donor {
	char host[MEMXD_HOST_MAX];	/* where clients connect (its --listen) */
	uint16_t port;
	char zone[MEMX_ZONE_LEN + 1];	/* "" is none */
	char id[33];			/* the donor process's random id, in hex */
	uint64_t capacity;		/* --memory */
	uint64_t free;			/* not yet lent */
};

/* Writes d as JSON into out (len bytes). Returns its length, or -ENOSPC. */
int memxd_dir_donor_encode(const struct memxd_dir_donor *d, char *out, size_t len);
/*
 * Parses a listed value; every field checked (the address as --donor takes
 * it, the zone a label, the id 32 hex digits, free <= capacity). Returns 0 or
 * -EPROTO with why.
 */
int memxd_dir_donor_decode(const uint8_t *json, size_t len, struct memxd_dir_donor *d, char *why,
			   size_t why_len);
/* The key a donor is listed under: prefix + "HOST:PORT". Returns 0 or -ENAMETOOLONG. */
int memxd_dir_donor_key(const char *prefix, const struct memxd_dir_donor *d, char *out,
			size_t len);

/* What memxctl status shows of the directory. */
struct memxd_dir_status {
	char url[320];			/* etcd://... or srv://... */
	const char *state;		/* "registering", "registered", "withdrawn", "listing", "listed" */
	char last_error[MEMXD_ETCD_WHY_LEN];	/* "" while the last call worked */
	uint64_t errors;		/* calls that failed */
	uint64_t last_ok_age_ms;	/* since the last call that worked; UINT64_MAX: never */
	int64_t lease;			/* donor: the lease held, 0 if none */
	unsigned int listed;		/* client: donors in the last listing */
	unsigned int skipped;		/* client: values in it that were not a donor */
};

struct memxd_dir;
struct memxd_srv_url;

/*
 * Donor: lists self under u's prefix with a lease of ttl_s seconds, from a
 * thread of its own that keeps the lease alive, puts the value again when
 * the free memory changed (memxd_dir_set_free), and registers again when
 * the lease was lost (etcd restarted, a long outage). Returns 0 or -errno.
 */
int memxd_dir_register_start(const struct memxd_etcd_url *u, const struct memxd_dir_donor *self,
			     unsigned int ttl_s, struct memxd_dir **out);
void memxd_dir_set_free(struct memxd_dir *dir, uint64_t free_bytes);
/* Donor leaving: the thread revokes the lease and lists us no more. Does not wait. */
void memxd_dir_withdraw(struct memxd_dir *dir);

/*
 * Client: reads u's prefix every poll_ms from a thread of its own. Returns
 * 0 or -errno.
 */
int memxd_dir_watch_start(const struct memxd_etcd_url *u, unsigned int poll_ms,
			  struct memxd_dir **out);
/* Client: the same, from u's DNS SRV records (dns_srv.h), every poll_ms. */
int memxd_dir_watch_srv_start(const struct memxd_srv_url *u, unsigned int poll_ms,
			      struct memxd_dir **out);
/*
 * The last listing, if newer than *gen (then *gen is updated): up to max
 * donors into out. Returns how many, or -EAGAIN when nothing new came.
 */
int memxd_dir_take(struct memxd_dir *dir, uint64_t *gen, struct memxd_dir_donor *out,
		   unsigned int max);

void memxd_dir_status(struct memxd_dir *dir, struct memxd_dir_status *st);
/*
 * Stops the thread (a donor's lease is revoked first) and frees dir; NULL is
 * fine. Waits at most for the HTTP calls in progress (MEMXD_DIR_HTTP_TIMEOUT_MS each).
 */
void memxd_dir_stop(struct memxd_dir *dir);

#endif /* MEMXD_DIRECTORY_H */
