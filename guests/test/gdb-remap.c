/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gdb-remap.c - (amd64) maps GDB_REMAP_GVA to scratch page A, whose first
 * byte is GDB_REMAP_BYTE, and takes a SNAPSHOT. Each run from the snapshot
 * prints the byte it reads there, points the GVA at page B with a PTE
 * write and invlpg (no VM exit), and aborts. A gdb int3 placed at the GVA
 * goes to page A; debug_test checks that page A (gdb_remap_page_a, its
 * scratch GVA) holds GDB_REMAP_BYTE again at the stop, and that the next
 * run reads it, not the int3.
 */
#include "guests/include/rt.h"
#include "guests/test/gdb-remap.h"

_Static_assert(GDB_REMAP_GVA == RT_AMD64_PRIVATE_GVA, "gdb-remap wants a GVA of its own");

/* For gdb: page A through the scratch mapping, which nobody remaps. */
volatile unsigned char *gdb_remap_page_a;

int main(void)
{
	volatile unsigned char *a = rt_alloc_page(), *b = rt_alloc_page();
	uint64_t *pte;

	gdb_remap_page_a = a;

	a[0] = GDB_REMAP_BYTE;
	b[0] = GDB_REMAP_OTHER_BYTE;
	if (rt_amd64_map_page(GDB_REMAP_GVA, rt_scratch_gpa((const void *)a),
			      AMD64_PTE_WRITE | AMD64_PTE_NX))
		rt_abort(1, "gdb-remap: the private GVA is already mapped");
	rt_snapshot();
	rt_printf(GDB_REMAP_LINE, *(volatile unsigned char *)(uintptr_t)GDB_REMAP_GVA);
	pte = rt_amd64_pte(GDB_REMAP_GVA);
	*pte = (*pte & ~AMD64_PTE_ADDR_MASK) | rt_scratch_gpa((const void *)b);
	rt_invlpg(GDB_REMAP_GVA);
	rt_abort(3, "gdb-remap: the GVA maps page B now");
}
