// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_escape_test.c - what a compromised VMM would try under the seccomp
 * filter (files created, renamed or removed outside the output directory,
 * /proc/self/mem, signals to other processes) fails and changes nothing;
 * output files are written in the directory only when it is allowed.
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

/* ---- escapes: what a compromised VMM would try under the filter ---- */

/*
 * Each escape runs in a child that installs the filter (with the output
 * directory allowed, as `--snapshot-out` does, or without) and then tries
 * it; the child exits ESCAPED when a step it must not take succeeded,
 * REFUSED when refused with an errno, or dies of SIGSYS. The parent checks
 * the file system too: nothing outside may be created, renamed, removed.
 */
#define REFUSED 0
#define ESCAPED 1

FIXTURE(escape)
{
	char tmp[PATH_MAX / 2];
	char out[PATH_MAX / 2 + 16];	 /* the allowed output directory */
	char outside[PATH_MAX / 2 + 16]; /* its sibling, off limits */
	char victim[PATH_MAX];		 /* outside/victim: must stay */
	int dirfd;
	pid_t sibling; /* another process of ours: must stay alive */
	int to_sibling, from_sibling;
};

FIXTURE_VARIANT(escape)
{
	bool with_dir; /* snapvm_seccomp_install_dirs(out) vs _install() */
};

FIXTURE_VARIANT_ADD(escape, output_dir){.with_dir = true};
FIXTURE_VARIANT_ADD(escape, no_output_dir){.with_dir = false};

static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

FIXTURE_SETUP(escape)
{
	int down[2], up[2];
	char c;

	ASSERT_NE(NULL, vmm_make_tmpdir(self->tmp, sizeof(self->tmp), "escape"));
	snprintf(self->out, sizeof(self->out), "%s/out", self->tmp);
	snprintf(self->outside, sizeof(self->outside), "%s/outside", self->tmp);
	snprintf(self->victim, sizeof(self->victim), "%s/victim", self->outside);
	ASSERT_EQ(0, mkdir(self->out, 0755));
	ASSERT_EQ(0, mkdir(self->outside, 0755));
	put_file(self->victim, "victim");
	self->dirfd = open(self->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->dirfd);
	/* The sibling echoes each byte until its pipe closes. */
	ASSERT_EQ(0, pipe2(down, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(up, O_CLOEXEC));
	self->sibling = fork();
	ASSERT_LE(0, self->sibling);
	if (self->sibling == 0) {
		close(down[1]);
		close(up[0]);
		while (read(down[0], &c, 1) == 1)
			if (write(up[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	self->to_sibling = down[1];
	self->from_sibling = up[0];
}

FIXTURE_TEARDOWN(escape)
{
	char cmd[PATH_MAX + 16];

	close(self->to_sibling);
	close(self->from_sibling);
	waitpid(self->sibling, NULL, 0);
	close(self->dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->tmp);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->tmp);
}

/* A function the /proc/self/mem escape patches to return 42. */
static __attribute__((noinline)) int returns_one(void)
{
	__asm__ volatile("");
	return 1;
}

static int (*volatile returns_one_ptr)(void) = returns_one;

/* What the child's escapes need: the fixture's paths and fds. */
static const struct escape_ctx {
	const char *out, *outside, *victim;
	int dirfd;
	pid_t sibling;
} * ctx;

static void must_fail(long ret)
{
	if (ret >= 0)
		_exit(ESCAPED);
}

static void escape_create_and_write(void)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/created", ctx->outside);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	must_fail(fd);
	must_fail(write(fd, "owned", 5));
}

static void escape_creat(void)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/created", ctx->outside);
	must_fail(syscall(SYS_creat, path, 0644));
}

/* The output dir's fd, but an absolute path: the fd does not count. */
static void escape_openat_absolute(void)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/created", ctx->outside);
	fd = openat(ctx->dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	must_fail(fd);
	must_fail(write(fd, "owned", 5));
}

static void escape_openat_dotdot(void)
{
	int fd =
	    openat(ctx->dirfd, "../outside/created", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	must_fail(fd);
	must_fail(write(fd, "owned", 5));
}

/* An existing file, to truncate or overwrite it. */
static void escape_openat_existing(void)
{
	must_fail(openat(ctx->dirfd, ctx->victim, O_WRONLY | O_TRUNC | O_CLOEXEC));
}

static void escape_rename(void)
{
	char to[PATH_MAX + 16];

	snprintf(to, sizeof(to), "%s/renamed", ctx->outside);
	must_fail(rename(ctx->victim, to));
}

static void escape_renameat_absolute(void)
{
	char to[PATH_MAX + 16];

	snprintf(to, sizeof(to), "%s/renamed", ctx->outside);
	must_fail(renameat(ctx->dirfd, ctx->victim, ctx->dirfd, to));
}

/* Moving the victim into the output directory, where it could be removed. */
static void escape_renameat_into_dir(void)
{
	must_fail(renameat(ctx->dirfd, "../outside/victim", ctx->dirfd, "stolen"));
}

static void escape_unlink(void)
{
	must_fail(unlink(ctx->victim));
}

static void escape_unlinkat_absolute(void)
{
	must_fail(unlinkat(ctx->dirfd, ctx->victim, 0));
}

static void escape_unlinkat_dotdot(void)
{
	must_fail(unlinkat(ctx->dirfd, "../outside/victim", 0));
}

static void escape_link(void)
{
	char to[PATH_MAX + 16];

	snprintf(to, sizeof(to), "%s/renamed", ctx->outside);
	must_fail(link(ctx->victim, to));
}

static void escape_symlink(void)
{
	char to[PATH_MAX + 16];

	snprintf(to, sizeof(to), "%s/renamed", ctx->outside);
	must_fail(symlink(ctx->victim, to));
}

static void escape_mkdir(void)
{
	char to[PATH_MAX + 16];

	snprintf(to, sizeof(to), "%s/renamed", ctx->outside);
	must_fail(mkdir(to, 0755));
}

static void escape_truncate_chmod(void)
{
	must_fail(truncate(ctx->victim, 0));
	must_fail(chmod(ctx->victim, 0600));
}

/* Patch our own code through fd (/proc/self/mem): no PROT_EXEC needed. */
static void patch_returns_one(int fd)
{
	/* mov $42, %eax; ret */
	static const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};

	if (fd >= 0)
		pwrite(fd, code, sizeof(code), (off_t)(uintptr_t)returns_one);
	if (returns_one_ptr() != 1)
		_exit(ESCAPED);
	must_fail(fd);
}

static void escape_proc_self_mem(void)
{
	patch_returns_one(open("/proc/self/mem", O_RDWR | O_CLOEXEC));
}

/* The flags and fd the filter lets through for output files. */
static void escape_proc_self_mem_at(void)
{
	patch_returns_one(
	    openat(ctx->dirfd, "/proc/self/mem", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
}

static void escape_tgkill_sibling(void)
{
	must_fail(syscall(SYS_tgkill, ctx->sibling, ctx->sibling, SIGKILL));
}

static void escape_tkill_sibling(void)
{
	must_fail(syscall(SYS_tkill, ctx->sibling, SIGKILL));
}

static void escape_kill_sibling(void)
{
	must_fail(kill(ctx->sibling, SIGKILL));
}

static const struct {
	const char *name;
	void (*fn)(void);
} escapes[] = {
    {"open(O_CREAT) + write outside", escape_create_and_write},
    {"creat outside", escape_creat},
    {"openat(dir, absolute path, O_CREAT | O_EXCL)", escape_openat_absolute},
    {"openat(dir, ../outside/x, O_CREAT | O_EXCL)", escape_openat_dotdot},
    {"openat(dir, existing file, O_TRUNC)", escape_openat_existing},
    {"rename outside", escape_rename},
    {"renameat(dir, absolute paths)", escape_renameat_absolute},
    {"renameat(dir, ../outside/victim -> dir)", escape_renameat_into_dir},
    {"unlink outside", escape_unlink},
    {"unlinkat(dir, absolute path)", escape_unlinkat_absolute},
    {"unlinkat(dir, ../outside/victim)", escape_unlinkat_dotdot},
    {"link outside", escape_link},
    {"symlink outside", escape_symlink},
    {"mkdir outside", escape_mkdir},
    {"truncate, chmod outside", escape_truncate_chmod},
    {"/proc/self/mem patches .text", escape_proc_self_mem},
    {"openat(dir, /proc/self/mem, O_CREAT | O_EXCL) patches .text", escape_proc_self_mem_at},
    {"tgkill a sibling process", escape_tgkill_sibling},
    {"tkill a sibling process", escape_tkill_sibling},
    {"kill a sibling process", escape_kill_sibling},
};

/* Fork, install the filter, run fn; the wait status. */
static int escape_under_filter(const struct escape_ctx *c, bool with_dir, void (*fn)(void),
			       bool *alive)
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
		struct snapvm_error err;

		close(p[0]);
		ctx = c;
		if (with_dir ? snapvm_seccomp_install_dirs(&c->dirfd, 1, &err)
			     : snapvm_seccomp_install(&err)) {
			dprintf(STDERR_FILENO, "seccomp install: %s\n", err.message);
			_exit(err.status);
		}
		if (write(p[1], "alive", 5) != 5)
			_exit(90);
		fn();
		_exit(REFUSED);
	}
	close(p[1]);
	*alive = read(p[0], buf, sizeof(buf)) == 5 && !memcmp(buf, "alive", 5);
	close(p[0]);
	waitpid(pid, &ws, 0);
	return ws;
}

/* Remove whatever an escape left in out and outside; the victim anew. */
static void reset_dirs(const char *out, const char *outside, const char *victim)
{
	const char *dirs[] = {out, outside};

	for (int i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
			    unlinkat(dirfd(d), e->d_name, 0))
				unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		if (d)
			closedir(d);
	}
	put_file(victim, "victim");
}

TEST_F_TIMEOUT(escape, every_escape_is_refused_and_changes_nothing, 300)
{
	const struct escape_ctx c = {
	    .out = self->out,
	    .outside = self->outside,
	    .victim = self->victim,
	    .dirfd = self->dirfd,
	    .sibling = self->sibling,
	};
	char top[256], out[256], outside[256], victim[16];
	char ping = 'p', pong = 0;

	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		bool alive;
		int ws = escape_under_filter(&c, variant->with_dir, escapes[i].fn, &alive);
		int fd;

		EXPECT_TRUE(alive) TH_LOG("%s: died before its escape (0x%x)", escapes[i].name, ws);
		fprintf(stderr, "# %s: %s\n", escapes[i].name,
			WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS     ? "killed by SIGSYS"
			: WIFEXITED(ws) && WEXITSTATUS(ws) == REFUSED ? "refused (errno)"
								      : "ESCAPED");
		EXPECT_TRUE((WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS) ||
			    (WIFEXITED(ws) && WEXITSTATUS(ws) == REFUSED))
		TH_LOG("%s: wait status 0x%x, want SIGSYS or a refusal", escapes[i].name, ws);
		list_dir(self->tmp, top, sizeof(top));
		list_dir(self->out, out, sizeof(out));
		list_dir(self->outside, outside, sizeof(outside));
		EXPECT_STREQ("out outside ", top)
		TH_LOG("%s: %s changed", escapes[i].name, self->tmp);
		EXPECT_STREQ("", out) TH_LOG("%s: %s changed", escapes[i].name, self->out);
		EXPECT_STREQ("victim ", outside)
		TH_LOG("%s: %s changed", escapes[i].name, self->outside);
		memset(victim, 0, sizeof(victim));
		fd = open(self->victim, O_RDONLY | O_CLOEXEC);
		EXPECT_EQ(6, read(fd, victim, sizeof(victim) - 1));
		close(fd);
		EXPECT_STREQ("victim", victim) TH_LOG("%s: the victim changed", escapes[i].name);
		/* The sibling still answers. */
		ASSERT_EQ(1, write(self->to_sibling, &ping, 1));
		EXPECT_EQ(1, read(self->from_sibling, &pong, 1))
		TH_LOG("%s: the sibling process died", escapes[i].name);
		if (pong != ping)
			break; /* no sibling left for the next escape */
		/* Put things back, had an escape got through: each is tried on
		 * its own. */
		reset_dirs(self->out, self->outside, self->victim);
	}
}

/* What the filter allows in the output directory: the launcher's way of
 * writing a file (snapvm_output_begin / _commit) works, and leaves only the
 * file. Without output directories, even that is refused. */
static void write_output_file(void)
{
	char tmp[NAME_MAX + 1];
	int fd;

	if (snapvm_output_begin(ctx->dirfd, "saved", tmp, &fd))
		_exit(ESCAPED);
	if (write(fd, "saved", 5) != 5 || snapvm_output_commit(ctx->dirfd, tmp, "saved", fd, 0))
		_exit(ESCAPED);
}

TEST_F_TIMEOUT(escape, output_files_are_written_in_the_directory_only_when_allowed, 120)
{
	const struct escape_ctx c = {.dirfd = self->dirfd};
	char names[256];
	bool alive;
	int ws = escape_under_filter(&c, variant->with_dir, write_output_file, &alive);

	EXPECT_TRUE(alive);
	list_dir(self->out, names, sizeof(names));
	if (variant->with_dir) {
		EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == REFUSED)
		TH_LOG("wait status 0x%x, want exit 0", ws);
		EXPECT_STREQ("saved ", names);
	} else {
		EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS)
		TH_LOG("wait status 0x%x, want death by SIGSYS", ws);
		EXPECT_STREQ("", names);
	}
}

static void *wait_forever(void *arg)
{
	int *p = arg;
	char c;

	read(p[0], &c, 1);
	return NULL;
}

/* Landlock confines the calling thread only: with output directories and
 * another thread, the filter refuses to go on rather than leave it free. */
TEST(output_directories_with_another_thread_are_refused)
{
	struct snapvm_error err;
	pthread_t thread;
	int p[2], dirfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ws = 0;
	pid_t pid;

	ASSERT_LE(0, dirfd);
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (pthread_create(&thread, NULL, wait_forever, p))
			_exit(91);
		_exit(snapvm_seccomp_install_dirs(&dirfd, 1, &err) == EX_SOFTWARE &&
			      strstr(err.message, "threads")
			  ? 0
			  : 1);
	}
	waitpid(pid, &ws, 0);
	close(p[0]);
	close(p[1]);
	close(dirfd);
	EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) TH_LOG("wait status 0x%x", ws);
}

TEST_HARNESS_MAIN
