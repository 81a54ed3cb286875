/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * beyond-max-gpa.c - reads guest-physical memory above the layout's MAX_GPA,
 * where no memslot exists: the launcher must stop the guest (stray MMIO)
 * and exit 70. i686 reads it directly (paging off); amd64 maps the GPA
 * AMD64_MAX_GPA + 1 at a private GVA in its live page tables first.
 */
#include "guests/include/rt.h"

#if defined(__x86_64__)
#define BEYOND_GPA (AMD64_MAX_GPA + 1)
#define BEYOND_GVA RT_AMD64_PRIVATE_GVA
#else
/* Above I686_MAX_GPA and past KVM's local APIC page, which KVM emulates. */
#define BEYOND_GPA 0xff000000ULL
#define BEYOND_GVA BEYOND_GPA
_Static_assert(BEYOND_GPA > I686_APIC_BASE_GPA + SNAPVM_GUEST_PAGE_SIZE,
	       "BEYOND_GPA must miss the APIC page");
#endif

int main(void)
{
	uint32_t value;

#if defined(__x86_64__)
	if (rt_amd64_map_page(BEYOND_GVA, BEYOND_GPA, AMD64_PTE_WRITE | AMD64_PTE_NX))
		rt_abort(1, "beyond-max-gpa: the private GVA is already mapped");
#endif
	rt_printf("beyond-max-gpa: reading GPA 0x%llx at GVA 0x%llx\n",
		  (unsigned long long)BEYOND_GPA, (unsigned long long)BEYOND_GVA);
	value = *(volatile uint32_t *)(uintptr_t)BEYOND_GVA;
	rt_printf("beyond-max-gpa: the read returned 0x%x\n", value);
	return 0;
}
