// SPDX-License-Identifier: GPL-2.0
/*
 * snapvm.ko - pinned snapshot/scratch memory regions for the snapvm micro-VMM.
 *
 * /dev/snapvm hands out regions (ABI: uapi/snapvm.h, kmod/README.md): pages
 * allocated and zeroed at creation, held until the last fd and the last
 * mapping are gone, charged to the creating user's RLIMIT_MEMLOCK (like
 * io_uring: the charge follows the pages, not the creator) and memory cgroup,
 * and mapped with exactly the rights the region grants. A sealed region never
 * changes again, so many sandboxes can map one snapshot.
 *
 * Each region has an inode of its own (a small pseudo filesystem), so SEAL can
 * take every page table entry of the region away (unmap_mapping_range) and
 * count page references that nothing can add to meanwhile.
 *
 * This file is the device, its ioctls and the module's set-up; regions are
 * region.c's, their pages page.c's (kmod/README.md maps the files).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/uaccess.h>

#include "snapvm_internal.h"

/* Regions are addressed in pages of SNAPVM_PAGE_SIZE; mappings in PAGE_SIZE. */
static_assert(PAGE_SIZE == SNAPVM_PAGE_SIZE);

/* The pseudo filesystem's magic ("snpv"): only its inodes' owner reads it. */
#define SNAPVM_FS_MAGIC 0x736e7076

static unsigned int max_region_mb = 4096;
module_param(max_region_mb, uint, 0644);
MODULE_PARM_DESC(max_region_mb, "Largest region, in MiB (default 4096)");

/* 0 at load time means half of RAM; see snapvm_init(). */
unsigned int snapvm_max_total_mb;
module_param_named(max_total_mb, snapvm_max_total_mb, uint, 0644);
MODULE_PARM_DESC(max_total_mb, "All regions together, in MiB (default: half of RAM)");

/* The regions' pseudo filesystem (snapvm_fs_type, below), mounted at init. */
struct vfsmount *snapvm_mnt;

static int snapvm_check_create(const struct snapvm_region_create *args)
{
	u64 max_size = (u64)READ_ONCE(max_region_mb) << 20;

	if (!args->size || args->size % SNAPVM_PAGE_SIZE ||
	    args->size > max_size)
		return -EINVAL;
	if (!(args->prot & SNAPVM_PROT_READ) ||
	    (args->prot & ~SNAPVM_PROT_ALL))
		return -EINVAL;
	if (args->flags & ~SNAPVM_CREATE_FLAGS_ALL)
		return -EINVAL;
	if (args->reserved[0] || args->reserved[1])
		return -EINVAL;
	return 0;
}

static long snapvm_dev_ioctl_create(void __user *uarg)
{
	struct snapvm_region_create args;
	struct snapvm_region *region;
	bool lazy;
	int ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	ret = snapvm_check_create(&args);
	if (ret)
		return ret;
	lazy = args.flags & SNAPVM_CREATE_LAZY;

	region = snapvm_region_alloc(args.size >> PAGE_SHIFT, args.prot, lazy);
	if (IS_ERR(region))
		return PTR_ERR(region);
	if (!lazy) {
		ret = snapvm_region_fill(region);
		if (ret) {
			snapvm_region_put(region);
			return ret;
		}
	}
	return snapvm_region_install(region);
}

static long snapvm_dev_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	switch (cmd) {
	case SNAPVM_GET_API_VERSION:
		return SNAPVM_API_VERSION;
	case SNAPVM_CREATE_REGION:
		return snapvm_dev_ioctl_create((void __user *)arg);
	case SNAPVM_GET_FEATURES:
		return SNAPVM_FEATURE_DUP_READONLY | SNAPVM_FEATURE_LAZY |
		       SNAPVM_FEATURE_CLONE;
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

static ssize_t pinned_pages_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&snapvm_pinned_pages));
}
static DEVICE_ATTR_RO(pinned_pages);

static struct attribute *snapvm_attrs[] = {
	&dev_attr_pinned_pages.attr,
	NULL,
};
ATTRIBUTE_GROUPS(snapvm);

static struct miscdevice snapvm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "snapvm",
	.fops = &snapvm_dev_fops,
	.groups = snapvm_groups,
	/* Its group comes from a udev rule (packaging ships one: kvm). */
	.mode = 0660,
};

static int snapvm_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, SNAPVM_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * Where the regions' inodes live: one each, never visible in any mount. No
 * .owner: the internal mount would pin the module for good; the region
 * files pin it instead, and it is unmounted only once they are all gone.
 */
static struct file_system_type snapvm_fs_type = {
	.name = "snapvm",
	.init_fs_context = snapvm_init_fs_context,
	.kill_sb = kill_anon_super,
};

static int __init snapvm_init(void)
{
	int ret;

	if (!snapvm_max_total_mb)
		snapvm_max_total_mb = (totalram_pages() >> (20 - PAGE_SHIFT)) / 2;
	snapvm_zero_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!snapvm_zero_page)
		return -ENOMEM;
	snapvm_mnt = kern_mount(&snapvm_fs_type);
	if (IS_ERR(snapvm_mnt)) {
		ret = PTR_ERR(snapvm_mnt);
		goto err_page;
	}
	ret = misc_register(&snapvm_misc);
	if (ret)
		goto err_unmount;
	return 0;

err_unmount:
	kern_unmount(snapvm_mnt);
err_page:
	put_page(snapvm_zero_page);
	return ret;
}

/* No region is left (each file pins the module): the zero page is ours. */
static void __exit snapvm_exit(void)
{
	misc_deregister(&snapvm_misc);
	kern_unmount(snapvm_mnt);
	put_page(snapvm_zero_page);
}

module_init(snapvm_init);
module_exit(snapvm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Pinned, sealable memory regions for the snapvm micro-VMM");
