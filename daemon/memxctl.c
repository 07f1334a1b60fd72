// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl: talks to running memxd processes.
 *   memxctl status [--json] [--slabs] [--socket PATH]
 *   memxctl list [--json]
 *   memxctl donor drain ADDR[:PORT] [--socket PATH]
 *   memxctl donor add ADDR[:PORT] [--socket PATH]
 *   memxctl reload [--socket PATH]
 *   memxctl volume detach NAME [--socket PATH]
 *   memxctl volume forget-lost NAME [--socket PATH]
 *   memxctl keygen PATH [--id N]
 *   memxctl version
 * Without --socket, status asks every memxd on this machine (each has a
 * socket in /run/memx) and donor commands go to every client. With --json the
 * answer is one JSON object per memxd, wrapped in a JSON array; a memxd that
 * did not answer with one (gone, refused, cut short) is a null there, and
 * stderr says why. What memxctl prints with --json is always valid JSON (made
 * with json-c). An answer that starts with "error:", or a memxd that does not
 * answer, makes memxctl exit 1. list asks memx.ko itself, so it also shows
 * volumes whose engine is dead or gone.
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

#include "common/auth.h"
#include "common/ctl.h"
#include "common/limits.h"
#include "common/parse.h"
#include "memx_config.h"

#define RUN_DIR MEMXD_RUN_DIR

static void usage(FILE *f)
{
	fprintf(f, "usage: memxctl status [--json] [--slabs] [--socket PATH]\n"
		"       memxctl list [--json]              the volumes in memx.ko, engine or not\n"
		"       memxctl donor drain ADDR[:PORT] [--socket PATH]\n"
		"       memxctl donor add ADDR[:PORT] [--socket PATH]\n"
		"       memxctl reload [--socket PATH]     re-read the key file (all memxd)\n"
		"       memxctl volume detach NAME [--socket PATH]\n"
		"                                          hand volume NAME off: its device goes, its\n"
		"                                          data stays on the donors for memxd client\n"
		"                                          --attach (here or where its state file is)\n"
		"       memxctl volume forget-lost NAME [--socket PATH]\n"
		"                                          give up the slabs of NAME whose every copy\n"
		"                                          is gone: they read as zeros again\n"
		"       memxctl keygen PATH [--id N]       write a new cluster key file (id 1)\n"
		"       memxctl version                    memx, protocol and kernel ABI versions\n");
}

/* One memxd's whole answer. */
struct answer {
	char *buf;
	size_t len;
};

/*
 * Sends one request to one socket and reads the whole answer into *ans
 * (malloc'd; free it). Returns 0, -EREMOTEIO when the answer starts with
 * "error:", or -errno (no answer, or only part of one, in *ans).
 */
static int ask(const char *path, const char *request, struct answer *ans)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
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
	/* A memxd that is stopped (SIGSTOP, hung) must not hang us too. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 5 },
		   sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 5 },
		   sizeof(struct timeval));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request))
		r = -errno;
	while (!r && (n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
			r = -ENOMEM;
	if (!r && n < 0)
		r = errno == EAGAIN ? -ETIMEDOUT : -errno;
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
	bool json;
	bool donor_cmd;			/* donor drain/add: for clients only */
};

/* Parses the command line. Returns 0, or 2 (usage printed) when it is wrong. */
static int parse_args(int argc, char **argv, struct cmd *cmd)
{
	bool slabs = false;
	int argi = 2;

	if (argc >= 2 && !strcmp(argv[1], "status")) {
		for (; argi < argc; argi++) {
			if (!strcmp(argv[argi], "--json"))
				cmd->json = true;
			else if (!strcmp(argv[argi], "--slabs"))
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
	return 0;
}

/* --socket: one memxd. Returns the exit status. */
static int ask_one(const struct cmd *cmd)
{
	struct json_object *one = NULL;
	struct answer ans;
	char why[1100];
	int r = ask(cmd->socket_path, cmd->request, &ans), ret = r ? 1 : 0;

	if (r && r != -EREMOTEIO) {
		fprintf(stderr, "memxctl: %s: %s (is memxd running?)\n", cmd->socket_path,
			strerror(-r));
	} else if (!cmd->json) {
		fwrite(ans.buf, 1, ans.len, stdout);
	} else {
		/* The document, checked: null, and why on stderr, when it is not one. */
		one = json_object_new_array();
		if (!one || memxd_ctl_collect_json(one, ans.buf, ans.len, why, sizeof(why))) {
			fprintf(stderr, "memxctl: %s: %s\n", cmd->socket_path,
				one ? why : strerror(ENOMEM));
			ret = 1;
		}
	}
	if (cmd->json)	/* null unless a document came */
		ret |= print_json(one ? json_object_array_get_idx(one, 0) : NULL);
	json_object_put(one);
	free(ans.buf);
	return ret;
}

/* Every memxd with a socket in RUN_DIR. Returns the exit status. */
static int ask_all(const struct cmd *cmd)
{
	struct json_object *all = cmd->json ? json_object_new_array() : NULL;
	int found = 0, failed = 0;
	DIR *dir = opendir(RUN_DIR);
	struct dirent *de;

	if (cmd->json && !all) {
		fprintf(stderr, "memxctl: %s\n", strerror(ENOMEM));
		return 1;
	}
	while (dir && (de = readdir(dir))) {
		char path[512], why[1100];
		size_t len = strlen(de->d_name);
		struct answer ans;
		int r;

		if (len < 6 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		/* Donor commands are for clients. */
		if (cmd->donor_cmd && strncmp(de->d_name, "client-", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", RUN_DIR, de->d_name);
		r = ask(path, cmd->request, &ans);
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
		} else if (memxd_ctl_collect_json(all, ans.buf, ans.len, why, sizeof(why))) {
			fprintf(stderr, "memxctl: %s: %s\n", path, why);
			r = r ? r : -EBADMSG;
		}
		failed += r != 0;
		free(ans.buf);
	}
	if (dir)
		closedir(dir);
	if (all) {
		failed += print_json(all);
		json_object_put(all);
	}
	if (!found) {
		fprintf(stderr, "memxctl: no memxd %sis running (no socket in %s)\n",
			cmd->donor_cmd ? "client " : "", RUN_DIR);
		return 1;
	}
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
	memxd_json_set(v, "name", json_object_new_string(info->name), &ok);
	memxd_json_set(v, "size_bytes", json_object_new_uint64(info->size_bytes), &ok);
	memxd_json_set(v, "state", json_object_new_string(state_name(info->state)), &ok);
	memxd_json_set(v, "openers", json_object_new_uint64(info->open_count), &ok);
	memxd_json_set(v, "recovery_timeout_ms", json_object_new_uint64(info->recovery_timeout_ms),
		       &ok);
	memxd_json_set(v, "recovery_left_ms", json_object_new_uint64(info->recovery_left_ms), &ok);
	if (!ok) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* memxctl list [--json]: every volume memx.ko holds, from the kernel alone. */
static int list_volumes(bool json)
{
	int fd = open("/dev/" MEMX_CONTROL_NAME, O_RDONLY | O_CLOEXEC);
	struct json_object *all = NULL;
	unsigned int n = 0;
	bool ok = true;
	int ret = 0;

	if (fd < 0) {
		fprintf(stderr, "memxctl: /dev/%s: %s%s\n", MEMX_CONTROL_NAME, strerror(errno),
			errno == ENOENT ? " (is memx.ko loaded?)" : "");
		return 1;
	}
	if (json) {
		all = json_object_new_array();
		ok = all != NULL;
	}
	for (int id = 0; id < MEMX_MAX_DEVS; id++) {
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
				printf(" (no engine: %u s left for one to take over)",
				       (info.recovery_left_ms + 999) / 1000);
			printf(", %u opener(s)\n", info.open_count);
		}
		n++;
	}
	close(fd);
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
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json"))) {
			usage(stderr);
			return 2;
		}
		return list_volumes(argc == 3);
	}
	if (argc == 2 && (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))) {
		printf("memxctl %s (protocol %d, kernel ABI %d)\n", MEMX_VERSION,
		       MEMX_PROTO_VERSION, MEMX_ABI_VERSION);
		return 0;
	}
	r = parse_args(argc, argv, &cmd);
	if (r)
		return r;
	return cmd.socket_path ? ask_one(&cmd) : ask_all(&cmd);
}
