// SPDX-License-Identifier: GPL-2.0
/* Strict parsers for user input: whole string consumed, no sign, no overflow. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"

static int parse_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned int d = *s - '0';

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

int memxd_parse_size(const char *s, uint64_t *out)
{
	unsigned int shift = 0;
	uint64_t v;
	int r;

	if (!s || !out)
		return -EINVAL;
	r = parse_digits(&s, &v);
	if (r)
		return r;
	switch (*s) {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	case 't': case 'T': shift = 40; s++; break;
	default: break;
	}
	if (shift && (!strcmp(s, "iB") || !strcmp(s, "ib")))
		s += 2;
	else if (!strcmp(s, "B") || !strcmp(s, "b"))
		s += 1;
	if (*s)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int memxd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int r;

	if (!s || !out)
		return -EINVAL;
	r = parse_digits(&s, &v);
	if (r)
		return r;
	if (*s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int memxd_parse_hostport(const char *s, char *host, size_t host_len, uint16_t *port,
			uint16_t default_port)
{
	const char *colon, *end;
	uint64_t p = default_port;
	size_t n;

	if (!s || !*s || !host || !host_len || !port)
		return -EINVAL;
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		n = end - s - 1;
		s++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (!colon && end[1])
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			return -EINVAL;	/* bare IPv6 needs brackets */
		n = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (!n || n >= host_len)
		return -EINVAL;
	if (colon && memxd_parse_uint(colon + 1, 1, 65535, &p))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

void memxd_say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}
