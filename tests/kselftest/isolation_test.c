// SPDX-License-Identifier: GPL-2.0
/*
 * isolation_test.c - nothing a request does survives a restore, and no guest
 * reaches past its deadline or the host's terminal: every saveable MSR, the
 * TSC and kvmclock are back after each restore, the CPUID is normalised and
 * the same in every sandbox, a failed restore poisons the sandbox until a
 * good one puts every dirtied page back, blocked output obeys --timeout, a
 * 1 GiB .bss costs nothing and --max-memory caps guests. Both layouts, both
 * memory backends, under real KVM in the test VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "guests/test/call-loop.h"
#include "guests/test/isolation.h"
#include "userspace/lib/internal.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

#define SCRATCH_SIZE	   (1ULL << 20)
#define CALL_MS		   60000
#define REQUESTS	   4
#define MSR_MTRR_PHYSBASE0 0x200
#define MSR_PAT		   0x277
#define MSR_SYSENTER_ESP   0x175

FIXTURE(isolation)
{
	char guests[PATH_MAX];
	char skip[256];
	struct snapvm_error err;
	struct snapvm_outcome outcome;
	struct snapvm_snapshot_options options;
	int output_fd;
};

VMM_VARIANTS(isolation);

FIXTURE_SETUP(isolation)
{
	const char *build = vmm_build_dir();

	ASSERT_NE(NULL, build);
	snprintf(self->guests, sizeof(self->guests), "%s/guests/%s", build, variant->layout);
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	self->options = (struct snapvm_snapshot_options){
	    .layout = variant->layout_id,
	    .memory = variant->memory_id,
	    .scratch_size = SCRATCH_SIZE,
	};
	self->output_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, self->output_fd);
}

FIXTURE_TEARDOWN(isolation)
{
	close(self->output_fd);
}

static const char *guest(FIXTURE_DATA(isolation) * self, const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.elf", self->guests, name);
	return path;
}

/* One call that must reach the guest's next CALL_WAIT. */
static uint64_t call(struct __test_metadata *_metadata, FIXTURE_DATA(isolation) * self,
		     struct snapvm_sandbox *sb, uint64_t function, uint64_t arg)
{
	uint64_t result = 0;

	ASSERT_EQ(
	    0, snapvm_sandbox_call(sb, function, arg, CALL_MS, &result, &self->outcome, &self->err))
	TH_LOG("call %llu: %s", (unsigned long long)function, self->err.message);
	ASSERT_EQ(SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)
	TH_LOG("call %llu stopped with %d: %s", (unsigned long long)function, self->outcome.stop,
	       self->outcome.message);
	return result;
}

static struct snapvm_sandbox *sandbox(struct __test_metadata *_metadata,
				      FIXTURE_DATA(isolation) * self, struct snapvm_snapshot *snap)
{
	struct snapvm_sandbox_options options = {.output_fd = self->output_fd};
	struct snapvm_sandbox *sb = NULL;

	EXPECT_EQ(0, snapvm_sandbox_create(snap, &options, &sb, &self->err))
	TH_LOG("%s", self->err.message);
	return sb;
}

/* Every MSR KVM reports as saveable (KVM_GET_MSR_INDEX_LIST) plus the
 * MTRRs, asked of /dev/kvm here and not of libsnapvm, minus the TSC, which
 * ticks. Returns how many. */
static unsigned int saveable_msrs(uint32_t *out, unsigned int max)
{
	static const uint32_t mtrrs[] = {0x2ff, 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
					 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, 0x200, 0x201,
					 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, 0x208,
					 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f};
	struct kvm_msr_list probe = {.nmsrs = 0}, *list;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	unsigned int n = 0;

	if (kvm < 0)
		return 0;
	ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &probe);
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm, KVM_GET_MSR_INDEX_LIST, list) == 0)
		for (unsigned int i = 0; i < list->nmsrs && n < max; i++)
			if (list->indices[i] != MSR_IA32_TSC)
				out[n++] = list->indices[i];
	for (unsigned int i = 0; i < sizeof(mtrrs) / sizeof(mtrrs[0]) && n < max; i++)
		out[n++] = mtrrs[i];
	free(list);
	close(kvm);
	return n;
}

/*
 * The isolation guest told which MSRs to record, at its SNAPSHOT: the
 * snapshot, and *readable the number it could read.
 */
static struct snapvm_snapshot *isolation_snapshot(struct __test_metadata *_metadata,
						  FIXTURE_DATA(isolation) * self,
						  uint64_t *readable)
{
	static uint32_t msrs[ISOLATION_MAX_MSRS];
	unsigned int n = saveable_msrs(msrs, ISOLATION_MAX_MSRS);
	struct snapvm_snapshot *elf = NULL, *taken = NULL;
	struct snapvm_sandbox *taker;
	uint64_t result;

	EXPECT_LT(20U, n);
	EXPECT_EQ(
	    0, snapvm_snapshot_from_elf(guest(self, "isolation"), &self->options, &elf, &self->err))
	TH_LOG("%s", self->err.message);
	if (!elf)
		return NULL;
	taker = sandbox(_metadata, self, elf);
	snapvm_snapshot_put(elf);
	if (!taker)
		return NULL;
	for (unsigned int i = 0; i < n; i++)
		call(_metadata, self, taker, ISO_ADD_MSR, msrs[i]);
	EXPECT_EQ(0, snapvm_sandbox_call(taker, ISO_SNAPSHOT, 0, CALL_MS, &result, &self->outcome,
					 &self->err));
	EXPECT_EQ(SNAPVM_STOP_SNAPSHOT, (int)self->outcome.stop)
	TH_LOG("%s", self->outcome.message);
	EXPECT_EQ(0, snapvm_sandbox_take_snapshot(taker, &taken, &self->err))
	TH_LOG("%s", self->err.message);
	snapvm_sandbox_destroy(taker);
	/* The first CALL_WAIT of a clone reports what ISO_SNAPSHOT read. */
	*readable = 0;
	if (taken) {
		struct snapvm_sandbox *probe = sandbox(_metadata, self, taken);

		if (probe && !snapvm_sandbox_run(probe, CALL_MS, &self->outcome, &self->err) &&
		    self->outcome.stop == SNAPVM_STOP_CALL_WAIT)
			*readable = (uint64_t)self->outcome.code;
		snapvm_sandbox_destroy(probe);
	}
	return taken;
}

TEST_F_TIMEOUT(isolation, no_msr_survives_a_restore, 600)
{
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *sb;
	uint64_t readable;

	REQUIRE_BACKEND();
	taken = isolation_snapshot(_metadata, self, &readable);
	ASSERT_NE(NULL, taken);
	/* MTRRs, PAT, SYSENTER, STAR... are readable by any x86 guest. */
	ASSERT_LE(20U, readable);
	sb = sandbox(_metadata, self, taken);
	ASSERT_NE(NULL, sb);
	for (int request = 0; request < REQUESTS; request++) {
		uint64_t differ, first, changed;

		if (request)
			ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err))
		TH_LOG("%s", self->err.message);
		differ = call(_metadata, self, sb, ISO_COMPARE, 0);
		first = call(_metadata, self, sb, ISO_FIRST_DIFF, 0);
		EXPECT_EQ(0U, differ)
		TH_LOG("request %d: %llu of %llu MSRs kept the last request's value, first MSR "
		       "0x%llx",
		       request, (unsigned long long)differ, (unsigned long long)readable,
		       (unsigned long long)first);
		changed = call(_metadata, self, sb, ISO_SCRAMBLE, 0);
		/* The scramble really changes state (so the comparison can
		 * fail), MTRRphysBase0 and PAT among it. */
		EXPECT_LE(15U, changed);
		EXPECT_LT(0U, call(_metadata, self, sb, ISO_COMPARE, 0));
		EXPECT_EQ(1U, call(_metadata, self, sb, ISO_SCRAMBLED, MSR_MTRR_PHYSBASE0));
		EXPECT_EQ(1U, call(_metadata, self, sb, ISO_SCRAMBLED, MSR_PAT));
		EXPECT_EQ(1U, call(_metadata, self, sb, ISO_SCRAMBLED, MSR_SYSENTER_ESP));
	}
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(taken);
}

/*
 * State a request changes with no exit to the VMM, one of each kind (KVM
 * handles these instructions itself, or the CPU does): an MSR by WRMSR
 * (SYSENTER_ESP), one by swapgs (KERNEL_GS_BASE, amd64), XCR0 by XSETBV and
 * DR0 by MOV. The next request, after a restore, reads the snapshot's
 * values again: whatever a restore skips, it must not skip these.
 */
TEST_F_TIMEOUT(isolation, state_changed_without_an_exit_is_undone, 600)
{
	static const char *const kind_name[ISO_KINDS] = {
	    [ISO_KIND_WRMSR] = "SYSENTER_ESP (WRMSR)",
	    [ISO_KIND_SWAPGS] = "KERNEL_GS_BASE (swapgs)",
	    [ISO_KIND_XSETBV] = "XCR0 (XSETBV)",
	    [ISO_KIND_MOV_DR] = "DR0 (MOV DR)",
	};
	bool amd64 = variant->layout_id == SNAPVM_LAYOUT_AMD64;
	uint64_t snapshot_value[ISO_KINDS], expected = 0, readable;
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *sb;

	REQUIRE_BACKEND();
	taken = isolation_snapshot(_metadata, self, &readable);
	ASSERT_NE(NULL, taken);
	sb = sandbox(_metadata, self, taken);
	ASSERT_NE(NULL, sb);
	/* A new sandbox starts from the snapshot's state. */
	for (int k = 0; k < ISO_KINDS; k++) {
		snapshot_value[k] = call(_metadata, self, sb, ISO_KIND_READ, (uint64_t)k);
		if (k == ISO_KIND_SWAPGS && !amd64) {
			EXPECT_EQ(ISO_KIND_UNSUPPORTED, snapshot_value[k]);
			continue;
		}
		EXPECT_NE(ISO_KIND_UNSUPPORTED, snapshot_value[k])
		TH_LOG("the guest cannot read %s", kind_name[k]);
		expected |= 1U << k;
	}
	/* In the test VM (QEMU 7.2's TCG running KVM's nested SVM guest) an
	 * XSETBV neither faults nor changes what XGETBV reads right after it:
	 * the write cannot be seen to take there, so it is not required to;
	 * XCR0 is still compared after each restore. */
	expected &= ~(1U << ISO_KIND_XSETBV);
	for (int request = 0; request < REQUESTS; request++) {
		uint64_t changed = call(_metadata, self, sb, ISO_KINDS_WRITE, 0);

		/* The writes take: the comparison after the restore can fail. */
		EXPECT_EQ(expected, changed & expected)
		TH_LOG("request %d: the writes changed only some of the state (0x%llx)", request,
		       (unsigned long long)changed);
		ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err))
		TH_LOG("%s", self->err.message);
		for (int k = 0; k < ISO_KINDS; k++) {
			uint64_t now = call(_metadata, self, sb, ISO_KIND_READ, (uint64_t)k);

			EXPECT_EQ(snapshot_value[k], now)
			TH_LOG("request %d: %s is 0x%llx after the restore, 0x%llx in the "
			       "snapshot",
			       request, kind_name[k], (unsigned long long)now,
			       (unsigned long long)snapshot_value[k]);
		}
	}
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(taken);
}

/* A guest that sets its TSC far ahead finds it back near the snapshot's
 * timeline after a restore. */
TEST_F_TIMEOUT(isolation, tsc_written_by_the_guest_is_undone, 300)
{
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *sb;
	uint64_t readable;

	REQUIRE_BACKEND();
	taken = isolation_snapshot(_metadata, self, &readable);
	ASSERT_NE(NULL, taken);
	sb = sandbox(_metadata, self, taken);
	ASSERT_NE(NULL, sb);
	ASSERT_EQ(0U, call(_metadata, self, sb, ISO_WRITE_TSC, 1ULL << 60));
	ASSERT_LE(1ULL << 28, call(_metadata, self, sb, ISO_TSC_HIGH, 0));
	ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err));
	EXPECT_GT(1ULL << 27, call(_metadata, self, sb, ISO_TSC_HIGH, 0));
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(taken);
}

TEST_F_TIMEOUT(isolation, cpuid_is_the_same_everywhere_without_pv_leaves_or_pmu, 300)
{
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *a, *b;
	uint64_t readable, hash;

	REQUIRE_BACKEND();
	taken = isolation_snapshot(_metadata, self, &readable);
	ASSERT_NE(NULL, taken);
	a = sandbox(_metadata, self, taken);
	b = sandbox(_metadata, self, taken);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	hash = call(_metadata, self, a, ISO_CPUID_HASH, 0);
	EXPECT_EQ(hash, call(_metadata, self, b, ISO_CPUID_HASH, 0));
	ASSERT_EQ(0, snapvm_sandbox_restore(a, &self->err));
	EXPECT_EQ(hash, call(_metadata, self, a, ISO_CPUID_HASH, 0));
	EXPECT_EQ(0U, call(_metadata, self, a, ISO_CPUID_KVM, 0));
	EXPECT_EQ(0U, call(_metadata, self, a, ISO_CPUID_PMU, 0));
	/* The PV MSRs are refused: WRMSR raises #GP (vector 13). */
	EXPECT_EQ(13U + 1, call(_metadata, self, a, ISO_KVMCLOCK_ON, 0));
	snapvm_sandbox_destroy(a);
	snapvm_sandbox_destroy(b);
	snapvm_snapshot_put(taken);
}

static bool page_is_zero(const unsigned char *page)
{
	for (unsigned int i = 0; i < SNAPVM_GUEST_PAGE_SIZE; i++)
		if (page[i])
			return false;
	return true;
}

/* With the PV leaves asked for, kvmclock works in a request, and after the
 * restore KVM writes nothing more into the clock page. */
TEST_F_TIMEOUT(isolation, kvmclock_writes_nothing_after_a_restore, 300)
{
	static unsigned char page[SNAPVM_GUEST_PAGE_SIZE];
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *sb;
	uint64_t readable, gpa;

	REQUIRE_BACKEND();
	self->options.kvm_pv = true;
	taken = isolation_snapshot(_metadata, self, &readable);
	ASSERT_NE(NULL, taken);
	sb = sandbox(_metadata, self, taken);
	ASSERT_NE(NULL, sb);
	ASSERT_EQ(1U, call(_metadata, self, sb, ISO_CPUID_KVM, 0));
	gpa = call(_metadata, self, sb, ISO_KVMCLOCK_PAGE, 0);
	ASSERT_EQ(0, snapvm_sandbox_read_gpa(sb, gpa, page, sizeof(page), &self->err));
	ASSERT_TRUE(page_is_zero(page));
	ASSERT_EQ(0U, call(_metadata, self, sb, ISO_KVMCLOCK_ON, 0));
	/* KVM fills the clock page at the next entry: the version moves. */
	ASSERT_NE(0U, call(_metadata, self, sb, ISO_KVMCLOCK_PEEK, 0));
	ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err));
	ASSERT_EQ(0, snapvm_sandbox_read_gpa(sb, gpa, page, sizeof(page), &self->err));
	EXPECT_TRUE(page_is_zero(page));
	for (int request = 0; request < 3; request++) {
		EXPECT_EQ(0U, call(_metadata, self, sb, ISO_KVMCLOCK_PEEK, 0));
		ASSERT_EQ(0, snapvm_sandbox_read_gpa(sb, gpa, page, sizeof(page), &self->err));
		EXPECT_TRUE(page_is_zero(page));
		ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err));
	}
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(taken);
}

/* call-loop at its SNAPSHOT, and a sandbox of it that has dirtied a page of
 * .data and one of scratch. */
static struct snapvm_sandbox *dirtied(struct __test_metadata *_metadata,
				      FIXTURE_DATA(isolation) * self,
				      struct snapvm_snapshot **taken)
{
	struct snapvm_snapshot *elf = NULL;
	struct snapvm_sandbox *taker, *sb;

	*taken = NULL;
	EXPECT_EQ(0, snapvm_snapshot_from_elf(guest(self, "call-loop"), &self->options, &elf,
					      &self->err));
	if (!elf)
		return NULL;
	taker = sandbox(_metadata, self, elf);
	snapvm_snapshot_put(elf);
	if (!taker)
		return NULL;
	EXPECT_EQ(0, snapvm_sandbox_run(taker, CALL_MS, &self->outcome, &self->err));
	EXPECT_EQ(SNAPVM_STOP_SNAPSHOT, (int)self->outcome.stop);
	EXPECT_EQ(0, snapvm_sandbox_take_snapshot(taker, taken, &self->err));
	snapvm_sandbox_destroy(taker);
	if (!*taken)
		return NULL;
	sb = sandbox(_metadata, self, *taken);
	if (sb) {
		call(_metadata, self, sb, CALL_POKE, 0xbad);
		EXPECT_EQ(0xbadU, call(_metadata, self, sb, CALL_PEEK_DATA, 0));
	}
	return sb;
}

/* Refused with the poisoned status and a message that says why. */
static void expect_poisoned(struct __test_metadata *_metadata, FIXTURE_DATA(isolation) * self,
			    struct snapvm_sandbox *sb)
{
	uint64_t result;

	EXPECT_EQ(SNAPVM_STATUS_POISONED, snapvm_sandbox_call(sb, CALL_PEEK_DATA, 0, CALL_MS,
							      &result, &self->outcome, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, "restore"))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(SNAPVM_STATUS_POISONED,
		  snapvm_sandbox_run(sb, CALL_MS, &self->outcome, &self->err));
}

/* The next restore puts back what the guest dirtied before the failure. */
static void expect_recovered(struct __test_metadata *_metadata, FIXTURE_DATA(isolation) * self,
			     struct snapvm_sandbox *sb)
{
	ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, call(_metadata, self, sb, CALL_PEEK_DATA, 0));
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, call(_metadata, self, sb, CALL_PEEK_SCRATCH, 0));
}

TEST_F_TIMEOUT(isolation, failed_restore_poisons_until_a_restore_puts_all_back, 300)
{
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *sb;

	REQUIRE_BACKEND();
	sb = dirtied(_metadata, self, &taken);
	ASSERT_NE(NULL, sb);
	/* Fails after the dirty logs were fetched, and KVM forgot them. */
	sb->inject_restore_fault = true;
	ASSERT_NE(0, snapvm_sandbox_restore(sb, &self->err));
	expect_poisoned(_metadata, self, sb);
	expect_recovered(_metadata, self, sb);
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(taken);
}

/* The same with a real fault: the fd restore uses is not what it was (the
 * vCPU's for memfd, whose scratch goes back by memcpy; the scratch
 * region's for kmod, whose RESTORE ioctl then fails half-way). */
TEST_F_TIMEOUT(isolation, restore_on_a_broken_fd_poisons, 300)
{
	struct snapvm_snapshot *taken;
	struct snapvm_sandbox *sb;
	int *victim, saved, devnull;

	REQUIRE_BACKEND();
	sb = dirtied(_metadata, self, &taken);
	ASSERT_NE(NULL, sb);
	victim = variant->memory_id == SNAPVM_MEMORY_KMOD ? &sb->scratch.fd : &sb->vcpu.fd;
	saved = dup(*victim);
	devnull = open("/dev/null", O_RDWR);
	ASSERT_LE(0, saved);
	ASSERT_LE(0, dup2(devnull, *victim));
	EXPECT_NE(0, snapvm_sandbox_restore(sb, &self->err));
	TH_LOG("broken restore: %s", self->err.message);
	expect_poisoned(_metadata, self, sb);
	ASSERT_LE(0, dup2(saved, *victim));
	close(saved);
	close(devnull);
	expect_recovered(_metadata, self, sb);
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(taken);
}

/* ---- through the launcher ---- */

struct launch {
	int status; /* exit status, or 128 + signal */
	double seconds;
	long max_rss_kib;
	char err[8192];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * build/snapvm run ARGS with stdout on out_fd; stderr is collected. A pipe,
 * fork or wait that fails, or too many ARGS, fails the test here: never a
 * status the caller would take for the launcher's.
 */
static void launch(struct __test_metadata *_metadata, struct launch *l, int out_fd,
		   const char *const *args)
{
	const char *argv[16] = {NULL, "run"};
	char path[PATH_MAX];
	int errpipe[2], argc = 2, ws;
	struct rusage usage;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/snapvm", vmm_build_dir());
	argv[0] = path;
	while (*args) {
		ASSERT_GT(15, argc) TH_LOG("launch: more arguments than argv[] holds");
		argv[argc++] = *args++;
	}
	argv[argc] = NULL;
	memset(l, 0, sizeof(*l));
	ASSERT_EQ(0, pipe2(errpipe, O_CLOEXEC)) TH_LOG("launch: pipe2: %s", strerror(errno));
	l->seconds = now_s();
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("launch: fork: %s", strerror(errno));
	if (pid == 0) {
		/* Said on the collected stderr, which every caller logs. */
		if (dup2(errpipe[1], STDERR_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0) {
			dprintf(errpipe[1], "launch: dup2: %s\n", strerror(errno));
			_exit(EX_OSERR);
		}
		signal(SIGPIPE, SIG_DFL);
		execv(path, (char *const *)argv);
		dprintf(STDERR_FILENO, "launch: cannot exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(errpipe[1]);
	while ((n = read(errpipe[0], l->err + len, sizeof(l->err) - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR))
		len += n > 0 ? n : 0;
	close(errpipe[0]);
	ASSERT_EQ(pid, wait4(pid, &ws, 0, &usage)) TH_LOG("launch: wait4: %s", strerror(errno));
	l->seconds = now_s() - l->seconds;
	l->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	l->max_rss_kib = usage.ru_maxrss;
}

/* `snapvm run --timeout=2 G | sleep 30` with G writing endlessly: the pipe
 * fills, nobody drains it, and still the run ends at its deadline: within a
 * second of it, past what a run of a guest that exits at once takes here
 * (which a KASAN kernel under TCG makes seconds by itself). */
TEST_F_TIMEOUT(isolation, blocked_output_obeys_the_timeout, 120)
{
	const char *args[] = {"--timeout=2", "--memory", variant->memory,
			      guest(self, "endless-write"), NULL};
	const char *quick[] = {"--memory", variant->memory, NULL, NULL};
	char hello[PATH_MAX + 64];
	struct launch base, l;
	int pipefd[2], devnull;

	REQUIRE_BACKEND();
	/* guest() hands out one buffer, which args[] still points to. */
	snprintf(hello, sizeof(hello), "%s/hello.elf", self->guests);
	quick[2] = hello;
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, devnull);
	launch(_metadata, &base, devnull, quick);
	close(devnull);
	ASSERT_EQ(0, base.status) TH_LOG("%s", base.err);

	ASSERT_EQ(0, pipe(pipefd));
	launch(_metadata, &l, pipefd[1], args);
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(SNAPVM_STATUS_TIMEOUT, l.status) TH_LOG("%s", l.err);
	EXPECT_GT(3.0 + base.seconds, l.seconds)
	TH_LOG("%.2f s; a quick run takes %.2f s", l.seconds, base.seconds);
	EXPECT_NE(NULL, strstr(l.err, "timeout")) TH_LOG("%s", l.err);
}

/* A reader that went away is an output error (74), not SIGPIPE. */
TEST_F_TIMEOUT(isolation, closed_pipe_is_a_host_error, 120)
{
	const char *args[] = {"--timeout=20", "--memory", variant->memory,
			      guest(self, "endless-write"), NULL};
	struct launch l;
	int pipefd[2];

	REQUIRE_BACKEND();
	ASSERT_EQ(0, pipe(pipefd));
	close(pipefd[0]);
	launch(_metadata, &l, pipefd[1], args);
	close(pipefd[1]);
	EXPECT_EQ(EX_IOERR, l.status) TH_LOG("%s", l.err);
	EXPECT_NE(NULL, strstr(l.err, "Broken pipe")) TH_LOG("%s", l.err);
}

TEST_F_TIMEOUT(isolation, guest_text_is_escaped, 120)
{
	const char *args[] = {"--memory", variant->memory, guest(self, "abort-escape"), NULL};
	struct launch l;
	int devnull = open("/dev/null", O_WRONLY);

	REQUIRE_BACKEND();
	launch(_metadata, &l, devnull, args);
	close(devnull);
	EXPECT_EQ(SNAPVM_STATUS_GUEST_FAULT, l.status) TH_LOG("%s", l.err);
	EXPECT_EQ(NULL, strchr(l.err, '\x1b'));
	EXPECT_EQ(NULL, strchr(l.err, '\a'));
	EXPECT_EQ(NULL, strchr(l.err, '\x7f'));
	EXPECT_NE(NULL, strstr(l.err, "red \\x1b[31mALERT\\x1b[0m bell\\x07 tab\\x09 del\\x7f "
				      "high\\xc3\\xa9 end"))
	TH_LOG("%s", l.err);
}

/* A 1 GiB .bss is neither written nor read at load: the launcher's peak
 * RSS stays far below it. */
TEST_F_TIMEOUT(isolation, a_1g_bss_costs_what_it_touches, 300)
{
	const char *args[] = {"--memory", variant->memory, guest(self, "big-bss"), NULL};
	struct launch l;
	int devnull = open("/dev/null", O_WRONLY);

	REQUIRE_BACKEND();
	launch(_metadata, &l, devnull, args);
	close(devnull);
	EXPECT_EQ(42, l.status) TH_LOG("%s", l.err);
	EXPECT_GT(64L << 10, l.max_rss_kib);
	TH_LOG("peak RSS %ld KiB", l.max_rss_kib);
}

TEST_F_TIMEOUT(isolation, max_memory_refuses_a_bigger_guest, 120)
{
	const char *args[] = {"--memory", variant->memory, "--max-memory=512M",
			      guest(self, "big-bss"), NULL};
	const char *fits[] = {"--memory", variant->memory, "--max-memory=2G",
			      guest(self, "big-bss"), NULL};
	struct launch l;
	int devnull = open("/dev/null", O_WRONLY);

	REQUIRE_BACKEND();
	launch(_metadata, &l, devnull, args);
	EXPECT_EQ(EX_DATAERR, l.status) TH_LOG("%s", l.err);
	EXPECT_NE(NULL, strstr(l.err, "more than --max-memory=536870912")) TH_LOG("%s", l.err);
	launch(_metadata, &l, devnull, fits);
	EXPECT_EQ(42, l.status) TH_LOG("%s", l.err);
	close(devnull);
}

/* A snapshot file whose CPUID asks for what this host's KVM lacks (one bit
 * more in a feature register; a foreign vendor) exits 69 and names it. */
TEST_F_TIMEOUT(isolation, snapshot_file_with_a_cpuid_this_host_cannot_give, 300)
{
	char dir[PATH_MAX], file[PATH_MAX + 32];
	const char *save[] = {"--memory", variant->memory, "--scratch-size=1M", NULL, NULL, NULL};
	const char *load[] = {"--memory", variant->memory, NULL, NULL};
	struct snapfile_header *h;
	struct snapvm_vcpu_state *state;
	unsigned char *bytes;
	struct launch l;
	struct stat st;
	int fd, devnull = open("/dev/null", O_WRONLY);

	REQUIRE_BACKEND();
	ASSERT_NE(NULL, vmm_make_tmpdir(dir, sizeof(dir), "cpuid"));
	snprintf(file, sizeof(file), "--snapshot-out=%s/s.snap", dir);
	save[3] = file;
	save[4] = guest(self, "snapshot-state");
	launch(_metadata, &l, devnull, save);
	ASSERT_EQ(0, l.status) TH_LOG("%s", l.err);
	snprintf(file, sizeof(file), "%s/s.snap", dir);
	fd = open(file, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	bytes = malloc(st.st_size);
	ASSERT_EQ((ssize_t)st.st_size, pread(fd, bytes, st.st_size, 0));
	h = (struct snapfile_header *)bytes;
	ASSERT_EQ(sizeof(*state), h->vcpu_state_size);
	state = (struct snapvm_vcpu_state *)(bytes + SNAPVM_GUEST_PAGE_SIZE);
	for (int what = 0; what < 2; what++) {
		struct kvm_cpuid_entry2 *e = NULL;

		for (uint32_t i = 0; i < state->ncpuid; i++)
			if (state->cpuid[i].function == (what ? 0 : 1))
				e = &state->cpuid[i];
		ASSERT_NE(NULL, e);
		if (what)
			e->ebx ^= 0x20202020; /* vendor "GenuineIntel" -> "gENUineIntel" */
		else
			e->ecx |= 1u << 5; /* VMX: never offered to guests */
		h->checksum = 0;
		h->checksum = snapfile_crc64(0, bytes, st.st_size);
		ASSERT_EQ((ssize_t)st.st_size, pwrite(fd, bytes, st.st_size, 0));
		load[2] = NULL;
		{
			char from[PATH_MAX + 64];

			snprintf(from, sizeof(from), "--from=%s", file);
			load[2] = from;
			launch(_metadata, &l, devnull, load);
		}
		EXPECT_EQ(EX_UNAVAILABLE, l.status) TH_LOG("%s", l.err);
		EXPECT_NE(NULL, strstr(l.err, what ? "vendor" : "leaf 0x1 subleaf 0 ECX"))
		TH_LOG("%s", l.err);
		if (what)
			e->ebx ^= 0x20202020;
		else
			e->ecx &= ~(1u << 5);
	}
	free(bytes);
	close(fd);
	close(devnull);
	vmm_remove_tmpdir(dir);
}

TEST_HARNESS_MAIN
