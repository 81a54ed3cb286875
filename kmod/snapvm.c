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
 * Locking, per region:
 * - sem (rw_semaphore): SEAL takes it for writing; everything that could
 *   change the content or hand out a new reference takes it for reading:
 *   pwrite, RESTORE, ->mmap and the fault handler. Nothing holds it across a
 *   user-memory fault (pwrite copies with page faults disabled), so it is
 *   never waited for forever. Order: mmap_lock -> sem -> i_mmap_rwsem.
 * - lock (spinlock) guards prot, sealed and shared_maywrite. It is taken under
 *   mmap_lock (->mmap, vm_ops open/close), so nothing under it sleeps.
 */
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/personality.h>
#include <linux/pseudo_fs.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include <snapvm.h>

/* Regions are addressed in pages of SNAPVM_PAGE_SIZE; mappings in PAGE_SIZE. */
static_assert(PAGE_SIZE == SNAPVM_PAGE_SIZE);

/* The pseudo filesystem's magic ("snpv"): only its inodes' owner reads it. */
#define SNAPVM_FS_MAGIC 0x736e7076

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

static struct vfsmount *snapvm_mnt;

/*
 * Pinned pages cannot be reclaimed, so running out must be an error and never
 * an OOM kill: RETRY_MAYFAIL reclaims what it can, then fails without invoking
 * the (global or memcg) OOM killer; NOWARN because failing is an answer here.
 * ACCOUNT charges the creator's memory cgroup. Not MOVABLE: the pages never
 * move, so they must not sit in ZONE_MOVABLE or CMA. The same holds for the
 * module's own arrays, whose size the caller chooses.
 */
#define SNAPVM_GFP (GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT | \
		    __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
#define SNAPVM_GFP_ARRAY (GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | \
			  __GFP_NOWARN)

/* How often SEAL looks again for transient page references; see below. */
#define SNAPVM_SEAL_SCANS 5

struct snapvm_region {
	refcount_t refs;		/* one per file: the region fd and its dups */
	struct page **pages;
	unsigned long npages;
	/* npages of locked_vm, with a reference: dropped at the last put. */
	struct user_struct *user;
	/* The creator's mm shows npages in VmPin until then (mmgrab()bed). */
	struct mm_struct *mm;
	struct inode *inode;		/* its own: SEAL unmaps every mapping */

	spinlock_t lock;		/* guards the three fields below */
	u32 prot;			/* SNAPVM_PROT_*, WRITE dropped by SEAL */
	bool sealed;			/* for good: never reverts */
	unsigned long shared_maywrite;	/* VM_SHARED + VM_MAYWRITE mappings */

	struct rw_semaphore sem;	/* see the locking notes above */
};

static const struct file_operations snapvm_region_fops;
static const struct file_operations snapvm_region_ro_fops;

/* An fd from SNAPVM_REGION_DUP_READONLY: it may read and map, nothing else. */
static bool snapvm_file_readonly(const struct file *file)
{
	return file->f_op == &snapvm_region_ro_fops;
}

/*
 * RLIMIT_MEMLOCK as io_uring charges it: against the user, so the charge stays
 * with the pages wherever their fds and mappings go, and is dropped exactly
 * once, when they are freed. CAP_IPC_LOCK lifts the limit, not the count, and
 * capable() is asked only past the limit (it may log a denial).
 */
static int snapvm_charge_user(struct user_struct *user, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&user->locked_vm), new;
	bool asked = false, cap = false;

	do {
		new = cur + npages;
		if (new < cur)
			return -ENOMEM;
		if (rlimit(RLIMIT_MEMLOCK) != RLIM_INFINITY && new > limit) {
			if (!asked) {
				cap = capable(CAP_IPC_LOCK);
				asked = true;
			}
			if (!cap)
				return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	return 0;
}

/* The last put: the pages, the charge, the bookkeeping. */
static void snapvm_region_free(struct snapvm_region *region,
			       unsigned long allocated)
{
	unsigned long i;

	/* put_page: someone (e.g. a short get_user_pages) may still hold one. */
	for (i = 0; i < allocated; i++) {
		put_page(region->pages[i]);
		if (i % 512 == 511)
			cond_resched();
	}
	kvfree(region->pages);
	if (allocated == region->npages)
		atomic_long_sub(region->npages, &snapvm_pinned_pages);
	atomic_long_sub(region->npages, &region->user->locked_vm);
	free_uid(region->user);
	atomic64_sub(region->npages, &region->mm->pinned_vm);
	mmdrop(region->mm);
	atomic_long_sub(region->npages, &snapvm_committed_pages);
	if (region->inode)
		iput(region->inode);
	kfree(region);
}

static void snapvm_region_put(struct snapvm_region *region)
{
	if (refcount_dec_and_test(&region->refs))
		snapvm_region_free(region, region->npages);
}

static int snapvm_region_release(struct inode *inode, struct file *file)
{
	snapvm_region_put(file->private_data);
	return 0;
}

/* Caller holds region->lock. */
static bool snapvm_region_writable(const struct snapvm_region *region)
{
	return (region->prot & SNAPVM_PROT_WRITE) && !region->sealed;
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
 * mapping copies the page instead of touching the region. Waits while SEAL
 * counts references; only a task being killed gives up (SIGBUS, as it dies).
 */
static vm_fault_t snapvm_vm_fault(struct vm_fault *vmf)
{
	struct snapvm_region *region = vmf->vma->vm_file->private_data;

	if (vmf->pgoff >= region->npages)
		return VM_FAULT_SIGBUS;
	if (down_read_killable(&region->sem))
		return VM_FAULT_SIGBUS;
	vmf->page = region->pages[vmf->pgoff];
	get_page(vmf->page);
	up_read(&region->sem);
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

	/* A SEAL in progress decides what this mapping may be: wait for it. */
	if (down_read_killable(&region->sem))
		return -EINTR;
	spin_lock(&region->lock);
	if (!(region->prot & SNAPVM_PROT_EXEC)) {
		/*
		 * READ_IMPLIES_EXEC adds VM_EXEC to a PROT_READ mapping; a
		 * region without EXEC gets the mapping without it (an explicit
		 * PROT_EXEC cannot be told apart under that personality).
		 */
		if ((vma->vm_flags & VM_EXEC) &&
		    !(current->personality & READ_IMPLIES_EXEC)) {
			ret = -EACCES;
			goto out_unlock;
		}
		vma->vm_flags &= ~(VM_EXEC | VM_MAYEXEC);
	}
	/* MAP_PRIVATE stays writable: its writes land in private copies. */
	if (shared && (snapvm_file_readonly(file) ||
		       !snapvm_region_writable(region))) {
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
	up_read(&region->sem);
	return ret;
}

/*
 * With every mapping's page table entries gone and faults waiting on sem, a
 * page's references are the region's own plus those taken before: page_count
 * alone tells, in one load, with nothing that can add to it meanwhile (a
 * gup-fast that raced the unmap drops its reference once it sees the entry
 * gone, hence the few scans).
 */
static int snapvm_region_pinned(const struct snapvm_region *region)
{
	unsigned long i;

	for (i = 0; i < region->npages; i++) {
		if (page_count(region->pages[i]) != 1)
			return 1;
		if (i % 512 == 511) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return 0;
}

/*
 * SEAL refuses long-term references that could write by construction: it
 * unmaps every page table entry of the region, so that any reference left
 * was taken before (an O_DIRECT read into a writable mapping since unmapped,
 * say) and shows in page_count; new faults wait until SEAL has decided. A
 * SEAL that fails leaves no trace: it changed no mapping's flags (the unmapped
 * entries fault back in) and refused nothing while it ran (->mmap waits).
 */
static long snapvm_region_ioctl_seal(struct snapvm_region *region,
				     unsigned long flags)
{
	int scan, pinned = 0;
	long ret = 0;

	if (flags & ~(unsigned long)SNAPVM_SEAL_FLAGS_ALL)
		return -EINVAL;
	if (down_write_killable(&region->sem))
		return -EINTR;
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
	spin_unlock(&region->lock);

	unmap_mapping_range(region->inode->i_mapping, 0, 0, 0);
	for (scan = 0; scan < SNAPVM_SEAL_SCANS; scan++) {
		pinned = snapvm_region_pinned(region);
		if (pinned <= 0)
			break;
		if (fatal_signal_pending(current)) {
			pinned = -EINTR;
			break;
		}
		usleep_range(2000, 4000);
	}

	spin_lock(&region->lock);
	if (pinned < 0) {
		ret = pinned;
	} else if (pinned) {
		ret = -EBUSY;
	} else {
		region->sealed = true;
		region->prot &= ~SNAPVM_PROT_WRITE;
	}
out_unlock:
	spin_unlock(&region->lock);
	up_write(&region->sem);
	return ret;
}

static long snapvm_region_ioctl_info(struct file *file,
				     struct snapvm_region *region,
				     void __user *uarg)
{
	struct snapvm_region_info info;

	memset(&info, 0, sizeof(info));
	info.size = (u64)region->npages << PAGE_SHIFT;
	spin_lock(&region->lock);
	info.prot = region->prot;
	info.flags = region->sealed ? SNAPVM_REGION_SEALED : 0;
	spin_unlock(&region->lock);
	if (snapvm_file_readonly(file))
		info.flags |= SNAPVM_REGION_READONLY_FD;

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
	if (f->file->f_op != &snapvm_region_fops &&
	    !snapvm_file_readonly(f->file)) {
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
			/* User space maps these pages. */
			flush_dcache_page(dst->pages[page]);
			word &= word - 1;
			restored++;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
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
	if (args.flags & ~SNAPVM_RESTORE_FLAGS_ALL ||
	    args.reserved[0] || args.reserved[1])
		return -EINVAL;
	if (args.first_page > region->npages ||
	    args.npages > region->npages - args.first_page)
		return -EINVAL;

	/* Read all of it first, so a bad bitmap changes nothing. */
	bitmap_bytes = DIV_ROUND_UP(args.npages, 64) * sizeof(u64);
	bitmap = kvmalloc(bitmap_bytes ?: 1, SNAPVM_GFP_ARRAY);
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

	if (down_read_killable(&region->sem)) {
		ret = -EINTR;
		goto out_fdput;
	}
	spin_lock(&region->lock);
	ret = snapvm_region_writable(region) ? 0 : -EPERM;
	spin_unlock(&region->lock);
	if (!ret)
		ret = snapvm_region_restore_pages(region, src, bitmap,
						  args.first_page, args.npages);
	up_read(&region->sem);
out_fdput:
	if (src)
		fdput(src_f);
out_free:
	kvfree(bitmap);
	return ret;
}

static struct file *snapvm_region_file(struct snapvm_region *region,
				       const struct file_operations *fops);

static long snapvm_region_ioctl_dup_readonly(struct snapvm_region *region)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = snapvm_region_file(region, &snapvm_region_ro_fops);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	fd_install(fd, file);
	return fd;
}

static long snapvm_region_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct snapvm_region *region = file->private_data;
	void __user *uarg = (void __user *)arg;
	bool readonly = snapvm_file_readonly(file);

	switch (cmd) {
	case SNAPVM_REGION_INFO:
		return snapvm_region_ioctl_info(file, region, uarg);
	case SNAPVM_REGION_SEAL:
		return readonly ? -EPERM : snapvm_region_ioctl_seal(region, arg);
	case SNAPVM_REGION_RESTORE:
		return readonly ? -EPERM :
				  snapvm_region_ioctl_restore(region, uarg);
	case SNAPVM_REGION_DUP_READONLY:
		return snapvm_region_ioctl_dup_readonly(region);
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

/*
 * Copies under sem with page faults disabled; a piece that needs a fault is
 * faulted in with sem dropped, then copied again: SEAL never waits on a user
 * page (a FUSE or NFS buffer may take forever).
 */
static ssize_t snapvm_region_write_iter(struct kiocb *iocb,
					struct iov_iter *from)
{
	struct snapvm_region *region = iocb->ki_filp->private_data;
	loff_t size = (loff_t)region->npages << PAGE_SHIFT;
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0;
	bool writable;

	if (snapvm_file_readonly(iocb->ki_filp))
		return -EPERM;
	if (!iov_iter_count(from))
		return 0;
	if (pos >= size)
		return -ENOSPC;

	while (iov_iter_count(from) && pos < size) {
		size_t offset = offset_in_page(pos);
		size_t len = min_t(u64, PAGE_SIZE - offset, size - pos);
		struct page *page = region->pages[pos >> PAGE_SHIFT];
		size_t copied;

		len = min_t(size_t, len, iov_iter_count(from));
		if (down_read_killable(&region->sem)) {
			if (!done)
				done = -EINTR;
			break;
		}
		spin_lock(&region->lock);
		writable = snapvm_region_writable(region);
		spin_unlock(&region->lock);
		if (!writable) {
			up_read(&region->sem);
			if (!done)
				done = -EPERM;
			break;
		}
		pagefault_disable();
		copied = copy_page_from_iter_atomic(page, offset, len, from);
		pagefault_enable();
		flush_dcache_page(page);
		up_read(&region->sem);

		done += copied;
		pos += copied;
		if (copied < len && fault_in_iov_iter_readable(from, len - copied) ==
				    len - copied) {
			if (!done)
				done = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current)) {
			if (!done)
				done = -EINTR;
			break;
		}
		cond_resched();
	}
	if (done > 0)
		iocb->ki_pos = pos;
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

/* The same operations; being this struct is what makes an fd read-only. */
static const struct file_operations snapvm_region_ro_fops = {
	.owner = THIS_MODULE,
	.release = snapvm_region_release,
	.unlocked_ioctl = snapvm_region_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = snapvm_region_mmap,
	.read_iter = snapvm_region_read_iter,
	.write_iter = snapvm_region_write_iter,
	.llseek = snapvm_region_llseek,
};

/* A new file on the region's inode; takes a region reference on success. */
static struct file *snapvm_region_file(struct snapvm_region *region,
				       const struct file_operations *fops)
{
	struct file *file;

	/* The file's fops_put() at its last fput drops this module reference. */
	if (!fops_get(fops))
		return ERR_PTR(-ENOENT);
	ihold(region->inode);
	/*
	 * O_RDWR even for a read-only fd, so that pwrite reaches write_iter
	 * and fails with EPERM (not EBADF) there, as the ABI says.
	 */
	file = alloc_file_pseudo(region->inode, snapvm_mnt, "[snapvm-region]",
				 O_RDWR, fops);
	if (IS_ERR(file)) {
		iput(region->inode);
		fops_put(fops);
		return file;
	}
	file->f_mode |= FMODE_PREAD | FMODE_PWRITE;
	file->private_data = region;
	refcount_inc(&region->refs);
	return file;
}

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
	struct user_struct *user;
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
	user = get_current_user();
	ret = snapvm_charge_user(user, npages);
	if (ret) {
		free_uid(user);
		goto err_uncommit;
	}

	ret = -ENOMEM;
	region = kzalloc(sizeof(*region), SNAPVM_GFP_ARRAY);
	if (!region)
		goto err_uncharge;
	region->pages = kvmalloc_array(npages, sizeof(*region->pages),
				       SNAPVM_GFP_ARRAY);
	if (!region->pages) {
		kfree(region);
		goto err_uncharge;
	}
	refcount_set(&region->refs, 1);	/* this function's, until the fd */
	region->npages = npages;
	region->prot = args.prot;
	region->user = user;
	region->mm = current->mm;
	mmgrab(region->mm);
	atomic64_add(npages, &region->mm->pinned_vm);
	spin_lock_init(&region->lock);
	init_rwsem(&region->sem);

	/* From here on snapvm_region_free() undoes everything above. */
	for (allocated = 0; allocated < npages; allocated++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_free;
		}
		region->pages[allocated] = alloc_page(SNAPVM_GFP);
		if (!region->pages[allocated])
			goto err_free;
		cond_resched();
	}
	atomic_long_add(npages, &snapvm_pinned_pages);

	region->inode = alloc_anon_inode(snapvm_mnt->mnt_sb);
	if (IS_ERR(region->inode)) {
		ret = PTR_ERR(region->inode);
		region->inode = NULL;
		goto err_free;
	}
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_free;
	}
	file = snapvm_region_file(region, &snapvm_region_fops);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		ret = PTR_ERR(file);
		goto err_free;
	}
	fd_install(fd, file);
	snapvm_region_put(region);
	return fd;

err_free:
	snapvm_region_free(region, allocated);
	return ret;

err_uncharge:
	atomic_long_sub(npages, &user->locked_vm);
	free_uid(user);
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
	case SNAPVM_GET_FEATURES:
		return SNAPVM_FEATURE_DUP_READONLY;
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

	if (!max_total_mb)
		max_total_mb = (totalram_pages() >> (20 - PAGE_SHIFT)) / 2;
	snapvm_mnt = kern_mount(&snapvm_fs_type);
	if (IS_ERR(snapvm_mnt))
		return PTR_ERR(snapvm_mnt);
	ret = misc_register(&snapvm_misc);
	if (ret)
		kern_unmount(snapvm_mnt);
	return ret;
}

static void __exit snapvm_exit(void)
{
	misc_deregister(&snapvm_misc);
	kern_unmount(snapvm_mnt);
}

module_init(snapvm_init);
module_exit(snapvm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Pinned, sealable memory regions for the snapvm micro-VMM");
