/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gdt-accessed.c - makes the CPU write what it writes on its own: clears the
 * Accessed bit of the code and data descriptors, reloads DS/ES/FS/GS/SS and
 * CS (far jump and far return), checks the CPU set the data bit again, many
 * times; then walks fresh pages (Accessed/Dirty bits in the live page
 * tables, copy-on-write on amd64). If any of it sat in read-only memory KVM
 * would loop on the fault or exit: the guest must reach EXIT(0).
 * i686: the GDT is in the snapshot view; amd64: in scratch.
 */
#include "guests/include/rt.h"

#define RELOADS	      1000
#define FRESH_PAGES   256
#define SCRATCH_PAGES 64
#define DESC_ACCESSED (1ULL << 40)

static uint8_t fresh[FRESH_PAGES][4096] __attribute__((aligned(4096)));

static volatile uint64_t *descriptor(uint16_t selector)
{
	return (volatile uint64_t *)(rt_sgdt().base + (selector & ~7u));
}

static void reload_data_segments(uint16_t selector)
{
	__asm__ volatile("mov %0, %%ds\n\t"
			 "mov %0, %%es\n\t"
			 "mov %0, %%fs\n\t"
			 "mov %0, %%gs\n\t"
			 "mov %0, %%ss"
			 :
			 : "r"(selector)
			 : "memory");
}

/* Reload CS with a far return and (i686) a far jump. */
static void reload_code_segment(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov %%cs, %%rax\n\t"
			 "push %%rax\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "push %%rax\n\t"
			 "lretq\n"
			 "1:"
			 :
			 :
			 : "rax", "memory");
#else
	__asm__ volatile("ljmp %0, $1f\n"
			 "1:\n\t"
			 "push %%cs\n\t"
			 "push $2f\n\t"
			 "lret\n"
			 "2:"
			 :
			 : "i"(SNAPVM_SELECTOR_CODE)
			 : "memory");
#endif
}

int main(void)
{
	uint16_t cs = RT_READ_SEGMENT(cs), ds = RT_READ_SEGMENT(ds);
	volatile uint64_t *code = descriptor(cs), *data = descriptor(ds);
	uint64_t code_accessed = *code & DESC_ACCESSED;
	int code_set = 0;
	uint64_t sum = 0;

	rt_printf("gdt-accessed: GDT at %p, code 0x%016llx data 0x%016llx\n",
		  (void *)rt_sgdt().base, (unsigned long long)*code, (unsigned long long)*data);
	for (int i = 0; i < RELOADS; i++) {
		*code &= ~DESC_ACCESSED;
		*data &= ~DESC_ACCESSED;
		reload_data_segments(ds);
		if (!(*data & DESC_ACCESSED))
			rt_abortf(1, "gdt-accessed: reload %d: data Accessed bit not set: 0x%llx",
				  i, (unsigned long long)*data);
		/* Whether a CS load sets the code descriptor's bit varies (AMD
		 * ignores it in long mode, QEMU's TCG never sets it): count. */
		reload_code_segment();
		code_set += !!(*code & DESC_ACCESSED);
	}
	*code |= code_accessed;
	reload_code_segment();

	for (unsigned p = 0; p < FRESH_PAGES; p++) {
		sum += fresh[p][p % 4096];	       /* Accessed */
		fresh[p][p % 4096] = (uint8_t)(p + 1); /* Dirty (and copy on write on amd64) */
	}
	for (unsigned p = 0; p < SCRATCH_PAGES; p++) {
		uint8_t *page = rt_alloc_page_nozero();

		page[0] = (uint8_t)p;
		sum += page[0];
	}
	for (unsigned p = 0; p < FRESH_PAGES; p++)
		if (fresh[p][p % 4096] != (uint8_t)(p + 1))
			rt_abortf(1, "gdt-accessed: fresh page %u lost its write", p);
	if (sum != (uint64_t)SCRATCH_PAGES * (SCRATCH_PAGES - 1) / 2)
		rt_abortf(1, "gdt-accessed: page walk sum %llu", (unsigned long long)sum);
	rt_printf("gdt-accessed: %d segment reloads set the data Accessed bit again (the code "
		  "bit: %d of %d CS reloads), %d fresh pages walked\n",
		  RELOADS, code_set, RELOADS, FRESH_PAGES + SCRATCH_PAGES);
	return 0;
}
