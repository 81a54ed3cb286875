// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux_elf.c - tell a static Linux executable from a snapvm guest
 * (snapvm's note, PT_INTERP) and validate it into the struct lx_setup the
 * personality follows: the personality loads only what is checked here.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/lib/linux_host.h"

/* ---- classification ---- */

static bool has_snapvm_note(const unsigned char *f, size_t size, bool is64, uint64_t phoff,
			    unsigned phnum, unsigned phentsize)
{
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t off = phoff + (uint64_t)i * phentsize, noff, nsz;

		if (off + phentsize > size)
			return false;
		if (is64) {
			const Elf64_Phdr *p = (const void *)(f + off);

			if (p->p_type != PT_NOTE)
				continue;
			noff = p->p_offset, nsz = p->p_filesz;
		} else {
			const Elf32_Phdr *p = (const void *)(f + off);

			if (p->p_type != PT_NOTE)
				continue;
			noff = p->p_offset, nsz = p->p_filesz;
		}
		if (noff > size || nsz > size - noff)
			continue;
		for (uint64_t at = noff; at + 12 <= noff + nsz;) {
			uint32_t namesz, descsz;

			memcpy(&namesz, f + at, 4);
			memcpy(&descsz, f + at + 4, 4);
			if (namesz > nsz || descsz > nsz)
				break;
			if (namesz == sizeof(SNAPVM_NOTE_NAME) && at + 12 + namesz <= noff + nsz &&
			    !memcmp(f + at + 12, SNAPVM_NOTE_NAME, namesz))
				return true;
			at += 12 + ((namesz + 3) & ~3U) + ((descsz + 3) & ~3U);
		}
	}
	return false;
}

/*
 * What the ELF header and program headers say: a snapvm guest carries
 * snapvm's note (its runtime emits one); a Linux program has PT_INTERP
 * (dynamic), PT_TLS, PT_GNU_STACK or ELFOSABI_GNU; anything else is left
 * to the guest loader, as before.
 */
int lx_classify(const unsigned char *f, size_t size, bool *is_linux, bool *dynamic)
{
	bool is64;
	uint64_t phoff;
	unsigned phnum, phentsize;

	*is_linux = *dynamic = false;
	if (size < EI_NIDENT || memcmp(f, ELFMAG, SELFMAG))
		return 0;
	is64 = f[EI_CLASS] == ELFCLASS64;
	if (is64 ? size < sizeof(Elf64_Ehdr) : size < sizeof(Elf32_Ehdr))
		return 0;
	if (is64) {
		const Elf64_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			return 0;
	} else {
		const Elf32_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			return 0;
	}
	if (phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return 0;
	if (has_snapvm_note(f, size, is64, phoff, phnum, phentsize))
		return 0;
	if (f[EI_OSABI] == ELFOSABI_GNU)
		*is_linux = true;
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t type;

		memcpy(&type, f + phoff + (uint64_t)i * phentsize, 4);
		if (type == PT_INTERP)
			*is_linux = *dynamic = true;
		if (type == PT_TLS || type == PT_GNU_STACK || type == PT_GNU_RELRO)
			*is_linux = true;
	}
	return 0;
}

/* How far into the file classify() reads: the program headers and the
 * notes (0 when the header is not one it would look at). */
static uint64_t classify_extent(const unsigned char *f, size_t size)
{
	bool is64 = size >= EI_NIDENT && f[EI_CLASS] == ELFCLASS64;
	uint64_t phoff, end;
	unsigned phnum, phentsize;

	if (size < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)) || memcmp(f, ELFMAG, SELFMAG))
		return 0;
	if (is64) {
		const Elf64_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
	} else {
		const Elf32_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
	}
	end = phoff + (uint64_t)phnum * phentsize;
	if (end > size)
		return end;
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = f + phoff + (uint64_t)i * phentsize;
		uint64_t noff, nsz;
		uint32_t type;

		memcpy(&type, ph, 4);
		if (type != PT_NOTE || phentsize < (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
			continue;
		if (is64)
			noff = ((const Elf64_Phdr *)(const void *)ph)->p_offset,
			nsz = ((const Elf64_Phdr *)(const void *)ph)->p_filesz;
		else
			noff = ((const Elf32_Phdr *)(const void *)ph)->p_offset,
			nsz = ((const Elf32_Phdr *)(const void *)ph)->p_filesz;
		if (noff + nsz > end && noff + nsz >= noff)
			end = noff + nsz;
	}
	return end;
}

/* Only the headers and notes are read (a first page normally holds them):
 * the launcher asks this of every program it runs, and reading a whole
 * 2 MB busybox for it cost more than a native start of busybox. */
int snapvm_linux_classify(const char *path, bool *is_linux, struct snapvm_error *err)
{
	unsigned char head[16384];
	uint64_t size, len;
	void *buf;
	size_t whole;
	bool dynamic;
	int fd, ret = snapvm_input_open(path, 0, &fd, &size, err);

	*is_linux = false;
	if (ret)
		return ret;
	len = size < sizeof(head) ? size : sizeof(head);
	ret = snapvm_input_read(fd, path, head, len, 0, err);
	close(fd);
	if (ret)
		return ret;
	if (classify_extent(head, len) <= len) {
		lx_classify(head, len, is_linux, &dynamic);
		return 0;
	}
	ret = snapvm_read_file(path, 0, &buf, &whole, err);
	if (ret)
		return ret;
	lx_classify(buf, whole, is_linux, &dynamic);
	free(buf);
	return 0;
}

/* ---- validation: the lx_setup the personality follows ---- */

struct seg {
	uint32_t type, flags;
	uint64_t offset, vaddr, filesz, memsz;
};

static int read_phdrs(struct snapvm_linux *lx, struct seg *segs, unsigned *nsegs, uint64_t *entry,
		      uint64_t *phoff, unsigned *phnum, unsigned *phent, uint16_t *etype,
		      struct snapvm_error *err)
{
	const unsigned char *f = lx->file;
	size_t size = lx->file_size;
	bool is64 = f[EI_CLASS] == ELFCLASS64;
	uint16_t machine;

	if (f[EI_DATA] != ELFDATA2LSB)
		return snapvm_fail(err, EX_DATAERR, "%s: not a little-endian ELF file", lx->path);
	if (is64) {
		const Elf64_Ehdr *e = (const void *)f;

		*entry = e->e_entry, *phoff = e->e_phoff, *phnum = e->e_phnum;
		*phent = e->e_phentsize, *etype = e->e_type, machine = e->e_machine;
	} else {
		const Elf32_Ehdr *e = (const void *)f;

		*entry = e->e_entry, *phoff = e->e_phoff, *phnum = e->e_phnum;
		*phent = e->e_phentsize, *etype = e->e_type, machine = e->e_machine;
	}
	if (is64 ? machine != EM_X86_64 : machine != EM_386)
		return snapvm_fail(err, EX_DATAERR, "%s: ELF%s for machine %u: want %s", lx->path,
				   is64 ? "64" : "32", machine, is64 ? "x86-64" : "i386");
	if (*etype != ET_EXEC && *etype != ET_DYN)
		return snapvm_fail(err, EX_DATAERR, "%s: ELF type %u is not an executable",
				   lx->path, *etype);
	if (*phnum == 0 || *phnum > 64)
		return snapvm_fail(err, EX_DATAERR, "%s: %u program headers", lx->path, *phnum);
	*nsegs = 0;
	for (unsigned i = 0; i < *phnum; i++) {
		uint64_t off = *phoff + (uint64_t)i * *phent;
		struct seg *s = &segs[(*nsegs)++];

		if (off + *phent > size)
			return snapvm_fail(err, EX_DATAERR, "%s: truncated program headers",
					   lx->path);
		if (is64) {
			const Elf64_Phdr *p = (const void *)(f + off);

			*s = (struct seg){p->p_type,  p->p_flags,  p->p_offset,
					  p->p_vaddr, p->p_filesz, p->p_memsz};
		} else {
			const Elf32_Phdr *p = (const void *)(f + off);

			*s = (struct seg){p->p_type,  p->p_flags,  p->p_offset,
					  p->p_vaddr, p->p_filesz, p->p_memsz};
		}
	}
	return 0;
}

static uint32_t prot_of(uint32_t flags)
{
	return (flags & PF_R ? LX_PROT_READ : 0) | (flags & PF_W ? LX_PROT_WRITE : 0) |
	       (flags & PF_X ? LX_PROT_EXEC : 0);
}

int lx_build_setup(struct snapvm_linux *lx, struct snapvm_error *err)
{
	struct seg segs[64];
	unsigned nsegs = 0, phnum = 0, phent = 0;
	uint64_t entry = 0, phoff = 0, bias = 0, lo = UINT64_MAX, hi = 0;
	uint64_t user_top =
	    lx->layout == SNAPVM_LAYOUT_AMD64 ? LX_USER_TOP_AMD64 : LX_USER_TOP_I686;
	uint16_t etype = 0;
	struct lx_setup *s = &lx->setup;
	int ret = read_phdrs(lx, segs, &nsegs, &entry, &phoff, &phnum, &phent, &etype, err);

	if (ret)
		return ret;
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < nsegs; i++) {
		struct seg *g = &segs[i];

		if (g->type != PT_LOAD)
			continue;
		if (g->filesz > g->memsz || g->offset > lx->file_size ||
		    g->filesz > lx->file_size - g->offset)
			return snapvm_fail(err, EX_DATAERR,
					   "%s: segment %u (vaddr 0x%llx): file bytes beyond the "
					   "file or its memory size",
					   lx->path, i, (unsigned long long)g->vaddr);
		if ((g->flags & PF_W) && (g->flags & PF_X))
			return snapvm_fail(
			    err, EX_DATAERR,
			    "%s: segment %u (vaddr 0x%llx) is writable and executable "
			    "(W+X): refused",
			    lx->path, i, (unsigned long long)g->vaddr);
		if (g->vaddr + g->memsz < g->vaddr)
			return snapvm_fail(err, EX_DATAERR, "%s: segment %u wraps around", lx->path,
					   i);
		if (g->vaddr < lo)
			lo = g->vaddr;
		if (g->vaddr + g->memsz > hi)
			hi = g->vaddr + g->memsz;
		if (s->ncopies == LX_MAX_SEGMENTS)
			return snapvm_fail(err, EX_DATAERR, "%s: more than %d loadable segments",
					   lx->path, LX_MAX_SEGMENTS);
		s->copies[s->ncopies++] =
		    (struct lx_copy){.vaddr = g->vaddr, .filesz = g->filesz, .offset = g->offset};
	}
	if (!s->ncopies)
		return snapvm_fail(err, EX_DATAERR, "%s: no loadable segment", lx->path);
	/* Static PIE: loaded where Linux would put it, roughly. */
	if (etype == ET_DYN) {
		bias = (lx->layout == SNAPVM_LAYOUT_AMD64 ? 0x555555554000ULL : 0x56555000ULL) -
		       snapvm_page_align_down(lo);
		entry += bias;
	}
	lo = snapvm_page_align_down(lo + bias);
	hi = snapvm_page_align_up(hi + bias);
	if (lo < LX_USER_MIN || hi > user_top - LX_STACK_SIZE - (2ULL << 20))
		return snapvm_fail(err, EX_DATAERR,
				   "%s: segments at 0x%llx-0x%llx are outside the user range "
				   "0x%llx-0x%llx of the %s layout",
				   lx->path, (unsigned long long)lo, (unsigned long long)hi,
				   (unsigned long long)LX_USER_MIN,
				   (unsigned long long)(user_top - LX_STACK_SIZE - (2ULL << 20)),
				   snapvm_layout_name(lx->layout));
	if (entry < lo || entry >= hi)
		return snapvm_fail(err, EX_DATAERR, "%s: entry point 0x%llx outside its segments",
				   lx->path, (unsigned long long)entry);
	/* Maps: each segment's pages, overlapping pages merged (rights OR). */
	for (unsigned i = 0; i < s->ncopies; i++) {
		struct lx_copy *c = &s->copies[i];
		uint64_t start, end;
		uint32_t prot = 0;

		c->vaddr += bias;
		for (unsigned k = 0; k < nsegs; k++)
			if (segs[k].type == PT_LOAD && segs[k].vaddr + bias == c->vaddr &&
			    segs[k].offset == c->offset) {
				prot = prot_of(segs[k].flags);
				start = snapvm_page_align_down(c->vaddr);
				end = snapvm_page_align_up(c->vaddr + segs[k].memsz);
				goto found;
			}
		continue;
	found:
		for (unsigned m = 0; m < s->nmaps; m++) {
			struct lx_map *o = &s->maps[m];

			if (start < o->end && o->start < end) {
				/* Overlap: grow the earlier map over both. */
				if (start < o->start)
					o->start = start;
				if (end > o->end)
					o->end = end;
				o->prot |= prot;
				if ((o->prot & LX_PROT_WRITE) && (o->prot & LX_PROT_EXEC))
					return snapvm_fail(err, EX_DATAERR,
							   "%s: segments share a page writable "
							   "and executable (W+X): refused",
							   lx->path);
				goto merged;
			}
		}
		s->maps[s->nmaps++] = (struct lx_map){.start = start, .end = end, .prot = prot};
	merged:;
	}
	/* The maps must stay disjoint after merging, and sorted. */
	for (unsigned a = 0; a < s->nmaps; a++)
		for (unsigned b = a + 1; b < s->nmaps; b++) {
			if (s->maps[b].start < s->maps[a].start) {
				struct lx_map t = s->maps[a];

				s->maps[a] = s->maps[b];
				s->maps[b] = t;
			}
		}
	for (unsigned a = 1; a < s->nmaps; a++)
		if (s->maps[a].start < s->maps[a - 1].end)
			return snapvm_fail(err, EX_DATAERR, "%s: overlapping segments", lx->path);
	/* AT_PHDR: where a loaded segment holds the program headers. */
	for (unsigned i = 0; i < nsegs; i++)
		if (segs[i].type == PT_LOAD && phoff >= segs[i].offset &&
		    phoff + (uint64_t)phnum * phent <= segs[i].offset + segs[i].filesz) {
			s->phdr = segs[i].vaddr + bias + (phoff - segs[i].offset);
			s->phnum = phnum;
			s->phent = phent;
			break;
		}
	s->version = 1;
	s->entry = entry;
	s->brk_start = hi;
	return 0;
}
