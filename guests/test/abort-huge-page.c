/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * abort-huge-page.c - ABORTs with a message near the end of scratch. The
 * i686 build first turns on its own paging with 4 MiB pages: the message
 * fits in guest memory, but the 4 MiB page around it reaches past the end
 * of scratch, so the VMM must not ask for more bytes than the memory slot
 * holds. (amd64 keeps the VMM's 4 KiB pages: the plain case.)
 */
#include "guests/include/rt.h"

#define PDE_PRESENT  0x1u
#define PDE_WRITE    0x2u
#define PDE_4M	     0x80u
#define CR4_PSE	     0x10u
#define CR0_PG	     0x80000000u
#define MESSAGE_BACK 600 /* below scratch's end, clear of the few stack frames */

static const char message[] = "abort-huge-page: the message at the end of scratch";

int main(void)
{
	const struct snapvm_boot_info *boot = rt_boot_info();
	char *at = (char *)(uintptr_t)(boot->scratch_gva + boot->scratch_size - MESSAGE_BACK);

	memcpy(at, message, sizeof(message));
#if defined(__i386__)
	uint32_t *pd = rt_alloc_page();
	uintptr_t cr;

	/* Identity-map all 4 GiB with 4 MiB pages: nothing moves. */
	for (uint32_t i = 0; i < 1024; i++)
		pd[i] = (i << 22) | PDE_4M | PDE_WRITE | PDE_PRESENT;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr | CR4_PSE));
	__asm__ volatile("mov %0, %%cr3" : : "r"((uintptr_t)pd) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr | CR0_PG) : "memory");
#endif
	rt_console_puts("abort-huge-page: message placed\n");
	rt_hypercall(SNAPVM_HC_ABORT, 9, (uintptr_t)at, 0, 0);
	rt_exit(1);
}
