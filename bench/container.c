// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * container.c - containers through the real containerd (issue 19): a
 * private containerd (tests/containerd/start --background: its own root,
 * state and socket, no CRI), and `ctr run --rm --runc-binary R --rootfs DIR
 * ID ...` timed from spawn to exit, with snapvm-runc (build/snapvm-runc)
 * against the stock runc, the same command and rootfs:
 *  - container.start.<arch>: `busybox true` (Debian's busybox-static of the
 *    layout, from .cache/busybox) (target <= 1);
 *  - container.start.snapshot: snapvm-runc runs a snapshot file in the
 *    rootfs, /snap/true: `busybox true` (amd64) taken at its first
 *    instruction (--snapshot-at=entry: loaded, argv given per run, so
 *    busybox sees argv[0] "/snap/true" and runs its true applet), against
 *    runc's `busybox true` (amd64) (target <= 0.5). Not first-read: ctr 1.6
 *    loses a stdin EOF that comes before the task exists, so a program
 *    reading /dev/null through ctr would wait forever.
 * Needs root, containerd, ctr and runc (tests/vm/setup); else not measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#define STOCK_RUNC "/usr/sbin/runc"
/* Seconds one command may take. */
#define CTR_DEADLINE_S 300

extern char **environ;

static struct {
	char dir[64];		 /* the run's directory under /tmp */
	char root[PATH_MAX / 4]; /* the checkout: build/guests/../.. */
	char address[PATH_MAX];	 /* containerd's socket */
	char snapvm_runc[PATH_MAX];
	char err[PATH_MAX]; /* the last ctr's stderr */
	unsigned int n;	    /* container ids */
} ct;

/* argv with stdin /dev/null, stdout to /dev/null, stderr to ct.err; its
 * exit status (128 + N for signal N, 124 when killed at the deadline), -1
 * when it could not start. */
static int spawn_wait(const char *const *argv, double *ns)
{
	posix_spawn_file_actions_t fa;
	uint64_t start = bench_now_ns();
	bool late = false;
	pid_t pid;
	int status, pidfd;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, ct.err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	/* A hung container must not hang the whole run: its ctr is killed
	 * after CTR_DEADLINE_S (the pidfd is readable once it exits). */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};

		if (poll(&p, 1, CTR_DEADLINE_S * 1000) == 0) {
			kill(pid, SIGKILL);
			late = true;
		}
		close(pidfd);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (late)
		return 124;
	if (ns)
		*ns = (double)(bench_now_ns() - start);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first line of the last command's stderr, for a reason. */
static const char *last_error(void)
{
	static char line[256];
	FILE *f = fopen(ct.err, "r");

	line[0] = '\0';
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	return line[0] ? line : "no message";
}

/* `ctr run --rm --runc-binary runtime --rootfs rootfs ID args...`, timed. */
static int ctr_run(const char *runtime, const char *rootfs, const char *const *args, double *ns)
{
	const char *argv[16] = {"ctr",	"--address",	 ct.address, "run",
				"--rm", "--runc-binary", runtime,    "--rootfs"};
	char id[32];
	size_t n = 8;

	snprintf(id, sizeof(id), "bench-%u", ct.n++);
	argv[n++] = rootfs;
	argv[n++] = id;
	while (*args && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	return spawn_wait(argv, ns);
}

/* rootfs/bin/busybox of the layout, `true` linked to it; for amd64 also
 * rootfs/snap/true: busybox true's snapshot at its entry. */
static int make_rootfs(uint32_t layout, const char *rootfs, char *why, size_t why_len)
{
	char path[PATH_MAX / 2 + 8], bb[PATH_MAX / 2], snap[PATH_MAX + 32], cmd[PATH_MAX * 4];

	snprintf(bb, sizeof(bb), "%s/.cache/busybox/%s/bin/busybox", ct.root,
		 layout == SNAPVM_LAYOUT_I686 ? "i386" : "amd64");
	snprintf(path, sizeof(path), "%s/bin", rootfs);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s' && cp '%s' '%s/busybox' && ln -sf busybox '%s/true'", path, bb,
		 path, path);
	if (system(cmd) != 0) {
		snprintf(why, why_len, "cannot make the rootfs %.300s from %.300s (tests/vm/setup)",
			 rootfs, bb);
		return -1;
	}
	if (layout != SNAPVM_LAYOUT_AMD64)
		return 0;
	snprintf(snap, sizeof(snap), "--snapshot-out=%s/snap/true", rootfs);
	snprintf(path, sizeof(path), "%s/snap", rootfs);
	if (mkdir(path, 0755) && errno != EEXIST) {
		snprintf(why, why_len, "cannot create %.300s: %s", path, strerror(errno));
		return -1;
	}
	{
		char launcher[PATH_MAX];
		const char *argv[] = {launcher, "run", "--snapshot-at=entry", snap, bb,
				      "true",	NULL};

		snprintf(launcher, sizeof(launcher), "%s/build/snapvm", ct.root);
		if (spawn_wait(argv, NULL) != 0) {
			snprintf(why, why_len, "snapvm run --snapshot-at=entry %.300s true: %s", bb,
				 last_error());
			return -1;
		}
	}
	return 0;
}

/* ours vs runc, interleaved, each `ctr run` exiting 0. */
static void measure(struct bench_figure *f, const char *ours_rootfs, const char *const *ours_args,
		    const char *runc_rootfs, const char *const *runc_args)
{
	struct bench_samples ours = {0}, base = {0};
	struct bench_budget budget = bench_budget(3, 50, 30);
	uint64_t start;
	double a, b;
	int rc;

	/* One of each first: the first container of a containerd pays for
	 * its snapshotter and content store set-up. */
	if ((rc = ctr_run(ct.snapvm_runc, ours_rootfs, ours_args, &a)) != 0 ||
	    (rc = ctr_run(STOCK_RUNC, runc_rootfs, runc_args, &b)) != 0) {
		bench_figure_skip(f, "ctr run failed (status %d): %s", rc, last_error());
		return;
	}
	start = bench_now_ns();
	while (bench_budget_more(&budget, ours.n, start)) {
		if ((rc = ctr_run(ct.snapvm_runc, ours_rootfs, ours_args, &a)) != 0) {
			bench_figure_skip(f, "ctr run with snapvm-runc: status %d: %s", rc,
					  last_error());
			goto out;
		}
		if ((rc = ctr_run(STOCK_RUNC, runc_rootfs, runc_args, &b)) != 0) {
			bench_figure_skip(f, "ctr run with runc: status %d: %s", rc, last_error());
			goto out;
		}
		bench_samples_add(&ours, a);
		bench_samples_add(&base, b);
	}
	bench_figure_set(f, bench_stats_of(&ours), bench_stats_of(&base));
out:
	bench_samples_free(&ours);
	bench_samples_free(&base);
}

/* Every figure, not measured, with why. */
static void skip_all(struct bench_figure **f, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++)
		bench_figure_skip(f[i], "%s", why);
}

void bench_container(void)
{
	static const char *const busybox_true[] = {"/bin/true", NULL};
	static const char *const snapshot[] = {"/snap/true", NULL};
	struct bench_figure *f[3];
	char rootfs[2][PATH_MAX / 4], why[1400], cmd[PATH_MAX * 2];
	const char *tools[] = {"containerd", "ctr", "containerd-shim-runc-v2"};
	bool started = false;

	for (uint32_t layout = SNAPVM_LAYOUT_I686; layout <= SNAPVM_LAYOUT_AMD64; layout++) {
		char name[64];

		snprintf(name, sizeof(name), "container.start.%s", snapvm_layout_name(layout));
		f[layout - SNAPVM_LAYOUT_I686] = bench_figure_add(
		    "container", name, "ns", "ctr run --rm with snapvm-runc: busybox true");
		bench_figure_baseline(f[layout - SNAPVM_LAYOUT_I686], "runc",
				      "the same with the stock runc");
		bench_figure_target(f[layout - SNAPVM_LAYOUT_I686], 1.0, "<= 1");
	}
	f[2] = bench_figure_add("container", "container.start.snapshot", "ns",
				"ctr run --rm with snapvm-runc: busybox true from a snapshot file");
	bench_figure_baseline(f[2], "runc", "ctr run --rm with runc: busybox true (amd64)");
	bench_figure_target(f[2], 0.5, "<= 0.5");
	bench_progress("container ...");

	snprintf(ct.root, sizeof(ct.root), "%s/../..", bench_config.guests_dir);
	snprintf(ct.snapvm_runc, sizeof(ct.snapvm_runc), "%s/build/snapvm-runc", ct.root);
	if (geteuid() != 0) {
		skip_all(f, 3, "needs root (containerd); make bench runs it in the test VM");
		return;
	}
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", tools[i]);
		if (system(cmd) != 0) {
			snprintf(why, sizeof(why), "%s not found (tests/vm/setup installs it)",
				 tools[i]);
			skip_all(f, 3, why);
			return;
		}
	}
	if (access(STOCK_RUNC, X_OK) || access(ct.snapvm_runc, X_OK)) {
		snprintf(why, sizeof(why), "%s or %.300s missing (tests/vm/setup, make programs)",
			 STOCK_RUNC, ct.snapvm_runc);
		skip_all(f, 3, why);
		return;
	}
	snprintf(ct.dir, sizeof(ct.dir), "/tmp/snapvm-bench-containerd.XXXXXX");
	if (!mkdtemp(ct.dir)) {
		skip_all(f, 3, "cannot create /tmp/snapvm-bench-containerd.XXXXXX");
		return;
	}
	snprintf(ct.err, sizeof(ct.err), "%s/stderr", ct.dir);
	snprintf(ct.address, sizeof(ct.address), "%s/containerd/containerd.sock", ct.dir);
	for (uint32_t layout = SNAPVM_LAYOUT_I686; layout <= SNAPVM_LAYOUT_AMD64; layout++) {
		snprintf(rootfs[layout - SNAPVM_LAYOUT_I686], sizeof(rootfs[0]), "%s/rootfs-%s",
			 ct.dir, snapvm_layout_name(layout));
		if (make_rootfs(layout, rootfs[layout - SNAPVM_LAYOUT_I686], why, sizeof(why))) {
			skip_all(f, 3, why);
			goto out;
		}
	}
	snprintf(cmd, sizeof(cmd),
		 "'%s/tests/containerd/start' --background '%s/containerd' >'%s' 2>&1", ct.root,
		 ct.dir, ct.err);
	if (system(cmd) != 0) {
		snprintf(why, sizeof(why), "tests/containerd/start: %s", last_error());
		skip_all(f, 3, why);
		goto out;
	}
	started = true;
	bench_note("container: a private containerd (tests/containerd/start), `ctr run --rm "
		   "--runc-binary R --rootfs DIR`, each sample timed from spawn to exit of ctr");
	for (int i = 0; i < 2; i++) {
		bench_progress("container start %s ...",
			       snapvm_layout_name(SNAPVM_LAYOUT_I686 + i));
		measure(f[i], rootfs[i], busybox_true, rootfs[i], busybox_true);
	}
	bench_progress("container start snapshot ...");
	measure(f[2], rootfs[1], snapshot, rootfs[1], busybox_true);
out:
	if (started) {
		snprintf(cmd, sizeof(cmd), "'%s/tests/containerd/start' --stop '%s/containerd'",
			 ct.root, ct.dir);
		if (system(cmd) != 0)
			bench_note("container: stopping the private containerd failed");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ct.dir);
	if (system(cmd) != 0)
		bench_progress("container: cannot remove %s", ct.dir);
}
