// SPDX-License-Identifier: GPL-2.0
/* --kernel-backend: its parse, and which backend a host gets. */
#include <errno.h>
#include <string.h>

#include "client/kbackend.h"

static const char *const kind_names[] = {
	[MEMXD_KBACKEND_AUTO] = "auto",
	[MEMXD_KBACKEND_MEMX] = "memx",
	[MEMXD_KBACKEND_UBLK] = "ublk",
};

int memxd_kbackend_parse(const char *arg, int *kind)
{
	for (int k = 0; k < (int)(sizeof(kind_names) / sizeof(kind_names[0])); k++)
		if (!strcmp(arg, kind_names[k])) {
			*kind = k;
			return 0;
		}
	return -EINVAL;
}

const char *memxd_kbackend_kind_name(int kind)
{
	if (kind < 0 || kind >= (int)(sizeof(kind_names) / sizeof(kind_names[0])))
		return "?";
	return kind_names[kind];
}

int memxd_kbackend_choose(int wanted, bool memx_present, bool ublk_present, const char **why)
{
	if (wanted == MEMXD_KBACKEND_MEMX) {
		*why = "--kernel-backend memx";
		return MEMXD_KBACKEND_MEMX;
	}
	if (wanted == MEMXD_KBACKEND_UBLK) {
		*why = "--kernel-backend ublk";
		return MEMXD_KBACKEND_UBLK;
	}
	if (memx_present) {
		*why = "memx.ko is loaded (/dev/" MEMX_CONTROL_NAME " exists)";
		return MEMXD_KBACKEND_MEMX;
	}
	if (ublk_present) {
		*why = "memx.ko is not loaded and the kernel has ublk (" MEMXD_UBLK_CONTROL_PATH
		       " exists)";
		return MEMXD_KBACKEND_UBLK;
	}
	*why = "neither memx.ko (/dev/" MEMX_CONTROL_NAME ") nor ublk (" MEMXD_UBLK_CONTROL_PATH
	       ") is there: load memx.ko, or ublk_drv on a kernel that has it";
	return MEMXD_KBACKEND_MEMX;
}
