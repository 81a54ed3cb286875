// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * vmm.c - the container's one host process: stdio, cgroup, the sandbox
 * loaded from process.args[0], then Firecracker's jailer steps (own mount,
 * network, IPC and UTS namespaces, an empty root, no capabilities,
 * no_new_privs, seccomp), "ready" to create, a wait for start on
 * exec.fifo, and the run. Its exit status is the container's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sysexits.h>
#include <unistd.h>

#include "userspace/runc/runc.h"

/* The fds the VMM keeps from create: its pipe back, and the program. */
#define READY_FD   3
#define PROGRAM_FD 4

struct vmm {
	struct vmm_args *a;
	struct snapvm_linux *lx;
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb;
	char cgroup[4096];
	int fifo_fd;
};

static struct vmm *volatile running; /* set once the guest may get signals */

/* Tell create why, and go: create removes the state and logs it. */
static void __attribute__((noreturn, format(printf, 1, 2))) vmm_fail(const char *fmt, ...)
{
	char msg[1600];
	va_list ap;
	int n;

	msg[0] = 'E';
	va_start(ap, fmt);
	n = vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	if (write(READY_FD, msg, (size_t)n + 1) < 0)
		_exit(1);
	_exit(1);
}

/* SIGTERM, SIGINT, SIGHUP: the guest's before start too (it then never
 * runs: as a Linux process without a handler, it ends with 128+N). */
static void on_signal(int signo)
{
	struct vmm *v = running;

	if (!v)
		_exit(128 + signo);
	vmm_raise(v->lx, v->sb, signo);
}

/* fds 0/1/2 stay (or become the console's), the pipe and the program move
 * to 3 and 4, everything else inherited (the shim's sockets) is closed. */
static void setup_fds(struct vmm_args *a)
{
	int ready = fcntl(a->ready_fd, F_DUPFD_CLOEXEC, 10);
	int prog = fcntl(a->b->program_fd, F_DUPFD_CLOEXEC, 10);

	if (ready < 0 || prog < 0 || dup3(ready, READY_FD, O_CLOEXEC) < 0 ||
	    dup3(prog, PROGRAM_FD, O_CLOEXEC) < 0)
		_exit(1);
	syscall(SYS_close_range, PROGRAM_FD + 1, ~0U, 0);
	a->ready_fd = READY_FD;
	a->b->program_fd = PROGRAM_FD;
}

static void load(struct vmm *v)
{
	struct bundle *b = v->a->b;
	struct snapvm_linux_options lo = {
	    .argv = (const char *const *)b->argv,
	    .envp = (const char *const *)b->envp,
	    .max_memory = b->max_memory,
	    .root = b->root,
	    .cwd = b->cwd,
	    .hostname = b->hostname,
	    .snapshot_at = b->kind == PROGRAM_LINUX ? b->snapshot_at : 0,
	};
	struct snapvm_snapshot_options so = {.max_memory = b->max_memory};
	struct snapvm_error err;
	char path[32];
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", PROGRAM_FD);

	switch (b->kind) {
	case PROGRAM_LINUX:
		ret = snapvm_linux_create(path, &lo, &v->lx, &err);
		if (!ret)
			ret = snapvm_linux_snapshot(v->lx, SNAPVM_MEMORY_AUTO, &v->snap, &err);
		break;
	case PROGRAM_SNAPSHOT:
		ret = snapvm_snapshot_load(path, b->max_memory ? &so : NULL, &v->snap, &err);
		if (!ret && snapvm_snapshot_is_linux(v->snap))
			ret = snapvm_linux_create(NULL, &lo, &v->lx, &err);
		break;
	default:
		ret = snapvm_snapshot_from_elf(path, b->max_memory ? &so : NULL, &v->snap, &err);
		break;
	}
	if (!ret)
		ret = snapvm_sandbox_create(v->snap, NULL, &v->sb, &err);
	if (!ret && v->lx)
		ret = snapvm_linux_attach(v->lx, v->sb, &err);
	if (ret)
		vmm_fail("%s: %s", b->program, err.message);
	snapvm_snapshot_put(v->snap);
	v->snap = NULL;
	close(PROGRAM_FD);
}

/* Nothing of the host left to reach: private namespaces, an empty
 * read-only tmpfs as /, no capabilities, no_new_privs, seccomp. */
static void jail(struct vmm *v)
{
	struct vmm_args *a = v->a;
	struct bundle *b = a->b;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct caps[2] = {{0}};
	struct snapvm_error err;
	gid_t gids[64];

	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS))
		vmm_fail("jailer: unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		vmm_fail("jailer: making / private: %s", strerror(errno));
	if (mount("tmpfs", a->jail, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555"))
		vmm_fail("jailer: tmpfs on %s: %s", a->jail, strerror(errno));
	if (chdir(a->jail))
		vmm_fail("jailer: chdir %s: %s", a->jail, strerror(errno));
	/* The seccomp installer reads /proc/self/status (Landlock needs this
	 * to be the only thread): the VMM's own file, bound alone, no procfs. */
	if (mkdir("proc", 0555) || mkdir("proc/self", 0555) ||
	    close(open("proc/self/status", O_WRONLY | O_CREAT | O_CLOEXEC, 0444)) ||
	    mount("/proc/self/status", "proc/self/status", NULL, MS_BIND, NULL))
		vmm_fail("jailer: /proc/self/status in %s: %s", a->jail, strerror(errno));
	/* runc's way: the old root is stacked under the new one, then detached. */
	if (!syscall(SYS_pivot_root, ".", ".")) {
		if (umount2(".", MNT_DETACH))
			vmm_fail("jailer: detaching the old root: %s", strerror(errno));
	} else if (!a->no_pivot || chroot(".")) {
		vmm_fail("jailer: %s %s: %s", a->no_pivot ? "chroot" : "pivot_root", a->jail,
			 strerror(errno));
	}
	if (chdir("/") ||
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		vmm_fail("jailer: read-only empty root: %s", strerror(errno));
	if (b->hostname && sethostname(b->hostname, strlen(b->hostname)))
		vmm_fail("jailer: hostname %s: %s", b->hostname, strerror(errno));
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno == EINVAL)
			break; /* past the kernel's last capability */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		vmm_fail("jailer: clearing ambient capabilities: %s", strerror(errno));
	if (b->ngids > sizeof(gids) / sizeof(gids[0]))
		vmm_fail("process.user.additionalGids: more than %zu",
			 sizeof(gids) / sizeof(gids[0]));
	for (unsigned int i = 0; i < b->ngids; i++)
		gids[i] = b->gids[i];
	if (setgroups(b->ngids, gids) || setresgid(b->gid, b->gid, b->gid) ||
	    setresuid(b->uid, b->uid, b->uid))
		vmm_fail("process.user %u:%u: %s", b->uid, b->gid, strerror(errno));
	if (syscall(SYS_capset, &hdr, caps))
		vmm_fail("jailer: capset: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		vmm_fail("jailer: no_new_privs: %s", strerror(errno));
	/* A Linux program's filter allows the read of exec.fifo that waits for
	 * start; a guest ELF's, which allows no read, comes after that wait. */
	if (v->lx && snapvm_linux_seccomp_install(v->lx, NULL, 0, &err))
		vmm_fail("jailer: seccomp: %s", err.message);
}

/* How the guest stopped, on the container's stderr. */
static void report(const struct vmm *v, const struct snapvm_outcome *o)
{
	const char *what = v->a->b->program;

	if (o->stop == SNAPVM_STOP_ABORT)
		fprintf(stderr, RUNC_NAME ": %s: aborted: %s\n", what, o->message);
	else if (o->stop == SNAPVM_STOP_FAULT)
		fprintf(stderr, RUNC_NAME ": %s: %s\n", what, o->message);
	else if (o->stop == SNAPVM_STOP_TIMEOUT)
		fprintf(stderr, RUNC_NAME ": %s: io.snapvm.timeout ran out at RIP 0x%llx\n", what,
			(unsigned long long)o->rip);
}

/* Run until the guest ends; stop_at_snapshot: until its SNAPSHOT stop. */
static int run(struct vmm *v, bool stop_at_snapshot, struct snapvm_outcome *o)
{
	struct snapvm_error err;

	for (;;) {
		if (snapvm_sandbox_run(v->sb, v->a->b->timeout_ms, o, &err)) {
			fprintf(stderr, RUNC_NAME ": %s: %s\n", v->a->b->program, err.message);
			return err.status;
		}
		if (o->stop != SNAPVM_STOP_SNAPSHOT || stop_at_snapshot)
			return 0;
	}
}

void vmm_main(struct vmm_args *a)
{
	struct vmm v = {.a = a, .fifo_fd = -1};
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	struct snapvm_outcome o = {0};
	struct snapvm_error err;
	bool ended = false;
	sigset_t none;
	int status;
	char why[512];
	ssize_t n;
	char c;

	setup_fds(a);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is the guest's EPIPE */
	if (a->console_socket && console_setup(a->console_socket, why, sizeof(why)))
		vmm_fail("--console-socket %s: %s", a->console_socket, why);
	if (cgroup_join(a->b->cgroups_path, getpid(), v.cgroup, sizeof(v.cgroup), why, sizeof(why)))
		vmm_fail("linux.cgroupsPath %s: %s", a->b->cgroups_path, why);
	/* O_RDWR: a FIFO opened so never sees EOF, so read() blocks until
	 * start writes; start's O_WRONLY | O_NONBLOCK open fails once we die. */
	v.fifo_fd = open(a->fifo, O_RDWR | O_CLOEXEC);
	if (v.fifo_fd < 0)
		vmm_fail("%s: %s", a->fifo, strerror(errno));
	load(&v);
	jail(&v);
	/* io.snapvm.snapshot-at: the program's start-up runs now, in create,
	 * up to its snapshot point; start resumes it there. */
	if (a->b->snapshot_at && v.lx) {
		if (run(&v, true, &o))
			vmm_fail("%s: its start-up failed", a->b->program);
		ended = o.stop != SNAPVM_STOP_SNAPSHOT;
	}
	if (dprintf(READY_FD, "R%s", v.cgroup) < 0)
		_exit(1);
	close(READY_FD);
	do
		n = read(v.fifo_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(v.fifo_fd);
	if (!v.lx && snapvm_seccomp_install(&err)) {
		fprintf(stderr, RUNC_NAME ": %s: seccomp: %s\n", a->b->program, err.message);
		_exit(err.status);
	}
	running = &v;
	status = ended ? 0 : run(&v, false, &o);
	if (status)
		_exit(status);
	report(&v, &o);
	_exit(snapvm_outcome_exit_status(&o));
}

/* SIGTERM, SIGINT, SIGHUP for the guest: a Linux program's handler runs,
 * or its run ends with 128+N; a snapvm guest ELF has no signals and ends
 * at once, as such a process without a handler would. */
void vmm_raise(struct snapvm_linux *lx, struct snapvm_sandbox *sb, int signo)
{
	(void)sb;
	if (!lx)
		_exit(128 + signo);
	snapvm_linux_raise(lx, signo);
}
