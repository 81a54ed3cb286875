// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * console.c - the guest's output: console bytes kept until a line is
 * whole, written to the output fd under the run's deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "userspace/lib/internal.h"

/* ---- output ---- */

/*
 * All of buf to the output fd; 0, SNAPVM_OUTPUT_TIMED_OUT, or a status. A write
 * blocked on a full pipe is interrupted by the run's timer signal (installed
 * without SA_RESTART, and re-sent until the run ends), so output can never
 * hold a run past its deadline. EPIPE is a host error like any other: the
 * launcher ignores SIGPIPE, and so must an embedder whose guests write to
 * pipes.
 */
int snapvm_console_output(struct snapvm_sandbox *sb, const void *buf, size_t len,
			  struct snapvm_error *err)
{
	const unsigned char *p = buf;
	sigset_t saved;
	bool unblocked = snapvm_deadline_unblock(true, &saved);
	int ret = 0;

	while (len) {
		ssize_t n;

		if (sb->vcpu.kicked) {
			ret = SNAPVM_OUTPUT_TIMED_OUT;
			break;
		}
		n = write(sb->output_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = snapvm_fail_errno(err, EX_IOERR, n < 0 ? errno : EIO,
						"writing guest output to fd %d", sb->output_fd);
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (unblocked)
		snapvm_deadline_unblock(false, &saved);
	return ret;
}

int snapvm_console_flush(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	int ret = snapvm_console_output(sb, sb->console, sb->console_len, err);

	sb->console_len = 0;
	return ret;
}

/* Console bytes are kept until a newline (or a full buffer, or any stop),
 * so a guest printing byte by byte costs one write(2) per line. */
int snapvm_console_put(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
		       struct snapvm_error *err)
{
	for (uint32_t i = 0; i < exit->io.count; i++) {
		char c = (char)exit->io.data[(size_t)i * exit->io.size];

		sb->console[sb->console_len++] = c;
		if (c == '\n' || sb->console_len == sizeof(sb->console)) {
			int ret = snapvm_console_flush(sb, err);

			if (ret)
				return ret;
		}
	}
	return 0;
}
