/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * amd64.S - the Linux personality's entry points on amd64: _start (the
 * VMM's entry state: long mode, ring 0, RDI = boot info, RSP = scratch
 * stack), `syscall` from ring 3 (LSTAR), the exception stubs, and the way
 * back to ring 3. Every entry builds a struct lx_frame (lx.h) on the
 * personality's stack and calls C with its address; the way out restores
 * the (possibly changed) frame with iretq.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	jmp 1f
	.asciz "snapvm-linux-personality-1"
1:	cld
	xor %ebp, %ebp
	mov %rsp, %rsi
	call lx_boot		/* lx_boot(boot_info, stack_top): never returns */
	ud2

	.text
/*
 * syscall: RCX = user RIP, R11 = user RFLAGS, RSP still the user's. One
 * vCPU and no interrupts (SFMASK clears IF), so a global holds the user
 * RSP while the kernel stack is loaded.
 */
	.globl lx_syscall_entry
lx_syscall_entry:
	mov %rsp, lx_user_rsp(%rip)
	mov lx_kstack_top(%rip), %rsp
	pushq $0x1b		/* ss: user data */
	pushq lx_user_rsp(%rip)
	push %r11		/* rflags */
	pushq $0x23		/* cs: user code */
	push %rcx		/* rip */
	pushq $0		/* error */
	pushq $-1		/* vector: a system call */
	jmp frame_common

	.macro isr_noerr n
isr\n:
	pushq $0
	pushq $\n
	jmp frame_common
	.endm
	.macro isr_err n
isr\n:
	pushq $\n
	jmp frame_common
	.endm
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31
	isr_noerr \n
	.endr
	.irp n, 8, 10, 11, 12, 13, 14, 17, 21, 29, 30
	isr_err \n
	.endr

/* LX_SIGNAL_VECTOR (layout/linux.h): the host injects it for a signal. */
	.globl lx_signal_entry
lx_signal_entry:
	pushq $0
	pushq $0x81
	jmp frame_common

frame_common:
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
	call lx_trap		/* lx_trap(frame) */
	/* fall through: back to whatever the frame says */
	.globl lx_frame_return
lx_frame_return:
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
	add $16, %rsp
	iretq

/* lx_enter(frame): RSP = frame (a struct lx_frame at the kernel stack's
 * top), then out through lx_frame_return. */
	.globl lx_enter
lx_enter:
	mov %rdi, %rsp
	jmp lx_frame_return

	.section .rodata
	.balign 8
	.globl lx_isr_table
lx_isr_table:
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.quad isr\n
	.endr

	.section .note.GNU-stack, "", @progbits
