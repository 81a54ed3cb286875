// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * elf.c - the guest ELF loader (libelf): picks the layout from the ELF
 * header and refuses, with the file, segment and reason, anything it would
 * have to guess about: truncation, overflow, overlap, segments outside the
 * layout, W+X where pages are mapped with exact rights, non-x86 machines.
 * The file is read once into private memory (file.c) and parsed there.
 */
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

#define RWX (PF_R | PF_W | PF_X)

static int bad_file(struct snapvm_elf_image *image, struct snapvm_error *err, const char *reason)
{
	return snapvm_fail(err, EX_DATAERR, "%s: %s", image->path, reason);
}

static int bad_segment(struct snapvm_elf_image *image, struct snapvm_error *err,
		       const GElf_Phdr *ph, unsigned int index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int bad_segment(struct snapvm_elf_image *image, struct snapvm_error *err,
		       const GElf_Phdr *ph, unsigned int index, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return snapvm_fail(err, EX_DATAERR, "%s: segment %u (vaddr 0x%llx, %llu bytes): %s",
			   image->path, index, (unsigned long long)ph->p_vaddr,
			   (unsigned long long)ph->p_memsz, reason);
}

static const char *machine_name(unsigned int machine)
{
	switch (machine) {
	case EM_386:
		return "i386";
	case EM_X86_64:
		return "x86-64";
	case EM_AARCH64:
		return "AArch64";
	case EM_ARM:
		return "ARM";
	case EM_RISCV:
		return "RISC-V";
	case EM_PPC64:
		return "PowerPC64";
	default:
		return "not x86";
	}
}

/* Check the ELF header and choose the layout. */
static int check_header(struct snapvm_elf_image *image, Elf *elf, uint32_t wanted,
			const struct snapvm_arch **arch_out, GElf_Ehdr *eh,
			struct snapvm_error *err)
{
	const char *ident = elf_getident(elf, NULL);
	const struct snapvm_arch *arch;
	unsigned int cls;

	if (image->file_size < EI_NIDENT || !ident || memcmp(ident, ELFMAG, SELFMAG) != 0)
		return bad_file(image, err, "not an ELF file");
	cls = (unsigned char)ident[EI_CLASS];
	if (cls != ELFCLASS32 && cls != ELFCLASS64)
		return bad_file(image, err, "unknown ELF class (neither ELF32 nor ELF64)");
	if ((unsigned char)ident[EI_DATA] != ELFDATA2LSB)
		return bad_file(image, err, "not little-endian, so not an x86 guest");
	if (image->file_size < (cls == ELFCLASS32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr)) ||
	    !gelf_getehdr(elf, eh))
		return bad_file(image, err, "truncated: the file ends inside the ELF header");
	if (eh->e_machine == EM_386 && cls == ELFCLASS32)
		arch = &snapvm_arch_i686;
	else if (eh->e_machine == EM_X86_64 && cls == ELFCLASS64)
		arch = &snapvm_arch_amd64;
	else
		return snapvm_fail(err, EX_DATAERR,
				   "%s: %s: ELF%d for machine %u (%s); snapvm runs ELF32 i386 "
				   "(i686 layout) and ELF64 x86-64 (amd64 layout)",
				   image->path,
				   eh->e_machine == EM_386 || eh->e_machine == EM_X86_64
				       ? "ELF class and machine disagree"
				       : "not an x86 guest",
				   cls == ELFCLASS32 ? 32 : 64, eh->e_machine,
				   machine_name(eh->e_machine));
	if (wanted != SNAPVM_LAYOUT_AUTO && wanted != arch->layout)
		return snapvm_fail(
		    err, EX_DATAERR,
		    "%s: --layout=%s contradicts the file: it is ELF%d %s, so the %s "
		    "layout",
		    image->path, snapvm_layout_name(wanted) ? snapvm_layout_name(wanted) : "?",
		    cls == ELFCLASS32 ? 32 : 64, machine_name(eh->e_machine), arch->name);
	if (eh->e_type != ET_EXEC)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: e_type %u is not ET_EXEC: guests are fixed-address "
				   "executables (link with -static -no-pie)",
				   image->path, eh->e_type);
	if (eh->e_version != EV_CURRENT)
		return bad_file(image, err, "unknown ELF version");
	if (eh->e_phentsize != (cls == ELFCLASS32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr)))
		return bad_file(image, err, "program header size does not match the ELF class");
	*arch_out = arch;
	return 0;
}

/* One PT_LOAD header: bounds, rights, layout. */
static int check_segment(struct snapvm_elf_image *image, const struct snapvm_arch *arch,
			 const GElf_Phdr *ph, unsigned int index, struct snapvm_error *err)
{
	uint64_t file_end, end;
	uint64_t layout_end = arch->max_gpa + 1 - arch->min_scratch_size;

	if (ph->p_filesz > ph->p_memsz)
		return bad_segment(image, err, ph, index, "p_filesz 0x%llx exceeds p_memsz",
				   (unsigned long long)ph->p_filesz);
	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &file_end) ||
	    file_end > image->file_size)
		return bad_segment(image, err, ph, index,
				   "truncated: its file data (offset 0x%llx, 0x%llx bytes) ends "
				   "beyond the end of the %zu-byte file",
				   (unsigned long long)ph->p_offset,
				   (unsigned long long)ph->p_filesz, image->file_size);
	if (__builtin_add_overflow(ph->p_vaddr, ph->p_memsz, &end) || end > UINT64_MAX - 0xfff)
		return bad_segment(image, err, ph, index, "vaddr + memsz overflows");
	if (!(ph->p_flags & RWX))
		return bad_segment(image, err, ph, index, "no access rights (p_flags 0x%x)",
				   (unsigned int)ph->p_flags);
	if (arch->refuse_wx && (ph->p_flags & PF_W) && (ph->p_flags & PF_X))
		return bad_segment(image, err, ph, index,
				   "writable and executable (W+X), refused in the %s layout",
				   arch->name);
	if (ph->p_vaddr < arch->snapshot_base_gpa || end > layout_end)
		return bad_segment(image, err, ph, index,
				   "outside the %s layout: segments must lie within "
				   "[0x%llx, 0x%llx) (the rest is scratch)",
				   arch->name, (unsigned long long)arch->snapshot_base_gpa,
				   (unsigned long long)layout_end);
	return 0;
}

/* Sorted by vaddr: no byte may be loaded twice, and where pages carry exact
 * rights two segments may share a page only with the same rights. */
static int check_overlaps(struct snapvm_elf_image *image, const struct snapvm_arch *arch,
			  struct snapvm_error *err)
{
	for (unsigned int i = 1; i < image->nsegments; i++) {
		struct snapvm_elf_segment *prev = &image->segments[i - 1],
					  *seg = &image->segments[i];
		uint64_t prev_end = prev->vaddr + prev->memsz;

		if (seg->vaddr < prev_end)
			return snapvm_fail(err, EX_DATAERR,
					   "%s: segment %u (vaddr 0x%llx) overlaps segment %u "
					   "(0x%llx-0x%llx)",
					   image->path, seg->index, (unsigned long long)seg->vaddr,
					   prev->index, (unsigned long long)prev->vaddr,
					   (unsigned long long)prev_end);
		if (arch->exact_page_rights &&
		    snapvm_page_align_down(seg->vaddr) < snapvm_page_align_up(prev_end) &&
		    (seg->flags & RWX) != (prev->flags & RWX))
			return snapvm_fail(
			    err, EX_DATAERR,
			    "%s: segment %u shares page 0x%llx with segment %u but has "
			    "other rights; the %s layout maps each page with its "
			    "segment's exact rights (align segments to 4 KiB)",
			    image->path, seg->index,
			    (unsigned long long)snapvm_page_align_down(seg->vaddr), prev->index,
			    arch->name);
	}
	return 0;
}

static int check_segments(struct snapvm_elf_image *image, Elf *elf, const struct snapvm_arch *arch,
			  const GElf_Ehdr *eh, struct snapvm_error *err)
{
	size_t phnum;
	uint64_t ph_end;
	bool entry_ok = false;

	/* libelf quietly shortens a count that overruns the file; only
	 * PN_XNUM files need its help (the real count is elsewhere). */
	phnum = eh->e_phnum;
	if (phnum == PN_XNUM && elf_getphdrnum(elf, &phnum) != 0)
		return bad_file(image, err, "unreadable program header count");
	if (__builtin_mul_overflow((uint64_t)phnum, (uint64_t)eh->e_phentsize, &ph_end) ||
	    __builtin_add_overflow(ph_end, eh->e_phoff, &ph_end) || ph_end > image->file_size)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: truncated: its %zu program headers end beyond the end of "
				   "the %zu-byte file",
				   image->path, phnum, image->file_size);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		struct snapvm_elf_segment *seg;
		unsigned int at;
		int ret;

		if (!gelf_getphdr(elf, (int)i, &ph))
			return snapvm_fail(err, EX_DATAERR, "%s: program header %zu: %s",
					   image->path, i, elf_errmsg(-1));
		if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
			return bad_segment(image, err, &ph, (unsigned int)i,
					   "dynamically linked guests are not supported");
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		ret = check_segment(image, arch, &ph, (unsigned int)i, err);
		if (ret)
			return ret;
		if (image->nsegments == SNAPVM_ELF_MAX_SEGMENTS)
			return bad_segment(image, err, &ph, (unsigned int)i,
					   "more than %d loadable segments",
					   SNAPVM_ELF_MAX_SEGMENTS);
		/* Insertion sort by vaddr: the spec wants them sorted, we
		 * only need them to be disjoint. */
		for (at = image->nsegments; at > 0 && image->segments[at - 1].vaddr > ph.p_vaddr;
		     at--)
			image->segments[at] = image->segments[at - 1];
		seg = &image->segments[at];
		*seg = (struct snapvm_elf_segment){
		    .index = (unsigned int)i,
		    .vaddr = ph.p_vaddr,
		    .memsz = ph.p_memsz,
		    .offset = ph.p_offset,
		    .filesz = ph.p_filesz,
		    .flags = ph.p_flags & RWX,
		};
		image->nsegments++;
	}
	if (image->nsegments == 0)
		return bad_file(image, err, "no loadable (PT_LOAD) segment");
	if (check_overlaps(image, arch, err))
		return err ? err->status : EX_DATAERR;
	for (unsigned int i = 0; i < image->nsegments; i++) {
		const struct snapvm_elf_segment *seg = &image->segments[i];

		if ((seg->flags & PF_X) && eh->e_entry >= seg->vaddr &&
		    eh->e_entry - seg->vaddr < seg->memsz)
			entry_ok = true;
	}
	if (!entry_ok)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: entry point 0x%llx is not inside an executable segment",
				   image->path, (unsigned long long)eh->e_entry);
	{
		const struct snapvm_elf_segment *last = &image->segments[image->nsegments - 1];

		image->end = snapvm_page_align_up(last->vaddr + last->memsz);
	}
	image->entry = eh->e_entry;
	image->layout = arch->layout;
	return 0;
}

int snapvm_elf_parse(const char *name, void *buf, size_t size, uint32_t layout,
		     struct snapvm_elf_image *image, struct snapvm_error *err)
{
	const struct snapvm_arch *arch = NULL;
	GElf_Ehdr eh;
	Elf *elf;
	int ret;

	memset(image, 0, sizeof(*image));
	image->path = name;
	image->file = buf;
	image->file_size = size;
	if (layout != SNAPVM_LAYOUT_AUTO && !snapvm_layout_name(layout))
		return snapvm_fail(err, EX_USAGE, "unknown layout %u", layout);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return snapvm_fail(err, EX_SOFTWARE, "libelf: %s", elf_errmsg(-1));
	if (size == 0)
		return bad_file(image, err, "empty file, not an ELF file");
	elf = elf_memory(buf, size);
	if (!elf) {
		/* libelf refuses a file cut inside its header outright. */
		ret = snapvm_fail(err, EX_DATAERR, "%s: %s (libelf: %s)", name,
				  size >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG)
				      ? "truncated or corrupt ELF header"
				      : "not an ELF file",
				  elf_errmsg(-1));
		goto fail;
	}
	image->elf = elf;
	if (elf_kind(elf) != ELF_K_ELF) {
		ret = bad_file(image, err, "not an ELF file");
		goto fail;
	}
	ret = check_header(image, elf, layout, &arch, &eh, err);
	if (!ret)
		ret = check_segments(image, elf, arch, &eh, err);
	if (!ret)
		return 0;
fail:
	snapvm_elf_close(image);
	return ret;
}

int snapvm_elf_open(const char *path, uint32_t layout, struct snapvm_elf_image *image,
		    struct snapvm_error *err)
{
	void *buf;
	size_t size;
	int ret;

	memset(image, 0, sizeof(*image));
	image->path = path;
	if (layout != SNAPVM_LAYOUT_AUTO && !snapvm_layout_name(layout))
		return snapvm_fail(err, EX_USAGE, "unknown layout %u", layout);
	/* Parsed and copied from private memory only: nobody can change the
	 * file between the checks and the use. */
	ret = snapvm_read_file(path, SNAPVM_ELF_MAX_FILE_SIZE, &buf, &size, err);
	if (ret)
		return ret;
	ret = snapvm_elf_parse(path, buf, size, layout, image, err);
	if (ret) {
		free(buf);
		return ret;
	}
	image->buffer = buf;
	return 0;
}

void snapvm_elf_close(struct snapvm_elf_image *image)
{
	if (image->elf)
		elf_end(image->elf);
	free(image->buffer);
	image->elf = NULL;
	image->buffer = NULL;
	image->file = NULL;
	image->file_size = 0;
}
