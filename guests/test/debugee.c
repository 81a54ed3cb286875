/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * debugee.c - something to debug: takes a SNAPSHOT (so it also runs from a
 * snapshot file), then calls compute(5), whose local variable gdb reads
 * and changes, and exits with its result: 19, or local + 4 after gdb's
 * `set var local = N` on the line after the first.
 */
#include "guests/include/rt.h"

__attribute__((noinline)) int compute(int n)
{
	volatile int local = n * 3; /* LINE_FIRST */
	local += 4;		    /* LINE_SECOND */
	return local;
}

int main(void)
{
	int result;

	rt_snapshot();
	result = compute(5);
	rt_printf("debugee: compute(5) = %d\n", result);
	return result;
}
