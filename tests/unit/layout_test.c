// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * layout_test.c - layout arithmetic on the host: scratch bases, the largest
 * scratch beside a snapshot, what fits, and libsnapvm's own fit check that
 * adds the VMM's structures (GDT, page tables, stack) to the picture.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "userspace/lib/internal.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

/* A typical small guest: text, rodata, data + bss, from 1 MiB. */
static void fake_image(struct snapvm_elf_image *image, uint32_t layout, uint64_t data_pages)
{
	memset(image, 0, sizeof(*image));
	image->path = "fake.elf";
	image->layout = layout;
	image->entry = 0x100000;
	image->nsegments = 3;
	image->segments[0] =
	    (struct snapvm_elf_segment){.vaddr = 0x100000, .memsz = 0x1800, .flags = 5};
	image->segments[1] =
	    (struct snapvm_elf_segment){.vaddr = 0x102000, .memsz = 0x800, .flags = 4};
	image->segments[2] = (struct snapvm_elf_segment){
	    .vaddr = 0x103000, .memsz = data_pages * 4096 - 0x10, .flags = 6};
	image->end = 0x103000 + data_pages * 4096;
}

TEST(amd64_scratch_bases)
{
	EXPECT_EQ(0xfff000000ULL, amd64_scratch_base_gpa(16 * M));
	EXPECT_EQ(0xfffffffffefff000ULL, amd64_scratch_base_gva(16 * M));
	/* Scratch ends exactly at MAX_GPA / MAX_GVA, whatever its size. */
	for (uint64_t size = 4 * K; size <= 64 * G; size *= 2) {
		EXPECT_EQ(AMD64_MAX_GPA, amd64_scratch_base_gpa(size) + size - 1);
		EXPECT_EQ(AMD64_MAX_GVA, amd64_scratch_base_gva(size) + size - 1);
		/* GVA and GPA share the page offset: 4 KiB pages only. */
		EXPECT_EQ(0ULL, amd64_scratch_base_gva(size) % 4096);
	}
	/* The last GVA page stays unmapped: "end of scratch" never wraps. */
	EXPECT_EQ(0xfffffffffffff000ULL, amd64_scratch_base_gva(16 * M) + 16 * M);
}

TEST(i686_scratch_bases)
{
	EXPECT_EQ(0xfde00000ULL, i686_scratch_base_gpa(16 * M));
	EXPECT_EQ(0xfee00000ULL, i686_scratch_base_gpa(64 * K) + 64 * K);
}

/* Scratch ends right under the local APIC page. */
_Static_assert(I686_APIC_BASE_GPA == I686_MAX_GPA + 1, "i686 guest memory ends at the APIC");

TEST(amd64_max_scratch_and_fits)
{
	uint64_t end = 0x106000, max = amd64_max_scratch_size(end);

	EXPECT_EQ(AMD64_MAX_GPA + 1 - end, max);
	EXPECT_TRUE(amd64_scratch_fits(16 * M, end));
	EXPECT_TRUE(amd64_scratch_fits(max, end));
	EXPECT_TRUE(amd64_scratch_fits(AMD64_MIN_SCRATCH_SIZE, end));
	EXPECT_FALSE(amd64_scratch_fits(max + 4 * K, end));
	EXPECT_FALSE(amd64_scratch_fits(AMD64_MIN_SCRATCH_SIZE - 4 * K, end));
	EXPECT_FALSE(amd64_scratch_fits(16 * M + 1, end));
	EXPECT_FALSE(amd64_scratch_fits(0, end));
	/* An unaligned end rounds up to its page. */
	EXPECT_EQ(max - 4 * K, amd64_max_scratch_size(end + 1));
	/* Nothing fits when less than the minimum is left. */
	EXPECT_EQ(0ULL, amd64_max_scratch_size(AMD64_MAX_GPA + 1 - AMD64_MIN_SCRATCH_SIZE + 4 * K));
	EXPECT_EQ(AMD64_MIN_SCRATCH_SIZE,
		  amd64_max_scratch_size(AMD64_MAX_GPA + 1 - AMD64_MIN_SCRATCH_SIZE));
	EXPECT_EQ(0ULL, amd64_max_scratch_size(AMD64_MAX_GPA + 2));
}

TEST(i686_max_scratch_and_fits)
{
	uint64_t end = 0x106000, max = i686_max_scratch_size(end);

	EXPECT_EQ(0xfee00000ULL - end, max);
	EXPECT_TRUE(i686_scratch_fits(max, end));
	EXPECT_TRUE(i686_scratch_fits(I686_MIN_SCRATCH_SIZE, end));
	EXPECT_FALSE(i686_scratch_fits(max + 4 * K, end));
	EXPECT_FALSE(i686_scratch_fits(I686_MIN_SCRATCH_SIZE - 4 * K, end));
	EXPECT_FALSE(i686_scratch_fits(4 * G, end));
	EXPECT_EQ(0ULL, i686_max_scratch_size(I686_MAX_GPA));
	EXPECT_EQ(0ULL, i686_max_scratch_size(0xfee00000ULL - I686_MIN_SCRATCH_SIZE + 1));
}

/* libsnapvm's check: the snapshot region (image + GDT or page tables) must
 * end below scratch, and the VMM's structures + stack must fit inside. */
static void check_range(struct __test_metadata *_metadata, const struct snapvm_arch *arch,
			const struct snapvm_elf_image *image)
{
	uint64_t min, max;

	snapvm_scratch_range(arch, image, &min, &max);
	ASSERT_NE(0ULL, max);
	ASSERT_LE(min, max);
	EXPECT_EQ(0ULL, min % 4096);
	EXPECT_EQ(0ULL, max % 4096);
	EXPECT_TRUE(snapvm_scratch_fits(arch, image, min));
	EXPECT_TRUE(snapvm_scratch_fits(arch, image, max));
	EXPECT_FALSE(snapvm_scratch_fits(arch, image, max + 4096));
	EXPECT_FALSE(snapvm_scratch_fits(arch, image, min - 4096));
	EXPECT_FALSE(snapvm_scratch_fits(arch, image, min + 1));
	/* At the largest size the snapshot ends at most where scratch starts
	 * and one page more would overlap. */
	EXPECT_LE(arch->snapshot_base_gpa + arch->snapshot_size(image, max),
		  arch->scratch_base_gpa(max));
	EXPECT_LE(arch->scratch_needed(image, min), min);
}

TEST(amd64_scratch_range_small_image)
{
	struct snapvm_elf_image image;
	uint64_t min, max;

	fake_image(&image, SNAPVM_LAYOUT_AMD64, 3);
	check_range(_metadata, &snapvm_arch_amd64, &image);
	snapvm_scratch_range(&snapvm_arch_amd64, &image, &min, &max);
	EXPECT_EQ(AMD64_MIN_SCRATCH_SIZE, min);
	/* The pristine page tables map scratch too: 8 bytes per 4 KiB page
	 * of it come off the top. */
	EXPECT_LE(max + max / 512, AMD64_MAX_GPA + 1 - image.end);
	EXPECT_GT(max, 63 * G);
	EXPECT_TRUE(snapvm_scratch_fits(&snapvm_arch_amd64, &image, SNAPVM_DEFAULT_SCRATCH_SIZE));
}

TEST(amd64_big_image_needs_more_than_the_minimum_scratch)
{
	struct snapvm_elf_image image;
	uint64_t min, max;

	/* 1 GiB of data: 512 PT pages (2 MiB) of tables, in scratch too. */
	fake_image(&image, SNAPVM_LAYOUT_AMD64, G / 4096);
	check_range(_metadata, &snapvm_arch_amd64, &image);
	snapvm_scratch_range(&snapvm_arch_amd64, &image, &min, &max);
	EXPECT_GT(min, 2 * M + AMD64_STACK_SIZE);
	EXPECT_FALSE(snapvm_scratch_fits(&snapvm_arch_amd64, &image, AMD64_MIN_SCRATCH_SIZE));
}

TEST(i686_scratch_range)
{
	struct snapvm_elf_image image;
	uint64_t min, max;

	fake_image(&image, SNAPVM_LAYOUT_I686, 3);
	check_range(_metadata, &snapvm_arch_i686, &image);
	snapvm_scratch_range(&snapvm_arch_i686, &image, &min, &max);
	EXPECT_EQ(I686_MIN_SCRATCH_SIZE, min);
	/* The image, then one GDT page, then scratch up to the APIC page. */
	EXPECT_EQ(I686_APIC_BASE_GPA - image.end - 4096, max);
}

TEST(an_image_filling_the_layout_leaves_no_scratch)
{
	struct snapvm_elf_image image;
	uint64_t min, max;

	fake_image(&image, SNAPVM_LAYOUT_I686, 3);
	image.segments[2].memsz = I686_MAX_GPA + 1 - 0x103000 - I686_MIN_SCRATCH_SIZE;
	image.end = I686_MAX_GPA + 1 - I686_MIN_SCRATCH_SIZE;
	/* The GDT page takes what the minimum scratch needed. */
	snapvm_scratch_range(&snapvm_arch_i686, &image, &min, &max);
	EXPECT_EQ(0ULL, max);
	EXPECT_FALSE(snapvm_scratch_fits(&snapvm_arch_i686, &image, I686_MIN_SCRATCH_SIZE));
}

TEST(misfits_are_usage_errors_naming_the_largest_fit)
{
	struct snapvm_elf_image image;
	struct snapvm_error err = {0};
	char want[64];
	uint64_t min, max;

	fake_image(&image, SNAPVM_LAYOUT_I686, 3);
	snapvm_scratch_range(&snapvm_arch_i686, &image, &min, &max);
	EXPECT_EQ(0, snapvm_scratch_check(&snapvm_arch_i686, &image, 16 * M, &err));
	EXPECT_EQ(EX_USAGE, snapvm_scratch_check(&snapvm_arch_i686, &image, 4 * G, &err));
	snprintf(want, sizeof(want), "largest that fits is %lluK (%llu bytes)",
		 (unsigned long long)max / 1024, (unsigned long long)max);
	EXPECT_NE(NULL, strstr(err.message, want)) TH_LOG("%s", err.message);
	EXPECT_NE(NULL, strstr(err.message, "too large")) TH_LOG("%s", err.message);
	EXPECT_NE(NULL, strstr(err.message, "fake.elf")) TH_LOG("%s", err.message);

	EXPECT_EQ(EX_USAGE, snapvm_scratch_check(&snapvm_arch_i686, &image, 4 * K, &err));
	EXPECT_NE(NULL, strstr(err.message, "too small")) TH_LOG("%s", err.message);
	EXPECT_NE(NULL, strstr(err.message, "smallest 64K")) TH_LOG("%s", err.message);

	EXPECT_EQ(EX_USAGE, snapvm_scratch_check(&snapvm_arch_i686, &image, 16 * M + 100, &err));
	EXPECT_NE(NULL, strstr(err.message, "multiple of 4K")) TH_LOG("%s", err.message);
}

TEST(boot_info_describes_the_regions)
{
	struct snapvm_elf_image image;
	struct snapvm_snapshot_image out;
	const struct snapvm_boot_info *info;
	const uint64_t *gdt;

	fake_image(&image, SNAPVM_LAYOUT_AMD64, 3);
	ASSERT_EQ(0, snapvm_arch_amd64.build(&image, 16 * M, &out, NULL));
	info = (const struct snapvm_boot_info *)(out.scratch_init + AMD64_SCRATCH_BOOT_INFO_OFFSET);
	EXPECT_EQ((uint32_t)SNAPVM_BOOT_MAGIC, info->magic);
	EXPECT_EQ((uint32_t)SNAPVM_BOOT_VERSION, info->version);
	EXPECT_EQ((uint32_t)SNAPVM_LAYOUT_AMD64, info->layout);
	EXPECT_EQ(AMD64_SNAPSHOT_BASE_GPA, info->snapshot_gpa);
	EXPECT_EQ(out.snapshot_size, info->snapshot_size);
	EXPECT_EQ(amd64_scratch_base_gpa(16 * M), info->scratch_gpa);
	EXPECT_EQ(amd64_scratch_base_gva(16 * M), info->scratch_gva);
	EXPECT_EQ(16 * M, info->scratch_size);
	EXPECT_EQ(info->scratch_gva + out.scratch_init_size, info->scratch_free_gva);
	EXPECT_EQ(16 * M - out.scratch_init_size - AMD64_STACK_SIZE, info->scratch_free_size);
	EXPECT_EQ(AMD64_SNAPSHOT_PT_GVA_MIN, info->snapshot_pt_gva);
	/* Entry: RDI = boot info, RSP = top of scratch, 16-byte aligned. */
	EXPECT_EQ(info->scratch_gva, out.entry.regs.rdi);
	EXPECT_EQ(info->scratch_gva + 16 * M, out.entry.regs.rsp);
	EXPECT_EQ(0ULL, out.entry.regs.rsp % 16);
	EXPECT_EQ(0x100000ULL, out.entry.regs.rip);
	EXPECT_EQ(0ULL, out.entry.regs.rflags & (1 << 9)); /* IF=0 */
	EXPECT_EQ(info->scratch_gpa + AMD64_SCRATCH_PT_OFFSET, out.entry.sregs.cr3);
	EXPECT_EQ(0, out.entry.sregs.idt.limit);
	snapvm_snapshot_image_free(&out);

	fake_image(&image, SNAPVM_LAYOUT_I686, 3);
	ASSERT_EQ(0, snapvm_arch_i686.build(&image, 64 * K, &out, NULL));
	info = (const struct snapvm_boot_info *)out.scratch_init;
	EXPECT_EQ((uint32_t)SNAPVM_LAYOUT_I686, info->layout);
	EXPECT_EQ(0ULL, info->snapshot_gpa);
	EXPECT_EQ(image.end + 4096, info->snapshot_size);
	EXPECT_EQ(0xfee00000ULL - 64 * K, info->scratch_gpa);
	EXPECT_EQ(info->scratch_gpa, info->scratch_gva);
	EXPECT_EQ(info->scratch_gpa + 4096, info->scratch_free_gva);
	EXPECT_EQ(64 * K - 4096 - I686_STACK_SIZE, info->scratch_free_size);
	EXPECT_EQ(0ULL, info->snapshot_pt_gva);
	EXPECT_EQ(info->scratch_gpa, out.entry.regs.rbx);
	EXPECT_EQ(0xfee00000ULL, out.entry.regs.rsp);
	/* The GDT follows the image: null, code, data, Accessed bits clear. */
	EXPECT_EQ(image.end, out.entry.sregs.gdt.base);
	EXPECT_EQ(23, out.entry.sregs.gdt.limit);
	gdt = (const uint64_t *)(out.snapshot + image.end);
	EXPECT_EQ(0ULL, gdt[0]);
	EXPECT_EQ(0ULL, gdt[1] & (1ULL << 40));
	EXPECT_EQ(0ULL, gdt[2] & (1ULL << 40));
	EXPECT_EQ(1ULL, (gdt[1] >> 47) & 1);
	EXPECT_EQ(SNAPVM_SELECTOR_CODE, out.entry.sregs.cs.selector);
	EXPECT_EQ(SNAPVM_SELECTOR_DATA, out.entry.sregs.ss.selector);
	EXPECT_EQ(0ULL, out.entry.sregs.cr0 & (1ULL << 31)); /* paging off */
	snapvm_snapshot_image_free(&out);
}

TEST_HARNESS_MAIN
