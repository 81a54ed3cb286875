/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * start.S - amd64 guest entry and exception stubs. Entry state (the VMM's
 * contract): long mode, RDI = boot-info GVA, RSP = 16-byte aligned top of a
 * stack in scratch, IF=0, IDTR limit 0.
 */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	/* struct rt_entry_regs on the stack (scratch), before anything runs:
	 * sp, flags, idtr (10 bytes); 32 bytes keep RSP 16-byte aligned. */
	sub $32, %rsp
	pushfq
	popq 8(%rsp)
	lea 32(%rsp), %rax
	mov %rax, 0(%rsp)
	sidt 16(%rsp)
	cld
	xor %ebp, %ebp
	mov %rsp, %rsi		/* rt_start(boot_info = RDI, entry) */
	call rt_start
	ud2
	.size _start, . - _start

/* Vectors with a CPU-pushed error code get none pushed here. */
	.macro isr_noerr n
	.type isr\n, @function
isr\n:
	pushq $0
	pushq $\n
	jmp isr_common
	.endm
	.macro isr_err n
	.type isr\n, @function
isr\n:
	pushq $\n
	jmp isr_common
	.endm

	.text
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31
	isr_noerr \n
	.endr
	.irp n, 8, 10, 11, 12, 13, 14, 17, 21, 29, 30
	isr_err \n
	.endr

/* Build struct rt_frame (lib/rt_arch.h) and call rt_exception(frame). The
 * CPU aligned RSP to 16 before its 40-byte frame; error code, vector and 15
 * registers make the call site 16-byte aligned again. */
isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call rt_exception
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp		/* vector, error code */
	iretq

/*
 * rt_probe_access(kind = RDI, addr = RSI, recover slot = RDX): one access to
 * addr; the exception handler resumes a faulting access at 9: (it clears the
 * slot itself). An exec probe that faults leaves its return address pushed,
 * so the `ret` at 9: returns to 8: first, then to the caller.
 */
	.globl rt_probe_access
	.type rt_probe_access, @function
rt_probe_access:
	lea 9f(%rip), %rax
	mov %rax, (%rdx)
	cmp $1, %edi
	je 2f
	cmp $2, %edi
	je 3f
	movb (%rsi), %al
	jmp 8f
2:	movb (%rsi), %al
	movb %al, (%rsi)
	jmp 8f
3:	call *%rsi
8:	movq $0, (%rdx)
9:	ret
	.size rt_probe_access, . - rt_probe_access

	.section .rodata
	.balign 8
	.globl rt_isr_table
rt_isr_table:
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.quad isr\n
	.endr

/* "This is a snapvm guest" (layout/abi.h SNAPVM_NOTE_NAME/TYPE): snapvm run
 * tells it from a Linux program by this note. */
	.section .note.snapvm, "a", @note
	.balign 4
	.long 7			/* namesz: "snapvm\0" */
	.long 0			/* descsz */
	.long 0x534e4150	/* type */
	.asciz "snapvm"
	.balign 4

	.section .note.GNU-stack, "", @progbits
