/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * isolation.c - a guest that tries to carry vCPU state from one request to
 * the next: it is told which MSRs the VMM saves, records them at its
 * SNAPSHOT, and then, request after request, compares them with what it
 * recorded and writes new values into all of them; it writes the TSC,
 * enables kvmclock, hashes its CPUID, and changes state with no exit to
 * the VMM: WRMSR, swapgs, XSETBV, MOV DR (calls: isolation.h).
 */
#include <stdbool.h>

#include "guests/include/rt.h"
#include "guests/test/isolation.h"

static uint32_t msr_index[ISOLATION_MAX_MSRS];
static uint64_t msr_value[ISOLATION_MAX_MSRS];
static uint8_t msr_readable[ISOLATION_MAX_MSRS];
static uint8_t msr_changed[ISOLATION_MAX_MSRS];
static uint32_t nmsrs;
static volatile uint32_t *clock_page;

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

static uint64_t hash_range(uint64_t h, uint32_t first, uint32_t last)
{
	for (uint32_t leaf = first; leaf <= last && leaf - first < 64; leaf++)
		for (uint32_t sub = 0; sub < 4; sub++) {
			uint32_t r[4];

			cpuid(leaf, sub, r);
			h = rt_fnv1a64(h, r, sizeof(r));
		}
	return h;
}

static uint64_t cpuid_hash(void)
{
	uint32_t r[4];
	uint64_t h = RT_FNV1A64_INIT;

	cpuid(0, 0, r);
	h = hash_range(h, 0, r[0]);
	cpuid(0x80000000, 0, r);
	h = hash_range(h, 0x80000000, r[0]);
	return hash_range(h, 0x40000000, 0x40000001);
}

/* Another value the MSR accepts and keeps, or leave it: flipping single
 * bits, low ones first (many MSRs reserve their high bits), then a few
 * whole patterns (PAT, MTRR types). */
static int scramble(uint32_t msr, uint64_t old)
{
	static const uint64_t patterns[] = {0x0606060606060606ULL, 0x0000000000000000ULL,
					    0x0007040600070406ULL, 0x0000000000000806ULL,
					    0x00000000fffff800ULL, 0x0000000012345000ULL};
	uint64_t now;

	for (unsigned int bit = 0; bit < 64; bit++) {
		uint64_t value = old ^ (1ULL << bit);

		if (!rt_wrmsr_safe(msr, value) && !rt_rdmsr_safe(msr, &now) && now != old)
			return 1;
	}
	for (unsigned int i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (patterns[i] == old)
			continue;
		if (!rt_wrmsr_safe(msr, patterns[i]) && !rt_rdmsr_safe(msr, &now) && now != old)
			return 1;
	}
	return 0;
}

/* XSETBV and XGETBV need CR4.OSXSAVE, which the guest may set itself (a
 * restore puts CR4 back); false when the vCPU has no XSAVE. */
static bool xsave_on(void)
{
	uint32_t r[4];
	uintptr_t cr4 = rt_read_cr4();

	cpuid(1, 0, r);
	if (!(r[2] & (1u << 26)))
		return false;
	if (!(cr4 & (1u << 18)))
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 18)));
	return true;
}

static uint64_t kind_read(uint64_t kind)
{
	uint64_t value = ISO_KIND_UNSUPPORTED;
	uint32_t lo, hi;
	uintptr_t dr;

	switch (kind) {
	case ISO_KIND_WRMSR:
		if (rt_rdmsr_safe(MSR_IA32_SYSENTER_ESP, &value))
			return ISO_KIND_UNSUPPORTED;
		return value;
	case ISO_KIND_SWAPGS:
#if defined(__x86_64__)
		if (rt_rdmsr_safe(MSR_KERNEL_GS_BASE, &value))
			return ISO_KIND_UNSUPPORTED;
#endif
		return value;
	case ISO_KIND_XSETBV:
		if (!xsave_on())
			return ISO_KIND_UNSUPPORTED;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		return ((uint64_t)hi << 32) | lo;
	case ISO_KIND_MOV_DR:
		__asm__ volatile("mov %%dr0, %0" : "=r"(dr));
		return dr;
	}
	rt_abortf(1, "isolation: unknown kind %llu", (unsigned long long)kind);
}

/* Each kind of state to another value, by the instruction it is about. */
static uint64_t kinds_write(void)
{
	uint64_t before[ISO_KINDS], changed = 0, xcr0;
	uintptr_t dr0;

	for (unsigned int k = 0; k < ISO_KINDS; k++)
		before[k] = kind_read(k);
	if (before[ISO_KIND_WRMSR] != ISO_KIND_UNSUPPORTED)
		rt_wrmsr_safe(MSR_IA32_SYSENTER_ESP, before[ISO_KIND_WRMSR] ^ 0x12340);
#if defined(__x86_64__)
	/* KERNEL_GS_BASE is never the target of a WRMSR here: swapgs moves
	 * the GS base just written into it. */
	if (before[ISO_KIND_SWAPGS] != ISO_KIND_UNSUPPORTED &&
	    !rt_wrmsr_safe(MSR_GS_BASE, before[ISO_KIND_SWAPGS] == 0x7654321000ULL
					    ? 0x1234567000ULL
					    : 0x7654321000ULL))
		__asm__ volatile("swapgs" ::: "memory");
#endif
	if (before[ISO_KIND_XSETBV] != ISO_KIND_UNSUPPORTED) {
		/* x87 alone, or x87 + SSE: valid wherever XSAVE is. */
		xcr0 = before[ISO_KIND_XSETBV] == 1 ? 3 : 1;
		__asm__ volatile("xsetbv"
				 :
				 : "a"((uint32_t)xcr0), "d"((uint32_t)(xcr0 >> 32)), "c"(0));
	}
	/* DR7 enables no breakpoint: DR0 is only a value. */
	dr0 = (uintptr_t)before[ISO_KIND_MOV_DR] ^ 0x5000;
	__asm__ volatile("mov %0, %%dr0" : : "r"(dr0));
	for (unsigned int k = 0; k < ISO_KINDS; k++)
		if (before[k] != ISO_KIND_UNSUPPORTED && kind_read(k) != before[k])
			changed |= 1u << k;
	return changed;
}

static uint64_t serve(uint64_t function, uint64_t arg)
{
	uint64_t count = 0, value;

	switch (function) {
	case ISO_ADD_MSR:
		if (nmsrs == ISOLATION_MAX_MSRS)
			rt_abort(1, "isolation: too many MSRs");
		msr_index[nmsrs++] = (uint32_t)arg;
		return nmsrs;
	case ISO_SNAPSHOT:
		for (uint32_t i = 0; i < nmsrs; i++) {
			msr_readable[i] = !rt_rdmsr_safe(msr_index[i], &msr_value[i]);
			count += msr_readable[i];
		}
		rt_snapshot();
		return count;
	case ISO_COMPARE:
	case ISO_FIRST_DIFF:
		for (uint32_t i = 0; i < nmsrs; i++) {
			if (!msr_readable[i])
				continue;
			if (rt_rdmsr_safe(msr_index[i], &value) || value != msr_value[i]) {
				if (function == ISO_FIRST_DIFF)
					return msr_index[i];
				count++;
			}
		}
		return function == ISO_FIRST_DIFF ? 0xffffffffu : count;
	case ISO_SCRAMBLE:
		for (uint32_t i = 0; i < nmsrs; i++) {
			msr_changed[i] = msr_readable[i] && scramble(msr_index[i], msr_value[i]);
			count += msr_changed[i];
		}
		return count;
	case ISO_SCRAMBLED:
		for (uint32_t i = 0; i < nmsrs; i++)
			if (msr_index[i] == arg)
				return msr_changed[i];
		return 0;
	case ISO_TSC_HIGH: {
		uint32_t lo, hi;

		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return hi;
	}
	case ISO_WRITE_TSC:
		return (uint64_t)rt_wrmsr_safe(MSR_IA32_TSC, arg);
	case ISO_KVMCLOCK_ON:
		return (uint64_t)rt_wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW,
					       rt_scratch_gpa((const void *)clock_page) | 1);
	case ISO_KVMCLOCK_PAGE:
		return rt_scratch_gpa((const void *)clock_page);
	case ISO_KVMCLOCK_PEEK:
		return clock_page[0];
	case ISO_CPUID_HASH:
		return cpuid_hash();
	case ISO_CPUID_KVM: {
		uint32_t r[4];

		cpuid(0x40000000, 0, r);
		return r[1] == 0x4b4d564b && r[2] == 0x564b4d56 && r[3] == 0x0000004d;
	}
	case ISO_KIND_READ:
		return kind_read(arg);
	case ISO_KINDS_WRITE:
		return kinds_write();
	case ISO_CPUID_PMU: {
		uint32_t a[4], e[4];

		cpuid(0xa, 0, a);
		cpuid(0x80000001, 0, e);
		return a[0] | (e[2] & (1u << 23));
	}
	}
	rt_abortf(1, "isolation: unknown function %llu", (unsigned long long)function);
}

int main(void)
{
	clock_page = rt_alloc_page();
	rt_call_loop(serve);
}
