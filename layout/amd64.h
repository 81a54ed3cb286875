/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * amd64.h - the amd64 (long mode, 4-level paging) guest layout.
 *
 *   GPA 0                   unmapped: null-pointer guard
 *   GPA 0x1000 ..           snapshot region: ELF image, then the pristine
 *                           page tables (KVM_MEM_READONLY: read+execute)
 *   ...                     unmapped
 *   MAX_GPA - scratch + 1   scratch region (RW, never executable), up to
 *   .. MAX_GPA              MAX_GPA; live page tables, GDT, TSS, boot info,
 *                           stack, copy-on-write pages
 *
 * The snapshot is mapped at GVA = GPA; scratch at the top of the GVA space
 * by the same rule as its GPA. Changing any constant here changes the guest
 * ABI: guests/ and the snapshot file format must follow.
 */
#ifndef SNAPVM_LAYOUT_AMD64_H
#define SNAPVM_LAYOUT_AMD64_H

#include <stdint.h>

#include "layout/common.h"

/* 48-bit canonical GVAs; the last page stays unmapped so that an address
 * computed as "end of scratch" can never wrap to 0. */
#define AMD64_MAX_GVA 0xffffffffffffefffULL
/* 36-bit GPAs: the smallest physical address width of the CPUs we target,
 * so a snapshot runs on every one of them. */
#define AMD64_MAX_GPA 0x0000000fffffffffULL

/* The snapshot's pristine page tables are visible here (read-only, NX), so
 * the guest can find the original of a page it copied on write. */
#define AMD64_SNAPSHOT_PT_GVA_MIN 0xffff800000000000ULL
#define AMD64_SNAPSHOT_PT_GVA_MAX 0xffff80ffffffffffULL

/* Page 0 stays unmapped: a guest null dereference faults instead of
 * reading the image. */
#define AMD64_SNAPSHOT_BASE_GPA 0x1000ULL

/* Boot info, GDT, TSS, the first page-table copies and a minimal stack. */
#define AMD64_MIN_SCRATCH_SIZE (256ULL << 10)

/* The stack the VMM sets up at the top of scratch (RSP = scratch end). The
 * free scratch area (see the boot info) lies below it. A big image needs
 * more page tables in scratch, so its smallest scratch exceeds the minimum. */
#define AMD64_STACK_SIZE (64ULL << 10)

/* The TSS descriptor (16 bytes) follows code and data in the GDT. */
#define AMD64_SELECTOR_TSS 0x18

/*
 * Scratch starts with the VMM's structures, at these offsets from its base:
 * boot info, then the GDT and TSS, then the live page tables (CR3 = their
 * first page, the PML4). The live tables are a copy of the pristine ones
 * with the same shape: the table at live GPA g has its pristine original at
 * GVA AMD64_SNAPSHOT_PT_GVA_MIN + (g - CR3).
 */
#define AMD64_SCRATCH_BOOT_INFO_OFFSET 0x0ULL
#define AMD64_SCRATCH_GDT_OFFSET       0x1000ULL
#define AMD64_SCRATCH_TSS_OFFSET       0x1800ULL
#define AMD64_SCRATCH_PT_OFFSET	       0x2000ULL

/* Page-table entry bits (Intel SDM vol. 3 4.5, AMD APM vol. 2 5.3). */
#define AMD64_PTE_PRESENT  (1ULL << 0)
#define AMD64_PTE_WRITE	   (1ULL << 1)
#define AMD64_PTE_USER	   (1ULL << 2)
#define AMD64_PTE_ACCESSED (1ULL << 5)
#define AMD64_PTE_DIRTY	   (1ULL << 6)
#define AMD64_PTE_HUGE	   (1ULL << 7)
/* Software bit (ignored by the CPU): "read-only because shared with the
 * snapshot; copy on write". The guest's #PF handler checks it. */
#define AMD64_PTE_COW	    (1ULL << 9)
#define AMD64_PTE_NX	    (1ULL << 63)
#define AMD64_PTE_ADDR_MASK 0x000ffffffffff000ULL

static inline uint64_t amd64_scratch_base_gpa(uint64_t scratch_size)
{
	return AMD64_MAX_GPA - scratch_size + 1;
}

static inline uint64_t amd64_scratch_base_gva(uint64_t scratch_size)
{
	return AMD64_MAX_GVA - scratch_size + 1;
}

/* Largest scratch that fits above a snapshot ending (exclusive) at
 * snapshot_end_gpa, or 0 when not even the minimum fits. */
static inline uint64_t amd64_max_scratch_size(uint64_t snapshot_end_gpa)
{
	uint64_t end = snapvm_page_align_up(snapshot_end_gpa);

	if (end > AMD64_MAX_GPA || AMD64_MAX_GPA + 1 - end < AMD64_MIN_SCRATCH_SIZE)
		return 0;
	return AMD64_MAX_GPA + 1 - end;
}

/* Non-zero when a scratch of that size fits: page-multiple, at least the
 * minimum, and not overlapping the snapshot. */
static inline int amd64_scratch_fits(uint64_t scratch_size, uint64_t snapshot_end_gpa)
{
	return scratch_size % SNAPVM_GUEST_PAGE_SIZE == 0 &&
	       scratch_size >= AMD64_MIN_SCRATCH_SIZE &&
	       scratch_size <= amd64_max_scratch_size(snapshot_end_gpa);
}

#endif /* SNAPVM_LAYOUT_AMD64_H */
