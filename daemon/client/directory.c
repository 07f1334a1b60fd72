// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: donors found through the directory (--directory).
 *
 * common/directory.c's thread reads etcd; here the control thread takes
 * each new listing and joins, through memxd_add_donor() as a donor that
 * knocks (join.c) or `memxctl donor add` does, every listed donor that is
 * not ours yet. Such a donor authenticates as any other: the directory is
 * only a hint of where donors are, never a reason to trust one.
 *
 * A listed donor is acted on once per registration (its address and the
 * random id it listed): a donor our heartbeats declared dead is not joined
 * again while its old entry lingers for the rest of its lease, and one that
 * restarts (a new id) is joined again. DNS SRV records (srv://) carry no id:
 * a listed donor we lost is knocked on again, less and less often. A join that fails is retried with a
 * growing wait (5 s to 5 min), since each try holds the control thread for
 * up to a connection timeout. A donor that is no longer listed is not
 * dropped for that: our heartbeats, not etcd, decide when a donor is gone.
 *
 * A new volume with fewer --donors than --replicas (none at all, often)
 * waits at start, for up to --directory-wait, until the listed donors that
 * joined make up its replica count (memxd_directory_wait); the capacity
 * check then counts them as it counts static ones.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "common/log.h"

#define DIR_RETRY_MIN_S		5
#define DIR_RETRY_MAX_S		300

int memxd_directory_start(struct memxd_client *c)
{
	int r;

	char url[sizeof(((struct memxd_dir_status *)0)->url)];

	if (!memxd_client_has_directory(&c->opt) || c->dir)
		return 0;
	c->dir_listed = calloc(MEMXD_DIR_MAX_LISTED, sizeof(*c->dir_listed));
	c->dir_seen = calloc(MEMXD_DIR_MAX_LISTED, sizeof(*c->dir_seen));
	c->dir_seen_next = calloc(MEMXD_DIR_MAX_LISTED, sizeof(*c->dir_seen_next));
	if (!c->dir_listed || !c->dir_seen || !c->dir_seen_next)
		return memxd_log_errno(-ENOMEM, "directory tables");
	if (c->opt.dir_srv.name[0]) {
		memxd_srv_format_url(&c->opt.dir_srv, url, sizeof(url));
		r = memxd_dir_watch_srv_start(&c->opt.dir_srv, 0, &c->dir);
	} else {
		snprintf(url, sizeof(url), "etcd://%s:%u%s", c->opt.dir_url.host,
			 c->opt.dir_url.port, c->opt.dir_url.prefix);
		r = memxd_dir_watch_start(&c->opt.dir_url, MEMXD_DIR_POLL_MS, &c->dir);
	}
	if (r)
		return memxd_log_errno(r, "directory %s", url);
	memxd_info("volume %s: joining the donors listed in %s", c->opt.name, url);
	return 0;
}

static struct memxd_dir_seen *seen_find(struct memxd_client *c, const struct memxd_dir_donor *d)
{
	for (unsigned int i = 0; i < c->nr_dir_seen; i++) {
		struct memxd_dir_seen *s = &c->dir_seen[i];

		if (s->d.port == d->port && !strcmp(s->d.host, d->host) && !strcmp(s->d.id, d->id))
			return s;
	}
	return NULL;
}

/* Whether a usable donor of ours is at host:port already (a --donor, or one that joined). */
static bool ours(struct memxd_client *c, const struct memxd_dir_donor *d)
{
	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (c->donor[i].port == d->port && !strcmp(c->donor[i].host, d->host) &&
		    memxd_donor_usable(atomic_load(&c->donor[i].state)))
			return true;
	return false;
}

/* The wait before the next try, after this many failures: 5 s, doubling, up to 5 min. */
static uint64_t retry_wait_s(unsigned int failures)
{
	uint64_t wait_s = (uint64_t)DIR_RETRY_MIN_S << (failures < 7 ? failures : 7);

	return wait_s < DIR_RETRY_MAX_S ? wait_s : DIR_RETRY_MAX_S;
}

static void try_join(struct memxd_client *c, struct memxd_dir_seen *s, uint64_t now)
{
	int r;

	if (ours(c, &s->d)) {
		s->done = true;
		return;
	}
	r = memxd_add_donor(c, s->d.host, s->d.port);
	if (!r || r == -EEXIST) {
		s->done = true;
		if (!r) {
			s->failures = 0;
			c->dir_joins++;
			memxd_info("volume %s: donor %s:%u joined (listed in the directory%s%s)",
				   c->opt.name, s->d.host, s->d.port, s->d.zone[0] ? ", zone " : "",
				   s->d.zone);
		}
		return;
	}
	s->retry_ns = now + retry_wait_s(s->failures) * MEMXD_NS_PER_S;
	/* The first failure of an entry is said; later ones only at debug level. */
	if (!s->failures++)
		memxd_warn("volume %s: donor %s:%u, listed in the directory, did not join: %s "
			   "(trying again, less and less often)", c->opt.name, s->d.host,
			   s->d.port, strerror(-r));
	else
		memxd_dbg(MEMXD_DBG_CTRL, "volume %s: donor %s:%u still does not join: %s",
			  c->opt.name, s->d.host, s->d.port, strerror(-r));
}

void memxd_directory_join(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns();
	struct memxd_dir_seen *tmp;
	int n;

	if (!c->dir)
		return;
	n = memxd_dir_take(c->dir, &c->dir_gen, c->dir_listed, MEMXD_DIR_MAX_LISTED);
	if (n < 0)
		return;
	/* The new listing's entries, with what we knew of each; those gone are forgotten. */
	for (int i = 0; i < n; i++) {
		struct memxd_dir_seen *old = seen_find(c, &c->dir_listed[i]);
		struct memxd_dir_seen *s = &c->dir_seen_next[i];

		if (old)
			*s = *old;
		else
			*s = (struct memxd_dir_seen){ .d = c->dir_listed[i] };
	}
	tmp = c->dir_seen;
	c->dir_seen = c->dir_seen_next;
	c->dir_seen_next = tmp;
	c->nr_dir_seen = (unsigned int)n;
	for (unsigned int i = 0; i < c->nr_dir_seen; i++) {
		struct memxd_dir_seen *s = &c->dir_seen[i];

		/*
		 * An SRV record names no registration (no id): a donor it lists
		 * that we lost (dead, or restarted empty) is knocked on again, after
		 * a wait that grows with each failure.
		 */
		if (s->done && !s->d.id[0] && !ours(c, &s->d)) {
			s->done = false;
			s->retry_ns = now + retry_wait_s(s->failures) * MEMXD_NS_PER_S;
		}
		if (!s->done && now >= s->retry_ns)
			try_join(c, s, now);
	}
}

/* SIGINT or SIGTERM, blocked for the signalfd the control loop has not read yet. */
static bool stop_asked(void)
{
	sigset_t pending;

	return !sigpending(&pending) &&
	       (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}

static unsigned int live_donors(struct memxd_client *c)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		n += atomic_load(&c->donor[i].state) == MEMXD_DONOR_LIVE;
	return n;
}

int memxd_directory_wait(struct memxd_client *c)
{
	uint64_t start = memxd_now_ns(), deadline = start + c->opt.dir_wait_s * MEMXD_NS_PER_S;
	const struct timespec turn = { .tv_nsec = 100 * 1000 * 1000 };
	unsigned int want = c->opt.replicas;
	int r;

	if (live_donors(c) >= want)
		return 0;
	r = memxd_directory_start(c);
	if (r)
		return r;
	memxd_info("volume %s: waiting up to %u s for the directory to list %u donor(s) that "
		   "join (%u so far)", c->opt.name, c->opt.dir_wait_s, want, live_donors(c));
	while (live_donors(c) < want) {
		if (memxd_now_ns() >= deadline)
			return memxd_log_errno(-ETIMEDOUT, "volume %s: after %u s the directory "
					       "listed %u donor(s) and %u joined; --replicas %u "
					       "needs %u (see the warnings above for those that "
					       "did not join)", c->opt.name, c->opt.dir_wait_s,
					       c->nr_dir_seen, live_donors(c), want, want);
		memxd_directory_join(c);
		if (stop_asked())
			return memxd_log_errno(-EINTR, "volume %s: stopped while waiting for "
					       "donors", c->opt.name);
		nanosleep(&turn, NULL);
	}
	memxd_info("volume %s: %u donor(s) after %.1f s", c->opt.name, live_donors(c),
		   (double)(memxd_now_ns() - start) / MEMXD_NS_PER_S);
	return 0;
}

void memxd_directory_stop(struct memxd_client *c)
{
	memxd_dir_stop(c->dir);
	c->dir = NULL;
	free(c->dir_listed);
	free(c->dir_seen);
	free(c->dir_seen_next);
	c->dir_listed = NULL;
	c->dir_seen = c->dir_seen_next = NULL;
}
