// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: the directory's thread, one per daemon that uses it.
 *
 * A donor's thread (register) grants a lease of ttl_s, puts its entry under
 * it, then every third of ttl_s keeps the lease alive and puts the entry
 * again if its free memory changed. A lease etcd no longer knows (-ENOENT:
 * etcd lost it, or we could not reach etcd for longer than ttl_s) is granted
 * anew and the entry put again. Withdrawing (the donor leaves) revokes the
 * lease: the entry is gone at once rather than at the lease's end.
 *
 * A client's thread (watch) reads the prefix every poll_ms and publishes
 * the donors listed, a generation number telling the control thread that a
 * new listing is there (memxd_dir_take).
 *
 * The threads do nothing but this, so an etcd that is slow or gone costs
 * them, never the RDMA, control or queue threads: every call is bounded by
 * MEMXD_DIR_HTTP_TIMEOUT_MS, a failure is logged (the same one once per
 * MEMXD_DIR_LOG_EVERY_S) and retried at the next turn. The thread sleeps on a
 * condition variable (CLOCK_MONOTONIC) so that a stop or a withdraw is
 * handled at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/directory.h"
#include "common/dns_srv.h"
#include "common/log.h"

enum dir_role { DIR_REGISTER, DIR_WATCH };

struct memxd_dir {
	enum dir_role role;
	struct memxd_etcd_url url;
	struct memxd_etcd *etcd;	/* the thread's own; NULL when srv */
	const struct memxd_srv_url *srv;	/* srv://: DNS, not etcd (watch only) */
	struct memxd_srv_url srv_url;
	uint8_t *answer;		/* srv: MEMXD_SRV_ANSWER_MAX bytes */
	unsigned int period_ms;		/* between turns while things work */
	unsigned int ttl_s;
	pthread_t thread;
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t wake;
	bool stop, withdraw;
	struct memxd_dir_donor self;	/* register: our entry (free updated by set_free) */
	uint64_t put_free;		/* register: the free memory etcd has */
	int64_t lease;
	bool registered;
	struct memxd_dir_donor *listed;	/* watch: MEMXD_DIR_MAX_LISTED, the last listing */
	unsigned int nr_listed, skipped;
	uint64_t gen;
	uint64_t errors, last_ok_ns;
	char last_error[MEMXD_ETCD_WHY_LEN];
	char logged[MEMXD_ETCD_WHY_LEN];	/* the error last logged, and when */
	uint64_t logged_ns;
};

static void format_url(const struct memxd_dir *dir, char *out, size_t len)
{
	const struct memxd_etcd_url *u = &dir->url;
	bool v6 = strchr(u->host, ':') != NULL;

	if (dir->srv) {
		memxd_srv_format_url(dir->srv, out, len);
		return;
	}
	snprintf(out, len, "etcd://%s%s%s:%u%s", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
		 u->prefix);
}

/* A call failed: counted, kept for status, logged unless the same was said lately. */
static void failed(struct memxd_dir *dir, const char *what)
{
	uint64_t now = memxd_now_ns();
	char url[sizeof(((struct memxd_dir_status *)0)->url)];
	bool say;

	pthread_mutex_lock(&dir->lock);
	dir->errors++;
	snprintf(dir->last_error, sizeof(dir->last_error), "%s", what);
	say = strcmp(dir->logged, what) ||
	      now - dir->logged_ns >= MEMXD_DIR_LOG_EVERY_S * MEMXD_NS_PER_S;
	if (say) {
		snprintf(dir->logged, sizeof(dir->logged), "%s", what);
		dir->logged_ns = now;
	}
	pthread_mutex_unlock(&dir->lock);
	if (say) {
		format_url(dir, url, sizeof(url));
		memxd_warn("directory %s: %s (retrying; the same error is logged once a minute)",
			   url, what);
	}
}

/* A call worked: an error before it is over (said once). */
static void worked(struct memxd_dir *dir)
{
	char url[sizeof(((struct memxd_dir_status *)0)->url)];
	bool was_failing;

	pthread_mutex_lock(&dir->lock);
	was_failing = dir->last_error[0] != '\0';
	dir->last_error[0] = '\0';
	dir->logged[0] = '\0';
	dir->last_ok_ns = memxd_now_ns();
	pthread_mutex_unlock(&dir->lock);
	if (was_failing) {
		format_url(dir, url, sizeof(url));
		memxd_info("directory %s: reachable again", url);
	}
}

/* Sleeps up to ms, or until stopped or withdrawn. Returns with the lock held. */
static void nap(struct memxd_dir *dir, unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&dir->lock);
	while (!dir->stop && !(dir->role == DIR_REGISTER && dir->withdraw && dir->lease))
		if (pthread_cond_timedwait(&dir->wake, &dir->lock, &ts) == ETIMEDOUT)
			break;
}

/* Puts our entry under the lease. Returns 0 or -errno. */
static int put_entry(struct memxd_dir *dir, int64_t lease)
{
	char key[MEMXD_ETCD_PREFIX_MAX + MEMXD_HOST_MAX + 8], value[512];
	struct memxd_dir_donor self;
	int r;

	pthread_mutex_lock(&dir->lock);
	self = dir->self;
	pthread_mutex_unlock(&dir->lock);
	r = memxd_dir_donor_key(dir->url.prefix, &self, key, sizeof(key));
	if (!r && memxd_dir_donor_encode(&self, value, sizeof(value)) < 0)
		r = -ENOSPC;
	if (!r)
		r = memxd_etcd_put(dir->etcd, key, value, lease);
	if (!r) {
		pthread_mutex_lock(&dir->lock);
		dir->put_free = self.free;
		pthread_mutex_unlock(&dir->lock);
	}
	return r;
}

/* One turn of a donor's thread. Returns ms until the next. */
static unsigned int register_turn(struct memxd_dir *dir)
{
	unsigned int retry_ms = dir->period_ms < 1000 ? dir->period_ms : 1000;
	int64_t lease, ttl;
	bool changed;
	int r;

	pthread_mutex_lock(&dir->lock);
	lease = dir->lease;
	changed = dir->self.free != dir->put_free;
	pthread_mutex_unlock(&dir->lock);
	if (!lease) {
		r = memxd_etcd_grant(dir->etcd, dir->ttl_s, &lease);
		if (r) {
			failed(dir, memxd_etcd_why(dir->etcd));
			return retry_ms;
		}
		pthread_mutex_lock(&dir->lock);
		dir->lease = lease;
		pthread_mutex_unlock(&dir->lock);
		changed = true;
	} else {
		r = memxd_etcd_keepalive(dir->etcd, lease, &ttl);
		if (r == -ENOENT) {
			/* etcd forgot it (restarted, or we were away too long): register anew. */
			failed(dir, "our lease was gone: registering again");
			pthread_mutex_lock(&dir->lock);
			dir->lease = 0;
			dir->registered = false;
			pthread_mutex_unlock(&dir->lock);
			return 0;
		}
		if (r) {
			failed(dir, memxd_etcd_why(dir->etcd));
			return retry_ms;
		}
	}
	if (changed) {
		r = put_entry(dir, lease);
		if (r) {
			failed(dir, memxd_etcd_why(dir->etcd));
			return retry_ms;
		}
	}
	pthread_mutex_lock(&dir->lock);
	dir->registered = true;
	pthread_mutex_unlock(&dir->lock);
	worked(dir);
	return dir->period_ms;
}

/* Withdrawing, or stopping: the lease goes and our entry with it. */
static void register_revoke(struct memxd_dir *dir)
{
	char url[sizeof(((struct memxd_dir_status *)0)->url)];
	int64_t lease;
	int r;

	pthread_mutex_lock(&dir->lock);
	lease = dir->lease;
	dir->lease = 0;
	dir->registered = false;
	pthread_mutex_unlock(&dir->lock);
	if (!lease)
		return;
	format_url(dir, url, sizeof(url));
	r = memxd_etcd_revoke(dir->etcd, lease);
	if (r && r != -ENOENT)
		memxd_warn("directory %s: could not revoke our lease (%s): the entry goes when it "
			   "ends, within %u s", url, memxd_etcd_why(dir->etcd), dir->ttl_s);
	else
		memxd_info("directory %s: no longer listed", url);
}

struct listing {
	struct memxd_dir *dir;
	struct memxd_dir_donor *out;
	unsigned int n, skipped;
	char why[MEMXD_ETCD_WHY_LEN];
};

static int on_listed(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
		     size_t value_len)
{
	struct listing *l = ctx;
	char why[MEMXD_ETCD_WHY_LEN];

	(void)key;
	(void)key_len;
	if (l->n == MEMXD_DIR_MAX_LISTED) {
		l->skipped++;
		return 0;
	}
	if (memxd_dir_donor_decode(value, value_len, &l->out[l->n], why, sizeof(why))) {
		/* Not a donor of ours (or a broken one): skipped, the first one said. */
		if (!l->skipped++)
			snprintf(l->why, sizeof(l->why), "an entry was skipped: %.100s", why);
		return 0;
	}
	l->n++;
	return 0;
}

/* Publishes a listing for the control thread (memxd_dir_take). */
static void publish(struct memxd_dir *dir, const struct memxd_dir_donor *scratch, unsigned int n,
		    unsigned int skipped)
{
	pthread_mutex_lock(&dir->lock);
	memcpy(dir->listed, scratch, n * sizeof(*scratch));
	dir->nr_listed = n;
	dir->skipped = skipped;
	dir->gen++;
	pthread_mutex_unlock(&dir->lock);
}

/* One turn of a client's thread on DNS: no such name or no records is an empty listing. */
static void srv_turn(struct memxd_dir *dir, struct memxd_dir_donor *scratch)
{
	char why[MEMXD_ETCD_WHY_LEN] = "";
	unsigned int skipped = 0;
	int n;

	n = memxd_srv_query(dir->srv, MEMXD_DIR_HTTP_TIMEOUT_MS, dir->answer,
			    MEMXD_SRV_ANSWER_MAX, why, sizeof(why));
	if (n >= 0)
		n = memxd_srv_decode(dir->answer, (size_t)n, scratch, MEMXD_DIR_MAX_LISTED,
				     &skipped, why, sizeof(why));
	if (n == -ENOENT) {
		publish(dir, scratch, 0, 0);
		failed(dir, why);
		return;
	}
	if (n < 0) {
		failed(dir, why);
		return;
	}
	publish(dir, scratch, (unsigned int)n, skipped);
	if (skipped)
		failed(dir, "SRV records whose target is not a host name (or beyond the most we "
		       "take) were skipped");
	else
		worked(dir);
}

/* One turn of a client's thread. */
static void watch_turn(struct memxd_dir *dir, struct memxd_dir_donor *scratch)
{
	struct listing l = { .dir = dir, .out = scratch };
	int r;

	if (dir->srv) {
		srv_turn(dir, scratch);
		return;
	}

	r = memxd_etcd_range_prefix(dir->etcd, dir->url.prefix, on_listed, &l);
	if (r) {
		failed(dir, memxd_etcd_why(dir->etcd)[0] ? memxd_etcd_why(dir->etcd) :
		       "kv/range failed");
		return;
	}
	publish(dir, scratch, l.n, l.skipped);
	if (l.skipped)
		failed(dir, l.why[0] ? l.why : "entries beyond the most we take were skipped");
	else
		worked(dir);
}

static void *dir_thread(void *arg)
{
	struct memxd_dir *dir = arg;
	struct memxd_dir_donor *scratch = NULL;
	unsigned int ms;

	pthread_setname_np(pthread_self(), "memxd-dir");
	if (dir->role == DIR_WATCH) {
		scratch = calloc(MEMXD_DIR_MAX_LISTED, sizeof(*scratch));
		if (!scratch) {
			failed(dir, "out of memory");
			return NULL;
		}
	}
	for (;;) {
		bool stop, withdraw;

		pthread_mutex_lock(&dir->lock);
		stop = dir->stop;
		withdraw = dir->withdraw;
		pthread_mutex_unlock(&dir->lock);
		if (dir->role == DIR_REGISTER && (stop || withdraw))
			register_revoke(dir);
		if (stop)
			break;
		ms = dir->period_ms;
		if (dir->role == DIR_WATCH)
			watch_turn(dir, scratch);
		else if (!withdraw)
			ms = register_turn(dir);
		nap(dir, ms);
		pthread_mutex_unlock(&dir->lock);
	}
	free(scratch);
	return NULL;
}

/*
 * The thread's stack: enough for libcurl and json-c (depth-limited), and
 * small, since a client engine locks all its memory (mlockall).
 */
#define DIR_THREAD_STACK	(512 * 1024)

static int dir_start(struct memxd_dir *dir)
{
	pthread_condattr_t ca;
	pthread_attr_t ta;
	int r;

	r = dir->srv ? 0 : memxd_etcd_open(&dir->url, MEMXD_DIR_HTTP_TIMEOUT_MS, &dir->etcd);
	if (r)
		return r;
	pthread_mutex_init(&dir->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dir->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setstacksize(&ta, DIR_THREAD_STACK);
	r = -pthread_create(&dir->thread, &ta, dir_thread, dir);
	pthread_attr_destroy(&ta);
	if (r) {
		pthread_cond_destroy(&dir->wake);
		pthread_mutex_destroy(&dir->lock);
		memxd_etcd_close(dir->etcd);
	}
	return r;
}

int memxd_dir_register_start(const struct memxd_etcd_url *u, const struct memxd_dir_donor *self,
			     unsigned int ttl_s, struct memxd_dir **out)
{
	struct memxd_dir *dir;
	int r;

	if (!ttl_s)
		return -EINVAL;
	dir = calloc(1, sizeof(*dir));
	if (!dir)
		return -ENOMEM;
	dir->role = DIR_REGISTER;
	dir->url = *u;
	dir->self = *self;
	dir->ttl_s = ttl_s;
	dir->period_ms = ttl_s * 1000 / 3;
	r = dir_start(dir);
	if (r) {
		free(dir);
		return r;
	}
	*out = dir;
	return 0;
}

static void dir_free(struct memxd_dir *dir)
{
	free(dir->answer);
	free(dir->listed);
	free(dir);
}

/* A client's thread, on etcd (u) or DNS (srv). */
static int watch_start(const struct memxd_etcd_url *u, const struct memxd_srv_url *srv,
		       unsigned int poll_ms, struct memxd_dir **out)
{
	struct memxd_dir *dir;
	int r;

	dir = calloc(1, sizeof(*dir));
	if (!dir)
		return -ENOMEM;
	dir->listed = calloc(MEMXD_DIR_MAX_LISTED, sizeof(*dir->listed));
	if (srv) {
		dir->srv_url = *srv;
		dir->srv = &dir->srv_url;
		dir->answer = malloc(MEMXD_SRV_ANSWER_MAX);
	}
	if (!dir->listed || (srv && !dir->answer)) {
		dir_free(dir);
		return -ENOMEM;
	}
	dir->role = DIR_WATCH;
	if (u)
		dir->url = *u;
	dir->period_ms = poll_ms ? poll_ms : srv ? MEMXD_DIR_SRV_POLL_MS : MEMXD_DIR_POLL_MS;
	r = dir_start(dir);
	if (r) {
		dir_free(dir);
		return r;
	}
	*out = dir;
	return 0;
}

int memxd_dir_watch_start(const struct memxd_etcd_url *u, unsigned int poll_ms,
			  struct memxd_dir **out)
{
	return watch_start(u, NULL, poll_ms, out);
}

int memxd_dir_watch_srv_start(const struct memxd_srv_url *u, unsigned int poll_ms,
			      struct memxd_dir **out)
{
	return watch_start(NULL, u, poll_ms, out);
}

void memxd_dir_set_free(struct memxd_dir *dir, uint64_t free_bytes)
{
	if (!dir)
		return;
	pthread_mutex_lock(&dir->lock);
	dir->self.free = free_bytes <= dir->self.capacity ? free_bytes : dir->self.capacity;
	pthread_mutex_unlock(&dir->lock);
}

void memxd_dir_withdraw(struct memxd_dir *dir)
{
	if (!dir)
		return;
	pthread_mutex_lock(&dir->lock);
	dir->withdraw = true;
	pthread_cond_signal(&dir->wake);
	pthread_mutex_unlock(&dir->lock);
}

int memxd_dir_take(struct memxd_dir *dir, uint64_t *gen, struct memxd_dir_donor *out,
		   unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&dir->lock);
	if (dir->gen == *gen) {
		pthread_mutex_unlock(&dir->lock);
		return -EAGAIN;
	}
	n = dir->nr_listed < max ? dir->nr_listed : max;
	memcpy(out, dir->listed, n * sizeof(*out));
	*gen = dir->gen;
	pthread_mutex_unlock(&dir->lock);
	return (int)n;
}

void memxd_dir_status(struct memxd_dir *dir, struct memxd_dir_status *st)
{
	uint64_t now = memxd_now_ns();

	memset(st, 0, sizeof(*st));
	format_url(dir, st->url, sizeof(st->url));
	pthread_mutex_lock(&dir->lock);
	if (dir->role == DIR_REGISTER)
		st->state = dir->withdraw ? "withdrawn" : dir->registered ? "registered" :
			    "registering";
	else
		st->state = dir->gen ? "listed" : "listing";
	memcpy(st->last_error, dir->last_error, sizeof(st->last_error));
	st->errors = dir->errors;
	st->last_ok_age_ms = dir->last_ok_ns ? (now - dir->last_ok_ns) / MEMXD_NS_PER_MS :
			     UINT64_MAX;
	st->lease = dir->lease;
	st->listed = dir->nr_listed;
	st->skipped = dir->skipped;
	pthread_mutex_unlock(&dir->lock);
}

void memxd_dir_stop(struct memxd_dir *dir)
{
	if (!dir)
		return;
	pthread_mutex_lock(&dir->lock);
	dir->stop = true;
	pthread_cond_signal(&dir->wake);
	pthread_mutex_unlock(&dir->lock);
	pthread_join(dir->thread, NULL);
	pthread_cond_destroy(&dir->wake);
	pthread_mutex_destroy(&dir->lock);
	memxd_etcd_close(dir->etcd);
	dir_free(dir);
}
