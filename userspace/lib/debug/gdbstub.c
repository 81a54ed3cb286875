// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdbstub.c - a gdb remote stub for one sandbox at a time, its session:
 * listen on TCP (localhost by default) or a unix socket, accept, turn each
 * packet into an action, run the guest in slices (single steps, Ctrl-C
 * while it runs) and report its stops. The packets are gdb_packet.c's; the
 * registers, memory and breakpoints gdb_target.c's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/debug/gdb.h"
#include "userspace/lib/internal.h"

/* A run is cut into slices this long so that gdb's Ctrl-C is seen between
 * them without a second thread. */
#define SLICE_MS 50

/* ---- the session ---- */

enum action { SERVE, RESUME, DETACH, KILL };

static void stop_reply(struct snapvm_gdb *g, const char *reply)
{
	snprintf(g->last_stop, sizeof(g->last_stop), "%s", reply);
	snapvm_gdb_send_packet(g, reply);
}

/* Hg/Hc and T name a thread: all (-1), any (0), or the one vCPU (1). */
static bool thread_ok(const char *id, bool any)
{
	return !strcmp(id, "1") || (any && (!strcmp(id, "0") || !strcmp(id, "-1")));
}

/* c/s: "[ADDR]"; C/S: "SIG[;ADDR]" (a guest has no signals: dropped).
 * Sets RIP to ADDR; false when malformed, and then nothing changed. */
static bool resume_args(struct snapvm_gdb *g, const char *pkt)
{
	const char *addr = pkt + 1;
	uint64_t rip, sig;
	char num[3];

	if (pkt[0] == 'C' || pkt[0] == 'S') {
		const char *semi = strchr(pkt, ';');
		size_t len = semi ? (size_t)(semi - (pkt + 1)) : strlen(pkt + 1);

		if (len < 1 || len > 2)
			return false;
		memcpy(num, pkt + 1, len);
		num[len] = '\0';
		if (snapvm_gdb_parse_hex(num, &sig))
			return false;
		addr = semi ? semi + 1 : "";
		if (semi && !*addr)
			return false;
	}
	if (*addr) {
		struct kvm_regs *r;

		if (snapvm_gdb_parse_hex(addr, &rip) ||
		    snapvm_kvm_vcpu_regs(&g->sb->vcpu, &r, NULL))
			return false;
		r->rip = rip;
		snapvm_kvm_vcpu_regs_changed(&g->sb->vcpu);
	}
	return true;
}

/* One packet while the guest is held; what the session does next.
 * Malformed packets get E01 and change nothing. */
static enum action handle_packet(struct snapvm_gdb *g, char *pkt)
{
	uint64_t regno;

	switch (pkt[0]) {
	case '?':
		snapvm_gdb_send_packet(g, pkt[1] ? "E01" : g->last_stop);
		return SERVE;
	case 'g':
		if (pkt[1])
			snapvm_gdb_send_packet(g, "E01");
		else
			snapvm_gdb_read_registers(g, -1);
		return SERVE;
	case 'G':
		snapvm_gdb_write_registers(g, pkt + 1, false);
		return SERVE;
	case 'p':
		if (snapvm_gdb_parse_hex(pkt + 1, &regno) || regno > INT32_MAX)
			snapvm_gdb_send_packet(g, "E01");
		else
			snapvm_gdb_read_registers(g, (int)regno);
		return SERVE;
	case 'P':
		snapvm_gdb_write_registers(g, pkt + 1, true);
		return SERVE;
	case 'm':
		snapvm_gdb_read_memory(g, pkt + 1);
		return SERVE;
	case 'M':
		snapvm_gdb_write_memory(g, pkt + 1);
		return SERVE;
	case 'Z':
	case 'z':
		snapvm_gdb_set_breakpoint(g, pkt + 1, pkt[0] == 'Z');
		return SERVE;
	case 'c':
	case 's':
	case 'C':
	case 'S':
		if (!resume_args(g, pkt)) {
			snapvm_gdb_send_packet(g, "E01");
			return SERVE;
		}
		g->step = pkt[0] == 's' || pkt[0] == 'S';
		return RESUME;
	case 'D':
		if (pkt[1]) {
			snapvm_gdb_send_packet(g, "E01");
			return SERVE;
		}
		snapvm_gdb_send_packet(g, "OK");
		return DETACH;
	case 'k':
		if (pkt[1]) {
			snapvm_gdb_send_packet(g, "E01");
			return SERVE;
		}
		return KILL;
	case 'H':
		snapvm_gdb_send_packet(
		    g, (pkt[1] == 'g' || pkt[1] == 'c') && thread_ok(pkt + 2, true) ? "OK" : "E01");
		return SERVE;
	case 'T':
		snapvm_gdb_send_packet(g, thread_ok(pkt + 1, false) ? "OK" : "E01");
		return SERVE;
	case 'q':
		if (!strncmp(pkt, "qSupported", 10))
			snapvm_gdb_send_packet(
			    g, "PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+");
		else if (!strncmp(pkt, "qXfer:features:read:", 20))
			snapvm_gdb_xfer_features(g, pkt + 20);
		else if (!strcmp(pkt, "qAttached"))
			snapvm_gdb_send_packet(g, "1");
		else if (!strcmp(pkt, "qC"))
			snapvm_gdb_send_packet(g, "QC1");
		else if (!strcmp(pkt, "qfThreadInfo"))
			snapvm_gdb_send_packet(g, "m1");
		else if (!strcmp(pkt, "qsThreadInfo"))
			snapvm_gdb_send_packet(g, "l");
		else
			snapvm_gdb_send_packet(g, "");
		return SERVE;
	default:
		snapvm_gdb_send_packet(g, ""); /* not supported */
		return SERVE;
	}
}

/* Feed received bytes to the framing; a complete packet is acknowledged
 * and handled. Returns the action, or -1 when the connection must close. */
static int receive(struct snapvm_gdb *g, const unsigned char *buf, size_t n, bool running,
		   bool *interrupt, enum action *action)
{
	bool junk = false;

	for (size_t i = 0; i < n; i++) {
		switch (snapvm_gdb_rx_byte(&g->rx, buf[i])) {
		case SNAPVM_GDB_RX_NONE:
			break;
		case SNAPVM_GDB_RX_INTERRUPT:
			*interrupt = true;
			break;
		case SNAPVM_GDB_RX_JUNK:
			junk = true;
			break;
		case SNAPVM_GDB_RX_OVERSIZED:
			return -1; /* nothing sane follows: close */
		case SNAPVM_GDB_RX_BAD_CHECKSUM:
			if (snapvm_gdb_send_all(g, "-", 1))
				return -1;
			break;
		case SNAPVM_GDB_RX_PACKET:
			if (snapvm_gdb_send_all(g, "+", 1))
				return -1;
			if (running) /* all-stop: nothing but Ctrl-C while it runs */
				break;
			*action = handle_packet(g, g->rx.buf);
			if (*action != SERVE)
				return 0;
			break;
		}
	}
	/* Bytes outside any packet: a NAK, so a confused client hears of it. */
	if (junk && snapvm_gdb_send_all(g, "-", 1))
		return -1;
	return 0;
}

/* Serve gdb while the guest is held, until it resumes, detaches or kills. */
static enum action serve(struct snapvm_gdb *g)
{
	unsigned char buf[4096];
	enum action action = SERVE;
	bool interrupt = false;

	while (action == SERVE) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || receive(g, buf, (size_t)n, false, &interrupt, &action) < 0) {
			snapvm_gdb_disconnect(g);
			return DETACH; /* gdb went away: the guest runs on alone */
		}
	}
	return action;
}

/* Between slices: did gdb send Ctrl-C (or hang up)? */
static bool poll_interrupt(struct snapvm_gdb *g)
{
	struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
	unsigned char buf[256];
	bool interrupt = false;
	enum action action = SERVE;
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (n > 0 && receive(g, buf, (size_t)n, true, &interrupt, &action) < 0)) {
		snapvm_gdb_disconnect(g);
		return false;
	}
	return interrupt;
}

/* A DEBUG stop: which breakpoint, or the end of a step. */
static void debug_stop(struct snapvm_gdb *g)
{
	const struct kvm_debug_exit_arch *d = &g->sb->debug_exit;
	const char *why = "";

	if (d->exception == 3) {
		/* #BP: RIP at the int3 (KVM intercepts before it executes); be
		 * safe about a CPU that reports it after. */
		struct kvm_regs *r;

		if (!snapvm_kvm_vcpu_regs(&g->sb->vcpu, &r, NULL) &&
		    !snapvm_gdb_find_bp(g, 0, r->rip) && snapvm_gdb_find_bp(g, 0, r->rip - 1)) {
			r->rip--;
			snapvm_kvm_vcpu_regs_changed(&g->sb->vcpu);
		}
		why = "swbreak:;";
	} else if (!g->step && snapvm_gdb_find_bp(g, -1, d->pc)) {
		/* Traced onto a BP_STEP breakpoint (or a DR one at the same
		 * address). */
		why = snapvm_gdb_find_bp(g, -1, d->pc)->type == 0 ? "swbreak:;" : "hwbreak:;";
	} else if (d->dr6 & 0xf) {
		for (int i = 0; i < HW_SLOTS; i++)
			if (d->dr6 >> i & 1 && g->hw_used[i]) {
				struct breakpoint *bp = snapvm_gdb_find_bp(g, -1, g->hw_addr[i]);

				why = bp && bp->type == 0 ? "swbreak:;" : "hwbreak:;";
			}
	}
	char reply[32];

	snprintf(reply, sizeof(reply), "T05%s", why);
	stop_reply(g, reply);
}

static bool needs_trace(const struct snapvm_gdb *g)
{
	for (unsigned int i = 0; i < g->nbps; i++)
		if (g->bps[i].how == BP_STEP)
			return true;
	return false;
}

/* Continue one slice by single steps, for BP_STEP breakpoints: stops at
 * one (SNAPVM_STOP_DEBUG), at any other stop, or as SNAPVM_STOP_TIMEOUT
 * when the slice is over. */
static int trace_slice(struct snapvm_gdb *g, uint64_t slice_ms, struct snapvm_outcome *outcome,
		       struct snapvm_error *err)
{
	uint64_t start = snapvm_gdb_now_ms();

	for (;;) {
		const struct kvm_debug_exit_arch *d = &g->sb->debug_exit;
		int ret = snapvm_sandbox_run(g->sb, 0, outcome, err);

		if (ret || outcome->stop != SNAPVM_STOP_DEBUG)
			return ret;
		/* A debug register or int3 of ours, or a breakpoint reached. */
		if (d->exception == 3 || (d->dr6 & 0xf) || snapvm_gdb_find_bp(g, -1, d->pc))
			return 0;
		if (snapvm_gdb_now_ms() - start >= slice_ms) {
			outcome->stop = SNAPVM_STOP_TIMEOUT;
			return 0;
		}
	}
}

int snapvm_gdb_run(struct snapvm_gdb *g, struct snapvm_sandbox *sb, uint64_t timeout_ms,
		   struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	uint64_t spent = 0;
	bool trace;
	int ret;

	g->sb = sb;
	for (;;) {
		uint64_t slice = SLICE_MS, start;

		if (g->fd >= 0 && g->stopped) {
			enum action action = serve(g);

			g->stopped = false;
			if (action == KILL) {
				struct kvm_regs *r;

				g->killed = true;
				snapvm_gdb_disconnect(g);
				snapvm_gdb_apply_debug(g, false, false, NULL);
				memset(outcome, 0, sizeof(*outcome));
				outcome->stop = SNAPVM_STOP_INTERRUPTED;
				if (!snapvm_kvm_vcpu_regs(&sb->vcpu, &r, NULL))
					outcome->rip = r->rip;
				snprintf(outcome->message, sizeof(outcome->message),
					 "killed by gdb at RIP 0x%llx",
					 (unsigned long long)outcome->rip);
				return 0;
			}
			if (action == DETACH) {
				snapvm_gdb_disconnect(g);
				ret = snapvm_gdb_apply_debug(g, false, false, err);
				if (ret)
					return ret;
			}
			if (g->end_pending) {
				g->end_pending = false;
				*outcome = g->ended;
				return 0;
			}
		}
		if (g->fd < 0) /* detached: the rest of the run as usual */
			return snapvm_sandbox_run(sb, timeout_ms ? timeout_ms - spent : 0, outcome,
						  err);
		if (timeout_ms && timeout_ms - spent < slice)
			slice = timeout_ms - spent;
		trace = !g->step && needs_trace(g);
		ret = snapvm_gdb_apply_debug(g, true, g->step || trace, err);
		if (ret)
			return ret;
		snapvm_gdb_insert_int3s(g);
		start = snapvm_gdb_now_ms();
		if (trace)
			ret = trace_slice(g, slice, outcome, err);
		else
			ret = snapvm_sandbox_run(sb, slice, outcome, err);
		spent += snapvm_gdb_now_ms() - start;
		snapvm_gdb_remove_int3s(g);
		if (ret)
			return ret;
		switch (outcome->stop) {
		case SNAPVM_STOP_DEBUG:
			debug_stop(g);
			g->stopped = true;
			break;
		case SNAPVM_STOP_TIMEOUT:
			if (timeout_ms && spent >= timeout_ms)
				return 0;
			if (poll_interrupt(g)) {
				stop_reply(g, "T02");
				g->stopped = true;
			}
			break;
		case SNAPVM_STOP_ABORT:
		case SNAPVM_STOP_FAULT:
			/* Held for gdb to look at; resuming ends the run. */
			g->ended = *outcome;
			g->end_pending = true;
			/* An exception the runtime caught is a SIGSEGV, as in the core. */
			stop_reply(g, outcome->stop == SNAPVM_STOP_ABORT && !sb->abort_frame
					  ? "T06"
					  : "T0b");
			g->stopped = true;
			break;
		default:
			return 0;
		}
		if (g->stopped && timeout_ms && spent >= timeout_ms)
			spent = timeout_ms - 1; /* a held guest's deadline waits */
	}
}

void snapvm_gdb_end(struct snapvm_gdb *g, int status)
{
	char reply[8];

	if (!g)
		return;
	/* gdb waits for a stop reply only while the guest runs. */
	if (g->fd >= 0 && !g->stopped && !g->killed) {
		snprintf(reply, sizeof(reply), "W%02x", status & 0xff);
		snapvm_gdb_send_packet(g, reply);
	}
	snapvm_gdb_disconnect(g);
	if (g->sb)
		snapvm_gdb_apply_debug(g, false, false, NULL);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	if (g->unix_path[0])
		unlink(g->unix_path);
	free(g);
}

bool snapvm_gdb_killed(const struct snapvm_gdb *g)
{
	return g && g->killed;
}

int snapvm_gdb_listen(const char *where, struct snapvm_gdb **out, char *address, size_t size,
		      struct snapvm_error *err)
{
	struct snapvm_gdb *g = calloc(1, sizeof(*g));
	int fd = -1, one = 1;

	*out = NULL;
	if (!g)
		return snapvm_fail(err, EX_OSERR, "out of memory for the gdb stub");
	g->listen_fd = g->fd = -1;
	g->stopped = true;
	/* Before the seccomp filter: the probe makes a VM of its own. */
	snapvm_kvm_probe_guest_debug(&g->hw_ok, &g->int3_ok);
	/* Test-only (debug_test): Z0 as an int3 wherever the host may write,
	 * as on a real host once the four debug registers are taken. The
	 * test VM's KVM honours neither, and its guests never execute one. */
	if (getenv("SNAPVM_GDB_FORCE_INT3") && !strcmp(getenv("SNAPVM_GDB_FORCE_INT3"), "1")) {
		g->hw_ok = false;
		g->int3_ok = true;
	}
	snprintf(g->last_stop, sizeof(g->last_stop), "S05");
	if (!strncmp(where, "unix:", 5)) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		bool bound;

		if (!where[5] || strlen(where + 5) >= sizeof(sun.sun_path)) {
			free(g);
			return snapvm_fail(err, EX_USAGE,
					   "--gdb=%s: want unix:PATH, at most %zu bytes", where,
					   sizeof(sun.sun_path) - 1);
		}
		strcpy(sun.sun_path, where + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		/* Whoever connects first controls the guest: the owner only.
		 * Nobody can connect between bind and chmod: no listen yet. */
		bound = fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;

		if (bound && chmod(sun.sun_path, 0600) == 0)
			snprintf(g->unix_path, sizeof(g->unix_path), "%s", sun.sun_path);
		else if (fd >= 0) {
			int errnum = errno;

			close(fd);
			if (bound)
				unlink(sun.sun_path);
			free(g);
			return snapvm_fail_errno(err, EX_CANTCREAT, errnum, "gdb stub: bind %s",
						 where + 5);
		}
		snprintf(address, size, "%s", where);
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		const char *colon = strrchr(where, ':'), *port = colon ? colon + 1 : where;
		char host[64] = "127.0.0.1", *end;
		unsigned long n;

		/* HOST:PORT binds elsewhere, on purpose only. */
		if (colon) {
			if ((size_t)(colon - where) >= sizeof(host) || colon == where)
				goto bad;
			memcpy(host, where, (size_t)(colon - where));
			host[colon - where] = '\0';
			if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
				goto bad;
		}
		errno = 0;
		n = strtoul(port, &end, 10);
		/* Port 0: the kernel picks a free one, and address names it. */
		if (errno || end == port || *end || n > 65535 || *port == '-')
			goto bad;
		sin.sin_port = htons((uint16_t)n);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			int errnum = errno;

			close(fd);
			free(g);
			return snapvm_fail_errno(err, EX_UNAVAILABLE, errnum,
						 "gdb stub: bind %s:%lu", host, n);
		}
		if (fd >= 0 && !getsockname(fd, (struct sockaddr *)&sin, &(socklen_t){sizeof(sin)}))
			n = ntohs(sin.sin_port);
		snprintf(address, size, "%s:%lu", host, n);
	}
	if (fd < 0) {
		int errnum = errno;

		free(g);
		return snapvm_fail_errno(err, EX_OSERR, errnum, "gdb stub: socket");
	}
	if (listen(fd, 1) != 0) {
		int errnum = errno;

		close(fd);
		if (g->unix_path[0])
			unlink(g->unix_path);
		free(g);
		return snapvm_fail_errno(err, EX_OSERR, errnum, "gdb stub: listen");
	}
	g->listen_fd = fd;
	*out = g;
	return 0;
bad:
	free(g);
	return snapvm_fail(err, EX_USAGE,
			   "--gdb=%s: want PORT (1-65535 on 127.0.0.1, 0 for any free one), "
			   "ADDRESS:PORT (IPv4) or unix:PATH",
			   where);
}

int snapvm_gdb_accept(struct snapvm_gdb *g, struct snapvm_error *err)
{
	int one = 1;

	do
		g->fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (g->fd < 0 && errno == EINTR);
	if (g->fd < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "gdb stub: accept");
	/* Small packets, answered at once. */
	setsockopt(g->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* One debugger only: nobody else connects later. */
	close(g->listen_fd);
	g->listen_fd = -1;
	if (g->unix_path[0]) {
		unlink(g->unix_path);
		g->unix_path[0] = '\0';
	}
	return 0;
}

int snapvm_gdb_seccomp_install(struct snapvm_gdb *g, struct snapvm_error *err)
{
	return snapvm_seccomp_install_fd(g->fd, NULL, 0, err);
}

int snapvm_gdb_seccomp_install_dirs(struct snapvm_gdb *g, const int *dirfds, unsigned int count,
				    struct snapvm_error *err)
{
	return snapvm_seccomp_install_fd(g->fd, dirfds, count, err);
}
