// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hypercall.c - the hypercall table: EXIT, WRITE, ABORT, SNAPSHOT,
 * CALL_WAIT, and HOST_CALL with the host functions a sandbox offers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

/* ---- hypercalls ---- */

struct hypercall {
	const struct snapvm_arch *arch;
	uint64_t nr, arg[4];
	uint64_t result;
	uint64_t rip;
};

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

	if (r->done == r->len || snapvm_gva_to_gpa_cached(&sb->memory, r->paging, r->gva + r->done,
							  &gpa, &contiguous, &r->prepared))
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

/*
 * A host call's output range checked (mapped, writable by the host) and
 * made present before the host function runs, with one madvise per run of
 * host-contiguous pages rather than one per page: a program pulled through
 * a 64 KiB buffer is then a call per buffer, not sixteen. A run that
 * cannot be made present is walked again page by page, which stops at the
 * page that failed (out->done, out->error say which).
 */
static void writable_prepare(struct snapvm_sandbox *sb, struct snapvm_guest_range *out)
{
	uintptr_t run = 0, end = 0;
	uint64_t run_done = 0, chunk;
	void *p;

	out->present = true;
	for (;;) {
		p = writable_next(sb, out, &chunk, false);
		if (p && (uintptr_t)p == end) {
			end += chunk;
			continue;
		}
		if (end > run && snapvm_guest_prepare((void *)run, end - run, true)) {
			out->present = false;
			out->done = run_done;
			while (writable_next(sb, out, &chunk, false))
				;
			return;
		}
		if (!p)
			return;
		run = (uintptr_t)p;
		end = run + chunk;
		run_done = out->done - chunk;
	}
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
	writable_prepare(sb, &out);
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
