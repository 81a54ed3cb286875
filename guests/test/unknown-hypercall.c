/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * unknown-hypercall.c - calls a hypercall number the ABI does not define
 * (layout/abi.h): the launcher must stop the guest and exit 70, naming it.
 */
#include "guests/include/rt.h"

#define UNKNOWN_HYPERCALL 0xdead

int main(void)
{
	long rc;

	rt_printf("unknown-hypercall: calling hypercall 0x%x\n", UNKNOWN_HYPERCALL);
	rc = rt_hypercall(UNKNOWN_HYPERCALL, 1, 2, 3, 4);
	rt_printf("unknown-hypercall: hypercall 0x%x returned %ld\n", UNKNOWN_HYPERCALL, rc);
	return 0;
}
