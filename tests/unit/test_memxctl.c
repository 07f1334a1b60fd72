// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl (daemon/memxctl.c compiled in, its main renamed, its run directory
 * one of the test's): `status --json` of every memxd is one valid JSON array
 * whatever each memxd answers, and list --json keeps its keys.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "common/limits.h"
#include "client/state_hdr.h"
#include "client/ublk_ctrl.h"
#include "prom_check.h"

static char test_run_dir[64];
#undef MEMXD_RUN_DIR
#define MEMXD_RUN_DIR test_run_dir

/* donor drain --wait: quick polls, and a progress line at each */
#define MEMXCTL_DRAIN_POLL_MS 20
#define MEMXCTL_DRAIN_LINE_MS 0
/* volume remove: an engine that stays is given up on soon */
#define MEMXCTL_REMOVE_WAIT_MS 500

int memxctl_main(int argc, char **argv);
#define main memxctl_main
#include "../../daemon/memxctl.c"
#undef main

#include <pthread.h>
#include <stdarg.h>

/* ---- fake memxd: control sockets in test_run_dir, served by one thread ----- */

#define NR_FAKES 3

static struct fake {
	struct memxd_ctl *ctl;
	memxd_ctl_fn fn;
} fakes[NR_FAKES];
static unsigned int nr_fakes;
static atomic_bool stop;
static pthread_t server;
/* Set by a fake's handler: that memxd exits (its socket closes) once it has answered. */
static atomic_bool fake_exits;

static void *serve_fakes(void *unused)
{
	while (!atomic_load(&stop)) {
		struct pollfd pfd[NR_FAKES];

		for (unsigned int i = 0; i < nr_fakes; i++)
			pfd[i] = (struct pollfd){ .fd = fakes[i].ctl ? memxd_ctl_fd(fakes[i].ctl) : -1,
						  .events = POLLIN };
		if (poll(pfd, nr_fakes, 50) <= 0)
			continue;
		for (unsigned int i = 0; i < nr_fakes; i++) {
			if (!pfd[i].revents)
				continue;
			memxd_ctl_serve(fakes[i].ctl, fakes[i].fn, NULL);
			if (atomic_exchange(&fake_exits, false)) {
				memxd_ctl_close(fakes[i].ctl);
				fakes[i].ctl = NULL;
			}
		}
	}
	return NULL;
}

static void add_fake(const char *name, memxd_ctl_fn fn)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", test_run_dir, name);
	cr_assert_eq(memxd_ctl_open(path, &fakes[nr_fakes].ctl), 0);
	fakes[nr_fakes++].fn = fn;
}

/* A client: a document (of any size) for --json, text otherwise. */
static int fake_client(void *arg, const char *line, char *out, size_t len)
{
	struct memxd_ctl_req req;
	json_object *doc, *slabs;
	bool ok = true;

	memxd_ctl_parse(line, &req);
	if (!req.json)
		return memxd_ctl_reply(out, len, "volume vol: /dev/memx0\n");
	doc = json_object_new_object();
	slabs = json_object_new_array();
	memxd_json_set(doc, "role", json_object_new_string("client"), &ok);
	for (int i = 0; req.slabs && i < 5000; i++)
		memxd_json_push(slabs, json_object_new_int(i), &ok);
	memxd_json_set(doc, "slabs", slabs, &ok);
	return memxd_ctl_reply_json(out, len, doc);
}

/* A donor as it was: --slabs refused, with a line of text. */
static int fake_old_donor(void *arg, const char *line, char *out, size_t len)
{
	struct memxd_ctl_req req;
	bool ok = true;
	json_object *doc;

	memxd_ctl_parse(line, &req);
	if (req.slabs)
		return memxd_ctl_reply(out, len, "error: a donor answers 'status', 'status --json' "
				       "and 'reload'\n");
	if (!req.json)
		return memxd_ctl_reply(out, len, "donor 10.0.0.2:7471: lends 64 MiB\n");
	doc = json_object_new_object();
	memxd_json_set(doc, "role", json_object_new_string("donor"), &ok);
	return memxd_ctl_reply_json(out, len, doc);
}

/* A suite's own client, besides the others (NULL: none), and its socket's name. */
static memxd_ctl_fn extra_fake;
static const char *extra_name = "client-drain.sock";

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	strcpy(test_run_dir, "/tmp/memx-unit-XXXXXX");
	cr_assert(mkdtemp(test_run_dir));
	if (extra_fake)
		add_fake(extra_name, extra_fake);
	add_fake("client-vol.sock", fake_client);
	add_fake("donor-10.0.0.2-7471.sock", fake_old_donor);
	/* Left by a memxd that was killed. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/client-gone.sock", test_run_dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cr_assert_eq(pthread_create(&server, NULL, serve_fakes, NULL), 0);
}

static void teardown(void)
{
	char path[128];

	atomic_store(&stop, true);
	pthread_join(server, NULL);
	for (unsigned int i = 0; i < nr_fakes; i++)
		memxd_ctl_close(fakes[i].ctl);
	snprintf(path, sizeof(path), "%s/client-gone.sock", test_run_dir);
	unlink(path);
	for (const char *const *v = (const char *const[]){ "swap", "other", "onmemx", NULL }; *v;
	     v++) {
		snprintf(path, sizeof(path), "%s/client-%s.state", test_run_dir, *v);
		unlink(path);
	}
	rmdir(test_run_dir);
}

/* Runs memxctl with args; its stdout in *out (malloc'd). Returns its exit status. */
static int memxctl(char **out, const char *arg, ...)
{
	char *argv[8] = { "memxctl", (char *)arg };
	int argc = 2, saved, r;
	FILE *f = tmpfile();
	va_list ap;
	long n;

	va_start(ap, arg);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	cr_assert(f);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(f), STDOUT_FILENO);
	r = memxctl_main(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = ftell(f);
	cr_assert_geq(n, 0);
	*out = calloc(1, (size_t)n + 1);
	rewind(f);
	cr_assert_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return r;
}

static json_object *parse_array(const char *s)
{
	json_tokener *tok = json_tokener_new();
	json_object *doc;

	cr_assert(s[0] && s[strlen(s) - 1] == '\n', "'%s'", s);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, s, (int)strlen(s) - 1);
	cr_assert(doc && json_object_is_type(doc, json_type_array), "not a JSON array: '%s'", s);
	cr_assert_eq(json_tokener_get_parse_end(tok), strlen(s) - 1, "one array, then a newline");
	json_tokener_free(tok);
	return doc;
}

/* The roles of the array's elements, sorted ("-" for null): readdir's order is not ours. */
static void roles(json_object *all, char *out, size_t len)
{
	const char *r[NR_FAKES + 2];
	size_t n = json_object_array_length(all);

	cr_assert_leq(n, NR_FAKES + 1);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(all, i), *v;

		r[i] = e && json_object_object_get_ex(e, "role", &v) ? json_object_get_string(v) : "-";
	}
	for (size_t i = 0; i < n; i++)	/* a few: insertion sort */
		for (size_t j = i; j > 0 && strcmp(r[j - 1], r[j]) > 0; j--) {
			const char *t = r[j];

			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "", r[i]);
}

TestSuite(memxctl, .init = setup, .fini = teardown, .timeout = 30);

Test(memxctl, status_json_all)
{
	char *s, got[64];
	json_object *all;

	cr_expect_eq(memxctl(&s, "status", "--json", NULL), 0, "a stale socket is no failure");
	all = parse_array(s);
	roles(all, got, sizeof(got));
	cr_expect_str_eq(got, "-,client,donor", "'%s'", s);
	json_object_put(all);
	free(s);
}

/* The bug: the donor's "error: ..." landed inside the array. */
Test(memxctl, status_json_slabs_all_with_a_refusal)
{
	char *s, got[64];
	json_object *all, *v;

	cr_expect_eq(memxctl(&s, "status", "--json", "--slabs", NULL), 1);
	all = parse_array(s);
	roles(all, got, sizeof(got));
	cr_expect_str_eq(got, "-,-,client", "the refusal and the stale socket are null: '%.200s'",
			 s);
	for (size_t i = 0; i < json_object_array_length(all); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(all, i), "slabs", &v))
			cr_expect_eq(json_object_array_length(v), 5000, "the client's answer, whole");
	json_object_put(all);
	free(s);
}

Test(memxctl, status_json_one)
{
	char path[128], *s;

	snprintf(path, sizeof(path), "%s/donor-10.0.0.2-7471.sock", test_run_dir);
	cr_expect_eq(memxctl(&s, "status", "--json", "--slabs", "--socket", path, NULL), 1);
	cr_expect_str_eq(s, "null\n", "a refusal is null, and stderr says why");
	free(s);
	cr_expect_eq(memxctl(&s, "status", "--json", "--socket", path, NULL), 0);
	cr_expect_str_eq(s, "{\"role\":\"donor\"}\n");
	free(s);
	snprintf(path, sizeof(path), "%s/client-gone.sock", test_run_dir);
	cr_expect_eq(memxctl(&s, "status", "--json", "--socket", path, NULL), 1);
	cr_expect_str_eq(s, "null\n");
	free(s);
}

/* Text stays text: each memxd's answer as it came, refusals too. */
Test(memxctl, status_text)
{
	char path[128], *s;

	snprintf(path, sizeof(path), "%s/donor-10.0.0.2-7471.sock", test_run_dir);
	cr_expect_eq(memxctl(&s, "status", "--slabs", "--socket", path, NULL), 1);
	cr_expect_str_eq(s, "error: a donor answers 'status', 'status --json' and 'reload'\n");
	free(s);
	cr_expect_eq(memxctl(&s, "status", NULL), 0, "a stale socket is no failure");
	cr_expect(strstr(s, "volume vol: /dev/memx0\n") && strstr(s, "donor 10.0.0.2:7471: lends"),
		  "'%s'", s);
	free(s);
}

/* list --json: one object per volume, its keys as the printf code wrote them. */
Test(memxctl, list_json_volume)
{
	struct memx_dev_info info = {
		.size_bytes = 1ULL << 30, .state = MEMX_S_RECOVERING, .open_count = 2,
		.recovery_timeout_ms = 60000, .recovery_left_ms = 1234,
	};
	json_object *v;
	size_t n;

	strcpy(info.name, "vol");
	v = volume_json(7, &info);
	cr_assert(v);
	cr_expect_str_eq(json_object_to_json_string_length(v, MEMXD_JSON_FLAGS, &n),
			 "{\"device\":\"/dev/memx7\",\"backend\":\"memx\",\"name\":\"vol\",\"size_bytes\":1073741824,"
			 "\"state\":\"recovering\",\"openers\":2,\"recovery_timeout_ms\":60000,"
			 "\"recovery_left_ms\":1234,\"held_requests\":null}",
			 "a memx.ko that does not count held requests: null");
	json_object_put(v);
	info.info_flags = MEMX_INFO_F_HELD;
	info.held_requests = 32;
	v = volume_json(7, &info);
	cr_assert(v);
	cr_expect(strstr(json_object_to_json_string_length(v, MEMXD_JSON_FLAGS, &n),
			 ",\"recovery_left_ms\":1234,\"held_requests\":32}"));
	json_object_put(v);
}

/* A state file as an engine of volume name leaves it (client/state_hdr.h), in test_run_dir. */
static void write_state(const char *name, uint32_t kind, uint32_t id, uint64_t bytes)
{
	struct state_hdr h = { .kbackend = kind, .kdev_id = id, .volume_bytes = bytes };
	char path[128];
	FILE *f;

	memcpy(h.magic, STATE_MAGIC, sizeof(h.magic));
	snprintf(path, sizeof(path), "%s/client-%s.state", test_run_dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	cr_assert_eq(fwrite(&h, sizeof(h), 1, f), 1);
	cr_assert_eq(fclose(f), 0);
}

/* list's ublk half: a device's volume is named by the state file that says it lives there. */
Test(memxctl, list_ublk_names_from_state_files)
{
	char name[MEMXD_NAME_MAX];
	uint64_t bytes = 0;

	write_state("swap", MEMXD_KBACKEND_UBLK, 3, 64ULL << 20);
	write_state("other", MEMXD_KBACKEND_UBLK, 4, 1ULL << 30);
	write_state("onmemx", MEMXD_KBACKEND_MEMX, 5, 1ULL << 30);
	cr_assert(memxctl_ublk_volume(test_run_dir, 3, name, sizeof(name), &bytes));
	cr_expect_str_eq(name, "swap");
	cr_expect_eq(bytes, 64ULL << 20);
	cr_expect_not(memxctl_ublk_volume(test_run_dir, 5, name, sizeof(name), &bytes),
		      "memx.ko's device 5 is no ublk device");
	cr_expect_not(memxctl_ublk_volume(test_run_dir, 9, name, sizeof(name), &bytes));
	cr_expect_str_eq(memxctl_ublk_state_name(UBLK_S_DEV_QUIESCED), "quiesced");
	cr_expect_str_eq(memxctl_ublk_state_name(UBLK_S_DEV_LIVE), "live");
	cr_expect_str_eq(memxctl_ublk_state_name(UBLK_S_DEV_DEAD), "dead");
	cr_expect_str_eq(memxctl_ublk_state_name(7), "unknown");
}

/*
 * list --json's ublk entries: every /dev/ublkcN is listed, named from the
 * state files; where ublk cannot be asked (no /dev/ublk-control here) the
 * state says unknown, not a guess.
 */
Test(memxctl, list_ublk_json)
{
	char devs[64], path[96];
	struct json_object *all = json_object_new_array(), *v;
	bool ok = true;
	size_t n;

	cr_assert(access("/dev/ublk-control", F_OK), "this test wants a host without ublk");
	strcpy(devs, "/tmp/memx-unit-dev-XXXXXX");
	cr_assert(mkdtemp(devs));
	snprintf(path, sizeof(path), "%s/ublkc3", devs);
	cr_assert_eq(mknod(path, S_IFREG | 0600, 0), 0);
	snprintf(path, sizeof(path), "%s/ublkb3", devs);
	cr_assert_eq(mknod(path, S_IFREG | 0600, 0), 0);
	write_state("swap", MEMXD_KBACKEND_UBLK, 3, 64ULL << 20);
	cr_assert_eq(memxctl_ublk_list(test_run_dir, devs, all, &ok), 1, "one device");
	cr_assert(ok);
	v = json_object_array_get_idx(all, 0);
	cr_expect_str_eq(json_object_to_json_string_length(v, MEMXD_JSON_FLAGS, &n),
			 "{\"device\":\"/dev/ublkb3\",\"backend\":\"ublk\",\"name\":\"swap\","
			 "\"size_bytes\":67108864,\"state\":\"unknown\",\"engine_pid\":0}");
	json_object_put(all);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ublkc3", devs);
	unlink(path);
	rmdir(devs);
}

/* -o json is --json, wherever it stands, in all its spellings. */
Test(memxctl, output_option)
{
	char *s, *t, got[64];
	json_object *all;

	cr_expect_eq(memxctl(&s, "status", "--json", NULL), 0);
	all = parse_array(s);
	roles(all, got, sizeof(got));
	cr_expect_str_eq(got, "-,client,donor");
	json_object_put(all);
	free(s);
	cr_expect_eq(memxctl(&t, "-o", "json", "status", NULL), 0);
	all = parse_array(t);
	roles(all, got, sizeof(got));
	cr_expect_str_eq(got, "-,client,donor", "-o before the command");
	json_object_put(all);
	free(t);
	cr_expect_eq(memxctl(&t, "status", "--output=json", NULL), 0);
	json_object_put(parse_array(t));
	free(t);
	cr_expect_eq(memxctl(&t, "status", "-ojson", "-o", "text", NULL), 0, "the last one counts");
	cr_expect(strstr(t, "volume vol: /dev/memx0\n"), "'%s'", t);
	free(t);
	cr_expect_eq(memxctl(&t, "status", "-o", "yaml", NULL), 2);
	free(t);
	cr_expect_eq(memxctl(&t, "status", "-o", NULL), 2);
	free(t);
	cr_expect_eq(memxctl(&t, "reload", "-o", "json", NULL), 2, "reload answers in text");
	free(t);
	cr_expect_eq(memxctl(&t, "list", "-o", "prometheus", NULL), 2);
	free(t);
}

/* Every memxd, as metrics that parse: who answered is memx_up, not the exit status. */
Test(memxctl, status_prometheus)
{
	char path[128], *s;
	const char *why;

	cr_expect_eq(memxctl(&s, "status", "-o", "prometheus", NULL), 0);
	why = prom_check(s);
	cr_expect_null(why, "%s in:\n%s", why, s);
	cr_expect(strstr(s, "\nmemx_up{daemon=\"client-vol\",role=\"client\"} 1\n"), "%s", s);
	cr_expect(strstr(s, "\nmemx_up{daemon=\"donor-10.0.0.2-7471\",role=\"donor\"} 1\n"),
		  "%s", s);
	cr_expect(strstr(s, "\nmemx_up{daemon=\"client-gone\"} 0\n"), "the stale socket: %s", s);
	free(s);
	/* --slabs: the old donor refuses; it is down for the metrics, and that is no failure */
	cr_expect_eq(memxctl(&s, "status", "-o", "prometheus", "--slabs", NULL), 0);
	cr_expect_null(prom_check(s), "%s", s);
	cr_expect(strstr(s, "\nmemx_up{daemon=\"donor-10.0.0.2-7471\"} 0\n"), "%s", s);
	free(s);
	snprintf(path, sizeof(path), "%s/client-vol.sock", test_run_dir);
	cr_expect_eq(memxctl(&s, "status", "-o", "prometheus", "--socket", path, NULL), 0);
	cr_expect_null(prom_check(s), "%s", s);
	cr_expect(strstr(s, "\nmemx_up{daemon=\"client-vol\",role=\"client\"} 1\n") &&
		  !strstr(s, "donor-10"), "one memxd only: %s", s);
	free(s);
}

/* version -o json: memxctl's versions, memx.ko (not loaded on a test host), each memxd. */
Test(memxctl, version_json)
{
	json_object *doc, *v, *daemons;
	char *s;
	int found = 0;

	cr_assert_eq(memxctl(&s, "version", "-o", "json", NULL), 0);
	doc = json_tokener_parse(s);
	cr_assert(doc, "'%s'", s);
	cr_expect(json_object_object_get_ex(doc, "memxctl", &v) &&
		  !strcmp(json_object_get_string(json_object_object_get(v, "version")),
			  MEMX_VERSION), "%s", s);
	cr_expect_eq(json_object_get_int(json_object_object_get(v, "abi")), MEMX_ABI_VERSION);
	cr_expect(json_object_object_get_ex(doc, "module", &v) &&
		  json_object_object_get_ex(v, "loaded", NULL), "%s", s);
	cr_assert(json_object_object_get_ex(doc, "daemons", &daemons));
	cr_expect_eq(json_object_array_length(daemons), 3, "%s", s);
	for (size_t i = 0; i < json_object_array_length(daemons); i++) {
		json_object *d = json_object_array_get_idx(daemons, i);
		const char *name = json_object_get_string(json_object_object_get(d, "daemon"));

		if (!strcmp(name, "client-gone")) {
			found |= 1;
			cr_expect(json_object_object_get_ex(d, "error", NULL), "%s", s);
		} else if (!strcmp(name, "client-vol") || !strcmp(name, "donor-10.0.0.2-7471")) {
			/* the fakes' documents carry no version: an older memxd's */
			found |= !strcmp(name, "client-vol") ? 2 : 4;
			cr_expect_str_eq(json_object_get_string(json_object_object_get(d, "version")),
					 "unknown");
		}
	}
	cr_expect_eq(found, 7, "%s", s);
	json_object_put(doc);
	free(s);
	cr_expect_eq(memxctl(&s, "version", NULL), 0);
	cr_expect(!strncmp(s, "memxctl " MEMX_VERSION " (protocol ", 17 + strlen(MEMX_VERSION)) &&
		  strstr(s, "\nmemxd client-vol unknown\n") &&
		  strstr(s, "\nmemxd client-gone: no answer (stale socket"), "'%s'", s);
	free(s);
}

/*
 * A client draining donor 10.0.0.9:7471 of 3 slabs: each status it answers
 * shows one slab fewer there, and 1 MiB more copied; at 0 the donor has left
 * (drain_dies: it is dead at 1 instead).
 */
static atomic_int drain_polls;
static bool drain_dies;

static int fake_drainer(void *arg, const char *line, char *out, size_t len)
{
	struct memxd_ctl_req req;
	json_object *doc, *vol, *vols, *dn, *dns;
	int left;
	bool ok = true;

	memxd_ctl_parse(line, &req);
	if (req.kind == MEMXD_CTL_DONOR_DRAIN)
		return strcmp(req.arg, "10.0.0.9") ?
		       memxd_ctl_reply(out, len, "error: no donor %s in volume d\n", req.arg) :
		       memxd_ctl_reply(out, len, "draining 10.0.0.9:7471: 3 slabs to move\n");
	if (!req.json)
		return memxd_ctl_reply(out, len, "volume d\n");
	left = 3 - atomic_fetch_add(&drain_polls, 1);
	left = left < 0 ? 0 : left;
	doc = json_object_new_object();
	vols = json_object_new_array();
	vol = json_object_new_object();
	dns = json_object_new_array();
	dn = json_object_new_object();
	memxd_json_set(doc, "role", json_object_new_string("client"), &ok);
	memxd_json_set(vol, "name", json_object_new_string("d"), &ok);
	memxd_json_set(vol, "slab_size", json_object_new_uint64(4 << 20), &ok);
	memxd_json_set(vol, "copied_bytes", json_object_new_uint64((3 - left) << 20), &ok);
	memxd_json_push(vols, vol, &ok);
	memxd_json_set(doc, "volumes", vols, &ok);
	memxd_json_set(dn, "address", json_object_new_string("10.0.0.9:7471"), &ok);
	memxd_json_set(dn, "state", json_object_new_string(drain_dies && left == 1 ? "dead" :
							  left ? "draining" : "left"), &ok);
	memxd_json_set(dn, "slabs", json_object_new_uint64(left), &ok);
	memxd_json_push(dns, dn, &ok);
	memxd_json_set(doc, "donors", dns, &ok);
	return memxd_ctl_reply_json(out, len, doc);
}

static void setup_drain(void)
{
	extra_fake = fake_drainer;
	atomic_store(&drain_polls, 0);
	setup();
}

TestSuite(drain, .init = setup_drain, .fini = teardown, .timeout = 30);

/* Progress, then the end: slabs moved, bytes left, a rate and an ETA once there is one. */
Test(drain, wait)
{
	char path[128], *s;

	snprintf(path, sizeof(path), "%s/client-drain.sock", test_run_dir);
	cr_assert_eq(memxctl(&s, "donor", "drain", "10.0.0.9", "--wait", "--socket", path, NULL),
		     0, "'%s'", s);
	cr_expect(!strncmp(s, "draining 10.0.0.9:7471: 3 slabs to move\n"
			   "draining 10.0.0.9:7471: 0 of 3 slab(s) moved, 12 MiB left\n", 95),
		  "'%s'", s);
	cr_expect(strstr(s, "\ndraining 10.0.0.9:7471: 1 of 3 slab(s) moved, 8.0 MiB left, ") &&
		  strstr(s, " ETA "), "'%s'", s);
	cr_expect(strstr(s, "\ndrained 10.0.0.9:7471: 3 slab(s) moved in "), "'%s'", s);
	free(s);
}

/* Every client asked; only the one that drains is followed (the others hold no such donor). */
Test(drain, wait_all_clients)
{
	char *s;

	cr_expect_eq(memxctl(&s, "donor", "drain", "10.0.0.9", "--wait", NULL), 0, "'%s'", s);
	cr_expect(strstr(s, "\ndrained 10.0.0.9:7471: 3 slab(s) moved in "), "'%s'", s);
	free(s);
	/* no client drains that donor: nothing to wait for */
	cr_expect_eq(memxctl(&s, "donor", "drain", "10.0.0.8", "--wait", NULL), 1, "'%s'", s);
	free(s);
}

Test(drain, donor_dies)
{
	char path[128], *s;

	drain_dies = true;
	snprintf(path, sizeof(path), "%s/client-drain.sock", test_run_dir);
	cr_expect_eq(memxctl(&s, "donor", "drain", "10.0.0.9", "--wait", "--socket", path, NULL),
		     1, "'%s'", s);
	cr_expect_null(strstr(s, "drained"), "'%s'", s);
	drain_dies = false;
	free(s);
}

/*
 * The engine of volume rm0: "volume remove rm0" starts its removal (it answers,
 * then exits, as after SIGTERM), unless remover_stays (it refuses, as SIGTERM
 * does while the volume is open, and keeps serving).
 */
static bool remover_stays;

static int fake_remover(void *arg, const char *line, char *out, size_t len)
{
	struct memxd_ctl_req req;

	memxd_ctl_parse(line, &req);
	if (req.kind != MEMXD_CTL_VOLUME_REMOVE)
		return memxd_ctl_reply(out, len, "volume rm0: /dev/memx5\n");
	if (strcmp(req.arg, "rm0"))
		return memxd_ctl_reply(out, len, "error: this memxd serves volume rm0, not %s\n",
				       req.arg);
	if (!remover_stays)
		atomic_store(&fake_exits, true);
	return memxd_ctl_reply(out, len, "removing volume rm0 (/dev/memx5)\n");
}

static void setup_remove(void)
{
	extra_fake = fake_remover;
	extra_name = "client-rm0.sock";
	setup();
}

TestSuite(remove, .init = setup_remove, .fini = teardown, .timeout = 30);

/* The engine answers and goes: removed. Its socket is found by the volume's name. */
Test(remove, removed)
{
	char *s;

	cr_expect_eq(memxctl(&s, "volume", "remove", "rm0", NULL), 0, "'%s'", s);
	cr_expect_str_eq(s, "removing volume rm0 (/dev/memx5)\nremoved volume rm0\n");
	free(s);
	cr_expect_eq(memxctl(&s, "volume", "remove", "rm0", NULL), 1, "gone now: '%s'", s);
	free(s);
}

/* The engine stays (the volume is open): not removed, exit 1, not a hang. */
Test(remove, refused)
{
	char *s;

	remover_stays = true;
	cr_expect_eq(memxctl(&s, "volume", "remove", "rm0", NULL), 1, "'%s'", s);
	cr_expect_null(strstr(s, "removed"), "'%s'", s);
	free(s);
}

Test(remove, wrong_volume_or_usage)
{
	char path[128], *s;

	snprintf(path, sizeof(path), "%s/client-rm0.sock", test_run_dir);
	cr_expect_eq(memxctl(&s, "volume", "remove", "other", "--socket", path, NULL), 1);
	cr_expect_str_eq(s, "", "the refusal goes to stderr");
	free(s);
	cr_expect_eq(memxctl(&s, "volume", "remove", "nosuch", NULL), 1, "no engine");
	free(s);
	cr_expect_eq(memxctl(&s, "volume", "remove", NULL), 2);
	free(s);
	cr_expect_eq(memxctl(&s, "volume", "remove", "a/b", NULL), 2);
	free(s);
	cr_expect_eq(memxctl(&s, "volume", "remove", "rm0", "-o", "json", NULL), 2);
	free(s);
}

/* ---- a request memxd answers later: "wait:" lines first --------------------- */

/* A raw memxd: sends each of parts (NULL-ended) to the first peer, a pause_ms before each. */
struct raw_memxd {
	int fd;
	const char *const *parts;
	unsigned int pause_ms;
	bool broken;	/* no peer, or no request line from it */
};

/* The server thread asserts nothing itself (Criterion's asserts belong to the test's thread). */
static void *serve_raw(void *p)
{
	struct raw_memxd *m = p;
	int cfd = accept(m->fd, NULL, NULL);
	char line[256];

	if (cfd < 0 || read(cfd, line, sizeof(line)) <= 0) {
		m->broken = true;
		if (cfd >= 0)
			close(cfd);
		return NULL;
	}
	for (const char *const *s = m->parts; *s; s++) {
		usleep(m->pause_ms * 1000);
		/* A peer that gave up is gone: no SIGPIPE. */
		if (send(cfd, *s, strlen(*s), MSG_NOSIGNAL) != (ssize_t)strlen(*s))
			break;
	}
	close(cfd);
	return NULL;
}

static int raw_ask_req(const char *request, const char *const *parts, unsigned int pause_ms,
		       struct memxctl_answer *ans)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct raw_memxd m = { .parts = parts, .pause_ms = pause_ms };
	char dir[] = "/tmp/memx-unit-XXXXXX";
	pthread_t t;
	int r;

	cr_assert(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/client-slow.sock", dir);
	m.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(m.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(m.fd, 1), 0);
	cr_assert_eq(pthread_create(&t, NULL, serve_raw, &m), 0);
	r = memxctl_ask(sa.sun_path, request, ans);
	pthread_join(t, NULL);
	cr_expect_not(m.broken, "the raw memxd got no request");
	close(m.fd);
	unlink(sa.sun_path);
	rmdir(dir);
	return r;
}

static int raw_ask(const char *const *parts, unsigned int pause_ms, struct memxctl_answer *ans)
{
	return raw_ask_req("volume detach\n", parts, pause_ms, ans);
}

/* The wait lines (one split in two) go to stderr; the answer, 6 s later, is waited for. */
Test(drain, later_answer_after_wait_lines)
{
	static const char *const parts[] = { "wa", "it: copying\nwait: still\nde", "tached\n",
					     NULL };
	struct memxctl_answer ans;

	/* Each part 2.5 s apart: over memxctl's 5 s once the first wait line came. */
	cr_assert_eq(raw_ask(parts, 2500, &ans), 0);
	cr_expect_eq(ans.len, 9);
	cr_expect_eq(memcmp(ans.buf, "detached\n", 9), 0, "'%.*s'", (int)ans.len, ans.buf);
	free(ans.buf);
}

/*
 * Without a wait line, a memxd silent for more than MEMXCTL_STATUS_S is given
 * up on for a status; a change (its control thread may be inside a control
 * message of 5 s) gets MEMXCTL_CHANGE_S. (In the drain suite, whose fakes
 * these do not use: a suite of their own made LeakSanitizer find 48 bytes
 * that Criterion's runner keeps.)
 */
Test(drain, later_silent_memxd_times_out)
{
	static const char *const parts[] = { "late\n", NULL };
	struct memxctl_answer ans;
	int r;

	cr_expect_eq(raw_ask_req("status --json\n", parts, (MEMXCTL_STATUS_S + 1) * 1000, &ans),
		     -ETIMEDOUT);
	free(ans.buf);
	r = raw_ask(parts, (MEMXCTL_STATUS_S + 3) * 1000, &ans);
	cr_expect_eq(r, 0, "a change, late: %d", r);
	cr_expect_eq(ans.len, 5);
	free(ans.buf);
}

/* Answers that only look like the start of a wait line are answers. */
Test(drain, later_short_answers_kept)
{
	static const char *const wai[] = { "wai", NULL }, *const err[] = { "error: x\n", NULL };
	struct memxctl_answer ans;

	cr_expect_eq(raw_ask(wai, 0, &ans), 0);
	cr_expect_eq(ans.len, 3);
	cr_expect_eq(memcmp(ans.buf, "wai", 3), 0);
	free(ans.buf);
	cr_expect_eq(raw_ask(err, 0, &ans), -EREMOTEIO);
	free(ans.buf);
}
