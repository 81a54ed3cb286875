/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * write-to-text.c (amd64) - writes to its own read-only text: the #PF has no
 * AMD64_PTE_COW to honour, so the runtime ABORTs naming CR2, RIP and the
 * error code, and the launcher exits 70. (i686 text is writable by design:
 * paging is off and the snapshot view is RWX, see layout/i686.h.)
 */
#include "guests/include/rt.h"

int main(void)
{
	volatile uint8_t *text = (volatile uint8_t *)(uintptr_t)&main;

	rt_printf("write-to-text: writing to read-only text at %p\n", (void *)text);
	*text = *text;
	rt_printf("write-to-text: the write to text at %p succeeded\n", (void *)text);
	return 0;
}
