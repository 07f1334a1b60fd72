// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: etcd's v3 API through its HTTP/JSON gateway.
 *
 * Each call is one POST of a JSON body to http://HOST:PORT/v3/<call> with
 * libcurl (an easy handle per connection, reused so that its TCP connection
 * is kept), bounded by a connect and a total timeout, and never through a
 * proxy: the directory is a local service and its traffic goes nowhere else.
 * The answer is read into a buffer of at most MEMXD_ETCD_REPLY_MAX bytes and
 * handed to the parsers of etcd_json.c.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/etcd.h"
#include "common/parse.h"


/* The transport. */

struct memxd_etcd {
	CURL *curl;
	char base[MEMXD_HOST_MAX + 32];	/* http://HOST:PORT/v3/ */
	char *buf;			/* the answer */
	size_t len, cap;
	bool too_big;
	char why[MEMXD_ETCD_WHY_LEN];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct memxd_etcd *e = arg;
	size_t n = size * nmemb;

	if (e->len + n > MEMXD_ETCD_REPLY_MAX) {
		e->too_big = true;
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	}
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 4096;
		char *b;

		while (cap < e->len + n + 1)
			cap *= 2;
		b = realloc(e->buf, cap);
		if (!b)
			return 0;
		e->buf = b;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
	e->buf[e->len] = '\0';
	return n;
}

int memxd_etcd_open(const struct memxd_etcd_url *u, unsigned int timeout_ms,
		    struct memxd_etcd **out)
{
	struct memxd_etcd *e;
	bool v6 = strchr(u->host, ':') != NULL;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->curl = curl_easy_init();
	if (!e->curl) {
		free(e);
		return -ENOMEM;
	}
	snprintf(e->base, sizeof(e->base), "http://%s%s%s:%u/v3/", v6 ? "[" : "", u->host,
		 v6 ? "]" : "", u->port);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);	/* threads: no SIGALRM */
	curl_easy_setopt(e->curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, e);
	*out = e;
	return 0;
}

void memxd_etcd_close(struct memxd_etcd *e)
{
	if (!e)
		return;
	curl_easy_cleanup(e->curl);
	free(e->buf);
	free(e);
}

const char *memxd_etcd_why(const struct memxd_etcd *e)
{
	return e->why;
}

/* POSTs body to /v3/call; the answer is in e->buf (e->len). Returns 0 or -errno. */
static int post(struct memxd_etcd *e, const char *call, const char *body)
{
	char url[sizeof(e->base) + 32];
	struct curl_slist *hdr;
	CURLcode rc;
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", e->base, call);
	e->len = 0;
	e->too_big = false;
	e->why[0] = '\0';
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		memxd_say(e->why, sizeof(e->why), "%s: %s", call,
		    e->too_big ? "answer too large" : curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
		       rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EPROTO;
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	/* etcd's errors come with a JSON body and a 4xx/5xx status: the parsers say them. */
	if (status != 200 && (!e->len || e->buf[0] != '{')) {
		memxd_say(e->why, sizeof(e->why), "%s: HTTP status %ld", call, status);
		return -EPROTO;
	}
	return 0;
}

static char *b64(const char *s)
{
	size_t n = strlen(s), cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);

	if (out)
		sodium_bin2base64(out, cap, (const unsigned char *)s, n,
				  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* The call's reason prefixed to what the parser said. */
static int parsed(struct memxd_etcd *e, const char *call, int r, const char *why)
{
	if (r)
		snprintf(e->why, sizeof(e->why), "%s: %.100s", call, why);
	return r;
}

int memxd_etcd_grant(struct memxd_etcd *e, unsigned int ttl_s, int64_t *id)
{
	char body[64], why[MEMXD_ETCD_WHY_LEN];
	int64_t ttl;
	int r;

	snprintf(body, sizeof(body), "{\"TTL\":\"%u\"}", ttl_s);
	r = post(e, "lease/grant", body);
	if (r)
		return r;
	r = memxd_etcd_parse_grant(e->buf, e->len, id, &ttl, why, sizeof(why));
	return parsed(e, "lease/grant", r, why);
}

int memxd_etcd_keepalive(struct memxd_etcd *e, int64_t id, int64_t *ttl)
{
	char body[64], why[MEMXD_ETCD_WHY_LEN];
	int r;

	snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", id);
	r = post(e, "lease/keepalive", body);
	if (r)
		return r;
	r = memxd_etcd_parse_keepalive(e->buf, e->len, ttl, why, sizeof(why));
	return parsed(e, "lease/keepalive", r, why);
}

int memxd_etcd_revoke(struct memxd_etcd *e, int64_t id)
{
	char body[64], why[MEMXD_ETCD_WHY_LEN];
	int r;

	snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", id);
	r = post(e, "lease/revoke", body);
	if (r)
		return r;
	r = memxd_etcd_parse_ack(e->buf, e->len, why, sizeof(why));
	return parsed(e, "lease/revoke", r, why);
}

int memxd_etcd_put(struct memxd_etcd *e, const char *key, const char *value, int64_t lease)
{
	char *k = b64(key), *v = b64(value), *body = NULL, why[MEMXD_ETCD_WHY_LEN];
	int r = -ENOMEM;

	if (k && v && asprintf(&body, "{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" PRId64
			       "\"}", k, v, lease) < 0)
		body = NULL;
	if (body) {
		r = post(e, "kv/put", body);
		if (!r)
			r = parsed(e, "kv/put", memxd_etcd_parse_ack(e->buf, e->len, why,
								     sizeof(why)), why);
	}
	free(body);
	free(k);
	free(v);
	return r;
}

int memxd_etcd_range_prefix(struct memxd_etcd *e, const char *prefix, memxd_etcd_kv_fn fn,
			    void *ctx)
{
	char end[MEMXD_ETCD_PREFIX_MAX], *k = NULL, *ke = NULL, *body = NULL;
	char why[MEMXD_ETCD_WHY_LEN];
	size_t n = strlen(prefix);
	int r = -ENOMEM;

	/* Every key that starts with prefix: [prefix, prefix with its last byte + 1). */
	if (!n || n >= sizeof(end) || (unsigned char)prefix[n - 1] == 0xff)
		return -EINVAL;
	memcpy(end, prefix, n + 1);
	end[n - 1]++;
	k = b64(prefix);
	ke = b64(end);
	if (k && ke && asprintf(&body, "{\"key\":\"%s\",\"range_end\":\"%s\"}", k, ke) < 0)
		body = NULL;
	if (body) {
		r = post(e, "kv/range", body);
		if (!r) {
			why[0] = '\0';
			r = memxd_etcd_parse_range(e->buf, e->len, fn, ctx, why, sizeof(why));
			if (r && why[0])
				parsed(e, "kv/range", r, why);
		}
	}
	free(body);
	free(k);
	free(ke);
	return r;
}
