/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * mm.c - the Linux personality's memory: the page allocator, page tables,
 * and the program's address space (mappings, brk, faults, user copies).
 */
#include "guests/linux/lx.h"
#include "guests/linux/mm.h"

uint64_t lx_nx_bit;

struct alloc lx_frames;
uint64_t lx_root_pa;
static uint64_t user_pages;

static inline void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* ---- frames and page tables ---- */

uint64_t lx_frame_pa(const struct alloc *a, uintptr_t gva)
{
	return gva - a->scratch_gva + a->scratch_gpa;
}

static uint64_t *frame_va(const struct alloc *a, uint64_t pa)
{
	return (uint64_t *)(uintptr_t)(pa - a->scratch_gpa + a->scratch_gva);
}

/* A zeroed frame (kernel GVA), or 0. */
uintptr_t lx_alloc_frame(struct alloc *a)
{
	uintptr_t p = a->free_list;

	if (p) {
		a->free_list = *(uintptr_t *)p;
		memset((void *)p, 0, PAGE);
		return p;
	}
	if (a->next >= a->end)
		return 0;
	p = a->next;
	a->next += PAGE;
	return p;
}

static void free_frame(struct alloc *a, uintptr_t p)
{
	*(uintptr_t *)p = a->free_list;
	a->free_list = p;
}

static unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

/* The leaf entry for va (creating tables when create), or NULL. */
uint64_t *lx_walk(struct alloc *a, uint64_t root, uint64_t va, int create)
{
	uint64_t *table = frame_va(a, root);

	for (int level = PT_LEVELS; level > 1; level--) {
		uint64_t *e = &table[pt_index(va, level)];

		if (!(*e & PTE_P)) {
			uintptr_t t;

			if (!create || !(t = lx_alloc_frame(a)))
				return NULL;
			/* PAE's PDPTEs take no rights bits. */
			*e = lx_frame_pa(a, t) | PTE_P |
			     (!LX_AMD64 && level == PT_LEVELS ? 0 : PTE_W | PTE_U);
		} else if (*e & PTE_PS) {
			return NULL;
		}
		table = frame_va(a, *e & PTE_ADDR);
	}
	return &table[pt_index(va, 1)];
}

int lx_map_page(struct alloc *a, uint64_t root, uint64_t va, uint64_t pte)
{
	uint64_t *e = lx_walk(a, root, va, 1);

	if (!e)
		return -1;
	*e = pte;
	return 0;
}

/* Kernel mappings: [va, va + len) to pa, 2 MiB pages where both align. */
int lx_map_kernel(struct alloc *a, uint64_t root, uint64_t va, uint64_t pa, uint64_t len,
		  uint64_t rights)
{
	while (len) {
		if (!(va & 0x1fffff) && !(pa & 0x1fffff) && len >= 0x200000) {
			uint64_t *table = frame_va(a, root), *e = NULL;

			for (int level = PT_LEVELS; level > 2; level--) {
				e = &table[pt_index(va, level)];
				if (!(*e & PTE_P)) {
					uintptr_t t = lx_alloc_frame(a);

					if (!t)
						return -1;
					*e = lx_frame_pa(a, t) | PTE_P |
					     (!LX_AMD64 && level == PT_LEVELS ? 0 : PTE_W | PTE_U);
				}
				table = frame_va(a, *e & PTE_ADDR);
			}
			table[pt_index(va, 2)] = pa | rights | PTE_PS;
			va += 0x200000;
			pa += 0x200000;
			len -= 0x200000;
			continue;
		}
		if (lx_map_page(a, root, va, pa | rights))
			return -1;
		va += PAGE;
		pa += PAGE;
		len -= PAGE;
	}
	return 0;
}

/* ---- the program's address space ---- */

struct vma lx_vmas[MAX_VMAS];
int lx_nvmas;
uintptr_t lx_brk_start, lx_brk_cur, lx_mmap_top;

/* Pages of accessible mappings (the commit charge, as Linux's
 * overcommit_memory=2 counts it): mmap, brk, mprotect and mremap fail with
 * ENOMEM past --max-memory, so a page fault never runs out. */
static uint64_t charged;

static int charge(uint64_t pages)
{
	if (pages > lx_setup.max_pages || charged > lx_setup.max_pages - pages)
		return -ENOMEM;
	charged += pages;
	return 0;
}

int lx_vma_find(uintptr_t addr)
{
	for (int i = 0; i < lx_nvmas; i++)
		if (addr >= lx_vmas[i].start && addr < lx_vmas[i].end)
			return i;
	return -1;
}

/* Split the mapping around addr so that a mapping starts there. */
static int vma_split(uintptr_t addr)
{
	int i = lx_vma_find(addr);

	if (i < 0 || lx_vmas[i].start == addr)
		return 0;
	if (lx_nvmas == MAX_VMAS)
		return -ENOMEM;
	for (int j = lx_nvmas; j > i + 1; j--)
		lx_vmas[j] = lx_vmas[j - 1];
	lx_nvmas++;
	lx_vmas[i + 1] = lx_vmas[i];
	lx_vmas[i].end = addr;
	lx_vmas[i + 1].start = addr;
	return 0;
}

uint64_t lx_pte_rights(uint32_t prot)
{
	if (!prot)
		return 0;
	return PTE_P | PTE_U | (prot & LX_PROT_WRITE ? PTE_W : 0) |
	       (prot & LX_PROT_EXEC ? 0 : lx_nx_bit);
}

static void unmap_pages(uintptr_t start, uintptr_t end)
{
	for (uintptr_t va = start; va < end; va += PAGE) {
		uint64_t *e = lx_walk(&lx_frames, lx_root_pa, va, 0);

		if (!e || !(*e & (PTE_P | PTE_FRAME)))
			continue;
		free_frame(&lx_frames, (uintptr_t)frame_va(&lx_frames, *e & PTE_ADDR));
		*e = 0;
		invlpg(va);
		user_pages--;
	}
}

static int vma_remove(uintptr_t start, uintptr_t end)
{
	int i, ret = vma_split(start);

	if (!ret)
		ret = vma_split(end);
	if (ret)
		return ret;
	for (i = 0; i < lx_nvmas;) {
		if (lx_vmas[i].start >= start && lx_vmas[i].end <= end) {
			unmap_pages(lx_vmas[i].start, lx_vmas[i].end);
			if (lx_vmas[i].prot)
				charged -= (lx_vmas[i].end - lx_vmas[i].start) / PAGE;
			for (int j = i; j < lx_nvmas - 1; j++)
				lx_vmas[j] = lx_vmas[j + 1];
			lx_nvmas--;
		} else {
			i++;
		}
	}
	return 0;
}

int lx_range_free(uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < lx_nvmas; i++)
		if (lx_vmas[i].start < end && start < lx_vmas[i].end)
			return 0;
	return 1;
}

/* Insert a mapping over a free range, merging with a like neighbour. */
int lx_vma_insert(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t kind)
{
	int i = 0;

	if (prot && charge((end - start) / PAGE))
		return -ENOMEM;
	while (i < lx_nvmas && lx_vmas[i].start < start)
		i++;
	if (i > 0 && lx_vmas[i - 1].end == start && lx_vmas[i - 1].prot == prot &&
	    lx_vmas[i - 1].kind == kind) {
		lx_vmas[i - 1].end = end;
		return 0;
	}
	if (lx_nvmas == MAX_VMAS) {
		if (prot)
			charged -= (end - start) / PAGE;
		return -ENOMEM;
	}
	for (int j = lx_nvmas; j > i; j--)
		lx_vmas[j] = lx_vmas[j - 1];
	lx_nvmas++;
	lx_vmas[i] = (struct vma){start, end, prot, kind};
	return 0;
}

/* Bring the page at va in, as its mapping allows for the access. */
int lx_fault_in(uintptr_t va, int write, int exec)
{
	int i = lx_vma_find(va);
	uint64_t *e;
	uintptr_t f;

	if (i < 0)
		return -EFAULT;
	if (!lx_vmas[i].prot || (write && !(lx_vmas[i].prot & LX_PROT_WRITE)) ||
	    (exec && !(lx_vmas[i].prot & LX_PROT_EXEC)))
		return -EFAULT;
	e = lx_walk(&lx_frames, lx_root_pa, va, 1);
	if (!e)
		return -ENOMEM;
	if (*e & PTE_P)
		return 0;
	if (user_pages >= lx_setup.max_pages)
		return -ENOMEM;
	f = lx_alloc_frame(&lx_frames);
	if (!f)
		return -ENOMEM;
	user_pages++;
	*e = lx_frame_pa(&lx_frames, f) | lx_pte_rights(lx_vmas[i].prot);
	return 0;
}

int lx_user_ok(uintptr_t addr, size_t len, int write)
{
	uintptr_t end = addr + len, va;

	if (!len)
		return 1;
	if (end < addr || addr < LX_USER_MIN || end > LX_USER_TOP)
		return 0;
	for (va = addr & ~(PAGE - 1); va < end; va += PAGE) {
		uint64_t *e = lx_walk(&lx_frames, lx_root_pa, va, 0);

		if (e && (*e & PTE_P) && (!write || (*e & PTE_W)))
			continue;
		if (lx_fault_in(va, write, 0))
			return 0;
	}
	return 1;
}

void lx_user_begin(void)
{
	if (lx_smap)
		__asm__ volatile("stac" ::: "memory");
}

void lx_user_end(void)
{
	if (lx_smap)
		__asm__ volatile("clac" ::: "memory");
}

long lx_copy_from_user(void *dst, uintptr_t src, size_t len)
{
	if (!lx_user_ok(src, len, 0))
		return -EFAULT;
	lx_user_begin();
	memcpy(dst, (const void *)src, len);
	lx_user_end();
	return 0;
}

long lx_copy_to_user(uintptr_t dst, const void *src, size_t len)
{
	if (!lx_user_ok(dst, len, 1))
		return -EFAULT;
	lx_user_begin();
	memcpy((void *)dst, src, len);
	lx_user_end();
	return 0;
}

long lx_user_strlen(uintptr_t s, size_t max)
{
	for (size_t n = 0; n < max; n++) {
		char c;

		if (lx_copy_from_user(&c, s + n, 1))
			return -EFAULT;
		if (!c)
			return (long)n;
	}
	return -ENAMETOOLONG;
}

static uintptr_t find_free(size_t len)
{
	uintptr_t top = lx_mmap_top;

	/* Top down, below the lowest mapping under top that overlaps. */
	for (;;) {
		uintptr_t start = top - len, lowest = top;

		if (len > top || start < LX_USER_MIN)
			return 0;
		for (int i = 0; i < lx_nvmas; i++)
			if (lx_vmas[i].start < top && start < lx_vmas[i].end &&
			    lx_vmas[i].start < lowest)
				lowest = lx_vmas[i].start;
		if (lowest == top)
			return start;
		top = lowest;
	}
}

#define MAP_SHARED	    0x01
#define MAP_PRIVATE	    0x02
#define MAP_FIXED	    0x10
#define MAP_ANONYMOUS	    0x20
#define MAP_FIXED_NOREPLACE 0x100000

long lx_mmap(uintptr_t addr, size_t len, int prot, int flags, long fd, uint64_t off)
{
	uintptr_t end;
	int ret;

	if (!len || (prot & ~7) || !(flags & (MAP_SHARED | MAP_PRIVATE)))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS))
		return fd < 0 ? -EBADF : -ENODEV;
	if (len > LX_USER_TOP)
		return -ENOMEM;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (addr & (PAGE - 1))
			return -EINVAL;
		end = addr + len;
		if (end < addr || addr < LX_USER_MIN || end > LX_USER_TOP)
			return -ENOMEM;
		if (!lx_range_free(addr, end)) {
			if (!(flags & MAP_FIXED))
				return -EEXIST;
			ret = vma_remove(addr, end);
			if (ret)
				return ret;
		}
	} else {
		addr &= ~(PAGE - 1);
		end = addr + len;
		if (!addr || end < addr || addr < LX_USER_MIN || end > lx_mmap_top ||
		    !lx_range_free(addr, end))
			addr = find_free(len);
		if (!addr)
			return -ENOMEM;
		end = addr + len;
	}
	if ((end - addr) / PAGE > lx_setup.max_pages)
		return -ENOMEM;
	ret = lx_vma_insert(addr, end, (uint32_t)prot, VMA_MAP);
	return ret ? ret : (long)addr;
}

long lx_munmap(uintptr_t addr, size_t len)
{
	uintptr_t end = addr + ((len + PAGE - 1) & ~(PAGE - 1));

	if ((addr & (PAGE - 1)) || !len || end < addr || addr < LX_USER_MIN || end > LX_USER_TOP)
		return -EINVAL;
	return vma_remove(addr, end);
}

long lx_mprotect(uintptr_t addr, size_t len, int prot)
{
	uintptr_t end = addr + ((len + PAGE - 1) & ~(PAGE - 1)), va;
	int ret;

	prot &= ~0x03000000; /* PROT_GROWSDOWN/UP */
	if ((addr & (PAGE - 1)) || (prot & ~7) || end < addr)
		return -EINVAL;
	if (!len)
		return 0;
	if (addr < LX_USER_MIN || end > LX_USER_TOP)
		return -ENOMEM;
	{
		uint64_t need = 0, give = 0;

		for (va = addr; va < end;) {
			int i = lx_vma_find(va);
			uintptr_t stop;

			if (i < 0)
				return -ENOMEM;
			stop = lx_vmas[i].end < end ? lx_vmas[i].end : end;
			if (!lx_vmas[i].prot && prot)
				need += (stop - va) / PAGE;
			if (lx_vmas[i].prot && !prot)
				give += (stop - va) / PAGE;
			va = stop;
		}
		if (need > give && charge(need - give))
			return -ENOMEM;
		if (give > need)
			charged -= give - need;
	}
	ret = vma_split(addr);
	if (!ret)
		ret = vma_split(end);
	if (ret)
		return ret;
	for (int i = 0; i < lx_nvmas; i++) {
		if (lx_vmas[i].start < addr || lx_vmas[i].end > end)
			continue;
		lx_vmas[i].prot = (uint32_t)prot;
		for (va = lx_vmas[i].start; va < lx_vmas[i].end; va += PAGE) {
			uint64_t *e = lx_walk(&lx_frames, lx_root_pa, va, 0);

			if (!e || !(*e & (PTE_P | PTE_FRAME)))
				continue;
			*e = (*e & PTE_ADDR) | (prot ? lx_pte_rights((uint32_t)prot) : PTE_FRAME);
			invlpg(va);
		}
	}
	return 0;
}

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED   2

long lx_mremap(uintptr_t old, size_t old_len, size_t new_len, int flags, uintptr_t new_addr)
{
	uintptr_t old_end, new_end, dst;
	int i;

	old_len = (old_len + PAGE - 1) & ~(PAGE - 1);
	new_len = (new_len + PAGE - 1) & ~(PAGE - 1);
	if ((old & (PAGE - 1)) || !new_len || (flags & ~3) ||
	    ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)))
		return -EINVAL;
	if (flags & MREMAP_FIXED)
		return -EINVAL; /* not needed by the programs we run */
	old_end = old + old_len;
	i = lx_vma_find(old);
	if (i < 0 || !old_len || old_end > lx_vmas[i].end || new_len > LX_USER_TOP)
		return -EFAULT;
	if (new_len <= old_len) {
		if (new_len < old_len)
			vma_remove(old + new_len, old_end);
		return (long)old;
	}
	new_end = old + new_len;
	if (old_end == lx_vmas[i].end && new_end > old && new_end <= lx_mmap_top &&
	    lx_range_free(old_end, new_end)) {
		if (vma_split(old))
			return -ENOMEM;
		i = lx_vma_find(old);
		if (lx_vmas[i].prot && charge((new_end - old_end) / PAGE))
			return -ENOMEM;
		lx_vmas[i].end = new_end;
		return (long)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	dst = find_free(new_len);
	if (!dst || lx_vma_insert(dst, dst + new_len, lx_vmas[i].prot, VMA_MAP))
		return -ENOMEM;
	/* Move the frames over, then drop the old range (now empty). */
	for (uintptr_t off = 0; off < old_len; off += PAGE) {
		uint64_t *from = lx_walk(&lx_frames, lx_root_pa, old + off, 0), *to;

		if (!from || !(*from & (PTE_P | PTE_FRAME)))
			continue;
		to = lx_walk(&lx_frames, lx_root_pa, dst + off, 1);
		if (!to)
			return -ENOMEM;
		*to = *from;
		*from = 0;
		invlpg(old + off);
	}
	vma_remove(old, old_end);
	return (long)dst;
}

long lx_brk(uintptr_t addr)
{
	uintptr_t old_end = (lx_brk_cur + PAGE - 1) & ~(PAGE - 1), new_end;

	if (!addr || addr < lx_brk_start || addr > lx_mmap_top)
		return (long)lx_brk_cur;
	new_end = (addr + PAGE - 1) & ~(PAGE - 1);
	if (new_end > old_end) {
		if (!lx_range_free(old_end, new_end) ||
		    lx_vma_insert(old_end, new_end, LX_PROT_READ | LX_PROT_WRITE, VMA_BRK))
			return (long)lx_brk_cur;
	} else if (new_end < old_end) {
		vma_remove(new_end, old_end);
	}
	lx_brk_cur = addr;
	return (long)lx_brk_cur;
}
