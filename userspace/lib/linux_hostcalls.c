// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux_hostcalls.c - the Linux personality's host calls (layout/linux.h):
 * the program's bytes, argv/envp, stdin, stdout/stderr, clocks, sleep,
 * randomness, stdio's fstat and ioctl, and the signals the host raises for
 * the program (snapvm_linux_raise).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/linux_host.h"

static int64_t hc_setup(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;

	if (!lx->file || cap < sizeof(lx->setup))
		return -EINVAL;
	lx_files_reset(lx); /* a new run of the program */
	memcpy(out, &lx->setup, sizeof(lx->setup));
	return sizeof(lx->setup);
}

static int64_t hc_image(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	uint64_t off;
	size_t n;

	if (!lx->file || in_len != sizeof(off))
		return -EINVAL;
	memcpy(&off, in, sizeof(off));
	if (off > lx->file_size)
		return -EINVAL;
	n = lx->file_size - off < cap ? lx->file_size - off : cap;
	memcpy(out, lx->file + off, n);
	return (int64_t)n;
}

static int64_t hc_args(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_args *a = (struct lx_args *)lx->args;

	if (cap < lx->args_len)
		return -EINVAL;
	if (getrandom(a->random, sizeof(a->random), 0) != sizeof(a->random))
		return -EIO;
	memcpy(out, lx->args, lx->args_len);
	return (int64_t)lx->args_len;
}

static int64_t hc_read(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	ssize_t n;

	if (lx->snapshot_pending) {
		lx->snapshot_pending = false;
		return LX_READ_SNAPSHOT;
	}
	if (lx->in_buf) {
		size_t left = lx->in_len - lx->in_pos;

		n = (ssize_t)(left < cap ? left : cap);
		memcpy(out, lx->in_buf + lx->in_pos, (size_t)n);
		lx->in_pos += (size_t)n;
		return n;
	}
	if (lx->in_fd < 0)
		return 0;
	/* Wait for input or a signal from the host (snapvm_linux_raise): a
	 * raised signal interrupts the read (EINTR; the personality restarts
	 * it per SA_RESTART), as the run's timeout does. */
	{
		struct pollfd p[2] = {{.fd = lx->in_fd, .events = POLLIN},
				      {.fd = lx->sig_efd, .events = POLLIN}};

		if (poll(p, 2, -1) < 0)
			return -errno;
		if (p[1].revents)
			return -EINTR;
	}
	n = read(lx->in_fd, out, cap);
	return n < 0 ? -errno : n;
}

/* 0 when all of it is written, else -errno (the run's timeout interrupts
 * a blocked write with EINTR). A host call's result may not exceed its
 * output room, and writes have none: 0 stands for "len bytes". */
int64_t lx_write_all(int fd, const unsigned char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static int64_t hc_write(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_io io;
	const unsigned char *data = (const unsigned char *)in + sizeof(io);
	size_t len;

	if (in_len < sizeof(io))
		return -EINVAL;
	memcpy(&io, in, sizeof(io));
	len = in_len - sizeof(io);
	if (io.fd == 1 && lx->out_buf) {
		size_t room = lx->out_cap - lx->out_len;

		if (len > room) {
			lx->out_overflow = true;
			len = room;
		}
		memcpy(lx->out_buf + lx->out_len, data, len);
		lx->out_len += len;
		return 0;
	}
	if (io.fd != 1 && io.fd != 2)
		return -EBADF;
	return lx_write_all(io.fd == 1 ? lx->out_fd : lx->err_fd, data, len);
}

static int64_t hc_stderr(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			 void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;

	return lx_write_all(lx->err_fd, in, in_len);
}

static int64_t hc_time(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct lx_time t;
	struct timespec ts;
	uint32_t clk;

	if (in_len != sizeof(clk) || cap < sizeof(t))
		return -EINVAL;
	memcpy(&clk, in, sizeof(clk));
	/* Linux's clock ids only (the personality checks too): a negative id
	 * names another process's CPU clock on the host. */
	if (clk > 11)
		return -EINVAL;
	/* Per-process and per-thread CPU clocks: the host's monotonic one. */
	if (clock_gettime(clk == 2 || clk == 3 ? CLOCK_MONOTONIC : (clockid_t)clk, &ts))
		return -errno;
	t.sec = ts.tv_sec;
	t.nsec = ts.tv_nsec;
	memcpy(out, &t, sizeof(t));
	return sizeof(t);
}

static int64_t hc_clock(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct lx_clock c = {0};
	struct timespec real, mono, boot;
	int khz;

	if (cap < sizeof(c))
		return -EINVAL;
	/* The rate KVM runs the guest's TSC at; without one, or without the
	 * clocks, the guest asks LX_HC_TIME for every call instead. */
	khz = ioctl(sb->vcpu.fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0 && !clock_gettime(CLOCK_REALTIME, &real) &&
	    !clock_gettime(CLOCK_MONOTONIC, &mono) && !clock_gettime(CLOCK_BOOTTIME, &boot)) {
		c.tsc_khz = (uint64_t)khz;
		c.realtime_ns = real.tv_sec * 1000000000LL + real.tv_nsec;
		c.monotonic_ns = mono.tv_sec * 1000000000LL + mono.tv_nsec;
		c.boottime_ns = boot.tv_sec * 1000000000LL + boot.tv_nsec;
	}
	memcpy(out, &c, sizeof(c));
	return sizeof(c);
}

static int64_t hc_random(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			 void *out, size_t cap)
{
	ssize_t n = getrandom(out, cap, 0);

	return n < 0 ? -errno : n;
}

static int lx_fd(struct snapvm_linux *lx, int fd)
{
	return fd == 0 ? lx->in_fd : fd == 1 ? lx->out_fd : fd == 2 ? lx->err_fd : -1;
}

static int64_t hc_fstat(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_io io;
	struct lx_stat s = {0};
	struct stat st;
	int fd;

	if (in_len != sizeof(io) || cap < sizeof(s))
		return -EINVAL;
	memcpy(&io, in, sizeof(io));
	fd = lx_fd(lx, io.fd);
	if ((io.fd == 0 && lx->in_buf) || (io.fd == 1 && lx->out_buf)) {
		s.mode = S_IFIFO | 0600;
		s.blksize = 4096;
		s.nlink = 1;
	} else {
		if (fd < 0)
			return -EBADF;
		if (fstat(fd, &st))
			return -errno;
		lx_stat_of(&st, &s);
	}
	memcpy(out, &s, sizeof(s));
	return sizeof(s);
}

static int64_t hc_ioctl(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_io io;
	unsigned char buf[64] = {0};
	int fd;

	if (in_len != sizeof(io))
		return -EINVAL;
	memcpy(&io, in, sizeof(io));
	fd = lx_fd(lx, io.fd);
	if ((io.fd == 0 && lx->in_buf) || (io.fd == 1 && lx->out_buf))
		return -ENOTTY;
	if (fd < 0)
		return -EBADF;
	switch (io.reserved) {
	case TCGETS: /* the kernel's struct termios: 36 bytes */
		if (ioctl(fd, TCGETS, buf))
			return -errno;
		memcpy(out, buf, 36);
		return 36;
	case TIOCGWINSZ:
		if (ioctl(fd, TIOCGWINSZ, buf))
			return -errno;
		memcpy(out, buf, sizeof(struct winsize));
		return sizeof(struct winsize);
	case TIOCGPGRP:
		if (!isatty(fd))
			return -ENOTTY;
		memset(out, 0, 4);
		((unsigned char *)out)[0] = 1;
		return 4;
	}
	return -ENOTTY;
}

static int64_t hc_sleep(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct pollfd p = {.fd = lx->sig_efd, .events = POLLIN};
	struct lx_time t;
	struct timespec ts;
	int n;

	if (in_len != sizeof(t))
		return -EINVAL;
	memcpy(&t, in, sizeof(t));
	ts.tv_sec = t.sec;
	ts.tv_nsec = t.nsec;
	/* The run's timeout (the kick signal) or a raised signal: EINTR. */
	n = ppoll(&p, 1, &ts, NULL);
	return n < 0 ? -errno : n > 0 ? -EINTR : 0;
}

/* The program's signal state, and the signals raised for it since the
 * last call (taken: they are the personality's now). */
static int64_t hc_signals(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			  void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_sigstate st;
	uint64_t pending, drain;

	if (in_len != sizeof(st) || cap < sizeof(pending))
		return -EINVAL;
	memcpy(&st, in, sizeof(st));
	__atomic_store_n(&lx->sig_wants, st.wants, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lx->sig_known, 1, __ATOMIC_SEQ_CST);
	/* The eventfd first: a signal raised after the exchange keeps it set. */
	if (read(lx->sig_efd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
		return -errno;
	pending = __atomic_exchange_n(&lx->sig_pending, 0, __ATOMIC_SEQ_CST);
	memcpy(out, &pending, sizeof(pending));
	return sizeof(pending);
}

void snapvm_linux_raise(struct snapvm_linux *lx, int signo)
{
	struct snapvm_sandbox *sb = __atomic_load_n(&lx->sb, __ATOMIC_SEQ_CST);
	uint64_t bit, one = 1;
	int saved_errno = errno;

	if (signo <= 0 || signo > 64)
		return;
	bit = LX_SIGBIT(signo);
	if (signo == SIGKILL || (__atomic_load_n(&lx->sig_known, __ATOMIC_SEQ_CST) &&
				 !(__atomic_load_n(&lx->sig_wants, __ATOMIC_SEQ_CST) & bit))) {
		/* SIG_DFL, not blocked: the host acts alone. */
		if (signo != SIGKILL && (LX_SIG_DEFAULT_NOTHING & bit))
			return;
		if (sb)
			snapvm_sandbox_signal_stop(sb, signo);
		return;
	}
	__atomic_or_fetch(&lx->sig_pending, bit, __ATOMIC_SEQ_CST);
	if (write(lx->sig_efd, &one, sizeof(one)) < 0) {
		/* Full (2^64 - 2 raises): it is set, which is all we need. */
	}
	if (sb)
		snapvm_sandbox_inject(sb, LX_SIGNAL_VECTOR);
	errno = saved_errno;
}

/* Between requests: nothing raised for one reaches the next. */
void lx_signals_clear(struct snapvm_linux *lx, struct snapvm_sandbox *sb)
{
	uint64_t drain;

	__atomic_store_n(&lx->sig_pending, 0, __ATOMIC_SEQ_CST);
	if (read(lx->sig_efd, &drain, sizeof(drain)) < 0) {
		/* EAGAIN: nothing was raised. */
	}
	snapvm_sandbox_signals_clear(sb);
}

/* Serve the program's host calls in sb, and raise its signals there. */
int lx_host_calls_attach(struct snapvm_linux *lx, struct snapvm_sandbox *sb,
			 struct snapvm_error *err)
{
	static const struct {
		uint32_t number;
		snapvm_host_function fn;
	} fns[] = {
	    {LX_HC_SETUP, hc_setup},	 {LX_HC_IMAGE, hc_image},
	    {LX_HC_ARGS, hc_args},	 {LX_HC_READ, hc_read},
	    {LX_HC_WRITE, hc_write},	 {LX_HC_STDERR, hc_stderr},
	    {LX_HC_TIME, hc_time},	 {LX_HC_CLOCK, hc_clock},
	    {LX_HC_RANDOM, hc_random},	 {LX_HC_FSTAT, hc_fstat},
	    {LX_HC_IOCTL, hc_ioctl},	 {LX_HC_SLEEP, hc_sleep},
	    {LX_HC_FILE, lx_hc_file},	 {LX_HC_FILES_RESET, lx_hc_files_reset},
	    {LX_HC_SIGNALS, hc_signals},
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		int ret = snapvm_sandbox_set_host_function(sb, fns[i].number, fns[i].fn, lx, err);

		if (ret)
			return ret;
	}
	__atomic_store_n(&lx->sb, sb, __ATOMIC_SEQ_CST);
	return 0;
}
