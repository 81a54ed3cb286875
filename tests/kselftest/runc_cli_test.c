// SPDX-License-Identifier: GPL-2.0
/*
 * runc_cli_test.c - snapvm-runc driven directly, as containerd's runc shim
 * drives it, with bundles made here around Debian's busybox-static (amd64
 * and i386): the create/start/state/kill/delete lifecycle, the pid file,
 * the exit status seen by a subreaper, stdio and no leaked fds, the
 * console socket, the jailed VMM (seccomp, no_new_privs, no capabilities,
 * its own namespaces), pause/resume in a cgroup, process.cwd and hostname,
 * and every bad bundle: exit 1, a JSON error line, no process, no state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"

#define CGROUP2_SUPER_MAGIC 0x63677270

FIXTURE(runc)
{
	char dir[PATH_MAX / 4];
	char bundle[PATH_MAX / 2];
	char runc[PATH_MAX / 2];
	char busybox[PATH_MAX / 2];
	char out[8192], err[8192]; /* the last command's stdout and stderr */
};

FIXTURE_VARIANT(runc)
{
	const char *arch; /* .cache/busybox/ARCH */
};
FIXTURE_VARIANT_ADD(runc, amd64){
    .arch = "amd64",
};
FIXTURE_VARIANT_ADD(runc, i386){
    .arch = "i386",
};

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static size_t read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, size - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t n;

	if (in < 0 || out < 0)
		abort();
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			abort();
	close(in);
	close(out);
}

/* config.json: args as a JSON array body, extra: more members (or ""). */
static void config_cwd(FIXTURE_DATA(runc) * self, const char *version, const char *cwd,
		       const char *args, const char *extra)
{
	char path[PATH_MAX], text[8192];

	snprintf(text, sizeof(text),
		 "{\"ociVersion\":\"%s\",\"process\":{\"args\":[%s],\"env\":[\"PATH=/bin\"],"
		 "\"cwd\":\"%s\"},\"root\":{\"path\":\"rootfs\"}%s}",
		 version, args, cwd, extra);
	snprintf(path, sizeof(path), "%s/config.json", self->bundle);
	write_text(path, text);
}

static void config(FIXTURE_DATA(runc) * self, const char *version, const char *args,
		   const char *extra)
{
	config_cwd(self, version, "/", args, extra);
}

/* snapvm-runc --root DIR/state --log DIR/log.json ARGS... in the bundle,
 * stdin from in_fd (-1: /dev/null), stdout into out_fd (-1: a file) and
 * stderr into a file (the VMM of a create keeps them: never pipes we would
 * wait on, unless the test reads them as the guest runs). Its status. */
static int runc_io(FIXTURE_DATA(runc) * self, int in_fd, int out_fd, const char *const *args)
{
	char state[PATH_MAX], log[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	const char *argv[32];
	int n = 0, status;
	pid_t pid;

	snprintf(state, sizeof(state), "%s/state", self->dir);
	snprintf(log, sizeof(log), "%s/log.json", self->dir);
	snprintf(out, sizeof(out), "%s/out", self->dir);
	snprintf(err, sizeof(err), "%s/err", self->dir);
	argv[n++] = self->runc;
	argv[n++] = "--root";
	argv[n++] = state;
	argv[n++] = "--log";
	argv[n++] = log;
	argv[n++] = "--log-format";
	argv[n++] = "json";
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (!pid) {
		int o = out_fd >= 0 ? out_fd : open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int i = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);

		if (o < 0 || e < 0 || i < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
		    chdir(self->bundle))
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(126);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	read_text(out, self->out, sizeof(self->out));
	read_text(err, self->err, sizeof(self->err));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
#define RUNC(self, ...) runc_io(self, -1, -1, (const char *const[]){__VA_ARGS__, NULL})

/* The last line of the log: a JSON error line that says what. */
static bool logged(FIXTURE_DATA(runc) * self, const char *what)
{
	char path[PATH_MAX], text[65536], *last;
	size_t n;

	snprintf(path, sizeof(path), "%s/log.json", self->dir);
	n = read_text(path, text, sizeof(text));
	if (!n || text[n - 1] != '\n')
		return false;
	text[n - 1] = '\0';
	last = strrchr(text, '\n');
	last = last ? last + 1 : text;
	return !strncmp(last, "{\"level\":\"error\",\"msg\":\"", 24) && strstr(last, what) &&
	       strstr(last, "\"time\":\"20") && last[strlen(last) - 1] == '}';
}

static bool state_dir_exists(FIXTURE_DATA(runc) * self, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/state/%s", self->dir, id);
	return !access(path, F_OK);
}

/* create ID with a pid file: the VMM's pid (the pid file holds only digits). */
static pid_t create(struct __test_metadata *_metadata, FIXTURE_DATA(runc) * self, const char *id,
		    const char *console)
{
	char pidfile[PATH_MAX], text[64], *end;
	long pid;
	int ret;

	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", self->dir, id);
	if (console)
		ret = RUNC(self, "create", "--bundle", self->bundle, "--pid-file", pidfile,
			   "--console-socket", console, id);
	else
		ret = RUNC(self, "create", "--bundle", self->bundle, "--pid-file", pidfile, id);
	EXPECT_EQ(0, ret) TH_LOG("create: %s", self->err);
	if (ret)
		return -1;
	read_text(pidfile, text, sizeof(text));
	pid = strtol(text, &end, 10);
	EXPECT_TRUE(text[0] >= '1' && text[0] <= '9' && !*end) TH_LOG("pid file: '%s'", text);
	return (pid_t)pid;
}

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool status_has(pid_t pid, const char *line)
{
	char path[64], text[8192];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_text(path, text, sizeof(text));
	return strstr(text, line) != NULL;
}

static bool same_ns(pid_t pid, const char *ns)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_ino == sb.st_ino;
}

FIXTURE_SETUP(runc)
{
	char path[PATH_MAX];
	struct statfs st;

	ASSERT_GT((int)sizeof(self->runc),
		  snprintf(self->runc, sizeof(self->runc), "%s/snapvm-runc", vmm_build_dir()));
	ASSERT_GT((int)sizeof(self->busybox),
		  snprintf(self->busybox, sizeof(self->busybox),
			   "%s/../.cache/busybox/%s/bin/busybox", vmm_build_dir(), variant->arch));
	ASSERT_EQ(0, access(self->busybox, X_OK))
	TH_LOG("%s is missing: run tests/vm/setup", self->busybox);
	ASSERT_EQ(0, access(self->runc, X_OK))
	TH_LOG("%s: build it with make programs", self->runc);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->dir, sizeof(self->dir), "runc"));
	snprintf(self->bundle, sizeof(self->bundle), "%s/bundle", self->dir);
	ASSERT_EQ(0, mkdir(self->bundle, 0755));
	snprintf(path, sizeof(path), "%s/rootfs", self->bundle);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/rootfs/bin", self->bundle);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/rootfs/bin/busybox", self->bundle);
	copy_file(self->busybox, path);
	/* The shim is a subreaper: the VMM create leaves becomes our child. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	/* cgroup v2 in a mount namespace of this test's own, where the VM's
	 * init mounted none. */
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	if (statfs("/sys/fs/cgroup", &st) || st.f_type != CGROUP2_SUPER_MAGIC)
		ASSERT_EQ(0, mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL));
	/* and a devpts for the console's pty, which the VM's init leaves out */
	if (access("/dev/pts/ptmx", F_OK)) {
		ASSERT_TRUE(!mkdir("/dev/pts", 0755) || errno == EEXIST);
		ASSERT_EQ(0, mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666,mode=0620"));
	}
}

FIXTURE_TEARDOWN(runc)
{
	vmm_remove_tmpdir(self->dir);
}

TEST_F_TIMEOUT(runc, lifecycle, 600)
{
	char path[PATH_MAX], marker[PATH_MAX], link[PATH_MAX], target[PATH_MAX], want[64];
	int leak, status;
	pid_t pid;

	config(self, "1.0.2", "\"/bin/busybox\",\"sh\",\"-c\",\"echo hello from $0; exit 7\"", "");
	/* An fd the shim forgot to mark close-on-exec: the VMM must not keep it. */
	snprintf(marker, sizeof(marker), "%s/leak-marker", self->dir);
	leak = open(marker, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, leak);
	pid = create(_metadata, self, "c1", NULL);
	close(leak);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kill(pid, 0));
	/* created: the VMM waits, jailed */
	ASSERT_EQ(0, RUNC(self, "state", "c1"));
	EXPECT_NE(NULL, strstr(self->out, "\"status\": \"created\""));
	snprintf(want, sizeof(want), "\"pid\": %d,", (int)pid);
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "\"ociVersion\": \"1.")) TH_LOG("%s", self->out);
	EXPECT_TRUE(status_has(pid, "Seccomp:\t2\n"));
	EXPECT_TRUE(status_has(pid, "NoNewPrivs:\t1\n"));
	EXPECT_TRUE(status_has(pid, "CapEff:\t0000000000000000\n"));
	EXPECT_TRUE(status_has(pid, "CapBnd:\t0000000000000000\n"));
	EXPECT_FALSE(same_ns(pid, "mnt"));
	EXPECT_FALSE(same_ns(pid, "net"));
	EXPECT_FALSE(same_ns(pid, "ipc"));
	EXPECT_FALSE(same_ns(pid, "uts"));
	for (int fd = 0; fd < 64; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		EXPECT_EQ(NULL, strstr(target, "leak-marker"))
		TH_LOG("fd %d leaked: %s", fd, target);
	}
	/* the guest's stdout is the one create had */
	ASSERT_EQ(0, RUNC(self, "start", "c1"));
	status = wait_status(pid);
	EXPECT_EQ(7, status);
	snprintf(path, sizeof(path), "%s/out", self->dir);
	read_text(path, self->out, sizeof(self->out));
	EXPECT_STREQ("hello from sh\n", self->out);
	ASSERT_EQ(0, RUNC(self, "state", "c1"));
	EXPECT_NE(NULL, strstr(self->out, "\"status\": \"stopped\""));
	EXPECT_NE(NULL, strstr(self->out, "\"pid\": 0,"));
	ASSERT_EQ(0, RUNC(self, "ps", "--format", "json", "c1"));
	EXPECT_STREQ("[]\n", self->out);
	EXPECT_EQ(1, RUNC(self, "kill", "c1", "9"));
	EXPECT_TRUE(logged(self, "container c1 not running"));
	EXPECT_EQ(0, RUNC(self, "kill", "--all", "c1", "KILL"));
	EXPECT_EQ(1, RUNC(self, "start", "c1"));
	ASSERT_EQ(0, RUNC(self, "delete", "c1"));
	EXPECT_FALSE(state_dir_exists(self, "c1"));
	EXPECT_EQ(1, RUNC(self, "state", "c1"));
	EXPECT_TRUE(logged(self, "container c1 does not exist"));
	EXPECT_EQ(1, RUNC(self, "delete", "--force", "c1"));
	EXPECT_TRUE(logged(self, "does not exist"));
}

/* kill with the default SIGTERM (the guest has no handler: 128+15), by
 * name, and SIGKILL; delete refuses a running container without --force. */
TEST_F_TIMEOUT(runc, kill_and_delete, 600)
{
	char want[64];
	pid_t pid;

	config(self, "1.1.0", "\"busybox\",\"sleep\",\"1000\"", "");
	pid = create(_metadata, self, "k1", NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, RUNC(self, "start", "k1"));
	ASSERT_EQ(0, RUNC(self, "state", "k1"));
	EXPECT_NE(NULL, strstr(self->out, "\"status\": \"running\""));
	ASSERT_EQ(0, RUNC(self, "ps", "--format", "json", "k1"));
	snprintf(want, sizeof(want), "[%d]\n", (int)pid);
	EXPECT_STREQ(want, self->out);
	EXPECT_EQ(1, RUNC(self, "delete", "k1"));
	EXPECT_TRUE(logged(self, "not stopped"));
	ASSERT_EQ(0, RUNC(self, "kill", "k1"));
	EXPECT_EQ(128 + SIGTERM, wait_status(pid));
	ASSERT_EQ(0, RUNC(self, "delete", "k1"));

	pid = create(_metadata, self, "k2", NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, RUNC(self, "start", "k2"));
	ASSERT_EQ(0, RUNC(self, "kill", "k2", "SIGKILL"));
	EXPECT_EQ(128 + SIGKILL, wait_status(pid));
	ASSERT_EQ(0, RUNC(self, "delete", "k2"));

	/* delete --force of a running one: SIGKILL, waited for */
	pid = create(_metadata, self, "k3", NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, RUNC(self, "start", "k3"));
	ASSERT_EQ(0, RUNC(self, "delete", "--force", "k3"));
	EXPECT_FALSE(state_dir_exists(self, "k3"));
	EXPECT_EQ(128 + SIGKILL, wait_status(pid));
	EXPECT_EQ(1, RUNC(self, "kill", "k3", "NOSUCHSIG"));
}

/* pause/resume: the VMM joins linux.cgroupsPath and pauses by its freezer. */
TEST_F_TIMEOUT(runc, pause_resume_cgroup, 600)
{
	char path[PATH_MAX], text[4096];
	pid_t pid;

	config(self, "1.0.0", "\"busybox\",\"sleep\",\"1000\"",
	       ",\"linux\":{\"cgroupsPath\":\"/snapvm-runc-test/p1\"}");
	pid = create(_metadata, self, "p1", NULL);
	ASSERT_LT(0, pid);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	read_text(path, text, sizeof(text));
	EXPECT_STREQ("0::/snapvm-runc-test/p1\n", text);
	ASSERT_EQ(0, RUNC(self, "start", "p1"));
	ASSERT_EQ(0, RUNC(self, "pause", "p1"));
	ASSERT_EQ(0, RUNC(self, "state", "p1"));
	EXPECT_NE(NULL, strstr(self->out, "\"status\": \"paused\""));
	read_text("/sys/fs/cgroup/snapvm-runc-test/p1/cgroup.freeze", text, sizeof(text));
	EXPECT_STREQ("1\n", text);
	EXPECT_EQ(1, RUNC(self, "pause", "p1"));
	ASSERT_EQ(0, RUNC(self, "resume", "p1"));
	ASSERT_EQ(0, RUNC(self, "state", "p1"));
	EXPECT_NE(NULL, strstr(self->out, "\"status\": \"running\""));
	read_text("/sys/fs/cgroup/snapvm-runc-test/p1/cgroup.freeze", text, sizeof(text));
	EXPECT_STREQ("0\n", text);
	ASSERT_EQ(0, RUNC(self, "kill", "p1", "9"));
	EXPECT_EQ(128 + SIGKILL, wait_status(pid));
	ASSERT_EQ(0, RUNC(self, "delete", "p1"));
	rmdir("/sys/fs/cgroup/snapvm-runc-test/p1");
	rmdir("/sys/fs/cgroup/snapvm-runc-test");
}

/* create (stdin from in_fd), start, and the exit status a subreaper sees;
 * the guest's stdout into self->out. */
static int run_container(struct __test_metadata *_metadata, FIXTURE_DATA(runc) * self,
			 const char *id, int in_fd)
{
	char pidfile[PATH_MAX], out[PATH_MAX], guest_out[sizeof(self->out)];
	int status;
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", self->dir, id);
	EXPECT_EQ(0, runc_io(self, in_fd, -1,
			     (const char *const[]){"create", "--pid-file", pidfile, id, NULL}))
	TH_LOG("%s", self->err);
	read_text(pidfile, self->out, sizeof(self->out));
	pid = atoi(self->out);
	if (pid <= 0)
		return -1;
	EXPECT_EQ(0, RUNC(self, "start", id));
	status = wait_status(pid);
	snprintf(out, sizeof(out), "%s/out", self->dir);
	read_text(out, guest_out, sizeof(guest_out));
	EXPECT_EQ(0, RUNC(self, "delete", id));
	memcpy(self->out, guest_out, sizeof(guest_out));
	return status;
}

/* fd 0 of create is the guest's stdin; process.cwd (getcwd, relative
 * paths), hostname, args[0] found along process.env's PATH. One applet a
 * container: busybox's sh cannot fork in a snapvm guest. */
TEST_F_TIMEOUT(runc, stdin_cwd_hostname, 600)
{
	char path[PATH_MAX];
	int in;

	snprintf(path, sizeof(path), "%s/input", self->dir);
	write_text(path, "line one\nline two\n");
	in = open(path, O_RDONLY);
	ASSERT_LE(0, in);
	config(self, "1.0.2", "\"busybox\",\"cat\"", "");
	EXPECT_EQ(0, run_container(_metadata, self, "s1", in));
	EXPECT_STREQ("line one\nline two\n", self->out);
	close(in);
	config_cwd(self, "1.0.2", "/bin",
		   "\"busybox\",\"sh\",\"-c\",\"pwd; test -x busybox && echo relative; "
		   "test -x ../bin/busybox && echo dotdot\"",
		   "");
	EXPECT_EQ(0, run_container(_metadata, self, "s2", -1));
	EXPECT_STREQ("/bin\nrelative\ndotdot\n", self->out);
	config(self, "1.0.2", "\"busybox\",\"hostname\"", ",\"hostname\":\"box-1\"");
	EXPECT_EQ(0, run_container(_metadata, self, "s3", -1));
	EXPECT_STREQ("box-1\n", self->out);
}

/* Read from fd until want arrived (or end of file); what came, in buf. */
static bool read_until(int fd, char *buf, size_t size, const char *want)
{
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, want) && len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* kill's default SIGTERM reaches a handler the Linux program installed
 * (linux_signal_test's program, "spin": it computes until the handler ran,
 * then prints "got TERM" and exits 3). "ready" on its stdout, a pipe we
 * read, says the handler is in place: no sleep. */
TEST_F_TIMEOUT(runc, signal_handler, 600)
{
	char prog[PATH_MAX], path[PATH_MAX], pidfile[PATH_MAX], text[512];
	int out[2];
	pid_t pid;

	snprintf(prog, sizeof(prog), "%s/tests/kselftest/linux_signal_prog%s", vmm_build_dir(),
		 strcmp(variant->arch, "amd64") ? "32" : "64");
	snprintf(path, sizeof(path), "%s/rootfs/bin/sigprog", self->bundle);
	copy_file(prog, path);
	config(self, "1.0.2", "\"/bin/sigprog\",\"spin\"", "");
	snprintf(pidfile, sizeof(pidfile), "%s/g1.pid", self->dir);
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	ASSERT_EQ(0, runc_io(self, -1, out[1],
			     (const char *const[]){"create", "--pid-file", pidfile, "g1", NULL}))
	TH_LOG("%s", self->err);
	close(out[1]);
	read_text(pidfile, text, sizeof(text));
	pid = atoi(text);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, RUNC(self, "start", "g1"));
	ASSERT_TRUE(read_until(out[0], text, sizeof(text), "ready\n")) TH_LOG("'%s'", text);
	ASSERT_EQ(0, RUNC(self, "kill", "g1"));
	EXPECT_TRUE(read_until(out[0], text, sizeof(text), "got TERM\n")) TH_LOG("'%s'", text);
	EXPECT_EQ(3, wait_status(pid));
	close(out[0]);
	ASSERT_EQ(0, RUNC(self, "delete", "g1"));
}

/* argv (argv[0] a path) with stdin from /dev/null, stdout into the test's
 * stderr: its exit status. */
static int spawn(const char *const *argv)
{
	pid_t pid = fork();

	if (!pid) {
		int in = open("/dev/null", O_RDONLY);

		if (in < 0 || dup2(in, 0) < 0 || dup2(2, 1) < 0)
			_exit(125);
		execv(argv[0], (char *const *)argv);
		_exit(126);
	}
	return pid < 0 ? -1 : wait_status(pid);
}

/* args[0] may be a snapvm guest ELF, or a snapshot file: a busybox cat
 * snapshotted at its first read (snapvm run --snapshot-at=first-read),
 * which the container resumes there, reading its stdin. */
TEST_F_TIMEOUT(runc, guest_elf_and_snapshot, 600)
{
	char elf[PATH_MAX], path[PATH_MAX], snap[PATH_MAX], snapvm[PATH_MAX];
	int in;

	snprintf(elf, sizeof(elf), "%s/guests/%s/hello.elf", vmm_build_dir(),
		 strcmp(variant->arch, "amd64") ? "i686" : "amd64");
	snprintf(path, sizeof(path), "%s/rootfs/hello.elf", self->bundle);
	copy_file(elf, path);
	config(self, "1.0.2", "\"/hello.elf\"", "");
	EXPECT_EQ(0, run_container(_metadata, self, "e1", -1));
	EXPECT_NE(NULL, strstr(self->out, "hello from the snapvm")) TH_LOG("'%s'", self->out);

	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(snap, sizeof(snap), "--snapshot-out=%s/rootfs/cat.snap", self->bundle);
	snprintf(path, sizeof(path), "%s/rootfs/bin/busybox", self->bundle);
	ASSERT_EQ(0, spawn((const char *const[]){snapvm, "run", "--snapshot-at=first-read", snap,
						 path, "cat", NULL}));
	snprintf(path, sizeof(path), "%s/input", self->dir);
	write_text(path, "resumed at its first read\n");
	in = open(path, O_RDONLY);
	ASSERT_LE(0, in);
	config(self, "1.0.2", "\"/cat.snap\"", "");
	EXPECT_EQ(0, run_container(_metadata, self, "e2", in));
	EXPECT_STREQ("resumed at its first read\n", self->out);
	close(in);
}

/* --console-socket: one SCM_RIGHTS message with the pty master; the guest
 * writes to the slave. */
TEST_F_TIMEOUT(runc, console_socket, 600)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char data, control[CMSG_SPACE(sizeof(int))], text[256];
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *c;
	struct termios t;
	int sock, conn, master = -1;
	size_t len = 0;
	pid_t pid;

	config(self, "1.0.2", "\"busybox\",\"echo\",\"on the tty\"",
	       ",\"annotations\":{\"io.snapvm.timeout\":\"100\"}");
	ASSERT_GT((int)sizeof(addr.sun_path),
		  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/pty.sock", self->dir));
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, bind(sock, (struct sockaddr *)&addr, sizeof(addr)));
	ASSERT_EQ(0, listen(sock, 1));
	pid = create(_metadata, self, "t1", addr.sun_path);
	ASSERT_LT(0, pid);
	conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, conn);
	ASSERT_EQ(1, recvmsg(conn, &msg, MSG_CMSG_CLOEXEC));
	c = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(SCM_RIGHTS, c->cmsg_type);
	ASSERT_EQ(CMSG_LEN(sizeof(int)), c->cmsg_len);
	memcpy(&master, CMSG_DATA(c), sizeof(int));
	EXPECT_EQ(0, tcgetattr(master, &t));
	EXPECT_NE(NULL, ptsname(master));
	ASSERT_EQ(0, RUNC(self, "start", "t1"));
	while (!memchr(text, '\n', len)) {
		ssize_t n = read(master, text + len, sizeof(text) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_STREQ("on the tty\r\n", text);
	close(master);
	close(conn);
	close(sock);
	ASSERT_EQ(0, RUNC(self, "delete", "t1"));
}

/* Each bad bundle: create exits 1 with a JSON error line naming the
 * problem, and leaves no process (we are the subreaper: nothing to reap)
 * and no state directory. */
static void expect_refused(struct __test_metadata *_metadata, FIXTURE_DATA(runc) * self,
			   const char *id, const char *why)
{
	int status;

	EXPECT_EQ(1, RUNC(self, "create", "--pid-file", "pidfile", id)) TH_LOG("%s", id);
	EXPECT_TRUE(logged(self, why)) TH_LOG("%s: want '%s', stderr: %s", id, why, self->err);
	EXPECT_FALSE(state_dir_exists(self, id));
	EXPECT_EQ(-1, waitpid(-1, &status, WNOHANG));
	EXPECT_EQ(ECHILD, errno);
}

TEST_F_TIMEOUT(runc, bad_bundles, 600)
{
	char path[PATH_MAX], outside[PATH_MAX], args[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/config.json", self->bundle);
	expect_refused(_metadata, self, "b-missing", "config.json");
	write_text(path, "{\"ociVersion\": \"1.0.2\", \"process\": ");
	expect_refused(_metadata, self, "b-invalid", "is not JSON");
	config(self, "2.0.0", "\"/bin/busybox\",\"true\"", "");
	expect_refused(_metadata, self, "b-version", "ociVersion 2.0.0 is not supported");
	config(self, "1.0.2", "", "");
	expect_refused(_metadata, self, "b-noargs", "process.args is empty");
	config(self, "1.0.2", "\"/bin/nothere\"", "");
	expect_refused(_metadata, self, "b-nothere", "/bin/nothere");
	/* A busybox outside the root, reached by ../ and by an absolute symlink. */
	snprintf(outside, sizeof(outside), "%s/outside", self->dir);
	ASSERT_EQ(0, mkdir(outside, 0755));
	snprintf(outside, sizeof(outside), "%s/outside/busybox", self->dir);
	copy_file(self->busybox, outside);
	snprintf(args, sizeof(args), "\"../../../../../../..%s\",\"true\"", outside);
	config(self, "1.0.2", args, "");
	expect_refused(_metadata, self, "b-dotdot", "inside root.path");
	snprintf(path, sizeof(path), "%s/rootfs/bin/escape", self->bundle);
	ASSERT_EQ(0, symlink(outside, path));
	config(self, "1.0.2", "\"/bin/escape\",\"true\"", "");
	expect_refused(_metadata, self, "b-symlink", "inside root.path");
	/* A program without an execute bit (only a snapshot file needs none). */
	snprintf(path, sizeof(path), "%s/rootfs/bin/noexec", self->bundle);
	copy_file(self->busybox, path);
	ASSERT_EQ(0, chmod(path, 0644));
	config(self, "1.0.2", "\"/bin/noexec\",\"true\"", "");
	expect_refused(_metadata, self, "b-noexec", "not an executable regular file");
	/* A dynamically linked program (the test VM's own /bin/true is one). */
	snprintf(path, sizeof(path), "%s/rootfs/bin/dynamic", self->bundle);
	copy_file("/bin/true", path);
	config(self, "1.0.2", "\"/bin/dynamic\"", "");
	expect_refused(_metadata, self, "b-dynamic", "dynamically linked");
	config(self, "1.0.2", "\"/bin/busybox\",\"true\"",
	       ",\"annotations\":{\"io.snapvm.memory\":\"lots\"}");
	expect_refused(_metadata, self, "b-memory", "io.snapvm.memory");
	config(self, "1.0.2", "\"/bin/busybox\",\"true\"", "");
	expect_refused(_metadata, self, "../b-id", "invalid container ID");
}

TEST_F(runc, exec_update_features)
{
	EXPECT_EQ(1, RUNC(self, "exec", "--process", "/tmp/p.json", "--detach", "x"));
	EXPECT_TRUE(logged(self, "exec is not supported by snapvm-runc: a snapvm container "
				 "runs one process"));
	EXPECT_EQ(1, RUNC(self, "update", "--cpu-shares", "10", "x"));
	EXPECT_TRUE(logged(self, "only the memory limit"));
	EXPECT_EQ(1, RUNC(self, "update", "--memory", "64M", "nosuch"));
	EXPECT_TRUE(logged(self, "container nosuch does not exist"));
	ASSERT_EQ(0, RUNC(self, "features"));
	EXPECT_NE(NULL, strstr(self->out, "\"ociVersionMax\": \"1.1.0\""));
	EXPECT_NE(NULL, strstr(self->out, "\"io.snapvm.timeout\""));
	ASSERT_EQ(0, RUNC(self, "--version"));
	EXPECT_EQ(0, strncmp(self->out, "snapvm-runc version ", 20));
	EXPECT_EQ(1, RUNC(self, "frobnicate"));
	EXPECT_TRUE(logged(self, "unknown command 'frobnicate'"));
}

TEST_HARNESS_MAIN
