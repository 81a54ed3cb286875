// SPDX-License-Identifier: GPL-2.0
/*
 * debug_test.c - debugging guests with the real gdb (Debian's, in batch
 * mode) on both layouts and memory backends: ELF core dumps of a guest that
 * faults (`snapvm run --core-dump`, snapvm_sandbox_core_dump), and the gdb
 * stub (`snapvm run --gdb`): breakpoints, registers, locals, steps, `set
 * var`, the exit status, Ctrl-C and detach, --from and --repeat, an int3
 * under a page the guest remaps, and a client that sends garbage or
 * malformed packets. Runs inside the test VM (tests/vm/run), whose
 * tests/vm/setup installs gdb: without /usr/bin/gdb the tests fail.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "guests/test/gdb-remap.h"
#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "userspace/lib/snapvm.h"

#define TEST_TIMEOUT_S 300
/* Longest a launcher or gdb may take before the test kills it. */
#define DEADLINE_S 120

#define DEBUG_TEST(name) TEST_F_TIMEOUT(debug, name, TEST_TIMEOUT_S)

FIXTURE(debug)
{
	char guests[PATH_MAX / 2 + 64]; /* build/guests/<layout> */
	char tmp[PATH_MAX / 2];
	char memory_flag[32];
	char skip[256];
	char path[PATH_MAX];
};

VMM_VARIANTS(debug);

/* gdb reaches the stub over loopback: tests/vm/init brings it up, but the
 * initramfs is cached per kernel and may come from an older init. */
static void loopback_up(void)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

FIXTURE_SETUP(debug)
{
	const char *build = vmm_build_dir();

	ASSERT_NE(NULL, build);
	snprintf(self->guests, sizeof(self->guests), "%s/guests/%s", build, variant->layout);
	snprintf(self->memory_flag, sizeof(self->memory_flag), "--memory=%s", variant->memory);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->tmp, sizeof(self->tmp), "debug"));
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	loopback_up();
	ASSERT_EQ(0, access("/usr/bin/gdb", X_OK))
	TH_LOG("no /usr/bin/gdb: tests/vm/setup installs Debian's gdb package");
}

FIXTURE_TEARDOWN(debug)
{
	if (self->tmp[0] && vmm_remove_tmpdir(self->tmp))
		TH_LOG("could not remove %s", self->tmp);
}

static const char *guest(FIXTURE_DATA(debug) * self, const char *name)
{
	snprintf(self->path, sizeof(self->path), "%s/%s.elf", self->guests, name);
	return self->path;
}

static bool is_amd64(const FIXTURE_VARIANT(debug) * variant)
{
	return variant->layout_id == SNAPVM_LAYOUT_AMD64;
}

/* ---- processes ---- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* argv[0] is run with stdin from /dev/null, stdout and stderr to files;
 * -1 when fork failed. */
static pid_t spawn(const char *const *argv, const char *out, const char *err)
{
	pid_t pid = fork();

	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644) : o;

		dup2(in, STDIN_FILENO);
		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Exit status, 128 + signal, or -1 when it had to be killed or never
 * started (no waitpid(-1), which would reap anybody's child). */
static int finish(pid_t pid, double seconds)
{
	double deadline = now_s() + seconds;
	int ws;

	if (pid <= 0)
		return -1;
	while (waitpid(pid, &ws, WNOHANG) == 0) {
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &ws, 0);
			return -1;
		}
		usleep(20000);
	}
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The whole file, NUL-terminated (static: one at a time per buffer). */
static char *slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static bool wait_for_text(const char *path, const char *text, double seconds)
{
	static char buf[1 << 16];
	double deadline = now_s() + seconds;

	while (now_s() < deadline) {
		if (strstr(slurp(path, buf, sizeof(buf)), text))
			return true;
		usleep(20000);
	}
	return false;
}

/* The line of file that holds marker (1-based), or 0. */
static int line_of(const char *file, const char *marker)
{
	static char buf[1 << 16];
	const char *at = strstr(slurp(file, buf, sizeof(buf)), marker);
	int line = 1;

	if (!at)
		return 0;
	for (const char *p = buf; p < at; p++)
		line += *p == '\n';
	return line;
}

/* The checkout's guests/test/NAME (gdb names the source by its path). */
static const char *source(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/../guests/test/%s", vmm_build_dir(), name);
	return path;
}

struct launcher {
	pid_t pid;
	int port; /* TCP: the one the stub bound */
	char out[PATH_MAX], err[PATH_MAX];
	char target[PATH_MAX / 2]; /* gdb's `target remote` argument */
};

#define WAITING_TCP "waiting for gdb on 127.0.0.1:"

/* snapvm run with the stub, once it listens. where "0" has the stub bind a
 * free port and name it (no race with anyone else's port); extra:
 * NULL-terminated. */
static int start_launcher(FIXTURE_DATA(debug) * self, struct launcher *l, const char *where,
			  const char *const *extra)
{
	char snapvm[PATH_MAX], gdb_flag[PATH_MAX];
	const char *argv[24] = {snapvm, "run", self->memory_flag, gdb_flag};
	unsigned int argc = 4;

	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(gdb_flag, sizeof(gdb_flag), "--gdb=%s", where);
	while (*extra && argc < 23)
		argv[argc++] = *extra++;
	argv[argc] = NULL;
	snprintf(l->out, sizeof(l->out), "%s/launcher.out", self->tmp);
	snprintf(l->err, sizeof(l->err), "%s/launcher.err", self->tmp);
	l->port = 0;
	l->pid = spawn(argv, l->out, l->err);
	if (l->pid < 0 || !wait_for_text(l->err, "waiting for gdb", 60))
		return -1;
	if (!strncmp(where, "unix:", 5)) {
		snprintf(l->target, sizeof(l->target), "%s", where + 5);
	} else {
		static char err[4096];
		const char *at = strstr(slurp(l->err, err, sizeof(err)), WAITING_TCP);

		if (!at || sscanf(at + strlen(WAITING_TCP), "%d", &l->port) != 1 || l->port <= 0)
			return -1;
		/* lo: tests/vm/init */
		snprintf(l->target, sizeof(l->target), "localhost:%d", l->port);
	}
	return 0;
}

/* A raw connection to l's stub. */
static int stub_connect(const struct launcher *l)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)l->port)};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(l->target) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, l->target, strlen(l->target) + 1);
	fd = socket(l->port ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
	if (fd >= 0 && (l->port ? connect(fd, (struct sockaddr *)&sin, sizeof(sin))
				: connect(fd, (struct sockaddr *)&sun, sizeof(sun)))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* gdb -batch on elf with the commands (NULL-terminated), its output into
 * out; returns gdb's pid. Connects to l's stub first when l is set. */
static pid_t start_gdb(FIXTURE_DATA(debug) * self, const FIXTURE_VARIANT(debug) * variant,
		       const char *elf, const char *core, const struct launcher *l,
		       const char *const *cmds, const char *out)
{
	static char args[24][PATH_MAX];
	const char *argv[56] = {"/usr/bin/gdb", "-batch", "-nx"};
	unsigned int argc = 3, n = 0;

	snprintf(args[n], PATH_MAX, "set architecture %s",
		 is_amd64(variant) ? "i386:x86-64" : "i386");
	argv[argc++] = "-ex";
	argv[argc++] = args[n++];
	if (l) {
		snprintf(args[n], PATH_MAX, "target remote %s", l->target);
		argv[argc++] = "-ex";
		argv[argc++] = args[n++];
	}
	for (; *cmds && argc < 50; cmds++) {
		argv[argc++] = "-ex";
		argv[argc++] = *cmds;
	}
	argv[argc++] = elf;
	if (core)
		argv[argc++] = core;
	argv[argc] = NULL;
	return spawn(argv, out, NULL);
}

static int run_gdb(FIXTURE_DATA(debug) * self, const FIXTURE_VARIANT(debug) * variant,
		   const char *elf, const char *core, const struct launcher *l,
		   const char *const *cmds, char *output, size_t size)
{
	char out[PATH_MAX];
	int status;

	snprintf(out, sizeof(out), "%s/gdb.out", self->tmp);
	status = finish(start_gdb(self, variant, elf, core, l, cmds, out), DEADLINE_S);
	slurp(out, output, size);
	return status;
}

#define GDB(output, elf, core, l, ...)                                                             \
	do {                                                                                       \
		const char *const cmds_[] = {__VA_ARGS__, NULL};                                   \
		ASSERT_LE(0, run_gdb(self, variant, (elf), (core), (l), cmds_, (output),           \
				     sizeof(output)))                                              \
		TH_LOG("gdb hung:\n%s", (output));                                                 \
	} while (0)

#define EXPECT_HAS(text, needle)                                                                   \
	EXPECT_NE(NULL, strstr((text), (needle))) TH_LOG("no \"%s\" in:\n%s", (needle), (text))

static char gdb_out[1 << 16], launcher_err[1 << 16];

#define EXPECT_LAUNCHER_EXIT(l, expected)                                                          \
	do {                                                                                       \
		int status_ = finish((l)->pid, DEADLINE_S);                                        \
		EXPECT_EQ((expected), status_)                                                     \
		TH_LOG("launcher exited %d, expected %d; stderr:\n%s", status_, (expected),        \
		       slurp((l)->err, launcher_err, sizeof(launcher_err)));                       \
	} while (0)

/* ---- core dumps ---- */

/* The core's ELF header: class, type and machine of the guest's layout. */
static void check_core_header(struct __test_metadata *_metadata, const char *core, bool amd64)
{
	unsigned char h[64] = {0};
	int fd = open(core, O_RDONLY);
	uint16_t type, machine;

	ASSERT_LE(0, fd) TH_LOG("%s: %s", core, strerror(errno));
	ASSERT_EQ((ssize_t)sizeof(h), read(fd, h, sizeof(h)));
	close(fd);
	EXPECT_EQ(0, memcmp(h, ELFMAG, SELFMAG));
	EXPECT_EQ(amd64 ? ELFCLASS64 : ELFCLASS32, h[EI_CLASS]);
	memcpy(&type, h + 16, 2);
	memcpy(&machine, h + 18, 2);
	EXPECT_EQ(ET_CORE, type);
	EXPECT_EQ(amd64 ? EM_X86_64 : EM_386, machine);
}

DEBUG_TEST(core_dump_shows_the_fault_registers_and_a_global)
{
	char snapvm[PATH_MAX], core[PATH_MAX], flag[PATH_MAX + 16], out[PATH_MAX], err[PATH_MAX],
	    expect[PATH_MAX + 64], rip[32] = "";
	int line = line_of(source("crash.c"), "CRASH_LINE");
	const char *elf, *at;

	REQUIRE_BACKEND();
	ASSERT_LT(0, line);
	elf = guest(self, "crash");
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(core, sizeof(core), "%s/guest.core", self->tmp);
	snprintf(flag, sizeof(flag), "--core-dump=%s", core);
	snprintf(out, sizeof(out), "%s/out", self->tmp);
	snprintf(err, sizeof(err), "%s/err", self->tmp);
	{
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, elf, NULL};

		EXPECT_EQ(SNAPVM_STATUS_GUEST_FAULT, finish(spawn(argv, out, err), DEADLINE_S));
	}
	slurp(err, launcher_err, sizeof(launcher_err));
	snprintf(expect, sizeof(expect), "core dump written to %s", core);
	EXPECT_HAS(launcher_err, expect);
	/* The runtime's message names the faulting RIP/EIP. */
	at = strstr(launcher_err, "IP=0x");
	ASSERT_NE(NULL, at) TH_LOG("%s", launcher_err);
	sscanf(at + 3, "%31[0-9a-fx]", rip);
	check_core_header(_metadata, core, is_amd64(variant));

	GDB(gdb_out, elf, core, NULL, "bt", "p/x crash_global", "p/x $pc",
	    is_amd64(variant) ? "p/x $rsi" : "p/x $esi", "info registers");
	EXPECT_HAS(gdb_out, "crash_here");
	snprintf(expect, sizeof(expect), "crash.c:%d", line);
	EXPECT_HAS(gdb_out, expect);
	EXPECT_HAS(gdb_out, "in main ()");
	EXPECT_HAS(gdb_out, "= 0x600dcafe");
	EXPECT_HAS(gdb_out, "= 0x5eed1234");
	snprintf(expect, sizeof(expect), "= %s", rip);
	EXPECT_HAS(gdb_out, expect);
	EXPECT_HAS(gdb_out, "SIGSEGV");
}

DEBUG_TEST(core_dump_from_the_library_at_any_stop_atomically)
{
	struct snapvm_snapshot_options options = {.memory = variant->memory_id};
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	char core[PATH_MAX], bad[PATH_MAX], old[16] = "";
	struct stat st;
	int fd;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, snapvm_snapshot_from_elf(guest(self, "debugee"), &options, &snap, &err))
	TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &sb, &err)) TH_LOG("%s", err.message);
	snapvm_snapshot_put(snap);
	/* At SNAPSHOT: no fault anywhere. */
	ASSERT_EQ(0, snapvm_sandbox_run(sb, 0, &outcome, &err));
	ASSERT_EQ((int)SNAPVM_STOP_SNAPSHOT, (int)outcome.stop);
	snprintf(core, sizeof(core), "%s/at-snapshot.core", self->tmp);
	ASSERT_EQ(0, snapvm_sandbox_core_dump(sb, core, &err)) TH_LOG("%s", err.message);
	check_core_header(_metadata, core, is_amd64(variant));
	/* A core where nothing can be written fails and leaves the old file. */
	fd = open(core, O_WRONLY | O_TRUNC);
	ASSERT_EQ(3, write(fd, "old", 3));
	close(fd);
	snprintf(bad, sizeof(bad), "%s/no-such-dir/x.core", self->tmp);
	EXPECT_EQ(EX_CANTCREAT, snapvm_sandbox_core_dump(sb, bad, &err));
	EXPECT_NE(NULL, strstr(err.message, bad)) TH_LOG("%s", err.message);
	slurp(core, old, sizeof(old));
	EXPECT_STREQ("old", old);
	/* At EXIT, then gdb reads it: the stop is in the runtime's rt_exit. */
	ASSERT_EQ(0, snapvm_sandbox_run(sb, 0, &outcome, &err));
	ASSERT_EQ((int)SNAPVM_STOP_EXIT, (int)outcome.stop);
	ASSERT_EQ(0, snapvm_sandbox_core_dump(sb, core, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, stat(core, &st));
	EXPECT_LT(1000, st.st_size);
	snapvm_sandbox_destroy(sb);
	GDB(gdb_out, guest(self, "debugee"), core, NULL, "bt", "p $pc");
	EXPECT_HAS(gdb_out, "rt_exit");
	EXPECT_HAS(gdb_out, "rt_start");
}

/* ---- the stub ---- */

DEBUG_TEST(gdb_breaks_reads_registers_and_a_local_steps_and_continues_to_the_exit)
{
	char expect[128], bad_read[64];
	int first = line_of(source("debugee.c"), "LINE_FIRST");
	int second = line_of(source("debugee.c"), "LINE_SECOND");
	struct launcher l;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "debugee"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra))
		TH_LOG("%s", slurp(l.err, launcher_err, sizeof(launcher_err)));
	}
	/* Outside guest memory: non-canonical on amd64, above the APIC on i686. */
	snprintf(bad_read, sizeof(bad_read), "x/4x %s",
		 is_amd64(variant) ? "0x800000000000" : "0xfffff000");
	GDB(gdb_out, guest(self, "debugee"), NULL, &l, "info registers", "break compute",
	    "continue", "info registers", "p n", "next", "p local", bad_read, "continue");
	EXPECT_HAS(gdb_out, "Breakpoint 1, compute (n=");
	snprintf(expect, sizeof(expect), "debugee.c:%d", first);
	EXPECT_HAS(gdb_out, expect);
	EXPECT_HAS(gdb_out, is_amd64(variant) ? "rip            0x" : "eip            0x");
	EXPECT_HAS(gdb_out, "<compute");
	EXPECT_HAS(gdb_out, "$1 = 5");
	/* `next` stops on the following line, after local = 15. */
	snprintf(expect, sizeof(expect), "%d\t", second);
	EXPECT_HAS(gdb_out, expect);
	EXPECT_HAS(gdb_out, "$2 = 15");
	EXPECT_HAS(gdb_out, "Cannot access memory at address");
	EXPECT_HAS(gdb_out, "exited with code 023");
	EXPECT_LAUNCHER_EXIT(&l, 19);
}

/* hbreak: Z1, a hardware breakpoint. */
DEBUG_TEST(gdb_set_var_changes_what_the_guest_returns)
{
	struct launcher l;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "debugee"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	GDB(gdb_out, guest(self, "debugee"), NULL, &l, "hbreak compute", "continue", "next",
	    "set var local = 100", "p local", "continue");
	EXPECT_HAS(gdb_out, "Hardware assisted breakpoint 1 at");
	EXPECT_HAS(gdb_out, "Breakpoint 1, compute (n=");
	EXPECT_HAS(gdb_out, "$1 = 100");
	/* 104 = 0150 */
	EXPECT_HAS(gdb_out, "exited with code 0150");
	EXPECT_LAUNCHER_EXIT(&l, 104);
}

/* A listening unix socket at path, or -1. */
static int unix_listen(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 1))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * gdb reaches l's stub through the test: gdb connects to listener (a unix
 * socket of ours), the test to the stub, and the test forwards both ways
 * until gdb hangs up. Once the launcher's stdout has text, the test sends
 * the stub Ctrl-C itself: gdb has sent `c` by then (the guest runs), so it
 * waits for the stop reply, with no sleep to guess when that is.
 */
static int proxy_gdb(const struct launcher *l, int listener, const char *text, double seconds)
{
	double deadline = now_s() + seconds;
	int client = -1, stub = -1, ret = -1;
	bool interrupted = false;
	struct pollfd pfd[2];

	pfd[0] = (struct pollfd){.fd = listener, .events = POLLIN};
	if (poll(pfd, 1, (int)(seconds * 1000)) != 1)
		goto out;
	client = accept(listener, NULL, NULL);
	stub = stub_connect(l);
	if (client < 0 || stub < 0)
		goto out;
	while (now_s() < deadline) {
		static char buf[1 << 16];
		char seen[1 << 12];

		pfd[0] = (struct pollfd){.fd = client, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = stub, .events = POLLIN};
		if (poll(pfd, 2, 20) < 0)
			goto out;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!pfd[i].revents)
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (n <= 0) { /* gdb or the stub hung up: so does the other */
				ret = interrupted ? 0 : -1;
				goto out;
			}
			if (send(pfd[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				goto out;
		}
		if (!interrupted && strstr(slurp(l->out, seen, sizeof(seen)), text)) {
			if (send(stub, "\x03", 1, MSG_NOSIGNAL) != 1)
				goto out;
			interrupted = true;
		}
	}
out:
	if (client >= 0)
		close(client);
	if (stub >= 0)
		close(stub);
	if (listener >= 0)
		close(listener);
	return ret;
}

DEBUG_TEST(gdb_interrupts_an_endless_loop_then_detaches)
{
	char out[PATH_MAX], proxy[PATH_MAX];
	struct launcher l;
	pid_t gdb;
	int status, listener;

	REQUIRE_BACKEND();
	{
		/* After the detach the loop runs on until the timeout. */
		const char *extra[] = {"--timeout=3", guest(self, "endless-loop"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	snprintf(out, sizeof(out), "%s/gdb.out", self->tmp);
	snprintf(proxy, sizeof(proxy), "%s/proxy.sock", self->tmp);
	listener = unix_listen(proxy);
	ASSERT_LE(0, listener) TH_LOG("%s: %s", proxy, strerror(errno));
	{
		struct launcher via = l;
		const char *cmds[] = {"continue", "info registers", "bt", "detach", NULL};

		ASSERT_GT(sizeof(via.target), strlen(proxy));
		memcpy(via.target, proxy, strlen(proxy) + 1);
		gdb = start_gdb(self, variant, guest(self, "endless-loop"), NULL, &via, cmds, out);
	}
	ASSERT_LT(0, gdb);
	/* The guest prints before it spins. */
	EXPECT_EQ(0, proxy_gdb(&l, listener, "spinning", DEADLINE_S));
	status = finish(gdb, DEADLINE_S);
	slurp(out, gdb_out, sizeof(gdb_out));
	EXPECT_EQ(0, status) TH_LOG("%s", gdb_out);
	EXPECT_HAS(gdb_out, "SIGINT");
	EXPECT_HAS(gdb_out, "endless-loop.c");
	EXPECT_HAS(gdb_out, "detached");
	EXPECT_LAUNCHER_EXIT(&l, SNAPVM_STATUS_TIMEOUT);
}

DEBUG_TEST(gdb_from_a_snapshot_file_breakpoints_survive_restores)
{
	char snapvm[PATH_MAX], snap[PATH_MAX], flag[PATH_MAX + 32], out[PATH_MAX], where[PATH_MAX];
	struct launcher l;
	const char *first, *again;

	REQUIRE_BACKEND();
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(snap, sizeof(snap), "%s/debugee.snap", self->tmp);
	snprintf(flag, sizeof(flag), "--snapshot-out=%s", snap);
	snprintf(out, sizeof(out), "%s/snap.out", self->tmp);
	{
		const char *argv[] = {
		    snapvm, "run", self->memory_flag, flag, guest(self, "debugee"), NULL};

		ASSERT_EQ(0, finish(spawn(argv, out, NULL), DEADLINE_S));
	}
	snprintf(flag, sizeof(flag), "--from=%s", snap);
	snprintf(where, sizeof(where), "unix:%s/gdb.sock", self->tmp);
	{
		const char *extra[] = {"--timeout=60", "--repeat=3", flag, NULL};

		ASSERT_EQ(0, start_launcher(self, &l, where, extra))
		TH_LOG("%s", slurp(l.err, launcher_err, sizeof(launcher_err)));
	}
	GDB(gdb_out, guest(self, "debugee"), NULL, &l, "break compute", "continue", "continue",
	    "continue", "continue");
	first = strstr(gdb_out, "Breakpoint 1, compute");
	ASSERT_NE(NULL, first) TH_LOG("%s", gdb_out);
	again = strstr(first + 1, "Breakpoint 1, compute");
	ASSERT_NE(NULL, again) TH_LOG("the breakpoint did not survive the restore:\n%s", gdb_out);
	EXPECT_NE(NULL, strstr(again + 1, "Breakpoint 1, compute")) TH_LOG("%s", gdb_out);
	EXPECT_HAS(gdb_out, "exited with code 023");
	EXPECT_LAUNCHER_EXIT(&l, 19);
}

DEBUG_TEST(gdb_holds_a_fault_for_a_backtrace_then_the_core_is_written)
{
	char flag[PATH_MAX + 16], core[PATH_MAX], expect[PATH_MAX + 32];
	struct launcher l;

	REQUIRE_BACKEND();
	snprintf(core, sizeof(core), "%s/held.core", self->tmp);
	snprintf(flag, sizeof(flag), "--core-dump=%s", core);
	{
		const char *extra[] = {"--timeout=60", flag, guest(self, "crash"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	GDB(gdb_out, guest(self, "crash"), NULL, &l, "continue", "bt", "p/x crash_global",
	    "continue");
	EXPECT_HAS(gdb_out, "SIGSEGV");
	EXPECT_HAS(gdb_out, "crash_here");
	EXPECT_HAS(gdb_out, "= 0x600dcafe");
	/* 70 = 0106 */
	EXPECT_HAS(gdb_out, "exited with code 0106");
	EXPECT_LAUNCHER_EXIT(&l, SNAPVM_STATUS_GUEST_FAULT);
	snprintf(expect, sizeof(expect), "core dump written to %s", core);
	EXPECT_HAS(slurp(l.err, launcher_err, sizeof(launcher_err)), expect);
}

DEBUG_TEST(gdb_kill_ends_the_run)
{
	struct launcher l;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", "--repeat=3", guest(self, "debugee"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	GDB(gdb_out, guest(self, "debugee"), NULL, &l, "break compute", "continue", "kill");
	EXPECT_HAS(gdb_out, "Breakpoint 1, compute");
	EXPECT_LAUNCHER_EXIT(&l, SNAPVM_STATUS_INTERRUPTED);
	EXPECT_HAS(slurp(l.err, launcher_err, sizeof(launcher_err)), "killed by gdb");
}

/* ---- bad input ---- */

/* What comes back within a few seconds: bytes, "" at EOF. */
static ssize_t reply(int fd, char *buf, size_t size)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t len = 0;

	while (len < size - 1 && poll(&pfd, 1, 5000) == 1) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		/* A whole packet (or a lone NAK) is enough. */
		if (memchr(buf, '#', len) && buf[len - 1] != '#' && len >= 3 && buf[len - 3] == '#')
			break;
		if (len == 1 && buf[0] == '-')
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void send_packet(int fd, const char *data)
{
	static char pkt[16384]; /* a whole G for amd64 is ~1.2 KiB */
	unsigned int sum = 0;

	for (const char *p = data; *p; p++)
		sum += (unsigned char)*p;
	snprintf(pkt, sizeof(pkt), "$%s#%02x", data, sum & 0xff);
	send(fd, pkt, strlen(pkt), MSG_NOSIGNAL);
}

DEBUG_TEST(gdb_stub_survives_garbage_oversized_packets_and_bad_reads)
{
	char buf[4096], cmd[64];
	static char big[40000];
	struct launcher l;
	int fd;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to port %d: %s", l.port, strerror(errno));
	/* Garbage outside packets: a NAK. */
	send(fd, "hello, stub!", 12, MSG_NOSIGNAL);
	reply(fd, buf, sizeof(buf));
	EXPECT_EQ('-', buf[0]) TH_LOG("reply to garbage: \"%s\"", buf);
	/* A bad checksum: a NAK. */
	send(fd, "$g#00", 5, MSG_NOSIGNAL);
	reply(fd, buf, sizeof(buf));
	EXPECT_EQ('-', buf[0]) TH_LOG("reply to a bad checksum: \"%s\"", buf);
	/* Malformed arguments: an error packet. */
	send_packet(fd, "mzz,qq");
	reply(fd, buf, sizeof(buf));
	EXPECT_STREQ("+$E01#a6", buf) TH_LOG("reply to a malformed m");
	/* Memory outside the guest's: an error packet. */
	snprintf(cmd, sizeof(cmd), "m%s,10", is_amd64(variant) ? "800000000000" : "fffff000");
	send_packet(fd, cmd);
	reply(fd, buf, sizeof(buf));
	EXPECT_STREQ("+$E14#aa", buf) TH_LOG("reply to %s", cmd);
	send_packet(fd, "mffffffffffffffff,ffffffffffffffff");
	reply(fd, buf, sizeof(buf));
	EXPECT_STREQ("+$E14#aa", buf) TH_LOG("reply to a wrapping m");
	/* Still alive: registers. */
	send_packet(fd, "g");
	reply(fd, buf, sizeof(buf));
	EXPECT_LT(100, (int)strlen(buf)) TH_LOG("reply to g: \"%s\"", buf);
	/* Unknown packets: the empty reply. */
	send_packet(fd, "vNoSuchThing");
	reply(fd, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "$#00")) TH_LOG("reply to an unknown packet: \"%s\"", buf);
	/* Oversized: the connection closes, and the guest runs on alone. */
	big[0] = '$';
	memset(big + 1, 'a', sizeof(big) - 2);
	send(fd, big, sizeof(big) - 1, MSG_NOSIGNAL);
	while (reply(fd, buf, sizeof(buf)) > 0)
		;
	EXPECT_EQ(0, recv(fd, buf, sizeof(buf), 0));
	close(fd);
	EXPECT_LAUNCHER_EXIT(&l, 0);
	EXPECT_TRUE(wait_for_text(l.out, "hello", 1));
}

/* What the stub must answer to packet, exactly ("+" ack, then the reply). */
static const char *ask(int fd, const char *packet)
{
	static char buf[8192];

	send_packet(fd, packet);
	reply(fd, buf, sizeof(buf));
	return buf;
}

/* payload framed as the stub sends it, after its ack. */
static const char *framed(const char *payload)
{
	static char buf[8192];
	unsigned int sum = 0;

	for (const char *p = payload; *p; p++)
		sum += (unsigned char)*p;
	snprintf(buf, sizeof(buf), "+$%s#%02x", payload, sum & 0xff);
	return buf;
}

#define EXPECT_REPLY(fd, packet, payload)                                                          \
	do {                                                                                       \
		const char *got_ = ask((fd), (packet));                                            \
		EXPECT_STREQ(framed(payload), got_) TH_LOG("reply to \"%s\"", (packet));           \
	} while (0)

/* The payload of a reply (between "$" and "#"), copied into out. */
static const char *payload_of(const char *reply_text, char *out, size_t size)
{
	const char *start = strchr(reply_text, '$'), *end = start ? strchr(start, '#') : NULL;

	out[0] = '\0';
	if (start && end && (size_t)(end - start) <= size)
		snprintf(out, size, "%.*s", (int)(end - start - 1), start + 1);
	return out;
}

/* A little-endian hex register value. */
static uint64_t le_hex(const char *hex, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = bytes; i-- > 0;) {
		unsigned int byte = 0;

		sscanf(hex + 2 * i, "%2x", &byte);
		v = v << 8 | byte;
	}
	return v;
}

/*
 * At least one malformed packet of each type the stub handles gets exactly
 * E01 and changes nothing (registers, memory, the stop); the well-formed
 * G, P, M, Z1 and z1 work; M into the read-only amd64 snapshot is refused.
 */
DEBUG_TEST(gdb_stub_answers_malformed_packets_e01_and_changes_nothing)
{
	static const char *const malformed[] = {
	    "?x",
	    "gx",
	    "G",
	    "G0",
	    "Gzz",
	    "p",
	    "pzz",
	    "p-1",
	    "p10000000000000000",
	    "p999",
	    "P",
	    "P=00",
	    "P0=zz",
	    "P0=00",
	    "Pzz=00000000",
	    "m",
	    "m0",
	    "m0,1:",
	    "M",
	    "M0,1",
	    "M0,2:zz",
	    "M0,1:0011",
	    "Z",
	    "Z0",
	    "Z0,zz,1",
	    "Z0,1000,1junk",
	    "Z9,1000,1",
	    "z",
	    "z1,",
	    "czz",
	    "c-1",
	    "sx",
	    "C",
	    "Czz",
	    "C05;",
	    "C05;zz",
	    "S123",
	    "Dx",
	    "kx",
	    "H",
	    "Hx1",
	    "Hg2",
	    "T2",
	    "T",
	    "qXfer:features:read:other.xml:0,10",
	    "qXfer:features:read:target.xml:zz",
	};
	/* i386: eip is register 8, cs 10; x86-64: rip 16, cs 18. */
	const char *pc_reg = is_amd64(variant) ? "10" : "8",
		   *cs_reg = is_amd64(variant) ? "12" : "a";
	unsigned int width = is_amd64(variant) ? 8 : 4;
	static char before[4096], after[4096], changed[4096], text[64], pkt[8192];
	char pc_hex[32], cmd[128];
	struct launcher l;
	uint64_t pc;
	int fd;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to port %d: %s", l.port, strerror(errno));
	payload_of(ask(fd, "g"), before, sizeof(before));
	ASSERT_LT(100, (int)strlen(before));
	snprintf(cmd, sizeof(cmd), "p%s", pc_reg);
	payload_of(ask(fd, cmd), pc_hex, sizeof(pc_hex));
	ASSERT_EQ(2 * width, (unsigned int)strlen(pc_hex));
	pc = le_hex(pc_hex, width);
	snprintf(cmd, sizeof(cmd), "m%llx,8", (unsigned long long)pc);
	payload_of(ask(fd, cmd), text, sizeof(text));
	ASSERT_EQ(16, strlen(text));

	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		EXPECT_REPLY(fd, malformed[i], "E01");
	/* A whole G of the right length, but one bad digit; one digit more. */
	snprintf(pkt, sizeof(pkt), "G%s", before);
	pkt[1] = 'x';
	EXPECT_REPLY(fd, pkt, "E01");
	snprintf(pkt, sizeof(pkt), "G%s0", before);
	EXPECT_REPLY(fd, pkt, "E01");
	/* A segment register is shown, not set. */
	snprintf(pkt, sizeof(pkt), "P%s=00000000", cs_reg);
	EXPECT_REPLY(fd, pkt, "E01");
	/* Watchpoints: not supported (the empty reply), not malformed. */
	EXPECT_REPLY(fd, "Z2,1000,1", "");
	/* Nothing changed, and the guest is still held where it was. */
	EXPECT_REPLY(fd, "?", "S05");
	EXPECT_REPLY(fd, "g", before);
	EXPECT_REPLY(fd, cmd, text);

	/* Well-formed G and P do write: the first register (eax/rax). */
	snprintf(changed, sizeof(changed), "%s", before);
	memcpy(changed, "11223344", 8);
	snprintf(pkt, sizeof(pkt), "G%s", changed);
	EXPECT_REPLY(fd, pkt, "OK");
	EXPECT_REPLY(fd, "g", changed);
	snprintf(pkt, sizeof(pkt), "P0=%.*s", 2 * width, before);
	EXPECT_REPLY(fd, pkt, "OK");
	EXPECT_REPLY(fd, "p0", is_amd64(variant) ? "0000000000000000" : "00000000");
	payload_of(ask(fd, "g"), after, sizeof(after));
	EXPECT_STREQ(before, after);

	/* M: the amd64 snapshot (the text) is read-only to the host; i686's
	 * is writable (the same bytes back). Outside guest memory: E14. */
	snprintf(pkt, sizeof(pkt), "M%llx,8:%s", (unsigned long long)pc, text);
	EXPECT_REPLY(fd, pkt, is_amd64(variant) ? "E14" : "OK");
	EXPECT_REPLY(fd, cmd, text);
	snprintf(pkt, sizeof(pkt), "M%s,1:00", is_amd64(variant) ? "800000000000" : "fffff000");
	EXPECT_REPLY(fd, pkt, "E14");

	/* Z1 (a hardware breakpoint) at the PC and off it; z1; Z0 outside. */
	snprintf(pkt, sizeof(pkt), "Z1,%llx,1", (unsigned long long)pc);
	EXPECT_REPLY(fd, pkt, "OK");
	pkt[0] = 'z';
	EXPECT_REPLY(fd, pkt, "OK");
	snprintf(pkt, sizeof(pkt), "Z1,%s,1", is_amd64(variant) ? "800000000000" : "fffff000");
	EXPECT_REPLY(fd, pkt, "E14");
	pkt[1] = '0';
	EXPECT_REPLY(fd, pkt, "E14");
	/* Threads: the one vCPU. */
	EXPECT_REPLY(fd, "Hg0", "OK");
	EXPECT_REPLY(fd, "Hc-1", "OK");
	EXPECT_REPLY(fd, "T1", "OK");

	/* Detach: the guest runs on alone, unchanged. */
	EXPECT_REPLY(fd, "D", "OK");
	close(fd);
	EXPECT_LAUNCHER_EXIT(&l, 0);
	EXPECT_TRUE(wait_for_text(l.out, "hello", 1));
}

/*
 * An int3 goes to the page its address maps to when the guest resumes; the
 * guest then points that address at another page (a PTE write and invlpg:
 * no exit) and aborts. The int3 must still come out of the first page, so
 * the next run from the snapshot reads the guest's byte there, not 0xcc.
 * That is the third run: a sandbox's first restore puts back every page
 * (KVM's dirty log starts all set), which would hide the leak.
 * The test VM's KVM honours neither debug registers nor int3: the int3
 * method is forced (SNAPVM_GDB_FORCE_INT3), and the guest only reads the
 * byte, never executes it.
 */
DEBUG_TEST(gdb_int3_comes_out_of_the_page_it_went_to_after_the_guest_remaps)
{
	char snapvm[PATH_MAX], snap[PATH_MAX], flag[PATH_MAX + 32], out[PATH_MAX], where[PATH_MAX],
	    brk[64], line[64];
	static char text[1 << 16];
	const char *first, *second;
	struct launcher l;

	REQUIRE_BACKEND();
	if (!is_amd64(variant))
		SKIP(return, "i686 guests run with paging off: no page to remap");
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(snap, sizeof(snap), "%s/gdb-remap.snap", self->tmp);
	snprintf(flag, sizeof(flag), "--snapshot-out=%s", snap);
	snprintf(out, sizeof(out), "%s/snap.out", self->tmp);
	{
		const char *argv[] = {
		    snapvm, "run", self->memory_flag, flag, guest(self, "gdb-remap"), NULL};

		ASSERT_EQ(0, finish(spawn(argv, out, NULL), DEADLINE_S));
	}
	snprintf(flag, sizeof(flag), "--from=%s", snap);
	snprintf(where, sizeof(where), "unix:%s/gdb.sock", self->tmp);
	ASSERT_EQ(0, setenv("SNAPVM_GDB_FORCE_INT3", "1", 1));
	{
		const char *extra[] = {"--timeout=60", "--repeat=3", flag, NULL};

		ASSERT_EQ(0, start_launcher(self, &l, where, extra))
		TH_LOG("%s", slurp(l.err, launcher_err, sizeof(launcher_err)));
	}
	unsetenv("SNAPVM_GDB_FORCE_INT3");
	snprintf(brk, sizeof(brk), "break *0x%llx", (unsigned long long)GDB_REMAP_GVA);
	GDB(gdb_out, guest(self, "gdb-remap"), NULL, &l, brk, "continue", "continue",
	    "p/x *gdb_remap_page_a", "delete", "detach");
	EXPECT_HAS(gdb_out, "SIGABRT");
	/* At the stop, page A holds the guest's byte again. */
	snprintf(line, sizeof(line), "$1 = 0x%x", GDB_REMAP_BYTE);
	EXPECT_HAS(gdb_out, line);
	EXPECT_LAUNCHER_EXIT(&l, SNAPVM_STATUS_GUEST_FAULT);
	slurp(l.out, text, sizeof(text));
	/* The first two runs read our int3 (so it was one, in memory), the
	 * third, without gdb, the guest's own byte. */
	snprintf(line, sizeof(line), GDB_REMAP_LINE, 0xcc);
	first = strstr(text, line);
	ASSERT_NE(NULL, first) TH_LOG("no \"%s\" (the int3 method) in:\n%s", line, text);
	first = strstr(first + 1, line);
	ASSERT_NE(NULL, first) TH_LOG("gdb did not see the second run:\n%s", text);
	snprintf(line, sizeof(line), GDB_REMAP_LINE, GDB_REMAP_BYTE);
	second = strstr(first + 1, line);
	EXPECT_NE(NULL, second) TH_LOG("the int3 stayed in the page after the restore:\n%s", text);
}

/* A gdb that keeps talking after D: the launcher goes on within a bound. */
DEBUG_TEST(gdb_client_that_keeps_sending_after_detach_does_not_hold_the_launcher)
{
	struct launcher l;
	double start, exited = 0;
	int fd, ws = 0;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to port %d: %s", l.port, strerror(errno));
	EXPECT_REPLY(fd, "D", "OK");
	/* An ack every half second, for up to 30 s, never hanging up. */
	start = now_s();
	while (now_s() - start < 30) {
		if (waitpid(l.pid, &ws, WNOHANG) == l.pid) {
			exited = now_s() - start;
			break;
		}
		send(fd, "+", 1, MSG_NOSIGNAL);
		usleep(500000);
	}
	close(fd);
	if (!exited)
		EXPECT_LAUNCHER_EXIT(&l, 0);
	EXPECT_LT(0, exited) TH_LOG("the launcher was still held after 30 s");
	EXPECT_GT(10, exited);
	EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) TH_LOG("wait status 0x%x", ws);
}

/* --gdb=... that cannot work: a usage error (64), a port someone else
 * has (69), a socket that cannot be made (73); a unix socket is the
 * owner's only (0600). */
DEBUG_TEST(gdb_flag_malformed_port_in_use_and_unix_socket_mode)
{
	static const char *const bad[] = {"",	 "abc",	       "70000", "-1", "12x", "1.2.3.4.5:80",
					  ":80", "127.0.0.1:", "unix:"};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	char snapvm[PATH_MAX], flag[PATH_MAX + 16], out[PATH_MAX], err[PATH_MAX], expect[128],
	    sock[PATH_MAX];
	struct launcher l;
	struct stat st;
	int taken, fd;

	REQUIRE_BACKEND();
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(out, sizeof(out), "%s/out", self->tmp);
	snprintf(err, sizeof(err), "%s/err", self->tmp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, guest(self, "hello"),
				      NULL};

		snprintf(flag, sizeof(flag), "--gdb=%s", bad[i]);
		EXPECT_EQ(EX_USAGE, finish(spawn(argv, out, err), DEADLINE_S))
		TH_LOG("%s", flag);
		snprintf(expect, sizeof(expect), "--gdb=%s: want ", bad[i]);
		EXPECT_HAS(slurp(err, launcher_err, sizeof(launcher_err)), expect);
	}
	/* A port that is listened on already (ours, held: no race). */
	taken = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, bind(taken, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(taken, 1));
	ASSERT_EQ(0, getsockname(taken, (struct sockaddr *)&sin, &len));
	snprintf(flag, sizeof(flag), "--gdb=%d", ntohs(sin.sin_port));
	{
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, guest(self, "hello"),
				      NULL};

		EXPECT_EQ(EX_UNAVAILABLE, finish(spawn(argv, out, err), DEADLINE_S));
		snprintf(expect, sizeof(expect), "gdb stub: bind 127.0.0.1:%d",
			 ntohs(sin.sin_port));
		EXPECT_HAS(slurp(err, launcher_err, sizeof(launcher_err)), expect);
	}
	close(taken);
	snprintf(flag, sizeof(flag), "--gdb=unix:%s/no-such-dir/gdb.sock", self->tmp);
	{
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, guest(self, "hello"),
				      NULL};

		EXPECT_EQ(EX_CANTCREAT, finish(spawn(argv, out, err), DEADLINE_S));
		EXPECT_HAS(slurp(err, launcher_err, sizeof(launcher_err)), "gdb stub: bind ");
	}
	/* The unix socket: 0600 while it waits; k ends the run. */
	snprintf(sock, sizeof(sock), "unix:%s/gdb.sock", self->tmp);
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, sock, extra));
	}
	ASSERT_EQ(0, stat(l.target, &st)) TH_LOG("%s: %s", l.target, strerror(errno));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(0600, (int)(st.st_mode & 07777));
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to %s: %s", l.target, strerror(errno));
	send_packet(fd, "k");
	EXPECT_LAUNCHER_EXIT(&l, SNAPVM_STATUS_INTERRUPTED);
	close(fd);
}

TEST(help_says_the_stub_binds_to_localhost)
{
	char snapvm[PATH_MAX], out[PATH_MAX], dir[PATH_MAX / 2];

	ASSERT_NE(NULL, vmm_make_tmpdir(dir, sizeof(dir), "debug-help"));
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(out, sizeof(out), "%s/help", dir);
	{
		const char *argv[] = {snapvm, "run", "--help", NULL};

		ASSERT_EQ(0, finish(spawn(argv, out, NULL), DEADLINE_S));
	}
	slurp(out, gdb_out, sizeof(gdb_out));
	EXPECT_HAS(gdb_out, "--gdb=PORT");
	EXPECT_HAS(gdb_out, "localhost");
	EXPECT_HAS(gdb_out, "--core-dump=PATH");
	vmm_remove_tmpdir(dir);
}

TEST_HARNESS_MAIN
