// SPDX-License-Identifier: GPL-2.0
/*
 * --directory etcd://HOST[:PORT][/PREFIX]: what the URL may hold, checked
 * strictly (it names where donors are listed, and every part of it ends up
 * in keys and in an HTTP URL). Apart from the transport so that the option
 * parsers and their fuzz targets need neither libcurl nor json-c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/etcd.h"
#include "common/parse.h"


/* A prefix part is letters, digits, '.', '_' or '-', and not "." or "..". */
static bool prefix_ok(const char *p, char *why, size_t why_len)
{
	const char *part = p + 1;

	if (p[0] != '/') {
		memxd_say(why, why_len, "the prefix must start with '/'");
		return false;
	}
	for (const char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			size_t n = (size_t)(s - part);

			if (!n && *s) {
				memxd_say(why, why_len, "the prefix has an empty part ('//')");
				return false;
			}
			if ((n == 1 && part[0] == '.') || (n == 2 && !strncmp(part, "..", 2))) {
				memxd_say(why, why_len, "the prefix has a '.' or '..' part");
				return false;
			}
			if (!*s)
				return true;
			part = s + 1;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') {
			memxd_say(why, why_len, "the prefix may hold only letters, digits, '.', '_', '-' "
			    "and '/'");
			return false;
		}
	}
}

int memxd_etcd_parse_url(const char *s, struct memxd_etcd_url *u, char *why, size_t why_len)
{
	static const char scheme[] = "etcd://";
	char hostport[MEMXD_HOST_MAX + 8];
	const char *rest, *slash;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, scheme, sizeof(scheme) - 1)) {
		memxd_say(why, why_len, "it does not start with etcd://");
		return -EINVAL;
	}
	rest = s + sizeof(scheme) - 1;
	/* A [v6] address holds no '/': the first '/' after it starts the prefix. */
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!n || n >= sizeof(hostport)) {
		memxd_say(why, why_len, n ? "HOST:PORT is too long" : "no HOST after etcd://");
		return -EINVAL;
	}
	memcpy(hostport, rest, n);
	hostport[n] = '\0';
	if (strpbrk(hostport, "@?#%")) {
		memxd_say(why, why_len, "HOST:PORT takes no user, query, fragment or escapes");
		return -EINVAL;
	}
	if (memxd_parse_hostport(hostport, u->host, sizeof(u->host), &u->port,
				 MEMXD_ETCD_DEFAULT_PORT) || !u->port) {
		memxd_say(why, why_len, "'%s' is not HOST[:PORT] (port 1-65535)", hostport);
		return -EINVAL;
	}
	if (!slash || !strcmp(slash, "/")) {
		strcpy(u->prefix, MEMXD_ETCD_DEFAULT_PREFIX);
		return 0;
	}
	n = strlen(slash);
	if (n + (slash[n - 1] != '/') >= sizeof(u->prefix)) {
		memxd_say(why, why_len, "the prefix is longer than %d bytes", MEMXD_ETCD_PREFIX_MAX - 2);
		return -EINVAL;
	}
	if (!prefix_ok(slash, why, why_len))
		return -EINVAL;
	memcpy(u->prefix, slash, n + 1);
	if (u->prefix[n - 1] != '/')
		strcat(u->prefix, "/");
	return 0;
}

