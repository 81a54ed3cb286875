// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * arch_amd64.c - the amd64 layout: 4-level page tables that map every
 * snapshot page with its segment's exact rights (and copy-on-write for
 * data), scratch RW+NX, and the tables themselves read-only in the
 * SNAPSHOT_PT window; a GDT and TSS in scratch; the long-mode entry state.
 */
#include <stdlib.h>
#include <string.h>

#include "layout/amd64.h"
#include "userspace/lib/internal.h"

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)

#define CR4_PAE	       (1ULL << 5)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)

#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

#define ENTRIES	  512
#define VA_MASK	  0x0000ffffffffffffULL /* drop the sign extension */
#define TSS_BYTES 104

/* Leaf rights. Accessed is preset everywhere so the CPU has nothing to
 * write into the tables for a read; scratch also gets Dirty. */
#define LEAF_R	    (AMD64_PTE_PRESENT | AMD64_PTE_ACCESSED | AMD64_PTE_NX)
#define LEAF_RX	    (AMD64_PTE_PRESENT | AMD64_PTE_ACCESSED)
#define LEAF_RW_COW (AMD64_PTE_PRESENT | AMD64_PTE_ACCESSED | AMD64_PTE_COW | AMD64_PTE_NX)
#define LEAF_SCRATCH                                                                               \
	(AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_ACCESSED | AMD64_PTE_DIRTY | AMD64_PTE_NX)
/* Upper levels allow everything; the leaf decides. */
#define NONLEAF (AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_ACCESSED)

/* ---- the page-table builder ---- */

/* Distinct tables needed at each level below the PML4 for GVA-sorted,
 * disjoint mappings: runs of pages sharing (gva >> shift) share a table. */
static uint64_t count_tables(const struct amd64_mapping *maps, unsigned int nmaps)
{
	static const unsigned int shifts[] = {39, 30, 21}; /* PDPT, PD, PT */
	uint64_t total = 1;				   /* the PML4 */

	for (unsigned int l = 0; l < 3; l++) {
		uint64_t prev_hi = 0;
		bool first = true;

		for (unsigned int i = 0; i < nmaps; i++) {
			uint64_t start = maps[i].gva & VA_MASK;
			uint64_t last = start + maps[i].npages * SNAPVM_PAGE - 1;
			uint64_t lo = start >> shifts[l], hi = last >> shifts[l];

			if (maps[i].npages == 0)
				continue;
			total += hi - lo + 1;
			if (!first && lo == prev_hi)
				total--;
			prev_hi = hi;
			first = false;
		}
	}
	return total;
}

/* maps plus the window mapping of npt table pages, in GVA order. */
static unsigned int with_window(const struct amd64_mapping *maps, unsigned int nmaps,
				uint64_t window_gva, uint64_t base_gpa, uint64_t npt,
				struct amd64_mapping *all)
{
	unsigned int n = 0, i = 0;

	for (; i < nmaps && (maps[i].gva & VA_MASK) < (window_gva & VA_MASK); i++)
		all[n++] = maps[i];
	all[n++] = (struct amd64_mapping){
	    .gva = window_gva, .gpa = base_gpa, .npages = npt, .flags = LEAF_R};
	for (; i < nmaps; i++)
		all[n++] = maps[i];
	return n;
}

uint64_t amd64_pt_count(const struct amd64_mapping *maps, unsigned int nmaps, uint64_t window_gva)
{
	struct amd64_mapping all[SNAPVM_ELF_MAX_SEGMENTS + 4];
	uint64_t n, next;

	if (!window_gva || nmaps + 1 > sizeof(all) / sizeof(all[0]))
		return count_tables(maps, nmaps);
	/* The window maps the tables, which it may itself enlarge: iterate to
	 * the fixed point (it only grows, and a PT page covers 512 pages). */
	n = count_tables(maps, nmaps);
	for (;;) {
		unsigned int nall = with_window(maps, nmaps, window_gva, 0, n, all);

		next = count_tables(all, nall);
		if (next == n)
			return n;
		n = next;
	}
}

struct builder {
	struct amd64_page_tables *pt;
	uint64_t used;
	uint8_t *levels; /* of each table page: 3 = PML4 .. 0 = PT */
};

/* The table at `level` covering gva, allocated on first use. */
static uint64_t *table_for(struct builder *b, uint64_t gva, int level)
{
	uint64_t *table = b->pt->pages;

	for (int l = 3; l > level; l--) {
		unsigned int index = (gva >> (12 + 9 * l)) & (ENTRIES - 1);
		uint64_t *entry = &table[index];

		if (!(*entry & AMD64_PTE_PRESENT)) {
			if (b->used == b->pt->npages)
				return NULL;
			b->levels[b->used] = (uint8_t)(l - 1);
			*entry = (b->pt->base_gpa + b->used * SNAPVM_PAGE) | NONLEAF;
			b->used++;
		}
		table = b->pt->pages +
			((*entry & AMD64_PTE_ADDR_MASK) - b->pt->base_gpa) / sizeof(uint64_t);
	}
	return table;
}

static int map_range(struct builder *b, const struct amd64_mapping *map, struct snapvm_error *err)
{
	uint64_t done = 0;

	while (done < map->npages) {
		uint64_t gva = map->gva + done * SNAPVM_PAGE;
		uint64_t *pt = table_for(b, gva, 0);
		unsigned int index = (gva >> 12) & (ENTRIES - 1);

		if (!pt)
			return snapvm_fail(err, EX_SOFTWARE,
					   "page-table builder: more tables needed than counted");
		/* Fill this PT up to its end or the mapping's. */
		for (; index < ENTRIES && done < map->npages; index++, done++) {
			if (pt[index] & AMD64_PTE_PRESENT)
				return snapvm_fail(
				    err, EX_SOFTWARE, "page-table builder: GVA 0x%llx mapped twice",
				    (unsigned long long)(map->gva + done * SNAPVM_PAGE));
			pt[index] =
			    ((map->gpa + done * SNAPVM_PAGE) & AMD64_PTE_ADDR_MASK) | map->flags;
		}
	}
	return 0;
}

int amd64_pt_build(const struct amd64_mapping *maps, unsigned int nmaps, uint64_t base_gpa,
		   uint64_t window_gva, struct amd64_page_tables *pt, struct snapvm_error *err)
{
	struct amd64_mapping all[SNAPVM_ELF_MAX_SEGMENTS + 4];
	struct builder b = {.pt = pt, .used = 1};
	unsigned int nall;
	int ret = 0;

	memset(pt, 0, sizeof(*pt));
	if (nmaps + 1 > sizeof(all) / sizeof(all[0]))
		return snapvm_fail(err, EX_SOFTWARE, "page-table builder: too many mappings");
	for (unsigned int i = 1; i < nmaps; i++)
		if ((maps[i].gva & VA_MASK) <
		    (maps[i - 1].gva & VA_MASK) + maps[i - 1].npages * SNAPVM_PAGE)
			return snapvm_fail(err, EX_SOFTWARE,
					   "page-table builder: mappings overlap or are unsorted");
	pt->npages = amd64_pt_count(maps, nmaps, window_gva);
	pt->base_gpa = base_gpa;
	pt->window_gva = window_gva;
	pt->pages = calloc(pt->npages, SNAPVM_PAGE);
	b.levels = calloc(pt->npages, 1);
	if (!pt->pages || !b.levels) {
		free(b.levels);
		amd64_pt_free(pt);
		return snapvm_fail(err, EX_OSERR, "out of memory for %llu page-table pages",
				   (unsigned long long)pt->npages);
	}
	b.levels[0] = 3;
	if (window_gva)
		nall = with_window(maps, nmaps, window_gva, base_gpa, pt->npages, all);
	else
		nall = nmaps, memcpy(all, maps, nmaps * sizeof(*maps));
	for (unsigned int i = 0; i < nall && !ret; i++)
		ret = map_range(&b, &all[i], err);
	if (!ret && b.used != pt->npages)
		ret = snapvm_fail(err, EX_SOFTWARE,
				  "page-table builder: %llu tables counted, %llu used",
				  (unsigned long long)pt->npages, (unsigned long long)b.used);
	/* Relocation needs to know which entries point at tables. */
	if (!ret) {
		pt->levels = b.levels;
		return 0;
	}
	free(b.levels);
	amd64_pt_free(pt);
	return ret;
}

void amd64_pt_relocate(const struct amd64_page_tables *pt, uint64_t new_base_gpa, uint64_t *dst)
{
	memcpy(dst, pt->pages, pt->npages * SNAPVM_PAGE);
	for (uint64_t p = 0; p < pt->npages; p++) {
		uint64_t *table = dst + p * ENTRIES;

		if (pt->levels[p] == 0)
			continue; /* leaves keep pointing where they did */
		for (unsigned int i = 0; i < ENTRIES; i++)
			if (table[i] & AMD64_PTE_PRESENT)
				table[i] = (table[i] & ~AMD64_PTE_ADDR_MASK) |
					   ((table[i] & AMD64_PTE_ADDR_MASK) - pt->base_gpa +
					    new_base_gpa);
	}
}

void amd64_pt_free(struct amd64_page_tables *pt)
{
	free(pt->pages);
	free(pt->levels);
	pt->pages = NULL;
	pt->levels = NULL;
}

static uint64_t segment_flags(uint32_t flags)
{
	if (flags & 2 /* PF_W */)
		return LEAF_RW_COW;
	if (flags & 1 /* PF_X */)
		return LEAF_RX;
	return LEAF_R;
}

unsigned int amd64_image_mappings(const struct snapvm_elf_image *image, uint64_t scratch_size,
				  struct amd64_mapping *maps)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < image->nsegments; i++) {
		const struct snapvm_elf_segment *seg = &image->segments[i];
		uint64_t start = snapvm_page_align_down(seg->vaddr);
		uint64_t end = snapvm_page_align_up(seg->vaddr + seg->memsz);
		struct amd64_mapping *prev = n ? &maps[n - 1] : NULL;

		/* Segments may share a page when their rights agree (the
		 * loader refuses the rest): extend the previous run. */
		if (prev && start < prev->gva + prev->npages * SNAPVM_PAGE) {
			uint64_t prev_end = prev->gva + prev->npages * SNAPVM_PAGE;

			if (end > prev_end)
				prev->npages += (end - prev_end) / SNAPVM_PAGE;
			continue;
		}
		maps[n++] = (struct amd64_mapping){
		    .gva = start,
		    .gpa = start, /* snapshot GVA = GPA */
		    .npages = (end - start) / SNAPVM_PAGE,
		    .flags = segment_flags(seg->flags),
		};
	}
	maps[n++] = (struct amd64_mapping){
	    .gva = amd64_scratch_base_gva(scratch_size),
	    .gpa = amd64_scratch_base_gpa(scratch_size),
	    .npages = scratch_size / SNAPVM_PAGE,
	    .flags = LEAF_SCRATCH,
	};
	return n;
}

/* ---- the layout ---- */

static uint64_t pt_pages(const struct snapvm_elf_image *image, uint64_t scratch_size)
{
	struct amd64_mapping maps[SNAPVM_ELF_MAX_SEGMENTS + 1];
	unsigned int n = amd64_image_mappings(image, scratch_size, maps);

	return amd64_pt_count(maps, n, AMD64_SNAPSHOT_PT_GVA_MIN);
}

/* The image (from GPA 0x1000), then the pristine page tables. */
static uint64_t amd64_snapshot_size(const struct snapvm_elf_image *image, uint64_t scratch_size)
{
	return image->end - AMD64_SNAPSHOT_BASE_GPA + pt_pages(image, scratch_size) * SNAPVM_PAGE;
}

/* Boot info, GDT + TSS, the live tables, and the stack. */
static uint64_t amd64_scratch_needed(const struct snapvm_elf_image *image, uint64_t scratch_size)
{
	return AMD64_SCRATCH_PT_OFFSET + pt_pages(image, scratch_size) * SNAPVM_PAGE +
	       AMD64_STACK_SIZE;
}

/* A 16-byte 64-bit TSS descriptor, type 0xb (busy: the CPU would set that
 * bit on LTR, and the GDT must need no CPU write). */
static void tss_descriptor(uint64_t *desc, uint64_t base)
{
	uint64_t limit = TSS_BYTES - 1;

	desc[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0xbULL << 40) | (1ULL << 47) |
		  (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	desc[1] = base >> 32;
}

/* Code and data with Accessed preset: the GDT lives in scratch anyway,
 * but then not even a segment reload writes it. */
#define GDT_CODE64 0x00af9b000000ffffULL /* present, L=1, execute/read, accessed */
#define GDT_DATA64 0x00cf93000000ffffULL /* present, read/write, accessed */

static struct kvm_segment segment(uint16_t selector, uint8_t type, bool code)
{
	return (struct kvm_segment){
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .db = code ? 0 : 1,
	    .l = code ? 1 : 0,
	    .s = 1,
	    .g = 1,
	};
}

static void amd64_entry_state(const struct snapvm_elf_image *image, uint64_t scratch_size,
			      struct snapvm_vcpu_state *state)
{
	uint64_t scratch_gva = amd64_scratch_base_gva(scratch_size);
	uint64_t scratch_gpa = amd64_scratch_base_gpa(scratch_size);
	struct kvm_sregs *s = &state->sregs;

	memset(state, 0, sizeof(*state));
	state->regs.rip = image->entry;
	state->regs.rsp = scratch_gva + scratch_size; /* page-aligned, so 16-byte aligned */
	state->regs.rdi = scratch_gva + AMD64_SCRATCH_BOOT_INFO_OFFSET;
	state->regs.rflags = 0x2; /* IF=0 */

	s->cs = segment(SNAPVM_SELECTOR_CODE, 0xb, true);
	s->ds = s->es = s->fs = s->gs = s->ss = segment(SNAPVM_SELECTOR_DATA, 0x3, false);
	s->tr = (struct kvm_segment){
	    .base = scratch_gva + AMD64_SCRATCH_TSS_OFFSET,
	    .limit = TSS_BYTES - 1,
	    .selector = AMD64_SELECTOR_TSS,
	    .type = 0xb,
	    .present = 1,
	};
	s->ldt = (struct kvm_segment){.type = 0x2, .unusable = 1};
	s->gdt.base = scratch_gva + AMD64_SCRATCH_GDT_OFFSET;
	s->gdt.limit = 5 * 8 - 1; /* null, code, data, 16-byte TSS */
	s->idt.limit = 0;
	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s->cr3 = scratch_gpa + AMD64_SCRATCH_PT_OFFSET;
	s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s->efer = EFER_LME | EFER_LMA | EFER_NXE;
	s->apic_base = 0xfee00900;
}

static int amd64_build(const struct snapvm_elf_image *image, uint64_t scratch_size,
		       struct snapvm_snapshot_image *out, struct snapvm_error *err)
{
	struct amd64_mapping maps[SNAPVM_ELF_MAX_SEGMENTS + 1];
	unsigned int nmaps = amd64_image_mappings(image, scratch_size, maps);
	uint64_t scratch_gva = amd64_scratch_base_gva(scratch_size);
	uint64_t scratch_gpa = amd64_scratch_base_gpa(scratch_size);
	uint64_t image_size = image->end - AMD64_SNAPSHOT_BASE_GPA;
	struct amd64_page_tables pt;
	uint64_t *gdt;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = amd64_pt_build(maps, nmaps, image->end, AMD64_SNAPSHOT_PT_GVA_MIN, &pt, err);
	if (ret)
		return ret;
	out->snapshot_size = image_size + pt.npages * SNAPVM_PAGE;
	out->scratch_init_size = AMD64_SCRATCH_PT_OFFSET + pt.npages * SNAPVM_PAGE;
	out->snapshot = calloc(1, out->snapshot_size);
	out->scratch_init = calloc(1, out->scratch_init_size);
	if (!out->snapshot || !out->scratch_init) {
		amd64_pt_free(&pt);
		snapvm_snapshot_image_free(out);
		return snapvm_fail(err, EX_OSERR, "out of memory for a %llu-byte snapshot",
				   (unsigned long long)out->snapshot_size);
	}
	snapvm_elf_copy(image, out->snapshot, AMD64_SNAPSHOT_BASE_GPA, image_size);
	memcpy(out->snapshot + image_size, pt.pages, pt.npages * SNAPVM_PAGE);
	/* The live copy CR3 points at, where the CPU may set A/D bits and the
	 * guest's #PF handler rewrites PTEs. */
	amd64_pt_relocate(&pt, scratch_gpa + AMD64_SCRATCH_PT_OFFSET,
			  (uint64_t *)(out->scratch_init + AMD64_SCRATCH_PT_OFFSET));

	gdt = (uint64_t *)(out->scratch_init + AMD64_SCRATCH_GDT_OFFSET);
	gdt[0] = 0;
	gdt[SNAPVM_SELECTOR_CODE / 8] = GDT_CODE64;
	gdt[SNAPVM_SELECTOR_DATA / 8] = GDT_DATA64;
	tss_descriptor(&gdt[AMD64_SELECTOR_TSS / 8], scratch_gva + AMD64_SCRATCH_TSS_OFFSET);
	/* TSS: all zero but the I/O bitmap offset, which points past its end
	 * (no bitmap: every port access from ring 3 faults). */
	*(uint16_t *)(out->scratch_init + AMD64_SCRATCH_TSS_OFFSET + 0x66) = TSS_BYTES;

	snapvm_boot_info_init(
	    (struct snapvm_boot_info *)(out->scratch_init + AMD64_SCRATCH_BOOT_INFO_OFFSET),
	    &snapvm_arch_amd64, out->snapshot_size, scratch_size, out->scratch_init_size,
	    AMD64_STACK_SIZE, AMD64_SNAPSHOT_PT_GVA_MIN);
	amd64_entry_state(image, scratch_size, &out->entry);
	amd64_pt_free(&pt);
	return 0;
}

const struct snapvm_arch snapvm_arch_amd64 = {
    .layout = SNAPVM_LAYOUT_AMD64,
    .name = "amd64",
    .elf_class = 2,    /* ELFCLASS64 */
    .elf_machine = 62, /* EM_X86_64 */
    .snapshot_base_gpa = AMD64_SNAPSHOT_BASE_GPA,
    .max_gpa = AMD64_MAX_GPA,
    .min_scratch_size = AMD64_MIN_SCRATCH_SIZE,
    /* Each page is mapped with its segment's rights, so W+X would be
     * real, and two rights cannot share a page. */
    .refuse_wx = true,
    .exact_page_rights = true,
    .snapshot_size = amd64_snapshot_size,
    .scratch_needed = amd64_scratch_needed,
    .scratch_base_gpa = amd64_scratch_base_gpa,
    .scratch_base_gva = amd64_scratch_base_gva,
    .build = amd64_build,
    .arg_mask = ~0ULL,
};
