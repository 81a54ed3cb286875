/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hello.c - the smallest guest: one line through the console port, one
 * through the WRITE hypercall, then EXIT(0).
 */
#include "guests/include/rt.h"

int main(void)
{
	static const char line[] = "hello from the snapvm " RT_ARCH " guest (WRITE hypercall)\n";
	long n;

	rt_console_puts("hello from the snapvm " RT_ARCH " guest (console port)\n");
	n = rt_write(line, sizeof(line) - 1);
	if (n != (long)sizeof(line) - 1)
		rt_abortf(1, "hello: WRITE returned %ld for %u bytes", n,
			  (unsigned)sizeof(line) - 1);
	return 0;
}
