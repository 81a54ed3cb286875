// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * image.c - what the layouts build a snapshot image with: the ELF segments
 * copied into guest memory, the boot-info block, and freeing an image. It
 * stands below the arch files, so that layout.c and elf.c, which look the
 * arch tables up, are not called back by them.
 */
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

void snapvm_elf_copy(const struct snapvm_elf_image *image, unsigned char *buf, uint64_t base_gpa,
		     uint64_t buf_size)
{
	for (unsigned int i = 0; i < image->nsegments; i++) {
		const struct snapvm_elf_segment *seg = &image->segments[i];

		/* Checked at open: base <= vaddr, end within the image. */
		if (seg->vaddr < base_gpa || seg->vaddr - base_gpa > buf_size ||
		    seg->filesz > buf_size - (seg->vaddr - base_gpa))
			continue;
		memcpy(buf + (seg->vaddr - base_gpa), image->file + seg->offset, seg->filesz);
	}
}

void snapvm_boot_info_init(struct snapvm_boot_info *info, const struct snapvm_arch *arch,
			   uint64_t snapshot_size, uint64_t scratch_size, uint64_t scratch_used,
			   uint64_t stack_size, uint64_t pt_gva)
{
	uint64_t scratch_gva = arch->scratch_base_gva(scratch_size);

	memset(info, 0, sizeof(*info));
	info->magic = SNAPVM_BOOT_MAGIC;
	info->version = SNAPVM_BOOT_VERSION;
	info->layout = arch->layout;
	info->snapshot_gpa = arch->snapshot_base_gpa;
	info->snapshot_size = snapshot_size;
	info->scratch_gpa = arch->scratch_base_gpa(scratch_size);
	info->scratch_gva = scratch_gva;
	info->scratch_size = scratch_size;
	info->scratch_free_gva = scratch_gva + scratch_used;
	info->scratch_free_size = scratch_size - scratch_used - stack_size;
	info->snapshot_pt_gva = pt_gva;
}

void snapvm_snapshot_image_free(struct snapvm_snapshot_image *out)
{
	free(out->snapshot);
	free(out->scratch_init);
	out->snapshot = NULL;
	out->scratch_init = NULL;
}
