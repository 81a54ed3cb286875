// SPDX-License-Identifier: GPL-2.0
/*
 * snapvm.ko - pinned snapshot/scratch memory regions for the snapvm micro-VMM.
 *
 * /dev/snapvm hands out regions (ABI: uapi/snapvm.h, kmod/README.md): pages
 * allocated and zeroed at creation, held until the last fd and the last
 * mapping are gone, charged to the creator's RLIMIT_MEMLOCK and memory cgroup,
 * and mapped with exactly the rights the region grants. A sealed region never
 * changes again, so many sandboxes can map one snapshot.
 *
 * Locking, per region:
 * - lock (spinlock) guards prot, sealed, sealing and shared_maywrite. It is
 *   taken under mmap_lock (->mmap, vm_ops open/close), so nothing under it
 *   sleeps.
 * - write_sem: pwrite and RESTORE change the content under its read side, SEAL
 *   takes its write side, so no write is in flight once SEAL returns. Holders
 *   copy from user memory (which takes mmap_lock): never take it under
 *   mmap_lock.
 */
#include <linux/anon_inodes.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include <snapvm.h>

/* Regions are addressed in pages of SNAPVM_PAGE_SIZE; mappings in PAGE_SIZE. */
static_assert(PAGE_SIZE == SNAPVM_PAGE_SIZE);

static unsigned int max_region_mb = 4096;
module_param(max_region_mb, uint, 0644);
MODULE_PARM_DESC(max_region_mb, "Largest region, in MiB (default 4096)");

/* 0 at load time means half of RAM; see snapvm_init(). */
static unsigned int max_total_mb;
module_param(max_total_mb, uint, 0644);
MODULE_PARM_DESC(max_total_mb, "All regions together, in MiB (default: half of RAM)");

/* Pages promised to regions (checked against max_total_mb). */
static atomic_long_t snapvm_committed_pages = ATOMIC_LONG_INIT(0);
/* Pages the module holds right now (/sys/class/misc/snapvm/pinned_pages). */
static atomic_long_t snapvm_pinned_pages = ATOMIC_LONG_INIT(0);

/*
 * Pinned pages cannot be reclaimed, so running out must be an error and never
 * an OOM kill: RETRY_MAYFAIL reclaims what it can, then fails without invoking
 * the (global or memcg) OOM killer; NOWARN because failing is an answer here.
 * ACCOUNT charges the creator's memory cgroup. Not MOVABLE: the pages never
 * move, so they must not sit in ZONE_MOVABLE or CMA.
 */
#define SNAPVM_GFP (GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT | \
		    __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* How often SEAL looks again for transient page references; see below. */
#define SNAPVM_SEAL_SCANS 5

struct snapvm_region {
	struct page **pages;
	unsigned long npages;
	/* Charged with npages of RLIMIT_MEMLOCK; mmgrab()bed, see region_free. */
	struct mm_struct *mm;

	spinlock_t lock;		/* guards the four fields below */
	u32 prot;			/* SNAPVM_PROT_*, WRITE dropped by SEAL */
	bool sealed;			/* for good: never reverts */
	bool sealing;			/* SEAL in progress, may still fail */
	unsigned long shared_maywrite;	/* VM_SHARED + VM_MAYWRITE mappings */

	struct rw_semaphore write_sem;
};

static const struct file_operations snapvm_region_fops;

/*
 * RLIMIT_MEMLOCK as for mlock(): CAP_IPC_LOCK lifts the limit, not the count,
 * and capable() is asked only past the limit (it may log a denial).
 */
static int snapvm_charge_locked_vm(struct mm_struct *mm, unsigned long npages)
{
	int ret;

	mmap_write_lock(mm);
	ret = __account_locked_vm(mm, npages, true, current, false);
	if (ret && capable(CAP_IPC_LOCK))
		ret = __account_locked_vm(mm, npages, true, current, true);
	mmap_write_unlock(mm);
	return ret;
}

static void snapvm_uncharge_locked_vm(struct mm_struct *mm,
				      unsigned long npages)
{
	mmap_write_lock(mm);
	__account_locked_vm(mm, npages, false, current, false);
	mmap_write_unlock(mm);
}

/* Frees a region whose file is gone (or was never made). */
static void snapvm_region_free(struct snapvm_region *region,
			       unsigned long allocated)
{
	unsigned long i;

	/* put_page: someone (e.g. a short get_user_pages) may still hold one. */
	for (i = 0; i < allocated; i++)
		put_page(region->pages[i]);
	kvfree(region->pages);
	if (allocated == region->npages)
		atomic_long_sub(region->npages, &snapvm_pinned_pages);

	/*
	 * The last fput can come after the creator's exit_mm: then its
	 * locked_vm is gone with it and there is nothing to uncharge.
	 */
	if (mmget_not_zero(region->mm)) {
		snapvm_uncharge_locked_vm(region->mm, region->npages);
		mmput(region->mm);
	}
	mmdrop(region->mm);
	atomic_long_sub(region->npages, &snapvm_committed_pages);
	kfree(region);
}

static int snapvm_region_release(struct inode *inode, struct file *file)
{
	struct snapvm_region *region = file->private_data;

	snapvm_region_free(region, region->npages);
	return 0;
}

/* Caller holds region->lock. */
static bool snapvm_region_writable(const struct snapvm_region *region)
{
	return (region->prot & SNAPVM_PROT_WRITE) && !region->sealed &&
	       !region->sealing;
}

static bool snapvm_vma_shared_maywrite(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) ==
	       (VM_SHARED | VM_MAYWRITE);
}

static void snapvm_vm_open(struct vm_area_struct *vma)
{
	struct snapvm_region *region = vma->vm_file->private_data;

	if (!snapvm_vma_shared_maywrite(vma))
		return;
	spin_lock(&region->lock);
	region->shared_maywrite++;
	spin_unlock(&region->lock);
}

static void snapvm_vm_close(struct vm_area_struct *vma)
{
	struct snapvm_region *region = vma->vm_file->private_data;

	if (!snapvm_vma_shared_maywrite(vma))
		return;
	spin_lock(&region->lock);
	region->shared_maywrite--;
	spin_unlock(&region->lock);
}

/*
 * Hands out the region's own struct page: a normal (not PFN) mapping, so
 * get_user_pages (and thus KVM) works, and a write fault on a MAP_PRIVATE
 * mapping copies the page instead of touching the region.
 */
static vm_fault_t snapvm_vm_fault(struct vm_fault *vmf)
{
	struct snapvm_region *region = vmf->vma->vm_file->private_data;

	if (vmf->pgoff >= region->npages)
		return VM_FAULT_SIGBUS;
	vmf->page = region->pages[vmf->pgoff];
	get_page(vmf->page);
	return 0;
}

/* Having ->close also keeps the VMAs from merging, so open/close pair up. */
static const struct vm_operations_struct snapvm_vm_ops = {
	.open = snapvm_vm_open,
	.close = snapvm_vm_close,
	.fault = snapvm_vm_fault,
};

static int snapvm_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct snapvm_region *region = file->private_data;
	unsigned long pages = vma_pages(vma);
	bool shared = vma->vm_flags & VM_SHARED;
	int ret = 0;

	if (vma->vm_pgoff >= region->npages ||
	    pages > region->npages - vma->vm_pgoff)
		return -EINVAL;

	spin_lock(&region->lock);
	if (!(region->prot & SNAPVM_PROT_EXEC)) {
		if (vma->vm_flags & VM_EXEC) {
			ret = -EACCES;
			goto out_unlock;
		}
		vma->vm_flags &= ~VM_MAYEXEC;
	}
	/* MAP_PRIVATE stays writable: its writes land in private copies. */
	if (shared && !snapvm_region_writable(region)) {
		if (vma->vm_flags & VM_WRITE) {
			ret = -EACCES;
			goto out_unlock;
		}
		vma->vm_flags &= ~VM_MAYWRITE;
	}
	/* mremap must not grow a mapping past what was checked here. */
	vma->vm_flags |= VM_DONTEXPAND;
	vma->vm_ops = &snapvm_vm_ops;
	if (snapvm_vma_shared_maywrite(vma))
		region->shared_maywrite++;
out_unlock:
	spin_unlock(&region->lock);
	return ret;
}

/* A reference beyond the region's own and its page tables' is a pin. */
static bool snapvm_region_pinned(const struct snapvm_region *region)
{
	unsigned long i;

	for (i = 0; i < region->npages; i++) {
		struct page *page = region->pages[i];

		if (page_count(page) - page_mapcount(page) != 1)
			return true;
	}
	return false;
}

static long snapvm_region_ioctl_seal(struct snapvm_region *region)
{
	int scan;
	long ret = 0;

	down_write(&region->write_sem);
	spin_lock(&region->lock);
	if (region->sealed)
		goto out_unlock;
	if (region->shared_maywrite) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/*
	 * Without WRITE no shared mapping was ever writable, and a private
	 * one copies on write: no page reference can write the region.
	 */
	if (!(region->prot & SNAPVM_PROT_WRITE)) {
		region->sealed = true;
		goto out_unlock;
	}
	/*
	 * From here on ->mmap refuses new writable shared mappings. Not sealed
	 * yet: the scan below may fail, and RESTORE and INFO must not take the
	 * region as sealed meanwhile.
	 */
	region->sealing = true;
	spin_unlock(&region->lock);

	/*
	 * A get_user_pages reference taken through a writable mapping (O_DIRECT,
	 * vmsplice, io_uring) outlives munmap and could still write. Faults and
	 * gup-fast hold references for a moment, so look a few times.
	 */
	for (scan = 0; scan < SNAPVM_SEAL_SCANS; scan++) {
		if (!snapvm_region_pinned(region))
			break;
		usleep_range(2000, 4000);
	}

	spin_lock(&region->lock);
	region->sealing = false;
	if (scan == SNAPVM_SEAL_SCANS) {
		ret = -EBUSY;
	} else {
		region->sealed = true;
		region->prot &= ~SNAPVM_PROT_WRITE;
	}
out_unlock:
	spin_unlock(&region->lock);
	up_write(&region->write_sem);
	return ret;
}

static long snapvm_region_ioctl_info(struct snapvm_region *region,
				     void __user *uarg)
{
	struct snapvm_region_info info;

	memset(&info, 0, sizeof(info));
	info.size = (u64)region->npages << PAGE_SHIFT;
	spin_lock(&region->lock);
	info.prot = region->prot;
	info.flags = region->sealed ? SNAPVM_REGION_SEALED : 0;
	spin_unlock(&region->lock);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/* Returns the region behind @fd with a file reference in @f, or an error. */
static struct snapvm_region *snapvm_region_fdget(int fd, struct fd *f)
{
	*f = fdget(fd);
	if (!f->file)
		return ERR_PTR(-EBADF);
	if (f->file->f_op != &snapvm_region_fops) {
		fdput(*f);
		return ERR_PTR(-EINVAL);
	}
	return f->file->private_data;
}

/* Copies (or with @src NULL, zeroes) the pages set in @bitmap. */
static long snapvm_region_restore_pages(struct snapvm_region *dst,
					struct snapvm_region *src,
					const u64 *bitmap, u64 first_page,
					u64 npages)
{
	u64 word, nwords = DIV_ROUND_UP(npages, 64), w;
	long restored = 0;

	for (w = 0; w < nwords; w++) {
		word = bitmap[w];
		/* Bits past npages in the last word are not ours to act on. */
		if (w == nwords - 1 && npages % 64)
			word &= GENMASK_ULL(npages % 64 - 1, 0);
		while (word) {
			u64 page = first_page + w * 64 + __ffs64(word);

			if (src)
				copy_highpage(dst->pages[page], src->pages[page]);
			else
				clear_highpage(dst->pages[page]);
			word &= word - 1;
			restored++;
		}
		cond_resched();
	}
	return restored;
}

static long snapvm_region_ioctl_restore(struct snapvm_region *region,
					void __user *uarg)
{
	struct snapvm_region_restore args;
	struct snapvm_region *src = NULL;
	struct fd src_f = { };
	u64 *bitmap;
	size_t bitmap_bytes;
	long ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~SNAPVM_RESTORE_FLAGS_ALL)
		return -EINVAL;
	if (args.first_page > region->npages ||
	    args.npages > region->npages - args.first_page)
		return -EINVAL;

	/* Read all of it first, so a bad bitmap changes nothing. */
	bitmap_bytes = DIV_ROUND_UP(args.npages, 64) * sizeof(u64);
	bitmap = kvmalloc(bitmap_bytes ?: 1, GFP_KERNEL_ACCOUNT);
	if (!bitmap)
		return -ENOMEM;
	if (copy_from_user(bitmap, u64_to_user_ptr(args.bitmap), bitmap_bytes)) {
		ret = -EFAULT;
		goto out_free;
	}

	if (args.src_fd != SNAPVM_RESTORE_ZERO) {
		src = snapvm_region_fdget(args.src_fd, &src_f);
		if (IS_ERR(src)) {
			ret = PTR_ERR(src);
			goto out_free;
		}
		/* Sealed never reverts, so no lock is needed past this check. */
		spin_lock(&src->lock);
		ret = src->sealed && src->npages == region->npages ? 0 : -EINVAL;
		spin_unlock(&src->lock);
		if (ret)
			goto out_fdput;
	}

	down_read(&region->write_sem);
	spin_lock(&region->lock);
	ret = snapvm_region_writable(region) ? 0 : -EPERM;
	spin_unlock(&region->lock);
	if (!ret)
		ret = snapvm_region_restore_pages(region, src, bitmap,
						  args.first_page, args.npages);
	up_read(&region->write_sem);
out_fdput:
	if (src)
		fdput(src_f);
out_free:
	kvfree(bitmap);
	return ret;
}

static long snapvm_region_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct snapvm_region *region = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SNAPVM_REGION_INFO:
		return snapvm_region_ioctl_info(region, uarg);
	case SNAPVM_REGION_SEAL:
		return snapvm_region_ioctl_seal(region);
	case SNAPVM_REGION_RESTORE:
		return snapvm_region_ioctl_restore(region, uarg);
	default:
		return -ENOTTY;
	}
}

static ssize_t snapvm_region_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct snapvm_region *region = iocb->ki_filp->private_data;
	loff_t size = (loff_t)region->npages << PAGE_SHIFT;
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0;

	while (iov_iter_count(to) && pos < size) {
		size_t offset = offset_in_page(pos);
		size_t len = min_t(u64, PAGE_SIZE - offset, size - pos);
		size_t copied;

		copied = copy_page_to_iter(region->pages[pos >> PAGE_SHIFT],
					   offset, len, to);
		done += copied;
		pos += copied;
		if (copied < len && iov_iter_count(to)) {
			if (!done)
				return -EFAULT;
			break;
		}
		cond_resched();
	}
	iocb->ki_pos = pos;
	return done;
}

static ssize_t snapvm_region_write_iter(struct kiocb *iocb,
					struct iov_iter *from)
{
	struct snapvm_region *region = iocb->ki_filp->private_data;
	loff_t size = (loff_t)region->npages << PAGE_SHIFT;
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0;
	bool writable;

	if (!iov_iter_count(from))
		return 0;
	if (pos >= size)
		return -ENOSPC;

	down_read(&region->write_sem);
	spin_lock(&region->lock);
	writable = snapvm_region_writable(region);
	spin_unlock(&region->lock);
	if (!writable) {
		done = -EPERM;
		goto out_unlock;
	}

	while (iov_iter_count(from) && pos < size) {
		size_t offset = offset_in_page(pos);
		size_t len = min_t(u64, PAGE_SIZE - offset, size - pos);
		size_t copied;

		copied = copy_page_from_iter(region->pages[pos >> PAGE_SHIFT],
					     offset, len, from);
		done += copied;
		pos += copied;
		if (copied < len && iov_iter_count(from)) {
			if (!done)
				done = -EFAULT;
			break;
		}
		cond_resched();
	}
	if (done > 0)
		iocb->ki_pos = pos;
out_unlock:
	up_read(&region->write_sem);
	return done;
}

static loff_t snapvm_region_llseek(struct file *file, loff_t offset, int whence)
{
	struct snapvm_region *region = file->private_data;

	return fixed_size_llseek(file, offset, whence,
				 (loff_t)region->npages << PAGE_SHIFT);
}

static const struct file_operations snapvm_region_fops = {
	.owner = THIS_MODULE,
	.release = snapvm_region_release,
	.unlocked_ioctl = snapvm_region_ioctl,
	/* Every argument struct has the same layout for 32-bit callers. */
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = snapvm_region_mmap,
	.read_iter = snapvm_region_read_iter,
	.write_iter = snapvm_region_write_iter,
	.llseek = snapvm_region_llseek,
};

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

/* Takes @npages out of max_total_mb, or fails with -ENOMEM. */
static int snapvm_commit_pages(unsigned long npages)
{
	unsigned long limit = (unsigned long)READ_ONCE(max_total_mb) <<
			      (20 - PAGE_SHIFT);

	if (atomic_long_add_return(npages, &snapvm_committed_pages) > limit) {
		atomic_long_sub(npages, &snapvm_committed_pages);
		return -ENOMEM;
	}
	return 0;
}

static long snapvm_dev_ioctl_create(void __user *uarg)
{
	struct snapvm_region_create args;
	struct snapvm_region *region;
	unsigned long npages, allocated = 0;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	ret = snapvm_check_create(&args);
	if (ret)
		return ret;
	npages = args.size >> PAGE_SHIFT;

	ret = snapvm_commit_pages(npages);
	if (ret)
		return ret;
	ret = snapvm_charge_locked_vm(current->mm, npages);
	if (ret)
		goto err_uncommit;

	ret = -ENOMEM;
	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		goto err_unlock_vm;
	/* NOWARN: a huge max_region_mb must give ENOMEM, not a splat. */
	region->pages = kvmalloc_array(npages, sizeof(*region->pages),
				       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!region->pages)
		goto err_free_region;
	region->npages = npages;
	region->prot = args.prot;
	region->mm = current->mm;
	mmgrab(region->mm);
	spin_lock_init(&region->lock);
	init_rwsem(&region->write_sem);

	/* From here on snapvm_region_free() undoes everything above. */
	for (allocated = 0; allocated < npages; allocated++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_free_pages;
		}
		region->pages[allocated] = alloc_page(SNAPVM_GFP);
		if (!region->pages[allocated])
			goto err_free_pages;
		cond_resched();
	}
	atomic_long_add(npages, &snapvm_pinned_pages);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_free_pages;
	}
	file = anon_inode_getfile("[snapvm-region]", &snapvm_region_fops,
				  region, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}
	/* anon_inode_getfile() leaves these out: pread/pwrite would be ESPIPE. */
	file->f_mode |= FMODE_PREAD | FMODE_PWRITE;
	fd_install(fd, file);
	return fd;

err_put_fd:
	put_unused_fd(fd);
err_free_pages:
	snapvm_region_free(region, allocated);
	return ret;

err_free_region:
	kfree(region);
err_unlock_vm:
	snapvm_uncharge_locked_vm(current->mm, npages);
err_uncommit:
	atomic_long_sub(npages, &snapvm_committed_pages);
	return ret;
}

static long snapvm_dev_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	switch (cmd) {
	case SNAPVM_GET_API_VERSION:
		return SNAPVM_API_VERSION;
	case SNAPVM_CREATE_REGION:
		return snapvm_dev_ioctl_create((void __user *)arg);
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
	.mode = 0666,
};

static int __init snapvm_init(void)
{
	if (!max_total_mb)
		max_total_mb = (totalram_pages() >> (20 - PAGE_SHIFT)) / 2;
	return misc_register(&snapvm_misc);
}

static void __exit snapvm_exit(void)
{
	misc_deregister(&snapvm_misc);
}

module_init(snapvm_init);
module_exit(snapvm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Pinned, sealable memory regions for the snapvm micro-VMM");
