// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * coredump.c - ELF core files of a stopped sandbox, in the format gdb reads
 * for a Linux process of the guest's architecture: ET_CORE, 32-bit for i686
 * and 64-bit for amd64, NT_PRSTATUS with the general registers, the FPU/SSE
 * state, and one PT_LOAD per run of guest-virtual memory found by walking
 * the guest's own page tables (GVA = GPA with paging off).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/lib/internal.h"

#define CR0_PG	 (1ULL << 31)
#define CR4_PSE	 (1ULL << 4)
#define CR4_PAE	 (1ULL << 5)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define PTE_P	 (1ULL << 0)
#define PTE_RW	 (1ULL << 1)
#define PTE_PS	 (1ULL << 7)
#define PTE_NX	 (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

/* No NT_PRXFPREG in <elf.h>: i386 Linux's FXSAVE note, which gdb reads. */
#define NT_PRXFPREG_I386 0x46e62b7f

/* One run of guest-virtual memory: contiguous in GVA and in host memory. */
struct core_segment {
	uint64_t gva, size;
	const unsigned char *host;
	uint32_t flags; /* PF_R | PF_W | PF_X */
};

/*
 * The walk's bounds. Aliases are legitimate (the amd64 tables map
 * themselves), but a guest must not make the dump endless: at most 4 times
 * its memory's pages are dumped, and every page-table page visited and
 * every entry read, inside guest memory or not, costs a step, at most
 * those pages plus WALK_EXTRA_STEPS (room for the upper levels' tables of
 * a sparse address space). Either bound hit: the dump is cut short there.
 */
#define WALK_PAGES_PER_GUEST_PAGE 4
#define WALK_EXTRA_STEPS	  (1ULL << 20)

struct core_map {
	const struct snapvm_guest_memory *mem;
	struct core_segment *segs;
	size_t nsegs, cap;
	uint64_t pages, max_pages;
	uint64_t steps, max_steps;
	bool capped; /* a bound was hit */
	bool out_of_memory;
};

/* One step of the walk; false (and capped) once they are used up. */
static bool step(struct core_map *m)
{
	if (m->steps >= m->max_steps || m->pages >= m->max_pages) {
		m->capped = true;
		return false;
	}
	m->steps++;
	return true;
}

/* Add one guest page (GVA, its GPA, rights); merged with the run before it
 * when both addresses and the rights continue it. Pages outside guest
 * memory (an MMIO hole, a bad entry) are left out. */
static void add_page(struct core_map *m, uint64_t gva, uint64_t gpa, uint32_t flags)
{
	const unsigned char *host = snapvm_gpa_to_host(m->mem, gpa, SNAPVM_PAGE);
	struct core_segment *last = m->nsegs ? &m->segs[m->nsegs - 1] : NULL;

	if (!host || m->out_of_memory)
		return;
	if (m->pages >= m->max_pages) {
		m->capped = true;
		return;
	}
	m->pages++;
	if (last && last->gva + last->size == gva && last->host + last->size == host &&
	    last->flags == flags) {
		last->size += SNAPVM_PAGE;
		return;
	}
	/* ELF's e_phnum is 16 bits (and one is the note). */
	if (m->nsegs >= 0xfff0)
		return;
	if (m->nsegs == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct core_segment *grown = realloc(m->segs, cap * sizeof(*grown));

		if (!grown) {
			m->out_of_memory = true;
			return;
		}
		m->segs = grown;
		m->cap = cap;
	}
	m->segs[m->nsegs++] = (struct core_segment){gva, SNAPVM_PAGE, host, flags};
}

/* The pages of [gpa, gpa + size) inside guest memory, in address order: a
 * huge page outside it costs nothing, however large. */
static void add_range(struct core_map *m, uint64_t gva, uint64_t gpa, uint64_t size, uint32_t flags)
{
	uint64_t off = 0;

	while (off < size && !m->capped && !m->out_of_memory) {
		uint64_t at = gpa + off, next = size, end = size;

		for (unsigned int i = 0; i < m->mem->nslots; i++) {
			const struct snapvm_guest_slot *slot = &m->mem->slots[i];

			if (at >= slot->gpa && at - slot->gpa < slot->size) {
				next = off;
				if (slot->size - (at - slot->gpa) < size - off)
					end = off + slot->size - (at - slot->gpa);
				break;
			}
			/* The nearest slot above, when none holds at. */
			if (slot->gpa > at && slot->gpa - gpa < next)
				next = slot->gpa - gpa;
		}
		if (next > off) {
			off = next;
			continue;
		}
		for (; off < end && !m->capped; off += SNAPVM_PAGE)
			add_page(m, gva + off, gpa + off, flags);
	}
}

/* The page-table formats: 4-level (and PAE below its PDPT) with 8-byte
 * entries and 9 bits a level, legacy 32-bit with 4-byte entries and 10. */
struct pt_format {
	unsigned int entry_size, bits;
	bool nx, pse; /* NX honoured; 4 MiB pages (32-bit) */
	bool long_mode;
};

static void walk(struct core_map *m, const struct pt_format *f, uint64_t table, int level,
		 uint64_t gva_base, uint32_t flags)
{
	unsigned int shift = 12 + f->bits * (unsigned int)level;
	unsigned int n = 1U << f->bits;
	const unsigned char *t = snapvm_gpa_to_host(m->mem, table, (uint64_t)n * f->entry_size);

	/* A table page snapvm.ko cannot charge was never touched: all zero,
	 * nothing present. */
	if (!step(m) || !t || snapvm_guest_prepare(t, (uint64_t)n * f->entry_size, false))
		return;
	for (unsigned int i = 0; i < n && step(m); i++) {
		uint64_t entry = 0, gva = gva_base + ((uint64_t)i << shift), frame;
		uint32_t rights = flags;
		bool leaf;

		memcpy(&entry, t + (size_t)i * f->entry_size, f->entry_size);
		if (!(entry & PTE_P))
			continue;
		if (!(entry & PTE_RW))
			rights &= ~(uint32_t)PF_W;
		if (f->nx && (entry & PTE_NX))
			rights &= ~(uint32_t)PF_X;
		/* Canonical form: bit 47 extends upwards. */
		if (f->long_mode && (gva & (1ULL << 47)))
			gva |= 0xffff000000000000ULL;
		leaf = level == 0 ||
		       (entry & PTE_PS && (f->entry_size == 8 ? level <= 2 : f->pse && level == 1));
		if (!leaf) {
			walk(m, f, entry & (f->entry_size == 8 ? PTE_ADDR : 0xfffff000ULL),
			     level - 1, gva, rights);
			continue;
		}
		if (f->entry_size == 4 && level == 1) /* 4 MiB, PSE-36 high bits */
			frame = (entry & 0xffc00000ULL) | ((entry & 0x001fe000ULL) << 19);
		else
			frame = entry & PTE_ADDR & ~((1ULL << shift) - 1);
		add_range(m, gva, frame, 1ULL << shift, rights);
	}
}

/* Every mapped guest-virtual page, in GVA order (the walk's order). */
static int map_guest(const struct snapvm_guest_memory *mem, const struct kvm_sregs *s,
		     struct core_map *m, struct snapvm_error *err)
{
	const uint32_t rwx = PF_R | PF_W | PF_X;
	uint64_t slot_pages = 0;

	for (unsigned int i = 0; i < mem->nslots; i++)
		slot_pages += mem->slots[i].size / SNAPVM_PAGE;
	m->max_pages = slot_pages * WALK_PAGES_PER_GUEST_PAGE;
	m->max_steps = m->max_pages + WALK_EXTRA_STEPS;
	if (!(s->cr0 & CR0_PG)) {
		for (unsigned int i = 0; i < mem->nslots; i++)
			add_range(m, mem->slots[i].gpa, mem->slots[i].gpa, mem->slots[i].size, rwx);
	} else if (s->efer & EFER_LMA) {
		struct pt_format f = {8, 9, s->efer & EFER_NXE, false, true};

		walk(m, &f, s->cr3 & PTE_ADDR, 3, 0, rwx);
	} else if (s->cr4 & CR4_PAE) {
		struct pt_format f = {8, 9, s->efer & EFER_NXE, false, false};
		const unsigned char *pdpt = snapvm_gpa_to_host(mem, s->cr3 & 0xffffffe0ULL, 32);

		if (pdpt && snapvm_guest_prepare(pdpt, 32, false))
			pdpt = NULL;
		for (unsigned int i = 0; pdpt && i < 4; i++) {
			uint64_t e;

			memcpy(&e, pdpt + i * 8, 8);
			if (e & PTE_P)
				walk(m, &f, e & PTE_ADDR, 1, (uint64_t)i << 30, rwx);
		}
	} else {
		struct pt_format f = {4, 10, false, s->cr4 & CR4_PSE, false};

		walk(m, &f, s->cr3 & 0xfffff000ULL, 1, 0, rwx);
	}
	if (m->out_of_memory)
		return snapvm_fail(err, EX_OSERR, "out of memory for the core dump's segments");
	return 0;
}

void snapvm_fxsave_from_state(const struct snapvm_vcpu_state *state, unsigned char fx[512])
{
	const struct kvm_fpu *f = &state->fpu;

	if (state->parts & SNAPVM_STATE_XSAVE) {
		memcpy(fx, state->xsave.region, 512);
		return;
	}
	memset(fx, 0, 512);
	memcpy(fx + 0, &f->fcw, 2);
	memcpy(fx + 2, &f->fsw, 2);
	fx[4] = f->ftwx;
	memcpy(fx + 6, &f->last_opcode, 2);
	memcpy(fx + 8, &f->last_ip, 8);
	memcpy(fx + 16, &f->last_dp, 8);
	memcpy(fx + 24, &f->mxcsr, 4);
	memcpy(fx + 32, f->fpr, sizeof(f->fpr));
	memcpy(fx + 160, f->xmm, sizeof(f->xmm));
}

/* The registers a core (and the gdb stub) shows, in kvm_regs terms, with
 * the segment selectors and bases from sregs. */
struct core_regs {
	struct kvm_regs r;
	uint64_t cs, ss, ds, es, fs, gs, fs_base, gs_base;
	int signo;
};

/* At an ABORT from an exception handler, the interrupted context replaces
 * the handler's: the dump then starts where the guest faulted. */
static void apply_fault_frame(struct snapvm_sandbox *sb, const struct kvm_sregs *s,
			      struct core_regs *cr)
{
	struct snapvm_paging paging = {s->cr0, s->cr3, s->cr4, s->efer};
	struct snapvm_guest_range range = {.mem = &sb->memory, .paging = &paging};
	union {
		struct snapvm_fault_frame_amd64 a;
		struct snapvm_fault_frame_i686 i;
	} f;
	bool amd64 = sb->snapshot->arch->layout == SNAPVM_LAYOUT_AMD64;
	unsigned char *dst = (unsigned char *)&f;
	const void *p;
	uint64_t chunk;

	range.gva = sb->abort_frame;
	range.len = amd64 ? sizeof(f.a) : sizeof(f.i);
	while ((p = snapvm_guest_range_next(&range, &chunk)))
		memcpy(dst + range.done - chunk, p, chunk);
	if (range.done != range.len)
		return; /* not mapped: the handler's own registers, then */
	cr->signo = SIGSEGV;
	if (amd64) {
		cr->r = (struct kvm_regs){.rax = f.a.rax,
					  .rbx = f.a.rbx,
					  .rcx = f.a.rcx,
					  .rdx = f.a.rdx,
					  .rsi = f.a.rsi,
					  .rdi = f.a.rdi,
					  .rsp = f.a.sp,
					  .rbp = f.a.rbp,
					  .r8 = f.a.r8,
					  .r9 = f.a.r9,
					  .r10 = f.a.r10,
					  .r11 = f.a.r11,
					  .r12 = f.a.r12,
					  .r13 = f.a.r13,
					  .r14 = f.a.r14,
					  .r15 = f.a.r15,
					  .rip = f.a.ip,
					  .rflags = f.a.flags};
		cr->cs = f.a.cs & 0xffff;
		cr->ss = f.a.ss & 0xffff;
	} else {
		cr->r = (struct kvm_regs){.rax = f.i.eax,
					  .rbx = f.i.ebx,
					  .rcx = f.i.ecx,
					  .rdx = f.i.edx,
					  .rsi = f.i.esi,
					  .rdi = f.i.edi,
					  .rsp = sb->abort_frame + sizeof(f.i),
					  .rbp = f.i.ebp,
					  .rip = f.i.ip,
					  .rflags = f.i.flags};
		cr->cs = f.i.cs & 0xffff;
	}
}

bool snapvm_fault_frame_regs(struct snapvm_sandbox *sb, const struct kvm_sregs *s,
			     struct kvm_regs *regs)
{
	struct core_regs cr = {.r = *regs};

	if (sb->last_stop != SNAPVM_STOP_ABORT || !sb->abort_frame)
		return false;
	apply_fault_frame(sb, s, &cr);
	if (cr.signo != SIGSEGV)
		return false;
	*regs = cr.r;
	return true;
}

struct core_file {
	int fd;
	uint64_t offset;
	int error; /* errno of the first failed write */
};

static void put(struct core_file *cf, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len && !cf->error) {
		ssize_t n = pwrite(cf->fd, p, len, (off_t)cf->offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cf->error = n < 0 ? errno : EIO;
			return;
		}
		p += n;
		len -= (size_t)n;
		cf->offset += (uint64_t)n;
	}
}

static void put_note(struct core_file *cf, uint32_t type, const void *desc, uint32_t size)
{
	static const char name[8] = "CORE";
	static const unsigned char zeros[4];
	Elf32_Nhdr h = {.n_namesz = 5, .n_descsz = size, .n_type = type};

	put(cf, &h, sizeof(h));
	put(cf, name, 8);
	put(cf, desc, size);
	put(cf, zeros, (4 - size % 4) % 4);
}

static uint32_t note_size(uint32_t desc)
{
	return (uint32_t)sizeof(Elf32_Nhdr) + 8 + ((desc + 3) & ~3U);
}

/* Linux's struct elf_prstatus up to pr_reg, then pr_reg, then pr_fpvalid:
 * 112 + 27 * 8 + 8 bytes on x86-64, 72 + 17 * 4 + 4 on i386. */
#define PRSTATUS64_SIZE 336
#define PRSTATUS32_SIZE 144

static void prstatus_head(unsigned char *p, int signo, size_t pid_offset)
{
	int32_t sig = signo, pid = 1;
	int16_t cursig = (int16_t)signo;

	memcpy(p, &sig, 4);	    /* pr_info.si_signo */
	memcpy(p + 12, &cursig, 2); /* pr_cursig */
	memcpy(p + pid_offset, &pid, 4);
}

static void prstatus64(unsigned char p[PRSTATUS64_SIZE], const struct core_regs *c)
{
	const struct kvm_regs *r = &c->r;
	/* struct user_regs_struct; orig_rax -1: "not in a system call". */
	const uint64_t regs[27] = {
	    r->r15,    r->r14, r->r13, r->r12,	   r->rbp,     r->rbx, r->r11,	   r->r10, r->r9,
	    r->r8,     r->rax, r->rcx, r->rdx,	   r->rsi,     r->rdi, UINT64_MAX, r->rip, c->cs,
	    r->rflags, r->rsp, c->ss,  c->fs_base, c->gs_base, c->ds,  c->es,	   c->fs,  c->gs};
	int32_t fpvalid = 1;

	memset(p, 0, PRSTATUS64_SIZE);
	prstatus_head(p, c->signo, 32);
	memcpy(p + 112, regs, sizeof(regs));
	memcpy(p + 112 + sizeof(regs), &fpvalid, 4);
}

static void prstatus32(unsigned char p[PRSTATUS32_SIZE], const struct core_regs *c)
{
	const struct kvm_regs *r = &c->r;
	/* elf_gregset_t: ebx ecx edx esi edi ebp eax ds es fs gs orig_eax eip
	 * cs eflags esp ss. */
	const uint32_t regs[17] = {(uint32_t)r->rbx, (uint32_t)r->rcx, (uint32_t)r->rdx,
				   (uint32_t)r->rsi, (uint32_t)r->rdi, (uint32_t)r->rbp,
				   (uint32_t)r->rax, (uint32_t)c->ds,  (uint32_t)c->es,
				   (uint32_t)c->fs,  (uint32_t)c->gs,  UINT32_MAX,
				   (uint32_t)r->rip, (uint32_t)c->cs,  (uint32_t)r->rflags,
				   (uint32_t)r->rsp, (uint32_t)c->ss};
	int32_t fpvalid = 1;

	memset(p, 0, PRSTATUS32_SIZE);
	prstatus_head(p, c->signo, 24);
	memcpy(p + 72, regs, sizeof(regs));
	memcpy(p + 140, &fpvalid, 4);
}

/* i386's NT_FPREGSET (struct user_i387_struct, FSAVE format) from FXSAVE. */
static void fsave_from_fxsave(unsigned char out[108], const unsigned char fx[512])
{
	uint32_t v[7] = {0};
	uint16_t fop;

	memcpy(&v[0], fx + 0, 2); /* cwd */
	memcpy(&v[1], fx + 2, 2); /* swd */
	/* The abridged tag: 1 = in use (shown valid), 0 = empty (11b). */
	for (unsigned int i = 0; i < 8; i++)
		if (!(fx[4] >> i & 1))
			v[2] |= 3U << (2 * i);
	memcpy(&v[3], fx + 8, 4);  /* fip */
	memcpy(&v[4], fx + 12, 2); /* fcs, with fop in the high half */
	memcpy(&fop, fx + 6, 2);
	v[4] |= (uint32_t)fop << 16;
	memcpy(&v[5], fx + 16, 4); /* foo */
	memcpy(&v[6], fx + 20, 2); /* fos */
	memcpy(out, v, sizeof(v));
	for (unsigned int i = 0; i < 8; i++)
		memcpy(out + 28 + i * 10, fx + 32 + i * 16, 10);
}

static int write_core(struct snapvm_sandbox *sb, int fd, const struct snapvm_vcpu_state *state,
		      const struct core_regs *cr, const struct core_map *m)
{
	bool is64 = sb->snapshot->arch->layout == SNAPVM_LAYOUT_AMD64;
	struct core_file cf = {.fd = fd};
	unsigned char fx[512], prstatus[PRSTATUS64_SIZE], fsave[108];
	size_t ehdr_size = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phdr_size = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	uint32_t prsize = is64 ? PRSTATUS64_SIZE : PRSTATUS32_SIZE;
	uint64_t notes_offset = ehdr_size + phdr_size * (m->nsegs + 1);
	uint64_t notes = note_size(prsize) + note_size(512) + (is64 ? 0 : note_size(108));
	uint64_t data = snapvm_page_align_up(notes_offset + notes), end = data;
	uint16_t phnum = (uint16_t)(m->nsegs + 1);

	snapvm_fxsave_from_state(state, fx);
	/* The headers. */
	if (is64) {
		Elf64_Ehdr eh = {.e_type = ET_CORE,
				 .e_machine = EM_X86_64,
				 .e_version = EV_CURRENT,
				 .e_phoff = sizeof(Elf64_Ehdr),
				 .e_ehsize = sizeof(Elf64_Ehdr),
				 .e_phentsize = sizeof(Elf64_Phdr),
				 .e_phnum = phnum};
		Elf64_Phdr note = {
		    .p_type = PT_NOTE, .p_offset = notes_offset, .p_filesz = notes, .p_align = 4};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		put(&cf, &eh, sizeof(eh));
		put(&cf, &note, sizeof(note));
		for (size_t i = 0; i < m->nsegs; i++) {
			Elf64_Phdr ph = {.p_type = PT_LOAD,
					 .p_flags = m->segs[i].flags,
					 .p_offset = end,
					 .p_vaddr = m->segs[i].gva,
					 .p_filesz = m->segs[i].size,
					 .p_memsz = m->segs[i].size,
					 .p_align = SNAPVM_PAGE};

			put(&cf, &ph, sizeof(ph));
			end += m->segs[i].size;
		}
	} else {
		Elf32_Ehdr eh = {.e_type = ET_CORE,
				 .e_machine = EM_386,
				 .e_version = EV_CURRENT,
				 .e_phoff = sizeof(Elf32_Ehdr),
				 .e_ehsize = sizeof(Elf32_Ehdr),
				 .e_phentsize = sizeof(Elf32_Phdr),
				 .e_phnum = phnum};
		Elf32_Phdr note = {.p_type = PT_NOTE,
				   .p_offset = (uint32_t)notes_offset,
				   .p_filesz = (uint32_t)notes,
				   .p_align = 4};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		put(&cf, &eh, sizeof(eh));
		put(&cf, &note, sizeof(note));
		for (size_t i = 0; i < m->nsegs; i++) {
			Elf32_Phdr ph = {.p_type = PT_LOAD,
					 .p_flags = m->segs[i].flags,
					 .p_offset = (uint32_t)end,
					 .p_vaddr = (uint32_t)m->segs[i].gva,
					 .p_filesz = (uint32_t)m->segs[i].size,
					 .p_memsz = (uint32_t)m->segs[i].size,
					 .p_align = SNAPVM_PAGE};

			put(&cf, &ph, sizeof(ph));
			end += m->segs[i].size;
		}
		if (end > UINT32_MAX)
			return EFBIG;
	}
	/* The notes. */
	if (is64) {
		prstatus64(prstatus, cr);
		put_note(&cf, NT_PRSTATUS, prstatus, prsize);
		put_note(&cf, NT_FPREGSET, fx, 512);
	} else {
		prstatus32(prstatus, cr);
		fsave_from_fxsave(fsave, fx);
		put_note(&cf, NT_PRSTATUS, prstatus, prsize);
		put_note(&cf, NT_FPREGSET, fsave, 108);
		put_note(&cf, NT_PRXFPREG_I386, fx, 512);
	}
	/* The memory: all-zero pages stay holes, so a big .bss costs nothing.
	 * So do pages snapvm.ko cannot charge: never touched, all zero. */
	cf.offset = data;
	for (size_t i = 0; i < m->nsegs && !cf.error; i++) {
		bool present = !snapvm_guest_prepare(m->segs[i].host, m->segs[i].size, false);

		for (uint64_t off = 0; off < m->segs[i].size; off += SNAPVM_PAGE) {
			const unsigned char *page = m->segs[i].host + off;
			static const unsigned char zero[SNAPVM_PAGE];

			if ((present || !snapvm_guest_prepare(page, SNAPVM_PAGE, false)) &&
			    memcmp(page, zero, SNAPVM_PAGE))
				put(&cf, page, SNAPVM_PAGE);
			else
				cf.offset += SNAPVM_PAGE;
		}
	}
	if (!cf.error && ftruncate(fd, (off_t)end))
		cf.error = errno;
	return cf.error;
}

/* The registers to show: the vCPU's, or the interrupted context of an
 * ABORT from an exception handler. */
static void core_registers(struct snapvm_sandbox *sb, const struct snapvm_vcpu_state *state,
			   struct core_regs *cr)
{
	const struct kvm_sregs *s = &state->sregs;

	*cr = (struct core_regs){
	    .r = state->regs,
	    .cs = s->cs.selector,
	    .ss = s->ss.selector,
	    .ds = s->ds.selector,
	    .es = s->es.selector,
	    .fs = s->fs.selector,
	    .gs = s->gs.selector,
	    .fs_base = s->fs.base,
	    .gs_base = s->gs.base,
	};
	switch (sb->last_stop) {
	case SNAPVM_STOP_ABORT:
		cr->signo = SIGABRT;
		if (sb->abort_frame)
			apply_fault_frame(sb, s, cr);
		break;
	case SNAPVM_STOP_FAULT:
		cr->signo = SIGSEGV;
		break;
	case SNAPVM_STOP_DEBUG:
		cr->signo = SIGTRAP;
		break;
	case SNAPVM_STOP_INTERRUPTED:
		cr->signo = SIGINT;
		break;
	case SNAPVM_STOP_TIMEOUT:
		cr->signo = SIGALRM;
		break;
	default:
		cr->signo = 0;
	}
}

static int core_dump_at(struct snapvm_sandbox *sb, int dirfd, const char *name, const char *path,
			struct snapvm_error *err)
{
	struct snapvm_vcpu_state *state = malloc(sizeof(*state));
	struct core_map map = {.mem = &sb->memory};
	char tmp[NAME_MAX + 1];
	struct kvm_regs *regs;
	struct core_regs cr;
	int fd, ret;

	if (!state)
		return snapvm_fail(err, EX_OSERR, "out of memory for a vCPU state");
	ret = snapvm_kvm_vcpu_get_state(&sb->vcpu, state, err);
	/* The run loop's view of the registers wins over KVM_GET_REGS: it may
	 * hold changes the next KVM_RUN would make. */
	if (!ret)
		ret = snapvm_kvm_vcpu_regs(&sb->vcpu, &regs, err);
	if (!ret) {
		state->regs = *regs;
		ret = map_guest(&sb->memory, &state->sregs, &map, err);
	}
	if (ret)
		goto out;
	core_registers(sb, state, &cr);

	/* Atomically, as snapshot files: a temporary file, fsync, rename. */
	ret = snapvm_output_begin(dirfd, name, tmp, &fd);
	if (ret) {
		ret = snapvm_fail_errno(err, EX_CANTCREAT, ret, "cannot create core dump %s", path);
		goto out;
	}
	ret = write_core(sb, fd, state, &cr, &map);
	ret = snapvm_output_commit(dirfd, tmp, name, fd, ret);
	if (ret) {
		ret = snapvm_fail_errno(err, EX_IOERR, ret, "cannot write core dump %s", path);
		goto out;
	}
	if (err) {
		err->status = 0;
		err->message[0] = '\0';
		if (map.capped)
			snprintf(
			    err->message, sizeof(err->message),
			    "core dump %s cut short: the guest's page tables exceed the walk's "
			    "bound (%llu pages dumped, %llu page-table pages and entries read)",
			    path, (unsigned long long)map.pages, (unsigned long long)map.steps);
	}
out:
	free(map.segs);
	free(state);
	return ret;
}

int snapvm_sandbox_core_dump_at(struct snapvm_sandbox *sb, int dirfd, const char *name,
				struct snapvm_error *err)
{
	if (!name || snapvm_output_name_check(name))
		return snapvm_fail(err, EX_USAGE, "core dump: '%s' is not a file name",
				   name ? name : "");
	return core_dump_at(sb, dirfd, name, name, err);
}

int snapvm_sandbox_core_dump(struct snapvm_sandbox *sb, const char *path, struct snapvm_error *err)
{
	const char *name;
	int dirfd, ret;

	if (!path || !*path)
		return snapvm_fail(err, EX_USAGE, "core dump: no file name");
	ret = snapvm_output_dir_open(path, &dirfd, &name, err);
	if (ret)
		return ret;
	ret = core_dump_at(sb, dirfd, name, path, err);
	close(dirfd);
	return ret;
}
