// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_test.c - guest-driven snapshots, restores, calls and snapshot
 * files through libsnapvm and the launcher, for both layouts and both memory
 * backends: a restored sandbox is the snapshot again (memory hash and
 * registers), SNAPSHOT returns 0 then 1, a restore costs the pages the guest
 * dirtied, clones are isolated and get their own seed, files round-trip and
 * bad files are refused, and nothing stays pinned. Runs in the test VM.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "guests/test/call-loop.h"
#include "layout/abi.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

#define PINNED_PAGES_PATH "/sys/class/misc/snapvm/pinned_pages"
/* Small: every test hashes all of guest memory, under nested TCG. */
#define SCRATCH_SIZE (1ULL << 20)
#define RESTORES     5
#define CYCLES	     1000
#define OUTPUT_MAX   (64 << 10)

static long pinned_pages(void)
{
	FILE *f = fopen(PINNED_PAGES_PATH, "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

FIXTURE(snapshot)
{
	char guests[PATH_MAX];
	char tmp[PATH_MAX];
	char skip[256];
	struct snapvm_error err;
	struct snapvm_outcome outcome;
	struct snapvm_snapshot_options options;
	/* call-loop stopped at its SNAPSHOT, and the snapshot it took */
	struct snapvm_sandbox *taker;
	struct snapvm_snapshot *taken;
	int output_fd; /* a memfd collecting guest output */
};

VMM_VARIANTS(snapshot);

static const char *guest_path(FIXTURE_DATA(snapshot) * self, const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.elf", self->guests, name);
	return path;
}

/* Start guest `name` and run it to its SNAPSHOT; *taken is that snapshot. */
static int take(FIXTURE_DATA(snapshot) * self, const char *name, struct snapvm_sandbox **taker,
		struct snapvm_snapshot **taken)
{
	struct snapvm_sandbox_options sandbox_options = {.output_fd = self->output_fd};
	struct snapvm_snapshot *elf;
	int ret;

	*taker = NULL;
	*taken = NULL;
	ret = snapvm_snapshot_from_elf(guest_path(self, name), &self->options, &elf, &self->err);
	if (ret)
		return ret;
	ret = snapvm_sandbox_create(elf, &sandbox_options, taker, &self->err);
	snapvm_snapshot_put(elf);
	if (!ret)
		ret = snapvm_sandbox_run(*taker, 60000, &self->outcome, &self->err);
	if (!ret && self->outcome.stop != SNAPVM_STOP_SNAPSHOT) {
		snprintf(self->err.message, sizeof(self->err.message),
			 "stopped with %d before SNAPSHOT: %.1200s", self->outcome.stop,
			 self->outcome.message);
		ret = EX_SOFTWARE;
	}
	if (!ret)
		ret = snapvm_sandbox_take_snapshot(*taker, taken, &self->err);
	return ret;
}

FIXTURE_SETUP(snapshot)
{
	const char *build = vmm_build_dir();

	ASSERT_NE(NULL, build);
	snprintf(self->guests, sizeof(self->guests), "%s/guests/%s", build, variant->layout);
	self->options = (struct snapvm_snapshot_options){
	    .layout = variant->layout_id,
	    .memory = variant->memory_id,
	    .scratch_size = SCRATCH_SIZE,
	};
	self->output_fd = memfd_create("guest-output", MFD_CLOEXEC);
	ASSERT_LE(0, self->output_fd);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->tmp, sizeof(self->tmp), "snapshot"))
	TH_LOG("mkdtemp %s: %s", self->tmp, strerror(errno));

	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	if (self->skip[0])
		return;
	ASSERT_EQ(0, take(self, "call-loop", &self->taker, &self->taken))
	TH_LOG("call-loop to its SNAPSHOT: %s", self->err.message);
}

FIXTURE_TEARDOWN(snapshot)
{
	snapvm_sandbox_destroy(self->taker);
	snapvm_snapshot_put(self->taken);
	if (self->output_fd >= 0)
		close(self->output_fd);
	if (self->tmp[0] && vmm_remove_tmpdir(self->tmp))
		TH_LOG("could not remove %s", self->tmp);
}

#define CREATE(snap, sb)                                                                           \
	do {                                                                                       \
		struct snapvm_sandbox_options o_ = {.output_fd = self->output_fd};                 \
		ASSERT_EQ(0, snapvm_sandbox_create((snap), &o_, (sb), &self->err))                 \
		TH_LOG("create: %s", self->err.message);                                           \
	} while (0)

#define RESTORE(sb)                                                                                \
	ASSERT_EQ(0, snapvm_sandbox_restore((sb), &self->err))                                     \
	TH_LOG("restore: %s", self->err.message)

/* *result = function(arg) in the call-loop guest; the call must end at the
 * next CALL_WAIT. */
#define CALL(sb, function, arg, result)                                                            \
	do {                                                                                       \
		ASSERT_EQ(0, snapvm_sandbox_call((sb), (function), (arg), 60000, (result),         \
						 &self->outcome, &self->err))                      \
		TH_LOG("call %d: %s", (int)(function), self->err.message);                         \
		ASSERT_EQ((int)SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)                     \
		TH_LOG("call %d stopped with %d: %s", (int)(function), self->outcome.stop,         \
		       self->outcome.message);                                                     \
	} while (0)

/* The guest output collected so far, then forgotten. */
static void take_output(FIXTURE_DATA(snapshot) * self, char *buf, size_t size)
{
	ssize_t n = pread(self->output_fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	if (ftruncate(self->output_fd, 0) || lseek(self->output_fd, 0, SEEK_SET))
		buf[0] = '\0';
}

/* FNV-1a over all guest memory as the sandbox sees it; the boot info's
 * seed and generation are left out (they differ by design). */
static int memory_hash(struct snapvm_sandbox *sb, struct snapvm_snapshot *snap, uint64_t *hash,
		       struct snapvm_error *err)
{
	uint64_t gpa, size, scratch_gpa = snapvm_snapshot_scratch_gpa(snap);
	uint64_t scratch_size = snapvm_snapshot_scratch_size(snap);
	unsigned char *buf;
	int ret;

	snapvm_snapshot_memory(snap, &gpa, &size);
	buf = malloc(size > scratch_size ? size : scratch_size);
	if (!buf)
		return EX_OSERR;
	ret = snapvm_sandbox_read_gpa(sb, gpa, buf, size, err);
	*hash = snapvm_hash64(SNAPVM_HASH64_INIT, buf, size);
	if (!ret)
		ret = snapvm_sandbox_read_gpa(sb, scratch_gpa, buf, scratch_size, err);
	if (!ret) {
		struct snapvm_boot_info *info = (struct snapvm_boot_info *)buf;

		info->random_seed = 0;
		info->generation = 0;
		*hash = snapvm_hash64(*hash, buf, scratch_size);
	}
	free(buf);
	return ret;
}

static uint64_t snapshot_bytes_hash(struct snapvm_snapshot *snap)
{
	uint64_t gpa, size;
	const void *p = snapvm_snapshot_memory(snap, &gpa, &size);

	return snapvm_hash64(SNAPVM_HASH64_INIT, p, size);
}

/* Equal registers, or a log line naming the first that differs. */
static bool same_registers(struct __test_metadata *_metadata, const struct snapvm_registers *a,
			   const struct snapvm_registers *b, const char *what)
{
#define SAME(field)                                                                                \
	do {                                                                                       \
		if (a->field != b->field) {                                                        \
			TH_LOG("%s: " #field " 0x%llx != 0x%llx", what,                            \
			       (unsigned long long)a->field, (unsigned long long)b->field);        \
			return false;                                                              \
		}                                                                                  \
	} while (0)
	for (int i = 0; i < 16; i++)
		SAME(gpr[i]);
	SAME(rip);
	SAME(rflags);
	SAME(cr0);
	SAME(cr2);
	SAME(cr3);
	SAME(cr4);
	SAME(efer);
	for (int i = 0; i < 8; i++)
		SAME(segment[i]);
	SAME(fs_base);
	SAME(gs_base);
	SAME(gdt_base);
	SAME(idt_base);
	SAME(gdt_limit);
	SAME(idt_limit);
	SAME(fpu_hash);
	SAME(msr_hash);
	SAME(other_hash);
	return true;
#undef SAME
}

/* ---- SNAPSHOT ---- */

TEST_F_TIMEOUT(snapshot, snapshot_returns_0_then_1, 120)
{
	struct snapvm_sandbox *clone;
	uint64_t value = 99;

	REQUIRE_BACKEND();
	/* The sandbox that took it goes on with 0 ... */
	CALL(self->taker, CALL_SNAPSHOT_VALUE, 0, &value);
	EXPECT_EQ(0ULL, value);
	/* ... and one started from it, or restored to it, sees 1. */
	CREATE(self->taken, &clone);
	CALL(clone, CALL_SNAPSHOT_VALUE, 0, &value);
	EXPECT_EQ(1ULL, value);
	RESTORE(clone);
	value = 99;
	CALL(clone, CALL_SNAPSHOT_VALUE, 0, &value);
	EXPECT_EQ(1ULL, value);
	CALL(clone, CALL_ADD, 5, &value);
	EXPECT_EQ((uint64_t)5 + CALL_LOOP_ADDEND, value);
	snapvm_sandbox_destroy(clone);

	/* Taking it twice, or when not stopped there, is refused. */
	{
		struct snapvm_snapshot *again;

		EXPECT_EQ(EX_USAGE, snapvm_sandbox_take_snapshot(self->taker, &again, &self->err));
		EXPECT_EQ(NULL, again);
	}
}

/* snapshot-state: a restore brings back memory, registers, an MSR and the
 * FPU, every time: same hashes, same registers, same output. */
TEST_F_TIMEOUT(snapshot, restored_n_times_sees_the_same_state, 300)
{
	struct snapvm_registers at_restore, regs, at_exit;
	uint64_t snapshot_hash, hash, exit_hash = 0, view_hash;
	struct snapvm_sandbox *taker, *sb;
	struct snapvm_snapshot *snap;
	char first[1024], out[1024];

	REQUIRE_BACKEND();
	ASSERT_EQ(0, take(self, "snapshot-state", &taker, &snap))
	TH_LOG("snapshot-state to its SNAPSHOT: %s", self->err.message);
	view_hash = snapshot_bytes_hash(snap);
	/* The taker goes on with SNAPSHOT = 0. */
	ASSERT_EQ(0, snapvm_sandbox_run(taker, 60000, &self->outcome, &self->err));
	EXPECT_EQ((int)SNAPVM_STOP_EXIT, (int)self->outcome.stop);
	EXPECT_EQ(10, self->outcome.code);
	snapvm_sandbox_destroy(taker);
	take_output(self, out, sizeof(out));
	EXPECT_NE(NULL, strstr(out, "SNAPSHOT=0 ")) TH_LOG("taker's output: %s", out);

	CREATE(snap, &sb);
	ASSERT_EQ(0, memory_hash(sb, snap, &snapshot_hash, &self->err))
	TH_LOG("%s", self->err.message);
	ASSERT_EQ(0, snapvm_sandbox_registers(sb, &at_restore, &self->err));
	for (int i = 0; i <= RESTORES; i++) {
		if (i) {
			RESTORE(sb);
			ASSERT_EQ(0, memory_hash(sb, snap, &hash, &self->err));
			EXPECT_EQ(snapshot_hash, hash) TH_LOG("memory after restore %d", i);
			ASSERT_EQ(0, snapvm_sandbox_registers(sb, &regs, &self->err));
			EXPECT_TRUE(same_registers(_metadata, &at_restore, &regs, "after restore"));
		}
		ASSERT_EQ(0, snapvm_sandbox_run(sb, 60000, &self->outcome, &self->err));
		ASSERT_EQ((int)SNAPVM_STOP_EXIT, (int)self->outcome.stop)
		TH_LOG("%s", self->outcome.message);
		EXPECT_EQ(11, self->outcome.code) TH_LOG("SNAPSHOT must return 1 on a resume");
		ASSERT_EQ(0, memory_hash(sb, snap, &hash, &self->err));
		EXPECT_NE(snapshot_hash, hash) TH_LOG("the guest changed nothing?");
		ASSERT_EQ(0, snapvm_sandbox_registers(sb, &regs, &self->err));
		take_output(self, out, sizeof(out));
		if (i == 0) {
			exit_hash = hash;
			at_exit = regs;
			snprintf(first, sizeof(first), "%s", out);
			EXPECT_NE(NULL, strstr(out, "SNAPSHOT=1 ")) TH_LOG("output: %s", out);
			EXPECT_NE(NULL, strstr(out, "msr=0x5a5a1000 fcw=0x27f"))
			TH_LOG("output: %s", out);
			continue;
		}
		EXPECT_EQ(exit_hash, hash) TH_LOG("memory at EXIT, run %d", i);
		EXPECT_TRUE(same_registers(_metadata, &at_exit, &regs, "at EXIT"));
		EXPECT_STREQ(first, out);
	}
	/* Nothing reached the sealed snapshot. */
	EXPECT_EQ(view_hash, snapshot_bytes_hash(snap));
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(snap);
}

/* ---- restore cost ---- */

static uint64_t restore_pages_after(FIXTURE_DATA(snapshot) * self,
				    struct __test_metadata *_metadata, struct snapvm_sandbox *sb,
				    uint64_t function, uint64_t pages)
{
	uint64_t result = 0;

	EXPECT_EQ(0, snapvm_sandbox_restore(sb, &self->err)) TH_LOG("%s", self->err.message);
	EXPECT_EQ(0, snapvm_sandbox_call(sb, function, pages, 60000, &result, &self->outcome,
					 &self->err));
	EXPECT_EQ((int)SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)
	TH_LOG("%s", self->outcome.message);
	EXPECT_EQ(pages, result);
	EXPECT_EQ(0, snapvm_sandbox_restore(sb, &self->err)) TH_LOG("%s", self->err.message);
	return snapvm_sandbox_last_restore_pages(sb);
}

TEST_F_TIMEOUT(snapshot, restore_after_dirtying_k_pages_touches_k_pages, 120)
{
	static const uint64_t ks[] = {1, 2, 7, 33, CALL_LOOP_PAGES};
	struct snapvm_sandbox *sb;
	uint64_t base;

	REQUIRE_BACKEND();
	CREATE(self->taken, &sb);
	/* Exactly the pages written: without a working set. */
	ASSERT_EQ(0, snapvm_sandbox_set_working_set(sb, 0, &self->err));
	/* What a call dirties anyway: its stack, the boot info. (The first
	 * restore of a fresh sandbox may count a page more: measure after.) */
	restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	base = restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	EXPECT_LT(0ULL, base);
	/* amd64 adds the page-table pages whose Accessed bits the walk sets;
	 * either way, nothing like the 256 pages of scratch. */
	EXPECT_GT(16ULL, base)
	TH_LOG("an empty call's restore touched %llu pages", (unsigned long long)base);
	EXPECT_EQ(base, restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0));
	for (unsigned int i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		EXPECT_EQ(base + ks[i],
			  restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, ks[i]))
		TH_LOG("%llu scratch pages written", (unsigned long long)ks[i]);
	}

	/* Snapshot-view pages: i686's private copies are dropped one for one.
	 * amd64's #PF handler copies each into scratch, and also writes the
	 * PTE, its page-table page and the allocator's state: a few more. */
	for (unsigned int i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		uint64_t pages = restore_pages_after(self, _metadata, sb, CALL_WRITE_DATA, ks[i]);

		if (variant->layout_id == SNAPVM_LAYOUT_I686) {
			EXPECT_EQ(base + ks[i], pages)
			TH_LOG("%llu snapshot pages written", (unsigned long long)ks[i]);
		} else {
			EXPECT_LE(base + ks[i], pages);
			EXPECT_GE(base + ks[i] + 4, pages)
			TH_LOG("%llu snapshot pages written, %llu restored",
			       (unsigned long long)ks[i], (unsigned long long)pages);
		}
	}
	snapvm_sandbox_destroy(sb);
}

/* The working set: pages recent requests wrote are put back at every
 * restore, written or not, up to its bound, and leave it once they are no
 * longer written (re-protection every 64 restores). */
TEST_F_TIMEOUT(snapshot, working_set_keeps_recent_pages_and_lets_idle_ones_go, 300)
{
	struct snapvm_sandbox *sb;
	uint64_t base, kept;

	REQUIRE_BACKEND();
	CREATE(self->taken, &sb);
	/* The first restore of a fresh sandbox may count a page its first
	 * run only read: start the set afresh after it. */
	restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	ASSERT_EQ(0, snapvm_sandbox_set_working_set(sb, SNAPVM_WORKING_SET_DEFAULT, &self->err));
	restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	base = restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	EXPECT_LT(0ULL, base);
	/* 33 pages written once: restored now, and at the next restores too
	 * although nobody writes them (they stayed write-enabled). */
	EXPECT_LE(base + 33, restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 33));
	kept = restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	EXPECT_LE(base + 33, kept) TH_LOG("the written pages left the working set at once");
	EXPECT_EQ(kept, restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0));
	/* Idle: gone after a re-protection, at most 64 restores later (two
	 * restores per round). */
	for (int i = 0; i < 40; i++)
		restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	EXPECT_EQ(base, restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0));
	/* The bound: at most 8 pages stay, whatever was written. */
	ASSERT_EQ(0, snapvm_sandbox_set_working_set(sb, 8, &self->err));
	EXPECT_LE(base + CALL_LOOP_PAGES,
		  restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, CALL_LOOP_PAGES));
	kept = restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	EXPECT_GE(base + 8, kept) TH_LOG("%llu pages kept", (unsigned long long)kept);
	/* Off: exactly what was written. */
	ASSERT_EQ(0, snapvm_sandbox_set_working_set(sb, 0, &self->err));
	restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0);
	EXPECT_EQ(base, restore_pages_after(self, _metadata, sb, CALL_WRITE_SCRATCH, 0));
	EXPECT_EQ(EX_USAGE,
		  snapvm_sandbox_set_working_set(sb, SNAPVM_WORKING_SET_MAX + 1, &self->err));
	snapvm_sandbox_destroy(sb);
}

/* Random writes over both buffers, many requests: after every restore all
 * of guest memory hashes as the fresh sandbox's did, with the working set
 * and without it. The pattern is replayed on the host to check that the
 * guest really wrote what it was asked to. */
TEST_F_TIMEOUT(snapshot, random_writes_are_undone_with_and_without_working_set, 900)
{
	static const uint64_t working_sets[] = {SNAPVM_WORKING_SET_DEFAULT, 16, 0};
	unsigned int seed = (unsigned int)getpid();

	REQUIRE_BACKEND();
	for (unsigned int w = 0; w < sizeof(working_sets) / sizeof(working_sets[0]); w++) {
		struct snapvm_sandbox *sb;
		uint64_t fresh, hash, result = 0, restored = 0;

		CREATE(self->taken, &sb);
		ASSERT_EQ(0, snapvm_sandbox_set_working_set(sb, working_sets[w], &self->err));
		ASSERT_EQ(0, memory_hash(sb, self->taken, &fresh, &self->err));
		for (int i = 0; i < 150; i++) {
			unsigned int x = (seed = seed * 1103515245u + 12345u) | 1;
			uint64_t want = call_loop_scribble_next(&x) % 48;

			/* Some requests write nothing: pages must leave the set. */
			if (i % 50 >= 40)
				want = 0;
			ASSERT_EQ(0,
				  snapvm_sandbox_call(sb, want ? CALL_SCRIBBLE : CALL_WRITE_SCRATCH,
						      want ? seed : 0, 60000, &result,
						      &self->outcome, &self->err));
			ASSERT_EQ((int)SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)
			TH_LOG("%s", self->outcome.message);
			EXPECT_EQ(want, result);
			if (want) {
				ASSERT_EQ(0, memory_hash(sb, self->taken, &hash, &self->err));
				EXPECT_NE(fresh, hash) TH_LOG("request %d wrote nothing?", i);
			}
			RESTORE(sb);
			restored += snapvm_sandbox_last_restore_pages(sb);
			ASSERT_EQ(0, memory_hash(sb, self->taken, &hash, &self->err));
			ASSERT_EQ(fresh, hash)
			TH_LOG("working set %llu: memory differs after restore %d",
			       (unsigned long long)working_sets[w], i);
		}
		TH_LOG("working set %llu: %llu pages restored in 150 requests",
		       (unsigned long long)working_sets[w], (unsigned long long)restored);
		snapvm_sandbox_destroy(sb);
	}
}

/* ---- many sandboxes, one snapshot ---- */

TEST_F_TIMEOUT(snapshot, sandboxes_from_one_snapshot_are_isolated, 120)
{
	struct snapvm_sandbox *a, *b;
	uint64_t before = snapshot_bytes_hash(self->taken), v = 0;

	REQUIRE_BACKEND();
	CREATE(self->taken, &a);
	CREATE(self->taken, &b);
	CALL(a, CALL_POKE, 111, &v);
	CALL(b, CALL_PEEK_DATA, 0, &v);
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, v);
	CALL(b, CALL_PEEK_SCRATCH, 0, &v);
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, v);
	CALL(b, CALL_POKE, 222, &v);
	CALL(a, CALL_PEEK_DATA, 0, &v);
	EXPECT_EQ(111ULL, v);
	CALL(a, CALL_PEEK_SCRATCH, 0, &v);
	EXPECT_EQ(111ULL, v);
	CALL(a, CALL_COUNTER, 0, &v);
	EXPECT_EQ(1ULL, v);
	CALL(a, CALL_COUNTER, 0, &v);
	EXPECT_EQ(2ULL, v);
	CALL(b, CALL_COUNTER, 0, &v);
	EXPECT_EQ(1ULL, v);
	/* A restore of one does not disturb the other. */
	RESTORE(a);
	CALL(a, CALL_PEEK_DATA, 0, &v);
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, v);
	CALL(a, CALL_COUNTER, 0, &v);
	EXPECT_EQ(1ULL, v);
	CALL(b, CALL_PEEK_DATA, 0, &v);
	EXPECT_EQ(222ULL, v);
	/* The taker wrote too (its SNAPSHOT returned 0 and it went on). */
	CALL(self->taker, CALL_POKE, 333, &v);
	CALL(b, CALL_PEEK_SCRATCH, 0, &v);
	EXPECT_EQ(222ULL, v);
	EXPECT_EQ(before, snapshot_bytes_hash(self->taken));
	snapvm_sandbox_destroy(a);
	snapvm_sandbox_destroy(b);
	EXPECT_EQ(before, snapshot_bytes_hash(self->taken));
}

TEST_F_TIMEOUT(snapshot, clones_get_own_seed_and_restores_bump_generation, 120)
{
	struct snapvm_sandbox *a, *b;
	uint64_t seed_a, seed_b, seed, gen0, gen;

	REQUIRE_BACKEND();
	CREATE(self->taken, &a);
	CREATE(self->taken, &b);
	CALL(a, CALL_SEED, 0, &seed_a);
	CALL(b, CALL_SEED, 0, &seed_b);
	EXPECT_NE(seed_a, seed_b);
	CALL(self->taker, CALL_SEED, 0, &seed);
	EXPECT_NE(seed, seed_a);
	/* The taker had generation 0; a resume from its snapshot is 1. */
	CALL(self->taker, CALL_GENERATION, 0, &gen);
	EXPECT_EQ(0ULL, gen);
	CALL(a, CALL_GENERATION, 0, &gen0);
	EXPECT_EQ(1ULL, gen0);
	for (uint64_t i = 1; i <= 3; i++) {
		RESTORE(a);
		CALL(a, CALL_GENERATION, 0, &gen);
		EXPECT_EQ(gen0 + i, gen);
		CALL(a, CALL_SEED, 0, &seed);
		EXPECT_EQ(seed_a, seed);
	}
	CALL(b, CALL_GENERATION, 0, &gen);
	EXPECT_EQ(gen0, gen);
	snapvm_sandbox_destroy(a);
	snapvm_sandbox_destroy(b);
}

/* ---- files ---- */

TEST_F_TIMEOUT(snapshot, file_round_trip, 120)
{
	struct snapvm_snapshot_options options = {.memory = variant->memory_id};
	struct snapvm_snapshot *loaded;
	struct snapvm_sandbox *sb;
	char path[PATH_MAX + 32];
	uint64_t v = 0, gpa, size, gpa2, size2;
	const void *a, *b;

	REQUIRE_BACKEND();
	snprintf(path, sizeof(path), "%s/call-loop.snap", self->tmp);
	ASSERT_EQ(0, snapvm_snapshot_save(self->taken, path, &self->err))
	TH_LOG("%s", self->err.message);
	ASSERT_EQ(0, snapvm_snapshot_load(path, &options, &loaded, &self->err))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(variant->layout_id, snapvm_snapshot_layout(loaded));
	EXPECT_EQ(SCRATCH_SIZE, snapvm_snapshot_scratch_size(loaded));
	a = snapvm_snapshot_memory(self->taken, &gpa, &size);
	b = snapvm_snapshot_memory(loaded, &gpa2, &size2);
	EXPECT_EQ(gpa, gpa2);
	ASSERT_EQ(size, size2);
	EXPECT_EQ(0, memcmp(a, b, size));

	CREATE(loaded, &sb);
	snapvm_snapshot_put(loaded);
	CALL(sb, CALL_SNAPSHOT_VALUE, 0, &v);
	EXPECT_EQ(1ULL, v);
	CALL(sb, CALL_PEEK_SCRATCH, 0, &v);
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, v);
	CALL(sb, CALL_GENERATION, 0, &v);
	EXPECT_EQ(1ULL, v);
	CALL(sb, CALL_WRITE_SCRATCH, 3, &v);
	RESTORE(sb);
	CALL(sb, CALL_COUNTER, 0, &v);
	EXPECT_EQ(1ULL, v);
	snapvm_sandbox_destroy(sb);

	/* A mismatching layout or scratch size is refused. */
	options.layout =
	    variant->layout_id == SNAPVM_LAYOUT_I686 ? SNAPVM_LAYOUT_AMD64 : SNAPVM_LAYOUT_I686;
	EXPECT_EQ(EX_DATAERR, snapvm_snapshot_load(path, &options, &loaded, &self->err));
	EXPECT_EQ(NULL, loaded);
}

/* Run build/snapvm with args; stdout and stderr into files of the tmp dir,
 * read back into out and err. Returns the exit status. */
static int launch(FIXTURE_DATA(snapshot) * self, const char *const *args, char *out, char *err)
{
	char path[PATH_MAX], out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
	const char *argv[16];
	int argc = 0, ws, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/snapvm", vmm_build_dir());
	snprintf(out_path, sizeof(out_path), "%s/stdout", self->tmp);
	snprintf(err_path, sizeof(err_path), "%s/stderr", self->tmp);
	argv[argc++] = path;
	while (*args && argc < 15)
		argv[argc++] = *args++;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &ws, 0);
	for (int i = 0; i < 2; i++) {
		char *buf = i ? err : out;
		ssize_t n;

		fd = open(i ? err_path : out_path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, OUTPUT_MAX - 1) : 0;
		buf[n > 0 ? n : 0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

#define LAUNCH(expected, ...)                                                                      \
	do {                                                                                       \
		const char *const args_[] = {__VA_ARGS__, NULL};                                   \
		int status_ = launch(self, args_, out, err);                                       \
		EXPECT_EQ((expected), status_)                                                     \
		TH_LOG("snapvm exited %d, expected %d\nstdout:\n%s\nstderr:\n%s", status_,         \
		       (expected), out, err);                                                      \
	} while (0)

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Rewrite a copy of good into bad, with fn applied to its bytes. */
static int corrupt_copy(const char *good, const char *bad, size_t keep,
			void (*fn)(unsigned char *bytes, size_t size))
{
	int in = open(good, O_RDONLY), out;
	struct stat st;
	unsigned char *bytes;
	int ret = -1;

	if (in < 0 || fstat(in, &st))
		return -1;
	bytes = malloc(st.st_size);
	if (bytes && read(in, bytes, st.st_size) == st.st_size) {
		if (fn)
			fn(bytes, st.st_size);
		out = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out >= 0) {
			size_t n = keep < (size_t)st.st_size ? keep : (size_t)st.st_size;

			ret = write(out, bytes, n) == (ssize_t)n ? 0 : -1;
			close(out);
		}
	}
	free(bytes);
	close(in);
	return ret;
}

static void flip_memory_byte(unsigned char *bytes, size_t size)
{
	bytes[size - 100] ^= 0x40; /* in the scratch image */
}

static void bad_magic(unsigned char *bytes, size_t size)
{
	bytes[0] = 'X';
}

static void other_version(unsigned char *bytes, size_t size)
{
	((struct snapfile_header *)bytes)->version = SNAPFILE_VERSION + 1;
}

static void other_layout(unsigned char *bytes, size_t size)
{
	struct snapfile_header *h = (struct snapfile_header *)bytes;

	h->layout = h->layout == SNAPVM_LAYOUT_I686 ? SNAPVM_LAYOUT_AMD64 : SNAPVM_LAYOUT_I686;
}

TEST_F_TIMEOUT(snapshot, launcher_snapshot_files, 300)
{
	static struct {
		const char *name;
		size_t keep;
		void (*fn)(unsigned char *, size_t);
	} bad[] = {
	    {"empty", 0, NULL},
	    {"truncated-header", 100, NULL},
	    {"truncated", 4096 * 3 + 5, NULL},
	    {"flipped-byte", SIZE_MAX, flip_memory_byte},
	    {"bad-magic", SIZE_MAX, bad_magic},
	    {"other-version", SIZE_MAX, other_version},
	    {"other-layout", SIZE_MAX, other_layout},
	};
	static char out[OUTPUT_MAX], err[OUTPUT_MAX];
	char memory[32], file[PATH_MAX + 32], flag[PATH_MAX + 64], badfile[PATH_MAX + 256];
	char elf[PATH_MAX + 64], from[PATH_MAX + 96];
	struct stat st;

	REQUIRE_BACKEND();
	snprintf(memory, sizeof(memory), "--memory=%s", variant->memory);
	snprintf(file, sizeof(file), "%s/state.snap", self->tmp);
	snprintf(flag, sizeof(flag), "--snapshot-out=%s", file);
	snprintf(elf, sizeof(elf), "%s", guest_path(self, "snapshot-state"));
	snprintf(from, sizeof(from), "--from=%s", file);

	/* Stops at SNAPSHOT, saves, exits 0: no output after the SNAPSHOT. */
	LAUNCH(0, "run", memory, "--scratch-size=1M", flag, elf);
	EXPECT_EQ(0, count_lines(out, "SNAPSHOT="));
	ASSERT_EQ(0, stat(file, &st)) TH_LOG("%s not written", file);

	/* Runs it N times, restoring between, exit status of the last run. */
	LAUNCH(11, "run", memory, from);
	EXPECT_EQ(1, count_lines(out, "SNAPSHOT=1 "));
	LAUNCH(11, "run", memory, from, "--repeat=3");
	EXPECT_EQ(3, count_lines(out, "SNAPSHOT=1 bss="));
	EXPECT_EQ(3, count_lines(out, "mutated"));
	EXPECT_EQ(3, count_lines(out, "msr=0x5a5a1000 fcw=0x27f"));
	/* An ELF run goes past SNAPSHOT (0), and --repeat restores it too. */
	LAUNCH(10, "run", memory, "--scratch-size=1M", "--repeat=2", elf);
	EXPECT_EQ(2, count_lines(out, "SNAPSHOT=0 "));

	/* Every kind of bad file: 65, nothing run. */
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(badfile, sizeof(badfile), "--from=%s/%s.snap", self->tmp, bad[i].name);
		ASSERT_EQ(0, corrupt_copy(file, badfile + 7, bad[i].keep, bad[i].fn));
		LAUNCH(EX_DATAERR, "run", memory, badfile);
		EXPECT_EQ(0, out[0]) TH_LOG("%s: the guest ran", bad[i].name);
		EXPECT_NE(NULL, strstr(err, badfile + 7)) TH_LOG("%s: unnamed", bad[i].name);
	}
	/* A file that is not a snapshot at all: the ELF itself. */
	snprintf(badfile, sizeof(badfile), "--from=%s", elf);
	LAUNCH(EX_DATAERR, "run", memory, badfile);
	snprintf(badfile, sizeof(badfile), "--from=%s/missing.snap", self->tmp);
	LAUNCH(EX_NOINPUT, "run", memory, badfile);

	/* A guest that never snapshots: no file, not 0. */
	snprintf(badfile, sizeof(badfile), "--snapshot-out=%s/hello.snap", self->tmp);
	LAUNCH(EX_SOFTWARE, "run", memory, badfile, guest_path(self, "hello"));
	EXPECT_NE(0, stat(badfile + 15, &st));
	/* A failed save leaves the earlier file as it was. */
	snprintf(badfile, sizeof(badfile), "--snapshot-out=%s/no-such-dir/x.snap", self->tmp);
	LAUNCH(EX_CANTCREAT, "run", memory, "--scratch-size=1M", badfile, elf);
	LAUNCH(11, "run", memory, from);

	/* Usage errors. */
	LAUNCH(EX_USAGE, "run", from, "--repeat=0");
	LAUNCH(EX_USAGE, "run", from, "--repeat=x");
	LAUNCH(EX_USAGE, "run", from, elf);
	LAUNCH(EX_USAGE, "run", flag, "--repeat=2", elf);
}

/* ---- resources ---- */

TEST_F_TIMEOUT(snapshot, create_restore_destroy_1000_times_leaks_nothing, 600)
{
	long pinned_start = pinned_pages();
	int fds_start = open_fds();
	uint64_t v;

	REQUIRE_BACKEND();
	if (variant->memory_id == SNAPVM_MEMORY_KMOD)
		ASSERT_LE(0, pinned_start) TH_LOG("cannot read " PINNED_PAGES_PATH);
	for (int i = 0; i < CYCLES; i++) {
		struct snapvm_sandbox *sb;

		CREATE(self->taken, &sb);
		if (i % 100 == 0) {
			/* Now and then dirty pages, so restores have work. */
			CALL(sb, CALL_WRITE_SCRATCH, 4, &v);
			CALL(sb, CALL_WRITE_DATA, 2, &v);
		}
		RESTORE(sb);
		snapvm_sandbox_destroy(sb);
	}
	EXPECT_EQ(fds_start, open_fds());
	if (variant->memory_id == SNAPVM_MEMORY_KMOD)
		EXPECT_EQ(pinned_start, pinned_pages());
}

TEST_HARNESS_MAIN
