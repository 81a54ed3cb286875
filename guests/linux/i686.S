/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * i686.S - the Linux personality's entry points on i686: _start (the VMM's
 * entry state: protected mode, paging off, ring 0, EBX = boot info, ESP =
 * scratch stack), `int $0x80` from ring 3, the exception stubs, and the way
 * back to ring 3. Every entry builds a struct lx_frame (lx.h); the data
 * segment registers are the user's own and are saved in the frame, the
 * personality runs on its flat data segment.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	jmp 1f
	.asciz "snapvm-linux-personality-1"
1:	cld
	xor %ebp, %ebp
	mov %esp, %eax
	push %eax		/* stack_top */
	push %ebx		/* boot_info */
	call lx_boot
	ud2

	.text
	.macro isr_noerr n
isr\n:
	pushl $0
	pushl $\n
	jmp frame_common
	.endm
	.macro isr_err n
isr\n:
	pushl $\n
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
	pushl $0
	pushl $0x81
	jmp frame_common

	.globl lx_int80_entry
lx_int80_entry:
	pushl $0
	pushl $-1		/* vector: a system call */
frame_common:
	pushal
	push %ds
	push %es
	push %fs
	push %gs
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	push %esp
	cld
	call lx_trap		/* lx_trap(frame) */
	add $4, %esp
	.globl lx_frame_return
lx_frame_return:
	pop %gs
	pop %fs
	pop %es
	pop %ds
	popal
	add $8, %esp
	iret

/* lx_enter(frame): ESP = frame, then out through lx_frame_return. */
	.globl lx_enter
lx_enter:
	mov 4(%esp), %esp
	jmp lx_frame_return

	.section .rodata
	.balign 4
	.globl lx_isr_table
lx_isr_table:
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.long isr\n
	.endr

	.section .note.GNU-stack, "", @progbits
