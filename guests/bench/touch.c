/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * touch.c - bench-touch: writes one word in each of BENCH_TOUCH_PAGES .bss
 * pages, then EXITs(0): a sandbox that dirtied a known number of pages, for
 * the density benchmark.
 */
#include "guests/bench/bench_guest.h"
#include "guests/include/rt.h"

static volatile uint32_t pages[BENCH_TOUCH_PAGES][1024] __attribute__((aligned(4096)));

int main(void)
{
	for (unsigned int p = 0; p < BENCH_TOUCH_PAGES; p++)
		pages[p][0] = p + 1;
	return 0;
}
