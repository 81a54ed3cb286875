/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * untouched-abort.c - ABORTs with its message in a scratch page nobody has
 * touched, so the VMM's read of the message is that page's first touch (a
 * lazy region's charge). First it says "ready" and WRITEs a blob far larger
 * than a pipe buffer: a test reading its stdout knows the guest is running
 * and holds it in that WRITE while it uses up snapvm.ko's max_total_mb.
 */
#include "guests/include/rt.h"

#define BLOB_SIZE (256U << 10)

/* In the snapshot (pinned whole), not in lazy scratch: WRITE costs nothing. */
static const char blob[BLOB_SIZE] = {[0 ... BLOB_SIZE - 1] = '.'};

int main(void)
{
	const struct snapvm_boot_info *boot = rt_boot_info();
	/* The free area's last page: below the stack, above anything the
	 * runtime allocates from the front. */
	uintptr_t message =
	    (uintptr_t)(boot->scratch_free_gva + boot->scratch_free_size) - RT_PAGE_SIZE;

	rt_console_puts("untouched-abort: ready\n");
	rt_write(blob, sizeof(blob));
	rt_hypercall(SNAPVM_HC_ABORT, 9, message, 0, 0);
	rt_exit(1);
}
