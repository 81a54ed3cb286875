// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sandbox.c - the generic sandbox: create one from a snapshot (VM, vCPU,
 * scratch, view), run it (the exit loop; hypercall.c handles the hypercall
 * port, console.c the console, deadline.c stops it on time), read its
 * registers and memory, and take it apart. Calls are in call.c, restores
 * in restore.c, how a run stops in outcome.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/internal.h"

/* ---- the exit loop ---- */

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

/* The run ends with a signal (snapvm_sandbox_signal_stop). */
static int signal_stopped(struct snapvm_sandbox *sb, struct snapvm_outcome *outcome, int signo)
{
	outcome->stop = SNAPVM_STOP_SIGNAL;
	outcome->code = signo;
	outcome->rip = snapvm_current_rip(sb);
	snprintf(outcome->message, sizeof(outcome->message), "ended by signal %d at RIP 0x%llx",
		 signo, (unsigned long long)outcome->rip);
	return SNAPVM_RUN_STOP;
}

/*
 * Why the run was kicked: a signal that ends it, an interrupt or the
 * deadline, or only an interrupt vector to inject (then it runs on; a
 * deadline that passed meanwhile kicks again, the timer repeats).
 */
static int kicked(struct snapvm_sandbox *sb, struct snapvm_outcome *outcome)
{
	int signo = __atomic_load_n(&sb->signal_stop, __ATOMIC_SEQ_CST);

	if (signo)
		return signal_stopped(sb, outcome, signo);
	if (__atomic_load_n(&sb->vcpu.inject_vector, __ATOMIC_SEQ_CST) &&
	    !snapvm_interrupt_pending(sb) && !snapvm_deadline_passed()) {
		snapvm_kvm_vcpu_unkick(&sb->vcpu);
		return SNAPVM_RUN_ON;
	}
	return snapvm_timed_out(sb, outcome);
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
		return kicked(sb, outcome);
	case SNAPVM_EXIT_SIGNAL:
		/* The kick signal, if it is what stopped KVM_RUN; else someone
		 * else's signal, and the guest runs on. */
		snapvm_deadline_take_pending();
		return sb->vcpu.kicked ? kicked(sb, outcome) : SNAPVM_RUN_ON;
	case SNAPVM_EXIT_IRQ_WINDOW:
		return SNAPVM_RUN_ON; /* the next KVM_RUN injects the interrupt */
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
	if (__atomic_load_n(&sb->signal_stop, __ATOMIC_SEQ_CST)) {
		signal_stopped(sb, outcome, __atomic_load_n(&sb->signal_stop, __ATOMIC_SEQ_CST));
		goto out;
	}
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
		ret = snapvm_sandbox_set_pdptrs(sb, &snap->entry, err);
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
