/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * snapvm.h - libsnapvm's public interface: build a snapshot from a guest
 * ELF file, start sandboxes from it, run them, and learn how they stopped.
 *
 * A *snapshot* is an immutable guest image: a sealed memory region (the ELF
 * segments, the VMM's GDT or page tables) plus the vCPU state to start from.
 * A *sandbox* is one VM with one vCPU, its own scratch memory and a view of
 * a snapshot; any number of sandboxes may share one snapshot.
 *
 *	struct snapvm_error err;
 *	struct snapvm_snapshot *snap;
 *	struct snapvm_sandbox *sandbox;
 *	struct snapvm_outcome outcome;
 *
 *	if (snapvm_snapshot_from_elf("hello.elf", NULL, &snap, &err) ||
 *	    snapvm_sandbox_create(snap, NULL, &sandbox, &err) ||
 *	    snapvm_sandbox_run(sandbox, 0, &outcome, &err))
 *		errx(err.status, "%s", err.message);
 *	status = snapvm_outcome_exit_status(&outcome);
 *
 * Snapshots the guest takes, restores and calls (a request = restore +
 * call):
 *
 *	snapvm_sandbox_run(sandbox, 0, &outcome, &err);	// SNAPVM_STOP_SNAPSHOT
 *	snapvm_sandbox_take_snapshot(sandbox, &taken, &err);
 *	snapvm_sandbox_create(taken, NULL, &clone, &err);	// resumes with SNAPSHOT = 1
 *	snapvm_sandbox_call(clone, FN, arg, 0, &result, &outcome, &err);
 *	snapvm_sandbox_restore(clone, &err);			// back to `taken`
 *
 * Every function that can fail returns 0 or a sysexits.h status (EX_USAGE,
 * EX_DATAERR, EX_UNAVAILABLE, EX_OSERR, ...) and, when err is not NULL,
 * fills it with that status and a message naming what failed.
 *
 * Isolation: after snapvm_sandbox_restore a sandbox is the snapshot again.
 * - Memory: every page the guest (or KVM on its behalf) dirtied since the
 *   last successful restore goes back; a restore that fails half-way keeps
 *   its dirty bits and poisons the sandbox (SNAPVM_STATUS_POISONED) until a
 *   restore succeeds.
 * - MSRs: a state saves, and a restore puts back, every MSR that KVM lists
 *   in KVM_GET_MSR_INDEX_LIST plus the MTRRs, as far as the vCPU can read
 *   and write it back. Left out on purpose: IA32_TSC (time moves on; the
 *   vCPU's TSC offset is put back instead, undoing guest writes to the TSC
 *   and TSC_ADJUST) and Hyper-V's MSRs (no guest can reach them). Guest
 *   writes to HWCR (0xc0010015) raise #GP: KVM up to 6.3 cannot undo one.
 * - CPUID: KVM_GET_SUPPORTED_CPUID normalised, fixed when a snapshot is
 *   made from an ELF file and recorded in it (and in its file), so every
 *   sandbox of a snapshot sees the same: no hypervisor leaves (0x4000xxxx:
 *   KVM's PV signature and features) unless snapvm_snapshot_options.kvm_pv,
 *   no PMU (leaf 0xa zeroed, AMD's PerfCtrExt* bits and leaf 0x80000022
 *   gone, PDCM cleared, and KVM_CAP_PMU_CAPABILITY disables the vPMU), no
 *   nested virtualisation (VMX, SVM and leaf 0x8000000a gone), the model and
 *   stepping zeroed (family kept) and the brand string "snapvm virtual CPU".
 *   A paravirtual MSR the CPUID does not offer raises #GP
 *   (KVM_CAP_ENFORCE_PV_FEATURE_CPUID, KVM_CAP_HYPERV_ENFORCE_CPUID).
 *   Loading a snapshot file on a host whose KVM cannot give its CPUID (another
 *   vendor, or a feature bit KVM here lacks) fails with EX_UNAVAILABLE.
 * - Memory size: a snapshot's image and scratch together may not exceed
 *   snapvm_snapshot_options.max_memory (default 4 GiB): checked before any
 *   memory is allocated (EX_DATAERR). An ELF's .bss is never written into
 *   the image, so it costs nothing until the guest touches it.
 * - Deadlines: a run's timeout also bounds its writes to the output fd (a
 *   full pipe nobody reads ends the run with SNAPVM_STOP_TIMEOUT). EPIPE is
 *   a host error (EX_IOERR): an embedder whose output is a pipe should
 *   ignore SIGPIPE, as the launcher does.
 */
#ifndef SNAPVM_USERSPACE_SNAPVM_H
#define SNAPVM_USERSPACE_SNAPVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout/abi.h"

#define SNAPVM_VERSION "0.1.0"

/* On every public function: libsnapvm.so is built with -fvisibility=hidden
 * and exports these alone (userspace/libsnapvm.map gives them the version
 * SNAPVM_0). */
#define SNAPVM_API __attribute__((visibility("default")))

/* Launcher exit statuses that sysexits.h does not name. */
#define SNAPVM_STATUS_GUEST_FAULT 70  /* = EX_SOFTWARE: ABORT or a guest fault */
#define SNAPVM_STATUS_TIMEOUT	  124 /* as timeout(1) */
/* A run, call or snapshot refused because a restore failed half-way: the
 * sandbox works again after a restore that succeeds (= EX_TEMPFAIL). */
#define SNAPVM_STATUS_POISONED 75

struct snapvm_error {
	int status; /* sysexits.h value, never 0 once set */
	char message[1280];
};

/* Where guest memory comes from. */
enum snapvm_memory {
	SNAPVM_MEMORY_AUTO = 0, /* the module when /dev/snapvm exists, else memfd */
	SNAPVM_MEMORY_KMOD,	/* regions of snapvm.ko (pinned, sealable) */
	SNAPVM_MEMORY_MEMFD,	/* memfd_create + F_SEAL_* */
};

/* enum snapvm_layout_id (layout/abi.h), or this: decide from the ELF header. */
#define SNAPVM_LAYOUT_AUTO 0

/* The guest memory a snapshot may ask for when the options say nothing. */
#define SNAPVM_DEFAULT_MAX_MEMORY (4ULL << 30)

struct snapvm_snapshot_options {
	uint32_t layout; /* SNAPVM_LAYOUT_AUTO or one that must match the ELF */
	enum snapvm_memory memory;
	uint64_t scratch_size; /* bytes; 0 = SNAPVM_DEFAULT_SCRATCH_SIZE */
	uint64_t max_memory; /* guest memory cap, image + scratch; 0 = SNAPVM_DEFAULT_MAX_MEMORY (4
				GiB) */
	/* Offer the guest KVM's paravirtual CPUID leaves (0x40000000: kvmclock,
	 * steal time, async PF, PV EOI, ...). Off by default. ELF only: a
	 * snapshot file brings its own CPUID. */
	bool kvm_pv;
};

struct snapvm_snapshot;
struct snapvm_sandbox;

/*
 * Load a guest ELF file into a new sealed snapshot ready to start at the ELF
 * entry point. Options may be NULL (all defaults). Fails with EX_DATAERR for
 * a bad ELF file or a layout that contradicts it, EX_USAGE for a scratch
 * size that does not fit (checked before any memory is allocated; the
 * message gives the sizes that fit), EX_UNAVAILABLE when the memory backend
 * is missing or its API version differs.
 */
SNAPVM_API int snapvm_snapshot_from_elf(const char *path,
					const struct snapvm_snapshot_options *options,
					struct snapvm_snapshot **snapshot,
					struct snapvm_error *err);

/*
 * A snapshot file (snapvm_snapshot_save) becomes a sealed snapshot again.
 * Its CPUID must be one this host's KVM can give (EX_UNAVAILABLE, naming
 * the difference, when not); it must fit options->max_memory.
 * Options may be NULL; their layout and scratch_size, when not 0, must match
 * the file's; memory picks the backend. A corrupt, truncated or foreign file
 * fails with EX_DATAERR (nothing stays allocated), a missing or unreadable
 * one with EX_NOINPUT.
 */
SNAPVM_API int snapvm_snapshot_load(const char *path, const struct snapvm_snapshot_options *options,
				    struct snapvm_snapshot **snapshot, struct snapvm_error *err);

/* Save a snapshot (memory, vCPU state, layout, format version, checksum)
 * atomically: an earlier file at path survives any failure. EX_CANTCREAT /
 * EX_IOERR on failure. */
SNAPVM_API int snapvm_snapshot_save(struct snapvm_snapshot *snapshot, const char *path,
				    struct snapvm_error *err);

/* Drops the caller's reference; the snapshot lives on while sandboxes use it. */
SNAPVM_API void snapvm_snapshot_put(struct snapvm_snapshot *snapshot);

SNAPVM_API uint32_t
snapvm_snapshot_layout(const struct snapvm_snapshot *snapshot); /* enum snapvm_layout_id */
SNAPVM_API uint64_t snapvm_snapshot_scratch_size(const struct snapvm_snapshot *snapshot);
SNAPVM_API uint64_t snapvm_snapshot_scratch_gpa(const struct snapvm_snapshot *snapshot);

/* The sealed snapshot bytes, read-only, starting at guest-physical *gpa. */
SNAPVM_API const void *snapvm_snapshot_memory(const struct snapvm_snapshot *snapshot, uint64_t *gpa,
					      uint64_t *size);

struct snapvm_sandbox_options {
	int output_fd; /* guest console and WRITE output; STDOUT_FILENO by default */
};
#define SNAPVM_SANDBOX_OPTIONS_DEFAULT                                                             \
	{                                                                                          \
		.output_fd = 1                                                                     \
	}

/*
 * A VM + vCPU + scratch region + view of the snapshot, at its entry state.
 * Options may be NULL. Fails with EX_UNAVAILABLE without a usable /dev/kvm.
 * The boot info gets a random seed of the sandbox's own (getrandom) and the
 * snapshot's generation: 0 for an ELF snapshot, one more than the sandbox
 * that took it had for a SNAPSHOT, so a resumed guest always sees a new one.
 */
SNAPVM_API int snapvm_sandbox_create(struct snapvm_snapshot *snapshot,
				     const struct snapvm_sandbox_options *options,
				     struct snapvm_sandbox **sandbox, struct snapvm_error *err);
SNAPVM_API void snapvm_sandbox_destroy(struct snapvm_sandbox *sandbox);

/* Why snapvm_sandbox_run returned. */
enum snapvm_stop {
	SNAPVM_STOP_EXIT = 1,  /* hypercall EXIT(code) */
	SNAPVM_STOP_ABORT,     /* hypercall ABORT(code, message) */
	SNAPVM_STOP_FAULT,     /* triple fault, stray MMIO, unknown hypercall, ... */
	SNAPVM_STOP_TIMEOUT,   /* the timeout ran out; the sandbox is intact */
	SNAPVM_STOP_SNAPSHOT,  /* hypercall SNAPSHOT: snapvm_sandbox_take_snapshot
				* may take it now; running on returns 0 to it */
	SNAPVM_STOP_CALL_WAIT, /* hypercall CALL_WAIT(result): code = result */
};

struct snapvm_outcome {
	enum snapvm_stop stop;
	int64_t code;	    /* EXIT or ABORT code; CALL_WAIT result (i686: 32 bits) */
	uint64_t rip;	    /* where the vCPU stopped, when known */
	char message[1280]; /* ABORT: the guest's message; FAULT: what happened */
};

/*
 * Run the vCPU until the guest exits, aborts or faults, or until timeout_ms
 * (0 = no limit) has passed. Returns 0 with *outcome filled for all of those;
 * a non-zero status only when the host failed (an ioctl, the output fd).
 * A timeout interrupts KVM_RUN with a signal (SNAPVM_KICK_SIGNAL) and
 * kvm_run.immediate_exit; the process and the output so far are unharmed.
 */
SNAPVM_API int snapvm_sandbox_run(struct snapvm_sandbox *sandbox, uint64_t timeout_ms,
				  struct snapvm_outcome *outcome, struct snapvm_error *err);

/*
 * After a SNAPVM_STOP_SNAPSHOT (and before the sandbox runs again): a new
 * sealed snapshot of both memory regions and the complete vCPU state,
 * resuming after the hypercall with its result 1. The caller owns one
 * reference. EX_USAGE when the sandbox is not stopped at SNAPSHOT.
 */
SNAPVM_API int snapvm_sandbox_take_snapshot(struct snapvm_sandbox *sandbox,
					    struct snapvm_snapshot **snapshot,
					    struct snapvm_error *err);

/*
 * Back to the snapshot the sandbox was created from: vCPU state (all of it:
 * see "Isolation" above), snapshot view and scratch. On failure the sandbox
 * is poisoned: runs, calls and snapshots fail with SNAPVM_STATUS_POISONED
 * until a restore succeeds, which then puts back every page dirtied since
 * the last successful one. Costs what the guest wrote since the last restore (the
 * pages KVM's dirty log reports, plus the boot-info page the VMM writes).
 * Bumps boot_info.generation; the seed stays the sandbox's own.
 */
SNAPVM_API int snapvm_sandbox_restore(struct snapvm_sandbox *sandbox, struct snapvm_error *err);

/* Pages the last restore copied or zeroed (for tests, benches). */
SNAPVM_API uint64_t snapvm_sandbox_last_restore_pages(const struct snapvm_sandbox *sandbox);

/*
 * Run a guest function: run to the guest's CALL_WAIT unless it is there,
 * put (function, arg) into boot_info.call, run to the next CALL_WAIT and
 * store its result in *result. Returns like snapvm_sandbox_run; *result is
 * set only when outcome->stop is SNAPVM_STOP_CALL_WAIT. timeout_ms (0 = none)
 * bounds the whole call.
 */
SNAPVM_API int snapvm_sandbox_call(struct snapvm_sandbox *sandbox, uint64_t function, uint64_t arg,
				   uint64_t timeout_ms, uint64_t *result,
				   struct snapvm_outcome *outcome, struct snapvm_error *err);

/* The vCPU state, for tests that compare sandboxes and restores. */
struct snapvm_registers {
	uint64_t gpr[16]; /* RAX RBX RCX RDX RSI RDI RSP RBP R8..R15 */
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint16_t segment[8]; /* CS DS ES FS GS SS TR LDTR selectors */
	uint64_t fs_base, gs_base, gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
	/* snapvm_hash64 of the FPU/XSAVE area, of the saved MSRs, and of the
	 * rest (pending events, debug registers, XCRs). */
	uint64_t fpu_hash, msr_hash, other_hash;
};
SNAPVM_API int snapvm_sandbox_registers(struct snapvm_sandbox *sandbox,
					struct snapvm_registers *regs, struct snapvm_error *err);

/* FNV-1a, 64 bit (the guests' rt_fnv1a64): start with SNAPVM_HASH64_INIT. */
#define SNAPVM_HASH64_INIT 0xcbf29ce484222325ULL
SNAPVM_API uint64_t snapvm_hash64(uint64_t hash, const void *data, size_t len);

/* The signal libsnapvm's timeouts use (a real-time signal, SIGRTMIN + 2). */
SNAPVM_API int snapvm_kick_signal(void);

/* Copy guest-physical memory as the sandbox sees it (its i686 view includes
 * the guest's private writes). Fails with EX_USAGE outside guest memory. */
SNAPVM_API int snapvm_sandbox_read_gpa(struct snapvm_sandbox *sandbox, uint64_t gpa, void *buf,
				       size_t len, struct snapvm_error *err);

/* The launcher's exit status for an outcome: EXIT(n) -> n & 0xff, ABORT and
 * FAULT -> 70, TIMEOUT -> 124. */
SNAPVM_API int snapvm_outcome_exit_status(const struct snapvm_outcome *outcome);

/* What the host offers: for `snapvm info` and for tests that must SKIP. */
struct snapvm_host_info {
	int kvm_api_version;	 /* -errno when /dev/kvm cannot be used */
	int module_api_version;	 /* -errno when /dev/snapvm cannot be used */
	int module_api_expected; /* SNAPVM_API_VERSION this library speaks */
	char cpu_vendor[13];	 /* from KVM_GET_SUPPORTED_CPUID leaf 0 */
	struct {
		const char *name;
		int value; /* KVM_CHECK_EXTENSION result */
	} caps[16];
	unsigned int ncaps;
	enum snapvm_memory default_memory;
};
SNAPVM_API void snapvm_host_info(struct snapvm_host_info *info);

/* Parse SIZE: decimal bytes with an optional K, M or G suffix (powers of
 * 1024). Returns 0, or EX_USAGE with a message for malformed or overflowing
 * input. */
SNAPVM_API int snapvm_parse_size(const char *text, uint64_t *size, struct snapvm_error *err);

SNAPVM_API const char *snapvm_layout_name(uint32_t layout); /* "i686", "amd64", or NULL */
SNAPVM_API const char *snapvm_memory_name(enum snapvm_memory memory);

#endif /* SNAPVM_USERSPACE_SNAPVM_H */
