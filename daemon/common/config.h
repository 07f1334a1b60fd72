/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memxd's config files (--config FILE): ini files whose keys are the long
 * option names, read with inih and applied through the same option handlers
 * as the command line. See memx.conf(5).
 */
#ifndef MEMXD_CONFIG_H
#define MEMXD_CONFIG_H

struct option;

/*
 * Applies one key of a config file. Prints why and returns -EINVAL to stop the
 * file there; returns 0 to go on.
 */
typedef int (*memxd_config_fn)(void *ctx, const char *key, const char *value);

/*
 * Reads the ini file at path for `role` ("client" or "donor"): keys outside
 * any section and in [role] are passed to fn in file order, keys in the other
 * role's section are skipped, any other section is an error. The file is
 * checked whole (syntax, sections, line length) before the first key is
 * applied. Errors go to stderr as "memxd ROLE: FILE:LINE: ...". Returns 0,
 * -EINVAL (said why: a file that cannot be opened too) or -ENOMEM.
 */
int memxd_config_read(const char *path, const char *role, memxd_config_fn fn, void *ctx);

/*
 * "FILE:LINE: " while memxd_config_read() applies a key, else "": option
 * handlers put it in front of their error messages.
 */
const char *memxd_config_where(void);

/*
 * Maps a config key to the getopt_long value of the long option of that name
 * in longopts, and its value to the option's argument: *arg is value for an
 * option that takes one, NULL for a flag (whose value must be true, yes or 1).
 * "config" and "help" are not keys. Returns the option's val, or -EINVAL (said
 * why, as "memxd ROLE: FILE:LINE: ...").
 */
int memxd_config_option(const char *role, const struct option *longopts, const char *key,
			const char *value, const char **arg);

#endif /* MEMXD_CONFIG_H */
