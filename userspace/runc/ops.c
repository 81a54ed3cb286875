// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ops.c - the commands on an existing container: start, kill, delete,
 * state, ps, pause, resume, update. Each reads ROOT/ID/state.json under the
 * directory's flock; signals go through a pidfd opened before the VMM's
 * start time is checked, so a reused pid is never signalled.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "userspace/launcher/jsonx.h"
#include "userspace/runc/runc.h"

/* Load ID's state and lock it; *lock_fd to close. 1 after fail(). */
static int open_container(const char *id, struct state *s, int *lock_fd)
{
	if (state_load(s, id))
		return 1;
	*lock_fd = state_lock(s);
	if (*lock_fd < 0) {
		state_free(s);
		return 1;
	}
	state_free(s);
	if (state_load(s, id)) { /* again, now that nobody changes it */
		close(*lock_fd);
		return 1;
	}
	return 0;
}

static void close_container(struct state *s, int lock_fd)
{
	state_free(s);
	close(lock_fd);
}

/* A pidfd of the VMM when it is still the one create started, else -1. */
static int vmm_pidfd(const struct state *s)
{
	int fd = (int)syscall(SYS_pidfd_open, s->pid, 0);

	if (fd >= 0 && state_status(s) == STATUS_STOPPED) {
		close(fd);
		return -1;
	}
	return fd;
}

static int one_id(int argc, char **argv, const char *cmd)
{
	if (optind + 1 != argc)
		return fail("%s: want exactly one container ID", cmd);
	return 0;
}

int cmd_start(int argc, char **argv)
{
	struct state s;
	char fifo[4200];
	int lock, fd, ret = 0;
	enum status st;

	optind = 1;
	if (one_id(argc, argv, "start") || open_container(argv[1], &s, &lock))
		return 1;
	st = state_status(&s);
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", s.dir);
	if (st != STATUS_CREATED) {
		ret =
		    fail("cannot start container %s: it is %s, not created", s.id, status_name(st));
	} else {
		fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || write(fd, "s", 1) != 1)
			ret =
			    fail("cannot start container %s: %s: %s", s.id, fifo, strerror(errno));
		else
			unlink(fifo); /* gone = running */
		if (fd >= 0)
			close(fd);
	}
	close_container(&s, lock);
	return ret;
}

int signal_parse(const char *text, int *signo)
{
	static const struct {
		const char *name;
		int signo;
	} names[] = {
	    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
	    {"TRAP", SIGTRAP},	   {"ABRT", SIGABRT}, {"BUS", SIGBUS},	   {"FPE", SIGFPE},
	    {"KILL", SIGKILL},	   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
	    {"PIPE", SIGPIPE},	   {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
	    {"CONT", SIGCONT},	   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
	    {"TTOU", SIGTTOU},	   {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
	    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
	    {"PWR", SIGPWR},	   {"SYS", SIGSYS},
	};
	char *end;
	long n = strtol(text, &end, 10);

	if (end != text && !*end) {
		if (n <= 0 || n >= SIGRTMAX + 1)
			return fail("invalid signal '%s'", text);
		*signo = (int)n;
		return 0;
	}
	if (!strncasecmp(text, "SIG", 3))
		text += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(text, names[i].name)) {
			*signo = names[i].signo;
			return 0;
		}
	return fail("invalid signal '%s'", text);
}

int cmd_kill(int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {0}};
	int opt, signo = SIGTERM, lock, fd, ret = 0;
	bool all = false;
	struct state s;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
		if (opt != 'a')
			return fail("kill: unknown option '%s'", argv[optind - 1]);
		all = true;
	}
	if (optind == argc || argc - optind > 2)
		return fail("kill: want ID [SIGNAL]");
	if (argc - optind == 2 && signal_parse(argv[optind + 1], &signo))
		return 1;
	if (open_container(argv[optind], &s, &lock))
		return 1;
	fd = vmm_pidfd(&s);
	/* --all after the guest ended: nothing left, which is what was asked. */
	if (fd < 0 && !all)
		ret = fail("container %s not running", s.id);
	else if (fd >= 0 && syscall(SYS_pidfd_send_signal, fd, signo, NULL, 0) && errno != ESRCH)
		ret = fail("kill container %s: %s", s.id, strerror(errno));
	if (fd >= 0)
		close(fd);
	close_container(&s, lock);
	return ret;
}

/* SIGKILL the VMM and wait until it has exited (a pidfd polls readable). */
static int kill_wait(const struct state *s)
{
	struct pollfd p = {.events = POLLIN};

	p.fd = vmm_pidfd(s);
	if (p.fd < 0)
		return 0;
	if (s->frozen)
		cgroup_freeze(s->cgroup, false);
	if (syscall(SYS_pidfd_send_signal, p.fd, SIGKILL, NULL, 0) && errno != ESRCH) {
		close(p.fd);
		return fail("kill container %s: %s", s->id, strerror(errno));
	}
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	close(p.fd);
	return 0;
}

int cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
	bool force = false;
	struct state s;
	enum status st;
	int opt, lock, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (opt != 'f')
			return fail("delete: unknown option '%s'", argv[optind - 1]);
		force = true;
	}
	if (one_id(argc, argv, "delete") || open_container(argv[optind], &s, &lock))
		return 1;
	st = state_status(&s);
	if ((st == STATUS_RUNNING || st == STATUS_PAUSED) && !force) {
		ret = fail("cannot delete container %s that is not stopped: %s (use --force)", s.id,
			   status_name(st));
		close_container(&s, lock);
		return ret;
	}
	/* A created container never ran: delete ends it, as runc does. */
	ret = kill_wait(&s);
	if (!ret)
		state_remove(&s);
	close_container(&s, lock);
	return ret;
}

int cmd_state(int argc, char **argv)
{
	struct state s;
	enum status st;
	json_t *j;
	char *text;
	int lock;

	optind = 1;
	if (one_id(argc, argv, "state") || open_container(argv[1], &s, &lock))
		return 1;
	st = state_status(&s);
	j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:O,s:s}", "ociVersion", RUNC_OCI_VERSION, "id",
		      s.id, "status", status_name(st), "pid",
		      (json_int_t)(st == STATUS_STOPPED ? 0 : s.pid), "bundle", s.bundle, "rootfs",
		      s.rootfs, "created", s.created, "annotations", (json_t *)s.annotations,
		      "owner", "");
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	close_container(&s, lock);
	if (!text)
		return fail("state: out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}

int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
	const char *format = "table";
	struct state s;
	int opt, lock;
	bool alive;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (opt != 'f')
			return fail("ps: unknown option '%s'", argv[optind - 1]);
		format = optarg;
	}
	if (strcmp(format, "json") && strcmp(format, "table"))
		return fail("ps: --format %s: want json or table", format);
	/* ps options after the ID are for ps(1): there is one process. */
	if (optind == argc || open_container(argv[optind], &s, &lock))
		return optind == argc ? fail("ps: which container ID?") : 1;
	alive = state_status(&s) != STATUS_STOPPED;
	if (!strcmp(format, "json"))
		alive ? printf("[%d]\n", (int)s.pid) : printf("[]\n");
	else if (alive)
		printf("PID   CMD\n%-5d snapvm-runc VMM of %s\n", (int)s.pid, s.id);
	else
		printf("PID   CMD\n");
	close_container(&s, lock);
	return 0;
}

static int set_paused(int argc, char **argv, bool pause)
{
	const char *cmd = pause ? "pause" : "resume";
	struct state s;
	enum status st;
	int lock, fd, ret = 0;

	optind = 1;
	if (one_id(argc, argv, cmd) || open_container(argv[1], &s, &lock))
		return 1;
	st = state_status(&s);
	if (st != (pause ? STATUS_RUNNING : STATUS_PAUSED)) {
		if (st == STATUS_STOPPED)
			ret = fail("container %s not running", s.id);
		else
			ret = fail("cannot %s container %s: it is %s", cmd, s.id, status_name(st));
		close_container(&s, lock);
		return ret;
	}
	/* cgroup v2's freezer when the VMM has a cgroup of its own, else
	 * SIGSTOP/SIGCONT (the VMM's vCPU stops with it). */
	if (pause)
		s.frozen = !cgroup_freeze(s.cgroup, true);
	else if (s.frozen && cgroup_freeze(s.cgroup, false))
		ret = fail("resume %s: %s/cgroup.freeze: %s", s.id, s.cgroup, strerror(errno));
	if (!ret && !s.frozen) {
		fd = vmm_pidfd(&s);
		if (fd < 0 ||
		    syscall(SYS_pidfd_send_signal, fd, pause ? SIGSTOP : SIGCONT, NULL, 0))
			ret = fail("%s %s: %s", cmd, s.id, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (!ret) {
		s.paused = pause;
		s.frozen = pause && s.frozen;
		ret = state_save(&s);
	}
	close_container(&s, lock);
	return ret;
}

int cmd_pause(int argc, char **argv)
{
	return set_paused(argc, argv, true);
}

int cmd_resume(int argc, char **argv)
{
	return set_paused(argc, argv, false);
}

/* --resources' JSON (LinuxResources): memory.limit only; any other member
 * that sets something is refused by name. */
static int update_resources(const char *file, uint64_t *limit, bool *have)
{
	json_error_t jerr;
	json_t *r =
	    !strcmp(file, "-") ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
	const char *key;
	json_t *v;
	int ret = 0;

	if (!json_is_object(r)) {
		json_decref(r);
		return fail("update: --resources %s is not a JSON object: %s", file, jerr.text);
	}
	json_object_foreach(r, key, v)
	{
		const char *k2;
		json_t *v2;

		if (json_is_null(v) || (json_is_object(v) && !json_object_size(v)) ||
		    (json_is_array(v) && !json_array_size(v)))
			continue;
		if (strcmp(key, "memory") || !json_is_object(v)) {
			ret = fail("update: only the memory limit can change: %s is not supported "
				   "by snapvm-runc",
				   key);
			break;
		}
		json_object_foreach(v, k2, v2)
		{
			if (json_is_null(v2))
				continue;
			if (strcmp(k2, "limit") || !json_is_integer(v2)) {
				ret = fail("update: only the memory limit can change: memory.%s is "
					   "not supported by snapvm-runc",
					   k2);
				break;
			}
			*limit = (uint64_t)json_integer_value(v2);
			*have = true;
		}
		if (ret)
			break;
	}
	json_decref(r);
	return ret;
}

int cmd_update(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"resources", required_argument, NULL, 'r'},
	    {"memory", required_argument, NULL, 'm'},
	    {0},
	};
	struct snapvm_error err;
	uint64_t limit = 0;
	bool have = false;
	struct state s;
	int opt, lock, ret = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+r:m:", opts, NULL)) != -1) {
		if (opt == 'r' && update_resources(optarg, &limit, &have))
			return 1;
		else if (opt == 'm' && snapvm_parse_size(optarg, &limit, &err))
			return fail("update: --memory: %s", err.message);
		else if (opt == 'm')
			have = true;
		else if (opt != 'r' && opt != 'm')
			return fail("update: %s is not supported by snapvm-runc: only the memory "
				    "limit (--memory, --resources) can change",
				    argv[optind - 1]);
	}
	if (one_id(argc, argv, "update") || open_container(argv[optind], &s, &lock))
		return 1;
	if (state_status(&s) == STATUS_STOPPED)
		ret = fail("container %s not running", s.id);
	/* The guest's own cap was fixed at create; this bounds the VMM's cgroup. */
	else if (have && s.cgroup[0] && cgroup_set_memory(s.cgroup, limit))
		ret = fail("update %s: memory limit in %s: %s", s.id, s.cgroup, strerror(errno));
	close_container(&s, lock);
	return ret;
}
