// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl: talks to running memxd processes.
 *   memxctl status [--json] [--slabs] [--socket PATH]
 *   memxctl list [--json]
 *   memxctl donor drain ADDR[:PORT] [--socket PATH]
 *   memxctl donor add ADDR[:PORT] [--socket PATH]
 *   memxctl reload [--socket PATH]
 *   memxctl keygen PATH [--id N]
 *   memxctl version
 * Without --socket, status asks every memxd on this machine (each has a
 * socket in /run/memx) and donor commands go to every client. With --json the
 * answer is one JSON object per memxd, wrapped in a JSON array. An answer
 * that starts with "error:" makes memxctl exit 1. list asks memx.ko itself,
 * so it also shows volumes whose engine is dead or gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
		"       memxctl keygen PATH [--id N]       write a new cluster key file (id 1)\n"
		"       memxctl version                    memx, protocol and kernel ABI versions\n");
}

/* Sends one request to one socket and copies the answer to stdout. Returns 0 or -errno. */
static int ask(const char *path, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t n;
	int fd, r = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A memxd that is stopped (SIGSTOP, hung) must not hang us too. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 5 },
		   sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 5 },
		   sizeof(struct timeval));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		r = -errno;
		close(fd);
		return r;
	}
	bool first = true;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 6 && !memcmp(buf, "error:", 6))
			r = -EREMOTEIO;
		first = false;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	if (n < 0)
		r = errno == EAGAIN ? -ETIMEDOUT : -errno;
	close(fd);
	return r;
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
	int r = ask(cmd->socket_path, cmd->request);

	if (r == -EREMOTEIO)
		return 1;
	if (r) {
		fprintf(stderr, "memxctl: %s: %s (is memxd running?)\n", cmd->socket_path,
			strerror(-r));
		return 1;
	}
	return 0;
}

/* Every memxd with a socket in RUN_DIR. Returns the exit status. */
static int ask_all(const struct cmd *cmd)
{
	int found = 0, failed = 0, printed = 0;
	DIR *dir = opendir(RUN_DIR);
	struct dirent *de;

	if (cmd->json)
		printf("[");
	while (dir && (de = readdir(dir))) {
		char path[512];
		size_t len = strlen(de->d_name);
		int r;

		if (len < 6 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		/* Donor commands are for clients. */
		if (cmd->donor_cmd && strncmp(de->d_name, "client-", 7))
			continue;
		snprintf(path, sizeof(path), "%s/%s", RUN_DIR, de->d_name);
		if (cmd->json && printed++)
			printf(",");
		fflush(stdout);
		r = ask(path, cmd->request);
		if (r == -ECONNREFUSED || r == -ENOENT) {
			/* Left behind by a memxd that was killed: not an error of ours. */
			fprintf(stderr, "memxctl: %s: stale socket, no memxd behind it\n", path);
			if (cmd->json)
				printf("null");
			continue;
		}
		if (r && r != -EREMOTEIO) {
			fprintf(stderr, "memxctl: %s: no answer: %s\n", path, strerror(-r));
			if (cmd->json)
				printf("null");
		}
		failed += r != 0;
		found++;
	}
	if (dir)
		closedir(dir);
	if (cmd->json)
		printf("]\n");
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

/* memxctl list [--json]: every volume memx.ko holds, from the kernel alone. */
static int list_volumes(bool json)
{
	int fd = open("/dev/" MEMX_CONTROL_NAME, O_RDONLY | O_CLOEXEC);
	unsigned int n = 0;

	if (fd < 0) {
		fprintf(stderr, "memxctl: /dev/%s: %s%s\n", MEMX_CONTROL_NAME, strerror(errno),
			errno == ENOENT ? " (is memx.ko loaded?)" : "");
		return 1;
	}
	if (json)
		printf("[");
	for (int id = 0; id < MEMX_MAX_DEVS; id++) {
		struct memx_dev_info info = { .dev_id = id };

		if (ioctl(fd, MEMX_CTRL_GET_INFO, &info))
			continue;	/* ENODEV: no such volume */
		info.name[sizeof(info.name) - 1] = '\0';
		if (json) {
			printf("%s{\"device\":\"/dev/" MEMX_DISK_NAME "%d\",\"name\":\"%s\","
			       "\"size_bytes\":%" PRIu64 ",\"state\":\"%s\",\"openers\":%u,"
			       "\"recovery_timeout_ms\":%u,\"recovery_left_ms\":%u}", n ? "," : "",
			       id, info.name, (uint64_t)info.size_bytes, state_name(info.state),
			       info.open_count, info.recovery_timeout_ms, info.recovery_left_ms);
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
	if (json)
		printf("]\n");
	else if (!n)
		printf("no memx volumes\n");
	return 0;
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
