// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * outcome.c - how a run stops and why a sandbox refuses to run: the
 * helpers every piece of the sandbox reports through (faults, timeouts and
 * interrupts, poisoning, reentry from a host function).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>

#include "userspace/lib/internal.h"

int snapvm_fault(struct snapvm_outcome *outcome, uint64_t rip, const char *fmt, ...)
{
	va_list ap;

	outcome->stop = SNAPVM_STOP_FAULT;
	outcome->rip = rip;
	va_start(ap, fmt);
	vsnprintf(outcome->message, sizeof(outcome->message), fmt, ap);
	va_end(ap);
	return SNAPVM_RUN_STOP;
}

/* After a failed restore the sandbox holds a mix of two requests' state:
 * it refuses to run until a restore succeeds. */
int snapvm_poisoned(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	return snapvm_fail(err, SNAPVM_STATUS_POISONED,
			   "the sandbox is unusable until it is restored: %s", sb->poison_reason);
}

/* The run was kicked (in KVM_RUN, or while output waited on its fd): by
 * snapvm_sandbox_interrupt, or because the deadline passed. */
int snapvm_timed_out(struct snapvm_sandbox *sb, struct snapvm_outcome *outcome)
{
	bool interrupted = snapvm_interrupt_take(sb);

	outcome->stop = interrupted ? SNAPVM_STOP_INTERRUPTED : SNAPVM_STOP_TIMEOUT;
	outcome->rip = snapvm_current_rip(sb);
	snprintf(outcome->message, sizeof(outcome->message), "%s at RIP 0x%llx",
		 interrupted ? "interrupted" : "timed out", (unsigned long long)outcome->rip);
	return SNAPVM_RUN_STOP;
}

/*
 * Guest memory the VMM had to touch for a hypercall (or a call's I/O area)
 * could not be made present: snapvm.ko could not charge a lazy or clone
 * page. A host error, not the guest's: the run ends with EX_OSERR naming
 * what and where, and the sandbox, stopped inside the hypercall, refuses to
 * run until a restore (as after a failed restore).
 */
int snapvm_guest_memory_failed(struct snapvm_sandbox *sb, struct snapvm_error *err,
			       const char *what, uint64_t gva, int errnum)
{
	int status = snapvm_fail_errno(
	    err, EX_OSERR, errnum,
	    "%s: cannot bring in guest memory at GVA 0x%llx (snapvm.ko could not charge the "
	    "page: check RLIMIT_MEMLOCK, its max_total_mb and the memory cgroup)",
	    what, (unsigned long long)gva);

	sb->poisoned = true;
	snprintf(sb->poison_reason, sizeof(sb->poison_reason),
		 "%s could not bring in guest memory at GVA 0x%llx", what, (unsigned long long)gva);
	return status;
}

uint64_t snapvm_current_rip(struct snapvm_sandbox *sb)
{
	struct kvm_regs *regs;

	return snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, NULL) ? 0 : regs->rip;
}

/* A handler of a host function may not run, call or restore the sandbox
 * that is calling it. */
int snapvm_reentered(const char *what, struct snapvm_error *err)
{
	return snapvm_fail(err, EX_USAGE,
			   "%s: called from a host function of the same sandbox, which is in the "
			   "middle of a run",
			   what);
}
