/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The donor directory as DNS SRV records (--directory srv://DOMAIN): whoever
 * runs the zone lists the donors as _memx._tcp.DOMAIN SRV records (target
 * and port each); clients read them as they read etcd's prefix. Lighter than
 * etcd (no daemon to run, nothing registered by the donors themselves) and
 * read-only: a donor that dies stays listed until the zone drops it, so, as
 * with etcd, only the client's heartbeats decide that a donor is gone.
 */
#ifndef MEMXD_DNS_SRV_H
#define MEMXD_DNS_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "common/directory.h"

#define MEMXD_SRV_SERVICE	"_memx._tcp."
/* A DNS name in text, with its NUL: 253 characters at most. */
#define MEMXD_DNS_NAME_MAX	254
#define MEMXD_DNS_PORT		53
/* The largest answer read (a UDP answer is 512 bytes unless EDNS; TCP up to this). */
#define MEMXD_SRV_ANSWER_MAX	8192

struct memxd_srv_url {
	char name[MEMXD_DNS_NAME_MAX];	/* _memx._tcp.DOMAIN, what is asked */
	char server[MEMXD_HOST_MAX];	/* an IPv4 address; "" asks the system's resolvers */
	uint16_t server_port;
};

/*
 * Parses srv://DOMAIN[@SERVER[:PORT]] strictly: DOMAIN a DNS name (labels of
 * letters, digits, '-' and '_', 63 characters each, no trailing dot needed),
 * SERVER an IPv4 address (default: the resolvers of /etc/resolv.conf), PORT
 * 1-65535 (default 53). Returns 0 or -EINVAL with why.
 */
int memxd_srv_parse_url(const char *s, struct memxd_srv_url *u, char *why, size_t why_len);
/* srv://DOMAIN[@SERVER:PORT], for logs and status. */
void memxd_srv_format_url(const struct memxd_srv_url *u, char *out, size_t len);

/*
 * Decodes a DNS answer to an SRV query: each SRV record of its answer
 * section becomes a donor (target as host, its port; no zone, no id, no
 * capacity: the client learns those when it connects). Records of other
 * types are ignored; a target "." (no service), or one that is not a host
 * name --donor would take, is skipped and counted. Returns how many donors
 * (at most max), -ENOENT when the name does not exist or has no records, or
 * -EPROTO for an answer that is not one (with why).
 */
int memxd_srv_decode(const uint8_t *msg, size_t len, struct memxd_dir_donor *out,
		     unsigned int max, unsigned int *skipped, char *why, size_t why_len);

/*
 * Asks u's server (or the system's) for u's SRV records, each try bounded by
 * timeout_ms (rounded up to seconds: the resolver's unit), one retry. Returns
 * the answer's length in buf, -ENOENT (no such name or no records),
 * -ETIMEDOUT (no server answered) or -EPROTO, with why.
 */
int memxd_srv_query(const struct memxd_srv_url *u, unsigned int timeout_ms, uint8_t *buf,
		    size_t len, char *why, size_t why_len);

#endif /* MEMXD_DNS_SRV_H */
