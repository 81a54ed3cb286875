// SPDX-License-Identifier: GPL-2.0
/*
 * containerd_test.c - snapvm-runc driven by the real containerd (issue 19):
 * a private containerd (tests/containerd/start: its own root, state and
 * socket, no CRI), started once per run of this binary by the first test
 * and stopped when the binary ends, and `ctr run --rm --runc-binary RUNTIME
 * --rootfs DIR` on a rootfs holding Debian's busybox-static. Every case runs
 * with snapvm-runc and with the stock runc (the variants), so the suite
 * shows where the two differ; where they differ by design, each variant
 * asserts its own result and a comment says why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"

/* Each ctr run takes seconds under TCG: containerd, the shim and the
 * runtime are Go programs. */
#define CTR_TEST_TIMEOUT_S 600
#define CTR_TEST(name)	   TEST_F_TIMEOUT(ctr, name, CTR_TEST_TIMEOUT_S)
#define OUT_MAX		   65536
/* A child (ctr) taking longer is killed and its test fails. */
#define CHILD_DEADLINE_S 240
#define STOCK_RUNC	 "/usr/sbin/runc"

/* The suite's directory, made by the main process: the children that run
 * the tests start containerd there once (the first one finds no address
 * file) and the main process stops it at exit. */
static char suite_dir[PATH_MAX / 4];
static pid_t suite_pid;

static const char *repo_root(void)
{
	static char root[PATH_MAX / 2 + 8];

	if (!root[0])
		snprintf(root, sizeof(root), "%s/..", vmm_build_dir());
	return root;
}

__attribute__((constructor)) static void suite_init(void)
{
	snprintf(suite_dir, sizeof(suite_dir), "/tmp/containerd_test.XXXXXX");
	if (!mkdtemp(suite_dir))
		suite_dir[0] = '\0';
	suite_pid = getpid();
}

__attribute__((destructor)) static void suite_fini(void)
{
	char cmd[PATH_MAX * 2];

	if (getpid() != suite_pid || !suite_dir[0])
		return;
	snprintf(cmd, sizeof(cmd),
		 "'%s/tests/containerd/start' --stop '%s/containerd' >/dev/null 2>&1", repo_root(),
		 suite_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# containerd_test: stopping containerd failed\n");
	vmm_remove_tmpdir(suite_dir);
}

FIXTURE(ctr)
{
	char address[PATH_MAX];
	char rootfs[PATH_MAX];
	char runtime[PATH_MAX];
	char snapvm[PATH_MAX];
	char id[64];
	bool snapvm_runc;
};

FIXTURE_VARIANT(ctr)
{
	bool snapvm_runc;
};

FIXTURE_VARIANT_ADD(ctr, snapvm_runc){
    .snapvm_runc = true,
};

FIXTURE_VARIANT_ADD(ctr, runc){
    .snapvm_runc = false,
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* A command through sh -c; 0 when it exited 0. */
static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
	char cmd[PATH_MAX * 4];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The rootfs: busybox and applet links, a snapvm guest ELF and a
 * dynamically linked program (a bad args[0] for snapvm-runc). */
static int make_rootfs(const char *rootfs)
{
	static const char *const applets[] = {"sh", "echo", "cat", "sha256sum", "tty", "true"};
	char path[PATH_MAX * 2];

	if (shell(
		"mkdir -p '%s/bin' && cp '%s/.cache/busybox/amd64/bin/busybox' '%s/bin/busybox' "
		"&& cp '%s/guests/amd64/hello.elf' '%s/hello.elf' && cp /usr/bin/true '%s/bin/dyn'",
		rootfs, repo_root(), rootfs, vmm_build_dir(), rootfs, rootfs))
		return -1;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		snprintf(path, sizeof(path), "%s/bin/%s", rootfs, applets[i]);
		if (symlink("busybox", path) && errno != EEXIST)
			return -1;
	}
	return 0;
}

FIXTURE_SETUP(ctr)
{
	char dir[PATH_MAX / 2], ready[PATH_MAX];

	ASSERT_TRUE(suite_dir[0]) TH_LOG("cannot create /tmp/containerd_test.XXXXXX");
	snprintf(self->rootfs, sizeof(self->rootfs), "%s/rootfs", suite_dir);
	snprintf(dir, sizeof(dir), "%s/containerd", suite_dir);
	snprintf(ready, sizeof(ready), "%s/address", dir);
	if (access(ready, F_OK)) {
		ASSERT_EQ(0, make_rootfs(self->rootfs))
		TH_LOG("cannot build the rootfs %s (busybox from tests/vm/setup, "
		       "build/guests/amd64/hello.elf)",
		       self->rootfs);
		/* Its log goes to the test's output when it fails. */
		ASSERT_EQ(0, shell("'%s/tests/containerd/start' --background '%s' >/dev/null",
				   repo_root(), dir))
		TH_LOG("tests/containerd/start could not start containerd (log: %s/containerd.log)",
		       dir);
	}
	snprintf(self->address, sizeof(self->address), "%s/containerd.sock", dir);
	self->snapvm_runc = variant->snapvm_runc;
	if (variant->snapvm_runc)
		snprintf(self->runtime, sizeof(self->runtime), "%s/snapvm-runc", vmm_build_dir());
	else
		snprintf(self->runtime, sizeof(self->runtime), "%s", STOCK_RUNC);
	snprintf(self->snapvm, sizeof(self->snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(self->id, sizeof(self->id), "%s-%d", variant->snapvm_runc ? "snapvm" : "runc",
		 (int)getpid());
	ASSERT_EQ(0, access(self->runtime, X_OK))
	TH_LOG("%s is missing (snapvm-runc: make programs; runc: tests/vm/setup)", self->runtime);
}

FIXTURE_TEARDOWN(ctr)
{
	/* A detached container a failed test left behind. */
	shell("ctr --address '%s' task delete --force '%s' >/dev/null 2>&1; "
	      "ctr --address '%s' container delete '%s' >/dev/null 2>&1",
	      self->address, self->id, self->address, self->id);
}

/* A child running argv (argv[0] looked up in PATH): its stdin a pipe
 * (*in_fd, or /dev/null when in_fd is NULL), stdout and stderr pipes. */
struct child {
	pid_t pid;
	int out, err;
};

static int child_start(struct child *c, int *in_fd, char *const argv[])
{
	int in[2] = {-1, -1}, out[2], err[2];

	if ((in_fd && pipe2(in, O_CLOEXEC)) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(in_fd ? in[0] : null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (in_fd) {
		close(in[0]);
		*in_fd = in[1];
	}
	close(out[1]);
	close(err[1]);
	c->out = out[0];
	c->err = err[0];
	return 0;
}

/* Read fd until EOF into buf (NUL-terminated, truncated at size - 1);
 * false when end (a time(2)) came first. */
static bool read_all(int fd, char *buf, size_t size, time_t end)
{
	size_t n = 0;
	ssize_t got;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		time_t left = end - time(NULL);

		if (left <= 0 || poll(&p, 1, (int)left * 1000) == 0) {
			buf[n] = '\0';
			return false;
		}
		got = read(fd, buf + n, size - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n >= size - 1)
			break;
	}
	buf[n] = '\0';
	return true;
}

/* Read fd until it holds want (or EOF, or CHILD_DEADLINE_S); true when it
 * was seen. */
static bool read_until(int fd, char *buf, size_t size, const char *want)
{
	size_t n = strlen(buf);
	ssize_t got;

	time_t end = time(NULL) + CHILD_DEADLINE_S;

	while (!strstr(buf, want) && n < size - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		time_t left = end - time(NULL);

		if (left <= 0 || poll(&p, 1, (int)left * 1000) == 0)
			break;
		got = read(fd, buf + n, size - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		buf[n] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* Collect both outputs (stderr is small: read after stdout's EOF) and the
 * exit status (128 + N for signal N); -3 when the child was still running
 * after CHILD_DEADLINE_S (then killed: a hang fails the test, not the
 * suite's timeout). */
static int child_finish(struct child *c, char *out, char *err)
{
	bool done = read_all(c->out, out, OUT_MAX, time(NULL) + CHILD_DEADLINE_S);
	int status;

	if (!done)
		kill(c->pid, SIGKILL);
	read_all(c->err, err, OUT_MAX, time(NULL) + (done ? CHILD_DEADLINE_S : 5));
	close(c->out);
	close(c->err);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	if (!done)
		return -3;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ctr --address A ARGS...; its stdout, stderr and status. */
#define CTR(self, out, err, ...)                                                                   \
	({                                                                                         \
		char *const argv_[] = {"ctr", "--address", (self)->address, __VA_ARGS__, NULL};    \
		struct child c_;                                                                   \
		child_start(&c_, NULL, argv_) ? -1 : child_finish(&c_, out, err);                  \
	})

/* ctr run --rm --runc-binary R [OPTS] --rootfs DIR ID ARGS... in a child:
 * `ctr run` wants options before --rootfs, the command after the id. */
#define CTR_ARGV_MAX 32
static void ctr_run_argv(struct _test_data_ctr *self, const char **argv, bool detach, bool tty,
			 const char *const *args)
{
	size_t n = 0;

	argv[n++] = "ctr";
	argv[n++] = "--address";
	argv[n++] = self->address;
	argv[n++] = "run";
	argv[n++] = detach ? "-d" : "--rm";
	if (tty)
		argv[n++] = "-t";
	argv[n++] = "--runc-binary";
	argv[n++] = self->runtime;
	argv[n++] = "--rootfs";
	argv[n++] = self->rootfs;
	argv[n++] = self->id;
	while (*args && n < CTR_ARGV_MAX - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
}

static int ctr_run_start(struct _test_data_ctr *self, struct child *c, int *in_fd, bool detach,
			 const char *const *args)
{
	const char *argv[CTR_ARGV_MAX];

	ctr_run_argv(self, argv, detach, false, args);
	return child_start(c, in_fd, (char *const *)argv);
}

static int ctr_run(struct _test_data_ctr *self, char *out, char *err, const char *const *args)
{
	struct child c;

	if (ctr_run_start(self, &c, NULL, false, args))
		return -1;
	return child_finish(&c, out, err);
}

/* The task's line of `ctr task ls` (ID PID STATUS), polled until its
 * status is want (the shim answers at once; no sleep-and-hope). Fills
 * *pid. 0 when seen, -1 after deadline_s or once runner (the `ctr run`
 * child, 0: none) has ended. */
static int task_wait_status(struct _test_data_ctr *self, const char *want, pid_t *pid,
			    int deadline_s, pid_t runner)
{
	char out[OUT_MAX], err[OUT_MAX], status[32];
	time_t end = time(NULL) + deadline_s;

	do {
		siginfo_t info = {0};
		char *line;

		/* A `ctr run` that already ended (create failed) never
		 * brings the task: no need to wait out the deadline. */
		if (runner > 0 &&
		    !waitid(P_PID, (id_t)runner, &info, WEXITED | WNOHANG | WNOWAIT) &&
		    info.si_pid == runner)
			return -1;
		if (CTR(self, out, err, "task", "ls") != 0)
			continue;
		for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
			char id[64];
			int p;

			if (sscanf(line, "%63s %d %31s", id, &p, status) == 3 &&
			    !strcmp(id, self->id) && !strcmp(status, want)) {
				if (pid)
					*pid = p;
				return 0;
			}
		}
	} while (time(NULL) < end);
	return -1;
}

static void remove_detached(struct _test_data_ctr *self)
{
	char out[OUT_MAX], err[OUT_MAX];

	CTR(self, out, err, "task", "delete", "--force", self->id);
	CTR(self, out, err, "container", "delete", self->id);
}

CTR_TEST(echo)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/bin/echo", "hello", "from", "a", "container", NULL};

	ASSERT_EQ(0, ctr_run(self, out, err, args)) TH_LOG("stderr: %s", err);
	ASSERT_STREQ("hello from a container\n", out);
}

CTR_TEST(exit_status)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/bin/sh", "-c", "exit 7", NULL};

	ASSERT_EQ(7, ctr_run(self, out, err, args)) TH_LOG("stderr: %s", err);
}

/*
 * Piped stdin reaches the program. ctr 1.6 passes its stdin's EOF on only
 * once its task exists (the closer it sets after creating the task; an EOF
 * before that is lost and the container waits forever): the input is
 * written at once, the pipe closed when the task runs.
 */
CTR_TEST(stdin_sha256sum)
{
	static char out[OUT_MAX], err[OUT_MAX], want[256];
	const char *args[] = {"/bin/sha256sum", NULL};
	char input[4096];
	struct child c;
	int in;

	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (char)('a' + i * 7 % 26);
	ASSERT_EQ(0, write_file("/tmp/containerd_test.input", "")) TH_LOG("cannot write /tmp");
	{
		FILE *f = fopen("/tmp/containerd_test.input", "w");

		ASSERT_NE(NULL, f);
		ASSERT_EQ((size_t)1, fwrite(input, sizeof(input), 1, f));
		fclose(f);
		f = popen("sha256sum </tmp/containerd_test.input", "r");
		ASSERT_NE(NULL, f);
		ASSERT_NE(NULL, fgets(want, sizeof(want), f));
		pclose(f);
		unlink("/tmp/containerd_test.input");
	}
	ASSERT_EQ(0, ctr_run_start(self, &c, &in, false, args));
	ASSERT_EQ((ssize_t)sizeof(input), write(in, input, sizeof(input)));
	EXPECT_EQ(0, task_wait_status(self, "RUNNING", NULL, 120, c.pid));
	close(in);
	ASSERT_EQ(0, child_finish(&c, out, err)) TH_LOG("stderr: %s", err);
	/* "HASH  -\n" from both */
	ASSERT_EQ(0, strncmp(out, want, 64)) TH_LOG("got %s, want %s", out, want);
}

/* `ctr run -t` wants a terminal on its own stdin: it runs on a pty here. */
static int ctr_run_tty(struct _test_data_ctr *self, char *out, const char *const *args)
{
	const char *argv[CTR_ARGV_MAX];
	size_t len = 0;
	int master, status;
	pid_t pid;

	ctr_run_argv(self, argv, false, true, args);
	pid = forkpty(&master, NULL, NULL, NULL);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* Until the slave's last holder is gone: EIO. */
	for (;;) {
		ssize_t got = read(master, out + len, OUT_MAX - 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || len + (size_t)got >= OUT_MAX - 1)
			break;
		len += (size_t)got;
	}
	out[len] = '\0';
	close(master);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

CTR_TEST(terminal)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/bin/sh", "-c",
			      "if [ -t 0 ] && [ -t 1 ]; then echo on-a-tty; "
			      "else echo no-tty; fi",
			      NULL};

	/* Without -t, pipes; with -t, the console's pty (isatty: TCGETS). */
	ASSERT_EQ(0, ctr_run(self, out, err, args)) TH_LOG("stderr: %s", err);
	ASSERT_STREQ("no-tty\n", out);
	ASSERT_EQ(0, ctr_run_tty(self, out, args)) TH_LOG("output: %s", out);
	ASSERT_NE(NULL, strstr(out, "on-a-tty")) TH_LOG("output: %s", out);
}

/* Start sh -c SCRIPT (which prints "ready" when it can take the signal),
 * send SIGNAL with `ctr task kill`, then (feed) write a line to its stdin
 * that a program which outlived the signal reads; the exit status of `ctr
 * run` (the container's) and its stdout. */
static int run_and_kill(struct _test_data_ctr *self, const char *script, const char *signal,
			bool feed, char *out, char *err)
{
	const char *args[] = {"/bin/sh", "-c", script, NULL};
	char kout[OUT_MAX], kerr[OUT_MAX];
	struct child c;
	int in, rc;

	out[0] = '\0';
	if (ctr_run_start(self, &c, &in, false, args))
		return -1;
	if (!read_until(c.out, out, OUT_MAX, "ready\n")) {
		close(in);
		child_finish(&c, out + strlen(out), err);
		return -2;
	}
	rc = signal ? CTR(self, kout, kerr, "task", "kill", "--signal", (char *)signal, self->id)
		    : CTR(self, kout, kerr, "task", "kill", self->id);
	if (rc != 0)
		fprintf(stderr, "# ctr task kill: %s\n", kerr);
	if (feed && write(in, "survived\n", 9) != 9 && errno != EPIPE)
		fprintf(stderr, "# writing stdin: %s\n", strerror(errno));
	/* Open until the end: a loop reading it blocks rather than spins. */
	rc = child_finish(&c, out + strlen(out), err);
	close(in);
	return rc;
}

CTR_TEST(kill_term_handler)
{
	static char out[OUT_MAX], err[OUT_MAX];

	/* A handler the program installed runs: with both runtimes. */
	ASSERT_EQ(3, run_and_kill(self,
				  "trap 'echo got TERM; exit 3' TERM; echo ready; "
				  "while :; do read x; done",
				  NULL, false, out, err))
	TH_LOG("stdout: %s stderr: %s", out, err);
	ASSERT_NE(NULL, strstr(out, "got TERM\n")) TH_LOG("stdout: %s", out);
}

CTR_TEST(kill_term_default)
{
	static char out[OUT_MAX], err[OUT_MAX];
	int rc =
	    run_and_kill(self, "echo ready; read x; echo alive after $x", NULL, true, out, err);

	if (self->snapvm_runc) {
		/* The guest's program is no pid-namespace init: as on Linux,
		 * SIGTERM without a handler ends it, 128 + 15. */
		ASSERT_EQ(143, rc) TH_LOG("stdout: %s stderr: %s", out, err);
		ASSERT_EQ(NULL, strstr(out, "alive")) TH_LOG("stdout: %s", out);
	} else {
		/* runc's process is PID 1 of its pid namespace: the kernel
		 * drops a signal it has no handler for, so it lives on and
		 * reads the line written after the kill. */
		ASSERT_EQ(0, rc) TH_LOG("stdout: %s stderr: %s", out, err);
		ASSERT_NE(NULL, strstr(out, "alive after survived\n")) TH_LOG("stdout: %s", out);
	}
}

CTR_TEST(kill_sigkill)
{
	static char out[OUT_MAX], err[OUT_MAX];

	ASSERT_EQ(137, run_and_kill(self, "echo ready; while :; do read x; done", "SIGKILL", false,
				    out, err))
	TH_LOG("stdout: %s stderr: %s", out, err);
}

CTR_TEST(guest_elf)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/hello.elf", NULL};
	int rc = ctr_run(self, out, err, args);

	if (self->snapvm_runc) {
		ASSERT_EQ(0, rc) TH_LOG("stderr: %s", err);
		ASSERT_NE(NULL,
			  strstr(out, "hello from the snapvm amd64 guest (WRITE hypercall)\n"))
		TH_LOG("stdout: %s", out);
	} else {
		/* runc runs the freestanding ELF on the host CPU: its first
		 * port I/O (the console) faults, SIGSEGV: 139. */
		ASSERT_EQ(139, rc) TH_LOG("stdout: %s stderr: %s", out, err);
		ASSERT_EQ(NULL, strstr(out, "hello from the snapvm"));
	}
}

/*
 * A snapshot as the container's process: taken by `snapvm run
 * --snapshot-out`, exported as an OCI image layout, imported back into the
 * rootfs (what a user's image build does with it). The container must give
 * what `snapvm run --from` gives.
 */
CTR_TEST(snapshot_file)
{
	static char out[OUT_MAX], err[OUT_MAX], want[OUT_MAX], werr[OUT_MAX];
	char snap[PATH_MAX], oci[PATH_MAX], in_root[PATH_MAX * 2], from[PATH_MAX + 16];
	char elf[PATH_MAX], flag[PATH_MAX + 32];
	const char *args[] = {"/app.snap", NULL};
	int rc, want_rc;

	snprintf(snap, sizeof(snap), "%s/app-%s.snap", suite_dir, self->id);
	snprintf(oci, sizeof(oci), "%s/oci-%s", suite_dir, self->id);
	snprintf(in_root, sizeof(in_root), "%s/app.snap", self->rootfs);
	snprintf(elf, sizeof(elf), "%s/guests/amd64/snapshot-state.elf", vmm_build_dir());
	snprintf(flag, sizeof(flag), "--snapshot-out=%s", snap);
	{
		char *const take[] = {self->snapvm, "run", flag, elf, NULL};
		struct child c;

		ASSERT_EQ(0, child_start(&c, NULL, take));
		ASSERT_EQ(0, child_finish(&c, want, werr)) TH_LOG("snapvm run: %s", werr);
	}
	ASSERT_EQ(0, shell("'%s' snapshot export '%s' --oci='%s:v1' && "
			   "'%s' snapshot import --oci='%s:v1' '%s'",
			   self->snapvm, snap, oci, self->snapvm, oci, in_root));
	snprintf(from, sizeof(from), "--from=%s", snap);
	{
		char *const run[] = {self->snapvm, "run", from, NULL};
		struct child c;

		ASSERT_EQ(0, child_start(&c, NULL, run));
		want_rc = child_finish(&c, want, werr);
	}
	ASSERT_EQ(11, want_rc) TH_LOG("snapvm run --from: %s", werr);
	rc = ctr_run(self, out, err, args);
	if (self->snapvm_runc) {
		ASSERT_EQ(want_rc, rc) TH_LOG("stderr: %s", err);
		ASSERT_STREQ(want, out);
	} else {
		/* A snapshot file is no program for the host kernel: runc's
		 * exec of it fails (EACCES: import writes it without an x
		 * bit, which snapvm-runc does not need) and ctr run with it. */
		ASSERT_NE(0, rc);
		ASSERT_NE(NULL, strstr(err, "exec: \"/app.snap\": permission denied"))
		TH_LOG("stderr: %s", err);
	}
	unlink(in_root);
}

/* Start a long-running detached container; its pid. */
static pid_t run_detached(struct _test_data_ctr *self)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/bin/sh", "-c", "while :; do read x; done", NULL};
	struct child c;
	pid_t pid = -1;

	/* With -d the shim holds the stdin fifo open: read blocks for good. */
	if (ctr_run_start(self, &c, NULL, true, args) || child_finish(&c, out, err) != 0) {
		fprintf(stderr, "# ctr run -d: %s\n", err);
		return -1;
	}
	if (task_wait_status(self, "RUNNING", &pid, 120, 0))
		return -1;
	return pid;
}

CTR_TEST(ps_pause_resume)
{
	static char out[OUT_MAX], err[OUT_MAX];
	char want[32];
	pid_t pid = run_detached(self);

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, CTR(self, out, err, "task", "ps", self->id)) TH_LOG("stderr: %s", err);
	/* "PID INFO" then one line per process: the task's own is there. */
	snprintf(want, sizeof(want), "\n%d ", (int)pid);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("ctr task ps: %s", out);
	ASSERT_EQ(0, CTR(self, out, err, "task", "pause", self->id)) TH_LOG("stderr: %s", err);
	EXPECT_EQ(0, task_wait_status(self, "PAUSED", NULL, 1, 0));
	ASSERT_EQ(0, CTR(self, out, err, "task", "resume", self->id)) TH_LOG("stderr: %s", err);
	EXPECT_EQ(0, task_wait_status(self, "RUNNING", NULL, 1, 0));
	remove_detached(self);
}

CTR_TEST(exec)
{
	static char out[OUT_MAX], err[OUT_MAX];
	pid_t pid = run_detached(self);
	int rc;

	ASSERT_LT(0, pid);
	rc =
	    CTR(self, out, err, "task", "exec", "--exec-id", "e1", self->id, "/bin/echo", "exec'd");
	if (self->snapvm_runc) {
		/* A snapvm container runs one process. */
		EXPECT_NE(0, rc);
		EXPECT_NE(NULL, strstr(err, "exec is not supported by snapvm-runc"))
		TH_LOG("stderr: %s", err);
	} else {
		EXPECT_EQ(0, rc) TH_LOG("stderr: %s", err);
		EXPECT_STREQ("exec'd\n", out);
	}
	remove_detached(self);
}

/* No task is left behind by a create that failed. */
static void assert_no_task(struct __test_metadata *_metadata, struct _test_data_ctr *self)
{
	char out[OUT_MAX], err[OUT_MAX];

	ASSERT_EQ(0, CTR(self, out, err, "task", "ls"));
	ASSERT_EQ(NULL, strstr(out, self->id)) TH_LOG("ctr task ls: %s", out);
}

CTR_TEST(bad_bundle_missing_program)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/bin/no-such-program", NULL};

	ASSERT_NE(0, ctr_run(self, out, err, args));
	/* Both name the program and say it is not there. */
	ASSERT_NE(NULL, strstr(err, "/bin/no-such-program")) TH_LOG("stderr: %s", err);
	ASSERT_NE(NULL, strcasestr(err, "no such file")) TH_LOG("stderr: %s", err);
	assert_no_task(_metadata, self);
}

CTR_TEST(bad_bundle_dynamic_program)
{
	static char out[OUT_MAX], err[OUT_MAX];
	const char *args[] = {"/bin/dyn", NULL};

	ASSERT_NE(0, ctr_run(self, out, err, args));
	if (self->snapvm_runc) {
		/* snapvm runs static programs only: create refuses it. */
		ASSERT_NE(NULL, strstr(err, "/bin/dyn")) TH_LOG("stderr: %s", err);
		ASSERT_NE(NULL, strcasestr(err, "dynamically linked")) TH_LOG("stderr: %s", err);
	} else {
		/* runc execs it; the rootfs has no ELF interpreter. */
		ASSERT_NE(NULL, strcasestr(err, "no such file")) TH_LOG("stderr: %s", err);
	}
	assert_no_task(_metadata, self);
}

/* /proc/PID/status's line starting with key (e.g. "Seccomp:\t"). */
static void status_line(pid_t pid, const char *key, char *buf, size_t size)
{
	char path[64], line[256];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			snprintf(buf, size, "%s", line + strlen(key));
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	fclose(f);
}

/* The cgroup the bundle asks for: config.json's linux.cgroupsPath. */
static int bundle_cgroup(struct _test_data_ctr *self, char *buf, size_t size)
{
	char path[PATH_MAX * 2], *json, *p;
	FILE *f;
	long len;

	snprintf(path, sizeof(path),
		 "%s/containerd/state/io.containerd.runtime.v2.task/default/%s/config.json",
		 suite_dir, self->id);
	f = fopen(path, "r");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	json = calloc(1, (size_t)len + 1);
	if (!json || fread(json, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(json);
		return -1;
	}
	fclose(f);
	/* containerd writes it compact: "cgroupsPath":"/default/ID" */
	p = strstr(json, "\"cgroupsPath\":\"");
	if (!p || sscanf(p + 15, "%[^\"]", buf) != 1 || strlen(buf) >= size) {
		free(json);
		return -1;
	}
	free(json);
	return 0;
}

CTR_TEST(vmm_confinement)
{
	char cgroup[PATH_MAX], want[PATH_MAX + 8], line[PATH_MAX], path[64];
	char mine[128], theirs[128], value[128];
	static const char *const ns[] = {"mnt", "net", "ipc", "uts"};
	pid_t pid = run_detached(self);
	FILE *f;

	ASSERT_LT(0, pid);
	/* The task's process (snapvm-runc: the VMM) is in the bundle's
	 * cgroup, as containerd's stats and OOM handling expect. */
	ASSERT_EQ(0, bundle_cgroup(self, cgroup, sizeof(cgroup)));
	snprintf(want, sizeof(want), "0::%s\n", cgroup);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	fclose(f);
	EXPECT_STREQ(want, line);
	/* Its own mount, network, IPC and UTS namespaces. */
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		ssize_t a, b;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		a = readlink(path, mine, sizeof(mine) - 1);
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns[i]);
		b = readlink(path, theirs, sizeof(theirs) - 1);
		ASSERT_LT(0, a);
		ASSERT_LT(0, b);
		mine[a] = theirs[b] = '\0';
		EXPECT_STRNE(mine, theirs) TH_LOG("%s namespace shared with the test", ns[i]);
	}
	if (self->snapvm_runc) {
		/* The jailer's steps: seccomp filter, no_new_privs, no
		 * capabilities left. */
		status_line(pid, "Seccomp:\t", value, sizeof(value));
		EXPECT_STREQ("2", value);
		status_line(pid, "NoNewPrivs:\t", value, sizeof(value));
		EXPECT_STREQ("1", value);
		status_line(pid, "CapEff:\t", value, sizeof(value));
		EXPECT_STREQ("0000000000000000", value);
	} else {
		/* runc keeps ctr's default spec: the default capability set
		 * (not none) and, without `ctr run --seccomp`, no filter. */
		status_line(pid, "Seccomp:\t", value, sizeof(value));
		EXPECT_STREQ("0", value);
		status_line(pid, "CapEff:\t", value, sizeof(value));
		EXPECT_STRNE("0000000000000000", value);
	}
	remove_detached(self);
}

TEST_HARNESS_MAIN
