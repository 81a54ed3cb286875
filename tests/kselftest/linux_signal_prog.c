// SPDX-License-Identifier: GPL-2.0
/*
 * linux_signal_prog.c - a freestanding static Linux program (built -m64 and
 * -m32, -nostdlib, raw system calls) that linux_signal_test runs under the
 * Linux personality. argv[1] names a case; each prints what its handlers
 * saw (si_signo, si_addr, the frame's RIP/EIP) and exits 0 when all is as
 * on Linux. The sync cases read nothing; the async ones print "ready"
 * (flushed by a zero sleep) before they compute or block on stdin.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#define NR_read		  0
#define NR_write	  1
#define NR_rt_sigaction	  13
#define NR_rt_sigprocmask 14
#define NR_rt_sigreturn	  15
#define NR_nanosleep	  35
#define NR_getpid	  39
#define NR_kill		  62
#define NR_sigaltstack	  131
#define NR_exit_group	  231
#define REG_IP(uc)	  (*(uint64_t *)((char *)(uc) + 40 + 16 * 8))
#define REG_SP(uc)	  (*(uint64_t *)((char *)(uc) + 40 + 15 * 8))
#define REG_FLAGS(uc)	  (*(uint64_t *)((char *)(uc) + 40 + 17 * 8))
#define REG_CS(uc)	  (*(uint16_t *)((char *)(uc) + 40 + 18 * 8))
#define UC_SIGMASK(uc)	  (*(uint64_t *)((char *)(uc) + 296))
#else
#define NR_read		  3
#define NR_write	  4
#define NR_getpid	  20
#define NR_kill		  37
#define NR_sigreturn	  119
#define NR_rt_sigreturn	  173
#define NR_rt_sigaction	  174
#define NR_rt_sigprocmask 175
#define NR_nanosleep	  162
#define NR_sigaltstack	  186
#define NR_exit_group	  252
/* ucontext: flags, link, stack (12), then sigcontext (gs fs es ds edi esi
 * ebp esp ebx edx ecx eax trapno err eip cs eflags esp_at_signal ss ...) */
#define SC_IP(sc)	  (((uint32_t *)(sc))[14])
#define SC_CS(sc)	  (((uint32_t *)(sc))[15])
#define SC_FLAGS(sc)	  (((uint32_t *)(sc))[16])
#define REG_IP(uc)	  SC_IP((char *)(uc) + 20)
#define REG_CS(uc)	  SC_CS((char *)(uc) + 20)
#define REG_FLAGS(uc)	  SC_FLAGS((char *)(uc) + 20)
#define REG_SP(uc)	  (((uint32_t *)((char *)(uc) + 20))[7])
#define UC_SIGMASK(uc)	  (*(uint64_t *)((char *)(uc) + 108))
#endif

#define SIGHUP	     1
#define SIGILL	     4
#define SIGFPE	     8
#define SIGKILL	     9
#define SIGUSR1	     10
#define SIGSEGV	     11
#define SIGUSR2	     12
#define SIGTERM	     15
#define SIG_IGN	     1
#define SA_SIGINFO   0x4UL
#define SA_RESTORER  0x04000000UL
#define SA_ONSTACK   0x08000000UL
#define SA_RESTART   0x10000000UL
#define SA_NODEFER   0x40000000UL
#define SA_RESETHAND 0x80000000UL
#define BIT(s)	     (1ULL << ((s)-1))

/* What gcc may call even in a freestanding program. */
void *memset(void *d, int c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((char *)d)[i] = (char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((char *)d)[i] = ((const char *)s)[i];
	return d;
}

static long sys(long n, long a, long b, long c, long d)
{
	long r;
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
#else
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
#endif
	return r;
}

static size_t len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	sys(NR_write, 1, (long)s, (long)len(s), 0);
}

static void put_hex(unsigned long v)
{
	char b[19] = "0x";
	int n = 2;

	for (int sh = (int)sizeof(v) * 8 - 4; sh >= 0; sh -= 4)
		if ((v >> sh) || sh == 0 || n > 2)
			b[n++] = "0123456789abcdef"[(v >> sh) & 15];
	b[n] = 0;
	put(b);
}

static __attribute__((noreturn)) void quit(int code)
{
	for (;;)
		sys(NR_exit_group, code, 0, 0, 0);
}

static void check(int ok, const char *what)
{
	if (!ok) {
		put("FAIL ");
		put(what);
		put("\n");
		quit(1);
	}
}

/* A zero sleep: a host call, which flushes the output first. */
static void flush(void)
{
	long ts[2] = {0, 0};

	sys(NR_nanosleep, (long)ts, 0, 0, 0);
}

/* The restorers, as glibc has them. */
extern char restore_rt[], restore_old[];
#if defined(__x86_64__)
__asm__(".text\nrestore_rt:\n\tmov $15, %rax\n\tsyscall\n\thlt\n");
__asm__(".text\nrestore_old:\n\thlt\n");
#else
__asm__(".text\nrestore_rt:\n\tmov $173, %eax\n\tint $0x80\n\thlt\n");
__asm__(".text\nrestore_old:\n\tpop %eax\n\tmov $119, %eax\n\tint $0x80\n\thlt\n");
#endif

struct kact {
	unsigned long handler, flags, restorer;
	uint32_t mask[2]; /* 64 bits, 4-aligned on i386 as the kernel's */
};

static long action(int sig, void *handler, unsigned long flags, uint64_t mask)
{
	struct kact a = {(unsigned long)handler,
			 flags | SA_RESTORER,
			 (unsigned long)(flags & SA_SIGINFO ? restore_rt : restore_old),
			 {(uint32_t)mask, (uint32_t)(mask >> 32)}};

#if defined(__x86_64__)
	a.restorer = (unsigned long)restore_rt; /* amd64: rt frames only */
#endif
	return sys(NR_rt_sigaction, sig, (long)&a, 0, 8);
}

static uint64_t blocked(void)
{
	uint64_t m = 0;

	sys(NR_rt_sigprocmask, 0, 0, (long)&m, 8);
	return m;
}

struct siginfo {
	int signo, errno_, code;
#if defined(__x86_64__)
	int pad;
#endif
	void *addr;
};

/* The instructions that fault, each between two labels. */
extern char segv_at[], segv_end[], fpe_at[], fpe_end[], ill_at[], ill_end[], cli_at[], cli_end[],
    resume_at[], alt_end[], old_end[];
static volatile int hits, last_sig;
static volatile unsigned long last_addr, last_ip, last_cs, last_flags;
static volatile uint64_t mask_in_handler;
static void *volatile skip_to;

static void on_fault(int sig, struct siginfo *si, void *uc)
{
	hits++;
	last_sig = si->signo;
	last_addr = (unsigned long)si->addr;
	last_ip = REG_IP(uc);
	last_cs = REG_CS(uc);
	last_flags = REG_FLAGS(uc);
	mask_in_handler = blocked();
	check(sig == si->signo, "sig argument == si_signo");
	REG_IP(uc) = (unsigned long)skip_to;
}

static void faults(void)
{
	check(!action(SIGSEGV, on_fault, SA_SIGINFO, BIT(SIGUSR2)), "rt_sigaction SIGSEGV");
	check(!action(SIGFPE, on_fault, SA_SIGINFO, 0), "rt_sigaction SIGFPE");
	check(!action(SIGILL, on_fault, SA_SIGINFO, 0), "rt_sigaction SIGILL");

	skip_to = segv_end;
	__asm__ volatile("segv_at: movl $7, 0x10\nsegv_end:" ::: "memory");
	check(hits == 1 && last_sig == SIGSEGV, "SIGSEGV handled");
	check(last_addr == 0x10, "SIGSEGV si_addr");
	check(last_ip == (unsigned long)segv_at, "SIGSEGV frame IP");
	check((last_cs & 3) == 3, "SIGSEGV frame CS is ring 3");
	check(mask_in_handler == (BIT(SIGSEGV) | BIT(SIGUSR2)), "mask in the handler");
	check(blocked() == 0, "mask back after sigreturn");
	put("segv ok ");
	put_hex(last_addr);
	put("\n");

	skip_to = fpe_end;
	__asm__ volatile("xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\tmov $1, %%eax\n"
			 "fpe_at: divl %%ecx\nfpe_end:"
			 :
			 :
			 : "eax", "ecx", "edx", "memory");
	check(hits == 2 && last_sig == SIGFPE, "SIGFPE handled");
	check(last_ip == (unsigned long)fpe_at && last_addr == (unsigned long)fpe_at,
	      "SIGFPE frame IP and si_addr");
	put("fpe ok\n");

	skip_to = ill_end;
	__asm__ volatile("ill_at: ud2\nill_end:" ::: "memory");
	check(hits == 3 && last_sig == SIGILL, "SIGILL handled");
	check(last_ip == (unsigned long)ill_at, "SIGILL frame IP");
	put("ill ok\n");
}

/* The handler's frame edits that must never reach ring 0. */
static volatile int phase;

static void on_hostile(int sig, struct siginfo *si, void *uc)
{
	hits++;
	last_sig = sig;
	last_ip = REG_IP(uc);
	last_cs = REG_CS(uc);
	last_flags = REG_FLAGS(uc);
	last_addr = (unsigned long)si->addr;
	if (phase == 0) { /* the ud2: into the personality's code, ring 0 CS */
		REG_CS(uc) = 0x8;
		REG_IP(uc) = 0x100000;
		phase = 1;
	} else if (phase == 1) { /* where that went: back to safety, IOPL 3 + NT */
		REG_IP(uc) = (unsigned long)cli_at;
		REG_FLAGS(uc) |= 0x7000;
		phase = 2;
	} else { /* the cli with IOPL 0 */
		REG_IP(uc) = (unsigned long)cli_end;
		phase = 3;
	}
}

static void hostile(void)
{
	check(!action(SIGILL, on_hostile, SA_SIGINFO | SA_NODEFER, 0), "rt_sigaction SIGILL");
	check(!action(SIGSEGV, on_hostile, SA_SIGINFO | SA_NODEFER, 0), "rt_sigaction SIGSEGV");
	__asm__ volatile("ud2\ncli_at: cli\ncli_end:" ::: "memory");
	check(phase == 3 && hits == 3, "three handlers ran");
	/* The cli faulted: IOPL 0 and NT clear, IF set, in ring 3. */
	check(last_ip == (unsigned long)cli_at, "cli faulted");
	check((last_flags & 0x7000) == 0 && (last_flags & 0x200), "EFLAGS sanitised");
	check((last_cs & 3) == 3, "CS ring 3");
	put("hostile ok\n");
}

static void on_hostile_ip(int sig, struct siginfo *si, void *uc)
{
	hits++;
	if (hits == 1) {
		REG_CS(uc) = 0x8;
		REG_IP(uc) = 0x100000; /* the personality's text */
		return;
	}
	/* The jump into the personality faulted in ring 3, at that address. */
	last_ip = REG_IP(uc);
	last_cs = REG_CS(uc);
	last_addr = (unsigned long)si->addr;
	last_sig = sig;
	REG_IP(uc) = (unsigned long)resume_at;
}

static void hostile_ip(void)
{
	check(!action(SIGILL, on_hostile_ip, SA_SIGINFO, 0), "rt_sigaction SIGILL");
	check(!action(SIGSEGV, on_hostile_ip, SA_SIGINFO, 0), "rt_sigaction SIGSEGV");
	__asm__ volatile("ud2\nresume_at:" ::: "memory");
	check(hits == 2 && last_sig == SIGSEGV, "the ring-0 RIP faulted as SIGSEGV");
	check(last_ip == 0x100000 && last_addr == 0x100000 && (last_cs & 3) == 3,
	      "in ring 3 at 0x100000");
	put("hostile-ip ok\n");
}

/* A frame no ring 3 can return to: amd64, a non-canonical RIP; i386, a
 * ring-0 data selector in GS. Both end the program with SIGSEGV. */
static void on_unusable(int sig, struct siginfo *si, void *uc)
{
#if defined(__x86_64__)
	REG_IP(uc) = 0x8000000000001000ULL;
#else
	((uint32_t *)((char *)uc + 20))[0] = 0x13;
#endif
}

/* i386: a handler without SA_SIGINFO returns through sigreturn (119);
 * its sigcontext follows the signal number on the stack. */
#if !defined(__x86_64__)
static void on_old(int sig)
{
	uint32_t *sc = (uint32_t *)(&sig + 1);

	/* Past the argument, as far as the compiler knows: keep the stores. */
	__asm__("" : "+r"(sc));

	hits++;
	last_sig = sig;
	last_ip = SC_IP(sc);
	mask_in_handler = blocked();
	SC_IP(sc) = (uint32_t)old_end;
}
#endif

static void old_frame(void)
{
#if !defined(__x86_64__)
	check(!action(SIGILL, on_old, 0, BIT(SIGUSR1)), "rt_sigaction SIGILL");
	__asm__ volatile("ud2\nold_end:" ::: "memory");
	check(hits == 1 && last_sig == SIGILL, "old-style handler ran");
	check(mask_in_handler == (BIT(SIGILL) | BIT(SIGUSR1)), "old frame: mask");
	check(blocked() == 0, "old frame: mask back");
	put("old-frame ok\n");
#else
	put("old-frame n/a\n");
#endif
}

/* SA_ONSTACK on a sigaltstack; SA_RESETHAND: the second fault kills. */
static char alt[16384] __attribute__((aligned(16)));
static volatile unsigned long handler_sp;

static void on_alt(int sig, struct siginfo *si, void *uc)
{
	char here;

	handler_sp = (unsigned long)&here;
	hits++;
	REG_IP(uc) = (unsigned long)skip_to;
}

static void altstack(void)
{
	struct {
		void *sp;
		int flags;
		size_t size;
	} ss = {alt, 0, sizeof(alt)};

	check(!sys(NR_sigaltstack, (long)&ss, 0, 0, 0), "sigaltstack");
	check(!action(SIGSEGV, on_alt, SA_SIGINFO | SA_ONSTACK | SA_RESETHAND, 0),
	      "rt_sigaction SIGSEGV");
	skip_to = alt_end;
	__asm__ volatile("movl $7, 0x10\nalt_end:" ::: "memory");
	check(hits == 1, "SA_ONSTACK handler ran");
	check(handler_sp > (unsigned long)alt && handler_sp < (unsigned long)alt + sizeof(alt),
	      "handler on the alternate stack");
	put("altstack ok\n");
	flush();
	/* SA_RESETHAND: SIG_DFL now; this one ends the program (139). */
	__asm__ volatile("movl $7, 0x10\n" ::: "memory");
	put("FAIL resethand\n");
}

/* A fault in the handler of the same (blocked) signal ends the program. */
static void on_refault(int sig, struct siginfo *si, void *uc)
{
	put("in handler\n");
	flush();
	__asm__ volatile("movl $7, 0x20\n" ::: "memory");
}

/* The stack unusable for the frame: SIGSEGV ends it (force_sigsegv). */
static void on_never(int sig, struct siginfo *si, void *uc)
{
	put("FAIL handler ran on a bad stack\n");
}

/* kill of ourselves: the handler runs before kill returns. */
static void on_usr1(int sig, struct siginfo *si, void *uc)
{
	hits++;
	last_sig = si->signo;
	last_addr = (unsigned long)si->code;
}

/* The async cases. */
static volatile int got;

static void on_term(int sig, struct siginfo *si, void *uc)
{
	got = sig;
}

static void ready(void)
{
	put("ready\n");
	flush();
}

static long read_byte(char *c)
{
	return sys(NR_read, 0, (long)c, 1, 0);
}

static int eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void run(const char *mode)
{
	char c = 0;
	long n;

	if (eq(mode, "faults")) {
		faults();
	} else if (eq(mode, "hostile")) {
		hostile();
	} else if (eq(mode, "hostile-ip")) {
		hostile_ip();
	} else if (eq(mode, "unusable")) {
		action(SIGILL, on_unusable, SA_SIGINFO, 0);
		put("unusable\n");
		flush();
		__asm__ volatile("ud2" ::: "memory");
		put("FAIL an unusable frame came back\n");
	} else if (eq(mode, "old-frame")) {
		old_frame();
	} else if (eq(mode, "altstack")) {
		altstack();
	} else if (eq(mode, "refault")) {
		action(SIGSEGV, on_refault, SA_SIGINFO, 0);
		__asm__ volatile("movl $7, 0x10\n" ::: "memory");
		put("FAIL refault returned\n");
	} else if (eq(mode, "bad-stack")) {
		action(SIGSEGV, on_never, SA_SIGINFO, 0);
#if defined(__x86_64__)
		__asm__ volatile("mov $0x1000, %%rsp\n\tmovl $7, 0x10\n" ::: "memory");
#else
		__asm__ volatile("mov $0x1000, %%esp\n\tmovl $7, 0x10\n" ::: "memory");
#endif
	} else if (eq(mode, "raise")) {
		action(SIGUSR1, on_usr1, SA_SIGINFO, 0);
		sys(NR_kill, sys(NR_getpid, 0, 0, 0, 0), SIGUSR1, 0, 0);
		check(hits == 1 && last_sig == SIGUSR1 && last_addr == 0, "kill: handler ran");
		put("raise ok\n");
	} else if (eq(mode, "spin")) { /* SIGTERM while computing */
		action(SIGTERM, on_term, SA_SIGINFO, 0);
		ready();
		while (!got)
			__asm__ volatile("" ::: "memory");
		put("got TERM\n");
		quit(3);
	} else if (eq(mode, "spin-dfl")) {
		ready();
		for (;;)
			__asm__ volatile("" ::: "memory");
	} else if (eq(mode, "read-eintr")) { /* SIGTERM while blocked in read */
		action(SIGTERM, on_term, SA_SIGINFO, 0);
		ready();
		n = read_byte(&c);
		check(n == -4 && got == SIGTERM, "read gave EINTR after the handler");
		put("read EINTR\n");
		quit(3);
	} else if (eq(mode, "read-restart")) {
		action(SIGTERM, on_term, SA_SIGINFO | SA_RESTART, 0);
		ready();
		n = read_byte(&c);
		check(n == 1 && got == SIGTERM, "read restarted after the handler");
		put("restarted ");
		sys(NR_write, 1, (long)&c, 1, 0);
		put("\n");
	} else if (eq(mode, "read-dfl")) {
		ready();
		read_byte(&c);
		put("FAIL read returned\n");
	} else if (eq(mode, "ignore")) {
		action(SIGTERM, (void *)SIG_IGN, 0, 0);
		ready();
		n = read_byte(&c);
		check(n == 1, "read went on through an ignored SIGTERM");
		put("ignored\n");
	} else if (eq(mode, "blocked")) {
		uint64_t term = BIT(SIGTERM);

		action(SIGTERM, on_term, SA_SIGINFO, 0);
		sys(NR_rt_sigprocmask, 0, (long)&term, 0, 8);
		ready();
		n = read_byte(&c);
		check(n == 1 && !got, "blocked: read went on, no handler");
		put("pending\n");
		sys(NR_rt_sigprocmask, 1, (long)&term, 0, 8);
		check(got == SIGTERM, "the handler ran at the unblock");
		put("delivered at unblock\n");
	} else if (eq(mode, "kill-proof")) { /* handles and blocks all it can */
		uint64_t all = ~0ULL;

		for (int s = 1; s <= 64; s++)
			if (s != SIGKILL && s != 19)
				action(s, on_term, SA_SIGINFO, 0);
		sys(NR_rt_sigprocmask, 2, (long)&all, 0, 8);
		read_byte(&c);
		for (;;)
			__asm__ volatile("" ::: "memory");
	} else if (eq(mode, "request")) { /* a handler, then a read per request */
		action(SIGUSR1, on_term, SA_SIGINFO | SA_RESTART, 0);
		n = read_byte(&c);
		put(got ? "got signal\n" : "no signal\n");
		quit(n == 1 ? c - '0' : 9);
	} else {
		put("unknown case\n");
		quit(64);
	}
	quit(0);
}

void start_c(long *sp)
{
	char **argv = (char **)(sp + 1);

	run(sp[0] > 1 ? argv[1] : "");
}

#if defined(__x86_64__)
__asm__(
    ".text\n.globl _start\n_start:\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
#else
__asm__(".text\n.globl _start\n_start:\n\tmov %esp, %eax\n\tand $-16, %esp\n\tsub $12, %esp\n"
	"\tpush %eax\n\tcall start_c\n\thlt\n");
#endif
