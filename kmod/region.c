// SPDX-License-Identifier: GPL-2.0
/*
 * snapvm.ko's regions: create, the accounting (RLIMIT_MEMLOCK, the memory
 * cgroup, max_total_mb), SEAL, RESTORE, DUP_READONLY, CLONE, INFO, and the
 * region as a fixed-size file (pread/pwrite/lseek). The pages themselves
 * (lazy faults, clones, the zero page) are page.c's; kmod/README.md maps the
 * files.
 */
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "snapvm_internal.h"

/*
 * The INFO of the first v2 modules: same number, the struct without
 * resident_pages. Binaries built against that header still ask it.
 */
#define SNAPVM_REGION_INFO_V2_0						\
	_IOC(_IOC_READ, SNAPVM_IOCTL_MAGIC, _IOC_NR(SNAPVM_REGION_INFO),	\
	     offsetof(struct snapvm_region_info, resident_pages))

/* Pages promised to regions (checked against max_total_mb). */
static atomic_long_t snapvm_committed_pages = ATOMIC_LONG_INIT(0);
/* Pages the regions hold right now (/sys/class/misc/snapvm/pinned_pages). */
atomic_long_t snapvm_pinned_pages = ATOMIC_LONG_INIT(0);

/* How often SEAL looks again for transient page references; see below. */
#define SNAPVM_SEAL_SCANS 5

static const struct file_operations snapvm_region_fops;
static const struct file_operations snapvm_region_ro_fops;

/* An fd from SNAPVM_REGION_DUP_READONLY: it may read and map, nothing else. */
bool snapvm_file_readonly(const struct file *file)
{
	return file->f_op == &snapvm_region_ro_fops;
}

/*
 * RLIMIT_MEMLOCK (@limit, bytes) as io_uring charges it: against the user, so
 * the charge stays with the pages wherever their fds and mappings go, and is
 * dropped exactly once, when they are freed. CAP_IPC_LOCK lifts the limit,
 * not the count: @cap says whether the charger has it, or is NULL to ask
 * capable(), and then only past the limit (it may log a denial).
 */
static int snapvm_charge_user(struct user_struct *user, unsigned long npages,
			      unsigned long limit, const bool *cap)
{
	unsigned long cur = atomic_long_read(&user->locked_vm), new;
	bool asked = false, capped = false;

	do {
		new = cur + npages;
		if (new < cur)
			return -ENOMEM;
		if (limit != RLIM_INFINITY && new > limit >> PAGE_SHIFT) {
			if (!asked) {
				capped = cap ? *cap : capable(CAP_IPC_LOCK);
				asked = true;
			}
			if (!capped)
				return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	return 0;
}

/* Takes @npages out of max_total_mb, or fails with -ENOMEM. */
static int snapvm_commit_pages(unsigned long npages)
{
	unsigned long limit = (unsigned long)READ_ONCE(snapvm_max_total_mb) <<
			      (20 - PAGE_SHIFT);

	if (atomic_long_add_return(npages, &snapvm_committed_pages) > limit) {
		atomic_long_sub(npages, &snapvm_committed_pages);
		return -ENOMEM;
	}
	return 0;
}

/* Charges @npages to everything a region's pages count against. */
int snapvm_charge(struct snapvm_region *region, unsigned long npages,
		  unsigned long limit, const bool *cap)
{
	int ret = snapvm_commit_pages(npages);

	if (ret)
		return ret;
	ret = snapvm_charge_user(region->user, npages, limit, cap);
	if (ret) {
		atomic_long_sub(npages, &snapvm_committed_pages);
		return ret;
	}
	atomic64_add(npages, &region->mm->pinned_vm);
	return 0;
}

void snapvm_uncharge(struct snapvm_region *region, unsigned long npages)
{
	atomic_long_sub(npages, &region->user->locked_vm);
	atomic64_sub(npages, &region->mm->pinned_vm);
	atomic_long_sub(npages, &snapvm_committed_pages);
}

/*
 * The last put: the pages, the charge, the bookkeeping; then the clone's
 * reference on its source, in a loop (a chain of clones is no recursion).
 */
static void snapvm_region_free(struct snapvm_region *region)
{
	struct snapvm_region *source;
	unsigned long i, held;

	do {
		held = 0;
		/* put_page: someone (a short get_user_pages) may hold one. */
		for (i = 0; i < region->npages; i++) {
			if (region->pages[i]) {
				put_page(region->pages[i]);
				held++;
			}
			if (i % 512 == 511)
				cond_resched();
		}
		atomic_long_sub(held, &snapvm_pinned_pages);
		kvfree(region->pages);
		snapvm_uncharge(region, region->resident);
		free_uid(region->user);
		mmdrop(region->mm);
		mem_cgroup_put(region->memcg);
		if (region->inode)
			iput(region->inode);
		source = region->source;
		kfree(region);
		region = source && refcount_dec_and_test(&source->refs) ?
			 source : NULL;
	} while (region);
}

void snapvm_region_put(struct snapvm_region *region)
{
	if (refcount_dec_and_test(&region->refs))
		snapvm_region_free(region);
}

static int snapvm_region_release(struct inode *inode, struct file *file)
{
	snapvm_region_put(file->private_data);
	return 0;
}

/* Caller holds region->lock. */
bool snapvm_region_writable(const struct snapvm_region *region)
{
	return (region->prot & SNAPVM_PROT_WRITE) && !region->sealed;
}

/* Caller holds sem, under which writable only changes by SEAL's hand. */
bool snapvm_region_writable_locked(struct snapvm_region *region)
{
	bool writable;

	spin_lock(&region->lock);
	writable = snapvm_region_writable(region);
	spin_unlock(&region->lock);
	return writable;
}

static int snapvm_region_pinned(const struct snapvm_region *region)
{
	unsigned long i;

	for (i = 0; i < region->npages; i++) {
		if (region->pages[i] && page_count(region->pages[i]) != 1)
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

/* @size: the caller's struct, the current one or SNAPVM_REGION_INFO_V2_0's. */
static long snapvm_region_ioctl_info(struct file *file,
				     struct snapvm_region *region,
				     void __user *uarg, size_t size)
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
	if (region->lazy)
		info.flags |= SNAPVM_REGION_LAZY;
	if (region->source)
		info.flags |= SNAPVM_REGION_CLONED;
	info.resident_pages = READ_ONCE(region->resident);

	if (copy_to_user(uarg, &info, min(size, sizeof(info))))
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

/*
 * Copies (or with @src NULL, zeroes) the pages set in @bitmap; counts the
 * pages it wrote. A lazy page already reading as wanted (zero for a page
 * never touched, the source's page for a page a clone shares with it) is
 * left as it is, and costs nothing; any other page not yet the region's own
 * is made so, with the wanted content.
 */
static long snapvm_region_restore_pages(struct snapvm_region *dst,
					struct snapvm_region *src,
					const u64 *bitmap, u64 first_page,
					u64 npages)
{
	u64 word, nwords = DIV_ROUND_UP(npages, 64), w;
	struct page *want, *own;
	long restored = 0;
	bool made;

	for (w = 0; w < nwords; w++) {
		word = bitmap[w];
		/* Bits past npages in the last word are not ours to act on. */
		if (w == nwords - 1 && npages % 64)
			word &= GENMASK_ULL(npages % 64 - 1, 0);
		while (word) {
			u64 page = first_page + w * 64 + __ffs64(word);

			word &= word - 1;
			want = src ? snapvm_page_resolve(src, page) :
				     snapvm_zero_page;
			own = snapvm_own_page(dst, page);
			if (!own) {
				if (snapvm_page_resolve(dst, page) == want)
					continue;
				own = snapvm_page_make(dst, page, want, &made);
				if (IS_ERR(own))
					return PTR_ERR(own);
				if (made) {
					restored++;
					continue;
				}
			}
			if (want == snapvm_zero_page)
				snapvm_clear_page(own);
			else
				copy_highpage(own, want);
			/* User space maps these pages. */
			flush_dcache_page(own);
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

/*
 * A new region of @npages, owned by the caller: its user, mm and memory
 * cgroup are charged for its pages, none of which it has yet. The caller
 * holds the only reference.
 */
struct snapvm_region *snapvm_region_alloc(unsigned long npages,
					  u32 prot, bool lazy)
{
	struct snapvm_region *region;
	int ret;

	region = kzalloc(sizeof(*region), SNAPVM_GFP_ARRAY);
	if (!region)
		return ERR_PTR(-ENOMEM);
	region->pages = kvcalloc(npages, sizeof(*region->pages),
				 SNAPVM_GFP_ARRAY);
	if (!region->pages) {
		kfree(region);
		return ERR_PTR(-ENOMEM);
	}
	refcount_set(&region->refs, 1);
	region->npages = npages;
	region->lazy = lazy;
	region->prot = prot;
	region->user = get_current_user();
	/*
	 * A lazy region's pages are charged as if made now, by its creator,
	 * whoever touches them: noaudit, as the capability may never be used.
	 */
	region->memlock = rlimit(RLIMIT_MEMLOCK);
	region->ipc_lock = lazy &&
			   ns_capable_noaudit(&init_user_ns, CAP_IPC_LOCK);
	region->mm = current->mm;
	mmgrab(region->mm);
	region->memcg = get_mem_cgroup_from_mm(current->mm);
	spin_lock_init(&region->lock);
	init_rwsem(&region->sem);
	mutex_init(&region->alloc_lock);

	/* From here on snapvm_region_free() undoes everything above. */
	region->inode = alloc_anon_inode(snapvm_mnt->mnt_sb);
	if (IS_ERR(region->inode)) {
		ret = PTR_ERR(region->inode);
		region->inode = NULL;
		snapvm_region_free(region);
		return ERR_PTR(ret);
	}
	return region;
}

/* Gives the caller's reference to a new O_CLOEXEC fd, which it returns. */
long snapvm_region_install(struct snapvm_region *region)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		snapvm_region_put(region);
		return fd;
	}
	file = snapvm_region_file(region, &snapvm_region_fops);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		snapvm_region_put(region);
		return PTR_ERR(file);
	}
	fd_install(fd, file);
	snapvm_region_put(region);
	return fd;
}

/*
 * A lazy private clone of a sealed region, with prot of its own: WRITE even
 * though the source is sealed (its writes go to its own pages), EXEC only if
 * the source has it. Its pages are charged to the caller, who may hold only
 * a read-only fd of the source: reading is all a clone does with it.
 */
static long snapvm_region_ioctl_clone(struct snapvm_region *source,
				      void __user *uarg)
{
	struct snapvm_region_clone args;
	struct snapvm_region *clone;
	bool sealed;
	u32 prot;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (!(args.prot & SNAPVM_PROT_READ) ||
	    (args.prot & ~SNAPVM_PROT_ALL) || args.flags ||
	    args.reserved[0] || args.reserved[1])
		return -EINVAL;
	spin_lock(&source->lock);
	sealed = source->sealed;
	prot = source->prot;
	spin_unlock(&source->lock);
	/* Only a sealed source keeps the pages a clone shares unchanged. */
	if (!sealed)
		return -EINVAL;
	if ((args.prot & SNAPVM_PROT_EXEC) && !(prot & SNAPVM_PROT_EXEC))
		return -EINVAL;

	clone = snapvm_region_alloc(source->npages, args.prot, true);
	if (IS_ERR(clone))
		return PTR_ERR(clone);
	refcount_inc(&source->refs);
	clone->source = source;
	return snapvm_region_install(clone);
}

static long snapvm_region_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct snapvm_region *region = file->private_data;
	void __user *uarg = (void __user *)arg;
	bool readonly = snapvm_file_readonly(file);

	switch (cmd) {
	case SNAPVM_REGION_INFO:
	case SNAPVM_REGION_INFO_V2_0:
		return snapvm_region_ioctl_info(file, region, uarg,
						_IOC_SIZE(cmd));
	case SNAPVM_REGION_SEAL:
		return readonly ? -EPERM : snapvm_region_ioctl_seal(region, arg);
	case SNAPVM_REGION_RESTORE:
		return readonly ? -EPERM :
				  snapvm_region_ioctl_restore(region, uarg);
	case SNAPVM_REGION_DUP_READONLY:
		return snapvm_region_ioctl_dup_readonly(region);
	case SNAPVM_REGION_CLONE:
		return snapvm_region_ioctl_clone(region, uarg);
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

		/* A lazy page not there reads as zero and stays away. */
		copied = copy_page_to_iter(snapvm_page_resolve(region,
							       pos >> PAGE_SHIFT),
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
	bool made;

	if (snapvm_file_readonly(iocb->ki_filp))
		return -EPERM;
	if (!iov_iter_count(from))
		return 0;
	if (pos >= size)
		return -ENOSPC;

	while (iov_iter_count(from) && pos < size) {
		size_t offset = offset_in_page(pos);
		size_t len = min_t(u64, PAGE_SIZE - offset, size - pos);
		unsigned long idx = pos >> PAGE_SHIFT;
		struct page *page;
		size_t copied;

		len = min_t(size_t, len, iov_iter_count(from));
		if (down_read_killable(&region->sem)) {
			if (!done)
				done = -EINTR;
			break;
		}
		if (!snapvm_region_writable_locked(region)) {
			up_read(&region->sem);
			if (!done)
				done = -EPERM;
			break;
		}
		/* A lazy page comes now (a clone's: a copy of the source's). */
		page = snapvm_own_page(region, idx);
		if (!page)
			page = snapvm_page_make(region, idx, NULL, &made);
		if (IS_ERR(page)) {
			up_read(&region->sem);
			if (!done)
				done = PTR_ERR(page);
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

/*
 * A region that is not lazy: every page charged (to the caller's
 * RLIMIT_MEMLOCK now), allocated and zeroed before its fd exists.
 */
int snapvm_region_fill(struct snapvm_region *region)
{
	unsigned long i, npages = region->npages;
	int ret;

	ret = snapvm_charge(region, npages, rlimit(RLIMIT_MEMLOCK), NULL);
	if (ret)
		return ret;
	region->resident = npages;
	for (i = 0; i < npages; i++) {
		if (fatal_signal_pending(current))
			return -EINTR;
		region->pages[i] = alloc_page(SNAPVM_GFP);
		if (!region->pages[i])
			return -ENOMEM;
		snapvm_clear_page(region->pages[i]);
		atomic_long_inc(&snapvm_pinned_pages);
		cond_resched();
	}
	return 0;
}
