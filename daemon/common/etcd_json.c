// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd v3 gateway's answers, parsed with json-c (depth-limited) into
 * what the directory needs; etcd writes 64-bit numbers as decimal strings
 * and keys and values in base64. Every field is checked before use: an
 * answer that is not what etcd sends is an error with a reason, never a
 * crash (fuzz_etcd feeds these). etcd says an error as
 * {"error": ..., "code": N, "message": ...}; code 5 (NOT_FOUND) is what a
 * lease that is gone gets, and is told apart (-ENOENT).
 */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/etcd.h"
#include "common/parse.h"

#define ETCD_JSON_DEPTH		16
#define ETCD_NOT_FOUND		5	/* grpc codes.NotFound */


/* The answer as a JSON object, or NULL (why said). */
static struct json_object *parse_object(const char *json, size_t len, char *why, size_t why_len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (!len || len > MEMXD_ETCD_REPLY_MAX || len > INT32_MAX) {
		memxd_say(why, why_len, len ? "answer too large" : "empty answer");
		return NULL;
	}
	tok = json_tokener_new_ex(ETCD_JSON_DEPTH);
	if (!tok) {
		memxd_say(why, why_len, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		memxd_say(why, why_len, "answer is not JSON");
		json_object_put(o);
		o = NULL;
	} else if (!json_object_is_type(o, json_type_object)) {
		memxd_say(why, why_len, "answer is not a JSON object");
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* etcd's own error answer: -ENOENT for NOT_FOUND, -EPROTO for others, 0 if none. */
static int etcd_error(struct json_object *o, char *why, size_t why_len)
{
	struct json_object *code = NULL, *msg = NULL, *err = NULL;
	int c;

	json_object_object_get_ex(o, "code", &code);
	json_object_object_get_ex(o, "error", &err);
	json_object_object_get_ex(o, "message", &msg);
	if (!code && !err)
		return 0;
	c = code && json_object_is_type(code, json_type_int) ? json_object_get_int(code) : -1;
	if (!msg || !json_object_is_type(msg, json_type_string))
		msg = err && json_object_is_type(err, json_type_string) ? err : NULL;
	memxd_say(why, why_len, "etcd: %.96s (code %d)", msg ? json_object_get_string(msg) : "error", c);
	return c == ETCD_NOT_FOUND ? -ENOENT : -EPROTO;
}

/*
 * A 64-bit field (the gateway writes them as decimal strings; a number is
 * taken too). Returns 0, -ENOENT when absent, -EPROTO when not a number.
 */
static int get_i64(struct json_object *o, const char *name, int64_t *out)
{
	struct json_object *f;
	const char *s;
	char *end;
	long long v;

	if (!json_object_object_get_ex(o, name, &f) || !f)
		return -ENOENT;
	if (json_object_is_type(f, json_type_int)) {
		*out = json_object_get_int64(f);
		return 0;
	}
	if (!json_object_is_type(f, json_type_string))
		return -EPROTO;
	s = json_object_get_string(f);
	if (!*s || strlen(s) > 20 || (*s != '-' && !isdigit((unsigned char)*s)))
		return -EPROTO;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EPROTO;
	*out = v;
	return 0;
}

int memxd_etcd_parse_grant(const char *json, size_t len, int64_t *id, int64_t *ttl, char *why,
			   size_t why_len)
{
	struct json_object *o = parse_object(json, len, why, why_len);
	int r;

	if (!o)
		return -EPROTO;
	r = etcd_error(o, why, why_len);
	if (!r && (get_i64(o, "ID", id) || get_i64(o, "TTL", ttl) || *id <= 0 || *ttl <= 0)) {
		memxd_say(why, why_len, "lease grant answer without a good ID and TTL");
		r = -EPROTO;
	}
	json_object_put(o);
	return r;
}

int memxd_etcd_parse_keepalive(const char *json, size_t len, int64_t *ttl, char *why,
			       size_t why_len)
{
	struct json_object *o = parse_object(json, len, why, why_len), *res;
	int r;

	if (!o)
		return -EPROTO;
	r = etcd_error(o, why, why_len);
	if (r)
		goto out;
	/* A stream's answer: {"result": {...}}. */
	if (!json_object_object_get_ex(o, "result", &res) ||
	    !json_object_is_type(res, json_type_object)) {
		memxd_say(why, why_len, "keepalive answer without a result");
		r = -EPROTO;
		goto out;
	}
	r = etcd_error(res, why, why_len);
	if (r)
		goto out;
	/* A lease that is gone gets a result with no TTL (0 is left out of JSON). */
	r = get_i64(res, "TTL", ttl);
	if (r == -ENOENT || (!r && *ttl <= 0)) {
		memxd_say(why, why_len, "the lease is gone");
		r = -ENOENT;
	} else if (r) {
		memxd_say(why, why_len, "keepalive answer with a bad TTL");
	}
out:
	json_object_put(o);
	return r;
}

int memxd_etcd_parse_ack(const char *json, size_t len, char *why, size_t why_len)
{
	struct json_object *o = parse_object(json, len, why, why_len), *h;
	int r;

	if (!o)
		return -EPROTO;
	r = etcd_error(o, why, why_len);
	if (!r && (!json_object_object_get_ex(o, "header", &h) ||
		   !json_object_is_type(h, json_type_object))) {
		memxd_say(why, why_len, "answer without a header");
		r = -EPROTO;
	}
	json_object_put(o);
	return r;
}

/*
 * A base64 field into a new buffer (*out, *out_len; NUL-terminated for the
 * callers' convenience). Returns 0, -EPROTO or -ENOMEM.
 */
static int get_b64(struct json_object *o, const char *name, uint8_t **out, size_t *out_len)
{
	struct json_object *f;
	const char *s;
	size_t n, cap;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	if (!json_object_object_get_ex(o, name, &f))
		return name[0] == 'v' ? 0 : -EPROTO;	/* an empty value is left out */
	if (!json_object_is_type(f, json_type_string))
		return -EPROTO;
	s = json_object_get_string(f);
	n = (size_t)json_object_get_string_len(f);
	cap = n / 4 * 3 + 3;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	if (sodium_base642bin(buf, cap, s, n, NULL, out_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL)) {
		free(buf);
		return -EPROTO;
	}
	buf[*out_len] = '\0';
	*out = buf;
	return 0;
}

int memxd_etcd_parse_range(const char *json, size_t len, memxd_etcd_kv_fn fn, void *ctx,
			   char *why, size_t why_len)
{
	struct json_object *o = parse_object(json, len, why, why_len), *kvs, *hdr;
	size_t n;
	int r;

	if (!o)
		return -EPROTO;
	r = etcd_error(o, why, why_len);
	if (r)
		goto out;
	if (!json_object_object_get_ex(o, "header", &hdr)) {
		memxd_say(why, why_len, "range answer without a header");
		r = -EPROTO;
		goto out;
	}
	/* No key: no "kvs" at all. */
	if (!json_object_object_get_ex(o, "kvs", &kvs))
		goto out;
	if (!json_object_is_type(kvs, json_type_array)) {
		memxd_say(why, why_len, "range answer whose kvs is not an array");
		r = -EPROTO;
		goto out;
	}
	n = json_object_array_length(kvs);
	for (size_t i = 0; i < n && !r; i++) {
		struct json_object *kv = json_object_array_get_idx(kvs, i);
		uint8_t *key = NULL, *value = NULL;
		size_t klen, vlen;

		if (!kv || !json_object_is_type(kv, json_type_object)) {
			memxd_say(why, why_len, "range answer with a kv that is not an object");
			r = -EPROTO;
			break;
		}
		r = get_b64(kv, "key", &key, &klen);
		if (!r)
			r = get_b64(kv, "value", &value, &vlen);
		if (r)
			memxd_say(why, why_len, "range answer with a key or value that is not base64");
		else
			r = fn(ctx, key, klen, value ? value : (const uint8_t *)"", vlen);
		free(key);
		free(value);
	}
out:
	json_object_put(o);
	return r;
}

