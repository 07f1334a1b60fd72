// SPDX-License-Identifier: GPL-2.0
/*
 * --directory srv://DOMAIN[@SERVER[:PORT]]: what the URL may hold, checked
 * strictly. Apart from the resolver so that the option parsers and their
 * fuzz targets need no libresolv.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/dns_srv.h"
#include "common/parse.h"

/* Labels of letters, digits, '-' and '_', 1-63 characters; an optional final dot. */
static bool dns_name_ok(const char *s, char *why, size_t why_len)
{
	size_t label = 0;

	if (!*s || !strcmp(s, ".")) {
		memxd_say(why, why_len, "no DOMAIN after srv://");
		return false;
	}
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (!label) {
				memxd_say(why, why_len, "the domain has an empty label");
				return false;
			}
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			memxd_say(why, why_len, "the domain may hold only letters, digits, '-', '_' "
				  "and '.'");
			return false;
		}
		if (++label > 63) {
			memxd_say(why, why_len, "a label of the domain is longer than 63 characters");
			return false;
		}
	}
	return true;
}

int memxd_srv_parse_url(const char *s, struct memxd_srv_url *u, char *why, size_t why_len)
{
	static const char scheme[] = "srv://";
	char domain[MEMXD_DNS_NAME_MAX];
	const char *rest, *at;
	struct in_addr a;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, scheme, sizeof(scheme) - 1)) {
		memxd_say(why, why_len, "it does not start with srv://");
		return -EINVAL;
	}
	rest = s + sizeof(scheme) - 1;
	at = strchr(rest, '@');
	n = at ? (size_t)(at - rest) : strlen(rest);
	/* Room for the service in front: the whole name stays a valid DNS name. */
	if (n + sizeof(MEMXD_SRV_SERVICE) - 1 > MEMXD_DNS_NAME_MAX - 1) {
		memxd_say(why, why_len, "the domain is longer than %zu characters",
			  MEMXD_DNS_NAME_MAX - sizeof(MEMXD_SRV_SERVICE));
		return -EINVAL;
	}
	memcpy(domain, rest, n);
	domain[n] = '\0';
	if (!dns_name_ok(domain, why, why_len))
		return -EINVAL;
	/* Fits: checked above. */
	memcpy(u->name, MEMXD_SRV_SERVICE, sizeof(MEMXD_SRV_SERVICE) - 1);
	memcpy(u->name + sizeof(MEMXD_SRV_SERVICE) - 1, domain, n + 1);
	if (!at) {
		u->server_port = MEMXD_DNS_PORT;
		return 0;
	}
	if (memxd_parse_hostport(at + 1, u->server, sizeof(u->server), &u->server_port,
				 MEMXD_DNS_PORT) || !u->server_port ||
	    inet_pton(AF_INET, u->server, &a) != 1) {
		memxd_say(why, why_len, "'%s' after '@' is not an IPv4 ADDR[:PORT] (port 1-65535)",
			  at + 1);
		memset(u, 0, sizeof(*u));
		return -EINVAL;
	}
	return 0;
}

void memxd_srv_format_url(const struct memxd_srv_url *u, char *out, size_t len)
{
	const char *domain = u->name + sizeof(MEMXD_SRV_SERVICE) - 1;

	if (u->server[0])
		snprintf(out, len, "srv://%s@%s:%u", domain, u->server, u->server_port);
	else
		snprintf(out, len, "srv://%s", domain);
}
