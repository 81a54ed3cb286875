/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module_v2.h - what module_v2_test.c and module_v2_race_test.c share: the
 * v2 fixture (/dev/snapvm open, no page left pinned), a region's hash, and
 * a child becoming another user. Include after kselftest_harness.h and
 * module_helpers.h.
 */
#ifndef SNAPVM_TESTS_MODULE_V2_H
#define SNAPVM_TESTS_MODULE_V2_H

#define NOBODY	   65534
#define ITERATIONS 10000

FIXTURE(v2)
{
	int dev;
	long pinned_at_start;
};

FIXTURE_SETUP(v2)
{
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/snapvm: %s", strerror(errno));
	self->pinned_at_start = pinned_pages();
	ASSERT_GE(self->pinned_at_start, 0);
}

FIXTURE_TEARDOWN(v2)
{
	EXPECT_EQ(self->pinned_at_start, pinned_pages()) TH_LOG("pages leaked");
	close(self->dev);
}

static inline uint64_t hash_region(int fd, size_t size)
{
	unsigned char buf[4096];
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t off = 0; off < size; off += sizeof(buf)) {
		if (pread(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			return 0;
		for (size_t i = 0; i < sizeof(buf); i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	}
	return h;
}

static inline void become(uid_t uid, rlim_t memlock)
{
	struct rlimit limit = {.rlim_cur = memlock, .rlim_max = memlock};

	CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &limit) == 0, "setrlimit");
	if (uid)
		CHILD_CHECK(setgroups(0, NULL) == 0 && setresgid(uid, uid, uid) == 0 &&
				setresuid(uid, uid, uid) == 0,
			    "setresuid %d", uid);
	else
		CHILD_CHECK(drop_cap_ipc_lock() == 0, "dropping CAP_IPC_LOCK");
}

#endif /* SNAPVM_TESTS_MODULE_V2_H */
