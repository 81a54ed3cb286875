// SPDX-License-Identifier: GPL-2.0
/*
 * linux_seccomp_test.c - Linux programs run under the seccomp filter:
 * `snapvm run busybox` shows Seccomp: 2 while the program runs (0 with
 * --no-seccomp), also with --root; and snapvm_linux_seccomp_install allows
 * the personality's host calls but kills what else a compromised VMM would
 * try (open, openat2 from another directory, ioctl on other fds, socket),
 * while Landlock keeps reads beneath --root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/linux_fixture.h"
#include "userspace/lib/internal.h"

#define START_DEADLINE_MS 120000

/* The Seccomp: field of /proc/PID/status (0 none, 2 filter), or -1. */
static int seccomp_mode(pid_t pid)
{
	char path[64], text[256];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(text, sizeof(text), f))
		if (sscanf(text, "Seccomp: %d", &mode) == 1)
			break;
	if (f)
		fclose(f);
	return mode;
}

/*
 * snapvm run [opt] busybox sh -c 'echo ready; ...; read x': the Seccomp:
 * mode while the program waits for its stdin, or -1. Its stdout is
 * buffered in the guest until it writes stderr, which flushes it: "ready"
 * arrives while the program runs, hence after the filter went on.
 */
static int mode_while_running(FIXTURE_DATA(lx) * self, const char *opt, int *status)
{
	const char *argv[] = {self->snapvm,
			      "run",
			      self->memory_opt,
			      opt ? opt : "--timeout=300",
			      self->busybox,
			      "sh",
			      "-c",
			      "echo ready; echo x >&2; read x",
			      NULL};
	int in[2], out[2], ws, mode = -1;
	char buf[64] = "";
	size_t len = 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	while (len < sizeof(buf) - 1 && !strstr(buf, "ready\n")) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, START_DEADLINE_MS) <= 0)
			break;
		n = read(out[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
	}
	if (strstr(buf, "ready\n"))
		mode = seccomp_mode(pid);
	close(in[1]); /* end of file: read x ends, and so does sh */
	close(out[0]);
	waitpid(pid, &ws, 0);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return mode;
}

LINUX_TEST(linux_programs_run_under_the_filter)
{
	char root[PATH_MAX / 2 + 16], root_opt[PATH_MAX];
	int status;

	REQUIRE_BACKEND();
	EXPECT_EQ(2, mode_while_running(self, NULL, &status));
	EXPECT_EQ(1, status); /* read x at end of file */
	EXPECT_EQ(0, mode_while_running(self, "--no-seccomp", &status));
	EXPECT_EQ(1, status);
	path_in(root, sizeof(root), self->dir, "root");
	ASSERT_EQ(0, mkdir(root, 0755));
	snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
	EXPECT_EQ(2, mode_while_running(self, root_opt, &status));
	EXPECT_EQ(1, status);
}

/* ---- the filter itself, in a child that installs it ---- */

enum action {
	OPEN_HOST_FILE,	   /* open("/etc/passwd"): killed */
	OPENAT2_OTHER_DIR, /* openat2 from a directory not the root: killed */
	OPENAT2_ESCAPE,	   /* openat2(root, "../..", no RESOLVE_IN_ROOT): EACCES */
	OPENAT2_IN_ROOT,   /* openat2(root, "hello.txt", RESOLVE_IN_ROOT): read */
	IOCTL_OTHER_FD,	   /* ioctl(fd 3, TIOCGWINSZ): killed */
	IOCTL_STDIN,	   /* ioctl(0, TIOCGWINSZ): allowed (ENOTTY) */
	SOCKET,		   /* killed */
	READ_STDIN,	   /* allowed */
	GETRANDOM,	   /* allowed */
};

/* Exit status: 0 when the call did what was asked, else errno (or 99). */
static void act(enum action a, int root_fd, int other_dir)
{
	struct open_how rooted = {.flags = O_RDONLY, .resolve = RESOLVE_IN_ROOT};
	struct open_how loose = {.flags = O_RDONLY};
	struct winsize ws;
	char buf[16];
	long fd;

	switch (a) {
	case OPEN_HOST_FILE:
		fd = open("/etc/passwd", O_RDONLY);
		_exit(fd < 0 ? errno : 0);
	case OPENAT2_OTHER_DIR:
		fd = syscall(SYS_openat2, other_dir, "etc/passwd", &rooted, sizeof(rooted));
		_exit(fd < 0 ? errno : 0);
	case OPENAT2_ESCAPE:
		fd = syscall(SYS_openat2, root_fd, "../../../../../../etc/passwd", &loose,
			     sizeof(loose));
		_exit(fd < 0 ? errno : 0);
	case OPENAT2_IN_ROOT:
		fd = syscall(SYS_openat2, root_fd, "hello.txt", &rooted, sizeof(rooted));
		_exit(fd < 0						       ? errno
		      : read((int)fd, buf, 5) == 5 && !memcmp(buf, "hello", 5) ? 0
									       : 99);
	case IOCTL_OTHER_FD:
		_exit(ioctl(3, TIOCGWINSZ, &ws) ? errno : 0);
	case IOCTL_STDIN:
		_exit(ioctl(0, TIOCGWINSZ, &ws) && errno != ENOTTY ? errno : 0);
	case SOCKET:
		_exit(socket(AF_UNIX, SOCK_STREAM, 0) < 0 ? errno : 0);
	case READ_STDIN:
		_exit(read(0, buf, sizeof(buf)) < 0 ? errno : 0);
	case GETRANDOM:
		_exit(syscall(SYS_getrandom, buf, sizeof(buf), 0) != sizeof(buf) ? errno : 0);
	}
	_exit(98);
}

/* In a child: a Linux program's state (with root, or none), the filter,
 * then the action. Its exit status, or 128 + the signal. */
static int under_linux_filter(FIXTURE_DATA(lx) * self, const char *root, enum action a)
{
	int ws;
	pid_t pid = fork();

	if (pid == 0) {
		static const char *const argv[] = {"busybox", NULL};
		struct snapvm_linux_options o = {.argv = argv, .root = root};
		struct snapvm_linux *lx;
		struct snapvm_error err;
		int other = open("/", O_PATH | O_DIRECTORY);
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		/* fd 3: some file that is not stdio */
		if (other < 0 || dup2(other, 3) < 0)
			_exit(97);
		if (snapvm_linux_create(self->busybox, &o, &lx, &err) ||
		    snapvm_linux_seccomp_install(lx, NULL, 0, &err)) {
			fprintf(stderr, "%s\n", err.message);
			_exit(96);
		}
		act(a, snapvm_linux_root_fd(lx), other);
	}
	if (pid < 0 || waitpid(pid, &ws, 0) != pid)
		return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

LINUX_TEST(the_linux_filter_refuses_the_rest)
{
	char root[PATH_MAX / 2 + 16];
	struct snapvm_error err;

	REQUIRE_BACKEND();
	path_in(root, sizeof(root), self->dir, "root");
	ASSERT_EQ(0, mkdir(root, 0755));
	ASSERT_TRUE(write_file(root, "hello.txt", "hello\n", 6));
	/* The argument checks come first, and change nothing. */
	EXPECT_EQ(EX_USAGE, snapvm_linux_seccomp_install(NULL, NULL, 0, &err));

	EXPECT_EQ(128 + SIGSYS, under_linux_filter(self, root, OPEN_HOST_FILE));
	EXPECT_EQ(128 + SIGSYS, under_linux_filter(self, root, OPENAT2_OTHER_DIR));
	EXPECT_EQ(EACCES, under_linux_filter(self, root, OPENAT2_ESCAPE));
	EXPECT_EQ(0, under_linux_filter(self, root, OPENAT2_IN_ROOT));
	EXPECT_EQ(128 + SIGSYS, under_linux_filter(self, root, IOCTL_OTHER_FD));
	EXPECT_EQ(0, under_linux_filter(self, root, IOCTL_STDIN));
	EXPECT_EQ(128 + SIGSYS, under_linux_filter(self, root, SOCKET));
	EXPECT_EQ(0, under_linux_filter(self, root, READ_STDIN));
	EXPECT_EQ(0, under_linux_filter(self, root, GETRANDOM));
	/* Without --root no file call at all. */
	EXPECT_EQ(128 + SIGSYS, under_linux_filter(self, NULL, OPENAT2_IN_ROOT));
	EXPECT_EQ(0, under_linux_filter(self, NULL, READ_STDIN));
}

TEST_HARNESS_MAIN
