// SPDX-License-Identifier: GPL-2.0
/*
 * module_lazy_test.c - snapvm.ko's lazy regions and private clones: feature
 * bits and both INFO sizes; a lazy region costs nothing until a fault, a
 * pwrite or a RESTORE touches a page, which is then charged exactly once;
 * running out of RLIMIT_MEMLOCK at a touch (SIGBUS, ENOMEM) leaks nothing;
 * clones read as their sealed source until they write, each write giving the
 * clone (and every mapping of it, and KVM) a page of its own; SEAL and
 * RESTORE on clones; racing first touches; as root and as nobody. Runs as
 * root inside the test VM (tests/vm/run).
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

#define NOBODY 65534
#define RWX    (SNAPVM_PROT_READ | SNAPVM_PROT_WRITE | SNAPVM_PROT_EXEC)

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

FIXTURE(lazy)
{
	int dev;
	long pinned_at_start;
};

FIXTURE_SETUP(lazy)
{
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/snapvm: %s", strerror(errno));
	self->pinned_at_start = pinned_pages();
	ASSERT_GE(self->pinned_at_start, 0);
}

FIXTURE_TEARDOWN(lazy)
{
	EXPECT_EQ(self->pinned_at_start, pinned_pages()) TH_LOG("pages leaked");
	close(self->dev);
}

static int lazy_create(int dev, uint64_t size, uint32_t prot)
{
	struct snapvm_region_create args = {
	    .size = size, .prot = prot, .flags = SNAPVM_CREATE_LAZY};

	return ioctl(dev, SNAPVM_CREATE_REGION, &args);
}

static int region_clone(int fd, uint32_t prot)
{
	struct snapvm_region_clone args = {.prot = prot};

	return ioctl(fd, SNAPVM_REGION_CLONE, &args);
}

/* errno of a CLONE with @args (0 if it worked; the clone is closed). */
static int clone_errno(int fd, struct snapvm_region_clone args)
{
	int c = ioctl(fd, SNAPVM_REGION_CLONE, &args);

	if (c < 0)
		return errno;
	close(c);
	return 0;
}

static long resident(int fd)
{
	return (long)region_info(fd).resident_pages;
}

static int fill_byte(size_t i)
{
	return 'a' + (int)(i % 26);
}

/* A sealed region of @npages, page i all fill_byte(i). */
static int sealed_source(int dev, size_t npages, uint32_t prot)
{
	int fd = region_create(dev, npages * PAGE, prot);

	if (fd < 0)
		return -1;
	if (region_fill(fd, npages, fill_byte) || region_seal(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint64_t hash_region(int fd, size_t size)
{
	unsigned char buf[4096];
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t off = 0; off < size; off += sizeof(buf)) {
		if (pread(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			return 0;
		for (size_t i = 0; i < sizeof(buf); i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	}
	return h;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Can root without CAP_IPC_LOCK, with a 64 kB RLIMIT_MEMLOCK, pin 16 pages
 * now, i.e. does root's locked_vm hold nothing? (A fresh child.) */
static int can_pin_16(int dev)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		int fd;

		if (setrlimit(RLIMIT_MEMLOCK, &limit) || drop_cap_ipc_lock())
			_exit(3);
		fd = region_create(dev, 16 * PAGE, RW);
		_exit(fd >= 0 ? 0 : errno == ENOMEM ? 2 : 3);
	}
	return wait_status(pid);
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

/* ---- clones ---- */

TEST_F(lazy, clone_reads_as_its_source_until_it_writes)
{
	int src = sealed_source(self->dev, 8, RW), c1, c2;
	uint64_t src_hash = hash_region(src, 8 * PAGE);
	unsigned char *m1, *m2, *m3, *view, *priv;
	struct snapvm_region_info info;
	long pinned;

	ASSERT_GE(src, 0);
	pinned = pinned_pages();
	c1 = region_clone(src, RW);
	c2 = region_clone(src, RW);
	ASSERT_GE(c1, 0) TH_LOG("CLONE: %s", strerror(errno));
	ASSERT_GE(c2, 0);
	EXPECT_TRUE(fcntl(c1, F_GETFD) & FD_CLOEXEC);
	info = region_info(c1);
	EXPECT_EQ(8 * PAGE, info.size);
	EXPECT_EQ(RW, info.prot);
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_CLONED), info.flags);
	EXPECT_EQ(0U, info.resident_pages);
	EXPECT_EQ(src_hash, hash_region(c1, 8 * PAGE));
	EXPECT_EQ(pinned, pinned_pages());

	m1 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c1, 0);
	m2 = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, c1, 0);
	m3 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c2, 0);
	view = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, src, 0);
	ASSERT_NE(MAP_FAILED, m1);
	ASSERT_NE(MAP_FAILED, m2);
	ASSERT_NE(MAP_FAILED, m3);
	ASSERT_NE(MAP_FAILED, view);
	/* Every page read through every mapping: the source's, no cost. */
	for (int i = 0; i < 8; i++) {
		EXPECT_EQ(fill_byte(i), m1[i * PAGE + 1]);
		EXPECT_EQ(fill_byte(i), m2[i * PAGE + 2]);
		EXPECT_EQ(fill_byte(i), m3[i * PAGE + 3]);
	}
	EXPECT_EQ(0, resident(c1));
	EXPECT_EQ(pinned, pinned_pages());

	/* The write: c1's own page, seen by both of its mappings and pread. */
	m1[2 * PAGE + 10] = '!';
	EXPECT_EQ('!', m1[2 * PAGE + 10]);
	EXPECT_EQ('!', m2[2 * PAGE + 10]) TH_LOG("the other mapping kept the source's page");
	EXPECT_EQ('!', byte_at(c1, 2 * PAGE + 10));
	EXPECT_EQ(fill_byte(2), m1[2 * PAGE + 11]) TH_LOG("the page is a copy");
	EXPECT_EQ(1, resident(c1));
	EXPECT_EQ(pinned + 1, pinned_pages());
	/* The source and the other clone did not change. */
	EXPECT_EQ(fill_byte(2), view[2 * PAGE + 10]);
	EXPECT_EQ(fill_byte(2), m3[2 * PAGE + 10]);
	EXPECT_EQ(src_hash, hash_region(src, 8 * PAGE));
	EXPECT_EQ(src_hash, hash_region(c2, 8 * PAGE));
	EXPECT_EQ(0, resident(c2));
	/* A second write to the page: no new page. */
	m1[2 * PAGE + 12] = '?';
	EXPECT_EQ('?', m2[2 * PAGE + 12]);
	EXPECT_EQ(1, resident(c1));
	/* pwrite is a first write too, seen by the mappings. */
	ASSERT_EQ(1, pwrite(c1, "p", 1, 5 * PAGE));
	EXPECT_EQ('p', m1[5 * PAGE]);
	EXPECT_EQ('p', m2[5 * PAGE]);
	EXPECT_EQ(fill_byte(5), m1[5 * PAGE + 1]);
	EXPECT_EQ(2, resident(c1));
	/* c2 writes the same page: its own page, c1's unchanged. */
	m3[2 * PAGE + 10] = '#';
	EXPECT_EQ('!', m2[2 * PAGE + 10]);
	EXPECT_EQ('#', byte_at(c2, 2 * PAGE + 10));
	EXPECT_EQ(1, resident(c2));
	EXPECT_EQ(pinned + 3, pinned_pages());
	EXPECT_EQ(src_hash, hash_region(src, 8 * PAGE));

	/* A private mapping of the clone reads its current content; its
	 * writes stay its own. */
	priv = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, c1, 0);
	ASSERT_NE(MAP_FAILED, priv);
	EXPECT_EQ('!', priv[2 * PAGE + 10]);
	EXPECT_EQ(fill_byte(3), priv[3 * PAGE]);
	priv[3 * PAGE] = 'q';
	priv[2 * PAGE] = 'q';
	EXPECT_EQ(fill_byte(3), m1[3 * PAGE]);
	EXPECT_EQ(fill_byte(2), m1[2 * PAGE]);
	EXPECT_EQ(2, resident(c1));
	munmap(priv, 8 * PAGE);

	/* Read-only first, then widened by mprotect: the entries mapping the
	 * source's pages stay read-only, and the write still makes a page. */
	priv = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, c1, 0);
	ASSERT_NE(MAP_FAILED, priv);
	EXPECT_EQ(fill_byte(6), priv[6 * PAGE]);
	ASSERT_EQ(0, mprotect(priv, 8 * PAGE, PROT_READ | PROT_WRITE));
	priv[6 * PAGE] = 'm';
	EXPECT_EQ('m', m2[6 * PAGE]);
	EXPECT_EQ(fill_byte(6), view[6 * PAGE]);
	EXPECT_EQ(3, resident(c1));
	munmap(priv, 8 * PAGE);

	munmap(m1, 8 * PAGE);
	munmap(m2, 8 * PAGE);
	munmap(m3, 8 * PAGE);
	munmap(view, 8 * PAGE);
	close(c1);
	EXPECT_EQ(pinned + 1, pinned_pages());
	close(c2);
	EXPECT_EQ(pinned, pinned_pages());
	close(src);
}

TEST_F(lazy, clone_rejects_bad_arguments)
{
	int unsealed = region_create(self->dev, 2 * PAGE, RW);
	int src = sealed_source(self->dev, 2, RW);
	int xsrc = sealed_source(self->dev, 2, RWX);
	struct snapvm_region_clone args = {.prot = RW};
	int ro, c;

	ASSERT_GE(unsealed, 0);
	ASSERT_GE(src, 0);
	ASSERT_GE(xsrc, 0);
	EXPECT_EQ(EINVAL, clone_errno(unsealed, args)) TH_LOG("an unsealed source");
	args.prot = SNAPVM_PROT_WRITE;
	EXPECT_EQ(EINVAL, clone_errno(src, args)) TH_LOG("prot without READ");
	args.prot = RW | (1U << 3);
	EXPECT_EQ(EINVAL, clone_errno(src, args)) TH_LOG("unknown prot bit");
	args.prot = RWX;
	EXPECT_EQ(EINVAL, clone_errno(src, args)) TH_LOG("EXEC the source lacks");
	EXPECT_EQ(0, clone_errno(xsrc, args)) TH_LOG("EXEC the source has");
	args.prot = RW;
	args.flags = 1;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.flags = 1U << 31;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.flags = 0;
	args.reserved[0] = 1;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.reserved[0] = 0;
	args.reserved[1] = 1;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.reserved[1] = 0;
	EXPECT_EQ(EFAULT, err_of(ioctl(src, SNAPVM_REGION_CLONE, NULL)));
	EXPECT_EQ(0, clone_errno(src, args));
	/* A read-only fd of the sealed source is enough; READ alone is fine. */
	ro = ioctl(src, SNAPVM_REGION_DUP_READONLY, 0);
	ASSERT_GE(ro, 0);
	c = region_clone(ro, RW);
	ASSERT_GE(c, 0);
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_CLONED), region_info(c).flags);
	EXPECT_EQ(1, pwrite(c, "w", 1, 0));
	close(c);
	c = region_clone(ro, SNAPVM_PROT_READ);
	ASSERT_GE(c, 0);
	EXPECT_EQ(EPERM, err_of(pwrite(c, "w", 1, 0)));
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, 0));
	EXPECT_EQ(fill_byte(1), page_byte(c, 1));
	close(c);
	/* A clone without EXEC cannot be mapped executable, even of an EXEC source. */
	c = region_clone(xsrc, RW);
	ASSERT_GE(c, 0);
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, 0));
	close(c);
	close(ro);
	close(unsealed);
	close(src);
	close(xsrc);
}

/* The clone holds its source: closed first, every fd of it, the source's
 * pages stay (and count) until the clone goes. */
TEST_F(lazy, clone_outlives_the_source_fd)
{
	int src = sealed_source(self->dev, 4, RW), c;
	unsigned char *map;

	ASSERT_GE(src, 0);
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	close(src);
	EXPECT_EQ(self->pinned_at_start + 4, pinned_pages());
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(fill_byte(i), page_byte(c, i));
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(fill_byte(1), map[PAGE]);
	map[PAGE] = 'z';
	EXPECT_EQ(self->pinned_at_start + 5, pinned_pages());
	close(c);
	/* The mapping holds the clone, and through it the source. */
	EXPECT_EQ('z', map[PAGE]);
	EXPECT_EQ(fill_byte(3), map[3 * PAGE]);
	EXPECT_EQ(self->pinned_at_start + 5, pinned_pages());
	munmap(map, 4 * PAGE);
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
}

/* SEAL works on a clone: its own pages are checked, its shared ones were
 * never writable; then it changes no more, and can be cloned again. */
TEST_F(lazy, seal_of_a_clone)
{
	int src = sealed_source(self->dev, 4, RW), c, cc;
	unsigned char *map;
	uint64_t bitmap = 0xf, h;
	long pinned;

	ASSERT_GE(src, 0);
	pinned = pinned_pages();
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 'c';
	EXPECT_EQ(fill_byte(2), map[2 * PAGE]);
	EXPECT_EQ(EBUSY, err_of(region_seal(c))) TH_LOG("a shared writable mapping exists");
	munmap(map, 4 * PAGE);
	EXPECT_EQ(0, region_seal(c));
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_CLONED | SNAPVM_REGION_SEALED),
		  region_info(c).flags);
	EXPECT_EQ((uint32_t)SNAPVM_PROT_READ, region_info(c).prot);
	h = hash_region(c, 4 * PAGE);
	EXPECT_EQ(EPERM, err_of(pwrite(c, "x", 1, PAGE)));
	EXPECT_EQ(EPERM, err_of(region_restore(c, SNAPVM_RESTORE_ZERO, &bitmap, 0, 4)));
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	map = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ('c', map[0]);
	EXPECT_EQ(fill_byte(3), map[3 * PAGE]);
	EXPECT_EQ(-1, mprotect(map, 4 * PAGE, PROT_READ | PROT_WRITE));
	munmap(map, 4 * PAGE);
	EXPECT_EQ(1, resident(c));
	EXPECT_EQ(h, hash_region(c, 4 * PAGE));

	/* A clone of the sealed clone reads as it, and writes its own. */
	cc = region_clone(c, RW);
	ASSERT_GE(cc, 0) TH_LOG("clone of a sealed clone: %s", strerror(errno));
	EXPECT_EQ(h, hash_region(cc, 4 * PAGE));
	ASSERT_EQ(1, pwrite(cc, "d", 1, 0));
	ASSERT_EQ(1, pwrite(cc, "e", 1, 3 * PAGE));
	EXPECT_EQ(fill_byte(0), byte_at(cc, 1));
	EXPECT_EQ('d', byte_at(cc, 0));
	EXPECT_EQ('e', byte_at(cc, 3 * PAGE));
	EXPECT_EQ(fill_byte(3), byte_at(cc, 3 * PAGE + 1));
	EXPECT_EQ(h, hash_region(c, 4 * PAGE));
	EXPECT_EQ(2, resident(cc));
	/* Restored from its source (the sealed clone): shared pages skipped. */
	EXPECT_EQ(2, region_restore(cc, c, &bitmap, 0, 4));
	EXPECT_EQ(h, hash_region(cc, 4 * PAGE));
	/* Restored from the source of its source: page 0 differs there. */
	EXPECT_EQ(2, region_restore(cc, src, &bitmap, 0, 4))
	TH_LOG("its own pages 0 and 3; pages 1 and 2 already read as src's");
	EXPECT_EQ(fill_byte(0), byte_at(cc, 0));
	EXPECT_EQ(pinned + 3, pinned_pages());
	close(c);
	close(src);
	EXPECT_EQ(pinned + 3, pinned_pages()) TH_LOG("the chain is held by the last clone");
	close(cc);
	EXPECT_EQ(pinned - 4, pinned_pages());
}

/* RESTORE of a clone from its own source copies only the pages it has of
 * its own (and keeps them); pages it still shares already are the source's. */
TEST_F(lazy, restore_of_a_clone_from_its_source_skips_shared_pages)
{
	int src = sealed_source(self->dev, 8, RW), other = sealed_source(self->dev, 8, RW), c;
	int lz = lazy_create(self->dev, 8 * PAGE, RW), lzsrc;
	uint64_t all = 0xff, h;
	long pinned;

	ASSERT_GE(src, 0);
	ASSERT_GE(other, 0);
	ASSERT_GE(lz, 0);
	ASSERT_EQ(1, pwrite(lz, "L", 1, 6 * PAGE));
	ASSERT_EQ(0, region_seal(lz));
	lzsrc = lz;
	h = hash_region(src, 8 * PAGE);
	pinned = pinned_pages();
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	ASSERT_EQ(1, pwrite(c, "1", 1, PAGE));
	ASSERT_EQ(1, pwrite(c, "3", 1, 3 * PAGE));
	EXPECT_EQ(2, resident(c));
	EXPECT_EQ(2, region_restore(c, src, &all, 0, 8));
	EXPECT_EQ(h, hash_region(c, 8 * PAGE));
	EXPECT_EQ(2, resident(c)) TH_LOG("the working set stays");
	EXPECT_EQ(pinned + 2, pinned_pages());
	EXPECT_EQ(2, region_restore(c, src, &all, 0, 8));
	/* From another region: every page differs from the shared one's. */
	all = 0x1;
	EXPECT_EQ(1, region_restore(c, other, &all, 0, 8))
	TH_LOG("other has the same bytes, but is another page");
	EXPECT_EQ(3, resident(c));
	/* RESTORE_ZERO: a shared page with bytes needs a page of zeroes. */
	all = 0x4;
	EXPECT_EQ(1, region_restore(c, SNAPVM_RESTORE_ZERO, &all, 0, 8));
	EXPECT_EQ(0, page_byte(c, 2));
	EXPECT_EQ(4, resident(c));
	EXPECT_EQ(h, hash_region(src, 8 * PAGE));
	close(c);

	/* A clone of a sealed lazy region: its holes read as zero, and
	 * RESTORE_ZERO of them (and of the page the clone shares with it,
	 * restored from the source) needs nothing. */
	c = region_clone(lzsrc, RW);
	ASSERT_GE(c, 0);
	EXPECT_EQ('L', byte_at(c, 6 * PAGE));
	EXPECT_EQ(0, page_byte(c, 0));
	all = 0xbf;
	EXPECT_EQ(0, region_restore(c, SNAPVM_RESTORE_ZERO, &all, 0, 8));
	all = 0xff;
	EXPECT_EQ(0, region_restore(c, lzsrc, &all, 0, 8));
	EXPECT_EQ(0, resident(c));
	ASSERT_EQ(1, pwrite(c, "h", 1, 0));
	EXPECT_EQ(1, resident(c));
	EXPECT_EQ(1, resident(lzsrc)) TH_LOG("the source made no page for the clone");
	EXPECT_EQ(0, byte_at(lzsrc, 0));
	EXPECT_EQ(1, region_restore(c, lzsrc, &all, 0, 8));
	EXPECT_EQ(0, byte_at(c, 0));
	close(c);
	close(lzsrc);
	close(src);
	close(other);
}

/* ---- KVM ---- */

/* Guest code (16-bit real mode) at GPA 0x1000 of the source. */
static const uint8_t guest_code[] = {
    0x66, 0xa1, 0x00, 0x20,				  /* mov 0x2000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x00, 0x40,				  /* mov 0x4000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x00, 0x30,				  /* mov 0x3000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xc7, 0x06, 0x00, 0x30, 0x0d, 0xf0, 0xfe, 0xca, /* movl $0xcafef00d, 0x3000 */
    0x66, 0xa1, 0x00, 0x30,				  /* mov 0x3000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x00, 0x40,				  /* mov 0x4000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0xf4,						  /* hlt */
};

/*
 * A clone as guest memory: the guest reads the source's pages through it;
 * its write to a page it read before gives the clone its own page, which the
 * host's mappings and pread see while the source stays; a pwrite to a page
 * the guest has mapped (the source's, read-only) reaches the guest too.
 */
TEST_F(lazy, kvm_sees_the_clone_and_the_clone_sees_kvm)
{
	const size_t size = 8 * PAGE;
	const uint32_t v2 = 0x22222222, v3 = 0x33333333, v4 = 0x44444444, p4 = 0x600dcafe;
	struct guest g = {0};
	uint32_t value;
	unsigned char *map, *ro;
	int src, c;

	src = region_create(self->dev, size, RW);
	ASSERT_GE(src, 0);
	ASSERT_EQ((ssize_t)sizeof(guest_code), pwrite(src, guest_code, sizeof(guest_code), 0x1000));
	ASSERT_EQ(4, pwrite(src, &v2, 4, 0x2000));
	ASSERT_EQ(4, pwrite(src, &v3, 4, 0x3000));
	ASSERT_EQ(4, pwrite(src, &v4, 4, 0x4000));
	ASSERT_EQ(0, region_seal(src));
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	ro = mmap(NULL, size, PROT_READ, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_NE(MAP_FAILED, ro);
	/* The host maps the source's page 3 in both mappings first. */
	EXPECT_EQ(v3, *(uint32_t *)(map + 0x3000));
	EXPECT_EQ(v3, *(uint32_t *)(ro + 0x3000));

	ASSERT_EQ(0, guest_create(&g)) TH_LOG("KVM set-up: %s", strerror(errno));
	ASSERT_EQ(0, guest_slot(&g, 0, 0, map, size, 0))
	TH_LOG("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(v2, guest_out_value(&g));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(v4, guest_out_value(&g));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(v3, guest_out_value(&g));
	EXPECT_EQ(0, resident(c)) TH_LOG("guest reads cost nothing");
	/* The guest mapped page 4 (the source's): a pwrite replaces it. */
	ASSERT_EQ(4, pwrite(c, &p4, 4, 0x4000));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0xcafef00d, guest_out_value(&g)) TH_LOG("the guest reads its write back");
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(p4, guest_out_value(&g)) TH_LOG("the guest sees the clone's new page 4");
	ASSERT_EQ(KVM_EXIT_HLT, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);

	EXPECT_EQ(0xcafef00d, *(uint32_t *)(map + 0x3000))
	TH_LOG("the host sees the guest's write");
	EXPECT_EQ(0xcafef00d, *(uint32_t *)(ro + 0x3000)) TH_LOG("so does its other mapping");
	ASSERT_EQ(4, pread(c, &value, 4, 0x3000));
	EXPECT_EQ(0xcafef00d, value);
	ASSERT_EQ(4, pread(src, &value, 4, 0x3000));
	EXPECT_EQ(v3, value) TH_LOG("the source changed");
	EXPECT_EQ(2, resident(c)) TH_LOG("pages 3 and 4, no more");
	guest_destroy(&g);
	munmap(map, size);
	munmap(ro, size);
	close(c);
	close(src);
}

/* ---- races ---- */

struct toucher {
	int fd, id;
	unsigned char *map;
	size_t npages;
	pthread_barrier_t *start;
	int rounds;
};

/* Each thread touches every page of the region, in its own order, through a
 * read fault, a write fault or a pwrite. */
static void *touch_all(void *arg)
{
	struct toucher *t = arg;

	pthread_barrier_wait(t->start);
	for (size_t k = 0; k < t->npages; k++) {
		size_t i = (k * 7 + (size_t)t->id * 5) % t->npages;
		unsigned char byte = (unsigned char)(1 + t->id);

		switch ((k + (size_t)t->id) % 3) {
		case 0:
			(void)*(volatile unsigned char *)(t->map + i * PAGE);
			break;
		case 1:
			t->map[i * PAGE + 1 + t->id] = byte;
			break;
		default:
			if (pwrite(t->fd, &byte, 1, (off_t)(i * PAGE + 1 + t->id)) != 1)
				return (void *)1;
		}
	}
	return NULL;
}

/* The same pages of a lazy region first-touched by 4 threads at once, over
 * and over: each page made and charged once, all given back. */
TEST_F_TIMEOUT(lazy, racing_first_touches_of_a_lazy_region, 600)
{
	const size_t npages = 32;
	long vmpin = status_kb("VmPin");
	int rounds = 150;

	for (int r = 0; r < rounds; r++) {
		struct toucher t[4];
		pthread_barrier_t start;
		pthread_t threads[4];
		unsigned char *map;
		int fd = lazy_create(self->dev, npages * PAGE, RW);

		ASSERT_GE(fd, 0);
		map = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		pthread_barrier_init(&start, NULL, 4);
		for (int i = 0; i < 4; i++) {
			t[i] = (struct toucher){
			    .fd = fd, .id = i, .map = map, .npages = npages, .start = &start};
			ASSERT_EQ(0, pthread_create(&threads[i], NULL, touch_all, &t[i]));
		}
		for (int i = 0; i < 4; i++) {
			void *ret;

			pthread_join(threads[i], &ret);
			EXPECT_EQ(NULL, ret);
		}
		pthread_barrier_destroy(&start);
		ASSERT_EQ((long)npages, resident(fd)) TH_LOG("round %d", r);
		ASSERT_EQ(self->pinned_at_start + (long)npages, pinned_pages());
		ASSERT_EQ(vmpin + (long)npages * 4, status_kb("VmPin"));
		/* Every write landed: none went to a page made twice. */
		for (int id = 0; id < 4; id++)
			for (size_t k = 0; k < npages; k++) {
				size_t i = (k * 7 + (size_t)id * 5) % npages;
				int want = (k + (size_t)id) % 3 ? 1 + id : 0;

				ASSERT_EQ(want, map[i * PAGE + 1 + id]) TH_LOG("round %d", r);
			}
		munmap(map, npages * PAGE);
		close(fd);
		ASSERT_EQ(self->pinned_at_start, pinned_pages());
	}
	EXPECT_EQ(vmpin, status_kb("VmPin"));
	EXPECT_EQ(0, can_pin_16(self->dev)) TH_LOG("root's locked_vm is back");
	TH_LOG("%d rounds of %zu pages x 4 threads", rounds, npages);
}

struct writer {
	int fd, id;
	unsigned char *map, *ro;
	size_t npages;
	pthread_barrier_t *start;
	atomic_int *bad;
};

/* Writes byte 1 + id at offset 16 + id of every page, through its mapping or
 * pwrite, and reads it back through another mapping and pread. */
static void *write_clone(void *arg)
{
	struct writer *w = arg;
	unsigned char byte = (unsigned char)(1 + w->id), got;

	pthread_barrier_wait(w->start);
	for (size_t k = 0; k < w->npages; k++) {
		size_t i = (k * 5 + (size_t)w->id * 3) % w->npages;
		size_t off = i * PAGE + 16 + w->id;

		if ((k + (size_t)w->id) % 2)
			w->map[off] = byte;
		else if (pwrite(w->fd, &byte, 1, (off_t)off) != 1)
			atomic_fetch_add(w->bad, 1);
		if (w->ro[off] != byte || pread(w->fd, &got, 1, (off_t)off) != 1 || got != byte)
			atomic_fetch_add(w->bad, 1);
	}
	return NULL;
}

/* Clones of one source written by 4 threads at once, page by page, over
 * and over: no write lost, the source unchanged, each page made once. */
TEST_F_TIMEOUT(lazy, racing_writes_to_clone_pages, 600)
{
	const size_t npages = 32;
	int src = sealed_source(self->dev, npages, RW), rounds = 150;
	uint64_t h = hash_region(src, npages * PAGE);
	long pinned = pinned_pages();

	ASSERT_GE(src, 0);
	for (int r = 0; r < rounds; r++) {
		struct writer w[4];
		pthread_barrier_t start;
		pthread_t threads[4];
		atomic_int bad = 0;
		unsigned char *map, *ro;
		int c = region_clone(src, RW);

		ASSERT_GE(c, 0);
		map = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
		ro = mmap(NULL, npages * PAGE, PROT_READ, MAP_SHARED, c, 0);
		ASSERT_NE(MAP_FAILED, map);
		ASSERT_NE(MAP_FAILED, ro);
		/* The read-only mapping starts out on the source's pages. */
		for (size_t i = 0; i < npages; i++)
			ASSERT_EQ(fill_byte(i), ro[i * PAGE]);
		pthread_barrier_init(&start, NULL, 4);
		for (int i = 0; i < 4; i++) {
			w[i] = (struct writer){.fd = c,
					       .id = i,
					       .map = map,
					       .ro = ro,
					       .npages = npages,
					       .start = &start,
					       .bad = &bad};
			ASSERT_EQ(0, pthread_create(&threads[i], NULL, write_clone, &w[i]));
		}
		for (int i = 0; i < 4; i++)
			pthread_join(threads[i], NULL);
		pthread_barrier_destroy(&start);
		EXPECT_EQ(0, atomic_load(&bad)) TH_LOG("round %d: a write went missing", r);
		for (size_t i = 0; i < npages; i++) {
			for (int id = 0; id < 4; id++) {
				unsigned char got = ro[i * PAGE + 16 + id];

				ASSERT_EQ(1 + id, got) TH_LOG("round %d page %zu", r, i);
			}
			ASSERT_EQ(fill_byte(i), ro[i * PAGE]);
			ASSERT_EQ(fill_byte(i), map[i * PAGE + PAGE - 1]);
		}
		ASSERT_EQ((long)npages, resident(c));
		ASSERT_EQ(pinned + (long)npages, pinned_pages());
		munmap(map, npages * PAGE);
		munmap(ro, npages * PAGE);
		close(c);
		ASSERT_EQ(pinned, pinned_pages());
	}
	EXPECT_EQ(h, hash_region(src, npages * PAGE));
	close(src);
	EXPECT_EQ(0, can_pin_16(self->dev)) TH_LOG("root's locked_vm is back");
}

struct seal_race {
	int fd, src;
	size_t npages;
	atomic_bool stop;
	atomic_long ops;
};

/* Makes pages every way there is: write faults, pwrite, RESTORE, a
 * read-only mapping widened, while SEAL is tried. */
static void *seal_attacker(void *arg)
{
	struct seal_race *r = arg;
	size_t size = r->npages * PAGE;

	while (!atomic_load(&r->stop)) {
		long n = atomic_fetch_add(&r->ops, 1);
		size_t page = (size_t)n * 7 % r->npages;
		uint64_t bitmap = 1ULL << ((size_t)n * 3 % r->npages);
		unsigned char *map;
		char byte = (char)n;

		switch (n % 4) {
		case 0:
			map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
			if (map != MAP_FAILED) {
				map[page * PAGE + 9] = (unsigned char)n;
				munmap(map, size);
			}
			break;
		case 1:
			if (pwrite(r->fd, &byte, 1, (off_t)(page * PAGE + 11)) != 1 &&
			    errno != EPERM)
				return (void *)1;
			break;
		case 2:
			region_restore(r->fd, n % 8 ? r->src : SNAPVM_RESTORE_ZERO, &bitmap, 0,
				       r->npages);
			break;
		default:
			map = mmap(NULL, size, PROT_READ, MAP_SHARED, r->fd, 0);
			if (map != MAP_FAILED) {
				(void)*(volatile unsigned char *)(map + page * PAGE);
				if (!mprotect(map, size, PROT_READ | PROT_WRITE))
					map[page * PAGE + 13] = (unsigned char)n;
				munmap(map, size);
			}
		}
	}
	return NULL;
}

/*
 * Lazy regions and clones attacked by threads making their pages while SEAL
 * is tried until it works; from then on nothing may change them, nor may
 * any page be made (resident_pages stays).
 */
TEST_F_TIMEOUT(lazy, seal_races_first_touches_of_lazy_regions_and_clones, 600)
{
	const size_t npages = 16;
	int src = sealed_source(self->dev, npages, RW), rounds = 60;
	long total = 0;

	ASSERT_GE(src, 0);
	for (int round = 0; round < rounds; round++) {
		struct seal_race r = {.src = src, .npages = npages};
		pthread_t threads[3];
		uint64_t h;
		long made;

		r.fd =
		    round % 2 ? region_clone(src, RW) : lazy_create(self->dev, npages * PAGE, RW);
		ASSERT_GE(r.fd, 0);
		for (int t = 0; t < 3; t++)
			ASSERT_EQ(0, pthread_create(&threads[t], NULL, seal_attacker, &r));
		usleep((round % 5) * 1000);
		while (region_seal(r.fd) != 0)
			ASSERT_EQ(EBUSY, errno);
		h = hash_region(r.fd, npages * PAGE);
		made = resident(r.fd);
		usleep(20 * 1000);
		atomic_store(&r.stop, true);
		for (int t = 0; t < 3; t++) {
			void *ret;

			pthread_join(threads[t], &ret);
			EXPECT_EQ(NULL, ret);
		}
		EXPECT_EQ(h, hash_region(r.fd, npages * PAGE))
		TH_LOG("round %d: the sealed region changed", round);
		EXPECT_EQ(made, resident(r.fd))
		TH_LOG("round %d: a page was made after SEAL", round);
		total += atomic_load(&r.ops);
		close(r.fd);
	}
	close(src);
	TH_LOG("%d rounds, %ld operations", rounds, total);
}

/* Lazy regions and clones as nobody: made, touched, cloned, charged to
 * nobody within a 64 kB RLIMIT_MEMLOCK, all given back at exit. */
TEST_F(lazy, lazy_and_clones_as_nobody)
{
	long pinned = pinned_pages();
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		int src, c, lz;
		unsigned char *map;

		CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &limit) == 0, "setrlimit");
		CHILD_CHECK(setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
				setresuid(NOBODY, NOBODY, NOBODY) == 0,
			    "setresuid");
		src = sealed_source(self->dev, 4, RW);
		CHILD_CHECK(src >= 0, "a 4-page source");
		c = region_clone(src, RW);
		CHILD_CHECK(c >= 0, "clone");
		map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
		CHILD_CHECK(map != MAP_FAILED, "mmap");
		for (int i = 0; i < 4; i++) {
			CHILD_CHECK(map[i * PAGE] == fill_byte(i), "reads as the source");
			map[i * PAGE] = 'n';
		}
		CHILD_CHECK(resident(c) == 4, "4 own pages");
		CHILD_CHECK(page_byte(src, 0) == fill_byte(0), "the source stays");
		lz = lazy_create(self->dev, 64 * PAGE, RW);
		CHILD_CHECK(lz >= 0, "lazy");
		for (int i = 0; i < 8; i++)
			CHILD_CHECK(pwrite(lz, "x", 1, i * PAGE) == 1, "4 + 4 + 8 pages fit");
		CHILD_CHECK(pwrite(lz, "x", 1, 8 * PAGE) == -1 && errno == ENOMEM, "17 > 16");
		CHILD_CHECK(pinned_pages() == pinned + 16, "16 pages held");
		munmap(map, 4 * PAGE);
		close(c);
		CHILD_CHECK(pwrite(lz, "x", 1, 8 * PAGE) == 1, "the clone's charge came back");
		CHILD_CHECK(resident(lz) == 9, "9 lazy pages");
		close(lz);
		close(src);
		CHILD_CHECK(pinned_pages() == pinned, "all given back");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(pinned, pinned_pages());
}

TEST_HARNESS_MAIN
