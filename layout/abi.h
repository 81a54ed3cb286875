/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * abi.h - the guest ABI shared by the VMM (userspace/) and the guests
 * (guests/): I/O ports, hypercall numbers and the boot-info block.
 * Pure C, no libc beyond <stdint.h>: guests include it freestanding, with
 * -m32 or -m64, so every field has a fixed size and offset.
 */
#ifndef SNAPVM_LAYOUT_ABI_H
#define SNAPVM_LAYOUT_ABI_H

#include <stdint.h>

/* `out %al, $0xe9`: one byte to the console (the launcher's stdout); the
 * Bochs/QEMU debug-console port, so the same guest prints under QEMU too. */
#define SNAPVM_PORT_CONSOLE 0xe9

/*
 * Hypercall: `mov $SNAPVM_PORT_HYPERCALL, %dx; out %eax, %dx`.
 * Number in EAX/RAX; arguments in EBX/RBX, ECX/RCX, ESI/RSI, EDI/RDI (EDX
 * holds the port); the result comes back in EAX/RAX. The port is above the
 * legacy PC ports so no emulated device in KVM claims it.
 */
#define SNAPVM_PORT_HYPERCALL 0x500

/* EXIT(code): the sandbox stops; the launcher exits with code & 0xff. */
#define SNAPVM_HC_EXIT 0
/* WRITE(gva, len): len bytes to stdout; returns len, -EFAULT when any
 * byte is not mapped readable in the guest (nothing is written then), or
 * -EINVAL when len exceeds SNAPVM_WRITE_MAX. */
#define SNAPVM_HC_WRITE 1
/* One WRITE's limit: the VMM copies outside KVM_RUN, where --timeout cannot
 * stop it, so a guest whose page tables alias one page many times over must
 * not make it copy without end. */
#define SNAPVM_WRITE_MAX (16U << 20)
/* SNAPSHOT(): returns 0 when the snapshot was just taken, 1 when the guest
 * resumes from a restore of it. */
#define SNAPVM_HC_SNAPSHOT 2
/* ABORT(code, gva of a NUL-terminated message, frame): a guest-detected
 * fatal error; the launcher prints the message on stderr and exits 70.
 * frame is 0, or, when an exception handler aborts, the GVA of the
 * interrupted context (struct snapvm_fault_frame_*): core dumps show that
 * context, so a debugger's backtrace starts at the faulting instruction. */
#define SNAPVM_HC_ABORT 3
/* CALL_WAIT(result): the guest's call loop reports the result of the call
 * it just ran (ignored on the first wait) and waits for the next call,
 * whose function number and argument come back in boot_info.call. */
#define SNAPVM_HC_CALL_WAIT 4

/*
 * HOST_CALL(function, in_gva, in_len, out_gva) with out_cap in EBP/RBP (the
 * fifth argument register, as in Linux's i386 system calls): runs the host
 * function the embedder registered under that number
 * (snapvm_sandbox_set_host_function) with in_len bytes from in_gva, and
 * copies what it returns to out_gva. Both buffers are GVAs translated like
 * WRITE's; the output must be mapped writable (amd64: touch a copy-on-write
 * page first). Returns the number of bytes written to out_gva, or -errno:
 * -ENOSYS for a number nobody registered, -EFAULT for a buffer that is not
 * mapped, -EINVAL for one over SNAPVM_HOST_CALL_MAX, or the host function's
 * own -errno.
 */
#define SNAPVM_HC_HOST_CALL  5
#define SNAPVM_HOST_CALL_MAX (1U << 20)

/* The hypercall results are Linux errno values, negated. Guest memory the
 * host cannot provide when the VMM touches it for a hypercall (a snapvm.ko
 * page that cannot be charged) is no result: the run ends with a host
 * error (the launcher exits 71). */
#define SNAPVM_EFAULT 14
#define SNAPVM_ENOSYS 38
#define SNAPVM_EINVAL 22

/*
 * GDT selectors at entry, in both layouts: the VMM's GDT holds a null
 * descriptor, then flat 4 GiB ring-0 code and data (amd64 adds its TSS, see
 * layout/amd64.h). A guest reloading its segment registers uses these.
 */
#define SNAPVM_SELECTOR_CODE 0x08
#define SNAPVM_SELECTOR_DATA 0x10

/* ABORT's frame: the registers as the runtimes' exception stubs push them
 * (guests/<arch>/start.S, struct rt_frame), then the CPU's own frame. */
struct snapvm_fault_frame_amd64 {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t ip, cs, flags, sp, ss;
};
/* pushal's order; an exception at the same privilege pushes no SS:ESP, so
 * the interrupted ESP is just above this frame. */
struct snapvm_fault_frame_i686 {
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t ip, cs, flags;
};

/* The ELF note snapvm's guest runtime emits (a PT_NOTE named "snapvm"):
 * it tells a snapvm guest from a Linux program, which `snapvm run` runs
 * under the Linux personality instead (userspace/linux.c). */
#define SNAPVM_NOTE_NAME "snapvm"
#define SNAPVM_NOTE_TYPE 0x534e4150

/* Longest ABORT message the VMM reads. */
#define SNAPVM_ABORT_MSG_MAX 1024

#define SNAPVM_BOOT_MAGIC   0x4d56504e /* "NPVM" */
#define SNAPVM_BOOT_VERSION 2

/* Each way of a buffer call's I/O area, unless the snapshot options say
 * otherwise (smaller when the free scratch area is short of room). */
#define SNAPVM_DEFAULT_IO_SIZE (64U << 10)

enum snapvm_layout_id {
	SNAPVM_LAYOUT_I686 = 1,
	SNAPVM_LAYOUT_AMD64 = 2,
};

/* A pending call for the guest's call loop (see SNAPVM_HC_CALL_WAIT). */
struct snapvm_call {
	uint64_t function; /* guest-defined function number */
	uint64_t arg;
};

/*
 * The boot-info block: in scratch, written by the VMM before the first
 * instruction; EBX (i686) / RDI (amd64) holds its guest-virtual address.
 * Addresses are guest-physical (gpa) or guest-virtual (gva); in i686 with
 * paging off they are equal.
 */
struct snapvm_boot_info {
	uint32_t magic;	  /* SNAPVM_BOOT_MAGIC */
	uint32_t version; /* SNAPVM_BOOT_VERSION */
	uint32_t layout;  /* enum snapvm_layout_id */
	uint32_t reserved0;
	uint64_t snapshot_gpa;
	uint64_t snapshot_size;
	uint64_t scratch_gpa;
	uint64_t scratch_gva;
	uint64_t scratch_size;
	/* The part of scratch the guest may use freely: after the VMM's own
	 * structures (boot info, page tables, GDT, TSS) and below the stack. */
	uint64_t scratch_free_gva;
	uint64_t scratch_free_size;
	/* amd64: where the snapshot's pristine page tables are visible
	 * (read-only); 0 in i686. */
	uint64_t snapshot_pt_gva;
	/* Clones must not share secrets: each sandbox gets its own seed, and
	 * every restore bumps the generation so the guest can re-seed. */
	uint64_t random_seed;
	uint64_t generation;
	struct snapvm_call call;
	/* Buffer calls (snapvm_sandbox_call_buffer): the VMM puts the input
	 * at io_in_gva and its length in call.arg; the guest puts its output
	 * at io_out_gva and reports its length with CALL_WAIT. Each area is
	 * io_size bytes of scratch, carved from the front of the free area. */
	uint64_t io_in_gva;
	uint64_t io_out_gva;
	uint64_t io_size;
};

#endif /* SNAPVM_LAYOUT_ABI_H */
