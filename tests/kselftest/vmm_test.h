/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmm_test.h - what the kselftests of the VMM share: finding this checkout's
 * build/, the layout x memory-backend variants, and why a variant cannot run.
 * Include after kselftest_harness.h.
 */
#ifndef SNAPVM_TESTS_VMM_TEST_H
#define SNAPVM_TESTS_VMM_TEST_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/lib/snapvm.h"

/* build/ of this checkout: the test binary is build/tests/kselftest/NAME.
 * Half of PATH_MAX, so that paths made from it fit a PATH_MAX buffer. */
static inline const char *vmm_build_dir(void)
{
	static char dir[PATH_MAX / 2];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0)
		return NULL;
	dir[n] = '\0';
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(dir, '/');

		if (!slash)
			return NULL;
		*slash = '\0';
	}
	return dir;
}

/* One test body, four shapes: both layouts on both memory backends. */
#define VMM_VARIANTS(fixture)                                                                      \
	FIXTURE_VARIANT(fixture)                                                                   \
	{                                                                                          \
		const char *layout;                                                                \
		uint32_t layout_id;                                                                \
		const char *memory;                                                                \
		enum snapvm_memory memory_id;                                                      \
	};                                                                                         \
	FIXTURE_VARIANT_ADD(fixture, i686_kmod){                                                   \
	    .layout = "i686",                                                                      \
	    .layout_id = SNAPVM_LAYOUT_I686,                                                       \
	    .memory = "kmod",                                                                      \
	    .memory_id = SNAPVM_MEMORY_KMOD,                                                       \
	};                                                                                         \
	FIXTURE_VARIANT_ADD(fixture, i686_memfd){                                                  \
	    .layout = "i686",                                                                      \
	    .layout_id = SNAPVM_LAYOUT_I686,                                                       \
	    .memory = "memfd",                                                                     \
	    .memory_id = SNAPVM_MEMORY_MEMFD,                                                      \
	};                                                                                         \
	FIXTURE_VARIANT_ADD(fixture, amd64_kmod){                                                  \
	    .layout = "amd64",                                                                     \
	    .layout_id = SNAPVM_LAYOUT_AMD64,                                                      \
	    .memory = "kmod",                                                                      \
	    .memory_id = SNAPVM_MEMORY_KMOD,                                                       \
	};                                                                                         \
	FIXTURE_VARIANT_ADD(fixture, amd64_memfd)                                                  \
	{                                                                                          \
		.layout = "amd64", .layout_id = SNAPVM_LAYOUT_AMD64, .memory = "memfd",            \
		.memory_id = SNAPVM_MEMORY_MEMFD,                                                  \
	}

/* Why a variant cannot run here (written to skip, which REQUIRE_BACKEND
 * turns into a failure), or "" when it can. */
static inline void vmm_skip_reason(enum snapvm_memory memory, char *skip, size_t size)
{
	struct snapvm_host_info info;

	snapvm_host_info(&info);
	skip[0] = '\0';
	if (info.kvm_api_version < 0)
		snprintf(skip, size, "/dev/kvm unusable: %s", strerror(-info.kvm_api_version));
	else if (memory == SNAPVM_MEMORY_KMOD && info.module_api_version < 0)
		snprintf(skip, size, "--memory=kmod needs /dev/snapvm (snapvm.ko): %s",
			 strerror(-info.module_api_version));
}

/* Every test starts here (an ASSERT in FIXTURE_SETUP would fail the test
 * before it is named). The test VM always has /dev/kvm and snapvm.ko: a
 * backend it cannot use means a broken VM, so the test fails, never skips
 * (a skipped run would look green). */
#define REQUIRE_BACKEND()                                                                          \
	do {                                                                                       \
		ASSERT_FALSE(self->skip[0])                                                        \
		TH_LOG("%s: the test VM must offer every backend", self->skip);                    \
	} while (0)

/* A fresh directory $TMPDIR/snapvm-NAME.XXXXXX (or under /tmp) in dir. */
static inline char *vmm_make_tmpdir(char *dir, size_t size, const char *name)
{
	const char *tmpdir = getenv("TMPDIR");

	snprintf(dir, size, "%s/snapvm-%s.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", name);
	return mkdtemp(dir);
}

/* Remove what vmm_make_tmpdir made; 0 on success. */
static inline int vmm_remove_tmpdir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	if (dir[0] != '/' || strchr(dir, '\''))
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#endif /* SNAPVM_TESTS_VMM_TEST_H */
