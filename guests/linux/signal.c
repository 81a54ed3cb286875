/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * signal.c - the Linux personality's signals: dispositions (rt_sigaction,
 * rt_sigprocmask, sigaltstack), delivery with Linux's own frames
 * (amd64 rt_sigframe; i386 sigframe and rt_sigframe), sigreturn and
 * rt_sigreturn, faults, kill/tgkill of itself, and the signals the host
 * raises (snapvm_linux_raise: LX_HC_SIGNALS, fetched when the host injects
 * LX_SIGNAL_VECTOR or interrupts a host call with EINTR).
 *
 * Everything here is ordinary .data/.bss: part of the snapshot, put back at
 * every restore like the rest of the program's state.
 */
#include "guests/linux/sys.h"

#define SIG_DFL 0
#define SIG_IGN 1

#define SA_SIGINFO   0x00000004UL
#define SA_RESTORER  0x04000000UL
#define SA_ONSTACK   0x08000000UL
#define SA_RESTART   0x10000000UL
#define SA_NODEFER   0x40000000UL
#define SA_RESETHAND 0x80000000UL

#define SS_ONSTACK    1
#define SS_DISABLE    2
#define SS_AUTODISARM (1U << 31)
#define MINSIGSTKSZ   2048

#define SI_USER	    0
#define SI_TKILL    (-6)
#define UNBLOCKABLE (LX_SIGBIT(SIGKILL) | LX_SIGBIT(SIGSTOP))

/* EFLAGS a handler may change in its frame (Linux's FIX_EFLAGS: CF PF AF
 * ZF SF TF DF OF AC RF); IF and the reserved bit 1 are always set, and
 * IOPL, NT, VM, VIF, VIP never: ring 3 stays ring 3. */
#define FIX_EFLAGS   0x40dd5UL
#define USER_EFLAGS  0x202UL
#define EFLAGS_TF_DF 0x10500UL /* TF, DF, RF: cleared for the handler */

struct kaction {
	uintptr_t handler, flags, restorer;
	uint64_t mask;
};

static struct kaction actions[65];
static uint64_t blocked, pending;
static int pending_code[65];
static struct {
	uintptr_t sp, size;
	uint32_t flags;
} altstack = {0, 0, SS_DISABLE};
static uint64_t told_wants;
static int told;
/* The interrupted call (lx_syscall): restart it, or give EINTR. A flag of
 * its own: read is call 0 on amd64. */
static uintptr_t eintr_nr;
static int eintr, eintr_sleep;
static struct lx_frame *cur_frame;

/* ---- Linux's frames ---- */

struct siginfo {
	int32_t signo, errno_, code;
#if LX_AMD64
	int32_t pad;
#endif
	union {
		uintptr_t addr;
		struct {
			int32_t pid;
			uint32_t uid;
		} kill;
	} f;
	uint8_t rest[128 - 3 * 4 - LX_AMD64 * 4 - 8];
};
_Static_assert(sizeof(struct siginfo) == 128, "siginfo is 128 bytes");

#if LX_AMD64
struct sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate, reserved1[8];
};
struct ucontext {
	uint64_t uc_flags, uc_link;
	uint64_t ss_sp;
	int32_t ss_flags, ss_pad;
	uint64_t ss_size;
	struct sigcontext mc;
	uint64_t sigmask;
};
struct rt_sigframe {
	uint64_t pretcode;
	struct ucontext uc;
	struct siginfo info;
};
_Static_assert(sizeof(struct sigcontext) == 256, "amd64 sigcontext");
_Static_assert(sizeof(struct ucontext) == 304, "amd64 ucontext");
_Static_assert(sizeof(struct rt_sigframe) == 440, "amd64 rt_sigframe");
#define FP_SIZE	  512 /* struct _fpstate_64: the fxsave image */
#define FXSAVE_AT 0
#define UC_FLAGS  0x6 /* UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS */
#else
struct sigcontext {
	uint32_t gs, fs, es, ds, edi, esi, ebp, esp, ebx, edx, ecx, eax;
	uint32_t trapno, err, eip, cs, eflags, esp_at_signal, ss, fpstate, oldmask, cr2;
};
struct ucontext {
	uint32_t uc_flags, uc_link;
	uint32_t ss_sp;
	int32_t ss_flags;
	uint32_t ss_size;
	struct sigcontext mc;
	uint64_t sigmask; /* 4-aligned in the i386 ABI: no padding */
};
struct sigframe {
	uint32_t pretcode;
	int32_t sig;
	struct sigcontext sc;
	uint8_t fpstate_unused[624];
	uint32_t extramask;
	uint8_t retcode[8];
};
struct rt_sigframe {
	uint32_t pretcode;
	int32_t sig;
	uint32_t pinfo, puc;
	struct siginfo info;
	struct ucontext uc;
	uint8_t retcode[8];
};
_Static_assert(sizeof(struct sigcontext) == 88, "i386 sigcontext");
_Static_assert(sizeof(struct ucontext) == 116, "i386 ucontext");
_Static_assert(sizeof(struct sigframe) == 732, "i386 sigframe");
_Static_assert(sizeof(struct rt_sigframe) == 268, "i386 rt_sigframe");
/* struct _fpstate_32: the fsave header (status, magic 0 = FXSR data
 * follows at 112), then the fxsave image. */
#define FP_SIZE	  624
#define FXSAVE_AT 112
#define UC_FLAGS  0
#endif

static uint8_t fxbuf[512] __attribute__((aligned(64)));
static uint32_t mxcsr_mask;

static void fx_save(void)
{
	__asm__ volatile("fxsave %0" : "=m"(fxbuf));
	if (!mxcsr_mask) {
		memcpy(&mxcsr_mask, fxbuf + 28, 4);
		if (!mxcsr_mask)
			mxcsr_mask = 0xffbf;
	}
}

/* The handler starts with a clean FPU, as on Linux. */
static void fx_reset(void)
{
	uint32_t mxcsr = 0x1f80;

	__asm__ volatile("fninit\n\tldmxcsr %0" : : "m"(mxcsr));
}

/* fxbuf from the frame: MXCSR's reserved bits would #GP in ring 0. */
static void fx_restore(void)
{
	uint32_t mxcsr;

	memcpy(&mxcsr, fxbuf + 24, 4);
	mxcsr &= mxcsr_mask ? mxcsr_mask : 0xffbf;
	memcpy(fxbuf + 24, &mxcsr, 4);
	__asm__ volatile("fxrstor %0" : : "m"(fxbuf));
}

/* ---- what the host knows ---- */

/* The signals the host must leave to us: handled, ignored or blocked. The
 * host hears of them only when they change (or after a restore). */
static void tell_host(uint32_t flags)
{
	struct lx_sigstate st = {.wants = blocked, .flags = flags};
	uint64_t raised = 0;

	for (int s = 1; s <= 64; s++)
		if (actions[s].handler != SIG_DFL)
			st.wants |= LX_SIGBIT(s);
	if (told && st.wants == told_wants && !flags)
		return;
	told_wants = st.wants;
	told = 1;
	if (lx_hostcall(LX_HC_SIGNALS, &st, sizeof(st), &raised, sizeof(raised)) == sizeof(raised))
		for (int s = 1; s <= 64; s++)
			if (raised & LX_SIGBIT(s)) {
				pending |= LX_SIGBIT(s);
				pending_code[s] = SI_USER;
			}
}

/* The host raised signals (it injected LX_SIGNAL_VECTOR, or a host call
 * gave EINTR): take them. */
static void fetch_raised(void)
{
	told = 0;
	tell_host(0);
}

void lx_signals_restored(void)
{
	tell_host(LX_SIGSTATE_RESTORED);
}

/* ---- delivery ---- */

static int on_altstack(uintptr_t sp)
{
	return !(altstack.flags & SS_DISABLE) && sp > altstack.sp &&
	       sp - altstack.sp <= altstack.size;
}

static uint32_t altstack_flags(uintptr_t sp)
{
	if (altstack.flags & SS_DISABLE)
		return SS_DISABLE;
	return (on_altstack(sp) ? SS_ONSTACK : 0) | (altstack.flags & SS_AUTODISARM);
}

static void fill_info(struct siginfo *info, int sig, int code, uintptr_t addr)
{
	memset(info, 0, sizeof(*info));
	info->signo = sig;
	info->code = code;
	if (code > 0) /* from the CPU: the address */
		info->f.addr = addr;
}

static void save_context(struct sigcontext *sc, const struct lx_frame *f, uintptr_t addr,
			 uintptr_t fpstate)
{
#if LX_AMD64
	*sc = (struct sigcontext){
	    .r8 = f->r8,
	    .r9 = f->r9,
	    .r10 = f->r10,
	    .r11 = f->r11,
	    .r12 = f->r12,
	    .r13 = f->r13,
	    .r14 = f->r14,
	    .r15 = f->r15,
	    .rdi = f->rdi,
	    .rsi = f->rsi,
	    .rbp = f->rbp,
	    .rbx = f->rbx,
	    .rdx = f->rdx,
	    .rax = f->rax,
	    .rcx = f->rcx,
	    .rsp = f->sp,
	    .rip = f->ip,
	    .eflags = f->flags,
	    .cs = (uint16_t)f->cs,
	    .ss = (uint16_t)f->ss,
	    .err = f->error,
	    .trapno = (uint64_t)f->vector,
	    .oldmask = blocked,
	    .cr2 = addr,
	    .fpstate = fpstate,
	};
#else
	*sc = (struct sigcontext){
	    .gs = f->gs,
	    .fs = f->fs,
	    .es = f->es,
	    .ds = f->ds,
	    .edi = f->edi,
	    .esi = f->esi,
	    .ebp = f->ebp,
	    .esp = f->sp,
	    .ebx = f->ebx,
	    .edx = f->edx,
	    .ecx = f->ecx,
	    .eax = f->eax,
	    .trapno = (uint32_t)f->vector,
	    .err = f->error,
	    .eip = f->ip,
	    .cs = f->cs,
	    .eflags = f->flags,
	    .esp_at_signal = f->sp,
	    .ss = f->ss,
	    .fpstate = fpstate,
	    .oldmask = (uint32_t)blocked,
	    .cr2 = addr,
	};
#endif
}

/*
 * Run the handler of sig: its frame on the program's stack (or its
 * alternate stack), registers as Linux sets them, the mask while it runs.
 * 0, or -EFAULT when the frame cannot be written (the caller then ends the
 * program with SIGSEGV, as Linux's force_sigsegv).
 */
static int setup_frame(struct lx_frame *f, int sig, int code, uintptr_t addr)
{
	struct kaction *a = &actions[sig];
	uintptr_t sp = f->sp, fpstate, frame_at;
	uint32_t ssflags = altstack_flags(f->sp);
	static uint8_t fp[FP_SIZE] __attribute__((aligned(64)));

	if (LX_AMD64)
		sp -= 128; /* the red zone */
	if ((a->flags & SA_ONSTACK) && !ssflags)
		sp = altstack.sp + altstack.size;
	sp = (sp - FP_SIZE) & ~(uintptr_t)63;
	fpstate = sp;
	fx_save();
	memset(fp, 0, sizeof(fp));
	memcpy(fp + FXSAVE_AT, fxbuf, sizeof(fxbuf));
	if (lx_copy_to_user(fpstate, fp, FP_SIZE))
		return -EFAULT;
#if LX_AMD64
	{
		struct rt_sigframe fr;

		if (!(a->flags & SA_RESTORER))
			return -EFAULT; /* x86-64 Linux needs one too */
		sp -= sizeof(fr);
		sp = (sp & ~(uintptr_t)15) - 8; /* as after a call */
		frame_at = sp;
		memset(&fr, 0, sizeof(fr));
		fr.pretcode = a->restorer;
		fr.uc.uc_flags = UC_FLAGS;
		fr.uc.ss_sp = altstack.sp;
		fr.uc.ss_flags = (int32_t)ssflags;
		fr.uc.ss_size = altstack.size;
		save_context(&fr.uc.mc, f, addr, fpstate);
		fr.uc.sigmask = blocked;
		fill_info(&fr.info, sig, code, addr);
		if (lx_copy_to_user(frame_at, &fr, sizeof(fr)))
			return -EFAULT;
		f->rdi = (uint64_t)sig;
		f->rsi = frame_at + __builtin_offsetof(struct rt_sigframe, info);
		f->rdx = frame_at + __builtin_offsetof(struct rt_sigframe, uc);
		f->rax = 0;
	}
#else
	if (a->flags & SA_SIGINFO) {
		struct rt_sigframe fr;

		sp -= sizeof(fr);
		sp = ((sp + 4) & ~(uintptr_t)15) - 4;
		frame_at = sp;
		memset(&fr, 0, sizeof(fr));
		/* Without SA_RESTORER (glibc always gives one) the code in the
		 * frame, as Linux without a vDSO: it needs an executable stack. */
		fr.pretcode = a->flags & SA_RESTORER
				  ? a->restorer
				  : frame_at + __builtin_offsetof(struct rt_sigframe, retcode);
		fr.sig = sig;
		fr.pinfo = frame_at + __builtin_offsetof(struct rt_sigframe, info);
		fr.puc = frame_at + __builtin_offsetof(struct rt_sigframe, uc);
		fill_info(&fr.info, sig, code, addr);
		fr.uc.uc_flags = UC_FLAGS;
		fr.uc.ss_sp = altstack.sp;
		fr.uc.ss_flags = (int32_t)ssflags;
		fr.uc.ss_size = altstack.size;
		save_context(&fr.uc.mc, f, addr, fpstate);
		fr.uc.sigmask = blocked;
		/* movl $173, %eax; int $0x80 */
		memcpy(fr.retcode, "\xb8\xad\x00\x00\x00\xcd\x80", 7);
		if (lx_copy_to_user(frame_at, &fr, sizeof(fr)))
			return -EFAULT;
		f->eax = (uint32_t)sig;
		f->edx = fr.pinfo;
		f->ecx = fr.puc;
	} else {
		struct sigframe fr;

		sp -= sizeof(fr);
		sp = ((sp + 4) & ~(uintptr_t)15) - 4;
		frame_at = sp;
		memset(&fr, 0, sizeof(fr));
		fr.pretcode = a->flags & SA_RESTORER
				  ? a->restorer
				  : frame_at + __builtin_offsetof(struct sigframe, retcode);
		fr.sig = sig;
		save_context(&fr.sc, f, addr, fpstate);
		fr.extramask = (uint32_t)(blocked >> 32);
		/* popl %eax; movl $119, %eax; int $0x80 */
		memcpy(fr.retcode, "\x58\xb8\x77\x00\x00\x00\xcd\x80", 8);
		if (lx_copy_to_user(frame_at, &fr, sizeof(fr)))
			return -EFAULT;
		f->eax = (uint32_t)sig;
		f->edx = f->ecx = 0;
	}
	f->ds = f->es = SEL_UDATA;
#endif
	fx_reset();
	f->ip = a->handler;
	f->sp = frame_at;
	f->cs = SEL_UCODE;
	f->ss = SEL_UDATA;
	f->flags = (f->flags & ~EFLAGS_TF_DF) | USER_EFLAGS;
	if ((a->flags & SA_ONSTACK) && (altstack.flags & SS_AUTODISARM)) {
		altstack.sp = altstack.size = 0;
		altstack.flags = SS_DISABLE;
	}
	blocked |= a->mask | (a->flags & SA_NODEFER ? 0 : LX_SIGBIT(sig));
	blocked &= ~UNBLOCKABLE;
	if (a->flags & SA_RESETHAND)
		a->handler = SIG_DFL;
	tell_host(0);
	return 0;
}

static const char *const signames[] = {
    [1] = "SIGHUP",   [2] = "SIGINT",	[3] = "SIGQUIT",  [4] = "SIGILL",   [5] = "SIGTRAP",
    [6] = "SIGABRT",  [7] = "SIGBUS",	[8] = "SIGFPE",	  [9] = "SIGKILL",  [10] = "SIGUSR1",
    [11] = "SIGSEGV", [12] = "SIGUSR2", [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM",
};

void lx_signal_exit(int sig, const struct lx_frame *f, uintptr_t addr)
{
	const char *name = sig < (int)(sizeof(signames) / sizeof(signames[0])) && signames[sig]
			       ? signames[sig]
			       : "signal";

	lx_flush();
	if (f)
		lx_eprintf("killed by %s (signal %d) at %s 0x%lx, address 0x%lx\n", name, sig,
			   LX_AMD64 ? "RIP" : "EIP", (unsigned long)f->ip, (unsigned long)addr);
	else
		lx_eprintf("killed by %s (signal %d)\n", name, sig);
	lx_exit(128 + sig);
}

/*
 * A fault of the program (or a frame sigreturn cannot use): its handler
 * runs, unless the signal is blocked or ignored or has none; then, as
 * Linux's force_sig_fault, the program ends with it. A frame that cannot be
 * written ends it with SIGSEGV.
 */
void lx_signal_fault(struct lx_frame *f, int sig, int code, uintptr_t addr)
{
	uintptr_t h = actions[sig].handler;

	if (h == SIG_DFL || h == SIG_IGN || (blocked & LX_SIGBIT(sig)))
		lx_signal_exit(sig, f, code > 0 ? addr : 0);
	if (setup_frame(f, sig, code, addr))
		lx_signal_exit(SIGSEGV, f, f->sp);
}

/* The way back to ring 3: a pending signal that is not blocked acts now
 * (one handler per return; the next return takes the next one), and a call
 * the host interrupted for it starts again or gives EINTR. */
void lx_signal_return(struct lx_frame *f)
{
	int handled = 0;

	while (pending & ~blocked) {
		int sig = __builtin_ctzll(pending & ~blocked) + 1;
		uintptr_t h = actions[sig].handler;

		pending &= ~LX_SIGBIT(sig);
		if (h == SIG_IGN)
			continue;
		if (h == SIG_DFL) {
			if (LX_SIG_DEFAULT_NOTHING & LX_SIGBIT(sig))
				continue;
			lx_signal_exit(sig, NULL, 0);
		}
		if (eintr) {
			/* SA_RESTART restarts a read, never a sleep (Linux too). */
			if ((actions[sig].flags & SA_RESTART) && !eintr_sleep) {
				f->ip -= 2; /* syscall and int $0x80: 2 bytes */
				LX_RET(f) = eintr_nr;
			}
			eintr = 0;
		}
		if (setup_frame(f, sig, pending_code[sig], 0))
			lx_signal_exit(SIGSEGV, f, f->sp);
		handled = 1;
		break;
	}
	if (eintr && !handled) {
		/* Interrupted for nothing the program sees: again. */
		f->ip -= 2;
		LX_RET(f) = eintr_nr;
	}
	eintr = 0;
}

/* A call that returned -EINTR: the host interrupted it (a raised signal,
 * or the timeout, which then stops the run anyway). */
void lx_signal_eintr(struct lx_frame *f, uintptr_t nr, int is_sleep)
{
	eintr = 1;
	eintr_nr = nr;
	eintr_sleep = is_sleep;
	fetch_raised();
}

/* LX_SIGNAL_VECTOR: the host raised a signal while the program computed. */
void lx_signal_interrupt(struct lx_frame *f)
{
	fetch_raised();
}

void lx_signal_frame(struct lx_frame *f)
{
	cur_frame = f;
}

/* ---- sigreturn ---- */

#if LX_AMD64
static int canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}
#endif

#if !LX_AMD64
/* A data segment selector from a frame: null, user data, or a TLS slot
 * holding a present DPL-3 data (or readable code) descriptor; anything else
 * would fault in ring 0 when the way out loads it. */
static int user_data_sel(uint32_t *sel)
{
	uint32_t s = *sel & 0xffff;
	uint64_t d;
	int idx = (int)(s >> 3);

	if (!(s & ~3U)) {
		*sel = 0;
		return 1;
	}
	if (s == SEL_UDATA)
		return 1;
	if ((s & 7) != 3 || idx < GDT_TLS_MIN || idx > GDT_TLS_MAX)
		return 0;
	d = lx_gdt_entry(idx);
	if (!(d >> 47 & 1) || !(d >> 44 & 1) || (d >> 45 & 3) != 3)
		return 0;
	if ((d >> 43 & 1) && !(d >> 41 & 1))
		return 0; /* execute-only code */
	*sel = s;
	return 1;
}
#endif

/* Registers back from a frame's sigcontext, as far as they are safe: user
 * selectors always, EFLAGS without IOPL/NT/VM and with IF, a canonical RIP.
 * -EFAULT when the frame cannot be used. */
static long restore_context(struct lx_frame *f, struct sigcontext *sc, uint64_t mask)
{
	uintptr_t fpstate;

#if LX_AMD64
	if (!canonical(sc->rip))
		return -EFAULT;
	f->r8 = sc->r8, f->r9 = sc->r9, f->r10 = sc->r10, f->r11 = sc->r11;
	f->r12 = sc->r12, f->r13 = sc->r13, f->r14 = sc->r14, f->r15 = sc->r15;
	f->rdi = sc->rdi, f->rsi = sc->rsi, f->rbp = sc->rbp, f->rbx = sc->rbx;
	f->rdx = sc->rdx, f->rax = sc->rax, f->rcx = sc->rcx;
	f->sp = sc->rsp;
	f->ip = sc->rip;
	f->flags = (sc->eflags & FIX_EFLAGS) | USER_EFLAGS;
	fpstate = sc->fpstate;
#else
	if (!user_data_sel(&sc->gs) || !user_data_sel(&sc->fs) || !user_data_sel(&sc->es) ||
	    !user_data_sel(&sc->ds))
		return -EFAULT;
	f->gs = sc->gs, f->fs = sc->fs, f->es = sc->es, f->ds = sc->ds;
	f->edi = sc->edi, f->esi = sc->esi, f->ebp = sc->ebp, f->ebx = sc->ebx;
	f->edx = sc->edx, f->ecx = sc->ecx, f->eax = sc->eax;
	f->sp = sc->esp;
	f->ip = sc->eip;
	f->flags = (sc->eflags & FIX_EFLAGS) | USER_EFLAGS;
	fpstate = sc->fpstate;
#endif
	f->cs = SEL_UCODE;
	f->ss = SEL_UDATA;
	if (fpstate) {
		if (lx_copy_from_user(fxbuf, fpstate + FXSAVE_AT, sizeof(fxbuf)))
			return -EFAULT;
		fx_restore();
	}
	blocked = mask & ~UNBLOCKABLE;
	tell_host(0);
	return 0;
}

static void restore_altstack(uintptr_t sp, int32_t flags, uintptr_t size)
{
	if ((uint32_t)flags & SS_DISABLE) {
		altstack.sp = altstack.size = 0;
		altstack.flags = SS_DISABLE;
	} else if (size >= MINSIGSTKSZ) {
		altstack.sp = sp;
		altstack.size = size;
		altstack.flags = (uint32_t)flags & SS_AUTODISARM;
	}
}

/* The handler's return (through its restorer): everything back from the
 * frame. The result is the restored RAX/EAX, which the dispatcher puts
 * back. A frame that is unreadable or unsafe ends the program with SIGSEGV. */
long lx_sys_rt_sigreturn(const uintptr_t *a)
{
	struct lx_frame *f = cur_frame;
	struct rt_sigframe fr;
	uintptr_t at = f->sp - sizeof(uintptr_t);

	if (lx_copy_from_user(&fr, at, sizeof(fr)) ||
	    restore_context(f, &fr.uc.mc, fr.uc.sigmask)) {
		lx_signal_fault(f, SIGSEGV, SI_KERNEL, 0);
		return (long)LX_RET(f);
	}
	restore_altstack(fr.uc.ss_sp, fr.uc.ss_flags, fr.uc.ss_size);
	return (long)LX_RET(f);
}

long lx_sys_sigreturn(const uintptr_t *a)
{
#if LX_AMD64
	return -ENOSYS;
#else
	struct lx_frame *f = cur_frame;
	struct sigframe fr;
	uintptr_t at = f->sp - 8; /* the handler's ret and the restorer's pop */

	if (lx_copy_from_user(&fr, at, sizeof(fr)) ||
	    restore_context(f, &fr.sc, fr.sc.oldmask | (uint64_t)fr.extramask << 32))
		lx_signal_fault(f, SIGSEGV, SI_KERNEL, 0);
	return (long)LX_RET(f);
#endif
}

/* ---- dispositions ---- */

long lx_sys_rt_sigaction(const uintptr_t *a)
{
	uintptr_t sig = a[0];
	struct kaction act = {0};
	/* struct sigaction as the kernel takes it: handler, flags, restorer
	 * (each a long), then the 64-bit mask: 32 bytes on amd64, 20 on i386. */
	const size_t w = sizeof(uintptr_t), ksize = 3 * sizeof(uintptr_t) + 8;
	uint8_t k[32];

	if (!sig || sig > 64 || a[3] != 8)
		return -EINVAL;
	if (a[1] && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	if (a[1]) {
		if (lx_copy_from_user(k, a[1], ksize))
			return -EFAULT;
		memcpy(&act.handler, k, w);
		memcpy(&act.flags, k + w, w);
		memcpy(&act.restorer, k + 2 * w, w);
		memcpy(&act.mask, k + 3 * w, 8);
		act.mask &= ~UNBLOCKABLE;
	}
	if (a[2]) {
		const struct kaction *o = &actions[sig];

		memcpy(k, &o->handler, w);
		memcpy(k + w, &o->flags, w);
		memcpy(k + 2 * w, &o->restorer, w);
		memcpy(k + 3 * w, &o->mask, 8);
		if (lx_copy_to_user(a[2], k, ksize))
			return -EFAULT;
	}
	if (a[1]) {
		actions[sig] = act;
		/* Ignoring a pending signal discards it (Linux too). */
		if (act.handler == SIG_IGN ||
		    (act.handler == SIG_DFL && (LX_SIG_DEFAULT_NOTHING & LX_SIGBIT(sig))))
			pending &= ~LX_SIGBIT(sig);
		tell_host(0);
	}
	return 0;
}

long lx_sys_rt_sigprocmask(const uintptr_t *a)
{
	uint64_t set;

	if (a[3] != 8)
		return -EINVAL;
	if (a[1] && lx_copy_from_user(&set, a[1], sizeof(set)))
		return -EFAULT;
	if (a[1] && a[0] > 2)
		return -EINVAL;
	if (a[2] && lx_copy_to_user(a[2], &blocked, sizeof(blocked)))
		return -EFAULT;
	if (!a[1])
		return 0;
	switch (a[0]) {
	case 0:
		blocked |= set;
		break;
	case 1:
		blocked &= ~set;
		break;
	case 2:
		blocked = set;
		break;
	}
	blocked &= ~UNBLOCKABLE;
	tell_host(0);
	return 0;
}

long lx_sys_sigaltstack(const uintptr_t *a)
{
	uintptr_t sp = cur_frame ? cur_frame->sp : 0;
	/* stack_t: ss_sp, int ss_flags, ss_size (padded on amd64). */
	struct {
		uintptr_t sp;
		int32_t flags;
		uintptr_t size;
	} ss, old;

	memset(&old, 0, sizeof(old));
	old.sp = altstack.sp;
	old.flags = (int32_t)altstack_flags(sp);
	old.size = altstack.size;
	if (a[0]) {
		if (lx_copy_from_user(&ss, a[0], sizeof(ss)))
			return -EFAULT;
		if (on_altstack(sp))
			return -EPERM;
		if ((uint32_t)ss.flags & ~(SS_DISABLE | SS_ONSTACK | SS_AUTODISARM))
			return -EINVAL;
		if (!((uint32_t)ss.flags & SS_DISABLE) && ss.size < MINSIGSTKSZ)
			return -ENOMEM;
	}
	if (a[1] && lx_copy_to_user(a[1], &old, sizeof(old)))
		return -EFAULT;
	if (a[0])
		restore_altstack(ss.sp, ss.flags & ~SS_ONSTACK, ss.size);
	return 0;
}

/* A signal to ourselves (raise, abort): pending, and acted on before the
 * call returns to the program (lx_signal_return), as on Linux. */
static long send_self(uintptr_t sig, int code)
{
	if (sig > 64)
		return -EINVAL;
	if (!sig)
		return 0;
	if (sig == SIGKILL)
		lx_signal_exit(SIGKILL, NULL, 0);
	if (actions[sig].handler == SIG_IGN)
		return 0;
	pending |= LX_SIGBIT(sig);
	pending_code[sig] = code;
	return 0;
}

long lx_sys_kill(const uintptr_t *a)
{
	if ((long)a[0] != 1 && (long)a[0] != 0 && (long)a[0] != -1)
		return -ESRCH;
	return send_self(a[1], SI_USER);
}

long lx_sys_tgkill(const uintptr_t *a)
{
	if (a[0] != 1 || a[1] != 1)
		return -ESRCH;
	return send_self(a[2], SI_TKILL);
}
