/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * process.c - the Linux personality's system calls on memory, the process
 * and time (signals are signal.c's).
 */
#include "guests/linux/sys.h"

/* ---- the process's small state ---- */

static char comm[16] = "busybox";
static uint32_t cur_umask = 022;

/* ---- memory ---- */

long lx_sys_brk(const uintptr_t *a)
{
	return lx_brk(a[0]);
}

long lx_sys_mmap(const uintptr_t *a)
{
	if (a[5] & (PAGE - 1))
		return -EINVAL;
	return lx_mmap(a[0], a[1], (int)a[2], (int)a[3], (long)(int)a[4], a[5]);
}

long lx_sys_mmap2(const uintptr_t *a)
{
	return lx_mmap(a[0], a[1], (int)a[2], (int)a[3], (long)(int)a[4], (uint64_t)a[5] * PAGE);
}

long lx_sys_mmap_old(const uintptr_t *a)
{
	uintptr_t v[6];

	if (lx_copy_from_user(v, a[0], sizeof(v)))
		return -EFAULT;
	return lx_sys_mmap(v);
}

long lx_sys_munmap(const uintptr_t *a)
{
	return lx_munmap(a[0], a[1]);
}

long lx_sys_mprotect(const uintptr_t *a)
{
	return lx_mprotect(a[0], a[1], (int)a[2]);
}

long lx_sys_mremap(const uintptr_t *a)
{
	return lx_mremap(a[0], a[1], a[2], (int)a[3], a[4]);
}

/* ---- process ---- */

long lx_sys_exit(const uintptr_t *a)
{
	lx_exit((int)a[0]);
}

long lx_sys_wait(const uintptr_t *a)
{
	return -ECHILD;
}

long lx_sys_uname(const uintptr_t *a)
{
	char u[6][65];

	memset(u, 0, sizeof(u));
	memcpy(u[0], "Linux", 6);
	if (lx_setup.nodename[0])
		memcpy(u[1], lx_setup.nodename, sizeof(lx_setup.nodename) - 1);
	else
		memcpy(u[1], "snapvm", 7);
	memcpy(u[2], "6.1.0-snapvm", 13);
	memcpy(u[3], "#1 SMP snapvm", 14);
	memcpy(u[4], LX_AMD64 ? "x86_64" : "i686", LX_AMD64 ? 7 : 5);
	memcpy(u[5], "(none)", 7);
	return lx_copy_to_user(a[0], u, sizeof(u));
}

long lx_sys_getcwd(const uintptr_t *a)
{
	const char *cwd = lx_setup.cwd[0] ? lx_setup.cwd : "/";
	size_t n;

	lx_setup.cwd[sizeof(lx_setup.cwd) - 1] = '\0'; /* the host's, ended anyway */
	n = strlen(cwd) + 1;

	if (a[1] < n)
		return -ERANGE;
	return lx_copy_to_user(a[0], cwd, n) ? -EFAULT : (long)n;
}

long lx_sys_umask(const uintptr_t *a)
{
	uint32_t old = cur_umask;

	cur_umask = a[0] & 0777;
	return old;
}

#define PR_SET_NAME 15
#define PR_GET_NAME 16

long lx_sys_prctl(const uintptr_t *a)
{
	if (a[0] == PR_GET_NAME)
		return lx_copy_to_user(a[1], comm, sizeof(comm));
	if (a[0] == PR_SET_NAME) {
		char name[16];
		long len = lx_user_strlen(a[1], 4096);

		if (len < 0)
			return len;
		if (len > 15)
			len = 15;
		if (lx_copy_from_user(name, a[1], (size_t)len))
			return -EFAULT;
		name[len] = 0;
		memcpy(comm, name, sizeof(comm));
		return 0;
	}
	return -EINVAL;
}

#define RLIMIT_STACK  3
#define RLIMIT_NOFILE 7
#define RLIM_INF      (~0ULL)

static void rlimit_of(uintptr_t res, uint64_t v[2])
{
	v[0] = v[1] = RLIM_INF;
	if (res == RLIMIT_STACK)
		v[0] = LX_STACK_SIZE;
	if (res == RLIMIT_NOFILE)
		v[0] = v[1] = NFDS;
}

long lx_sys_prlimit64(const uintptr_t *a)
{
	uint64_t v[2];

	if (a[0] != 0 && a[0] != 1)
		return -ESRCH;
	if (a[1] >= 16)
		return -EINVAL;
	rlimit_of(a[1], v);
	if (a[2])
		return -EPERM;
	return a[3] ? lx_copy_to_user(a[3], v, sizeof(v)) : 0;
}

long lx_sys_getrlimit(const uintptr_t *a)
{
	uint64_t v[2];
	uintptr_t w[2];

	if (a[0] >= 16)
		return -EINVAL;
	rlimit_of(a[0], v);
	w[0] = v[0] > (uintptr_t)-1 ? (uintptr_t)-1 : (uintptr_t)v[0];
	w[1] = v[1] > (uintptr_t)-1 ? (uintptr_t)-1 : (uintptr_t)v[1];
	return lx_copy_to_user(a[1], w, sizeof(w));
}

long lx_sys_getrandom(const uintptr_t *a)
{
	size_t len = a[1] > SNAPVM_HOST_CALL_MAX ? SNAPVM_HOST_CALL_MAX : a[1];

	if (a[2] & ~7U)
		return -EINVAL;
	if (!len)
		return 0;
	if (!lx_user_ok(a[0], len, 1))
		return -EFAULT;
	return lx_hostcall(LX_HC_RANDOM, NULL, 0, (void *)a[0], len);
}

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

long lx_sys_arch_prctl(const uintptr_t *a)
{
#if LX_AMD64
	uint32_t msr = a[0] == ARCH_SET_FS || a[0] == ARCH_GET_FS ? 0xc0000100 : 0xc0000101;
	uint32_t lo, hi;

	switch (a[0]) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (a[1] >= LX_USER_TOP)
			return -EPERM;
		__asm__ volatile("wrmsr"
				 :
				 : "c"(msr), "a"((uint32_t)a[1]), "d"((uint32_t)(a[1] >> 32)));
		return 0;
	case ARCH_GET_FS:
	case ARCH_GET_GS: {
		uint64_t v;

		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
		v = lo | (uint64_t)hi << 32;
		return lx_copy_to_user(a[1], &v, sizeof(v));
	}
	}
#endif
	return -EINVAL;
}

/* i386 TLS: struct user_desc into one of the GDT's TLS slots. */
struct user_desc {
	uint32_t entry, base, limit, flags;
};

long lx_sys_set_thread_area(const uintptr_t *a)
{
	struct user_desc d;
	uint32_t lo, hi, contents, type;
	int e;

	if (lx_copy_from_user(&d, a[0], sizeof(d)))
		return -EFAULT;
	e = (int)d.entry;
	if (e == -1) {
		for (e = GDT_TLS_MIN; e <= GDT_TLS_MAX; e++)
			if (!lx_gdt_entry(e))
				break;
		if (e > GDT_TLS_MAX)
			return -ESRCH;
		d.entry = (uint32_t)e;
		if (lx_copy_to_user(a[0], &d, sizeof(d)))
			return -EFAULT;
	}
	if (e < GDT_TLS_MIN || e > GDT_TLS_MAX)
		return -EINVAL;
	contents = (d.flags >> 1) & 3;
	/* read_exec_only and seg_not_present set, the rest clear: empty. */
	if (!d.base && !d.limit && (d.flags & 0x7f) == 0x28) {
		lx_set_tls_gdt(e, 0, 0);
		return 0;
	}
	if (contents == 3 || (d.flags & (1u << 5)))
		return -EINVAL; /* conforming code, or not present */
	type = contents << 2 | (!(d.flags & (1u << 3))) << 1 | 1;
	lo = (d.limit & 0xffff) | (d.base & 0xffff) << 16;
	hi = ((d.base >> 16) & 0xff) | type << 8 | 1u << 12 | 3u << 13 | 1u << 15 |
	     (d.limit & 0xf0000) | ((d.flags >> 6) & 1) << 20 | (d.flags & 1) << 22 |
	     ((d.flags >> 4) & 1) << 23 | (d.base & 0xff000000);
	lx_set_tls_gdt(e, lo, hi);
	return 0;
}

long lx_sys_get_thread_area(const uintptr_t *a)
{
	struct user_desc d;
	uint64_t g;

	if (lx_copy_from_user(&d, a[0], sizeof(d)))
		return -EFAULT;
	if ((int)d.entry < GDT_TLS_MIN || d.entry > GDT_TLS_MAX)
		return -EINVAL;
	g = lx_gdt_entry((int)d.entry);
	d.base = (uint32_t)((g >> 16) & 0xffffff) | (uint32_t)((g >> 56) << 24);
	d.limit = (uint32_t)(g & 0xffff) | (uint32_t)((g >> 32) & 0xf0000);
	d.flags = (uint32_t)(((g >> 54) & 1) | ((g >> 42) & 3) << 1 | (!((g >> 41) & 1)) << 3 |
			     ((g >> 55) & 1) << 4 | (!((g >> 47) & 1)) << 5 | ((g >> 52) & 1) << 6);
	return lx_copy_to_user(a[0], &d, sizeof(d));
}

/* ---- time ---- */

/*
 * The clocks from the TSC, with no VM exit: the host's clocks at one
 * instant (LX_HC_CLOCK, between two TSC reads) and the TSC's rate, taken
 * at boot and again whenever a restore resumes us (lx_clock_sync), since a
 * restored base would be the snapshot's time, and another VM's TSC is not
 * ours. Nanoseconds since the base are delta * mult >> CLOCK_SHIFT. The
 * base is also taken again after CLOCK_RESYNC_MS of TSC: the rate KVM
 * reports need not be the one the host's clocks run at (in the test VM
 * under load the guest ran seconds ahead), so the error stays within a
 * fraction of that, at one exit per CLOCK_RESYNC_MS at most. Each clock
 * answers at least its last answer of this run: none goes backwards.
 */
#define CLOCK_SHIFT	24
#define CLOCK_MIN_KHZ	100000 /* below 100 MHz, mult would overflow: ask the host */
#define CLOCK_RESYNC_MS 2
static struct {
	uint64_t tsc, mult, last, resync;
	int64_t real, mono, boot;
	int valid;
} clk;
static int64_t clk_last[3]; /* real, mono, boot: kept across a resync */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t)hi << 32;
}

void lx_clock_sync(void)
{
	struct lx_clock c;
	uint64_t t0 = rdtsc(), t1;
	long n = lx_hostcall(LX_HC_CLOCK, NULL, 0, &c, sizeof(c));

	t1 = rdtsc();
	clk.valid = 0;
	if (n != (long)sizeof(c) || c.tsc_khz < CLOCK_MIN_KHZ || t1 < t0)
		return;
	clk.tsc = t0 + (t1 - t0) / 2;
	clk.mult = (1000000ULL << CLOCK_SHIFT) / c.tsc_khz;
	clk.resync = c.tsc_khz * CLOCK_RESYNC_MS;
	clk.last = 0;
	clk.real = c.realtime_ns;
	clk.mono = c.monotonic_ns;
	clk.boot = c.boottime_ns;
	clk.valid = 1;
}

/* Nanoseconds since the base, never less than the last answer. */
static uint64_t clock_delta(void)
{
	uint64_t d = rdtsc() - clk.tsc, ns;

	if ((int64_t)d < 0)
		d = 0;
	if (d > clk.resync) {
		lx_clock_sync();
		d = clk.valid ? rdtsc() - clk.tsc : 0;
		if ((int64_t)d < 0)
			d = 0;
	}
	ns = (d >> CLOCK_SHIFT) * clk.mult +
	     (((d & ((1ULL << CLOCK_SHIFT) - 1)) * clk.mult) >> CLOCK_SHIFT);
	if (ns < clk.last)
		ns = clk.last;
	clk.last = ns;
	return ns;
}

static void from_ns(int64_t ns, struct lx_time *t)
{
	t->sec = ns / 1000000000;
	t->nsec = ns % 1000000000;
	if (t->nsec < 0)
		t->sec--, t->nsec += 1000000000;
}

/* base + the delta, never less than this clock's last answer. */
static void answer(int i, const int64_t *base, struct lx_time *t)
{
	uint64_t d = clock_delta(); /* may take a new base */
	int64_t ns = *base + (int64_t)d;

	if (ns < clk_last[i])
		ns = clk_last[i];
	clk_last[i] = ns;
	from_ns(ns, t);
}

static long now(uintptr_t which, struct lx_time *t)
{
	uint32_t c = (uint32_t)which;

	if (which > 11)
		return -EINVAL;
	if (clk.valid) {
		switch (which) {
		case 0: /* CLOCK_REALTIME */
		case 5: /* CLOCK_REALTIME_COARSE */
		case 8: /* CLOCK_REALTIME_ALARM */
			answer(0, &clk.real, t);
			return 0;
		case 1: /* CLOCK_MONOTONIC */
		case 2: /* CPU-time clocks: the monotonic one, as the host did */
		case 3:
		case 4: /* CLOCK_MONOTONIC_RAW */
		case 6: /* CLOCK_MONOTONIC_COARSE */
			answer(1, &clk.mono, t);
			return 0;
		case 7: /* CLOCK_BOOTTIME */
		case 9: /* CLOCK_BOOTTIME_ALARM */
			answer(2, &clk.boot, t);
			return 0;
		}
	}
	return lx_hostcall(LX_HC_TIME, &c, sizeof(c), t, sizeof(*t)) < 0 ? -EINVAL : 0;
}

static long put_timespec(uintptr_t dst, const struct lx_time *t, int wide)
{
	if (wide) {
		int64_t v[2] = {t->sec, t->nsec};

		return lx_copy_to_user(dst, v, sizeof(v));
	} else {
		long v[2] = {(long)t->sec, (long)t->nsec};

		return lx_copy_to_user(dst, v, sizeof(v));
	}
}

long lx_sys_clock_gettime(const uintptr_t *a)
{
	struct lx_time t;
	long ret = now(a[0], &t);

	return ret ? ret : put_timespec(a[1], &t, 0);
}

long lx_sys_clock_gettime64(const uintptr_t *a)
{
	struct lx_time t;
	long ret = now(a[0], &t);

	return ret ? ret : put_timespec(a[1], &t, 1);
}

long lx_sys_clock_getres(const uintptr_t *a)
{
	struct lx_time t = {0, 1};

	if (a[0] > 11)
		return -EINVAL;
	return a[1] ? put_timespec(a[1], &t, 0) : 0;
}

long lx_sys_clock_getres64(const uintptr_t *a)
{
	struct lx_time t = {0, 1};

	if (a[0] > 11)
		return -EINVAL;
	return a[1] ? put_timespec(a[1], &t, 1) : 0;
}

long lx_sys_gettimeofday(const uintptr_t *a)
{
	struct lx_time t;
	long ret;

	if (!a[0])
		return 0;
	ret = now(0, &t);
	t.nsec /= 1000;
	return ret ? ret : put_timespec(a[0], &t, 0);
}

long lx_sys_time(const uintptr_t *a)
{
	struct lx_time t;
	long ret = now(0, &t);
	long s = (long)t.sec;

	if (ret)
		return ret;
	if (a[0] && lx_copy_to_user(a[0], &s, sizeof(s)))
		return -EFAULT;
	return s;
}

static long sleep_for(uintptr_t req, int wide)
{
	struct lx_time t;

	if (wide) {
		int64_t v[2];

		if (lx_copy_from_user(v, req, sizeof(v)))
			return -EFAULT;
		t.sec = v[0];
		t.nsec = v[1];
	} else {
		long v[2];

		if (lx_copy_from_user(v, req, sizeof(v)))
			return -EFAULT;
		t.sec = v[0];
		t.nsec = v[1];
	}
	if (t.sec < 0 || t.nsec < 0 || t.nsec >= 1000000000)
		return -EINVAL;
	lx_flush();
	return lx_hostcall(LX_HC_SLEEP, &t, sizeof(t), NULL, 0);
}

long lx_sys_nanosleep(const uintptr_t *a)
{
	return sleep_for(a[0], 0);
}

long lx_sys_clock_nanosleep(const uintptr_t *a)
{
	if (a[1] & 1) /* TIMER_ABSTIME */
		return -EINVAL;
	return sleep_for(a[2], 0);
}

long lx_sys_clock_nanosleep64(const uintptr_t *a)
{
	if (a[1] & 1)
		return -EINVAL;
	return sleep_for(a[2], 1);
}
