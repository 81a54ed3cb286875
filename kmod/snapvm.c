// SPDX-License-Identifier: GPL-2.0
/*
 * snapvm.ko - pinned snapshot/scratch memory regions for the snapvm micro-VMM.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <snapvm.h>

static long snapvm_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case SNAPVM_GET_API_VERSION:
		return SNAPVM_API_VERSION;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations snapvm_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = snapvm_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice snapvm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "snapvm",
	.fops = &snapvm_dev_fops,
	.mode = 0666,
};

module_misc_device(snapvm_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Pinned, sealable memory regions for the snapvm micro-VMM");
