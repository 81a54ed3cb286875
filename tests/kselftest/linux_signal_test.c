// SPDX-License-Identifier: GPL-2.0
/*
 * linux_signal_test.c - signals of Linux programs under the personality,
 * on both layouts and both memory backends: handlers of faults with
 * Linux's frames (linux_signal_prog, built -m64 and -m32, checks what its
 * handlers see and edits their frames), hostile frame edits that must
 * never reach ring 0, and signals from the host: `snapvm run` forwards
 * SIGTERM/SIGINT/SIGHUP (sent once the program said "ready" on its stdout
 * pipe, so the program is computing or blocked on stdin by then), and
 * snapvm_linux_raise() (SIGKILL; requests that leave nothing behind).
 */
#define _GNU_SOURCE
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "userspace/lib/snapvm.h"

#define TEST_TIMEOUT_S 600
#define SIG_TEST(name) TEST_F_TIMEOUT(sig, name, TEST_TIMEOUT_S)

FIXTURE(sig)
{
	char skip[256];
	char dir[PATH_MAX / 2];
	char prog[PATH_MAX];
	char busybox[PATH_MAX];
	char snapvm[PATH_MAX];
	char memory_opt[32];
};

VMM_VARIANTS(sig);

FIXTURE_SETUP(sig)
{
	bool is64 = variant->layout_id == SNAPVM_LAYOUT_AMD64;

	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	snprintf(self->prog, sizeof(self->prog), "%s/tests/kselftest/linux_signal_prog%s",
		 vmm_build_dir(), is64 ? "64" : "32");
	snprintf(self->busybox, sizeof(self->busybox), "%s/../.cache/busybox/%s/bin/busybox",
		 vmm_build_dir(), is64 ? "amd64" : "i386");
	snprintf(self->snapvm, sizeof(self->snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(self->memory_opt, sizeof(self->memory_opt), "--memory=%s", variant->memory);
	ASSERT_EQ(0, access(self->prog, X_OK));
	ASSERT_EQ(0, access(self->busybox, X_OK))
	TH_LOG("%s is missing: run tests/vm/setup", self->busybox);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->dir, sizeof(self->dir), "lxsig"));
}

FIXTURE_TEARDOWN(sig)
{
	vmm_remove_tmpdir(self->dir);
}

/* ---- the launcher with pipes on stdin and stdout ---- */

struct child {
	pid_t pid;
	int in, out; /* our ends */
	char err_path[PATH_MAX];
	char text[8192]; /* stdout so far */
	size_t len;
};

static bool start(FIXTURE_DATA(sig) * self, const char *const *args, struct child *c)
{
	const char *argv[32];
	int in[2], out[2], n = 0;

	argv[n++] = self->snapvm;
	argv[n++] = "run";
	argv[n++] = self->memory_opt;
	argv[n++] = "--timeout=120";
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	memset(c, 0, sizeof(*c));
	snprintf(c->err_path, sizeof(c->err_path), "%s/stderr", self->dir);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return false;
	c->pid = fork();
	if (c->pid == 0) {
		int e = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (e < 0)
			_exit(126);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(e, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
	return c->pid > 0;
}

/* Read stdout until it holds what (or EOF, or 120 s). */
static bool wait_for(struct child *c, const char *what)
{
	while (!strstr(c->text, what)) {
		struct pollfd p = {.fd = c->out, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 120000) != 1)
			return false;
		n = read(c->out, c->text + c->len, sizeof(c->text) - 1 - c->len);
		if (n <= 0)
			return false;
		c->len += (size_t)n;
		c->text[c->len] = 0;
	}
	return true;
}

/* Close stdin, read the rest of stdout, and the exit status. */
static int finish(struct child *c)
{
	int status;

	if (c->in >= 0)
		close(c->in);
	c->in = -1;
	wait_for(c, "\x01never\x01");
	close(c->out);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *stderr_of(struct child *c)
{
	static char buf[4096];
	int fd = open(c->err_path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* The program alone (stdin /dev/null via a closed pipe): status, stdout. */
static int run_case(FIXTURE_DATA(sig) * self, const char *mode, struct child *c)
{
	if (!start(self, (const char *const[]){self->prog, mode, NULL}, c))
		return -1;
	return finish(c);
}

/* ---- faults to handlers ---- */

SIG_TEST(fault_handlers_get_linux_frames)
{
	struct child c;

	REQUIRE_BACKEND();
	/* si_signo, si_addr and the frame's RIP/EIP of SIGSEGV, SIGFPE and
	 * SIGILL; sa_mask and the signal blocked in the handler; the handler
	 * moves RIP past the fault and returns through rt_sigreturn. */
	EXPECT_EQ(0, run_case(self, "faults", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("segv ok 0x10\nfpe ok\nill ok\n", c.text);

	/* kill of itself: the handler runs before kill returns (SI_USER). */
	EXPECT_EQ(0, run_case(self, "raise", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("raise ok\n", c.text);
}

SIG_TEST(i386_sigreturn_and_rt_sigreturn)
{
	struct child c;

	REQUIRE_BACKEND();
	/* No SA_SIGINFO: the old sigframe, back through sigreturn (119) on
	 * i386; amd64 has rt frames only (the faults case covers them). */
	EXPECT_EQ(0, run_case(self, "old-frame", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ(variant->layout_id == SNAPVM_LAYOUT_I686 ? "old-frame ok\n"
							      : "old-frame n/a\n",
		     c.text);
}

SIG_TEST(hostile_frames_never_reach_ring_0)
{
	struct child c;

	REQUIRE_BACKEND();
	/* CS=0x8 and RIP in the personality's text: the way back is ring 3,
	 * where that address faults (SIGSEGV at 0x100000, CS ring 3). */
	EXPECT_EQ(0, run_case(self, "hostile-ip", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("hostile-ip ok\n", c.text);
	/* Then IOPL 3 and NT in EFLAGS: cli still faults (IOPL 0, IF set). */
	EXPECT_EQ(0, run_case(self, "hostile", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("hostile ok\n", c.text);
	/* A non-canonical RIP (amd64) or a ring-0 GS (i386): SIGSEGV. */
	EXPECT_EQ(139, run_case(self, "unusable", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("unusable\n", c.text);
	EXPECT_NE(NULL, strstr(stderr_of(&c), "killed by SIGSEGV"));
}

SIG_TEST(altstack_resethand_and_deadly_faults)
{
	struct child c;

	REQUIRE_BACKEND();
	/* SA_ONSTACK on a sigaltstack; SA_RESETHAND: the next fault kills. */
	EXPECT_EQ(139, run_case(self, "altstack", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("altstack ok\n", c.text);
	/* A fault in the handler of the same (blocked) signal ends it. */
	EXPECT_EQ(139, run_case(self, "refault", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("in handler\n", c.text);
	EXPECT_NE(NULL, strstr(stderr_of(&c), "address 0x20"));
	/* SIG_IGN of SIGSEGV: a fault kills all the same. */
	EXPECT_EQ(139, run_case(self, "segv-ignored", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("", c.text);
	/* No stack for the frame: SIGSEGV, the handler never runs. */
	EXPECT_EQ(139, run_case(self, "bad-stack", &c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("", c.text);
}

/* ---- signals from the host, through `snapvm run` ---- */

/*
 * Wait until the launcher is blocked in system call nr: poll(2) for the
 * program's stdin (the READ host call), ppoll(2) for its sleep (SLEEP), so
 * that a signal finds the program blocked there rather than on its way.
 * /proc/PID/syscall names the call a blocked task is in.
 */
static bool blocked_in(pid_t pid, int nr)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 120000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return false;
		buf[n] = 0;
		if (atoi(buf) == nr)
			return true;
		usleep(1000);
	}
	return false;
}

static bool blocked_in_read(pid_t pid)
{
	return blocked_in(pid, SYS_poll);
}

/* Has the launcher taken signo (its handler ran)? Until then, input or
 * EOF on stdin would race with the signal for the blocked read. */
static bool delivered(pid_t pid, int signo)
{
	char path[64], buf[4096];
	unsigned long long bit = 1ULL << (signo - 1);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (int i = 0; i < 120000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		const char *thread, *shared;

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return true; /* gone: it took it */
		buf[n] = 0;
		thread = strstr(buf, "SigPnd:");
		shared = strstr(buf, "ShdPnd:");
		if (!thread || !shared)
			return false;
		if (!(strtoull(thread + 7, NULL, 16) & bit) &&
		    !(strtoull(shared + 7, NULL, 16) & bit))
			return true;
		usleep(1000);
	}
	return false;
}

/* Start mode, wait for "ready", send signo to the launcher; once it took
 * the signal (and, with input, once the read waits again), write input
 * (if any) to the program's stdin; the exit status. */
static int signalled(struct __test_metadata *_metadata, FIXTURE_DATA(sig) * self, const char *mode,
		     int signo, const char *input, struct child *c)
{
	if (!start(self, (const char *const[]){self->prog, mode, NULL}, c))
		return -1;
	EXPECT_TRUE(wait_for(c, "ready\n")) TH_LOG("%s: %s%s", mode, c->text, stderr_of(c));
	/* A sleep waits in ppoll(2) on the host, a read in poll(2). */
	if (strncmp(mode, "spin", 4)) {
		int nr = strncmp(mode, "sleep", 5) ? SYS_poll : SYS_ppoll;

		EXPECT_TRUE(blocked_in(c->pid, nr)) TH_LOG("%s: never blocked in %d", mode, nr);
	}
	kill(c->pid, signo);
	EXPECT_TRUE(delivered(c->pid, signo)) TH_LOG("%s: signal %d never taken", mode, signo);
	if (input) {
		EXPECT_TRUE(blocked_in_read(c->pid)) TH_LOG("%s: read never waited again", mode);
		if (write(c->in, input, strlen(input)) != (ssize_t)strlen(input))
			return -1;
	}
	return finish(c);
}

SIG_TEST(sigterm_while_computing)
{
	struct child c;

	REQUIRE_BACKEND();
	/* The vCPU runs ring-3 code: the host injects the personality's
	 * vector and the handler runs. */
	EXPECT_EQ(3, signalled(_metadata, self, "spin", SIGTERM, NULL, &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\ngot TERM\n", c.text);
	/* No handler: the run ends at once, as Linux's 143 (130, 129). */
	EXPECT_EQ(143, signalled(_metadata, self, "spin-dfl", SIGTERM, NULL, &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_EQ(130, signalled(_metadata, self, "spin-dfl", SIGINT, NULL, &c));
	EXPECT_EQ(129, signalled(_metadata, self, "spin-dfl", SIGHUP, NULL, &c));
}

SIG_TEST(sigterm_while_blocked_in_read)
{
	struct child c;

	REQUIRE_BACKEND();
	/* read of stdin waits on the host: EINTR after the handler... */
	EXPECT_EQ(3, signalled(_metadata, self, "read-eintr", SIGTERM, NULL, &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\nread EINTR\n", c.text);
	/* ...or, with SA_RESTART, the read starts again and gets the input. */
	EXPECT_EQ(0, signalled(_metadata, self, "read-restart", SIGTERM, "x", &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\nrestarted x\n", c.text);
	/* A sleep gives EINTR after the handler, SA_RESTART or not. */
	EXPECT_EQ(3, signalled(_metadata, self, "sleep-eintr", SIGTERM, NULL, &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\nsleep EINTR\n", c.text);
	/* No handler: 143, the read never returns. */
	EXPECT_EQ(143, signalled(_metadata, self, "read-dfl", SIGTERM, NULL, &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\n", c.text);
}

SIG_TEST(ignored_and_blocked_sigterm)
{
	struct child c;

	REQUIRE_BACKEND();
	/* SIG_IGN: nothing happens, the read goes on. */
	EXPECT_EQ(0, signalled(_metadata, self, "ignore", SIGTERM, "x", &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\nignored\n", c.text);
	/* Blocked: pending until rt_sigprocmask unblocks it, then handled. */
	EXPECT_EQ(0, signalled(_metadata, self, "blocked", SIGTERM, "x", &c))
	TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\npending\ndelivered at unblock\n", c.text);
}

SIG_TEST(busybox_trap)
{
	/* The shell writes "ready", then a line on stderr (which flushes its
	 * stdout: the personality buffers a pipe), then blocks in read. */
	static const char with_trap[] = "trap 'echo got TERM; exit 3' TERM; echo ready; "
					"echo sync >&2; read x; echo after";
	static const char without[] = "echo ready; echo sync >&2; read x; echo after";
	struct child c;

	REQUIRE_BACKEND();
	ASSERT_TRUE(
	    start(self, (const char *const[]){self->busybox, "sh", "-c", with_trap, NULL}, &c));
	ASSERT_TRUE(wait_for(&c, "ready\n")) TH_LOG("%s", stderr_of(&c));
	ASSERT_TRUE(blocked_in_read(c.pid));
	kill(c.pid, SIGTERM);
	ASSERT_TRUE(delivered(c.pid, SIGTERM));
	EXPECT_EQ(3, finish(&c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\ngot TERM\n", c.text);

	ASSERT_TRUE(
	    start(self, (const char *const[]){self->busybox, "sh", "-c", without, NULL}, &c));
	ASSERT_TRUE(wait_for(&c, "ready\n")) TH_LOG("%s", stderr_of(&c));
	ASSERT_TRUE(blocked_in_read(c.pid));
	kill(c.pid, SIGTERM);
	ASSERT_TRUE(delivered(c.pid, SIGTERM));
	EXPECT_EQ(143, finish(&c)) TH_LOG("%s%s", c.text, stderr_of(&c));
	EXPECT_STREQ("ready\n", c.text);
}

/* ---- snapvm_linux_raise ---- */

struct sandbox_of {
	struct snapvm_linux *lx;
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb;
};

static int open_program(FIXTURE_DATA(sig) * self, const FIXTURE_VARIANT(sig) * variant,
			const char *mode, int snapshot_at, struct sandbox_of *s,
			struct snapvm_error *err)
{
	const char *argv[] = {self->prog, mode, NULL};
	struct snapvm_linux_options lo = {.argv = argv, .snapshot_at = snapshot_at};
	int ret;

	memset(s, 0, sizeof(*s));
	ret = snapvm_linux_create(self->prog, &lo, &s->lx, err);
	if (!ret)
		ret = snapvm_linux_snapshot(s->lx, variant->memory_id, &s->snap, err);
	if (!ret)
		ret = snapvm_sandbox_create(s->snap, NULL, &s->sb, err);
	if (!ret)
		ret = snapvm_linux_attach(s->lx, s->sb, err);
	return ret;
}

static void close_program(struct sandbox_of *s)
{
	if (s->sb)
		snapvm_sandbox_destroy(s->sb);
	if (s->snap)
		snapvm_snapshot_put(s->snap);
	snapvm_linux_destroy(s->lx);
}

struct killer {
	struct snapvm_linux *lx;
	int fd;
	int signo;
};

/* Feed the program its byte (it then spins, or is still reading), and
 * raise the signal. */
static void *kill_it(void *arg)
{
	struct killer *k = arg;

	if (write(k->fd, "g", 1) != 1)
		return NULL;
	snapvm_linux_raise(k->lx, k->signo);
	return NULL;
}

SIG_TEST(sigkill_ends_the_run_whatever_the_program_does)
{
	struct sandbox_of s;
	struct snapvm_outcome o;
	struct snapvm_error err;
	struct killer k;
	pthread_t t;
	int p[2];

	REQUIRE_BACKEND();
	/* It handles and blocks every signal it can, then spins. */
	ASSERT_EQ(0, open_program(self, variant, "kill-proof", 0, &s, &err))
	TH_LOG("%s", err.message);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	snapvm_linux_set_input(s.lx, p[0], NULL, 0);
	k = (struct killer){s.lx, p[1], SIGKILL};
	ASSERT_EQ(0, pthread_create(&t, NULL, kill_it, &k));
	EXPECT_EQ(0, snapvm_sandbox_run(s.sb, 120000, &o, &err)) TH_LOG("%s", err.message);
	pthread_join(t, NULL);
	EXPECT_EQ(SNAPVM_STOP_SIGNAL, (int)o.stop) TH_LOG("%d: %s", o.stop, o.message);
	EXPECT_EQ(SIGKILL, o.code);
	EXPECT_EQ(137, snapvm_outcome_exit_status(&o));
	close(p[0]);
	close(p[1]);
	close_program(&s);

	/* Raised before the run: the run stops before the guest runs. */
	ASSERT_EQ(0, open_program(self, variant, "spin-dfl", 0, &s, &err))
	TH_LOG("%s", err.message);
	snapvm_linux_raise(s.lx, SIGTERM);
	EXPECT_EQ(0, snapvm_sandbox_run(s.sb, 120000, &o, &err)) TH_LOG("%s", err.message);
	EXPECT_EQ(SNAPVM_STOP_SIGNAL, (int)o.stop) TH_LOG("%d: %s", o.stop, o.message);
	EXPECT_EQ(143, snapvm_outcome_exit_status(&o));
	close_program(&s);
}

SIG_TEST(requests_leave_no_signal_behind)
{
	struct sandbox_of s;
	struct snapvm_error err;
	char out[256];
	size_t out_len;
	int status;

	REQUIRE_BACKEND();
	/* Snapshot at the first read, with a SIGUSR1 handler installed. */
	ASSERT_EQ(
	    0, open_program(self, variant, "request", SNAPVM_LINUX_SNAPSHOT_FIRST_READ, &s, &err))
	TH_LOG("%s", err.message);
	{
		struct snapvm_outcome o;
		struct snapvm_snapshot *taken;

		ASSERT_EQ(0, snapvm_sandbox_run(s.sb, 120000, &o, &err)) TH_LOG("%s", err.message);
		ASSERT_EQ(SNAPVM_STOP_SNAPSHOT, (int)o.stop) TH_LOG("%s", o.message);
		ASSERT_EQ(0, snapvm_sandbox_take_snapshot(s.sb, &taken, &err))
		TH_LOG("%s", err.message);
		snapvm_sandbox_destroy(s.sb);
		s.sb = NULL;
		ASSERT_EQ(0, snapvm_sandbox_create(taken, NULL, &s.sb, &err))
		TH_LOG("%s", err.message);
		snapvm_snapshot_put(taken);
		ASSERT_EQ(0, snapvm_linux_attach(s.lx, s.sb, &err));
	}
	for (int i = 0; i < 6; i++) {
		char in = (char)('0' + i);

		/* Between requests: a handled signal (pending on the host) and
		 * a SIG_DFL one (which would stop the next run). Neither may
		 * reach the next request. */
		if (i % 2) {
			snapvm_linux_raise(s.lx, SIGUSR1);
			snapvm_linux_raise(s.lx, SIGTERM);
		}
		ASSERT_EQ(0, snapvm_linux_request(s.sb, s.lx, &in, 1, out, sizeof(out) - 1,
						  &out_len, &status, 120000, &err))
		TH_LOG("%s", err.message);
		out[out_len] = 0;
		EXPECT_EQ(i, status);
		EXPECT_STREQ("no signal\n", out);
	}
	close_program(&s);
}

TEST_HARNESS_MAIN
