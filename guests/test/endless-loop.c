/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * endless-loop.c - prints a line, then spins with interrupts off and no
 * exits: only the launcher's --timeout ends it (exit 124, the line kept).
 */
#include "guests/include/rt.h"

int main(void)
{
	rt_printf("endless-loop: spinning with interrupts off\n");
	for (;;)
		__asm__ volatile("" : : : "memory");
}
