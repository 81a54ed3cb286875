// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_test.c - the seccomp filter: the launcher runs its guests under it
 * (Seccomp: 2 in /proc/PID/status, 0 with --no-seccomp), a system call
 * outside the allowlist kills the whole process with SIGSYS, what the list
 * allows keeps working, and libsnapvm never installs it on its own; what a
 * compromised VMM would try under it (files created, renamed or removed
 * outside the output directory, /proc/self/mem, signals to other processes)
 * fails and changes nothing, while --snapshot-out and --core-dump still
 * write their files. Runs in the test VM (the launcher parts need KVM).
 *
 * The escapes are in seccomp_escape_test.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "tests/kselftest/seccomp_helpers.h"
#include "userspace/lib/internal.h"
#include "userspace/lib/snapvm.h"

/* How long the launcher may take to reach the guest, under nested TCG. */
#define START_DEADLINE_S 60
/* The guest spins until this timeout; the test has read the status by then. */
#define LOOP_TIMEOUT "--timeout=5"
#define SPINNING     "endless-loop: spinning"

/* The Seccomp: field of /proc/PID/status (0 none, 2 filter), or -1. */
static int seccomp_mode(pid_t pid)
{
	char path[64], line[256];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/* One launcher run of the endless-loop guest: its Seccomp: mode while the
 * guest spins (-1 if it never got there), how it ended, stdout + stderr. */
struct spin {
	int mode;
	int status; /* exit status, or 128 + signal */
	char out[4096];
};

static int spin_launcher(struct spin *s, const char *memory, const char *layout, bool seccomp)
{
	char snapvm[PATH_MAX], elf[PATH_MAX], memory_flag[32];
	const char *argv[] = {snapvm, "run", memory_flag, LOOP_TIMEOUT, elf, NULL, NULL};
	size_t len = 0;
	int out[2], ws;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->mode = -1;
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(elf, sizeof(elf), "%s/guests/%s/endless-loop.elf", vmm_build_dir(), layout);
	snprintf(memory_flag, sizeof(memory_flag), "--memory=%s", memory);
	if (!seccomp)
		argv[5] = "--no-seccomp";
	if (pipe2(out, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		execv(snapvm, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	/* The guest prints before it spins: the launcher is in its run loop.
	 * Read on to the end, or its timeout message would meet EPIPE. */
	while (len < sizeof(s->out) - 1) {
		struct pollfd pfd = {.fd = out[0], .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, START_DEADLINE_S * 1000) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		n = read(out[0], s->out + len, sizeof(s->out) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		s->out[len] = '\0';
		if (s->mode < 0 && strstr(s->out, SPINNING))
			s->mode = seccomp_mode(pid);
	}
	close(out[0]);
	waitpid(pid, &ws, 0);
	s->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return 0;
}

FIXTURE(launcher)
{
	char skip[256];
};

VMM_VARIANTS(launcher);

FIXTURE_SETUP(launcher)
{
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
}

FIXTURE_TEARDOWN(launcher)
{
}

TEST_F_TIMEOUT(launcher, runs_under_the_filter_and_still_times_out, 120)
{
	struct spin s;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, spin_launcher(&s, variant->memory, variant->layout, true));
	EXPECT_EQ(2, s.mode) TH_LOG("Seccomp: %d while the guest ran; stdout:\n%s", s.mode, s.out);
	EXPECT_EQ(SNAPVM_STATUS_TIMEOUT, s.status) TH_LOG("stdout:\n%s", s.out);
}

TEST_F_TIMEOUT(launcher, no_seccomp_runs_without_it, 120)
{
	struct spin s;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, spin_launcher(&s, variant->memory, variant->layout, false));
	EXPECT_EQ(0, s.mode) TH_LOG("Seccomp: %d while the guest ran; stdout:\n%s", s.mode, s.out);
	EXPECT_EQ(SNAPVM_STATUS_TIMEOUT, s.status) TH_LOG("stdout:\n%s", s.out);
}

/* ---- the filter itself, in a child that installs it ---- */

static int install_or_exit(void)
{
	struct snapvm_error err;

	if (snapvm_seccomp_install(&err)) {
		dprintf(STDERR_FILENO, "snapvm_seccomp_install: %s\n", err.message);
		_exit(err.status);
	}
	return 0;
}

/* Run fn in a child under the filter; its wait status. The child writes
 * "alive" first, so a filter that kills too early shows. */
static int under_filter(void (*fn)(void), bool *alive)
{
	char buf[8] = "";
	int p[2], ws = 0;
	pid_t pid;

	*alive = false;
	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		install_or_exit();
		if (write(p[1], "alive", 5) != 5)
			_exit(90);
		fn();
		_exit(0);
	}
	close(p[1]);
	*alive = read(p[0], buf, sizeof(buf)) == 5 && !memcmp(buf, "alive", 5);
	close(p[0]);
	waitpid(pid, &ws, 0);
	return ws;
}

static void call_socket(void)
{
	socket(AF_UNIX, SOCK_STREAM, 0);
}

static void call_execve(void)
{
	char *const argv[] = {"true", NULL};

	execve("/bin/true", argv, NULL);
}

static void call_fork(void)
{
	syscall(SYS_fork);
}

static void call_read(void)
{
	char c;

	read(STDIN_FILENO, &c, 1);
}

static void call_ioctl_not_kvm(void)
{
	int n;

	ioctl(STDOUT_FILENO, FIONREAD, &n);
}

static void call_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* The i386 ABI (int 0x80: getpid there) from a 64-bit process. */
static void call_int80(void)
{
	long ret = 20;

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
}

/* The x32 ABI: x86-64 numbers with bit 30 set (getpid there). */
static void call_x32(void)
{
	syscall(0x40000000 | SYS_getpid);
}

static volatile int thread_go;

static void *thread_socket(void *arg)
{
	while (!__atomic_load_n(&thread_go, __ATOMIC_ACQUIRE))
		;
	socket(AF_UNIX, SOCK_STREAM, 0);
	return NULL;
}

/* Another thread, started before the filter, is under it too (TSYNC), and
 * its stray call kills the whole process (SECCOMP_RET_KILL_PROCESS). */
static void call_socket_in_another_thread(void)
{
	static pthread_t thread;

	thread_go = 0;
	if (pthread_create(&thread, NULL, thread_socket, NULL))
		_exit(91);
	install_or_exit();
	__atomic_store_n(&thread_go, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
}

static const struct {
	const char *name;
	void (*fn)(void);
} stray[] = {
    {"socket", call_socket},
    {"execve", call_execve},
    {"fork", call_fork},
    {"read", call_read},
    {"ioctl FIONREAD", call_ioctl_not_kvm},
    {"mmap PROT_EXEC", call_mmap_exec},
    {"int 0x80", call_int80},
    {"x32 getpid", call_x32},
};

TEST(a_stray_system_call_kills_the_process_with_sigsys)
{
	for (size_t i = 0; i < sizeof(stray) / sizeof(stray[0]); i++) {
		bool alive;
		int ws = under_filter(stray[i].fn, &alive);

		EXPECT_TRUE(alive)
		TH_LOG("%s: the child died before its stray call", stray[i].name);
		EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS)
		TH_LOG("%s: wait status 0x%x, want death by SIGSYS", stray[i].name, ws);
	}
}

TEST(a_stray_call_in_another_thread_kills_the_process)
{
	int ws = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		call_socket_in_another_thread();
		_exit(0);
	}
	waitpid(pid, &ws, 0);
	EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS)
	TH_LOG("wait status 0x%x, want death by SIGSYS", ws);
}

/* What the run loop and its exits need still works under the filter. */
static void call_allowed(void)
{
	struct timespec ts;
	void *big = malloc(64 << 20);
	void *map = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = memfd_create("seccomp-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (!big || map == MAP_FAILED || fd < 0)
		_exit(92);
	memset(big, 1, 64 << 20);
	free(big);
	munmap(map, 1 << 20);
	if (ftruncate(fd, 4096) || pwrite(fd, "x", 1, 0) != 1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) || close(fd))
		_exit(93);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) || gettid() <= 0)
		_exit(94);
	fprintf(stderr, "# allowed calls work under the filter\n");
}

TEST(allowed_calls_keep_working)
{
	bool alive;
	int ws = under_filter(call_allowed, &alive);

	EXPECT_TRUE(alive);
	EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
	TH_LOG("wait status 0x%x, want exit 0", ws);
}

/* An embedder that never asks for the filter never gets it. */
TEST(the_library_never_installs_it_on_its_own)
{
	struct snapvm_sandbox_options options = SNAPVM_SANDBOX_OPTIONS_DEFAULT;
	struct snapvm_host_info info;
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sandbox;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	char elf[PATH_MAX];

	snapvm_host_info(&info);
	if (info.kvm_api_version < 0)
		SKIP(return, "/dev/kvm unusable: %s", strerror(-info.kvm_api_version));
	snprintf(elf, sizeof(elf), "%s/guests/amd64/hello.elf", vmm_build_dir());
	options.output_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, options.output_fd);
	ASSERT_EQ(0, snapvm_snapshot_from_elf(elf, NULL, &snap, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, &options, &sandbox, &err))
	TH_LOG("%s", err.message);
	snapvm_snapshot_put(snap);
	ASSERT_EQ(0, snapvm_sandbox_run(sandbox, 0, &outcome, &err)) TH_LOG("%s", err.message);
	EXPECT_EQ((int)SNAPVM_STOP_EXIT, (int)outcome.stop);
	EXPECT_EQ(0, snapvm_sandbox_restore(sandbox, &err)) TH_LOG("%s", err.message);
	snapvm_sandbox_destroy(sandbox);
	close(options.output_fd);
	EXPECT_EQ(0, seccomp_mode(getpid()));
}

/* ---- the launcher writes its output files under the filter ---- */

/* snapvm ARGS..., stdout and stderr to log; the exit status (128 + signal). */
static int launch(const char *log, const char *const *argv)
{
	int ws = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &ws, 0);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

TEST_F_TIMEOUT(launcher, snapshot_out_and_core_dump_work_under_the_filter, 300)
{
	char tmp[PATH_MAX / 2], snapvm[PATH_MAX], elf[PATH_MAX], crash[PATH_MAX], log[PATH_MAX],
	    memory[32], snap_flag[PATH_MAX + 32], from_flag[PATH_MAX + 32],
	    core_flag[PATH_MAX + 32], names[256], dir[PATH_MAX], magic[4] = "";
	const char *save[] = {snapvm, "run", memory, "--scratch-size=1M", snap_flag, elf, NULL};
	const char *from[] = {snapvm, "run", memory, from_flag, NULL};
	const char *core[] = {snapvm, "run", memory, core_flag, crash, NULL};
	int fd;

	REQUIRE_BACKEND();
	ASSERT_NE(NULL, vmm_make_tmpdir(tmp, sizeof(tmp), "seccomp-out"));
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(elf, sizeof(elf), "%s/guests/%s/snapshot-state.elf", vmm_build_dir(),
		 variant->layout);
	snprintf(crash, sizeof(crash), "%s/guests/%s/crash.elf", vmm_build_dir(), variant->layout);
	snprintf(log, sizeof(log), "%s/log", tmp);
	snprintf(memory, sizeof(memory), "--memory=%s", variant->memory);
	snprintf(dir, sizeof(dir), "%s/out", tmp);
	snprintf(snap_flag, sizeof(snap_flag), "--snapshot-out=%s/state.snap", dir);
	snprintf(from_flag, sizeof(from_flag), "--from=%s/state.snap", dir);
	snprintf(core_flag, sizeof(core_flag), "--core-dump=%s/guest.core", dir);
	ASSERT_EQ(0, mkdir(dir, 0755));

	/* The filter is on (no --no-seccomp): a kmod snapshot's regions come
	 * from the /dev/snapvm opened before it. */
	EXPECT_EQ(0, launch(log, save)) TH_LOG("see %s", log);
	EXPECT_EQ(11, launch(log, from)) TH_LOG("the saved snapshot: see %s", log);
	EXPECT_EQ(SNAPVM_STATUS_GUEST_FAULT, launch(log, core)) TH_LOG("see %s", log);
	fd = open(core_flag + 12, O_RDONLY | O_CLOEXEC);
	EXPECT_EQ(4, read(fd, magic, 4)) TH_LOG("%s not written", core_flag + 12);
	close(fd);
	EXPECT_EQ(0, memcmp(magic, "\177ELF", 4));
	/* The two files, no temporary left behind. */
	list_dir(dir, names, sizeof(names));
	EXPECT_STREQ("guest.core state.snap ", names);
	snprintf(dir, sizeof(dir), "rm -rf '%s'", tmp);
	if (system(dir))
		TH_LOG("cannot remove %s", tmp);
}

TEST_HARNESS_MAIN
