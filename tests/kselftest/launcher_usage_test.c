// SPDX-License-Identifier: GPL-2.0
/*
 * launcher_usage_test.c - the launcher's usage: sizes, bad options (64),
 * missing files, no /dev/kvm or no module (69), info, --help and
 * --version.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "tests/kselftest/launcher_helpers.h"
#include "tests/kselftest/launcher_fixture.h"
#include "guests/test/direct-write.h"
#include "layout/abi.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "uapi/snapvm.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

/* --- usage ---------------------------------------------------------------- */

/* "the largest that fits is 1G (1073741824 bytes)": the byte count. */
static unsigned long long largest_fit(const char *msg)
{
	const char *at = strstr(msg, "largest");

	at = at ? strchr(at, '(') : NULL;
	return at ? strtoull(at + 1, NULL, 10) : 0;
}

LAUNCHER_TEST(too_big_scratch_is_usage_with_the_largest_fit)
{
	unsigned long long largest;
	char flag[64];

	REQUIRE_BACKEND();
	/* Larger than the whole guest-physical space of the layout. */
	snprintf(flag, sizeof(flag), "--scratch-size=%lluK",
		 (unsigned long long)((is_amd64(variant) ? AMD64_MAX_GPA : I686_MAX_GPA) + 1) /
		     1024);
	RUN(&self->r, "run", self->memory_flag, flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
	largest = largest_fit(self->r.err);
	ASSERT_NE(0ULL, largest) TH_LOG("no \"largest ... (N bytes)\" in:\n%s", self->r.err);
	EXPECT_EQ(0ULL, largest % SNAPVM_GUEST_PAGE_SIZE);
	EXPECT_EQ(0UL, self->r.out_len);

	/* One page more than the largest is refused the same way ... */
	snprintf(flag, sizeof(flag), "--scratch-size=%llu", largest + SNAPVM_GUEST_PAGE_SIZE);
	RUN(&self->r, "run", self->memory_flag, flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
	/* ... and the largest itself runs. memfd scratch is allocated as the
	 * guest touches it; the module pins all of it (4 GiB, 64 GiB): only
	 * the memfd variant tries, past the default 4 GiB --max-memory. */
	if (variant->memory_id == SNAPVM_MEMORY_MEMFD) {
		snprintf(flag, sizeof(flag), "--scratch-size=%llu", largest);
		RUN(&self->r, "run", self->memory_flag, "--max-memory=128G", flag,
		    guest(self, "hello"));
		EXPECT_STATUS(&self->r, 0);
		EXPECT_CONTAINS(self->r.out, "(WRITE hypercall)", "stdout", &self->r);
	}
}

LAUNCHER_TEST(too_small_scratch_is_usage)
{
	char flag[64];

	REQUIRE_BACKEND();
	snprintf(flag, sizeof(flag), "--scratch-size=%llu",
		 (unsigned long long)(is_amd64(variant) ? AMD64_MIN_SCRATCH_SIZE
							: I686_MIN_SCRATCH_SIZE) -
		     SNAPVM_GUEST_PAGE_SIZE);
	RUN(&self->r, "run", self->memory_flag, flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
	EXPECT_CONTAINS(self->r.err, "smallest", "stderr", &self->r);
	/* Not a multiple of the page size. */
	RUN(&self->r, "run", self->memory_flag, "--scratch-size=1000001", guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
}

TEST(malformed_size_is_usage)
{
	static const char *const sizes[] = {
	    "--scratch-size=12Q",	   "--scratch-size=",
	    "--scratch-size=-1M",	   "--scratch-size=1MM",
	    "--scratch-size=0x100",	   "--scratch-size=18446744073709551616",
	    "--scratch-size=17179869184G",
	};
	char hello[PATH_MAX + 64];
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		RUN(r, "run", sizes[i], hello);
		EXPECT_STATUS(r, EX_USAGE);
		EXPECT_NE(0UL, r->err_len);
		EXPECT_EQ(0UL, r->out_len);
	}
	free(r);
}

TEST(bad_usage_is_64)
{
	static const char *const bad[][3] = {
	    {NULL},
	    {"run", NULL},
	    {"frobnicate", NULL},
	    {"run", "--no-such-flag", NULL},
	    {"run", "--layout=sparc", NULL},
	    {"run", "--memory=floppy", NULL},
	    {"run", "--timeout=soon", NULL},
	};
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[5] = {0};
		char hello[PATH_MAX + 64];
		unsigned n = 0;

		snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
		for (unsigned j = 0; j < 3 && bad[i][j]; j++)
			args[n++] = bad[i][j];
		/* Flags get a guest, so only the flag is wrong. */
		if (n >= 2)
			args[n++] = hello;
		ASSERT_EQ(0, run_snapvm(r, args));
		EXPECT_STATUS(r, EX_USAGE);
		EXPECT_NE(0UL, r->err_len) TH_LOG("case %zu: no message", i);
		EXPECT_EQ(0UL, r->out_len) TH_LOG("case %zu printed on stdout:\n%s", i, r->out);
	}
	free(r);
}

TEST(missing_guest_file_is_named)
{
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	RUN(r, "run", "/nonexistent/guest.elf");
	EXPECT_STATUS(r, EX_NOINPUT);
	EXPECT_CONTAINS(r->err, "/nonexistent/guest.elf", "stderr", r);
	EXPECT_EQ(0UL, r->out_len);
	RUN(r, "run", "--from=/nonexistent/app.snap");
	EXPECT_STATUS(r, EX_NOINPUT);
	EXPECT_CONTAINS(r->err, "/nonexistent/app.snap", "stderr", r);
	free(r);
}

/* Run hello (amd64) seeing only some devices. The test VM runs the tests as
 * root: no mount namespace there is a broken VM, a failure. */
#define RUN_HIDING(r, devices, ...)                                                                \
	do {                                                                                       \
		const char *const args_[] = {__VA_ARGS__, NULL};                                   \
		ASSERT_EQ(0, run_snapvm_with((r), args_, (devices)));                              \
		ASSERT_NE(STATUS_NO_NAMESPACE, (r)->status) TH_LOG("%.200s", (r)->err);            \
	} while (0)

TEST(no_kvm_is_unavailable_69)
{
	struct run *r = malloc(sizeof(*r));
	char hello[PATH_MAX + 64];

	ASSERT_NE(NULL, r);
	snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
	RUN_HIDING(r, DEVICES_NO_KVM, "run", "--memory=memfd", hello);
	EXPECT_STATUS(r, EX_UNAVAILABLE);
	EXPECT_CONTAINS(r->err, "/dev/kvm", "stderr", r);
	EXPECT_EQ(0UL, r->out_len);
	free(r);
}

TEST(kmod_memory_without_the_module_is_unavailable_69)
{
	struct run *r = malloc(sizeof(*r));
	char hello[PATH_MAX + 64];

	ASSERT_NE(NULL, r);
	snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
	RUN_HIDING(r, DEVICES_NO_SNAPVM, "run", "--memory=kmod", hello);
	EXPECT_STATUS(r, EX_UNAVAILABLE);
	EXPECT_CONTAINS(r->err, "/dev/snapvm", "stderr", r);
	/* Without --memory, the launcher falls back to memfd. */
	RUN_HIDING(r, DEVICES_NO_SNAPVM, "run", hello);
	EXPECT_STATUS(r, 0);
	EXPECT_CONTAINS(r->out, "(WRITE hypercall)", "stdout", r);
	free(r);
}

TEST(info_shows_the_kvm_api_version)
{
	struct run *r = malloc(sizeof(*r));
	char version[64];

	ASSERT_NE(NULL, r);
	RUN(r, "info");
	EXPECT_STATUS(r, 0);
	/* The whole phrase: a bare "12" would match a capability's value. */
	snprintf(version, sizeof(version), "KVM API version %d (/dev/kvm)", KVM_API_VERSION);
	EXPECT_CONTAINS(r->out, version, "stdout", r);
	snprintf(version, sizeof(version),
		 "module API version %d (/dev/snapvm; this snapvm speaks %d)\n", SNAPVM_API_VERSION,
		 SNAPVM_API_VERSION);
	EXPECT_CONTAINS(r->out, version, "stdout", r);
	free(r);
}

TEST(help_and_version)
{
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	RUN(r, "--help");
	EXPECT_STATUS(r, 0);
	EXPECT_CONTAINS(r->out, "--scratch-size", "stdout", r);
	RUN(r, "--version");
	EXPECT_STATUS(r, 0);
	EXPECT_CONTAINS(r->out, SNAPVM_VERSION, "stdout", r);
	free(r);
}

TEST_HARNESS_MAIN
