// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kvm_vcpu.c - the KVM backend's vCPU: created with the MSRs it can really
 * save and restore, its state got and set (regs, sregs, FPU or XSAVE, XCRs,
 * MSRs, CPUID), registers through KVM_CAP_SYNC_REGS, guest debugging (and
 * the probe of what it really does here), the kick, and KVM_RUN, whose exits
 * it turns into the generic struct snapvm_exit. /dev/kvm and VMs are kvm.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "userspace/lib/internal.h"
#include "userspace/lib/kvm.h"

static int enable_vcpu_cap(struct snapvm_kvm_vcpu *vcpu, uint32_t cap_nr, const char *name,
			   struct snapvm_error *err)
{
	struct kvm_enable_cap cap = {.cap = cap_nr, .args[0] = 1};

	if (ioctl(vcpu->fd, KVM_ENABLE_CAP, &cap) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_ENABLE_CAP(%s)", name);
	return 0;
}

static bool msr_round_trips(int vcpu_fd, uint32_t index)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entry;
	} msr = {.head.nmsrs = 1, .entry.index = index};

	return ioctl(vcpu_fd, KVM_GET_MSRS, &msr) == 1 && ioctl(vcpu_fd, KVM_SET_MSRS, &msr) == 1;
}

/* The candidates this vCPU (with its CPUID) can read and write back: those
 * are the MSRs a state saves and a restore puts back. Probed once per
 * CPUID: the answer depends on the CPUID only. */
static int find_vcpu_msrs(struct snapvm_kvm_vcpu *vcpu, const struct snapvm_vcpu_state *state,
			  struct snapvm_error *err)
{
	uint64_t hash = snapvm_hash64(SNAPVM_HASH64_INIT, state->cpuid,
				      state->ncpuid * sizeof(state->cpuid[0]));
	int ret = 0;

	pthread_mutex_lock(&snapvm_kvm_host_lock);
	if (snapvm_kvm_host.probed_cpuid_hash != hash || !snapvm_kvm_host.nprobed_msrs) {
		snapvm_kvm_host.nprobed_msrs = 0;
		snapvm_kvm_host.probed_cpuid_hash = 0;
		for (unsigned int i = 0; i < snapvm_kvm_host.nmsr_candidates && !ret; i++) {
			if (!msr_round_trips(vcpu->fd, snapvm_kvm_host.msr_candidates[i]))
				continue;
			if (snapvm_kvm_host.nprobed_msrs == SNAPVM_MAX_MSRS)
				ret = snapvm_fail(err, EX_SOFTWARE,
						  "KVM offers more than %d saveable MSRs",
						  SNAPVM_MAX_MSRS);
			else
				snapvm_kvm_host.probed_msrs[snapvm_kvm_host.nprobed_msrs++] =
				    snapvm_kvm_host.msr_candidates[i];
		}
		if (!ret)
			snapvm_kvm_host.probed_cpuid_hash = hash;
	}
	memcpy(vcpu->msrs, snapvm_kvm_host.probed_msrs,
	       snapvm_kvm_host.nprobed_msrs * sizeof(vcpu->msrs[0]));
	vcpu->nmsrs = ret ? 0 : snapvm_kvm_host.nprobed_msrs;
	pthread_mutex_unlock(&snapvm_kvm_host_lock);
	return ret;
}

int snapvm_kvm_vcpu_create(struct snapvm_kvm_vm *vm, struct snapvm_kvm_vcpu *vcpu,
			   const struct snapvm_vcpu_state *state, struct snapvm_error *err)
{
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 entries[SNAPVM_MAX_CPUID];
	} cpuid;
	struct kvm_device_attr tsc = {
	    .group = KVM_VCPU_TSC_CTRL,
	    .attr = KVM_VCPU_TSC_OFFSET,
	};
	void *run;
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	if (!(state->parts & SNAPVM_STATE_CPUID) || state->ncpuid > SNAPVM_MAX_CPUID)
		return snapvm_fail(err, EX_SOFTWARE, "a vCPU state without its CPUID");
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vcpu->fd < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)snapvm_kvm_host.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int errnum = errno;

		close(vcpu->fd);
		vcpu->fd = -1;
		return snapvm_fail_errno(err, EX_OSERR, errnum, "mmap of the vCPU's kvm_run");
	}
	vcpu->run = run;
	vcpu->run_size = (size_t)snapvm_kvm_host.vcpu_mmap_size;
	vcpu->cpuid_from = state;
	/* The snapshot's normalised CPUID (snapvm_kvm_cpuid), the same in
	 * every sandbox of the snapshot. */
	cpuid.head = (struct kvm_cpuid2){.nent = state->ncpuid};
	memcpy(cpuid.entries, state->cpuid, state->ncpuid * sizeof(cpuid.entries[0]));
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, &cpuid) != 0) {
		ret = snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_CPUID2");
		goto fail;
	}
	/* A paravirtual MSR the CPUID does not offer raises #GP: without them
	 * KVM would accept kvmclock, steal time, async PF, PV EOI or Hyper-V's
	 * TSC page, and go on writing into guest memory behind a restore. */
	ret = enable_vcpu_cap(vcpu, KVM_CAP_ENFORCE_PV_FEATURE_CPUID,
			      "KVM_CAP_ENFORCE_PV_FEATURE_CPUID", err);
	if (!ret)
		ret = enable_vcpu_cap(vcpu, KVM_CAP_HYPERV_ENFORCE_CPUID,
				      "KVM_CAP_HYPERV_ENFORCE_CPUID", err);
	if (!ret)
		ret = find_vcpu_msrs(vcpu, state, err);
	if (ret)
		goto fail;
	/* The TSC offset of a new vCPU: every restore puts it back. */
	tsc.addr = (uintptr_t)&vcpu->tsc_offset;
	vcpu->tsc_offset_valid = ioctl(vcpu->fd, KVM_HAS_DEVICE_ATTR, &tsc) == 0 &&
				 ioctl(vcpu->fd, KVM_GET_DEVICE_ATTR, &tsc) == 0;
	/* Hypercalls are the hot path: read their registers, and the paging
	 * registers WRITE and ABORT translate with, from kvm_run instead of a
	 * KVM_GET_REGS / KVM_GET_SREGS per exit (in a nested KVM an ioctl
	 * costs about as much as the exit). Between exits only REGS is marked
	 * dirty: a dirty SREGS makes KVM write the copy back, which only
	 * set_state wants. */
	if (snapvm_kvm_host.sync_regs > 0 && (snapvm_kvm_host.sync_regs & KVM_SYNC_X86_REGS)) {
		vcpu->sync_regs = true;
		vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	}
	if (snapvm_kvm_host.sync_regs > 0 && (snapvm_kvm_host.sync_regs & KVM_SYNC_X86_SREGS)) {
		vcpu->sync_sregs = true;
		vcpu->run->kvm_valid_regs |= KVM_SYNC_X86_SREGS;
	}
	/* Events are only ever written (by set_state), never synced back. */
	vcpu->sync_events =
	    snapvm_kvm_host.sync_regs > 0 && (snapvm_kvm_host.sync_regs & KVM_SYNC_X86_EVENTS);
	return 0;
fail:
	snapvm_kvm_vcpu_destroy(vcpu);
	return ret;
}

int snapvm_kvm_vcpu_reset_tsc(struct snapvm_kvm_vcpu *vcpu, struct snapvm_error *err)
{
	struct kvm_device_attr tsc = {
	    .group = KVM_VCPU_TSC_CTRL,
	    .attr = KVM_VCPU_TSC_OFFSET,
	    .addr = (uintptr_t)&vcpu->tsc_offset,
	};

	if (vcpu->tsc_offset_valid && ioctl(vcpu->fd, KVM_SET_DEVICE_ATTR, &tsc) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno,
					 "KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)");
	return 0;
}

int snapvm_kvm_vcpu_complete_io(struct snapvm_kvm_vcpu *vcpu, struct snapvm_error *err)
{
	struct kvm_run *run = vcpu->run;
	int ret;

	if (vcpu->regs_dirty) {
		if (vcpu->sync_regs)
			run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		else if (ioctl(vcpu->fd, KVM_SET_REGS, &vcpu->regs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_REGS");
		vcpu->regs_dirty = false;
	}
	run->immediate_exit = 1;
	ret = ioctl(vcpu->fd, KVM_RUN, 0);
	/* Clear, then look for a kick: a timer signal between reading kicked
	 * and clearing would otherwise lose its immediate_exit, and a one-shot
	 * timeout would never stop the guest. */
	run->immediate_exit = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (vcpu->kicked)
		run->immediate_exit = 1;
	vcpu->regs_fetched = false;
	if (ret == 0 || (errno != EINTR && errno != EAGAIN))
		return snapvm_fail_errno(err, EX_SOFTWARE, ret == 0 ? EPROTO : errno,
					 "KVM_RUN with immediate_exit, to complete an I/O exit");
	vcpu->io_pending = false;
	return 0;
}

int snapvm_kvm_vcpu_get_state(struct snapvm_kvm_vcpu *vcpu, struct snapvm_vcpu_state *state,
			      struct snapvm_error *err)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entries[SNAPVM_MAX_MSRS];
	} msrs = {.head.nmsrs = vcpu->nmsrs};
	int n, ret;

	ret = snapvm_kvm_vcpu_apply_staged(vcpu, err);
	if (ret)
		return ret;
	memset(state, 0, sizeof(*state));
	/* The CPUID the vCPU was created with (KVM_GET_CPUID2 would add the
	 * bits that follow the guest's CR4 and XCR0). */
	state->parts = SNAPVM_STATE_FULL | SNAPVM_STATE_CPUID;
	state->ncpuid = vcpu->cpuid_from->ncpuid;
	memcpy(state->cpuid, vcpu->cpuid_from->cpuid, state->ncpuid * sizeof(state->cpuid[0]));
	if (ioctl(vcpu->fd, KVM_GET_REGS, &state->regs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_REGS");
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &state->sregs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_SREGS");
	if (snapvm_kvm_host.xsave) {
		if (ioctl(vcpu->fd, KVM_GET_XSAVE, &state->xsave) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_XSAVE");
		state->parts |= SNAPVM_STATE_XSAVE;
	} else if (ioctl(vcpu->fd, KVM_GET_FPU, &state->fpu) != 0) {
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_FPU");
	}
	if (snapvm_kvm_host.xcrs) {
		if (ioctl(vcpu->fd, KVM_GET_XCRS, &state->xcrs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_XCRS");
		state->parts |= SNAPVM_STATE_XCRS;
	}
	for (unsigned int i = 0; i < vcpu->nmsrs; i++)
		msrs.entries[i].index = vcpu->msrs[i];
	n = ioctl(vcpu->fd, KVM_GET_MSRS, &msrs);
	if (n != (int)vcpu->nmsrs)
		return snapvm_fail_errno(err, EX_OSERR, n < 0 ? errno : EIO,
					 "KVM_GET_MSRS (%d of %u MSRs)", n, vcpu->nmsrs);
	memcpy(state->msrs, msrs.entries, sizeof(msrs.entries));
	state->nmsrs = vcpu->nmsrs;
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &state->events) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_VCPU_EVENTS");
	if (ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &state->debugregs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_DEBUGREGS");
	return 0;
}

/* The order QEMU uses: XSAVE before XCRs and sregs, events after MSRs. */
int snapvm_kvm_vcpu_set_state(struct snapvm_kvm_vcpu *vcpu, const struct snapvm_vcpu_state *state,
			      struct snapvm_error *err)
{
	bool staged;
	int ret;

	/* A half-done `out` would otherwise complete on the next KVM_RUN,
	 * against the new state. */
	if (vcpu->io_pending) {
		ret = snapvm_kvm_vcpu_complete_io(vcpu, err);
		if (ret)
			return ret;
	}
	staged = vcpu->sync_regs && vcpu->sync_sregs && vcpu->sync_events;
	if (!staged && ioctl(vcpu->fd, KVM_SET_REGS, &state->regs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_REGS");
	if (state->parts & SNAPVM_STATE_XSAVE) {
		if (ioctl(vcpu->fd, KVM_SET_XSAVE, &state->xsave) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_XSAVE");
	} else if ((state->parts & SNAPVM_STATE_FULL) &&
		   ioctl(vcpu->fd, KVM_SET_FPU, &state->fpu) != 0) {
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_FPU");
	}
	if ((state->parts & SNAPVM_STATE_XCRS) && ioctl(vcpu->fd, KVM_SET_XCRS, &state->xcrs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_XCRS");
	if (!staged && ioctl(vcpu->fd, KVM_SET_SREGS, &state->sregs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_SREGS");
	if (state->parts & SNAPVM_STATE_FULL) {
		struct {
			struct kvm_msrs head;
			struct kvm_msr_entry entries[SNAPVM_MAX_MSRS];
		} msrs = {.head.nmsrs = state->nmsrs};

		if (state->nmsrs > SNAPVM_MAX_MSRS)
			return snapvm_fail(err, EX_DATAERR, "vCPU state with %u MSRs",
					   state->nmsrs);
		memcpy(msrs.entries, state->msrs, sizeof(msrs.entries));
		ret = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
		if (ret != (int)state->nmsrs)
			return snapvm_fail_errno(
			    err, EX_OSERR, ret < 0 ? errno : EIO,
			    "KVM_SET_MSRS (%d of %u MSRs; MSR 0x%x refused?)", ret, state->nmsrs,
			    ret >= 0 && ret < (int)state->nmsrs ? state->msrs[ret].index : 0);
		if (!staged && ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &state->events) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_VCPU_EVENTS");
		if (ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &state->debugregs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_DEBUGREGS");
	}
	/* Whatever kvm_run or our copy held is stale now: the synced copies
	 * become the state just set (KVM refreshes them at the next exit), so
	 * a register change before that run cannot write back old values.
	 * Staged, they are the state: KVM_RUN sets regs, sregs and events from
	 * them (in that order, after the ioctls above) before anything else,
	 * one vCPU ioctl instead of three (each costs a vcpu_load and put). */
	vcpu->run->kvm_dirty_regs = 0;
	if (vcpu->sync_regs)
		vcpu->run->s.regs.regs = state->regs;
	if (vcpu->sync_sregs)
		vcpu->run->s.regs.sregs = state->sregs;
	if (staged) {
		vcpu->run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
		if (state->parts & SNAPVM_STATE_FULL) {
			vcpu->run->s.regs.events = state->events;
			vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
		}
	}
	vcpu->regs_fetched = false;
	vcpu->regs_dirty = false;
	return 0;
}

int snapvm_kvm_vcpu_apply_staged(struct snapvm_kvm_vcpu *vcpu, struct snapvm_error *err)
{
	struct kvm_run *run = vcpu->run;

	if ((run->kvm_dirty_regs & KVM_SYNC_X86_REGS) &&
	    ioctl(vcpu->fd, KVM_SET_REGS, &run->s.regs.regs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_REGS");
	run->kvm_dirty_regs &= ~KVM_SYNC_X86_REGS;
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) &&
	    ioctl(vcpu->fd, KVM_SET_SREGS, &run->s.regs.sregs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_SREGS");
	run->kvm_dirty_regs &= ~KVM_SYNC_X86_SREGS;
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_EVENTS) &&
	    ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &run->s.regs.events) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_VCPU_EVENTS");
	run->kvm_dirty_regs &= ~KVM_SYNC_X86_EVENTS;
	vcpu->regs_dirty = false;
	return 0;
}

int snapvm_kvm_vcpu_regs(struct snapvm_kvm_vcpu *vcpu, struct kvm_regs **regs,
			 struct snapvm_error *err)
{
	if (vcpu->sync_regs) {
		*regs = &vcpu->run->s.regs.regs;
		return 0;
	}
	if (!vcpu->regs_fetched) {
		if (ioctl(vcpu->fd, KVM_GET_REGS, &vcpu->regs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_REGS");
		vcpu->regs_fetched = true;
	}
	*regs = &vcpu->regs;
	return 0;
}

void snapvm_kvm_vcpu_regs_changed(struct snapvm_kvm_vcpu *vcpu)
{
	vcpu->regs_dirty = true;
}

int snapvm_kvm_vcpu_paging(struct snapvm_kvm_vcpu *vcpu, struct snapvm_paging *paging,
			   struct snapvm_error *err)
{
	struct kvm_sregs fetched;
	const struct kvm_sregs *sregs = &vcpu->run->s.regs.sregs;

	if (!vcpu->sync_sregs) {
		if (ioctl(vcpu->fd, KVM_GET_SREGS, &fetched) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_SREGS");
		sregs = &fetched;
	}
	*paging = (struct snapvm_paging){
	    .cr0 = sregs->cr0, .cr3 = sregs->cr3, .cr4 = sregs->cr4, .efer = sregs->efer};
	return 0;
}

int snapvm_kvm_vcpu_set_guest_debug(struct snapvm_kvm_vcpu *vcpu, uint32_t control,
				    const uint64_t debugreg[8], struct snapvm_error *err)
{
	struct kvm_guest_debug debug = {.control = control};
	/* Single-stepping starts from the RIP the vCPU has now: a staged one
	 * set later would lose the trap flag KVM sets for it. */
	int ret = snapvm_kvm_vcpu_apply_staged(vcpu, err);

	if (ret)
		return ret;
	if (debugreg)
		memcpy(debug.arch.debugreg, debugreg, sizeof(debug.arch.debugreg));
	if (ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &debug) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_GUEST_DEBUG (control 0x%x)",
					 control);
	return 0;
}

/* One probe run: real mode at 0x1000 + offset, with control; true when it
 * ends in KVM_EXIT_DEBUG (else the `hlt` after the probed instruction, or
 * the int3 handler's, ends it). */
static bool probe_run(int vcpu_fd, struct kvm_run *run, uint64_t rip, uint32_t control,
		      uint64_t dr0)
{
	struct kvm_guest_debug debug = {.control = control};
	struct kvm_regs regs = {.rip = rip, .rflags = 2};
	struct kvm_sregs sregs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		return false;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	debug.arch.debugreg[0] = dr0;
	debug.arch.debugreg[7] = dr0 ? 1 : 0; /* L0, execute */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) || ioctl(vcpu_fd, KVM_SET_REGS, &regs) ||
	    ioctl(vcpu_fd, KVM_SET_GUEST_DEBUG, &debug))
		return false;
	for (int tries = 0; tries < 4; tries++) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) == 0)
			return run->exit_reason == KVM_EXIT_DEBUG;
		if (errno != EINTR && errno != EAGAIN)
			return false;
	}
	return false;
}

void snapvm_kvm_probe_guest_debug(bool *hw_breakpoints, bool *int3)
{
	struct kvm_userspace_memory_region mem = {.memory_size = 0x2000};
	struct kvm_run *run = MAP_FAILED;
	unsigned char *page = MAP_FAILED;
	int vm = -1, vcpu = -1;

	*hw_breakpoints = *int3 = false;
	if (snapvm_kvm_check(NULL))
		return;
	vm = ioctl(snapvm_kvm_host.fd, KVM_CREATE_VM, 0);
	page = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || page == MAP_FAILED)
		goto out;
	/* Real mode: the IVT sends int3 to a hlt at 0x1800; 0x1000: nop,
	 * nop, hlt with DR0 on the second nop; 0x1100: int3, hlt. */
	memcpy(page + 0x0c, (const unsigned char[]){0x00, 0x18, 0x00, 0x00}, 4);
	memcpy(page + 0x1000, (const unsigned char[]){0x90, 0x90, 0xf4}, 3);
	memcpy(page + 0x1100, (const unsigned char[]){0xcc, 0xf4}, 2);
	page[0x1800] = 0xf4;
	mem.userspace_addr = (uintptr_t)page;
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL); /* VMX without unrestricted guest */
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mem))
		goto out;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		goto out;
	run = mmap(NULL, (size_t)snapvm_kvm_host.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu, 0);
	if (run == MAP_FAILED)
		goto out;
	*hw_breakpoints =
	    probe_run(vcpu, run, 0x1000, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, 0x1001) &&
	    run->debug.arch.pc == 0x1001;
	*int3 = probe_run(vcpu, run, 0x1100, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP, 0) &&
		run->debug.arch.exception == 3;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)snapvm_kvm_host.vcpu_mmap_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (page != MAP_FAILED)
		munmap(page, 0x2000);
}

int snapvm_kvm_vcpu_set_signal_mask(struct snapvm_kvm_vcpu *vcpu, const sigset_t *mask,
				    struct snapvm_error *err)
{
	/* The kernel's sigset_t: 64 signals, the first 8 bytes of glibc's. */
	struct {
		struct kvm_signal_mask head;
		uint64_t sigset;
	} arg = {.head.len = sizeof(uint64_t)};

	vcpu->sigmask_valid = false;
	memcpy(&arg.sigset, mask, sizeof(arg.sigset));
	if (ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &arg.head) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_SIGNAL_MASK");
	vcpu->sigmask = *mask;
	vcpu->sigmask_valid = true;
	return 0;
}

void snapvm_kvm_vcpu_kick(struct snapvm_kvm_vcpu *vcpu)
{
	vcpu->kicked = 1;
	vcpu->run->immediate_exit = 1;
}

void snapvm_kvm_vcpu_unkick(struct snapvm_kvm_vcpu *vcpu)
{
	vcpu->run->immediate_exit = 0;
	vcpu->kicked = 0;
}

static const char *exit_reason_name(uint32_t reason)
{
	static const char *const names[] = {
	    [KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
	    [KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
	    [KVM_EXIT_IO] = "KVM_EXIT_IO",
	    [KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
	    [KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
	    [KVM_EXIT_HLT] = "KVM_EXIT_HLT",
	    [KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
	    [KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
	    [KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
	    [KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	    [KVM_EXIT_INTR] = "KVM_EXIT_INTR",
	    [KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
	    [KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
	    [KVM_EXIT_NMI] = "KVM_EXIT_NMI",
	    [KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	    [KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	    [KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
	    [KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "an unknown KVM exit";
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failed";
	default:
		return "internal error";
	}
}

static void describe_other(struct kvm_run *run, struct snapvm_exit *exit)
{
	const char *name = exit_reason_name(run->exit_reason);

	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		snprintf(exit->description, sizeof(exit->description),
			 "%s: the guest halted with nothing to wake it", name);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(exit->description, sizeof(exit->description),
			 "%s: the CPU refused the vCPU state (hardware reason 0x%llx)", name,
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		int n = snprintf(
		    exit->description, sizeof(exit->description), "%s: %s (suberror %u)", name,
		    internal_error_name(run->internal.suberror), run->internal.suberror);

		/* KVM's words (for an emulation failure: flags, length and
		 * bytes of the instruction, then the exit's reason and info). */
		for (unsigned int i = 0; i < run->internal.ndata && i < 9 && n > 0 &&
					 (size_t)n < sizeof(exit->description);
		     i++)
			n += snprintf(exit->description + n, sizeof(exit->description) - n,
				      "%s0x%llx", i ? " " : ", data ",
				      (unsigned long long)run->internal.data[i]);
		break;
	}
	default:
		snprintf(exit->description, sizeof(exit->description), "unhandled exit %u (%s)",
			 run->exit_reason, name);
	}
}

/*
 * PAE's four PDPTEs as KVM keeps them, given rather than read: KVM reads
 * them from memory when the vCPU state is set, and takes none when one has
 * a reserved bit set. QEMU's TCG (the test VM) sets the accessed bit in
 * them, which PAE reserves, so a restored i686 guest kept zeros there and
 * KVM's own walks of its tables (to skip a CPUID without NRIPS, say)
 * failed. The other reserved bits (1-2, 5-8) go too. Without SREGS2
 * (before Linux 5.16) KVM reads them itself, as before.
 */
int snapvm_kvm_vcpu_set_pdptrs(struct snapvm_kvm_vcpu *vcpu, const struct kvm_sregs *s,
			       const uint64_t pdpte[4], struct snapvm_error *err)
{
#ifdef KVM_SREGS2_FLAGS_PDPTRS_VALID
	struct kvm_sregs2 s2 = {.cs = s->cs,
				.ds = s->ds,
				.es = s->es,
				.fs = s->fs,
				.gs = s->gs,
				.ss = s->ss,
				.tr = s->tr,
				.ldt = s->ldt,
				.gdt = s->gdt,
				.idt = s->idt,
				.cr0 = s->cr0,
				.cr2 = s->cr2,
				.cr3 = s->cr3,
				.cr4 = s->cr4,
				.cr8 = s->cr8,
				.efer = s->efer,
				.apic_base = s->apic_base,
				.flags = KVM_SREGS2_FLAGS_PDPTRS_VALID};

	for (int i = 0; i < 4; i++)
		s2.pdptrs[i] = pdpte[i] & ~0x1e6ULL;
	/* ENOTTY: a KVM without SREGS2, which reads them itself. */
	if (ioctl(vcpu->fd, KVM_SET_SREGS2, &s2) != 0 && errno != ENOTTY)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_SREGS2 (PAE PDPTEs)");
#endif
	return 0;
}

int snapvm_kvm_vcpu_run(struct snapvm_kvm_vcpu *vcpu, struct snapvm_exit *exit,
			struct snapvm_error *err)
{
	struct kvm_run *run = vcpu->run;

	memset(exit, 0, sizeof(*exit));
	if (vcpu->regs_dirty) {
		if (vcpu->sync_regs)
			run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		else if (ioctl(vcpu->fd, KVM_SET_REGS, &vcpu->regs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_REGS");
		vcpu->regs_dirty = false;
	}
	/* An interrupt to inject (no in-kernel irqchip: KVM_INTERRUPT): KVM
	 * stops when the guest can take it (KVM_EXIT_IRQ_WINDOW_OPEN, below),
	 * never before: the state after an exit or a restore may say nothing
	 * about the guest's IF. */
	run->request_interrupt_window =
	    __atomic_load_n(&vcpu->inject_vector, __ATOMIC_SEQ_CST) != 0;
	for (;;) {
		/* A kick between runs: immediate_exit makes KVM_RUN finish
		 * pending I/O and return EINTR without entering the guest. */
		int ret = ioctl(vcpu->fd, KVM_RUN, 0);

		vcpu->regs_fetched = false;
		vcpu->io_pending = false;
		if (ret < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_RUN");
			/* A kick whose signal is still pending is the caller's to
			 * take (deadline.c), as is deciding to run again. */
			exit->kind = vcpu->kicked ? SNAPVM_EXIT_KICKED : SNAPVM_EXIT_SIGNAL;
			exit->reason = KVM_EXIT_INTR;
			return 0;
		}
		break;
	}
	exit->reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint64_t bytes = (uint64_t)run->io.size * run->io.count;

		if (run->io.data_offset > vcpu->run_size ||
		    bytes > vcpu->run_size - run->io.data_offset)
			return snapvm_fail(err, EX_SOFTWARE, "KVM_EXIT_IO data outside kvm_run");
		exit->kind = SNAPVM_EXIT_IO;
		vcpu->io_pending = true;
		exit->io.port = run->io.port;
		exit->io.size = run->io.size;
		exit->io.out = run->io.direction == KVM_EXIT_IO_OUT;
		exit->io.count = run->io.count;
		exit->io.data = (unsigned char *)run + run->io.data_offset;
		break;
	}
	case KVM_EXIT_MMIO:
		exit->kind = SNAPVM_EXIT_MMIO;
		vcpu->io_pending = true;
		exit->mmio.gpa = run->mmio.phys_addr;
		exit->mmio.len = run->mmio.len;
		exit->mmio.write = run->mmio.is_write;
		break;
	case KVM_EXIT_SHUTDOWN:
		exit->kind = SNAPVM_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		exit->kind = SNAPVM_EXIT_KICKED;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		exit->kind = SNAPVM_EXIT_IRQ_WINDOW;
		run->request_interrupt_window = 0;
		if (run->ready_for_interrupt_injection) {
			struct kvm_interrupt irq = {.irq = (uint32_t)__atomic_exchange_n(
							&vcpu->inject_vector, 0, __ATOMIC_SEQ_CST)};

			if (irq.irq && ioctl(vcpu->fd, KVM_INTERRUPT, &irq) != 0)
				return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_INTERRUPT(%u)",
							 irq.irq);
		}
		break;
	case KVM_EXIT_DEBUG:
		exit->kind = SNAPVM_EXIT_DEBUG;
		exit->debug = run->debug.arch;
		break;
	default:
		exit->kind = SNAPVM_EXIT_OTHER;
		describe_other(run, exit);
	}
	return 0;
}

void snapvm_kvm_vcpu_destroy(struct snapvm_kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
