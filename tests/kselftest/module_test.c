// SPDX-License-Identifier: GPL-2.0
/*
 * module_test.c - every rule of snapvm.ko's ABI (uapi/snapvm.h, kmod/README.md)
 * checked from userspace, bad inputs included: /dev/snapvm and regions,
 * pread/pwrite, mmap rights, use as KVM memory, and 32-bit callers. SEAL and
 * RESTORE are module_seal_test.c's, lifetime, accounting, limits and module
 * unload module_limits_test.c's. Runs as root inside the test VM
 * (tests/vm/run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/module_helpers.h"
#include "tests/kselftest/module_fixture.h"
#include "tests/kselftest/module_transcript.h"
#include "uapi/snapvm.h"

/* ---- /dev/snapvm ---- */

TEST_F(snapvm, api_version_is_the_ioctl_result)
{
	EXPECT_EQ(SNAPVM_API_VERSION, ioctl(self->dev, SNAPVM_GET_API_VERSION, 0));
	EXPECT_EQ(ENOTTY, err_of(ioctl(self->dev, _IO(SNAPVM_IOCTL_MAGIC, 0x7f), 0)));
	/* Region commands belong to region fds. */
	EXPECT_EQ(ENOTTY, err_of(ioctl(self->dev, SNAPVM_REGION_SEAL, 0)));
}

TEST_F(snapvm, create_gives_a_cloexec_fd_with_the_declared_shape)
{
	int fd = region_create(self->dev, 3 * PAGE, SNAPVM_PROT_READ | SNAPVM_PROT_EXEC);
	struct snapvm_region_info info;

	ASSERT_GE(fd, 0) TH_LOG("CREATE_REGION: %s", strerror(errno));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	info = region_info(fd);
	EXPECT_EQ(3 * PAGE, info.size);
	EXPECT_EQ(SNAPVM_PROT_READ | SNAPVM_PROT_EXEC, info.prot);
	EXPECT_EQ(0u, info.flags);
	EXPECT_EQ(0ull, info.reserved[0]);
	EXPECT_EQ(0ull, info.reserved[1]);
	EXPECT_EQ(EFAULT, err_of(ioctl(fd, SNAPVM_REGION_INFO, NULL)));
	EXPECT_EQ(ENOTTY, err_of(ioctl(fd, SNAPVM_GET_API_VERSION, 0)));
	EXPECT_EQ(self->pinned_at_start + 3, pinned_pages());
	close(fd);
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
}

TEST_F(snapvm, create_rejects_bad_arguments)
{
	const struct snapvm_region_create good = {.size = PAGE, .prot = RW};
	long max_region_mb = param_read("max_region_mb");
	struct snapvm_region_create args;

	ASSERT_EQ(0, create_errno(self->dev, good));
	args = good, args.size = 0;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.size = PAGE - 1;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.size = PAGE + 1;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.size = PAGE + 512;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.size = ~0ull & ~(PAGE - 1);
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	ASSERT_GT(max_region_mb, 0) TH_LOG("cannot read max_region_mb");
	args = good, args.size = ((uint64_t)max_region_mb << 20) + PAGE;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.prot = 0;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.prot = SNAPVM_PROT_WRITE;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.prot = SNAPVM_PROT_WRITE | SNAPVM_PROT_EXEC;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.prot = SNAPVM_PROT_READ | (1u << 3);
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.prot = SNAPVM_PROT_ALL | (1u << 31);
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	/* Bit 0 is SNAPVM_CREATE_LAZY (module_lazy_test); the others are unknown. */
	args = good, args.flags = 1u << 1;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.flags = SNAPVM_CREATE_LAZY | 1u << 1;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.flags = 1u << 31;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.reserved[0] = 1;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	args = good, args.reserved[1] = 1ull << 63;
	EXPECT_EQ(EINVAL, create_errno(self->dev, args));
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, SNAPVM_CREATE_REGION, NULL)));
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, SNAPVM_CREATE_REGION, (void *)8)));
	/* Every prot that has READ is fine. */
	for (uint32_t prot = 0; prot <= SNAPVM_PROT_ALL; prot++) {
		args = good, args.prot = prot;
		EXPECT_EQ(prot & SNAPVM_PROT_READ ? 0 : EINVAL, create_errno(self->dev, args))
		TH_LOG("prot %u", prot);
	}
	EXPECT_EQ(self->pinned_at_start, pinned_pages())
	TH_LOG("a refused region left pages behind");
}

/* ---- content: zeroed, pread/pwrite ---- */

TEST_F(snapvm, new_region_is_zeroed)
{
	const size_t size = 64 * PAGE;
	int fd = region_create(self->dev, size, RW);
	unsigned char *map;

	ASSERT_GE(fd, 0);
	for (size_t i = 0; i < size / PAGE; i++) {
		ASSERT_EQ(0, page_byte(fd, i)) TH_LOG("page %zu", i);
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (size_t i = 0; i < size; i++) {
		ASSERT_EQ(0, map[i]) TH_LOG("byte %zu", i);
	}
	munmap(map, size);
	close(fd);
}

TEST_F(snapvm, pread_pwrite_and_lseek_stay_inside_the_region)
{
	const size_t size = 4 * PAGE;
	char buf[3 * PAGE], back[3 * PAGE];
	int fd = region_create(self->dev, size, RW);
	void *unmapped = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *map;

	ASSERT_GE(fd, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	/* Unaligned and across page boundaries. */
	ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), PAGE / 2 + 3));
	ASSERT_EQ((ssize_t)sizeof(back), pread(fd, back, sizeof(back), PAGE / 2 + 3));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp(buf, map + PAGE / 2 + 3, sizeof(buf))) TH_LOG("a mapping sees pwrite");
	munmap(map, size);

	/* The end: short transfers, EOF for reads, ENOSPC for writes. */
	EXPECT_EQ(10, pread(fd, back, 100, size - 10));
	EXPECT_EQ(0, pread(fd, back, 100, size));
	EXPECT_EQ(0, pread(fd, back, 100, size + PAGE));
	EXPECT_EQ(10, pwrite(fd, buf, 100, size - 10));
	EXPECT_EQ(ENOSPC, err_of(pwrite(fd, buf, 1, size)));
	EXPECT_EQ(EINVAL, err_of(pread(fd, back, 1, -1)));
	EXPECT_EQ(EFAULT, err_of(pread(fd, unmapped, 16, 0)));
	EXPECT_EQ(EFAULT, err_of(pwrite(fd, unmapped, 16, 0)));

	/* read/write/lseek share the file position. */
	EXPECT_EQ((off_t)size, lseek(fd, 0, SEEK_END));
	EXPECT_EQ((off_t)PAGE, lseek(fd, PAGE, SEEK_SET));
	EXPECT_EQ(5, write(fd, "hello", 5));
	EXPECT_EQ((off_t)PAGE + 5, lseek(fd, 0, SEEK_CUR));
	EXPECT_EQ(5, pread(fd, back, 5, PAGE));
	EXPECT_EQ(0, memcmp("hello", back, 5));
	EXPECT_EQ(EINVAL, err_of(lseek(fd, size + 1, SEEK_SET)));
	close(fd);
}

TEST_F(snapvm, pwrite_needs_write_and_no_seal)
{
	int ro = region_create(self->dev, PAGE, SNAPVM_PROT_READ);
	int rw = region_create(self->dev, PAGE, RW);
	char c = 0;

	ASSERT_GE(ro, 0);
	ASSERT_GE(rw, 0);
	EXPECT_EQ(EPERM, err_of(pwrite(ro, "x", 1, 0)));
	EXPECT_EQ(1, pwrite(rw, "x", 1, 0));
	ASSERT_EQ(0, region_seal(rw));
	EXPECT_EQ(EPERM, err_of(pwrite(rw, "y", 1, 0)));
	EXPECT_EQ(EPERM, err_of(write(rw, "y", 1)));
	EXPECT_EQ(1, pread(rw, &c, 1, 0));
	EXPECT_EQ('x', c);
	EXPECT_EQ(0, page_byte(ro, 0));
	close(ro);
	close(rw);
}

/* ---- mmap rights ---- */

TEST_F(snapvm, mmap_offset_and_length_stay_inside)
{
	int fd = region_create(self->dev, 4 * PAGE, RW);
	char *map;

	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, mmap_errno(fd, 4 * PAGE, PROT_READ, MAP_SHARED, 0));
	EXPECT_EQ(0, mmap_errno(fd, PAGE, PROT_READ, MAP_SHARED, 3 * PAGE));
	EXPECT_EQ(EINVAL, mmap_errno(fd, 5 * PAGE, PROT_READ, MAP_SHARED, 0));
	EXPECT_EQ(EINVAL, mmap_errno(fd, 2 * PAGE, PROT_READ, MAP_SHARED, 3 * PAGE));
	EXPECT_EQ(EINVAL, mmap_errno(fd, PAGE, PROT_READ, MAP_SHARED, 4 * PAGE));
	EXPECT_EQ(EINVAL, mmap_errno(fd, PAGE, PROT_READ, MAP_PRIVATE, 4 * PAGE));
	EXPECT_EQ(EINVAL, mmap_errno(fd, PAGE, PROT_READ, MAP_SHARED, 1ull << 40));

	/* Nor can mremap grow a mapping past the region (or at all). */
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(MAP_FAILED, mremap(map, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE));
	map = mremap(map, 4 * PAGE, 2 * PAGE, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("shrinking is fine");
	map[0] = 1;
	munmap(map, 2 * PAGE);
	close(fd);
}

TEST_F(snapvm, mmap_rights_follow_the_region)
{
	static const struct {
		uint32_t prot;
		int map_prot, map_flags, expected;
	} cases[] = {
	    {SNAPVM_PROT_READ, PROT_READ, MAP_SHARED, 0},
	    {SNAPVM_PROT_READ, PROT_NONE, MAP_SHARED, 0},
	    {SNAPVM_PROT_READ, PROT_READ | PROT_WRITE, MAP_SHARED, EACCES},
	    {SNAPVM_PROT_READ, PROT_WRITE, MAP_SHARED, EACCES},
	    {SNAPVM_PROT_READ, PROT_READ | PROT_EXEC, MAP_SHARED, EACCES},
	    {SNAPVM_PROT_READ, PROT_READ | PROT_EXEC, MAP_PRIVATE, EACCES},
	    {SNAPVM_PROT_READ, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0},
	    {RW, PROT_READ | PROT_WRITE, MAP_SHARED, 0},
	    {RW, PROT_READ | PROT_EXEC, MAP_SHARED, EACCES},
	    {RW, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE, EACCES},
	    {SNAPVM_PROT_READ | SNAPVM_PROT_EXEC, PROT_READ | PROT_EXEC, MAP_SHARED, 0},
	    {SNAPVM_PROT_READ | SNAPVM_PROT_EXEC, PROT_READ | PROT_WRITE, MAP_SHARED, EACCES},
	    {SNAPVM_PROT_READ | SNAPVM_PROT_EXEC, PROT_READ | PROT_EXEC | PROT_WRITE, MAP_PRIVATE,
	     0},
	    {SNAPVM_PROT_ALL, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = region_create(self->dev, 2 * PAGE, cases[i].prot);

		ASSERT_GE(fd, 0);
		EXPECT_EQ(cases[i].expected,
			  mmap_errno(fd, 2 * PAGE, cases[i].map_prot, cases[i].map_flags, 0))
		TH_LOG("case %zu: region prot %u, mmap prot %d flags %d", i, cases[i].prot,
		       cases[i].map_prot, cases[i].map_flags);
		close(fd);
	}
}

/* VM_MAYWRITE / VM_MAYEXEC are cleared, so mprotect cannot widen a mapping. */
TEST_F(snapvm, mprotect_cannot_widen_a_mapping)
{
	int ro = region_create(self->dev, 2 * PAGE, SNAPVM_PROT_READ);
	int rw = region_create(self->dev, 2 * PAGE, RW);
	int rx = region_create(self->dev, 2 * PAGE, SNAPVM_PROT_READ | SNAPVM_PROT_EXEC);
	char *map;

	ASSERT_GE(ro, 0);
	ASSERT_GE(rw, 0);
	ASSERT_GE(rx, 0);

	map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(EACCES, err_of(mprotect(map, 2 * PAGE, PROT_READ | PROT_WRITE)));
	EXPECT_EQ(EACCES, err_of(mprotect(map, PAGE, PROT_READ | PROT_EXEC)));
	EXPECT_EQ(0, mprotect(map, 2 * PAGE, PROT_NONE));
	EXPECT_EQ(0, mprotect(map, 2 * PAGE, PROT_READ));
	munmap(map, 2 * PAGE);

	map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, rw, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, mprotect(map, 2 * PAGE, PROT_READ | PROT_WRITE))
	TH_LOG("the region has WRITE");
	EXPECT_EQ(EACCES, err_of(mprotect(map, 2 * PAGE, PROT_READ | PROT_EXEC)));
	munmap(map, 2 * PAGE);

	map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, rx, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, mprotect(map, 2 * PAGE, PROT_READ | PROT_EXEC)) TH_LOG("the region has EXEC");
	EXPECT_EQ(EACCES, err_of(mprotect(map, 2 * PAGE, PROT_READ | PROT_WRITE)));
	munmap(map, 2 * PAGE);

	/* A private mapping of a region without EXEC cannot gain it either. */
	map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(EACCES, err_of(mprotect(map, 2 * PAGE, PROT_READ | PROT_EXEC)));
	munmap(map, 2 * PAGE);
	close(ro);
	close(rw);
	close(rx);
}

/* An EXEC region's pages really run (anon_inodefs is not noexec on 6.1). */
TEST_F(snapvm, exec_region_code_runs)
{
	static const unsigned char ret_42[] = {0xb8, 0x2a, 0x00,
					       0x00, 0x00, 0xc3}; /* mov $42,%eax; ret */
	int fd =
	    region_create(self->dev, PAGE, SNAPVM_PROT_READ | SNAPVM_PROT_EXEC | SNAPVM_PROT_WRITE);
	void *map;

	ASSERT_GE(fd, 0);
	ASSERT_EQ((ssize_t)sizeof(ret_42), pwrite(fd, ret_42, sizeof(ret_42), 0));
	ASSERT_EQ(0, region_seal(fd));
	map = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap PROT_EXEC: %s", strerror(errno));
	EXPECT_EQ(42, ((int (*)(void))map)());
	munmap(map, PAGE);
	close(fd);
}

TEST_F(snapvm, shared_mappings_share_the_pages)
{
	int fd = region_create(self->dev, 2 * PAGE, RW);
	char *a, *b;

	ASSERT_GE(fd, 0);
	a = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	strcpy(a + PAGE + 9, "shared");
	EXPECT_STREQ("shared", b + 9);
	/* Still the same page after the PTEs are dropped and faulted again. */
	ASSERT_EQ(0, madvise(a, 2 * PAGE, MADV_DONTNEED));
	EXPECT_STREQ("shared", a + PAGE + 9);
	munmap(a, 2 * PAGE);
	munmap(b, PAGE);
	close(fd);
}

/* Debugger-style writes (FOLL_FORCE via /proc/self/mem) get no wider rights either. */
TEST_F(snapvm, proc_self_mem_cannot_write_through_a_read_only_mapping)
{
	int fd = region_create(self->dev, PAGE, RW);
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	char *shared, *priv;

	ASSERT_GE(fd, 0);
	ASSERT_GE(mem, 0);
	ASSERT_EQ(1, pwrite(fd, "a", 1, 0));
	ASSERT_EQ(0, region_seal(fd));
	shared = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	priv = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_NE(MAP_FAILED, priv);
	EXPECT_EQ(EIO, err_of(pwrite(mem, "b", 1, (off_t)(uintptr_t)shared)));
	/* A private mapping gets a private copy, as for any file. */
	EXPECT_EQ(1, pwrite(mem, "c", 1, (off_t)(uintptr_t)priv));
	EXPECT_EQ('c', priv[0]);
	EXPECT_EQ('a', shared[0]);
	EXPECT_EQ('a', byte_at(fd, 0));
	munmap(priv, PAGE);
	munmap(shared, PAGE);
	close(mem);
	close(fd);
}

/* ---- KVM ---- */

/* Guest code (16-bit real mode) at GPA 0x1000. */
static const uint8_t guest_reads_and_reports[] = {
    0x66, 0xa1, 0x00, 0x20,				  /* mov 0x2000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x04, 0x20,				  /* mov 0x2004, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xc7, 0x06, 0x00, 0x30, 0x0d, 0xf0, 0xfe, 0xca, /* movl $0xcafef00d, 0x3000 */
    0xf4,						  /* hlt */
};

TEST_F(snapvm, region_is_kvm_memory)
{
	const size_t size = 8 * PAGE;
	const uint32_t from_pwrite = 0x600dcafe;
	struct guest g = {0};
	uint32_t value;
	char *map;
	int fd;

	fd = region_create(self->dev, size, RW);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map + 0x1000, guest_reads_and_reports, sizeof(guest_reads_and_reports));
	*(uint32_t *)(map + 0x2000) = 0x12345678;
	ASSERT_EQ(0, guest_create(&g)) TH_LOG("KVM set-up: %s", strerror(errno));
	ASSERT_EQ(0, guest_slot(&g, 0, 0, map, size, 0))
	TH_LOG("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	/* Written after the slot exists, and not through the mapping. */
	ASSERT_EQ(4, pwrite(fd, &from_pwrite, 4, 0x2004));

	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0x10, g.run->io.port);
	EXPECT_EQ(0x12345678u, guest_out_value(&g)) TH_LOG("the guest reads what the host wrote");
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(from_pwrite, guest_out_value(&g)) TH_LOG("and what pwrite wrote");
	ASSERT_EQ(KVM_EXIT_HLT, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0xcafef00d, *(uint32_t *)(map + 0x3000))
	TH_LOG("the host sees the guest's write");
	ASSERT_EQ(4, pread(fd, &value, 4, 0x3000));
	EXPECT_EQ(0xcafef00d, value);
	guest_destroy(&g);
	munmap(map, size);
	close(fd);
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
}

/* The amd64 view: a sealed region, mapped read-only, in a KVM_MEM_READONLY slot. */
TEST_F(snapvm, readonly_slot_write_exits_as_mmio_and_changes_nothing)
{
	static const uint8_t code[] = {
	    0x66, 0xa1, 0x00, 0x80,				  /* mov 0x8000, %eax */
	    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
	    0x66, 0xc7, 0x06, 0x00, 0x80, 0xef, 0xbe, 0xad, 0xde, /* movl $0xdeadbeef, 0x8000 */
	    0xf4,						  /* hlt */
	};
	const uint32_t snapshot_value = 0x5a5a1234;
	struct guest g = {0};
	char *scratch, *view;
	int scratch_fd, snap_fd;
	uint32_t value;

	scratch_fd = region_create(self->dev, 8 * PAGE, RW);
	snap_fd = region_create(self->dev, PAGE, RW);
	ASSERT_GE(scratch_fd, 0);
	ASSERT_GE(snap_fd, 0);
	ASSERT_EQ(4, pwrite(snap_fd, &snapshot_value, 4, 0));
	ASSERT_EQ(0, region_seal(snap_fd));
	scratch = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, scratch_fd, 0);
	view = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, snap_fd, 0);
	ASSERT_NE(MAP_FAILED, scratch);
	ASSERT_NE(MAP_FAILED, view);
	memcpy(scratch + 0x1000, code, sizeof(code));

	ASSERT_EQ(0, guest_create(&g)) TH_LOG("KVM set-up: %s", strerror(errno));
	if (ioctl(g.kvm, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		guest_destroy(&g);
		ASSERT_TRUE(0) TH_LOG("KVM lacks KVM_CAP_READONLY_MEM (kvm_amd has it)");
	}
	ASSERT_EQ(0, guest_slot(&g, 0, 0, scratch, 8 * PAGE, 0));
	ASSERT_EQ(0, guest_slot(&g, 1, 0x8000, view, PAGE, KVM_MEM_READONLY))
	TH_LOG("KVM_MEM_READONLY slot: %s", strerror(errno));

	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(snapshot_value, guest_out_value(&g));
	ASSERT_EQ(KVM_EXIT_MMIO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0x8000ull, g.run->mmio.phys_addr);
	EXPECT_EQ(1, g.run->mmio.is_write);
	EXPECT_EQ(4u, g.run->mmio.len);
	memcpy(&value, g.run->mmio.data, 4);
	EXPECT_EQ(0xdeadbeef, value);
	ASSERT_EQ(KVM_EXIT_HLT, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(snapshot_value, *(uint32_t *)view);
	ASSERT_EQ(4, pread(snap_fd, &value, 4, 0));
	EXPECT_EQ(snapshot_value, value) TH_LOG("the sealed region changed");
	guest_destroy(&g);
	munmap(view, PAGE);
	munmap(scratch, 8 * PAGE);
	close(snap_fd);
	close(scratch_fd);
}

/* The i686 view: a MAP_PRIVATE writable mapping of a sealed region as guest RAM. */
TEST_F(snapvm, private_view_of_a_sealed_region_takes_guest_writes)
{
	const size_t size = 8 * PAGE;
	struct guest g = {0};
	uint32_t value;
	char *view;
	int fd;

	fd = region_create(self->dev, size, RW);
	ASSERT_GE(fd, 0);
	ASSERT_EQ((ssize_t)sizeof(guest_reads_and_reports),
		  pwrite(fd, guest_reads_and_reports, sizeof(guest_reads_and_reports), 0x1000));
	value = 0x11111111;
	ASSERT_EQ(4, pwrite(fd, &value, 4, 0x2000));
	ASSERT_EQ(0, region_seal(fd));
	view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, view);

	ASSERT_EQ(0, guest_create(&g)) TH_LOG("KVM set-up: %s", strerror(errno));
	ASSERT_EQ(0, guest_slot(&g, 0, 0, view, size, 0));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0x11111111u, guest_out_value(&g));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	ASSERT_EQ(KVM_EXIT_HLT, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0xcafef00d, *(uint32_t *)(view + 0x3000)) TH_LOG("the view took the write");
	ASSERT_EQ(4, pread(fd, &value, 4, 0x3000));
	EXPECT_EQ(0u, value) TH_LOG("the sealed region changed");
	guest_destroy(&g);
	munmap(view, size);
	close(fd);
}

/* ---- 32-bit callers ---- */

TEST(compat_ioctl_gives_a_32_bit_caller_the_same_results)
{
	static struct transcript native;
	char helper[PATH_MAX], compat[8192];
	size_t len = 0;
	ssize_t n;
	FILE *out;
	int status;

	repo_path(helper, sizeof(helper), "build/tests/kselftest/module_compat32");
	ASSERT_EQ(0, access(helper, X_OK)) TH_LOG("%.900s not built (make tests)", helper);
	transcript_run(&native);
	ASSERT_NE(NULL, strstr(native.text, "GET_API_VERSION = 2\n")) TH_LOG("%s", native.text);
	ASSERT_NE(NULL, strstr(native.text, "RESTORE b from a = 2\n")) TH_LOG("%s", native.text);
	ASSERT_NE(NULL, strstr(native.text, "DUP_READONLY a = fd\n")) TH_LOG("%s", native.text);
	ASSERT_NE(NULL, strstr(native.text, "pwrite ro = -1\n")) TH_LOG("%s", native.text);
	ASSERT_NE(NULL, strstr(native.text, "  b holds 'm' 'hello' 0\n")) TH_LOG("%s", native.text);

	out = popen(helper, "re");
	ASSERT_NE(NULL, out);
	while (len < sizeof(compat) - 1 &&
	       (n = fread(compat + len, 1, sizeof(compat) - 1 - len, out)) > 0)
		len += n;
	compat[len] = '\0';
	status = pclose(out);
	ASSERT_EQ(0, status) TH_LOG("%s exited with %d", helper, status);
	EXPECT_STREQ(native.text, compat);
}

TEST_HARNESS_MAIN
