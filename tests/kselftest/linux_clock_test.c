// SPDX-License-Identifier: GPL-2.0
/*
 * linux_clock_test.c - the Linux personality answers the clocks from the
 * TSC without a VM exit (issue 18): a static program's CLOCK_REALTIME lies
 * within a few ms of the host's, in a fresh run and in requests restored
 * from a snapshot taken seconds earlier in another VM; CLOCK_MONOTONIC never
 * goes backwards across 10^5 calls; and those calls add no VM exits (KVM's
 * own count of this process's VM, /sys/kernel/debug/kvm/PID-FD/exits).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "userspace/lib/snapvm.h"

#define CALLS	 100000
#define SLACK_NS 5000000LL /* "within a few ms" of the host */

static long long host_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * The VM exits so far of this process's live VMs (KVM's debugfs directory
 * of a VM is PID-FD and goes away with it; the global "exits" file counts
 * only live VMs too, so it is no use across launcher runs); -1 if none.
 */
static long long kvm_exits(void)
{
	char pattern[64];
	long long n = -1, v;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "/sys/kernel/debug/kvm/%d-*/exits", getpid());
	if (access("/sys/kernel/debug/kvm", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (glob(pattern, 0, NULL, &g))
		return -1;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");

		if (f && fscanf(f, "%lld", &v) == 1)
			n = (n < 0 ? 0 : n) + v;
		if (f)
			fclose(f);
	}
	globfree(&g);
	return n;
}

FIXTURE(clk)
{
	char skip[256];
	char prog[4096];
	char snapvm[4096];
	char memory_opt[32];
};

VMM_VARIANTS(clk);

FIXTURE_SETUP(clk)
{
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	snprintf(self->prog, sizeof(self->prog), "%s/tests/kselftest/linux_clock_prog.%s",
		 vmm_build_dir(), variant->layout_id == SNAPVM_LAYOUT_I686 ? "i386" : "amd64");
	snprintf(self->snapvm, sizeof(self->snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(self->memory_opt, sizeof(self->memory_opt), "--memory=%s", variant->memory);
	ASSERT_EQ(0, access(self->prog, X_OK));
}

FIXTURE_TEARDOWN(clk)
{
}

/* `snapvm run PROG N`: its exit status and the realtime it printed. */
static int launcher_run(struct __test_metadata *_metadata, FIXTURE_DATA(clk) * self, long n,
			long long *guest_ns)
{
	char cmd[9000], line[256] = "";
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s run %s %s %ld </dev/null", self->snapvm, self->memory_opt,
		 self->prog, n);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		TH_LOG("guest: %s", line);
	status = pclose(p);
	*guest_ns = atoll(line);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A cold `snapvm run`: the time lies within the run, give or take SLACK_NS
 * (the launcher's start, seconds under TCG, is inside the bracket), and
 * the program saw CLOCK_MONOTONIC never go back (its status). */
TEST_F_TIMEOUT(clk, fresh_run, 900)
{
	long long before, after, guest;

	if (self->skip[0])
		SKIP(return, "%s", self->skip);
	before = host_ns();
	ASSERT_EQ(0, launcher_run(_metadata, self, CALLS, &guest));
	after = host_ns();
	EXPECT_LE(before - SLACK_NS, guest);
	EXPECT_GE(after + SLACK_NS, guest);
}

TEST_F_TIMEOUT(clk, restored_snapshot_tells_now, 900)
{
	static const char *const none[] = {"prog", NULL};
	const char *argv[] = {"prog", "--read", "0", NULL};
	struct snapvm_linux_options o = {.snapshot_at = SNAPVM_LINUX_SNAPSHOT_FIRST_READ,
					 .argv = argv};
	struct snapvm_linux_options o2 = {.argv = none};
	struct snapvm_snapshot *snap = NULL, *taken = NULL;
	struct snapvm_sandbox *sb = NULL, *clone = NULL;
	struct snapvm_linux *lx = NULL, *lx2 = NULL;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	char out[256];
	long long exits[4];
	size_t out_len;
	int status;

	if (self->skip[0])
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(0, snapvm_linux_create(self->prog, &o, &lx, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_linux_snapshot(lx, variant->memory_id, &snap, &err))
	TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &sb, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_linux_attach(lx, sb, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_sandbox_run(sb, 600000, &outcome, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ((int)SNAPVM_STOP_SNAPSHOT, (int)outcome.stop);
	ASSERT_EQ(0, snapvm_sandbox_take_snapshot(sb, &taken, &err)) TH_LOG("%s", err.message);
	snapvm_sandbox_destroy(sb);
	/* The snapshot ages; another VM (another TSC) restores it. */
	sleep(3);
	ASSERT_EQ(0, snapvm_linux_create(NULL, &o2, &lx2, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_sandbox_create(taken, NULL, &clone, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_linux_attach(lx2, clone, &err)) TH_LOG("%s", err.message);
	/* Requests of 0 and CALLS clock_gettime calls: a host call per
	 * call would add CALLS exits to the second. */
	for (int i = 0; i < 4; i++) {
		char in[16];
		long long before, after, guest, e0, e1;

		snprintf(in, sizeof(in), "%d", i % 2 ? CALLS : 0);
		before = host_ns();
		e0 = kvm_exits();

		ASSERT_LE(0, e0) TH_LOG("no /sys/kernel/debug/kvm/%d-*/exits", getpid());
		ASSERT_EQ(0, snapvm_linux_request(clone, lx2, in, strlen(in), out, sizeof(out) - 1,
						  &out_len, &status, 600000, &err))
		TH_LOG("%s", err.message);
		after = host_ns();
		e1 = kvm_exits();
		exits[i] = e1 - e0;
		out[out_len] = 0;
		ASSERT_EQ(0, status) TH_LOG("request %d: %s", i, out);
		guest = atoll(out);
		TH_LOG("request %d (%s calls): guest %lld ns, host %lld..%lld, %lld exits", i, in,
		       guest, before, after, exits[i]);
		EXPECT_LE(before - SLACK_NS, guest);
		EXPECT_GE(after + SLACK_NS, guest);
		sleep(1);
	}
	EXPECT_LT(exits[1], exits[0] + CALLS / 20);
	EXPECT_LT(exits[3], exits[2] + CALLS / 20);
	snapvm_sandbox_destroy(clone);
	snapvm_linux_destroy(lx2);
	snapvm_linux_destroy(lx);
	snapvm_snapshot_put(snap);
	snapvm_snapshot_put(taken);
}

TEST_HARNESS_MAIN
