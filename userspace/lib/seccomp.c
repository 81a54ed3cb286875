// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * seccomp.c - the seccomp allowlist a VMM process runs under once its
 * sandboxes exist: the system calls of the run loop, restore, output and
 * snapshot saving, and nothing else (libseccomp, SECCOMP_RET_KILL_PROCESS).
 * No path-based call is allowed but creating, renaming and unlinking a file
 * relative to an output directory opened beforehand; since seccomp cannot
 * read the path, Landlock confines those calls to beneath the directories.
 * A Linux program's run adds its host calls (linux.c): stdin and --root's
 * files, terminal queries, sleep, randomness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uapi/snapvm.h"
#include "userspace/lib/internal.h"

/* Landlock's file-system rights by ABI version (older headers lack some). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

/* What the arguments of an allowed call must be. */
enum cond {
	ANY,	       /* anything */
	NO_EXEC,       /* arg 2 (prot) without PROT_EXEC */
	ADD_SEALS,     /* fcntl(fd, F_ADD_SEALS, ...) */
	IOCTL_TYPES,   /* KVM's or snapvm.ko's request type, or TCGETS */
	EMPTY_PATH,    /* fstatat(fd, "", AT_EMPTY_PATH): glibc's fstat */
	OWN_PROCESS,   /* tgkill(getpid(), ...) */
	DIR_CREATE,    /* openat(output dir, O_WRONLY | O_CREAT | O_EXCL) */
	DIR_RENAME,    /* renameat(2)(output dir, .., same dir, .., no flags) */
	DIR_UNLINK,    /* unlinkat(output dir, .., 0) */
	OUTPUT,	       /* anything, with output directories only */
	ON_DEBUGGER,   /* on the gdb connection's socket */
	POLL,	       /* anything, with a gdb connection or in a Linux run */
	LINUX,	       /* anything, in a Linux program's run only */
	LX_WINSIZE,    /* ioctl(0, 1 or 2, TIOCGWINSZ), Linux runs only */
	LX_ROOT,       /* anything, with --root only */
	LX_IN_ROOT,    /* openat2(the --root fd, ...), with --root only */
	LX_EMPTY_PATH, /* faccessat2(fd, "", mode, AT_EMPTY_PATH), --root only */
	LX_DUPFD,      /* fcntl(fd, F_DUPFD_CLOEXEC, ...), --root only */
};

#define RULE(name, cond)                                                                           \
	{                                                                                          \
		SCMP_SYS(name), #name, cond                                                        \
	}

/*
 * The whole allowlist, in the groups userspace/lib/snapvm.h and
 * docs/isolation.md list (tests/unit/seccomp_doc_test.c checks that they name
 * exactly these).
 */
static const struct rule {
	int nr;
	const char *name;
	enum cond cond;
} rules[] = {
    /* ioctl: KVM's requests (the run loop, restore, taking a snapshot; new
     * ones are covered as the backend grows), snapvm.ko's (RESTORE, SEAL,
     * CREATE_REGION), TCGETS (stdio asks whether stdout is a terminal). */
    RULE(ioctl, IOCTL_TYPES),
    /* Output: the guest's console and WRITE, our messages; glibc's fatal
     * messages (writev); stdio's first use of a stream (fstat, which some
     * glibc versions make as newfstatat on the fd). close: destroying a
     * sandbox. */
    RULE(write, ANY),
    RULE(writev, ANY),
    RULE(fstat, ANY),
    RULE(newfstatat, EMPTY_PATH),
    RULE(close, ANY),
    /* Memory: malloc (brk, mmap, mremap, madvise), unmapping a destroyed
     * sandbox's regions; the host never executes what it maps. */
    RULE(brk, ANY),
    RULE(mmap, NO_EXEC),
    RULE(mprotect, NO_EXEC),
    RULE(munmap, ANY),
    RULE(mremap, ANY),
    RULE(madvise, ANY),
    /* Taking a snapshot: new regions from snapvm.ko (its device is opened
     * before the filter, memory.c) or memfds, sized, sealed, filled. */
    RULE(memfd_create, ANY),
    RULE(ftruncate, ANY),
    RULE(fcntl, ADD_SEALS),
    RULE(pwrite64, ANY),
    /* Output files (with output directories only): NAME.tmp.XXXXXX created
     * in the directory (getrandom for its name), fsync, renamed over NAME,
     * unlinked on failure; Landlock keeps the paths beneath the directory. */
    RULE(openat, DIR_CREATE),
    RULE(renameat, DIR_RENAME),
    RULE(renameat2, DIR_RENAME),
    RULE(unlinkat, DIR_UNLINK),
    RULE(getrandom, OUTPUT),
    RULE(fsync, OUTPUT),
    /* Timeouts: a timer per thread whose signal kicks KVM_RUN; its handler
     * is installed by the first run with a timeout; a signal may interrupt
     * a restartable call; one that arrived while KVM_RUN ran with the
     * thread's mask lifted is taken with rt_sigtimedwait. */
    RULE(timer_create, ANY),
    RULE(timer_settime, ANY),
    RULE(timer_delete, ANY),
    RULE(rt_sigaction, ANY),
    RULE(rt_sigprocmask, ANY),
    RULE(rt_sigtimedwait, ANY),
    RULE(rt_sigreturn, ANY),
    RULE(restart_syscall, ANY),
    RULE(gettid, ANY),
    /* The rest: locks (pthread_once, malloc); call deadlines read the clock
     * (a syscall when the vDSO cannot); abort() (getpid, gettid, tgkill on
     * this process only); an embedder's thread ending, the process exiting. */
    RULE(futex, ANY),
    RULE(clock_gettime, ANY),
    RULE(getpid, ANY),
    RULE(tgkill, OWN_PROCESS),
    RULE(exit, ANY),
    RULE(exit_group, ANY),
    /* A gdb connection (snapvm_gdb_seccomp_install): recv and send on its
     * socket only; poll for Ctrl-C (poll's fds sit in memory, where the
     * filter cannot look). A Linux run polls too: stdin's read and sleeps
     * wait on the eventfd snapvm_linux_raise sets. */
    RULE(recvfrom, ON_DEBUGGER),
    RULE(sendto, ON_DEBUGGER),
    RULE(poll, POLL),
    RULE(ppoll, POLL),
    /* A Linux program (snapvm_linux_seccomp_install): its stdin (read);
     * TIOCGWINSZ on the launcher's stdio; AT_RANDOM and getrandom; sleeps.
     * With --root, its files: resolved by openat2 from the --root fd only
     * (the RESOLVE_IN_ROOT flags sit in memory, where the filter cannot
     * look, so Landlock also confines reads to beneath the root); then
     * read, pread64, lseek, getdents64, readlinkat and faccessat2 (on an
     * O_PATH fd of the file, "" with AT_EMPTY_PATH), dup. */
    RULE(read, LINUX),
    RULE(ioctl, LX_WINSIZE),
    RULE(getrandom, LINUX),
    RULE(nanosleep, LINUX),
    RULE(clock_nanosleep, LINUX),
    RULE(openat2, LX_IN_ROOT),
    RULE(pread64, LX_ROOT),
    RULE(lseek, LX_ROOT),
    RULE(getdents64, LX_ROOT),
    RULE(readlinkat, LX_ROOT),
    RULE(faccessat2, LX_EMPTY_PATH),
    RULE(fcntl, LX_DUPFD),
};

const char *snapvm_seccomp_rule_name(unsigned int i)
{
	return i < sizeof(rules) / sizeof(rules[0]) ? rules[i].name : NULL;
}

/* ioctl types: KVMIO and snapvm.ko's. */
static const unsigned int ioctl_types[] = {KVMIO, SNAPVM_IOCTL_MAGIC};

#define OUTPUT_OPEN_MASK (O_ACCMODE | O_CREAT | O_EXCL | O_PATH | O_TMPFILE)

struct context {
	scmp_filter_ctx ctx;
	int debugger_fd;
	bool linux_run;
	int root_fd; /* --root's directory, or -1 */
	const int *dirfds;
	unsigned int count;
	struct snapvm_error *err;
};

static int add(struct context *c, const struct rule *r, unsigned int count,
	       const struct scmp_arg_cmp *cmp)
{
	int ret = seccomp_rule_add_array(c->ctx, SCMP_ACT_ALLOW, r->nr, count, cmp);

	if (ret < 0)
		return snapvm_fail_errno(c->err, EX_OSERR, -ret, "seccomp_rule_add for %s",
					 r->name);
	return 0;
}

/* One rule per output directory: its fd in every dirfd argument. */
static int add_per_dir(struct context *c, const struct rule *r)
{
	int ret = 0;

	for (unsigned int i = 0; !ret && i < c->count; i++) {
		scmp_datum_t d = (scmp_datum_t)c->dirfds[i];
		struct scmp_arg_cmp cmp[3] = {SCMP_A0(SCMP_CMP_EQ, d)};

		if (r->cond == DIR_CREATE) {
			cmp[1] = SCMP_A2(SCMP_CMP_MASKED_EQ, OUTPUT_OPEN_MASK,
					 O_WRONLY | O_CREAT | O_EXCL);
			ret = add(c, r, 2, cmp);
		} else if (r->cond == DIR_UNLINK) {
			cmp[1] = SCMP_A2(SCMP_CMP_EQ, 0);
			ret = add(c, r, 2, cmp);
		} else if (r->nr == SCMP_SYS(renameat2)) {
			cmp[1] = SCMP_A2(SCMP_CMP_EQ, d);
			cmp[2] = SCMP_A4(SCMP_CMP_EQ, 0);
			ret = add(c, r, 3, cmp);
		} else {
			cmp[1] = SCMP_A2(SCMP_CMP_EQ, d);
			ret = add(c, r, 2, cmp);
		}
	}
	return ret;
}

static int add_rule(struct context *c, const struct rule *r)
{
	struct scmp_arg_cmp cmp;
	int ret;

	switch (r->cond) {
	case ANY:
		return add(c, r, 0, NULL);
	case NO_EXEC:
		cmp = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		return add(c, r, 1, &cmp);
	case ADD_SEALS:
		cmp = SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS);
		return add(c, r, 1, &cmp);
	case IOCTL_TYPES:
		cmp = SCMP_A1(SCMP_CMP_EQ, TCGETS);
		ret = add(c, r, 1, &cmp);
		for (size_t i = 0; !ret && i < sizeof(ioctl_types) / sizeof(ioctl_types[0]); i++) {
			/* The type byte of _IOC(dir, type, nr, size). */
			cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, _IOC_TYPEMASK << _IOC_TYPESHIFT,
				      (scmp_datum_t)ioctl_types[i] << _IOC_TYPESHIFT);
			ret = add(c, r, 1, &cmp);
		}
		return ret;
	case EMPTY_PATH:
		cmp = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
		return add(c, r, 1, &cmp);
	case OWN_PROCESS:
		/* Our own thread group only: no signal to another process. */
		cmp = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
		return add(c, r, 1, &cmp);
	case DIR_CREATE:
	case DIR_RENAME:
	case DIR_UNLINK:
		return add_per_dir(c, r);
	case OUTPUT:
		return c->count ? add(c, r, 0, NULL) : 0;
	case ON_DEBUGGER:
		if (c->debugger_fd < 0)
			return 0;
		cmp = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)c->debugger_fd);
		return add(c, r, 1, &cmp);
	case POLL:
		return c->debugger_fd >= 0 || c->linux_run ? add(c, r, 0, NULL) : 0;
	case LINUX:
		return c->linux_run ? add(c, r, 0, NULL) : 0;
	case LX_WINSIZE:
		if (!c->linux_run)
			return 0;
		{
			struct scmp_arg_cmp two[2] = {SCMP_A0(SCMP_CMP_LE, 2),
						      SCMP_A1(SCMP_CMP_EQ, TIOCGWINSZ)};

			return add(c, r, 2, two);
		}
	case LX_ROOT:
		return c->root_fd >= 0 ? add(c, r, 0, NULL) : 0;
	case LX_IN_ROOT:
		if (c->root_fd < 0)
			return 0;
		cmp = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)c->root_fd);
		return add(c, r, 1, &cmp);
	case LX_EMPTY_PATH:
		if (c->root_fd < 0)
			return 0;
		cmp = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
		return add(c, r, 1, &cmp);
	case LX_DUPFD:
		if (c->root_fd < 0)
			return 0;
		cmp = SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC);
		return add(c, r, 1, &cmp);
	}
	return snapvm_fail(c->err, EX_SOFTWARE, "seccomp: no condition %d", r->cond);
}

/* The threads of this process (Landlock confines only the calling one). */
static int thread_count(void)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nThreads:");
	return p ? atoi(p + 9) : -1;
}

/*
 * Landlock: a ruleset handling every file-system right this kernel's ABI
 * knows, and granting only creating, writing and removing regular files
 * beneath the output directories (a rename within one directory needs no
 * REFER), and reading files and directories beneath root_fd (--root; -1:
 * none). Files opened before (/dev/kvm, /dev/snapvm) keep their rights.
 */
static int landlock_confine(const int *dirfds, unsigned int count, int root_fd,
			    struct snapvm_error *err)
{
	const __u64 grant = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
			    LANDLOCK_ACCESS_FS_REMOVE_FILE;
	struct landlock_ruleset_attr attr = {0};
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int threads = thread_count();
	int ruleset, ret = 0;

	if (abi < 1)
		return snapvm_fail_errno(err, EX_UNAVAILABLE, errno,
					 "Landlock is not available, so the seccomp filter cannot "
					 "confine output files or --root to their directory (Linux "
					 "5.13 or later with landlock in its lsm= list; or "
					 "--no-seccomp)");
	if (threads != 1)
		return snapvm_fail(err, EX_SOFTWARE,
				   "Landlock confines only the calling thread, and %d threads "
				   "run: install the filter with output directories before "
				   "starting threads",
				   threads);
	attr.handled_access_fs = abi >= 5   ? (LANDLOCK_ACCESS_FS_IOCTL_DEV << 1) - 1
				 : abi >= 3 ? (LANDLOCK_ACCESS_FS_TRUNCATE << 1) - 1
				 : abi >= 2 ? (LANDLOCK_ACCESS_FS_REFER << 1) - 1
					    : LANDLOCK_ACCESS_FS_REFER - 1;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "landlock_create_ruleset");
	for (unsigned int i = 0; !ret && i < count; i++) {
		struct landlock_path_beneath_attr beneath = {
		    .allowed_access = grant,
		    .parent_fd = dirfds[i],
		};

		if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath,
			    0))
			ret = snapvm_fail_errno(err, EX_OSERR, errno,
						"landlock_add_rule for output directory fd %d",
						dirfds[i]);
	}
	if (!ret && root_fd >= 0) {
		struct landlock_path_beneath_attr beneath = {
		    .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
		    .parent_fd = root_fd,
		};

		if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath,
			    0))
			ret = snapvm_fail_errno(err, EX_OSERR, errno,
						"landlock_add_rule for the --root fd %d", root_fd);
	}
	if (!ret && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		ret = snapvm_fail_errno(err, EX_OSERR, errno, "prctl PR_SET_NO_NEW_PRIVS");
	if (!ret && syscall(SYS_landlock_restrict_self, ruleset, 0))
		ret = snapvm_fail_errno(err, EX_OSERR, errno, "landlock_restrict_self");
	close(ruleset);
	return ret;
}

/* The filter; linux_run adds a Linux program's host calls, root_fd >= 0
 * its --root's. */
static int install(int debugger_fd, bool linux_run, int root_fd, const int *dirfds,
		   unsigned int count, struct snapvm_error *err)
{
	struct context c = {.debugger_fd = debugger_fd,
			    .linux_run = linux_run,
			    .root_fd = root_fd,
			    .dirfds = dirfds,
			    .count = count,
			    .err = err};
	int ret = 0;

	for (unsigned int i = 0; i < count; i++)
		if (dirfds[i] < 0 || fcntl(dirfds[i], F_GETFD) < 0)
			return snapvm_fail_errno(err, EX_USAGE, EBADF,
						 "seccomp: output directory fd %d", dirfds[i]);
	/* Level 3: the kernel knows SECCOMP_RET_KILL_PROCESS (and TSYNC). */
	if (seccomp_api_get() < 3)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "seccomp_api_get: the kernel has no SECCOMP_RET_KILL_PROCESS");
	/* The module's device, for regions made under the filter (no openat). */
	snapvm_module_preopen();
	c.ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!c.ctx)
		return snapvm_fail(err, EX_OSERR, "seccomp_init");
	/* Every thread; a foreign ABI (i386's int 0x80) dies like a stray call
	 * (x32 numbers are refused by the x86-64 filter itself). */
	ret = seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret < 0) {
		ret = snapvm_fail_errno(err, EX_UNAVAILABLE, -ret, "seccomp_attr_set TSYNC");
		goto out;
	}
	ret = seccomp_attr_set(c.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (ret < 0) {
		ret = snapvm_fail_errno(err, EX_OSERR, -ret, "seccomp_attr_set ACT_BADARCH");
		goto out;
	}
	for (size_t i = 0; !ret && i < sizeof(rules) / sizeof(rules[0]); i++)
		ret = add_rule(&c, &rules[i]);
	/* Without Landlock the paths of openat and renameat would be free:
	 * then no output directory at all (fail closed), never a filter that
	 * lets them through. */
	if (!ret && (count || root_fd >= 0))
		ret = landlock_confine(dirfds, count, root_fd, err);
	if (ret)
		goto out;
	ret = seccomp_load(c.ctx);
	if (ret == -ESRCH)
		ret = snapvm_fail(err, EX_OSERR,
				  "seccomp_load: a thread runs under a seccomp filter of its own, "
				  "so TSYNC cannot apply this one to every thread");
	else if (ret < 0)
		ret = snapvm_fail_errno(err, EX_OSERR, -ret, "seccomp_load");
out:
	seccomp_release(c.ctx);
	return ret;
}

int snapvm_seccomp_install_fd(int debugger_fd, const int *dirfds, unsigned int count,
			      struct snapvm_error *err)
{
	return install(debugger_fd, false, -1, dirfds, count, err);
}

int snapvm_linux_seccomp_install(struct snapvm_linux *linux_state, const int *dirfds,
				 unsigned int count, struct snapvm_error *err)
{
	if (!linux_state)
		return snapvm_fail(err, EX_USAGE, "seccomp: no Linux program state");
	return install(-1, true, snapvm_linux_root_fd(linux_state), dirfds, count, err);
}

int snapvm_seccomp_install(struct snapvm_error *err)
{
	return snapvm_seccomp_install_fd(-1, NULL, 0, err);
}

int snapvm_seccomp_install_dirs(const int *dirfds, unsigned int count, struct snapvm_error *err)
{
	return snapvm_seccomp_install_fd(-1, dirfds, count, err);
}
