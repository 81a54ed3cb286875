/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * i686.h - the i686 (32-bit protected mode) guest layout, e.g. Nanvix.
 *
 *   GPA 0 ..                 snapshot region: ELF image, then the GDT the
 *                            VMM writes (read+write+execute, see below)
 *   ...                      unmapped
 *   MAX_GPA - scratch + 1    scratch region (RW): boot info, stack
 *   .. MAX_GPA
 *   0xfee00000               local APIC page (KVM's own memslot)
 *
 * Paging is off at entry, so GVA = GPA; no snapshot page tables exist (the
 * guest may build its own). Changing any constant here changes the guest
 * ABI: guests/ and the snapshot file format must follow.
 */
#ifndef SNAPVM_LAYOUT_I686_H
#define SNAPVM_LAYOUT_I686_H

#include <stdint.h>

#include "layout/common.h"

#define I686_MAX_GVA 0xffffffffULL
/* Scratch must end below the local APIC page: KVM maps its own APIC access
 * page at 0xfee00000 and refuses (EEXIST) a memslot that overlaps it. */
#define I686_APIC_BASE_GPA 0xfee00000ULL
#define I686_MAX_GPA	   (I686_APIC_BASE_GPA - 1)

/* The guest owns all low memory, as on bare metal. */
#define I686_SNAPSHOT_BASE_GPA 0x0ULL

/*
 * The snapshot is mapped read+write+execute: an i686 guest (Nanvix) keeps
 * .data, .bss, page pools and even its GDT in the image, and the CPU itself
 * sets the GDT descriptors' Accessed bit on every segment load, so the
 * guest must be able to write its snapshot directly. Each sandbox writes a
 * private copy-on-write view; the sealed snapshot never changes.
 */

/* Boot info and a stack. */
#define I686_MIN_SCRATCH_SIZE (64ULL << 10)

/* The stack the VMM sets up at the top of scratch (ESP = scratch end); the
 * boot info is the first scratch page, the free area lies between. */
#define I686_STACK_SIZE		      (32ULL << 10)
#define I686_SCRATCH_BOOT_INFO_OFFSET 0x0ULL

static inline uint64_t i686_scratch_base_gpa(uint64_t scratch_size)
{
	return I686_MAX_GPA - scratch_size + 1;
}

/* Largest scratch that fits above a snapshot ending (exclusive) at
 * snapshot_end_gpa, or 0 when not even the minimum fits. */
static inline uint64_t i686_max_scratch_size(uint64_t snapshot_end_gpa)
{
	uint64_t end = snapvm_page_align_up(snapshot_end_gpa);

	if (end > I686_MAX_GPA || I686_MAX_GPA + 1 - end < I686_MIN_SCRATCH_SIZE)
		return 0;
	return I686_MAX_GPA + 1 - end;
}

static inline int i686_scratch_fits(uint64_t scratch_size, uint64_t snapshot_end_gpa)
{
	return scratch_size % SNAPVM_GUEST_PAGE_SIZE == 0 &&
	       scratch_size >= I686_MIN_SCRATCH_SIZE &&
	       scratch_size <= i686_max_scratch_size(snapshot_end_gpa);
}

#endif /* SNAPVM_LAYOUT_I686_H */
