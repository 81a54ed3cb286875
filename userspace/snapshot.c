// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * snapshot.c - snapshots: a guest ELF file becomes a sealed memory region
 * (image plus the layout's own structures) with the vCPU state to start
 * from and the scratch template every sandbox begins with.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "userspace/internal.h"

static int seal_into_region(struct snapvm_snapshot *snap, enum snapvm_memory memory,
			    const struct snapvm_snapshot_image *image, struct snapvm_error *err)
{
	int ret =
	    snapvm_region_create(memory, image->snapshot_size, "snapshot", &snap->region, err);

	if (ret)
		return ret;
	ret = snapvm_region_write(&snap->region, 0, image->snapshot, image->snapshot_size, err);
	if (!ret)
		ret = snapvm_region_seal(&snap->region, err);
	if (ret)
		return ret;
	snap->memory = snapvm_region_map(&snap->region, SNAPVM_MAP_SHARED_RO, err);
	if (!snap->memory)
		return err ? err->status : EX_OSERR;
	return 0;
}

int snapvm_snapshot_from_elf(const char *path, const struct snapvm_snapshot_options *options,
			     struct snapvm_snapshot **out, struct snapvm_error *err)
{
	struct snapvm_snapshot_options opts = {0};
	struct snapvm_snapshot_image image = {0};
	struct snapvm_elf_image elf;
	const struct snapvm_arch *arch;
	struct snapvm_snapshot *snap = NULL;
	enum snapvm_memory memory;
	int ret;

	*out = NULL;
	if (options)
		opts = *options;
	if (!opts.scratch_size)
		opts.scratch_size = SNAPVM_DEFAULT_SCRATCH_SIZE;
	ret = snapvm_elf_open(path, opts.layout, &elf, err);
	if (ret)
		return ret;
	arch = snapvm_arch_get(elf.layout);
	/* Before any guest memory exists: a size that cannot work is the
	 * user's mistake, not an allocation failure. */
	ret = snapvm_scratch_check(arch, &elf, opts.scratch_size, err);
	if (!ret)
		ret = snapvm_memory_resolve(opts.memory, &memory, err);
	if (!ret)
		ret = arch->build(&elf, opts.scratch_size, &image, err);
	if (ret)
		goto out;

	snap = calloc(1, sizeof(*snap));
	if (!snap) {
		ret = snapvm_fail(err, EX_OSERR, "out of memory");
		goto out;
	}
	snap->refs = 1;
	snap->arch = arch;
	snap->region.fd = -1;
	snap->gpa = arch->snapshot_base_gpa;
	snap->size = image.snapshot_size;
	snap->scratch_size = opts.scratch_size;
	snap->entry = image.entry;
	ret = seal_into_region(snap, memory, &image, err);
	if (ret)
		goto out;
	/* The template moves into the snapshot. */
	snap->scratch_init = image.scratch_init;
	snap->scratch_init_size = image.scratch_init_size;
	image.scratch_init = NULL;
	*out = snap;
	snap = NULL;
out:
	snapvm_snapshot_put(snap);
	snapvm_snapshot_image_free(&image);
	snapvm_elf_close(&elf);
	return ret;
}

void snapvm_snapshot_put(struct snapvm_snapshot *snap)
{
	if (!snap || __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (snap->memory)
		munmap((void *)snap->memory, snap->region.size);
	snapvm_region_close(&snap->region);
	free(snap->scratch_init);
	free(snap);
}

uint32_t snapvm_snapshot_layout(const struct snapvm_snapshot *snap)
{
	return snap->arch->layout;
}

uint64_t snapvm_snapshot_scratch_size(const struct snapvm_snapshot *snap)
{
	return snap->scratch_size;
}

const void *snapvm_snapshot_memory(const struct snapvm_snapshot *snap, uint64_t *gpa,
				   uint64_t *size)
{
	*gpa = snap->gpa;
	*size = snap->size;
	return snap->memory;
}
