// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux.c - Linux programs as guests (issue 18), per layout (i686 runs
 * Debian's busybox-static for i386, amd64 the amd64 one, from .cache/busybox
 * as tests/vm/setup fetches them):
 *  - linux.request.<arch>: restore + sha256sum of 4 KiB of stdin from a
 *    first-read snapshot (snapvm_linux_request) vs posix_spawn of the same
 *    busybox with a pipe, natively (target <= 1);
 *  - linux.start.<arch>: a cold `snapvm run busybox true` vs a native spawn
 *    of `busybox true` (target <= 5);
 *  - linux.syscall.<arch>: one getppid in a ring-3 loop in the sandbox vs
 *    the same program natively, from the difference of two loop lengths
 *    (target <= 1.5);
 *  - linux.direct_write: a `gzip -c` request of 1 MiB, i686 vs amd64 (no
 *    target: reported, explained in bench/README.md).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "tests/kselftest/linux_helpers.h"

extern char **environ;

static const char *busybox(uint32_t layout, char *buf, size_t len)
{
	snprintf(buf, len, "%s/../../.cache/busybox/%s/bin/busybox", bench_config.guests_dir,
		 layout == SNAPVM_LAYOUT_I686 ? "i386" : "amd64");
	return buf;
}

/* Spawn argv with in_len bytes of in on a pipe as stdin, read its stdout
 * to EOF, wait: the time of all of it. */
static int spawn_pipe(const char *const *argv, const void *in, size_t in_len, double *ns)
{
	int to[2], from[2], status;
	posix_spawn_file_actions_t fa;
	uint64_t start = bench_now_ns();
	char buf[65536];
	pid_t pid;
	size_t done = 0;

	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(to[0]);
	close(from[1]);
	while (done < in_len) {
		ssize_t n = write(to[1], (const char *)in + done, in_len - done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(to[1]);
	while (read(from[0], buf, sizeof(buf)) > 0)
		;
	close(from[0]);
	waitpid(pid, &status, 0);
	*ns = (double)(bench_now_ns() - start);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

struct lx_sandbox {
	struct snapvm_linux *lx;
	struct snapvm_sandbox *sb;
};

/* A sandbox of `busybox args` stopped at its first read of stdin. */
static int first_read_sandbox(uint32_t layout, const char *const *args, struct lx_sandbox *s,
			      char *why, size_t why_len)
{
	static const char *const none[] = {"busybox", NULL};
	const char *argv[8] = {"busybox"};
	char path[PATH_MAX];
	struct snapvm_linux_options o = {.snapshot_at = SNAPVM_LINUX_SNAPSHOT_FIRST_READ};
	struct snapvm_linux_options o2 = {.argv = none};
	struct snapvm_snapshot *snap = NULL, *taken = NULL;
	struct snapvm_sandbox *sb = NULL;
	struct snapvm_linux *lx = NULL;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	int ret, n = 1;

	for (; *args && n < 7; args++)
		argv[n++] = *args;
	o.argv = argv;
	ret = snapvm_linux_create(busybox(layout, path, sizeof(path)), &o, &lx, &err) ||
	      snapvm_linux_snapshot(lx, SNAPVM_MEMORY_AUTO, &snap, &err) ||
	      snapvm_sandbox_create(snap, NULL, &sb, &err) || snapvm_linux_attach(lx, sb, &err) ||
	      snapvm_sandbox_run(sb, 60000, &outcome, &err);
	if (!ret && outcome.stop != SNAPVM_STOP_SNAPSHOT) {
		snprintf(why, why_len, "busybox did not stop at its first read (stop %d)",
			 outcome.stop);
		ret = -1;
	} else if (ret) {
		snprintf(why, why_len, "%s", err.message);
	}
	if (!ret && (snapvm_sandbox_take_snapshot(sb, &taken, &err) ||
		     snapvm_linux_create(NULL, &o2, &s->lx, &err) ||
		     snapvm_sandbox_create(taken, NULL, &s->sb, &err) ||
		     snapvm_linux_attach(s->lx, s->sb, &err))) {
		snprintf(why, why_len, "%s", err.message);
		ret = -1;
	}
	if (sb)
		snapvm_sandbox_destroy(sb);
	snapvm_linux_destroy(lx);
	if (snap)
		snapvm_snapshot_put(snap);
	if (taken)
		snapvm_snapshot_put(taken);
	return ret;
}

static void lx_sandbox_free(struct lx_sandbox *s)
{
	if (s->sb)
		snapvm_sandbox_destroy(s->sb);
	snapvm_linux_destroy(s->lx);
	memset(s, 0, sizeof(*s));
}

/* One request's time, or < 0 (why says why). */
static char request_why[1400];

static double request_ns(struct lx_sandbox *s, const void *in, size_t in_len)
{
	static unsigned char out[4 << 20];
	struct snapvm_error err;
	size_t out_len;
	int status;
	uint64_t start = bench_now_ns();

	if (snapvm_linux_request(s->sb, s->lx, in, in_len, out, sizeof(out), &out_len, &status,
				 60000, &err)) {
		snprintf(request_why, sizeof(request_why), "request: %s", err.message);
		return -1;
	}
	if (status) {
		snprintf(request_why, sizeof(request_why), "request: exit status %d", status);
		return -1;
	}
	return (double)(bench_now_ns() - start);
}

static void request_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	static const char *const args[] = {"sha256sum", NULL};
	struct bench_samples ours = {0}, native = {0};
	struct bench_budget budget = bench_budget(10, 2000, 10);
	struct lx_sandbox s = {0};
	struct bench_figure *f;
	char name[64], path[PATH_MAX], why[1400];
	unsigned char in[4096];
	uint64_t start;

	snprintf(name, sizeof(name), "linux.request.%s", arch);
	f = bench_figure_add("linux", name, "ns",
			     "restore + busybox sha256sum of 4 KiB stdin (first-read snapshot)");
	bench_figure_baseline(f, "posix_spawn", "posix_spawn of the same busybox with a pipe");
	bench_figure_target(f, 1.0, "<= 1");
	bench_progress("linux request %s ...", arch);
	if (getrandom(in, sizeof(in), 0) != sizeof(in) ||
	    first_read_sandbox(layout, args, &s, why, sizeof(why))) {
		bench_figure_skip(f, "%s", why);
		return;
	}
	start = bench_now_ns();
	while (bench_budget_more(&budget, ours.n, start)) {
		const char *argv[] = {busybox(layout, path, sizeof(path)), "sha256sum", NULL};
		double a = request_ns(&s, in, sizeof(in)), b;

		if (a < 0) {
			bench_figure_skip(f, "%s", request_why);
			goto out;
		}
		if (spawn_pipe(argv, in, sizeof(in), &b)) {
			bench_figure_skip(f, "the native spawn of %s sha256sum failed", argv[0]);
			goto out;
		}
		bench_samples_add(&ours, a);
		bench_samples_add(&native, b);
	}
	bench_figure_set(f, bench_stats_of(&ours), bench_stats_of(&native));
out:
	lx_sandbox_free(&s);
	bench_samples_free(&ours);
	bench_samples_free(&native);
}

static void start_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct bench_samples ours = {0}, native = {0};
	struct bench_budget budget = bench_budget(5, 200, 10);
	struct bench_figure *f;
	char name[64], bb[PATH_MAX], launcher[PATH_MAX];
	uint64_t start;

	snprintf(name, sizeof(name), "linux.start.%s", arch);
	f = bench_figure_add("linux", name, "ns", "cold `snapvm run busybox true`");
	bench_figure_baseline(f, "posix_spawn", "native spawn of `busybox true`");
	bench_figure_target(f, 5.0, "<= 5");
	bench_progress("linux start %s ...", arch);
	snprintf(launcher, sizeof(launcher), "%s/../snapvm", bench_config.guests_dir);
	busybox(layout, bb, sizeof(bb));
	start = bench_now_ns();
	while (bench_budget_more(&budget, ours.n, start)) {
		const char *run[] = {launcher, "run", bb, "true", NULL};
		const char *nat[] = {bb, "true", NULL};
		double a, b;

		if (spawn_pipe(run, "", 0, &a) || spawn_pipe(nat, "", 0, &b)) {
			bench_figure_skip(f, "snapvm run %s true failed", bb);
			goto out;
		}
		bench_samples_add(&ours, a);
		bench_samples_add(&native, b);
	}
	bench_figure_set(f, bench_stats_of(&ours), bench_stats_of(&native));
out:
	bench_samples_free(&ours);
	bench_samples_free(&native);
}

/* A static program: n getppid calls in a loop, then exit_group(0). */
static int write_loop_program(const char *path, bool is64, uint32_t n)
{
	unsigned char code[64];
	size_t len = 0;

	/* mov $n, %ebx (amd64: %r12d); 1: mov $getppid, %eax; syscall/int $0x80;
	 * dec; jnz 1b; mov $exit_group, %eax; xor %edi/%ebx; syscall/int $0x80 */
	if (is64) {
		code[len++] = 0x41, code[len++] = 0xbc; /* mov $n, %r12d */
		memcpy(code + len, &n, 4), len += 4;
		code[len++] = 0xb8, code[len++] = 110, code[len++] = 0, code[len++] = 0,
		code[len++] = 0;					    /* mov $110, %eax */
		code[len++] = 0x0f, code[len++] = 0x05;			    /* syscall */
		code[len++] = 0x41, code[len++] = 0xff, code[len++] = 0xcc; /* dec %r12d */
		code[len++] = 0x75, code[len++] = (unsigned char)-12;	    /* jnz */
		code[len++] = 0xb8, code[len++] = 231, code[len++] = 0, code[len++] = 0,
		code[len++] = 0;			/* mov $231, %eax */
		code[len++] = 0x31, code[len++] = 0xff; /* xor %edi, %edi */
		code[len++] = 0x0f, code[len++] = 0x05;
	} else {
		code[len++] = 0xbe; /* mov $n, %esi */
		memcpy(code + len, &n, 4), len += 4;
		code[len++] = 0xb8, code[len++] = 64, code[len++] = 0, code[len++] = 0,
		code[len++] = 0;				      /* mov $64, %eax */
		code[len++] = 0xcd, code[len++] = 0x80;		      /* int $0x80 */
		code[len++] = 0x4e;				      /* dec %esi */
		code[len++] = 0x75, code[len++] = (unsigned char)-10; /* jnz */
		code[len++] = 0xb8, code[len++] = 252, code[len++] = 0, code[len++] = 0,
		code[len++] = 0;			/* mov $252, %eax */
		code[len++] = 0x31, code[len++] = 0xdb; /* xor %ebx, %ebx */
		code[len++] = 0xcd, code[len++] = 0x80;
	}
	return write_program(path, is64, code, len);
}

/* A fresh sandbox running the program to its exit. */
static int sandbox_run_ns(const char *prog, double *ns)
{
	static const char *const argv[] = {"loop", NULL};
	struct snapvm_linux_options o = {.argv = argv};
	struct snapvm_snapshot *snap = NULL;
	struct snapvm_sandbox *sb = NULL;
	struct snapvm_linux *lx = NULL;
	struct snapvm_outcome outcome = {0};
	struct snapvm_error err;
	int ret;

	ret = snapvm_linux_create(prog, &o, &lx, &err) ||
	      snapvm_linux_snapshot(lx, SNAPVM_MEMORY_AUTO, &snap, &err) ||
	      snapvm_sandbox_create(snap, NULL, &sb, &err) || snapvm_linux_attach(lx, sb, &err);
	if (!ret) {
		uint64_t start = bench_now_ns();

		ret = snapvm_sandbox_run(sb, 600000, &outcome, &err) ||
		      outcome.stop != SNAPVM_STOP_EXIT || outcome.code;
		*ns = (double)(bench_now_ns() - start);
	}
	if (sb)
		snapvm_sandbox_destroy(sb);
	if (snap)
		snapvm_snapshot_put(snap);
	snapvm_linux_destroy(lx);
	return ret;
}

static void syscall_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct bench_samples ours = {0}, native = {0};
	struct bench_budget budget = bench_budget(3, 50, 10);
	struct bench_figure *f;
	char name[64], small[PATH_MAX], big[PATH_MAX];
	const uint32_t n1 = 1000, n2 = 101000;
	uint64_t start;

	snprintf(name, sizeof(name), "linux.syscall.%s", arch);
	f = bench_figure_add("linux", name, "ns", "one getppid from ring 3, answered in the guest");
	bench_figure_baseline(f, "native", "the same program natively");
	bench_figure_target(f, 1.5, "<= 1.5");
	bench_progress("linux syscall %s ...", arch);
	snprintf(small, sizeof(small), "/tmp/snapvm-bench-loop-%d-small", getpid());
	snprintf(big, sizeof(big), "/tmp/snapvm-bench-loop-%d-big", getpid());
	if (write_loop_program(small, layout == SNAPVM_LAYOUT_AMD64, n1) ||
	    write_loop_program(big, layout == SNAPVM_LAYOUT_AMD64, n2)) {
		bench_figure_skip(f, "cannot write the loop programs in /tmp");
		return;
	}
	start = bench_now_ns();
	while (bench_budget_more(&budget, ours.n, start)) {
		const char *ns_small[] = {small, NULL}, *ns_big[] = {big, NULL};
		double a1, a2, b1, b2;

		if (sandbox_run_ns(small, &a1) || sandbox_run_ns(big, &a2) ||
		    spawn_pipe(ns_small, "", 0, &b1) || spawn_pipe(ns_big, "", 0, &b2)) {
			bench_figure_skip(f, "the getppid loop failed");
			goto out;
		}
		bench_samples_add(&ours, (a2 - a1) / (n2 - n1));
		bench_samples_add(&native, (b2 - b1) / (n2 - n1));
	}
	bench_figure_set(f, bench_stats_of(&ours), bench_stats_of(&native));
out:
	unlink(small);
	unlink(big);
	bench_samples_free(&ours);
	bench_samples_free(&native);
}

static void direct_write(void)
{
	static const char *const args[] = {"gzip", "-c", NULL};
	struct bench_samples i686 = {0}, amd64 = {0};
	struct bench_budget budget = bench_budget(5, 200, 20);
	struct lx_sandbox a = {0}, b = {0};
	struct bench_figure *f;
	static unsigned char in[1 << 20];
	char why[1400];
	uint64_t start;

	f = bench_figure_add("linux", "linux.direct_write", "ns",
			     "i686: restore + busybox gzip -c of 1 MiB (first-read snapshot)");
	bench_figure_baseline(f, "amd64", "the same request on amd64");
	bench_progress("linux direct_write ...");
	if (getrandom(in, sizeof(in), 0) != sizeof(in) ||
	    first_read_sandbox(SNAPVM_LAYOUT_I686, args, &a, why, sizeof(why)) ||
	    first_read_sandbox(SNAPVM_LAYOUT_AMD64, args, &b, why, sizeof(why))) {
		bench_figure_skip(f, "%s", why);
		goto out;
	}
	start = bench_now_ns();
	while (bench_budget_more(&budget, i686.n, start)) {
		double x = request_ns(&a, in, sizeof(in)), y = request_ns(&b, in, sizeof(in));

		if (x < 0 || y < 0) {
			bench_figure_skip(f, "%s", request_why);
			goto out;
		}
		bench_samples_add(&i686, x);
		bench_samples_add(&amd64, y);
	}
	bench_figure_set(f, bench_stats_of(&i686), bench_stats_of(&amd64));
out:
	lx_sandbox_free(&a);
	lx_sandbox_free(&b);
	bench_samples_free(&i686);
	bench_samples_free(&amd64);
}

void bench_linux(void)
{
	for (uint32_t layout = SNAPVM_LAYOUT_I686; layout <= SNAPVM_LAYOUT_AMD64; layout++) {
		request_layout(layout);
		start_layout(layout);
		syscall_layout(layout);
	}
	direct_write();
}
