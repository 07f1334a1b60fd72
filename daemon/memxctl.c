// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl: talks to running memxd processes.
 *   memxctl status [-o text|json|prometheus] [--slabs] [--socket PATH]
 *   memxctl list [-o text|json]
 *   memxctl donor drain ADDR[:PORT] [--wait] [--socket PATH]
 *   memxctl donor add ADDR[:PORT] [--socket PATH]
 *   memxctl volume remove NAME [--socket PATH]
 *   memxctl reload [--socket PATH]
 *   memxctl volume detach NAME [--socket PATH]
 *   memxctl volume forget-lost NAME [--socket PATH]
 *   memxctl keygen PATH [--id N]
 *   memxctl version [-o text|json]
 * -o (or --output) goes anywhere on the line; --json is -o json.
 * Without --socket, status asks every memxd on this machine (each has a
 * socket in /run/memx) and donor commands go to every client. With -o json the
 * answer is one JSON object per memxd, wrapped in a JSON array; a memxd that
 * did not answer with one (gone, refused, cut short) is a null there, and
 * stderr says why. What memxctl prints with --json is always valid JSON (made
 * with json-c). An answer that starts with "error:", or a memxd that does not
 * answer, makes memxctl exit 1. -o prometheus writes the same documents in
 * Prometheus' text format (memxctl_prom.c), memx_up saying which memxd
 * answered; it exits 0 once that is written, whoever answered. list asks
 * memx.ko itself, so it also shows volumes whose engine is dead or gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/ioctl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <memx/proto.h>
#include <memx/uapi.h>

#include "client/kbackend.h"
#include "common/auth.h"
#include "common/ctl.h"
#include "common/limits.h"
#include "common/parse.h"
#include "memx_config.h"
#include "memxctl.h"
#include "memxctl_prom.h"
#include "memxctl_ublk.h"

#define RUN_DIR MEMXD_RUN_DIR
/* memx.ko's control device and sysfs directory (tests point them elsewhere). */
#ifndef MEMXCTL_CONTROL_DEV
#define MEMXCTL_CONTROL_DEV "/dev/" MEMX_CONTROL_NAME
#endif
/* donor drain --wait: how often to ask, and to print a line when not on a terminal. */
#ifndef MEMXCTL_DRAIN_POLL_MS
#define MEMXCTL_DRAIN_POLL_MS 1000
#endif
#ifndef MEMXCTL_DRAIN_LINE_MS
#define MEMXCTL_DRAIN_LINE_MS 5000
#endif
/* volume remove: how long an engine may take to remove its volume and exit. */
#ifndef MEMXCTL_REMOVE_WAIT_MS
#define MEMXCTL_REMOVE_WAIT_MS 30000
#endif
/* Where list finds ublk's devices (/dev/ublkcN). */
#ifndef MEMXCTL_UBLK_DEV_DIR
#define MEMXCTL_UBLK_DEV_DIR "/dev"
#endif
#ifndef MEMXCTL_SYSFS_MODULE
#define MEMXCTL_SYSFS_MODULE "/sys/module/memx"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: memxctl status [-o text|json|prometheus] [--slabs] [--socket PATH]\n"
		"       memxctl list [-o text|json]        the volumes in memx.ko and ublk, engine or not\n"
		"       memxctl donor drain ADDR[:PORT] [--wait] [--socket PATH]\n"
		"                                          --wait: until it has left, with progress\n"
		"       memxctl donor add ADDR[:PORT] [--socket PATH]\n"
		"       memxctl volume remove NAME [--socket PATH]  as SIGTERM to its engine\n"
		"       memxctl reload [--socket PATH]     re-read the key file (all memxd)\n"
		"       memxctl volume detach NAME [--socket PATH]\n"
		"                                          hand volume NAME off: its device goes, its\n"
		"                                          data stays on the donors for memxd client\n"
		"                                          --attach (here or where its state file is)\n"
		"       memxctl volume forget-lost NAME [--socket PATH]\n"
		"                                          give up the slabs of NAME whose every copy\n"
		"                                          is gone: they read as zeros again\n"
		"       memxctl keygen PATH [--id N]       write a new cluster key file (id 1)\n"
		"       memxctl version [-o text|json]     memxctl's, memx.ko's (ABI, features)\n"
		"                                          and every running memxd's versions\n"
		"       -o, --output FORMAT anywhere on the line; --json is -o json\n");
}

/* What memxctl prints: -o text|json|prometheus. */
enum output {
	OUT_TEXT,
	OUT_JSON,
	OUT_PROMETHEUS,
};

/*
 * Takes -o FMT, -oFMT, --output FMT, --output=FMT and --json (-o json) out of
 * argv, wherever they stand, so that the commands parse the rest. Returns 0,
 * or 2 (said why) for an unknown format or a missing one.
 */
static int take_output_option(int *argc, char **argv, enum output *out)
{
	int i, kept = 1;

	for (i = 1; i < *argc; i++) {
		const char *fmt = NULL;

		if (!strcmp(argv[i], "--json"))
			fmt = "json";
		else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output"))
			fmt = i + 1 < *argc ? argv[++i] : "";
		else if (!strncmp(argv[i], "--output=", 9))
			fmt = argv[i] + 9;
		else if (!strncmp(argv[i], "-o", 2))
			fmt = argv[i] + 2;
		if (!fmt) {
			argv[kept++] = argv[i];
			continue;
		}
		if (!strcmp(fmt, "text")) {
			*out = OUT_TEXT;
		} else if (!strcmp(fmt, "json")) {
			*out = OUT_JSON;
		} else if (!strcmp(fmt, "prometheus")) {
			*out = OUT_PROMETHEUS;
		} else {
			fprintf(stderr, "memxctl: -o '%s': the formats are text, json and "
				"prometheus\n", fmt);
			return 2;
		}
	}
	*argc = kept;
	argv[kept] = NULL;
	return 0;
}

/* A memxd's name for humans and the daemon label: its socket's, "client-swap0". */
static void daemon_name(const char *socket_path, char *out, size_t len)
{
	const char *base = strrchr(socket_path, '/');
	size_t n;

	base = base ? base + 1 : socket_path;
	n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".sock"))
		n -= 5;
	snprintf(out, len, "%.*s", (int)n, base);
}

/*
 * A "wait: ..." line that opens an answer: memxd keeps the request for after
 * what it is busy with (a slow transfer, up to two minutes), and says so. It
 * goes to stderr, and the rest of the answer is waited for longer.
 */
static size_t take_wait_lines(int fd, char *buf, size_t len, bool *waiting)
{
	for (;;) {
		char *nl;

		if (len < 5 || memcmp(buf, "wait:", 5))
			return len;
		nl = memchr(buf, '\n', len);
		if (!nl)
			return len;	/* the rest of the line is still to come */
		fprintf(stderr, "memxctl: memxd says %.*s\n", (int)(nl - buf), buf);
		if (!*waiting)
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO,
				   &(struct timeval){ .tv_sec = MEMXCTL_LATER_S },
				   sizeof(struct timeval));
		*waiting = true;
		len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, len);
	}
}

/* How long memxd has to begin its answer: a status at once, a change within MEMXCTL_CHANGE_S. */
static long answer_wait_s(const char *request)
{
	struct memxd_ctl_req req;
	char line[256];

	snprintf(line, sizeof(line), "%s", request);
	line[strcspn(line, "\r\n")] = '\0';
	memxd_ctl_parse(line, &req);
	return req.kind == MEMXD_CTL_STATUS ? MEMXCTL_STATUS_S : MEMXCTL_CHANGE_S;
}

/* Whether buf (len bytes, its "wait:" lines taken) is the answer, or may be a "wait:" line yet. */
static bool answer_begun(const char *buf, size_t len, size_t cap)
{
	if (len == cap)
		return true;	/* no "wait:" line is that long */
	return memcmp(buf, "wait:", len < 5 ? len : 5) != 0;
}

/* memxctl.h */
int memxctl_ask(const char *path, const char *request, struct memxctl_answer *ans)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool answered = false, waiting = false;
	struct timeval first = { 0 };
	char buf[65536];
	size_t head = 0;	/* bytes in buf not yet known to be the answer */
	ssize_t n = 0;
	int fd, r = 0;
	FILE *f;

	ans->buf = NULL;
	ans->len = 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	f = open_memstream(&ans->buf, &ans->len);
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	/*
	 * A memxd that is stopped (SIGSTOP, hung) must not hang us too; one that
	 * is busy answers a change once its control thread is done with the step
	 * it is in (one control message or handshake: seconds).
	 */
	first.tv_sec = answer_wait_s(request);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &first, sizeof(first));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 5 },
		   sizeof(struct timeval));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request))
		r = -errno;
	while (!r && (n = read(fd, buf + head, sizeof(buf) - head)) > 0) {
		size_t len = head + (size_t)n;

		if (!answered) {
			len = take_wait_lines(fd, buf, len, &waiting);
			answered = len && answer_begun(buf, len, sizeof(buf));
			if (!answered) {
				head = len;
				continue;
			}
		}
		head = 0;
		if (fwrite(buf, 1, len, f) != len)
			r = -ENOMEM;
	}
	if (!r && n < 0)
		r = errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (!r && head && fwrite(buf, 1, head, f) != head)	/* a short answer like "wai" */
		r = -ENOMEM;
	close(fd);
	if (fclose(f) && !r)
		r = -ENOMEM;
	if (!r && ans->len >= 6 && !memcmp(ans->buf, "error:", 6))
		r = -EREMOTEIO;
	return r;
}

/* Prints doc (json-c; NULL: null) on one line. Returns the exit status: 0, or 1 out of memory. */
static int print_json(struct json_object *doc)
{
	size_t len;
	const char *s = json_object_to_json_string_length(doc, MEMXD_JSON_FLAGS, &len);

	if (!s) {
		fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
		return 1;
	}
	fwrite(s, 1, len, stdout);
	putchar('\n');
	return 0;
}

/* What the command line asks for. */
struct cmd {
	const char *socket_path;	/* --socket: one memxd only */
	char request[256];		/* the line sent to memxd */
	enum output output;
	bool json;			/* status documents asked for: -o json or prometheus */
	bool donor_cmd;			/* donor drain/add: for clients only */
	bool wait;			/* donor drain --wait: follow it to its end */
	struct memxctl_drain *drains;	/* --wait: the drains the clients started */
	size_t nr_drains;
};

/* Parses the command line. Returns 0, or 2 (usage printed) when it is wrong. */
static int parse_args(int argc, char **argv, struct cmd *cmd)
{
	bool slabs = false;
	int argi = 2;

	if (argc >= 2 && !strcmp(argv[1], "status")) {
		cmd->json = cmd->output != OUT_TEXT;
		for (; argi < argc; argi++) {
			if (!strcmp(argv[argi], "--slabs"))
				slabs = true;
			else if (!strcmp(argv[argi], "--socket") && argi + 1 < argc)
				cmd->socket_path = argv[++argi];
			else
				break;
		}
		snprintf(cmd->request, sizeof(cmd->request), "status%s%s\n",
			 cmd->json ? " --json" : "", slabs ? " --slabs" : "");
	} else if (argc >= 4 && !strcmp(argv[1], "donor") &&
		   (!strcmp(argv[2], "drain") || !strcmp(argv[2], "add")) &&
		   strlen(argv[3]) < 100 && !strchr(argv[3], '\n')) {
		cmd->donor_cmd = true;
		snprintf(cmd->request, sizeof(cmd->request), "donor %s %s\n", argv[2], argv[3]);
		for (argi = 4; argi < argc; argi++) {
			if (!strcmp(argv[argi], "--socket") && argi + 1 < argc)
				cmd->socket_path = argv[++argi];
			else if (!strcmp(argv[argi], "--wait") && !strcmp(argv[2], "drain"))
				cmd->wait = true;
			else
				break;
		}
	} else if (argc >= 4 && !strcmp(argv[1], "volume") &&
		   (!strcmp(argv[2], "detach") || !strcmp(argv[2], "forget-lost"))) {
		/* To the engine of volume NAME: its socket unless --socket says otherwise. */
		static char path[sizeof(MEMXD_RUN_DIR) + 96];

		if (strlen(argv[3]) > 32 || strchr(argv[3], '/')) {
			fprintf(stderr, "memxctl: '%s' is not a volume name\n", argv[3]);
			return 2;
		}
		snprintf(path, sizeof(path), "%s/client-%s.sock", MEMXD_RUN_DIR, argv[3]);
		cmd->socket_path = path;
		snprintf(cmd->request, sizeof(cmd->request), "volume %s\n", argv[2]);
		for (argi = 4; argi < argc; argi++) {
			if (!strcmp(argv[argi], "--socket") && argi + 1 < argc)
				cmd->socket_path = argv[++argi];
			else
				break;
		}
	} else if (argc >= 2 && !strcmp(argv[1], "reload")) {
		snprintf(cmd->request, sizeof(cmd->request), "reload\n");
		for (; argi < argc; argi++) {
			if (!strcmp(argv[argi], "--socket") && argi + 1 < argc)
				cmd->socket_path = argv[++argi];
			else
				break;
		}
	} else {
		if (argc >= 2)
			fprintf(stderr, "memxctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (argi < argc) {
		fprintf(stderr, "memxctl: unknown option '%s'\n", argv[argi]);
		usage(stderr);
		return 2;
	}
	if (cmd->output != OUT_TEXT && !cmd->json) {
		fprintf(stderr, "memxctl: %s answers in text only\n", argv[1]);
		return 2;
	}
	return 0;
}

/*
 * -o json or prometheus: prints docs (a JSON array, one element per memxd
 * asked, NULL where none came) as asked; daemons[i] names docs[i]. Returns the
 * exit status: 0, or 1 when stdout could not take it.
 */
static int print_docs(const struct cmd *cmd, struct json_object *docs, const char *const *daemons)
{
	if (cmd->output == OUT_JSON)
		return print_json(docs);
	if (memxctl_prom_write(stdout, docs, daemons)) {
		fprintf(stderr, "memxctl: writing the metrics: %s\n", strerror(EIO));
		return 1;
	}
	return 0;
}

/*
 * donor drain --wait: notes the drain a client's answer announces ("draining
 * NAME: N slabs to move"), to follow it once every client has answered.
 */
static void note_drain(struct cmd *cmd, const char *socket, const struct memxctl_answer *ans)
{
	struct memxctl_drain dr = { 0 }, *more;
	const char *colon;
	char text[300];

	if (!cmd->wait || !ans->buf)
		return;
	snprintf(text, sizeof(text), "%.*s", (int)ans->len, ans->buf);
	/* The name has colons ("10.0.0.2:7471", "[fe80::1]:7471"), never ": ". */
	colon = strlen(text) > 9 ? strstr(text + 9, ": ") : NULL;
	if (strncmp(text, "draining ", 9) || !colon ||
	    sscanf(colon + 2, "%llu slabs to move", &dr.slabs) != 1)
		return;
	snprintf(dr.donor, sizeof(dr.donor), "%.*s", (int)(colon - text - 9), text + 9);
	snprintf(dr.socket, sizeof(dr.socket), "%s", socket);
	more = realloc(cmd->drains, (cmd->nr_drains + 1) * sizeof(*more));
	if (!more)
		return;
	cmd->drains = more;
	cmd->drains[cmd->nr_drains++] = dr;
}

/* After donor drain --wait was sent: follows the drains. Returns the exit status. */
static int follow_drains(struct cmd *cmd, int ret)
{
	if (!cmd->wait)
		return ret;
	if (!cmd->nr_drains) {
		fprintf(stderr, "memxctl: no client started draining: nothing to wait for\n");
		return 1;
	}
	ret |= memxctl_drain_wait(cmd->drains, cmd->nr_drains, stdout, isatty(STDOUT_FILENO),
				  MEMXCTL_DRAIN_POLL_MS, MEMXCTL_DRAIN_LINE_MS);
	free(cmd->drains);
	return ret;
}

/* --socket: one memxd. Returns the exit status. */
static int ask_one(struct cmd *cmd)
{
	struct json_object *one = NULL;
	struct memxctl_answer ans;
	char why[1100];
	int r = memxctl_ask(cmd->socket_path, cmd->request, &ans), ret = r ? 1 : 0;

	if (r && r != -EREMOTEIO) {
		fprintf(stderr, "memxctl: %s: %s (is memxd running?)\n", cmd->socket_path,
			strerror(-r));
	} else if (!cmd->json) {
		fwrite(ans.buf, 1, ans.len, stdout);
		if (!r)
			note_drain(cmd, cmd->socket_path, &ans);
	} else {
		/* The document, checked: null, and why on stderr, when it is not one. */
		one = json_object_new_array();
		if (!one || memxd_ctl_collect_json(one, ans.buf, ans.len, why, sizeof(why))) {
			fprintf(stderr, "memxctl: %s: %s\n", cmd->socket_path,
				one ? why : strerror(ENOMEM));
			ret = 1;
		}
	}
	if (cmd->output == OUT_JSON) {	/* null unless a document came */
		ret |= print_json(one ? json_object_array_get_idx(one, 0) : NULL);
	} else if (cmd->output == OUT_PROMETHEUS) {
		struct json_object *docs = json_object_new_array();
		char name[256];
		const char *names[] = { name };

		daemon_name(cmd->socket_path, name, sizeof(name));
		if (!docs || json_object_array_add(docs, json_object_get(one ?
				json_object_array_get_idx(one, 0) : NULL))) {
			fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
			ret = 1;
		} else {
			ret = print_docs(cmd, docs, names);	/* memx_up says who answered */
		}
		json_object_put(docs);
	}
	json_object_put(one);
	free(ans.buf);
	return ret;
}

/* Every memxd with a socket in RUN_DIR. Returns the exit status. */
static int ask_all(struct cmd *cmd)
{
	struct json_object *all = cmd->json ? json_object_new_array() : NULL;
	int found = 0, failed = 0;
	DIR *dir = opendir(RUN_DIR);
	struct dirent *de;
	char **names = NULL;	/* -o prometheus: all[i]'s memxd */
	size_t nr_names = 0;
	bool oom = false;

	if (cmd->json && !all) {
		fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
		return 1;
	}
	while (dir && (de = readdir(dir))) {
		char path[512], why[1100];
		size_t len = strlen(de->d_name);
		struct memxctl_answer ans;
		int r;

		if (len < 6 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		/* Donor commands are for clients. */
		if (cmd->donor_cmd && strncmp(de->d_name, "client-", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", RUN_DIR, de->d_name);
		if (cmd->output == OUT_PROMETHEUS) {
			char **more = realloc(names, (nr_names + 1) * sizeof(*names));

			if (!more || !(more[nr_names] = strndup(de->d_name, len - 5))) {
				names = more ? more : names;
				oom = true;
				break;
			}
			names = more;
			nr_names++;
		}
		r = memxctl_ask(path, cmd->request, &ans);
		if (r == -ECONNREFUSED || r == -ENOENT) {
			/* Left behind by a memxd that was killed: not an error of ours. */
			fprintf(stderr, "memxctl: %s: stale socket, no memxd behind it\n", path);
			if (all && json_object_array_add(all, NULL))
				failed++;
			free(ans.buf);
			continue;
		}
		found++;
		if (r && r != -EREMOTEIO) {
			fprintf(stderr, "memxctl: %s: no answer: %s\n", path, strerror(-r));
			if (all && json_object_array_add(all, NULL))
				failed++;
		} else if (!all) {
			fwrite(ans.buf, 1, ans.len, stdout);
			if (!r)
				note_drain(cmd, path, &ans);
		} else if (memxd_ctl_collect_json(all, ans.buf, ans.len, why, sizeof(why))) {
			fprintf(stderr, "memxctl: %s: %s\n", path, why);
			r = r ? r : -EBADMSG;
		}
		failed += r != 0;
		free(ans.buf);
	}
	if (dir)
		closedir(dir);
	if (!found)
		fprintf(stderr, "memxctl: no memxd %sis running (no socket in %s)\n",
			cmd->donor_cmd ? "client " : "", RUN_DIR);
	if (cmd->output == OUT_PROMETHEUS) {
		/*
		 * Who did not answer is data (memx_up 0), not a failure. Each socket
		 * put one element in all, unless memory ran out.
		 */
		failed = oom || json_object_array_length(all) != nr_names;
		if (failed)
			fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
		else
			failed = print_docs(cmd, all, (const char *const *)names);
		while (nr_names)
			free(names[--nr_names]);
		free(names);
		json_object_put(all);
		return failed ? 1 : 0;
	}
	if (all) {
		failed += print_json(all);
		json_object_put(all);
	}
	if (!found)
		return 1;
	return failed ? 1 : 0;
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case MEMX_S_NEW: return "new";
	case MEMX_S_LIVE: return "live";
	case MEMX_S_DEAD: return "dead";
	case MEMX_S_RECOVERING: return "recovering";
	default: return "unknown";
	}
}

/* memxctl list --json: one volume. */
static struct json_object *volume_json(int id, const struct memx_dev_info *info)
{
	struct json_object *v = json_object_new_object();
	char dev[32];
	bool ok = true;

	snprintf(dev, sizeof(dev), "/dev/" MEMX_DISK_NAME "%d", id);
	memxd_json_set(v, "device", json_object_new_string(dev), &ok);
	memxd_json_set(v, "backend", json_object_new_string("memx"), &ok);
	memxd_json_set(v, "name", json_object_new_string(info->name), &ok);
	memxd_json_set(v, "size_bytes", json_object_new_uint64(info->size_bytes), &ok);
	memxd_json_set(v, "state", json_object_new_string(state_name(info->state)), &ok);
	memxd_json_set(v, "openers", json_object_new_uint64(info->open_count), &ok);
	memxd_json_set(v, "recovery_timeout_ms", json_object_new_uint64(info->recovery_timeout_ms),
		       &ok);
	memxd_json_set(v, "recovery_left_ms", json_object_new_uint64(info->recovery_left_ms), &ok);
	/* null: this memx.ko does not say (older, or it could not count just now) */
	if (info->info_flags & MEMX_INFO_F_HELD)
		memxd_json_set(v, "held_requests", json_object_new_uint64(info->held_requests), &ok);
	else if (!v || json_object_object_add(v, "held_requests", NULL))
		ok = false;
	if (!ok) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* A volume that waits for an engine: " (no engine: ...)". */
static void print_waiting(const struct memx_dev_info *info)
{
	printf(" (no engine: %u s left for one to take over", (info->recovery_left_ms + 999) / 1000);
	if (info->info_flags & MEMX_INFO_F_HELD)
		printf(", %u request(s) held", info->held_requests);
	printf(")");
}

/*
 * memxctl status, text: the volumes memx.ko holds for an engine to take them
 * over, whose engine is gone (or deposed) and so said nothing above. Asks
 * memx.ko alone; nothing when it is not loaded.
 */
static void print_waiting_volumes(void)
{
	int fd = open(MEMXCTL_CONTROL_DEV, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int id = 0; id < MEMX_MAX_DEVS; id++) {
		struct memx_dev_info info = { .dev_id = id };

		if (ioctl(fd, MEMX_CTRL_GET_INFO, &info) || info.state != MEMX_S_RECOVERING)
			continue;
		info.name[sizeof(info.name) - 1] = '\0';
		printf("memx.ko: volume %s (/dev/" MEMX_DISK_NAME "%d) is recovering", info.name, id);
		print_waiting(&info);
		printf("\n");
	}
	close(fd);
}

/*
 * memxctl list [--json]: every volume memx.ko holds, from the kernel alone,
 * then every ublk device, from ublk and the engines' state files
 * (memxctl_ublk.c): engine or not.
 */
static int list_volumes(bool json)
{
	int fd = open(MEMXCTL_CONTROL_DEV, O_RDONLY | O_CLOEXEC);
	int err = errno;
	bool have_ublk = !access(MEMXD_UBLK_CONTROL_PATH, F_OK);
	struct json_object *all = NULL;
	unsigned int n = 0;
	bool ok = true;
	int ret = 0;

	if (fd < 0 && !have_ublk) {
		fprintf(stderr, "memxctl: %s: %s%s\n", MEMXCTL_CONTROL_DEV, strerror(err),
			err == ENOENT ? " (is memx.ko loaded? nor is there "
			MEMXD_UBLK_CONTROL_PATH ")" : "");
		return 1;
	}
	if (json) {
		all = json_object_new_array();
		ok = all != NULL;
	}
	for (int id = 0; fd >= 0 && id < MEMX_MAX_DEVS; id++) {
		struct memx_dev_info info = { .dev_id = id };

		if (ioctl(fd, MEMX_CTRL_GET_INFO, &info))
			continue;	/* ENODEV: no such volume */
		info.name[sizeof(info.name) - 1] = '\0';
		if (json) {
			memxd_json_push(all, volume_json(id, &info), &ok);
		} else {
			printf("/dev/" MEMX_DISK_NAME "%-3d %-20s %8" PRIu64 " MiB  %s", id,
			       info.name[0] ? info.name : "-", (uint64_t)info.size_bytes >> 20,
			       state_name(info.state));
			if (info.state == MEMX_S_RECOVERING)
				print_waiting(&info);
			printf(", %u opener(s)\n", info.open_count);
		}
		n++;
	}
	if (fd >= 0)
		close(fd);
	if (have_ublk)
		n += memxctl_ublk_list(RUN_DIR, MEMXCTL_UBLK_DEV_DIR, all, &ok);
	if (json && !ok) {
		fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
		ret = 1;
	} else if (json) {
		ret = print_json(all);
	} else if (!n) {
		printf("no memx volumes\n");
	}
	json_object_put(all);
	return ret;
}

/* memx.ko's version (MODULE_VERSION), ABI and features; {"loaded": false} when it is not. */
static struct json_object *module_json(bool *ok)
{
	static const char *const feature_names[] = { "discard", "write_zeroes", "poll_queues" };
	struct json_object *m = json_object_new_object(), *feats;
	struct memx_features f = { 0 };
	char version[64] = "";
	FILE *vf = fopen(MEMXCTL_SYSFS_MODULE "/version", "re");
	int fd;

	memxd_json_set(m, "loaded", json_object_new_boolean(vf != NULL), ok);
	if (!vf)
		return m;
	if (fgets(version, sizeof(version), vf))
		version[strcspn(version, "\n")] = '\0';
	fclose(vf);
	memxd_json_set(m, "version", json_object_new_string(version), ok);
	fd = open(MEMXCTL_CONTROL_DEV, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, MEMX_CTRL_GET_FEATURES, &f)) {
		memxd_json_set(m, "error", json_object_new_string(strerror(errno)), ok);
		if (fd >= 0)
			close(fd);
		return m;
	}
	close(fd);
	memxd_json_set(m, "abi", json_object_new_uint64(f.abi_version), ok);
	feats = json_object_new_array();
	for (unsigned int b = 0; b < 64; b++) {
		char unknown[16];

		if (!(f.features & (1ULL << b)))
			continue;
		snprintf(unknown, sizeof(unknown), "bit%u", b);
		memxd_json_push(feats, json_object_new_string(b < 3 ? feature_names[b] : unknown),
				ok);
	}
	memxd_json_set(m, "features", feats, ok);
	memxd_json_set(m, "max_queues", json_object_new_uint64(f.max_queues), ok);
	memxd_json_set(m, "max_depth", json_object_new_uint64(f.max_depth), ok);
	memxd_json_set(m, "max_io_bytes", json_object_new_uint64(f.max_io_bytes), ok);
	return m;
}

/* Every memxd's version, from its status document: {"daemon", "role", "version"} or "error". */
static struct json_object *daemons_json(bool *ok)
{
	struct json_object *all = json_object_new_array();
	DIR *dir = opendir(RUN_DIR);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		struct json_object *one, *d, *doc, *v;
		char path[512], name[256], why[1100] = "";
		size_t len = strlen(de->d_name);
		struct memxctl_answer ans;
		int r;

		if (len < 6 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		one = json_object_new_array();
		d = json_object_new_object();
		snprintf(path, sizeof(path), "%s/%s", RUN_DIR, de->d_name);
		daemon_name(path, name, sizeof(name));
		memxd_json_set(d, "daemon", json_object_new_string(name), ok);
		r = memxctl_ask(path, "status --json\n", &ans);
		if (r && r != -EREMOTEIO)
			snprintf(why, sizeof(why), "%s", r == -ECONNREFUSED || r == -ENOENT ?
				 "stale socket, no memxd behind it" : strerror(-r));
		else if (!one)
			snprintf(why, sizeof(why), "%s", strerror(ENOMEM));
		else	/* a document, or null and why says what came instead */
			memxd_ctl_collect_json(one, ans.buf, ans.len, why, sizeof(why));
		free(ans.buf);
		doc = one ? json_object_array_get_idx(one, 0) : NULL;
		if (doc && json_object_object_get_ex(doc, "role", &v))
			memxd_json_set(d, "role", json_object_get(v), ok);
		if (doc && json_object_object_get_ex(doc, "version", &v))
			memxd_json_set(d, "version", json_object_get(v), ok);
		else if (doc)	/* older than memxd's version in its status */
			memxd_json_set(d, "version", json_object_new_string("unknown"), ok);
		else
			memxd_json_set(d, "error", json_object_new_string(why), ok);
		memxd_json_push(all, d, ok);
		json_object_put(one);
	}
	if (dir)
		closedir(dir);
	return all;
}

static const char *string_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/*
 * memxctl version [-o text|json]: memxctl's versions, memx.ko's (if loaded)
 * and every running memxd's. Returns the exit status: 0, or 1 out of memory.
 */
static int version(enum output out)
{
	struct json_object *doc = json_object_new_object(), *tools = json_object_new_object(),
			   *mod, *daemons, *v;
	bool ok = doc && tools;
	int ret = 0;

	memxd_json_set(tools, "version", json_object_new_string(MEMX_VERSION), &ok);
	memxd_json_set(tools, "protocol", json_object_new_uint64(MEMX_PROTO_VERSION), &ok);
	memxd_json_set(tools, "abi", json_object_new_uint64(MEMX_ABI_VERSION), &ok);
	memxd_json_set(doc, "memxctl", tools, &ok);
	memxd_json_set(doc, "module", mod = module_json(&ok), &ok);
	memxd_json_set(doc, "daemons", daemons = daemons_json(&ok), &ok);
	if (!ok) {
		fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
		json_object_put(doc);
		return 1;
	}
	if (out == OUT_JSON) {
		ret = print_json(doc);
		json_object_put(doc);
		return ret;
	}
	printf("memxctl %s (protocol %d, kernel ABI %d)\n", MEMX_VERSION, MEMX_PROTO_VERSION,
	       MEMX_ABI_VERSION);
	if (!json_object_get_boolean(json_object_object_get(mod, "loaded"))) {
		printf("memx.ko not loaded\n");
	} else if (json_object_object_get_ex(mod, "error", &v)) {
		printf("memx.ko %s (%s: %s)\n", string_of(mod, "version"), MEMXCTL_CONTROL_DEV,
		       json_object_get_string(v));
	} else {
		struct json_object *feats = json_object_object_get(mod, "features");

		printf("memx.ko %s (kernel ABI %s%s, features:", string_of(mod, "version"),
		       string_of(mod, "abi"),
		       json_object_get_int(json_object_object_get(mod, "abi")) == MEMX_ABI_VERSION ?
		       "" : ", NOT memxctl's");
		for (size_t i = 0; i < json_object_array_length(feats); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(feats, i)));
		printf(")\n");
	}
	for (size_t i = 0; i < json_object_array_length(daemons); i++) {
		struct json_object *d = json_object_array_get_idx(daemons, i);

		if (json_object_object_get_ex(d, "error", &v))
			printf("memxd %s: no answer (%s)\n", string_of(d, "daemon"),
			       json_object_get_string(v));
		else
			printf("memxd %s %s\n", string_of(d, "daemon"), string_of(d, "version"));
	}
	json_object_put(doc);
	return 0;
}

/* memx.ko's view of the volume NAME: 0 and *info, or -errno (-ENODEV: none by that name). */
static int volume_info(const char *name, struct memx_dev_info *info)
{
	int fd = open(MEMXCTL_CONTROL_DEV, O_RDONLY | O_CLOEXEC), r = -ENODEV;

	if (fd < 0)
		return -errno;
	for (int id = 0; id < MEMX_MAX_DEVS && r == -ENODEV; id++) {
		*info = (struct memx_dev_info){ .dev_id = id };
		if (!ioctl(fd, MEMX_CTRL_GET_INFO, info) &&
		    !strncmp(info->name, name, sizeof(info->name)))
			r = 0;
	}
	close(fd);
	return r;
}

/* The refusal SIGTERM gives while the volume is open, for memxctl's side. */
static bool volume_in_use(const char *name)
{
	struct memx_dev_info info;

	if (volume_info(name, &info) || !info.open_count)
		return false;
	fprintf(stderr, "memxctl: volume %s: /dev/" MEMX_DISK_NAME "%u is in use (%u openers: "
		"mounted or swap?); not removing it, still serving. Unmount or swapoff it first.\n",
		name, info.dev_id, info.open_count);
	return true;
}

/*
 * memxctl volume remove NAME [--socket PATH]: asks the volume's engine to do
 * what SIGTERM does, then waits for it to go (its control socket stops
 * answering). Refused, as SIGTERM is, while the volume is open. Returns the
 * exit status.
 */
static int volume_remove(int argc, char **argv)
{
	char path[512], request[128];
	const char *name = argc >= 4 ? argv[3] : "";
	struct memxctl_answer ans;
	uint64_t waited = 0;
	int r;

	if (argc == 6 && !strcmp(argv[4], "--socket"))
		snprintf(path, sizeof(path), "%s", argv[5]);
	else if (argc == 4)
		snprintf(path, sizeof(path), "%s/client-%s.sock", RUN_DIR, name);
	else {
		usage(stderr);
		return 2;
	}
	if (!*name || strlen(name) >= MEMXD_NAME_MAX || strpbrk(name, "/\n ")) {
		fprintf(stderr, "memxctl: '%s' is not a volume name\n", name);
		return 2;
	}
	if (volume_in_use(name))
		return 1;
	snprintf(request, sizeof(request), "volume remove %s\n", name);
	r = memxctl_ask(path, request, &ans);
	if (r && r != -EREMOTEIO) {
		fprintf(stderr, "memxctl: %s: %s (is the engine of volume %s running?)\n", path,
			strerror(-r), name);
		free(ans.buf);
		return 1;
	}
	fwrite(ans.buf, 1, ans.len, r ? stderr : stdout);
	free(ans.buf);
	if (r)
		return 1;
	/* Gone once its socket is: the engine removes it and exits, or refuses and stays. */
	for (;;) {
		r = memxctl_ask(path, "status\n", &ans);
		free(ans.buf);
		if (r == -ECONNREFUSED || r == -ENOENT) {
			printf("removed volume %s\n", name);
			return 0;
		}
		if ((waited >= 1000 && volume_in_use(name)) || waited >= MEMXCTL_REMOVE_WAIT_MS) {
			if (waited >= MEMXCTL_REMOVE_WAIT_MS)
				fprintf(stderr, "memxctl: volume %s: its engine still serves after "
					"%.1f s; its log says why\n", name,
					(double)MEMXCTL_REMOVE_WAIT_MS / 1000);
			return 1;
		}
		usleep(100 * 1000);
		waited += 100;
	}
}

/* memxctl keygen PATH [--id N]: a new key file, never over an existing one. */
static int keygen(int argc, char **argv)
{
	uint64_t id = 1;
	char why[200] = "libsodium did not initialise";

	if (argc == 5 && !strcmp(argv[3], "--id") && memxd_parse_uint(argv[4], 1, UINT32_MAX, &id)) {
		fprintf(stderr, "memxctl: --id must be 1 to 4294967295\n");
		return 2;
	}
	if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--id"))) {
		usage(stderr);
		return 2;
	}
	if (memxd_auth_init() || memxd_keygen(argv[2], (uint32_t)id, why, sizeof(why))) {
		fprintf(stderr, "memxctl: keygen: %s\n", why);
		return 1;
	}
	printf("wrote key %u to %s (mode 0600); copy it to every memx host as "
	       "/etc/memx/cluster.key, mode 0600, owned by root\n", (unsigned int)id, argv[2]);
	return 0;
}

int main(int argc, char **argv)
{
	struct cmd cmd = { 0 };
	int r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "keygen"))
		return keygen(argc, argv);
	r = take_output_option(&argc, argv, &cmd.output);
	if (r)
		return r;
	if (argc >= 3 && !strcmp(argv[1], "volume") && !strcmp(argv[2], "remove")) {
		if (cmd.output != OUT_TEXT) {
			fprintf(stderr, "memxctl: volume remove answers in text only\n");
			return 2;
		}
		return volume_remove(argc, argv);
	}
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		if (argc > 2 || cmd.output == OUT_PROMETHEUS) {
			fprintf(stderr, "memxctl: list takes only -o text or -o json\n");
			usage(stderr);
			return 2;
		}
		return list_volumes(cmd.output == OUT_JSON);
	}
	if (argc >= 2 && (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))) {
		if (argc > 2 || cmd.output == OUT_PROMETHEUS) {
			fprintf(stderr, "memxctl: version takes only -o text or -o json\n");
			usage(stderr);
			return 2;
		}
		return version(cmd.output);
	}
	r = parse_args(argc, argv, &cmd);
	if (r)
		return r;
	r = cmd.socket_path ? ask_one(&cmd) : ask_all(&cmd);
	if (!strcmp(argv[1], "status") && !cmd.socket_path && cmd.output == OUT_TEXT)
		print_waiting_volumes();
	return follow_drains(&cmd, r);
}
