// SPDX-License-Identifier: GPL-2.0
/*
 * module_test.c - every rule of snapvm.ko's ABI (uapi/snapvm.h, kmod/README.md)
 * checked from userspace, bad inputs included: regions, seal, restore, mmap
 * rights, pread/pwrite, accounting and limits, module unload, use as KVM
 * memory, and 32-bit callers. Runs as root inside the test VM (tests/vm/run).
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
#include "tests/kselftest/module_transcript.h"
#include "uapi/snapvm.h"

FIXTURE(snapvm)
{
	int dev;
	long pinned_at_start;
};

FIXTURE_SETUP(snapvm)
{
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0)
	TH_LOG("open /dev/snapvm: %s (is snapvm.ko loaded?)", strerror(errno));
	self->pinned_at_start = pinned_pages();
	ASSERT_GE(self->pinned_at_start, 0) TH_LOG("cannot read " PINNED_PAGES_PATH);
}

FIXTURE_TEARDOWN(snapvm)
{
	close(self->dev);
}

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

/* ---- seal ---- */

TEST_F(snapvm, seal_drops_write_for_good)
{
	int fd = region_create(self->dev, 2 * PAGE, SNAPVM_PROT_ALL);
	struct snapvm_region_info info;
	char *map;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(1, pwrite(fd, "s", 1, 0));
	ASSERT_EQ(0, region_seal(fd));
	info = region_info(fd);
	EXPECT_EQ(SNAPVM_REGION_SEALED, info.flags);
	EXPECT_EQ(SNAPVM_PROT_READ | SNAPVM_PROT_EXEC, info.prot);
	EXPECT_EQ(0, region_seal(fd)) TH_LOG("sealing twice is harmless");

	EXPECT_EQ(EACCES, mmap_errno(fd, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(EACCES, mmap_errno(fd, 2 * PAGE, PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(0, mmap_errno(fd, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, 0));
	map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(EACCES, err_of(mprotect(map, 2 * PAGE, PROT_READ | PROT_WRITE)));
	EXPECT_EQ(EACCES, err_of(mprotect(map, PAGE, PROT_WRITE)));
	EXPECT_EQ('s', map[0]);
	munmap(map, 2 * PAGE);
	EXPECT_EQ(EPERM, err_of(pwrite(fd, "t", 1, 0)));
	EXPECT_EQ('s', byte_at(fd, 0)) TH_LOG("content kept");
	close(fd);
}

TEST_F(snapvm, seal_is_busy_while_a_shared_mapping_may_write)
{
	int fd = region_create(self->dev, 4 * PAGE, RW);
	char *map, *moved, *elsewhere;

	ASSERT_GE(fd, 0);
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 1;
	EXPECT_EQ(EBUSY, err_of(region_seal(fd)));
	/* Read-only now, but mprotect could make it writable again. */
	ASSERT_EQ(0, mprotect(map, 4 * PAGE, PROT_READ));
	EXPECT_EQ(EBUSY, err_of(region_seal(fd)));
	/* Split into pieces: each piece counts, the last one gone frees SEAL. */
	ASSERT_EQ(0, munmap(map + PAGE, PAGE));
	EXPECT_EQ(EBUSY, err_of(region_seal(fd)));
	ASSERT_EQ(0, munmap(map, PAGE));
	EXPECT_EQ(EBUSY, err_of(region_seal(fd)));
	elsewhere = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, elsewhere);
	moved =
	    mremap(map + 2 * PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, elsewhere);
	ASSERT_NE(MAP_FAILED, moved);
	EXPECT_EQ(EBUSY, err_of(region_seal(fd))) TH_LOG("a moved mapping still counts");
	ASSERT_EQ(0, munmap(moved, 2 * PAGE));
	EXPECT_EQ(0, region_seal(fd));
	EXPECT_EQ(SNAPVM_REGION_SEALED, region_info(fd).flags);
	close(fd);
}

TEST_F(snapvm, seal_is_busy_while_a_forked_child_holds_a_writable_mapping)
{
	int fd = region_create(self->dev, PAGE, RW);
	int go[2];
	char *map;
	pid_t pid;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pipe(go));
	map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		close(go[1]);
		CHILD_CHECK(read(go[0], &c, 1) == 1, "waiting for the parent");
		map[0] = 'c';
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(0, munmap(map, PAGE));
	EXPECT_EQ(EBUSY, err_of(region_seal(fd))) TH_LOG("the child's copy of the mapping counts");
	ASSERT_EQ(1, write(go[1], "g", 1));
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ('c', byte_at(fd, 0));
	EXPECT_EQ(0, region_seal(fd)) TH_LOG("the child exited, its mapping is gone");
	close(go[1]);
	close(fd);
}

/*
 * Pins the region's first page in a pipe (vmsplice through a shared mapping
 * of rights prot, unmapped again afterwards): a page reference that outlives
 * every mapping. Fills the page with fill first when prot has PROT_WRITE.
 * Returns 0 or an errno.
 */
static int pin_first_page(int fd, int prot, char fill, int pipefd[2])
{
	struct iovec iov = {.iov_len = PAGE};
	int ret = 0;

	if (pipe(pipefd))
		return errno;
	iov.iov_base = mmap(NULL, PAGE, prot, MAP_SHARED, fd, 0);
	if (iov.iov_base == MAP_FAILED)
		return errno;
	if (prot & PROT_WRITE)
		memset(iov.iov_base, fill, PAGE);
	if (vmsplice(pipefd[1], &iov, 1, 0) != (ssize_t)PAGE)
		ret = errno ? errno : EIO;
	munmap(iov.iov_base, PAGE);
	return ret;
}

/* A page reference held beyond munmap (vmsplice, O_DIRECT) could still write. */
TEST_F(snapvm, seal_is_busy_while_pages_are_pinned)
{
	int fd = region_create(self->dev, PAGE, RW);
	char buf[PAGE];
	int pipefd[2];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pin_first_page(fd, PROT_READ | PROT_WRITE, 'v', pipefd));
	EXPECT_EQ(EBUSY, err_of(region_seal(fd))) TH_LOG("the pipe holds a reference");
	ASSERT_EQ((ssize_t)PAGE, read(pipefd[0], buf, sizeof(buf)));
	EXPECT_EQ('v', buf[PAGE - 1]);
	EXPECT_EQ(0, region_seal(fd));
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
}

/* A region that never had WRITE never had a writable mapping: a page
 * reference to it (here through a read-only mapping) cannot write, so it
 * does not stop SEAL. */
TEST_F(snapvm, seal_ignores_pins_of_a_region_without_write)
{
	int fd = region_create(self->dev, PAGE, SNAPVM_PROT_READ);
	char buf[PAGE];
	int pipefd[2];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pin_first_page(fd, PROT_READ, 0, pipefd));
	EXPECT_EQ(0, region_seal(fd)) TH_LOG("a read-only pin blocked SEAL");
	EXPECT_EQ(SNAPVM_REGION_SEALED, region_info(fd).flags);
	ASSERT_EQ((ssize_t)PAGE, read(pipefd[0], buf, sizeof(buf)));
	EXPECT_EQ(0, buf[0]);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
}

/*
 * A SEAL that gives up (EBUSY, a page stays pinned) must never show the region
 * sealed meanwhile: a RESTORE accepting it as a sealed source would copy pages
 * that can still change once SEAL has failed.
 */
TEST_F(snapvm, a_failing_seal_never_shows_the_region_sealed)
{
	int fd = region_create(self->dev, PAGE, RW);
	int dst = region_create(self->dev, PAGE, RW);
	uint64_t bitmap = 1;
	int pipefd[2], done[2];
	pid_t pid;

	ASSERT_GE(fd, 0);
	ASSERT_GE(dst, 0);
	ASSERT_EQ(0, pipe2(done, O_NONBLOCK));
	ASSERT_EQ(0, pin_first_page(fd, PROT_READ | PROT_WRITE, 0, pipefd));

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		close(done[1]);
		while (read(done[0], &c, 1) < 0 && errno == EAGAIN) {
			CHILD_CHECK(region_restore(dst, fd, &bitmap, 0, 1) < 0 && errno == EINVAL,
				    "RESTORE took an unsealed region as its source");
			CHILD_CHECK(region_info(fd).flags == 0, "INFO says sealed");
		}
		_exit(0);
	}
	close(done[0]);
	for (int i = 0; i < 20; i++)
		EXPECT_EQ(EBUSY, err_of(region_seal(fd)));
	close(done[1]);
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(0u, region_info(fd).flags);
	close(pipefd[0]);
	close(pipefd[1]);
	close(dst);
	close(fd);
}

static int fill_index(size_t i)
{
	return (int)i;
}

/* How an i686 sandbox writes to a shared snapshot: private copies, never the region. */
TEST_F(snapvm, private_writes_to_a_sealed_region_stay_private)
{
	const size_t size = 4 * PAGE;
	int fd = region_create(self->dev, size, RW);
	char *priv, *priv2, *shared;
	char c;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, region_fill(fd, size / PAGE, fill_index));
	ASSERT_EQ(0, region_seal(fd));
	priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	priv2 = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	shared = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, priv);
	ASSERT_NE(MAP_FAILED, priv2);
	ASSERT_NE(MAP_FAILED, shared);
	EXPECT_EQ(2, priv2[2 * PAGE]) TH_LOG("read before any write: the region's page");

	memset(priv + PAGE, 'P', PAGE);
	priv[3 * PAGE + 5] = 'Q';
	EXPECT_EQ('P', priv[PAGE + 100]);
	EXPECT_EQ('Q', priv[3 * PAGE + 5]);
	EXPECT_EQ(1, shared[PAGE + 100]) TH_LOG("a shared mapping does not see private writes");
	EXPECT_EQ(1, priv2[PAGE + 100]) TH_LOG("nor does another private mapping");
	EXPECT_EQ(3, shared[3 * PAGE + 5]);
	for (size_t i = 0; i < size / PAGE; i++) {
		EXPECT_EQ((int)i, page_byte(fd, i)) TH_LOG("region page %zu changed", i);
	}
	ASSERT_EQ(1, pread(fd, &c, 1, 3 * PAGE + 5));
	EXPECT_EQ(3, c);

	/* Dropping the private copies brings back the snapshot's pages. */
	ASSERT_EQ(0, madvise(priv, size, MADV_DONTNEED));
	EXPECT_EQ(1, priv[PAGE + 100]);
	EXPECT_EQ(3, priv[3 * PAGE + 5]);

	/* A forked child writes to its own copy, too. */
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		priv[0] = 'K';
		CHILD_CHECK(priv[0] == 'K', "child sees its own write");
		CHILD_CHECK(shared[0] == 0, "region unchanged");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(0, priv[0]);
	EXPECT_EQ(0, page_byte(fd, 0));
	munmap(priv, size);
	munmap(priv2, size);
	munmap(shared, size);
	close(fd);
}

/* ---- restore ---- */

static int fill_page_number(size_t i)
{
	return (int)(i & 0x7f) + 1;
}

static int fill_ee(size_t i)
{
	return 0xee;
}

/* Checks that page i of @fd holds @flagged(i) ? src byte : 0xee, for all pages. */
static int first_wrong_page(int fd, size_t npages, const uint64_t *bitmap, uint64_t first,
			    uint64_t count, int zero)
{
	for (size_t i = 0; i < npages; i++) {
		int flagged = i >= first && i - first < count &&
			      (bitmap[(i - first) / 64] >> ((i - first) % 64) & 1);
		int want = flagged ? (zero ? 0 : fill_page_number(i)) : 0xee;

		if (page_byte(fd, i) != want)
			return (int)i;
	}
	return -1;
}

FIXTURE(restore)
{
	int dev, src, dst;
	size_t npages;
};

FIXTURE_SETUP(restore)
{
	self->npages = 200;
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0);
	self->src = region_create(self->dev, self->npages * PAGE, RW);
	self->dst = region_create(self->dev, self->npages * PAGE, RW);
	ASSERT_GE(self->src, 0);
	ASSERT_GE(self->dst, 0);
	ASSERT_EQ(0, region_fill(self->src, self->npages, fill_page_number));
	ASSERT_EQ(0, region_seal(self->src));
	ASSERT_EQ(0, region_fill(self->dst, self->npages, fill_ee));
}

FIXTURE_TEARDOWN(restore)
{
	close(self->dst);
	close(self->src);
	close(self->dev);
}

TEST_F(restore, copies_exactly_the_flagged_pages)
{
	uint64_t bitmap[4] = {1ull << 0 | 1ull << 5 | 1ull << 63, 1ull << 0, 0, 1ull << 7};

	EXPECT_EQ(5, region_restore(self->dst, self->src, bitmap, 0, 200));
	EXPECT_EQ(-1, first_wrong_page(self->dst, self->npages, bitmap, 0, 200, 0));
}

TEST_F(restore, counts_from_first_page_and_ignores_bits_past_npages)
{
	/* Bits 0 and 70 are pages 10 and 80; bit 75 is past npages = 71. */
	uint64_t bitmap[2] = {1ull << 0, 1ull << 6 | 1ull << 11};
	uint64_t expected[2] = {1ull << 0, 1ull << 6};

	EXPECT_EQ(2, region_restore(self->dst, self->src, bitmap, 10, 71));
	EXPECT_EQ(-1, first_wrong_page(self->dst, self->npages, expected, 10, 71, 0));
	/* The last page and an empty range. */
	bitmap[0] = 1;
	EXPECT_EQ(1, region_restore(self->dst, self->src, bitmap, 199, 1));
	EXPECT_EQ(fill_page_number(199), page_byte(self->dst, 199));
	EXPECT_EQ(0, region_restore(self->dst, self->src, bitmap, 200, 0));
	EXPECT_EQ(0, region_restore(self->dst, self->src, NULL, 0, 0));
}

TEST_F(restore, every_page_when_all_bits_are_set)
{
	uint64_t bitmap[4];

	memset(bitmap, 0xff, sizeof(bitmap));
	EXPECT_EQ(200, region_restore(self->dst, self->src, bitmap, 0, 200));
	for (size_t i = 0; i < self->npages; i++) {
		ASSERT_EQ(fill_page_number(i), page_byte(self->dst, i)) TH_LOG("page %zu", i);
	}
}

TEST_F(restore, zero_mode_zeroes_exactly_the_flagged_pages)
{
	uint64_t bitmap[4] = {0xf0, 0, 1ull << 1, 0};

	EXPECT_EQ(5, region_restore(self->dst, SNAPVM_RESTORE_ZERO, bitmap, 0, 200));
	EXPECT_EQ(-1, first_wrong_page(self->dst, self->npages, bitmap, 0, 200, 1));
}

TEST_F(restore, mappings_see_the_restored_pages)
{
	uint64_t bitmap[1] = {1ull << 3};
	char *map = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->dst, 0);

	ASSERT_NE(MAP_FAILED, map);
	map[3 * PAGE] = 'd';
	EXPECT_EQ(1, region_restore(self->dst, self->src, bitmap, 0, 8));
	EXPECT_EQ(fill_page_number(3), map[3 * PAGE]);
	EXPECT_EQ(1, region_restore(self->dst, SNAPVM_RESTORE_ZERO, bitmap, 0, 8));
	EXPECT_EQ(0, map[3 * PAGE + 17]);
	munmap(map, 8 * PAGE);
}

TEST_F(restore, rejects_bad_arguments_and_changes_nothing)
{
	uint64_t bitmap[4] = {~0ull, ~0ull, ~0ull, ~0ull};
	struct snapvm_region_restore args = {
	    .src_fd = self->src, .bitmap = (uintptr_t)bitmap, .npages = 64};
	int other_size = region_create(self->dev, 2 * self->npages * PAGE, RW);
	int unsealed = region_create(self->dev, self->npages * PAGE, RW);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	void *unmapped = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_GE(other_size, 0);
	ASSERT_GE(unsealed, 0);
	ASSERT_GE(devnull, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	ASSERT_EQ(0, region_seal(other_size));

	/* src_fd: not an fd, not a region, not sealed, not the same size. */
	EXPECT_EQ(EBADF, err_of(region_restore(self->dst, 999, bitmap, 0, 64)));
	EXPECT_EQ(EBADF, err_of(region_restore(self->dst, -2, bitmap, 0, 64)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, devnull, bitmap, 0, 64)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->dev, bitmap, 0, 64)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, unsealed, bitmap, 0, 64)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->dst, bitmap, 0, 64)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, other_size, bitmap, 0, 64)));
	/* The range. */
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->src, bitmap, 0, 201)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->src, bitmap, 150, 51)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->src, bitmap, 201, 0)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->src, bitmap, ~0ull, 2)));
	EXPECT_EQ(EINVAL, err_of(region_restore(self->dst, self->src, bitmap, 1, ~0ull)));
	/* Flags. */
	args.flags = 1;
	EXPECT_EQ(EINVAL, err_of(ioctl(self->dst, SNAPVM_REGION_RESTORE, &args)));
	args.flags = 1u << 31;
	EXPECT_EQ(EINVAL, err_of(ioctl(self->dst, SNAPVM_REGION_RESTORE, &args)));
	/* The bitmap and the argument pointer. */
	EXPECT_EQ(EFAULT, err_of(region_restore(self->dst, self->src, NULL, 0, 1)));
	EXPECT_EQ(EFAULT, err_of(region_restore(self->dst, self->src, unmapped, 0, 64)));
	/* Ends in the unmapped page: nothing may be restored before the fault. */
	EXPECT_EQ(EFAULT, err_of(region_restore(self->dst, self->src,
						(uint64_t *)((char *)unmapped - 8), 0, 128)))
	TH_LOG("bitmap half readable");
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dst, SNAPVM_REGION_RESTORE, NULL)));
	/* Destinations that may not change: sealed, or without WRITE. */
	EXPECT_EQ(EPERM, err_of(region_restore(self->src, self->src, bitmap, 0, 64)));
	EXPECT_EQ(EPERM, err_of(region_restore(self->src, SNAPVM_RESTORE_ZERO, bitmap, 0, 64)));
	EXPECT_EQ(EPERM, err_of(region_restore(other_size, SNAPVM_RESTORE_ZERO, bitmap, 0, 64)));

	for (size_t i = 0; i < self->npages; i++) {
		ASSERT_EQ(0xee, page_byte(self->dst, i))
		TH_LOG("page %zu changed by a refused RESTORE", i);
	}
	for (size_t i = 0; i < self->npages; i++) {
		ASSERT_EQ(fill_page_number(i), page_byte(self->src, i))
		TH_LOG("source page %zu", i);
	}
	munmap(unmapped, PAGE);
	close(devnull);
	close(unsealed);
	close(other_size);
}

TEST(restore_needs_write_on_the_destination)
{
	int dev = snapvm_open();
	int ro, src;
	uint64_t bitmap = 1;

	ASSERT_GE(dev, 0);
	ro = region_create(dev, PAGE, SNAPVM_PROT_READ);
	src = region_create(dev, PAGE, SNAPVM_PROT_READ);
	ASSERT_GE(ro, 0);
	ASSERT_GE(src, 0);
	ASSERT_EQ(0, region_seal(src));
	EXPECT_EQ(EPERM, err_of(region_restore(ro, src, &bitmap, 0, 1)));
	EXPECT_EQ(EPERM, err_of(region_restore(ro, SNAPVM_RESTORE_ZERO, &bitmap, 0, 1)));
	close(src);
	close(ro);
	close(dev);
}

/* ---- lifetime and accounting ---- */

TEST_F(snapvm, pages_live_until_the_last_fd_and_mapping_are_gone)
{
	int fd = region_create(self->dev, 8 * PAGE, RW);
	int dup_fd;
	char *map;

	ASSERT_GE(fd, 0);
	EXPECT_EQ(self->pinned_at_start + 8, pinned_pages());
	map = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	dup_fd = dup(fd);
	ASSERT_GE(dup_fd, 0);
	close(fd);
	close(dup_fd);
	EXPECT_EQ(self->pinned_at_start + 8, pinned_pages()) TH_LOG("the mapping holds the region");
	map[7 * PAGE] = 'l';
	EXPECT_EQ('l', map[7 * PAGE]);
	munmap(map, 8 * PAGE);
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
}

TEST_F_TIMEOUT(snapvm, pinned_pages_return_to_start_after_1000_cycles, 300)
{
	for (int i = 0; i < 1000; i++) {
		int fd = region_create(self->dev, (1 + i % 4) * PAGE, RW);
		char *map;

		ASSERT_GE(fd, 0) TH_LOG("cycle %d: %s", i, strerror(errno));
		map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, i % 2 ? MAP_SHARED : MAP_PRIVATE, fd,
			   0);
		ASSERT_NE(MAP_FAILED, map) TH_LOG("cycle %d", i);
		map[i % PAGE] = (char)i;
		close(fd);
		munmap(map, PAGE);
	}
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
}

/* The creator sees the region in VmPin (like io_uring's buffers); the
 * charge itself is the user's (module_v2_test follows it around). */
TEST_F(snapvm, pinned_vm_shows_the_region)
{
	long before = status_kb("VmPin"), locked = status_kb("VmLck");
	int fd;

	ASSERT_GE(before, 0);
	fd = region_create(self->dev, 16 * PAGE, RW);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(before + 64, status_kb("VmPin")) TH_LOG("16 pages = 64 kB pinned");
	EXPECT_EQ(locked, status_kb("VmLck")) TH_LOG("no mlock()ed memory: VmLck stays");
	close(fd);
	EXPECT_EQ(before, status_kb("VmPin"));
}

/*
 * RLIMIT_MEMLOCK works as for mlock(): without CAP_IPC_LOCK a region beyond
 * the limit fails with ENOMEM and leaves nothing allocated; with it, the limit
 * does not apply (the pages still count).
 */
TEST_F(snapvm, rlimit_memlock_is_enforced_without_cap_ipc_lock)
{
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		long pinned = pinned_pages();
		int a, b;

		CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &limit) == 0, "setrlimit");
		/* Still root with CAP_IPC_LOCK: the limit does not apply. */
		a = region_create(self->dev, 32 * PAGE, RW);
		CHILD_CHECK(a >= 0, "CAP_IPC_LOCK lifts RLIMIT_MEMLOCK");
		close(a);
		CHILD_CHECK(drop_cap_ipc_lock() == 0, "dropping CAP_IPC_LOCK");

		a = region_create(self->dev, 17 * PAGE, RW);
		CHILD_CHECK(a < 0 && errno == ENOMEM, "68 kB > 64 kB limit must fail with ENOMEM");
		CHILD_CHECK(pinned_pages() == pinned, "the refused region left nothing");
		a = region_create(self->dev, 12 * PAGE, RW);
		CHILD_CHECK(a >= 0, "48 kB fits");
		b = region_create(self->dev, 5 * PAGE, RW);
		CHILD_CHECK(b < 0 && errno == ENOMEM, "48 + 20 kB exceeds 64 kB");
		b = region_create(self->dev, 4 * PAGE, RW);
		CHILD_CHECK(b >= 0, "48 + 16 kB fits exactly");
		close(a);
		a = region_create(self->dev, 12 * PAGE, RW);
		CHILD_CHECK(a >= 0, "closing a region gives its charge back");
		close(a);
		close(b);
		CHILD_CHECK(pinned_pages() == pinned, "all freed");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
}

/* The last fput after the creator's exit_mm must neither crash nor leak. */
TEST_F(snapvm, region_outlives_its_creator)
{
	int sv[2];
	pid_t pid;
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cmsg;
	char *map;
	int fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int region = region_create(self->dev, 4 * PAGE, RW);

		CHILD_CHECK(region >= 0, "create");
		CHILD_CHECK(pwrite(region, "child", 5, PAGE) == 5, "pwrite");
		memset(cbuf, 0, sizeof(cbuf));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &region, sizeof(int));
		CHILD_CHECK(sendmsg(sv[1], &msg, 0) == 1, "sendmsg");
		_exit(0);
	}
	close(sv[1]);
	ASSERT_EQ(1, recvmsg(sv[0], &msg, 0));
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cmsg);
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(self->pinned_at_start + 4, pinned_pages());
	map = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp("child", map + PAGE, 5));
	close(fd);
	munmap(map, 4 * PAGE);
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
	close(sv[0]);
}

FIXTURE(limits)
{
	int dev;
	long max_total_mb, max_region_mb;
};

FIXTURE_SETUP(limits)
{
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0);
	self->max_total_mb = param_read("max_total_mb");
	self->max_region_mb = param_read("max_region_mb");
	ASSERT_GT(self->max_total_mb, 0);
	ASSERT_GT(self->max_region_mb, 0);
}

FIXTURE_TEARDOWN(limits)
{
	if (self->max_total_mb > 0)
		EXPECT_EQ(0, param_write("max_total_mb", self->max_total_mb));
	if (self->max_region_mb > 0)
		EXPECT_EQ(0, param_write("max_region_mb", self->max_region_mb));
	close(self->dev);
}

TEST_F(limits, max_total_mb_defaults_to_half_of_ram)
{
	long ram_kb = -1;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %ld kB", &ram_kb) == 1)
			break;
	fclose(f);
	ASSERT_GT(ram_kb, 0);
	/* tests/vm/run loads the module without parameters. */
	EXPECT_EQ(ram_kb / 1024 / 2, self->max_total_mb);
}

TEST_F(limits, max_total_mb_caps_all_regions_together)
{
	long pinned = pinned_pages();
	long cap_mb = (pinned + 255) / 256 + 1;
	long room = cap_mb * 256 - pinned;
	int a, b;

	ASSERT_EQ(0, param_write("max_total_mb", cap_mb));
	a = region_create(self->dev, (room - 1) * PAGE, RW);
	ASSERT_GE(a, 0)
	TH_LOG("%ld pages fit under %ld MiB: %s", room - 1, cap_mb, strerror(errno));
	b = region_create(self->dev, 2 * PAGE, RW);
	EXPECT_EQ(ENOMEM, b < 0 ? errno : 0) TH_LOG("one page over the cap");
	EXPECT_EQ(pinned + room - 1, pinned_pages()) TH_LOG("the refused region left nothing");
	b = region_create(self->dev, PAGE, RW);
	EXPECT_LE(0, b) TH_LOG("exactly at the cap");
	close(a);
	a = region_create(self->dev, 2 * PAGE, RW);
	EXPECT_LE(0, a) TH_LOG("room again after a close");
	close(a);
	close(b);
	/* A cap below what is held refuses everything, and harms nothing held. */
	ASSERT_EQ(0, param_write("max_total_mb", 0));
	EXPECT_EQ(ENOMEM, err_of(region_create(self->dev, PAGE, RW)));
	EXPECT_EQ(pinned, pinned_pages());
}

TEST_F(limits, max_region_mb_caps_one_region)
{
	int fd;

	ASSERT_EQ(0, param_write("max_region_mb", 1));
	EXPECT_EQ(EINVAL, err_of(region_create(self->dev, (1 << 20) + PAGE, RW)));
	fd = region_create(self->dev, 1 << 20, RW);
	EXPECT_LE(0, fd) TH_LOG("exactly max_region_mb: %s", strerror(errno));
	close(fd);
}

/*
 * Pages are charged to the creator's memory cgroup, and a region the cgroup
 * cannot hold fails with ENOMEM instead of waking the OOM killer.
 */
TEST_F(limits, memcg_is_charged_and_its_limit_is_an_error_not_an_oom_kill)
{
	char root[] = "/tmp/snapvm-cgroup.XXXXXX", cg[PATH_MAX];
	pid_t pid;

	ASSERT_NE(NULL, mkdtemp(root));
	if (mount("none", root, "cgroup2", 0, NULL)) {
		rmdir(root);
		/* The test VM's kernel has cgroup2 and its memory controller:
		 * without them the VM is broken, a failure, not a skip. */
		ASSERT_TRUE(0) TH_LOG("cannot mount cgroup2: %s", strerror(errno));
	}
	snprintf(cg, sizeof(cg), "%s/snapvm-test", root);
	if (cg_write(root, "cgroup.subtree_control", "+memory") || mkdir(cg, 0755)) {
		umount(root);
		rmdir(root);
		ASSERT_TRUE(0) TH_LOG("no memory controller in cgroup2");
	}
	ASSERT_EQ(0, cg_write(cg, "memory.max", "33554432"));
	cg_write(cg, "memory.swap.max", "0");

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		long before, after;
		int fd;

		CHILD_CHECK(cg_write(cg, "cgroup.procs", "0") == 0, "joining the cgroup");
		before = cg_read(cg, "memory.current", NULL);
		fd = region_create(self->dev, 4 << 20, RW);
		CHILD_CHECK(fd >= 0, "4 MiB in a 32 MiB cgroup");
		after = cg_read(cg, "memory.current", NULL);
		CHILD_CHECK(after - before >= 4 << 20 && after - before < 5 << 20,
			    "memory.current grew by %ld, not by the region's 4 MiB",
			    after - before);
		close(fd);
		fd = region_create(self->dev, 64 << 20, RW);
		CHILD_CHECK(fd < 0 && errno == ENOMEM, "64 MiB in a 32 MiB cgroup must be ENOMEM");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid)) TH_LOG("the child was killed (137: SIGKILL) or failed");
	EXPECT_EQ(0, cg_read(cg, "memory.events", "oom_kill"));
	EXPECT_EQ(0, cg_read(cg, "memory.events", "oom"));
	EXPECT_EQ(0, pinned_pages()) TH_LOG("all pages given back");
	rmdir(cg);
	umount(root);
	rmdir(root);
}

/* ---- module unload ---- */

static int module_refcnt(void)
{
	return (int)read_long_file("/sys/module/snapvm/refcnt");
}

TEST(rmmod_is_refused_while_a_region_is_mapped)
{
	char ko[PATH_MAX], params[128];
	long max_total_mb = param_read("max_total_mb");
	long max_region_mb = param_read("max_region_mb");
	int dev, fd, ko_fd;
	char *map;

	repo_path(ko, sizeof(ko), "kmod/snapvm.ko");
	if (getenv("SNAPVM_KO") && strlen(getenv("SNAPVM_KO")) < sizeof(ko))
		strcpy(ko, getenv("SNAPVM_KO"));
	/* Never unload what cannot be loaded again: later tests need it. */
	ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ko_fd) TH_LOG("cannot open %.900s to reload the module (set SNAPVM_KO)", ko);
	ASSERT_GT(max_total_mb, 0);
	ASSERT_GT(max_region_mb, 0);
	ASSERT_EQ(0, module_refcnt()) TH_LOG("something else holds snapvm.ko");

	dev = snapvm_open();
	ASSERT_GE(dev, 0);
	EXPECT_EQ(EAGAIN, err_of(syscall(SYS_delete_module, "snapvm", O_NONBLOCK)))
	TH_LOG("/dev/snapvm is open");
	fd = region_create(dev, 4 * PAGE, RW);
	ASSERT_GE(fd, 0);
	close(dev);
	EXPECT_EQ(EAGAIN, err_of(syscall(SYS_delete_module, "snapvm", O_NONBLOCK)))
	TH_LOG("a region fd is open");
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	close(fd);
	EXPECT_EQ(1, module_refcnt());
	EXPECT_EQ(EAGAIN, err_of(syscall(SYS_delete_module, "snapvm", O_NONBLOCK)))
	TH_LOG("a mapping is left, its fd closed");
	map[PAGE] = 'm';
	EXPECT_EQ('m', map[PAGE]);
	munmap(map, 4 * PAGE);

	ASSERT_EQ(0, syscall(SYS_delete_module, "snapvm", O_NONBLOCK))
	TH_LOG("rmmod after the last mapping: %s", strerror(errno));
	snprintf(params, sizeof(params), "max_total_mb=%ld max_region_mb=%ld", max_total_mb,
		 max_region_mb);
	ASSERT_EQ(0, syscall(SYS_finit_module, ko_fd, params, 0))
	TH_LOG("reloading %s: %s -- later tests will miss the module", ko, strerror(errno));
	close(ko_fd);
	dev = snapvm_open();
	ASSERT_GE(dev, 0) TH_LOG("/dev/snapvm after the reload: %s", strerror(errno));
	EXPECT_EQ(SNAPVM_API_VERSION, ioctl(dev, SNAPVM_GET_API_VERSION, 0));
	EXPECT_EQ(0, pinned_pages());
	close(dev);
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
