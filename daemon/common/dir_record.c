// SPDX-License-Identifier: GPL-2.0
/*
 * A donor's entry in the directory: {"address": "HOST:PORT", "zone": "...",
 * "id": "<32 hex>", "capacity": N, "free": N}. Anyone who can write to etcd
 * can write here, so a client believes an entry only as far as this file
 * checks it, and only as a hint: the donor it names must still authenticate
 * as any other (donors.c), and its free memory is what its STATS say.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/directory.h"
#include "common/parse.h"
#include "common/wire.h"

#define DIR_JSON_DEPTH	4
#define DIR_VALUE_MAX	1024


/* HOST:PORT as --donor takes it, [v6] in brackets. */
static void format_addr(const struct memxd_dir_donor *d, char *out, size_t len)
{
	bool v6 = strchr(d->host, ':') != NULL;

	snprintf(out, len, "%s%s%s:%u", v6 ? "[" : "", d->host, v6 ? "]" : "", d->port);
}

int memxd_dir_donor_encode(const struct memxd_dir_donor *d, char *out, size_t len)
{
	char addr[MEMXD_HOST_MAX + 8];
	int n;

	format_addr(d, addr, sizeof(addr));
	n = snprintf(out, len, "{\"address\":\"%s\",\"zone\":\"%s\",\"id\":\"%s\","
		     "\"capacity\":%" PRIu64 ",\"free\":%" PRIu64 "}", addr, d->zone, d->id,
		     d->capacity, d->free);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int memxd_dir_donor_key(const char *prefix, const struct memxd_dir_donor *d, char *out,
			size_t len)
{
	char addr[MEMXD_HOST_MAX + 8];
	int n;

	format_addr(d, addr, sizeof(addr));
	n = snprintf(out, len, "%s%s", prefix, addr);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *get_str(struct json_object *o, const char *name)
{
	struct json_object *f;

	if (!json_object_object_get_ex(o, name, &f) || !json_object_is_type(f, json_type_string))
		return NULL;
	/* An embedded NUL would make the C string shorter than the JSON one. */
	if (strlen(json_object_get_string(f)) != (size_t)json_object_get_string_len(f))
		return NULL;
	return json_object_get_string(f);
}

static int get_u64(struct json_object *o, const char *name, uint64_t *out)
{
	struct json_object *f;

	if (!json_object_object_get_ex(o, name, &f) || !json_object_is_type(f, json_type_int))
		return -EPROTO;
	/* json-c holds integers above INT64_MAX as unsigned; below 0 as signed. */
	if (json_object_get_int64(f) < 0)
		return -EPROTO;
	*out = json_object_get_uint64(f);
	return 0;
}

static bool hex32(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

int memxd_dir_donor_decode(const uint8_t *json, size_t len, struct memxd_dir_donor *d, char *why,
			   size_t why_len)
{
	struct json_tokener *tok;
	struct json_object *o;
	const char *addr, *zone, *id;
	int r = -EPROTO;

	memset(d, 0, sizeof(*d));
	if (!len || len > DIR_VALUE_MAX) {
		memxd_say(why, why_len, "value of %zu bytes (1 to %d)", len, DIR_VALUE_MAX);
		return -EPROTO;
	}
	tok = json_tokener_new_ex(DIR_JSON_DEPTH);
	if (!tok) {
		memxd_say(why, why_len, "out of memory");
		return -ENOMEM;
	}
	o = json_tokener_parse_ex(tok, (const char *)json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		memxd_say(why, why_len, "value is not a JSON object");
		goto out;
	}
	addr = get_str(o, "address");
	zone = get_str(o, "zone");
	id = get_str(o, "id");
	if (!addr || memxd_parse_hostport(addr, d->host, sizeof(d->host), &d->port, 0) ||
	    !d->port) {
		memxd_say(why, why_len, "no good \"address\" (HOST:PORT)");
		goto out;
	}
	if (!zone || !memxd_label_ok(zone, true)) {
		memxd_say(why, why_len, "no good \"zone\" (up to 15 letters, digits, '.', '_', '-')");
		goto out;
	}
	strcpy(d->zone, zone);
	if (!id || !hex32(id)) {
		memxd_say(why, why_len, "no good \"id\" (32 lower-case hex digits)");
		goto out;
	}
	strcpy(d->id, id);
	if (get_u64(o, "capacity", &d->capacity) || get_u64(o, "free", &d->free) ||
	    d->free > d->capacity) {
		memxd_say(why, why_len, "no good \"capacity\" and \"free\" (bytes, free <= capacity)");
		goto out;
	}
	r = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}
