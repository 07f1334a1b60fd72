// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: `memxd client`, the engine behind /dev/memxN (or
 * /dev/ublkbN).
 *
 * Start-up, in order: make the process safe to serve swap (mlockall,
 * PR_SET_IO_FLUSHER, oom_score_adj), check the options (opts.c), choose the
 * kernel backend (kbackend.h: memx.ko, or the kernel's ublk), create the
 * volume there, open one kernel queue per engine thread and register its
 * buffers as RDMA memory (queue.c), connect to every donor (donors.c: one
 * control connection and one data QP per queue each), start the queue
 * threads, then start the device and print "ready /dev/...".
 *
 * This thread then becomes the control thread. It sleeps in poll() on:
 *   - the mailbox (mailbox.c): queue threads ask for a slab to be mapped
 *     (first write) or freed (whole-slab DISCARD), or report a donor whose
 *     work request failed; grants.c and donors.c do the work, then the queue
 *     threads are woken to restart what was parked;
 *   - the control CQ: replies and unsolicited messages from donors (donors.c);
 *   - each donor's CM channel: a donor that disconnects is lost (donors.c);
 *   - the listener, with --listen: donors that join;
 *   - the control socket, for memxctl (status.c answers status);
 *   - a signalfd: SIGINT/SIGTERM remove the volume, unless it is open
 *     (mounted, swap), which is refused with a message while serving goes on.
 * Between events it sends heartbeats and does one step of background copying
 * (recovery.c) at a time, and, while no queue thread waits on it, tops up the
 * pools of grants that let first writes map without a round trip (grants.c).
 *
 * Under systemd (Type=notify) it says READY=1 with the "ready" line, STATUS=
 * when the number of usable donors changes, and STOPPING=1 once the volume is
 * removed; sd_notify() does nothing without $NOTIFY_SOCKET.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "client/client.h"
#include "client/handoff.h"
#include "client/state.h"
#include "common/ctl.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proc.h"

/* The local address the kernel would use to reach host:port (no packet is sent). */
static int route_source(const char *host, uint16_t port, char *out, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char portstr[8];
	int fd, r;

	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &ai))
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r = fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) ? -errno : 0;
	freeaddrinfo(ai);
	if (fd >= 0)
		close(fd);
	if (r)
		return r;
	if (getnameinfo((struct sockaddr *)&ss, sl, out, len, NULL, 0, NI_NUMERICHOST))
		return -EINVAL;
	return 0;
}

/*
 * One engine per volume name on this host: a second `memxd client --name N`
 * would make a second device and take over N's control socket. The lock
 * lives as long as the process (the kernel drops it when we die).
 */
/*
 * Whether memx.ko holds the volume @name orphaned (RECOVERING): its engine
 * left, or was deposed for holding requests past --io-deadline while alive.
 */
static bool volume_orphaned(const char *name)
{
	struct memx_dev_info info;
	bool orphaned = false;
	int fd = memxd_kdev_open();

	for (int id = 0; fd >= 0 && id < MEMX_MAX_DEVS && !orphaned; id++)
		orphaned = !memxd_kdev_info(fd, id, &info) && info.state == MEMX_S_RECOVERING &&
			   !strncmp(info.name, name, sizeof(info.name));
	if (fd >= 0)
		close(fd);
	return orphaned;
}

static int lock_volume_name(const char *name, bool *taken_from_deposed)
{
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16];
	long holder;
	int fd;

	memxd_make_run_dir();
	snprintf(path, sizeof(path), "%s/client-%s.lock", MEMXD_RUN_DIR, name);
	fd = memxd_lock_name(path, &holder);
	if (fd == -EBUSY && volume_orphaned(name)) {
		/*
		 * Its engine lives (stopped or hung: it holds the lock) but memx.ko
		 * deposed it. The lock moves to a new file; memx.ko's attach
		 * decides between engines that race for the volume.
		 */
		memxd_warn("volume %s: pid %ld holds its lock but memx.ko deposed it (it "
			   "finished no request within --io-deadline): taking over", name, holder);
		unlink(path);
		fd = memxd_lock_name(path, &holder);
		*taken_from_deposed = fd >= 0;
	}
	if (fd == -EBUSY)
		memxd_err("volume %s is already served by another memxd client on this host "
			  "(pid %ld); choose another --name or stop that one first", name, holder);
	else if (fd < 0)
		memxd_log_errno(fd, "lock %s", path);
	return fd;	/* kept open, and so locked, until we exit */
}

/* Takes every message the queue threads left in the mailbox. */
static void serve_mailbox(struct memxd_client *c)
{
	struct memxd_mail mail;
	bool wake = false;

	memxd_mailbox_ack(&c->mailbox);
	while (memxd_mailbox_take(&c->mailbox, &mail)) {
		memxd_dbg(MEMXD_DBG_CTRL, "mailbox: %s", mail.type == MEMXD_MAIL_MAP_SLAB ? "map slab" :
			 mail.type == MEMXD_MAIL_FREE_SLAB ? "free slab" :
			 mail.type == MEMXD_MAIL_REST_END ? "end the rest" : "donor failed");
		switch (mail.type) {
		case MEMXD_MAIL_MAP_SLAB:
			memxd_map_slab(c, mail.map.slab);
			wake = true;
			break;
		case MEMXD_MAIL_FREE_SLAB:
			memxd_free_discarded(c, &mail);
			wake = true;	/* writes parked on FREEING go on */
			break;
		case MEMXD_MAIL_DONOR_FAILED:
			if (mail.donor_failed.donor < c->nr_donors &&
			    mail.donor_failed.gen == memxd_donor_gen(&c->donor[mail.donor_failed.donor]))
				memxd_donor_lost(c, &c->donor[mail.donor_failed.donor],
						 "I/O error on its queue pair");
			break;
		case MEMXD_MAIL_REST_END:
			memxd_rest_end(c, "a write came");
			wake = true;
			break;
		}
	}
	if (wake)
		memxd_wake_queues(c);
}

/* memxctl requests: status [--json] [--slabs], donor drain ADDR, donor add ADDR. */
/*
 * memxctl volume detach: the volume leaves this host with its data on the
 * donors. Its device goes (refused while open, as SIGTERM is); then the
 * engine leaves without giving the grants back: the donors keep them under
 * the lease it asked for (--recovery-timeout) for `memxd client --attach`,
 * here, on a host that has the state file, or (its state sealed and left on
 * the donors, handoff.c) on any host with the cluster key.
 */
static int client_detach(struct memxd_client *c, char *out, size_t len)
{
	int kept, r;

	if (!c->state_base)
		return memxd_ctl_reply(out, len, "error: volume %s runs with --recovery-timeout 0: "
				       "no lease on the donors, no state to attach from\n",
				       c->opt.name);
	r = c->kb->remove(c, true);
	if (r == -EBUSY)
		return memxd_ctl_reply(out, len, "error: %s is in use (mounted or swap?); not "
				       "detached\n", c->dev_path);
	if (r)
		return memxd_ctl_reply(out, len, "error: remove %s: %s; not detached\n",
				       c->dev_path, strerror(-r));
	c->detached = true;
	kept = memxd_handoff_store(c);
	memxd_info("volume %s: detached (memxctl): %s removed; the donors keep its data for %u s "
		   "for `memxd client --name %s --attach`%s", c->opt.name, c->dev_path,
		   c->opt.recovery_timeout_s, c->opt.name, kept ?
		   " on any host with the cluster key (its sealed state is on the donors)" :
		   " where its state file is");
	return memxd_ctl_reply(out, len, "detached volume %s: %s removed, its data kept on the "
			       "donors for %u s; attach it with memxd client --name %s --attach "
			       "%s%s/client-%s.state is\n", c->opt.name, c->dev_path,
			       c->opt.recovery_timeout_s, c->opt.name, kept ?
			       "on any host with the cluster key (its sealed state is on the "
			       "donors), or where " : "where ", MEMXD_RUN_DIR, c->opt.name);
}

/*
 * A request that changes the volume, asked while the control thread waits
 * out a slow transfer or connects a donor (memxd_serve_aside): it must not
 * run inside that wait (a detach or a drain would act on the slab being
 * copied, a donor add on the slot being filled), so it runs when the wait is
 * over, at most MEMXD_COPY_STUCK_MS later. Status is answered.
 */
static int answer_later(struct memxd_client *c, const char *line, char *out, size_t len)
{
	if (memxd_ctl_reply(out, len, "wait: volume %s: the control thread is %s; '%.60s' runs "
			    "after it\n", c->opt.name, c->aside_why, line))
		return -ENOSPC;
	return MEMXD_CTL_LATER;
}

/*
 * memxctl donor add. Connecting may wait up to MEMXD_CM_TIMEOUT_MS for a peer
 * that does not answer, and a handler cannot let memxctl be served meanwhile
 * (its answer is being made): so the handler queues the add and says so in a
 * "wait:" line, the control loop connects (run_ctl_add; memxctl and first
 * writes are served between the connect's waits), and the next serve of the
 * kept request answers with the result.
 */
static int ctl_donor_add(struct memxd_client *c, const struct memxd_ctl_req *req, char *out,
			 size_t len)
{
	struct memxd_ctl_add *a = &c->ctl_add;

	if (a->state == CTL_ADD_DONE && !strcmp(a->host, req->host) && a->port == req->port) {
		a->state = CTL_ADD_NONE;
		if (a->result)
			return memxd_ctl_reply(out, len, "error: donor %s:%u not added: %s\n",
					       req->host, req->port, strerror(-a->result));
		return memxd_ctl_reply(out, len, "added donor %s:%u\n", req->host, req->port);
	}
	if (a->state != CTL_ADD_QUEUED) {	/* a result nobody came back for is dropped */
		snprintf(a->host, sizeof(a->host), "%s", req->host);
		a->port = req->port;
		a->state = CTL_ADD_QUEUED;
	}
	if (memxd_ctl_reply(out, len, "wait: volume %s: connecting donor %s:%u (up to %u s)\n",
			    c->opt.name, a->host, a->port, MEMXD_CM_TIMEOUT_MS / 1000))
		return -ENOSPC;
	return MEMXD_CTL_LATER;
}

/* The control loop's turn for a queued memxctl donor add. */
static void run_ctl_add(struct memxd_client *c)
{
	struct memxd_ctl_add *a = &c->ctl_add;

	if (a->state != CTL_ADD_QUEUED)
		return;
	a->result = memxd_add_donor(c, a->host, a->port);
	a->state = CTL_ADD_DONE;
}

static int client_ctl(void *arg, const char *line, char *out, size_t len)
{
	struct memxd_client *c = arg;
	struct memxd_ctl_req req;
	struct memxd_donor *d;
	int expect = MEMXD_DONOR_LIVE, r;

	r = memxd_ctl_parse(line, &req);
	if (c->aside && req.kind != MEMXD_CTL_STATUS && req.kind != MEMXD_CTL_RELOAD &&
	    req.kind != MEMXD_CTL_UNKNOWN)
		return answer_later(c, line, out, len);
	switch (req.kind) {
	case MEMXD_CTL_RELOAD:
		if (memxd_trust_reload(&c->opt.trust))
			return memxd_ctl_reply(out, len, "error: the key file was refused (the log "
					       "says why); the old keys stay\n");
		return memxd_ctl_reply(out, len, "reloaded: %u key(s) held\n", c->opt.trust.kr.n);
	case MEMXD_CTL_STATUS:
		return memxd_client_status(c, req.json, req.slabs, out, len);
	case MEMXD_CTL_DONOR_DRAIN:
		d = memxd_donor_by_addr(c, req.arg);
		if (!d)
			return memxd_ctl_reply(out, len, "error: no donor %s in volume %s\n", req.arg,
					 c->opt.name);
		if (!atomic_compare_exchange_strong(&d->state, &expect, MEMXD_DONOR_DRAINING))
			return memxd_ctl_reply(out, len, "error: donor %s is %s, not live\n", d->name,
					 memxd_donor_state_name(expect));
		memxd_info("volume %s: draining donor %s (memxctl): moving its %u slabs", c->opt.name,
			  d->name, d->slabs);
		return memxd_ctl_reply(out, len, "draining %s: %u slabs to move\n", d->name, d->slabs);
	case MEMXD_CTL_DONOR_ADD:
		if (r)
			return memxd_ctl_reply(out, len, "error: '%s' is not ADDR[:PORT]\n", req.arg);
		return ctl_donor_add(c, &req, out, len);
	case MEMXD_CTL_VOLUME_DETACH:
		return client_detach(c, out, len);
	case MEMXD_CTL_VOLUME_FORGET_LOST:
		return memxd_ctl_reply(out, len, "volume %s: %" PRIu64 " lost slab(s) forgotten: "
				       "they read as zeros and take writes again\n", c->opt.name,
				       memxd_forget_lost(c));
	case MEMXD_CTL_VOLUME_REMOVE:
		return memxd_client_ctl_remove(c, req.arg, out, len);
	case MEMXD_CTL_UNKNOWN:
		break;
	}
	return memxd_ctl_reply(out, len, "error: unknown request '%s' (known: status [--json] [--slabs], "
			 "donor drain ADDR, donor add ADDR, volume detach, volume forget-lost, "
			 "volume remove NAME)\n", line);
}

/*
 * While a slow transfer is waited out (recovery.c, donors.c): slabs for first
 * writes, and memxctl (status answered, the rest kept for after the wait).
 */
static void serve_aside(struct memxd_client *c)
{
	serve_mailbox(c);
	if (c->ctl)
		memxd_ctl_serve(c->ctl, client_ctl, c);
}

/* While one control message waits for a slow donor: memxctl (status answered, changes kept). */
static void serve_ctl_aside(struct memxd_client *c)
{
	if (c->ctl)
		memxd_ctl_serve(c->ctl, client_ctl, c);
}

/* The local address we reach the donors from: --bind, or the route to the first. */
static int resolve_bind(struct memxd_client *c)
{
	int r;

	if (c->opt.bind[0])
		return 0;
	r = route_source(c->opt.donor_host[0], c->opt.donor_port[0], c->opt.bind,
			 sizeof(c->opt.bind));
	if (r)
		return memxd_log_errno(r, "no route to donor %s", c->opt.donor_host[0]);
	return 0;
}

/* The RDMA side: a device for the local address, the control CQ, the bounce buffer. */
static int setup_rdma(struct memxd_client *c)
{
	int r;

	r = resolve_bind(c);
	if (r)
		return r;
	r = mxv_ctx_open(c->opt.bind, &c->ctx);
	if (r)
		return memxd_log_errno(r, "no RDMA device serves %s", c->opt.bind);
	/* Each donor's receives and send, and a pipelined copy's pieces (twice: late flushes). */
	r = mxv_cq_create(c->ctx, MEMXD_MAX_DONORS * (MEMXD_CTRL_RECVS + 4) + 2 * MEMXD_COPY_DEPTH,
			  &c->ctrl_cq);
	if (r)
		return memxd_log_errno(r, "control CQ");
	/* Background copies of slabs go through here, MEMXD_COPY_DEPTH chunks in flight. */
	c->bounce = aligned_alloc(4096, MEMXD_BOUNCE_BYTES);
	if (!c->bounce)
		return memxd_log_errno(-ENOMEM, "bounce buffer");
	r = mxv_mr_reg(c->ctx, c->bounce, MEMXD_BOUNCE_BYTES, MXV_ACCESS_LOCAL_WRITE, &c->bounce_mr);
	if (r)
		return memxd_log_errno(r, "register the bounce buffer");
	return 0;
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/*
 * The kernel side: the backend (--kernel-backend), then the volume there,
 * not yet started. With *resume, first the orphaned volume of our name that
 * a dead engine left; if there is none, a new volume after all.
 */
static int setup_volume(struct memxd_client *c, bool *resume)
{
	bool resume_wanted = *resume;
	const char *why;
	int kind, r;

	kind = memxd_kbackend_choose(c->opt.kernel_backend, path_exists(MEMXD_CONTROL_PATH),
				     path_exists(MEMXD_UBLK_CONTROL_PATH), &why);
	c->kb = kind == MEMXD_KBACKEND_UBLK ? &memxd_kbackend_ublk : &memxd_kbackend_memx;
	memxd_info("volume %s: kernel backend %s: %s", c->opt.name, c->kb->name, why);
	r = c->kb->create(c, resume);
	if (!r && resume_wanted && !*resume && c->opt.attach) {
		/* Handed off (memxctl volume detach), maybe on another host: a new device. */
		memxd_info("volume %s: attaching the detached volume as %s", c->opt.name,
			   c->dev_path);
		*resume = true;
		c->resumed = true;
	} else if (!r && resume_wanted && !*resume)
		memxd_state_renew(c);
	return r;
}

/* Live replicas the state's slab map puts on donor slot i. */
static uint64_t slot_replicas(struct memxd_client *c, unsigned int i)
{
	uint64_t n = 0;

	for (uint64_t s = 0; s < c->map.nr_slabs; s++)
		n += memxd_slab_on_donor(&c->map.slabs[s], i);
	return n;
}

/*
 * A donor that died and was added again at the same address (its host
 * rebooted) has a slot for each life. Only the slot holding live replicas
 * (or, when none does, the newest) is connected again: the donor would refuse
 * a second connection of ours anyway, and the replicas of the slot that
 * connected first would be the wrong ones.
 */
static bool slot_superseded(struct memxd_client *c, unsigned int i, const char *host,
			    uint16_t port)
{
	unsigned int n = memxd_state_nr_donors(c);
	uint64_t mine = slot_replicas(c, i);

	for (unsigned int j = 0; j < n; j++) {
		char other[MEMXD_HOST_MAX] = "";
		uint16_t oport = 0;
		uint64_t theirs;

		if (j == i || !memxd_state_donor(c, j, other, &oport) || oport != port ||
		    strcmp(other, host))
			continue;
		theirs = slot_replicas(c, j);
		if (theirs > mine || (theirs == mine && j > i))
			return true;
	}
	return false;
}

/* Engine restart: the dead engine's donors again, in their slots. */
static void restore_donors(struct memxd_client *c)
{
	unsigned int n = memxd_state_nr_donors(c), live = 0;

	for (unsigned int i = 0; i < n; i++) {
		char host[MEMXD_HOST_MAX] = "";
		uint16_t port = 0;

		/* A slot the file does not name stays dead: the numbering is what matters. */
		memxd_state_donor(c, i, host, &port);
		if (host[0] && slot_superseded(c, i, host, port)) {
			memxd_info("volume %s: donor slot %u (%s:%u) is an earlier life of a donor "
				   "added again: it stays dead", c->opt.name, i, host, port);
			host[0] = '\0';
		}
		if (!memxd_restore_donor(c, host, port))
			live++;
	}
	memxd_info("volume %s: %u of the %u donor(s) before us are back", c->opt.name, live, n);
}

/* Whether a donor slot already names host:port (restored, live or not). */
static bool donor_known(struct memxd_client *c, const char *host, uint16_t port)
{
	for (unsigned int i = 0; i < c->nr_donors; i++)
		if (!strcmp(c->donor[i].host, host) && c->donor[i].port == port)
			return true;
	return false;
}

/*
 * --attach: the donors' sealed copy (left at the detach, handoff.c) becomes
 * the state file when there is none here, or when the one here is older (the
 * volume was attached elsewhere since: back and forth between two hosts).
 * Returns 0 when there is a file to take the volume over from, or -errno
 * with why.
 */
static int attach_from_donors(struct memxd_client *c)
{
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16];
	uint64_t epoch = 0;
	int r;

	memxd_state_file_path(c, path, sizeof(path));
	if (!c->opt.nr_donors)
		return 0;	/* memxd_state_open says what is missing */
	if (access(path, F_OK) == 0) {
		/* A file we cannot read an epoch from: memxd_state_open says why. */
		if (memxd_state_file_epoch(c, &epoch) || c->opt.trust.insecure)
			return 0;
		r = resolve_bind(c);
		if (!r)
			r = memxd_handoff_fetch(c, epoch);
		if (r && r != -ENOENT && !(r == -ENOKEY && !c->opt.state_key_id))
			memxd_warn("volume %s: could not ask the donors for a newer state (%s): "
				   "taking it over from %s", c->opt.name, strerror(-r), path);
		return 0;
	}
	r = resolve_bind(c);
	if (!r)
		r = memxd_handoff_fetch(c, 0);
	if (r == -ENOENT && c->opt.trust.insecure)
		return memxd_log_errno(r, "volume %s: --attach, but there is no %s (copy it from "
				       "the host the volume was detached on: with --insecure the "
				       "donors keep no state, that needs a cluster key)",
				       c->opt.name, path);
	if (r == -ENOKEY && !c->opt.state_key_id)
		return memxd_log_errno(-ENOENT, "volume %s: --attach, but there is no %s (copy it "
				       "from the host the volume was detached on; without "
				       "--state-key the donors keep no state)", c->opt.name, path);
	if (r == -ENOENT)
		return memxd_log_errno(r, "volume %s: --attach, but there is no %s and the donors "
				       "had none either (no --donor keeps a sealed state of it "
				       "that opens with our cluster key)", c->opt.name, path);
	return r;
}

static int client_setup(struct memxd_client *c)
{
	bool resume = false;
	int r;

	r = memxd_slabmap_init(&c->map, c->opt.size, c->opt.slab);
	if (r)
		return memxd_log_errno(r, "slab map for %" PRIu64 " bytes", c->opt.size);
	c->fail_gen = calloc(c->map.nr_slabs, sizeof(*c->fail_gen));
	if (!c->fail_gen || memxd_discards_init(&c->discards, c->opt.size, c->map.slab_shift))
		return memxd_log_errno(-ENOMEM, "slab tables");
	r = c->opt.no_checksum ? 0 : memxd_crc_init(&c->crc, c->opt.size);
	if (r)
		return memxd_log_errno(r, "checksum table for %" PRIu64 " MiB (4 bytes per 4 KiB)",
				       c->opt.size >> 20);
	/* Even with --no-same-filled: a resumed volume may hold marks (samefill.h). */
	r = memxd_samefill_init(&c->samefill, c->opt.size);
	if (r)
		return memxd_log_errno(r, "same-filled block table for %" PRIu64 " MiB (8 bytes "
				       "per 4 KiB)", c->opt.size >> 20);
	if (c->opt.recovery_timeout_s && c->opt.attach) {
		r = attach_from_donors(c);
		if (r)
			return r;
	}
	if (c->opt.recovery_timeout_s) {
		r = memxd_state_open(c, &resume);
		if (r)
			return r;
	}
	if (c->opt.attach && !resume) {
		return memxd_log_errno(-ENOENT, "volume %s: --attach, but %s/client-%s.state "
				       "describes no detached volume of this size and slab "
				       "(copy it from the host the volume left)", c->opt.name,
				       MEMXD_RUN_DIR, c->opt.name);
	}
	r = memxd_mailbox_init(&c->mailbox, (uint32_t)(c->map.nr_slabs + 1024));
	if (r)
		return memxd_log_errno(r, "mailbox");
	c->serve_aside = serve_aside;	/* while a slow transfer is waited out */
	c->serve_ctl_aside = serve_ctl_aside;	/* while a control message is */
	/* The volume first: ublk's window keeper is forked there, before any RDMA resource. */
	r = setup_volume(c, &resume);
	if (!r)
		r = setup_rdma(c);
	if (!r && resume)
		memxd_state_next_epoch(c);
	for (unsigned int q = 0; !r && q < c->nr_queues; q++)
		r = memxd_queue_setup(c, &c->queue[q], q);
	if (!r && resume)
		restore_donors(c);
	for (unsigned int i = 0; !r && i < c->opt.nr_donors; i++)
		if (!resume || !donor_known(c, c->opt.donor_host[i], c->opt.donor_port[i]))
			r = memxd_add_donor(c, c->opt.donor_host[i], c->opt.donor_port[i]);
	/* Too few static donors for a new volume: the directory brings the rest. */
	if (!r && !resume && memxd_client_has_directory(&c->opt))
		r = memxd_directory_wait(c);
	/* A new volume must fit its donors; one taken over is held already. */
	if (!r && !resume && c->nr_donors)
		r = memxd_capacity_check(c);
	if (r)
		return r;
	if (resume) {
		memxd_state_resume(c);
		memxd_prune_leftovers(c);
	}
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		r = memxd_queue_start(&c->queue[q]);
		if (r)
			return memxd_log_errno(r, "start queue thread %u", q);
	}
	r = c->kb->start(c);
	if (r)
		return r;
	memxd_state_started(c);
	if (c->opt.listen_host[0]) {
		r = mxv_listen(c->opt.listen_host, c->opt.listen_port, 16, &c->listener);
		if (r)
			return memxd_log_errno(r, "listen for donors on %s:%u", c->opt.listen_host,
					      c->opt.listen_port);
	}
	return memxd_directory_start(c);
}

/*
 * The volume is gone and we stop: donors that would keep our grants for a
 * successor (a lease) get them back now, with one RELEASE each, which also
 * frees what a dead engine before us left half granted there.
 */
static void give_back_grants(struct memxd_client *c)
{
	uint64_t n = 0;
	unsigned int donors = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++) {
		struct memxd_donor *d = &c->donor[i];
		struct memxd_msg_info req = { .type = MEMX_MSG_RELEASE }, reply;

		if (!d->lease_s || !memxd_donor_usable(atomic_load(&d->state)))
			continue;
		if (memxd_donor_call(c, d, &req, &reply) || reply.status) {
			memxd_warn("volume %s: donor %s did not take the volume back; it frees it "
				   "when its lease ends", c->opt.name, d->name);
			continue;
		}
		n += d->slabs;
		donors++;
	}
	if (donors)
		memxd_info("volume %s: gave back %" PRIu64 " grant(s) the donors would have kept for "
			   "a successor (%u donor(s), one release each)", c->opt.name, n, donors);
}

/*
 * Whether the volume ends with us: not when we detached it, nor when --attach
 * found no state of ours to take (the file and the donors' grants stay for
 * the right command).
 */
static bool volume_ends_here(const struct memxd_client *c)
{
	return !c->detached && (c->resumed || !c->opt.attach);
}

static void client_teardown(struct memxd_client *c)
{
	memxd_directory_stop(c);
	atomic_store(&c->stopping, true);
	for (unsigned int q = 0; q < c->nr_queues; q++)
		memxd_queue_stop(&c->queue[q]);
	if (c->kb && c->dev_id >= 0 && !c->removed && !c->detached)
		c->kb->remove(c, true);
	/* Detached too: a lease would keep them for an engine that knows nothing of them. */
	memxd_pool_give_back(c);
	if (volume_ends_here(c))
		give_back_grants(c);	/* detached: the donors keep them, under the lease */
	for (unsigned int i = 0; i < c->nr_donors; i++)
		memxd_donor_teardown(&c->donor[i], c->nr_queues);
	for (unsigned int q = 0; q < c->nr_queues; q++) {
		memxd_queue_teardown(&c->queue[q]);
		mxv_cq_destroy(c->queue[q].cq);
	}
	memxd_joins_teardown(c);
	mxv_listener_destroy(c->listener);
	mxv_cq_destroy(c->ctrl_cq);
	mxv_mr_dereg(c->bounce_mr);
	free(c->bounce);
	mxv_ctx_close(c->ctx);
	if (c->kb)
		c->kb->destroy(c);
	memxd_mailbox_fini(&c->mailbox);
	memxd_rest_teardown(c);
	if (volume_ends_here(c))
		memxd_state_close(c);	/* the volume is gone: nothing to resume */
	free(c->fail_gen);
	memxd_discards_fini(&c->discards);
	memxd_crc_fini(&c->crc);
	memxd_samefill_fini(&c->samefill);
	memxd_copysets_fini(&c->copysets);
	memxd_slabmap_fini(&c->map);
}

/* Handles SIGINT/SIGTERM. Returns true when the volume is gone and we may exit. */
static bool client_try_remove(struct memxd_client *c, int sig)
{
	int r;

	memxd_info("volume %s: %s: removing %s", c->opt.name, strsignal(sig), c->dev_path);
	r = c->kb->remove(c, false);
	if (r == -EBUSY) {
		sd_notifyf(0, "STATUS=%s in use: not removed; unmount or swapoff it, then send "
			   "SIGTERM again", c->dev_path);
		return false;
	}
	sd_notifyf(0, "STOPPING=1\nSTATUS=volume %s: stopping", c->opt.name);
	c->removed = true;
	return true;
}

/* STATUS= for systemd, when the number of usable donors is not *shown (what it last said). */
/*
 * systemd's STATUS= (what `systemctl status memx@NAME` shows): the device, its
 * donors, and what recovery has left to do: slabs short of replicas, slabs to
 * move off draining donors, slabs lost. Rebuilt at most once a second (the
 * backlog walks the slab map), sent only when it changed.
 */
static void notify_status(struct memxd_client *c)
{
	unsigned int usable = 0, draining = 0;
	uint64_t to_move = 0, backlog, lost, now = memxd_now_ns();
	char line[sizeof(c->status_line)];
	size_t n;

	if (now < c->next_status_ns)
		return;
	c->next_status_ns = now + MEMXD_NS_PER_MS * 1000;
	memxd_capacity_watch(c);
	for (unsigned int i = 0; i < c->nr_donors; i++) {
		uint32_t st = atomic_load(&c->donor[i].state);

		usable += memxd_donor_usable(st);
		if (st == MEMXD_DONOR_DRAINING) {
			draining++;
			to_move += c->donor[i].slabs;
		}
	}
	backlog = memxd_backlog(c);
	lost = atomic_load(&c->slabs_lost);
	n = (size_t)snprintf(line, sizeof(line), "STATUS=serving %s, %u donor(s)", c->dev_path,
			     usable);
	if (backlog && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", %" PRIu64 " slab(s) below %u "
				      "replicas", backlog, c->opt.replicas);
	if (draining && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", %u donor(s) draining: %"
				      PRIu64 " slab(s) to move", draining, to_move);
	if (lost && n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, ", %" PRIu64 " slab(s) lost", lost);
	if (!strcmp(line, c->status_line))
		return;
	memcpy(c->status_line, line, sizeof(line));
	sd_notify(0, line);
}

/*
 * Whether the kernel declared the volume dead (memx.ko: no progress within
 * --io-deadline while holding requests; ublk: the device was stopped) and
 * failed its requests, or handed it to another engine (memx.ko deposed us:
 * then we leave at once, kb_memx.c). Nothing of ours can serve it any more.
 */
static bool volume_died(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns();

	/* Once a second is soon enough: the control loop may turn far more often. */
	if (now < c->next_dead_check_ns)
		return false;
	c->next_dead_check_ns = now + MEMXD_NS_PER_MS * 1000;
	return c->kb->dead(c);
}

/*
 * systemd's watchdog (WatchdogSec= in memx@.service): proof that the control
 * loop turns. A control thread that hangs is killed and the engine restarted
 * (it takes its volume over); stuck queue threads memx.ko deposes itself.
 */
static void watchdog_ping(struct memxd_client *c)
{
	uint64_t now = memxd_now_ns();

	if (!c->watchdog_ns || now < c->next_watchdog_ns)
		return;
	sd_notify(0, "WATCHDOG=1");
	c->next_watchdog_ns = now + c->watchdog_ns / 2;
}

/* The sooner of two "ms until due, or -1 for never". */
static int soonest(int a, int b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

/* The fixed slots of the control thread's poll() set; the donors' CM channels follow. */
enum {
	POLL_MAILBOX,
	POLL_SIGNAL,
	POLL_CTL,
	POLL_CTRL_CQ,
	POLL_LISTENER,
	POLL_DONORS,
};

static int client_loop(struct memxd_client *c, int sfd, struct memxd_ctl *ctl)
{
	int timeout = 0;

	for (;;) {
		struct pollfd pfd[POLL_DONORS + MEMXD_MAX_DONORS + MEMXD_MAX_JOINS];
		struct signalfd_siginfo si;

		pfd[POLL_MAILBOX] = (struct pollfd){ .fd = c->mailbox.fd, .events = POLLIN };
		pfd[POLL_SIGNAL] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[POLL_CTL] = (struct pollfd){ .fd = ctl ? memxd_ctl_fd(ctl) : -1, .events = POLLIN };
		pfd[POLL_CTRL_CQ] = (struct pollfd){ .fd = mxv_cq_fd(c->ctrl_cq), .events = POLLIN };
		pfd[POLL_LISTENER] = (struct pollfd){
			.fd = c->listener ? mxv_listener_fd(c->listener) : -1, .events = POLLIN };
		for (unsigned int i = 0; i < c->nr_donors; i++)
			pfd[POLL_DONORS + i] = (struct pollfd){
				.fd = memxd_donor_usable(atomic_load(&c->donor[i].state)) ?
				      mxv_conn_fd(c->donor[i].ctrl) : -1,
				.events = POLLIN };
		/* Joins in progress: their handshakes end on their own fds. */
		for (unsigned int i = 0; i < MEMXD_MAX_JOINS; i++)
			pfd[POLL_DONORS + c->nr_donors + i] = (struct pollfd){
				.fd = c->join[i].conn ? mxv_conn_fd(c->join[i].conn) : -1,
				.events = POLLIN };
		if (poll(pfd, POLL_DONORS + c->nr_donors + MEMXD_MAX_JOINS, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return memxd_log_errno(-errno, "poll");
		}
		memxd_copysets_refresh(c);
		if (pfd[POLL_MAILBOX].revents)
			serve_mailbox(c);
		if (pfd[POLL_SIGNAL].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP)
				memxd_trust_reload(&c->opt.trust);
			else if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM)
				memxd_warn("volume %s: %s ignored (SIGINT or SIGTERM removes the "
					   "volume)", c->opt.name, strsignal((int)si.ssi_signo));
			else if (client_try_remove(c, (int)si.ssi_signo))
				return 0;
		}
		if (pfd[POLL_CTL].revents || memxd_ctl_later(ctl))
			memxd_ctl_serve(ctl, client_ctl, c);
		if (c->detached)
			return 0;
		run_ctl_add(c);
		memxd_pump_ctrl(c);
		memxd_check_donors(c, &pfd[POLL_DONORS]);
		notify_status(c);
		if (pfd[POLL_LISTENER].revents)
			memxd_serve_join(c);
		memxd_advance_joins(c);
		memxd_directory_join(c);
		memxd_retry_deferred(c);
		memxd_heartbeat(c);
		watchdog_ping(c);
		if (volume_died(c))
			return -ENODEV;
		memxd_pool_prune(c);
		timeout = soonest(memxd_recovery_step(c), memxd_scrub_step(c));
		timeout = soonest(timeout, memxd_pool_refill(c));
		timeout = soonest(timeout, memxd_rest_step(c));
		if (timeout < 0 || timeout > MEMXD_HEARTBEAT_MS)
			timeout = MEMXD_HEARTBEAT_MS;
		if (memxd_ctl_later(ctl))
			timeout = 0;	/* memxctl waits for what a slow wait put off */
	}
}

int memxd_client_main(int argc, char **argv)
{
	struct memxd_client *c;
	struct memxd_ctl *ctl = NULL;
	bool deposed_before_us = false;
	int sfd, r;

	memxd_log_role = "memxd client";
	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->kfd = -1;
	c->dev_id = -1;
	c->mailbox.fd = -1;
	c->epoch = 1;	/* a volume of our own (the state file may say otherwise) */
	if (memxd_client_parse(argc, argv, &c->opt))
		return 2;
	if (memxd_trust_load(&c->opt.trust, "memxd client"))
		return 2;
	if (getrandom(c->volume_id, sizeof(c->volume_id), 0) != sizeof(c->volume_id) ||
	    getrandom(&c->rng, sizeof(c->rng), 0) != sizeof(c->rng))
		return 1;
	memxd_auth_random(c->volume_secret, sizeof(c->volume_secret));
	c->rng |= 1;
	sfd = memxd_process_start();
	if (sfd < 0)
		return 1;

	r = lock_volume_name(c->opt.name, &deposed_before_us);
	if (r < 0)
		return 1;
	r = memxd_make_swap_safe();
	if (r)
		memxd_log_errno(r, "swap safety (mlockall, PR_SET_IO_FLUSHER): continuing without");
	r = client_setup(c);
	if (r && c->resumed) {
		/*
		 * We took over a dead engine's volume: leave it waiting for the
		 * next try (memx.ko's window, the donors' lease), not killed.
		 */
		memxd_err("volume %s: taking over %s failed; it waits for another try "
			  "within --recovery-timeout", c->opt.name, c->dev_path);
		_exit(1);
	}
	if (r) {
		memxd_err("volume %s: start-up failed; nothing was left behind", c->opt.name);
		client_teardown(c);
		return 1;
	}
	/* The deposed engine's control socket still answers (the kernel accepts for it). */
	if (deposed_before_us)
		unlink(c->opt.ctl_path);
	r = memxd_ctl_open(c->opt.ctl_path, &ctl);
	if (r)
		memxd_log_errno(r, "control socket %s: memxctl will not reach us", c->opt.ctl_path);
	c->ctl = ctl;
	printf("ready %s\n", c->dev_path);
	fflush(stdout);
	sd_notify(0, "READY=1");
	{
		uint64_t usec;

		if (sd_watchdog_enabled(0, &usec) > 0)
			c->watchdog_ns = usec * 1000;
	}
	memxd_info("volume %s: %s ready (%s), %" PRIu64 " MiB on %u donor(s)", c->opt.name,
		  c->dev_path, c->kb->name, c->opt.size >> 20, c->nr_donors);

	memxd_rest_init(c);
	c->looping = true;
	r = client_loop(c, sfd, ctl);
	c->looping = false;
	c->ctl = NULL;
	memxd_ctl_close(ctl);
	client_teardown(c);
	close(sfd);
	memxd_keyring_wipe(&c->opt.trust.kr);
	memxd_info("volume %s: stopped", c->opt.name);
	return r ? 1 : 0;
}
