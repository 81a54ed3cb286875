// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * deadline.c - what stops a run from outside the guest: its timeout (a
 * per-run POSIX timer aimed at the running thread) and
 * snapvm_sandbox_interrupt (tgkill of the running thread, from any thread),
 * both through one signal, the kick signal, whose handler makes KVM_RUN or a
 * write blocked on the output fd return EINTR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "userspace/internal.h"

/*
 * A timeout (a per-run POSIX timer aimed at the running thread) and
 * snapvm_sandbox_interrupt (tgkill of the running thread) both stop a run
 * the same way: a signal whose handler sets kvm_run.immediate_exit, so that
 * KVM_RUN, or a write blocked on the output fd, returns EINTR. The signal is
 * the application's choice (snapvm_set_kick_signal); libsnapvm never takes
 * one the application already handles unless told to.
 */
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static int kick_signo; /* 0 until a handler is installed */
static struct sigaction kick_previous;

static __thread struct snapvm_sandbox *running_sandbox;
static __thread int running_token;
static __thread pid_t thread_tid;

#define DEFAULT_KICK_SIGNAL (SIGRTMIN + 2)

int snapvm_kick_signal(void)
{
	int signo = __atomic_load_n(&kick_signo, __ATOMIC_ACQUIRE);

	return signo ? signo : DEFAULT_KICK_SIGNAL;
}

/* A timer's signal only kicks the run that armed it (an earlier run's carries
 * an older token); anything else only when an interrupt was asked for. */
static void on_kick(int sig, siginfo_t *info, void *context)
{
	struct snapvm_sandbox *sb = running_sandbox;

	if (!sb)
		return;
	if (info->si_code == SI_TIMER ? info->si_value.sival_int == running_token
				      : __atomic_load_n(&sb->interrupt_requested, __ATOMIC_SEQ_CST))
		snapvm_kvm_vcpu_kick(&sb->vcpu);
}

int snapvm_set_kick_signal(int signo, unsigned int flags, struct snapvm_error *err)
{
	struct sigaction sa = {.sa_sigaction = on_kick, .sa_flags = SA_SIGINFO}, old;
	int ret = 0;

	if (flags & ~SNAPVM_KICK_SIGNAL_REPLACE)
		return snapvm_fail(err, EX_USAGE, "snapvm_set_kick_signal: unknown flags 0x%x",
				   flags);
	if (signo <= 0 || signo > SIGRTMAX || signo == SIGKILL || signo == SIGSTOP)
		return snapvm_fail(err, EX_USAGE,
				   "snapvm_set_kick_signal: %d is no signal to catch", signo);
	pthread_mutex_lock(&kick_lock);
	if (signo == kick_signo)
		goto out;
	if (sigaction(signo, NULL, &old) != 0) {
		ret = snapvm_fail_errno(err, EX_OSERR, errno, "sigaction(%d)", signo);
		goto out;
	}
	if (!(flags & SNAPVM_KICK_SIGNAL_REPLACE) &&
	    ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)) {
		ret = snapvm_fail(err, EX_UNAVAILABLE,
				  "signal %d (%s) already has the application's handler: choose "
				  "another kick signal with snapvm_set_kick_signal(), or pass "
				  "SNAPVM_KICK_SIGNAL_REPLACE",
				  signo, strsignal(signo));
		goto out;
	}
	/* No SA_RESTART: the signal must interrupt a write blocked on the
	 * output fd, not only KVM_RUN. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) != 0) {
		ret = snapvm_fail_errno(err, EX_OSERR, errno, "sigaction(%d)", signo);
		goto out;
	}
	/* The signal used so far goes back to what it was. */
	if (kick_signo)
		sigaction(kick_signo, &kick_previous, NULL);
	kick_previous = old;
	__atomic_store_n(&kick_signo, signo, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&kick_lock);
	return ret;
}

static int ensure_kick_signal(struct snapvm_error *err)
{
	if (__atomic_load_n(&kick_signo, __ATOMIC_ACQUIRE))
		return 0;
	return snapvm_set_kick_signal(DEFAULT_KICK_SIGNAL, 0, err);
}

static int arm_timeout(uint64_t timeout_ms, timer_t *timer, struct snapvm_error *err)
{
	static int tokens;
	struct sigevent sev = {
	    .sigev_notify = SIGEV_THREAD_ID,
	    .sigev_signo = snapvm_kick_signal(),
	};
	/* Re-sent every 100 ms after the deadline: a signal that lands just
	 * before a blocking write(2) starts would otherwise be lost to it. */
	struct itimerspec when = {
	    .it_value.tv_sec = (time_t)(timeout_ms / 1000),
	    .it_value.tv_nsec = (long)(timeout_ms % 1000) * 1000000,
	    .it_interval.tv_nsec = 100 * 1000000,
	};

	running_token = __atomic_add_fetch(&tokens, 1, __ATOMIC_RELAXED);
	sev.sigev_value.sival_int = running_token;
	sev._sigev_un._tid = thread_tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, timer) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "timer_create");
	if (timer_settime(*timer, 0, &when, NULL) != 0) {
		int errnum = errno;

		timer_delete(*timer);
		return snapvm_fail_errno(err, EX_OSERR, errnum, "timer_settime");
	}
	return 0;
}

void snapvm_sandbox_interrupt(struct snapvm_sandbox *sb)
{
	pid_t tid;

	__atomic_store_n(&sb->interrupt_requested, 1, __ATOMIC_SEQ_CST);
	tid = __atomic_load_n(&sb->running_tid, __ATOMIC_SEQ_CST);
	if (!tid)
		return; /* the next run sees the request before it enters the guest */
	/* In the guest or about to enter it: immediate_exit stops the next
	 * KVM_RUN, the signal the current one. */
	snapvm_kvm_vcpu_kick(&sb->vcpu);
	if (__atomic_load_n(&kick_signo, __ATOMIC_ACQUIRE))
		syscall(SYS_tgkill, getpid(), tid, kick_signo);
}

bool snapvm_interrupt_take(struct snapvm_sandbox *sb)
{
	return __atomic_exchange_n(&sb->interrupt_requested, 0, __ATOMIC_SEQ_CST) != 0;
}

bool snapvm_interrupt_pending(struct snapvm_sandbox *sb)
{
	return __atomic_load_n(&sb->interrupt_requested, __ATOMIC_SEQ_CST) != 0;
}

int snapvm_deadline_start(struct snapvm_sandbox *sb, uint64_t timeout_ms, struct snapvm_deadline *d,
			  struct snapvm_error *err)
{
	int ret;

	memset(d, 0, sizeof(*d));
	/* Without a kick signal only a timeout is impossible; an interrupt
	 * still stops the run at its next exit. */
	d->have_kick = ensure_kick_signal(timeout_ms ? err : NULL) == 0;
	if (!d->have_kick && timeout_ms)
		return err ? err->status : EX_UNAVAILABLE;
	snapvm_kvm_vcpu_unkick(&sb->vcpu);
	if (!thread_tid)
		thread_tid = (pid_t)syscall(SYS_gettid);
	/* The thread's signal mask is its own again when the run ends. */
	if (d->have_kick) {
		sigemptyset(&d->kick);
		sigaddset(&d->kick, snapvm_kick_signal());
		pthread_sigmask(SIG_UNBLOCK, &d->kick, &d->blocked);
	}
	running_sandbox = sb;
	__atomic_store_n(&sb->running_tid, thread_tid, __ATOMIC_SEQ_CST);
	if (timeout_ms) {
		ret = arm_timeout(timeout_ms, &d->timer, err);
		if (ret) {
			snapvm_deadline_end(sb, d);
			return ret;
		}
		d->armed = true;
	}
	return 0;
}

void snapvm_deadline_end(struct snapvm_sandbox *sb, struct snapvm_deadline *d)
{
	if (d->armed)
		timer_delete(d->timer);
	d->armed = false;
	__atomic_store_n(&sb->running_tid, 0, __ATOMIC_SEQ_CST);
	running_sandbox = NULL;
	snapvm_kvm_vcpu_unkick(&sb->vcpu);
	if (d->have_kick && sigismember(&d->blocked, snapvm_kick_signal()))
		pthread_sigmask(SIG_BLOCK, &d->kick, NULL);
	d->have_kick = false;
}
