/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rt.h - the freestanding guest runtime's API, the same for the i686 and the
 * amd64 runtime: console and hypercalls (layout/abi.h), formatted output,
 * scratch pages, and the hooks a snapshotting guest builds on.
 *
 * Start-up: the arch's start.S calls rt_start(), which checks the boot info,
 * builds an IDT and the runtime's state in the first two pages of the free
 * scratch area, then calls the guest's main() and EXITs with its result.
 * All runtime state lives in scratch, never in .data/.bss: on amd64 those are
 * read-only until the #PF handler copies them, and the handler itself needs
 * the state. rt_state() finds it again from the IDTR, so no global is needed.
 */
#ifndef SNAPVM_GUEST_RT_H
#define SNAPVM_GUEST_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "layout/abi.h"
#include "layout/common.h"

#if defined(__x86_64__)
#include "layout/amd64.h"
#define RT_ARCH	  "amd64"
#define RT_LAYOUT SNAPVM_LAYOUT_AMD64
#elif defined(__i386__)
#include "layout/i686.h"
#define RT_ARCH	  "i686"
#define RT_LAYOUT SNAPVM_LAYOUT_I686
#else
#error "the guest runtime supports i686 and amd64 only"
#endif

#define RT_PAGE_SIZE ((uintptr_t)SNAPVM_GUEST_PAGE_SIZE)

/* The guest's own code: called once the runtime is up; its result is the
 * EXIT code. */
int main(void);

/* What start.S saw before any other code ran (for the entry-state guest). */
struct rt_entry_regs {
	uintptr_t sp;
	uintptr_t flags;
	struct __attribute__((packed)) {
		uint16_t limit;
		uintptr_t base;
	} idtr;
};

/* The runtime's state, in scratch, one page after the IDT. */
struct rt_state {
	struct snapvm_boot_info *boot_info;
	struct rt_entry_regs entry;
	uintptr_t alloc_next; /* next free scratch page (GVA) */
	uintptr_t alloc_end;
	uint64_t cow_copies; /* pages the #PF handler copied (amd64) */
	/* rt_probe(): where to resume when the probed access faults, and what
	 * the fault was (vector + 1, 0 when none). */
	uintptr_t probe_recover;
	uint32_t probe_fault;
	uintptr_t probe_error;
	uintptr_t probe_cr2;
};

struct rt_state *rt_state(void);

static inline struct snapvm_boot_info *rt_boot_info(void)
{
	return rt_state()->boot_info;
}

/* Hypercalls (layout/abi.h): number in EAX/RAX, arguments in EBX, ECX, ESI,
 * EDI (RBX, RCX, RSI, RDI), result in EAX/RAX. */
static inline long rt_hypercall(uintptr_t nr, uintptr_t a0, uintptr_t a1, uintptr_t a2,
				uintptr_t a3)
{
	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(nr)
			 : "d"((uint16_t)SNAPVM_PORT_HYPERCALL), "b"(a0), "c"(a1), "S"(a2), "D"(a3)
			 : "memory");
	return (long)nr;
}

static inline void rt_console_putc(char c)
{
	__asm__ volatile("outb %b0, %w1" : : "a"(c), "Nd"((uint16_t)SNAPVM_PORT_CONSOLE));
}

void rt_console_puts(const char *s);

/* WRITE: returns len, or -SNAPVM_EFAULT. */
static inline long rt_write(const void *buf, size_t len)
{
	return rt_hypercall(SNAPVM_HC_WRITE, (uintptr_t)buf, len, 0, 0);
}

__attribute__((noreturn)) void rt_exit(int code);
__attribute__((noreturn)) void rt_abort(int code, const char *msg);
__attribute__((noreturn, format(printf, 2, 3))) void rt_abortf(int code, const char *fmt, ...);

/*
 * SNAPSHOT: 0 when the snapshot was just taken, 1 when running again from a
 * restore of it. A snapshotting guest typically does
 *	rt_snapshot(); rt_call_loop(my_function);
 * so each restore + call runs one function from the snapshot's state.
 */
static inline long rt_snapshot(void)
{
	return rt_hypercall(SNAPVM_HC_SNAPSHOT, 0, 0, 0, 0);
}

/* CALL_WAIT: report the last call's result, wait for the next call; returns
 * the call the VMM placed in the boot info. */
const volatile struct snapvm_call *rt_call_wait(uint64_t result);

/* Serve calls forever: result = fn(function, arg), reported at the next
 * CALL_WAIT. */
__attribute__((noreturn)) void rt_call_loop(uint64_t (*fn)(uint64_t function, uint64_t arg));

/*
 * Buffer calls (snapvm_sandbox_call_buffer): serve them forever. fn gets the
 * call's function number, its input (in the boot info's I/O area) and room
 * for its output (the output area), and returns the output's length or a
 * negative error, which is what the host's call returns.
 */
typedef long (*rt_buffer_function)(uint64_t function, const void *in, size_t in_len, void *out,
				   size_t out_cap);
__attribute__((noreturn)) void rt_buffer_call_loop(rt_buffer_function fn);

/* HOST_CALL: the host function registered under `function` with in_len
 * bytes of input; returns the bytes it wrote to out (at most out_cap), or
 * -SNAPVM_ENOSYS, -SNAPVM_EFAULT, -SNAPVM_EINVAL or the host's -errno. */
long rt_host_call(uint32_t function, const void *in, size_t in_len, void *out, size_t out_cap);
/* A hypercall with a fifth argument (EBP/RBP), as HOST_CALL takes; nothing
 * touched beforehand. */
long rt_hypercall5(uintptr_t nr, uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3,
		   uintptr_t a4);

/* Formatted output: %s %c %d %i %u %x %X %p %%, flags '0' and '-', a width,
 * length modifiers l, ll, z. rt_printf sends the text with WRITE hypercalls
 * (one per 256 bytes) and returns the number of bytes, or a negative
 * hypercall result. */
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4))) int rt_snprintf(char *buf, size_t size, const char *fmt, ...);
__attribute__((format(printf, 1, 2))) long rt_printf(const char *fmt, ...);

/* Scratch pages from the free area (zeroed); aborts when it runs out. */
void *rt_alloc_page(void);
void *rt_alloc_page_nozero(void);
/* GPA of a scratch GVA. */
uint64_t rt_scratch_gpa(const void *gva);

/* FNV-1a, 64 bit: the checksum guests print and tests recompute. */
#define RT_FNV1A64_INIT 0xcbf29ce484222325ULL
uint64_t rt_fnv1a64(uint64_t hash, const void *data, size_t len);

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Linker-script symbols: the image's segments. */
extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __bss_start[], __data_end[];

#if defined(__x86_64__)
/*
 * amd64 page tables (the live copy in scratch, CR3). Walks and changes
 * guest-virtual mappings; all table pages are in scratch.
 */
/* A GVA range the VMM never maps (above AMD64_MAX_GPA, where the snapshot's
 * GVA = GPA mappings end, below the canonical hole): guests' own mappings. */
#define RT_AMD64_PRIVATE_GVA 0x0000400000000000ULL

/* The leaf PTE mapping gva (4 KiB pages only), or NULL. */
uint64_t *rt_amd64_pte(uint64_t gva);
/* Map one 4 KiB page: gva -> gpa with the given PTE bits (PRESENT added);
 * missing tables come from scratch. Returns 0, or -1 when gva is mapped. */
int rt_amd64_map_page(uint64_t gva, uint64_t gpa, uint64_t pte_bits);
void rt_amd64_unmap_page(uint64_t gva);

static inline void rt_invlpg(uintptr_t gva)
{
	__asm__ volatile("invlpg (%0)" : : "r"(gva) : "memory");
}

/*
 * Probe an access: returns 0 when it worked, else the exception's vector +
 * 1 (the error code and CR2 are in rt_state()->probe_error/_cr2). A write
 * probe writes back the byte it read; an exec probe calls addr, which must
 * hold a `ret` (0xc3) if it is executable.
 */
enum rt_probe_kind { RT_PROBE_READ, RT_PROBE_WRITE, RT_PROBE_EXEC };
int rt_probe(enum rt_probe_kind kind, uintptr_t addr);
#endif

static inline uintptr_t rt_read_cr0(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline uintptr_t rt_read_cr2(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uintptr_t rt_read_cr3(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline uintptr_t rt_read_cr4(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline uint64_t rt_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* RDMSR/WRMSR that survive a #GP (an MSR the vCPU does not offer): 0, or
 * the exception's vector + 1. */
int rt_rdmsr_safe(uint32_t msr, uint64_t *value);
int rt_wrmsr_safe(uint32_t msr, uint64_t value);

struct __attribute__((packed)) rt_descriptor_table {
	uint16_t limit;
	uintptr_t base;
};

static inline struct rt_descriptor_table rt_sgdt(void)
{
	struct rt_descriptor_table t;

	__asm__ volatile("sgdt %0" : "=m"(t));
	return t;
}

static inline struct rt_descriptor_table rt_sidt(void)
{
	struct rt_descriptor_table t;

	__asm__ volatile("sidt %0" : "=m"(t));
	return t;
}

#define RT_READ_SEGMENT(reg)                                                                       \
	({                                                                                         \
		uint16_t sel_;                                                                     \
		__asm__ volatile("mov %%" #reg ", %0" : "=r"(sel_));                               \
		sel_;                                                                              \
	})

#endif /* SNAPVM_GUEST_RT_H */
