/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kernel.c - the Linux personality's kernel half: boot (its own GDT, TSS,
 * IDT and page tables), the program's start and traps (the page allocator
 * and the program's address space are in mm.c, the host calls in lib.c).
 *
 * Memory: the personality's page frames are the free scratch area. Its own
 * image, scratch and page tables are supervisor-only; the program's pages
 * are user pages in [LX_USER_MIN, LX_USER_TOP). On amd64 the image's
 * .data/.bss sit in the read-only snapshot view, so lx_boot() copies them
 * into scratch frames before anything writes a global; on i686 the view is
 * writable and the personality writes its snapshot directly.
 */
#include "guests/linux/mm.h"

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[],
    __data_end[];
extern const uintptr_t lx_isr_table[32];
void lx_syscall_entry(void);
void lx_int80_entry(void);
void lx_signal_entry(void);
__attribute__((noreturn)) void lx_enter(struct lx_frame *f);

/* ---- state (amd64: valid only once lx_boot switched to its tables) ---- */

const struct snapvm_boot_info *lx_bi;
struct lx_setup lx_setup;
uintptr_t lx_user_rsp, lx_kstack_top;
int lx_smap;

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
#if LX_AMD64
static uint64_t idt[256 * 2] __attribute__((aligned(16)));
static struct __attribute__((packed)) {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap;
} tss;
#else
static uint64_t idt[256] __attribute__((aligned(16)));
static struct __attribute__((packed)) {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
} tss;
#endif

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* ---- boot ---- */

static void set_gate(int vector, uintptr_t handler, int dpl)
{
#if LX_AMD64
	idt[vector * 2] = (handler & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
			  ((uint64_t)(0x8e | dpl << 5) << 40) |
			  ((uint64_t)(handler >> 16 & 0xffff) << 48);
	idt[vector * 2 + 1] = (uint64_t)handler >> 32;
#else
	idt[vector] = (handler & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
		      ((uint64_t)(0x8e | dpl << 5) << 40) |
		      ((uint64_t)(handler >> 16 & 0xffff) << 48);
#endif
}

static void load_descriptors(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uintptr_t base;
	} gdtr = {sizeof(gdt) - 1, (uintptr_t)gdt}, idtr = {sizeof(idt) - 1, (uintptr_t)idt};
	uintptr_t t = (uintptr_t)&tss;

	gdt[0] = 0;
#if LX_AMD64
	gdt[1] = 0x00af9a000000ffffULL; /* kernel code, 64-bit */
	gdt[2] = 0x00cf92000000ffffULL; /* kernel data */
	gdt[3] = 0x00cff2000000ffffULL; /* user data, DPL 3 */
	gdt[4] = 0x00affa000000ffffULL; /* user code, 64-bit, DPL 3 */
	gdt[GDT_TSS] = (sizeof(tss) - 1) | (uint64_t)(t & 0xffffff) << 16 | 0x89ULL << 40 |
		       (uint64_t)(t >> 24 & 0xff) << 56;
	gdt[GDT_TSS + 1] = (uint64_t)t >> 32;
	tss.rsp[0] = lx_kstack_top;
	tss.iomap = sizeof(tss);
#else
	gdt[1] = 0x00cf9a000000ffffULL; /* kernel code */
	gdt[2] = 0x00cf92000000ffffULL; /* kernel data */
	gdt[3] = 0x00cff2000000ffffULL; /* user data, DPL 3 */
	gdt[4] = 0x00cffa000000ffffULL; /* user code, DPL 3 */
	gdt[GDT_TSS] = (sizeof(tss) - 1) | (uint64_t)(t & 0xffffff) << 16 | 0x89ULL << 40 |
		       (uint64_t)(t >> 24 & 0xff) << 56;
	tss.esp0 = lx_kstack_top;
	tss.ss0 = SEL_KDATA;
	tss.iomap = sizeof(tss);
#endif
	for (int v = 0; v < 32; v++)
		set_gate(v, lx_isr_table[v], 0);
	/* The host's signals (DPL 0: the program cannot raise it itself). */
	set_gate(LX_SIGNAL_VECTOR, (uintptr_t)lx_signal_entry, 0);
#if !LX_AMD64
	set_gate(0x80, (uintptr_t)lx_int80_entry, 3);
#endif
	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	__asm__ volatile("lidt %0" : : "m"(idtr));
#if LX_AMD64
	__asm__ volatile(
	    "pushq %0\n\tlea 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n1:\n\t"
	    "mov %1, %%eax\n\tmov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%ss\n\t"
	    "xor %%eax, %%eax\n\tmov %%eax, %%fs\n\tmov %%eax, %%gs"
	    :
	    : "i"(SEL_KCODE), "i"(SEL_KDATA)
	    : "rax", "memory");
#else
	__asm__ volatile(
	    "ljmp %0, $1f\n1:\n\t"
	    "mov %1, %%eax\n\tmov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%ss\n\t"
	    "xor %%eax, %%eax\n\tmov %%eax, %%fs\n\tmov %%eax, %%gs"
	    :
	    : "i"(SEL_KCODE), "i"(SEL_KDATA)
	    : "eax", "memory");
#endif
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS * 8));
}

/*
 * SNAPSHOT, and TR loaded afresh when a restore resumes us: a restore sets
 * the saved segment state, whose TR KVM reports as busy, and QEMU's TCG
 * (the test VM's nested SVM) aborts on a ring-3 interrupt through a busy
 * 32-bit TSS ("invalid tss type"). ltr needs the descriptor available.
 */
long lx_take_snapshot(void)
{
	long r = lx_hypercall(SNAPVM_HC_SNAPSHOT, 0, 0);

	gdt[GDT_TSS] &= ~(1ULL << 41);
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS * 8));
	/* Restored: host files of an earlier run are not ours (their handles
	 * in the restored fd table now give EBADF). */
	if (r == 1) {
		lx_hostcall(LX_HC_FILES_RESET, NULL, 0, NULL, 0);
		lx_signals_restored();
		lx_clock_sync(); /* the snapshot's base is the past, its TSC another VM's */
	}
	return r;
}

void lx_set_tls_gdt(int entry, uint32_t lo, uint32_t hi)
{
	gdt[entry] = lo | (uint64_t)hi << 32;
}

uint64_t lx_gdt_entry(int entry)
{
	return gdt[entry];
}

static void lx_main(void);

/*
 * Until the switch to our own tables, nothing here writes a global: on
 * amd64 .data/.bss are still the snapshot's read-only pages. The state is
 * built on the stack and copied in afterwards.
 */
void lx_boot(struct snapvm_boot_info *bi, uintptr_t stack_top)
{
	struct alloc a = {
	    .next = (uintptr_t)bi->scratch_free_gva,
	    .end = (uintptr_t)(bi->scratch_free_gva + bi->scratch_free_size),
	    .scratch_gva = (uintptr_t)bi->scratch_gva,
	    .scratch_gpa = bi->scratch_gpa,
	};
	uint32_t r[4];
	uint64_t nx = 0, root;
	uintptr_t root_va, p;

	if (bi->magic != SNAPVM_BOOT_MAGIC)
		lx_panic("linux personality: bad boot info");
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		if (r[3] & (1u << 20))
			nx = PTE_NX;
	}
	root_va = lx_alloc_frame(&a);
	if (!root_va)
		lx_panic("linux personality: no scratch for page tables");
	root = lx_frame_pa(&a, root_va);
	/* Image: text R+X, rodata R, data R+W (amd64: a scratch copy). */
	if (lx_map_kernel(&a, root, (uintptr_t)__text_start, (uintptr_t)__text_start,
			  (uintptr_t)__text_end - (uintptr_t)__text_start, PTE_P) ||
	    lx_map_kernel(&a, root, (uintptr_t)__rodata_start, (uintptr_t)__rodata_start,
			  (uintptr_t)__rodata_end - (uintptr_t)__rodata_start, PTE_P | nx))
		lx_panic("linux personality: out of scratch mapping its image");
	for (p = (uintptr_t)__data_start; p < (uintptr_t)__data_end; p += PAGE) {
#if LX_AMD64
		uintptr_t copy = lx_alloc_frame(&a);

		if (!copy || lx_map_page(&a, root, p, lx_frame_pa(&a, copy) | PTE_P | PTE_W | nx))
			lx_panic("linux personality: out of scratch copying its data");
		memcpy((void *)copy, (void *)p, PAGE);
#else
		if (lx_map_page(&a, root, p, p | PTE_P | PTE_W | nx))
			lx_panic("linux personality: out of scratch mapping its data");
#endif
	}
	if (lx_map_kernel(&a, root, bi->scratch_gva, bi->scratch_gpa, bi->scratch_size,
			  PTE_P | PTE_W | nx))
		lx_panic("linux personality: out of scratch mapping scratch");
#if !LX_AMD64
	/* PAE: the CPU takes the four PDPTEs when CR3 is loaded, and KVM,
	 * which walks our tables to emulate an instruction, when a restore
	 * sets the vCPU state: all four exist before and never change. */
	for (int i = 0; i < 4; i++) {
		uint64_t *pdpte = (uint64_t *)root_va + i;
		uintptr_t pd;

		if (*pdpte & PTE_P)
			continue;
		pd = lx_alloc_frame(&a);
		if (!pd)
			lx_panic("linux personality: no scratch for page directories");
		*pdpte = lx_frame_pa(&a, pd) | PTE_P;
	}
#endif
#if LX_AMD64
	wrmsr(0xc0000080, rdmsr(0xc0000080) | (nx ? 1ULL << 11 : 0) | 1); /* NXE, SCE */
	__asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory");
	/* WP: the kernel honours read-only user pages too. */
	{
		uintptr_t cr0;

		__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
		__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | (1UL << 16)));
	}
#else
	{
		uintptr_t cr0, cr4;

		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1UL << 5))); /* PAE */
		if (nx)
			wrmsr(0xc0000080, rdmsr(0xc0000080) | (1ULL << 11));
		__asm__ volatile("mov %0, %%cr3" : : "r"((uintptr_t)root) : "memory");
		__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
		__asm__ volatile("mov %0, %%cr0"
				 :
				 : "r"(cr0 | (1UL << 31) | (1UL << 16))
				 : "memory");
	}
#endif
	/* From here on globals are ours. */
	lx_frames = a;
	lx_root_pa = root;
	lx_nx_bit = nx;
	lx_bi = bi;
	lx_kstack_top = stack_top & ~(uintptr_t)15;
	load_descriptors();
	/* Leaf 7 only where the CPUID has it: a shorter one may answer with
	 * another leaf's bits. */
	cpuid(0, 0, r);
	if (r[0] >= 7)
		cpuid(7, 0, r);
	else
		r[1] = 0;
	/* i686: KVM refused CR4.SMEP in 32-bit PAE mode in the test VM (#GP);
	 * the U/S bits alone keep the program out of the personality. */
	if (!LX_AMD64)
		r[1] = 0;
	{
		uintptr_t cr4;

		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		/* OSFXSR, OSXMMEXCPT: the program uses SSE. */
		cr4 |= (1UL << 9) | (1UL << 10);
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
		if (r[1] & (1u << 7)) {
			cr4 |= 1UL << 20; /* SMEP */
			__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
		}
		if (r[1] & (1u << 20)) {
			cr4 |= 1UL << 21; /* SMAP */
			__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
			lx_smap = 1;
		}
	}
#if LX_AMD64
	wrmsr(0xc0000081, (uint64_t)(SEL_KDATA) << 48 | (uint64_t)SEL_KCODE << 32); /* STAR */
	wrmsr(0xc0000082, (uintptr_t)lx_syscall_entry);				    /* LSTAR */
	wrmsr(0xc0000084, 0x47700); /* SFMASK: TF DF IF IOPL AC NT */
#endif
	lx_main();
}

/* ---- the program's start ---- */

#define AT_NULL	    0
#define AT_PHDR	    3
#define AT_PHENT    4
#define AT_PHNUM    5
#define AT_PAGESZ   6
#define AT_BASE	    7
#define AT_FLAGS    8
#define AT_ENTRY    9
#define AT_UID	    11
#define AT_EUID	    12
#define AT_GID	    13
#define AT_EGID	    14
#define AT_PLATFORM 15
#define AT_HWCAP    16
#define AT_CLKTCK   17
#define AT_SECURE   23
#define AT_RANDOM   25
#define AT_HWCAP2   26
#define AT_EXECFN   31

#define ARGS_MAX (128U << 10)
static struct {
	struct lx_args a;
	char strings[ARGS_MAX];
} args;
static uintptr_t stack_words[(ARGS_MAX / 2 + 64) / sizeof(uintptr_t)];

static void load_program(void)
{
	const struct lx_setup *s = &lx_setup;

	for (uint32_t i = 0; i < s->nmaps; i++) {
		const struct lx_map *m = &s->maps[i];

		if (m->start < LX_USER_MIN || m->end > lx_mmap_top || m->start >= m->end ||
		    !lx_range_free((uintptr_t)m->start, (uintptr_t)m->end) ||
		    lx_vma_insert((uintptr_t)m->start, (uintptr_t)m->end, m->prot, VMA_MAP))
			lx_panic("linux personality: bad program mapping 0x%llx-0x%llx",
				 (unsigned long long)m->start, (unsigned long long)m->end);
	}
	for (uint32_t i = 0; i < s->ncopies; i++) {
		const struct lx_copy *c = &s->copies[i];
		uint64_t done = 0;

		/* Frames first (whatever the rights), then the host writes
		 * the file's bytes straight into them. */
		for (uintptr_t va = (uintptr_t)c->vaddr & ~(PAGE - 1); va < c->vaddr + c->filesz;
		     va += PAGE) {
			int v = lx_vma_find(va);
			uint32_t prot;

			if (v < 0)
				lx_panic("linux personality: copy outside the mappings");
			prot = lx_vmas[v].prot;
			lx_vmas[v].prot = LX_PROT_READ | LX_PROT_WRITE;
			if (lx_fault_in(va, 1, 0))
				lx_panic("linux personality: no memory for the program");
			lx_vmas[v].prot = prot;
		}
		while (done < c->filesz) {
			uint64_t off = c->offset + done;
			uint64_t n = c->filesz - done;
			long got;

			if (n > SNAPVM_HOST_CALL_MAX)
				n = SNAPVM_HOST_CALL_MAX;
			got = lx_hostcall(LX_HC_IMAGE, &off, sizeof(off),
					  (void *)(uintptr_t)(c->vaddr + done), (size_t)n);
			if (got <= 0)
				lx_panic("linux personality: reading the program failed (%ld)",
					 got);
			done += (uint64_t)got;
		}
	}
	/* Now the final rights of every page. */
	for (int i = 0; i < lx_nvmas; i++)
		for (uintptr_t va = lx_vmas[i].start; va < lx_vmas[i].end; va += PAGE) {
			uint64_t *e = lx_walk(&lx_frames, lx_root_pa, va, 0);

			if (e && (*e & PTE_P))
				*e = (*e & PTE_ADDR) | lx_pte_rights(lx_vmas[i].prot);
		}
	lx_brk_start = lx_brk_cur = (uintptr_t)s->brk_start;
}

static uintptr_t push_bytes(uintptr_t *sp, const void *data, size_t len)
{
	*sp -= len;
	if (lx_copy_to_user(*sp, data, len))
		lx_panic("linux personality: the stack does not fit");
	return *sp;
}

static void start_program(void)
{
	struct lx_frame *f;
	uintptr_t sp = LX_USER_TOP, random, platform, execfn, hwcap, *w = stack_words;
	const char *str;
	size_t nwords, used;
	uint32_t r[4];
	long n;

	n = lx_hostcall(LX_HC_ARGS, NULL, 0, &args, sizeof(args));
	if (n < (long)sizeof(struct lx_args) || args.a.strings_len > ARGS_MAX ||
	    args.a.argc + args.a.envc > ARGS_MAX / 2)
		lx_panic("linux personality: bad arguments from the host (%ld)", n);
	cpuid(1, 0, r);
	hwcap = r[3];
	random = push_bytes(&sp, args.a.random, 16);
	platform = push_bytes(&sp, LX_AMD64 ? "x86_64" : "i686", LX_AMD64 ? 7 : 5);
	sp -= args.a.strings_len;
	sp &= ~(uintptr_t)15;
	if (lx_copy_to_user(sp, args.strings, args.a.strings_len))
		lx_panic("linux personality: the stack does not fit");
	w[0] = args.a.argc;
	str = args.strings;
	used = 0;
	execfn = sp;
	for (uint32_t i = 0; i < args.a.argc + args.a.envc; i++) {
		/* argv[i] at w[1 + i]; envp[j] after argv's NULL. */
		w[1 + i + (i >= args.a.argc)] = sp + used;
		used += strlen(str + used) + 1;
		if (used > args.a.strings_len)
			lx_panic("linux personality: unterminated argument");
	}
	w[1 + args.a.argc] = 0;
	w[2 + args.a.argc + args.a.envc] = 0;
	nwords = 1 + args.a.argc + 1 + args.a.envc + 1;
	{
		uintptr_t aux[][2] = {
		    {AT_PHDR, (uintptr_t)lx_setup.phdr},
		    {AT_PHENT, lx_setup.phent},
		    {AT_PHNUM, lx_setup.phnum},
		    {AT_PAGESZ, PAGE},
		    {AT_BASE, 0},
		    {AT_FLAGS, 0},
		    {AT_ENTRY, (uintptr_t)lx_setup.entry},
		    {AT_UID, 0},
		    {AT_EUID, 0},
		    {AT_GID, 0},
		    {AT_EGID, 0},
		    {AT_PLATFORM, platform},
		    /* The sandbox's CPUID (KVM_SET_CPUID2's), not the host's. */
		    {AT_HWCAP, hwcap},
		    {AT_CLKTCK, 100},
		    {AT_SECURE, 0},
		    {AT_RANDOM, random},
		    {AT_HWCAP2, 0},
		    {AT_EXECFN, execfn},
		    {AT_NULL, 0},
		};
		unsigned skip = lx_setup.phdr ? 0 : 3; /* AT_PHDR..AT_PHNUM together or none */

		for (unsigned i = skip; i < sizeof(aux) / sizeof(aux[0]); i++) {
			w[nwords++] = aux[i][0];
			w[nwords++] = aux[i][1];
		}
	}
	sp -= nwords * sizeof(uintptr_t);
	sp &= ~(uintptr_t)15;
	if (lx_copy_to_user(sp, w, nwords * sizeof(uintptr_t)))
		lx_panic("linux personality: the stack does not fit");

	f = (struct lx_frame *)(lx_kstack_top - sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->ip = (uintptr_t)lx_setup.entry;
	f->cs = SEL_UCODE;
	f->flags = 0x202; /* IF: ring 3 takes the host's LX_SIGNAL_VECTOR */
	f->sp = sp;
	f->ss = SEL_UDATA;
#if !LX_AMD64
	f->ds = f->es = SEL_UDATA;
#endif
	lx_enter(f);
}

static void lx_main(void)
{
	long n = lx_hostcall(LX_HC_SETUP, NULL, 0, &lx_setup, sizeof(lx_setup));

	if (n != (long)sizeof(lx_setup) || lx_setup.version != 1 ||
	    lx_setup.nmaps > LX_MAX_SEGMENTS || lx_setup.ncopies > LX_MAX_SEGMENTS)
		lx_panic("linux personality: no program from the host (%ld)", n);
	lx_clock_sync();
	if ((uintptr_t)__data_end > LX_USER_MIN)
		lx_panic("linux personality: image overlaps the user range");
	lx_mmap_top = LX_USER_TOP - LX_STACK_SIZE - (1U << 20);
	load_program();
	if (lx_vma_insert(LX_USER_TOP - LX_STACK_SIZE, LX_USER_TOP, LX_PROT_READ | LX_PROT_WRITE,
			  VMA_STACK))
		lx_panic("linux personality: no stack");
	if (lx_setup.flags & LX_SETUP_SNAPSHOT_ENTRY)
		lx_take_snapshot();
	start_program();
}

/* ---- traps ---- */

void lx_trap(struct lx_frame *f)
{
	uintptr_t cr2 = 0, addr = f->ip;
	int sig, code;

	if (f->vector < 0) {
		lx_syscall(f);
		lx_signal_return(f);
		return;
	}
	if (f->vector == 14)
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	if ((f->cs & 3) != 3)
		lx_panic(
		    "linux personality: exception %d (error 0x%lx) in ring 0 at 0x%lx, address "
		    "0x%lx",
		    (int)f->vector, (unsigned long)f->error, (unsigned long)f->ip,
		    (unsigned long)cr2);
	if (f->vector == LX_SIGNAL_VECTOR) {
		lx_signal_interrupt(f);
		lx_signal_return(f);
		return;
	}
	if (f->vector == 14 && !(f->error & 1) &&
	    !lx_fault_in(cr2, (f->error >> 1) & 1, (f->error >> 4) & 1))
		return;
	switch (f->vector) {
	case 0:
		sig = SIGFPE, code = FPE_INTDIV;
		break;
	case 16:
	case 19:
		sig = SIGFPE, code = 0;
		break;
	case 6:
		sig = SIGILL, code = ILL_ILLOPN;
		break;
	case 1:
	case 3:
		sig = SIGTRAP, code = f->vector == 3 ? SI_KERNEL : TRAP_BRKPT;
		break;
	case 17:
		sig = SIGBUS, code = BUS_ADRALN;
		break;
	case 14:
		sig = SIGSEGV, code = f->error & 1 ? SEGV_ACCERR : SEGV_MAPERR;
		addr = cr2;
		break;
	default: /* #GP, #SS, #NP, ...: as Linux, no address */
		sig = SIGSEGV, code = SI_KERNEL;
		addr = 0;
	}
	lx_signal_fault(f, sig, code, addr);
	lx_signal_return(f);
}
