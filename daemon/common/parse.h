/* SPDX-License-Identifier: GPL-2.0 */
/* Parsing of command-line values: sizes, counts and ADDR[:PORT]. */
#ifndef MEMXD_PARSE_H
#define MEMXD_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a byte size: digits with an optional K, M, G or T suffix (powers of
 * 1024, either case, an optional trailing "iB" or "B"). Returns 0, -EINVAL for
 * anything else, -ERANGE on overflow.
 */
int memxd_parse_size(const char *s, uint64_t *out);

/* Parses a decimal count in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int memxd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parses ADDR[:PORT] (an IPv4 address or name; [v6]:port with brackets) into
 * host and port, using default_port when none is given. Returns 0 or -EINVAL.
 */
int memxd_parse_hostport(const char *s, char *host, size_t host_len, uint16_t *port,
			uint16_t default_port);

/* Writes why something was refused into a caller's buffer (none when why is NULL or empty). */
void memxd_say(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* MEMXD_PARSE_H */
