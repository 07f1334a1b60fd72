// SPDX-License-Identifier: GPL-2.0
/*
 * memx.ko: module entry and the control misc device /dev/memx-control.
 *
 * Theory of operation
 * -------------------
 * Every engine <-> kernel interaction goes through /dev/memx-control (0600).
 * Each open file gets a struct memx_file whose role is set at most once:
 *   NONE  -> OWNER  by MEMX_CTRL_ADD_DEV (ctrl.c): the fd owns the new volume;
 *   NONE  -> QUEUE  by MEMX_IO_BIND_QUEUE (ctrl.c): the fd serves one queue.
 * Closing an OWNER fd kills its volume (fails all I/O, removes the disk once
 * nobody has it open); closing a QUEUE fd kills that queue. So does the exit
 * of the thread group that set the role, even if a forked child still holds
 * a copy of the fd (memx_ctl_flush()): a dead engine's queues die at once.
 *
 * Privileges: ADD_DEV, BIND_QUEUE, START_DEV and DEL_DEV need CAP_SYS_ADMIN
 * in the caller (-EPERM), whoever opened the fd; GET_FEATURES and GET_INFO
 * only need an fd (the node is 0600). BIND_QUEUE also needs the caller to be
 * in the volume owner's thread group (ctrl.c). This file only
 * dispatches: memx_ctl_ioctl() is the one switch over ioctl numbers, calling
 * one function per command (ctrl.c, queue.c); mmap and poll go to queue.c.
 *
 * The misc device's fops.owner pins the module while any fd is open, and the
 * gendisk's fops.owner while /dev/memxN is open, so by module exit no volume
 * can be left: every volume has an owner fd until it is removed, and removal
 * of a dead volume runs on memx_wq, flushed by destroy_workqueue().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/capability.h>
#include <linux/pid.h>
#include <linux/sched.h>

#include "memx.h"
#include "compat.h"

struct workqueue_struct *memx_wq;

/* Upper bound on one volume's queue areas (nr_queues * depth * max_io + rings). */
unsigned int memx_max_dev_mem_mb = 1024;

static int memx_param_set_mem(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 65536);
}

static const struct kernel_param_ops memx_mem_param_ops = {
	.set = memx_param_set_mem,
	.get = param_get_uint,
};
module_param_cb(max_dev_mem_mb, &memx_mem_param_ops, &memx_max_dev_mem_mb, 0644);
MODULE_PARM_DESC(max_dev_mem_mb,
		 "Max MiB of kernel queue buffers per volume (1..65536, default 1024)");

static int memx_ctl_open(struct inode *inode, struct file *file)
{
	struct memx_file *mf;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL);
	if (!mf)
		return -ENOMEM;
	file->private_data = mf;
	return nonseekable_open(inode, file);
}

static int memx_ctl_release(struct inode *inode, struct file *file)
{
	struct memx_file *mf = file->private_data;

	switch (smp_load_acquire(&mf->role)) {
	case MEMX_FILE_OWNER:
		memx_ctrl_owner_release(mf);
		memx_dev_put(mf->md);
		break;
	case MEMX_FILE_QUEUE:
		memx_queue_release(mf);
		memx_dev_put(mf->md);
		break;
	default:
		break;
	}
	put_pid(mf->tgid);
	kfree(mf);
	return 0;
}

/*
 * Called at every close of an fd of this file, including each fd a process
 * still has when it exits. When the thread group that owns or serves through
 * this file exits, its volume or queue dies now, not at the last close: a
 * child forked by the engine may hold copies of the fds (fork does not honour
 * O_CLOEXEC), and must not keep a dead engine's volume "alive" with requests
 * that nobody will ever serve. (Its copies of the queue mapping do not exist:
 * VM_DONTCOPY, queue.c.)
 */
static int memx_ctl_flush(struct file *file, fl_owner_t id)
{
	struct memx_file *mf = file->private_data;

	if ((current->flags & PF_EXITING) && smp_load_acquire(&mf->role) != MEMX_FILE_NONE &&
	    mf->tgid == task_tgid(current))
		memx_ctrl_flush(mf);
	return 0;
}

/*
 * Errors for a command sent on an fd in the wrong role:
 *   ADD_DEV / BIND_QUEUE on an fd that already owns or serves: -EBUSY;
 *   GET_LAYOUT / COMMIT on an fd that is not a bound queue fd: -EBADFD;
 *   START_DEV / DEL_DEV on an fd that is not the volume's owner: -EBADFD
 *   (-ENODEV if the volume does not exist);
 *   mmap on an unbound fd: -EINVAL.
 * Unknown ioctl numbers (including known numbers with a wrong size): -ENOTTY.
 * ADD_DEV, BIND_QUEUE, START_DEV, DEL_DEV without CAP_SYS_ADMIN: -EPERM
 * (checked first).
 */
static long memx_ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct memx_file *mf = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case MEMX_CTRL_ADD_DEV:
	case MEMX_CTRL_START_DEV:
	case MEMX_CTRL_DEL_DEV:
	case MEMX_IO_BIND_QUEUE:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		break;
	default:
		break;
	}

	switch (cmd) {
	case MEMX_CTRL_GET_FEATURES:
		return memx_ctrl_get_features(argp);
	case MEMX_CTRL_ADD_DEV:
		return memx_ctrl_add_dev(mf, file, argp);
	case MEMX_CTRL_START_DEV:
		return memx_ctrl_start_dev(mf, argp);
	case MEMX_CTRL_DEL_DEV:
		return memx_ctrl_del_dev(mf, argp);
	case MEMX_CTRL_GET_INFO:
		return memx_ctrl_get_info(mf, argp);
	case MEMX_IO_BIND_QUEUE:
		return memx_ctrl_bind_queue(mf, argp);
	case MEMX_IO_GET_LAYOUT:
		return memx_queue_get_layout(mf, argp);
	case MEMX_IO_COMMIT:
		return memx_queue_commit(mf, argp);
	default:
		return -ENOTTY;
	}
}

static int memx_ctl_mmap(struct file *file, struct vm_area_struct *vma)
{
	return memx_queue_mmap(file->private_data, vma);
}

static __poll_t memx_ctl_poll(struct file *file, struct poll_table_struct *pt)
{
	return memx_queue_poll(file->private_data, file, pt);
}

static const struct file_operations memx_ctl_fops = {
	.owner = THIS_MODULE,
	.open = memx_ctl_open,
	.release = memx_ctl_release,
	.flush = memx_ctl_flush,
	.unlocked_ioctl = memx_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = memx_ctl_mmap,
	.poll = memx_ctl_poll,
	.llseek = MEMX_NO_LLSEEK,
};

static struct miscdevice memx_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = MEMX_CONTROL_NAME,
	.fops = &memx_ctl_fops,
	.mode = 0600,
};

static void memx_check_abi(void)
{
	BUILD_BUG_ON(sizeof(struct memx_features) != 24);
	BUILD_BUG_ON(sizeof(struct memx_dev_params) != 112);
	BUILD_BUG_ON(sizeof(struct memx_dev_info) != 88);
	BUILD_BUG_ON(offsetof(struct memx_dev_info, held_requests) != 72);
	BUILD_BUG_ON(sizeof(struct memx_queue_bind) != 16);
	BUILD_BUG_ON(sizeof(struct memx_queue_layout) != 48);
	BUILD_BUG_ON(offsetof(struct memx_sq_ring, head) != 64);
	BUILD_BUG_ON(offsetof(struct memx_sq_ring, tags) != 128);
	BUILD_BUG_ON(sizeof(struct memx_io_desc) != 16);
	BUILD_BUG_ON(sizeof(struct memx_io_result) != 8);
	BUILD_BUG_ON(sizeof(struct memx_io_commit) != 16);
}

static int __init memx_init(void)
{
	int ret;

	memx_check_abi();
	memx_wq = alloc_workqueue("memx", WQ_MEM_RECLAIM, 0);
	if (!memx_wq)
		return -ENOMEM;
	ret = misc_register(&memx_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", MEMX_CONTROL_NAME, ret);
		destroy_workqueue(memx_wq);
		return ret;
	}
	pr_info("loaded, ABI %d\n", MEMX_ABI_VERSION);
	return 0;
}

static void __exit memx_exit(void)
{
	misc_deregister(&memx_misc);
	/* Runs any pending removal of a dead volume. */
	destroy_workqueue(memx_wq);
	memx_ctrl_exit();	/* WARNs if a volume is left */
	pr_info("unloaded\n");
}

module_init(memx_init);
module_exit(memx_exit);
MODULE_DESCRIPTION("memx: remote memory block device, kernel shim");
MODULE_LICENSE("GPL");
