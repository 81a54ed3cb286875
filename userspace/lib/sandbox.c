// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sandbox.c - the generic sandbox: create one from a snapshot (VM, vCPU,
 * scratch, view), run it (the exit loop, the console, the hypercall table
 * and host functions; deadline.c stops it on time), call its functions,
 * restore it, and take it apart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/internal.h"

/* ---- output ---- */

/*
 * All of buf to the output fd; 0, SNAPVM_OUTPUT_TIMED_OUT, or a status. A write
 * blocked on a full pipe is interrupted by the run's timer signal (installed
 * without SA_RESTART, and re-sent until the run ends), so output can never
 * hold a run past its deadline. EPIPE is a host error like any other: the
 * launcher ignores SIGPIPE, and so must an embedder whose guests write to
 * pipes.
 */
int snapvm_console_output(struct snapvm_sandbox *sb, const void *buf, size_t len,
			  struct snapvm_error *err)
{
	const unsigned char *p = buf;
	sigset_t saved;
	bool unblocked = snapvm_deadline_unblock(true, &saved);
	int ret = 0;

	while (len) {
		ssize_t n;

		if (sb->vcpu.kicked) {
			ret = SNAPVM_OUTPUT_TIMED_OUT;
			break;
		}
		n = write(sb->output_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = snapvm_fail_errno(err, EX_IOERR, n < 0 ? errno : EIO,
						"writing guest output to fd %d", sb->output_fd);
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (unblocked)
		snapvm_deadline_unblock(false, &saved);
	return ret;
}

int snapvm_console_flush(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	int ret = snapvm_console_output(sb, sb->console, sb->console_len, err);

	sb->console_len = 0;
	return ret;
}

/* Console bytes are kept until a newline (or a full buffer, or any stop),
 * so a guest printing byte by byte costs one write(2) per line. */
int snapvm_console_put(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
		       struct snapvm_error *err)
{
	for (uint32_t i = 0; i < exit->io.count; i++) {
		char c = (char)exit->io.data[(size_t)i * exit->io.size];

		sb->console[sb->console_len++] = c;
		if (c == '\n' || sb->console_len == sizeof(sb->console)) {
			int ret = snapvm_console_flush(sb, err);

			if (ret)
				return ret;
		}
	}
	return 0;
}

/* ---- hypercalls ---- */

struct hypercall {
	const struct snapvm_arch *arch;
	uint64_t nr, arg[4];
	uint64_t result;
	uint64_t rip;
};

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

/* Sign-extend from the guest's register width (EXIT(-1) is -1 in i686). */
static int64_t guest_signed(const struct hypercall *hc, uint64_t value)
{
	return hc->arch->arg_mask == 0xffffffffULL ? (int64_t)(int32_t)value : (int64_t)value;
}

static int hc_exit(struct snapvm_sandbox *sb, struct hypercall *hc, struct snapvm_outcome *outcome,
		   struct snapvm_error *err)
{
	outcome->stop = SNAPVM_STOP_EXIT;
	outcome->code = guest_signed(hc, hc->arg[0]);
	outcome->rip = hc->rip;
	return SNAPVM_RUN_STOP;
}

/* WRITE's visit: the console's line first, then the guest's bytes. */
struct write_ctx {
	struct snapvm_sandbox *sb;
	struct snapvm_error *err;
	bool flushed;
};

/* What write_piece returns when the run's deadline passed (not a status). */
#define WRITE_TIMED_OUT INT_MAX

static int write_piece(void *ctx, const void *host, uint64_t len)
{
	struct write_ctx *w = ctx;
	int ret;

	if (!w->flushed) {
		ret = snapvm_console_flush(w->sb, w->err);
		if (ret)
			return ret == SNAPVM_OUTPUT_TIMED_OUT ? WRITE_TIMED_OUT : ret;
		w->flushed = true;
	}
	ret = snapvm_console_output(w->sb, host, len, w->err);
	return ret == SNAPVM_OUTPUT_TIMED_OUT ? WRITE_TIMED_OUT : ret;
}

static int hc_write(struct snapvm_sandbox *sb, struct hypercall *hc, struct snapvm_outcome *outcome,
		    struct snapvm_error *err)
{
	struct write_ctx ctx = {.sb = sb, .err = err};
	struct snapvm_paging paging;
	uint64_t len = hc->arg[1];
	int ret, errnum;

	if (len > SNAPVM_WRITE_MAX) {
		hc->result = (uint64_t)-SNAPVM_EINVAL;
		return SNAPVM_RUN_ON;
	}
	ret = snapvm_kvm_vcpu_paging(&sb->vcpu, &paging, err);
	if (ret)
		return -ret;
	/* All or nothing: -EFAULT before any byte when one is not mapped. */
	ret = snapvm_guest_range_visit(&sb->memory, &paging, hc->arg[0], len, write_piece, &ctx,
				       &errnum);
	if (ret < 0 && errnum)
		return -snapvm_guest_memory_failed(sb, err, "WRITE", hc->arg[0], errnum);
	if (ret < 0) {
		hc->result = (uint64_t)-SNAPVM_EFAULT;
		return SNAPVM_RUN_ON;
	}
	if (ret == WRITE_TIMED_OUT)
		return snapvm_timed_out(sb, outcome);
	if (ret)
		return -ret;
	hc->result = len;
	return SNAPVM_RUN_ON;
}

static int hc_abort(struct snapvm_sandbox *sb, struct hypercall *hc, struct snapvm_outcome *outcome,
		    struct snapvm_error *err)
{
	struct snapvm_paging paging;
	uint64_t gva = hc->arg[1];
	int ret, errnum;

	outcome->stop = SNAPVM_STOP_ABORT;
	outcome->code = guest_signed(hc, hc->arg[0]);
	outcome->rip = hc->rip;
	sb->abort_frame = hc->arg[2];
	ret = snapvm_kvm_vcpu_paging(&sb->vcpu, &paging, err);
	if (ret)
		return -ret;
	ret = (int)snapvm_guest_read_string(&sb->memory, &paging, gva, outcome->message,
					    SNAPVM_ABORT_MSG_MAX, &errnum);
	if (errnum)
		return -snapvm_guest_memory_failed(sb, err, "ABORT's message", gva, errnum);
	if (ret < 0)
		snprintf(outcome->message, sizeof(outcome->message),
			 "(no message: GVA 0x%llx is not mapped)", (unsigned long long)gva);
	return SNAPVM_RUN_STOP;
}

/* The vCPU stops at the `out` with the I/O pending; the state a restore
 * resumes from is the one after it, with RAX = 1, while this sandbox goes
 * on with RAX = 0 when it runs again. */
static int hc_snapshot(struct snapvm_sandbox *sb, struct hypercall *hc,
		       struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	struct kvm_regs *regs;
	int ret;

	if (!sb->taken) {
		sb->taken = malloc(sizeof(*sb->taken));
		if (!sb->taken)
			return -snapvm_fail(err, EX_OSERR, "out of memory for a vCPU state");
	}
	ret = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);
	if (ret)
		return -ret;
	regs->rax = 1;
	snapvm_kvm_vcpu_regs_changed(&sb->vcpu);
	ret = snapvm_kvm_vcpu_complete_io(&sb->vcpu, err);
	if (!ret)
		ret = snapvm_kvm_vcpu_get_state(&sb->vcpu, sb->taken, err);
	if (!ret)
		ret = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);
	if (ret)
		return -ret;
	regs->rax = 0;
	snapvm_kvm_vcpu_regs_changed(&sb->vcpu);
	outcome->stop = SNAPVM_STOP_SNAPSHOT;
	outcome->rip = sb->taken->regs.rip;
	sb->at_snapshot = true;
	return SNAPVM_RUN_STOP;
}

static int hc_call_wait(struct snapvm_sandbox *sb, struct hypercall *hc,
			struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	struct kvm_regs *regs;
	int ret = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);

	if (ret)
		return -ret;
	regs->rax = 0;
	snapvm_kvm_vcpu_regs_changed(&sb->vcpu);
	outcome->stop = SNAPVM_STOP_CALL_WAIT;
	outcome->code = (int64_t)hc->arg[0];
	outcome->rip = hc->rip;
	sb->at_call_wait = true;
	return SNAPVM_RUN_STOP;
}

/* ---- host functions ---- */

static struct snapvm_host_binding *find_host_function(struct snapvm_sandbox *sb, uint32_t number)
{
	for (unsigned int i = 0; i < sb->nhost_functions; i++)
		if (sb->host_functions[i].number == number)
			return &sb->host_functions[i];
	return NULL;
}

int snapvm_sandbox_set_host_function(struct snapvm_sandbox *sb, uint32_t number,
				     snapvm_host_function fn, void *ctx, struct snapvm_error *err)
{
	struct snapvm_host_binding *binding = find_host_function(sb, number), *grown;

	if (binding && !fn) {
		*binding = sb->host_functions[--sb->nhost_functions];
		return 0;
	}
	if (binding) {
		binding->fn = fn;
		binding->ctx = ctx;
		return 0;
	}
	if (!fn)
		return 0;
	grown = realloc(sb->host_functions, (sb->nhost_functions + 1) * sizeof(*grown));
	if (!grown)
		return snapvm_fail(err, EX_OSERR, "out of memory for host function %u", number);
	sb->host_functions = grown;
	sb->host_functions[sb->nhost_functions++] =
	    (struct snapvm_host_binding){.number = number, .fn = fn, .ctx = ctx};
	return 0;
}

/* The next piece of a range the VMM is to write, or NULL where the host
 * may not (the amd64 snapshot view is read-only, and so is its mapping).
 * With mark, the page joins the restore's pending set: KVM's dirty log does
 * not see the VMM's own writes. */
static void *writable_next(struct snapvm_sandbox *sb, struct snapvm_guest_range *r, uint64_t *chunk,
			   bool mark)
{
	uint64_t gpa, contiguous, page, *pending;
	const struct snapvm_guest_slot *slot;
	void *host;

	if (r->done == r->len ||
	    snapvm_gva_to_gpa(&sb->memory, r->paging, r->gva + r->done, &gpa, &contiguous))
		return NULL;
	slot = &sb->memory.slots[SNAPVM_SLOT_SCRATCH];
	if (gpa >= slot->gpa && gpa - slot->gpa < slot->size) {
		pending = sb->scratch_dirty;
	} else {
		slot = &sb->memory.slots[SNAPVM_SLOT_SNAPSHOT];
		if (!sb->view_private || gpa < slot->gpa || gpa - slot->gpa >= slot->size)
			return NULL;
		pending = sb->view_dirty;
	}
	r->write = true;
	host = (void *)snapvm_guest_range_next(r, chunk);
	if (host && mark) {
		page = (gpa - slot->gpa) / SNAPVM_PAGE;
		pending[page / 64] |= 1ULL << (page % 64);
	}
	return host;
}

/* HOST_CALL(function, in_gva, in_len, out_gva; out_cap in EBP/RBP). */
static int hc_host_call(struct snapvm_sandbox *sb, struct hypercall *hc,
			struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	struct snapvm_host_binding *binding = find_host_function(sb, (uint32_t)hc->arg[0]);
	struct snapvm_paging paging;
	struct snapvm_guest_range in = {
	    .mem = &sb->memory, .paging = &paging, .gva = hc->arg[1], .len = hc->arg[2]};
	struct snapvm_guest_range out = {.mem = &sb->memory, .paging = &paging, .gva = hc->arg[3]};
	const unsigned char *from;
	unsigned char *p;
	struct kvm_regs *regs;
	uint64_t chunk, copied;
	int64_t n;
	int ret;

	ret = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);
	if (ret)
		return -ret;
	out.len = regs->rbp & hc->arch->arg_mask;
	if (!binding || hc->arg[0] > UINT32_MAX) {
		hc->result = (uint64_t)-SNAPVM_ENOSYS;
		return SNAPVM_RUN_ON;
	}
	if (in.len > SNAPVM_HOST_CALL_MAX || out.len > SNAPVM_HOST_CALL_MAX) {
		hc->result = (uint64_t)-SNAPVM_EINVAL;
		return SNAPVM_RUN_ON;
	}
	ret = snapvm_kvm_vcpu_paging(&sb->vcpu, &paging, err);
	if (ret)
		return -ret;
	if (!sb->host_in) {
		sb->host_in = malloc(SNAPVM_HOST_CALL_MAX);
		sb->host_out = malloc(SNAPVM_HOST_CALL_MAX);
		if (!sb->host_in || !sb->host_out)
			return -snapvm_fail(err, EX_OSERR, "out of memory for host-call buffers");
	}
	/* Both buffers whole before the host function runs: the input is
	 * mapped, the output mapped where the host may write it. */
	for (copied = 0; (from = snapvm_guest_range_next(&in, &chunk)); copied += chunk)
		memcpy(sb->host_in + copied, from, chunk);
	while (writable_next(sb, &out, &chunk, false))
		;
	if (in.error)
		return -snapvm_guest_memory_failed(sb, err, "HOST_CALL's input", in.gva + in.done,
						   in.error);
	if (out.error)
		return -snapvm_guest_memory_failed(sb, err, "HOST_CALL's output",
						   out.gva + out.done, out.error);
	if (in.done != in.len || out.done != out.len) {
		hc->result = (uint64_t)-SNAPVM_EFAULT;
		return SNAPVM_RUN_ON;
	}
	/* A handler that claims more than it wrote must not hand the guest an
	 * earlier call's bytes (another request's, perhaps). */
	memset(sb->host_out, 0, out.len);
	sb->in_host_call = true;
	n = binding->fn(binding->ctx, sb, sb->host_in, in.len, sb->host_out, out.len);
	sb->in_host_call = false;
	if (n > (int64_t)out.len)
		n = -SNAPVM_EINVAL; /* the host function claims more than it had room for */
	out.done = 0;
	out.len = n > 0 ? (uint64_t)n : 0;
	/* Made present and writable above, before the host function ran. */
	for (copied = 0; (p = writable_next(sb, &out, &chunk, true)); copied += chunk)
		memcpy(p, sb->host_out + copied, chunk);
	if (out.error)
		return -snapvm_guest_memory_failed(sb, err, "HOST_CALL's output",
						   out.gva + out.done, out.error);
	hc->result = (uint64_t)n;
	return SNAPVM_RUN_ON;
}

typedef int hypercall_fn(struct snapvm_sandbox *sb, struct hypercall *hc,
			 struct snapvm_outcome *outcome, struct snapvm_error *err);

/* Indexed by number (layout/abi.h). A NULL handler is a known hypercall
 * this sandbox does not offer. */
static const struct {
	const char *name;
	hypercall_fn *fn;
} hypercalls[] = {
    [SNAPVM_HC_EXIT] = {"EXIT", hc_exit},
    [SNAPVM_HC_WRITE] = {"WRITE", hc_write},
    [SNAPVM_HC_SNAPSHOT] = {"SNAPSHOT", hc_snapshot},
    [SNAPVM_HC_ABORT] = {"ABORT", hc_abort},
    [SNAPVM_HC_CALL_WAIT] = {"CALL_WAIT", hc_call_wait},
    [SNAPVM_HC_HOST_CALL] = {"HOST_CALL", hc_host_call},
};

int snapvm_handle_hypercall(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
			    struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	const struct snapvm_arch *arch = sb->snapshot->arch;
	struct hypercall hc = {.arch = arch};
	struct kvm_regs *regs;
	uint32_t eax;
	int ret;

	ret = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);
	if (ret)
		return -ret;
	hc.rip = regs->rip;
	if (!exit->io.out || exit->io.size != 4 || exit->io.count != 1)
		return snapvm_fault(
		    outcome, hc.rip,
		    "malformed hypercall: %s of %u x %u bytes on port 0x%x at RIP 0x%llx "
		    "(want `out %%eax, %%dx`)",
		    exit->io.out ? "out" : "in", exit->io.count, exit->io.size, exit->io.port,
		    (unsigned long long)hc.rip);
	/* The number is what `out %eax` sent, whatever RAX's upper half holds. */
	memcpy(&eax, exit->io.data, sizeof(eax));
	hc.nr = eax;
	hc.arg[0] = regs->rbx & arch->arg_mask;
	hc.arg[1] = regs->rcx & arch->arg_mask;
	hc.arg[2] = regs->rsi & arch->arg_mask;
	hc.arg[3] = regs->rdi & arch->arg_mask;
	if (hc.nr >= sizeof(hypercalls) / sizeof(hypercalls[0]) || !hypercalls[hc.nr].name)
		return snapvm_fault(outcome, hc.rip, "unknown hypercall %llu at RIP 0x%llx",
				    (unsigned long long)hc.nr, (unsigned long long)hc.rip);
	if (!hypercalls[hc.nr].fn)
		return snapvm_fault(
		    outcome, hc.rip,
		    "hypercall %llu (%s) at RIP 0x%llx is not supported by this sandbox",
		    (unsigned long long)hc.nr, hypercalls[hc.nr].name, (unsigned long long)hc.rip);
	ret = hypercalls[hc.nr].fn(sb, &hc, outcome, err);
	if (ret == SNAPVM_RUN_ON) {
		/* Re-read: the handler may have issued ioctls in between. */
		int r = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);

		if (r)
			return -r;
		regs->rax = hc.result & arch->arg_mask;
		snapvm_kvm_vcpu_regs_changed(&sb->vcpu);
	}
	return ret;
}

/* ---- the exit loop ---- */

uint64_t snapvm_current_rip(struct snapvm_sandbox *sb)
{
	struct kvm_regs *regs;

	return snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, NULL) ? 0 : regs->rip;
}

static int handle_mmio(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
		       struct snapvm_outcome *outcome)
{
	const struct snapvm_snapshot *snap = sb->snapshot;
	uint64_t rip = snapvm_current_rip(sb);
	uint64_t gpa = exit->mmio.gpa;

	if (exit->mmio.write && gpa >= snap->gpa && gpa - snap->gpa < snap->size)
		return snapvm_fault(outcome, rip,
				    "write of %u bytes to the read-only snapshot at GPA 0x%llx "
				    "(KVM_EXIT_MMIO) at RIP 0x%llx",
				    exit->mmio.len, (unsigned long long)gpa,
				    (unsigned long long)rip);
	return snapvm_fault(outcome, rip,
			    "stray MMIO %s of %u bytes at GPA 0x%llx, where no memory is "
			    "(KVM_EXIT_MMIO) at RIP 0x%llx",
			    exit->mmio.write ? "write" : "read", exit->mmio.len,
			    (unsigned long long)gpa, (unsigned long long)rip);
}

static int handle_exit(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
		       struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	uint64_t rip;

	switch (exit->kind) {
	case SNAPVM_EXIT_IO:
		if (exit->io.port == SNAPVM_PORT_CONSOLE && exit->io.out) {
			int ret = snapvm_console_put(sb, exit, err);

			if (ret == SNAPVM_OUTPUT_TIMED_OUT)
				return snapvm_timed_out(sb, outcome);
			return ret ? -ret : SNAPVM_RUN_ON;
		}
		if (exit->io.port == SNAPVM_PORT_HYPERCALL)
			return snapvm_handle_hypercall(sb, exit, outcome, err);
		rip = snapvm_current_rip(sb);
		return snapvm_fault(
		    outcome, rip,
		    "unhandled I/O: %s of %u bytes on port 0x%x (KVM_EXIT_IO) at RIP "
		    "0x%llx",
		    exit->io.out ? "out" : "in", exit->io.size, exit->io.port,
		    (unsigned long long)rip);
	case SNAPVM_EXIT_MMIO:
		return handle_mmio(sb, exit, outcome);
	case SNAPVM_EXIT_SHUTDOWN:
		/* SVM's shutdown intercept leaves the VMCB undefined, and KVM
		 * resets the vCPU: its RIP would be the reset vector. */
		if (snapvm_kvm_cpu_is_amd())
			return snapvm_fault(
			    outcome, 0,
			    "guest shut down (triple fault, KVM_EXIT_SHUTDOWN); RIP "
			    "unknown: AMD CPUs reset the vCPU on shutdown");
		rip = snapvm_current_rip(sb);
		return snapvm_fault(
		    outcome, rip, "guest shut down (triple fault, KVM_EXIT_SHUTDOWN) at RIP 0x%llx",
		    (unsigned long long)rip);
	case SNAPVM_EXIT_KICKED:
		return snapvm_timed_out(sb, outcome);
	case SNAPVM_EXIT_SIGNAL:
		/* The kick signal, if it is what stopped KVM_RUN; else someone
		 * else's signal, and the guest runs on. */
		snapvm_deadline_take_pending();
		return sb->vcpu.kicked ? snapvm_timed_out(sb, outcome) : SNAPVM_RUN_ON;
	case SNAPVM_EXIT_DEBUG:
		/* Only while a debugger (gdbstub.c) has guest debugging on. */
		sb->debug_exit = exit->debug;
		outcome->stop = SNAPVM_STOP_DEBUG;
		outcome->rip = exit->debug.pc;
		return SNAPVM_RUN_STOP;
	case SNAPVM_EXIT_OTHER:
		rip = snapvm_current_rip(sb);
		return snapvm_fault(outcome, rip, "%s at RIP 0x%llx", exit->description,
				    (unsigned long long)rip);
	}
	return snapvm_fault(outcome, 0, "unexpected exit kind %d", exit->kind);
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

int snapvm_sandbox_run(struct snapvm_sandbox *sb, uint64_t timeout_ms,
		       struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	struct snapvm_deadline deadline;
	int ret = 0;

	memset(outcome, 0, sizeof(*outcome));
	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_run", err);
	if (sb->poisoned)
		return snapvm_poisoned(sb, err);
	sb->at_snapshot = sb->at_call_wait = false;
	ret = snapvm_deadline_start(sb, timeout_ms, &deadline, err);
	if (ret)
		return ret;
	if (snapvm_interrupt_pending(sb)) {
		snapvm_timed_out(sb, outcome);
		goto out;
	}
	for (;;) {
		struct snapvm_exit exit;

		ret = snapvm_kvm_vcpu_run(&sb->vcpu, &exit, err);
		if (ret)
			break;
		ret = handle_exit(sb, &exit, outcome, err);
		if (ret < 0) {
			ret = -ret;
			break;
		}
		if (ret == SNAPVM_RUN_STOP) {
			ret = 0;
			break;
		}
	}
	/* The guest's output so far is kept, whatever stopped it; still under
	 * the timer, so a blocked fd cannot hold the run past its deadline. */
	if (sb->console_len) {
		int flushed = snapvm_console_flush(sb, ret ? NULL : err);

		if (flushed == SNAPVM_OUTPUT_TIMED_OUT && !ret &&
		    outcome->stop != SNAPVM_STOP_TIMEOUT &&
		    outcome->stop != SNAPVM_STOP_INTERRUPTED)
			snapvm_timed_out(sb, outcome);
		else if (flushed > 0 && !ret)
			ret = flushed;
	}
out:
	sb->last_stop = outcome->stop;
	snapvm_deadline_end(sb, &deadline);
	return ret;
}

/* ---- lifecycle ---- */

/*
 * Scratch starts as the snapshot's scratch image, copy-on-write where the
 * image is a sealed region, so that a new sandbox copies nothing and holds
 * only the pages its guest writes: a private mapping of the image (memfd),
 * or a clone of it (snapvm.ko, which pins and charges each page the clone
 * writes). The dirty log sees every guest write either way, and restore
 * copies the image's bytes back. Otherwise (an ELF snapshot, an older
 * module) a zeroed region gets the image's non-zero pages.
 */
static int create_scratch(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	struct snapvm_snapshot *snap = sb->snapshot;
	struct snapvm_region *image = &snap->scratch_image, *mapped = &sb->scratch;
	enum snapvm_memory memory = snap->region.memory;
	enum snapvm_map how = SNAPVM_MAP_SHARED_RW;
	bool fill = false;
	int64_t filled;
	int ret = 0;

	if (image->fd >= 0 && memory == SNAPVM_MEMORY_MEMFD) {
		sb->scratch =
		    (struct snapvm_region){.fd = -1, .size = image->size, .memory = memory};
		mapped = image;
		how = SNAPVM_MAP_PRIVATE_RW;
	} else if (image->fd >= 0 && snapvm_region_can_clone(image)) {
		ret = snapvm_region_clone(image, "scratch", &sb->scratch, err);
	} else {
		ret = snapvm_region_create(memory, snap->scratch_size, "scratch", true,
					   &sb->scratch, err);
		fill = true;
	}
	if (ret)
		return ret;
	sb->scratch_memory = snapvm_region_map(mapped, how, err);
	if (!sb->scratch_memory)
		return err ? err->status : EX_OSERR;
	if (!fill)
		return 0;
	filled = snapvm_snapshot_fill_scratch(snap, &sb->scratch, sb->scratch_memory, NULL, err);
	return filled < 0 ? (int)-filled : 0;
}

int snapvm_sandbox_create(struct snapvm_snapshot *snap,
			  const struct snapvm_sandbox_options *options, struct snapvm_sandbox **out,
			  struct snapvm_error *err)
{
	const struct snapvm_arch *arch = snap->arch;
	struct snapvm_sandbox *sb;
	struct snapvm_boot_info *info;
	uint64_t scratch_gpa = arch->scratch_base_gpa(snap->scratch_size);
	int ret;

	*out = NULL;
	ret = snapvm_kvm_check(err);
	if (ret)
		return ret;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return snapvm_fail(err, EX_OSERR, "out of memory");
	sb->vm.fd = sb->vcpu.fd = sb->scratch.fd = -1;
	sb->output_fd = options ? options->output_fd : STDOUT_FILENO;
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
	sb->snapshot = snap;

	ret = create_scratch(sb, err);
	if (ret)
		goto fail;
	/* Clones must not share secrets: a seed of their own. The generation
	 * goes on from the snapshot's (see snapvm_sandbox_restore). */
	info = (struct snapvm_boot_info *)sb->scratch_memory;
	/* The VMM writes the boot info at create, restore and each call: its
	 * page becomes scratch's own now (a clone's first write), or never. */
	ret = snapvm_guest_prepare(info, sizeof(*info), true);
	if (ret) {
		ret = snapvm_fail_errno(err, EX_OSERR, ret,
					"cannot bring in the boot info's page of scratch "
					"(snapvm.ko could not charge it: check RLIMIT_MEMLOCK, "
					"its max_total_mb and the memory cgroup)");
		goto fail;
	}
	if (getrandom(&sb->random_seed, sizeof(sb->random_seed), 0) != sizeof(sb->random_seed)) {
		ret = snapvm_fail_errno(err, EX_OSERR, errno, "getrandom");
		goto fail;
	}
	info->random_seed = sb->random_seed;
	sb->generation = info->generation;
	sb->scratch_dirty = calloc(snapvm_bitmap_words(snap->scratch_size / SNAPVM_PAGE), 8);
	sb->view_dirty = calloc(snapvm_bitmap_words(snap->size / SNAPVM_PAGE), 8);
	sb->dirty_fetch = calloc(snapvm_bitmap_words(snap->scratch_size > snap->size
							 ? snap->scratch_size / SNAPVM_PAGE
							 : snap->size / SNAPVM_PAGE),
				 8);
	if (!sb->scratch_dirty || !sb->view_dirty || !sb->dirty_fetch ||
	    snapvm_working_set_init(&sb->working_set,
				    (const uint64_t[SNAPVM_WS_SLOTS]){
					[SNAPVM_WS_SCRATCH] = snap->scratch_size / SNAPVM_PAGE,
					[SNAPVM_WS_VIEW] = snap->size / SNAPVM_PAGE},
				    0) != 0) {
		ret = snapvm_fail(err, EX_OSERR, "out of memory for dirty-page bitmaps");
		goto fail;
	}

	if (arch->layout == SNAPVM_LAYOUT_I686) {
		/* The guest writes its snapshot (.data, GDT Accessed bits) into
		 * private copy-on-write pages; the sealed region never changes. */
		sb->view = snapvm_region_map(&snap->region, SNAPVM_MAP_PRIVATE_RW, err);
		if (!sb->view) {
			ret = err ? err->status : EX_OSERR;
			goto fail;
		}
		sb->view_private = true;
	} else {
		sb->view = (unsigned char *)snap->memory;
	}
	sb->memory.slots[SNAPVM_SLOT_SNAPSHOT] =
	    (struct snapvm_guest_slot){.gpa = snap->gpa, .size = snap->size, .host = sb->view};
	sb->memory.slots[SNAPVM_SLOT_SCRATCH] = (struct snapvm_guest_slot){
	    .gpa = scratch_gpa, .size = snap->scratch_size, .host = sb->scratch_memory};
	sb->memory.nslots = 2;

	/* Dirty logging on every slot the guest can write: a restore puts
	 * back exactly the pages it reports. */
	ret = snapvm_kvm_vm_create(&sb->vm, arch->layout, err);
	if (!ret)
		ret = snapvm_kvm_vm_map(&sb->vm, SNAPVM_SLOT_SNAPSHOT, snap->gpa, snap->size,
					sb->view, !sb->view_private, sb->view_private, err);
	if (!ret)
		ret = snapvm_kvm_vm_map(&sb->vm, SNAPVM_SLOT_SCRATCH, scratch_gpa,
					snap->scratch_size, sb->scratch_memory, false, true, err);
	if (!ret)
		ret = snapvm_kvm_vcpu_create(&sb->vm, &sb->vcpu, &snap->entry, err);
	if (!ret)
		ret = snapvm_kvm_vcpu_set_state(&sb->vcpu, &snap->entry, err);
	if (!ret)
		ret = snapvm_sandbox_set_working_set(sb, SNAPVM_WORKING_SET_DEFAULT, err);
	if (ret)
		goto fail;
	sb->origin = &snap->entry;
	if (!(snap->entry.parts & SNAPVM_STATE_FULL)) {
		/* An ELF entry state sets regs and sregs only: a restore must
		 * also put back the FPU, MSRs, ... of the fresh vCPU. */
		sb->own_origin = malloc(sizeof(*sb->own_origin));
		if (!sb->own_origin) {
			ret = snapvm_fail(err, EX_OSERR, "out of memory for a vCPU state");
			goto fail;
		}
		ret = snapvm_kvm_vcpu_get_state(&sb->vcpu, sb->own_origin, err);
		if (ret)
			goto fail;
		sb->origin = sb->own_origin;
	}
	*out = sb;
	return 0;
fail:
	snapvm_sandbox_destroy(sb);
	return ret;
}

void snapvm_sandbox_destroy(struct snapvm_sandbox *sb)
{
	if (!sb)
		return;
	if (sb->vcpu.fd >= 0)
		snapvm_kvm_vcpu_destroy(&sb->vcpu);
	snapvm_kvm_vm_destroy(&sb->vm);
	if (sb->view_private && sb->view)
		munmap(sb->view, sb->snapshot->region.size);
	if (sb->scratch_memory)
		munmap(sb->scratch_memory, sb->scratch.size);
	snapvm_region_close(&sb->scratch);
	snapvm_snapshot_put(sb->snapshot);
	free(sb->scratch_dirty);
	free(sb->view_dirty);
	free(sb->dirty_fetch);
	snapvm_working_set_free(&sb->working_set);
	free(sb->host_functions);
	free(sb->host_in);
	free(sb->host_out);
	free(sb->own_origin);
	free(sb->taken);
	free(sb);
}

/* Put the snapshot's bytes back into the i686 view's dirty pages. They
 * stay the view's private pages: dropping them instead (MADV_DONTNEED)
 * made every next request pay a host copy-on-write fault, a page
 * allocation and an MMU-notifier round per page again, while a copy into
 * a page KVM still maps costs a memcpy. Returns pages restored. */
static int64_t restore_view_pages(struct snapvm_sandbox *sb, const uint64_t *bitmap)
{
	const unsigned char *original = sb->snapshot->memory;
	uint64_t npages = sb->snapshot->size / SNAPVM_PAGE, restored = 0;

	for (uint64_t page = 0; page < npages;) {
		uint64_t run = 0;

		if (!bitmap[page / 64]) {
			page = (page / 64 + 1) * 64;
			continue;
		}
		while (page + run < npages &&
		       (bitmap[(page + run) / 64] >> ((page + run) % 64) & 1))
			run++;
		memcpy(sb->view + page * SNAPVM_PAGE, original + page * SNAPVM_PAGE,
		       run * SNAPVM_PAGE);
		restored += run;
		page += run ? run : 1;
	}
	return (int64_t)restored;
}

/* The pages of one slot that KVM saw written, into pending; all of them
 * re-protected except the working set's (see workingset.c). */
static int fetch_dirty(struct snapvm_sandbox *sb, uint32_t slot, int ws_slot, uint64_t *pending,
		       bool admit, struct snapvm_error *err)
{
	uint64_t npages = sb->working_set.npages[ws_slot];
	int ret =
	    snapvm_kvm_vm_dirty_log_fetch(&sb->vm, slot, npages, sb->dirty_fetch, pending, err);

	if (ret || !snapvm_working_set_admit(&sb->working_set, ws_slot, sb->dirty_fetch, admit))
		return ret;
	return snapvm_kvm_vm_dirty_log_clear(&sb->vm, slot, npages, sb->dirty_fetch, err);
}

int snapvm_sandbox_set_working_set(struct snapvm_sandbox *sb, uint64_t max_pages,
				   struct snapvm_error *err)
{
	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_set_working_set", err);
	if (max_pages > SNAPVM_WORKING_SET_MAX)
		return snapvm_fail(
		    err, EX_USAGE, "working set of %llu pages: at most %llu (0 turns it off)",
		    (unsigned long long)max_pages, (unsigned long long)SNAPVM_WORKING_SET_MAX);
	/* Without manual protection KVM re-protects every page it reports. */
	if (!snapvm_kvm_vm_manual_protect(&sb->vm))
		max_pages = 0;
	snapvm_working_set_limit(&sb->working_set, max_pages);
	return 0;
}

static int restore_failed(struct snapvm_sandbox *sb, int status, struct snapvm_error *err)
{
	snprintf(sb->poison_reason, sizeof(sb->poison_reason), "a restore failed (%s)",
		 err ? err->message : "no message");
	return status;
}

/*
 * The dirty bits a restore fetched stay in sb->*_dirty until their pages
 * are back: a restore that fails half-way leaves them there (and the
 * sandbox poisoned), and the next one adds the newer bits to them, so it
 * puts back every page dirtied since the last restore that succeeded.
 */
int snapvm_sandbox_restore(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	struct snapvm_snapshot *snap = sb->snapshot;
	uint64_t scratch_pages = snap->scratch_size / SNAPVM_PAGE;
	uint64_t view_pages = snap->size / SNAPVM_PAGE;
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)sb->scratch_memory;
	int64_t scratch_done, view_done = 0;
	bool admit;
	int ret;

	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_restore", err);
	sb->poisoned = true;
	snprintf(sb->poison_reason, sizeof(sb->poison_reason), "a restore is unfinished");
	sb->at_snapshot = sb->at_call_wait = false;
	sb->last_stop = 0; /* no fault frame to show any more */
	sb->console_len = 0;
	snapvm_deadline_refresh_mask();
	/* The vCPU first: it finishes a pending I/O, which could write memory
	 * (an `ins`), before the memory goes back. */
	ret = snapvm_kvm_vcpu_set_state(&sb->vcpu, sb->origin, err);
	if (!ret)
		ret = snapvm_kvm_vcpu_reset_tsc(&sb->vcpu, err);
	admit = !snapvm_working_set_begin(&sb->working_set);
	if (!ret)
		ret = fetch_dirty(sb, SNAPVM_SLOT_SCRATCH, SNAPVM_WS_SCRATCH, sb->scratch_dirty,
				  admit, err);
	if (!ret && sb->view_private)
		ret = fetch_dirty(sb, SNAPVM_SLOT_SNAPSHOT, SNAPVM_WS_VIEW, sb->view_dirty, admit,
				  err);
	if (!ret && sb->inject_restore_fault) {
		sb->inject_restore_fault = false;
		ret = snapvm_fail(err, EX_OSERR, "fault injected into the restore (a test hook)");
	}
	if (ret)
		return restore_failed(sb, ret, err);
	/* The VMM itself writes the boot info (seed, generation, calls),
	 * which the dirty log does not see. */
	sb->scratch_dirty[0] |= 1;
	scratch_done = snapvm_snapshot_fill_scratch(snap, &sb->scratch, sb->scratch_memory,
						    sb->scratch_dirty, err);
	if (scratch_done < 0)
		return restore_failed(sb, (int)-scratch_done, err);
	memset(sb->scratch_dirty, 0, snapvm_bitmap_words(scratch_pages) * sizeof(uint64_t));
	if (sb->view_private) {
		view_done = restore_view_pages(sb, sb->view_dirty);
		memset(sb->view_dirty, 0, snapvm_bitmap_words(view_pages) * sizeof(uint64_t));
	}
	info->random_seed = sb->random_seed;
	info->generation = ++sb->generation;
	sb->last_restore_pages = (uint64_t)scratch_done + (uint64_t)view_done;
	sb->poisoned = false;
	return 0;
}

uint64_t snapvm_sandbox_last_restore_pages(const struct snapvm_sandbox *sb)
{
	return sb->last_restore_pages;
}

int snapvm_sandbox_take_snapshot(struct snapvm_sandbox *sb, struct snapvm_snapshot **snap,
				 struct snapvm_error *err)
{
	*snap = NULL;
	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_take_snapshot", err);
	if (sb->poisoned)
		return snapvm_poisoned(sb, err);
	if (!sb->at_snapshot)
		return snapvm_fail(err, EX_USAGE,
				   "the sandbox is not stopped at the guest's SNAPSHOT hypercall");
	return snapvm_snapshot_from_sandbox(sb, sb->taken, snap, err);
}

static uint64_t ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - start->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000000);
}

/* A call stopped midway (its deadline, an interrupt) leaves the guest
 * inside a function: no later call may find it there. */
static void poison_unfinished_call(struct snapvm_sandbox *sb, const struct snapvm_outcome *outcome)
{
	if (outcome->stop != SNAPVM_STOP_TIMEOUT && outcome->stop != SNAPVM_STOP_INTERRUPTED)
		return;
	sb->poisoned = true;
	snprintf(sb->poison_reason, sizeof(sb->poison_reason), "a call %s midway",
		 outcome->stop == SNAPVM_STOP_TIMEOUT ? "timed out" : "was interrupted");
}

/* Run to the guest's CALL_WAIT unless it is there; what is left of the
 * timeout in *left. Returns like snapvm_sandbox_run; false in *ready when
 * the guest stopped otherwise. */
static int reach_call_wait(struct snapvm_sandbox *sb, uint64_t timeout_ms, uint64_t *left,
			   bool *ready, struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	struct timespec start;
	int ret;

	*left = timeout_ms;
	*ready = sb->at_call_wait;
	if (sb->at_call_wait)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	ret = snapvm_sandbox_run(sb, timeout_ms, outcome, err);
	if (ret)
		return ret;
	if (outcome->stop != SNAPVM_STOP_CALL_WAIT) {
		poison_unfinished_call(sb, outcome);
		return 0;
	}
	if (timeout_ms) {
		uint64_t spent = ms_since(&start);

		/* At least 1 ms: 0 would mean no limit at all. */
		*left = spent < timeout_ms ? timeout_ms - spent : 1;
	}
	*ready = true;
	return 0;
}

int snapvm_sandbox_call(struct snapvm_sandbox *sb, uint64_t function, uint64_t arg,
			uint64_t timeout_ms, uint64_t *result, struct snapvm_outcome *outcome,
			struct snapvm_error *err)
{
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)sb->scratch_memory;
	uint64_t left;
	bool ready;
	int ret;

	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_call", err);
	ret = reach_call_wait(sb, timeout_ms, &left, &ready, outcome, err);
	if (ret || !ready)
		return ret;
	info->call.function = function;
	info->call.arg = arg;
	ret = snapvm_sandbox_run(sb, left, outcome, err);
	if (!ret && outcome->stop == SNAPVM_STOP_CALL_WAIT)
		*result = (uint64_t)outcome->code;
	if (!ret)
		poison_unfinished_call(sb, outcome);
	return ret;
}

uint64_t snapvm_snapshot_io_size(const struct snapvm_snapshot *snap)
{
	return snap->io_size;
}

/* The I/O area is the guest's scratch like any other: a page of it may be
 * one snapvm.ko cannot charge (see guest_memory_failed). */
static int io_area_failed(struct snapvm_error *err, const char *which, uint64_t offset, int errnum)
{
	return snapvm_fail_errno(err, EX_OSERR, errnum,
				 "snapvm_sandbox_call_buffer: cannot bring in the %s area at "
				 "scratch offset 0x%llx (snapvm.ko could not charge the page: "
				 "check RLIMIT_MEMLOCK, its max_total_mb and the memory cgroup)",
				 which, (unsigned long long)offset);
}

int snapvm_sandbox_call_buffer(struct snapvm_sandbox *sb, uint64_t function, const void *in,
			       size_t in_len, void *out, size_t out_cap, size_t *out_len,
			       uint64_t timeout_ms, struct snapvm_outcome *outcome,
			       struct snapvm_error *err)
{
	const struct snapvm_snapshot *snap = sb->snapshot;
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)sb->scratch_memory;
	uint64_t left, room = out_cap < snap->io_size ? out_cap : snap->io_size;
	int64_t result;
	bool ready;
	int ret, errnum;

	memset(outcome, 0, sizeof(*outcome));
	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_call_buffer", err);
	if (sb->poisoned)
		return snapvm_poisoned(sb, err);
	if (in_len > snap->io_size)
		return snapvm_fail(err, EX_USAGE,
				   "an input of %zu bytes does not fit the sandbox's %llu-byte I/O "
				   "area",
				   in_len, (unsigned long long)snap->io_size);
	ret = reach_call_wait(sb, timeout_ms, &left, &ready, outcome, err);
	if (ret || !ready)
		return ret;
	errnum = snapvm_guest_prepare(sb->scratch_memory + snap->io_in_offset, in_len, true);
	if (errnum)
		return io_area_failed(err, "input", snap->io_in_offset, errnum);
	/* Written by the VMM, so restore must be told: the pages join the
	 * pending set (the boot info's page always does). */
	memcpy(sb->scratch_memory + snap->io_in_offset, in, in_len);
	for (uint64_t page = snap->io_in_offset / SNAPVM_PAGE;
	     in_len && page <= (snap->io_in_offset + in_len - 1) / SNAPVM_PAGE; page++)
		sb->scratch_dirty[page / 64] |= 1ULL << (page % 64);
	info->call.function = function;
	info->call.arg = in_len;
	ret = snapvm_sandbox_run(sb, left, outcome, err);
	if (ret)
		return ret;
	if (outcome->stop != SNAPVM_STOP_CALL_WAIT) {
		poison_unfinished_call(sb, outcome);
		return 0;
	}
	/* CALL_WAIT's result has the guest's register width. */
	result =
	    snap->arch->arg_mask == UINT32_MAX ? (int64_t)(int32_t)outcome->code : outcome->code;
	outcome->code = result;
	*out_len = 0;
	if (result < 0)
		return 0;
	if ((uint64_t)result > room)
		return snapvm_fail(err, EX_DATAERR, "guest returned %lld bytes, room for %llu",
				   (long long)result, (unsigned long long)room);
	errnum =
	    snapvm_guest_prepare(sb->scratch_memory + snap->io_out_offset, (uint64_t)result, false);
	if (errnum)
		return io_area_failed(err, "output", snap->io_out_offset, errnum);
	memcpy(out, sb->scratch_memory + snap->io_out_offset, (size_t)result);
	*out_len = (size_t)result;
	return 0;
}

int snapvm_sandbox_registers(struct snapvm_sandbox *sb, struct snapvm_registers *out,
			     struct snapvm_error *err)
{
	struct snapvm_vcpu_state *state = malloc(sizeof(*state));
	const struct kvm_regs *r;
	const struct kvm_sregs *s;
	int ret;

	if (!state)
		return snapvm_fail(err, EX_OSERR, "out of memory for a vCPU state");
	/* Not at a pending I/O: KVM would finish it first anyway. */
	ret = snapvm_kvm_vcpu_get_state(&sb->vcpu, state, err);
	if (ret) {
		free(state);
		return ret;
	}
	r = &state->regs;
	s = &state->sregs;
	*out = (struct snapvm_registers){
	    .gpr = {r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp, r->r8, r->r9,
		    r->r10, r->r11, r->r12, r->r13, r->r14, r->r15},
	    .rip = r->rip,
	    .rflags = r->rflags,
	    .cr0 = s->cr0,
	    .cr2 = s->cr2,
	    .cr3 = s->cr3,
	    .cr4 = s->cr4,
	    .efer = s->efer,
	    .segment = {s->cs.selector, s->ds.selector, s->es.selector, s->fs.selector,
			s->gs.selector, s->ss.selector, s->tr.selector, s->ldt.selector},
	    .fs_base = s->fs.base,
	    .gs_base = s->gs.base,
	    .gdt_base = s->gdt.base,
	    .idt_base = s->idt.base,
	    .gdt_limit = s->gdt.limit,
	    .idt_limit = s->idt.limit,
	};
	out->fpu_hash = snapvm_hash64(SNAPVM_HASH64_INIT, &state->xsave, sizeof(state->xsave));
	out->fpu_hash = snapvm_hash64(out->fpu_hash, &state->fpu, sizeof(state->fpu));
	out->msr_hash =
	    snapvm_hash64(SNAPVM_HASH64_INIT, state->msrs, state->nmsrs * sizeof(state->msrs[0]));
	out->other_hash = snapvm_hash64(SNAPVM_HASH64_INIT, &state->events, sizeof(state->events));
	out->other_hash =
	    snapvm_hash64(out->other_hash, &state->debugregs, sizeof(state->debugregs));
	out->other_hash = snapvm_hash64(out->other_hash, &state->xcrs, sizeof(state->xcrs));
	free(state);
	return 0;
}

int snapvm_sandbox_read_gpa(struct snapvm_sandbox *sb, uint64_t gpa, void *buf, size_t len,
			    struct snapvm_error *err)
{
	const void *p = snapvm_gpa_to_host(&sb->memory, gpa, len);
	int errnum;

	if (!p)
		return snapvm_fail(
		    err, EX_USAGE,
		    "GPA range 0x%llx + %zu is not inside one region of guest memory",
		    (unsigned long long)gpa, len);
	errnum = snapvm_guest_prepare(p, len, false);
	if (errnum)
		return snapvm_fail_errno(err, EX_OSERR, errnum,
					 "cannot bring in guest memory at GPA 0x%llx (snapvm.ko "
					 "could not charge the page)",
					 (unsigned long long)gpa);
	memcpy(buf, p, len);
	return 0;
}
