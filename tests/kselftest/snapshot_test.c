// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_test.c - guest-driven snapshots, restores, calls and snapshot
 * files through libsnapvm and the launcher, for both layouts and both memory
 * backends: a restored sandbox is the snapshot again (memory hash and
 * registers), SNAPSHOT returns 0 then 1, a restore costs the pages the guest
 * dirtied, clones are isolated and get their own seed, files round-trip and
 * bad files are refused, and nothing stays pinned. Runs in the test VM.
 *
 * Snapshot files (the library's and the launcher's) are in
 * snapshot_file_test.c; the fixture in snapshot_fixture.h.
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
#include "tests/kselftest/snapshot_fixture.h"
#include "guests/test/call-loop.h"
#include "layout/abi.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

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
