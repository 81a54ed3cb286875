/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kvm_floor.c - the floors our numbers are compared with, written straight
 * against /dev/kvm without libsnapvm: a VM with one page and one vCPU in
 * real mode that loops on the same `out %eax, %dx` to port 0x500 our
 * hypercalls use. Nothing here can be made cheaper by a VMM: it is KVM's
 * own cost of an exit and of a new VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "bench/bench.h"
#include "layout/abi.h"

/*
 * 16-bit code at GPA 0. Entry 0: mov $0x500, %dx; 1: out %eax, %dx; jmp 1b.
 * Entry FLOOR_SPIN_ENTRY: a dec/jnz loop of FLOOR_SPIN_COUNT iterations
 * (patched in), then entry 0: how fast KVM runs guest code at all.
 */
#define FLOOR_SPIN_ENTRY 0x10
#define FLOOR_SPIN_COUNT 0x12
static const unsigned char floor_code[] = {
    [0x00] = 0xba,
    SNAPVM_PORT_HYPERCALL & 0xff,
    SNAPVM_PORT_HYPERCALL >> 8, /* mov $0x500, %dx */
    [0x03] = 0x66,
    0xef, /* out %eax, %dx */
    [0x05] = 0xeb,
    0xfc, /* jmp 0x03 */
    [0x10] = 0x66,
    0xb9,
    0,
    0,
    0,
    0, /* mov $count, %ecx */
    [0x16] = 0x66,
    0x49, /* dec %ecx */
    [0x18] = 0x75,
    0xfc, /* jnz 0x16 */
    [0x1a] = 0xeb,
    0xe4, /* jmp 0x00 */
};

#define FLOOR_PAGE 4096

struct kvm_floor_vm {
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	void *page;
	struct kvm_regs entry; /* what kvm_floor_request puts back */
};

static int kvm_fd = -1;
static long vcpu_mmap_size;

/* /dev/kvm stays open, as libsnapvm keeps it: opening it is no VM's cost. */
static int kvm_open(char *why, size_t why_len)
{
	if (kvm_fd >= 0)
		return 0;
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		snprintf(why, why_len, "open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	vcpu_mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu_mmap_size <= 0) {
		snprintf(why, why_len, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		close(kvm_fd);
		kvm_fd = -1;
		return -1;
	}
	return 0;
}

void kvm_floor_destroy(struct kvm_floor_vm *vm)
{
	if (!vm)
		return;
	if (vm->run && vm->run != MAP_FAILED)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->page && vm->page != MAP_FAILED)
		munmap(vm->page, FLOOR_PAGE);
	free(vm);
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, why_len, __VA_ARGS__);                                               \
		kvm_floor_destroy(vm);                                                             \
		return -1;                                                                         \
	} while (0)

static int floor_create(struct kvm_floor_vm **out, uint32_t spin, char *why, size_t why_len)
{
	struct kvm_userspace_memory_region slot = {0};
	struct kvm_floor_vm *vm;
	struct kvm_sregs sregs;

	if (kvm_open(why, why_len))
		return -1;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	vm->vm_fd = vm->vcpu_fd = -1;
	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		FAIL("KVM_CREATE_VM: %s", strerror(errno));
	vm->page =
	    mmap(NULL, FLOOR_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->page == MAP_FAILED)
		FAIL("mmap of the guest page: %s", strerror(errno));
	memcpy(vm->page, floor_code, sizeof(floor_code));
	memcpy((char *)vm->page + FLOOR_SPIN_COUNT, &spin, sizeof(spin));
	slot.memory_size = FLOOR_PAGE;
	slot.userspace_addr = (uintptr_t)vm->page;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot))
		FAIL("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		FAIL("KVM_CREATE_VCPU: %s", strerror(errno));
	vm->run_size = (size_t)vcpu_mmap_size;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		FAIL("mmap of kvm_run: %s", strerror(errno));
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs))
		FAIL("KVM_GET_SREGS: %s", strerror(errno));
	/* Real mode at GPA 0: the reset state with CS moved down from F000. */
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs))
		FAIL("KVM_SET_SREGS: %s", strerror(errno));
	vm->entry.rip = spin ? FLOOR_SPIN_ENTRY : 0;
	vm->entry.rflags = 2;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &vm->entry))
		FAIL("KVM_SET_REGS: %s", strerror(errno));
	*out = vm;
	return 0;
}

/* One KVM_RUN, which must stop at our `out`. */
static int floor_run_once(struct kvm_floor_vm *vm, char *why, size_t why_len)
{
	if (ioctl(vm->vcpu_fd, KVM_RUN, 0)) {
		if (errno == EINTR)
			return 0;
		snprintf(why, why_len, "KVM_RUN: %s", strerror(errno));
		return -1;
	}
	if (vm->run->exit_reason != KVM_EXIT_IO || vm->run->io.port != SNAPVM_PORT_HYPERCALL) {
		snprintf(why, why_len, "KVM_RUN stopped with exit reason %u, not the `out` to 0x%x",
			 vm->run->exit_reason, SNAPVM_PORT_HYPERCALL);
		return -1;
	}
	return 0;
}

int kvm_floor_create(struct kvm_floor_vm **vm, char *why, size_t why_len)
{
	return floor_create(vm, 0, why, why_len);
}

static int floor_runs(struct kvm_floor_vm *vm, unsigned int n)
{
	char why[160];

	for (unsigned int i = 0; i < n; i++)
		if (floor_run_once(vm, why, sizeof(why))) {
			bench_progress("kvm floor: %s", why);
			return -1;
		}
	return 0;
}

int kvm_floor_run(struct kvm_floor_vm *vm, unsigned int n, uint64_t *ns)
{
	uint64_t start = bench_now_ns();

	if (floor_runs(vm, n))
		return -1;
	*ns = bench_now_ns() - start;
	return 0;
}

int kvm_floor_request(struct kvm_floor_vm *vm, unsigned int n, uint64_t *ns)
{
	uint64_t start = bench_now_ns();

	/* Back to `mov $0x500, %dx`: the next `out` comes after it. */
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &vm->entry)) {
		bench_progress("kvm floor: KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	if (floor_runs(vm, n))
		return -1;
	*ns = bench_now_ns() - start;
	return 0;
}

int kvm_floor_start_ns(uint64_t *ns)
{
	struct kvm_floor_vm *vm;
	char why[160];
	uint64_t start = bench_now_ns();

	if (floor_create(&vm, 0, why, sizeof(why)) || floor_run_once(vm, why, sizeof(why))) {
		bench_progress("kvm floor: %s", why);
		return -1;
	}
	*ns = bench_now_ns() - start;
	kvm_floor_destroy(vm);
	return 0;
}

bool kvm_floor_usable(char *why, size_t why_len)
{
	struct kvm_floor_vm *vm;
	bool ok;

	if (floor_create(&vm, 0, why, why_len))
		return false;
	ok = !floor_run_once(vm, why, why_len) && !floor_run_once(vm, why, why_len);
	kvm_floor_destroy(vm);
	return ok;
}

int kvm_floor_spin_ns(uint32_t iterations, uint64_t *ns)
{
	struct kvm_floor_vm *vm;
	char why[160];
	uint64_t start;
	int ret;

	if (floor_create(&vm, iterations, why, sizeof(why))) {
		bench_progress("kvm floor: %s", why);
		return -1;
	}
	start = bench_now_ns();
	ret = floor_run_once(vm, why, sizeof(why));
	*ns = bench_now_ns() - start;
	if (ret)
		bench_progress("kvm floor: %s", why);
	kvm_floor_destroy(vm);
	return ret;
}
