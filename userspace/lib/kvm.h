// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kvm.h - what the KVM backend's two files share: the process-wide /dev/kvm
 * state that kvm.c opens and probes and kvm_vcpu.c reads. No other file
 * includes it: the rest of the library goes through internal.h.
 */
#ifndef SNAPVM_USERSPACE_KVM_H
#define SNAPVM_USERSPACE_KVM_H

#include <pthread.h>

#include "userspace/lib/internal.h"

/* The process-wide /dev/kvm state. A failed open is not remembered: the
 * next sandbox tries again (the module may have been loaded meanwhile). */
struct snapvm_kvm_host {
	int fd;
	int error; /* errno of the last failed open, or 0 */
	int api_version;
	int vcpu_mmap_size;
	int sync_regs; /* KVM_CAP_SYNC_REGS: the register sets it syncs */
	bool readonly_mem, immediate_exit;
	bool xsave, xcrs, manual_protect;
	bool pmu_capability, enforce_pv, enforce_hyperv;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */
	/* The MSR candidates: KVM_GET_MSR_INDEX_LIST plus the MTRRs, minus
	 * the deliberate exclusions (snapvm_vcpu_msr_candidates). */
	uint32_t *msr_candidates;
	unsigned int nmsr_candidates;
	/* The MSRs one vCPU can really read and write back, probed once per
	 * CPUID (they depend on it: PV features, RDTSCP, ...). */
	uint64_t probed_cpuid_hash;
	uint32_t probed_msrs[SNAPVM_MAX_MSRS];
	unsigned int nprobed_msrs;
	char vendor[13];
};
extern struct snapvm_kvm_host snapvm_kvm_host;
/* Held while the state is filled in or the MSRs are probed. */
extern pthread_mutex_t snapvm_kvm_host_lock;

#endif /* SNAPVM_USERSPACE_KVM_H */
