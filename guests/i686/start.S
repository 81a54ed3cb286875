/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * start.S - i686 guest entry and exception stubs. Entry state (the VMM's
 * contract): 32-bit protected mode, paging off, EBX = boot-info GPA (= GVA),
 * ESP = 16-byte aligned top of a stack in scratch, IF=0, IDTR limit 0.
 */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	/* struct rt_entry_regs on the stack: sp, flags, idtr (6 bytes). */
	sub $16, %esp
	pushfl
	popl 4(%esp)
	lea 16(%esp), %eax
	mov %eax, 0(%esp)
	sidt 8(%esp)
	cld
	xor %ebp, %ebp
	mov %esp, %eax
	sub $8, %esp		/* keep the call site 16-byte aligned */
	push %eax		/* rt_start(boot_info, entry) */
	push %ebx
	call rt_start
	ud2
	.size _start, . - _start

	.macro isr_noerr n
	.type isr\n, @function
isr\n:
	pushl $0
	pushl $\n
	jmp isr_common
	.endm
	.macro isr_err n
	.type isr\n, @function
isr\n:
	pushl $\n
	jmp isr_common
	.endm

	.text
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31
	isr_noerr \n
	.endr
	.irp n, 8, 10, 11, 12, 13, 14, 17, 21, 29, 30
	isr_err \n
	.endr

/* Build struct rt_frame (lib/rt_arch.h) and call rt_exception(frame). */
isr_common:
	pushal
	mov %esp, %eax
	push %eax
	cld
	call rt_exception
	add $4, %esp
	popal
	add $8, %esp		/* vector, error code */
	iret

	.section .rodata
	.balign 4
	.globl rt_isr_table
rt_isr_table:
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.long isr\n
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
