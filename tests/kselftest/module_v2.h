/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module_v2.h - what module_v2_test.c and module_v2_race_test.c share: the
 * v2 fixture (/dev/snapvm open, no page left pinned), a region's hash, and
 * a child becoming another user. Include after kselftest_harness.h and
 * module_helpers.h.
 */
#ifndef SNAPVM_TESTS_MODULE_V2_H
#define SNAPVM_TESTS_MODULE_V2_H

#define ITERATIONS 10000

/* The v2 fixture: /dev/snapvm open, no page left pinned at its end. */
PINNED_FIXTURE(v2)

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
