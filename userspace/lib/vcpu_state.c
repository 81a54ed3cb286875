// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * vcpu_state.c - the vCPU state policy, below the KVM backend (kvm.c), which
 * issues every ioctl: which MSRs a state saves and a restore puts back, and
 * why some are left alone; which MSRs a guest may not write at all; the
 * CPUID a guest sees (KVM's, normalised) and whether a host can give a
 * saved one. The TSC is put back as an offset, not as an MSR (see
 * msr_excluded). Nothing here calls into kvm.c: it hands kvm.c lists and
 * answers.
 */
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

/* ---- MSRs ---- */

/*
 * MSRs restore leaves alone, each for a reason:
 * - IA32_TSC (0x10): time only moves forward. Putting the value back would
 *   make a restored guest's clock run backwards; restore instead puts back
 *   the vCPU's TSC *offset* (KVM_VCPU_TSC_OFFSET), which undoes whatever a
 *   guest wrote to the TSC or TSC_ADJUST while time keeps going.
 * - Hyper-V's MSRs (0x40000000-0x400000ff): no guest can reach them, as its
 *   CPUID never has Hyper-V leaves and KVM_CAP_HYPERV_ENFORCE_CPUID is on;
 *   and two of them (TIME_REF_COUNT, VP_RUNTIME) tick on their own.
 */
static bool msr_excluded(uint32_t index)
{
	return index == 0x10 || (index >= 0x40000000 && index <= 0x400000ff);
}

/* MTRRs: the guest can write them, yet KVM_GET_MSR_INDEX_LIST does not
 * list them (QEMU saves them by name too). */
static const uint32_t mtrr_msrs[] = {
    0x2ff,						    /* MTRRdefType */
    0x250, 0x258, 0x259,				    /* fixed-range 64K, 16K x 2 */
    0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, /* fixed 4K x 8 */
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* variable 0..3 */
    0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f, /* variable 4..7 */
};

static void add_msr_candidate(uint32_t *candidates, unsigned int *n, uint32_t index)
{
	if (msr_excluded(index))
		return;
	for (unsigned int i = 0; i < *n; i++)
		if (candidates[i] == index)
			return;
	candidates[(*n)++] = index;
}

uint32_t *snapvm_vcpu_msr_candidates(const uint32_t *listed, unsigned int nlisted, unsigned int *n)
{
	unsigned int nmtrr = sizeof(mtrr_msrs) / sizeof(mtrr_msrs[0]);
	uint32_t *candidates = calloc(nlisted + nmtrr, sizeof(uint32_t));

	*n = 0;
	if (!candidates)
		return NULL;
	for (unsigned int i = 0; i < nlisted; i++)
		add_msr_candidate(candidates, n, listed[i]);
	for (unsigned int i = 0; i < nmtrr; i++)
		add_msr_candidate(candidates, n, mtrr_msrs[i]);
	return candidates;
}

/*
 * Guest writes to MSRs a restore cannot put back raise #GP (an MSR filter;
 * host writes are not filtered):
 * - HWCR (0xc0010015): up to Linux 6.3 KVM_SET_MSRS cannot clear its
 *   McStatusWrEn bit once a guest set it (writing 0 is a no-op there).
 */
static const uint32_t unrestorable_msrs[] = {0xc0010015};

void snapvm_vcpu_msr_filter(struct kvm_msr_filter *filter)
{
	static uint8_t deny; /* one bit per MSR, 0 = denied */
	unsigned int n = sizeof(unrestorable_msrs) / sizeof(unrestorable_msrs[0]);

	*filter = (struct kvm_msr_filter){.flags = KVM_MSR_FILTER_DEFAULT_ALLOW};
	for (unsigned int i = 0; i < n; i++)
		filter->ranges[i] = (struct kvm_msr_filter_range){
		    .flags = KVM_MSR_FILTER_WRITE,
		    .nmsrs = 1,
		    .base = unrestorable_msrs[i],
		    .bitmap = &deny,
		};
}

/* ---- the guest's CPUID ---- */

#define CPUID_HYPERVISOR_FIRST 0x40000000u
#define CPUID_HYPERVISOR_LAST  0x4fffffffu

enum { EAX, EBX, ECX, EDX };

static uint32_t *cpuid_reg(struct kvm_cpuid_entry2 *e, int reg)
{
	uint32_t *regs[] = {&e->eax, &e->ebx, &e->ecx, &e->edx};

	return regs[reg];
}

/* Leaves the guest never sees: the hypervisor range (KVM's PV signature
 * and features) unless asked for, SVM's own leaf (no nested
 * virtualisation) and AMD's PerfMonV2 leaf (no PMU). */
static bool cpuid_leaf_dropped(uint32_t function, bool kvm_pv)
{
	if (function >= CPUID_HYPERVISOR_FIRST && function <= CPUID_HYPERVISOR_LAST)
		return !kvm_pv;
	return function == 0x8000000a || function == 0x80000022;
}

static void cpuid_normalise_entry(struct kvm_cpuid_entry2 *e)
{
	static const char brand[48] = "snapvm virtual CPU";

	switch (e->function) {
	case 1:
		/* The host's model and stepping stay hidden (family stays:
		 * vendor code branches on it). */
		e->eax &= ~0x000f00ffu;
		e->ecx &= ~(1u << 5 /* VMX */ | 1u << 15 /* PDCM: perf capabilities */);
		break;
	case 0xa: /* Intel architectural PMU: none */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~(1u << 2 /* SVM */ | 1u << 23 /* PerfCtrExtCore */ |
			    1u << 24 /* PerfCtrExtNB */ | 1u << 28 /* PerfCtrExtLLC */);
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
		memcpy(&e->eax, brand + (e->function - 0x80000002) * 16, 4);
		memcpy(&e->ebx, brand + (e->function - 0x80000002) * 16 + 4, 4);
		memcpy(&e->ecx, brand + (e->function - 0x80000002) * 16 + 8, 4);
		memcpy(&e->edx, brand + (e->function - 0x80000002) * 16 + 12, 4);
		break;
	}
}

int snapvm_vcpu_cpuid(const struct kvm_cpuid2 *supported, bool kvm_pv,
		      struct snapvm_vcpu_state *state, struct snapvm_error *err)
{
	state->ncpuid = 0;
	for (unsigned int i = 0; i < supported->nent; i++) {
		struct kvm_cpuid_entry2 e = supported->entries[i];

		if (cpuid_leaf_dropped(e.function, kvm_pv))
			continue;
		if (state->ncpuid == SNAPVM_MAX_CPUID)
			return snapvm_fail(err, EX_SOFTWARE,
					   "KVM offers more than %d CPUID entries",
					   SNAPVM_MAX_CPUID);
		cpuid_normalise_entry(&e);
		state->cpuid[state->ncpuid++] = e;
	}
	state->parts |= SNAPVM_STATE_CPUID;
	return 0;
}

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *entries,
						 unsigned int n, uint32_t function, uint32_t index)
{
	for (unsigned int i = 0; i < n; i++)
		if (entries[i].function == function &&
		    (!(entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     entries[i].index == index))
			return &entries[i];
	return NULL;
}

void snapvm_vcpu_cpuid_vendor(const struct kvm_cpuid_entry2 *entries, unsigned int n,
			      char vendor[13])
{
	const struct kvm_cpuid_entry2 *leaf0 = cpuid_find(entries, n, 0, 0);

	memset(vendor, 0, 13);
	if (leaf0) {
		memcpy(vendor, &leaf0->ebx, 4);
		memcpy(vendor + 4, &leaf0->edx, 4);
		memcpy(vendor + 8, &leaf0->ecx, 4);
	}
}

int snapvm_vcpu_cpuid_saved(const char *path, const struct snapvm_vcpu_state *state, bool *kvm_pv,
			    struct snapvm_error *err)
{
	if (!(state->parts & SNAPVM_STATE_CPUID) || state->ncpuid == 0 ||
	    state->ncpuid > SNAPVM_MAX_CPUID)
		return snapvm_fail(err, EX_DATAERR, "%s: the snapshot records no valid CPUID",
				   path);
	*kvm_pv = cpuid_find(state->cpuid, state->ncpuid, CPUID_HYPERVISOR_FIRST, 0) != NULL;
	return 0;
}

/* The registers whose bits are features: a snapshot may only use those a
 * host's KVM offers. */
static const struct {
	uint32_t function, index;
	int reg;
	const char *name;
} feature_regs[] = {
    {1, 0, ECX, "ECX"},		 {1, 0, EDX, "EDX"},	      {7, 0, EBX, "EBX"},
    {7, 0, ECX, "ECX"},		 {7, 0, EDX, "EDX"},	      {7, 1, EAX, "EAX"},
    {0xd, 0, EAX, "EAX"},	 {0xd, 0, EDX, "EDX"},	      {0xd, 1, EAX, "EAX"},
    {0x80000001, 0, ECX, "ECX"}, {0x80000001, 0, EDX, "EDX"}, {0x80000008, 0, EBX, "EBX"},
    {0x40000001, 0, EAX, "EAX"},
};

int snapvm_vcpu_cpuid_compare(const char *path, const struct snapvm_vcpu_state *state,
			      const struct snapvm_vcpu_state *here, const char *host_vendor,
			      struct snapvm_error *err)
{
	char vendor[13];

	snapvm_vcpu_cpuid_vendor(state->cpuid, state->ncpuid, vendor);
	if (strcmp(vendor, host_vendor))
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "%s: the snapshot's CPU vendor is '%s', this host's is '%s'",
				   path, vendor, host_vendor);
	for (unsigned int i = 0; i < sizeof(feature_regs) / sizeof(feature_regs[0]); i++) {
		struct kvm_cpuid_entry2 want = {0}, have = {0};
		const struct kvm_cpuid_entry2 *w = cpuid_find(
		    state->cpuid, state->ncpuid, feature_regs[i].function, feature_regs[i].index);
		const struct kvm_cpuid_entry2 *h = cpuid_find(
		    here->cpuid, here->ncpuid, feature_regs[i].function, feature_regs[i].index);
		uint32_t wanted, offered;

		if (w)
			want = *w;
		if (h)
			have = *h;
		wanted = *cpuid_reg(&want, feature_regs[i].reg);
		offered = *cpuid_reg(&have, feature_regs[i].reg);
		if (wanted & ~offered)
			return snapvm_fail(err, EX_UNAVAILABLE,
					   "%s: this host cannot give the snapshot's CPUID: leaf "
					   "0x%x subleaf %u %s has bits 0x%08x that KVM here does "
					   "not offer (it offers 0x%08x)",
					   path, feature_regs[i].function, feature_regs[i].index,
					   feature_regs[i].name, wanted & ~offered, offered);
	}
	return 0;
}
