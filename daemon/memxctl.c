// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl: asks running memxd processes how they are.
 *   memxctl status [--json] [--socket PATH]
 * Without --socket it asks every memxd on this machine (each has a socket in
 * /run/memx). With --json the answer is one JSON object per memxd, wrapped
 * in a JSON array.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RUN_DIR "/run/memx"

static void usage(FILE *f)
{
	fprintf(f, "usage: memxctl status [--json] [--socket PATH]\n");
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
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0)
		r = -errno;
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *request;
	bool json = false;
	int found = 0, failed = 0;
	DIR *dir;
	struct dirent *de;

	if (argc < 2 || strcmp(argv[1], "status")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return 0;
		}
		if (argc >= 2)
			fprintf(stderr, "memxctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			socket_path = argv[++i];
		} else {
			fprintf(stderr, "memxctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	request = json ? "status --json\n" : "status\n";
	if (socket_path) {
		int r = ask(socket_path, request);

		if (r) {
			fprintf(stderr, "memxctl: %s: %s (is memxd running?)\n", socket_path,
				strerror(-r));
			return 1;
		}
		return 0;
	}
	dir = opendir(RUN_DIR);
	if (json)
		printf("[");
	while (dir && (de = readdir(dir))) {
		char path[512];
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", RUN_DIR, de->d_name);
		if (json && found)
			printf(",");
		fflush(stdout);
		if (ask(path, request)) {
			fprintf(stderr, "memxctl: %s: no answer (a memxd that died?)\n", path);
			failed++;
			if (json)
				printf("null");
		}
		found++;
	}
	if (dir)
		closedir(dir);
	if (json)
		printf("]\n");
	if (!found) {
		fprintf(stderr, "memxctl: no memxd is running (no socket in %s)\n", RUN_DIR);
		return 1;
	}
	return failed ? 1 : 0;
}
