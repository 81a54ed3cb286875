/* SPDX-License-Identifier: GPL-2.0 */
/*
 * launcher_helpers.h - what the kselftests of the `snapvm` launcher share
 * (launcher_*test.c, call_test.c): run build/snapvm with its stdout and
 * stderr captured and a deadline, optionally with stdin from a file or
 * with /dev/kvm or /dev/snapvm hidden, and assert on the result. Include
 * after kselftest_harness.h and vmm_test.h.
 */
#ifndef SNAPVM_TESTS_LAUNCHER_HELPERS_H
#define SNAPVM_TESTS_LAUNCHER_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/kselftest/vmm_test.h"

/* Longest a launcher run may take before the test kills it: far above what
 * any guest here needs, even under nested TCG. */
#define RUN_DEADLINE_S 60
#define OUTPUT_MAX     (256 << 10)

/* One finished launcher run. */
struct run {
	int status; /* exit status, or 128 + signal */
	bool killed;
	double seconds;
	char out[OUTPUT_MAX]; /* NUL-terminated */
	size_t out_len;
	char err[OUTPUT_MAX];
	size_t err_len;
};

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void drain(int *fd, char *buf, size_t *len)
{
	ssize_t n = read(*fd, buf + *len, OUTPUT_MAX - 1 - *len);

	if (n > 0) {
		*len += n;
		buf[*len] = '\0';
	} else if (n == 0 || errno != EINTR) {
		close(*fd);
		*fd = -1;
	}
	if (*len == OUTPUT_MAX - 1 && *fd >= 0) { /* full: discard the rest */
		char sink[4096];

		if (read(*fd, sink, sizeof(sink)) <= 0) {
			close(*fd);
			*fd = -1;
		}
	}
}

/* Which of the host's devices a run sees. */
enum devices {
	DEVICES_ALL,
	DEVICES_NO_KVM,	   /* no /dev/kvm (nor /dev/snapvm) */
	DEVICES_NO_SNAPVM, /* /dev/kvm only */
};

/* Exit status of a child that could not hide the devices. */
#define STATUS_NO_NAMESPACE 125

/* In the child: a private mount namespace whose /dev is an empty tmpfs
 * with only the device nodes `devices` allows, recreated from the host's. */
static inline void hide_devices(enum devices devices)
{
	struct stat kvm;
	bool have_kvm = stat("/dev/kvm", &kvm) == 0;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "mode=755")) {
		dprintf(STDERR_FILENO, "cannot hide devices in a mount namespace: %s\n",
			strerror(errno));
		_exit(STATUS_NO_NAMESPACE);
	}
	if (devices == DEVICES_NO_SNAPVM && have_kvm &&
	    mknod("/dev/kvm", S_IFCHR | 0666, kvm.st_rdev)) {
		dprintf(STDERR_FILENO, "mknod /dev/kvm: %s\n", strerror(errno));
		_exit(STATUS_NO_NAMESPACE);
	}
}

/* Run build/snapvm with args (NULL-terminated), stdout and stderr captured
 * separately, stdin from stdin_path (NULL: this process's). Returns 0, or
 * -errno when it could not be started. */
static inline int run_snapvm_full(struct run *r, const char *const *args, enum devices devices,
				  const char *stdin_path)
{
	const char *argv[32];
	char path[PATH_MAX];
	int out[2], err[2];
	unsigned argc = 0;
	double deadline;
	pid_t pid;
	int ws;

	memset(r, 0, offsetof(struct run, out));
	r->out[0] = r->err[0] = '\0';
	r->out_len = r->err_len = 0;
	snprintf(path, sizeof(path), "%s/snapvm", vmm_build_dir());
	argv[argc++] = path;
	while (*args && argc < 31)
		argv[argc++] = *args++;
	argv[argc] = NULL;
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -errno;
	r->seconds = now_s();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		if (stdin_path) {
			int in = open(stdin_path, O_RDONLY);

			if (in < 0 || dup2(in, STDIN_FILENO) < 0) {
				dprintf(STDERR_FILENO, "stdin %s: %s\n", stdin_path,
					strerror(errno));
				_exit(127);
			}
		}
		if (devices != DEVICES_ALL)
			hide_devices(devices);
		execv(path, (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	deadline = r->seconds + RUN_DEADLINE_S;
	while (out[0] >= 0 || err[0] >= 0) {
		struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN},
					{.fd = err[0], .events = POLLIN}};
		int left_ms = (int)((deadline - now_s()) * 1000);

		if (left_ms <= 0) {
			kill(pid, SIGKILL);
			r->killed = true;
			break;
		}
		if (poll(fds, 2, left_ms) < 0 && errno != EINTR)
			break;
		if (out[0] >= 0 && fds[0].revents)
			drain(&out[0], r->out, &r->out_len);
		if (err[0] >= 0 && fds[1].revents)
			drain(&err[0], r->err, &r->err_len);
	}
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	waitpid(pid, &ws, 0);
	r->seconds = now_s() - r->seconds;
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return 0;
}

static inline int run_snapvm_with(struct run *r, const char *const *args, enum devices devices)
{
	return run_snapvm_full(r, args, devices, NULL);
}

static inline int run_snapvm(struct run *r, const char *const *args)
{
	return run_snapvm_full(r, args, DEVICES_ALL, NULL);
}

#define RUN(r, ...)                                                                                \
	do {                                                                                       \
		const char *const args_[] = {__VA_ARGS__, NULL};                                   \
		ASSERT_EQ(0, run_snapvm((r), args_));                                              \
		ASSERT_FALSE((r)->killed)                                                          \
		TH_LOG("snapvm still running after %d s; killed. stdout:\n%s\nstderr:\n%s",        \
		       RUN_DEADLINE_S, (r)->out, (r)->err);                                        \
	} while (0)

/* Assert the exit status, showing both outputs when it differs. */
#define EXPECT_STATUS(r, expected)                                                                 \
	EXPECT_EQ((expected), (r)->status)                                                         \
	TH_LOG("snapvm exited %d, expected %d\nstdout:\n%s\nstderr:\n%s", (r)->status, (expected), \
	       (r)->out, (r)->err)

#define EXPECT_CONTAINS(haystack, needle, what, r)                                                 \
	EXPECT_NE(NULL, strcasestr((haystack), (needle)))                                          \
	TH_LOG("%s lacks \"%s\"\nstdout:\n%s\nstderr:\n%s", (what), (needle), (r)->out, (r)->err)

#endif /* SNAPVM_TESTS_LAUNCHER_HELPERS_H */
