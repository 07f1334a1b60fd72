// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus' text exposition of memxd status documents (memxctl status -o
 * prometheus). The metrics are a table: a family's name, type and help, which
 * part of a document holds its samples (the memxd itself, each volume of a
 * client, each donor as a client sees it, a donor daemon) and the JSON key of
 * the value. Writing goes family by family over every document, because the
 * format wants one family's samples together, with one HELP and TYPE first.
 * Names follow Prometheus' conventions: memx_ prefix, base units (bytes,
 * seconds) in the name, _total on counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "memxctl_prom.h"

/* Which part of a status document a family's samples come from. */
enum prom_scope {
	PROM_CLIENT_VOLUME,	/* each of a client's "volumes": label volume */
	PROM_CLIENT_DONOR,	/* each of a client's "donors": labels volume, donor */
	PROM_DONOR,		/* a donor daemon's document: label donor */
	PROM_DAEMON,		/* any memxd's document: label daemon */
};

struct prom_family {
	const char *name;
	const char *type;	/* "counter" or "gauge" */
	enum prom_scope scope;
	const char *key;	/* "io.reads": a key of a member object */
	const char *help;
};

#define C "counter"
#define G "gauge"

static const struct prom_family families[] = {
	{ "memx_log_dropped_total", C, PROM_DAEMON, "log_dropped",
	  "Log lines memxd dropped because stderr was not read fast enough." },

	{ "memx_volume_size_bytes", G, PROM_CLIENT_VOLUME, "size", "Size of the volume." },
	{ "memx_volume_slab_size_bytes", G, PROM_CLIENT_VOLUME, "slab_size",
	  "Unit of remote allocation." },
	{ "memx_volume_slabs", G, PROM_CLIENT_VOLUME, "slabs", "Slabs in the volume." },
	{ "memx_volume_slabs_mapped", G, PROM_CLIENT_VOLUME, "slabs_mapped",
	  "Slabs written at least once, so held by donors." },
	{ "memx_volume_slabs_lost", G, PROM_CLIENT_VOLUME, "slabs_lost",
	  "Slabs whose every replica is gone: their I/O fails with EIO." },
	{ "memx_volume_replicas", G, PROM_CLIENT_VOLUME, "replicas", "Copies kept of each slab." },
	{ "memx_volume_shortfall_bytes", G, PROM_CLIENT_VOLUME, "shortfall_bytes",
	  "Of the volume's unwritten slabs, what its live donors have no room for." },
	{ "memx_volume_recovery_timeout_seconds", G, PROM_CLIENT_VOLUME, "recovery_timeout_s",
	  "How long the volume waits for a new engine if this one dies." },
	{ "memx_volume_reads_total", C, PROM_CLIENT_VOLUME, "io.reads", "Read requests." },
	{ "memx_volume_writes_total", C, PROM_CLIENT_VOLUME, "io.writes", "Write requests." },
	{ "memx_volume_read_bytes_total", C, PROM_CLIENT_VOLUME, "io.read_bytes", "Bytes read." },
	{ "memx_volume_written_bytes_total", C, PROM_CLIENT_VOLUME, "io.write_bytes",
	  "Bytes written." },
	{ "memx_volume_flushes_total", C, PROM_CLIENT_VOLUME, "io.flushes", "Flush requests." },
	{ "memx_volume_discards_total", C, PROM_CLIENT_VOLUME, "io.discards", "Discard requests." },
	{ "memx_volume_write_zeroes_total", C, PROM_CLIENT_VOLUME, "io.write_zeroes",
	  "Write-zeroes requests." },
	{ "memx_volume_io_errors_total", C, PROM_CLIENT_VOLUME, "io.errors",
	  "Requests that failed (EIO)." },
	{ "memx_volume_zero_reads_total", C, PROM_CLIENT_VOLUME, "io.zero_reads",
	  "Reads of never-written slabs, answered with zeros without the network." },
	{ "memx_volume_failovers_total", C, PROM_CLIENT_VOLUME, "io.failovers",
	  "Reads retried on another replica after a donor failed them." },
	{ "memx_volume_checksum_errors_total", C, PROM_CLIENT_VOLUME, "io.checksum_errors",
	  "Blocks a donor returned that failed their CRC32C." },
	{ "memx_volume_repairs_total", C, PROM_CLIENT_VOLUME, "io.repairs",
	  "Bad copies rewritten from a good replica." },
	{ "memx_volume_rdma_written_bytes_total", C, PROM_CLIENT_VOLUME, "io.rdma_write_bytes",
	  "Bytes sent to donors by RDMA WRITE, every replica counted." },
	{ "memx_volume_same_filled_blocks", G, PROM_CLIENT_VOLUME, "same_filled_blocks",
	  "Blocks now held as one repeated 64-bit value in the engine, not on donors." },
	{ "memx_volume_same_filled_writes_total", C, PROM_CLIENT_VOLUME, "io.same_filled_writes",
	  "Blocks written same-filled: recorded in the engine, not sent." },
	{ "memx_volume_same_filled_reads_total", C, PROM_CLIENT_VOLUME, "io.same_filled_reads",
	  "Blocks read from the same-filled record, without the network." },
	{ "memx_volume_same_filled_saved_bytes_total", C, PROM_CLIENT_VOLUME,
	  "io.same_filled_bytes_saved",
	  "Bytes same-filled writes and reads did not move, every replica counted." },
	{ "memx_volume_rereplication_backlog_slabs", G, PROM_CLIENT_VOLUME,
	  "rereplication_backlog", "Slabs waiting to get a lost replica back." },
	{ "memx_volume_slabs_rereplicated_total", C, PROM_CLIENT_VOLUME, "slabs_rereplicated",
	  "Slabs copied to restore a lost replica." },
	{ "memx_volume_slabs_moved_total", C, PROM_CLIENT_VOLUME, "slabs_moved",
	  "Slabs moved off a leaving or pressed donor." },
	{ "memx_volume_copied_bytes_total", C, PROM_CLIENT_VOLUME, "copied_bytes",
	  "Bytes copied in the background (re-replication, drain)." },
	{ "memx_volume_copy_timeouts_total", C, PROM_CLIENT_VOLUME, "copy_timeouts",
	  "Background copies and scrub reads abandoned as slow (the donor kept)." },
	{ "memx_volume_scrub_rate_bytes_per_second", G, PROM_CLIENT_VOLUME, "scrub.rate",
	  "Scrub rate; 0 when off." },
	{ "memx_volume_scrub_passes_total", C, PROM_CLIENT_VOLUME, "scrub.passes",
	  "Complete scrub passes over every replica." },
	{ "memx_volume_scrub_bytes_total", C, PROM_CLIENT_VOLUME, "scrub.bytes",
	  "Bytes read back and checked by the scrub." },
	{ "memx_volume_scrub_bad_blocks_total", C, PROM_CLIENT_VOLUME, "scrub.bad_blocks",
	  "Bad blocks the scrub found." },
	{ "memx_volume_scrub_repaired_total", C, PROM_CLIENT_VOLUME, "scrub.repaired",
	  "Bad blocks the scrub rewrote from a good copy." },

	{ "memx_client_donor_live", G, PROM_CLIENT_DONOR, "state",
	  "1 while the donor serves the volume (state live), else 0." },
	{ "memx_client_donor_memory_bytes", G, PROM_CLIENT_DONOR, "memory_total",
	  "Memory the donor lends." },
	{ "memx_client_donor_memory_free_bytes", G, PROM_CLIENT_DONOR, "memory_free",
	  "Memory the donor has free for this client." },
	{ "memx_client_donor_slabs", G, PROM_CLIENT_DONOR, "slabs",
	  "Replicas of the volume's slabs on the donor." },
	{ "memx_client_donor_lease_seconds", G, PROM_CLIENT_DONOR, "lease_s",
	  "How long the donor keeps the volume's memory if the engine dies." },

	{ "memx_donor_memory_bytes", G, PROM_DONOR, "memory_total", "Memory this donor lends." },
	{ "memx_donor_memory_free_bytes", G, PROM_DONOR, "memory_free",
	  "Memory this donor has not granted." },
	{ "memx_donor_clients", G, PROM_DONOR, "clients", "Volumes with memory here." },
	{ "memx_donor_connections", G, PROM_DONOR, "connections", "Open connections." },
	{ "memx_donor_volumes_leased", G, PROM_DONOR, "volumes_leased",
	  "Volumes whose engine is gone, their memory kept under a lease." },
	{ "memx_donor_leaving", G, PROM_DONOR, "leaving",
	  "1 while the donor leaves (SIGTERM or drain), else 0." },
	{ "memx_donor_grants_total", C, PROM_DONOR, "grants", "Slabs granted." },
	{ "memx_donor_frees_total", C, PROM_DONOR, "frees", "Slabs freed." },
	{ "memx_donor_rejects_total", C, PROM_DONOR, "rejects", "Slab requests refused." },
	{ "memx_donor_evictions_total", C, PROM_DONOR, "evictions",
	  "Requests to clients to move slabs away." },
	{ "memx_donor_auth_failures_total", C, PROM_DONOR, "auth_failures",
	  "Peers that failed to authenticate." },
};

#undef C
#undef G

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void put_label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(f, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

/* HELP text: backslash and newline escaped. */
static void put_help(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	for (; *help; help++) {
		if (*help == '\\')
			fputs("\\\\", f);
		else if (*help == '\n')
			fputs("\\n", f);
		else
			fputc(*help, f);
	}
	fputc('\n', f);
}

/* The member at a dotted key ("io.reads"), or NULL. */
static struct json_object *member(struct json_object *o, const char *key)
{
	char part[64];
	const char *dot;

	while (o && (dot = strchr(key, '.'))) {
		snprintf(part, sizeof(part), "%.*s", (int)(dot - key), key);
		if (!json_object_object_get_ex(o, part, &o))
			return NULL;
		key = dot + 1;
	}
	return o && json_object_object_get_ex(o, key, &o) ? o : NULL;
}

static const char *string_member(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/*
 * One sample: the family's value in o, with these labels; f NULL only counts.
 * A member that is missing or not a number is no sample (an older memxd may
 * not have it). Returns the samples written: 0 or 1.
 */
static size_t put_sample(FILE *f, const struct prom_family *fam, struct json_object *o,
			 const char *const *labels)
{
	struct json_object *v = member(o, fam->key);
	uint64_t value;

	if (!v)
		return 0;
	if (fam->scope == PROM_CLIENT_DONOR && !strcmp(fam->key, "state"))
		value = !strcmp(json_object_get_string(v), "live");
	else if (json_object_is_type(v, json_type_boolean))
		value = json_object_get_boolean(v);
	else if (json_object_is_type(v, json_type_int))
		value = json_object_get_uint64(v);
	else
		return 0;
	if (!f)
		return 1;
	fprintf(f, "%s{", fam->name);
	for (int i = 0; labels[i]; i += 2)
		put_label(f, labels[i], labels[i + 1], i == 0);
	fprintf(f, "} %" PRIu64 "\n", value);
	return 1;
}

/* A family's samples over every document; f NULL only counts. Returns how many. */
static size_t put_samples(FILE *f, const struct prom_family *fam, struct json_object *docs,
			  const char *const *daemons)
{
	size_t n = json_object_array_length(docs), written = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *doc = json_object_array_get_idx(docs, i);
		struct json_object *vols = member(doc, "volumes"), *dns = member(doc, "donors");
		bool client = !strcmp(string_member(doc, "role"), "client");
		/* A client serves one volume: its donors are that volume's. */
		const char *volume = string_member(vols ? json_object_array_get_idx(vols, 0) : NULL,
						   "name");
		size_t nr_vols = vols ? json_object_array_length(vols) : 0;
		size_t nr_dns = dns ? json_object_array_length(dns) : 0;
		const char *labels[5] = { NULL };

		if (!doc)
			continue;
		switch (fam->scope) {
		case PROM_DAEMON:
			labels[0] = "daemon";
			labels[1] = daemons[i];
			written += put_sample(f, fam, doc, labels);
			break;
		case PROM_DONOR:
			if (strcmp(string_member(doc, "role"), "donor"))
				break;
			labels[0] = "donor";
			labels[1] = string_member(doc, "listen");
			written += put_sample(f, fam, doc, labels);
			break;
		case PROM_CLIENT_VOLUME:
			for (size_t v = 0; client && v < nr_vols; v++) {
				struct json_object *vol = json_object_array_get_idx(vols, v);

				labels[0] = "volume";
				labels[1] = string_member(vol, "name");
				written += put_sample(f, fam, vol, labels);
			}
			break;
		case PROM_CLIENT_DONOR:
			for (size_t d = 0; client && d < nr_dns; d++) {
				struct json_object *dn = json_object_array_get_idx(dns, d);

				labels[0] = "volume";
				labels[1] = volume;
				labels[2] = "donor";
				labels[3] = string_member(dn, "address");
				written += put_sample(f, fam, dn, labels);
			}
			break;
		}
	}
	return written;
}

int memxctl_prom_write(FILE *f, struct json_object *docs, const char *const *daemons)
{
	size_t n = json_object_array_length(docs);

	fputs("# HELP memx_up 1 if the memxd answered memxctl with its status, else 0.\n"
	      "# TYPE memx_up gauge\n", f);
	for (size_t i = 0; i < n; i++) {
		struct json_object *doc = json_object_array_get_idx(docs, i);
		const char *role = string_member(doc, "role");

		fputs("memx_up{", f);
		put_label(f, "daemon", daemons[i], true);
		if (role[0])
			put_label(f, "role", role, false);
		fprintf(f, "} %d\n", doc != NULL);
	}
	/* A family without samples is left out: no HELP and TYPE for nothing. */
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		if (!put_samples(NULL, &families[i], docs, daemons))
			continue;
		put_help(f, families[i].name, families[i].help);
		fprintf(f, "# TYPE %s %s\n", families[i].name, families[i].type);
		put_samples(f, &families[i], docs, daemons);
	}
	return fflush(f) || ferror(f) ? -EIO : 0;
}
