// SPDX-License-Identifier: GPL-2.0
/*
 * Config files for memxd: an ini file (inih) is a command line written one
 * option a line, "key = value", the key being the long option's name. The
 * caller applies each key through its command-line handler, so a file is
 * validated exactly as the same options on the command line would be.
 *
 * inih goes on after a bad line and reports only the first bad line's number
 * at the end, and its handler is not told the line number (Debian builds it
 * without INI_HANDLER_LINENO). So the file is read twice through our own line
 * reader, which counts lines: the first pass only checks (syntax, sections,
 * line length) and applies nothing, the second applies keys and stops at the
 * first one refused. Nothing is applied from a file that does not parse.
 */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"

/* A config file is a few dozen lines; this refuses /dev/zero and its kind. */
#define CONFIG_MAX_BYTES	(1 << 20)

struct config_read {
	FILE *f;
	const char *path;
	const char *role;
	unsigned int line;	/* the line the reader returned last */
	unsigned int bad_line;	/* first line refused (0: none) */
	bool too_long;		/* bad_line is longer than inih takes */
	bool applying;		/* second pass: keys go to fn */
	memxd_config_fn fn;
	void *ctx;
};

static char config_where[4096 + 32];

const char *memxd_config_where(void)
{
	return config_where;
}

/* inih's line reader (fgets-like), counting lines and stopping at the first refusal. */
static char *read_line(char *str, int num, void *stream)
{
	struct config_read *cr = stream;
	size_t len;
	int c;

	if (cr->bad_line || !fgets(str, num, cr->f))
		return NULL;
	cr->line++;
	len = strlen(str);
	if (len && str[len - 1] != '\n' && !feof(cr->f)) {
		/* The line does not fit inih's buffer: refuse it, not a piece of it. */
		while ((c = fgetc(cr->f)) != EOF && c != '\n')
			;
		cr->bad_line = cr->line;
		cr->too_long = true;
		return NULL;
	}
	return str;
}

static bool other_role(const char *role, const char *section)
{
	return (!strcmp(role, "client") && !strcmp(section, "donor")) ||
	       (!strcmp(role, "donor") && !strcmp(section, "client"));
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct config_read *cr = user;
	int r;

	if (cr->bad_line)
		return 1;
	if (section[0] && strcmp(section, cr->role) && !other_role(cr->role, section)) {
		fprintf(stderr, "memxd %s: %s:%u: key '%s' is in section [%s]; memxd %s reads "
			"keys before any section and in [%s]\n", cr->role, cr->path, cr->line, key,
			section, cr->role, cr->role);
		cr->bad_line = cr->line;
		return 0;
	}
	if (!cr->applying || other_role(cr->role, section))
		return 1;
	snprintf(config_where, sizeof(config_where), "%s:%u: ", cr->path, cr->line);
	r = cr->fn(cr->ctx, key, value);
	config_where[0] = '\0';
	if (r) {
		cr->bad_line = cr->line;
		return 0;
	}
	return 1;
}

/* One pass over the file. Returns 0, -EINVAL (said why) or -errno (said why). */
static int config_pass(struct config_read *cr)
{
	int r;

	rewind(cr->f);
	cr->line = 0;
	r = ini_parse_stream(read_line, cr, on_key, cr);
	if (ferror(cr->f)) {
		r = errno ? -errno : -EIO;
		fprintf(stderr, "memxd %s: --config %s: %s\n", cr->role, cr->path, strerror(-r));
		return r;
	}
	if (cr->too_long) {
		fprintf(stderr, "memxd %s: %s:%u: line longer than %d characters\n", cr->role,
			cr->path, cr->bad_line, INI_MAX_LINE - 2);
		return -EINVAL;
	}
	if (cr->bad_line)
		return -EINVAL;	/* on_key said why */
	if (r > 0) {
		fprintf(stderr, "memxd %s: %s:%d: expected 'key = value', '[section]' or a "
			"comment\n", cr->role, cr->path, r);
		return -EINVAL;
	}
	if (r < 0) {
		fprintf(stderr, "memxd %s: --config %s: out of memory\n", cr->role, cr->path);
		return -ENOMEM;
	}
	return 0;
}

int memxd_config_read(const char *path, const char *role, memxd_config_fn fn, void *ctx)
{
	struct config_read cr = { .path = path, .role = role, .fn = fn, .ctx = ctx };
	struct stat st;
	int r;

	cr.f = fopen(path, "re");
	if (!cr.f) {
		/* A bad command line, as any other: -EINVAL, the reason said. */
		fprintf(stderr, "memxd %s: --config %s: %s\n", role, path, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fileno(cr.f), &st) || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		fprintf(stderr, "memxd %s: --config %s: not a regular file of at most 1 MiB\n",
			role, path);
		fclose(cr.f);
		return -EINVAL;
	}
	r = config_pass(&cr);
	if (!r) {
		cr.applying = true;
		r = config_pass(&cr);
	}
	fclose(cr.f);
	return r;
}

int memxd_config_option(const char *role, const struct option *longopts, const char *key,
			const char *value, const char **arg)
{
	const struct option *lo;

	for (lo = longopts; lo->name; lo++)
		if (!strcmp(lo->name, key) && strcmp(key, "help") && strcmp(key, "config"))
			break;
	if (!lo->name) {
		fprintf(stderr, "memxd %s: %sunknown key '%s' (keys are memxd %s's long options "
			"without the --)\n", role, config_where, key, role);
		return -EINVAL;
	}
	if (lo->has_arg == no_argument) {
		if (strcmp(value, "true") && strcmp(value, "yes") && strcmp(value, "1")) {
			fprintf(stderr, "memxd %s: %s--%s is a flag: write '%s = true', or leave "
				"it out for off\n", role, config_where, key, key);
			return -EINVAL;
		}
		*arg = NULL;
	} else {
		*arg = value;
	}
	return lo->val;
}
