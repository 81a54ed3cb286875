// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * layout.c - what both layouts share: which layout is which (the arch
 * tables), and whether a scratch size fits beside an image (and which sizes
 * would). The boot-info block is image.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

const struct snapvm_arch *snapvm_arch_get(uint32_t layout)
{
	switch (layout) {
	case SNAPVM_LAYOUT_I686:
		return &snapvm_arch_i686;
	case SNAPVM_LAYOUT_AMD64:
		return &snapvm_arch_amd64;
	default:
		return NULL;
	}
}

static uint64_t largest_scratch(const struct snapvm_arch *arch)
{
	return snapvm_page_align_down(arch->max_gpa + 1 - arch->snapshot_base_gpa);
}

/* The snapshot ends below scratch: true up to some size, false beyond. */
static bool leaves_room(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			uint64_t scratch_size)
{
	uint64_t snapshot_end = arch->snapshot_base_gpa + arch->snapshot_size(image, scratch_size);

	return snapshot_end <= arch->scratch_base_gpa(scratch_size);
}

/* The VMM's structures and the stack fit inside scratch: false below some
 * size, true above (they grow far slower than scratch does). */
static bool holds_vmm(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
		      uint64_t scratch_size)
{
	return arch->scratch_needed(image, scratch_size) <= scratch_size;
}

bool snapvm_scratch_fits(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			 uint64_t scratch_size)
{
	return scratch_size % SNAPVM_PAGE == 0 && scratch_size >= arch->min_scratch_size &&
	       scratch_size <= largest_scratch(arch) && holds_vmm(arch, image, scratch_size) &&
	       leaves_room(arch, image, scratch_size);
}

void snapvm_scratch_range(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			  uint64_t *min, uint64_t *max)
{
	uint64_t lo = arch->min_scratch_size / SNAPVM_PAGE,
		 hi = largest_scratch(arch) / SNAPVM_PAGE;
	uint64_t a, b;

	*min = *max = 0;
	if (lo > hi)
		return;
	/* Smallest page count that holds the VMM's structures. */
	a = lo, b = hi + 1;
	while (a < b) {
		uint64_t mid = a + (b - a) / 2;

		if (holds_vmm(arch, image, mid * SNAPVM_PAGE))
			b = mid;
		else
			a = mid + 1;
	}
	if (a > hi)
		return;
	lo = a;
	/* Largest page count that leaves room for the snapshot. */
	if (!leaves_room(arch, image, lo * SNAPVM_PAGE))
		return;
	a = lo, b = hi;
	while (a < b) {
		uint64_t mid = a + (b - a + 1) / 2;

		if (leaves_room(arch, image, mid * SNAPVM_PAGE))
			a = mid;
		else
			b = mid - 1;
	}
	*min = lo * SNAPVM_PAGE;
	*max = a * SNAPVM_PAGE;
}

int snapvm_scratch_check(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			 uint64_t scratch_size, struct snapvm_error *err)
{
	char size[32], min_text[32], max_text[32];
	uint64_t min, max;
	const char *why;

	if (snapvm_scratch_fits(arch, image, scratch_size))
		return 0;
	snapvm_format_size(scratch_size, size, sizeof(size));
	snapvm_scratch_range(arch, image, &min, &max);
	if (max == 0)
		return snapvm_fail(err, EX_USAGE,
				   "%s: no scratch size fits the %s layout beside this image",
				   image->path, arch->name);
	snapvm_format_size(min, min_text, sizeof(min_text));
	snapvm_format_size(max, max_text, sizeof(max_text));
	if (scratch_size % SNAPVM_PAGE)
		why = "is not a multiple of 4K";
	else if (scratch_size < min)
		why = "is too small";
	else
		why = "is too large";
	return snapvm_fail(err, EX_USAGE,
			   "scratch size %s (%llu bytes) %s for %s in the %s layout: the largest "
			   "that fits is %s (%llu bytes), the smallest %s",
			   size, (unsigned long long)scratch_size, why, image->path, arch->name,
			   max_text, (unsigned long long)max, min_text);
}
