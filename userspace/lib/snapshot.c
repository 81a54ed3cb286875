// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * snapshot.c - snapshots: a guest ELF file becomes a sealed memory region
 * (image plus the layout's own structures) with the vCPU state to start
 * from and the scratch template every sandbox begins with; a guest's
 * SNAPSHOT becomes sealed copies of both regions with its vCPU state; and
 * snapshots go to and come from files.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/snapvm.h"
#include "userspace/lib/internal.h"
#include "userspace/lib/snapfile.h"

static bool bit_set(const uint64_t *bitmap, uint64_t i)
{
	return bitmap[i / 64] >> (i % 64) & 1;
}

static bool page_is_zero(const unsigned char *page)
{
	const uint64_t *w = (const uint64_t *)page;

	for (size_t i = 0; i < SNAPVM_PAGE / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

/* A sealed region holding bytes (size bytes; page0, when not NULL, replaces
 * the first page), mapped read-only. Only pages that are not zero are
 * written: the region starts zeroed, and a sparse memfd stays sparse.
 * candidates, when not NULL, flags the only pages that may be non-zero
 * (the others are not even read: a .bss costs nothing until used).
 * nonzero, when not NULL, receives the bitmap of the pages written. */
static int seal_copy(enum snapvm_memory memory, const unsigned char *bytes, uint64_t size,
		     const unsigned char *page0, const uint64_t *candidates, const char *what,
		     struct snapvm_region *region, const unsigned char **map, uint64_t **nonzero,
		     struct snapvm_error *err)
{
	uint64_t npages = size / SNAPVM_PAGE;
	uint64_t *bitmap = calloc(snapvm_bitmap_words(npages), sizeof(uint64_t));
	int ret;

	if (!bitmap)
		return snapvm_fail(err, EX_OSERR, "out of memory");
	/* Lazy: the zero pages, never written, take no memory (kmod). */
	ret = snapvm_region_create(memory, size, what, true, region, err);
	for (uint64_t page = 0; !ret && page < npages;) {
		uint64_t run = 0;
		const unsigned char *src = page == 0 && page0 ? page0 : bytes + page * SNAPVM_PAGE;

		if (candidates && !candidates[page / 64]) {
			page = (page / 64 + 1) * 64;
			continue;
		}
		/* Runs of non-zero pages, one write each; page 0 alone when
		 * it is replaced. */
		while (page + run < npages && (!candidates || bit_set(candidates, page + run)) &&
		       !page_is_zero(
			   page + run == 0 && page0 ? page0 : bytes + (page + run) * SNAPVM_PAGE)) {
			bitmap[(page + run) / 64] |= 1ULL << ((page + run) % 64);
			run++;
			if (page == 0 && page0)
				break;
		}
		if (run)
			ret = snapvm_region_write(region, page * SNAPVM_PAGE, src,
						  run * SNAPVM_PAGE, err);
		page += run ? run : 1;
	}
	if (!ret)
		ret = snapvm_region_seal(region, err);
	if (!ret) {
		*map = snapvm_region_map(region, SNAPVM_MAP_SHARED_RO, err);
		if (!*map)
			ret = err ? err->status : EX_OSERR;
	}
	if (!ret && nonzero)
		*nonzero = bitmap;
	else
		free(bitmap);
	return ret;
}

static struct snapvm_snapshot *snapshot_alloc(const struct snapvm_arch *arch)
{
	struct snapvm_snapshot *snap = calloc(1, sizeof(*snap));

	if (!snap)
		return NULL;
	snap->refs = 1;
	snap->arch = arch;
	snap->region.fd = -1;
	snap->scratch_image.fd = -1;
	snap->gpa = arch->snapshot_base_gpa;
	return snap;
}

/* The buffer-call I/O area: io_size bytes each way (SNAPVM_DEFAULT_IO_SIZE
 * when 0), carved from the front of the free scratch area and recorded in
 * the boot info. A default that does not fit shrinks to a quarter of the
 * free area each way; a size the caller asked for must fit. */
static int carve_io_area(const char *path, struct snapvm_snapshot_image *image, uint64_t io_size,
			 struct snapvm_error *err)
{
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)image->scratch_init;
	uint64_t wanted = io_size ? snapvm_page_align_up(io_size) : SNAPVM_DEFAULT_IO_SIZE;
	uint64_t start = snapvm_page_align_up(info->scratch_free_gva);
	uint64_t room =
	    info->scratch_free_gva + info->scratch_free_size > start
		? snapvm_page_align_down(info->scratch_free_gva + info->scratch_free_size - start)
		: 0;

	if (io_size > room || (io_size && 2 * wanted > room))
		return snapvm_fail(err, EX_USAGE,
				   "%s: an I/O area of %llu bytes each way does not fit the %llu "
				   "free bytes of scratch (raise --scratch-size)",
				   path, (unsigned long long)io_size, (unsigned long long)room);
	if (2 * wanted > room)
		wanted = snapvm_page_align_down(room / 4);
	info->io_in_gva = start;
	info->io_out_gva = start + wanted;
	info->io_size = wanted;
	info->scratch_free_size -= start + 2 * wanted - info->scratch_free_gva;
	info->scratch_free_gva = start + 2 * wanted;
	return 0;
}

/* Where a snapshot's I/O area is, from its boot info (which a snapshot
 * file brings: checked to lie inside scratch). */
static int io_area_from_boot_info(const char *path, struct snapvm_snapshot *snap,
				  const struct snapvm_boot_info *info, struct snapvm_error *err)
{
	uint64_t in = info->io_in_gva - info->scratch_gva,
		 out = info->io_out_gva - info->scratch_gva;

	if (info->io_size > snap->scratch_size || info->io_in_gva < info->scratch_gva ||
	    info->io_out_gva < info->scratch_gva || in > snap->scratch_size - info->io_size ||
	    out > snap->scratch_size - info->io_size)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: the boot info's I/O area (0x%llx and 0x%llx, %llu bytes "
				   "each) is not inside scratch",
				   path, (unsigned long long)info->io_in_gva,
				   (unsigned long long)info->io_out_gva,
				   (unsigned long long)info->io_size);
	snap->io_in_offset = in;
	snap->io_out_offset = out;
	snap->io_size = info->io_size;
	return 0;
}

int64_t snapvm_snapshot_fill_scratch(const struct snapvm_snapshot *snap,
				     struct snapvm_region *scratch, unsigned char *host,
				     uint64_t *bitmap, struct snapvm_error *err)
{
	uint64_t npages = snap->scratch_size / SNAPVM_PAGE;
	uint64_t template_pages = snapvm_page_align_up(snap->scratch_init_size) / SNAPVM_PAGE;
	int src_fd = snap->scratch_image.fd;
	int64_t done = 0;

	if (!bitmap && !snap->scratch_image_memory) {
		/* A fresh scratch region is zeroed: the template is all. Its
		 * pages are lazy (charged at first touch): present first. */
		int errnum = snapvm_guest_prepare(host, snap->scratch_init_size, true);

		if (errnum)
			return -snapvm_fail_errno(err, EX_OSERR, errnum,
						  "cannot bring in %llu bytes of scratch for the "
						  "template (check RLIMIT_MEMLOCK and snapvm.ko's "
						  "max_total_mb)",
						  (unsigned long long)snap->scratch_init_size);
		memcpy(host, snap->scratch_init, snap->scratch_init_size);
		return (int64_t)template_pages;
	}
	if (!bitmap)
		bitmap = snap->scratch_nonzero;
	else if (!snap->scratch_image_memory) {
		/* Template pages are copied here, the rest is zeroed below. */
		for (uint64_t page = 0; page < template_pages && page < npages; page++) {
			uint64_t off = page * SNAPVM_PAGE, len = SNAPVM_PAGE;

			if (!bit_set(bitmap, page))
				continue;
			if (off + len > snap->scratch_init_size)
				len = snap->scratch_init_size - off;
			memcpy(host + off, snap->scratch_init + off, len);
			memset(host + off + len, 0, SNAPVM_PAGE - len);
			bitmap[page / 64] &= ~(1ULL << (page % 64));
			done++;
		}
		src_fd = SNAPVM_RESTORE_ZERO;
	}
	if (scratch->memory == SNAPVM_MEMORY_KMOD) {
		struct snapvm_region_restore restore = {
		    .src_fd = src_fd,
		    .bitmap = (uintptr_t)bitmap,
		    .npages = npages,
		};
		long n = ioctl(scratch->fd, SNAPVM_REGION_RESTORE, &restore);

		if (n < 0)
			return -snapvm_fail_errno(err, EX_OSERR, errno,
						  "SNAPVM_REGION_RESTORE of the scratch region");
		return done + n;
	}
	for (uint64_t page = 0; page < npages; page++) {
		if (!bitmap[page / 64]) {
			page |= 63;
			continue;
		}
		if (!bit_set(bitmap, page))
			continue;
		if (snap->scratch_image_memory)
			memcpy(host + page * SNAPVM_PAGE,
			       snap->scratch_image_memory + page * SNAPVM_PAGE, SNAPVM_PAGE);
		else
			memset(host + page * SNAPVM_PAGE, 0, SNAPVM_PAGE);
		done++;
	}
	return done;
}

/* The snapshot of a sandbox stopped at SNAPSHOT: its view and scratch as
 * they are now, sealed, and the state captured at the hypercall. */
int snapvm_snapshot_from_sandbox(struct snapvm_sandbox *sb, const struct snapvm_vcpu_state *state,
				 struct snapvm_snapshot **out, struct snapvm_error *err)
{
	const struct snapvm_snapshot *parent = sb->snapshot;
	struct snapvm_snapshot *snap = snapshot_alloc(parent->arch);
	unsigned char page0[SNAPVM_PAGE];
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)page0;
	int ret;

	*out = NULL;
	if (!snap)
		return snapvm_fail(err, EX_OSERR, "out of memory");
	snap->size = parent->size;
	snap->scratch_size = parent->scratch_size;
	snap->entry = *state;
	snap->io_in_offset = parent->io_in_offset;
	snap->io_out_offset = parent->io_out_offset;
	snap->io_size = parent->io_size;
	/* The seed is the taker's secret; a resume sees a new generation. */
	memcpy(page0, sb->scratch_memory, sizeof(page0));
	info->random_seed = 0;
	info->generation = sb->generation + 1;
	ret = seal_copy(parent->region.memory, sb->view, snap->size, NULL, NULL, "snapshot",
			&snap->region, &snap->memory, NULL, err);
	if (!ret)
		ret = seal_copy(parent->region.memory, sb->scratch_memory, snap->scratch_size,
				page0, NULL, "scratch image", &snap->scratch_image,
				&snap->scratch_image_memory, &snap->scratch_nonzero, err);
	if (ret) {
		snapvm_snapshot_put(snap);
		return ret;
	}
	*out = snap;
	return 0;
}

/* dirfd < 0: path is a path; else name in dirfd, path what messages say. */
static int save(struct snapvm_snapshot *snap, int dirfd, const char *name, const char *path,
		struct snapvm_error *err)
{
	struct snapfile_contents contents = {
	    .layout = snap->arch->layout,
	    .vcpu_state = &snap->entry,
	    .vcpu_state_size = sizeof(snap->entry),
	    .snapshot_gpa = snap->gpa,
	    .snapshot = snap->memory,
	    .snapshot_size = snap->size,
	    .scratch = snap->scratch_image_memory,
	    .scratch_size = snap->scratch_size,
	};
	unsigned char *scratch = NULL;
	int ret;

	if (!contents.scratch) {
		/* An ELF snapshot: the template, then zeros. */
		scratch = calloc(1, snap->scratch_size);
		if (!scratch)
			return snapvm_fail(err, EX_OSERR, "out of memory");
		memcpy(scratch, snap->scratch_init, snap->scratch_init_size);
		contents.scratch = scratch;
	}
	ret = dirfd < 0 ? snapfile_save(path, &contents, err)
			: snapfile_save_at(dirfd, name, path, &contents, err);
	free(scratch);
	return ret;
}

int snapvm_snapshot_save(struct snapvm_snapshot *snap, const char *path, struct snapvm_error *err)
{
	return save(snap, -1, NULL, path, err);
}

int snapvm_snapshot_save_at(struct snapvm_snapshot *snap, int dirfd, const char *name,
			    struct snapvm_error *err)
{
	if (!name || snapvm_output_name_check(name))
		return snapvm_fail(err, EX_USAGE, "snapshot file: '%s' is not a file name",
				   name ? name : "");
	if (dirfd < 0)
		return snapvm_fail_errno(err, EX_CANTCREAT, EBADF, "cannot create %s", name);
	return save(snap, dirfd, name, name, err);
}

/* What the file's sections must say beyond its own checks: a vCPU state of
 * this build's format, a boot info that matches the header. */
static int check_contents(const char *path, const struct snapfile_contents *c,
			  const struct snapvm_arch *arch, struct snapvm_error *err)
{
	const struct snapvm_vcpu_state *state = c->vcpu_state;
	const struct snapvm_boot_info *info = c->scratch;

	if (c->vcpu_state_size != sizeof(struct snapvm_vcpu_state))
		return snapvm_fail(err, EX_DATAERR,
				   "%s: a %llu-byte vCPU state, this snapvm's has %zu bytes (a "
				   "file of another snapvm build?)",
				   path, (unsigned long long)c->vcpu_state_size,
				   sizeof(struct snapvm_vcpu_state));
	if (state->parts & ~SNAPVM_STATE_PARTS || state->nmsrs > SNAPVM_MAX_MSRS ||
	    !(state->parts & SNAPVM_STATE_CPUID) || state->ncpuid > SNAPVM_MAX_CPUID)
		return snapvm_fail(err, EX_DATAERR, "%s: the vCPU state is malformed", path);
	if (c->scratch_size < arch->min_scratch_size)
		return snapvm_fail(err, EX_DATAERR, "%s: a %llu-byte scratch is below the minimum",
				   path, (unsigned long long)c->scratch_size);
	if (info->magic != SNAPVM_BOOT_MAGIC || info->version != SNAPVM_BOOT_VERSION ||
	    info->layout != c->layout || info->scratch_size != c->scratch_size ||
	    info->snapshot_size != c->snapshot_size || info->snapshot_gpa != c->snapshot_gpa ||
	    info->scratch_gpa != arch->scratch_base_gpa(c->scratch_size))
		return snapvm_fail(err, EX_DATAERR,
				   "%s: the boot info in its scratch does not match its header",
				   path);
	return 0;
}

int snapvm_snapshot_load(const char *path, const struct snapvm_snapshot_options *options,
			 struct snapvm_snapshot **out, struct snapvm_error *err)
{
	struct snapvm_snapshot_options opts = {0};
	const struct snapfile_contents *c;
	struct snapvm_snapshot *snap = NULL;
	const struct snapvm_arch *arch;
	enum snapvm_memory memory;
	struct snapfile file;
	int ret;

	*out = NULL;
	if (options)
		opts = *options;
	ret = snapfile_open(path, opts.max_memory ?: SNAPVM_DEFAULT_MAX_MEMORY, &file, err);
	if (ret)
		return ret;
	c = &file.contents;
	arch = snapvm_arch_get(c->layout);
	if (!arch) {
		ret = snapvm_fail(err, EX_DATAERR, "%s: unknown layout %u", path, c->layout);
		goto out;
	}
	if (opts.layout != SNAPVM_LAYOUT_AUTO && opts.layout != c->layout) {
		ret = snapvm_fail(err, EX_DATAERR, "%s: a %s snapshot, not %s", path, arch->name,
				  snapvm_layout_name(opts.layout));
		goto out;
	}
	if (opts.scratch_size && opts.scratch_size != c->scratch_size) {
		ret = snapvm_fail(
		    err, EX_USAGE, "%s: the snapshot has a %llu-byte scratch, not %llu bytes", path,
		    (unsigned long long)c->scratch_size, (unsigned long long)opts.scratch_size);
		goto out;
	}
	ret = check_contents(path, c, arch, err);
	if (!ret)
		ret = snapvm_kvm_cpuid_check(path, c->vcpu_state, err);
	if (!ret)
		ret = snapvm_memory_resolve(opts.memory, &memory, err);
	if (ret)
		goto out;
	snap = snapshot_alloc(arch);
	if (!snap) {
		ret = snapvm_fail(err, EX_OSERR, "out of memory");
		goto out;
	}
	snap->size = c->snapshot_size;
	snap->scratch_size = c->scratch_size;
	memcpy(&snap->entry, c->vcpu_state, sizeof(snap->entry));
	ret = io_area_from_boot_info(path, snap, c->scratch, err);
	if (ret)
		goto out;
	ret = seal_copy(memory, c->snapshot, snap->size, NULL, NULL, "snapshot", &snap->region,
			&snap->memory, NULL, err);
	if (!ret)
		ret = seal_copy(memory, c->scratch, snap->scratch_size, NULL, NULL, "scratch image",
				&snap->scratch_image, &snap->scratch_image_memory,
				&snap->scratch_nonzero, err);
	if (ret)
		goto out;
	*out = snap;
	snap = NULL;
out:
	snapvm_snapshot_put(snap);
	snapfile_close(&file);
	return ret;
}

/* The cap on guest memory (snapvm_snapshot_options.max_memory): checked
 * before anything is allocated. */
static int check_max_memory(const char *path, uint64_t image_size, uint64_t scratch_size,
			    uint64_t max_memory, struct snapvm_error *err)
{
	uint64_t need;

	if (__builtin_add_overflow(image_size, scratch_size, &need) || need > max_memory)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: needs %llu bytes of guest memory (image %llu + scratch "
				   "%llu), more than --max-memory=%llu",
				   path, (unsigned long long)(image_size + scratch_size),
				   (unsigned long long)image_size, (unsigned long long)scratch_size,
				   (unsigned long long)max_memory);
	return 0;
}

/* The pages of an ELF snapshot that may hold something: the segments' file
 * bytes and the layout's own structures after the image. Their .bss (and
 * the rest of memsz) is never read or written: it costs nothing until the
 * guest touches it. */
static uint64_t *elf_candidate_pages(const struct snapvm_elf_image *elf, uint64_t base_gpa,
				     uint64_t snapshot_size)
{
	uint64_t npages = snapshot_size / SNAPVM_PAGE;
	uint64_t *bitmap = calloc(snapvm_bitmap_words(npages), sizeof(uint64_t));

	if (!bitmap)
		return NULL;
	for (unsigned int i = 0; i < elf->nsegments; i++) {
		const struct snapvm_elf_segment *seg = &elf->segments[i];
		uint64_t first = (seg->vaddr - base_gpa) / SNAPVM_PAGE;
		uint64_t end =
		    snapvm_page_align_up(seg->vaddr + seg->filesz - base_gpa) / SNAPVM_PAGE;

		for (uint64_t page = first; page < end && page < npages; page++)
			bitmap[page / 64] |= 1ULL << (page % 64);
	}
	for (uint64_t page = (elf->end - base_gpa) / SNAPVM_PAGE; page < npages; page++)
		bitmap[page / 64] |= 1ULL << (page % 64);
	return bitmap;
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
	uint64_t *candidates;
	int ret;

	*out = NULL;
	if (options)
		opts = *options;
	if (!opts.scratch_size)
		opts.scratch_size = SNAPVM_DEFAULT_SCRATCH_SIZE;
	if (!opts.max_memory)
		opts.max_memory = SNAPVM_DEFAULT_MAX_MEMORY;
	ret = snapvm_elf_open(path, opts.layout, &elf, err);
	if (ret)
		return ret;
	arch = snapvm_arch_get(elf.layout);
	/* Before any guest memory exists: a size that cannot work is the
	 * user's mistake, not an allocation failure. */
	ret = snapvm_scratch_check(arch, &elf, opts.scratch_size, err);
	if (!ret)
		ret = check_max_memory(path, arch->snapshot_size(&elf, opts.scratch_size),
				       opts.scratch_size, opts.max_memory, err);
	if (!ret)
		ret = snapvm_memory_resolve(opts.memory, &memory, err);
	if (!ret)
		ret = arch->build(&elf, opts.scratch_size, &image, err);
	if (!ret)
		ret = carve_io_area(path, &image, opts.io_size, err);
	if (!ret)
		ret = snapvm_kvm_cpuid(opts.kvm_pv, &image.entry, err);
	if (ret)
		goto out;

	snap = snapshot_alloc(arch);
	if (!snap) {
		ret = snapvm_fail(err, EX_OSERR, "out of memory");
		goto out;
	}
	snap->size = image.snapshot_size;
	snap->scratch_size = opts.scratch_size;
	snap->entry = image.entry;
	ret = io_area_from_boot_info(path, snap,
				     (const struct snapvm_boot_info *)image.scratch_init, err);
	if (ret)
		goto out;
	candidates = elf_candidate_pages(&elf, arch->snapshot_base_gpa, image.snapshot_size);
	if (!candidates) {
		ret = snapvm_fail(err, EX_OSERR, "out of memory");
		goto out;
	}
	ret = seal_copy(memory, image.snapshot, image.snapshot_size, NULL, candidates, "snapshot",
			&snap->region, &snap->memory, NULL, err);
	free(candidates);
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
	if (snap->scratch_image_memory)
		munmap((void *)snap->scratch_image_memory, snap->scratch_image.size);
	snapvm_region_close(&snap->scratch_image);
	free(snap->scratch_nonzero);
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

uint64_t snapvm_snapshot_scratch_gpa(const struct snapvm_snapshot *snap)
{
	return snap->arch->scratch_base_gpa(snap->scratch_size);
}

const void *snapvm_snapshot_memory(const struct snapvm_snapshot *snap, uint64_t *gpa,
				   uint64_t *size)
{
	*gpa = snap->gpa;
	*size = snap->size;
	return snap->memory;
}
