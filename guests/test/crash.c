/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * crash.c - sets a global, then faults (ud2) in a named function with a known
 * value in ESI/RSI: debug_test reads all three back from a core dump with
 * gdb (`bt`, `p crash_global`, the register).
 */
#include "guests/include/rt.h"

#define CRASH_GLOBAL 0x600dcafe
#define CRASH_REG    0x5eed1234

volatile uint32_t crash_global;

__attribute__((noinline)) void crash_here(uint32_t value)
{
	crash_global = CRASH_GLOBAL;
	__asm__ volatile("mov %0, %%esi\n\tud2" : : "r"(value) : "esi", "memory"); /* CRASH_LINE */
}

int main(void)
{
	rt_printf("crash: faulting in crash_here\n");
	crash_here(CRASH_REG);
	return 0;
}
