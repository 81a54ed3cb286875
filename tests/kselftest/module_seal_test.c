// SPDX-License-Identifier: GPL-2.0
/*
 * module_seal_test.c - snapvm.ko's SEAL and RESTORE checked from userspace:
 * SEAL drops WRITE for good, is refused while anything could still write
 * (a shared writable mapping, a forked child's, pinned pages) and leaves no
 * trace when it fails; RESTORE copies or zeroes exactly the flagged pages and
 * rejects bad arguments without changing anything. Runs as root inside the
 * test VM (tests/vm/run).
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
#include "uapi/snapvm.h"

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

TEST_HARNESS_MAIN
