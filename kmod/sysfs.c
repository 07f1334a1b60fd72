// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko sysfs: /sys/block/memxN/memx/{name,state,engine_pid,
 * recovery_timeout_ms}, read-only, for udev (60-memx.rules makes
 * /dev/memx/NAME from name) and for operators.
 *
 * The files go with the disk: del_gendisk() waits for readers, and it runs
 * with memx_devs_lock held, so nothing here takes that lock. Each value is
 * one READ_ONCE of a field that is written under it.
 */
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/sysfs.h>

#include "memx.h"

static struct memx_dev *memx_dev_of(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

static ssize_t name_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	/* Set once at ADD_DEV, before the disk exists. */
	return sysfs_emit(buf, "%s\n", memx_dev_of(dev)->params.name);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct memx_dev *md = memx_dev_of(dev);
	const char *s = "live";

	if (READ_ONCE(md->dead) || READ_ONCE(md->removed))
		s = "dead";
	else if (READ_ONCE(md->orphaned))
		s = "recovering";
	return sysfs_emit(buf, "%s\n", s);
}

static ssize_t engine_pid_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(memx_dev_of(dev)->engine_pid));
}

static ssize_t recovery_timeout_ms_show(struct device *dev, struct device_attribute *attr,
					char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(memx_dev_of(dev)->params.recovery_timeout_ms));
}

static DEVICE_ATTR_RO(name);
static DEVICE_ATTR_RO(state);
static DEVICE_ATTR_RO(engine_pid);
static DEVICE_ATTR_RO(recovery_timeout_ms);

static struct attribute *memx_attrs[] = {
	&dev_attr_name.attr,
	&dev_attr_state.attr,
	&dev_attr_engine_pid.attr,
	&dev_attr_recovery_timeout_ms.attr,
	NULL,
};

static const struct attribute_group memx_attr_group = {
	.name = "memx",
	.attrs = memx_attrs,
};

const struct attribute_group *memx_disk_groups[] = {
	&memx_attr_group,
	NULL,
};
