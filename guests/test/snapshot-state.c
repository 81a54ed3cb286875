/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * snapshot-state.c - sets up memory (.bss, scratch) and vCPU state (an MSR,
 * the x87 control word), takes a SNAPSHOT, prints what it finds (the
 * snapshot's state, whenever it resumes from a restore), changes all of it
 * and prints a hash of the result. EXIT(10 + SNAPSHOT's result).
 */
#include "guests/include/rt.h"

#define PAGES		 8
#define MSR_SYSENTER_ESP 0x175
#define FCW_SNAPSHOT	 0x027f /* x87 control word at the snapshot: 53-bit precision */
#define FCW_MUTATED	 0x0c7f /* round toward zero */

static volatile uint32_t data[PAGES][RT_PAGE_SIZE / 4] __attribute__((aligned(4096)));

static void wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

static uint16_t fnstcw(void)
{
	uint16_t cw;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static void fldcw(uint16_t cw)
{
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

static uint64_t hash_pages(volatile uint32_t *const *pages)
{
	uint64_t h = RT_FNV1A64_INIT;

	for (int p = 0; p < PAGES; p++)
		h = rt_fnv1a64(h, (const void *)pages[p], RT_PAGE_SIZE);
	return h;
}

int main(void)
{
	volatile uint32_t *scratch[PAGES], *bss[PAGES];
	long resumed;

	for (int p = 0; p < PAGES; p++) {
		scratch[p] = rt_alloc_page();
		bss[p] = data[p];
		for (unsigned int w = 0; w < RT_PAGE_SIZE / 4; w++) {
			scratch[p][w] = 0x01000193u * (p * 1024u + w);
			bss[p][w] = 0x9e3779b9u * (p * 1024u + w);
		}
	}
	__asm__ volatile("fninit");
	fldcw(FCW_SNAPSHOT);
	wrmsr(MSR_SYSENTER_ESP, 0x5a5a1000);

	resumed = rt_snapshot();

	rt_printf("snapshot-state: SNAPSHOT=%ld bss=%016llx scratch=%016llx msr=0x%llx "
		  "fcw=0x%x\n",
		  resumed, (unsigned long long)hash_pages(bss),
		  (unsigned long long)hash_pages(scratch),
		  (unsigned long long)rt_rdmsr(MSR_SYSENTER_ESP), fnstcw());
	for (int p = 0; p < PAGES; p++)
		for (unsigned int w = 0; w < RT_PAGE_SIZE / 4; w += 64) {
			scratch[p][w] ^= 0xffffffffu;
			bss[p][w] += (uint32_t)p + 1;
		}
	fldcw(FCW_MUTATED);
	wrmsr(MSR_SYSENTER_ESP, 0xdead0000);
	rt_printf("snapshot-state: mutated bss=%016llx scratch=%016llx\n",
		  (unsigned long long)hash_pages(bss), (unsigned long long)hash_pages(scratch));
	return 10 + (int)resumed;
}
