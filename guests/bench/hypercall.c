/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hypercall.c - bench-hypercall: BENCH_HYPERCALL_COUNT WRITE(buf, 0)
 * hypercalls, then EXIT(0). WRITE with length 0 is the cheapest complete
 * hypercall: decoded, dispatched, answered, nothing printed.
 */
#include "guests/bench/bench_guest.h"
#include "guests/include/rt.h"

int main(void)
{
	static const char byte = '.';

	for (unsigned int i = 0; i < BENCH_HYPERCALL_COUNT; i++) {
		long n = rt_write(&byte, 0);

		if (n != 0)
			rt_abortf(1, "bench-hypercall: WRITE(buf, 0) returned %ld", n);
	}
	return 0;
}
