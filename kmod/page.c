// SPDX-License-Identifier: GPL-2.0
/*
 * snapvm.ko's pages: what a page of a region reads as, the page a first touch
 * makes, and mapping a region (mmap and its faults).
 *
 * A lazy region gets each page (allocated, zeroed, charged and pinned like
 * any region's) at its first touch: a fault, pwrite or RESTORE. A clone is a lazy
 * region over a sealed source: a page it never wrote reads as the source's
 * (and is mapped as the source's, read-only), its first write gives it a copy
 * of its own. pages[i] is NULL until page i is the region's own, and then
 * stays until the region is freed.
 */
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

#include "snapvm_internal.h"

/*
 * What a lazy page never touched reads as, in a region that can no longer be
 * written (sealed, or without WRITE) and in a clone whose source never had
 * it: one page for all of them, never written, so that reading costs nothing.
 */
struct page *snapvm_zero_page;

/* Page @idx if it is the region's own, else NULL. */
struct page *snapvm_own_page(struct snapvm_region *region,
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
struct page *snapvm_page_resolve(struct snapvm_region *region,
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
struct page *snapvm_page_make(struct snapvm_region *region,
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
	page = alloc_page(SNAPVM_GFP);
	set_active_memcg(old);
	if (!page) {
		snapvm_uncharge(region, 1);
		page = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	if (from == snapvm_zero_page)
		snapvm_clear_page(page);
	else
		copy_highpage(page, from);
	flush_dcache_page(page);
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
	 * sees the new page: see the locking notes (snapvm_internal.h).
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
 * mapped as the source's page, locked (see snapvm_internal.h); its shared
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

int snapvm_region_mmap(struct file *file, struct vm_area_struct *vma)
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
