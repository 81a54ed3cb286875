// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * deadline.c - what stops a run from outside the guest: its timeout (a
 * POSIX timer per thread, aimed at it) and
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

#include "userspace/lib/internal.h"

/*
 * A timeout (the thread's POSIX timer) and
 * snapvm_sandbox_interrupt (tgkill of the running thread) both stop a run
 * the same way: a signal whose handler sets kvm_run.immediate_exit, so that
 * KVM_RUN, or a write blocked on the output fd, returns EINTR. The signal is
 * the application's choice (snapvm_set_kick_signal); libsnapvm never takes
 * one the application already handles unless told to.
 */
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static int kick_signo; /* 0 until a handler is installed */
static struct sigaction kick_previous;

#define DEFAULT_KICK_SIGNAL (SIGRTMIN + 2)

/*
 * A run's hot path makes no system call but KVM_RUN: each thread has one
 * timer, created at its first timed run and deleted when it exits, and it
 * is re-armed only when a run's deadline comes before the time it is set
 * for. A timer that fires early (a later run's deadline is further away)
 * re-arms itself from the handler (timer_settime is async-signal-safe), at
 * the cost of one spurious KVM_RUN return per timeout period, not per call.
 * The thread's id is read once per thread, its signal mask at its first
 * run and at each restore (see prepare_thread).
 */
struct kick_thread {
	pid_t tid;
	bool have_timer;
	int timer_signo, mask_signo; /* what the timer and the mask were set up for */
	timer_t timer;
	uint64_t armed_ns;    /* when the timer fires (CLOCK_MONOTONIC), 0: never */
	uint64_t deadline_ns; /* the current run's deadline, 0: none */
	sigset_t mask;	      /* the thread's own mask, without the kick signal */
	struct snapvm_sandbox *running;
};
static __thread struct kick_thread self;
static pthread_once_t thread_setup = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;

/* Re-sent this long after the deadline while the run has not ended: a
 * signal that lands just before a blocking write(2) starts would otherwise
 * be lost to it. */
#define KICK_REPEAT_NS 100000000ULL

int snapvm_kick_signal(void)
{
	int signo = __atomic_load_n(&kick_signo, __ATOMIC_ACQUIRE);

	return signo ? signo : DEFAULT_KICK_SIGNAL;
}

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

static int arm_at(uint64_t when_ns)
{
	struct itimerspec when = {
	    .it_value.tv_sec = (time_t)(when_ns / 1000000000ULL),
	    .it_value.tv_nsec = (long)(when_ns % 1000000000ULL),
	};

	self.armed_ns = when_ns;
	return timer_settime(self.timer, TIMER_ABSTIME, &when, NULL);
}

/* A timer's signal kicks the run in progress on this thread once its
 * deadline has passed; anything else only when an interrupt was asked for. */
static void on_kick(int sig, siginfo_t *info, void *context)
{
	struct snapvm_sandbox *sb = self.running;
	int saved_errno = errno;

	if (info->si_code == SI_TIMER) {
		self.armed_ns = 0;
		if (sb && self.deadline_ns) {
			uint64_t now = monotonic_ns();

			if (now >= self.deadline_ns) {
				snapvm_kvm_vcpu_kick(&sb->vcpu);
				arm_at(now + KICK_REPEAT_NS);
			} else {
				arm_at(self.deadline_ns);
			}
		}
	} else if (sb && (__atomic_load_n(&sb->interrupt_requested, __ATOMIC_SEQ_CST) ||
			  __atomic_load_n(&sb->signal_stop, __ATOMIC_SEQ_CST) ||
			  __atomic_load_n(&sb->vcpu.inject_vector, __ATOMIC_SEQ_CST))) {
		snapvm_kvm_vcpu_kick(&sb->vcpu);
	}
	errno = saved_errno;
}

/*
 * KVM_RUN returned EINTR for a signal but no handler ran: the kick signal
 * arrived while KVM ran the guest with the thread's mask lifted, and the
 * thread blocks it, so it is still pending. Take it and do what the handler
 * would have done (as QEMU does for its SIG_IPI). Only after an EINTR.
 */
void snapvm_deadline_take_pending(void)
{
	static const struct timespec no_wait;
	siginfo_t info;
	sigset_t kick;
	int signo = snapvm_kick_signal();

	sigemptyset(&kick);
	sigaddset(&kick, signo);
	if (sigtimedwait(&kick, &info, &no_wait) == signo)
		on_kick(signo, &info, NULL);
}

static void thread_exit(void *unused)
{
	if (self.have_timer)
		timer_delete(self.timer);
	self.have_timer = false;
}

/* A forked child has its own thread id, no timers and perhaps another mask. */
static void forked_child(void)
{
	memset(&self, 0, sizeof(self));
}

static void setup_once(void)
{
	pthread_key_create(&thread_key, thread_exit);
	pthread_atfork(NULL, NULL, forked_child);
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

static int ensure_timer(struct snapvm_error *err)
{
	struct sigevent sev = {
	    .sigev_notify = SIGEV_THREAD_ID,
	    .sigev_signo = snapvm_kick_signal(),
	};

	if (self.have_timer && self.timer_signo == sev.sigev_signo)
		return 0;
	thread_exit(NULL); /* made for an earlier kick signal */
	sev._sigev_un._tid = self.tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &self.timer) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "timer_create");
	self.have_timer = true;
	self.timer_signo = sev.sigev_signo;
	self.armed_ns = 0;
	pthread_setspecific(thread_key, &self); /* deleted when the thread ends */
	return 0;
}

static int arm_timeout(uint64_t timeout_ms, struct snapvm_error *err)
{
	int ret = ensure_timer(err);

	if (ret)
		return ret;
	self.deadline_ns = monotonic_ns() + timeout_ms * 1000000ULL;
	/* The handler may run from here on and re-arm; arming again is harmless. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (self.armed_ns && self.armed_ns <= self.deadline_ns)
		return 0; /* fires first, and re-arms for this deadline */
	if (arm_at(self.deadline_ns) != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "timer_settime");
	return 0;
}

/*
 * The kick signal must reach this thread during KVM_RUN even when the
 * thread blocks it, and reading a thread's mask is a system call. So the
 * mask is read at the thread's first run, again when the kick signal
 * changes, and at every restore (snapvm_deadline_refresh_mask), and the
 * vCPU gets it without the kick signal through KVM_SET_SIGNAL_MASK, which
 * KVM applies only while it runs the guest: the thread's own mask never
 * changes, and a call costs no mask system call.
 */
void snapvm_deadline_refresh_mask(void)
{
	int signo = snapvm_kick_signal();

	pthread_sigmask(SIG_BLOCK, NULL, &self.mask);
	sigdelset(&self.mask, signo);
	self.mask_signo = signo;
}

static int prepare_thread(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	pthread_once(&thread_setup, setup_once);
	if (!self.tid)
		self.tid = (pid_t)syscall(SYS_gettid);
	if (self.mask_signo != snapvm_kick_signal())
		snapvm_deadline_refresh_mask();
	if (sb->vcpu.sigmask_valid && !memcmp(&sb->vcpu.sigmask, &self.mask, sizeof(self.mask)))
		return 0;
	if (snapvm_kvm_vcpu_set_signal_mask(&sb->vcpu, &self.mask, err))
		return err ? err->status : EX_OSERR;
	return 0;
}

bool snapvm_deadline_unblock(bool unblock, sigset_t *saved)
{
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, snapvm_kick_signal());
	if (unblock) {
		pthread_sigmask(SIG_UNBLOCK, &kick, saved);
		return sigismember(saved, snapvm_kick_signal()) == 1;
	}
	pthread_sigmask(SIG_SETMASK, saved, NULL);
	return true;
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

/* Kick the run in progress, if any (the next run checks the flags before
 * it enters the guest). */
static void nudge(struct snapvm_sandbox *sb)
{
	pid_t tid = __atomic_load_n(&sb->running_tid, __ATOMIC_SEQ_CST);

	if (!tid)
		return;
	snapvm_kvm_vcpu_kick(&sb->vcpu);
	if (__atomic_load_n(&kick_signo, __ATOMIC_ACQUIRE))
		syscall(SYS_tgkill, getpid(), tid, kick_signo);
}

void snapvm_sandbox_signal_stop(struct snapvm_sandbox *sb, int signo)
{
	__atomic_store_n(&sb->signal_stop, signo, __ATOMIC_SEQ_CST);
	nudge(sb);
}

void snapvm_sandbox_inject(struct snapvm_sandbox *sb, int vector)
{
	__atomic_store_n(&sb->vcpu.inject_vector, vector, __ATOMIC_SEQ_CST);
	nudge(sb);
}

void snapvm_sandbox_signals_clear(struct snapvm_sandbox *sb)
{
	__atomic_store_n(&sb->signal_stop, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sb->vcpu.inject_vector, 0, __ATOMIC_SEQ_CST);
	if (sb->vcpu.run)
		sb->vcpu.run->request_interrupt_window = 0;
}

bool snapvm_deadline_passed(void)
{
	return self.deadline_ns && monotonic_ns() >= self.deadline_ns;
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
	if (d->have_kick) {
		ret = prepare_thread(sb, err);
		if (ret)
			return ret;
	}
	self.running = sb;
	__atomic_store_n(&sb->running_tid, self.tid, __ATOMIC_SEQ_CST);
	if (timeout_ms) {
		ret = arm_timeout(timeout_ms, err);
		if (ret) {
			snapvm_deadline_end(sb, d);
			return ret;
		}
	}
	return 0;
}

void snapvm_deadline_end(struct snapvm_sandbox *sb, struct snapvm_deadline *d)
{
	/* The timer stays armed: a next run with a later deadline needs no
	 * system call, and a signal between runs finds nothing to kick. */
	self.deadline_ns = 0;
	__atomic_store_n(&sb->running_tid, 0, __ATOMIC_SEQ_CST);
	self.running = NULL;
	snapvm_kvm_vcpu_unkick(&sb->vcpu);
	d->have_kick = false;
}
