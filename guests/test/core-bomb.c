/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * core-bomb.c (amd64) - points every unused PML4 entry at one PDPT whose
 * entries map 1 GiB pages outside guest memory (the lower half) or, through
 * one page directory of 2 MiB pages outside guest memory, alias it 512 times
 * over (the upper half), then ABORTs. A core dump that walked these tables
 * without a bound would read 510 * 256 * (1 + 512) entries and count
 * 2^36 pages; the guest itself runs on as before (no entry it uses changed).
 */
#include "guests/include/rt.h"

#define ENTRIES 512
#define GIB	(1ULL << 30)

int main(void)
{
	const struct snapvm_boot_info *boot = rt_boot_info();
	uint64_t *pml4 =
	    (uint64_t *)(uintptr_t)(rt_read_cr3() - boot->scratch_gpa + boot->scratch_gva);
	uint64_t *pdpt = rt_alloc_page(), *pd = rt_alloc_page();
	/* The first 1 GiB boundary above all of guest memory (below the
	 * layout's 36-bit GPAs). */
	uint64_t outside = (boot->scratch_gpa + boot->scratch_size + GIB - 1) & ~(GIB - 1);
	unsigned int armed = 0;

	for (unsigned int i = 0; i < ENTRIES; i++)
		pd[i] = (outside + ((uint64_t)i << 21)) | AMD64_PTE_HUGE | AMD64_PTE_PRESENT;
	for (unsigned int i = 0; i < ENTRIES; i++)
		pdpt[i] = i < ENTRIES / 2 ? outside | AMD64_PTE_HUGE | AMD64_PTE_PRESENT
					  : rt_scratch_gpa(pd) | AMD64_PTE_PRESENT;
	for (unsigned int i = 0; i < ENTRIES; i++)
		if (!(pml4[i] & AMD64_PTE_PRESENT)) {
			pml4[i] = rt_scratch_gpa(pdpt) | AMD64_PTE_PRESENT;
			armed++;
		}
	rt_abortf(3, "core-bomb: %u PML4 entries armed", armed);
}
