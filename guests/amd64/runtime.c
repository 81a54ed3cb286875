/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * runtime.c - the amd64 part of the guest runtime: the IDT, the #PF handler
 * that copies snapshot pages on write (guest-aided copy-on-write), and the
 * page-table helpers it and the test guests share.
 *
 * The snapshot's writable segments are mapped read-only with AMD64_PTE_COW:
 * the first write to such a page faults, and the handler copies the page
 * into free scratch and maps the copy writable. The snapshot region itself
 * (a read-only memslot) is never written. The handler runs on the stack of
 * the faulting code and touches only scratch (rt_state()), never .data/.bss.
 */
#include "guests/include/rt.h"
#include "guests/lib/rt_arch.h"

/* #PF error code bits (Intel SDM vol. 3 4.7). */
#define PF_PRESENT  (1u << 0)
#define PF_WRITE    (1u << 1)
#define PF_RESERVED (1u << 3)
#define PF_FETCH    (1u << 4)

#define PT_ENTRIES 512
#define PT_LEVELS  4

void rt_arch_fill_idt(void *idt)
{
	uint16_t cs = RT_READ_SEGMENT(cs);
	uint64_t *gate = idt;

	for (int v = 0; v < RT_ARCH_IDT_ENTRIES; v++, gate += 2) {
		uint64_t isr = rt_isr_table[v];

		/* 64-bit interrupt gate, present, DPL 0, no IST. */
		gate[0] = (isr & 0xffff) | ((uint64_t)cs << 16) | (0x8eULL << 40) |
			  ((isr >> 16 & 0xffff) << 48);
		gate[1] = isr >> 32;
	}
}

/* GVA of a page-table page: the live tables are all in scratch. */
static uint64_t *table_gva(uint64_t entry)
{
	const struct snapvm_boot_info *bi = rt_boot_info();
	uint64_t gpa = entry & AMD64_PTE_ADDR_MASK;

	if (gpa < bi->scratch_gpa || gpa - bi->scratch_gpa >= bi->scratch_size)
		rt_abortf(1, "runtime: page table at GPA 0x%llx is outside scratch",
			  (unsigned long long)gpa);
	return (uint64_t *)(uintptr_t)(gpa - bi->scratch_gpa + bi->scratch_gva);
}

static unsigned pt_index(uint64_t gva, int level)
{
	return (gva >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

/* Walk to the leaf PTE of gva; with create, missing tables are allocated
 * (present + writable: the leaf alone decides the rights). NULL when a
 * level is missing (without create) or a huge page maps gva. */
static uint64_t *walk(uint64_t gva, int create)
{
	uint64_t *table = table_gva(rt_read_cr3());

	for (int level = PT_LEVELS; level > 1; level--) {
		uint64_t *entry = &table[pt_index(gva, level)];

		if (!(*entry & AMD64_PTE_PRESENT)) {
			if (!create)
				return NULL;
			*entry =
			    rt_scratch_gpa(rt_alloc_page()) | AMD64_PTE_PRESENT | AMD64_PTE_WRITE;
		} else if (*entry & AMD64_PTE_HUGE) {
			return NULL;
		}
		table = table_gva(*entry);
	}
	return &table[pt_index(gva, 1)];
}

uint64_t *rt_amd64_pte(uint64_t gva)
{
	uint64_t *pte = walk(gva, 0);

	return pte && (*pte & AMD64_PTE_PRESENT) ? pte : NULL;
}

int rt_amd64_map_page(uint64_t gva, uint64_t gpa, uint64_t pte_bits)
{
	uint64_t *pte = walk(gva, 1);

	if (!pte || (*pte & AMD64_PTE_PRESENT))
		return -1;
	*pte = (gpa & AMD64_PTE_ADDR_MASK) | pte_bits | AMD64_PTE_PRESENT;
	rt_invlpg(gva);
	return 0;
}

void rt_amd64_unmap_page(uint64_t gva)
{
	uint64_t *pte = walk(gva, 0);

	if (pte) {
		*pte = 0;
		rt_invlpg(gva);
	}
}

/* Copy-on-write: a write to a present, read-only PTE marked AMD64_PTE_COW.
 * Returns 1 when the page was copied and the write can be retried. */
static int copy_on_write(struct rt_state *s, uint64_t cr2, uint64_t error)
{
	uint64_t page = cr2 & ~(uint64_t)(RT_PAGE_SIZE - 1);
	uint64_t *pte;
	void *copy;

	if ((error & (PF_PRESENT | PF_WRITE | PF_RESERVED | PF_FETCH)) != (PF_PRESENT | PF_WRITE))
		return 0;
	pte = rt_amd64_pte(cr2);
	if (!pte || !(*pte & AMD64_PTE_COW) || (*pte & AMD64_PTE_WRITE))
		return 0;
	copy = rt_alloc_page_nozero();
	memcpy(copy, (const void *)(uintptr_t)page, RT_PAGE_SIZE);
	/* Keep NX and the other bits; the copy is private, so no more CoW. */
	*pte = (*pte & ~(AMD64_PTE_ADDR_MASK | AMD64_PTE_COW)) | rt_scratch_gpa(copy) |
	       AMD64_PTE_WRITE;
	rt_invlpg(page);
	s->cow_copies++;
	return 1;
}

void rt_exception(struct rt_frame *f)
{
	struct rt_state *s = rt_state();
	uint64_t cr2 = f->vector == 14 ? rt_read_cr2() : 0;

	if (f->vector == 14 && copy_on_write(s, cr2, f->error))
		return;
	if (s->probe_recover) {
		s->probe_fault = f->vector + 1;
		s->probe_error = f->error;
		s->probe_cr2 = cr2;
		f->ip = s->probe_recover;
		s->probe_recover = 0;
		return;
	}
	if (f->vector == 14)
		rt_abort_frame(128 + 14, f,
			       "guest page fault: CR2=0x%llx RIP=0x%llx error=0x%llx (%s, %s%s)",
			       (unsigned long long)cr2, (unsigned long long)f->ip,
			       (unsigned long long)f->error,
			       f->error & PF_PRESENT ? "protection" : "not present",
			       f->error & PF_FETCH   ? "fetch"
			       : f->error & PF_WRITE ? "write"
						     : "read",
			       f->error & PF_RESERVED ? ", reserved bit" : "");
	rt_abort_frame(128 + (int)f->vector, f,
		       "guest exception %llu (%s): RIP=0x%llx error=0x%llx",
		       (unsigned long long)f->vector, rt_exception_name(f->vector),
		       (unsigned long long)f->ip, (unsigned long long)f->error);
}

void rt_probe_access(int kind, uintptr_t addr, uintptr_t *recover);

int rt_probe(enum rt_probe_kind kind, uintptr_t addr)
{
	struct rt_state *s = rt_state();

	s->probe_fault = 0;
	s->probe_error = 0;
	s->probe_cr2 = 0;
	rt_probe_access(kind, addr, &s->probe_recover);
	s->probe_recover = 0;
	return (int)s->probe_fault;
}
