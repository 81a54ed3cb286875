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
 * Threads: a snapshot may be shared by any number of threads (sandboxes
 * take references; snapvm_snapshot_put may be called from any thread). A
 * sandbox belongs to one thread at a time: run, call, restore and destroy
 * it from one thread, or hand it over with the usual synchronisation.
 * snapvm_sandbox_interrupt may be called from anywhere. libsnapvm installs
 * one signal handler (the kick signal, see snapvm_set_kick_signal) and
 * changes no thread's signal mask outside a run.
 *
 * Every function that can fail returns 0 or a sysexits.h status (EX_USAGE,
 * EX_DATAERR, EX_UNAVAILABLE, EX_OSERR, ...) and, when err is not NULL,
 * fills it with that status and a message naming what failed.
 *
 * Guest memory the library itself reads or writes (ABORT's message, WRITE's
 * bytes, HOST_CALL's buffers, a buffer call's I/O areas, read_gpa, gdb,
 * core dumps) is made present first: a snapvm.ko page that cannot be
 * charged at that first touch (RLIMIT_MEMLOCK, max_total_mb, the memory
 * cgroup) never raises SIGBUS in the process. A hypercall or buffer call
 * that meets one fails with EX_OSERR naming it and the address; a sandbox
 * stopped inside the hypercall is poisoned (SNAPVM_STATUS_POISONED) until a
 * restore. Other sandboxes of the process are not affected.
 *
 * Isolation: after snapvm_sandbox_restore a sandbox is the snapshot again.
 * - Memory: every page the guest (or KVM on its behalf) dirtied since the
 *   last successful restore goes back, and so do the working set's pages
 *   (snapvm_sandbox_restore), written or not; a restore that fails half-way keeps
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
 * and exports these alone (userspace/libsnapvm.map, without a version node:
 * the SONAME libsnapvm.so.0 carries the ABI version). */
#define SNAPVM_API __attribute__((visibility("default")))

/* Launcher exit statuses that sysexits.h does not name. */
#define SNAPVM_STATUS_GUEST_FAULT 70  /* = EX_SOFTWARE: ABORT or a guest fault */
#define SNAPVM_STATUS_TIMEOUT	  124 /* as timeout(1) */
/* A run, call or snapshot refused because a restore failed half-way, or a
 * call was interrupted or timed out midway: the sandbox works again after
 * a restore that succeeds (= EX_TEMPFAIL). */
#define SNAPVM_STATUS_POISONED 75
/* SNAPVM_STOP_INTERRUPTED, as a shell reports SIGINT. */
#define SNAPVM_STATUS_INTERRUPTED 130

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
	/* guest memory cap, image + scratch; 0 = SNAPVM_DEFAULT_MAX_MEMORY (4 GiB) */
	uint64_t max_memory;
	/* Offer the guest KVM's paravirtual CPUID leaves (0x40000000: kvmclock,
	 * steal time, async PF, PV EOI, ...). Off by default. ELF only: a
	 * snapshot file brings its own CPUID. */
	bool kvm_pv;
	/* Each way of the buffer-call I/O area (snapvm_sandbox_call_buffer),
	 * in bytes: 0 = SNAPVM_DEFAULT_IO_SIZE (64 KiB), or less when the free
	 * scratch area is short of room. ELF only: a snapshot file keeps its. */
	uint64_t io_size;
};

struct snapvm_snapshot;
struct snapvm_sandbox;

/*
 * Input files, guest ELF or snapshot file, are read once: opened without
 * blocking, refused with EX_DATAERR unless they are regular files (a FIFO,
 * a directory, /dev/zero...), read with pread into private memory for the
 * size fstat gave, and only that copy is validated and used, so a file
 * changed, grown or truncated meanwhile cannot disclose or crash anything
 * (truncated while reading: EX_DATAERR, never SIGBUS).
 *
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
 * one with EX_NOINPUT. A file whose snapshot + scratch exceed max_memory is
 * refused (EX_DATAERR) from its header, before its sections are read.
 */
SNAPVM_API int snapvm_snapshot_load(const char *path, const struct snapvm_snapshot_options *options,
				    struct snapvm_snapshot **snapshot, struct snapvm_error *err);

/* Save a snapshot (memory, vCPU state, layout, format version, checksum)
 * atomically: an earlier file at path survives any failure. EX_CANTCREAT /
 * EX_IOERR on failure. It opens path's directory: under the seccomp filter
 * use snapvm_snapshot_save_at. */
SNAPVM_API int snapvm_snapshot_save(struct snapvm_snapshot *snapshot, const char *path,
				    struct snapvm_error *err);

/*
 * Output files under the seccomp filter (which allows no path of its own):
 * snapvm_output_dir_open opens the directory of path (O_RDONLY |
 * O_DIRECTORY) into *dirfd and points *name at path's last component; do it
 * before snapvm_seccomp_install_dirs, then save with snapvm_snapshot_save_at
 * or snapvm_sandbox_core_dump_at(dirfd, name), which write name.tmp.XXXXXX
 * in that directory and rename it to name there (atomically, as
 * snapvm_snapshot_save). EX_USAGE when path or name is not a file name
 * (empty, ending in '/', "." or ".."; name: any '/'), EX_CANTCREAT when the
 * directory cannot be opened or the file created. The caller closes dirfd.
 */
SNAPVM_API int snapvm_output_dir_open(const char *path, int *dirfd, const char **name,
				      struct snapvm_error *err);
SNAPVM_API int snapvm_snapshot_save_at(struct snapvm_snapshot *snapshot, int dirfd,
				       const char *name, struct snapvm_error *err);

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
	SNAPVM_STOP_EXIT = 1,	 /* hypercall EXIT(code) */
	SNAPVM_STOP_ABORT,	 /* hypercall ABORT(code, message) */
	SNAPVM_STOP_FAULT,	 /* triple fault, stray MMIO, unknown hypercall, ... */
	SNAPVM_STOP_TIMEOUT,	 /* the timeout ran out; the sandbox is intact */
	SNAPVM_STOP_SNAPSHOT,	 /* hypercall SNAPSHOT: snapvm_sandbox_take_snapshot
				  * may take it now; running on returns 0 to it */
	SNAPVM_STOP_CALL_WAIT,	 /* hypercall CALL_WAIT(result): code = result */
	SNAPVM_STOP_INTERRUPTED, /* snapvm_sandbox_interrupt(); the sandbox is intact */
	SNAPVM_STOP_DEBUG,	 /* a breakpoint or single step of the gdb stub
				  * (only while it debugs the sandbox) */
	SNAPVM_STOP_SIGNAL,	 /* ended by a signal (snapvm_linux_raise: SIGKILL,
				  * or one whose default action terminates): code
				  * = the signal; exit status 128 + code */
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
 * A timeout interrupts KVM_RUN with the kick signal (snapvm_kick_signal(),
 * see snapvm_set_kick_signal) and kvm_run.immediate_exit; the process and the output so far are
 * unharmed.
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
 * the last successful one. Bumps boot_info.generation; the seed stays the
 * sandbox's own.
 *
 * What it touches: every page any request wrote since the last restore is
 * back, and a restore touches those pages plus at most the working set.
 * The working set is the pages recent requests wrote, kept write-enabled
 * (KVM does not re-protect them for its dirty log), so the next request's
 * writes to them cost no write-protection fault; a kept page is put back
 * at every restore, written or not. It adapts: every 64 restores all pages
 * are re-protected and only those written again come back into it.
 */
SNAPVM_API int snapvm_sandbox_restore(struct snapvm_sandbox *sandbox, struct snapvm_error *err);

/*
 * The working set's bound, in pages (SNAPVM_WORKING_SET_DEFAULT for a new
 * sandbox, at most SNAPVM_WORKING_SET_MAX). 0 turns it off: each restore
 * then touches exactly the pages written since the last one, and every
 * page's first write after a restore takes a fault. It takes effect at the
 * next restore, which re-protects every page and starts the set afresh.
 */
#define SNAPVM_WORKING_SET_DEFAULT 1024
#define SNAPVM_WORKING_SET_MAX	   (1ULL << 20)
SNAPVM_API int snapvm_sandbox_set_working_set(struct snapvm_sandbox *sandbox, uint64_t max_pages,
					      struct snapvm_error *err);

/* Pages the last restore copied or zeroed (for tests, benches). */
SNAPVM_API uint64_t snapvm_sandbox_last_restore_pages(const struct snapvm_sandbox *sandbox);

/*
 * Run a guest function: run to the guest's CALL_WAIT unless it is there,
 * put (function, arg) into boot_info.call, run to the next CALL_WAIT and
 * store its result in *result. Returns like snapvm_sandbox_run; *result is
 * set only when outcome->stop is SNAPVM_STOP_CALL_WAIT. timeout_ms (0 = none)
 * bounds the whole call; a call that times out or is interrupted midway
 * poisons the sandbox (SNAPVM_STATUS_POISONED) until it is restored.
 */
SNAPVM_API int snapvm_sandbox_call(struct snapvm_sandbox *sandbox, uint64_t function, uint64_t arg,
				   uint64_t timeout_ms, uint64_t *result,
				   struct snapvm_outcome *outcome, struct snapvm_error *err);

/*
 * A guest function with byte buffers: like snapvm_sandbox_call, with the
 * input copied into the sandbox's I/O area (its length in the call's arg)
 * and the guest's result, the length of its output, read back from the
 * output area (both in scratch; see struct snapvm_boot_info). The guest
 * serves such calls with rt_buffer_call_loop.
 * - in_len over the area (snapvm_snapshot_io_size) fails with EX_USAGE
 *   before the guest runs.
 * - An output length beyond out_cap or the area fails with EX_DATAERR
 *   ("guest returned N bytes, room for M"); nothing is copied then.
 * - A negative result is the guest's own error: *out_len = 0 and
 *   outcome->code holds it.
 * *out_len is set only when outcome->stop is SNAPVM_STOP_CALL_WAIT. A call
 * that times out or is interrupted midway poisons the sandbox.
 */
SNAPVM_API int snapvm_sandbox_call_buffer(struct snapvm_sandbox *sandbox, uint64_t function,
					  const void *in, size_t in_len, void *out, size_t out_cap,
					  size_t *out_len, uint64_t timeout_ms,
					  struct snapvm_outcome *outcome, struct snapvm_error *err);

/* Bytes each way of the snapshot's buffer-call I/O area. */
SNAPVM_API uint64_t snapvm_snapshot_io_size(const struct snapvm_snapshot *snapshot);

/*
 * A host function the guest calls with HOST_CALL (layout/abi.h). It runs on
 * the vCPU thread, in the middle of the run: it gets the guest's input
 * (in_len <= SNAPVM_HOST_CALL_MAX bytes, a copy) and room for out_cap bytes
 * of output, and returns the number of bytes it wrote or -errno, which is
 * the guest's result. It must not run, call or restore its own sandbox
 * (that fails with EX_USAGE).
 */
typedef int64_t (*snapvm_host_function)(void *ctx, struct snapvm_sandbox *sandbox, const void *in,
					size_t in_len, void *out, size_t out_cap);

/* Register fn under number (NULL removes it). A number nobody registered
 * gives the guest -ENOSYS. */
SNAPVM_API int snapvm_sandbox_set_host_function(struct snapvm_sandbox *sandbox, uint32_t number,
						snapvm_host_function fn, void *ctx,
						struct snapvm_error *err);

/*
 * Stop the sandbox's current run, or its next one if none is in progress,
 * with SNAPVM_STOP_INTERRUPTED: safe from any thread at any time while the
 * sandbox exists, and from a signal handler. A guest inside KVM_RUN stops
 * within milliseconds (the kick signal); a run that is about to start stops
 * before the guest runs. A request that arrives as a run ends anyway stops
 * the next one. Like Hyperlight's InterruptHandle::kill.
 */
SNAPVM_API void snapvm_sandbox_interrupt(struct snapvm_sandbox *sandbox);

/*
 * The signal that stops runs (timeouts and interrupts): SIGRTMIN + 2 unless
 * set here, installed at the first run. It is refused (EX_UNAVAILABLE) when
 * the application already handles or ignores it, unless flags has
 * SNAPVM_KICK_SIGNAL_REPLACE. Without a kick signal, runs with a timeout
 * fail; others still run.
 *
 * A run's only system call on its hot path is KVM_RUN. Each thread gets one
 * POSIX timer (at its first timed run; deleted when the thread ends),
 * re-armed only when a deadline comes earlier than it is set for. A thread
 * that blocks the kick signal still gets it inside a run: its mask is read
 * at its first run and at each restore, and KVM applies that mask without
 * the kick signal while it runs the guest (KVM_SET_SIGNAL_MASK); output
 * writes unblock it for their duration. The thread's own mask is never
 * changed outside a run. Inside KVM_RUN, a mask changed since the thread's
 * last restore (or first run) applies from the next restore on.
 */
#define SNAPVM_KICK_SIGNAL_REPLACE (1U << 0)
SNAPVM_API int snapvm_set_kick_signal(int signo, unsigned int flags, struct snapvm_error *err);

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

/* The kick signal (see snapvm_set_kick_signal). */
SNAPVM_API int snapvm_kick_signal(void);

/* Copy guest-physical memory as the sandbox sees it (its i686 view includes
 * the guest's private writes). Fails with EX_USAGE outside guest memory. */
SNAPVM_API int snapvm_sandbox_read_gpa(struct snapvm_sandbox *sandbox, uint64_t gpa, void *buf,
				       size_t len, struct snapvm_error *err);

/*
 * Write an ELF core file of the sandbox as it stands, at any stop (the
 * launcher's --core-dump=PATH does at a FAULT or ABORT): ET_CORE, ELF32
 * EM_386 for i686 guests, ELF64 EM_X86_64 for amd64, so that
 * `gdb GUEST.elf CORE` reads it as a Linux core of that architecture:
 * - NT_PRSTATUS with the general registers in gdb's order (i386's 17-entry
 *   elf_gregset_t, x86-64's struct user_regs_struct) and the stop as a
 *   signal (ABORT SIGABRT, an exception or FAULT SIGSEGV, a debugger's
 *   stop SIGTRAP, a timeout SIGALRM, an interrupt SIGINT);
 * - NT_FPREGSET (x86-64: FXSAVE; i386: FSAVE, plus NT_PRXFPREG's FXSAVE);
 * - one PT_LOAD per run of guest-virtual memory, at the GVAs the guest's
 *   code uses: its page tables walked (4-level, PAE or 32-bit), GVA = GPA
 *   with paging off; pages outside guest memory are left out, all-zero
 *   pages are holes in a sparse file (so are pages snapvm.ko cannot charge:
 *   never touched, they read as zero). The walk is bounded: at most 4 times
 *   guest memory's pages are dumped, and page-table pages visited plus
 *   entries read may not exceed those pages plus 2^20; a huge page outside
 *   guest memory costs one entry. A dump cut short at a bound still
 *   succeeds, and then err (status 0) says so; on success its message is
 *   otherwise empty.
 * At an ABORT whose frame argument names the interrupted context (the
 * runtimes' exception handlers pass it, layout/abi.h), the registers are
 * that context's, so a backtrace starts at the faulting instruction.
 * Written atomically, as snapshot files are: an earlier file at path
 * survives any failure. EX_CANTCREAT / EX_IOERR on failure. Under the
 * seccomp filter use snapvm_sandbox_core_dump_at.
 */
SNAPVM_API int snapvm_sandbox_core_dump(struct snapvm_sandbox *sandbox, const char *path,
					struct snapvm_error *err);
/* The same into name in the directory dirfd (see snapvm_output_dir_open). */
SNAPVM_API int snapvm_sandbox_core_dump_at(struct snapvm_sandbox *sandbox, int dirfd,
					   const char *name, struct snapvm_error *err);

/* The launcher's exit status for an outcome: EXIT(n) -> n & 0xff, ABORT and
 * FAULT -> 70, TIMEOUT -> 124, INTERRUPTED -> 130 (SNAPVM_STATUS_*), SIGNAL ->
 * 128 + signal. */
SNAPVM_API int snapvm_outcome_exit_status(const struct snapvm_outcome *outcome);

/*
 * Confine the calling process for good: a seccomp filter (libseccomp,
 * SECCOMP_RET_KILL_PROCESS) that allows only the system calls the library
 * needs to run, restore and destroy sandboxes, write their output and take
 * snapshots. Any other system call, or an allowed one with other arguments,
 * kills the whole process with SIGSYS. No path is opened, renamed or
 * unlinked under it: snapvm_seccomp_install allows none at all, so a
 * snapshot can be taken but not saved to a file.
 * snapvm_seccomp_install_dirs also lets snapvm_snapshot_save_at and
 * snapvm_sandbox_core_dump_at write files in the count directories dirfds
 * (snapvm_output_dir_open): openat, renameat and unlinkat relative to those
 * fds only, and, since seccomp cannot read a path (an absolute one, or
 * "..", ignores the fd), Landlock confines the caller to creating, writing
 * and removing regular files beneath them. Without Landlock (Linux 5.13+,
 * landlock among the active LSMs) it fails closed with EX_UNAVAILABLE, and
 * EX_SOFTWARE when other threads run (Landlock confines the caller only).
 * The library never installs a filter on its own: the launcher does once
 * its sandbox exists (unless --no-seccomp).
 *
 * Call it after set-up: after every snapshot is built or loaded
 * (snapvm_snapshot_from_elf, snapvm_snapshot_load read ELF and snapshot
 * files with calls the filter refuses) and every sandbox the process will
 * need is created. Creating more may happen to work, but is not promised.
 * It cannot be undone, and applies to every thread of the process
 * (SECCOMP_FILTER_FLAG_TSYNC; it fails if a thread runs under a filter of
 * its own); it sets no_new_privs. /dev/snapvm, when present, is opened
 * first and kept for regions made under the filter.
 *
 * Allowed (x86-64 system calls only: any other ABI is killed too; the
 * table in userspace/seccomp.c, checked against this list by a test):
 *   ioctl        ioctl: requests of KVM's type (KVMIO, 0xAE) or snapvm.ko's
 *                (SNAPVM_IOCTL_MAGIC), and TCGETS (is stdout a terminal?)
 *   output       write, writev, fstat, newfstatat (of an fd: AT_EMPTY_PATH
 *                only), close
 *   memory       brk, mmap and mprotect without PROT_EXEC, munmap, mremap,
 *                madvise
 *   snapshots    memfd_create, ftruncate, fcntl(F_ADD_SEALS), pwrite64
 *   output files only with output directories (the _dirs variants):
 *                openat(dir, O_WRONLY | O_CREAT | O_EXCL), renameat and
 *                renameat2 (no flags) within one dir, unlinkat(dir, 0),
 *                getrandom (the temporary name), fsync
 *   timeouts     timer_create, timer_settime, timer_delete, rt_sigaction,
 *                rt_sigprocmask, rt_sigtimedwait, rt_sigreturn,
 *                restart_syscall, gettid
 *   the rest     futex, clock_gettime, getpid, tgkill on this process only
 *                (abort), exit, exit_group
 *   gdb          only with a gdb connection (snapvm_gdb_seccomp_install):
 *                recvfrom and sendto on its connection, poll, ppoll
 *                (poll and ppoll also in a Linux run: a raised signal
 *                wakes its stdin read or sleep)
 *   Linux        only for a Linux program (snapvm_linux_seccomp_install):
 *                read, ioctl(TIOCGWINSZ) on fds 0-2, getrandom, nanosleep,
 *                clock_nanosleep; with --root also openat2 from the root's
 *                fd only, pread64, lseek, getdents64, readlinkat,
 *                faccessat2 (AT_EMPTY_PATH), fcntl(F_DUPFD_CLOEXEC), and
 *                Landlock lets only files beneath the root be read
 * Not allowed, among everything else: open, creat, rename, unlink, link,
 * symlink, mkdir, chmod, truncate, execve, fork and clone (no new threads
 * either), socket and connect, ptrace, kill, tkill, and read outside a
 * Linux program's run.
 *
 * Returns 0, EX_UNAVAILABLE when the kernel lacks what it needs, EX_USAGE
 * for a dirfd that is not open, or EX_OSERR, with a message naming the
 * call that failed.
 */
SNAPVM_API int snapvm_seccomp_install(struct snapvm_error *err);
SNAPVM_API int snapvm_seccomp_install_dirs(const int *dirfds, unsigned int count,
					   struct snapvm_error *err);

/*
 * The gdb remote stub (`snapvm run --gdb=...`): one debugger for one
 * sandbox at a time, speaking gdb's remote serial protocol.
 *
 * snapvm_gdb_listen: where is "PORT" (bound to 127.0.0.1 only; 0 for a
 * free port), "ADDRESS:PORT" (an IPv4 address, to listen elsewhere on
 * purpose) or "unix:PATH" (a socket of mode 0600); address gets what was
 * bound (the port picked for 0), for messages. EX_USAGE for a malformed
 * where, EX_UNAVAILABLE when the port is taken, EX_CANTCREAT when the unix
 * socket cannot be made. There is no authentication: whoever connects
 * first controls the guest, so unix:PATH is the safe choice on a shared
 * host.
 * snapvm_gdb_accept waits for gdb and takes its one connection (the
 * listening socket, and a unix socket's file, go away then).
 *
 * snapvm_gdb_run runs the sandbox like snapvm_sandbox_run, under gdb: the
 * first run is held where it stands (a fresh sandbox at the guest's entry
 * point, a snapshot file where it resumes) until gdb continues or steps.
 * It serves qSupported, the target description (qXfer:features:read,
 * i386 or i386:x86-64 with the core, sse and, amd64, segments features),
 * g/G/p/P (general registers, RIP and RFLAGS writable; segment and FPU
 * registers read-only), m/M on guest-virtual memory through the guest's
 * page tables (E14 outside guest memory; M refused where the host may not
 * write, the amd64 snapshot before the guest's copy-on-write), Z0/z0 and
 * Z1/z1 through KVM_SET_GUEST_DEBUG, s, c, ?, D (the guest runs on alone),
 * k and Ctrl-C. A breakpoint takes one of the four debug registers, else an
 * int3 where the host may write guest memory (kept in memory only while
 * the guest runs, taken out of the page it went into, which joins the next
 * restore's pages), else single steps that compare RIP: each only where a
 * probe at snapvm_gdb_listen (a throw-away real-mode VM) saw KVM honour it.
 * A run is cut into 50 ms slices to see Ctrl-C between them; the timeout
 * counts the time the guest ran. An ABORT or FAULT is held for gdb first
 * (SIGSEGV with the faulting context when the runtime's exception handler
 * aborted, else SIGABRT or SIGSEGV), and ends the run when gdb resumes.
 * Breakpoints stay across runs and restores. Garbage outside packets gets
 * a NAK ("-"), a bad checksum a NAK, an unknown packet the empty reply, a
 * malformed one "E01" (and nothing changes), and a packet over 16 KiB
 * closes the connection (the guest then runs on alone, as after D).
 *
 * snapvm_gdb_killed: gdb sent k (the run ended SNAPVM_STOP_INTERRUPTED,
 * "killed by gdb"). snapvm_gdb_end tells a gdb that waits for the guest
 * that it exited with status (W), closes and frees everything.
 * snapvm_gdb_seccomp_install is snapvm_seccomp_install plus recvfrom and
 * sendto on the connection's socket, and poll/ppoll; _dirs is that of
 * snapvm_seccomp_install_dirs.
 */
struct snapvm_gdb;
SNAPVM_API int snapvm_gdb_listen(const char *where, struct snapvm_gdb **gdb, char *address,
				 size_t size, struct snapvm_error *err);
SNAPVM_API int snapvm_gdb_accept(struct snapvm_gdb *gdb, struct snapvm_error *err);
SNAPVM_API int snapvm_gdb_seccomp_install(struct snapvm_gdb *gdb, struct snapvm_error *err);
SNAPVM_API int snapvm_gdb_seccomp_install_dirs(struct snapvm_gdb *gdb, const int *dirfds,
					       unsigned int count, struct snapvm_error *err);
SNAPVM_API int snapvm_gdb_run(struct snapvm_gdb *gdb, struct snapvm_sandbox *sandbox,
			      uint64_t timeout_ms, struct snapvm_outcome *outcome,
			      struct snapvm_error *err);
SNAPVM_API bool snapvm_gdb_killed(const struct snapvm_gdb *gdb);
SNAPVM_API void snapvm_gdb_end(struct snapvm_gdb *gdb, int status);

/* What the host offers: for `snapvm info` and for tests that must SKIP. */
struct snapvm_host_info {
	int kvm_api_version;	 /* -errno when /dev/kvm cannot be used */
	int module_api_version;	 /* -errno when /dev/snapvm cannot be used */
	int module_features;	 /* SNAPVM_GET_FEATURES bits (uapi/snapvm.h) */
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

/*
 * Linux programs as guests (docs/linux.md): an unmodified static Linux
 * executable (ELF32 i386 -> i686 layout, ELF64 x86-64 -> amd64) runs in
 * ring 3 under the Linux personality, a small ring-0 guest kernel embedded
 * in libsnapvm that answers its system calls, most of them without leaving
 * the guest. I/O goes through host calls that snapvm_linux_attach
 * registers on a sandbox.
 *
 *	struct snapvm_linux_options o = {.argv = argv};	// argv[0] first
 *	snapvm_linux_create("busybox", &o, &lx, &err);
 *	snapvm_linux_snapshot(lx, SNAPVM_MEMORY_AUTO, &snap, &err);
 *	snapvm_sandbox_create(snap, NULL, &sb, &err);
 *	snapvm_linux_attach(lx, sb, &err);
 *	snapvm_sandbox_run(sb, 0, &outcome, &err);	// stdin, stdout, stderr
 *
 * snapvm_linux_classify: *is_linux is true for a Linux program: an ELF file
 * without snapvm's note (SNAPVM_NOTE_NAME, which the guest runtime emits)
 * that has PT_INTERP, PT_TLS, PT_GNU_STACK or PT_GNU_RELRO, or ELFOSABI_GNU.
 * snapvm_linux_create refuses a dynamically linked program (PT_INTERP), a
 * truncated or hostile ELF, a segment outside the user range or W+X
 * (EX_DATAERR, naming the reason). program may be NULL for a sandbox made
 * from a snapshot file that already holds the program.
 * snapshot_at: SNAPVM_LINUX_SNAPSHOT_ENTRY stops at SNAPSHOT before the
 * program's first instruction (argv, envp and AT_RANDOM are then taken per
 * run, from snapvm_linux_set_args); FIRST_READ at the program's first read
 * of stdin, which each restore performs again with its own input.
 * max_memory bounds the program's memory (brk, mmap, stack; default 256
 * MiB): past it, its calls fail with ENOMEM.
 * root (--root) is opened once, at create (EX_NOINPUT when it is no
 * directory); every path of the program is resolved by the host inside it
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: "..", absolute
 * symlinks and /proc stay inside), read-only: writes and creation give
 * EROFS. Files it opened are closed at its exit and at every restore.
 */
enum snapvm_linux_snapshot_at {
	SNAPVM_LINUX_SNAPSHOT_NONE = 0,
	SNAPVM_LINUX_SNAPSHOT_ENTRY,
	SNAPVM_LINUX_SNAPSHOT_FIRST_READ,
};
struct snapvm_linux_options {
	const char *const *argv; /* NULL-terminated, argv[0] first */
	const char *const *envp; /* NULL-terminated, or NULL: empty */
	bool trace_syscalls;	 /* strace-like lines on stderr */
	int snapshot_at;	 /* enum snapvm_linux_snapshot_at */
	uint64_t max_memory;	 /* bytes; 0 = 256 MiB */
	const char *root;	 /* a directory the program sees read-only as /;
				  * NULL: no path exists (ENOENT) */
	/* Added for snapvm-runc (process.cwd, hostname); NULL = "/" and
	 * "snapvm". cwd: absolute, cleaned lexically, at most 1023 bytes, a
	 * directory of root when root is set (EX_NOINPUT if not); getcwd
	 * answers it and relative paths start there (still inside root).
	 * hostname: uname's nodename, at most 64 bytes (EX_USAGE). */
	const char *cwd;
	const char *hostname;
};
struct snapvm_linux;
SNAPVM_API int snapvm_linux_classify(const char *path, bool *is_linux, struct snapvm_error *err);
SNAPVM_API int snapvm_linux_create(const char *program, const struct snapvm_linux_options *options,
				   struct snapvm_linux **linux_state, struct snapvm_error *err);
SNAPVM_API void snapvm_linux_destroy(struct snapvm_linux *linux_state);
/* enum snapvm_layout_id of the program */
SNAPVM_API uint32_t snapvm_linux_layout(const struct snapvm_linux *linux_state);
/* The personality's snapshot for the program (its layout, scratch sized
 * for max_memory); the program is loaded when a sandbox of it first runs. */
SNAPVM_API int snapvm_linux_snapshot(struct snapvm_linux *linux_state, enum snapvm_memory memory,
				     struct snapvm_snapshot **snapshot, struct snapvm_error *err);
/* Does the snapshot hold the Linux personality (a snapshot file of it)? */
SNAPVM_API bool snapvm_snapshot_is_linux(const struct snapvm_snapshot *snapshot);
/* Serve the personality's host calls of this sandbox from linux_state,
 * which must outlive the sandbox. */
SNAPVM_API int snapvm_linux_attach(struct snapvm_linux *linux_state, struct snapvm_sandbox *sandbox,
				   struct snapvm_error *err);
SNAPVM_API int snapvm_linux_set_args(struct snapvm_linux *linux_state, const char *const *argv,
				     const char *const *envp, struct snapvm_error *err);
/* Where the program's stdin comes from: buf (len bytes, then end of file)
 * when buf is not NULL, else fd (-1: end of file at once). */
SNAPVM_API void snapvm_linux_set_input(struct snapvm_linux *linux_state, int fd, const void *buf,
				       size_t len);
/*
 * One request: restore the sandbox to its snapshot, give the program in_len
 * bytes of stdin, collect at most out_cap bytes of its stdout into out
 * (*out_len), and its exit status in *status (as the launcher's: exit code,
 * 128+signal, 124 timeout, 70 fault). stderr goes to the process's stderr.
 * More output than out_cap fails with EX_DATAERR. timeout_ms 0 = none.
 */
SNAPVM_API int snapvm_linux_request(struct snapvm_sandbox *sandbox,
				    struct snapvm_linux *linux_state, const void *in, size_t in_len,
				    void *out, size_t out_cap, size_t *out_len, int *status,
				    uint64_t timeout_ms, struct snapvm_error *err);
/*
 * A signal for the program, as kill(2) would send it (si_code SI_USER).
 * Async-signal-safe: callable from a signal handler or any thread, while
 * the sandbox runs or between runs (the next run takes it). What happens is
 * what Linux does:
 * - a handler the program installed runs in the guest and the program goes
 *   on: while it computes (the vCPU is interrupted) or while it waits in a
 *   read of stdin or a sleep (that call gives EINTR, or starts again under
 *   SA_RESTART); a signal the program blocks waits until it unblocks it;
 * - SIG_IGN, or a default action of nothing (SIGCHLD, SIGWINCH, ...): nothing;
 * - SIG_DFL that terminates (SIGTERM, SIGINT, SIGHUP, SIGUSR1, ...): the run
 *   ends with SNAPVM_STOP_SIGNAL (outcome.code = signo, exit status 128 +
 *   signo), without entering the guest;
 * - SIGKILL: the run ends so at once, whatever the program does.
 * The personality tells the host its dispositions only when rt_sigaction
 * or the mask changes them. snapvm_linux_request drops signals raised
 * before it (none leaks into the next request); the program's own signal
 * state (handlers, mask, pending) is part of its snapshot.
 */
SNAPVM_API void snapvm_linux_raise(struct snapvm_linux *linux_state, int signo);
/*
 * snapvm_seccomp_install_dirs (output files in the count directories
 * dirfds) plus the host calls of linux_state's program: its stdin, the
 * terminal queries on stdio, randomness, sleep and, with a root, its files
 * (openat2 from the root's fd only; Landlock lets the process read only
 * beneath the root, so with a root it needs Landlock even without
 * dirfds). Call it once the program's sandboxes are created and attached,
 * before they first run; the same rules as snapvm_seccomp_install apply
 * (for good, every thread, EX_UNAVAILABLE without what it needs, EX_USAGE
 * for a NULL linux_state or a dirfd that is not open).
 */
SNAPVM_API int snapvm_linux_seccomp_install(struct snapvm_linux *linux_state, const int *dirfds,
					    unsigned int count, struct snapvm_error *err);

#endif /* SNAPVM_USERSPACE_SNAPVM_H */
