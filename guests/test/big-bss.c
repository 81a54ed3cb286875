/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * big-bss.c - a 1 GiB .bss of which it touches two pages: loading it must
 * cost what it touches, not its size. EXIT(42).
 */
#include "guests/include/rt.h"

#define BIG (1UL << 30)

static volatile char big[BIG] __attribute__((aligned(4096)));

int main(void)
{
	big[0] = 1;
	big[BIG - 1] = 2;
	return big[0] + big[BIG - 1] == 3 ? 42 : 1;
}
