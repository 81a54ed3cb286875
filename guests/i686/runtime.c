/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * runtime.c - the i686 part of the guest runtime: the IDT, whose handlers
 * turn any exception into an ABORT naming the vector, EIP and error code.
 * Paging is off, so there is no copy-on-write here: the snapshot view is
 * writable and the host copies its pages.
 */
#include "guests/include/rt.h"
#include "guests/lib/rt_arch.h"

void rt_arch_fill_idt(void *idt)
{
	uint16_t cs = RT_READ_SEGMENT(cs);
	uint64_t *gate = idt;

	for (int v = 0; v < RT_ARCH_IDT_ENTRIES; v++, gate++) {
		uint32_t isr = rt_isr_table[v];

		/* 32-bit interrupt gate, present, DPL 0. */
		*gate = (isr & 0xffff) | ((uint64_t)cs << 16) | (0x8eULL << 40) |
			((uint64_t)(isr >> 16) << 48);
	}
}

void rt_exception(struct rt_frame *f)
{
	struct rt_state *s = rt_state();

	/* rt_rdmsr_safe and friends: resume where they asked. */
	if (s->probe_recover) {
		s->probe_fault = f->vector + 1;
		s->probe_error = f->error;
		f->ip = s->probe_recover;
		s->probe_recover = 0;
		return;
	}
	rt_abort_frame(128 + (int)f->vector, f, "guest exception %u (%s): EIP=0x%x error=0x%x",
		       (unsigned)f->vector, rt_exception_name(f->vector), (unsigned)f->ip,
		       (unsigned)f->error);
}
