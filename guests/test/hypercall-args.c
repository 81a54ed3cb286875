/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hypercall-args.c - bad hypercall arguments get an error and change
 * nothing: WRITE of unmapped or wrapping ranges returns -EFAULT, of more
 * than SNAPVM_WRITE_MAX bytes -EINVAL, and prints nothing; then a deliberate ABORT whose message
 * must reach the launcher's stderr (exit 70).
 */
#include "guests/include/rt.h"

struct bad_write {
	const char *what;
	uintptr_t gva;
	uintptr_t len;
	long expected;
};

int main(void)
{
	const struct snapvm_boot_info *boot = rt_boot_info();
	/* The first byte past scratch: scratch ends the layout's address space. */
	uintptr_t scratch_end = (uintptr_t)(boot->scratch_gva + boot->scratch_size - 1);
	const struct bad_write bad[] = {
		{"the range wraps around the address space", (uintptr_t)-8, 16, -SNAPVM_EFAULT},
		{"the range runs past the end of scratch", scratch_end - 7, 16, -SNAPVM_EFAULT},
		{"the gap between snapshot and scratch is unmapped",
		 (uintptr_t)(boot->snapshot_gpa + boot->snapshot_size + 0x10000000), 16,
		 -SNAPVM_EFAULT},
		{"the length runs past the end of scratch", (uintptr_t)boot->scratch_free_gva,
		 (uintptr_t)boot->scratch_size, -SNAPVM_EFAULT},
		{"the length exceeds SNAPVM_WRITE_MAX", (uintptr_t)boot->scratch_free_gva,
		 (uintptr_t)SNAPVM_WRITE_MAX + 1, -SNAPVM_EINVAL},
#if defined(__x86_64__)
		{"page 0 is the null guard", 0, 16, -SNAPVM_EFAULT},
#endif
	};
	long n;

	n = rt_write("", 0);
	if (n != 0)
		rt_abortf(1, "hypercall-args: WRITE of 0 bytes returned %ld", n);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = rt_write((const void *)bad[i].gva, bad[i].len);
		if (n != bad[i].expected)
			rt_abortf(2, "hypercall-args: WRITE(0x%lx, %lu) returned %ld, not %ld (%s)",
				  (unsigned long)bad[i].gva, (unsigned long)bad[i].len, n,
				  bad[i].expected, bad[i].what);
	}
	rt_console_puts("hypercall-args: bad WRITEs refused\n");
	rt_abortf(7, "hypercall-args: deliberate abort, message for stderr");
}
