/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * mm.h - what mm.c (frames, page tables, the program's address space)
 * shares with kernel.c (boot, the program's start, traps).
 */
#ifndef SNAPVM_GUESTS_LINUX_MM_H
#define SNAPVM_GUESTS_LINUX_MM_H

#include "guests/linux/lx.h"

#define PTE_P	  (1ULL << 0)
#define PTE_W	  (1ULL << 1)
#define PTE_U	  (1ULL << 2)
#define PTE_PS	  (1ULL << 7)
#define PTE_FRAME (1ULL << 9) /* software: a frame kept while not present */
#define PTE_NX	  (1ULL << 63)
#define PTE_ADDR  0x000ffffffffff000ULL

#if LX_AMD64
#define PT_LEVELS 4
#else
#define PT_LEVELS 3 /* PAE */
#endif

struct alloc {
	uintptr_t next, end; /* bump area (GVA in scratch) */
	uintptr_t free_list;
	uintptr_t scratch_gva;
	uint64_t scratch_gpa;
};
extern struct alloc lx_frames;
extern uint64_t lx_root_pa;
extern uint64_t lx_nx_bit;

uint64_t lx_frame_pa(const struct alloc *a, uintptr_t gva);
uintptr_t lx_alloc_frame(struct alloc *a);
uint64_t *lx_walk(struct alloc *a, uint64_t root, uint64_t va, int create);
int lx_map_page(struct alloc *a, uint64_t root, uint64_t va, uint64_t pte);
int lx_map_kernel(struct alloc *a, uint64_t root, uint64_t va, uint64_t pa, uint64_t len,
		  uint64_t rights);

#define MAX_VMAS 512
enum { VMA_MAP, VMA_BRK, VMA_STACK };
struct vma {
	uintptr_t start, end;
	uint32_t prot, kind;
};
extern struct vma lx_vmas[MAX_VMAS];
extern int lx_nvmas;
extern uintptr_t lx_brk_start, lx_brk_cur, lx_mmap_top;

int lx_vma_find(uintptr_t addr);
uint64_t lx_pte_rights(uint32_t prot);
int lx_range_free(uintptr_t start, uintptr_t end);
int lx_vma_insert(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t kind);
int lx_fault_in(uintptr_t va, int write, int exec);

#endif /* SNAPVM_GUESTS_LINUX_MM_H */
