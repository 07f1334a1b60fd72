// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko's version for modinfo and DKMS: the memx release (meson's project
 * version), which Kbuild gets as MEMX_VERSION from kmod/build.sh or from
 * dkms.conf's MAKE line. A build by hand without it says "unknown".
 */
#include <linux/module.h>

#ifndef MEMX_VERSION
#define MEMX_VERSION "unknown"
#endif

MODULE_VERSION(MEMX_VERSION);
