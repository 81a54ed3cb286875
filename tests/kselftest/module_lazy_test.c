// SPDX-License-Identifier: GPL-2.0
/*
 * module_lazy_test.c - snapvm.ko's lazy regions: feature bits and both INFO
 * sizes; a lazy region costs nothing until a fault, a pwrite or a RESTORE
 * touches a page, which is then charged exactly once; running out of
 * RLIMIT_MEMLOCK, max_total_mb or the memory cgroup at a touch (SIGBUS,
 * ENOMEM) leaks nothing. Clones are module_clone_test.c's, races
 * module_lazy_race_test.c's. Runs as root inside the test VM (tests/vm/run).
 */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "tests/kselftest/module_helpers.h"
#include "tests/kselftest/module_lazy.h"

/* The INFO of the first v2 modules: no resident_pages. */
struct info_v2_0 {
	uint64_t size;
	uint32_t prot;
	uint32_t flags;
	uint64_t reserved[2];
};
#define INFO_V2_0 _IOR(SNAPVM_IOCTL_MAGIC, 0x10, struct info_v2_0)
_Static_assert(sizeof(struct info_v2_0) == 32, "the old INFO is 32 bytes");
_Static_assert(sizeof(struct snapvm_region_info) == 40, "the new INFO is 40 bytes");
/* The size is part of the number: the old request is another ioctl. */
_Static_assert(SNAPVM_REGION_INFO != INFO_V2_0, "INFO's number changed with its size");

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- ABI ---- */

TEST_F(lazy, feature_bits)
{
	long features = ioctl(self->dev, SNAPVM_GET_FEATURES, 0);

	ASSERT_GE(features, 0);
	EXPECT_EQ(SNAPVM_FEATURE_DUP_READONLY | SNAPVM_FEATURE_LAZY | SNAPVM_FEATURE_CLONE,
		  features);
	EXPECT_EQ(SNAPVM_API_VERSION, ioctl(self->dev, SNAPVM_GET_API_VERSION, 0));
}

/* The 40-byte INFO, and the 32-byte one of the first v2 modules, which
 * writes no byte past its struct. */
TEST_F(lazy, info_of_40_and_of_32_bytes)
{
	unsigned char buf[64];
	struct snapvm_region_info info;
	struct info_v2_0 old;
	int fd = region_create(self->dev, 4 * PAGE, RW);
	int lz = lazy_create(self->dev, 8 * PAGE, RW);

	ASSERT_GE(fd, 0);
	ASSERT_GE(lz, 0);
	info = region_info(fd);
	EXPECT_EQ(4 * PAGE, info.size);
	EXPECT_EQ(RW, info.prot);
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(0U, info.reserved[0]);
	EXPECT_EQ(0U, info.reserved[1]);
	EXPECT_EQ(4U, info.resident_pages);

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, ioctl(fd, INFO_V2_0, buf));
	memcpy(&old, buf, sizeof(old));
	EXPECT_EQ(4 * PAGE, old.size);
	EXPECT_EQ(RW, old.prot);
	EXPECT_EQ(0U, old.flags);
	EXPECT_EQ(0U, old.reserved[0]);
	for (size_t i = sizeof(old); i < sizeof(buf); i++) {
		EXPECT_EQ(0xa5, buf[i]) TH_LOG("byte %zu past the old struct written", i);
	}

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, ioctl(lz, INFO_V2_0, buf));
	memcpy(&old, buf, sizeof(old));
	EXPECT_EQ(8 * PAGE, old.size);
	EXPECT_EQ((uint32_t)SNAPVM_REGION_LAZY, old.flags);
	EXPECT_EQ(0xa5, buf[sizeof(old)]);
	info = region_info(lz);
	EXPECT_EQ((uint32_t)SNAPVM_REGION_LAZY, info.flags);
	EXPECT_EQ(0U, info.resident_pages);
	EXPECT_EQ(EFAULT, err_of(ioctl(lz, SNAPVM_REGION_INFO, NULL)));
	EXPECT_EQ(EFAULT, err_of(ioctl(lz, INFO_V2_0, NULL)));
	/* Another size of the same number is no INFO. */
	EXPECT_EQ(ENOTTY, err_of(ioctl(lz, _IOR(SNAPVM_IOCTL_MAGIC, 0x10, uint64_t), buf)));
	close(fd);
	close(lz);
}

/* ---- lazy regions ---- */

/* A lazy region costs nothing at create: not a page, not VmPin, not the
 * RLIMIT_MEMLOCK it would exceed if it were not lazy. */
TEST_F(lazy, create_costs_nothing)
{
	long vmpin = status_kb("VmPin");
	int fd = lazy_create(self->dev, 256 * PAGE, RW);
	pid_t pid;

	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, resident(fd));
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
	EXPECT_EQ(vmpin, status_kb("VmPin"));
	close(fd);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		int big;

		CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &limit) == 0, "setrlimit");
		CHILD_CHECK(drop_cap_ipc_lock() == 0, "dropping CAP_IPC_LOCK");
		CHILD_CHECK(region_create(self->dev, 32 * PAGE, RW) < 0 && errno == ENOMEM,
			    "128 kB not lazy > 64 kB limit");
		big = lazy_create(self->dev, 1024 * PAGE, RW);
		CHILD_CHECK(big >= 0, "4 MiB lazy with a 64 kB limit");
		CHILD_CHECK(resident(big) == 0, "nothing resident");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
}

/* A fault (read or write), a pwrite and a RESTORE each make one page, charged
 * once: pinned_pages, VmPin and resident_pages grow by one. A pread, a
 * second touch and a RESTORE_ZERO of a page never touched cost nothing. */
TEST_F(lazy, first_touch_charges_one_page_each)
{
	unsigned char buf[PAGE];
	long pinned = self->pinned_at_start, vmpin = status_kb("VmPin");
	uint64_t bitmap;
	int fd = lazy_create(self->dev, 16 * PAGE, RW);
	int src = sealed_source(self->dev, 16, RW);
	char *map;

	ASSERT_GE(fd, 0);
	ASSERT_GE(src, 0);
	pinned += 16;
	vmpin += 64;
	ASSERT_EQ(pinned, pinned_pages());
	map = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, resident(fd)) TH_LOG("mmap touches nothing");

	/* pread of pages never touched: zeroes, nothing made. */
	memset(buf, 0xff, sizeof(buf));
	ASSERT_EQ((ssize_t)PAGE, pread(fd, buf, PAGE, 0));
	EXPECT_TRUE(all_zero(buf, PAGE));
	ASSERT_EQ((ssize_t)PAGE, pread(fd, buf, PAGE, 15 * PAGE));
	EXPECT_TRUE(all_zero(buf, PAGE));
	EXPECT_EQ(0, resident(fd));
	EXPECT_EQ(pinned, pinned_pages());

	/* A read fault. */
	EXPECT_EQ(0, map[0]);
	EXPECT_EQ(1, resident(fd));
	EXPECT_EQ(pinned + 1, pinned_pages());
	EXPECT_EQ(vmpin + 4, status_kb("VmPin"));
	EXPECT_EQ(0, map[100]);
	EXPECT_EQ(1, resident(fd)) TH_LOG("the second touch costs nothing");
	/* A write fault. */
	map[PAGE + 5] = 'w';
	EXPECT_EQ(2, resident(fd));
	EXPECT_EQ(pinned + 2, pinned_pages());
	EXPECT_EQ(vmpin + 8, status_kb("VmPin"));
	EXPECT_EQ('w', byte_at(fd, PAGE + 5));
	/* A pwrite, seen by the mapping. */
	ASSERT_EQ(1, pwrite(fd, "p", 1, 2 * PAGE + 7));
	EXPECT_EQ(3, resident(fd));
	EXPECT_EQ('p', map[2 * PAGE + 7]);
	EXPECT_EQ(3, resident(fd));
	/* RESTORE_ZERO of a page never touched: nothing to do, nothing made. */
	bitmap = 1ULL << 3;
	EXPECT_EQ(0, region_restore(fd, SNAPVM_RESTORE_ZERO, &bitmap, 0, 16));
	EXPECT_EQ(3, resident(fd));
	/* RESTORE from a sealed region makes the page, with its content. */
	EXPECT_EQ(1, region_restore(fd, src, &bitmap, 0, 16));
	EXPECT_EQ(4, resident(fd));
	EXPECT_EQ(fill_byte(3), page_byte(fd, 3));
	EXPECT_EQ(fill_byte(3), map[3 * PAGE + 100]);
	/* RESTORE_ZERO of pages that are there zeroes them, and counts. */
	bitmap = 0xf;
	EXPECT_EQ(4, region_restore(fd, SNAPVM_RESTORE_ZERO, &bitmap, 0, 16));
	EXPECT_EQ(0, page_byte(fd, 3));
	EXPECT_EQ(0, map[PAGE + 5]);
	EXPECT_EQ(4, resident(fd));
	EXPECT_EQ(pinned + 4, pinned_pages());
	EXPECT_EQ(vmpin + 16, status_kb("VmPin"));
	/* A MAP_PRIVATE read of a page never touched makes it too. */
	munmap(map, 16 * PAGE);
	map = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 8 * PAGE);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, map[0]);
	EXPECT_EQ(5, resident(fd));
	munmap(map, PAGE);

	close(fd);
	EXPECT_EQ(pinned, pinned_pages());
	EXPECT_EQ(vmpin, status_kb("VmPin"));
	close(src);
	EXPECT_EQ(vmpin - 64, status_kb("VmPin"));
}

/* Once a lazy region can no longer be written (sealed, or made without
 * WRITE), a page it never touched stays the zero page for good: reading it
 * through any mapping costs nothing. */
TEST_F(lazy, holes_of_a_sealed_lazy_region_cost_nothing)
{
	int fd = lazy_create(self->dev, 8 * PAGE, RW);
	int ro = lazy_create(self->dev, 8 * PAGE, SNAPVM_PROT_READ), dst;
	unsigned char *map, *priv;
	uint64_t bitmap = 1;

	ASSERT_GE(fd, 0);
	ASSERT_GE(ro, 0);
	ASSERT_EQ(1, pwrite(fd, "s", 1, 2 * PAGE));
	ASSERT_EQ(0, region_seal(fd));
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_SEALED), region_info(fd).flags);
	map = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_TRUE(all_zero(map, 2 * PAGE));
	EXPECT_EQ('s', map[2 * PAGE]);
	EXPECT_TRUE(all_zero(map + 3 * PAGE, 5 * PAGE));
	EXPECT_EQ(1, resident(fd));
	EXPECT_EQ(self->pinned_at_start + 1, pinned_pages());
	/* A private copy of the zero page is the mapping's, not the region's. */
	priv = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, priv);
	priv[0] = 'x';
	EXPECT_EQ(0, map[0]);
	EXPECT_EQ(0, byte_at(fd, 0));
	munmap(priv, PAGE);
	EXPECT_EQ(EPERM, err_of(pwrite(fd, "x", 1, 0)));
	EXPECT_EQ(EPERM, err_of(region_restore(fd, SNAPVM_RESTORE_ZERO, &bitmap, 0, 1)));
	EXPECT_EQ(1, resident(fd));
	munmap(map, 8 * PAGE);

	map = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_TRUE(all_zero(map, 8 * PAGE));
	EXPECT_EQ(0, resident(ro));
	munmap(map, 8 * PAGE);
	/* A sealed lazy region is a RESTORE source like any other. */
	dst = region_create(self->dev, 8 * PAGE, RW);
	ASSERT_GE(dst, 0);
	ASSERT_EQ(8, pwrite(dst, "xxxxxxxx", 8, 0));
	bitmap = 0x5;
	EXPECT_EQ(2, region_restore(dst, fd, &bitmap, 0, 8));
	EXPECT_EQ(0, page_byte(dst, 0));
	EXPECT_EQ('s', byte_at(dst, 2 * PAGE));
	close(dst);
	close(fd);
	close(ro);
}

static sigjmp_buf sigbus_jump;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jump, 1);
}

/*
 * A touch past RLIMIT_MEMLOCK (without CAP_IPC_LOCK) fails: SIGBUS for a
 * fault, ENOMEM for pwrite and RESTORE. The pages made before stay; nothing
 * is charged for the failures, and closing gives all of it back.
 */
static void limit_at_touch(struct __test_metadata *_metadata, int dev, uid_t uid)
{
	long pinned = pinned_pages();
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		volatile int touched = 0;
		uint64_t bitmap = 1ULL << 20;
		int fd, again;
		char *map;

		CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &limit) == 0, "setrlimit");
		if (uid)
			CHILD_CHECK(setgroups(0, NULL) == 0 && setresgid(uid, uid, uid) == 0 &&
					setresuid(uid, uid, uid) == 0,
				    "setresuid");
		else
			CHILD_CHECK(drop_cap_ipc_lock() == 0, "dropping CAP_IPC_LOCK");
		fd = lazy_create(dev, 64 * PAGE, RW);
		CHILD_CHECK(fd >= 0, "lazy 256 kB");
		map = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHILD_CHECK(map != MAP_FAILED, "mmap");
		signal(SIGBUS, on_sigbus);
		if (!sigsetjmp(sigbus_jump, 1)) {
			for (; touched < 64; touched++)
				map[touched * PAGE] = 1;
		}
		CHILD_CHECK(touched == 16, "the 17th fault is SIGBUS, not %d", touched);
		CHILD_CHECK(resident(fd) == 16, "16 resident, not %ld", resident(fd));
		CHILD_CHECK(pinned_pages() == pinned + 16, "16 pinned");
		CHILD_CHECK(pwrite(fd, "x", 1, 40 * PAGE) == -1 && errno == ENOMEM,
			    "pwrite past the limit: ENOMEM");
		CHILD_CHECK(region_restore(fd, SNAPVM_RESTORE_ZERO, &bitmap, 0, 64) == 0,
			    "RESTORE_ZERO of a page not there needs nothing");
		again = sealed_source(dev, 64, RW);
		CHILD_CHECK(again < 0 && errno == ENOMEM, "no room for 64 more");
		CHILD_CHECK(pwrite(fd, "y", 1, 3 * PAGE) == 1, "a page already there");
		CHILD_CHECK(resident(fd) == 16, "still 16");
		/* The same for a clone: its first write is a touch. */
		CHILD_CHECK(munmap(map, 64 * PAGE) == 0, "munmap");
		close(fd);
		CHILD_CHECK(pinned_pages() == pinned, "all given back");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(pinned, pinned_pages());
}

TEST_F(lazy, rlimit_at_touch_as_root_without_cap_ipc_lock)
{
	limit_at_touch(_metadata, self->dev, 0);
}

TEST_F(lazy, rlimit_at_touch_as_nobody)
{
	limit_at_touch(_metadata, self->dev, NOBODY);
}

/* max_total_mb counts a lazy page at its touch, a clone's at its write. */
TEST_F(lazy, max_total_mb_at_touch)
{
	long max_total_mb = param_read("max_total_mb");
	long pinned = pinned_pages();
	long cap_mb = (pinned + 255) / 256 + 1;
	long room = cap_mb * 256 - pinned;
	int src = sealed_source(self->dev, 2, RW), fd, c;

	ASSERT_GT(max_total_mb, 0);
	ASSERT_GE(src, 0);
	pinned += 2;
	room -= 2;
	fd = lazy_create(self->dev, (room + 64) * PAGE, RW);
	ASSERT_GE(fd, 0);
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, param_write("max_total_mb", cap_mb));
	for (long i = 0; i < room - 1; i++) {
		ASSERT_EQ(1, pwrite(fd, "t", 1, i * PAGE)) TH_LOG("page %ld of %ld", i, room);
	}
	EXPECT_EQ(1, pwrite(c, "c", 1, 0)) TH_LOG("the last page under the cap");
	EXPECT_EQ(ENOMEM, err_of(pwrite(fd, "t", 1, room * PAGE)));
	EXPECT_EQ(ENOMEM, err_of(pwrite(c, "c", 1, PAGE)));
	EXPECT_EQ(pinned + room, pinned_pages());
	EXPECT_EQ(room - 1, resident(fd));
	EXPECT_EQ(1, resident(c));
	close(c);
	EXPECT_EQ(1, pwrite(fd, "t", 1, room * PAGE)) TH_LOG("the clone's page came back");
	ASSERT_EQ(0, param_write("max_total_mb", max_total_mb));
	close(fd);
	close(src);
}

/*
 * A lazy region's pages are charged to its creator's memory cgroup at their
 * touch, even when another process (outside the cgroup) touches them; a
 * touch the cgroup cannot hold is ENOMEM (pwrite) or SIGBUS (a fault),
 * never an OOM kill.
 */
TEST_F(lazy, memcg_is_charged_at_touch_and_its_limit_is_no_oom_kill)
{
	char root[] = "/tmp/snapvm-lazy-cgroup.XXXXXX", cg[PATH_MAX];
	int sv[2], status;
	pid_t pid;
	long before, after;
	int fd;

	ASSERT_NE(NULL, mkdtemp(root));
	if (mount("none", root, "cgroup2", 0, NULL)) {
		rmdir(root);
		/* The test VM's kernel has cgroup2 and its memory controller:
		 * without them the VM is broken, a failure, not a skip. */
		ASSERT_TRUE(0) TH_LOG("cannot mount cgroup2: %s", strerror(errno));
	}
	snprintf(cg, sizeof(cg), "%s/snapvm-lazy", root);
	if (cg_write(root, "cgroup.subtree_control", "+memory") || mkdir(cg, 0755)) {
		umount(root);
		rmdir(root);
		ASSERT_TRUE(0) TH_LOG("no memory controller in cgroup2");
	}
	ASSERT_EQ(0, cg_write(cg, "memory.max", "16777216"));
	cg_write(cg, "memory.swap.max", "0");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));

	/* The child joins the cgroup, creates 32 MiB lazily and hands it over. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char cbuf[CMSG_SPACE(sizeof(int))] = {0}, byte = 0;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		int region;

		CHILD_CHECK(cg_write(cg, "cgroup.procs", "0") == 0, "joining the cgroup");
		region = lazy_create(self->dev, 32 << 20, RW);
		CHILD_CHECK(region >= 0, "32 MiB lazy in a 16 MiB cgroup");
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &region, sizeof(int));
		CHILD_CHECK(sendmsg(sv[1], &msg, 0) == 1, "sendmsg");
		_exit(0);
	}
	{
		char cbuf[CMSG_SPACE(sizeof(int))], byte;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf)};

		ASSERT_EQ(1, recvmsg(sv[0], &msg, 0));
		ASSERT_NE(NULL, CMSG_FIRSTHDR(&msg));
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	}
	EXPECT_EQ(0, wait_status(pid));

	/* This process is not in the cgroup: its touches are charged there. */
	before = cg_read(cg, "memory.current", NULL);
	for (int i = 0; i < 1024; i++)
		ASSERT_EQ(1, pwrite(fd, "m", 1, (off_t)i * PAGE));
	after = cg_read(cg, "memory.current", NULL);
	EXPECT_TRUE(after - before >= 4 << 20 && after - before < 5 << 20)
	TH_LOG("memory.current grew by %ld, not by the 4 MiB touched", after - before);
	/* Past the cgroup's 16 MiB: ENOMEM, then SIGBUS for a fault. */
	{
		long i = 1024, made, *faults;

		while (i < 8192 && pwrite(fd, "m", 1, i * PAGE) == 1)
			i++;
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_LT(i, 4096) TH_LOG("%ld pages in a 16 MiB cgroup", i);
		made = resident(fd);
		EXPECT_EQ(i, made);
		/* A fault past the limit: SIGBUS, within a charge batch or so
		 * (the cgroup's per-CPU charge stock may hold a few pages). */
		faults = mmap(NULL, sizeof(*faults), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, faults);
		*faults = 0;
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			char *map = mmap(NULL, 32 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			CHILD_CHECK(map != MAP_FAILED, "mmap");
			for (long j = i; j < 8192; j++, (*faults)++)
				map[j * PAGE] = 1;
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("status %#x", status);
		EXPECT_LT(*faults, 128);
		EXPECT_EQ(made + *faults, resident(fd));
		munmap(faults, sizeof(*faults));
	}
	close(fd);
	EXPECT_EQ(0, cg_read(cg, "memory.events", "oom_kill"));
	EXPECT_EQ(0, cg_read(cg, "memory.events", "oom"));
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
	close(sv[0]);
	close(sv[1]);
	rmdir(cg);
	umount(root);
	rmdir(root);
}

TEST_HARNESS_MAIN
