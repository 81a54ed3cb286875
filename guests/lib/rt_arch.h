/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rt_arch.h - what the arch-neutral runtime (lib/runtime.c) needs from each
 * arch's runtime (i686/, amd64/): the IDT format and the entry point.
 */
#ifndef SNAPVM_GUEST_RT_ARCH_H
#define SNAPVM_GUEST_RT_ARCH_H

#include "guests/include/rt.h"

/* Exceptions 0-31 get a handler; other vectors never arrive (IF=0). */
#define RT_ARCH_IDT_ENTRIES 32
#if defined(__x86_64__)
#define RT_ARCH_IDT_ENTRY_SIZE 16
#else
#define RT_ARCH_IDT_ENTRY_SIZE 8
#endif

/* The exception frame start.S builds: general registers (as pushed), the
 * vector and error code (0 when the CPU pushes none), then the CPU's frame.
 * It is the ABI's fault frame (layout/abi.h), which ABORT hands the VMM. */
#if defined(__x86_64__)
#define rt_frame snapvm_fault_frame_amd64
#else
#define rt_frame snapvm_fault_frame_i686
#endif

/* Entry stubs for vectors 0..RT_ARCH_IDT_ENTRIES-1 (start.S). */
extern const uintptr_t rt_isr_table[RT_ARCH_IDT_ENTRIES];

/* Called by start.S with the boot info and the entry registers. */
__attribute__((noreturn)) void rt_start(struct snapvm_boot_info *bi,
					const struct rt_entry_regs *entry);
/* Fill the IDT page with gates to rt_isr_table. */
void rt_arch_fill_idt(void *idt);
/* Called by start.S for every exception. */
void rt_exception(struct rt_frame *frame);
/* ABORT from an exception handler: the VMM's core dumps show frame. */
__attribute__((noreturn, format(printf, 3, 4))) void
rt_abort_frame(int code, const struct rt_frame *frame, const char *fmt, ...);
/* Name of an exception vector, e.g. "#PF". */
const char *rt_exception_name(uintptr_t vector);

#endif /* SNAPVM_GUEST_RT_ARCH_H */
