/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memxctl status -o prometheus: memxd's status documents in Prometheus' text
 * exposition format (version 0.0.4), for the node exporter's textfile collector.
 */
#ifndef MEMXCTL_PROM_H
#define MEMXCTL_PROM_H

#include <stdio.h>

struct json_object;

/*
 * Writes the exposition of `docs` (a JSON array of status documents, one per
 * memxd; null where a memxd did not answer with one) to f. daemons[i] names
 * the memxd of docs[i] (its socket's name, "client-swap0"): the `daemon` label
 * of memx_up. Every family has HELP and TYPE lines and its samples together;
 * sizes are in bytes, times in seconds, counters end in _total. Returns 0, or
 * -EIO when f could not be written.
 */
int memxctl_prom_write(FILE *f, struct json_object *docs, const char *const *daemons);

#endif /* MEMXCTL_PROM_H */
