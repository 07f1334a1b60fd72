/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small client of etcd's v3 HTTP/JSON gateway (etcd 3.4 serves it under
 * /v3/): leases, put and range over a prefix, through libcurl with short
 * timeouts. Keys and values travel base64-encoded in JSON; 64-bit numbers
 * as decimal strings. The parsers of the gateway's answers are apart from
 * the transport, so that unit tests and a fuzz target reach them alone.
 * Nothing here logs: callers say what failed, with the reason given back.
 */
#ifndef MEMXD_ETCD_H
#define MEMXD_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define MEMXD_ETCD_DEFAULT_PORT		2379
#define MEMXD_ETCD_PREFIX_MAX		128	/* with its NUL */
#define MEMXD_ETCD_DEFAULT_PREFIX	"/memx/donors/"
#define MEMXD_ETCD_WHY_LEN		128
/* An answer larger than this is refused (a range of thousands of donors fits). */
#define MEMXD_ETCD_REPLY_MAX		(4U << 20)

/* etcd://HOST[:PORT][/prefix] */
struct memxd_etcd_url {
	char host[MEMXD_HOST_MAX];
	uint16_t port;
	char prefix[MEMXD_ETCD_PREFIX_MAX];	/* starts and ends with '/' */
};

/*
 * Parses etcd://HOST[:PORT][/PREFIX] strictly: HOST an address or name
 * ([v6] in brackets), PORT 1-65535 (default 2379), PREFIX of letters,
 * digits and "._-/" with no empty or dot-only part (default
 * /memx/donors/; a '/' is added at its end). Returns 0, or -EINVAL with
 * why (why_len bytes) saying what is wrong.
 */
int memxd_etcd_parse_url(const char *s, struct memxd_etcd_url *u, char *why, size_t why_len);

/* One key of a range answer, decoded (not NUL-terminated; valid during the callback). */
typedef int (*memxd_etcd_kv_fn)(void *ctx, const uint8_t *key, size_t key_len,
				const uint8_t *value, size_t value_len);

/*
 * Parsers of the gateway's answers (json: len bytes, need not be
 * NUL-terminated). Each returns 0, -ENOENT for etcd's "not found" (a lease
 * that is gone), or -EPROTO for an answer that is malformed or an error,
 * with why saying which. Never more than the answer holds is read.
 */
int memxd_etcd_parse_grant(const char *json, size_t len, int64_t *id, int64_t *ttl, char *why,
			   size_t why_len);
/* A keepalive's answer: -ENOENT when the lease is gone (etcd then gives no TTL). */
int memxd_etcd_parse_keepalive(const char *json, size_t len, int64_t *ttl, char *why,
			       size_t why_len);
/* An answer with nothing to take but its header (put, revoke). */
int memxd_etcd_parse_ack(const char *json, size_t len, char *why, size_t why_len);
/*
 * A range's answer: fn is called for each key (in etcd's order); a
 * non-zero return from fn stops the walk and is returned.
 */
int memxd_etcd_parse_range(const char *json, size_t len, memxd_etcd_kv_fn fn, void *ctx,
			   char *why, size_t why_len);

struct memxd_etcd;

/* A connection to one etcd (libcurl handle). Returns 0 or -ENOMEM. */
int memxd_etcd_open(const struct memxd_etcd_url *u, unsigned int timeout_ms,
		    struct memxd_etcd **out);
void memxd_etcd_close(struct memxd_etcd *e);
/* Why the last call failed (a transport error, or etcd's answer). */
const char *memxd_etcd_why(const struct memxd_etcd *e);

/* Each returns 0 or -errno (-ENOENT: the lease is gone; others: see memxd_etcd_why). */
int memxd_etcd_grant(struct memxd_etcd *e, unsigned int ttl_s, int64_t *id);
int memxd_etcd_keepalive(struct memxd_etcd *e, int64_t id, int64_t *ttl);
int memxd_etcd_revoke(struct memxd_etcd *e, int64_t id);
/* Puts key = value (strings) under lease id (0: none). */
int memxd_etcd_put(struct memxd_etcd *e, const char *key, const char *value, int64_t lease);
/* Every key that starts with prefix, through fn (see memxd_etcd_parse_range). */
int memxd_etcd_range_prefix(struct memxd_etcd *e, const char *prefix, memxd_etcd_kv_fn fn,
			    void *ctx);

#endif /* MEMXD_ETCD_H */
