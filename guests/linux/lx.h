/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * lx.h - the Linux personality's internal interface: a small ring-0 kernel
 * that runs one static Linux program in ring 3 (see docs/linux.md).
 * kernel.c: boot, the program's start, traps; lib.c: freestanding helpers,
 * host calls, formatted output; mm.c (mm.h): frames, page tables, the
 * program's address space; io.c: output and input;
 * syscalls.c (sys.h): the system-call table and the dispatcher; files.c,
 * process.c: the calls; signal.c: signals, their frames and sigreturn.
 */
#ifndef SNAPVM_GUESTS_LINUX_LX_H
#define SNAPVM_GUESTS_LINUX_LX_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "layout/abi.h"
#include "layout/common.h"
#include "layout/linux.h"

/* Linux's signal numbers and si_code values that the traps (kernel.c) and
 * signal delivery (signal.c) both use. */
#define SIGILL	    4
#define SIGTRAP	    5
#define SIGBUS	    7
#define SIGFPE	    8
#define SIGKILL	    9
#define SIGSEGV	    11
#define SIGSTOP	    19
#define SI_KERNEL   0x80
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define ILL_ILLOPN  2
#define FPE_INTDIV  1
#define TRAP_BRKPT  1
#define BUS_ADRALN  1

#define PAGE ((uintptr_t)SNAPVM_GUEST_PAGE_SIZE)
/* Linux's TASK_SIZE_MAX on amd64 (4-level paging): where access_ok ends. */
#define LX_TASK_SIZE 0x7ffffffff000ULL

/* The registers of the interrupted ring-3 code (or ring 0 for a fault of
 * the personality itself), as the entry stubs push them. */
#if defined(__x86_64__)
#define LX_AMD64 1
struct lx_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	int64_t vector;
	uint64_t error;
	uint64_t ip, cs, flags, sp, ss;
};
#define LX_SYSCALL_NR(f) ((f)->rax)
#define LX_RET(f)	 ((f)->rax)
#define LX_USER_TOP	 LX_USER_TOP_AMD64
#else
#define LX_AMD64	 0
struct lx_frame {
	uint32_t gs, fs, es, ds;
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
	int32_t vector;
	uint32_t error;
	uint32_t ip, cs, flags, sp, ss;
};
#define LX_SYSCALL_NR(f) ((f)->eax)
#define LX_RET(f)	 ((f)->eax)
#define LX_USER_TOP	 LX_USER_TOP_I686
#endif

/* GDT selectors (both layouts put user data before user code, as SYSRET
 * wants on amd64); i686 keeps Linux's TLS slots 6..8. */
#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_UDATA   0x1b
#define SEL_UCODE   0x23
#define GDT_TSS	    5
#define GDT_TLS_MIN 6
#define GDT_TLS_MAX 8
#define GDT_ENTRIES 10

/* errno values (Linux's, on both architectures). */
#define EPERM	     1
#define ENOENT	     2
#define ESRCH	     3
#define EINTR	     4
#define EIO	     5
#define EBADF	     9
#define ECHILD	     10
#define EAGAIN	     11
#define ENOMEM	     12
#define EACCES	     13
#define EFAULT	     14
#define EEXIST	     17
#define ENODEV	     19
#define ENOTDIR	     20
#define EISDIR	     21
#define EINVAL	     22
#define EMFILE	     24
#define ENOTTY	     25
#define ESPIPE	     29
#define EROFS	     30
#define EPIPE	     32
#define ERANGE	     34
#define ENOSYS	     38
#define EOVERFLOW    75
#define ENAMETOOLONG 36

/* kernel.c, lib.c, mm.c, io.c */
extern const struct snapvm_boot_info *lx_bi;
extern struct lx_setup lx_setup;
extern uintptr_t lx_user_rsp, lx_kstack_top;
extern int lx_smap;

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

long lx_hypercall(uintptr_t nr, uintptr_t a0, uintptr_t a1);
long lx_take_snapshot(void);
/* Take the host's clocks and the TSC rate afresh (boot, every restore). */
void lx_clock_sync(void);
long lx_hostcall(uint32_t fn, const void *in, size_t in_len, void *out, size_t out_cap);
__attribute__((noreturn)) void lx_exit(int status);
__attribute__((noreturn, format(printf, 1, 2))) void lx_panic(const char *fmt, ...);
int lx_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4))) int lx_snprintf(char *buf, size_t size, const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void lx_eprintf(const char *fmt, ...);

/* User memory. lx_user_ok makes [addr, addr+len) present with the rights
 * asked (faulting pages in where a mapping allows it) or says no. */
int lx_user_ok(uintptr_t addr, size_t len, int write);
void lx_user_begin(void);
void lx_user_end(void);
long lx_copy_from_user(void *dst, uintptr_t src, size_t len);
long lx_copy_to_user(uintptr_t dst, const void *src, size_t len);
long lx_user_strlen(uintptr_t s, size_t max); /* -EFAULT, or length */
/* Linux's access_ok of a read or write buffer, which comes before any
 * length check: on amd64 the range must end below the 47-bit user limit;
 * an i386 program's always passes (a compat task has 4 GiB), and only the
 * copy can fault. */
static inline int lx_range_ok(uintptr_t addr, size_t len)
{
	return !LX_AMD64 || ((uint64_t)addr + len >= addr && (uint64_t)addr + len <= LX_TASK_SIZE);
}

long lx_brk(uintptr_t addr);
long lx_mmap(uintptr_t addr, size_t len, int prot, int flags, long fd, uint64_t off);
long lx_munmap(uintptr_t addr, size_t len);
long lx_mprotect(uintptr_t addr, size_t len, int prot);
long lx_mremap(uintptr_t old, size_t old_len, size_t new_len, int flags, uintptr_t new_addr);

/* Output to fds 1 and 2 goes through buffers, flushed when full, at a
 * newline on a terminal, before a read and at exit. */
long lx_output(int fd, uintptr_t buf, size_t len);
void lx_flush(void);
long lx_read_stdin(uintptr_t buf, size_t len);

void lx_set_tls_gdt(int entry, uint32_t lo, uint32_t hi);
uint64_t lx_gdt_entry(int entry);

/* syscalls.c */
void lx_syscall(struct lx_frame *f);

/* signal.c. lx_signal_fault: a fault's signal, to its handler or the end
 * (never returns then); lx_signal_return: before every way back to ring 3
 * (pending signals act); lx_signal_eintr: a call returned -EINTR (the host
 * interrupted it); lx_signal_interrupt: LX_SIGNAL_VECTOR; lx_signal_frame:
 * the frame of the call in progress; lx_signals_restored: after a restore. */
__attribute__((noreturn)) void lx_signal_exit(int sig, const struct lx_frame *f, uintptr_t addr);
void lx_signal_fault(struct lx_frame *f, int sig, int code, uintptr_t addr);
void lx_signal_return(struct lx_frame *f);
void lx_signal_eintr(struct lx_frame *f, uintptr_t nr, int is_sleep);
void lx_signal_interrupt(struct lx_frame *f);
void lx_signal_frame(struct lx_frame *f);
void lx_signals_restored(void);

#endif /* SNAPVM_GUESTS_LINUX_LX_H */
