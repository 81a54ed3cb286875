// SPDX-License-Identifier: GPL-2.0
/*
 * linux_probe.c - a freestanding static Linux program (no libc, raw system
 * calls; the build makes linux_probe.i386 and linux_probe.amd64) that
 * linux_probe_test.c runs under the Linux personality and natively:
 *   fuzz SEED N   N system calls with random numbers (0..~460 and out of
 *                 range) and random arguments; each result must be a
 *                 success or -errno in 1..4095. Prints a summary, exit 0.
 *   fuzz-stdin N  the same, with SEED read from stdin (a first-read
 *                 snapshot of it serves one seed per request).
 *   garbage       targeted bad arguments: one "call=result" line each, to
 *                 compare with Linux's own answers.
 *   hwcap         AT_HWCAP of the auxv against CPUID.1:EDX run here.
 *   open-stdin    opens the path read from stdin twice, prints both fds
 *                 and exits without closing them.
 */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "../../guests/linux/syscalls.h"

#ifdef __x86_64__
#define LONG_BITS 64
static long sc(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
__asm__(".globl _start\n_start:\n\txor %ebp, %ebp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n"
	"\tcall cmain\n\thlt\n");
#else
#define LONG_BITS 32
/* %ebp is the sixth argument: saved around int $0x80 by hand. */
static long sc(long n, long a, long b, long c, long d, long e, long f)
{
	long nf[2] = {n, f};
	long ret;

	__asm__ volatile("push %%ebp\n\tmov 4(%%eax), %%ebp\n\tmov (%%eax), %%eax\n\t"
			 "int $0x80\n\tpop %%ebp"
			 : "=a"(ret)
			 : "a"(nf), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}
__asm__(".globl _start\n_start:\n\txor %ebp, %ebp\n\tmov %esp, %eax\n\tand $-16, %esp\n"
	"\tsub $12, %esp\n\tpush %eax\n\tcall cmain\n\thlt\n");
#endif

#define sc0(n)		   sc(n, 0, 0, 0, 0, 0, 0)
#define sc1(n, a)	   sc(n, (long)(a), 0, 0, 0, 0, 0)
#define sc2(n, a, b)	   sc(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sc3(n, a, b, c)	   sc(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sc4(n, a, b, c, d) sc(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define IS_ERR(r)	   ((unsigned long)(r) >= (unsigned long)-4095)
#define AT_FDCWD	   (-100)
#define PROT_READ	   1
#define PROT_WRITE	   2
#define MAP_PRIVATE	   2
#define MAP_FIXED	   0x10
#define MAP_ANONYMOUS	   0x20
#define AT_HWCAP	   16
#define KERNEL_PTR	   ((long)(LONG_BITS == 64 ? 0xffff800000001000UL : 0xc0001000UL))
/* Where the personality's image sits (0x100000, below the user range). */
#define PERSONALITY_PTR 0x100000L

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Output, buffered: one write at the end of each line. */
static char line[256];
static size_t line_len;

static void put(const char *s)
{
	while (*s && line_len < sizeof(line))
		line[line_len++] = *s++;
}

static void put_num(long v)
{
	char b[24];
	int i = sizeof(b);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	b[--i] = 0;
	do
		b[--i] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		b[--i] = '-';
	put(b + i);
}

static void put_hex(unsigned long v)
{
	static const char digits[] = "0123456789abcdef";
	char b[20];
	int i = sizeof(b);

	b[--i] = 0;
	do
		b[--i] = digits[v & 15];
	while (v >>= 4);
	put(b + i);
}

static void flush(void)
{
	sc3(__NR_write, 1, line, line_len);
	line_len = 0;
}

static long parse(const char *s)
{
	long v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

/* ---- fuzz ---- */

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* What the fuzzer may not call: calls that end or stop it, signal it,
 * or block (sleep, wait, pause). */
static int skipped(long nr)
{
	static const long never[] = {
	    __NR_exit,
	    __NR_exit_group,
	    __NR_rt_sigreturn,
	    __NR_kill,
	    __NR_tkill,
	    __NR_tgkill,
	    __NR_pause,
	    __NR_nanosleep,
	    __NR_clock_nanosleep,
	    __NR_rt_sigsuspend,
	    __NR_rt_sigtimedwait,
	    __NR_ppoll,
	    __NR_poll,
	    __NR_select,
	    __NR_pselect6,
	    __NR_futex,
	    __NR_wait4,
	    __NR_waitid,
	    __NR_epoll_wait,
	    __NR_epoll_pwait,
	    __NR_vfork,
	    __NR_fork,
	    __NR_clone,
	    __NR_execve,
	    __NR_execveat,
#ifdef __i386__
	    __NR_sigreturn,
	    __NR_sigsuspend,
	    __NR__newselect,
	    __NR_clock_nanosleep_time64,
	    __NR_futex_time64,
	    __NR_ppoll_time64,
	    __NR_pselect6_time64,
	    __NR_waitpid,
	    __NR_rt_sigtimedwait_time64,
#endif
	};

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (never[i] == nr)
			return 1;
	return 0;
}

/* Calls whose arguments could unmap, protect or overwrite the fuzzer's own
 * image and stack (Linux would let them): their addresses go to a pool. */
static int memory_call(long nr)
{
	return nr == __NR_munmap || nr == __NR_mprotect || nr == __NR_mremap ||
	       nr == __NR_madvise || nr == __NR_brk || nr == __NR_remap_file_pages ||
#ifdef __i386__
	       nr == __NR_mmap2 || nr == __NR_mmap
#else
	       nr == __NR_mmap || nr == __NR_arch_prctl
#endif
	    ;
}

/* Calls whose success may be any value: addresses, old ids and masks,
 * seconds left, clock ticks. */
static int any_value(long nr)
{
	return memory_call(nr) || nr == __NR_alarm || nr == __NR_times || nr == __NR_getuid ||
	       nr == __NR_geteuid || nr == __NR_getgid || nr == __NR_getegid ||
	       nr == __NR_personality || nr == __NR_setfsuid || nr == __NR_setfsgid ||
#ifdef __i386__
	       nr == __NR_sgetmask || nr == __NR_ssetmask || nr == __NR_setfsuid32 ||
	       nr == __NR_setfsgid32 || nr == __NR_time || nr == __NR_getuid32 ||
	       nr == __NR_geteuid32 || nr == __NR_getgid32 || nr == __NR_getegid32 ||
#endif
	       nr == __NR_shmat;
}

static unsigned char *pool; /* 64 KiB of our own, then a guard page */

static long random_arg(void)
{
	uint64_t r = next();

	switch (r % 12) {
	case 0:
		return 0;
	case 1:
		return KERNEL_PTR + (long)(next() % 0x100000);
	case 2:
		return PERSONALITY_PTR + (long)(next() % 0x10000);
	case 3: /* in the pool, unaligned */
		return (long)(pool + next() % 65536);
	case 4:
		return (long)pool;
	case 5: /* a huge length */
		return (long)(-1UL >> (next() % 4));
	case 6: /* negative fds and numbers */
		return -(long)(next() % 200);
	case 7:
		return (long)(next() % 8);
	case 8:
		return (long)(next() % 4096);
	case 9: /* a page in the user range */
		return (long)((next() % 0x40000) << 12);
	default:
		return (long)next();
	}
}

/* The numbers the personality answers, from its own table: half the
 * fuzzed calls, so that most reach a handler rather than ENOSYS. */
#ifdef __x86_64__
#define NR_OF(name, amd64, i386, fn, kinds) amd64,
#else
#define NR_OF(name, amd64, i386, fn, kinds) i386,
#endif
static const short answered[] = {LX_SYSCALLS(NR_OF)};

static long random_nr(void)
{
	uint64_t r = next() % 32;
	long nr;

	if (r == 0) /* out of range, some far */
		return next() & 1 ? (long)next() : 460 + (long)(next() % 600);
	if (r == 1)
		return -1 - (long)(next() % 4);
	if (r >= 16) {
		nr = answered[next() % (sizeof(answered) / sizeof(answered[0]))];
		if (nr >= 0) /* -1: not on this ABI */
			return nr;
	}
	return (long)(next() % 460);
}

static int fuzz(uint64_t seed, long n)
{
	long ok = 0, errors = 0, enosys = 0, bad = 0;

	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	pool = (unsigned char *)sc(
#ifdef __i386__
	    __NR_mmap2,
#else
	    __NR_mmap,
#endif
	    0, 65536 + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (IS_ERR(pool) || IS_ERR(sc3(__NR_mprotect, pool + 65536, 4096, 0))) {
		put("fuzz: no pool\n");
		flush();
		return 1;
	}
	for (long i = 0; i < n; i++) {
		long nr = random_nr(), a[6], r;

		for (int k = 0; k < 6; k++)
			a[k] = random_arg();
		if (skipped(nr))
			continue;
		if (memory_call(nr)) {
			/* Anywhere but here: the pool's page, or far away. */
			a[0] = next() & 1 ? (long)pool : (long)(0x20000000 + (next() % 64) * 4096);
			if (a[1] < 0 || a[1] > 0x1000000)
				a[1] = 4096;
			a[3] &= ~(long)MAP_FIXED;
			a[4] = 0; /* mremap's new address */
		}
		/* stdio stays: no close or dup onto 0-2, no output to 1-2, no
		 * copy of them either (random writes to it would follow) */
		if (nr == __NR_close || nr == __NR_dup || nr == __NR_dup2 || nr == __NR_dup3) {
			if ((unsigned long)a[0] <= 2)
				a[0] += 100;
			if ((unsigned long)a[1] <= 2)
				a[1] += 100;
		}
		if ((nr == __NR_write || nr == __NR_writev || nr == __NR_pwrite64 ||
		     nr == __NR_pwritev || nr == __NR_sendfile || nr == __NR_ioctl ||
		     nr == __NR_pwritev2 || nr == __NR_fcntl || nr == __NR_close_range ||
#ifdef __i386__
		     nr == __NR_fcntl64 || nr == __NR_sendfile64 ||
#endif
		     0) &&
		    (unsigned long)a[0] <= 2)
			a[0] += 100;
		if (nr == __NR_close_range)
			continue;
		r = sc(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (IS_ERR(r)) {
			errors++;
			enosys += r == -38;
		} else if (r < 0 && !any_value(nr)) {
			/* neither an errno nor a plausible success */
			bad++;
			put("fuzz: call ");
			put_num(nr);
			put(" returned 0x");
			put_hex((unsigned long)r);
			put("\n");
			flush();
		} else {
			ok++;
		}
	}
	put("fuzz: seed ");
	put_num((long)seed);
	put(" calls ");
	put_num(ok + errors + bad);
	put(" ok ");
	put_num(ok);
	put(" errno ");
	put_num(errors);
	put(" enosys ");
	put_num(enosys);
	put(" bad ");
	put_num(bad);
	put("\n");
	flush();
	return bad ? 1 : 0;
}

/* ---- garbage: one line per case ---- */

static void show(const char *name, long r)
{
	put(name);
	put("=");
	if (IS_ERR(r))
		put_num(r);
	else
		put("ok");
	put("\n");
	flush();
}

static char buf[8192] __attribute__((aligned(4096)));

static void garbage(void)
{
	static char long_path[5000];
	long iov[2] = {0, 5};
	long bad_iov[2] = {0, 5};
	long cur;

	iov[0] = (long)buf;
	show("read.badfd", sc3(__NR_read, -1, buf, 10));
	show("read.bigfd", sc3(__NR_read, 999, buf, 10));
#ifdef __x86_64__
	/* access_ok fails before /dev/null is read, even with 2 MiB mapped
	 * at the buffer (an i386 program's range passes, and what it gets
	 * depends on what is mapped after the buffer) */
	show("read.huge", sc3(__NR_read, 0,
			      sc(__NR_mmap, 0, 2 << 20, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
			      -1L));
#endif
	show("write.badfd", sc3(__NR_write, -1, buf, 1));
	show("write.null", sc3(__NR_write, 1, 0, 1));
	show("write.kernel", sc3(__NR_write, 1, KERNEL_PTR, 1));
	show("write.personality", sc3(__NR_write, 1, PERSONALITY_PTR, 1));
	show("write.zero", sc3(__NR_write, 1, buf, 0));
	show("write.huge_null", sc3(__NR_write, 2, 0, -1L));
	show("writev.null", sc3(__NR_writev, 1, 0, 1));
	show("writev.negcount", sc3(__NR_writev, 1, iov, -1));
	show("writev.toomany", sc3(__NR_writev, 1, iov, 1025));
	show("writev.nullbase", sc3(__NR_writev, 1, bad_iov, 1));
	show("writev.badfd", sc3(__NR_writev, -1, iov, 1));
	show("openat.null", sc3(__NR_openat, AT_FDCWD, 0, 0));
	show("openat.kernel", sc3(__NR_openat, AT_FDCWD, KERNEL_PTR, 0));
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	show("openat.toolong", sc3(__NR_openat, AT_FDCWD, long_path, 0));
	show("openat.missing", sc3(__NR_openat, AT_FDCWD, "/nonexistent-snapvm-probe", 0));
#ifdef __x86_64__
	show("stat.null", sc2(__NR_stat, 0, buf));
	show("stat.missing_nullbuf", sc2(__NR_stat, "/nonexistent-snapvm-probe", 0));
	show("fstat.badfd", sc2(__NR_fstat, -1, buf));
	show("fstat.null", sc2(__NR_fstat, 1, 0));
	show("fstat.kernel", sc2(__NR_fstat, 1, KERNEL_PTR));
	show("newfstatat.badflags", sc4(__NR_newfstatat, AT_FDCWD, "/", buf, 0x12345));
#else
	show("stat64.null", sc2(__NR_stat64, 0, buf));
	show("stat64.missing_nullbuf", sc2(__NR_stat64, "/nonexistent-snapvm-probe", 0));
	show("fstat64.badfd", sc2(__NR_fstat64, -1, buf));
	show("fstat64.null", sc2(__NR_fstat64, 1, 0));
	show("fstat64.kernel", sc2(__NR_fstat64, 1, KERNEL_PTR));
	show("fstatat64.badflags", sc4(__NR_fstatat64, AT_FDCWD, "/", buf, 0x12345));
#endif
	show("getdents64.badfd", sc3(__NR_getdents64, -1, buf, sizeof(buf)));
	show("readlink.null", sc3(__NR_readlink, 0, buf, 10));
	show("readlink.missing", sc3(__NR_readlink, "/nonexistent-snapvm-probe", buf, 10));
	show("readlink.zerolen", sc3(__NR_readlink, "/nonexistent-snapvm-probe", buf, 0));
#ifdef __x86_64__
#define MMAP __NR_mmap
#else
#define MMAP __NR_mmap2
#endif
	show("mmap.zerolen", sc(MMAP, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("mmap.noflags", sc(MMAP, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0));
	show("mmap.huge", sc(MMAP, 0, -4096L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	show("mmap.unaligned_fixed",
	     sc(MMAP, 0x20001001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	show("mmap.badfd", sc(MMAP, 0, 4096, PROT_READ, MAP_PRIVATE, -1, 0));
	show("mprotect.unaligned", sc3(__NR_mprotect, 0x20001001, 4096, PROT_READ));
	show("mprotect.unmapped", sc3(__NR_mprotect, 0x30000000, 4096, PROT_READ));
	show("mprotect.badprot", sc3(__NR_mprotect, buf, 4096, 0x100));
	show("mprotect.kernel", sc3(__NR_mprotect, KERNEL_PTR & ~4095L, 4096, PROT_READ));
	cur = sc1(__NR_brk, 0);
	show("brk.top_keeps", sc1(__NR_brk, -4096L) == cur ? 0 : -1);
	show("brk.one_keeps", sc1(__NR_brk, 1) == cur ? 0 : -1);
	show("uname.null", sc1(__NR_uname, 0));
	show("uname.kernel", sc1(__NR_uname, KERNEL_PTR));
	show("clock_gettime.null", sc2(__NR_clock_gettime, 0, 0));
	show("clock_gettime.badclock", sc2(__NR_clock_gettime, 99, buf));
	show("clock_gettime.kernel", sc2(__NR_clock_gettime, 1, KERNEL_PTR));
	show("getrandom.null", sc3(__NR_getrandom, 0, 16, 0));
	show("getrandom.badflags", sc3(__NR_getrandom, buf, 16, 0x100));
	show("getrandom.zero", sc3(__NR_getrandom, buf, 0, 0));
	show("prlimit64.badres", sc4(__NR_prlimit64, 0, 999, 0, buf));
	show("prlimit64.nofile", sc4(__NR_prlimit64, 0, 7, 0, 0));
	show("prlimit64.kernel", sc4(__NR_prlimit64, 0, 7, 0, KERNEL_PTR));
	show("rt_sigaction.query", sc4(__NR_rt_sigaction, 11, 0, 0, 8));
	show("rt_sigaction.badsize", sc4(__NR_rt_sigaction, 11, 0, 0, 4));
	show("rt_sigaction.sig0", sc4(__NR_rt_sigaction, 0, 0, buf, 8));
	show("rt_sigaction.sig65", sc4(__NR_rt_sigaction, 65, 0, buf, 8));
	memset(buf, 0, 64);
	show("rt_sigaction.sigkill", sc4(__NR_rt_sigaction, 9, buf, 0, 8));
	show("rt_sigaction.kernel", sc4(__NR_rt_sigaction, 11, KERNEL_PTR, 0, 8));
#ifdef __x86_64__
	show("arch_prctl.badcode", sc2(__NR_arch_prctl, 0x9999, 0));
	show("arch_prctl.get_fs_null", sc2(__NR_arch_prctl, 0x1003, 0));
	show("arch_prctl.set_fs_noncanonical", sc2(__NR_arch_prctl, 0x1002, 0x8000000000000000UL));
#else
	show("set_thread_area.null", sc1(__NR_set_thread_area, 0));
	{
		unsigned int desc[4] = {100, 0, 0xfffff, 0x51};

		show("set_thread_area.badentry", sc1(__NR_set_thread_area, desc));
	}
#endif
}

/* ---- hwcap and open-stdin ---- */

static int hwcap(long *sp)
{
	long argc = sp[0], *p = sp + argc + 2, at_hwcap = -1;
	uint32_t a, b, c, d;

	while (*p)
		p++;
	for (p++; p[0]; p += 2)
		if (p[0] == AT_HWCAP)
			at_hwcap = p[1];
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	put("AT_HWCAP 0x");
	put_hex((unsigned long)at_hwcap);
	put(" CPUID.1:EDX 0x");
	put_hex(d);
	put("\n");
	flush();
	return (unsigned long)at_hwcap == d ? 0 : 1;
}

static int read_stdin(char *to, size_t cap)
{
	size_t n = 0;
	long r;

	while (n < cap - 1 && (r = sc3(__NR_read, 0, to + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	to[n] = 0;
	while (n && (to[n - 1] == '\n' || to[n - 1] == ' '))
		to[--n] = 0;
	return (int)n;
}

static int open_stdin(void)
{
	char path[512];
	long a, b;

	read_stdin(path, sizeof(path));
	a = sc3(__NR_openat, AT_FDCWD, path, 0);
	b = sc3(__NR_openat, AT_FDCWD, path, 0);
	put_num(a);
	put(" ");
	put_num(b);
	put("\n");
	flush();
	return IS_ERR(a) || IS_ERR(b);
}

__attribute__((used)) void cmain(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	int status = 64;

	if (argc >= 4 && same(argv[1], "fuzz")) {
		status = fuzz((uint64_t)parse(argv[2]), parse(argv[3]));
	} else if (argc >= 3 && same(argv[1], "fuzz-stdin")) {
		char seed[32];

		read_stdin(seed, sizeof(seed));
		status = fuzz((uint64_t)parse(seed), parse(argv[2]));
	} else if (argc >= 2 && same(argv[1], "garbage")) {
		garbage();
		status = 0;
	} else if (argc >= 2 && same(argv[1], "hwcap")) {
		status = hwcap(sp);
	} else if (argc >= 2 && same(argv[1], "open-stdin")) {
		status = open_stdin();
	} else {
		put("usage: linux_probe fuzz SEED N | fuzz-stdin N | garbage | hwcap | "
		    "open-stdin\n");
		sc3(__NR_write, 2, line, line_len);
		line_len = 0;
	}
	sc1(__NR_exit_group, status);
	for (;;)
		;
}
