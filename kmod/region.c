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
 * A lazy region gets each page (allocated, zeroed, charged and pinned as
 * above) at its first touch: a fault, pwrite or RESTORE. A clone is a lazy
 * region over a sealed source: a page it never wrote reads as the source's
 * (and is mapped as the source's, read-only), its first write gives it a copy
 * of its own. pages[i] is NULL until page i is the region's own, and then
 * stays until the region is freed.
 *
 * Each region has an inode of its own (a small pseudo filesystem), so SEAL can
 * take every page table entry of the region away (unmap_mapping_range) and
 * count page references that nothing can add to meanwhile.
 *
 * Locking, per region:
 * - sem (rw_semaphore): SEAL takes it for writing; everything that could
 *   change the content or hand out a new reference takes it for reading:
 *   pwrite, RESTORE, ->mmap and the fault handlers. Nothing holds it across a
 *   user-memory fault (pwrite copies with page faults disabled), so it is
 *   never waited for forever. Order: mmap_lock -> sem -> alloc_lock ->
 *   page lock -> i_mmap_rwsem.
 * - lock (spinlock) guards prot, sealed and shared_maywrite. It is taken under
 *   mmap_lock (->mmap, vm_ops open/close), so nothing under it sleeps.
 * - alloc_lock (mutex) makes a page the region's own: one allocation and one
 *   charge per page, however many first touches race.
 * - A clone's fault maps a shared page only with that page locked and
 *   pages[i] seen NULL under the lock; giving the clone its own page unmaps
 *   page i and stores pages[i] under the same page lock. So no mapping of the
 *   clone keeps the shared page once its own is in.
 */
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
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

/*
 * The INFO of the first v2 modules: same number, the struct without
 * resident_pages. Binaries built against that header still ask it.
 */
#define SNAPVM_REGION_INFO_V2_0						\
	_IOC(_IOC_READ, SNAPVM_IOCTL_MAGIC, _IOC_NR(SNAPVM_REGION_INFO),	\
	     offsetof(struct snapvm_region_info, resident_pages))

static unsigned int max_region_mb = 4096;
module_param(max_region_mb, uint, 0644);
MODULE_PARM_DESC(max_region_mb, "Largest region, in MiB (default 4096)");

/* 0 at load time means half of RAM; see snapvm_init(). */
static unsigned int max_total_mb;
module_param(max_total_mb, uint, 0644);
MODULE_PARM_DESC(max_total_mb, "All regions together, in MiB (default: half of RAM)");

/* Pages promised to regions (checked against max_total_mb). */
static atomic_long_t snapvm_committed_pages = ATOMIC_LONG_INIT(0);
/* Pages the regions hold right now (/sys/class/misc/snapvm/pinned_pages). */
static atomic_long_t snapvm_pinned_pages = ATOMIC_LONG_INIT(0);

/*
 * What a lazy page never touched reads as, in a region that can no longer be
 * written (sealed, or without WRITE) and in a clone whose source never had
 * it: one page for all of them, never written, so that reading costs nothing.
 */
static struct page *snapvm_zero_page;

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
	refcount_t refs;		/* per file, and per clone of it */
	struct page **pages;		/* NULL: not (yet) the region's own */
	unsigned long npages;
	bool lazy;			/* pages come at first touch */
	/* A clone's: sealed, so its pages never change; referenced. */
	struct snapvm_region *source;
	/*
	 * Its locked_vm counts the region's resident pages, with a reference:
	 * dropped at the last put. A lazy region charges against the
	 * RLIMIT_MEMLOCK and CAP_IPC_LOCK its creator had at create.
	 */
	struct user_struct *user;
	unsigned long memlock;
	bool ipc_lock;
	/* The creator's mm shows them in VmPin until then (mmgrab()bed). */
	struct mm_struct *mm;
	struct mem_cgroup *memcg;	/* the creator's, charged at touch */
	struct inode *inode;		/* its own: SEAL unmaps every mapping */

	spinlock_t lock;		/* guards the three fields below */
	u32 prot;			/* SNAPVM_PROT_*, WRITE dropped by SEAL */
	bool sealed;			/* for good: never reverts */
	unsigned long shared_maywrite;	/* VM_SHARED + VM_MAYWRITE mappings */

	struct rw_semaphore sem;	/* see the locking notes above */
	struct mutex alloc_lock;	/* guards resident, fills pages[] */
	unsigned long resident;		/* pages charged; read locklessly */
};

static const struct file_operations snapvm_region_fops;
static const struct file_operations snapvm_region_ro_fops;

/* An fd from SNAPVM_REGION_DUP_READONLY: it may read and map, nothing else. */
static bool snapvm_file_readonly(const struct file *file)
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
	unsigned long limit = (unsigned long)READ_ONCE(max_total_mb) <<
			      (20 - PAGE_SHIFT);

	if (atomic_long_add_return(npages, &snapvm_committed_pages) > limit) {
		atomic_long_sub(npages, &snapvm_committed_pages);
		return -ENOMEM;
	}
	return 0;
}

/* Charges @npages to everything a region's pages count against. */
static int snapvm_charge(struct snapvm_region *region, unsigned long npages,
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

static void snapvm_uncharge(struct snapvm_region *region, unsigned long npages)
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

static void snapvm_region_put(struct snapvm_region *region)
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
static bool snapvm_region_writable(const struct snapvm_region *region)
{
	return (region->prot & SNAPVM_PROT_WRITE) && !region->sealed;
}

/* Caller holds sem, under which writable only changes by SEAL's hand. */
static bool snapvm_region_writable_locked(struct snapvm_region *region)
{
	bool writable;

	spin_lock(&region->lock);
	writable = snapvm_region_writable(region);
	spin_unlock(&region->lock);
	return writable;
}

/* Page @idx if it is the region's own, else NULL. */
static struct page *snapvm_own_page(struct snapvm_region *region,
				    unsigned long idx)
{
	/* Pairs with the release in snapvm_page_make(): content first. */
	return smp_load_acquire(&region->pages[idx]);
}

/*
 * What page @idx of @region reads as: its own page, else (a clone) its
 * source's, else the zero page. Sources are sealed, and a sealed region never
 * gets a page it lacks, so for a clone the answer only changes when the clone
 * gets its own page.
 */
static struct page *snapvm_page_resolve(struct snapvm_region *region,
					unsigned long idx)
{
	struct page *page;

	for (;;) {
		page = snapvm_own_page(region, idx);
		if (page)
			return page;
		if (!region->source)
			return snapvm_zero_page;
		region = region->source;
	}
}

/*
 * Makes page @idx the region's own (charged, pinned), with @from's content
 * (NULL: what it reads as now; the zero page: zeroes), unless it already is;
 * *@made says which. Returns the page, or ERR_PTR -ENOMEM (the charge or the
 * allocation failed; never the OOM killer) or -EINTR (killed). Caller holds
 * sem for reading and saw the region writable: sealed regions never change.
 */
static struct page *snapvm_page_make(struct snapvm_region *region,
				     unsigned long idx, struct page *from,
				     bool *made)
{
	struct page *page, *shared;
	struct mem_cgroup *old;
	int ret;

	*made = false;
	if (mutex_lock_killable(&region->alloc_lock))
		return ERR_PTR(-EINTR);
	page = region->pages[idx];
	if (page)
		goto out_unlock;

	ret = snapvm_charge(region, 1, region->memlock, &region->ipc_lock);
	if (ret) {
		page = ERR_PTR(ret);
		goto out_unlock;
	}
	shared = snapvm_page_resolve(region, idx);
	if (!from)
		from = shared;
	/* The creator's memory cgroup, whoever touches the page. */
	old = set_active_memcg(region->memcg);
	page = alloc_page(from == snapvm_zero_page ? SNAPVM_GFP :
			  SNAPVM_GFP & ~__GFP_ZERO);
	set_active_memcg(old);
	if (!page) {
		snapvm_uncharge(region, 1);
		page = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	if (from != snapvm_zero_page) {
		copy_highpage(page, from);
		flush_dcache_page(page);
	}
	WRITE_ONCE(region->resident, region->resident + 1);
	atomic_long_inc(&snapvm_pinned_pages);
	*made = true;

	if (!region->source) {
		/* Nothing mapped the page: faults make it first. Content first. */
		smp_store_release(&region->pages[idx], page);
		goto out_unlock;
	}
	/*
	 * Every mapping (and KVM, by its MMU notifier) lets go of the shared
	 * page, while the lock keeps a fault from mapping it again before it
	 * sees the new page: see the locking notes.
	 */
	lock_page(shared);
	unmap_mapping_range(region->inode->i_mapping,
			    (loff_t)idx << PAGE_SHIFT, PAGE_SIZE, 0);
	/* Pairs with snapvm_own_page()'s acquire: content first. */
	smp_store_release(&region->pages[idx], page);
	unlock_page(shared);
out_unlock:
	mutex_unlock(&region->alloc_lock);
	return page;
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
 *
 * A lazy page is made at its first fault, unless the region can never be
 * written again (then it stays the zero page). A page a clone shares is
 * mapped as the source's page, locked (see the locking notes); its shared
 * writable mappings are write-notified, so that page is mapped read-only and
 * its first write reaches snapvm_vm_page_mkwrite(). A write fault with no
 * entry at all makes the clone's own page right here. A charge or an
 * allocation that fails is SIGBUS: VM_FAULT_OOM would retry the fault
 * forever (the OOM killer is never asked on a region's behalf).
 */
static vm_fault_t snapvm_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct snapvm_region *region = vma->vm_file->private_data;
	unsigned long idx = vmf->pgoff;
	struct page *page, *shared;
	vm_fault_t ret = 0;
	bool made;

	if (idx >= region->npages)
		return VM_FAULT_SIGBUS;
	if (down_read_killable(&region->sem))
		return VM_FAULT_SIGBUS;
	page = snapvm_own_page(region, idx);
	if (page)
		goto out;
	if (!snapvm_region_writable_locked(region)) {
		/* It can never change: no own page is ever needed. */
		page = snapvm_page_resolve(region, idx);
		goto out;
	}
	if (!region->source || ((vmf->flags & FAULT_FLAG_WRITE) &&
				(vma->vm_flags & VM_SHARED))) {
		page = snapvm_page_make(region, idx, NULL, &made);
		if (IS_ERR(page)) {
			ret = VM_FAULT_SIGBUS;
			goto out_unlock;
		}
		goto out;
	}

	shared = snapvm_page_resolve(region->source, idx);
	if (lock_page_killable(shared)) {
		ret = VM_FAULT_SIGBUS;
		goto out_unlock;
	}
	page = snapvm_own_page(region, idx);
	if (page) {
		unlock_page(shared);
		goto out;
	}
	/* Installed with the lock held: a new own page unmaps it after. */
	get_page(shared);
	vmf->page = shared;
	up_read(&region->sem);
	return VM_FAULT_LOCKED;

out:
	get_page(page);
	vmf->page = page;
out_unlock:
	up_read(&region->sem);
	return ret;
}

/*
 * A clone's shared writable mapping is about to write page vmf->page. If the
 * clone shares the page, it gets its own, and every entry of the shared one
 * is gone: NOPAGE, and the retried fault maps the new page. Locked and
 * LOCKED otherwise: without a ->mapping, do_page_mkwrite() would retry
 * forever. A shared writable mapping means the region is writable (SEAL
 * refuses while one exists).
 */
static vm_fault_t snapvm_vm_page_mkwrite(struct vm_fault *vmf)
{
	struct snapvm_region *region = vmf->vma->vm_file->private_data;
	vm_fault_t ret = VM_FAULT_NOPAGE;
	struct page *page;
	bool made;

	if (down_read_killable(&region->sem))
		return VM_FAULT_SIGBUS;
	page = snapvm_own_page(region, vmf->pgoff);
	if (!page) {
		page = snapvm_page_make(region, vmf->pgoff, NULL, &made);
		if (IS_ERR(page))
			ret = VM_FAULT_SIGBUS;
	} else if (page == vmf->page) {
		lock_page(page);
		ret = VM_FAULT_LOCKED;
	}
	/* else the entry mapped the shared page, unmapped since: retry. */
	up_read(&region->sem);
	return ret;
}

/* Having ->close also keeps the VMAs from merging, so open/close pair up. */
static const struct vm_operations_struct snapvm_vm_ops = {
	.open = snapvm_vm_open,
	.close = snapvm_vm_close,
	.fault = snapvm_vm_fault,
};

/*
 * A clone's: ->page_mkwrite makes shared writable mappings write-notified
 * (vma_wants_writenotify()), so a read fault maps the source's page
 * read-only. Other regions go without: no write fault for nothing.
 */
static const struct vm_operations_struct snapvm_clone_vm_ops = {
	.open = snapvm_vm_open,
	.close = snapvm_vm_close,
	.fault = snapvm_vm_fault,
	.page_mkwrite = snapvm_vm_page_mkwrite,
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
	vma->vm_ops = region->source ? &snapvm_clone_vm_ops : &snapvm_vm_ops;
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
 * gone, hence the few scans). Only the region's own pages count: a lazy
 * page not there was never written, and a page a clone shares belongs to a
 * sealed source (its write faults made the clone's own page first).
 */
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
				clear_highpage(own);
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
static struct snapvm_region *snapvm_region_alloc(unsigned long npages,
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
static long snapvm_region_install(struct snapvm_region *region)
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

/*
 * A region that is not lazy: every page charged (to the caller's
 * RLIMIT_MEMLOCK now), allocated and zeroed before its fd exists.
 */
static int snapvm_region_fill(struct snapvm_region *region)
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
		atomic_long_inc(&snapvm_pinned_pages);
		cond_resched();
	}
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

	if (!max_total_mb)
		max_total_mb = (totalram_pages() >> (20 - PAGE_SHIFT)) / 2;
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
