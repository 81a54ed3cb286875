/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * isolation.h - the calls of the isolation guest (guests/test/isolation.c),
 * shared with tests/kselftest/isolation_test.c: which MSRs to record, then
 * a SNAPSHOT, then requests that compare, scramble and probe vCPU state.
 */
#ifndef SNAPVM_GUESTS_TEST_ISOLATION_H
#define SNAPVM_GUESTS_TEST_ISOLATION_H

#define ISOLATION_MAX_MSRS 512

enum isolation_call {
	ISO_ADD_MSR = 1,   /* arg = MSR index to record; returns the count */
	ISO_SNAPSHOT,	   /* record every MSR, SNAPSHOT; returns how many it read */
	ISO_COMPARE,	   /* returns how many recorded MSRs differ from now */
	ISO_FIRST_DIFF,	   /* the first differing MSR index, or ~0 (32 bits) */
	ISO_SCRAMBLE,	   /* give every MSR another value; returns how many took one */
	ISO_SCRAMBLED,	   /* arg = index: 1 if the last scramble changed it */
	ISO_TSC_HIGH,	   /* RDTSC >> 32 (i686 results have 32 bits) */
	ISO_WRITE_TSC,	   /* wrmsr(IA32_TSC, arg); returns 0 or vector + 1 */
	ISO_KVMCLOCK_ON,   /* enable kvmclock in the clock page; 0 or vector + 1 */
	ISO_KVMCLOCK_PAGE, /* GPA of the (zeroed before SNAPSHOT) clock page */
	ISO_KVMCLOCK_PEEK, /* the clock page's version field */
	ISO_CPUID_HASH,	   /* FNV-1a of every CPUID leaf and subleaf it sees */
	ISO_CPUID_KVM,	   /* 1 if leaf 0x40000000 says "KVMKVMKVM" */
	ISO_CPUID_PMU,	   /* leaf 0xa EAX | PerfCtrExtCore (0x80000001 ECX bit 23) */
	/* State the guest changes with no exit to the VMM, one of each kind:
	 * arg = enum iso_kind; the value now (32 bits on i686), or
	 * ISO_KIND_UNSUPPORTED (swapgs on i686; XSAVE not offered). */
	ISO_KIND_READ,
	/* Changes all of them (WRMSR to SYSENTER_ESP; KERNEL_GS_BASE by
	 * WRMSR to GS_BASE and swapgs; XCR0 by XSETBV; DR0 by MOV); returns
	 * the bits (1 << kind) of those that read back changed. */
	ISO_KINDS_WRITE,
};

enum iso_kind {
	ISO_KIND_WRMSR,	 /* SYSENTER_ESP, written with WRMSR */
	ISO_KIND_SWAPGS, /* KERNEL_GS_BASE, changed by swapgs (amd64 only) */
	ISO_KIND_XSETBV, /* XCR0 */
	ISO_KIND_MOV_DR, /* DR0 */
	ISO_KINDS,
};

#define ISO_KIND_UNSUPPORTED 0xfffffffeu

#define MSR_IA32_TSC		0x10
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

#endif /* SNAPVM_GUESTS_TEST_ISOLATION_H */
