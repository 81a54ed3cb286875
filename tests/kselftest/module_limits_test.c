// SPDX-License-Identifier: GPL-2.0
/*
 * module_limits_test.c - snapvm.ko's lifetime and accounting checked from
 * userspace: pages live until the last fd and mapping are gone, pinned_pages
 * and VmPin, RLIMIT_MEMLOCK, max_total_mb and max_region_mb, the memory
 * cgroup (an error, never an OOM kill), and module unload refused while a
 * region exists. Runs as root inside the test VM (tests/vm/run).
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

TEST_HARNESS_MAIN
