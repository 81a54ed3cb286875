/* SPDX-License-Identifier: GPL-2.0 */
/*
 * snapvm_internal.h - what the files of snapvm.ko share: the region, its
 * locking, and the few functions one file calls in another. Not an ABI: that
 * is uapi/snapvm.h.
 */
#ifndef SNAPVM_INTERNAL_H
#define SNAPVM_INTERNAL_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include <snapvm.h>

/*
 * Pinned pages cannot be reclaimed, so running out must be an error and never
 * an OOM kill: RETRY_MAYFAIL reclaims what it can, then fails without invoking
 * the (global or memcg) OOM killer; NOWARN because failing is an answer here.
 * ACCOUNT charges the creator's memory cgroup. Not MOVABLE: the pages never
 * move, so they must not sit in ZONE_MOVABLE or CMA. The same holds for the
 * module's own arrays, whose size the caller chooses. No __GFP_ZERO: a new
 * page is filled (snapvm_clear_page or a copy) before anything can see it.
 */
#define SNAPVM_GFP (GFP_HIGHUSER | __GFP_ACCOUNT | \
		    __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
#define SNAPVM_GFP_ARRAY (GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | \
			  __GFP_NOWARN)

/*
 * Zeroes a page of a region (its own, or one about to be). On x86-64 with
 * clear_page_orig, the loop of 64-byte stores the kernel itself uses on CPUs
 * without fast string instructions, instead of clear_page's `rep stosb`: an
 * emulator such as QEMU's TCG (the test VM) runs a string instruction one
 * element at a time, 4096 steps a page (measured there: 12.5-24 us a page,
 * against 1.3 us for the loop), and a restore zeroes every page a request
 * took fresh. On hardware the loop may cost ~0.1 us more a page.
 */
static inline void snapvm_clear_page(struct page *page)
{
#ifdef CONFIG_X86_64
	void *addr = kmap_local_page(page);

	clear_page_orig(addr);
	kunmap_local(addr);
#else
	clear_highpage(page);
#endif
}

/*
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

/* device.c: the module's set-up. */
extern unsigned int snapvm_max_total_mb;
extern struct vfsmount *snapvm_mnt;

/* region.c: regions, their files and their accounting. */
extern atomic_long_t snapvm_pinned_pages;
bool snapvm_file_readonly(const struct file *file);
int snapvm_charge(struct snapvm_region *region, unsigned long npages,
		  unsigned long limit, const bool *cap);
void snapvm_uncharge(struct snapvm_region *region, unsigned long npages);
void snapvm_region_put(struct snapvm_region *region);
bool snapvm_region_writable(const struct snapvm_region *region);
bool snapvm_region_writable_locked(struct snapvm_region *region);
struct snapvm_region *snapvm_region_alloc(unsigned long npages, u32 prot,
					  bool lazy);
int snapvm_region_fill(struct snapvm_region *region);
long snapvm_region_install(struct snapvm_region *region);

/* page.c: a region's pages and its mappings. */
extern struct page *snapvm_zero_page;
struct page *snapvm_own_page(struct snapvm_region *region, unsigned long idx);
struct page *snapvm_page_resolve(struct snapvm_region *region,
				 unsigned long idx);
struct page *snapvm_page_make(struct snapvm_region *region, unsigned long idx,
			      struct page *from, bool *made);
int snapvm_region_mmap(struct file *file, struct vm_area_struct *vma);

#endif /* SNAPVM_INTERNAL_H */
