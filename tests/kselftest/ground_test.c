// SPDX-License-Identifier: GPL-2.0
/*
 * ground_test.c - proves the ground the other kselftests stand on: real KVM
 * (kvm_amd) answers, snapvm.ko answers with the uapi's version, and a 64-bit
 * guest runs to HLT. Runs inside the test VM (tests/vm/run).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "uapi/snapvm.h"

TEST(kvm_api_version_is_12)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	ASSERT_GE(kvm, 0) TH_LOG("open /dev/kvm: %s", strerror(errno));
	EXPECT_EQ(12, ioctl(kvm, KVM_GET_API_VERSION, 0));
	close(kvm);
}

/* The headers this was built with: a compile-time fact, checked once. */
_Static_assert(KVM_API_VERSION == 12, "linux/kvm.h speaks KVM API 12");

TEST(kvm_amd_is_loaded)
{
	struct stat st;

	EXPECT_EQ(0, stat("/sys/module/kvm_amd", &st)) TH_LOG("kvm_amd is not loaded");
}

TEST(snapvm_answers_its_api_version)
{
	int dev = open("/dev/snapvm", O_RDWR | O_CLOEXEC);

	ASSERT_GE(dev, 0) TH_LOG("open /dev/snapvm: %s (is snapvm.ko loaded?)", strerror(errno));
	EXPECT_EQ(SNAPVM_API_VERSION, ioctl(dev, SNAPVM_GET_API_VERSION, 0));
	close(dev);
}

/*
 * The smallest long-mode guest: one 2 MiB identity page, code at 0x1000
 * that stores a marker to memory and halts. Page tables at 0x2000..0x4fff.
 */
TEST(long_mode_guest_runs_to_hlt)
{
	static const uint8_t code[] = {
	    0x48, 0xc7, 0xc0, 0x00, 0x80, 0x00, 0x00, /* mov $0x8000, %rax */
	    0xc7, 0x00, 0xef, 0xbe, 0xad, 0xde,	      /* movl $0xdeadbeef, (%rax) */
	    0xf4,				      /* hlt */
	};
	const size_t mem_size = 2 << 20;
	struct kvm_userspace_memory_region slot = {0};
	struct kvm_segment seg = {0};
	struct kvm_sregs sregs;
	struct kvm_regs regs = {0};
	struct kvm_run *run;
	uint64_t *pml4, *pdpt, *pd;
	int kvm, vm, vcpu, run_size;
	uint8_t *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_GE(kvm, 0);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ASSERT_GE(vm, 0) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	slot.memory_size = mem_size;
	slot.userspace_addr = (uintptr_t)mem;
	ASSERT_EQ(0, ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot));

	memcpy(mem + 0x1000, code, sizeof(code));
	pml4 = (uint64_t *)(mem + 0x2000);
	pdpt = (uint64_t *)(mem + 0x3000);
	pd = (uint64_t *)(mem + 0x4000);
	pml4[0] = 0x3000 | 3; /* present, writable */
	pdpt[0] = 0x4000 | 3;
	pd[0] = 0 | 0x80 | 3; /* 2 MiB page */

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	ASSERT_GE(vcpu, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	ASSERT_NE(MAP_FAILED, run);

	ASSERT_EQ(0, ioctl(vcpu, KVM_GET_SREGS, &sregs));
	seg.limit = 0xffffffff;
	seg.present = 1;
	seg.s = 1;
	seg.g = 1;
	seg.type = 3; /* data, read/write, accessed */
	seg.selector = 0x10;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	seg.type = 11; /* code, execute/read, accessed */
	seg.selector = 0x08;
	seg.l = 1;
	sregs.cs = seg;
	sregs.cr3 = 0x2000;
	sregs.cr4 = 1 << 5;		   /* PAE */
	sregs.cr0 = 1 | (1u << 31);	   /* PE, PG */
	sregs.efer = (1 << 8) | (1 << 10); /* LME, LMA */
	ASSERT_EQ(0, ioctl(vcpu, KVM_SET_SREGS, &sregs));
	regs.rip = 0x1000;
	regs.rflags = 2;
	ASSERT_EQ(0, ioctl(vcpu, KVM_SET_REGS, &regs));

	ASSERT_EQ(0, ioctl(vcpu, KVM_RUN, 0)) TH_LOG("KVM_RUN: %s", strerror(errno));
	EXPECT_EQ(KVM_EXIT_HLT, (int)run->exit_reason) TH_LOG("exit reason %u", run->exit_reason);
	EXPECT_EQ(0xdeadbeef, *(uint32_t *)(mem + 0x8000));

	munmap(run, run_size);
	close(vcpu);
	close(vm);
	munmap(mem, mem_size);
	close(kvm);
}

TEST_HARNESS_MAIN
