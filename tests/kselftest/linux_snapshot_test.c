// SPDX-License-Identifier: GPL-2.0
/*
 * linux_snapshot_test.c - Linux programs snapshotted at their first read of
 * stdin or at entry serve requests (snapvm_linux_request, and the
 * launcher's --from --repeat): 100 requests with different inputs, each
 * equal to a fresh native run, and nothing one leaves behind reaches the
 * next.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/linux_fixture.h"

#define REQUESTS 100

/* A first-read snapshot of sha256sum serves 100 requests with different
 * inputs, each equal to a fresh native run. */
LINUX_TEST(first_read_snapshot_serves_requests)
{
	static const char *const args[] = {"sha256sum", NULL};
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char file[PATH_MAX];
	static unsigned char in[64 << 10], out[4096];

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "sha.snap");
	ASSERT_EQ(0, make_snapshot(self, file, "first-read", args));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < REQUESTS; i++) {
		size_t in_len = (size_t)(i * 613) % sizeof(in), out_len, want_len;
		int status, want_status;
		char *want;

		ASSERT_EQ((ssize_t)in_len, getrandom(in, in_len, 0));
		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, in, in_len, out, sizeof(out),
						  &out_len, &status, 60000, &err))
		TH_LOG("%s", err.message);
		want = native(self, args, in, in_len, &want_len, &want_status);
		ASSERT_NE(NULL, want);
		EXPECT_EQ(want_status, status);
		EXPECT_EQ(want_len, out_len);
		EXPECT_EQ(0, memcmp(want, out, want_len < out_len ? want_len : out_len))
		TH_LOG("request %d: %.*s vs %s", i, (int)out_len, out, want);
		free(want);
	}
	close_snapshot(&r);
}

/* A shell snapshotted at its first read of its script: what one request
 * sets (variables, functions, heap) is gone at the next. */
LINUX_TEST(first_read_snapshot_leaves_nothing_behind)
{
	static const char *const args[] = {"sh", NULL};
	static const char *const scripts[][2] = {
	    {"X=secret; f() { echo f; }; big=x; i=0; while [ $i -lt 16 ]; do big=$big$big; "
	     "i=$((i + 1)); done; echo $X ${#big}\n",
	     "secret 65536\n"},
	    {"echo ${X:-unset}; type f >/dev/null 2>&1 || echo no-f\n", "unset\nno-f\n"},
	};
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char file[PATH_MAX], out[4096];

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "sh.snap");
	ASSERT_EQ(0, make_snapshot(self, file, "first-read", args));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < 20; i++) {
		const char *const *s = scripts[i % 2];
		size_t out_len;
		int status;

		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, s[0], strlen(s[0]), out,
						  sizeof(out) - 1, &out_len, &status, 60000, &err))
		TH_LOG("%s", err.message);
		out[out_len] = 0;
		EXPECT_STREQ(s[1], out);
		EXPECT_EQ(0, status);
	}
	close_snapshot(&r);
}

/* An entry snapshot takes argv per request (and a new AT_RANDOM). */
LINUX_TEST(entry_snapshot_takes_argv_per_request)
{
	static const char *const none[] = {NULL};
	static const char *const sha[] = {"busybox", "sha256sum", NULL};
	static const char *const seq[] = {"busybox", "seq", "1", "37", NULL};
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char file[PATH_MAX];
	static unsigned char in[8192], out[8192];

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "entry.snap");
	ASSERT_EQ(0, make_snapshot(self, file, "entry", none));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < REQUESTS; i++) {
		const char *const *argv = i % 2 ? seq : sha;
		size_t in_len = (size_t)(i * 89) % sizeof(in), out_len, want_len;
		int status, want_status;
		char *want;

		ASSERT_EQ((ssize_t)in_len, getrandom(in, in_len, 0));
		ASSERT_EQ(0, snapvm_linux_set_args(r.lx, argv, NULL, &err));
		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, in, in_len, out, sizeof(out),
						  &out_len, &status, 60000, &err))
		TH_LOG("%s", err.message);
		want = native(self, argv + 1, in, in_len, &want_len, &want_status);
		ASSERT_NE(NULL, want);
		EXPECT_EQ(want_status, status);
		EXPECT_EQ(want_len, out_len);
		EXPECT_EQ(0, memcmp(want, out, want_len < out_len ? want_len : out_len));
		free(want);
	}
	close_snapshot(&r);
}

/* The launcher's side of it: --from=F --repeat=N feeds stdin to each run. */
LINUX_TEST(launcher_from_snapshot_repeats)
{
	static const char *const args[] = {"wc", "-c", NULL};
	char file[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	const char *in;
	size_t len;
	char *text;

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "wc.snap");
	path_in(out, sizeof(out), self->dir, "out");
	path_in(err, sizeof(err), self->dir, "err");
	in = make_input(self, "in", "12345\n", 0);
	ASSERT_EQ(0, make_snapshot(self, file, "first-read", args));
	ASSERT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt, "--from",
						 file, "--repeat=3", NULL},
			   in, out, err));
	text = slurp(out, &len);
	EXPECT_STREQ("6\n6\n6\n", text ? text : "");
	free(text);
}

TEST_HARNESS_MAIN
