// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl donor drain ADDR --wait: follows a drain the clients run. Each
 * client that said "draining NAME: N slabs to move" is asked for its status
 * (JSON) every poll: the donor's entry there gives its state and the slabs it
 * still holds, the volume gives the slab size and the bytes copied so far.
 * The drain is done when the donor left every volume (state "left", or gone
 * from the list), failed when it died or failed first. The rate is the bytes
 * the clients copied since the wait began over the time it took (copying for
 * re-replication counts too); ETA is what is left at that rate.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memxctl.h"

/* What one client says of its drain now. */
struct drain_seen {
	const char *state;	/* the donor's state there; "gone" when not listed */
	uint64_t slabs;		/* replicas still on the donor */
	uint64_t slab_bytes;
	uint64_t copied_bytes;	/* the volume's background copying, all of it */
};

static uint64_t u64_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* Asks one client. Returns 0, or -errno with why set. */
static int look(const struct memxctl_drain *dr, struct drain_seen *seen, char *state,
		size_t state_len, char *why, size_t why_len)
{
	struct memxctl_answer ans;
	struct json_object *doc, *donors, *vols, *vol, *v;
	int r = memxctl_ask(dr->socket, "status --json\n", &ans);

	if (r) {
		snprintf(why, why_len, "%s: no status: %s", dr->socket, strerror(-r));
		free(ans.buf);
		return r;
	}
	doc = json_tokener_parse(ans.buf ? ans.buf : "");
	free(ans.buf);
	if (!doc || !json_object_object_get_ex(doc, "donors", &donors) ||
	    !json_object_object_get_ex(doc, "volumes", &vols)) {
		snprintf(why, why_len, "%s: status is not a client's JSON document", dr->socket);
		json_object_put(doc);
		return -EBADMSG;
	}
	vol = json_object_array_get_idx(vols, 0);
	seen->slab_bytes = u64_member(vol, "slab_size");
	seen->copied_bytes = u64_member(vol, "copied_bytes");
	seen->slabs = 0;
	snprintf(state, state_len, "gone");
	for (size_t i = 0; i < json_object_array_length(donors); i++) {
		struct json_object *d = json_object_array_get_idx(donors, i);

		if (!json_object_object_get_ex(d, "address", &v) ||
		    strcmp(json_object_get_string(v), dr->donor))
			continue;
		seen->slabs = u64_member(d, "slabs");
		if (json_object_object_get_ex(d, "state", &v))
			snprintf(state, state_len, "%s", json_object_get_string(v));
	}
	seen->state = state;
	json_object_put(doc);
	return 0;
}

/* A byte count for people: "512 KiB", "3.5 GiB". */
static const char *human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u && v < 10)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int memxctl_drain_wait(const struct memxctl_drain *drains, size_t n, FILE *out, bool tty,
		       unsigned int poll_ms, unsigned int line_ms)
{
	uint64_t start = now_ms(), last_line = 0, copied_start = 0, total = 0;
	const char *donor = n ? drains[0].donor : "";
	bool first = true;
	char why[700];

	for (size_t i = 0; i < n; i++)
		total += drains[i].slabs;
	for (;;) {
		uint64_t left = 0, bytes_left = 0, copied = 0, elapsed, rate;
		char state[32], b1[32], b2[32];
		bool done = true;

		for (size_t i = 0; i < n; i++) {
			struct drain_seen seen;

			if (look(&drains[i], &seen, state, sizeof(state), why, sizeof(why))) {
				fprintf(out, "%s", tty ? "\n" : "");
				fprintf(stderr, "memxctl: %s\n", why);
				return 1;
			}
			if (strcmp(seen.state, "draining") && strcmp(seen.state, "left") &&
			    strcmp(seen.state, "gone")) {
				fprintf(out, "%s", tty ? "\n" : "");
				fprintf(stderr, "memxctl: donor %s is %s in %s before its drain ended: "
					"%" PRIu64 " slab(s) still had a replica there (the client "
					"restores them from other replicas)\n", drains[i].donor,
					seen.state, drains[i].socket, seen.slabs);
				return 1;
			}
			done &= strcmp(seen.state, "draining") != 0;
			left += seen.slabs;
			bytes_left += seen.slabs * seen.slab_bytes;
			copied += seen.copied_bytes;
		}
		if (first)
			copied_start = copied;
		first = false;
		elapsed = now_ms() - start;
		rate = elapsed && copied > copied_start ? (copied - copied_start) * 1000 / elapsed : 0;
		if (done) {
			fprintf(out, "%sdrained %s: %" PRIu64 " slab(s) moved in %.1f s\n",
				tty ? "\r\033[K" : "", donor, total, (double)elapsed / 1000);
			fflush(out);
			return 0;
		}
		if (tty || now_ms() - last_line >= line_ms || !last_line) {
			fprintf(out, "%sdraining %s: %" PRIu64 " of %" PRIu64 " slab(s) moved, %s left",
				tty ? "\r\033[K" : "", donor, total > left ? total - left : 0, total,
				human(bytes_left, b1, sizeof(b1)));
			if (rate)
				fprintf(out, ", %s/s, ETA %" PRIu64 " s", human(rate, b2, sizeof(b2)),
					(bytes_left + rate - 1) / rate);
			fprintf(out, "%s", tty ? "" : "\n");
			fflush(out);
			last_line = now_ms();
		}
		sleep_ms(poll_ms);
	}
}
