// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pagetable_test.c - the amd64 page-table builder on the host: build the
 * tables for fake images, walk every entry and check each mapping's rights
 * (R -> RO+NX, RX -> RO, RW -> RO+COW+NX, scratch RW+NX, the tables' own
 * window RO+NX, page 0 unmapped, nothing else mapped); the live copy's
 * relocation; and libsnapvm's guest-address translation over these and
 * hand-made 32-bit and PAE tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "userspace/lib/internal.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

#define RIGHTS_MASK                                                                                \
	(AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_USER | AMD64_PTE_HUGE | AMD64_PTE_COW |   \
	 AMD64_PTE_NX)

enum kind { TEXT, RODATA, DATA, SCRATCH, WINDOW, KINDS };

static const char *const kind_names[] = {"text", "rodata", "data", "scratch", "window"};

/* What each kind of page must look like (besides Accessed/Dirty). */
static const uint64_t kind_rights[] = {
    [TEXT] = AMD64_PTE_PRESENT,
    [RODATA] = AMD64_PTE_PRESENT | AMD64_PTE_NX,
    [DATA] = AMD64_PTE_PRESENT | AMD64_PTE_COW | AMD64_PTE_NX,
    [SCRATCH] = AMD64_PTE_PRESENT | AMD64_PTE_WRITE | AMD64_PTE_NX,
    [WINDOW] = AMD64_PTE_PRESENT | AMD64_PTE_NX,
};

struct expect {
	uint64_t gva, gpa, npages;
	enum kind kind;
};

struct walk {
	const struct amd64_page_tables *pt;
	const uint64_t *pages; /* the copy being walked */
	uint64_t base_gpa;     /* where that copy lives */
	const struct expect *expect;
	unsigned int nexpect;
	uint64_t leaves[KINDS];
	uint64_t tables_seen;
	uint64_t errors;
	char first_error[256];
};

static void walk_error(struct walk *w, const char *fmt, unsigned long long a, unsigned long long b)
{
	if (!w->errors++)
		snprintf(w->first_error, sizeof(w->first_error), fmt, a, b);
}

static uint64_t canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16);
}

static void check_leaf(struct walk *w, uint64_t gva, uint64_t pte)
{
	for (unsigned int i = 0; i < w->nexpect; i++) {
		const struct expect *e = &w->expect[i];

		if (gva < e->gva || gva - e->gva >= e->npages * 4096)
			continue;
		if ((pte & RIGHTS_MASK) != kind_rights[e->kind])
			walk_error(w, "GVA 0x%llx has rights 0x%llx", gva, pte & RIGHTS_MASK);
		if ((pte & AMD64_PTE_ADDR_MASK) != e->gpa + (gva - e->gva))
			walk_error(w, "GVA 0x%llx maps GPA 0x%llx", gva, pte & AMD64_PTE_ADDR_MASK);
		if (!(pte & AMD64_PTE_ACCESSED))
			walk_error(w, "GVA 0x%llx: Accessed not preset (pte 0x%llx)", gva, pte);
		w->leaves[e->kind]++;
		return;
	}
	walk_error(w, "GVA 0x%llx is mapped (pte 0x%llx) but should not be", gva, pte);
}

static void walk_table(struct walk *w, uint64_t table_gpa, int level, uint64_t va_prefix)
{
	const uint64_t *table;

	if (table_gpa < w->base_gpa || table_gpa - w->base_gpa >= w->pt->npages * 4096 ||
	    table_gpa % 4096) {
		walk_error(w, "table pointer 0x%llx outside the block at 0x%llx", table_gpa,
			   w->base_gpa);
		return;
	}
	w->tables_seen++;
	table = w->pages + (table_gpa - w->base_gpa) / 8;
	for (unsigned int i = 0; i < 512; i++) {
		uint64_t e = table[i], va = va_prefix | ((uint64_t)i << (12 + 9 * level));

		if (!(e & AMD64_PTE_PRESENT)) {
			if (e)
				walk_error(w, "non-present entry 0x%llx at VA 0x%llx", e, va);
			continue;
		}
		if (level == 0) {
			check_leaf(w, canonical(va), e);
			continue;
		}
		/* Upper levels: present, writable, no NX/USER/huge, so
		 * that the leaf alone decides. */
		if ((e & RIGHTS_MASK) != (AMD64_PTE_PRESENT | AMD64_PTE_WRITE))
			walk_error(w, "upper entry 0x%llx at VA 0x%llx", e, va);
		walk_table(w, e & AMD64_PTE_ADDR_MASK, level - 1, va);
	}
}

static void fake_image(struct snapvm_elf_image *image, uint64_t data_bytes)
{
	memset(image, 0, sizeof(*image));
	image->path = "fake.elf";
	image->layout = SNAPVM_LAYOUT_AMD64;
	image->entry = 0x100000;
	image->nsegments = 3;
	image->segments[0] =
	    (struct snapvm_elf_segment){.vaddr = 0x100000, .memsz = 0x1800, .flags = 5};
	image->segments[1] =
	    (struct snapvm_elf_segment){.vaddr = 0x102010, .memsz = 0x800, .flags = 4};
	image->segments[2] =
	    (struct snapvm_elf_segment){.vaddr = 0x103000, .memsz = data_bytes, .flags = 6};
	image->end = snapvm_page_align_up(0x103000 + data_bytes);
}

/* Build the tables for the image + scratch, then walk both the pristine and
 * the relocated live copy. */
static void build_and_walk(struct __test_metadata *_metadata, const struct snapvm_elf_image *image,
			   uint64_t scratch_size)
{
	struct amd64_mapping maps[SNAPVM_ELF_MAX_SEGMENTS + 1];
	unsigned int nmaps = amd64_image_mappings(image, scratch_size, maps);
	struct amd64_page_tables pt;
	struct snapvm_error err = {0};
	uint64_t *live, live_gpa = amd64_scratch_base_gpa(scratch_size) + AMD64_SCRATCH_PT_OFFSET;
	struct expect expect[] = {
	    {0x100000, 0x100000, 2, TEXT},
	    {0x102000, 0x102000, 1, RODATA},
	    {0x103000, 0x103000, (image->end - 0x103000) / 4096, DATA},
	    {amd64_scratch_base_gva(scratch_size), amd64_scratch_base_gpa(scratch_size),
	     scratch_size / 4096, SCRATCH},
	    {AMD64_SNAPSHOT_PT_GVA_MIN, image->end, 0, WINDOW},
	};
	struct walk w = {.pt = &pt, .expect = expect, .nexpect = 5};

	ASSERT_EQ(0, amd64_pt_build(maps, nmaps, image->end, AMD64_SNAPSHOT_PT_GVA_MIN, &pt, &err))
	TH_LOG("%s", err.message);
	expect[WINDOW].npages = pt.npages;
	EXPECT_EQ(pt.npages, amd64_pt_count(maps, nmaps, AMD64_SNAPSHOT_PT_GVA_MIN));

	w.pages = pt.pages;
	w.base_gpa = pt.base_gpa;
	walk_table(&w, pt.base_gpa, 3, 0);
	EXPECT_EQ(0ULL, w.errors)
	TH_LOG("pristine: %llu errors, first: %s", (unsigned long long)w.errors, w.first_error);
	/* Every table is reachable exactly once: none leaked, none shared. */
	EXPECT_EQ(pt.npages, w.tables_seen);
	for (unsigned int k = 0; k < KINDS; k++) {
		EXPECT_EQ(expect[k].npages, w.leaves[k]) TH_LOG("%s pages", kind_names[k]);
	}

	/* The live copy: same shape, pointers moved into scratch, leaves
	 * (including the window onto the pristine tables) unchanged. */
	live = calloc(pt.npages, 4096);
	ASSERT_NE(NULL, live);
	amd64_pt_relocate(&pt, live_gpa, live);
	memset(&w.leaves, 0, sizeof(w.leaves));
	w.tables_seen = w.errors = 0;
	w.pages = live;
	w.base_gpa = live_gpa;
	walk_table(&w, live_gpa, 3, 0);
	EXPECT_EQ(0ULL, w.errors)
	TH_LOG("live: %llu errors, first: %s", (unsigned long long)w.errors, w.first_error);
	EXPECT_EQ(pt.npages, w.tables_seen);
	for (unsigned int k = 0; k < KINDS; k++) {
		EXPECT_EQ(expect[k].npages, w.leaves[k]) TH_LOG("live %s pages", kind_names[k]);
	}
	free(live);
	amd64_pt_free(&pt);
}

TEST(small_image_default_scratch)
{
	struct snapvm_elf_image image;

	fake_image(&image, 0x2800);
	build_and_walk(_metadata, &image, SNAPVM_DEFAULT_SCRATCH_SIZE);
}

TEST(minimum_scratch)
{
	struct snapvm_elf_image image;

	fake_image(&image, 0x10);
	build_and_walk(_metadata, &image, AMD64_MIN_SCRATCH_SIZE);
}

TEST(data_crossing_2m_and_1g_boundaries)
{
	struct snapvm_elf_image image;

	/* 0x103000 + 1 GiB + 3 MiB crosses PD and PDPT boundaries. */
	fake_image(&image, G + 3 * M + 0x123);
	build_and_walk(_metadata, &image, 2 * M + 4 * K);
}

TEST(large_scratch)
{
	struct snapvm_elf_image image;

	fake_image(&image, 0x2800);
	build_and_walk(_metadata, &image, 3 * G + 8 * K);
}

TEST(overlapping_mappings_are_refused)
{
	struct amd64_mapping maps[] = {
	    {0x100000, 0x100000, 4, AMD64_PTE_PRESENT},
	    {0x102000, 0x102000, 1, AMD64_PTE_PRESENT},
	};
	struct amd64_page_tables pt;
	struct snapvm_error err = {0};

	EXPECT_NE(0, amd64_pt_build(maps, 2, 0x200000, 0, &pt, &err));
	EXPECT_NE(NULL, strstr(err.message, "overlap")) TH_LOG("%s", err.message);
}

TEST(segments_sharing_a_page_map_it_once)
{
	struct snapvm_elf_image image;
	struct amd64_mapping maps[SNAPVM_ELF_MAX_SEGMENTS + 1];
	unsigned int n;

	fake_image(&image, 0x2800);
	/* Two RW segments in one page (the loader allows same rights). */
	image.segments[2].memsz = 0x800;
	image.segments[3] =
	    (struct snapvm_elf_segment){.vaddr = 0x103900, .memsz = 0x1000, .flags = 6};
	image.nsegments = 4;
	image.end = 0x105000;
	n = amd64_image_mappings(&image, 16 * M, maps);
	ASSERT_EQ(4U, n); /* text, rodata, data (merged), scratch */
	EXPECT_EQ(0x103000ULL, maps[2].gva);
	EXPECT_EQ(2ULL, maps[2].npages);
}

/* ---- translation, as WRITE and ABORT use it ---- */

TEST(translate_through_built_tables)
{
	struct snapvm_elf_image image;
	struct amd64_mapping maps[SNAPVM_ELF_MAX_SEGMENTS + 1];
	struct amd64_page_tables pt;
	struct snapvm_guest_memory mem = {0};
	uint64_t scratch = 16 * M, gpa, contiguous;
	uint64_t scratch_gva = amd64_scratch_base_gva(scratch);
	unsigned char *snapshot;
	struct snapvm_paging paging = {
	    .cr0 = (1ULL << 31) | 1,
	    .cr4 = 1ULL << 5,
	    .efer = (1ULL << 10) | (1ULL << 8),
	};
	unsigned int n;

	fake_image(&image, 0x2800);
	n = amd64_image_mappings(&image, scratch, maps);
	ASSERT_EQ(0, amd64_pt_build(maps, n, image.end, AMD64_SNAPSHOT_PT_GVA_MIN, &pt, NULL));
	/* Guest memory = the pristine tables at their GPA. */
	snapshot = (unsigned char *)pt.pages;
	mem.slots[0] = (struct snapvm_guest_slot){
	    .gpa = image.end, .size = pt.npages * 4096, .host = snapshot};
	mem.nslots = 1;
	paging.cr3 = image.end;

	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, 0x100123, &gpa, &contiguous));
	EXPECT_EQ(0x100123ULL, gpa);
	EXPECT_EQ(4096ULL - 0x123, contiguous);
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, scratch_gva + 0x5008, &gpa, &contiguous));
	EXPECT_EQ(amd64_scratch_base_gpa(scratch) + 0x5008, gpa);
	ASSERT_EQ(
	    0, snapvm_gva_to_gpa(&mem, &paging, AMD64_SNAPSHOT_PT_GVA_MIN + 8, &gpa, &contiguous));
	EXPECT_EQ(image.end + 8, gpa);
	/* Scratch ends at MAX_GVA; page 0, the gap after the image, the last
	 * page and non-canonical addresses are not mapped. */
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, AMD64_MAX_GVA, &gpa, &contiguous));
	EXPECT_EQ(AMD64_MAX_GPA, gpa);
	EXPECT_EQ(1ULL, contiguous);
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0xfff, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, image.end, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, AMD64_MAX_GVA + 1, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, scratch_gva - 1, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0x0000800000000000ULL, &gpa, &contiguous));
	/* Tables outside guest memory: the walk fails, it does not crash. */
	paging.cr3 = 0x40000000;
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0x100000, &gpa, &contiguous));
	amd64_pt_free(&pt);
}

TEST(gpa_to_host_stays_inside_one_slot)
{
	unsigned char a[8192], b[4096];
	struct snapvm_guest_memory mem = {
	    .slots = {{.gpa = 0x1000, .size = sizeof(a), .host = a},
		      {.gpa = 0x3000, .size = sizeof(b), .host = b}},
	    .nslots = 2,
	};

	EXPECT_EQ((void *)a, snapvm_gpa_to_host(&mem, 0x1000, 8192));
	EXPECT_EQ((void *)(a + 0x1fff), snapvm_gpa_to_host(&mem, 0x2fff, 1));
	EXPECT_EQ(NULL, snapvm_gpa_to_host(&mem, 0x2fff, 2)); /* spans two slots */
	EXPECT_EQ((void *)b, snapvm_gpa_to_host(&mem, 0x3000, 4096));
	EXPECT_EQ(NULL, snapvm_gpa_to_host(&mem, 0x3000, 4097));
	EXPECT_EQ(NULL, snapvm_gpa_to_host(&mem, 0xfff, 1));
	EXPECT_EQ(NULL, snapvm_gpa_to_host(&mem, 0x4000, 0));
	EXPECT_EQ(NULL, snapvm_gpa_to_host(&mem, UINT64_MAX, 2));
	EXPECT_EQ(NULL, snapvm_gpa_to_host(&mem, 0x1000, UINT64_MAX));
}

/* i686 guests may turn on their own paging: 32-bit (with 4 MiB pages) or PAE. */
TEST(translate_i686_paging_modes)
{
	static uint32_t mem32[4][1024] __attribute__((aligned(4096)));
	static uint64_t mem64[4][512] __attribute__((aligned(4096)));
	struct snapvm_guest_memory mem = {.nslots = 1};
	struct snapvm_paging paging = {.cr0 = 1};
	uint64_t gpa, contiguous;

	/* Paging off: identity below 4 GiB, nothing above. */
	mem.slots[0] =
	    (struct snapvm_guest_slot){.gpa = 0, .size = sizeof(mem32), .host = (void *)mem32};
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, 0xfee00123, &gpa, &contiguous));
	EXPECT_EQ(0xfee00123ULL, gpa);
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0x100000000ULL, &gpa, &contiguous));

	/* 32-bit: PD at GPA 0, PT at 0x1000. */
	mem32[0][1] = 0x1000 | 1;	     /* 4 MiB..8 MiB -> PT */
	mem32[1][5] = 0x7000 | 1;	     /* GVA 0x405000 -> 0x7000 */
	mem32[0][2] = 0x00c00000 | 0x80 | 1; /* GVA 8 MiB: 4 MiB page at 12 MiB */
	mem32[0][3] = 0x00c00000 | 0x80;     /* not present */
	paging.cr0 |= 1ULL << 31;
	paging.cr3 = 0;
	paging.cr4 = 1ULL << 4; /* PSE */
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, 0x405abc, &gpa, &contiguous));
	EXPECT_EQ(0x7abcULL, gpa);
	EXPECT_EQ(0x544ULL, contiguous);
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, 0x812345, &gpa, &contiguous));
	EXPECT_EQ(0xc12345ULL, gpa);
	EXPECT_EQ(4 * M - 0x12345, contiguous);
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0xc00000, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0x406000, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0, &gpa, &contiguous));

	/* PAE: PDPT at 0x20 (32-byte aligned), PD at 0x1000, PT at 0x2000. */
	memset(mem64, 0, sizeof(mem64));
	mem.slots[0] =
	    (struct snapvm_guest_slot){.gpa = 0, .size = sizeof(mem64), .host = (void *)mem64};
	mem64[0][4 + 3] = 0x1000 | 1;		 /* PDPTE 3: 3 GiB..4 GiB */
	mem64[1][2] = 0x2000 | 1;		 /* 3 GiB + 4 MiB */
	mem64[2][1] = 0x3000 | 1 | (1ULL << 63); /* + 4 KiB, NX does not matter */
	mem64[1][3] = 0x40000000ULL | 0x80 | 1;	 /* 2 MiB page */
	paging.cr3 = 0x20;
	paging.cr4 = 1ULL << 5;
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, 0xc0401010, &gpa, &contiguous));
	EXPECT_EQ(0x3010ULL, gpa);
	ASSERT_EQ(0, snapvm_gva_to_gpa(&mem, &paging, 0xc0612345, &gpa, &contiguous));
	EXPECT_EQ(0x40012345ULL, gpa);
	EXPECT_EQ(2 * M - 0x12345, contiguous);
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0x00401010, &gpa, &contiguous));
	EXPECT_EQ(-1, snapvm_gva_to_gpa(&mem, &paging, 0xc0402000, &gpa, &contiguous));
}

TEST_HARNESS_MAIN
