// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl status -o prometheus (daemon/memxctl_prom.c): a client's and a
 * donor's status documents, as memxd writes them, become an exposition that
 * parses (prom_check.h), in base units, with the values the documents hold;
 * a memxd that did not answer is memx_up 0; label values are escaped. And the
 * checker itself refuses what the format forbids, so that it can fail.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memxctl_prom.h"
#include "prom_check.h"

/* A client's status --json, as tests/unit/test_status.c pins it (trimmed). */
static const char client_doc[] =
	"{\"role\":\"client\",\"version\":\"0.1.0\",\"log_dropped\":3,\"key_id\":9,"
	"\"insecure\":false,"
	"\"volumes\":[{\"name\":\"swap0\",\"device\":\"/dev/memx3\",\"size\":20971520,"
	"\"slab_size\":4194304,\"slabs\":5,\"slabs_mapped\":5,\"slabs_lost\":1,\"replicas\":2,"
	"\"queues\":3,\"depth\":64,\"recovery_timeout_s\":60,\"resumed\":false,"
	"\"io\":{\"reads\":33,\"writes\":60,\"read_bytes\":135168,\"write_bytes\":7,"
	"\"flushes\":0,\"discards\":0,\"write_zeroes\":0,\"errors\":2,\"zero_reads\":0,"
	"\"commits\":0,\"wakeups\":0,\"rdma_posts\":0,\"cq_arms\":0,\"failovers\":0,"
	"\"checksum_errors\":0,\"repairs\":0},"
	"\"scrub\":{\"rate\":4194304,\"passes\":2,\"bytes\":0,\"bad_blocks\":0,\"repaired\":0,"
	"\"slab\":0},"
	"\"rereplication_backlog\":7,\"slabs_rereplicated\":5,\"slabs_moved\":0,"
	"\"copied_bytes\":0,\"poll_queues\":1,\"poll_us\":50,\"checksums\":true,"
	"\"queue_requests\":[30,31,32]}],"
	"\"donors\":[{\"address\":\"10.0.0.2:7471\",\"state\":\"live\",\"host\":\"host0\","
	"\"zone\":\"\",\"memory_total\":1073741824,\"memory_free\":536870912,\"slabs\":5,"
	"\"evict_bytes\":0,\"lease_s\":60},"
	"{\"address\":\"10.0.0.4:7471\",\"state\":\"dead\",\"host\":\"h\",\"zone\":\"\","
	"\"memory_total\":1073741824,\"memory_free\":0,\"slabs\":5,\"evict_bytes\":0,"
	"\"lease_s\":60}],"
	"\"copysets\":[]}";

static const char donor_doc[] =
	"{\"role\":\"donor\",\"version\":\"0.1.0\",\"listen\":\"10.0.0.2:7471\","
	"\"memory_total\":1073741824,\"memory_free\":1000,\"clients\":1,\"connections\":2,"
	"\"grants\":10,\"frees\":4,\"rejects\":0,\"evictions\":0,\"leaving\":true,"
	"\"auth_failures\":1,\"insecure\":false,\"keys\":1,\"volumes_leased\":0}";

/* The exposition of docs (NULL: a memxd that did not answer), malloc'd. */
static char *expose(const char *const *docs, const char *const *daemons, size_t n)
{
	json_object *all = json_object_new_array();
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert(all && f);
	for (size_t i = 0; i < n; i++) {
		json_object *doc = docs[i] ? json_tokener_parse(docs[i]) : NULL;

		cr_assert(!docs[i] || doc, "test document %zu is not JSON", i);
		cr_assert_eq(json_object_array_add(all, doc), 0);
	}
	cr_assert_eq(memxctl_prom_write(f, all, daemons), 0);
	cr_assert_eq(fclose(f), 0);
	json_object_put(all);
	return text;
}

static void expect_line(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	cr_expect(strstr(text, want), "no line '%s' in:\n%s", line, text);
}

Test(prom, client_and_donor)
{
	const char *docs[] = { client_doc, donor_doc, NULL };
	const char *daemons[] = { "client-swap0", "donor-10.0.0.2-7471", "client-gone" };
	char *text = expose(docs, daemons, 3);
	const char *why = prom_check(text);

	cr_expect_null(why, "%s in:\n%s", why, text);
	cr_expect(!strncmp(text, "# HELP memx_up ", 15), "%.80s", text);
	expect_line(text, "memx_up{daemon=\"client-swap0\",role=\"client\"} 1");
	expect_line(text, "memx_up{daemon=\"donor-10.0.0.2-7471\",role=\"donor\"} 1");
	expect_line(text, "memx_up{daemon=\"client-gone\"} 0");
	expect_line(text, "# TYPE memx_volume_read_bytes_total counter");
	expect_line(text, "memx_volume_read_bytes_total{volume=\"swap0\"} 135168");
	expect_line(text, "memx_volume_written_bytes_total{volume=\"swap0\"} 7");
	expect_line(text, "memx_volume_io_errors_total{volume=\"swap0\"} 2");
	expect_line(text, "memx_volume_size_bytes{volume=\"swap0\"} 20971520");
	expect_line(text, "memx_volume_recovery_timeout_seconds{volume=\"swap0\"} 60");
	expect_line(text, "memx_volume_rereplication_backlog_slabs{volume=\"swap0\"} 7");
	expect_line(text, "memx_client_donor_live{volume=\"swap0\",donor=\"10.0.0.2:7471\"} 1");
	expect_line(text, "memx_client_donor_live{volume=\"swap0\",donor=\"10.0.0.4:7471\"} 0");
	expect_line(text, "memx_client_donor_memory_free_bytes{volume=\"swap0\","
		    "donor=\"10.0.0.2:7471\"} 536870912");
	expect_line(text, "memx_donor_memory_free_bytes{donor=\"10.0.0.2:7471\"} 1000");
	expect_line(text, "memx_donor_leaving{donor=\"10.0.0.2:7471\"} 1");
	expect_line(text, "memx_donor_auth_failures_total{donor=\"10.0.0.2:7471\"} 1");
	expect_line(text, "memx_log_dropped_total{daemon=\"client-swap0\"} 3");
	free(text);
}

/* Nobody answered: memx_up only, and it still parses (the timer writes it). */
Test(prom, nobody)
{
	const char *docs[] = { NULL };
	const char *daemons[] = { "donor-x" };
	char *text = expose(docs, daemons, 1);

	cr_expect_null(prom_check(text), "%s", text);
	cr_expect_str_eq(text, "# HELP memx_up 1 if the memxd answered memxctl with its status, "
			 "else 0.\n# TYPE memx_up gauge\nmemx_up{daemon=\"donor-x\"} 0\n");
	free(text);
	text = expose(docs, daemons, 0);
	cr_expect_null(prom_check(text), "%s", text);
	free(text);
}

/* Label values are escaped: quotes, backslashes, newlines. */
Test(prom, escaping)
{
	const char *docs[] = { "{\"role\":\"donor\",\"listen\":\"a\\\"b\\\\c\\nd\","
			       "\"memory_total\":1}" };
	const char *daemons[] = { "we\"ird" };
	char *text = expose(docs, daemons, 1);

	cr_expect_null(prom_check(text), "%s", text);
	expect_line(text, "memx_donor_memory_bytes{donor=\"a\\\"b\\\\c\\nd\"} 1");
	expect_line(text, "memx_up{daemon=\"we\\\"ird\",role=\"donor\"} 1");
	free(text);
}

/* The checker refuses what it must, or the tests above prove nothing. */
Test(prom, checker_refuses)
{
	static const char *const bad[] = {
		"m 1",						/* no newline at the end */
		"m 1\n",					/* no TYPE */
		"# HELP m x\n# TYPE m gauge\nm{a=\"1\"} one\n",	/* not a number */
		"# HELP m x\n# TYPE m gauge\nm{a=1} 1\n",	/* unquoted label */
		"# HELP m x\n# TYPE m gauge\nm{a=\"\\x\"} 1\n",	/* bad escape */
		"# HELP m x\n# TYPE m gauge\nm 1\nm 2\n",	/* a series twice */
		"# HELP m x\n# TYPE m counter\nm 1\n",		/* a counter without _total */
		"# HELP m x\n# TYPE m gauge\n# TYPE m gauge\nm 1\n",	/* TYPE twice */
		"# HELP m x\n# TYPE m gauge\n# HELP n x\n# TYPE n gauge\nm{a=\"1\"} 1\n"
		"n 1\nm{a=\"2\"} 1\n",				/* m's samples apart */
		"# HELP m x\n# TYPE m gauge\nm 1\n# HELP m y\n",	/* HELP after samples */
		"# HELP 1m x\n# TYPE 1m gauge\n1m 1\n",		/* bad name */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not_null(prom_check(bad[i]), "accepted: '%s'", bad[i]);
	cr_expect_null(prom_check("# HELP m_total x\n# TYPE m_total counter\n"
				  "m_total{a=\"\\\"\\\\\\n\"} 1.5e3\n# plain comment\n\n"
				  "# HELP g x\n# TYPE g gauge\ng -1\ng{b=\"\"} +Inf\n"));
}
