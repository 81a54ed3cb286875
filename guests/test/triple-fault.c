/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * triple-fault.c - loads an empty IDT and raises #UD: #UD -> #GP -> #DF ->
 * shutdown. The launcher must report the triple fault and exit 70.
 */
#include "guests/include/rt.h"

int main(void)
{
	static const struct rt_descriptor_table empty = {0, 0};

	rt_printf("triple-fault: loading an empty IDT, then #UD\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty));
	rt_abort(1, "triple-fault: still running after #UD with an empty IDT");
}
