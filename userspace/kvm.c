// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kvm.c - the KVM backend, the only file that issues KVM ioctls: /dev/kvm
 * and its capabilities, VMs and their memory slots, the vCPU (CPUID, entry
 * state, registers through KVM_CAP_SYNC_REGS) and KVM_RUN, whose exits it
 * turns into the generic struct snapvm_exit.
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

#include "userspace/internal.h"

#define KVM_DEVICE "/dev/kvm"

/* The process-wide /dev/kvm state, set up once. */
static struct {
	int fd;
	int error; /* errno of the failed open, or 0 */
	int api_version;
	int vcpu_mmap_size;
	int sync_regs; /* KVM_CAP_SYNC_REGS: the register sets it syncs */
	bool readonly_mem, immediate_exit;
	bool xsave, xcrs, manual_protect;
	struct kvm_cpuid2 *cpuid;
	/* The MSRs a snapshot saves: the ones a guest can change, as far as
	 * KVM lets us read and write them. */
	uint32_t msrs[SNAPVM_MAX_MSRS];
	unsigned int nmsrs;
	char vendor[13];
} host = {.fd = -1};

static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static struct kvm_cpuid2 *supported_cpuid(int fd)
{
	for (unsigned int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *cpuid =
		    calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));

		if (!cpuid)
			return NULL;
		cpuid->nent = n;
		if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			return cpuid;
		free(cpuid);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

/* MSRs a guest can write that no other state set covers (EFER and the
 * FS/GS bases are in kvm_sregs). The TSC is left out on purpose: restoring
 * it would make time run backwards in the guest. */
static const uint32_t guest_msrs[] = {
    0x174,	/* IA32_SYSENTER_CS */
    0x175,	/* IA32_SYSENTER_ESP */
    0x176,	/* IA32_SYSENTER_EIP */
    0x1a0,	/* IA32_MISC_ENABLE */
    0x277,	/* IA32_PAT */
    0x2ff,	/* IA32_MTRR_DEF_TYPE */
    0xc0000081, /* STAR */
    0xc0000082, /* LSTAR */
    0xc0000083, /* CSTAR */
    0xc0000084, /* SFMASK */
    0xc0000102, /* KERNEL_GS_BASE */
    0xc0000103, /* TSC_AUX */
};
_Static_assert(sizeof(guest_msrs) / sizeof(guest_msrs[0]) <= SNAPVM_MAX_MSRS, "room for MSRs");

static void find_msrs(int fd)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	struct kvm_msr_list *list;

	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, &probe) == 0 || errno != E2BIG)
		return;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return;
	list->nmsrs = probe.nmsrs;
	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, list) == 0) {
		for (unsigned int i = 0; i < sizeof(guest_msrs) / sizeof(guest_msrs[0]); i++)
			for (unsigned int j = 0; j < list->nmsrs; j++)
				if (list->indices[j] == guest_msrs[i]) {
					host.msrs[host.nmsrs++] = guest_msrs[i];
					break;
				}
	}
	free(list);
}

static void host_init(void)
{
	host.fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (host.fd < 0) {
		host.error = errno;
		return;
	}
	host.api_version = ioctl(host.fd, KVM_GET_API_VERSION, 0);
	host.vcpu_mmap_size = ioctl(host.fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	host.sync_regs = ioctl(host.fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	host.readonly_mem = ioctl(host.fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
	host.immediate_exit = ioctl(host.fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
	host.xsave = ioctl(host.fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
	host.xcrs = ioctl(host.fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	host.manual_protect =
	    ioctl(host.fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0;
	find_msrs(host.fd);
	host.cpuid = supported_cpuid(host.fd);
	for (unsigned int i = 0; host.cpuid && i < host.cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &host.cpuid->entries[i];

		if (e->function == 0) {
			memcpy(host.vendor, &e->ebx, 4);
			memcpy(host.vendor + 4, &e->edx, 4);
			memcpy(host.vendor + 8, &e->ecx, 4);
		}
	}
}

int snapvm_kvm_check(struct snapvm_error *err)
{
	pthread_once(&host_once, host_init);
	if (host.fd < 0)
		return snapvm_fail_errno(err, EX_UNAVAILABLE, host.error,
					 "cannot use " KVM_DEVICE " (no KVM on this machine?)");
	if (host.api_version != KVM_API_VERSION)
		return snapvm_fail(err, EX_UNAVAILABLE, KVM_DEVICE " has API version %d, need %d",
				   host.api_version, KVM_API_VERSION);
	if (host.vcpu_mmap_size < (int)sizeof(struct kvm_run))
		return snapvm_fail(err, EX_UNAVAILABLE, "KVM_GET_VCPU_MMAP_SIZE failed");
	if (!host.immediate_exit)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "KVM lacks KVM_CAP_IMMEDIATE_EXIT (Linux 4.11)");
	if (!host.cpuid)
		return snapvm_fail(err, EX_UNAVAILABLE, "KVM_GET_SUPPORTED_CPUID failed");
	return 0;
}

bool snapvm_kvm_cpu_is_amd(void)
{
	pthread_once(&host_once, host_init);
	return !strcmp(host.vendor, "AuthenticAMD") || !strcmp(host.vendor, "HygonGenuine");
}

int snapvm_kvm_vm_create(struct snapvm_kvm_vm *vm, uint32_t layout, struct snapvm_error *err)
{
	int ret = snapvm_kvm_check(err);

	if (ret)
		return ret;
	/* The amd64 snapshot is a read-only memslot: guest writes must fault
	 * (exit), never reach the shared snapshot. */
	if (layout == SNAPVM_LAYOUT_AMD64 && !host.readonly_mem)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "KVM lacks KVM_CAP_READONLY_MEM, which the amd64 layout needs");
	vm->fd = ioctl(host.fd, KVM_CREATE_VM, 0);
	vm->manual_protect = false;
	if (vm->fd < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_CREATE_VM");
	/* Manual protection: KVM_GET_DIRTY_LOG only reads the log, and
	 * KVM_CLEAR_DIRTY_LOG write-protects just the pages that were dirty,
	 * instead of the whole slot at every read. */
	if (host.manual_protect) {
		struct kvm_enable_cap cap = {
		    .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		    .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		vm->manual_protect = ioctl(vm->fd, KVM_ENABLE_CAP, &cap) == 0;
	}
	return 0;
}

int snapvm_kvm_vm_dirty_log(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t npages,
			    uint64_t *bitmap, struct snapvm_error *err)
{
	struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = bitmap};
	struct kvm_clear_dirty_log clear = {
	    .slot = slot,
	    .num_pages = (uint32_t)npages,
	    .dirty_bitmap = bitmap,
	};

	if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_DIRTY_LOG slot %u", slot);
	if (vm->manual_protect && ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &clear) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_CLEAR_DIRTY_LOG slot %u", slot);
	return 0;
}

int snapvm_kvm_vm_map(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		      void *host_memory, bool readonly, bool log_dirty, struct snapvm_error *err)
{
	struct kvm_userspace_memory_region region = {
	    .slot = slot,
	    .flags = (readonly ? KVM_MEM_READONLY : 0) | (log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0),
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uintptr_t)host_memory,
	};

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) != 0)
		return snapvm_fail_errno(
		    err, EX_OSERR, errno,
		    "KVM_SET_USER_MEMORY_REGION slot %u, GPA 0x%llx, %llu bytes%s", slot,
		    (unsigned long long)gpa, (unsigned long long)size,
		    readonly ? ", read-only" : "");
	return 0;
}

void snapvm_kvm_vm_destroy(struct snapvm_kvm_vm *vm)
{
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
}

int snapvm_kvm_vcpu_create(struct snapvm_kvm_vm *vm, struct snapvm_kvm_vcpu *vcpu,
			   struct snapvm_error *err)
{
	void *run;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vcpu->fd < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)host.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd,
		   0);
	if (run == MAP_FAILED) {
		int errnum = errno;

		close(vcpu->fd);
		vcpu->fd = -1;
		return snapvm_fail_errno(err, EX_OSERR, errnum, "mmap of the vCPU's kvm_run");
	}
	vcpu->run = run;
	vcpu->run_size = (size_t)host.vcpu_mmap_size;
	/* The guest sees the host CPU's features, as far as KVM supports them. */
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, host.cpuid) != 0) {
		int errnum = errno;

		snapvm_kvm_vcpu_destroy(vcpu);
		return snapvm_fail_errno(err, EX_OSERR, errnum, "KVM_SET_CPUID2");
	}
	/* Hypercalls are the hot path: read their registers, and the paging
	 * registers WRITE and ABORT translate with, from kvm_run instead of a
	 * KVM_GET_REGS / KVM_GET_SREGS per exit (in a nested KVM an ioctl
	 * costs about as much as the exit). Only REGS is ever marked dirty:
	 * a dirty SREGS would make KVM write the copy back. */
	if (host.sync_regs > 0 && (host.sync_regs & KVM_SYNC_X86_REGS)) {
		vcpu->sync_regs = true;
		vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	}
	if (host.sync_regs > 0 && (host.sync_regs & KVM_SYNC_X86_SREGS)) {
		vcpu->sync_sregs = true;
		vcpu->run->kvm_valid_regs |= KVM_SYNC_X86_SREGS;
	}
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
	} msrs = {.head.nmsrs = host.nmsrs};
	int n;

	memset(state, 0, sizeof(*state));
	state->parts = SNAPVM_STATE_FULL;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &state->regs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_REGS");
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &state->sregs) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_SREGS");
	if (host.xsave) {
		if (ioctl(vcpu->fd, KVM_GET_XSAVE, &state->xsave) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_XSAVE");
		state->parts |= SNAPVM_STATE_XSAVE;
	} else if (ioctl(vcpu->fd, KVM_GET_FPU, &state->fpu) != 0) {
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_FPU");
	}
	if (host.xcrs) {
		if (ioctl(vcpu->fd, KVM_GET_XCRS, &state->xcrs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_XCRS");
		state->parts |= SNAPVM_STATE_XCRS;
	}
	for (unsigned int i = 0; i < host.nmsrs; i++)
		msrs.entries[i].index = host.msrs[i];
	n = ioctl(vcpu->fd, KVM_GET_MSRS, &msrs);
	if (n != (int)host.nmsrs)
		return snapvm_fail_errno(err, EX_OSERR, n < 0 ? errno : EIO,
					 "KVM_GET_MSRS (%d of %u MSRs)", n, host.nmsrs);
	memcpy(state->msrs, msrs.entries, sizeof(msrs.entries));
	state->nmsrs = host.nmsrs;
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
	int ret;

	/* A half-done `out` would otherwise complete on the next KVM_RUN,
	 * against the new state. */
	if (vcpu->io_pending) {
		ret = snapvm_kvm_vcpu_complete_io(vcpu, err);
		if (ret)
			return ret;
	}
	if (ioctl(vcpu->fd, KVM_SET_REGS, &state->regs) != 0)
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
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &state->sregs) != 0)
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
		if (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &state->events) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_VCPU_EVENTS");
		if (ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &state->debugregs) != 0)
			return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_SET_DEBUGREGS");
	}
	/* Whatever kvm_run or our copy held is stale now: the synced copies
	 * become the state just set (KVM refreshes them at the next exit), so
	 * a register change before that run cannot write back old values. */
	vcpu->run->kvm_dirty_regs = 0;
	if (vcpu->sync_regs)
		vcpu->run->s.regs.regs = state->regs;
	if (vcpu->sync_sregs)
		vcpu->run->s.regs.sregs = state->sregs;
	vcpu->regs_fetched = false;
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
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(exit->description, sizeof(exit->description), "%s: %s (suberror %u)", name,
			 internal_error_name(run->internal.suberror), run->internal.suberror);
		break;
	default:
		snprintf(exit->description, sizeof(exit->description), "unhandled exit %u (%s)",
			 run->exit_reason, name);
	}
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
	for (;;) {
		/* A kick between runs: immediate_exit makes KVM_RUN finish
		 * pending I/O and return EINTR without entering the guest. */
		int ret = ioctl(vcpu->fd, KVM_RUN, 0);

		vcpu->regs_fetched = false;
		vcpu->io_pending = false;
		if (ret < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_RUN");
			if (vcpu->kicked) {
				exit->kind = SNAPVM_EXIT_KICKED;
				exit->reason = KVM_EXIT_INTR;
				return 0;
			}
			continue; /* someone else's signal */
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

void snapvm_kvm_host_info(struct snapvm_host_info *info)
{
	static const struct {
		const char *name;
		long cap;
	} caps[] = {
	    {"KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY},
	    {"KVM_CAP_READONLY_MEM", KVM_CAP_READONLY_MEM},
	    {"KVM_CAP_SYNC_REGS", KVM_CAP_SYNC_REGS},
	    {"KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT},
	    {"KVM_CAP_NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS},
	    {"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2},
	    {"KVM_CAP_XSAVE", KVM_CAP_XSAVE},
	    {"KVM_CAP_VCPU_EVENTS", KVM_CAP_VCPU_EVENTS},
	};

	pthread_once(&host_once, host_init);
	info->kvm_api_version = host.fd < 0 ? -host.error : host.api_version;
	snprintf(info->cpu_vendor, sizeof(info->cpu_vendor), "%s", host.vendor);
	info->ncaps = 0;
	for (unsigned int i = 0; host.fd >= 0 && i < sizeof(caps) / sizeof(caps[0]); i++) {
		info->caps[info->ncaps].name = caps[i].name;
		info->caps[info->ncaps].value = ioctl(host.fd, KVM_CHECK_EXTENSION, caps[i].cap);
		info->ncaps++;
	}
}
