// SPDX-License-Identifier: GPL-2.0
/* memxctl list's ublk half (memxctl_ublk.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/kbackend.h"
#include "client/state_hdr.h"
#include "client/ublk_ctrl.h"
#include "common/ctl.h"
#include "memxctl_ublk.h"

bool memxctl_ublk_volume(const char *run_dir, uint32_t id, char *name, size_t len,
			 uint64_t *bytes)
{
	DIR *dir = opendir(run_dir);
	struct dirent *e;
	time_t newest = 0;
	bool found = false;

	if (!dir)
		return false;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		struct state_hdr h;
		struct stat st;
		int fd;

		if (strncmp(e->d_name, "client-", 7) || n <= 7 + 6 ||
		    strcmp(e->d_name + n - 6, ".state"))
			continue;
		fd = openat(dirfd(dir), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && !fstat(fd, &st) &&
		    !memcmp(h.magic, STATE_MAGIC, sizeof(h.magic)) &&
		    h.kbackend == MEMXD_KBACKEND_UBLK && h.kdev_id == id &&
		    (!found || st.st_mtime >= newest)) {
			snprintf(name, len, "%.*s", (int)(n - 7 - 6), e->d_name + 7);
			*bytes = h.volume_bytes;
			newest = st.st_mtime;
			found = true;
		}
		close(fd);
	}
	closedir(dir);
	return found;
}

const char *memxctl_ublk_state_name(int state)
{
	switch (state) {
	case UBLK_S_DEV_DEAD: return "dead";
	case UBLK_S_DEV_LIVE: return "live";
	case UBLK_S_DEV_QUIESCED: return "quiesced";
	default: return "unknown";
	}
}

static struct json_object *ublk_json(uint32_t id, const char *name, uint64_t bytes,
				     const char *state, int32_t pid)
{
	struct json_object *v = json_object_new_object();
	char dev[32];
	bool ok = true;

	snprintf(dev, sizeof(dev), "/dev/ublkb%" PRIu32, id);
	memxd_json_set(v, "device", json_object_new_string(dev), &ok);
	memxd_json_set(v, "backend", json_object_new_string("ublk"), &ok);
	memxd_json_set(v, "name", json_object_new_string(name), &ok);
	memxd_json_set(v, "size_bytes", json_object_new_uint64(bytes), &ok);
	memxd_json_set(v, "state", json_object_new_string(state), &ok);
	memxd_json_set(v, "engine_pid", json_object_new_int(pid), &ok);
	if (!ok) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

/* What the state means for the volume, after its name in the text listing. */
static const char *state_why(int state, bool engine_gone)
{
	/* ublk notices a dead server only when its commands are cancelled: not at once. */
	if (state == UBLK_S_DEV_LIVE && engine_gone)
		return "; no engine: its pid is gone, ublk has not noticed yet";
	switch (state) {
	case UBLK_S_DEV_QUIESCED:
		return "; no engine: ublk holds its requests for the next one";
	case UBLK_S_DEV_DEAD:
		return "; stopped: its requests fail";
	default:
		return "";
	}
}

unsigned int memxctl_ublk_list(const char *run_dir, const char *dev_dir,
			       struct json_object *all, bool *ok)
{
	struct memxd_ublk_ctrl ctrl = { .fd = -1 };
	bool asked = !memxd_ublk_ctrl_open(&ctrl);
	DIR *dir = opendir(dev_dir);
	struct dirent *e;
	unsigned int n = 0;

	while (dir && (e = readdir(dir))) {
		struct ublksrv_ctrl_dev_info info = { 0 };
		char name[MEMXD_NAME_MAX] = "-", tail;
		uint64_t bytes = 0;
		const char *state = "unknown";
		int st = -1;
		bool gone;
		uint32_t id;

		if (sscanf(e->d_name, "ublkc%" SCNu32 "%c", &id, &tail) != 1)
			continue;
		if (asked) {
			int r = memxd_ublk_get_info(&ctrl, id, &info);

			if (r == -ENODEV)
				continue;	/* removed since readdir */
			if (!r) {
				st = info.state;
				state = memxctl_ublk_state_name(st);
			}
		}
		memxctl_ublk_volume(run_dir, id, name, sizeof(name), &bytes);
		gone = st == UBLK_S_DEV_LIVE && (info.ublksrv_pid <= 0 ||
						 (kill(info.ublksrv_pid, 0) && errno == ESRCH));
		if (all) {
			memxd_json_push(all, ublk_json(id, name, bytes, state,
						       st == UBLK_S_DEV_LIVE && !gone ?
						       info.ublksrv_pid : 0),
					ok);
		} else {
			printf("/dev/ublkb%-3" PRIu32 " %-20s %8" PRIu64 " MiB  %s (ublk%s)\n", id,
			       name, bytes >> 20, state, state_why(st, gone));
		}
		n++;
	}
	if (dir)
		closedir(dir);
	if (asked)
		memxd_ublk_ctrl_close(&ctrl);
	return n;
}
