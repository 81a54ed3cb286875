// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * workingset_test.c - the restore's working set: which of the pages KVM
 * reported are kept write-enabled (and so left out of what is re-protected),
 * its bound, and its periodic re-protection.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "userspace/lib/internal.h"

#define PAGES 200

static void set_pages(uint64_t *bitmap, unsigned int first, unsigned int count)
{
	for (unsigned int p = first; p < first + count; p++)
		bitmap[p / 64] |= 1ULL << (p % 64);
}

static unsigned int count_pages(const uint64_t *bitmap)
{
	unsigned int n = 0;

	for (unsigned int w = 0; w < snapvm_bitmap_words(PAGES); w++)
		n += (unsigned int)__builtin_popcountll(bitmap[w]);
	return n;
}

FIXTURE(ws)
{
	struct snapvm_working_set ws;
	uint64_t dirty[4];
};

FIXTURE_SETUP(ws)
{
	ASSERT_EQ(0, snapvm_working_set_init(&self->ws,
					     (const uint64_t[SNAPVM_WS_SLOTS]){PAGES, PAGES}, 100));
}

FIXTURE_TEARDOWN(ws)
{
	snapvm_working_set_free(&self->ws);
}

TEST_F(ws, admits_up_to_the_bound_and_reprotects_the_rest)
{
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 0, 150);
	EXPECT_FALSE(snapvm_working_set_begin(&self->ws));
	EXPECT_TRUE(snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, true));
	/* 100 kept, the other 50 left to re-protect. */
	EXPECT_EQ(50U, count_pages(self->dirty));
	EXPECT_EQ(100ULL, self->ws.pages);
	/* Next round: KVM reports the kept pages again (their bits were never
	 * cleared) and 10 new ones; nothing is admitted beyond the bound. */
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 0, 100);
	set_pages(self->dirty, 190, 10);
	EXPECT_FALSE(snapvm_working_set_begin(&self->ws));
	EXPECT_TRUE(snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, true));
	EXPECT_EQ(10U, count_pages(self->dirty));
	/* Only kept pages reported: nothing to re-protect (no ioctl). */
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 0, 100);
	EXPECT_FALSE(snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, true));
	EXPECT_EQ(0U, count_pages(self->dirty));
	/* The bound is shared by the slots. */
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 0, 5);
	EXPECT_TRUE(snapvm_working_set_admit(&self->ws, SNAPVM_WS_VIEW, self->dirty, true));
	EXPECT_EQ(5U, count_pages(self->dirty));
}

TEST_F(ws, every_64th_restore_reprotects_everything)
{
	int emptied = 0;

	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 3, 7);
	snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, true);
	EXPECT_EQ(7ULL, self->ws.pages);
	for (int i = 0; i < 64; i++)
		emptied += snapvm_working_set_begin(&self->ws);
	EXPECT_EQ(1, emptied);
	EXPECT_EQ(0ULL, self->ws.pages);
	/* The restore that empties it admits nothing: all it saw is
	 * re-protected, and only pages written again come back. */
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 3, 7);
	EXPECT_TRUE(snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, false));
	EXPECT_EQ(7U, count_pages(self->dirty));
	EXPECT_EQ(0ULL, self->ws.pages);
}

TEST_F(ws, a_new_bound_starts_afresh_and_zero_keeps_nothing)
{
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 0, 20);
	snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, true);
	snapvm_working_set_limit(&self->ws, 0);
	EXPECT_TRUE(snapvm_working_set_begin(&self->ws));
	memset(self->dirty, 0, sizeof(self->dirty));
	set_pages(self->dirty, 0, 20);
	EXPECT_TRUE(snapvm_working_set_admit(&self->ws, SNAPVM_WS_SCRATCH, self->dirty, true));
	EXPECT_EQ(20U, count_pages(self->dirty));
	EXPECT_EQ(0ULL, self->ws.pages);
}

TEST_HARNESS_MAIN
