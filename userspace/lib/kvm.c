// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kvm.c - the KVM backend, with kvm_vcpu.c the only files that issue KVM
 * ioctls: /dev/kvm and its capabilities (the state in kvm.h), the guest's
 * CPUID, VMs and their memory slots and dirty logs, what the host offers.
 * The vCPU and KVM_RUN are kvm_vcpu.c's. What the vCPU state holds (the
 * MSRs, the CPUID) and why is the policy in vcpu_state.c, below both.
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

#define KVM_DEVICE "/dev/kvm"

struct snapvm_kvm_host snapvm_kvm_host = {.fd = -1};

pthread_mutex_t snapvm_kvm_host_lock = PTHREAD_MUTEX_INITIALIZER;

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

static void find_msr_candidates(int fd)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	struct kvm_msr_list *list;
	unsigned int n = 0;

	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, &probe) != 0 && errno == E2BIG)
		n = probe.nmsrs;
	list = calloc(1, sizeof(*list) + n * sizeof(list->indices[0]));
	if (!list)
		return;
	list->nmsrs = n;
	if (!n || ioctl(fd, KVM_GET_MSR_INDEX_LIST, list) != 0)
		list->nmsrs = 0;
	/* Which of them a state saves, and why not the others: vcpu_state.c. */
	snapvm_kvm_host.msr_candidates = snapvm_vcpu_msr_candidates(
	    list->indices, list->nmsrs, &snapvm_kvm_host.nmsr_candidates);
	free(list);
}

/* Called with snapvm_kvm_host_lock held, until an open succeeds. */
static void host_open(void)
{
	int fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		snapvm_kvm_host.error = errno;
		return;
	}
	snapvm_kvm_host.error = 0;
	snapvm_kvm_host.api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	snapvm_kvm_host.vcpu_mmap_size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	snapvm_kvm_host.sync_regs = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	snapvm_kvm_host.readonly_mem = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
	snapvm_kvm_host.immediate_exit = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
	snapvm_kvm_host.xsave = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
	snapvm_kvm_host.xcrs = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	snapvm_kvm_host.manual_protect =
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0;
	ret = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_PMU_CAPABILITY);
	snapvm_kvm_host.pmu_capability = ret > 0 && (ret & KVM_PMU_CAP_DISABLE);
	snapvm_kvm_host.enforce_pv =
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) > 0;
	snapvm_kvm_host.enforce_hyperv =
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_ENFORCE_CPUID) > 0;
	if (!snapvm_kvm_host.msr_candidates)
		find_msr_candidates(fd);
	if (!snapvm_kvm_host.cpuid)
		snapvm_kvm_host.cpuid = supported_cpuid(fd);
	if (snapvm_kvm_host.cpuid)
		snapvm_vcpu_cpuid_vendor(snapvm_kvm_host.cpuid->entries,
					 snapvm_kvm_host.cpuid->nent, snapvm_kvm_host.vendor);
	snapvm_kvm_host.fd = fd;
}

static void host_init(void)
{
	pthread_mutex_lock(&snapvm_kvm_host_lock);
	if (snapvm_kvm_host.fd < 0)
		host_open();
	pthread_mutex_unlock(&snapvm_kvm_host_lock);
}

int snapvm_kvm_check(struct snapvm_error *err)
{
	host_init();
	if (snapvm_kvm_host.fd < 0)
		return snapvm_fail_errno(err, EX_UNAVAILABLE, snapvm_kvm_host.error,
					 "cannot use " KVM_DEVICE " (no KVM on this machine?)");
	if (snapvm_kvm_host.api_version != KVM_API_VERSION)
		return snapvm_fail(err, EX_UNAVAILABLE, KVM_DEVICE " has API version %d, need %d",
				   snapvm_kvm_host.api_version, KVM_API_VERSION);
	if (snapvm_kvm_host.vcpu_mmap_size < (int)sizeof(struct kvm_run))
		return snapvm_fail(err, EX_UNAVAILABLE, "KVM_GET_VCPU_MMAP_SIZE failed");
	if (!snapvm_kvm_host.immediate_exit)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "KVM lacks KVM_CAP_IMMEDIATE_EXIT (Linux 4.11)");
	if (!snapvm_kvm_host.cpuid)
		return snapvm_fail(err, EX_UNAVAILABLE, "KVM_GET_SUPPORTED_CPUID failed");
	if (!snapvm_kvm_host.msr_candidates)
		return snapvm_fail(err, EX_UNAVAILABLE, "KVM_GET_MSR_INDEX_LIST failed");
	if (!snapvm_kvm_host.enforce_pv || !snapvm_kvm_host.enforce_hyperv)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "KVM lacks KVM_CAP_ENFORCE_PV_FEATURE_CPUID or "
				   "KVM_CAP_HYPERV_ENFORCE_CPUID (Linux 5.14), which keep a guest "
				   "away from paravirtual MSRs it was not offered");
	return 0;
}

/* ---- the guest's CPUID (the policy: vcpu_state.c) ---- */

int snapvm_kvm_cpuid(bool kvm_pv, struct snapvm_vcpu_state *state, struct snapvm_error *err)
{
	int ret = snapvm_kvm_check(err);

	if (ret)
		return ret;
	return snapvm_vcpu_cpuid(snapvm_kvm_host.cpuid, kvm_pv, state, err);
}

int snapvm_kvm_cpuid_check(const char *path, const struct snapvm_vcpu_state *state,
			   struct snapvm_error *err)
{
	struct snapvm_vcpu_state *here;
	bool kvm_pv;
	int ret = snapvm_vcpu_cpuid_saved(path, state, &kvm_pv, err);

	if (ret)
		return ret;
	here = calloc(1, sizeof(*here));
	if (!here)
		return snapvm_fail(err, EX_OSERR, "out of memory for a vCPU state");
	ret = snapvm_kvm_cpuid(kvm_pv, here, err);
	if (!ret)
		ret = snapvm_vcpu_cpuid_compare(path, state, here, snapvm_kvm_host.vendor, err);
	free(here);
	return ret;
}

bool snapvm_kvm_cpu_is_amd(void)
{
	host_init();
	return !strcmp(snapvm_kvm_host.vendor, "AuthenticAMD") ||
	       !strcmp(snapvm_kvm_host.vendor, "HygonGenuine");
}

/* Guest writes to the MSRs a restore cannot put back raise #GP (the list,
 * and why: vcpu_state.c). */
static int deny_unrestorable_msrs(struct snapvm_kvm_vm *vm, struct snapvm_error *err)
{
	struct kvm_msr_filter filter;

	snapvm_vcpu_msr_filter(&filter);
	if (ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &filter) != 0) {
		int errnum = errno;

		close(vm->fd);
		vm->fd = -1;
		return snapvm_fail_errno(err, EX_UNAVAILABLE, errnum,
					 "KVM_X86_SET_MSR_FILTER (Linux 5.10)");
	}
	return 0;
}

int snapvm_kvm_vm_create(struct snapvm_kvm_vm *vm, uint32_t layout, struct snapvm_error *err)
{
	int ret = snapvm_kvm_check(err);

	if (ret)
		return ret;
	/* The amd64 snapshot is a read-only memslot: guest writes must fault
	 * (exit), never reach the shared snapshot. */
	if (layout == SNAPVM_LAYOUT_AMD64 && !snapvm_kvm_host.readonly_mem)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "KVM lacks KVM_CAP_READONLY_MEM, which the amd64 layout needs");
	vm->fd = ioctl(snapvm_kvm_host.fd, KVM_CREATE_VM, 0);
	vm->manual_protect = false;
	if (vm->fd < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_CREATE_VM");
	/* No PMU: its counters would be guest-writable state that counts on
	 * its own, and a side channel onto the host. Must precede the vCPU. */
	if (snapvm_kvm_host.pmu_capability) {
		struct kvm_enable_cap cap = {
		    .cap = KVM_CAP_PMU_CAPABILITY,
		    .args[0] = KVM_PMU_CAP_DISABLE,
		};

		if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) != 0) {
			int errnum = errno;

			close(vm->fd);
			vm->fd = -1;
			return snapvm_fail_errno(err, EX_OSERR, errnum,
						 "KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY)");
		}
	}
	ret = deny_unrestorable_msrs(vm, err);
	if (ret)
		return ret;
	/* Manual protection: KVM_GET_DIRTY_LOG only reads the log, and
	 * KVM_CLEAR_DIRTY_LOG write-protects just the pages that were dirty,
	 * instead of the whole slot at every read. */
	if (snapvm_kvm_host.manual_protect) {
		struct kvm_enable_cap cap = {
		    .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		    .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		vm->manual_protect = ioctl(vm->fd, KVM_ENABLE_CAP, &cap) == 0;
	}
	return 0;
}

int snapvm_kvm_vm_dirty_log_fetch(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t npages,
				  uint64_t *fetch, uint64_t *pending, struct snapvm_error *err)
{
	struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = fetch};

	memset(fetch, 0, snapvm_bitmap_words(npages) * sizeof(uint64_t));
	if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_GET_DIRTY_LOG slot %u", slot);
	for (uint64_t i = 0; i < snapvm_bitmap_words(npages); i++)
		pending[i] |= fetch[i];
	return 0;
}

int snapvm_kvm_vm_dirty_log_clear(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t npages,
				  uint64_t *bitmap, struct snapvm_error *err)
{
	struct kvm_clear_dirty_log clear = {
	    .slot = slot,
	    .num_pages = (uint32_t)npages,
	    .dirty_bitmap = bitmap,
	};

	if (vm->manual_protect && ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &clear) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "KVM_CLEAR_DIRTY_LOG slot %u", slot);
	return 0;
}

bool snapvm_kvm_vm_manual_protect(const struct snapvm_kvm_vm *vm)
{
	return vm->manual_protect;
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

	host_init();
	info->kvm_api_version =
	    snapvm_kvm_host.fd < 0 ? -snapvm_kvm_host.error : snapvm_kvm_host.api_version;
	snprintf(info->cpu_vendor, sizeof(info->cpu_vendor), "%s", snapvm_kvm_host.vendor);
	info->ncaps = 0;
	for (unsigned int i = 0; snapvm_kvm_host.fd >= 0 && i < sizeof(caps) / sizeof(caps[0]);
	     i++) {
		info->caps[info->ncaps].name = caps[i].name;
		info->caps[info->ncaps].value =
		    ioctl(snapvm_kvm_host.fd, KVM_CHECK_EXTENSION, caps[i].cap);
		info->ncaps++;
	}
}
