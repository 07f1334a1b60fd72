// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: `memxd donor`, lending memory to clients.
 *
 * The donor listens with rdma_cm and lends (lend.c) slabs of its memory to
 * the client engines that connect; it asks for memory back when short of it
 * or leaving (pressure.c). With --join it first offers itself to a running
 * client, which then connects to it as to any donor.
 *
 * Everything runs in one thread, sleeping in poll() on the listener, each
 * volume's CQ channel, each connection's CM channel, the control socket and
 * a signalfd. A first SIGINT/SIGTERM starts leaving (clients move our slabs
 * away); a second, or nothing lent, exits at once.
 *
 * Under systemd (Type=notify) it says READY=1 with the "listening" line and
 * STOPPING=1 on that first signal; sd_notify() does nothing without
 * $NOTIFY_SOCKET.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/ctl.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proc.h"
#include "donor/donor.h"
#include "memx_config.h"

/* --join: offer ourselves to a running client; it then connects to us as to any donor. */
static int join_client(struct donor *dn)
{
	struct memxd_hello_info hello = { .role = MEMX_ROLE_JOIN, .join_port = dn->port };
	uint8_t pdata[sizeof(struct memx_hello)];
	struct mxv_connect_param p = {
		.dst_ip = dn->join_host, .port = dn->join_port, .src_ip = dn->host,
		.pdata = pdata, .pdata_len = sizeof(pdata), .timeout_ms = MEMXD_CM_TIMEOUT_MS,
	};
	struct mxv_ctx *ctx = NULL;
	struct mxv_cq *cq = NULL;
	struct mxv_conn *conn = NULL;
	struct mxv_qp_attr attr = { .max_send_wr = 1 };
	struct mxv_cm_result res = { 0 };
	char why[MEMX_REJECT_REASON_LEN + 32];
	int r;

	hello.key_id = dn->trust.kr.key[0].id;
	memxd_hello_encode(pdata, sizeof(pdata), &hello);
	memxd_auth_join_token(&dn->trust.kr.key[0], pdata, ((struct memx_hello *)pdata)->token);
	r = mxv_ctx_open(dn->host, &ctx);
	if (!r)
		r = mxv_cq_create(ctx, 4, &cq);
	if (!r) {
		attr.send_cq = attr.recv_cq = cq;
		r = mxv_connect(&p, &attr, &conn, &res);
	}
	if (r == -ECONNREFUSED && res.pdata_len &&
	    !memxd_reject_explain(res.pdata, res.pdata_len, why, sizeof(why))) {
		memxd_err("client %s:%u refused our join: %s", dn->join_host, dn->join_port, why);
	} else if (r) {
		memxd_err("cannot join client %s:%u: %s (%s)", dn->join_host, dn->join_port,
			 strerror(-r), res.reason);
	} else {
		memxd_info("joined client %s:%u: it will connect to us", dn->join_host,
			  dn->join_port);
	}
	mxv_conn_destroy(conn);
	mxv_cq_destroy(cq);
	mxv_ctx_close(ctx);
	return r;
}

/*
 * --directory: list ourselves in etcd, from the directory's own thread (it
 * never holds up this one). A directory that cannot be reached now is only
 * logged: the thread keeps trying, and clients given our address still work.
 */
static void directory_start(struct donor *dn)
{
	struct memxd_dir_donor self = { .port = dn->port, .capacity = dn->memory_total,
					.free = dn->memory_total - dn->memory_granted };
	int r;

	if (!dn->dir_url.host[0])
		return;
	snprintf(self.host, sizeof(self.host), "%s", dn->host);
	snprintf(self.zone, sizeof(self.zone), "%s", dn->zone);
	for (int i = 0; i < 16; i++)
		snprintf(self.id + 2 * i, 3, "%02x", dn->donor_id[i]);
	r = memxd_dir_register_start(&dn->dir_url, &self, MEMXD_DIR_TTL_S, &dn->dir);
	if (r)
		memxd_log_errno(r, "directory etcd://%s:%u%s: not listed", dn->dir_url.host,
				dn->dir_url.port, dn->dir_url.prefix);
}

/* The directory's part of status (--directory). */
static struct json_object *directory_json(struct donor *dn, bool *ok)
{
	struct memxd_dir_status st;
	struct json_object *o;

	memxd_dir_status(dn->dir, &st);
	o = json_object_new_object();
	memxd_json_set(o, "url", json_object_new_string(st.url), ok);
	memxd_json_set(o, "state", json_object_new_string(st.state), ok);
	memxd_json_set(o, "lease", json_object_new_int64(st.lease), ok);
	memxd_json_set(o, "errors", json_object_new_uint64(st.errors), ok);
	memxd_json_set(o, "last_error", json_object_new_string(st.last_error), ok);
	return o;
}

/* status --json: the donor's counters (json-c), or NULL when memory ran out. */
static struct json_object *donor_status_json(struct donor *dn, unsigned int vols,
					     unsigned int conns, unsigned int leased)
{
	struct json_object *doc = json_object_new_object();
	char listen[MEMXD_HOST_MAX + 8];
	bool ok = true;

	snprintf(listen, sizeof(listen), "%s:%u", dn->host, dn->port);
	memxd_json_set(doc, "role", json_object_new_string("donor"), &ok);
	memxd_json_set(doc, "version", json_object_new_string(MEMX_VERSION), &ok);
	memxd_json_set(doc, "listen", json_object_new_string(listen), &ok);
	memxd_json_set(doc, "memory_total", json_object_new_uint64(dn->memory_total), &ok);
	memxd_json_set(doc, "memory_free",
		       json_object_new_uint64(dn->memory_total - dn->memory_granted), &ok);
	memxd_json_set(doc, "clients", json_object_new_uint64(vols), &ok);
	memxd_json_set(doc, "connections", json_object_new_uint64(conns), &ok);
	memxd_json_set(doc, "grants", json_object_new_uint64(dn->grants), &ok);
	memxd_json_set(doc, "frees", json_object_new_uint64(dn->frees), &ok);
	memxd_json_set(doc, "rejects", json_object_new_uint64(dn->rejects), &ok);
	memxd_json_set(doc, "evictions", json_object_new_uint64(dn->evictions), &ok);
	memxd_json_set(doc, "leaving", json_object_new_boolean(dn->leaving), &ok);
	memxd_json_set(doc, "auth_failures", json_object_new_uint64(dn->auth_failures), &ok);
	memxd_json_set(doc, "insecure", json_object_new_boolean(dn->trust.insecure), &ok);
	memxd_json_set(doc, "keys", json_object_new_uint64(dn->trust.insecure ? 0 : dn->trust.kr.n),
		       &ok);
	memxd_json_set(doc, "volumes_leased", json_object_new_uint64(leased), &ok);
	if (dn->dir)	/* only with --directory */
		memxd_json_set(doc, "directory", directory_json(dn, &ok), &ok);
	if (!ok) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

static int donor_status(void *arg, const char *request, char *out, size_t len)
{
	struct donor *dn = arg;
	struct memxd_ctl_req req;
	unsigned int vols = 0, conns = 0, leased = 0;

	/*
	 * A donor knows "status [--json] [--slabs]" and "reload", exactly. It has
	 * no slab map: --slabs (memxctl asks every memxd for it) lists nothing.
	 */
	memxd_ctl_parse(request, &req);
	if (req.kind == MEMXD_CTL_RELOAD) {
		if (memxd_trust_reload(&dn->trust))
			return memxd_ctl_reply(out, len, "error: the key file was refused (the "
					       "log says why); the old keys stay\n");
		return memxd_ctl_reply(out, len, "reloaded: %u key(s) held\n", dn->trust.kr.n);
	}
	if (req.kind != MEMXD_CTL_STATUS || !req.strict)
		return memxd_ctl_reply(out, len, "error: a donor answers 'status [--json] "
				       "[--slabs]' and 'reload'\n");
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++) {
		vols += dn->vol[i].used;
		leased += dn->vol[i].used && dn->vol[i].lease_end_ns;	/* engine gone, kept */
	}
	for (int i = 0; i < DONOR_MAX_CONNS; i++)
		conns += dn->conn[i].used;
	if (req.json)
		return memxd_ctl_reply_json(out, len, donor_status_json(dn, vols, conns, leased));
	if (dn->dir) {
		struct memxd_dir_status st;

		memxd_dir_status(dn->dir, &st);
		return memxd_ctl_reply(out, len, "donor %s:%u: lends %" PRIu64 " MiB, %" PRIu64
				       " MiB free, %u client volume(s) (%u kept for an engine that "
				       "is gone), %u connection(s), %" PRIu64 " grants, %" PRIu64
				       " frees, %" PRIu64 " rejected connects\n"
				       "  directory %s: %s%s%s\n", dn->host, dn->port,
				       dn->memory_total >> 20,
				       (dn->memory_total - dn->memory_granted) >> 20, vols, leased,
				       conns, dn->grants, dn->frees, dn->rejects, st.url, st.state,
				       st.last_error[0] ? ", last error: " : "", st.last_error);
	}
	return memxd_ctl_reply(out, len, "donor %s:%u: lends %" PRIu64 " MiB, %" PRIu64 " MiB "
			       "free, %u client volume(s) (%u kept for an engine that is gone), "
			       "%u connection(s), %" PRIu64 " grants, %" PRIu64 " frees, %" PRIu64
			       " rejected connects\n", dn->host, dn->port, dn->memory_total >> 20,
			       (dn->memory_total - dn->memory_granted) >> 20, vols, leased, conns,
			       dn->grants, dn->frees, dn->rejects);
}

/* What each entry of the poll() set is: the fixed slots, then volumes and connections. */
enum poll_kind { POLL_LISTENER, POLL_SIGNAL, POLL_CTL, POLL_CONTROL_CQ, POLL_CONN };

struct poll_set {
	struct pollfd pfd[4 + DONOR_MAX_CONNS];
	struct {
		enum poll_kind kind;
		int idx;
	} src[4 + DONOR_MAX_CONNS];
	unsigned int n;
};

static void poll_add(struct poll_set *ps, int fd, enum poll_kind kind, int idx)
{
	ps->pfd[ps->n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	ps->src[ps->n].kind = kind;
	ps->src[ps->n].idx = idx;
	ps->n++;
}

static void poll_build(struct donor *dn, int sfd, struct memxd_ctl *ctl, struct poll_set *ps)
{
	ps->n = 0;
	poll_add(ps, mxv_listener_fd(dn->listener), POLL_LISTENER, 0);
	poll_add(ps, sfd, POLL_SIGNAL, 0);
	poll_add(ps, ctl ? memxd_ctl_fd(ctl) : -1, POLL_CTL, 0);
	poll_add(ps, mxv_cq_fd(dn->ctl_cq), POLL_CONTROL_CQ, 0);
	for (int i = 0; i < DONOR_MAX_CONNS; i++)
		if (dn->conn[i].used && dn->conn[i].conn)
			poll_add(ps, mxv_conn_fd(dn->conn[i].conn), POLL_CONN, i);
}

/* A signal: leave (ask clients to move our slabs), or go now. Returns true to exit. */
static bool on_signal(struct donor *dn, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	if (si.ssi_signo == SIGHUP) {
		memxd_trust_reload(&dn->trust);
		return false;
	}
	if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM) {
		memxd_warn("%s ignored (SIGINT or SIGTERM: leave)", strsignal((int)si.ssi_signo));
		return false;
	}
	/* Nothing lent, or a second signal: go now. */
	if (!dn->memory_granted || dn->leaving) {
		memxd_info("%s: leaving; %" PRIu64 " MiB lent are given up",
			  strsignal((int)si.ssi_signo), dn->memory_granted >> 20);
		sd_notify(0, "STOPPING=1\nSTATUS=stopping");
		return true;
	}
	sd_notifyf(0, "STOPPING=1\nSTATUS=leaving: clients move %" PRIu64 " MiB away",
		   dn->memory_granted >> 20);
	memxd_dir_withdraw(dn->dir);	/* clients must not pick a donor that leaves */
	pressure_start_leaving(dn);
	return false;
}

/* Serves until asked to stop. Returns the exit status: 1 if memory was still lent. */
static int donor_loop(struct donor *dn, int sfd, struct memxd_ctl *ctl)
{
	struct poll_set ps;
	uint64_t shown_mib = UINT64_MAX;	/* of the leaving STATUS= line */
	int timeout;

	for (;;) {
		/* While leaving, systemctl status follows the memory still lent. */
		if (dn->leaving && dn->memory_granted >> 20 != shown_mib) {
			shown_mib = dn->memory_granted >> 20;
			sd_notifyf(0, "STATUS=leaving: clients move %" PRIu64 " MiB away", shown_mib);
		}
		poll_build(dn, sfd, ctl, &ps);
		timeout = lend_expire_handshakes(dn);
		{
			int t = lend_expire_leases(dn);

			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		if ((dn->leaving || dn->low_watermark) && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		if (poll(ps.pfd, ps.n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			memxd_log_errno(-errno, "poll");
			return 0;
		}
		if (dn->leaving && pressure_leave_done(dn))
			return dn->memory_granted ? 1 : 0;
		pressure_check(dn);
		memxd_dir_set_free(dn->dir, dn->memory_total - dn->memory_granted);
		for (unsigned int i = 0; i < ps.n; i++) {
			struct mxv_req *req;
			int idx = ps.src[i].idx;

			if (!ps.pfd[i].revents)
				continue;
			switch (ps.src[i].kind) {
			case POLL_LISTENER:
				while (mxv_listener_get_request(dn->listener, 0, &req) == 0)
					lend_accept(dn, req);
				break;
			case POLL_SIGNAL:
				if (on_signal(dn, sfd))
					return dn->memory_granted ? 1 : 0;
				break;
			case POLL_CTL:
				memxd_ctl_serve(ctl, donor_status, dn);
				break;
			case POLL_CONN:
				lend_conn_event(dn, &dn->conn[idx]);
				break;
			case POLL_CONTROL_CQ:
				lend_reap_control(dn);
				break;
			}
		}
	}
}

int memxd_donor_main(int argc, char **argv)
{
	struct donor *dn;
	struct memxd_ctl *ctl = NULL;
	int sfd, r, rc;

	memxd_log_role = "memxd donor";
	dn = calloc(1, sizeof(*dn));
	if (!dn)
		return 1;
	if (memxd_donor_parse(argc, argv, dn))
		return 2;
	dn->slab = calloc(DONOR_MAX_SLABS, sizeof(*dn->slab));
	if (!dn->slab || getrandom(dn->donor_id, 16, 0) != 16)
		return 1;
	if (memxd_trust_load(&dn->trust, "memxd donor"))
		return 2;
	sfd = memxd_process_start();
	if (sfd < 0)
		return 1;
	r = lend_start(dn);
	if (r) {
		memxd_log_errno(r, "RDMA context on %s", dn->host);
		return 1;
	}

	r = mxv_listen(dn->host, dn->port, 64, &dn->listener);
	if (r) {
		memxd_log_errno(r, "listen on %s:%u", dn->host, dn->port);
		return 1;
	}
	r = memxd_ctl_open(dn->ctl_path, &ctl);
	if (r)
		memxd_log_errno(r, "control socket %s", dn->ctl_path);
	memxd_info("listening on %s:%u, lending %" PRIu64 " MiB", dn->host, dn->port,
		  dn->memory_total >> 20);
	printf("listening %s:%u\n", dn->host, dn->port);
	fflush(stdout);
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u, lending %" PRIu64 " MiB", dn->host,
		   dn->port, dn->memory_total >> 20);
	directory_start(dn);
	if (dn->join_host[0])
		join_client(dn);

	rc = donor_loop(dn, sfd, ctl);
	memxd_dir_stop(dn->dir);	/* revokes our lease: unlisted at once */
	for (int i = 0; i < DONOR_MAX_CONNS; i++)
		if (dn->conn[i].used)
			lend_close_conn(dn, &dn->conn[i], "donor stopping");
	memxd_ctl_close(ctl);
	lend_stop(dn);
	memxd_keyring_wipe(&dn->trust.kr);
	mxv_listener_destroy(dn->listener);
	free(dn->slab);
	free(dn);
	close(sfd);
	return rc;
}
