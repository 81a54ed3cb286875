/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * io.c - the Linux personality's output to fds 1 and 2 (buffered) and
 * input from fd 0.
 */
#include "guests/linux/lx.h"

/* ---- output and input ---- */

#define OUTBUF (64U << 10)
static struct {
	struct lx_io io;
	char data[OUTBUF];
} outbuf[2];
static size_t outlen[2];
static long outerr[2];

static int is_tty(int fd)
{
	return (lx_setup.flags >> (LX_SETUP_TTY_SHIFT + fd)) & 1;
}

static void flush_fd(int i)
{
	size_t done = 0;

	while (done < outlen[i]) {
		long n;

		outbuf[i].io.fd = i + 1;
		if (done)
			memcpy(outbuf[i].data, outbuf[i].data + done, outlen[i] - done);
		outlen[i] -= done;
		done = 0;
		/* 0: all of it written (a host call's result cannot exceed its
		 * output room, which is none here). */
		n = lx_hostcall(LX_HC_WRITE, &outbuf[i], sizeof(struct lx_io) + outlen[i], NULL, 0);
		if (n < 0) {
			outerr[i] = n;
			break;
		}
		done = outlen[i];
	}
	outlen[i] = 0;
}

void lx_flush(void)
{
	flush_fd(0);
	flush_fd(1);
}

long lx_output(int fd, uintptr_t buf, size_t len)
{
	int i = fd - 1;
	size_t done = 0;

	if (outerr[i]) {
		long e = outerr[i];

		outerr[i] = 0;
		return e;
	}
	if (!lx_user_ok(buf, len, 0))
		return -EFAULT;
	if (outlen[!i])
		flush_fd(!i);
	while (done < len) {
		size_t n = len - done;

		if (n > OUTBUF - outlen[i])
			n = OUTBUF - outlen[i];
		lx_user_begin();
		memcpy(outbuf[i].data + outlen[i], (const void *)(buf + done), n);
		lx_user_end();
		outlen[i] += n;
		done += n;
		if (outlen[i] == OUTBUF)
			flush_fd(i);
	}
	if (is_tty(fd))
		flush_fd(i);
	return (long)len;
}

long lx_read_stdin(uintptr_t buf, size_t len)
{
	struct lx_io io = {.fd = 0};
	long n;

	if (!len)
		return 0;
	if (!lx_range_ok(buf, len))
		return -EFAULT;
	if (len > SNAPVM_HOST_CALL_MAX)
		len = SNAPVM_HOST_CALL_MAX;
	if (!lx_user_ok(buf, len, 1))
		return -EFAULT;
	/* What the program wrote before it waits for input must reach the
	 * host now, on a pipe too: a container that prints a prompt or
	 * "ready" and then reads would otherwise show nothing until it
	 * exits. Free when nothing is buffered. */
	lx_flush();
	for (;;) {
		n = lx_hostcall(LX_HC_READ, &io, sizeof(io), (void *)buf, len);
		if (n != LX_READ_SNAPSHOT)
			return n;
		/* --snapshot-at=first-read: the host takes the snapshot here;
		 * each restore of it reads again, from its own input. */
		lx_flush();
		lx_take_snapshot();
	}
}
