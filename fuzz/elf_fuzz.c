// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * elf_fuzz.c - libFuzzer harness for the guest ELF loader: snapvm_elf_parse
 * on the input for each layout choice (AUTO, i686, amd64) and, for what it
 * accepts, the layout's build of the snapshot image, as snapvm_snapshot_from
 * _elf would do with the default scratch size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

/* Images whose snapshot would be bigger are accepted by the loader (the
 * layout allows up to 64 GiB) but not built here: the build allocates the
 * whole snapshot, which is the memory cap's business, not the parser's. */
#define FUZZ_MAX_BUILD (64ULL << 20)

static void build(const struct snapvm_elf_image *image)
{
	const struct snapvm_arch *arch = snapvm_arch_get(image->layout);
	struct snapvm_snapshot_image out = {0};
	uint64_t scratch = SNAPVM_DEFAULT_SCRATCH_SIZE;

	if (!arch)
		abort(); /* parse accepted a layout it has no builder for */
	if (snapvm_scratch_check(arch, image, scratch, NULL) ||
	    arch->snapshot_size(image, scratch) > FUZZ_MAX_BUILD)
		return;
	if (arch->build(image, scratch, &out, NULL) == 0) {
		if (out.snapshot_size != arch->snapshot_size(image, scratch))
			abort(); /* the arithmetic and the build disagree */
		snapvm_snapshot_image_free(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t layouts[] = {SNAPVM_LAYOUT_AUTO, SNAPVM_LAYOUT_I686,
					   SNAPVM_LAYOUT_AMD64};
	/* A private, writable copy, as snapvm_elf_open reads one; exactly
	 * size bytes so that ASan sees any read past the end. */
	unsigned char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	for (unsigned int i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		struct snapvm_elf_image image;
		struct snapvm_error err;

		memcpy(buf, data, size);
		if (snapvm_elf_parse("fuzz.elf", buf, size, layouts[i], &image, &err))
			continue;
		if (image.nsegments == 0 || image.nsegments > SNAPVM_ELF_MAX_SEGMENTS ||
		    (layouts[i] != SNAPVM_LAYOUT_AUTO && image.layout != layouts[i]))
			abort();
		for (unsigned int s = 0; s < image.nsegments; s++) {
			const struct snapvm_elf_segment *seg = &image.segments[s];

			/* Accepted segments lie inside the file. */
			if (seg->offset > size || seg->filesz > size - seg->offset ||
			    seg->filesz > seg->memsz)
				abort();
		}
		build(&image);
		snapvm_elf_close(&image);
	}
	free(buf);
	return 0;
}
