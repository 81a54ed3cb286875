// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * seccomp.c - the seccomp allowlist a VMM process runs under once its
 * sandboxes exist: the system calls of the run loop, restore, output and
 * snapshot saving, and nothing else (libseccomp, SECCOMP_RET_KILL_PROCESS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "uapi/snapvm.h"
#include "userspace/internal.h"

#define ALLOW(name)                                                                                \
	{                                                                                          \
		SCMP_SYS(name), #name                                                              \
	}

/* Allowed with any arguments, each group for the path that needs it. */
static const struct {
	int nr;
	const char *name;
} allowed[] = {
    /* Output: the guest's console and WRITE, our messages; glibc's fatal
     * messages (writev); stdio's first use of a buffered stream (fstat,
     * and TCGETS below). close: destroying a sandbox, saving a snapshot. */
    ALLOW(write),
    ALLOW(writev),
    ALLOW(fstat),
    ALLOW(newfstatat),
    ALLOW(close),
    /* Memory: malloc (brk, mremap, madvise; mmap and mprotect below),
     * unmapping a destroyed sandbox's regions. */
    ALLOW(brk),
    ALLOW(munmap),
    ALLOW(mremap),
    ALLOW(madvise),
    /* Taking a snapshot: new regions from snapvm.ko (openat of /dev/snapvm,
     * its ioctls below) or memfds (and fcntl F_ADD_SEALS below), filled
     * with pwrite. */
    ALLOW(memfd_create),
    ALLOW(ftruncate),
    ALLOW(pwrite64),
    /* Saving it: mkostemp's temporary file (openat; getrandom for its
     * name), fsync, rename over the target, unlink on failure, openat of
     * the directory for its own fsync. openat stays allowed for this and
     * for the module's regions: the filter cannot tell paths apart. */
    ALLOW(openat),
    ALLOW(getrandom),
    ALLOW(fsync),
    ALLOW(rename),
    ALLOW(unlink),
    /* Timeouts: a timer per thread whose signal kicks KVM_RUN; its handler
     * is installed by the first run with a timeout; a signal may interrupt
     * a restartable call; one that arrived while KVM_RUN ran with the
     * thread's mask lifted is taken with rt_sigtimedwait. */
    ALLOW(timer_create),
    ALLOW(timer_settime),
    ALLOW(timer_delete),
    ALLOW(rt_sigaction),
    ALLOW(rt_sigprocmask),
    ALLOW(rt_sigtimedwait),
    ALLOW(rt_sigreturn),
    ALLOW(restart_syscall),
    ALLOW(gettid),
    /* Locks (pthread_once, malloc); call deadlines read the clock, a
     * syscall when the vDSO cannot. */
    ALLOW(futex),
    ALLOW(clock_gettime),
    /* abort() (getpid, gettid, tgkill), an embedder's thread ending, the
     * process exiting. */
    ALLOW(getpid),
    ALLOW(tgkill),
    ALLOW(exit),
    ALLOW(exit_group),
};

/* ioctl types: every request of KVM (the run loop, restore, taking a
 * snapshot; new requests are covered as the backend grows) and of snapvm.ko
 * (RESTORE, SEAL, CREATE_REGION). */
static const unsigned int ioctl_types[] = {KVMIO, SNAPVM_IOCTL_MAGIC};

static int add_rule(scmp_filter_ctx ctx, int syscall, unsigned int count,
		    const struct scmp_arg_cmp *cmp, const char *what, struct snapvm_error *err)
{
	int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, syscall, count, cmp);

	if (ret < 0)
		return snapvm_fail_errno(err, EX_OSERR, -ret, "seccomp_rule_add for %s", what);
	return 0;
}

/* A gdb connection: recv and send on its socket only; poll for Ctrl-C
 * (poll's fds sit in memory, where the filter cannot look). */
static int add_debugger_rules(scmp_filter_ctx ctx, int fd, struct snapvm_error *err)
{
	const struct scmp_arg_cmp on_fd = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd);
	int ret = add_rule(ctx, SCMP_SYS(recvfrom), 1, &on_fd, "recvfrom", err);

	if (!ret)
		ret = add_rule(ctx, SCMP_SYS(sendto), 1, &on_fd, "sendto", err);
	if (!ret)
		ret = add_rule(ctx, SCMP_SYS(poll), 0, NULL, "poll", err);
	if (!ret)
		ret = add_rule(ctx, SCMP_SYS(ppoll), 0, NULL, "ppoll", err);
	return ret;
}

static int add_rules(scmp_filter_ctx ctx, struct snapvm_error *err)
{
	/* The host never executes what it maps after set-up. */
	const struct scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	/* memfd regions of a snapshot taken: sized, then sealed. */
	const struct scmp_arg_cmp add_seals = SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS);
	/* glibc's stdio asks whether stdout is a terminal. */
	const struct scmp_arg_cmp tcgets = SCMP_A1(SCMP_CMP_EQ, TCGETS);
	int ret;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		ret = add_rule(ctx, allowed[i].nr, 0, NULL, allowed[i].name, err);
		if (ret)
			return ret;
	}
	ret = add_rule(ctx, SCMP_SYS(mmap), 1, &no_exec, "mmap", err);
	if (!ret)
		ret = add_rule(ctx, SCMP_SYS(mprotect), 1, &no_exec, "mprotect", err);
	if (!ret)
		ret = add_rule(ctx, SCMP_SYS(fcntl), 1, &add_seals, "fcntl F_ADD_SEALS", err);
	if (!ret)
		ret = add_rule(ctx, SCMP_SYS(ioctl), 1, &tcgets, "ioctl TCGETS", err);
	for (size_t i = 0; !ret && i < sizeof(ioctl_types) / sizeof(ioctl_types[0]); i++) {
		/* The type byte of _IOC(dir, type, nr, size). */
		const struct scmp_arg_cmp type =
		    SCMP_A1(SCMP_CMP_MASKED_EQ, _IOC_TYPEMASK << _IOC_TYPESHIFT,
			    (scmp_datum_t)ioctl_types[i] << _IOC_TYPESHIFT);

		ret = add_rule(ctx, SCMP_SYS(ioctl), 1, &type, "ioctl type", err);
	}
	return ret;
}

static int install(int debugger_fd, struct snapvm_error *err);

int snapvm_seccomp_install(struct snapvm_error *err)
{
	return install(-1, err);
}

int snapvm_seccomp_install_fd(int fd, struct snapvm_error *err)
{
	return install(fd, err);
}

static int install(int debugger_fd, struct snapvm_error *err)
{
	scmp_filter_ctx ctx;
	int ret;

	/* Level 3: the kernel knows SECCOMP_RET_KILL_PROCESS (and TSYNC). */
	if (seccomp_api_get() < 3)
		return snapvm_fail(err, EX_UNAVAILABLE,
				   "seccomp_api_get: the kernel has no SECCOMP_RET_KILL_PROCESS");
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return snapvm_fail(err, EX_OSERR, "seccomp_init");
	/* Every thread; a foreign ABI (i386's int 0x80) dies like a stray call
	 * (x32 numbers are refused by the x86-64 filter itself). */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret < 0) {
		ret = snapvm_fail_errno(err, EX_UNAVAILABLE, -ret, "seccomp_attr_set TSYNC");
		goto out;
	}
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (ret < 0) {
		ret = snapvm_fail_errno(err, EX_OSERR, -ret, "seccomp_attr_set ACT_BADARCH");
		goto out;
	}
	ret = add_rules(ctx, err);
	if (!ret && debugger_fd >= 0)
		ret = add_debugger_rules(ctx, debugger_fd, err);
	if (ret)
		goto out;
	ret = seccomp_load(ctx);
	if (ret == -ESRCH)
		ret = snapvm_fail(err, EX_OSERR,
				  "seccomp_load: a thread runs under a seccomp filter of its own, "
				  "so TSYNC cannot apply this one to every thread");
	else if (ret < 0)
		ret = snapvm_fail_errno(err, EX_OSERR, -ret, "seccomp_load");
out:
	seccomp_release(ctx);
	return ret;
}
