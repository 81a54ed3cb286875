/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * syscalls.c - the Linux personality's system calls: one table (LX_SYSCALLS
 * below, the only list of what is supported; docs/linux.md is checked
 * against it) with each call's amd64 and i386 number, and the calls (the
 * dispatcher here; the handlers in files.c and process.c).
 * Only I/O, time, sleep, randomness and exit leave the guest (host calls);
 * everything else is answered here. A number not in the table: ENOSYS.
 */
#include "guests/linux/lx.h"
#include "guests/linux/sys.h"

struct sysent {
	const char *name;
	sys_fn *fn;
	const char *fmt;
};

#if LX_AMD64
#define ENTRY(name, n64, n32, fn, fmt) [(n64) < 0 ? 1023 : (n64)] = {#name, lx_##fn, fmt},
#else
#define ENTRY(name, n64, n32, fn, fmt) [(n32) < 0 ? 1023 : (n32)] = {#name, lx_##fn, fmt},
#endif
/* Every "-1" lands on the unused slot 1023, which lookups never reach. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct sysent table[1024] = {LX_SYSCALLS(ENTRY)};
#pragma GCC diagnostic pop

long lx_sys_enosys(const uintptr_t *a)
{
	return -ENOSYS;
}

long lx_sys_zero(const uintptr_t *a)
{
	return 0;
}

/* Whatever the path: nothing the program sees can be written. */
long lx_sys_erofs(const uintptr_t *a)
{
	return -EROFS;
}

long lx_sys_getpid(const uintptr_t *a)
{
	return 1;
}

/* ---- the dispatcher ---- */

static const char *const errnames[] = {
    [EPERM] = "EPERM",	   [ENOENT] = "ENOENT",
    [ESRCH] = "ESRCH",	   [EINTR] = "EINTR",
    [EIO] = "EIO",	   [EBADF] = "EBADF",
    [ECHILD] = "ECHILD",   [EAGAIN] = "EAGAIN",
    [ENOMEM] = "ENOMEM",   [EACCES] = "EACCES",
    [EFAULT] = "EFAULT",   [EEXIST] = "EEXIST",
    [ENOTDIR] = "ENOTDIR", [EISDIR] = "EISDIR",
    [EINVAL] = "EINVAL",   [EMFILE] = "EMFILE",
    [ENOTTY] = "ENOTTY",   [ESPIPE] = "ESPIPE",
    [EROFS] = "EROFS",	   [EPIPE] = "EPIPE",
    [ERANGE] = "ERANGE",   [ENAMETOOLONG] = "ENAMETOOLONG",
    [ENOSYS] = "ENOSYS",   [EOVERFLOW] = "EOVERFLOW",
};

static void trace(uintptr_t nr, const struct sysent *e, const uintptr_t *a, long ret)
{
	char line[400];
	size_t n = 0;
	const char *fmt = e ? e->fmt : "xxxxxx";

	if (e)
		n = (size_t)lx_snprintf(line, sizeof(line), "%s(", e->name);
	else
		n = (size_t)lx_snprintf(line, sizeof(line), "syscall_%lu(", (unsigned long)nr);
	for (int i = 0; fmt[i] && n < sizeof(line) - 80; i++) {
		const char *sep = i ? ", " : "";

		switch (fmt[i]) {
		case 'd':
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s%ld", sep,
						 (long)a[i]);
			break;
		case 'u':
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s%lu", sep,
						 (unsigned long)a[i]);
			break;
		case 'o':
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s0%lo", sep,
						 (unsigned long)a[i]);
			break;
		case 's': {
			char s[48];
			long len = lx_user_strlen(a[i], 4096);

			if (len < 0) {
				n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s0x%lx", sep,
							 (unsigned long)a[i]);
				break;
			}
			if (len > 40)
				len = 40;
			lx_copy_from_user(s, a[i], (size_t)len);
			s[len] = 0;
			for (long k = 0; k < len; k++)
				if (s[k] < 0x20 || s[k] > 0x7e)
					s[k] = '?';
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s\"%s\"", sep, s);
			break;
		}
		default:
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s0x%lx", sep,
						 (unsigned long)a[i]);
		}
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (ret < 0 && ret > -4096) {
		long e2 = -ret;
		const char *name =
		    e2 < (long)(sizeof(errnames) / sizeof(errnames[0])) && errnames[e2]
			? errnames[e2]
			: "E?";

		lx_snprintf(line + n, sizeof(line) - n, ") = -1 %s (%ld)\n", name, e2);
	} else {
		lx_snprintf(line + n, sizeof(line) - n, ") = %ld%s\n", ret,
			    ret > 9 || ret < 0 ? "" : "");
	}
	lx_eprintf("%s", line);
}

void lx_syscall(struct lx_frame *f)
{
	uintptr_t nr = LX_SYSCALL_NR(f);
#if LX_AMD64
	uintptr_t a[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
#else
	uintptr_t a[6] = {f->ebx, f->ecx, f->edx, f->esi, f->edi, f->ebp};
#endif
	const struct sysent *e = nr < 1023 && table[nr].fn ? &table[nr] : NULL;
	long ret;

	if (lx_setup.flags & LX_SETUP_TRACE) {
		/* exit never returns: its line comes first. */
		if (e && e->fn == lx_sys_exit)
			trace(nr, e, a, 0);
	}
	lx_signal_frame(f);
	ret = e ? e->fn(a) : -ENOSYS;
	if (lx_setup.flags & LX_SETUP_TRACE)
		trace(nr, e, a, ret);
	LX_RET(f) = (uintptr_t)ret;
	/* Only a host call (read, sleep) gives EINTR: the host has a signal
	 * for us, or the run's time is up. */
	if (ret == -EINTR && e && e->fn != lx_sys_rt_sigreturn && e->fn != lx_sys_sigreturn)
		lx_signal_eintr(f, nr,
				e &&
				    (e->fn == lx_sys_nanosleep || e->fn == lx_sys_clock_nanosleep ||
				     e->fn == lx_sys_clock_nanosleep64));
}
