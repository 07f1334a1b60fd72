/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A checker of Prometheus' text exposition format (0.0.4), as the node
 * exporter's textfile collector reads it, plus memx's own conventions: every
 * family has HELP and TYPE before its samples, a family's samples stand
 * together, no series twice, counters end in _total and are not negative.
 * Self-contained, so the tests need no Prometheus library.
 */
#ifndef MEMX_PROM_CHECK_H
#define MEMX_PROM_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_CHECK_MAX	1024

struct prom_check {
	char help[PROM_CHECK_MAX][128];	/* families with HELP */
	char type[PROM_CHECK_MAX][128];	/* families with TYPE */
	char kind[PROM_CHECK_MAX][16];	/* their types */
	char done[PROM_CHECK_MAX][128];	/* families whose samples ended */
	char *series[8 * PROM_CHECK_MAX];	/* name{labels} seen */
	unsigned int nr_help, nr_type, nr_done, nr_series;
	char current[128];		/* the family of the last sample */
	char why[256];
};

static bool prom_in(char (*list)[128], unsigned int n, const char *name)
{
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/* A metric name [a-zA-Z_:][a-zA-Z0-9_:]*, or a label name (no ':'). Returns its length. */
static size_t prom_name(const char *s, bool label)
{
	size_t n = 0;

	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_' ||
	       (!label && s[n] == ':') || (n && s[n] >= '0' && s[n] <= '9'))
		n++;
	return n;
}

static bool prom_value(const char *s)
{
	char *end;

	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN"))
		return true;
	strtod(s, &end);
	return end != s && (!*end || (*end == ' ' && strtoll(end + 1, &end, 10) >= 0 && !*end));
}

/* One sample line. Returns false with pc->why set. */
static bool prom_sample(struct prom_check *pc, const char *line, unsigned int no)
{
	size_t n = prom_name(line, false), i, len;
	const char *p = line + n, *kind = NULL;
	char name[128];

	if (!n || n >= sizeof(name))
		return snprintf(pc->why, sizeof(pc->why), "line %u: bad metric name", no), false;
	memcpy(name, line, n);
	name[n] = '\0';
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = prom_name(p, true);

			if (!ln || p[ln] != '=' || p[ln + 1] != '"')
				return snprintf(pc->why, sizeof(pc->why), "line %u: bad label", no),
				       false;
			for (p += ln + 2; *p != '"'; p++) {
				if (!*p)
					return snprintf(pc->why, sizeof(pc->why),
							"line %u: unterminated label value", no), false;
				if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return snprintf(pc->why, sizeof(pc->why),
							"line %u: bad escape", no), false;
				if (*p == '\\')
					p++;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return snprintf(pc->why, sizeof(pc->why), "line %u: bad label list",
						no), false;
		}
		p++;
	}
	if (*p != ' ' || !prom_value(p + 1))
		return snprintf(pc->why, sizeof(pc->why), "line %u: bad value", no), false;
	for (i = 0; i < pc->nr_type; i++)
		if (!strcmp(pc->type[i], name))
			kind = pc->kind[i];
	if (!kind || !prom_in(pc->help, pc->nr_help, name))
		return snprintf(pc->why, sizeof(pc->why), "line %u: %s has no TYPE or HELP before it",
				no, name), false;
	if (!strcmp(kind, "counter") && ((len = strlen(name)) < 6 ||
					 strcmp(name + len - 6, "_total") || p[1] == '-'))
		return snprintf(pc->why, sizeof(pc->why), "line %u: counter %s: not _total or "
				"negative", no, name), false;
	if (strcmp(pc->current, name)) {
		if (prom_in(pc->done, pc->nr_done, name))
			return snprintf(pc->why, sizeof(pc->why), "line %u: %s's samples are not "
					"together", no, name), false;
		if (pc->current[0] && pc->nr_done < PROM_CHECK_MAX)
			strcpy(pc->done[pc->nr_done++], pc->current);
		snprintf(pc->current, sizeof(pc->current), "%s", name);
	}
	len = (size_t)(p - line);	/* name{labels} */
	for (i = 0; i < pc->nr_series; i++)
		if (strlen(pc->series[i]) == len && !strncmp(pc->series[i], line, len))
			return snprintf(pc->why, sizeof(pc->why), "line %u: series twice", no), false;
	if (pc->nr_series < 8 * PROM_CHECK_MAX)
		pc->series[pc->nr_series++] = strndup(line, len);
	return true;
}

/* One "# ..." line. Returns false with pc->why set. */
static bool prom_comment(struct prom_check *pc, const char *line, unsigned int no)
{
	bool help = !strncmp(line, "# HELP ", 7), type = !strncmp(line, "# TYPE ", 7);
	const char *name = line + 7;
	size_t n = prom_name(name, false);
	char nm[128];

	if (!help && !type)
		return true;	/* a plain comment */
	if (!n || n >= sizeof(nm) || (name[n] != ' ' && (type || name[n])))
		return snprintf(pc->why, sizeof(pc->why), "line %u: bad name", no), false;
	memcpy(nm, name, n);
	nm[n] = '\0';
	if (!strcmp(pc->current, nm) || prom_in(pc->done, pc->nr_done, nm))
		return snprintf(pc->why, sizeof(pc->why), "line %u: HELP or TYPE after %s's samples",
				no, nm), false;
	if (help) {
		for (const char *p = name + n; *p; p++)
			if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
				return snprintf(pc->why, sizeof(pc->why), "line %u: bad escape in HELP",
						no), false;
		if (prom_in(pc->help, pc->nr_help, nm) || pc->nr_help == PROM_CHECK_MAX)
			return snprintf(pc->why, sizeof(pc->why), "line %u: HELP twice", no), false;
		strcpy(pc->help[pc->nr_help++], nm);
		return true;
	}
	name += n + 1;
	if (strcmp(name, "counter") && strcmp(name, "gauge") && strcmp(name, "histogram") &&
	    strcmp(name, "summary") && strcmp(name, "untyped"))
		return snprintf(pc->why, sizeof(pc->why), "line %u: unknown type", no), false;
	if (prom_in(pc->type, pc->nr_type, nm) || pc->nr_type == PROM_CHECK_MAX)
		return snprintf(pc->why, sizeof(pc->why), "line %u: TYPE twice", no), false;
	strcpy(pc->kind[pc->nr_type], name);
	strcpy(pc->type[pc->nr_type++], nm);
	return true;
}

/* Checks a whole exposition. Returns NULL, or why it is not one (a static buffer). */
static const char *prom_check(const char *text)
{
	static struct prom_check pc;
	const char *why = NULL;
	unsigned int no = 0;
	char *copy, *line, *next;

	for (unsigned int i = 0; i < pc.nr_series; i++)
		free(pc.series[i]);
	memset(&pc, 0, sizeof(pc));
	if (!*text || text[strlen(text) - 1] != '\n')
		return "the exposition does not end with a newline";
	copy = strdup(text);
	for (line = copy; !why && *line; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		no++;
		if (!*line)
			continue;
		if (!(line[0] == '#' ? prom_comment(&pc, line, no) : prom_sample(&pc, line, no)))
			why = pc.why;
	}
	free(copy);
	return why;
}

#endif /* MEMX_PROM_CHECK_H */
