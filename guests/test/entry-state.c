/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * entry-state.c - checks the VMM's entry-state contract from inside: control
 * registers, flags, selectors, the GDT, the boot info against the layout's
 * arithmetic, and (amd64) the rights of every kind of mapping, by probing
 * reads, writes and instruction fetches. Prints one line per failed check
 * and "entry-state: ok" when all hold; EXIT(1) otherwise.
 */
#include "guests/include/rt.h"

static unsigned checks, failures;

#define CHECK(cond, fmt, ...)                                                                      \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			rt_printf("entry-state: FAIL %s: " fmt "\n", #cond, ##__VA_ARGS__);        \
		}                                                                                  \
	} while (0)

#define X(v) ((unsigned long long)(v))

#define CR0_PE	      (1ULL << 0)
#define CR0_WP	      (1ULL << 16)
#define CR0_PG	      (1ULL << 31)
#define FLAGS_IF      (1ULL << 9)
#define DESC_ACCESSED (1ULL << 40)

static int in_range(uint64_t x, uint64_t base, uint64_t size)
{
	return x >= base && x - base < size;
}

static uint64_t gdt_descriptor(uint16_t selector)
{
	struct rt_descriptor_table gdt = rt_sgdt();

	return *(const uint64_t *)(gdt.base + (selector & ~7u));
}

static void check_common(const struct snapvm_boot_info *bi, const struct rt_entry_regs *e)
{
	rt_printf("entry-state: scratch_size=0x%llx scratch_gpa=0x%llx scratch_gva=0x%llx "
		  "snapshot=0x%llx+0x%llx free=0x%llx+0x%llx sp=0x%llx\n",
		  X(bi->scratch_size), X(bi->scratch_gpa), X(bi->scratch_gva), X(bi->snapshot_gpa),
		  X(bi->snapshot_size), X(bi->scratch_free_gva), X(bi->scratch_free_size),
		  X(e->sp));
	CHECK(!(e->flags & FLAGS_IF), "flags 0x%llx", X(e->flags));
	CHECK(e->idtr.limit == 0, "IDTR limit 0x%x at entry", e->idtr.limit);
	CHECK(e->sp % 16 == 0, "entry SP 0x%llx", X(e->sp));
	CHECK(in_range(e->sp - 1, bi->scratch_gva, bi->scratch_size), "entry SP 0x%llx", X(e->sp));
	CHECK(in_range((uintptr_t)bi, bi->scratch_gva, bi->scratch_size), "boot info at %p",
	      (void *)bi);
	CHECK(in_range(bi->scratch_free_gva, bi->scratch_gva, bi->scratch_size) &&
		  bi->scratch_free_gva + bi->scratch_free_size <= e->sp,
	      "free 0x%llx+0x%llx", X(bi->scratch_free_gva), X(bi->scratch_free_size));
	CHECK(bi->scratch_size % RT_PAGE_SIZE == 0, "scratch size 0x%llx", X(bi->scratch_size));
	CHECK((uintptr_t)__data_end - bi->snapshot_gpa <= bi->snapshot_size,
	      "image ends at %p, snapshot 0x%llx+0x%llx", (void *)__data_end, X(bi->snapshot_gpa),
	      X(bi->snapshot_size));
	CHECK(RT_READ_SEGMENT(cs) == SNAPVM_SELECTOR_CODE, "CS 0x%x", RT_READ_SEGMENT(cs));
	CHECK(RT_READ_SEGMENT(ds) == SNAPVM_SELECTOR_DATA, "DS 0x%x", RT_READ_SEGMENT(ds));
	CHECK(RT_READ_SEGMENT(ss) == SNAPVM_SELECTOR_DATA, "SS 0x%x", RT_READ_SEGMENT(ss));
}

#if defined(__x86_64__)
#define CR4_PAE	       (1ULL << 5)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define MSR_EFER       0xc0000080
#define EFER_LME       (1ULL << 8)
#define EFER_LMA       (1ULL << 10)
#define EFER_NXE       (1ULL << 11)
#define DESC_LONG      (1ULL << 53)
#define PF_VECTOR      14

/* Targets for instruction-fetch probes: a `ret` in each kind of segment. */
__asm__(".pushsection .text\n text_ret: ret\n .popsection");
extern const uint8_t text_ret[];
static const uint8_t rodata_ret = 0xc3;
/* A page of its own: the counters above share .bss/.data pages that are
 * copied on their first write, and this one must still be pristine. */
static uint8_t data_page[4096] __attribute__((aligned(4096))) = {0xc3};
#define data_ret (data_page[0])

/* probe() result: 0 or the exception vector + 1; error code in *error. */
static int probe(enum rt_probe_kind kind, uintptr_t addr, uint64_t *error)
{
	int fault = rt_probe(kind, addr);

	*error = rt_state()->probe_error;
	return fault;
}

static const char *const kind_names[] = {"read", "write", "fetch"};

/* Expect kind at addr to work (pf_error < 0) or to #PF with that error
 * code's present/write/fetch bits. */
static void expect_access(const char *what, enum rt_probe_kind kind, uintptr_t addr, int pf_error)
{
	uint64_t error = 0;
	int fault = probe(kind, addr, &error);

	if (pf_error < 0)
		CHECK(fault == 0, "%s %s at 0x%llx: exception %d, error 0x%llx", what,
		      kind_names[kind], X(addr), fault - 1, X(error));
	else
		CHECK(fault == PF_VECTOR + 1 && (error & 0x13) == (uint64_t)pf_error,
		      "%s %s at 0x%llx: expected #PF error 0x%x, got %s %d error 0x%llx", what,
		      kind_names[kind], X(addr), pf_error, fault ? "exception" : "no fault",
		      fault - 1, X(error));
}

static uint64_t pte_of(uintptr_t gva)
{
	uint64_t *pte = rt_amd64_pte(gva);

	return pte ? *pte : 0;
}

/* The pristine leaf PTE of gva, walked in the snapshot's tables through the
 * window: the table at live GPA g has its original at MIN + (g - CR3). */
static uint64_t pristine_pte_of(uintptr_t gva)
{
	uint64_t root = rt_read_cr3() & AMD64_PTE_ADDR_MASK, live = root;

	for (int level = 4; level >= 1; level--) {
		unsigned idx = (gva >> (12 + 9 * (level - 1))) & 511;
		const struct snapvm_boot_info *bi = rt_boot_info();
		const uint64_t *live_table =
		    (const uint64_t *)(uintptr_t)(live - bi->scratch_gpa + bi->scratch_gva);
		const uint64_t *pristine_table =
		    (const uint64_t *)(uintptr_t)(AMD64_SNAPSHOT_PT_GVA_MIN + (live - root));

		if (rt_probe(RT_PROBE_READ, (uintptr_t)&pristine_table[idx]))
			return 0;
		if (level == 1 || !(live_table[idx] & AMD64_PTE_PRESENT))
			return pristine_table[idx];
		live = live_table[idx] & AMD64_PTE_ADDR_MASK;
	}
	return 0;
}

static void check_arch(const struct snapvm_boot_info *bi, const struct rt_entry_regs *e)
{
	const uint64_t rights = AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_COW | AMD64_PTE_NX;
	uint64_t cr0 = rt_read_cr0(), cr4 = rt_read_cr4(), efer = rt_rdmsr(MSR_EFER);
	uint64_t cr3 = rt_read_cr3();
	uint8_t *scratch_page;
	uint16_t tr;

	CHECK((cr0 & (CR0_PE | CR0_PG | CR0_WP)) == (CR0_PE | CR0_PG | CR0_WP), "CR0 0x%llx",
	      X(cr0));
	CHECK((cr4 & (CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT)) ==
		  (CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT),
	      "CR4 0x%llx", X(cr4));
	CHECK((efer & (EFER_LME | EFER_LMA | EFER_NXE)) == (EFER_LME | EFER_LMA | EFER_NXE),
	      "EFER 0x%llx", X(efer));
	CHECK(in_range(cr3 & AMD64_PTE_ADDR_MASK, bi->scratch_gpa, bi->scratch_size),
	      "CR3 0x%llx outside scratch", X(cr3));

	CHECK(bi->snapshot_gpa == AMD64_SNAPSHOT_BASE_GPA, "snapshot GPA 0x%llx",
	      X(bi->snapshot_gpa));
	CHECK(bi->scratch_gpa == amd64_scratch_base_gpa(bi->scratch_size), "scratch GPA 0x%llx",
	      X(bi->scratch_gpa));
	CHECK(bi->scratch_gva == amd64_scratch_base_gva(bi->scratch_size), "scratch GVA 0x%llx",
	      X(bi->scratch_gva));
	/* The root's pristine copy is the first table in the window. */
	CHECK(bi->snapshot_pt_gva == AMD64_SNAPSHOT_PT_GVA_MIN, "snapshot PT GVA 0x%llx",
	      X(bi->snapshot_pt_gva));
	CHECK((uintptr_t)bi == bi->scratch_gva + AMD64_SCRATCH_BOOT_INFO_OFFSET, "boot info at %p",
	      (void *)bi);
	CHECK((cr3 & AMD64_PTE_ADDR_MASK) == bi->scratch_gpa + AMD64_SCRATCH_PT_OFFSET,
	      "CR3 0x%llx", X(cr3));
	CHECK(e->sp == bi->scratch_gva + bi->scratch_size, "entry RSP 0x%llx", X(e->sp));
	CHECK(bi->scratch_free_gva + bi->scratch_free_size <= e->sp - AMD64_STACK_SIZE,
	      "free area ends at 0x%llx, in the stack",
	      X(bi->scratch_free_gva + bi->scratch_free_size));

	/* GDT and TSS in scratch with the bits the CPU would write preset. */
	CHECK(rt_sgdt().base == bi->scratch_gva + AMD64_SCRATCH_GDT_OFFSET, "GDT at 0x%llx",
	      X(rt_sgdt().base));
	CHECK((gdt_descriptor(SNAPVM_SELECTOR_CODE) & (DESC_LONG | DESC_ACCESSED)) ==
		  (DESC_LONG | DESC_ACCESSED),
	      "code descriptor 0x%llx", X(gdt_descriptor(SNAPVM_SELECTOR_CODE)));
	CHECK(gdt_descriptor(SNAPVM_SELECTOR_DATA) & DESC_ACCESSED, "data descriptor 0x%llx",
	      X(gdt_descriptor(SNAPVM_SELECTOR_DATA)));
	__asm__ volatile("str %0" : "=r"(tr));
	CHECK(tr == AMD64_SELECTOR_TSS && (gdt_descriptor(tr) >> 40 & 0xf) == 0xb,
	      "TR 0x%x descriptor 0x%llx", tr, X(tr ? gdt_descriptor(tr) : 0));

	/* Leaf rights: R -> RO+NX, RX -> RO, RW -> RO+COW+NX, scratch RW+NX. */
	CHECK((pte_of((uintptr_t)text_ret) & rights) == AMD64_PTE_PRESENT, "text PTE 0x%llx",
	      X(pte_of((uintptr_t)text_ret)));
	CHECK((pte_of((uintptr_t)&rodata_ret) & rights) == (AMD64_PTE_PRESENT | AMD64_PTE_NX),
	      "rodata PTE 0x%llx", X(pte_of((uintptr_t)&rodata_ret)));
	CHECK((pte_of((uintptr_t)&data_ret) & rights) ==
		  (AMD64_PTE_PRESENT | AMD64_PTE_COW | AMD64_PTE_NX),
	      "data PTE 0x%llx", X(pte_of((uintptr_t)&data_ret)));
	CHECK((pte_of((uintptr_t)bi) & rights) ==
		  (AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_NX),
	      "scratch PTE 0x%llx", X(pte_of((uintptr_t)bi)));

	/* The pristine tables say the same (before any copy on write). */
	CHECK((pristine_pte_of((uintptr_t)text_ret) & rights) == AMD64_PTE_PRESENT,
	      "pristine text PTE 0x%llx", X(pristine_pte_of((uintptr_t)text_ret)));
	CHECK((pristine_pte_of((uintptr_t)&rodata_ret) & rights) ==
		  (AMD64_PTE_PRESENT | AMD64_PTE_NX),
	      "pristine rodata PTE 0x%llx", X(pristine_pte_of((uintptr_t)&rodata_ret)));
	CHECK((pristine_pte_of((uintptr_t)&data_ret) & ~(AMD64_PTE_ACCESSED | AMD64_PTE_DIRTY)) ==
		  (pte_of((uintptr_t)&data_ret) & ~(AMD64_PTE_ACCESSED | AMD64_PTE_DIRTY)),
	      "pristine data PTE 0x%llx, live 0x%llx", X(pristine_pte_of((uintptr_t)&data_ret)),
	      X(pte_of((uintptr_t)&data_ret)));

	/* The same rights, as the CPU enforces them. */
	expect_access("null page", RT_PROBE_READ, 0, 0);
	expect_access("text", RT_PROBE_READ, (uintptr_t)text_ret, -1);
	expect_access("text", RT_PROBE_EXEC, (uintptr_t)text_ret, -1);
	expect_access("text", RT_PROBE_WRITE, (uintptr_t)text_ret, 0x3);
	expect_access("rodata", RT_PROBE_READ, (uintptr_t)&rodata_ret, -1);
	expect_access("rodata", RT_PROBE_WRITE, (uintptr_t)&rodata_ret, 0x3);
	expect_access("rodata", RT_PROBE_EXEC, (uintptr_t)&rodata_ret, 0x11);
	expect_access("data", RT_PROBE_READ, (uintptr_t)&data_ret, -1);
	expect_access("data", RT_PROBE_EXEC, (uintptr_t)&data_ret, 0x11);
	expect_access("data (copy on write)", RT_PROBE_WRITE, (uintptr_t)&data_ret, -1);
	CHECK((pte_of((uintptr_t)&data_ret) & rights) ==
		      (AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_NX) &&
		  in_range(pte_of((uintptr_t)&data_ret) & AMD64_PTE_ADDR_MASK, bi->scratch_gpa,
			   bi->scratch_size),
	      "data PTE after the copy 0x%llx", X(pte_of((uintptr_t)&data_ret)));
	expect_access("data copy", RT_PROBE_EXEC, (uintptr_t)&data_ret, 0x11);
	CHECK(data_ret == 0xc3, "data byte reads 0x%x after its copy", data_ret);

	scratch_page = rt_alloc_page();
	scratch_page[0] = 0xc3;
	expect_access("scratch", RT_PROBE_READ, (uintptr_t)scratch_page, -1);
	expect_access("scratch", RT_PROBE_WRITE, (uintptr_t)scratch_page, -1);
	expect_access("scratch", RT_PROBE_EXEC, (uintptr_t)scratch_page, 0x11);

	expect_access("snapshot page tables", RT_PROBE_READ, bi->snapshot_pt_gva, -1);
	expect_access("snapshot page tables", RT_PROBE_WRITE, bi->snapshot_pt_gva, 0x3);
	expect_access("last GVA page", RT_PROBE_READ, AMD64_MAX_GVA + 1, 0);
}
#else
#define DESC_DB (1ULL << 54)

static void check_arch(const struct snapvm_boot_info *bi, const struct rt_entry_regs *e)
{
	struct rt_descriptor_table gdt = rt_sgdt();
	uint64_t code = gdt_descriptor(SNAPVM_SELECTOR_CODE),
		 data = gdt_descriptor(SNAPVM_SELECTOR_DATA);
	uintptr_t cr0 = rt_read_cr0();

	CHECK((cr0 & (CR0_PE | CR0_PG)) == CR0_PE, "CR0 0x%llx", X(cr0));
	CHECK(bi->snapshot_gpa == I686_SNAPSHOT_BASE_GPA, "snapshot GPA 0x%llx",
	      X(bi->snapshot_gpa));
	CHECK(bi->scratch_gpa == i686_scratch_base_gpa(bi->scratch_size), "scratch GPA 0x%llx",
	      X(bi->scratch_gpa));
	CHECK(bi->scratch_gva == bi->scratch_gpa, "scratch GVA 0x%llx", X(bi->scratch_gva));
	CHECK(bi->scratch_gpa + bi->scratch_size == I686_MAX_GPA + 1, "scratch end 0x%llx",
	      X(bi->scratch_gpa + bi->scratch_size));
	CHECK(bi->snapshot_pt_gva == 0, "snapshot PT GVA 0x%llx", X(bi->snapshot_pt_gva));
	CHECK((uintptr_t)bi == bi->scratch_gva + I686_SCRATCH_BOOT_INFO_OFFSET, "boot info at %p",
	      (void *)bi);
	CHECK(e->sp == bi->scratch_gva + bi->scratch_size, "entry ESP 0x%llx", X(e->sp));
	CHECK(bi->scratch_free_gva + bi->scratch_free_size <= e->sp - I686_STACK_SIZE,
	      "free area ends at 0x%llx, in the stack",
	      X(bi->scratch_free_gva + bi->scratch_free_size));

	/* The GDT is in the snapshot, after the image, with the Accessed bits
	 * clear: the CPU sets them on the first segment load (gdt-accessed). */
	CHECK(gdt.base >= (uintptr_t)__data_end &&
		  in_range(gdt.base, bi->snapshot_gpa, bi->snapshot_size),
	      "GDT at 0x%llx, image ends at %p", X(gdt.base), (void *)__data_end);
	CHECK(!(code & DESC_ACCESSED) && !(data & DESC_ACCESSED),
	      "Accessed preset: code 0x%llx data 0x%llx", X(code), X(data));
	CHECK((code & DESC_DB) && (code >> 43 & 1), "code descriptor 0x%llx", X(code));
	CHECK((data >> 41 & 1) && !(data >> 43 & 1), "data descriptor 0x%llx", X(data));
}
#endif

int main(void)
{
	const struct snapvm_boot_info *bi = rt_boot_info();
	const struct rt_entry_regs *e = &rt_state()->entry;

	check_common(bi, e);
	check_arch(bi, e);
	if (failures) {
		rt_printf("entry-state: %u of %u checks failed\n", failures, checks);
		return 1;
	}
	rt_printf("entry-state: ok (%u checks)\n", checks);
	return 0;
}
