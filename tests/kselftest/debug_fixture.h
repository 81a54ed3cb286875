/* SPDX-License-Identifier: GPL-2.0 */
/*
 * debug_fixture.h - what debug_test.c and debug_stub_test.c share: the debug
 * fixture (both layouts, both memory backends), processes under deadlines,
 * the launcher started with --gdb, gdb in batch mode, and the checks on
 * their output. Include after kselftest_harness.h and vmm_test.h.
 */
#ifndef SNAPVM_TESTS_DEBUG_FIXTURE_H
#define SNAPVM_TESTS_DEBUG_FIXTURE_H

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
static inline void loopback_up(void)
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

static inline const char *guest(FIXTURE_DATA(debug) * self, const char *name)
{
	snprintf(self->path, sizeof(self->path), "%s/%s.elf", self->guests, name);
	return self->path;
}

static inline bool is_amd64(const FIXTURE_VARIANT(debug) * variant)
{
	return variant->layout_id == SNAPVM_LAYOUT_AMD64;
}

/* ---- processes ---- */

static inline double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* argv[0] is run with stdin from /dev/null, stdout and stderr to files;
 * -1 when fork failed. */
static inline pid_t spawn(const char *const *argv, const char *out, const char *err)
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
static inline int finish(pid_t pid, double seconds)
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
static inline char *slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static inline bool wait_for_text(const char *path, const char *text, double seconds)
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
static inline int line_of(const char *file, const char *marker)
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
static inline const char *source(const char *name)
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
static inline int start_launcher(FIXTURE_DATA(debug) * self, struct launcher *l, const char *where,
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
static inline int stub_connect(const struct launcher *l)
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
static inline pid_t start_gdb(FIXTURE_DATA(debug) * self, const FIXTURE_VARIANT(debug) * variant,
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

static inline int run_gdb(FIXTURE_DATA(debug) * self, const FIXTURE_VARIANT(debug) * variant,
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

#endif /* SNAPVM_TESTS_DEBUG_FIXTURE_H */
