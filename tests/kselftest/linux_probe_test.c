// SPDX-License-Identifier: GPL-2.0
/*
 * linux_probe_test.c - the Linux personality's system-call surface, from a
 * freestanding ring-3 program (linux_probe.c, built for i386 and amd64):
 * random system calls with random arguments end in a success or an errno,
 * never in a personality fault, and the sandbox serves requests after;
 * targeted bad arguments get the errno Linux itself gives (the same program
 * run natively on the test VM's kernel); AT_HWCAP is the sandbox's CPUID;
 * --root's files opened in one request are closed at the next restore.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/linux_fixture.h"

#define FUZZ_CALLS "3000"

/* build/tests/kselftest/linux_probe.<abi> of the variant's layout. */
static void probe_path(const FIXTURE_VARIANT(lx) * variant, char *buf, size_t size)
{
	snprintf(buf, size, "%s/tests/kselftest/linux_probe.%s", vmm_build_dir(),
		 variant->layout_id == SNAPVM_LAYOUT_I686 ? "i386" : "amd64");
}

/* snapvm run PROBE ARGS (stdin /dev/null): status, stdout, stderr. */
static int run_probe(FIXTURE_DATA(lx) * self, const FIXTURE_VARIANT(lx) * variant,
		     const char *const *args, char **out, char **err)
{
	char probe[PATH_MAX], o[PATH_MAX], e[PATH_MAX];
	const char *argv[16];
	int n = 0, status;
	size_t len;

	probe_path(variant, probe, sizeof(probe));
	argv[n++] = self->snapvm;
	argv[n++] = "run";
	argv[n++] = self->memory_opt;
	argv[n++] = "--timeout=300";
	argv[n++] = probe;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	path_in(o, sizeof(o), self->dir, "probe.out");
	path_in(e, sizeof(e), self->dir, "probe.err");
	status = spawn(argv, NULL, o, e);
	*out = slurp(o, &len);
	*err = slurp(e, &len);
	return status;
}

/* What a fuzz run may never print: a personality abort or fault, a host
 * error, or a result that is neither a success nor an errno. */
static bool fuzz_clean(const char *out, const char *err)
{
	return out && err && strstr(out, " bad 0\n") && !strstr(out, "returned") &&
	       !strstr(err, "personality") && !strstr(err, "snapvm:");
}

LINUX_TEST(fuzz_the_system_call_surface)
{
	static const char *const seeds[] = {"1", "2", "3", "4", "5", "6"};
	char *out = NULL, *err = NULL;

	REQUIRE_BACKEND();
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		EXPECT_EQ(0, run_probe(self, variant,
				       (const char *const[]){"fuzz", seeds[i], FUZZ_CALLS, NULL},
				       &out, &err))
		TH_LOG("seed %s: %s %s", seeds[i], out ? out : "", err ? err : "");
		EXPECT_TRUE(fuzz_clean(out, err))
		TH_LOG("seed %s: %s %s", seeds[i], out ? out : "", err ? err : "");
		if (i == 0 && out) /* how many calls reached a handler */
			TH_LOG("%s", out);
		free(out), free(err);
	}
}

/* A first-read snapshot of the fuzzer takes its seed per request: every
 * request is clean, the same seed gives the same calls and results after
 * others ran, and a last request still answers. */
LINUX_TEST(fuzzed_sandbox_still_serves_requests)
{
	char probe[PATH_MAX], file[PATH_MAX];
	struct request_sandbox r = {0};
	struct snapvm_error err;
	static char out[8192], first[8192];
	size_t out_len;
	int status;

	REQUIRE_BACKEND();
	probe_path(variant, probe, sizeof(probe));
	path_in(file, sizeof(file), self->dir, "fuzz.snap");
	ASSERT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						 "--snapshot-at=first-read", "--snapshot-out", file,
						 probe, "fuzz-stdin", FUZZ_CALLS, NULL},
			   NULL, "/dev/null", "/dev/null"));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int seed = 10; seed < 16; seed++) {
		char in[16];

		snprintf(in, sizeof(in), "%d\n", seed);
		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, in, strlen(in), out,
						  sizeof(out) - 1, &out_len, &status, 120000, &err))
		TH_LOG("seed %d: %s", seed, err.message);
		out[out_len] = 0;
		EXPECT_EQ(0, status) TH_LOG("seed %d: %s", seed, out);
		EXPECT_TRUE(fuzz_clean(out, "")) TH_LOG("seed %d: %s", seed, out);
		if (seed == 10)
			memcpy(first, out, out_len + 1);
	}
	ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, "10\n", 3, out, sizeof(out) - 1,
					  &out_len, &status, 120000, &err))
	TH_LOG("%s", err.message);
	out[out_len] = 0;
	EXPECT_EQ(0, status);
	EXPECT_STREQ(first, out);
	close_snapshot(&r);
}

/* Bad pointers, huge lengths, negative fds, bad flags: the same errno as
 * Linux gives the same program, line by line. */
LINUX_TEST(garbage_arguments_get_linux_errnos)
{
	char probe[PATH_MAX], nat_out[PATH_MAX], nat_err[PATH_MAX];
	char *out = NULL, *err = NULL, *nat, *a, *b, *sa, *sb;
	size_t len;
	int lines = 0;

	REQUIRE_BACKEND();
	probe_path(variant, probe, sizeof(probe));
	path_in(nat_out, sizeof(nat_out), self->dir, "native.out");
	path_in(nat_err, sizeof(nat_err), self->dir, "native.err");
	ASSERT_EQ(0, spawn((const char *const[]){probe, "garbage", NULL}, NULL, nat_out, nat_err));
	nat = slurp(nat_out, &len);
	ASSERT_NE(NULL, nat);
	EXPECT_EQ(0, run_probe(self, variant, (const char *const[]){"garbage", NULL}, &out, &err))
	TH_LOG("%s", err ? err : "");
	ASSERT_NE(NULL, out);
	EXPECT_EQ(NULL, err && strstr(err, "snapvm:") ? err : NULL);
	for (a = strtok_r(out, "\n", &sa), b = strtok_r(nat, "\n", &sb); a || b;
	     a = strtok_r(NULL, "\n", &sa), b = strtok_r(NULL, "\n", &sb), lines++)
		EXPECT_STREQ(b ? b : "(nothing)", a ? a : "(nothing)");
	EXPECT_LT(50, lines);
	free(out), free(err), free(nat);
}

/* AT_HWCAP is CPUID.1:EDX as the program itself sees it in the sandbox
 * (the CPUID KVM_SET_CPUID2 set), not the host's. */
LINUX_TEST(at_hwcap_is_the_sandbox_cpuid)
{
	char *out = NULL, *err = NULL;

	REQUIRE_BACKEND();
	EXPECT_EQ(0, run_probe(self, variant, (const char *const[]){"hwcap", NULL}, &out, &err))
	TH_LOG("%s %s", out ? out : "", err ? err : "");
	EXPECT_NE(NULL, out && strstr(out, "AT_HWCAP 0x") ? out : NULL);
	free(out), free(err);
}

static __attribute__((noinline)) int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* A first-read snapshot with --root: the files a request opens (3 and 4)
 * are closed at the next restore, numbering starts at 3 again, and 1000
 * requests that leave them open leave no host fd behind. */
LINUX_TEST(root_files_close_at_restore)
{
	char probe[PATH_MAX], file[PATH_MAX], root[PATH_MAX / 2 + 16], root_opt[PATH_MAX];
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char out[256];
	size_t out_len;
	int status;
	volatile int before = 0;

	REQUIRE_BACKEND();
	probe_path(variant, probe, sizeof(probe));
	path_in(root, sizeof(root), self->dir, "root");
	ASSERT_EQ(0, mkdir(root, 0755));
	ASSERT_TRUE(write_file(root, "hello.txt", "hello\n", 6));
	snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
	path_in(file, sizeof(file), self->dir, "open.snap");
	ASSERT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						 "--snapshot-at=first-read", "--snapshot-out", file,
						 root_opt, probe, "open-stdin", NULL},
			   NULL, "/dev/null", "/dev/null"));
	ASSERT_EQ(0, open_snapshot(self, variant, file, root, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < 1000; i++) {
		if (i == 2)
			before = open_fds();
		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, "/hello.txt", 10, out,
						  sizeof(out) - 1, &out_len, &status, 60000, &err))
		TH_LOG("request %d: %s", i, err.message);
		out[out_len] = 0;
		ASSERT_EQ(0, status) TH_LOG("request %d: %s", i, out);
		ASSERT_STREQ("3 4\n", out) TH_LOG("request %d", i);
	}
	EXPECT_EQ(before, open_fds());
	close_snapshot(&r);
}

TEST_HARNESS_MAIN
