/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * empty.c - bench-empty: boots the runtime and EXITs(0), nothing else; what
 * every run costs besides its hypercalls (see bench-hypercall).
 */
#include "guests/include/rt.h"

int main(void)
{
	return 0;
}
