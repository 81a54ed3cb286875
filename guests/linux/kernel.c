/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kernel.c - the Linux personality's kernel half: boot (its own GDT, TSS,
 * IDT and page tables), the page allocator, the program's address space
 * (mappings, brk, faults), the host calls, and the program's start.
 *
 * Memory: the personality's page frames are the free scratch area. Its own
 * image, scratch and page tables are supervisor-only; the program's pages
 * are user pages in [LX_USER_MIN, LX_USER_TOP). On amd64 the image's
 * .data/.bss sit in the read-only snapshot view, so lx_boot() copies them
 * into scratch frames before anything writes a global; on i686 the view is
 * writable and the personality writes its snapshot directly.
 */
#include "guests/linux/lx.h"

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[],
    __data_end[];
extern const uintptr_t lx_isr_table[32];
void lx_syscall_entry(void);
void lx_int80_entry(void);
__attribute__((noreturn)) void lx_enter(struct lx_frame *f);

#define PTE_P	  (1ULL << 0)
#define PTE_W	  (1ULL << 1)
#define PTE_U	  (1ULL << 2)
#define PTE_PS	  (1ULL << 7)
#define PTE_FRAME (1ULL << 9) /* software: a frame kept while not present */
#define PTE_NX	  (1ULL << 63)
#define PTE_ADDR  0x000ffffffffff000ULL

#if LX_AMD64
#define PT_LEVELS 4
#else
#define PT_LEVELS 3 /* PAE */
#endif

/* ---- state (amd64: valid only once lx_boot switched to its tables) ---- */

const struct snapvm_boot_info *lx_bi;
struct lx_setup lx_setup;
uintptr_t lx_user_rsp, lx_kstack_top;
int lx_smap;
static uint64_t nx_bit;

struct alloc {
	uintptr_t next, end; /* bump area (GVA in scratch) */
	uintptr_t free_list;
	uintptr_t scratch_gva;
	uint64_t scratch_gpa;
};
static struct alloc frames;
static uint64_t root_pa;
static uint64_t user_pages;

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

/* ---- freestanding helpers ---- */

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

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

static inline void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* HOST_CALL with out_cap in EBP/RBP: the compiler may not give us EBP, so
 * the asm saves it and loads the capacity from EAX. */
long lx_hostcall(uint32_t fn, const void *in, size_t in_len, void *out, size_t out_cap)
{
	uintptr_t a = out_cap;

#if LX_AMD64
	__asm__ volatile("push %%rbp\n\tmov %%rax, %%rbp\n\tmov %[nr], %%eax\n\t"
			 "outl %%eax, %%dx\n\tpop %%rbp"
			 : "+a"(a)
			 : [nr] "i"(SNAPVM_HC_HOST_CALL), "d"((uint16_t)SNAPVM_PORT_HYPERCALL),
			   "b"((uintptr_t)fn), "c"(in), "S"(in_len), "D"(out)
			 : "memory");
#else
	__asm__ volatile("push %%ebp\n\tmov %%eax, %%ebp\n\tmov %[nr], %%eax\n\t"
			 "outl %%eax, %%dx\n\tpop %%ebp"
			 : "+a"(a)
			 : [nr] "i"(SNAPVM_HC_HOST_CALL), "d"((uint16_t)SNAPVM_PORT_HYPERCALL),
			   "b"((uintptr_t)fn), "c"(in), "S"(in_len), "D"(out)
			 : "memory");
#endif
	return (long)a;
}

static long hypercall(uintptr_t nr, uintptr_t a0, uintptr_t a1)
{
	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(nr)
			 : "d"((uint16_t)SNAPVM_PORT_HYPERCALL), "b"(a0), "c"(a1), "S"(0), "D"(0)
			 : "memory");
	return (long)nr;
}

void lx_exit(int status)
{
	lx_flush();
	lx_hostcall(LX_HC_FILES_RESET, NULL, 0, NULL, 0);
	for (;;)
		hypercall(SNAPVM_HC_EXIT, (unsigned)status & 0xff, 0);
}

/* ---- formatted output ---- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, int width, char pad,
		    int neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int lx_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';
		unsigned long long v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		while (*fmt == 'l' || *fmt == 'z') {
			lng += *fmt == 'z' ? 1 : 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
			if (lng >= 2)
				v = (unsigned long long)va_arg(ap, long long);
			else if (lng)
				v = (unsigned long long)(long long)va_arg(ap, long);
			else
				v = (unsigned long long)(long long)va_arg(ap, int);
			if ((long long)v < 0)
				put_num(&o, -(unsigned long long)v, 10, width, pad, 1);
			else
				put_num(&o, v, 10, width, pad, 0);
			break;
		case 'u':
		case 'x':
			if (lng >= 2)
				v = va_arg(ap, unsigned long long);
			else if (lng)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned);
			put_num(&o, v, *fmt == 'x' ? 16 : 10, width, pad, 0);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, width, pad, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (*s)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		default:
			put(&o, *fmt);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int lx_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = lx_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void lx_eprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = lx_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	lx_flush();
	lx_hostcall(LX_HC_STDERR, buf, (size_t)n, NULL, 0);
}

void lx_panic(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	lx_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (;;)
		hypercall(SNAPVM_HC_ABORT, 1, (uintptr_t)buf);
}

/* ---- frames and page tables ---- */

static uint64_t frame_pa(const struct alloc *a, uintptr_t gva)
{
	return gva - a->scratch_gva + a->scratch_gpa;
}

static uint64_t *frame_va(const struct alloc *a, uint64_t pa)
{
	return (uint64_t *)(uintptr_t)(pa - a->scratch_gpa + a->scratch_gva);
}

/* A zeroed frame (kernel GVA), or 0. */
static uintptr_t alloc_frame(struct alloc *a)
{
	uintptr_t p = a->free_list;

	if (p) {
		a->free_list = *(uintptr_t *)p;
		memset((void *)p, 0, PAGE);
		return p;
	}
	if (a->next >= a->end)
		return 0;
	p = a->next;
	a->next += PAGE;
	return p;
}

static void free_frame(struct alloc *a, uintptr_t p)
{
	*(uintptr_t *)p = a->free_list;
	a->free_list = p;
}

static unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

/* The leaf entry for va (creating tables when create), or NULL. */
static uint64_t *walk(struct alloc *a, uint64_t root, uint64_t va, int create)
{
	uint64_t *table = frame_va(a, root);

	for (int level = PT_LEVELS; level > 1; level--) {
		uint64_t *e = &table[pt_index(va, level)];

		if (!(*e & PTE_P)) {
			uintptr_t t;

			if (!create || !(t = alloc_frame(a)))
				return NULL;
			/* PAE's PDPTEs take no rights bits. */
			*e = frame_pa(a, t) | PTE_P |
			     (!LX_AMD64 && level == PT_LEVELS ? 0 : PTE_W | PTE_U);
		} else if (*e & PTE_PS) {
			return NULL;
		}
		table = frame_va(a, *e & PTE_ADDR);
	}
	return &table[pt_index(va, 1)];
}

static int map_page(struct alloc *a, uint64_t root, uint64_t va, uint64_t pte)
{
	uint64_t *e = walk(a, root, va, 1);

	if (!e)
		return -1;
	*e = pte;
	return 0;
}

/* Kernel mappings: [va, va + len) to pa, 2 MiB pages where both align. */
static int map_kernel(struct alloc *a, uint64_t root, uint64_t va, uint64_t pa, uint64_t len,
		      uint64_t rights)
{
	while (len) {
		if (!(va & 0x1fffff) && !(pa & 0x1fffff) && len >= 0x200000) {
			uint64_t *table = frame_va(a, root), *e = NULL;

			for (int level = PT_LEVELS; level > 2; level--) {
				e = &table[pt_index(va, level)];
				if (!(*e & PTE_P)) {
					uintptr_t t = alloc_frame(a);

					if (!t)
						return -1;
					*e = frame_pa(a, t) | PTE_P |
					     (!LX_AMD64 && level == PT_LEVELS ? 0 : PTE_W | PTE_U);
				}
				table = frame_va(a, *e & PTE_ADDR);
			}
			table[pt_index(va, 2)] = pa | rights | PTE_PS;
			va += 0x200000;
			pa += 0x200000;
			len -= 0x200000;
			continue;
		}
		if (map_page(a, root, va, pa | rights))
			return -1;
		va += PAGE;
		pa += PAGE;
		len -= PAGE;
	}
	return 0;
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
static long take_snapshot(void)
{
	long r = hypercall(SNAPVM_HC_SNAPSHOT, 0, 0);

	gdt[GDT_TSS] &= ~(1ULL << 41);
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS * 8));
	/* Restored: host files of an earlier run are not ours (their handles
	 * in the restored fd table now give EBADF). */
	if (r == 1)
		lx_hostcall(LX_HC_FILES_RESET, NULL, 0, NULL, 0);
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
	root_va = alloc_frame(&a);
	if (!root_va)
		lx_panic("linux personality: no scratch for page tables");
	root = frame_pa(&a, root_va);
	/* Image: text R+X, rodata R, data R+W (amd64: a scratch copy). */
	if (map_kernel(&a, root, (uintptr_t)__text_start, (uintptr_t)__text_start,
		       (uintptr_t)__text_end - (uintptr_t)__text_start, PTE_P) ||
	    map_kernel(&a, root, (uintptr_t)__rodata_start, (uintptr_t)__rodata_start,
		       (uintptr_t)__rodata_end - (uintptr_t)__rodata_start, PTE_P | nx))
		lx_panic("linux personality: out of scratch mapping its image");
	for (p = (uintptr_t)__data_start; p < (uintptr_t)__data_end; p += PAGE) {
#if LX_AMD64
		uintptr_t copy = alloc_frame(&a);

		if (!copy || map_page(&a, root, p, frame_pa(&a, copy) | PTE_P | PTE_W | nx))
			lx_panic("linux personality: out of scratch copying its data");
		memcpy((void *)copy, (void *)p, PAGE);
#else
		if (map_page(&a, root, p, p | PTE_P | PTE_W | nx))
			lx_panic("linux personality: out of scratch mapping its data");
#endif
	}
	if (map_kernel(&a, root, bi->scratch_gva, bi->scratch_gpa, bi->scratch_size,
		       PTE_P | PTE_W | nx))
		lx_panic("linux personality: out of scratch mapping scratch");
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
	frames = a;
	root_pa = root;
	nx_bit = nx;
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

/* ---- the program's address space ---- */

#define MAX_VMAS 512
enum { VMA_MAP, VMA_BRK, VMA_STACK };
struct vma {
	uintptr_t start, end;
	uint32_t prot, kind;
};
static struct vma vmas[MAX_VMAS];
static int nvmas;
static uintptr_t brk_start, brk_cur, mmap_top;

/* Pages of accessible mappings (the commit charge, as Linux's
 * overcommit_memory=2 counts it): mmap, brk, mprotect and mremap fail with
 * ENOMEM past --max-memory, so a page fault never runs out. */
static uint64_t charged;

static int charge(uint64_t pages)
{
	if (pages > lx_setup.max_pages || charged > lx_setup.max_pages - pages)
		return -ENOMEM;
	charged += pages;
	return 0;
}

static int vma_find(uintptr_t addr)
{
	for (int i = 0; i < nvmas; i++)
		if (addr >= vmas[i].start && addr < vmas[i].end)
			return i;
	return -1;
}

/* Split the mapping around addr so that a mapping starts there. */
static int vma_split(uintptr_t addr)
{
	int i = vma_find(addr);

	if (i < 0 || vmas[i].start == addr)
		return 0;
	if (nvmas == MAX_VMAS)
		return -ENOMEM;
	for (int j = nvmas; j > i + 1; j--)
		vmas[j] = vmas[j - 1];
	nvmas++;
	vmas[i + 1] = vmas[i];
	vmas[i].end = addr;
	vmas[i + 1].start = addr;
	return 0;
}

static uint64_t pte_rights(uint32_t prot)
{
	if (!prot)
		return 0;
	return PTE_P | PTE_U | (prot & LX_PROT_WRITE ? PTE_W : 0) |
	       (prot & LX_PROT_EXEC ? 0 : nx_bit);
}

static void unmap_pages(uintptr_t start, uintptr_t end)
{
	for (uintptr_t va = start; va < end; va += PAGE) {
		uint64_t *e = walk(&frames, root_pa, va, 0);

		if (!e || !(*e & (PTE_P | PTE_FRAME)))
			continue;
		free_frame(&frames, (uintptr_t)frame_va(&frames, *e & PTE_ADDR));
		*e = 0;
		invlpg(va);
		user_pages--;
	}
}

static int vma_remove(uintptr_t start, uintptr_t end)
{
	int i, ret = vma_split(start);

	if (!ret)
		ret = vma_split(end);
	if (ret)
		return ret;
	for (i = 0; i < nvmas;) {
		if (vmas[i].start >= start && vmas[i].end <= end) {
			unmap_pages(vmas[i].start, vmas[i].end);
			if (vmas[i].prot)
				charged -= (vmas[i].end - vmas[i].start) / PAGE;
			for (int j = i; j < nvmas - 1; j++)
				vmas[j] = vmas[j + 1];
			nvmas--;
		} else {
			i++;
		}
	}
	return 0;
}

static int range_free(uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < nvmas; i++)
		if (vmas[i].start < end && start < vmas[i].end)
			return 0;
	return 1;
}

/* Insert a mapping over a free range, merging with a like neighbour. */
static int vma_insert(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t kind)
{
	int i = 0;

	if (prot && charge((end - start) / PAGE))
		return -ENOMEM;
	while (i < nvmas && vmas[i].start < start)
		i++;
	if (i > 0 && vmas[i - 1].end == start && vmas[i - 1].prot == prot &&
	    vmas[i - 1].kind == kind) {
		vmas[i - 1].end = end;
		return 0;
	}
	if (nvmas == MAX_VMAS) {
		if (prot)
			charged -= (end - start) / PAGE;
		return -ENOMEM;
	}
	for (int j = nvmas; j > i; j--)
		vmas[j] = vmas[j - 1];
	nvmas++;
	vmas[i] = (struct vma){start, end, prot, kind};
	return 0;
}

/* Bring the page at va in, as its mapping allows for the access. */
static int fault_in(uintptr_t va, int write, int exec)
{
	int i = vma_find(va);
	uint64_t *e;
	uintptr_t f;

	if (i < 0)
		return -EFAULT;
	if (!vmas[i].prot || (write && !(vmas[i].prot & LX_PROT_WRITE)) ||
	    (exec && !(vmas[i].prot & LX_PROT_EXEC)))
		return -EFAULT;
	e = walk(&frames, root_pa, va, 1);
	if (!e)
		return -ENOMEM;
	if (*e & PTE_P)
		return 0;
	if (user_pages >= lx_setup.max_pages)
		return -ENOMEM;
	f = alloc_frame(&frames);
	if (!f)
		return -ENOMEM;
	user_pages++;
	*e = frame_pa(&frames, f) | pte_rights(vmas[i].prot);
	return 0;
}

int lx_user_ok(uintptr_t addr, size_t len, int write)
{
	uintptr_t end = addr + len, va;

	if (!len)
		return 1;
	if (end < addr || addr < LX_USER_MIN || end > LX_USER_TOP)
		return 0;
	for (va = addr & ~(PAGE - 1); va < end; va += PAGE) {
		uint64_t *e = walk(&frames, root_pa, va, 0);

		if (e && (*e & PTE_P) && (!write || (*e & PTE_W)))
			continue;
		if (fault_in(va, write, 0))
			return 0;
	}
	return 1;
}

void lx_user_begin(void)
{
	if (lx_smap)
		__asm__ volatile("stac" ::: "memory");
}

void lx_user_end(void)
{
	if (lx_smap)
		__asm__ volatile("clac" ::: "memory");
}

long lx_copy_from_user(void *dst, uintptr_t src, size_t len)
{
	if (!lx_user_ok(src, len, 0))
		return -EFAULT;
	lx_user_begin();
	memcpy(dst, (const void *)src, len);
	lx_user_end();
	return 0;
}

long lx_copy_to_user(uintptr_t dst, const void *src, size_t len)
{
	if (!lx_user_ok(dst, len, 1))
		return -EFAULT;
	lx_user_begin();
	memcpy((void *)dst, src, len);
	lx_user_end();
	return 0;
}

long lx_user_strlen(uintptr_t s, size_t max)
{
	for (size_t n = 0; n < max; n++) {
		char c;

		if (lx_copy_from_user(&c, s + n, 1))
			return -EFAULT;
		if (!c)
			return (long)n;
	}
	return -ENAMETOOLONG;
}

static uintptr_t find_free(size_t len)
{
	uintptr_t top = mmap_top;

	/* Top down, below the lowest mapping under top that overlaps. */
	for (;;) {
		uintptr_t start = top - len, lowest = top;

		if (len > top || start < LX_USER_MIN)
			return 0;
		for (int i = 0; i < nvmas; i++)
			if (vmas[i].start < top && start < vmas[i].end && vmas[i].start < lowest)
				lowest = vmas[i].start;
		if (lowest == top)
			return start;
		top = lowest;
	}
}

#define MAP_SHARED	    0x01
#define MAP_PRIVATE	    0x02
#define MAP_FIXED	    0x10
#define MAP_ANONYMOUS	    0x20
#define MAP_FIXED_NOREPLACE 0x100000

long lx_mmap(uintptr_t addr, size_t len, int prot, int flags, long fd, uint64_t off)
{
	uintptr_t end;
	int ret;

	if (!len || (prot & ~7) || !(flags & (MAP_SHARED | MAP_PRIVATE)))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS))
		return fd < 0 ? -EBADF : -ENODEV;
	if (len > LX_USER_TOP)
		return -ENOMEM;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (addr & (PAGE - 1))
			return -EINVAL;
		end = addr + len;
		if (end < addr || addr < LX_USER_MIN || end > LX_USER_TOP)
			return -ENOMEM;
		if (!range_free(addr, end)) {
			if (!(flags & MAP_FIXED))
				return -EEXIST;
			ret = vma_remove(addr, end);
			if (ret)
				return ret;
		}
	} else {
		addr &= ~(PAGE - 1);
		end = addr + len;
		if (!addr || end < addr || addr < LX_USER_MIN || end > mmap_top ||
		    !range_free(addr, end))
			addr = find_free(len);
		if (!addr)
			return -ENOMEM;
		end = addr + len;
	}
	if ((end - addr) / PAGE > lx_setup.max_pages)
		return -ENOMEM;
	ret = vma_insert(addr, end, (uint32_t)prot, VMA_MAP);
	return ret ? ret : (long)addr;
}

long lx_munmap(uintptr_t addr, size_t len)
{
	uintptr_t end = addr + ((len + PAGE - 1) & ~(PAGE - 1));

	if ((addr & (PAGE - 1)) || !len || end < addr || addr < LX_USER_MIN || end > LX_USER_TOP)
		return -EINVAL;
	return vma_remove(addr, end);
}

long lx_mprotect(uintptr_t addr, size_t len, int prot)
{
	uintptr_t end = addr + ((len + PAGE - 1) & ~(PAGE - 1)), va;
	int ret;

	prot &= ~0x03000000; /* PROT_GROWSDOWN/UP */
	if ((addr & (PAGE - 1)) || (prot & ~7) || end < addr)
		return -EINVAL;
	if (!len)
		return 0;
	if (addr < LX_USER_MIN || end > LX_USER_TOP)
		return -ENOMEM;
	{
		uint64_t need = 0, give = 0;

		for (va = addr; va < end;) {
			int i = vma_find(va);
			uintptr_t stop;

			if (i < 0)
				return -ENOMEM;
			stop = vmas[i].end < end ? vmas[i].end : end;
			if (!vmas[i].prot && prot)
				need += (stop - va) / PAGE;
			if (vmas[i].prot && !prot)
				give += (stop - va) / PAGE;
			va = stop;
		}
		if (need > give && charge(need - give))
			return -ENOMEM;
		if (give > need)
			charged -= give - need;
	}
	ret = vma_split(addr);
	if (!ret)
		ret = vma_split(end);
	if (ret)
		return ret;
	for (int i = 0; i < nvmas; i++) {
		if (vmas[i].start < addr || vmas[i].end > end)
			continue;
		vmas[i].prot = (uint32_t)prot;
		for (va = vmas[i].start; va < vmas[i].end; va += PAGE) {
			uint64_t *e = walk(&frames, root_pa, va, 0);

			if (!e || !(*e & (PTE_P | PTE_FRAME)))
				continue;
			*e = (*e & PTE_ADDR) | (prot ? pte_rights((uint32_t)prot) : PTE_FRAME);
			invlpg(va);
		}
	}
	return 0;
}

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED   2

long lx_mremap(uintptr_t old, size_t old_len, size_t new_len, int flags, uintptr_t new_addr)
{
	uintptr_t old_end, new_end, dst;
	int i;

	old_len = (old_len + PAGE - 1) & ~(PAGE - 1);
	new_len = (new_len + PAGE - 1) & ~(PAGE - 1);
	if ((old & (PAGE - 1)) || !new_len || (flags & ~3) ||
	    ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)))
		return -EINVAL;
	if (flags & MREMAP_FIXED)
		return -EINVAL; /* not needed by the programs we run */
	old_end = old + old_len;
	i = vma_find(old);
	if (i < 0 || !old_len || old_end > vmas[i].end || new_len > LX_USER_TOP)
		return -EFAULT;
	if (new_len <= old_len) {
		if (new_len < old_len)
			vma_remove(old + new_len, old_end);
		return (long)old;
	}
	new_end = old + new_len;
	if (old_end == vmas[i].end && new_end > old && new_end <= mmap_top &&
	    range_free(old_end, new_end)) {
		if (vma_split(old))
			return -ENOMEM;
		i = vma_find(old);
		if (vmas[i].prot && charge((new_end - old_end) / PAGE))
			return -ENOMEM;
		vmas[i].end = new_end;
		return (long)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	dst = find_free(new_len);
	if (!dst || vma_insert(dst, dst + new_len, vmas[i].prot, VMA_MAP))
		return -ENOMEM;
	/* Move the frames over, then drop the old range (now empty). */
	for (uintptr_t off = 0; off < old_len; off += PAGE) {
		uint64_t *from = walk(&frames, root_pa, old + off, 0), *to;

		if (!from || !(*from & (PTE_P | PTE_FRAME)))
			continue;
		to = walk(&frames, root_pa, dst + off, 1);
		if (!to)
			return -ENOMEM;
		*to = *from;
		*from = 0;
		invlpg(old + off);
	}
	vma_remove(old, old_end);
	return (long)dst;
}

long lx_brk(uintptr_t addr)
{
	uintptr_t old_end = (brk_cur + PAGE - 1) & ~(PAGE - 1), new_end;

	if (!addr || addr < brk_start || addr > mmap_top)
		return (long)brk_cur;
	new_end = (addr + PAGE - 1) & ~(PAGE - 1);
	if (new_end > old_end) {
		if (!range_free(old_end, new_end) ||
		    vma_insert(old_end, new_end, LX_PROT_READ | LX_PROT_WRITE, VMA_BRK))
			return (long)brk_cur;
	} else if (new_end < old_end) {
		vma_remove(new_end, old_end);
	}
	brk_cur = addr;
	return (long)brk_cur;
}

/* ---- output and input ---- */

#define OUTBUF (64U << 10)
static struct {
	struct lx_io io;
	char data[OUTBUF];
} outbuf[2];
static size_t outlen[2];
static long outerr[2];

static int is_tty(int fd)
{
	return (lx_setup.flags >> (LX_SETUP_TTY_SHIFT + fd)) & 1;
}

static void flush_fd(int i)
{
	size_t done = 0;

	while (done < outlen[i]) {
		long n;

		outbuf[i].io.fd = i + 1;
		if (done)
			memcpy(outbuf[i].data, outbuf[i].data + done, outlen[i] - done);
		outlen[i] -= done;
		done = 0;
		/* 0: all of it written (a host call's result cannot exceed its
		 * output room, which is none here). */
		n = lx_hostcall(LX_HC_WRITE, &outbuf[i], sizeof(struct lx_io) + outlen[i], NULL, 0);
		if (n < 0) {
			outerr[i] = n;
			break;
		}
		done = outlen[i];
	}
	outlen[i] = 0;
}

void lx_flush(void)
{
	flush_fd(0);
	flush_fd(1);
}

long lx_output(int fd, uintptr_t buf, size_t len)
{
	int i = fd - 1;
	size_t done = 0;

	if (outerr[i]) {
		long e = outerr[i];

		outerr[i] = 0;
		return e;
	}
	if (!lx_user_ok(buf, len, 0))
		return -EFAULT;
	if (outlen[!i])
		flush_fd(!i);
	while (done < len) {
		size_t n = len - done;

		if (n > OUTBUF - outlen[i])
			n = OUTBUF - outlen[i];
		lx_user_begin();
		memcpy(outbuf[i].data + outlen[i], (const void *)(buf + done), n);
		lx_user_end();
		outlen[i] += n;
		done += n;
		if (outlen[i] == OUTBUF)
			flush_fd(i);
	}
	if (is_tty(fd))
		flush_fd(i);
	return (long)len;
}

long lx_read_stdin(uintptr_t buf, size_t len)
{
	struct lx_io io = {.fd = 0};
	long n;

	if (!len)
		return 0;
	if (len > SNAPVM_HOST_CALL_MAX)
		len = SNAPVM_HOST_CALL_MAX;
	if (!lx_user_ok(buf, len, 1))
		return -EFAULT;
	if (is_tty(0))
		lx_flush();
	for (;;) {
		n = lx_hostcall(LX_HC_READ, &io, sizeof(io), (void *)buf, len);
		if (n != LX_READ_SNAPSHOT)
			return n;
		/* --snapshot-at=first-read: the host takes the snapshot here;
		 * each restore of it reads again, from its own input. */
		lx_flush();
		take_snapshot();
	}
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

		if (m->start < LX_USER_MIN || m->end > mmap_top || m->start >= m->end ||
		    !range_free((uintptr_t)m->start, (uintptr_t)m->end) ||
		    vma_insert((uintptr_t)m->start, (uintptr_t)m->end, m->prot, VMA_MAP))
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
			int v = vma_find(va);
			uint32_t prot;

			if (v < 0)
				lx_panic("linux personality: copy outside the mappings");
			prot = vmas[v].prot;
			vmas[v].prot = LX_PROT_READ | LX_PROT_WRITE;
			if (fault_in(va, 1, 0))
				lx_panic("linux personality: no memory for the program");
			vmas[v].prot = prot;
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
	for (int i = 0; i < nvmas; i++)
		for (uintptr_t va = vmas[i].start; va < vmas[i].end; va += PAGE) {
			uint64_t *e = walk(&frames, root_pa, va, 0);

			if (e && (*e & PTE_P))
				*e = (*e & PTE_ADDR) | pte_rights(vmas[i].prot);
		}
	brk_start = brk_cur = (uintptr_t)s->brk_start;
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
	uintptr_t sp = LX_USER_TOP, random, platform, execfn, *w = stack_words;
	const char *str;
	size_t nwords, used;
	long n;

	n = lx_hostcall(LX_HC_ARGS, NULL, 0, &args, sizeof(args));
	if (n < (long)sizeof(struct lx_args) || args.a.strings_len > ARGS_MAX ||
	    args.a.argc + args.a.envc > ARGS_MAX / 2)
		lx_panic("linux personality: bad arguments from the host (%ld)", n);
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
		    {AT_HWCAP, (uintptr_t)lx_setup.hwcap},
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
	f->flags = 0x2;
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
	if ((uintptr_t)__data_end > LX_USER_MIN)
		lx_panic("linux personality: image overlaps the user range");
	mmap_top = LX_USER_TOP - LX_STACK_SIZE - (1U << 20);
	load_program();
	if (vma_insert(LX_USER_TOP - LX_STACK_SIZE, LX_USER_TOP, LX_PROT_READ | LX_PROT_WRITE,
		       VMA_STACK))
		lx_panic("linux personality: no stack");
	if (lx_setup.flags & LX_SETUP_SNAPSHOT_ENTRY)
		take_snapshot();
	start_program();
}

/* ---- traps ---- */

#define SIGILL	4
#define SIGTRAP 5
#define SIGBUS	7
#define SIGFPE	8
#define SIGSEGV 11

void lx_trap(struct lx_frame *f)
{
	uintptr_t cr2 = 0;
	int sig;

	if (f->vector < 0) {
		lx_syscall(f);
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
	if (f->vector == 14 && !(f->error & 1) &&
	    !fault_in(cr2, (f->error >> 1) & 1, (f->error >> 4) & 1))
		return;
	switch (f->vector) {
	case 0:
	case 16:
	case 19:
		sig = SIGFPE;
		break;
	case 6:
		sig = SIGILL;
		break;
	case 1:
	case 3:
		sig = SIGTRAP;
		break;
	case 17:
		sig = SIGBUS;
		break;
	default:
		sig = SIGSEGV;
	}
	if (lx_deliver_signal(f, sig, f->vector == 14 ? cr2 : f->ip))
		return;
	lx_signal_exit(sig, f, f->vector == 14 ? cr2 : 0);
}
