// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * create.c - `snapvm-runc create`: read and check the bundle's config.json
 * (jansson, through the launcher's jsonx), resolve process.args[0] inside
 * root.path, fork the VMM (vmm.c) and return once it reports ready, with
 * its pid in --pid-file. Any failure leaves no process and no state behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userspace/launcher/jsonx.h"
#include "userspace/lib/snapfile.h"
#include "userspace/runc/runc.h"

/* runc's PATH when process.env has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static char **string_array(json_t *arr, const char *what, int *ret)
{
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
	char **v = calloc(n + 1, sizeof(char *));

	*ret = 0;
	if (!v) {
		*ret = fail("out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!s) {
			*ret = fail("config.json: %s[%zu] is not a string", what, i);
			free(v);
			return NULL;
		}
		v[i] = (char *)s;
	}
	return v;
}

static bool is_snapshot(int fd)
{
	char head[8];

	return pread(fd, head, sizeof(head), 0) == sizeof(head) &&
	       !memcmp(head, SNAPFILE_MAGIC, sizeof(head));
}

/* Open path (absolute, inside the root) as the program: a regular file with
 * an execute bit, or a snapshot file (data: images copy it without one).
 * -errno when it is not. */
static int open_in_root(int root_fd, const char *path)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat((int)fd, &st) || !S_ISREG(st.st_mode) ||
	    (!(st.st_mode & 0111) && !is_snapshot((int)fd))) {
		close((int)fd);
		return -EACCES;
	}
	return (int)fd;
}

/* process.args[0] as runc finds it: with a '/', relative to process.cwd;
 * without, along process.env's PATH. Always inside the root. */
static int resolve_program(struct bundle *b)
{
	const char *arg0 = b->argv[0], *path = DEFAULT_PATH;
	int root_fd = open(b->root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -ENOENT;

	if (root_fd < 0)
		return fail("root.path %s: %s", b->root, strerror(errno));
	if (strchr(arg0, '/')) {
		snprintf(b->program, sizeof(b->program), "%s%s%s", arg0[0] == '/' ? "" : b->cwd,
			 arg0[0] == '/' ? "" : "/", arg0);
		fd = open_in_root(root_fd, b->program);
	} else {
		for (int i = 0; b->envp[i]; i++)
			if (!strncmp(b->envp[i], "PATH=", 5))
				path = b->envp[i] + 5;
		while (fd < 0 && *path) {
			size_t n = strcspn(path, ":");

			snprintf(b->program, sizeof(b->program), "%.*s/%s", (int)n, path, arg0);
			if (n)
				fd = open_in_root(root_fd, b->program);
			path += n + (path[n] == ':');
		}
		if (fd < 0)
			snprintf(b->program, sizeof(b->program), "%s", arg0);
	}
	close(root_fd);
	if (fd < 0)
		return fail("process.args[0] %s: %s inside root.path %s", b->program,
			    fd == -EACCES ? "not an executable regular file or a snapshot file"
					  : strerror(-fd),
			    b->root);
	b->program_fd = fd;
	return 0;
}

/* A static Linux program, a snapvm guest ELF, or a snapvm snapshot file. */
static int classify_program(struct bundle *b)
{
	char head[8], path[64];
	struct snapvm_error err;
	bool is_linux;

	if (pread(b->program_fd, head, sizeof(head), 0) != sizeof(head))
		return fail("process.args[0] %s is too short to be a program", b->program);
	if (!memcmp(head, SNAPFILE_MAGIC, sizeof(head))) {
		b->kind = PROGRAM_SNAPSHOT;
		return 0;
	}
	if (memcmp(head, "\177ELF", 4))
		return fail("process.args[0] %s is neither an ELF executable nor a snapvm "
			    "snapshot file",
			    b->program);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", b->program_fd);
	if (snapvm_linux_classify(path, &is_linux, &err))
		return fail("process.args[0] %s: %s", b->program, err.message);
	b->kind = is_linux ? PROGRAM_LINUX : PROGRAM_GUEST;
	return 0;
}

static int parse_annotations(struct bundle *b, json_t *ann)
{
	const char *v;
	struct snapvm_error err;

	v = jsonx_string(ann, "io.snapvm.memory");
	if (v && snapvm_parse_size(v, &b->max_memory, &err))
		return fail("annotation io.snapvm.memory: %s", err.message);
	v = jsonx_string(ann, "io.snapvm.timeout");
	if (v) {
		char *end;
		double s = strtod(v, &end);

		if (end == v || *end || !(s > 0) || s > 1e9)
			return fail("annotation io.snapvm.timeout '%s': want a positive number of "
				    "seconds",
				    v);
		b->timeout_ms = (uint64_t)(s * 1000) + ((double)(uint64_t)(s * 1000) < s * 1000);
	}
	v = jsonx_string(ann, "io.snapvm.snapshot-at");
	if (v && !strcmp(v, "entry"))
		b->snapshot_at = SNAPVM_LINUX_SNAPSHOT_ENTRY;
	else if (v && !strcmp(v, "first-read"))
		b->snapshot_at = SNAPVM_LINUX_SNAPSHOT_FIRST_READ;
	else if (v)
		return fail("annotation io.snapvm.snapshot-at '%s': want entry or first-read", v);
	return 0;
}

static int parse_user(struct bundle *b, json_t *user)
{
	json_t *gids = jsonx_array(user, "additionalGids");
	uint64_t n;

	if (!user)
		return 0;
	if (json_object_get(user, "uid") && jsonx_uint(user, "uid", UINT32_MAX - 1, &n))
		return fail("config.json: process.user.uid is not a uid");
	b->uid = json_object_get(user, "uid") ? (uint32_t)n : 0;
	if (json_object_get(user, "gid") && jsonx_uint(user, "gid", UINT32_MAX - 1, &n))
		return fail("config.json: process.user.gid is not a gid");
	b->gid = json_object_get(user, "gid") ? (uint32_t)n : 0;
	if (!gids)
		return 0;
	b->gids = calloc(json_array_size(gids) + 1, sizeof(*b->gids));
	if (!b->gids)
		return fail("out of memory");
	for (size_t i = 0; i < json_array_size(gids); i++) {
		json_t *g = json_array_get(gids, i);

		if (!json_is_integer(g) || json_integer_value(g) < 0 ||
		    json_integer_value(g) >= UINT32_MAX)
			return fail("config.json: process.user.additionalGids[%zu] is not a gid",
				    i);
		b->gids[b->ngids++] = (uint32_t)json_integer_value(g);
	}
	return 0;
}

/* Parse and check bundle_dir/config.json into b. */
static int bundle_load(struct bundle *b, const char *bundle_dir)
{
	char path[PATH_MAX + 32], *text;
	struct snapvm_error err;
	json_t *c, *process, *root, *linux_, *mem;
	const char *version, *rootpath;
	uint64_t limit;
	size_t len;
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/config.json", bundle_dir);
	f = fopen(path, "re");
	if (!f)
		return fail("cannot read %s: %s", path, strerror(errno));
	text = malloc(1 << 22);
	len = text ? fread(text, 1, 1 << 22, f) : 0;
	ret = text && !ferror(f) && len < (1 << 22);
	fclose(f);
	if (!ret) {
		free(text);
		return fail("cannot read %s (more than 4 MiB?)", path);
	}
	c = jsonx_parse_object(path, text, len, &err);
	free(text);
	if (!c)
		return fail("%s", err.message);
	b->config = c;
	version = jsonx_string(c, "ociVersion");
	if (!version)
		return fail("%s: no ociVersion", path);
	if (strtoul(version, NULL, 10) != 1 || version[0] != '1' || version[1] != '.')
		return fail("%s: ociVersion %s is not supported: want 1.x", path, version);
	process = jsonx_object(c, "process");
	if (!process)
		return fail("%s: no process", path);
	b->argv = string_array(jsonx_array(process, "args"), "process.args", &ret);
	if (ret)
		return ret;
	if (!b->argv[0] || !b->argv[0][0])
		return fail("%s: process.args is empty", path);
	b->envp = string_array(jsonx_array(process, "env"), "process.env", &ret);
	if (ret)
		return ret;
	b->cwd = jsonx_string(process, "cwd") ? jsonx_string(process, "cwd") : "/";
	if (b->cwd[0] != '/')
		return fail("%s: process.cwd %s is not absolute", path, b->cwd);
	b->terminal = json_is_true(json_object_get(process, "terminal"));
	ret = parse_user(b, jsonx_object(process, "user"));
	if (ret)
		return ret;
	root = jsonx_object(c, "root");
	rootpath = jsonx_string(root, "path");
	if (!rootpath || !*rootpath)
		return fail("%s: no root.path", path);
	if (rootpath[0] != '/') {
		char *abs = malloc(PATH_MAX + 8);

		if (!abs)
			return fail("out of memory");
		snprintf(abs, PATH_MAX + 8, "%s/%s", bundle_dir, rootpath);
		rootpath = abs; /* lives as long as the process */
	}
	b->root = rootpath;
	b->hostname = jsonx_string(c, "hostname");
	linux_ = jsonx_object(c, "linux");
	b->cgroups_path = jsonx_string(linux_, "cgroupsPath");
	mem = jsonx_object(jsonx_object(linux_, "resources"), "memory");
	if (mem && json_object_get(mem, "limit") &&
	    !jsonx_uint(mem, "limit", JSONX_MAX_UINT, &limit))
		b->max_memory = limit;
	ret = parse_annotations(b, jsonx_object(c, "annotations"));
	if (ret)
		return ret;
	ret = resolve_program(b);
	return ret ? ret : classify_program(b);
}

static int write_pid_file(const char *path, pid_t pid)
{
	char tmp[PATH_MAX + 16];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	/* Digits, no newline: the shim reads it at once and parses it whole. */
	if (fd < 0 || dprintf(fd, "%d", (int)pid) < 0 || close(fd) || rename(tmp, path)) {
		unlink(tmp);
		return fail("--pid-file %s: %s", path, strerror(errno));
	}
	return 0;
}

/* Wait for the VMM's word: "R" and its cgroup directory when ready, else
 * "E" and its message (then it exits); it closes the pipe after either. */
static int wait_ready(int fd, pid_t pid, char *cgroup, size_t size)
{
	char msg[1600 + PATH_MAX];
	ssize_t n, len = 0;
	int status = 0;

	while (len < (ssize_t)sizeof(msg) - 1) {
		n = read(fd, msg + len, sizeof(msg) - 1 - (size_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	msg[len] = '\0';
	if (len && msg[0] == 'R') {
		snprintf(cgroup, size, "%.4000s", msg + 1);
		return 0;
	}
	kill(pid, SIGKILL); /* it exits after its message; never leave one behind */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (len > 1 && msg[0] == 'E')
		return fail("%s", msg + 1);
	return fail("the VMM exited before it was ready (%s %d)",
		    WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* --root and its missing parents, as runc's MkdirAll: the shim passes
 * /run/containerd/runc/NS, whose parents nothing else creates. */
static int mkdir_root(const char *root)
{
	char dir[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s", root) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0711) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0711) && errno != EEXIST ? -1 : 0;
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bundle", required_argument, NULL, 'b'},
	    {"pid-file", required_argument, NULL, 'p'},
	    {"console-socket", required_argument, NULL, 'c'},
	    {"no-pivot", no_argument, NULL, 'P'},
	    {"no-new-keyring", no_argument, NULL, 'K'},
	    {"preserve-fds", required_argument, NULL, 'f'},
	    {"notify-socket", required_argument, NULL, 'n'},
	    {0},
	};
	struct vmm_args a = {0};
	struct bundle b = {.program_fd = -1};
	struct state s = {0};
	char bundle_dir[PATH_MAX], fifo[4200], jail[4200];
	const char *bundle = ".", *pid_file = NULL;
	int opt, ready[2], ret;
	pid_t pid;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bundle = optarg;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'c':
			a.console_socket = optarg;
			break;
		case 'P':
			a.no_pivot = true;
			break;
		case 'K': /* no keyring to join: the guest has no keys */
		case 'n': /* no sd_notify: READY is create's exit */
			break;
		case 'f':
			if (strcmp(optarg, "0"))
				return fail("create: --preserve-fds is not supported: the guest "
					    "sees fds 0, 1 and 2 only");
			break;
		default:
			return fail("create: unknown option or missing value '%s'",
				    argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return fail("create: want exactly one container ID");
	if (state_check_id(argv[optind]))
		return 1;
	if (!realpath(bundle, bundle_dir))
		return fail("--bundle %s: %s", bundle, strerror(errno));
	if (bundle_load(&b, bundle_dir))
		return 1;
	if (b.terminal && !a.console_socket)
		return fail("process.terminal is true but no --console-socket was given");
	state_path(&s, argv[optind]);
	if (mkdir_root(runc_root))
		return fail("--root %s: %s", runc_root, strerror(errno));
	if (mkdir(s.dir, 0711))
		return fail(errno == EEXIST ? "container %s already exists" : "container %s: %m",
			    s.id);
	snprintf(s.bundle, sizeof(s.bundle), "%s", bundle_dir);
	snprintf(s.rootfs, sizeof(s.rootfs), "%s", b.root);
	rfc3339_now(s.created, sizeof(s.created));
	s.annotations = json_incref(jsonx_object(b.config, "annotations"));
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", s.dir);
	snprintf(jail, sizeof(jail), "%s/jail", s.dir);
	if (state_save(&s) || mkfifo(fifo, 0600) || mkdir(jail, 0500) || pipe2(ready, O_CLOEXEC)) {
		ret = errno ? fail("container %s: %s", s.id, strerror(errno)) : 1;
		goto undo;
	}
	a.b = &b;
	a.fifo = fifo;
	a.jail = jail;
	a.ready_fd = ready[1];
	pid = fork();
	if (pid < 0) {
		ret = fail("fork: %s", strerror(errno));
		goto undo;
	}
	if (!pid) {
		close(ready[0]);
		vmm_main(&a);
	}
	close(ready[1]);
	ret = wait_ready(ready[0], pid, s.cgroup, sizeof(s.cgroup));
	if (!ret) {
		char st;

		s.pid = pid;
		s.started = proc_start_time(pid, &st);
		ret = state_save(&s);
		if (!ret && pid_file)
			ret = write_pid_file(pid_file, pid);
		if (ret) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	if (!ret)
		return 0;
undo:
	state_remove(&s);
	return ret;
}
