// SPDX-License-Identifier: GPL-2.0
/*
 * module_v2_test.c - snapvm.ko's ABI version 2: feature bits, flags and
 * reserved fields, read-only region fds, READ_IMPLIES_EXEC; the
 * RLIMIT_MEMLOCK charge following the pages across SCM_RIGHTS, exec, the
 * creator's exit and a child's mapping, as root and as an unprivileged user.
 * SEAL under races is in module_v2_race_test.c; the fixture in module_v2.h.
 * Runs as root inside the test VM (tests/vm/run).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <grp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "kselftest_harness.h"
#include "tests/kselftest/module_helpers.h"
#include "tests/kselftest/module_v2.h"

/* ---- ABI version 2 ---- */

TEST_F(v2, version_2_with_feature_bits)
{
	struct stat st;

	EXPECT_EQ(2, ioctl(self->dev, SNAPVM_GET_API_VERSION, 0));
	EXPECT_EQ(SNAPVM_FEATURE_DUP_READONLY,
		  ioctl(self->dev, SNAPVM_GET_FEATURES, 0) & SNAPVM_FEATURE_DUP_READONLY);
	/* The node is 0660: its group comes from the udev rule. */
	ASSERT_EQ(0, stat("/dev/snapvm", &st));
	EXPECT_EQ(0660, st.st_mode & 0777);
}

TEST_F(v2, unknown_flags_and_reserved_fields_are_einval_and_change_nothing)
{
	uint64_t bitmap = 1;
	struct snapvm_region_restore args = {
	    .src_fd = SNAPVM_RESTORE_ZERO, .bitmap = (uintptr_t)&bitmap, .npages = 1};
	int fd = region_create(self->dev, 4 * PAGE, RW);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(1, pwrite(fd, "x", 1, 0));
	EXPECT_EQ(EINVAL, err_of(ioctl(fd, SNAPVM_REGION_SEAL, 1)));
	EXPECT_EQ(EINVAL, err_of(ioctl(fd, SNAPVM_REGION_SEAL, 1UL << 31)));
	EXPECT_EQ(0U, region_info(fd).flags) TH_LOG("a refused SEAL sealed");
	args.reserved[0] = 1;
	EXPECT_EQ(EINVAL, err_of(ioctl(fd, SNAPVM_REGION_RESTORE, &args)));
	args.reserved[0] = 0;
	args.reserved[1] = 1;
	EXPECT_EQ(EINVAL, err_of(ioctl(fd, SNAPVM_REGION_RESTORE, &args)));
	args.reserved[1] = 0;
	args.flags = 1;
	EXPECT_EQ(EINVAL, err_of(ioctl(fd, SNAPVM_REGION_RESTORE, &args)));
	EXPECT_EQ('x', byte_at(fd, 0)) TH_LOG("a refused RESTORE changed the region");
	args.flags = 0;
	EXPECT_EQ(1, ioctl(fd, SNAPVM_REGION_RESTORE, &args));
	EXPECT_EQ(0, byte_at(fd, 0));
	close(fd);
}

TEST_F(v2, readonly_fd_can_read_and_map_nothing_else)
{
	int fd = region_create(self->dev, 4 * PAGE, RW), ro, ro2, fdflags;
	struct snapvm_region_info info;
	char *map, byte;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(5, pwrite(fd, "hello", 5, PAGE));
	ro = ioctl(fd, SNAPVM_REGION_DUP_READONLY, 0);
	ASSERT_GE(ro, 0);
	fdflags = fcntl(ro, F_GETFD);
	EXPECT_TRUE(fdflags & FD_CLOEXEC);
	/* Reads: pread, INFO, shared read-only and private mappings. */
	EXPECT_EQ('h', byte_at(ro, PAGE));
	info = region_info(ro);
	EXPECT_EQ(4 * PAGE, info.size);
	EXPECT_EQ(SNAPVM_REGION_READONLY_FD, info.flags);
	map = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ('h', map[PAGE]);
	EXPECT_EQ(-1, mprotect(map, 4 * PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* The writer's changes show through. */
	ASSERT_EQ(1, pwrite(fd, "j", 1, PAGE));
	EXPECT_EQ('j', map[PAGE]);
	munmap(map, 4 * PAGE);
	EXPECT_EQ(EACCES, mmap_errno(ro, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, PAGE);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 'p';
	EXPECT_EQ('j', byte_at(fd, PAGE)) TH_LOG("a private write reached the region");
	munmap(map, PAGE);
	/* Writes of every kind: EPERM. */
	byte = 'w';
	EXPECT_EQ(-1, pwrite(ro, &byte, 1, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(EPERM, err_of(ioctl(ro, SNAPVM_REGION_SEAL, 0)));
	EXPECT_EQ(EPERM, err_of(region_restore(ro, SNAPVM_RESTORE_ZERO, NULL, 0, 0)));
	EXPECT_EQ(0, byte_at(fd, 0));
	/* A read-only fd of a read-only fd is one too. */
	ro2 = ioctl(ro, SNAPVM_REGION_DUP_READONLY, 0);
	ASSERT_GE(ro2, 0);
	EXPECT_EQ(EPERM, err_of(ioctl(ro2, SNAPVM_REGION_SEAL, 0)));
	/* The region lives while any of its fds does. */
	close(fd);
	close(ro);
	EXPECT_EQ(self->pinned_at_start + 4, pinned_pages());
	EXPECT_EQ('j', byte_at(ro2, PAGE));
	close(ro2);
}

/* How a sealed snapshot goes to another process: its read-only fd, which
 * RESTORE takes as a source. */
TEST_F(v2, readonly_fd_of_a_sealed_region_is_a_restore_source)
{
	uint64_t bitmap = 0x5;
	int snap = region_create(self->dev, 4 * PAGE, RW);
	int scratch = region_create(self->dev, 4 * PAGE, RW);
	int ro;

	ASSERT_GE(snap, 0);
	ASSERT_GE(scratch, 0);
	ASSERT_EQ(1, pwrite(snap, "s", 1, 0));
	ASSERT_EQ(1, pwrite(snap, "t", 1, 2 * PAGE));
	ASSERT_EQ(0, region_seal(snap));
	ro = ioctl(snap, SNAPVM_REGION_DUP_READONLY, 0);
	ASSERT_GE(ro, 0);
	close(snap);
	EXPECT_EQ(SNAPVM_REGION_SEALED | SNAPVM_REGION_READONLY_FD, region_info(ro).flags);
	EXPECT_EQ(2, region_restore(scratch, ro, &bitmap, 0, 4));
	EXPECT_EQ('s', byte_at(scratch, 0));
	EXPECT_EQ('t', byte_at(scratch, 2 * PAGE));
	close(ro);
	close(scratch);
}

/* Under READ_IMPLIES_EXEC a PROT_READ mapping asks for EXEC too; a region
 * without EXEC maps it without. */
TEST_F(v2, read_implies_exec_maps_without_exec)
{
	int fd = region_create(self->dev, PAGE, RW);
	pid_t pid;

	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char line[256], *map;
		bool found = false;
		FILE *maps;

		CHILD_CHECK(personality(READ_IMPLIES_EXEC) != -1, "personality");
		map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		CHILD_CHECK(map != MAP_FAILED, "PROT_READ under READ_IMPLIES_EXEC");
		maps = fopen("/proc/self/maps", "re");
		CHILD_CHECK(maps != NULL, "maps");
		while (fgets(line, sizeof(line), maps))
			if (strtoul(line, NULL, 16) == (unsigned long)map) {
				found = true;
				CHILD_CHECK(!strncmp(strchr(line, ' ') + 1, "r--s", 4),
					    "mapping is r--s: %s", line);
			}
		CHILD_CHECK(found, "mapping listed");
		CHILD_CHECK(mprotect(map, PAGE, PROT_READ | PROT_EXEC) == -1 && errno == EACCES,
			    "EXEC cannot be added");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
	close(fd);
}

/* ---- accounting follows the pages ---- */

/* Can uid, with a 64 KiB RLIMIT_MEMLOCK, pin npages now? (A fresh child.) */
static int can_pin(int dev, uid_t uid, unsigned int npages)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd;

		become(uid, 64 * 1024);
		fd = region_create(dev, npages * PAGE, RW);
		_exit(fd >= 0 ? 0 : errno == ENOMEM ? 2 : 3);
	}
	return wait_status(pid);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0}, byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cmsg;
	int fd = -1;

	if (recvmsg(sock, &msg, 0) != 1 || !(cmsg = CMSG_FIRSTHDR(&msg)))
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/*
 * The charge is the user's and lives as long as the pages: passed to another
 * process with SCM_RIGHTS, its creator gone, the region still counts against
 * the creator's user; only the last close gives it back. As an unprivileged
 * user and as root without CAP_IPC_LOCK.
 */
static void charge_follows_scm_rights(struct __test_metadata *_metadata, int dev, uid_t uid)
{
	int sv[2], fd;
	pid_t pid;

	ASSERT_EQ(0, can_pin(dev, uid, 16)) TH_LOG("64 kB fits the limit at first");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int region;

		become(uid, 64 * 1024);
		region = region_create(dev, 12 * PAGE, RW);
		CHILD_CHECK(region >= 0, "create 48 kB");
		CHILD_CHECK(send_fd(sv[1], region) == 0, "sendmsg");
		_exit(0); /* the creator exits: its mm is gone */
	}
	fd = recv_fd(sv[0]);
	EXPECT_EQ(0, wait_status(pid));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(2, can_pin(dev, uid, 5)) TH_LOG("48 + 20 kB: the passed region still counts");
	EXPECT_EQ(0, can_pin(dev, uid, 4)) TH_LOG("48 + 16 kB fits");
	close(fd);
	EXPECT_EQ(0, can_pin(dev, uid, 16)) TH_LOG("the last close gave the charge back");
	close(sv[0]);
	close(sv[1]);
}

TEST_F(v2, charge_follows_scm_rights_as_nobody)
{
	charge_follows_scm_rights(_metadata, self->dev, NOBODY);
}

TEST_F(v2, charge_follows_scm_rights_as_root_without_cap_ipc_lock)
{
	charge_follows_scm_rights(_metadata, self->dev, 0);
}

/* Inherited across exec (an fd without CLOEXEC), and kept by a forked
 * child's mapping after every fd is closed. The child says on a pipe when
 * it holds the region (the exec'd shell: once it runs), and waits for
 * another to close before it lets go. */
TEST_F(v2, charge_follows_exec_and_a_childs_mapping)
{
	int pipefd[2], ready[2];
	pid_t pid;
	char byte;

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int region, kept;
		char fdarg[16], readyarg[16];

		become(NOBODY, 64 * 1024);
		region = region_create(self->dev, 12 * PAGE, RW);
		CHILD_CHECK(region >= 0, "create");
		kept = fcntl(region, F_DUPFD, 100); /* no CLOEXEC */
		CHILD_CHECK(kept >= 0, "dup");
		close(region);
		snprintf(fdarg, sizeof(fdarg), "%d", pipefd[0]);
		snprintf(readyarg, sizeof(readyarg), "%d", ready[1]);
		close(pipefd[1]);
		close(ready[0]);
		/* sh says it runs (the region's fd open in it), then waits
		 * until the pipe closes. */
		execl("/bin/sh", "sh", "-c", "echo >&$1 && cat <&$0", fdarg, readyarg,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &byte, 1)) TH_LOG("the exec'd shell never said it runs");
	EXPECT_EQ(2, can_pin(self->dev, NOBODY, 5)) TH_LOG("held across exec");
	close(pipefd[1]);
	close(ready[0]);
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(0, can_pin(self->dev, NOBODY, 16)) TH_LOG("given back when the exec'd one exits");

	/* A child's mapping keeps the region after every fd is gone. */
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int region;
		char *map;

		become(NOBODY, 64 * 1024);
		region = region_create(self->dev, 12 * PAGE, RW);
		CHILD_CHECK(region >= 0, "create");
		map = mmap(NULL, 12 * PAGE, PROT_READ, MAP_SHARED, region, 0);
		CHILD_CHECK(map != MAP_FAILED, "mmap");
		close(region);
		close(pipefd[1]);
		close(ready[0]);
		CHILD_CHECK(write(ready[1], "m", 1) == 1, "ready");
		CHILD_CHECK(read(pipefd[0], &byte, 1) == 0, "wait");
		_exit(map[0]);
	}
	close(pipefd[0]);
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &byte, 1)) TH_LOG("the child never mapped the region");
	EXPECT_EQ(2, can_pin(self->dev, NOBODY, 5)) TH_LOG("held by a mapping alone");
	close(pipefd[1]);
	close(ready[0]);
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(0, can_pin(self->dev, NOBODY, 16));
}

TEST_HARNESS_MAIN
