/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * runtime.c - the arch-neutral part of the guest runtime: start-up, exit and
 * abort, the call loop, scratch pages, formatted output and the few string
 * functions the compiler may call. Never writes .data or .bss (see rt.h).
 */
#include "guests/lib/rt_arch.h"
#include "guests/include/rt.h"

struct rt_state *rt_state(void)
{
	/* The state page follows the IDT page (rt_start). */
	return (struct rt_state *)(rt_sidt().base + RT_PAGE_SIZE);
}

static uintptr_t align_up(uintptr_t x)
{
	return (x + RT_PAGE_SIZE - 1) & ~(RT_PAGE_SIZE - 1);
}

void rt_start(struct snapvm_boot_info *bi, const struct rt_entry_regs *entry)
{
	uintptr_t free_start, free_end;
	struct rt_state *state;
	void *idt;

	if (!bi)
		rt_abort(1, "runtime: no boot info (EBX/RDI is 0)");
	if (bi->magic != SNAPVM_BOOT_MAGIC || bi->version != SNAPVM_BOOT_VERSION)
		rt_abortf(
		    1, "runtime: boot info at %p: magic 0x%x version %u, expected 0x%x version %u",
		    (void *)bi, bi->magic, bi->version, SNAPVM_BOOT_MAGIC, SNAPVM_BOOT_VERSION);
	if (bi->layout != RT_LAYOUT)
		rt_abortf(1, "runtime: boot info says layout %u, this guest is %s (%u)", bi->layout,
			  RT_ARCH, RT_LAYOUT);

	free_start = align_up((uintptr_t)bi->scratch_free_gva);
	free_end = (uintptr_t)(bi->scratch_free_gva + bi->scratch_free_size) & ~(RT_PAGE_SIZE - 1);
	if (free_end < free_start || free_end - free_start < 2 * RT_PAGE_SIZE)
		rt_abortf(1, "runtime: free scratch 0x%llx+0x%llx holds no IDT and state page",
			  (unsigned long long)bi->scratch_free_gva,
			  (unsigned long long)bi->scratch_free_size);

	idt = (void *)free_start;
	state = (struct rt_state *)(free_start + RT_PAGE_SIZE);
	memset(idt, 0, RT_PAGE_SIZE);
	memset(state, 0, RT_PAGE_SIZE);
	rt_arch_fill_idt(idt);
	{
		struct rt_descriptor_table idtr = {
		    .limit = RT_ARCH_IDT_ENTRIES * RT_ARCH_IDT_ENTRY_SIZE - 1,
		    .base = free_start,
		};
		__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
	}
	state->boot_info = bi;
	state->entry = *entry;
	state->alloc_next = free_start + 2 * RT_PAGE_SIZE;
	state->alloc_end = free_end;

	rt_exit(main());
}

void rt_exit(int code)
{
	rt_hypercall(SNAPVM_HC_EXIT, (uintptr_t)code, 0, 0, 0);
	/* EXIT returned: the VMM is broken; HLT with IF=0 stops the vCPU. */
	for (;;)
		__asm__ volatile("hlt");
}

void rt_abort(int code, const char *msg)
{
	rt_hypercall(SNAPVM_HC_ABORT, (uintptr_t)code, (uintptr_t)msg, 0, 0);
	for (;;)
		__asm__ volatile("hlt");
}

void rt_abortf(int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	rt_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rt_abort(code, msg);
}

void rt_abort_frame(int code, const struct rt_frame *frame, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	rt_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rt_hypercall(SNAPVM_HC_ABORT, (uintptr_t)code, (uintptr_t)msg, (uintptr_t)frame, 0);
	for (;;)
		__asm__ volatile("hlt");
}

const volatile struct snapvm_call *rt_call_wait(uint64_t result)
{
	/* On i686 a 64-bit result does not fit one register: the ABI passes
	 * uintptr_t, so the call loop reports its low bits. */
	rt_hypercall(SNAPVM_HC_CALL_WAIT, (uintptr_t)result, 0, 0, 0);
	return &rt_boot_info()->call;
}

void rt_call_loop(uint64_t (*fn)(uint64_t function, uint64_t arg))
{
	uint64_t result = 0;

	for (;;) {
		const volatile struct snapvm_call *call = rt_call_wait(result);

		result = fn(call->function, call->arg);
	}
}

void rt_buffer_call_loop(rt_buffer_function fn)
{
	const struct snapvm_boot_info *bi = rt_boot_info();
	long result = 0;

	for (;;) {
		const volatile struct snapvm_call *call = rt_call_wait((uint64_t)result);
		uint64_t in_len = call->arg;

		if (in_len > bi->io_size)
			result = -SNAPVM_EINVAL;
		else
			result = fn(call->function, (const void *)(uintptr_t)bi->io_in_gva,
				    (size_t)in_len, (void *)(uintptr_t)bi->io_out_gva,
				    (size_t)bi->io_size);
	}
}

long rt_hypercall5(uintptr_t nr, uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3,
		   uintptr_t a4)
{
	uintptr_t args[5] = {a0, a1, a2, a3, a4};
	long result = (long)nr;

	/* The fifth argument in EBP/RBP, saved around the hypercall since the
	 * compiler may use it; all five are loaded from args, whose address
	 * sits in a register the loads do not overwrite before their last. */
#if defined(__x86_64__)
	register uintptr_t *argp __asm__("r8") = args;

	__asm__ volatile("push %%rbp\n\t"
			 "mov 32(%%r8), %%rbp\n\t"
			 "mov 0(%%r8), %%rbx\n\t"
			 "mov 8(%%r8), %%rcx\n\t"
			 "mov 16(%%r8), %%rsi\n\t"
			 "mov 24(%%r8), %%rdi\n\t"
			 "outl %%eax, %%dx\n\t"
			 "pop %%rbp"
			 : "+a"(result)
			 : "r"(argp), "d"((uint16_t)SNAPVM_PORT_HYPERCALL)
			 : "rbx", "rcx", "rsi", "rdi", "memory");
#else
	uintptr_t *argp = args;

	__asm__ volatile("push %%ebp\n\t"
			 "mov 16(%%esi), %%ebp\n\t"
			 "mov 0(%%esi), %%ebx\n\t"
			 "mov 4(%%esi), %%ecx\n\t"
			 "mov 12(%%esi), %%edi\n\t"
			 "mov 8(%%esi), %%esi\n\t"
			 "outl %%eax, %%dx\n\t"
			 "pop %%ebp"
			 : "+a"(result), "+S"(argp)
			 : "d"((uint16_t)SNAPVM_PORT_HYPERCALL)
			 : "ebx", "ecx", "edi", "memory");
#endif
	return result;
}

long rt_host_call(uint32_t function, const void *in, size_t in_len, void *out, size_t out_cap)
{
	uintptr_t end = (uintptr_t)out + out_cap;

	/* The VMM writes the output through the guest's own mappings: on
	 * amd64 a copy-on-write page must be copied first (a write does it). */
	for (uintptr_t p = (uintptr_t)out; out_cap && p < end;
	     p = (p & ~(RT_PAGE_SIZE - 1)) + RT_PAGE_SIZE) {
		volatile char *c = (volatile char *)p;

		*c = *c;
	}
	return rt_hypercall5(SNAPVM_HC_HOST_CALL, function, (uintptr_t)in, in_len, (uintptr_t)out,
			     out_cap);
}

void rt_console_puts(const char *s)
{
	while (*s)
		rt_console_putc(*s++);
}

void *rt_alloc_page_nozero(void)
{
	struct rt_state *s = rt_state();
	uintptr_t page = s->alloc_next;

	if (page >= s->alloc_end)
		rt_abortf(
		    1, "runtime: free scratch exhausted (%llu pages used)",
		    (unsigned long long)((page - ((uintptr_t)s + RT_PAGE_SIZE)) / RT_PAGE_SIZE));
	s->alloc_next = page + RT_PAGE_SIZE;
	return (void *)page;
}

void *rt_alloc_page(void)
{
	return memset(rt_alloc_page_nozero(), 0, RT_PAGE_SIZE);
}

uint64_t rt_scratch_gpa(const void *gva)
{
	const struct snapvm_boot_info *bi = rt_boot_info();

	return (uintptr_t)gva - bi->scratch_gva + bi->scratch_gpa;
}

uint64_t rt_fnv1a64(uint64_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* Formatting: a bounded sink, so one routine serves snprintf and printf. */
struct sink {
	char *buf;
	size_t size; /* capacity; the last byte is kept for the NUL */
	size_t len;  /* bytes stored */
	size_t total;
	long (*flush)(struct sink *sink);
	long error;
};

static void sink_putc(struct sink *s, char c)
{
	if (s->len + 1 >= s->size && s->flush) {
		long rc = s->flush(s);

		if (rc < 0 && !s->error)
			s->error = rc;
		s->len = 0;
	}
	if (s->len + 1 < s->size)
		s->buf[s->len++] = c;
	s->total++;
}

static void sink_pad(struct sink *s, char c, int n)
{
	while (n-- > 0)
		sink_putc(s, c);
}

static void sink_number(struct sink *s, unsigned long long v, unsigned base, int upper, int neg,
			int width, char pad, int left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, ndigits;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	ndigits = n;
	if (neg)
		width--;
	if (neg && pad == '0')
		sink_putc(s, '-');
	if (!left)
		sink_pad(s, pad, width - ndigits);
	if (neg && pad != '0')
		sink_putc(s, '-');
	while (n)
		sink_putc(s, tmp[--n]);
	if (left)
		sink_pad(s, ' ', width - ndigits);
}

static void sink_format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, left = 0, lng = 0;
		unsigned long long v;
		char pad = ' ';
		const char *str;

		if (*fmt != '%') {
			sink_putc(s, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				pad = '0';
			else if (*fmt == '-')
				left = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		for (;; fmt++) {
			if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z')
				lng = sizeof(size_t) == sizeof(long long) ? 2 : 1;
			else
				break;
		}
		if (left)
			pad = ' ';
		switch (*fmt) {
		case 'd':
		case 'i': {
			long long sv = lng >= 2 ? va_arg(ap, long long)
				       : lng	? va_arg(ap, long)
						: va_arg(ap, int);

			v = sv < 0 ? -(unsigned long long)sv : (unsigned long long)sv;
			sink_number(s, v, 10, 0, sv < 0, width, pad, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			v = lng >= 2 ? va_arg(ap, unsigned long long)
			    : lng    ? va_arg(ap, unsigned long)
				     : va_arg(ap, unsigned int);
			sink_number(s, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', 0, width, pad, left);
			break;
		case 'p':
			sink_putc(s, '0');
			sink_putc(s, 'x');
			sink_number(s, (uintptr_t)va_arg(ap, void *), 16, 0, 0, width, pad, left);
			break;
		case 'c':
			sink_putc(s, (char)va_arg(ap, int));
			break;
		case 's': {
			size_t n;

			str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			n = strlen(str);
			if (!left)
				sink_pad(s, ' ', width - (int)n);
			while (*str)
				sink_putc(s, *str++);
			if (left)
				sink_pad(s, ' ', width - (int)n);
			break;
		}
		case '%':
			sink_putc(s, '%');
			break;
		case '\0':
			return;
		default:
			sink_putc(s, '%');
			sink_putc(s, *fmt);
			break;
		}
	}
}

int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = {.buf = buf, .size = size};

	sink_format(&s, fmt, ap);
	if (size)
		buf[s.len] = '\0';
	return (int)s.total;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static long write_flush(struct sink *s)
{
	long rc = s->len ? rt_write(s->buf, s->len) : 0;

	return rc < 0 ? rc : 0;
}

long rt_printf(const char *fmt, ...)
{
	char buf[257]; /* 256 bytes per WRITE; the sink keeps one for a NUL */
	struct sink s = {.buf = buf, .size = sizeof(buf), .flush = write_flush};
	va_list ap;
	long rc;

	va_start(ap, fmt);
	sink_format(&s, fmt, ap);
	va_end(ap);
	rc = write_flush(&s);
	if (s.error)
		return s.error;
	return rc < 0 ? rc : (long)s.total;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d < s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

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

const char *rt_exception_name(uintptr_t vector)
{
	static const char *const names[32] = {
	    "#DE", "#DB", "NMI", "#BP", "#OF",	     "#BR", "#UD", "#NM", "#DF", "vector 9", "#TS",
	    "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM", "#VE",	     "#CP",
	};

	return vector < 32 && names[vector] ? names[vector] : "reserved vector";
}

/* The exception handler resumes a faulting instruction at 1: and records
 * the fault (rt_state()->probe_recover, as rt_probe does on amd64). */
#if defined(__x86_64__)
#define RT_SET_RECOVER "lea 1f(%%rip), %[tmp]\n\tmov %[tmp], %[rec]\n\t"
#else
#define RT_SET_RECOVER "lea 1f, %[tmp]\n\tmov %[tmp], %[rec]\n\t"
#endif

int rt_rdmsr_safe(uint32_t msr, uint64_t *value)
{
	struct rt_state *s = rt_state();
	uint32_t lo = 0, hi = 0;
	uintptr_t tmp;

	s->probe_fault = 0;
	__asm__ volatile(RT_SET_RECOVER "rdmsr\n\t"
					"1:"
			 : "+a"(lo), "+d"(hi), [tmp] "=&r"(tmp), [rec] "=m"(s->probe_recover)
			 : "c"(msr)
			 : "memory");
	s->probe_recover = 0;
	if (s->probe_fault)
		return (int)s->probe_fault;
	*value = ((uint64_t)hi << 32) | lo;
	return 0;
}

int rt_wrmsr_safe(uint32_t msr, uint64_t value)
{
	struct rt_state *s = rt_state();
	uintptr_t tmp;

	s->probe_fault = 0;
	__asm__ volatile(RT_SET_RECOVER "wrmsr\n\t"
					"1:"
			 : [tmp] "=&r"(tmp), [rec] "=m"(s->probe_recover)
			 : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
			 : "memory");
	s->probe_recover = 0;
	return (int)s->probe_fault;
}
